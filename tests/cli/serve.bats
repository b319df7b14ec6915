#!/usr/bin/env bats
# serve against doc/serve.md over real HTTP (curl, and raw sockets from
# serve-conn.py), on two models trained here: a tiny one whose greedy text
# differs from prompt to prompt, and a deep untrained one with a long
# context, slow enough (a few ms a token) to keep a generation in flight.
# Covered: every endpoint and every field of its shape (serve-check.py),
# the SSE and NDJSON framing, greedy parity with generate (the chat
# template too), seeds, stop strings, ignore_eos, the request defaults,
# 1800 hostile requests (serve-hostile.py), byte tokens
# that are not whole UTF-8 characters, every 4xx/5xx with its error shape,
# request ids, request logs (text and JSON), the API key, 32 concurrent
# clients, the queue limit and its 503, cancellation by disconnecting,
# slow, silent and surplus connections, long generations against the
# timeouts, graceful shutdown and its bound, the configuration layers with
# --print-config and SIGHUP, and bad startups with their exit status.
# Every server is stopped with SIGTERM and must exit 0 (teardown); its
# stderr must hold no sanitizer report. About 45 s (65 s under ASan).

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."
PY=/usr/bin/python3
CHECK="$BATS_TEST_DIRNAME/serve-check.py"
CONN="$BATS_TEST_DIRNAME/serve-conn.py"
HOSTILE="$BATS_TEST_DIRNAME/serve-hostile.py"

setup_file() {
    export W="$BATS_FILE_TMPDIR"
    export OMP_WAIT_POLICY=passive
    "$RUNNEL_BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" \
        "$ROOT/samples/tokenize-stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --split blank-line --wrap story \
        "$ROOT/samples/tokenize-stories.txt" > "$W/tokens.rnl"
    # the tests' tiny model, trained 300 steps (1 s) so that greedy
    # continuations differ between prompts, with room for 128 tokens
    "$RUNNEL_BIN/train" -q -c "$ROOT/tests/cli/data/tiny-lm.yaml" --block_size 128 \
        --steps 300 --lr_decay_iters 300 --tokenizer "$W/tok.json" -o "$W/m.ckpt" \
        "$W/tokens.rnl"
    # 16 thin layers over 2048 positions, one training step (17 MB): about
    # 2000 greedy tokens in 5 s, never an end-of-text, so a request stays
    # in flight as long as a test needs
    cat > "$W/slow.yaml" <<'EOF'
vocab_size: 300
n_layer: 16
n_head: 4
n_embd: 64
block_size: 2048
kv_lora_rank: 32
q_lora_rank: 32
rope_dim: 8
n_experts: 4
n_experts_per_token: 2
expert_intermediate_size: 64
shared_expert_intermediate_size: 64
multi_token_predict: 1
dropout: 0
batch_size: 1
seq_len: 16
steps: 1
learning_rate: 0.01
warmup_iters: 0
lr_decay_iters: 1
eval_interval: 0
EOF
    "$RUNNEL_BIN/train" -q -c "$W/slow.yaml" --tokenizer "$W/tok.json" -o "$W/slow.ckpt" \
        "$W/tokens.rnl"
    : > "$W/pids"
}

teardown_file() {
    # a server a failed test could not stop: kill it by its own pid
    local pid
    while read -r pid; do
        if [ -n "$pid" ] && grep -q serve "/proc/$pid/cmdline" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done < "$W/pids"
}

setup() {
    T="$BATS_TEST_TMPDIR"
    SPID= SLOG= SRC= URL=
    BGPIDS=()
    export MODEL_NAME=m
}

teardown() {
    local pid bad=0
    for pid in "${BGPIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$SPID" ]; then serve_stop || bad=1; fi
    if ls "$T"/serve*.log > /dev/null 2>&1 &&
        grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T"/serve*.log; then
        bad=1
    fi
    return $bad
}

# ---- the server -----------------------------------------------------------

# serve_start [FLAGS...]: serve $MODEL (default the tiny model) on a free
# port, from an empty cwd (no stray .env), stderr in $SLOG; sets SPID and
# URL once serve logs "listening on http://127.0.0.1:PORT" (within 20 s:
# the ASan build is slow). Bash starts background jobs with SIGINT ignored
# and Python ignores SIGPIPE; the launcher gives serve both defaults back.
serve_start() {
    local n deadline
    n=$(ls "$T" | grep -c '^serve.*\.log$' || true)
    SLOG="$T/serve$n.log" SRC="$T/serve$n.rc"
    mkdir -p "$T/cwd"
    (
        cd "$T/cwd"
        $PY -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$RUNNEL_BIN/serve" -m "${MODEL:-$W/m.ckpt}" --port 0 "$@" \
            > "$T/serve$n.out" 2> "$SLOG" &
        echo $! > "$T/serve$n.pid"
        rc=0
        wait $! || rc=$?
        echo $rc > "$SRC.tmp" && mv "$SRC.tmp" "$SRC"
    ) 3>&- &
    until [ -s "$T/serve$n.pid" ]; do sleep 0.01; done
    SPID=$(cat "$T/serve$n.pid")
    echo "$SPID" >> "$W/pids"
    deadline=$((SECONDS + 20))
    while :; do
        PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$SLOG" | head -n1)
        [ -z "$PORT" ] || break
        if [ -s "$SRC" ]; then
            echo "serve exited with status $(cat "$SRC") before listening:"
            cat "$SLOG"
            SPID=
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "serve is not listening after 20 s:"
            cat "$SLOG"
            return 1
        fi
        sleep 0.05
    done
    URL="http://127.0.0.1:$PORT"
}

# serve_exited SECONDS: true once serve has exited (its status in $SRC)
serve_exited() {
    local deadline=$((SECONDS + $1))
    until [ -s "$SRC" ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# serve_stop [SIGNAL]: stop serve (SIGTERM); it must exit 0 within 20 s
serve_stop() {
    local pid=$SPID
    [ -n "$pid" ] || return 0
    SPID=
    kill -"${1:-TERM}" "$pid" 2>/dev/null || true
    if ! serve_exited 20; then
        kill -KILL "$pid" 2>/dev/null || true
        echo "serve still runs 20 s after SIG${1:-TERM}; its log:"
        cat "$SLOG"
        return 1
    fi
    [ "$(cat "$SRC")" = 0 ] || { echo "serve exited with $(cat "$SRC") after SIG${1:-TERM}:"; cat "$SLOG"; return 1; }
}

# ---- requests -------------------------------------------------------------

# call METHOD PATH [CURL ARGS...]: STATUS, the body in $B, headers in $H
call() {
    local m=$1 p=$2
    shift 2
    B="$T/body" H="$T/headers"
    rm -f "$B" "$H"
    STATUS=$(curl -sS -m 20 -X "$m" -o "$B" -D "$H" -w '%{http_code}' "$@" "$URL$p") ||
        STATUS="curl failed"
    touch "$B" "$H"
}

# post PATH JSON [CURL ARGS...]
post() {
    local p=$1 j=$2
    shift 2
    call POST "$p" -H 'Content-Type: application/json' --data-binary "$j" "$@"
}

# hdr NAME: the value of response header NAME (first one), without CR
hdr() { sed -n "s/^$1: *//Ip" "$H" | tr -d '\r' | head -n1; }

status_is() {
    [ "$STATUS" = "$1" ] && return 0
    echo "want status $1, got $STATUS; headers:"
    cat "$H"
    echo "body:"
    head -c 3000 "$B"
    echo
    return 1
}

# shape KIND [ARG]: serve-check.py KIND on the body; its summary in $SUM
shape() { shape_of "$1" "$B" "${@:2}"; }
shape_of() {
    SUM=$(MODEL_NAME=$MODEL_NAME $PY "$CHECK" "$1" "$2" "${@:3}") || { echo "$SUM"; return 1; }
}

# get FIELD [SUMMARY]: a field of a summary, as JSON (one line, exact)
get() {
    $PY -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])[sys.argv[2]]))' \
        "${2:-$SUM}" "$1"
}

# same FIELD SUMMARY SUMMARY: equal field, else say both
same() {
    local a b
    a=$(get "$1" "$2") b=$(get "$1" "$3")
    [ "$a" = "$b" ] && return 0
    echo "$1 differs:"
    echo "  $a"
    echo "  $b"
    return 1
}

# pyj CODE [ARGS...]: Python with o = the JSON body, ARGS in sys.argv[2:]
pyj() {
    local code=$1
    shift
    $PY -c "import json, re, sys
o = json.load(open(sys.argv[1], encoding='utf-8'))
$code" "$B" "$@" || { echo "status $STATUS, body: $(head -c 3000 "$B")"; return 1; }
}

# error_is STATUS [PARAM]: an OpenAI-shaped JSON error with that status (and
# param), with its X-Request-Id like every response. (Helpers return at the
# first failed step: called left of ||, set -e does not stop them.)
error_is() {
    status_is "$1" || return 1
    [ -n "$(hdr X-Request-Id)" ] || { echo "no X-Request-Id:"; cat "$H"; return 1; }
    [[ "$(hdr Content-Type)" == application/json* ]] || { echo "Content-Type: $(hdr Content-Type)"; return 1; }
    shape error "${2:-}"
}

