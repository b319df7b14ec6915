#!/usr/bin/env bats
# tokenize against tiktoken (PyPI, in $RUNNEL_VENV) with GPT-2's ranks file
# ($RUNNEL_VOCAB_DIR/gpt2.tiktoken, from `make vocab-gpt2`): identical ids on
# a table of hard strings, on 3 MB of real text from this machine and on a
# 10 MB line with no spaces; the same through GPT-2's encoder.json +
# vocab.bpe; and encode-then-decode identity. Tolerance: none, every id
# must be equal. Invalid UTF-8 has no tiktoken answer (tiktoken takes str);
# tokenize_ref.py documents the reference rule used for it.

bats_require_minimum_version 1.5.0

REF="$BATS_TEST_DIRNAME/tokenize_ref.py"

setup_file() {
    export RANKS="$RUNNEL_VOCAB_DIR/gpt2.tiktoken"
    export PY="$RUNNEL_VENV/bin/python"
    export W="$BATS_FILE_TMPDIR"
    [ -f "$RANKS" ] && [ -x "$PY" ] || return 0
    /usr/bin/python3 "$BATS_TEST_DIRNAME/tokenize_hard.py" "$W/hard"
    "$BATS_TEST_DIRNAME/tokenize_corpus.sh" "$W/corpus.txt" 3000000
    "$PY" "$REF" gpt2-dir "$RANKS" "$W/gpt2"
}

setup() {
    TOK="$RUNNEL_BIN/tokenize"
    T="$BATS_TEST_TMPDIR"
    [ -f "$RANKS" ] || skip "no $RANKS: run make vocab-gpt2"
    [ -x "$PY" ] || skip "no $PY: run make venv"
}

# same_ids FILE [OPTIONS...]: runnel and tiktoken agree on FILE
same_ids() {
    local f=$1
    shift
    "$TOK" -m "$RANKS" --ids "$@" "$f" > "$T/ours"
    "$PY" "$REF" ids "$RANKS" "$@" "$f" > "$T/theirs"
    if ! cmp -s "$T/ours" "$T/theirs"; then
        echo "ids differ on $f:"
        diff <(tr ' ' '\n' < "$T/ours") <(tr ' ' '\n' < "$T/theirs") | head -20
        return 1
    fi
}

@test "the reference's rule for invalid UTF-8 agrees with tiktoken on valid text" {
    "$PY" -c '
import sys; sys.path.insert(0, sys.argv[1])
import tokenize_ref as r
enc, _ = r.gpt2(sys.argv[2])
data = open(sys.argv[3], "rb").read()
data = data[:data.rfind(b"\n", 0, 500000) + 1]
assert r.split_encode(enc, data) == enc.encode_ordinary(data.decode()), "split path differs"
' "$BATS_TEST_DIRNAME" "$RANKS" "$W/corpus.txt"
}

@test "hard strings: same ids as tiktoken" {
    for f in "$W"/hard/*.txt; do
        same_ids "$f"
    done
}

@test "hard strings with --allow-special: same ids as tiktoken" {
    printf 'a<|endoftext|>b <|story|>Once</|story|>\n<|endoftext|' > "$T/special.txt"
    same_ids "$T/special.txt" --allow-special
    same_ids "$W/hard/punct.txt" --allow-special
    same_ids "$W/hard/invalid_mixed.txt" --allow-special
}

@test "3 MB of real text: same ids as tiktoken, document by document and whole" {
    same_ids "$W/corpus.txt"
    same_ids "$W/corpus.txt" --split line
    n=$(wc -w < "$T/ours")
    echo "# $(wc -c < "$W/corpus.txt") bytes, $n tokens" >&3
}

@test "a 10 MB line with no spaces: same ids as tiktoken, and back" {
    "$PY" -c '
import base64, random, sys
random.seed(8)
sys.stdout.write(base64.b64encode(random.randbytes(7500000)).decode())' > "$T/line.txt"
    [ "$(wc -c < "$T/line.txt")" -eq 10000000 ]
    same_ids "$T/line.txt"
    "$TOK" -m "$RANKS" "$T/line.txt" | "$TOK" -m "$RANKS" -d | cmp - "$T/line.txt"
}

@test "encoder.json + vocab.bpe: same ids and fingerprint as the ranks file" {
    for f in "$W"/hard/*.txt "$W/corpus.txt"; do
        "$TOK" -m "$RANKS" --ids "$f" > "$T/a"
        "$TOK" -m "$W/gpt2" --ids "$f" > "$T/b"
        cmp "$T/a" "$T/b"
    done
    "$TOK" -m "$RANKS" "$W/hard/ascii.txt" > "$T/a.rnl"
    "$TOK" -m "$W/gpt2" -d "$T/a.rnl" | cmp - "$W/hard/ascii.txt"
}

@test "GPT-2 ids: Hello world, and the special tokens at 50256..50258" {
    run bash -c "printf 'Hello world' | '$TOK' -m '$RANKS' --ids"
    [ "$output" = "15496 995" ]
    run bash -c "printf 'Hi' | '$TOK' -m '$RANKS' --ids --wrap story"
    [ "$output" = "50257 17250 50258" ]
    run bash -c "printf '<|endoftext|>' | '$TOK' -m '$RANKS' --ids --allow-special"
    [ "$output" = "50256" ]
}

@test "round trip in GPT-2 mode: hard strings and real text, records and --ids" {
    for f in "$W"/hard/*.txt "$W/corpus.txt"; do
        "$TOK" -m "$RANKS" "$f" | "$TOK" -m "$RANKS" -d | cmp - "$f"
        "$TOK" -m "$RANKS" --ids "$f" | "$TOK" -m "$RANKS" -d --ids | cmp - "$f"
        "$TOK" -m "$RANKS" --allow-special "$f" | "$TOK" -m "$W/gpt2" -d | cmp - "$f"
    done
}

@test "a vocabulary trained on the corpus round-trips the same inputs" {
    "$TOK" --train --vocab-size 5000 -q -o "$T/tok.json" "$W/corpus.txt"
    for f in "$W"/hard/*.txt "$W/corpus.txt"; do
        "$TOK" -m "$T/tok.json" "$f" | "$TOK" -m "$T/tok.json" -d | cmp - "$f"
    done
    ours=$("$TOK" -m "$T/tok.json" --ids "$W/corpus.txt" | wc -w)
    gpt2=$("$TOK" -m "$RANKS" --ids "$W/corpus.txt" | wc -w)
    echo "# corpus: $ours tokens with a 5000-token trained vocabulary, $gpt2 with GPT-2's" >&3
}

@test "broken GPT-2 files: one line, exit 1" {
    mkdir "$T/g"
    cp "$W/gpt2/encoder.json" "$T/g/"
    sed '3d' "$W/gpt2/vocab.bpe" > "$T/g/vocab.bpe"
    run --separate-stderr "$TOK" -m "$T/g" "$W/hard/ascii.txt"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"vocab.bpe: line 3: merge"* ]]
    head -n 1000 "$RANKS" > "$T/short.tiktoken"
    sed -i '500d' "$T/short.tiktoken"
    run --separate-stderr "$TOK" -m "$T/short.tiktoken" "$W/hard/ascii.txt"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"short.tiktoken: "*"rank"* ]]
}
