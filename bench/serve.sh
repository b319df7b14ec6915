#!/usr/bin/env bash
# bench/serve.sh — `serve` against the seed's FastAPI service
# (bench/serve_fastapi.py: FastAPI under uvicorn, one process, the seed's
# dummy classifier and its logging), same run, same machine.
#
# A tiny checkpoint is trained once (tests/cli/data/tiny-lm.yaml with a
# block_size of 128: a 300-token BPE and 30 steps of train on the sample
# stories, a few seconds) and kept in build/bench/serve/; delete it to
# retrain. Then both servers start on free ports and wrk (-t2 -c64,
# DURATION seconds, RUNS runs, the two servers alternating, medians
# reported) measures requests/s and p50/p99 latency of
#   GET  /health    both sides
#   POST /predict   runnel: JSON {"input": "Once upon a time", "max_tokens": 8},
#                   which generates 8 tokens with the model;
#                   FastAPI: ?input=Once+upon+a+time (the seed's contract),
#                   which runs the dummy classifier (a string test)
# and prints the ratio runnel / FastAPI. The /predict rows do not compare
# like with like: runnel runs a language model there, the seed an if.
# Non-2xx answers and socket errors are counted ("err"); a run with errors
# is not a fair number (a 503 from a full queue is cheap), so serve runs
# with RUNNEL_QUEUE_SIZE=4*CONNS (wrk's connections wait, not bounce), no
# API key and an empty --env-file; other settings are its defaults. The
# servers' logs (one line per request on both sides) go to a temporary
# directory removed at exit.
# Last, generation throughput of runnel alone: 1, 4 and 16 clients (threads
# of a stdlib Python client), each repeating POST /v1/completions with
# stream:true, max_tokens 64, temperature 0.8 for DURATION seconds;
# tokens/s = completion tokens of all clients (from the final usage chunk,
# else the number of SSE chunks carrying text) / wall time; TTFT = time to
# the first chunk with text. Reported, never judged; wrk, the clients and
# both servers share the machine's cores.
#
# Needs: make (bin/serve, bin/train, bin/tokenize), wrk, curl,
# python3-fastapi and python3-uvicorn (Debian). Without bin/serve only the
# FastAPI side is measured.
#
# Environment: RUNS (default 3), DURATION (seconds per wrk run and per
# client run, default 5), CONNS (wrk connections, default 64), WRK_THREADS
# (default 2), WRK_TIMEOUT (seconds before wrk counts a request as an
# error, default 10), CLIENTS (default "1 4 16"), RUNNEL_BIN (default bin), CKPT
# (another checkpoint to serve in place of the tiny one, e.g. a real model:
# the tiny one mostly measures HTTP and scheduling, not decoding).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${RUNNEL_BIN:-bin}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
CLIENTS=${CLIENTS:-"1 4 16"}
PY=/usr/bin/python3
W=build/bench/serve
CKPT=${CKPT:-$W/tiny.ckpt}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

die() { echo "serve.sh: $*" >&2; exit 1; }
for need in wrk curl; do
    command -v "$need" > /dev/null || die "missing: $need (apt-get install $need)"
done
$PY -c 'import fastapi, uvicorn' 2> /dev/null || die "missing: python3-fastapi python3-uvicorn"
HAVE_SERVE=1
if [ ! -x "$BIN/serve" ]; then
    HAVE_SERVE=0
    echo "serve.sh: missing: $BIN/serve (make): measuring the FastAPI side only" >&2
else
    for need in "$BIN/train" "$BIN/tokenize"; do
        [ -x "$need" ] || die "missing: $need (make)"
    done