# oerror_is STATUS: an Ollama-shaped error {"error": M}
oerror_is() {
    status_is "$1" || return 1
    [ -n "$(hdr X-Request-Id)" ] || { echo "no X-Request-Id:"; cat "$H"; return 1; }
    [[ "$(hdr Content-Type)" == application/json* ]] || { echo "Content-Type: $(hdr Content-Type)"; return 1; }
    shape oerror
}

# gen PROMPT N [FLAGS]: generate's greedy answer as a summary like shape's
gen() {
    local p=$1 n=$2
    shift 2
    SUM=$("$RUNNEL_BIN/generate" -m "${MODEL:-$W/m.ckpt}" --json --temperature 0 -n "$n" "$@" -- "$p" |
        $PY -c 'import json, sys
o = json.loads(sys.stdin.read())
fin = {"eos": "stop"}.get(o["stop_reason"], o["stop_reason"])
print(json.dumps({"text": o["completion"], "finish": fin, "prompt_tokens": o["prompt_tokens"],
                  "completion_tokens": o["completion_tokens"]}))')
}

# json_str TEXT: TEXT as a JSON string
json_str() { $PY -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

# bg CMD...: run in the background (fd 3 closed, so bats does not wait)
bg() {
    "$@" 3>&- &
    BGPIDS+=($!)
}

# wait_for_data FILE SECONDS: FILE has a line starting with "data: {" (a streamed piece)
wait_for_data() {
    local deadline=$((SECONDS + $2))
    until grep -q '^data: {' "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "no data in $1 after $2 s"; return 1; }
        sleep 0.02
    done
}

metrics() {
    call GET /metrics
    status_is 200 || return 1
    shape_of metrics "$B"
}

# metric KEY [SAMPLES]: the value of one sample (0 if absent)
metric() {
    $PY -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))' "${2:-$SUM}" "$1"
}

now_ms() { date +%s%3N; }

# ---- endpoints ------------------------------------------------------------

@test "GET /health: status, model, version, uptime with their types; GET / answers text" {
    serve_start
    call GET /health
    status_is 200
    [[ "$(hdr Content-Type)" == application/json* ]]
    pyj '
assert o["status"] == "ok", o
assert o["model"] == "m", o
assert isinstance(o["version"], str) and re.fullmatch(r"\d+\.\d+\.\d+", o["version"]), o
u = o["uptime_s"]
assert isinstance(u, (int, float)) and not isinstance(u, bool) and 0 <= u < 60, o'
    version=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$B")
    run -0 "$RUNNEL_BIN/serve" --version
    [[ "$output" == *"$version"* ]]
    call GET /api/version
    status_is 200
    pyj 'assert o == {"version": sys.argv[2]}, o' "$version"
    call GET /
    status_is 200
    grep -q 'runnel serve is running' "$B"
}

@test "GET /metrics: Prometheus text; counters, tokens and histogram move with requests" {
    serve_start
    metrics
    [[ "$(hdr Content-Type)" == text/plain* ]]
    [[ "$(hdr Content-Type)" == *"version=0.0.4"* ]]
    before=$SUM
    post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 7, "temperature": 0}'
    status_is 200
    shape completion
    usage=$SUM
    call GET /no/such/path
    status_is 404
    post /v1/completions '{"prompt": 1}'
    status_is 400
    metrics
    $PY - "$before" "$SUM" "$usage" <<'EOF'
import json, sys
a, b, u = (json.loads(x) for x in sys.argv[1:])
d = lambda k: b.get(k, 0) - a.get(k, 0)
ok = 'runnel_requests_total{path="/v1/completions",status="200"}'
assert d(ok) == 1, ("completions 200", d(ok))
assert d('runnel_requests_total{path="/v1/completions",status="400"}') == 1
assert d('runnel_requests_total{path="other",status="404"}') == 1, "unknown path not under other"
assert not [k for k in b if "/no/such" in k], "a scanner grows the label set"
assert d("runnel_generated_tokens_total") == u["completion_tokens"] == 7, d("runnel_generated_tokens_total")
assert d("runnel_prompt_tokens_total") == u["prompt_tokens"], d("runnel_prompt_tokens_total")
n = d("runnel_request_duration_seconds_count")
assert 3 <= n <= 5, ("duration count grew by", n)
assert d("runnel_request_duration_seconds_sum") > 0
assert b["runnel_queue_depth"] == 0 and b["runnel_generations_active"] == 0
assert b["runnel_uptime_seconds"] > 0
for k in b:
    if k.startswith("runnel_requests_total{"):
        assert 'path="' in k and 'status="' in k, k
EOF
}

@test "POST /predict: a JSON body and ?input= give the same prediction, generate's greedy text" {
    serve_start --temperature 0 --default_max_tokens 10
    gen 'Once upon a time' 10
    want=$SUM
    post /predict '{"input": "Once upon a time"}'
    status_is 200
    pyj '
assert isinstance(o.get("prediction"), str) and o.get("model") == "m", o
assert o["prediction"] == json.loads(sys.argv[2])["text"], (o, sys.argv[2])' "$want"
    call POST '/predict?input=Once%20upon%20a%20time'
    status_is 200
    pyj 'assert o["prediction"] == json.loads(sys.argv[2])["text"], (o, sys.argv[2])' "$want"
    post /predict '{"input": "Once upon a time", "max_tokens": 3, "temperature": 0}'
    status_is 200
    gen 'Once upon a time' 3
    pyj 'assert o["prediction"] == json.loads(sys.argv[2])["text"], (o, sys.argv[2])' "$SUM"
    post /predict '{"max_tokens": 3}'
    error_is 400 input
}

@test "hostile requests: 1800 mutated, truncated, nested, non-UTF-8 and garbage bodies get whole JSON answers" {
    serve_start --max_body_bytes 65536
    for seed in 1 2 3; do
        run -0 $PY "$HOSTILE" "$PORT" 600 "$seed"
        [[ "$output" == "ok 600 requests"* ]]
        [[ "$output" == *"400: "* ]]   # the mutations do reach the checks
    done
}

@test "ignore_eos runs through end-of-text to max_tokens; Ollama's num_predict -1 means the max_tokens setting" {
    serve_start --max_tokens 100
    # a seed whose sampled text ends early with an end-of-text token
    seed=
    for s in $(seq 1 40); do
        post /v1/completions "{\"prompt\": \"Once\", \"max_tokens\": 100, \"seed\": $s}"
        status_is 200
        if pyj 'sys.exit(0 if o["choices"][0]["finish_reason"] == "stop" else 1)' 2>/dev/null; then
            seed=$s
            break
        fi
    done
    [ -n "$seed" ] || { echo "no seed in 1..40 ends before 100 tokens"; false; }
    pyj 'assert o["usage"]["completion_tokens"] < 100, o["usage"]'
    post /v1/completions "{\"prompt\": \"Once\", \"max_tokens\": 100, \"seed\": $seed, \"ignore_eos\": true}"
    status_is 200
    pyj 'c = o["choices"][0]; assert c["finish_reason"] == "length" and o["usage"]["completion_tokens"] == 100, o'
    post /api/generate "{\"model\": \"m\", \"prompt\": \"Once\", \"stream\": false, \"options\": {\"num_predict\": -1, \"seed\": $seed, \"ignore_eos\": true}}"
    status_is 200
    pyj 'assert o["done_reason"] == "length" and o["eval_count"] == 100, o'
    post /v1/completions '{"prompt": "Once", "ignore_eos": "yes"}'
    error_is 400 ignore_eos
}

@test "POST /v1/completions: every field and type, usage counts, prompt as a one-string array" {
    serve_start
    post /v1/completions '{"model": "m", "prompt": "Once upon a time", "max_tokens": 5, "temperature": 0, "user": "ignored", "x_unknown": {"a": 1}}'
    status_is 200
    [[ "$(hdr Content-Type)" == application/json* ]]
    shape completion
    [ "$(get finish)" = '"length"' ]
    [ "$(get completion_tokens)" = 5 ]
    one=$SUM
    gen 'Once upon a time' 5
    same prompt_tokens "$one" "$SUM"
    post /v1/completions '{"prompt": ["Once upon a time"], "max_tokens": 5, "temperature": 0}'
    status_is 200
    shape completion
    same text "$one" "$SUM"
    post /v1/completions '{"prompt": "Once upon a time", "max_completion_tokens": 4, "temperature": 0}'
    status_is 200
    shape completion
    [ "$(get completion_tokens)" = 4 ]
    # two calls: two ids
    post /v1/completions '{"prompt": "Once", "max_tokens": 1}'
    id1=$(pyj 'print(o["id"])')
    post /v1/completions '{"prompt": "Once", "max_tokens": 1}'
    id2=$(pyj 'print(o["id"])')
    [ "$id1" != "$id2" ]
}

