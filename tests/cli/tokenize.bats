#!/usr/bin/env bats
# tokenize through its command line, with vocabularies it trains itself (no
# download needed): training, encoding, decoding, documents and special
# tokens, threads, and every way it must fail (exit 1 for bad data, 2 for
# bad usage). GPT-2 parity against tiktoken is tests/ref/tokenize.bats.

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."

setup_file() {
    export TOK="$RUNNEL_BIN/tokenize"
    export W="$BATS_FILE_TMPDIR"
    # Training text: the sample stories and this machine's licenses; the
    # last story is held out to measure compression.
    head -n 16 "$ROOT/samples/tokenize-stories.txt" > "$W/corpus.txt"
    cat /usr/share/common-licenses/* >> "$W/corpus.txt" 2>/dev/null || true
    tail -n 3 "$ROOT/samples/tokenize-stories.txt" > "$W/heldout.txt"
    "$TOK" --train --vocab-size 2000 -q -o "$W/tok.json" "$W/corpus.txt"
    /usr/bin/python3 "$ROOT/tests/ref/tokenize_hard.py" "$W/hard"
}

setup() {
    TOK="$RUNNEL_BIN/tokenize"
    T="$BATS_TEST_TMPDIR"
}

@test "--help lists the options, --version names the program" {
    run "$TOK" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--vocab-size"* ]]
    [[ "$output" == *"--allow-special"* ]]
    run "$TOK" --version
    [ "$status" -eq 0 ]
    [[ "$output" == tokenize* ]]
}

@test "training writes a tokenizer file of the asked size" {
    run /usr/bin/python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert t["format"] == "runnel-tokenizer" and t["version"] == 1, t
assert t["vocab_size"] == 2000 and t["n_base"] == 1997, t["vocab_size"]
assert len(t["tokens"]) == 1997
assert [s["text"] for s in t["special_tokens"]] == ["<|endoftext|>", "<|story|>", "</|story|>"]
assert [s["id"] for s in t["special_tokens"]] == [1997, 1998, 1999]
print(t["training"]["corpus_bytes"])' "$W/tok.json"
    [ "$status" -eq 0 ]
    [ "$output" -eq "$(wc -c < "$W/corpus.txt")" ]
}

@test "training is deterministic: same corpus and settings, same file, any threads" {
    "$TOK" --train --vocab-size 2000 -q -j 1 "$W/corpus.txt" > "$T/a.json"
    "$TOK" --train --vocab-size 2000 -q -j 3 -o "$T/b.json" "$W/corpus.txt"
    cmp "$T/a.json" "$W/tok.json"
    cmp "$T/b.json" "$W/tok.json"
}

@test "training reports its work on stderr, and nothing on stdout with -o" {
    run --separate-stderr "$TOK" --train --vocab-size 300 -o "$T/t.json" "$W/corpus.txt"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [[ "$stderr" == *"trained 300 tokens"* ]]
    [[ "$stderr" == *"max RSS"* ]]
}

@test "encoding writes one tokens record per file, naming the vocabulary" {
    "$TOK" -m "$W/tok.json" "$W/corpus.txt" "$W/heldout.txt" > "$T/out.rnl"
    [ -x "$RUNNEL_BIN/inspect" ] || skip "inspect not built"
    run "$RUNNEL_BIN/inspect" --json "$T/out.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    fp=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fingerprint"])' "$W/tok.json")
    echo "${lines[1]}" | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert r["kind"] == "tokens" and r["dtype"] == "i32" and len(r["shape"]) == 1, r
m = r["meta"]
assert m["tokenizer"] == "tok" or m["tokenizer"] == "runnel-bpe", m
assert m["vocab_size"] == 2000 and m["fingerprint"] == sys.argv[1], m
assert m["source"].endswith("heldout.txt") and m["doc"] == 1, m' "$fp"
}

@test "round trip: encode then decode gives the input back byte for byte" {
    for f in "$W/corpus.txt" "$W"/hard/*.txt; do
        "$TOK" -m "$W/tok.json" "$f" | "$TOK" -m "$W/tok.json" -d > "$T/back"
        cmp "$f" "$T/back"
        "$TOK" -m "$W/tok.json" --ids "$f" | "$TOK" -m "$W/tok.json" -d --ids > "$T/back"
        cmp "$f" "$T/back"
    done
}

@test "round trip of a 10 MB line with no spaces" {
    head -c 7500000 /dev/urandom | base64 -w 0 > "$T/long.txt"
    printf 'abcabcabdabd%.0s' $(seq 1 20000) >> "$T/long.txt"
    "$TOK" -m "$W/tok.json" "$T/long.txt" | "$TOK" -m "$W/tok.json" -d | cmp - "$T/long.txt"
}

@test "a trained vocabulary compresses held-out text" {
    bytes=$(wc -c < "$W/heldout.txt")
    tokens=$("$TOK" -m "$W/tok.json" --ids "$W/heldout.txt" | wc -w)
    echo "# held-out: $bytes bytes, $tokens tokens, $(awk -v b="$bytes" -v t="$tokens" 'BEGIN { printf "%.2f", b / t }') bytes/token" >&3
    [ "$tokens" -gt 0 ]
    [ $((tokens * 2)) -lt "$bytes" ]
}

@test "--wrap story puts each document between <|story|> and </|story|>" {
    run "$TOK" -m "$W/tok.json" --ids --split blank-line --wrap story "$ROOT/samples/tokenize-stories.txt"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 10 ]
    for l in "${lines[@]}"; do
        [[ "$l" == "1998 "*" 1999" ]]
    done
    "$TOK" -m "$W/tok.json" --ids --wrap story "$W/heldout.txt" | "$TOK" -m "$W/tok.json" -d --ids > "$T/back"
    [ "$(head -c 9 "$T/back")" = "<|story|>" ]
    [ "$(tail -c 10 "$T/back")" = "</|story|>" ]
    run "$TOK" -m "$W/tok.json" --ids --wrap eot "$W/heldout.txt"
    [[ "$output" == *" 1997" ]]
}

@test "--split line and blank-line: one record per document, nothing lost" {
    n=$("$TOK" -m "$W/tok.json" --ids --split line "$W/corpus.txt" | wc -l)
    [ "$n" -eq "$(wc -l < "$W/corpus.txt")" ]
    "$TOK" -m "$W/tok.json" --split blank-line "$ROOT/samples/tokenize-stories.txt" \
        | "$TOK" -m "$W/tok.json" -d | cmp - "$ROOT/samples/tokenize-stories.txt"
    printf '\n\nfirst\n\n\nsecond\nstill second\n\n' > "$T/docs.txt"
    run "$TOK" -m "$W/tok.json" --ids --split blank-line "$T/docs.txt"
    [ "${#lines[@]}" -eq 2 ]
}

@test "special tokens are text unless --allow-special" {
    printf 'a<|endoftext|>b' > "$T/s.txt"
    run "$TOK" -m "$W/tok.json" --ids "$T/s.txt"
    [[ " $output " != *" 1997 "* ]]
    run "$TOK" -m "$W/tok.json" --ids --allow-special "$T/s.txt"
    [[ " $output " == *" 1997 "* ]]
    "$TOK" -m "$W/tok.json" --allow-special "$T/s.txt" | "$TOK" -m "$W/tok.json" -d | cmp - "$T/s.txt"
}

@test "--special adds tokens after the built-in ones" {
    printf 'x<|user|>y' > "$T/s.txt"
    run "$TOK" -m "$W/tok.json" --special '<|user|>' --ids --allow-special "$T/s.txt"
    [ "$status" -eq 0 ]
    [[ " $output " == *" 2000 "* ]]
    "$TOK" --train --vocab-size 300 -q --special '<|user|>' -o "$T/u.json" "$W/corpus.txt"
    grep -q '"id": 299, "text": "<|user|>"' "$T/u.json"
}

@test "many documents on many threads keep their order" {
    "$TOK" -m "$W/tok.json" --ids --split line -j 1 "$W/corpus.txt" > "$T/one"
    "$TOK" -m "$W/tok.json" --ids --split line -j 4 "$W/corpus.txt" > "$T/four"
    cmp "$T/one" "$T/four"
    for i in 1 2 3 4 5 6 7 8; do cat "$W/corpus.txt"; done > "$T/big.txt"
    "$TOK" -m "$W/tok.json" -j 1 "$T/big.txt" > "$T/one.rnl"
    "$TOK" -m "$W/tok.json" -j 4 "$T/big.txt" > "$T/four.rnl"
    cmp "$T/one.rnl" "$T/four.rnl"
}

@test "-o replaces the output whole and leaves no temporary file" {
    "$TOK" -m "$W/tok.json" -o "$T/out.rnl" "$W/heldout.txt"
    "$TOK" -m "$W/tok.json" -d -o "$T/back.txt" "$T/out.rnl"
    cmp "$T/back.txt" "$W/heldout.txt"
    [ "$(ls "$T" | wc -l)" -eq 2 ]
}

@test "the man page's examples run" {
    cd "$T"
    cp "$W/corpus.txt" corpus.txt
    cp "$ROOT/samples/tokenize-stories.txt" stories.txt
    grep '^\\fB\$ ' "$ROOT/man/man1/tokenize.1" | grep -v gpt2 | sed -e 's/^\\fB\$ //' -e 's/\\fR$//' \
        -e 's/\\-/-/g' -e 's/\\(em/--/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 4 ]
    PATH="$RUNNEL_BIN:$PATH" bash -e examples.sh
}

# ---- failures ---------------------------------------------------------

@test "a missing tokenizer file: one line naming it, exit 1" {
    run --separate-stderr "$TOK" -m "$T/nope.json" "$W/heldout.txt"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "tokenize: $T/nope.json: "* ]]
}

@test "malformed tokenizer files: one line, exit 1" {
    printf '{"format": "runnel-tokenizer", "version": 1' > "$T/bad.json"
    printf 'not base64 at all\n' > "$T/bad.tiktoken"
    head -c 5000 "$W/tok.json" > "$T/cut.json"
    sed 's/"fingerprint": "[0-9a-f]*"/"fingerprint": "0000000000000000"/' "$W/tok.json" > "$T/fp.json"
    mkdir "$T/gpt2dir"
    for m in "$T/bad.json" "$T/bad.tiktoken" "$T/cut.json" "$T/fp.json" "$T/gpt2dir"; do
        run --separate-stderr "$TOK" -m "$m" "$W/heldout.txt"
        [ "$status" -eq 1 ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == "tokenize: $m"* ]]
    done
}

@test "vocabulary size below 256 + specials or too large: one line, exit 1" {
    for n in 100 258 1048577 99999999999; do
        run --separate-stderr "$TOK" --train --vocab-size "$n" "$W/corpus.txt"
        [ "$status" -eq 1 ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == *"--vocab-size: $n is out of range"* ]]
    done
    run "$TOK" --train --vocab-size 259 -q "$W/corpus.txt"
    [ "$status" -eq 0 ]
}

@test "an empty corpus: one line, exit 1" {
    : > "$T/empty.txt"
    run --separate-stderr "$TOK" --train --vocab-size 300 "$T/empty.txt"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tokenize: $T/empty.txt: empty corpus: nothing to learn from" ]
}

@test "decoding ids out of range: one line naming the place, exit 1" {
    run --separate-stderr bash -c "echo '5 2000 7' | '$TOK' -m '$W/tok.json' -d --ids"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tokenize: stdin: line 1: token 1: id 2000 out of range (vocabulary 0..1999)" ]
    run --separate-stderr bash -c "echo '5 x' | '$TOK' -m '$W/tok.json' -d --ids"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"not a token id"* ]]
}

@test "decoding records of any integer dtype; an id out of range: exit 1" {
    /usr/bin/python3 - "$ROOT/tests/ref" "$T" <<'EOF'
import struct, sys
sys.path.insert(0, sys.argv[1])
import rnl
with open(sys.argv[2] + "/u16.rnl", "wb") as f:
    w = rnl.Writer(f)
    w.write("tokens", "u16", [3], struct.pack("<3H", 72, 105, 33))
    w.write("tokens", "i64", [1], struct.pack("<q", 10))
    w.close()
with open(sys.argv[2] + "/big.rnl", "wb") as f:
    w = rnl.Writer(f)
    w.write("tokens", "i32", [2], struct.pack("<2i", 72, 5000))
    w.close()
EOF
    # in a trained vocabulary the byte tokens have the byte's value as id
    run "$TOK" -m "$W/tok.json" -d "$T/u16.rnl"
    [ "$status" -eq 0 ]
    [ "$output" = "Hi!" ]
    run --separate-stderr "$TOK" -m "$W/tok.json" -d "$T/big.rnl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "tokenize: $T/big.rnl: record 0: token 1: id 5000 out of range (vocabulary 0..1999)" ]
}

@test "decoding records made with another vocabulary: exit 1" {
    "$TOK" --train --vocab-size 400 -q -o "$T/other.json" "$W/corpus.txt"
    "$TOK" -m "$T/other.json" "$W/heldout.txt" > "$T/other.rnl"
    run --separate-stderr "$TOK" -m "$W/tok.json" -d "$T/other.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"record 0: made with tokenizer"* ]]
    printf 'not a stream' > "$T/junk.rnl"
    run "$TOK" -m "$W/tok.json" -d "$T/junk.rnl"
    [ "$status" -eq 1 ]
}

@test "usage errors exit 2" {
    run "$TOK" "$W/heldout.txt"
    [ "$status" -eq 2 ]
    run "$TOK" --train "$W/corpus.txt"
    [ "$status" -eq 2 ]
    run "$TOK" --train --vocab-size 300 -d "$W/corpus.txt"
    [ "$status" -eq 2 ]
    run "$TOK" -m "$W/tok.json" --split words "$W/corpus.txt"
    [ "$status" -eq 2 ]
    run "$TOK" -m "$W/tok.json" --threads 0 "$W/corpus.txt"
    [ "$status" -eq 2 ]
    run "$TOK" --train --vocab-size lots "$W/corpus.txt"
    [ "$status" -eq 2 ]
}
