#!/usr/bin/env bats
# generate through its command line on a tiny model trained here (a few
# steps of train on the sample stories, the tokenizer embedded): prompts
# from arguments and stdin, greedy determinism, plain vs absorbed attention
# and plain vs speculative greedy giving the same text, batches keeping
# input order, seeds, --stop, --json, -v's cache figures, and every bad
# input with its message and exit status (1 bad data, 2 bad usage);
# tokens records in (from tokenize) and out (back through tokenize -d).

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."

setup_file() {
    export W="$BATS_FILE_TMPDIR"
    export OMP_WAIT_POLICY=passive
    "$RUNNEL_BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" \
        "$ROOT/samples/tokenize-stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --split blank-line --wrap story \
        "$ROOT/samples/tokenize-stories.txt" > "$W/tokens.rnl"
    "$RUNNEL_BIN/tokenize" --train --vocab-size 280 -q -o "$W/other.json" \
        "$ROOT/samples/tokenize-stories.txt"
    "$RUNNEL_BIN/train" -q -c "$ROOT/tests/cli/data/tiny-lm.yaml" --tokenizer "$W/tok.json" -o "$W/m.ckpt" \
        "$W/tokens.rnl"
}

G() { "$RUNNEL_BIN/generate" -m "$W/m.ckpt" "$@"; }

@test "one line per prompt argument, deterministic greedy" {
    run -0 G --temperature 0 -n 12 'Once upon a time' 'The cat'
    [ "${#lines[@]}" -eq 2 ]
    [ -n "${lines[0]}" ]
    first="$output"
    run -0 G --temperature 0 -n 12 'Once upon a time' 'The cat'
    [ "$output" = "$first" ]
}

@test "stdin: one prompt per line, same text as arguments" {
    run -0 G --temperature 0 -n 10 'Once upon a time' 'The cat'
    args="$output"
    run -0 bash -c "printf 'Once upon a time\nThe cat\n' | '$RUNNEL_BIN/generate' -m '$W/m.ckpt' --temperature 0 -n 10"
    [ "$output" = "$args" ]
}

@test "plain attention and speculative decoding give greedy's text" {
    run -0 G --temperature 0 -n 30 'Once upon a time' 'Tom'
    greedy="$output"
    run -0 G --temperature 0 -n 30 --plain-attention 'Once upon a time' 'Tom'
    [ "$output" = "$greedy" ]
    run -0 G --temperature 0 -n 30 --speculative 'Once upon a time' 'Tom'
    [ "$output" = "$greedy" ]
}

@test "--batch keeps input order and gives each prompt's own greedy text" {
    printf 'Once upon a time\nThe dog\nA\nShe saw\nThey\n' > "$W/prompts.txt"
    run -0 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' --temperature 0 -n 15 < '$W/prompts.txt'"
    one="$output"
    run -0 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' --temperature 0 -n 15 -b 3 < '$W/prompts.txt'"
    [ "$output" = "$one" ]
}

@test "sampling: the same seed gives the same text, another seed other text" {
    run -0 G --seed 7 --top-k 20 --top-p 0.9 --repetition-penalty 1.2 -n 30 'Once'
    a="$output"
    run -0 G --seed 7 --top-k 20 --top-p 0.9 --repetition-penalty 1.2 -n 30 'Once'
    [ "$output" = "$a" ]
    run -0 G --seed 8 --top-k 20 --top-p 0.9 --repetition-penalty 1.2 -n 30 'Once'
    [ "$output" != "$a" ]
    run -0 G --seed 7 --speculative -n 30 'Once'
    [ -n "$output" ]
}

@test "--json: fields, counts and stop reasons; --stop cuts the text" {
    run -0 G --json --temperature 0 -n 5 'Once upon a time'
    python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["prompt"] == "Once upon a time", o
assert o["completion_tokens"] == 5 and o["stop_reason"] == "length", o
assert o["prompt_tokens"] >= 2 and o["seconds"] >= 0, o
' "$output"
    full=$(G --temperature 0 -n 30 'Once upon a time')
    stop=$(printf '%s' "$full" | cut -c4-5)
    run -0 G --json --temperature 0 -n 30 --stop "$stop" 'Once upon a time'
    python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["stop_reason"] == "stop", o
assert sys.argv[2] not in o["completion"] and sys.argv[3].startswith(o["completion"]), o
' "$output" "$stop" "$full"
}

@test "-v prints the cache's bytes per token against a plain K/V cache" {
    run -0 --separate-stderr G -v --temperature 0 -n 20 --speculative 'Once'
    # 1 layer x (16 + 2*8) x 4 = 128 bytes; plain: 1 x 2 x (2*16 + 8) x 4 = 320
    [[ "$stderr" == *"128 bytes per token"* ]]
    [[ "$stderr" == *"would take 320"* ]]
    [[ "$stderr" == *"drafts accepted"* ]]
}