@test "settings give the defaults of requests that do not say: default_max_tokens, temperature" {
    serve_start --default_max_tokens 7 --temperature 0
    gen 'The cat' 7
    want=$SUM
    post /v1/completions '{"prompt": "The cat"}'
    status_is 200
    shape completion
    same text "$want" "$SUM"
    [ "$(get completion_tokens)" = 7 ]
    post /api/generate '{"model": "m", "prompt": "The cat", "stream": false}'
    status_is 200
    shape generate
    same text "$want" "$SUM"
    post /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}]}'
    status_is 200
    shape chat
    [ "$(get completion_tokens)" -le 7 ]
}

@test "/v1/completions stream: data: events, pieces add up to the greedy text, finish, [DONE]" {
    serve_start
    post /v1/completions '{"prompt": "The cat", "max_tokens": 20, "temperature": 0}'
    status_is 200
    shape completion
    plain=$SUM
    post /v1/completions '{"prompt": "The cat", "max_tokens": 20, "temperature": 0, "stream": true}' -N
    status_is 200
    [[ "$(hdr Content-Type)" == text/event-stream* ]]
    shape completion-sse
    same text "$plain" "$SUM"
    same finish "$plain" "$SUM"
    [ "$(grep -c '^data: {' "$B")" -ge 2 ]
    # include_usage: if the completions stream sends a usage chunk, it is right
    post /v1/completions '{"prompt": "The cat", "max_tokens": 20, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}' -N
    status_is 200
    if grep -q '"choices":\s*\[\]' "$B"; then
        shape completion-sse usage
        same completion_tokens "$plain" "$SUM"
        same prompt_tokens "$plain" "$SUM"
    else
        shape completion-sse
    fi
    same text "$plain" "$SUM"
}

@test "POST /v1/chat/completions: shape, the chat template (generate's text for it), no leading space" {
    serve_start
    msgs='[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Tell me a story."}]'
    post /v1/chat/completions "{\"model\": \"m\", \"messages\": $msgs, \"max_tokens\": 30, \"temperature\": 0}"
    status_is 200
    [[ "$(hdr Content-Type)" == application/json* ]]
    shape chat
    chat=$SUM
    # the template of doc/serve.md, the default stop strings, leading spaces dropped
    gen $'System: You are terse.\nUser: Tell me a story.\nAssistant:' 30 --stop $'\nUser:' --stop $'\nSystem:'
    $PY -c '
import json, sys
c, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert c["text"] == g["text"].lstrip(" "), ("chat", c["text"], "generate", g["text"])
assert not c["text"].startswith(" ")
assert c["prompt_tokens"] == g["prompt_tokens"], (c, g)
assert c["completion_tokens"] == g["completion_tokens"] and c["finish"] == g["finish"], (c, g)
' "$chat" "$SUM"
    post /v1/chat/completions '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "More"}], "max_tokens": 5, "temperature": 0}'
    status_is 200
    shape chat
}

@test "/v1/chat/completions stream: role chunk, content pieces, finish chunk, usage chunk, [DONE]" {
    serve_start
    body='"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 25, "temperature": 0'
    post /v1/chat/completions "{$body}"
    status_is 200
    shape chat
    plain=$SUM
    post /v1/chat/completions "{$body, \"stream\": true}" -N
    status_is 200
    [[ "$(hdr Content-Type)" == text/event-stream* ]]
    shape chat-sse
    same text "$plain" "$SUM"
    same finish "$plain" "$SUM"
    post /v1/chat/completions "{$body, \"stream\": true, \"stream_options\": {\"include_usage\": true}}" -N
    status_is 200
    shape chat-sse usage
    same text "$plain" "$SUM"
    same prompt_tokens "$plain" "$SUM"
    same completion_tokens "$plain" "$SUM"
}

@test "stop strings: the text ends before the first stop, streamed or not, finish_reason stop" {
    serve_start
    post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 30, "temperature": 0}'
    status_is 200
    shape completion
    full=$(get text)
    stop=$($PY -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])[8:11]))' "$full")
    want=$($PY -c 'import json, sys; t, s = json.loads(sys.argv[1]), json.loads(sys.argv[2]); print(json.dumps(t[:t.index(s)]))' "$full" "$stop")
    post /v1/completions "{\"prompt\": \"Once upon a time\", \"max_tokens\": 30, \"temperature\": 0, \"stop\": $stop}"
    status_is 200
    shape completion
    [ "$(get text)" = "$want" ] || { echo "stop $stop: got $(get text), want $want"; false; }
    [ "$(get finish)" = '"stop"' ]
    post /v1/completions "{\"prompt\": \"Once upon a time\", \"max_tokens\": 30, \"temperature\": 0, \"stop\": [\"zzzz\", $stop], \"stream\": true}" -N
    status_is 200
    shape completion-sse
    [ "$(get text)" = "$want" ] || { echo "streamed with stop $stop: got $(get text), want $want"; false; }
    [ "$(get finish)" = '"stop"' ]
    post /api/generate "{\"model\": \"m\", \"prompt\": \"Once upon a time\", \"options\": {\"num_predict\": 30, \"temperature\": 0, \"stop\": [$stop]}}" -N
    status_is 200
    shape generate-nd
    [ "$(get text)" = "$want" ] || { echo "Ollama with stop $stop: got $(get text), want $want"; false; }
    [ "$(get finish)" = '"stop"' ]
}

@test "GET /v1/models and /v1/models/{id}; another id is 404; --model_name renames everywhere" {
    serve_start
    call GET /v1/models
    status_is 200
    pyj '
assert o["object"] == "list" and len(o["data"]) == 1, o
d = o["data"][0]
assert d["id"] == "m" and d["object"] == "model" and d["owned_by"] == "runnel", o
assert isinstance(d["created"], int) and not isinstance(d["created"], bool), o'
    call GET /v1/models/m
    status_is 200
    # the table gives the list shape for both; OpenAI's retrieve gives the object
    pyj '
d = o["data"][0] if o.get("object") == "list" else o
assert d["id"] == "m" and d["object"] == "model" and d["owned_by"] == "runnel", o'
    call GET /v1/models/gpt-4
    error_is 404
    serve_stop
    serve_start --model_name tiny-story
    MODEL_NAME=tiny-story
    call GET /v1/models
    pyj 'assert o["data"][0]["id"] == "tiny-story", o'
    post /v1/completions '{"model": "tiny-story", "prompt": "Once", "max_tokens": 2}'
    status_is 200
    shape completion
    call GET /api/tags
    pyj 'assert o["models"][0]["name"] == "tiny-story:latest", o'
    post /v1/completions '{"model": "m", "prompt": "Once", "max_tokens": 2}'
    error_is 404
}

@test "POST /api/generate: NDJSON by default, the last line done with counts; stream false: one object" {
    serve_start
    post /v1/completions '{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}'
    shape completion
    openai=$SUM
    post /api/generate '{"model": "m", "prompt": "Once upon a time", "options": {"num_predict": 12, "temperature": 0}}' -N
    status_is 200
    [[ "$(hdr Content-Type)" == application/x-ndjson* ]]
    shape generate-nd
    same text "$openai" "$SUM"
    same prompt_tokens "$openai" "$SUM"
    [ "$(get completion_tokens)" = 12 ]
    [ "$(get finish)" = '"length"' ]
    [ "$(wc -l < "$B")" -ge 2 ]
    post /api/generate '{"model": "m:latest", "prompt": "Once upon a time", "stream": false, "options": {"num_predict": 12, "temperature": 0, "mirostat": 1}}'
    status_is 200
    [[ "$(hdr Content-Type)" == application/json* ]]
    shape generate
    same text "$openai" "$SUM"
    [ "$(get completion_tokens)" = 12 ]
    # system goes before the prompt: more prompt tokens
    post /api/generate '{"model": "m", "prompt": "Once upon a time", "system": "You are terse.", "stream": false, "options": {"num_predict": 2, "temperature": 0}}'
    status_is 200
    shape generate
    [ "$(get prompt_tokens)" -gt "$(get prompt_tokens "$openai")" ] ||
        { echo "system did not lengthen the prompt: $SUM"; false; }
    # the sampling options are taken
    post /api/generate '{"model": "m", "prompt": "Once", "stream": false, "options": {"num_predict": 5, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "repeat_penalty": 1.2, "seed": 3}}'
    status_is 200
    shape generate
}

@test "POST /api/chat: NDJSON message pieces, no context; stream false; same text as /v1 chat" {
    serve_start
    msgs='[{"role": "user", "content": "Tell me a story."}]'
    post /v1/chat/completions "{\"messages\": $msgs, \"max_tokens\": 15, \"temperature\": 0}"
    shape chat
    openai=$SUM
    post /api/chat "{\"model\": \"m\", \"messages\": $msgs, \"options\": {\"num_predict\": 15, \"temperature\": 0}}" -N
    status_is 200
    [[ "$(hdr Content-Type)" == application/x-ndjson* ]]
    shape ochat-nd
    same text "$openai" "$SUM"
    same completion_tokens "$openai" "$SUM"
    post /api/chat "{\"model\": \"m\", \"messages\": $msgs, \"stream\": false, \"options\": {\"num_predict\": 15, \"temperature\": 0}}"
    status_is 200
    shape ochat
    same text "$openai" "$SUM"
    same finish "$openai" "$SUM"
}