fi
mkdir -p "$W"
T=$(mktemp -d "${TMPDIR:-/tmp}/serve-bench.XXXXXX")   # logs and per-run numbers

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
    PIDS=()
}
trap 'cleanup; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
others() {
    top -b -n2 -d0.5 -w 200 | awk '/^top -/ { f++ } f == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 5 \
        { printf "  %s%% %s\n", $9, $12; n++ } END { if (!n) print "  none" }'
}
echo "other processes above 5% CPU just before the run (top, 0.5 s sample):"
others
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $RUNS runs (medians); $($PY -c 'import fastapi, uvicorn; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)')"

# ---- the tiny checkpoint -------------------------------------------------
if [ "$HAVE_SERVE" = 1 ] && [ ! -s "$CKPT" ]; then
    echo "training the tiny checkpoint into $CKPT"
    "$BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" samples/tokenize-stories.txt
    "$BIN/tokenize" -m "$W/tok.json" --split blank-line --wrap story samples/tokenize-stories.txt > "$W/tokens.rnl"
    "$BIN/train" -q -c tests/cli/data/tiny-lm.yaml --block_size 128 --tokenizer "$W/tok.json" \
        -o "$CKPT.tmp" "$W/tokens.rnl"
    mv "$CKPT.tmp" "$CKPT"
fi

# ---- the servers ---------------------------------------------------------
free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_up PID PORT LOG: until GET /health answers 200 (30 s at most)
wait_up() {
    local _
    for _ in $(seq 300); do
        kill -0 "$1" 2> /dev/null || { cat "$3" >&2; die "server on port $2 exited"; }
        curl -sf -o /dev/null "http://127.0.0.1:$2/health" && return 0
        sleep 0.1
    done
    cat "$3" >&2
    die "server on port $2 did not answer /health in 30 s"
}

if [ "$HAVE_SERVE" = 1 ]; then
    RP=$(free_port)
    : > "$T/empty.env"
    # no API key, room in the queue for every wrk connection; no ./.env
    env -u RUNNEL_API_KEY RUNNEL_QUEUE_SIZE=$((CONNS * 4)) \
        "$BIN/serve" -m "$CKPT" --port "$RP" --env-file "$T/empty.env" 2> "$T/serve.log" &
    PIDS+=($!)
    wait_up "$!" "$RP" "$T/serve.log"
    grep -m1 'listening on' "$T/serve.log" | sed 's/^/runnel: /' || true
fi
FP=$(free_port)
$PY bench/serve_fastapi.py "$FP" > "$T/fastapi.log" 2>&1 &
PIDS+=($!)
wait_up "$!" "$FP" "$T/fastapi.log"
echo "fastapi: listening on http://127.0.0.1:$FP"