@test "a prompt longer than block_size keeps its end" {
    long=$(printf 'the cat sat on the mat %.0s' $(seq 40))
    run -0 --separate-stderr G --temperature 0 -n 5 "$long"
    [[ "$stderr" == *"keeping the last 47"* ]]
}

@test "-f tokens: one record per prompt, tokenize -d gives the text" {
    run -0 G --temperature 0 -n 12 'Once upon a time' 'The cat'
    lines_text=("${lines[@]}")
    G --temperature 0 -n 12 -f tokens 'Once upon a time' 'The cat' > "$W/out.rnl"
    run -0 bash -c "'$RUNNEL_BIN/inspect' '$W/out.rnl' | grep -c ' tokens .*\"doc\":[01]'"
    [ "$output" -eq 2 ]
    G --temperature 0 -n 12 -f tokens 'The cat' > "$W/one.rnl"
    run -0 "$RUNNEL_BIN/tokenize" -m "$W/tok.json" -d "$W/one.rnl"
    [ "$output" = "${lines_text[1]}" ]
    # --stop: the record holds the ids before the cut
    full=$(G --temperature 0 -n 12 'Once upon a time')
    stop=$(printf '%s' "$full" | cut -c6-7)
    G --temperature 0 -n 12 --stop "$stop" -f tokens 'Once upon a time' > "$W/cut.rnl"
    run -0 "$RUNNEL_BIN/tokenize" -m "$W/tok.json" -d "$W/cut.rnl"
    [[ "$full" == "$output"* ]]
    [ "${#output}" -lt "${#full}" ]
}

@test "--input-format tokens: records from tokenize are prompts" {
    run -0 G --temperature 0 -n 10 'Once upon a time'
    want="$output"
    printf '<|story|>Once upon a time' |
        "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --allow-special > "$W/in.rnl"
    run -0 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' --temperature 0 -n 10 --input-format tokens < '$W/in.rnl'"
    [ "$output" = "$want" ]
    # records of another tokenizer
    printf 'Once' | "$RUNNEL_BIN/tokenize" -m "$W/other.json" > "$W/other.rnl"
    run -1 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' --input-format tokens < '$W/other.rnl'"
    [[ "$output" == *"tokenizer mismatch"* ]]
    # not a stream
    run -1 bash -c "echo hello | '$RUNNEL_BIN/generate' -m '$W/m.ckpt' --input-format tokens"
}

@test "bad input: missing, corrupt and foreign checkpoints" {
    run -1 "$RUNNEL_BIN/generate" -m "$W/nope.ckpt" 'x'
    [[ "$output" == *"nope.ckpt"* ]]
    head -c 1000 "$W/m.ckpt" > "$W/cut.ckpt"
    run -1 "$RUNNEL_BIN/generate" -m "$W/cut.ckpt" 'x'
    [[ "$output" == *"cut.ckpt"* ]]
    run -1 "$RUNNEL_BIN/generate" -m "$W/tokens.rnl" 'x'
}

@test "bad input: a tokenizer that is not the model's" {
    run -1 G -t "$W/other.json" 'Once'
    [[ "$output" == *"tokenizer mismatch"* ]]
    run -0 G -t "$W/tok.json" --temperature 0 -n 3 'Once'
}

@test "bad input: empty prompts" {
    run -2 G ''
    [[ "$output" == *"empty prompt"* ]]
    run -1 bash -c "printf 'Once\n\nTwo\n' | '$RUNNEL_BIN/generate' -m '$W/m.ckpt' -n 2"
    [[ "$output" == *"stdin line 2: empty prompt"* ]]
}

@test "bad usage: absurd options" {
    run -2 "$RUNNEL_BIN/generate" 'x'
    [[ "$output" == *"-m CKPT"* ]]
    run -2 G --temperature -1 'x'
    run -2 G --temperature nan 'x'
    run -2 G --top-p 0 'x'
    run -2 G --top-p 1.5 'x'
    run -2 G --top-k -3 'x'
    run -2 G -n 0 'x'
    run -2 G -n 99999999999 'x'
    run -2 G --batch 0 'x'
    run -2 G --batch 65 'x'
    run -2 G --repetition-penalty 0 'x'
    run -2 G --stop '' 'x'
    run -2 G --speculative -b 2 'x'
    run -2 G --stream --json 'x'
    run -2 G --no-such-option 'x'
    run -2 G -f words 'x'
    run -2 G -f tokens --json 'x'
    run -2 G --input-format tokens 'x'
    run -2 G -j 0 'x'
}

@test "a failed write is an error" {
    [ -w /dev/full ] || skip "no /dev/full"
    run -1 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' -n 3 x > /dev/full"
    [[ "$output" == *"write failed"* ]]
    run -1 bash -c "'$RUNNEL_BIN/generate' -m '$W/m.ckpt' -n 3 -f tokens x > /dev/full"
}