@test "GET /api/tags and /api/version: names, sizes, digest, dates" {
    serve_start
    call GET /api/tags
    status_is 200
    pyj '
import datetime, os
assert len(o["models"]) == 1, o
t = o["models"][0]
assert t["name"] == "m:latest" and t["model"] == "m:latest", t
datetime.datetime.fromisoformat(t["modified_at"].replace("Z", "+00:00"))
assert isinstance(t["size"], int) and t["size"] == os.path.getsize(sys.argv[2]), (t["size"], os.path.getsize(sys.argv[2]))
assert isinstance(t["digest"], str) and re.fullmatch(r"(sha256:)?[0-9a-f]{8,}", t["digest"]), t
assert isinstance(t["details"], dict), t' "$W/m.ckpt"
    call GET /api/version
    status_is 200
    pyj 'assert isinstance(o["version"], str) and o["version"], o'
}

@test "GET /openapi.json: OpenAPI 3.0 with every path, each one answered; /docs is self-contained HTML" {
    serve_start
    call GET /openapi.json
    status_is 200
    [[ "$(hdr Content-Type)" == application/json* ]]
    grep -q '@VERSION@\|@MODEL@' "$B" && { echo "placeholders left in the document"; false; }
    pyj '
assert o["openapi"].startswith("3.0"), o["openapi"]
assert o["info"]["version"] and o["info"]["title"], o["info"]
paths = o["paths"]
need = ["/", "/health", "/metrics", "/predict", "/v1/completions", "/v1/chat/completions",
        "/v1/models", "/v1/models/{id}", "/api/generate", "/api/chat", "/api/tags",
        "/api/version", "/openapi.json", "/docs"]
missing = [p for p in need if p not in paths]
assert not missing, ("paths missing", missing)
schemes = o.get("components", {}).get("securitySchemes", {})
assert any(s.get("type") == "http" and s.get("scheme", "").lower() == "bearer" for s in schemes.values()), schemes
for p, ops in paths.items():
    for m, op in ops.items():
        if m in ("get", "post"):
            assert op.get("responses"), (p, m)
            print(m.upper(), re.sub(r"\{[^}]*\}", "m", p))' > "$T/ops" || { cat "$T/ops"; false; }
    while read -r m p; do
        if [ "$m" = GET ]; then call GET "$p"; else post "$p" '{}'; fi
        case $STATUS in 404|405|5*|curl*) echo "$m $p (from the document): $STATUS"; false ;; esac
    done < "$T/ops"
    call GET /docs
    status_is 200
    [[ "$(hdr Content-Type)" == text/html* ]]
    $PY - "$B" <<'EOF'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
assert re.search(r"<html", html, re.I), "not HTML"
assert "/openapi.json" in html or "openapi.json" in html, "does not load the document"
ext = r"""(?:https?:)?//[A-Za-z0-9]"""
bad = (re.findall(r"""\b(?:src|href|action)\s*=\s*["']?\s*""" + ext + r"""[^"'\s>]*""", html, re.I)
       + re.findall(r"""url\(\s*["']?\s*""" + ext, html, re.I)
       + re.findall(r"""@import\s+(?:url\()?\s*["']?""" + ext, html, re.I)
       + re.findall(r"""(?:\bfrom|\bimport\(|fetch\()\s*["'`]""" + ext, html))
assert not bad, ("external assets", bad)
EOF
}

# ---- parity and seeds -----------------------------------------------------

@test "greedy /v1/completions equals generate --temperature 0, text and counts, for 5 prompts" {
    serve_start
    # the last: longer than block_size (128), only its last 127 ids kept
    long=$(tr '\n' ' ' < "$ROOT/samples/tokenize-stories.txt" | cut -c1-900)
    for p in 'Once upon a time' 'The cat' 'Lily went to the park' 'Tom' "$long"; do
        gen "$p" 24
        want=$SUM
        post /v1/completions "{\"prompt\": $(json_str "$p"), \"max_tokens\": 24, \"temperature\": 0}"
        status_is 200
        shape completion
        same text "$want" "$SUM"
        same prompt_tokens "$want" "$SUM"
        same completion_tokens "$want" "$SUM"
        same finish "$want" "$SUM"
        get text >> "$T/texts"
    done
    # the prompts lead to different texts: parity is not one text four times
    [ "$(sort -u "$T/texts" | wc -l)" -ge 3 ] || { cat "$T/texts"; false; }
}

@test "a seed gives the same sampled text twice; another seed another text" {
    serve_start
    body='"prompt": "Once upon a time", "max_tokens": 40, "temperature": 1.0, "top_k": 0'
    post /v1/completions "{$body, \"seed\": 7}"
    status_is 200
    shape completion
    a=$SUM
    post /v1/completions "{$body, \"seed\": 7}"
    shape completion
    same text "$a" "$SUM"
    post /v1/completions "{$body, \"seed\": 7, \"stream\": true}" -N
    shape completion-sse
    same text "$a" "$SUM"
    post /v1/completions "{$body, \"seed\": 8}"
    shape completion
    [ "$(get text)" != "$(get text "$a")" ]
    post /api/generate '{"model": "m", "prompt": "Once upon a time", "stream": false, "options": {"num_predict": 40, "temperature": 1.0, "seed": 7}}'
    shape generate
    b=$SUM
    post /api/generate '{"model": "m", "prompt": "Once upon a time", "stream": false, "options": {"num_predict": 40, "temperature": 1.0, "seed": 7}}'
    shape generate
    same text "$b" "$SUM"
}

@test "tokens that are not whole UTF-8 characters: valid UTF-8 JSON everywhere, streams add up" {
    # the untrained model at temperature 2 samples raw byte tokens (0x80-0xff)
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start
    for seed in 1 2 3; do
        body="\"prompt\": \"Once\", \"max_tokens\": 40, \"temperature\": 2, \"seed\": $seed"
        post /v1/completions "{$body}"
        status_is 200
        shape completion
        plain=$SUM
        post /v1/completions "{$body, \"stream\": true}" -N
        status_is 200
        shape completion-sse
        same text "$plain" "$SUM"
        post /v1/chat/completions "{\"messages\": [{\"role\": \"user\", \"content\": \"\\u00e9t\\u00e9 \\u2603\"}], \"max_tokens\": 40, \"temperature\": 2, \"seed\": $seed, \"stream\": true}" -N
        status_is 200
        shape chat-sse
        post /api/generate "{\"model\": \"slow\", \"prompt\": \"Once\", \"options\": {\"num_predict\": 40, \"temperature\": 2, \"seed\": $seed}}" -N
        status_is 200
        shape generate-nd
    done
}

# ---- errors ---------------------------------------------------------------

@test "400: bad JSON, not an object, missing prompt or messages, each with the error shape" {
    serve_start
    post /v1/completions '{"prompt": "Once", "max_tokens": 2'
    error_is 400
    post /v1/completions 'not json at all'
    error_is 400
    post /v1/completions '[1, 2]'
    error_is 400
    post /v1/completions '"Once"'
    error_is 400
    post /v1/completions ''
    error_is 400
    post /v1/completions '{"max_tokens": 2}'
    error_is 400 prompt
    post /v1/chat/completions '{"max_tokens": 2}'
    error_is 400 messages
    post /v1/chat/completions '{"messages": []}'
    error_is 400 messages
    post /v1/chat/completions '{"messages": [{"role": "robot", "content": "x"}]}'
    error_is 400
    post /predict '{"input": 5}'
    error_is 400 input
}

@test "400: a message without content; a body that is not UTF-8" {
    serve_start
    post /v1/chat/completions '{"messages": [{"role": "user"}], "max_tokens": 2}'
    error_is 400
    post /v1/chat/completions '{"messages": [{"role": "user", "content": 5}], "max_tokens": 2}'
    error_is 400
    post /v1/completions "$(printf '{"prompt": "\xff\xfe", "max_tokens": 2}')"
    error_is 400
}

@test "400: wrong types and ranges name the parameter" {
    serve_start --max_tokens 64 --default_max_tokens 16
    while read -r param extra; do
        post /v1/completions "{\"prompt\": \"Once\", $extra}"
        error_is 400 "$param" || { echo "for $extra"; false; }
    done <<'EOF'
max_tokens "max_tokens": "x"
max_tokens "max_tokens": 0
max_tokens "max_tokens": -3
max_tokens "max_tokens": 2.5
max_tokens "max_tokens": 65
stream "stream": 3
temperature "temperature": -1
temperature "temperature": 2.5
temperature "temperature": "hot"
top_p "top_p": 0
top_p "top_p": 1.5
seed "seed": "abc"
stop "stop": 5
stop "stop": ["a", "b", "c", "d", "e"]
n "n": 2
frequency_penalty "frequency_penalty": 0.5
presence_penalty "presence_penalty": 1
logprobs "logprobs": 2
echo "echo": true
model "model": 7
stream_options "stream": true, "stream_options": 1
EOF
    for p in 12 '["a", "b"]' '[1, 2]' null '{"text": "a"}'; do
        post /v1/completions "{\"prompt\": $p}"
        error_is 400 prompt || { echo "for prompt $p"; false; }
    done
    post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 65}'
    error_is 400
    # the edges are accepted
    post /v1/completions '{"prompt": "Once", "max_tokens": 64, "temperature": 2, "top_p": 1, "n": 1, "frequency_penalty": 0, "presence_penalty": 0, "seed": 3, "top_k": 5, "repetition_penalty": 1.3}'
    status_is 200
    shape completion
}