# ---- wrk -----------------------------------------------------------------
# wrk_once URL [BODY]: "req/s p50_ms p99_ms errors" of one run; with BODY
# (or BODY "" for none) the requests are POSTs (bench/serve_post.lua).
wrk_once() {
    local out
    if [ $# -ge 2 ]; then
        out=$(WRK_BODY=$2 wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" \
              --latency -s bench/serve_post.lua "$1")
    else
        out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" --latency "$1")
    fi
    echo "$out" | awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /m$/) return v * 60000
            if (v ~ /s$/) return v * 1000
            return v + 0
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec/ { rps = $2 }
        /Non-2xx/ { err += $NF }
        /Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END { printf "%.1f %.3f %.3f %d\n", rps, p50, p99, err }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (!NR) print "nan"; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# medians FILE: the median of each of the 4 columns, errors summed
medians() {
    echo "$(cut -d' ' -f1 "$1" | median) $(cut -d' ' -f2 "$1" | median) $(cut -d' ' -f3 "$1" | median)" \
         "$(awk '{ s += $4 } END { print s + 0 }' "$1")"
}

RUNNEL_BODY='{"input": "Once upon a time", "max_tokens": 8}'
declare -A ROWS
for ep in health predict; do
    : > "$T/runnel.$ep"
    : > "$T/fastapi.$ep"
    # one unmeasured second each to warm up
    if [ "$ep" = health ]; then
        [ "$HAVE_SERVE" = 1 ] && DURATION=1 wrk_once "http://127.0.0.1:$RP/health" > /dev/null
        DURATION=1 wrk_once "http://127.0.0.1:$FP/health" > /dev/null
    else
        [ "$HAVE_SERVE" = 1 ] && DURATION=1 wrk_once "http://127.0.0.1:$RP/predict" "$RUNNEL_BODY" > /dev/null
        DURATION=1 wrk_once "http://127.0.0.1:$FP/predict?input=Once+upon+a+time" "" > /dev/null
    fi
    for _ in $(seq "$RUNS"); do
        if [ "$ep" = health ]; then
            [ "$HAVE_SERVE" = 1 ] && wrk_once "http://127.0.0.1:$RP/health" >> "$T/runnel.$ep"
            wrk_once "http://127.0.0.1:$FP/health" >> "$T/fastapi.$ep"
        else
            [ "$HAVE_SERVE" = 1 ] && wrk_once "http://127.0.0.1:$RP/predict" "$RUNNEL_BODY" >> "$T/runnel.$ep"
            wrk_once "http://127.0.0.1:$FP/predict?input=Once+upon+a+time" "" >> "$T/fastapi.$ep"
        fi
    done
    ROWS[$ep]="$( [ "$HAVE_SERVE" = 1 ] && medians "$T/runnel.$ep" || echo "nan nan nan 0") $(medians "$T/fastapi.$ep")"
done

echo
printf '%-14s | %9s %8s %8s %5s | %9s %8s %8s %5s | %7s %7s\n' "" runnel "" "" "" fastapi "" "" "" "runnel/" fastapi
printf '%-14s | %9s %8s %8s %5s | %9s %8s %8s %5s | %7s %7s\n' endpoint "req/s" "p50 ms" "p99 ms" err \
    "req/s" "p50 ms" "p99 ms" err "req/s" "p50"
for ep in health predict; do
    case $ep in health) name="GET /health" ;; predict) name="POST /predict" ;; esac
    echo "$name ${ROWS[$ep]}" | awk '{
        n = $1 " " $2
        rr = ($3 == "nan" || $7 == 0) ? "-" : sprintf("%.2fx", $3 / $7)
        rp = ($4 == "nan" || $4 == 0) ? "-" : sprintf("%.2fx", $8 / $4)
        printf "%-14s | %9s %8s %8s %5s | %9.1f %8.3f %8.3f %5d | %7s %7s\n", n, $3, $4, $5, $6, $7, $8, $9, $10, rr, rp
    }'
done
echo "(req/s and latency: medians of $RUNS wrk runs; err: non-2xx answers and socket errors"
echo " over all runs; runnel/fastapi: req/s ratio, and p50 as fastapi's over runnel's, so > 1 is"
echo " runnel faster on both; /predict: runnel generates 8 tokens, the seed runs its dummy model)"

