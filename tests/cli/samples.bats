#!/usr/bin/env bats
# samples/: the story generator (gen-stories.awk) is deterministic with
# any awk, writes the number of stories asked for, one paragraph each, and
# its text round-trips through tokenize byte for byte; samples/tiny.yaml
# trains (a few steps) on what it writes; demo-train.sh runs end to end
# when bounded to a few steps.

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."
GEN="$ROOT/samples/gen-stories.awk"

setup_file() {
    export W="$BATS_FILE_TMPDIR"
    # idle OpenMP threads sleep: spinning ones crawl on a busy 2-core box
    export OMP_WAIT_POLICY=passive
    awk -v seed=3 -v stories=300 -f "$ROOT/samples/gen-stories.awk" > "$W/stories.txt"
}

setup() {
    T="$BATS_TEST_TMPDIR"
}

# paragraphs FILE: the number of blank-line separated paragraphs
paragraphs() { awk 'BEGIN { RS = "" } END { print NR }' "$1"; }

@test "the same seed gives the same bytes, another seed other stories" {
    awk -v seed=3 -v stories=300 -f "$GEN" | cmp - "$W/stories.txt"
    awk -v seed=4 -v stories=300 -f "$GEN" > "$T/other.txt"
    run cmp -s "$T/other.txt" "$W/stories.txt"
    [ "$status" -eq 1 ]
    # the first stories of a longer run are the same stories
    awk -v seed=3 -v stories=301 -f "$GEN" | head -c "$(wc -c < "$W/stories.txt")" \
        | cmp - "$W/stories.txt"
    # no two stories of a run are the same
    [ "$(grep -v '^$' "$W/stories.txt" | sort -u | wc -l)" -eq 300 ]
}

@test "mawk, gawk and POSIX-mode gawk write identical bytes" {
    command -v mawk >/dev/null && command -v gawk >/dev/null || skip "needs both mawk and gawk"
    mawk -v seed=11 -v stories=200 -f "$GEN" > "$T/mawk.txt"
    gawk -v seed=11 -v stories=200 -f "$GEN" | cmp - "$T/mawk.txt"
    gawk --posix -v seed=11 -v stories=200 -f "$GEN" | cmp - "$T/mawk.txt"
    # a seed beyond the generator's 31-bit state is still exact
    mawk -v seed=4000000000 -v stories=20 -f "$GEN" > "$T/big.txt"
    gawk -v seed=4000000000 -v stories=20 -f "$GEN" | cmp - "$T/big.txt"
}

@test "it writes the stories asked for: one line each, a blank line between" {
    [ "$(paragraphs "$W/stories.txt")" -eq 300 ]
    [ "$(wc -l < "$W/stories.txt")" -eq 599 ]
    # lines alternate: story, blank, story, ...; no line is empty text
    awk 'NR % 2 == 1 && length($0) < 100 { exit 1 } NR % 2 == 0 && $0 != "" { exit 1 }' \
        "$W/stories.txt"
    [ "$(awk -v stories=1 -f "$GEN" | wc -l)" -eq 1 ]
    [ "$(awk -v stories=0 -f "$GEN" | wc -c)" -eq 0 ]
    # the defaults: seed 1, 100 stories
    awk -f "$GEN" > "$T/default.txt"
    [ "$(paragraphs "$T/default.txt")" -eq 100 ]
    awk -v seed=1 -v stories=100 -f "$GEN" | cmp - "$T/default.txt"
    # plain printable ASCII, sentences that end
    [ "$(LC_ALL=C grep -c '[^ -~]' "$W/stories.txt")" -eq 0 ]
    [ "$(grep -v '^$' "$W/stories.txt" | grep -cv '[.!?"]$')" -eq 0 ]
}

@test "a bad seed or count is a usage error" {
    run --separate-stderr awk -v seed=-1 -f "$GEN"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "gen-stories.awk: seed and stories must be non-negative integers"* ]]
    run --separate-stderr awk -v stories=ten -f "$GEN"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
}