@test "404 and 405: unknown model, unknown path, wrong method with Allow" {
    serve_start
    post /v1/completions '{"model": "gpt-4", "prompt": "Once", "max_tokens": 2}'
    error_is 404
    post /v1/chat/completions '{"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}'
    error_is 404
    call GET /no/such/path
    error_is 404
    call GET /v1/nothing
    error_is 404
    call GET /v1/completions
    error_is 405
    [[ "$(hdr Allow)" == *POST* ]] || { echo "Allow: $(hdr Allow)"; false; }
    post /health '{}'
    error_is 405
    [[ "$(hdr Allow)" == *GET* ]] || { echo "Allow: $(hdr Allow)"; false; }
    call DELETE /v1/models
    error_is 405
    [[ "$(hdr Allow)" == *GET* ]]
    call PUT /v1/chat/completions
    error_is 405
    [[ "$(hdr Allow)" == *POST* ]]
}

@test "/api/* errors are Ollama's {error: M}: bad JSON, no model, unknown model, types, path, method" {
    serve_start
    post /api/generate '{"model": "m", "prompt": '
    oerror_is 400
    post /api/generate '[]'
    oerror_is 400
    post /api/generate '{"prompt": "Once"}'
    oerror_is 400
    post /api/generate '{"model": "llama3", "prompt": "Once"}'
    oerror_is 404
    post /api/chat '{"model": "llama3", "messages": [{"role": "user", "content": "x"}]}'
    oerror_is 404
    post /api/chat '{"model": "m", "messages": "hello"}'
    oerror_is 400
    # messages and prompt are not required on /api/* (only model is): a
    # request without them is Ollama's "load" answer, or a 400
    post /api/chat '{"model": "m"}'
    if [ "$STATUS" = 200 ]; then
        pyj 'assert o["done"] is True and o["done_reason"] == "load", o'
    else
        oerror_is 400
    fi
    post /api/generate '{"model": "m", "prompt": "Once", "stream": "yes"}'
    oerror_is 400
    post /api/generate '{"model": "m", "prompt": "Once", "options": {"temperature": "hot"}}'
    oerror_is 400
    call GET /api/generate
    oerror_is 405
    [[ "$(hdr Allow)" == *POST* ]]
    call GET /api/nothing
    oerror_is 404
}

@test "413: a body over --max_body_bytes, with Content-Length or chunked, closes the connection" {
    serve_start --max_body_bytes 1024
    big=$($PY -c 'import json; print(json.dumps({"prompt": "a " * 600, "max_tokens": 1}))')
    post /v1/completions "$big"
    error_is 413
    grep -qi '^connection: *close' "$H" || { echo "no Connection: close"; cat "$H"; false; }
    post /v1/completions "$big" -H 'Transfer-Encoding: chunked'
    error_is 413
    small=$($PY -c 'import json; print(json.dumps({"prompt": "a " * 400, "max_tokens": 1}))')
    post /v1/completions "$small"
    status_is 200
    post /v1/completions "$small" -H 'Transfer-Encoding: chunked'
    status_is 200
    shape completion
    post /api/generate "$($PY -c 'import json; print(json.dumps({"model": "m", "prompt": "a " * 600}))')"
    oerror_is 413
}

# ---- request ids and logs -------------------------------------------------

@test "X-Request-Id on every response: fresh 16 hex digits, a sane client id echoed, others replaced" {
    serve_start --api_key k
    ids=()
    for req in 'GET /health' 'GET /nope' 'GET /v1/completions' 'POST /v1/models' 'GET /v1/models' 'GET /metrics'; do
        call $req -H 'Authorization: Bearer k'
        id=$(hdr X-Request-Id)
        [[ "$id" =~ ^[0-9a-f]{16}$ ]] || { echo "$req: X-Request-Id '$id'"; cat "$H"; false; }
        ids+=("$id")
    done
    [ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" -eq ${#ids[@]} ]
    post /v1/completions '{"prompt": "Once", "max_tokens": 1}'
    status_is 401
    [[ "$(hdr X-Request-Id)" =~ ^[0-9a-f]{16}$ ]]
    post /v1/completions '{"prompt": "Once", "max_tokens": 3, "stream": true}' -N -H 'Authorization: Bearer k' -H 'X-Request-Id: stream.Id-1'
    status_is 200
    [ "$(hdr X-Request-Id)" = stream.Id-1 ]
    long64=$(printf 'a%.0s' $(seq 64))
    for good in abc A.b_c-9 "$long64" 0; do
        call GET /health -H "X-Request-Id: $good"
        [ "$(hdr X-Request-Id)" = "$good" ] || { echo "sent '$good', got '$(hdr X-Request-Id)'"; false; }
    done
    for bad in "${long64}b" 'a b' 'a;b' 'a/b' 'x%0d' $'\xc3\xa9t\xc3\xa9' '<script>'; do
        call GET /health -H "X-Request-Id: $bad"
        status_is 200
        got=$(hdr X-Request-Id)
        [[ "$got" =~ ^[0-9a-f]{16}$ ]] || { echo "sent '$bad', got '$got'"; false; }
    done
    call GET /health -H "X-Request-Id;"
    [[ "$(hdr X-Request-Id)" =~ ^[0-9a-f]{16}$ ]]
}

@test "request log: one stderr line per request with method, path, status, id, client; none with log_requests false" {
    serve_start
    post /v1/completions '{"prompt": "Once", "max_tokens": 3}' -H 'X-Request-Id: logtest-1'
    status_is 200
    call GET /nope -H 'X-Request-Id: logtest-2'
    post /v1/completions '{"prompt": "Once", "max_tokens": 3, "stream": true}' -N -H 'X-Request-Id: logtest-3'
    deadline=$((SECONDS + 5))
    until grep -q logtest-3 "$SLOG"; do [ "$SECONDS" -lt "$deadline" ] || break; sleep 0.05; done
    for want in 'logtest-1 POST /v1/completions 200' 'logtest-2 GET /nope 404' 'logtest-3 POST /v1/completions 200'; do
        set -- $want
        n=$(grep -c -- "$1" "$SLOG" || true)
        [ "$n" -eq 1 ] || { echo "$n lines with $1:"; cat "$SLOG"; false; }
        line=$(grep -- "$1" "$SLOG")
        for f in "$2" "$3" "$4" 127.0.0.1; do
            [[ "$line" == *"$f"* ]] || { echo "no $f in: $line"; false; }
        done
    done
    # a fresh id is the one logged
    call GET /health
    id=$(hdr X-Request-Id)
    sleep 0.2
    grep -q "$id" "$SLOG" || { echo "id $id not logged"; cat "$SLOG"; false; }
    serve_stop
    serve_start --log_requests false
    post /v1/completions '{"prompt": "Once", "max_tokens": 3}' -H 'X-Request-Id: quiet-1'
    status_is 200
    sleep 0.3
    ! grep -q quiet-1 "$SLOG"
}

@test "--log-json: every stderr line is a JSON object; request lines carry method, path, status, id" {
    serve_start --log-json
    post /v1/completions '{"prompt": "Once", "max_tokens": 3}' -H 'X-Request-Id: json-1'
    status_is 200
    shape completion
    ptok=$(get prompt_tokens)
    call GET /nope -H 'X-Request-Id: json-2'
    post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 3, "stream": true}' -N -H 'X-Request-Id: json-3'
    sleep 0.3
    serve_stop
    $PY - "$SLOG" "$ptok" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = []
for l in lines:
    if not l.strip():
        continue
    try:
        o = json.loads(l)
    except ValueError:
        raise SystemExit("not JSON: %r" % l)
    assert isinstance(o, dict), l
    objs.append(o)
def values(o):
    for v in o.values():
        if isinstance(v, dict):
            yield from values(v)
        else:
            yield v
for rid, method, path, status in (("json-1", "POST", "/v1/completions", 200),
                                  ("json-2", "GET", "/nope", 404),
                                  ("json-3", "POST", "/v1/chat/completions", 200)):
    hits = [o for o in objs if rid in list(values(o))]
    assert len(hits) == 1, (rid, hits)
    vs = list(values(hits[0]))
    assert method in vs and path in vs and (status in vs or str(status) in vs), hits[0]
    if rid == "json-1":
        assert 3 in vs and int(sys.argv[2]) in vs, ("token counts", hits[0])
EOF
}

# ---- the API key ----------------------------------------------------------