# ---- generation throughput -----------------------------------------------
# gen_table PORT LABEL: tokens/s for each CLIENTS count against the serve on PORT
gen_table() {
    local port=$1 c
    echo
    echo "streaming generation ($2), POST /v1/completions, max_tokens 64 (ignore_eos),"
    echo "temperature 0.8, ${DURATION}s per run:"
    printf '%8s %10s %12s %9s %9s %5s\n' clients "tokens/s" "per client" requests "TTFT ms" err
    for c in $CLIENTS; do
        : > "$T/gen.$c"
        for _ in $(seq "$RUNS"); do
            $PY - "$port" "$c" "$DURATION" >> "$T/gen.$c" <<'PY'
import http.client, json, sys, threading, time

port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
body = json.dumps({"prompt": "Once upon a time", "max_tokens": 64, "temperature": 0.8,
                   "stream": True, "stream_options": {"include_usage": True},
                   "ignore_eos": True})
lock = threading.Lock()
tot = {"tokens": 0, "requests": 0, "errors": 0, "ttft": []}

def one(conn):
    """One streamed completion: (completion tokens, seconds to the first text)."""
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        r.read()
        raise RuntimeError(f"HTTP {r.status}")
    pieces, usage, ttft = 0, None, None
    for line in r:
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        o = json.loads(data)
        if o.get("usage"):
            usage = o["usage"]["completion_tokens"]
        for ch in o.get("choices") or []:
            if ch.get("text"):
                pieces += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
    r.read()
    return (usage if usage is not None else pieces), ttft

def client(deadline):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.perf_counter() < deadline:
        try:
            n, ttft = one(conn)
        except Exception:
            with lock:
                tot["errors"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            time.sleep(0.05)
            continue
        with lock:
            tot["tokens"] += n
            tot["requests"] += 1
            if ttft is not None:
                tot["ttft"].append(ttft)
    conn.close()

start = time.perf_counter()
threads = [threading.Thread(target=client, args=(start + seconds,)) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - start
tt = sorted(tot["ttft"])
ttft = 1000 * tt[len(tt) // 2] if tt else float("nan")
print(f'{tot["tokens"] / wall:.1f} {tot["requests"]} {ttft:.3f} {tot["errors"]}')
PY
        done
        TPS=$(cut -d' ' -f1 "$T/gen.$c" | median)
        REQ=$(cut -d' ' -f2 "$T/gen.$c" | median)
        TTFT=$(cut -d' ' -f3 "$T/gen.$c" | median)
        ERR=$(awk '{ s += $4 } END { print s + 0 }' "$T/gen.$c")
        awk -v c="$c" -v t="$TPS" -v r="$REQ" -v f="$TTFT" -v e="$ERR" \
            'BEGIN { printf "%8d %10.1f %12.1f %9s %9.2f %5d\n", c, t, t / c, r, f, e }'
    done
    echo "(medians of $RUNS runs; tokens/s: completion tokens of all clients / wall time;"
    echo " requests: completions finished in a run; TTFT: median time to the first text chunk)"
}

if [ "$HAVE_SERVE" = 1 ]; then
    gen_table "$RP" "the tiny model: mostly HTTP and scheduling"
    # The default config (DESIGN.md 3, 34M parameters, GPT-2's vocabulary):
    # one train step makes a checkpoint of the real size (its weights are
    # near their initial values, which changes nothing about speed).
    VOCAB=build/vocab/gpt2.tiktoken
    if [ -s "$VOCAB" ]; then
        if [ ! -s "$W/default.ckpt" ]; then
            echo "making a default-config checkpoint into $W/default.ckpt"
            "$BIN/tokenize" -m "$VOCAB" --split blank-line --wrap story samples/tokenize-stories.txt > "$W/gpt2.rnl"
            "$BIN/train" -q -c samples/default.yaml --steps 1 --batch_size 1 --seq_len 64 \
                --eval_interval 0 --checkpoint_interval 0 --tokenizer "$VOCAB" \
                -o "$W/default.ckpt.tmp" "$W/gpt2.rnl"
            mv "$W/default.ckpt.tmp" "$W/default.ckpt"
        fi
        DP=$(free_port)
        env -u RUNNEL_API_KEY "$BIN/serve" -m "$W/default.ckpt" --port "$DP" --max_concurrent 16 \
            --env-file "$T/empty.env" --log_requests false 2> "$T/serve-default.log" &
        PIDS+=($!)
        wait_up "$!" "$DP" "$T/serve-default.log"
        gen_table "$DP" "the default config, 34M parameters, 16 slots"
    else
        echo "(no $VOCAB: \`make vocab-gpt2\` to measure the default-config model too)"
    fi
fi

cleanup
echo "other processes above 5% CPU after the run (servers stopped):"
AFTER=$(others)
echo "$AFTER"
[ "$AFTER" = "  none" ] || echo "WARNING: the machine was not quiet: compare nothing"