@test "the stories round-trip through tokenize byte for byte" {
    "$RUNNEL_BIN/tokenize" --train --vocab-size 1024 -q -o "$T/tok.json" "$W/stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$T/tok.json" --split blank-line "$W/stories.txt" > "$T/s.rnl"
    "$RUNNEL_BIN/tokenize" -m "$T/tok.json" -d "$T/s.rnl" | cmp - "$W/stories.txt"
    # one document per story, each wrapped as a story
    run "$RUNNEL_BIN/tokenize" -m "$T/tok.json" --ids --split blank-line --wrap story \
        "$W/stories.txt"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 300 ]
    "$RUNNEL_BIN/tokenize" -m "$T/tok.json" --ids --split blank-line --wrap story "$W/stories.txt" |
        "$RUNNEL_BIN/tokenize" -m "$T/tok.json" -d --ids > "$T/wrapped.txt"
    [ "$(grep -o '<|story|>' "$T/wrapped.txt" | wc -l)" -eq 300 ]
    # the small vocabulary covers the stories well: over 3 bytes a token
    # (nearly one token a word)
    bytes=$(wc -c < "$W/stories.txt")
    tokens=$("$RUNNEL_BIN/tokenize" -m "$T/tok.json" --ids "$W/stories.txt" | wc -w)
    echo "# $bytes bytes, $tokens tokens" >&3
    [ $((tokens * 3)) -lt "$bytes" ]
}

@test "the demo corpus trains a tokenizer of exactly tiny.yaml's vocab_size" {
    vocab=$(sed -n 's/^vocab_size: *\([0-9]*\).*/\1/p' "$ROOT/samples/tiny.yaml")
    [ "$vocab" -gt 256 ]
    awk -v seed=1 -v stories=3500 -f "$GEN" > "$T/demo.txt"
    size=$(wc -c < "$T/demo.txt")
    [ "$size" -gt 1000000 ] && [ "$size" -lt 2500000 ]
    run --separate-stderr "$RUNNEL_BIN/tokenize" --train --vocab-size "$vocab" \
        -o "$T/tok.json" "$T/demo.txt"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"trained $vocab tokens from $size bytes"* ]]
}

@test "samples/tiny.yaml trains on generated stories (5 steps)" {
    vocab=$(sed -n 's/^vocab_size: *\([0-9]*\).*/\1/p' "$ROOT/samples/tiny.yaml")
    "$RUNNEL_BIN/tokenize" --train --vocab-size "$vocab" -q -o "$T/tok.json" "$W/stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$T/tok.json" --split blank-line --wrap story "$W/stories.txt" \
        > "$T/s.rnl"
    run --separate-stderr "$RUNNEL_BIN/train" -c "$ROOT/samples/tiny.yaml" -j 2 --steps 5 \
        --eval_interval 5 --eval_iters 2 --log-json --tokenizer "$T/tok.json" \
        -o "$T/tiny.ckpt" "$T/s.rnl"
    [ "$status" -eq 0 ]
    [ -s "$T/tiny.ckpt" ]
    [[ "$stderr" == *'"msg":"done"'* ]]
    [[ "$stderr" == *'"msg":"eval"'* ]]
}

@test "demo-train.sh runs end to end when bounded to a few steps" {
    cd "$ROOT"
    run --separate-stderr env RUNNEL_BIN="$RUNNEL_BIN" DEMO_DIR="$T/demo" DEMO_STEPS=3 \
        DEMO_STORIES=200 sh samples/demo-train.sh
    echo "$output" "$stderr"
    [ "$status" -eq 0 ]
    [ -s "$T/demo/tiny.ckpt" ] && [ -s "$T/demo/tiny-loss.png" ]
    [ "$(paragraphs "$T/demo/stories.txt")" -eq 200 ]
    [[ "$output" == *"step 3, tokenizer runnel-bpe:"* ]]
    [[ "$output" == *"loss curves: $T/demo/tiny-loss.png"* ]]
    # with generate built, it ends with two stories; without, it says so
    if [ -x "$RUNNEL_BIN/generate" ]; then
        [ "$(grep -c "^\$ $RUNNEL_BIN/generate -m $T/demo/tiny.ckpt .*'Once upon a time'$" <<< "$output")" -eq 2 ]
    else
        [[ "$output" == *"bin/generate is not built yet"* ]]
    fi
}