@test "--api_key: 401 with WWW-Authenticate without or with a wrong bearer; 200 with it; /health open" {
    serve_start --api_key s3cret
    body='{"prompt": "Once", "max_tokens": 2}'
    post /v1/completions "$body"
    error_is 401
    [[ "$(hdr WWW-Authenticate)" == Bearer* ]] || { echo "WWW-Authenticate: $(hdr WWW-Authenticate)"; false; }
    for auth in 'Bearer wrong' 'Bearer s3cret2' 'Bearer s3cre' 'Basic s3cret' 's3cret' 'Bearer '; do
        post /v1/completions "$body" -H "Authorization: $auth"
        error_is 401 || { echo "with Authorization: $auth"; false; }
        [[ "$(hdr WWW-Authenticate)" == Bearer* ]]
    done
    post /v1/completions "$body" -H 'Authorization: Bearer s3cret'
    status_is 200
    shape completion
    call GET /v1/models
    error_is 401
    call GET /v1/models -H 'Authorization: Bearer s3cret'
    status_is 200
    call GET /api/tags
    oerror_is 401
    post /api/generate '{"model": "m", "prompt": "Once", "stream": false, "options": {"num_predict": 2}}' -H 'Authorization: Bearer s3cret'
    status_is 200
    call GET /health
    status_is 200
    ! grep -q s3cret "$SLOG"
}

# ---- load -----------------------------------------------------------------

@test "32 concurrent clients, streamed and not, each get their own prompt's answer" {
    serve_start --max_concurrent 8 --queue_size 64
    words=(cat dog girl boy tree park ball bird sun moon fish cake king queen ship rain)
    # alone first: 28 greedy prompts, 4 seeded samples
    for i in $(seq 0 31); do
        p="The ${words[i % 16]} and the ${words[(i * 7 + 3) % 16]}"
        if [ "$i" -lt 28 ]; then opts='"temperature": 0'; else opts="\"temperature\": 0.9, \"seed\": $((100 + i))"; fi
        printf '%s\n' "$p" > "$T/p$i"
        printf '%s\n' "$opts" > "$T/o$i"
        post /v1/completions "{\"prompt\": \"$p\", \"max_tokens\": 16, $opts}"
        status_is 200
        shape completion
        printf '%s\n' "$SUM" > "$T/want$i"
    done
    # then all together: kinds 0 completion, 1 completion stream,
    # 2 /api/generate NDJSON, 3 /api/generate one object (seeded: 0 and 1)
    pids=()
    for i in $(seq 0 31); do
        p=$(cat "$T/p$i") opts=$(cat "$T/o$i")
        k=$((i % 4))
        [ "$i" -lt 28 ] || k=$((i % 2))
        case $k in
        0) path=/v1/completions; j="{\"prompt\": \"$p\", \"max_tokens\": 16, $opts}" ;;
        1) path=/v1/completions; j="{\"prompt\": \"$p\", \"max_tokens\": 16, $opts, \"stream\": true}" ;;
        2) path=/api/generate; j="{\"model\": \"m\", \"prompt\": \"$p\", \"options\": {\"num_predict\": 16, $opts}}" ;;
        3) path=/api/generate; j="{\"model\": \"m\", \"prompt\": \"$p\", \"stream\": false, \"options\": {\"num_predict\": 16, $opts}}" ;;
        esac
        echo $k > "$T/k$i"
        curl -sS -N -m 30 -o "$T/got$i" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary "$j" "$URL$path" > "$T/code$i" 2>&1 3>&- &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    for i in $(seq 0 31); do
        [ "$(cat "$T/code$i")" = 200 ] || { echo "client $i: $(cat "$T/code$i")"; head -c 500 "$T/got$i"; false; }
        case $(cat "$T/k$i") in
        0) shape_of completion "$T/got$i" ;;
        1) shape_of completion-sse "$T/got$i" ;;
        2) shape_of generate-nd "$T/got$i" ;;
        3) shape_of generate "$T/got$i" ;;
        esac
        same text "$(cat "$T/want$i")" "$SUM" || { echo "client $i (kind $(cat "$T/k$i")): $(cat "$T/p$i")"; false; }
        [ "$(get completion_tokens)" = null ] || same completion_tokens "$(cat "$T/want$i")" "$SUM"
    done
    metrics
    [ "$(metric runnel_generations_active)" = 0.0 ]
    [ "$(metric runnel_queue_depth)" = 0.0 ]
}

@test "queue full: --max_concurrent 1 --queue_size 0/1, a long generation in flight: 503 with Retry-After" {
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start --max_concurrent 1 --queue_size 1 --retry_after 7 --max_tokens 2000
    long='{"prompt": "Once", "max_tokens": 2000, "temperature": 0, "stream": true}'
    bg curl -sS -N -m 60 -o "$T/a.sse" -H 'Content-Type: application/json' --data-binary "$long" "$URL/v1/completions"
    apid=${BGPIDS[-1]}
    wait_for_data "$T/a.sse" 20
    bg curl -sS -N -m 60 -o "$T/b.sse" -H 'Content-Type: application/json' --data-binary "$long" "$URL/v1/completions"
    bpid=${BGPIDS[-1]}
    # B waits in the queue
    deadline=$((SECONDS + 10))
    while :; do
        metrics
        [ "$(metric runnel_queue_depth)" = 1.0 ] && break
        [ "$SECONDS" -lt "$deadline" ] || { echo "queue depth never 1: $SUM"; false; }
        sleep 0.05
    done
    [ "$(metric runnel_generations_active)" = 1.0 ]
    if grep -q '^data: {' "$T/b.sse" 2>/dev/null; then echo "B streams while A runs"; false; fi
    post /v1/completions '{"prompt": "Once", "max_tokens": 2}'
    error_is 503
    [ "$(hdr Retry-After)" = 7 ] || { echo "Retry-After: $(hdr Retry-After)"; false; }
    post /api/generate '{"model": "slow", "prompt": "Once", "options": {"num_predict": 2}}'
    oerror_is 503
    [ "$(hdr Retry-After)" = 7 ]
    call GET /health
    status_is 200
    # A hangs up: its slot frees at the next step and B runs
    kill "$apid"
    wait_for_data "$T/b.sse" 5
    kill "$bpid"
    # both cancelled: a short request is served long before 2000 tokens
    deadline=$((SECONDS + 5))
    until post /v1/completions '{"prompt": "Once", "max_tokens": 2}'; [ "$STATUS" = 200 ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "slots not freed by disconnects: $STATUS"; false; }
        sleep 0.1
    done
    shape completion
    serve_stop
    # queue_size 0: nothing waits
    serve_start --max_concurrent 1 --queue_size 0 --max_tokens 2000
    bg curl -sS -N -m 60 -o "$T/c.sse" -H 'Content-Type: application/json' --data-binary "$long" "$URL/v1/completions"
    wait_for_data "$T/c.sse" 20
    post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 2, "stream": true}'
    error_is 503
    [ -n "$(hdr Retry-After)" ]
}

@test "hanging up on a non-streamed generation frees its slot at once; the request is still logged" {
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start --max_concurrent 1 --queue_size 4 --max_tokens 2000
    # 2000 tokens take 4 s or more; the client gives up after 0.5 s
    curl -sS -m 0.5 -o /dev/null -H 'Content-Type: application/json' -H 'X-Request-Id: gone-1' \
        --data-binary '{"prompt": "Once", "max_tokens": 2000, "temperature": 0}' "$URL/v1/completions" 2>/dev/null || true
    t0=$(now_ms)
    post /v1/completions '{"prompt": "Once", "max_tokens": 2, "temperature": 0}'
    ms=$(( $(now_ms) - t0 ))
    status_is 200
    [ "$ms" -lt 2000 ] || { echo "the next request waited $ms ms: the abandoned job kept its slot"; false; }
    metrics
    [ "$(metric runnel_generations_active)" = 0.0 ]
    grep -q gone-1 "$SLOG" || { echo "the abandoned request is not logged"; cat "$SLOG"; false; }
}

# ---- slow and silent clients ---------------------------------------------

@test "--request_timeout 1: a client dripping a request byte by byte is cut within seconds" {
    serve_start --request_timeout 1 --idle_timeout 30
    run -0 $PY "$CONN" drip "$PORT" 6
    echo "$output"
    secs=$(sed -n 's/.*closed after \([0-9.]*\) s.*/\1/p' <<< "$output" | tail -n1)
    $PY -c 'import sys; t = float(sys.argv[1]); assert 0.8 <= t <= 4.5, t' "$secs"
    # the server still serves
    call GET /health
    status_is 200
}

@test "--idle_timeout 1: a silent keep-alive connection and a silent new one are closed" {
    serve_start --idle_timeout 1 --request_timeout 10
    run -0 $PY "$CONN" keepalive "$PORT" 6
    echo "$output"
    secs=$(sed -n 's/.*closed after \([0-9.]*\) s.*/\1/p' <<< "$output" | tail -n1)
    $PY -c 'import sys; t = float(sys.argv[1]); assert 0.8 <= t <= 4, t' "$secs"
    run -0 $PY "$CONN" idle "$PORT" 12
    echo "$output"
    call GET /health
    status_is 200
}

