#!/usr/bin/env bats
# serve against the official clients: openai (OpenAI's Python SDK, with
# strict response validation) and ollama (Ollama's Python client), both
# from $RUNNEL_VENV (tests/ref/requirements.txt), pointed at a serve
# started here on a tiny model trained here, with an API key. Each case of
# tests/ref/serve_clients.py is one test: model lists, plain and streamed
# completions and chats (pieces adding up to the plain greedy text, usage
# counts as integers, finish reasons the clients know), the same text
# through both APIs, and errors surfacing as the clients' own exception
# types with the right status. serve must then exit 0 on SIGTERM.

bats_require_minimum_version 1.5.0

setup_file() {
    export RUNNEL_BUILD=${RUNNEL_BUILD:-build}
    RUNNEL_BIN=${RUNNEL_BIN:-bin}
    local W="$BATS_FILE_TMPDIR" S="$BATS_TEST_DIRNAME/../../samples/tokenize-stories.txt"
    local PY="${RUNNEL_VENV:-build/venv}/bin/python" pid port deadline
    [ -x "$RUNNEL_BIN/serve" ] || skip "no $RUNNEL_BIN/serve"
    [ -x "$PY" ] && "$PY" -c 'import openai, ollama' 2> /dev/null ||
        skip "no openai and ollama in $PY (make venv)"
    export OMP_WAIT_POLICY=passive
    {
        "$RUNNEL_BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" "$S" &&
        "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --split blank-line --wrap story "$S" > "$W/tokens.rnl" &&
        printf '%s\n' 'vocab_size: 300' 'n_layer: 1' 'n_head: 2' 'n_embd: 32' 'block_size: 128' \
            'kv_lora_rank: 16' 'q_lora_rank: 16' 'rope_dim: 8' 'n_experts: 4' \
            'n_experts_per_token: 2' 'expert_intermediate_size: 32' \
            'shared_expert_intermediate_size: 32' 'multi_token_predict: 2' 'dropout: 0' \
            'batch_size: 4' 'seq_len: 32' 'steps: 300' 'learning_rate: 0.01' 'warmup_iters: 3' \
            'lr_decay_iters: 300' 'eval_interval: 0' > "$W/model.yaml" &&
        "$RUNNEL_BIN/train" -q -c "$W/model.yaml" --tokenizer "$W/tok.json" -o "$W/m.ckpt" \
            "$W/tokens.rnl" || echo "model not built"
        mkdir -p "$W/cwd"
        (cd "$W/cwd" && exec "$RUNNEL_BIN/serve" -m "$W/m.ckpt" --port 0 --api_key ref-key \
            2> "$W/serve.log" 3>&-) &
        pid=$!
        echo "$pid" > "$W/serve.pid"
        deadline=$((SECONDS + 20))
        until port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$W/serve.log") &&
            [ -n "$port" ]; do
            [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2> /dev/null || break
            sleep 0.05
        done
        if [ -n "$port" ]; then
            "$PY" "$BATS_TEST_DIRNAME/serve_clients.py" "http://127.0.0.1:$port" m ref-key
        else
            echo "serve is not listening:"
            cat "$W/serve.log"
        fi
        kill -TERM "$pid"
        deadline=$((SECONDS + 20))
        while kill -0 "$pid" 2> /dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        kill -KILL "$pid" 2> /dev/null || true
        wait "$pid"
        echo "serve exit status $?"
    } > "$W/results" 2>&1 || true
}

teardown_file() {
    local pid
    pid=$(cat "$BATS_FILE_TMPDIR/serve.pid" 2> /dev/null) || return 0
    if grep -q serve "/proc/$pid/cmdline" 2> /dev/null; then kill -KILL "$pid" || true; fi
}

case_passed() {
    grep -E "^  $1: |^(not )?ok $1\$" "$BATS_FILE_TMPDIR/results" || true
    grep -qx "ok $1" "$BATS_FILE_TMPDIR/results"
}

@test "the clients ran every case" {
    run grep -c -E '^(not )?ok ' "$BATS_FILE_TMPDIR/results"
    [ "$output" -eq 12 ] || { cat "$BATS_FILE_TMPDIR/results"; false; }
}
@test "openai: models.list and models.retrieve" { case_passed openai_models; }
@test "openai: completions.create, every field validated, greedy" { case_passed openai_completion; }
@test "openai: completions.create stream=True adds up to the plain text" { case_passed openai_completion_stream; }
@test "openai: chat.completions.create" { case_passed openai_chat; }
@test "openai: chat stream with include_usage: role, pieces, finish, usage chunk" { case_passed openai_chat_stream; }
@test "openai: BadRequestError, NotFoundError, AuthenticationError with their statuses" { case_passed openai_errors; }
@test "ollama: list" { case_passed ollama_list; }
@test "ollama: generate, the same text as OpenAI's completion" { case_passed ollama_generate; }
@test "ollama: generate stream adds up to the plain text" { case_passed ollama_generate_stream; }
@test "ollama: chat, the same text as OpenAI's chat" { case_passed ollama_chat; }
@test "ollama: chat stream" { case_passed ollama_chat_stream; }
@test "ollama: ResponseError 404 for an unknown model, 401 without the key" { case_passed ollama_error; }
@test "serve exits 0 on SIGTERM after the clients, without sanitizer reports" {
    grep -qx 'serve exit status 0' "$BATS_FILE_TMPDIR/results" ||
        { cat "$BATS_FILE_TMPDIR/results" "$BATS_FILE_TMPDIR/serve.log"; false; }
    ! grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$BATS_FILE_TMPDIR/serve.log"
}
