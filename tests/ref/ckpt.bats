#!/usr/bin/env bats
# Checkpoints against the real thing: files runnel writes (tests/ref/
# ckpt_tool.c, through libcore/ckpt) are read bit for bit by Python's
# `safetensors` package (its Rust validator and safetensors.numpy) and by a
# plain json+struct reader written from the format's description; files
# that safetensors.numpy.save_file writes, and a hand-made one with bf16,
# are read bit for bit by runnel. Tolerance: none, every byte, dtype name,
# shape and metadata string must be equal.
#
# Needs RUNNEL_BUILD (ckpt_tool) and RUNNEL_VENV (safetensors and numpy
# from tests/ref/requirements.txt, `make venv`); the tests that need the
# venv are skipped without it, the json+struct ones always run with
# /usr/bin/python3.

bats_require_minimum_version 1.5.0

REF="$BATS_TEST_DIRNAME/ckpt_ref.py"
ROOT="$BATS_TEST_DIRNAME/../.."

setup() {
    TOOL="$RUNNEL_BUILD/tests/ckpt_tool"
    [ -x "$TOOL" ] || { echo "no ckpt_tool in RUNNEL_BUILD=$RUNNEL_BUILD"; return 1; }
    PY="$RUNNEL_VENV/bin/python"
    T="$BATS_TEST_TMPDIR"
}

need_venv() {
    [ -x "$PY" ] || skip "no $PY: run make venv"
}

@test "the venv has the pinned safetensors and numpy" {
    need_venv
    run "$PY" -c 'import safetensors, numpy; print(safetensors.__version__, numpy.__version__)'
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    want=$(sed -n 's/^safetensors==//p' "$BATS_TEST_DIRNAME/requirements.txt")
    [[ "$output" == "$want "* ]] || { echo "have $output, requirements pin $want"; return 1; }
}

@test "runnel's file: the reference validator reads every dtype, bf16 included, bit for bit" {
    need_venv
    "$TOOL" write "$T/r.safetensors"
    run "$PY" "$REF" check-reference "$T/r.safetensors"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "63 tensors identical through safetensors.deserialize" ]]
}

@test "runnel's file loads in safetensors.numpy.load_file as the exact arrays" {
    need_venv
    "$TOOL" write "$T/n.safetensors" nobf16
    run "$PY" "$REF" check-numpy "$T/n.safetensors"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "55 arrays identical through safetensors.numpy.load_file" ]]
}

@test "runnel's file follows the layout rules: a json+struct reader with no safetensors" {
    "$TOOL" write "$T/p.safetensors"
    run /usr/bin/python3 "$REF" check-plain "$T/p.safetensors"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "63 tensors identical through json+struct" ]]
}

@test "safetensors.numpy.save_file's file: runnel reads every array and metadata bit for bit" {
    need_venv
    "$PY" "$REF" save-numpy "$T/s.safetensors"
    mkdir "$T/dump"
    run --separate-stderr "$TOOL" dump "$T/s.safetensors" "$T/dump"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    printf '%s\n' "$output" > "$T/manifest.json"
    run "$PY" "$REF" compare-dump "$T/s.safetensors" "$T/dump" "$T/manifest.json"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "56 tensors and 2 metadata identical" ]]
}

@test "a hand-made file with bf16, keys in any order and spaces in the header is read exactly" {
    /usr/bin/python3 "$REF" save-plain "$T/h.safetensors"
    mkdir "$T/hd"
    run --separate-stderr "$TOOL" dump "$T/h.safetensors" "$T/hd"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    printf '%s\n' "$output" > "$T/hm.json"
    run /usr/bin/python3 "$REF" compare-dump "$T/h.safetensors.want" "$T/hd" "$T/hm.json"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "a checkpoint read from a pipe is the same as from the file" {
    "$TOOL" write "$T/pipe.safetensors"
    mkdir "$T/a" "$T/b"
    "$TOOL" dump "$T/pipe.safetensors" "$T/a" > "$T/a.json"
    cat "$T/pipe.safetensors" | "$TOOL" dump - "$T/b" > "$T/b.json"
    cmp "$T/a.json" "$T/b.json"
    diff -r "$T/a" "$T/b"
}

@test "what runnel cannot hold is refused with a message naming file and cause" {
    need_venv
    "$PY" "$REF" hostile bool "$T/bool.safetensors"
    run --separate-stderr "$TOOL" check "$T/bool.safetensors"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"bool.safetensors: tensor 'mask': unsupported dtype 'BOOL'"* ]] || { echo "$stderr"; return 1; }
    "$PY" "$REF" hostile unpadded "$T/old.safetensors"
    # the reference accepts it (it does not require alignment) ...
    run "$PY" -c 'import sys; from safetensors.numpy import load_file; load_file(sys.argv[1])' \
        "$T/old.safetensors"
    [ "$status" -eq 0 ]
    # ... runnel maps tensors in place and needs them aligned
    run --separate-stderr "$TOOL" check "$T/old.safetensors"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"tensor 'x': data at file offset 62 is not aligned to its 4-byte elements"* ]] \
        || { echo "$stderr"; return 1; }
    "$PY" "$REF" hostile truncated "$T/cut.safetensors"
    run --separate-stderr "$TOOL" check "$T/cut.safetensors"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"run past the end of the file"* ]] || { echo "$stderr"; return 1; }
}

@test "runnel-config(5): its example extracts the stored config, which reads back identically" {
    "$TOOL" write "$T/c.safetensors"
    # the example of the man page, run as written there
    snippet=$(sed -n '/^python3 \\-c/,/model.yaml$/p' "$ROOT/man/man5/runnel-config.5" |
        sed 's/\\-/-/g; s/\\(aq/'"'"'/g; s/\\e/\\/g')
    [ -n "$snippet" ]
    snippet=${snippet//model.ckpt/$T/c.safetensors}
    snippet=${snippet//model.yaml/$T/c.yaml}
    (cd "$T" && eval "$snippet")
    run --separate-stderr "$TOOL" config "$T/c.yaml"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    stored=$(/usr/bin/python3 -c 'import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"]["config"])' "$T/c.safetensors")
    [ "$output" = "$stored" ] || { echo "read back: $output"; echo "stored: $stored"; return 1; }
}

@test "runnel-checkpoint(5) examples: the Python readers it shows work on runnel's file" {
    need_venv
    "$TOOL" write "$T/m.safetensors" nobf16
    # every .nf/.fi example block of the page that starts with "python3"
    # becomes a script ex.N, un-escaped from roff
    awk -v dir="$T" '/^\.nf/{on = 1; buf = ""; next}
        /^\.fi/{if (buf ~ /^python3 /) print buf > (dir "/ex." ++n); on = 0; next}
        on{buf = buf $0 "\n"}' "$ROOT/man/man5/runnel-checkpoint.5"
    n=0
    for ex in "$T"/ex.*; do
        sed -i 's/\\-/-/g; s/\\(aq/'"'"'/g; s/\\e/\\/g; s/\\(dq/"/g' "$ex"
        sed -i "s|model\.ckpt|$T/m.safetensors|g; s|^python3 |$PY |" "$ex"
        run bash "$ex"
        [ "$status" -eq 0 ] || { echo "$ex failed:"; cat "$ex"; echo "$output"; return 1; }
        [ -n "$output" ] || { echo "$ex printed nothing"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -ge 2 ]
}