@test "a generation longer than --request_timeout and --idle_timeout is not cut" {
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start --request_timeout 1 --idle_timeout 1 --max_tokens 2000
    t0=$(now_ms)
    post /v1/completions '{"prompt": "Once", "max_tokens": 1200, "temperature": 0}'
    ms=$(( $(now_ms) - t0 ))
    status_is 200
    shape completion
    [ "$(get completion_tokens)" = 1200 ]
    [ "$ms" -ge 1200 ] || echo "# note: 1200 tokens took only $ms ms, under the timeouts" >&3
    post /api/chat '{"model": "slow", "messages": [{"role": "user", "content": "x"}], "options": {"num_predict": 1200, "temperature": 0}}' -N
    status_is 200
    shape ochat-nd
    [ "$(get completion_tokens)" = 1200 ]
}

@test "--max_connections 2: a third connection is not served while two are open, then it is" {
    serve_start --max_connections 2 --idle_timeout 20 --request_timeout 20
    $PY -c 'import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(2)]
print("holding", flush=True)
time.sleep(3)' "$PORT" > "$T/held" 2>&1 3>&- &
    hold=$!
    BGPIDS+=($hold)
    deadline=$((SECONDS + 5))
    until grep -q holding "$T/held"; do
        [ "$SECONDS" -lt "$deadline" ] || { cat "$T/held"; false; }
        sleep 0.02
    done
    sleep 0.2
    # refused, reset or left in the backlog: anything but an answer
    code=$(curl -sS -m 1 -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null) || true
    [ "$code" != 200 ] || { echo "a third connection was served"; false; }
    wait "$hold" || true
    deadline=$((SECONDS + 5))
    until call GET /health; [ "$STATUS" = 200 ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "not served after the others closed: $STATUS"; false; }
        sleep 0.1
    done
}

# ---- shutdown -------------------------------------------------------------

@test "SIGTERM mid-stream: no new connections, the stream ends with its finish chunk and [DONE], exit 0" {
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start --max_tokens 2000 --shutdown_timeout 30
    bg curl -sS -N -m 60 -o "$T/a.sse" -H 'Content-Type: application/json' \
        --data-binary '{"prompt": "Once", "max_tokens": 1500, "temperature": 0, "stream": true}' "$URL/v1/completions"
    apid=${BGPIDS[-1]}
    wait_for_data "$T/a.sse" 20
    pid=$SPID
    SPID=
    kill -TERM "$pid"
    # the listening socket closes at once, while the stream goes on
    # (1500 tokens take 3 s or more)
    deadline=$(( $(now_ms) + 1000 ))
    while curl -sS -m 2 -o /dev/null "$URL/health" 2>/dev/null; do
        [ "$(now_ms)" -lt "$deadline" ] || { echo "still accepting 1 s after SIGTERM"; false; }
        sleep 0.05
    done
    kill -0 "$apid" 2>/dev/null || { echo "refused only once the stream had ended"; false; }
    if curl -sS -m 2 -o /dev/null "$URL/health" 2>/dev/null; then echo "accepted after SIGTERM"; false; fi
    serve_exited 25 || { kill -KILL "$pid"; echo "serve did not exit"; cat "$SLOG"; false; }
    [ "$(cat "$SRC")" = 0 ] || { echo "exit status $(cat "$SRC")"; cat "$SLOG"; false; }
    wait "$apid" || true
    shape_of completion-sse "$T/a.sse"
    [ "$(get finish)" = '"length"' ]
    [ "$(grep -c '^data: {' "$T/a.sse")" -ge 2 ]
}

@test "--shutdown_timeout 1 bounds a SIGTERM with a long generation in flight; SIGINT exits 0 too" {
    MODEL="$W/slow.ckpt" MODEL_NAME=slow
    serve_start --max_tokens 2040 --shutdown_timeout 1
    bg curl -sS -N -m 60 -o "$T/a.sse" -H 'Content-Type: application/json' \
        --data-binary '{"prompt": "Once", "max_tokens": 2040, "temperature": 0, "stream": true}' "$URL/v1/completions"
    apid=${BGPIDS[-1]}
    wait_for_data "$T/a.sse" 20
    t0=$(now_ms)
    pid=$SPID
    SPID=
    kill -TERM "$pid"
    serve_exited 10 || { kill -KILL "$pid"; echo "serve did not exit 10 s after SIGTERM"; false; }
    ms=$(( $(now_ms) - t0 ))
    [ "$(cat "$SRC")" = 0 ] || { echo "exit status $(cat "$SRC")"; cat "$SLOG"; false; }
    [ "$ms" -le 4000 ] || { echo "exit took $ms ms with --shutdown_timeout 1"; false; }
    [ "$ms" -ge 800 ] || { echo "exit after $ms ms: the generation was not given its second"; false; }
    # the client is cut, not left hanging
    deadline=$((SECONDS + 5))
    while kill -0 "$apid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "client still connected"; false; }
        sleep 0.05
    done
    if grep -q '"finish_reason": *"length"' "$T/a.sse"; then echo "a cut stream claims length"; false; fi
    MODEL=
    serve_start
    serve_stop INT
}

# ---- configuration --------------------------------------------------------

# pc ARGS...: serve --print-config from the test's directory ($T/cfg)
pc() {
    mkdir -p "$T/cfg"
    cd "$T/cfg"
    run --separate-stderr timeout 20 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --print-config "$@"
    cd - > /dev/null
}

# setting NAME VALUE ORIGIN: the --print-config line of NAME (in $output)
# shows VALUE (quotes aside) and an origin equal to ORIGIN or ending in /ORIGIN
setting() {
    local line v o
    line=$(grep -E "^$1:" <<< "$output") || { echo "no $1 in:"; echo "$output"; return 1; }
    v=${line#"$1":}
    v=${v%%#*}
    v=$(sed -e 's/^ *//' -e 's/ *$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/" <<< "$v")
    o=$(sed -e 's/^[^#]*# *//' -e 's/ *$//' <<< "$line")
    if [ "$v" != "$2" ] || { [ "$o" != "$3" ] && [[ "$o" != */"$3" ]]; }; then
        echo "want '$1: $2  # $3', got: $line"
        return 1
    fi
}

@test "--print-config: every setting; defaults < YAML < .env < environment < flags, origins named" {
    pc
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    for f in host port http_threads max_connections model tokenizer model_name threads \
        max_concurrent queue_size max_tokens default_max_tokens temperature top_k top_p \
        repetition_penalty max_body_bytes request_timeout idle_timeout shutdown_timeout \
        retry_after api_key log_json log_requests; do
        grep -qE "^$f: .*# " <<< "$output" || { echo "no line for $f:"; echo "$output"; false; }
    done
    setting port 8080 default
    setting host 127.0.0.1 default
    printf '# serve settings\nmodel_name: fromyaml\nmax_tokens: 100\ntop_k: 5\n' > "$T/cfg/serve.yaml"
    pc -c serve.yaml
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting max_tokens 100 serve.yaml:3
    setting model_name fromyaml serve.yaml:2
    printf '# ours\n\nRUNNEL_MAX_TOKENS=200\nRUNNEL_TOP_K=6\n' > "$T/cfg/prod.env"
    pc -c serve.yaml --env-file prod.env
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting max_tokens 200 prod.env:3
    setting top_k 6 prod.env:4
    setting model_name fromyaml serve.yaml:2
    RUNNEL_MAX_TOKENS=300 pc -c serve.yaml --env-file prod.env
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting max_tokens 300 'environment RUNNEL_MAX_TOKENS'
    setting top_k 6 prod.env:4
    RUNNEL_MAX_TOKENS=300 pc -c serve.yaml --env-file prod.env --max_tokens 400
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting max_tokens 400 'command line --max_tokens'
    setting top_k 6 prod.env:4
    setting model_name fromyaml serve.yaml:2
    # the output loads back as a config file with the same values
    printf '%s\n' "$output" > "$T/cfg/printed.yaml"
    first=$(sed 's/ *#.*//' <<< "$output")
    pc -c printed.yaml
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(sed 's/ *#.*//' <<< "$output")" = "$first" ] || { diff <(echo "$first") <(sed 's/ *#.*//' <<< "$output"); false; }
}

@test ".env: ./.env read unless --env-file names another; export, quotes, comments; api_key never printed" {
    mkdir -p "$T/cfg"
    printf '# local\nRUNNEL_MODEL_NAME="two words"\nexport RUNNEL_MAX_TOKENS=250\nRUNNEL_API_KEY='"'"'sec#ret'"'"'\nOTHER_TOOL=1\n\n' > "$T/cfg/.env"
    pc
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting max_tokens 250 .env:3
    setting model_name 'two words' .env:2
    grep -E '^api_key:' <<< "$output" | grep -q '(set)'
    [[ "$output$stderr" != *"sec#ret"* ]]
    printf 'RUNNEL_TOP_K=9\n' > "$T/cfg/other.env"
    pc --env-file other.env
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    setting top_k 9 other.env:1
    setting max_tokens "$(pc_default max_tokens)" default
    setting model_name "$(pc_default model_name)" default
    pc --api_key s3cret
    [[ "$output$stderr" != *s3cret* ]]
    grep -E '^api_key:' <<< "$output" | grep -q '(set)'
    # unknown RUNNEL_ names: a typo in our .env is an error, the environment's are ignored
    printf 'RUNNEL_MAX_TOKEN=5\n' > "$T/cfg/typo.env"
    pc --env-file typo.env
    [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
    [[ "$stderr" == *RUNNEL_MAX_TOKEN* ]]
    RUNNEL_NO_SUCH_SETTING=1 pc --env-file other.env
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    pc --env-file missing.env
    [ "$status" -ne 0 ] && [[ "$stderr" == *missing.env* ]] || { echo "status $status: $stderr"; false; }
}

# pc_default NAME: the default value of NAME (a --print-config run in an empty dir)
pc_default() {
    local d
    d=$(mktemp -d "$T/empty.XXXX")
    (cd "$d" && "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --print-config) |
        sed -n "s/^$1: *\([^#]*[^ #]\) *#.*/\1/p" | sed -e 's/^"\(.*\)"$/\1/'
}

@test "a malformed value in any layer: exit 2 naming the setting and the source" {
    mkdir -p "$T/cfg"
    printf 'max_tokens: 10\nport: x\n' > "$T/cfg/bad.yaml"
    pc -c bad.yaml
    [ "$status" -eq 2 ] || { echo "status $status"; false; }
    [[ "$stderr" == *bad.yaml:2* && "$stderr" == *port* ]] || { echo "$stderr"; false; }
    printf '# x\n\nRUNNEL_PORT=x\n' > "$T/cfg/bad.env"
    pc --env-file bad.env
    [ "$status" -eq 2 ]
    [[ "$stderr" == *bad.env:3* && "$stderr" == *port* ]] || { echo "$stderr"; false; }
    cp "$T/cfg/bad.env" "$T/cfg/.env"
    pc
    [ "$status" -eq 2 ]
    [[ "$stderr" == *.env:3* && "$stderr" == *port* ]] || { echo "$stderr"; false; }
    rm "$T/cfg/.env"
    RUNNEL_PORT=x pc
    [ "$status" -eq 2 ]
    [[ "$stderr" == *RUNNEL_PORT* && "$stderr" == *environment* ]] || { echo "$stderr"; false; }
    pc --port x
    [ "$status" -eq 2 ]
    [[ "$stderr" == *port* && "$stderr" == *"command line"* ]] || { echo "$stderr"; false; }
    pc --port 70000
    [ "$status" -eq 2 ]
    [[ "$stderr" == *port* ]]
    RUNNEL_TEMPERATURE=-1 pc
    [ "$status" -eq 2 ]
    [[ "$stderr" == *temperature* ]]
    printf 'max_tokns: 10\n' > "$T/cfg/typo.yaml"
    pc -c typo.yaml
    [ "$status" -eq 2 ]
    [[ "$stderr" == *max_tokns* ]]
    [[ "$stderr" == *max_tokens* ]] || { echo "no suggestion: $stderr"; false; }
    printf 'log_json: perhaps\n' > "$T/cfg/bool.yaml"
    pc -c bool.yaml
    [ "$status" -eq 2 ]
    [[ "$stderr" == *log_json* ]]
}

@test "SIGHUP rereads the layers: new key and token limit apply, restart-only changes and bad files are logged" {
    mkdir -p "$T/cfg"
    printf 'max_tokens: 20\nmax_concurrent: 2\n' > "$T/cfg/serve.yaml"
    serve_start -c "$T/cfg/serve.yaml"
    post /v1/completions '{"prompt": "Once", "max_tokens": 30}'
    error_is 400 max_tokens
    printf 'max_tokens: 40\nmax_concurrent: 3\napi_key: k2\n' > "$T/cfg/serve.yaml"
    n0=$(wc -l < "$SLOG")
    kill -HUP "$SPID"
    deadline=$((SECONDS + 5))
    until post /v1/completions '{"prompt": "Once", "max_tokens": 30}'; [ "$STATUS" = 401 ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "api_key not applied by SIGHUP: $STATUS"; cat "$SLOG"; false; }
        sleep 0.1
    done
    post /v1/completions '{"prompt": "Once", "max_tokens": 30}' -H 'Authorization: Bearer k2'
    status_is 200
    shape completion
    post /v1/completions '{"prompt": "Once", "max_tokens": 41}' -H 'Authorization: Bearer k2'
    error_is 400 max_tokens
    tail -n +$((n0 + 1)) "$SLOG" | grep -q max_concurrent ||
        { echo "the ignored max_concurrent change is not logged:"; cat "$SLOG"; false; }
    # a bad file keeps the running settings
    printf 'max_tokens: lots\napi_key: k3\n' > "$T/cfg/serve.yaml"
    n0=$(wc -l < "$SLOG")
    kill -HUP "$SPID"
    sleep 0.5
    kill -0 "$SPID"
    tail -n +$((n0 + 1)) "$SLOG" | grep -q 'serve.yaml:1' ||
        { echo "the bad file is not logged:"; cat "$SLOG"; false; }
    post /v1/completions '{"prompt": "Once", "max_tokens": 30}' -H 'Authorization: Bearer k2'
    status_is 200
    post /v1/completions '{"prompt": "Once", "max_tokens": 30}' -H 'Authorization: Bearer k3'
    error_is 401
}

@test "SIGHUP rereads ./.env too: token limit and request logging change" {
    mkdir -p "$T/cwd"
    printf 'RUNNEL_MAX_TOKENS=20\nRUNNEL_DEFAULT_MAX_TOKENS=5\n' > "$T/cwd/.env"
    serve_start
    post /v1/completions '{"prompt": "Once", "max_tokens": 30}' -H 'X-Request-Id: hup-1'
    error_is 400 max_tokens
    printf 'RUNNEL_MAX_TOKENS=40\nRUNNEL_DEFAULT_MAX_TOKENS=5\nRUNNEL_LOG_REQUESTS=false\n' > "$T/cwd/.env"
    kill -HUP "$SPID"
    deadline=$((SECONDS + 5))
    until post /v1/completions '{"prompt": "Once", "max_tokens": 30}' -H 'X-Request-Id: hup-2'; [ "$STATUS" = 200 ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "max_tokens from .env not reloaded: $STATUS"; cat "$SLOG"; false; }
        sleep 0.1
    done
    sleep 0.3
    grep -q hup-1 "$SLOG" || { echo "no log line before the reload"; cat "$SLOG"; false; }
    if grep -q hup-2 "$SLOG"; then echo "a request logged after log_requests false"; cat "$SLOG"; false; fi
}

# ---- bad starts -----------------------------------------------------------

# exits STATUS CMD...: CMD (at most 20 s) exits with STATUS; $stderr holds its stderr
exits() {
    local want=$1
    shift
    run --separate-stderr timeout 20 "$@"
    [ "$status" -eq "$want" ] && return 0
    echo "$*: exit status $status, not $want; stderr:"
    echo "$stderr"
    return 1
}

@test "bad starts: no -m (2), missing or truncated checkpoint (1, named), port in use (1), unknown flag (2)" {
    mkdir -p "$T/cwd"
    cd "$T/cwd"
    exits 2 "$RUNNEL_BIN/serve" --port 0
    [[ "$stderr" == *-m* || "$stderr" == *model* ]] || { echo "$stderr"; false; }
    exits 1 "$RUNNEL_BIN/serve" -m "$T/nope.ckpt" --port 0
    [[ "$stderr" == *nope.ckpt* ]] || { echo "$stderr"; false; }
    [[ "$stderr" != *"listening on"* ]]
    head -c 5000 "$W/m.ckpt" > "$T/trunc.ckpt"
    exits 1 "$RUNNEL_BIN/serve" -m "$T/trunc.ckpt" --port 0
    [[ "$stderr" == *trunc.ckpt* ]] || { echo "$stderr"; false; }
    exits 1 "$RUNNEL_BIN/serve" -m "$W/tok.json" --port 0
    [[ "$stderr" == *tok.json* ]] || { echo "$stderr"; false; }
    exits 2 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --max_token 5
    [[ "$stderr" == *"did you mean --max_tokens"* ]] || { echo "$stderr"; false; }
    exits 2 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --max_tokens
    exits 2 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --max_concurrent 0
    [[ "$stderr" == *max_concurrent* ]] || { echo "$stderr"; false; }
    run --separate-stderr timeout 20 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" -c "$T/none.yaml" --port 0
    [ "$status" -eq 1 ] || [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
    [[ "$stderr" == *none.yaml* ]]
    serve_start
    exits 1 "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --port "$PORT"
    [[ "$stderr" == *"$PORT"* ]] || { echo "$stderr"; false; }
    # the first server is unharmed
    call GET /health
    status_is 200
}

@test "--help lists the settings as flags and exits 0" {
    run -0 --separate-stderr "$RUNNEL_BIN/serve" --help
    for f in --print-config --env-file --api_key --max_concurrent --queue_size --request_timeout --log-json; do
        [[ "$output" == *"$f"* ]] || { echo "no $f in --help"; false; }
    done
}
