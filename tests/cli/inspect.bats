#!/usr/bin/env bats
# inspect through its command line: listings, selection, conversion, and
# every way it must fail (exit 1 for bad data, 2 for bad usage).

setup() {
    I="$RUNNEL_BIN/inspect"
    D="$BATS_TEST_DIRNAME/data"
    T="$BATS_TEST_TMPDIR"
}

@test "lists every record of a stream with shape, bytes and checksum" {
    run "$I" "$D/tensor-f32.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" =~ ^\ +0\ +tensor\ +f32\ +\[2,\ 3\]\ +24\ +ok\ +\{\"a\":1\}$ ]]
    [[ "${lines[1]}" =~ ^\ +1\ +end\ +-\ +\[\]\ +0\ +ok\ +\{\"records\":1 ]]
}

@test "reads stdin when no file is given, and - means stdin" {
    run bash -c "'$I' < '$D/scalar-u8.rnl'"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"tensor  u8"* ]]
    run bash -c "cat '$D/scalar-u8.rnl' | '$I' -"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"[]"* ]]
}

@test "several files: a header each, record numbers run on" {
    run "$I" "$D/tensor-f32.rnl" "$D/scalar-u8.rnl"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "==> $D/tensor-f32.rnl <==" ]
    [ "${lines[3]}" = "==> $D/scalar-u8.rnl <==" ]
    [[ "${lines[4]}" =~ ^\ +2\ +tensor ]]
}

@test "JSON listing is one valid object per record" {
    run "$I" --json "$D/f16-rank3.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    echo "${lines[0]}" | /usr/bin/python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["kind"] == "tensor" and o["dtype"] == "f16" and o["shape"] == [2, 3, 4], o
assert o["bytes"] == 48 and o["crc"] == "ok" and o["index"] == 0 and o["offset"] == 0, o'
    echo "${lines[1]}" | /usr/bin/python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["kind"] == "end" and o["dtype"] is None and o["meta"]["records"] == 1, o'
}

@test "concatenated streams (cat a b) are one valid stream" {
    cat "$D/tensor-f32.rnl" "$D/empty-i64.rnl" "$D/f16-rank3.rnl" > "$T/cat.rnl"
    run "$I" --check "$T/cat.rnl"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run "$I" "$T/cat.rnl"
    [ "${#lines[@]}" -eq 6 ]
}

@test "-r selects records into a new stream with its own END record" {
    cat "$D/tensor-f32.rnl" "$D/empty-i64.rnl" "$D/f16-rank3.rnl" > "$T/cat.rnl"
    "$I" -r 2,4 "$T/cat.rnl" > "$T/sel.rnl"
    run "$I" "$T/sel.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" == *"i64"* ]]
    [[ "${lines[1]}" == *"f16"* ]]
    [[ "${lines[2]}" == *'"records":2'* ]]
    # ranges: open-ended and from the start
    run bash -c "'$I' -r 3- '$T/cat.rnl' | '$I' --json | wc -l"
    [ "$output" -eq 2 ]
    run bash -c "'$I' -r -2 '$T/cat.rnl' | '$I' --json | wc -l"
    [ "$output" -eq 3 ]
}

@test "-o writes the selection to a file; --kind filters by kind" {
    "$I" --kind tensor -o "$T/t.rnl" "$D/tensor-f32.rnl" "$D/scalar-u8.rnl"
    run "$I" --json "$T/t.rnl"
    [ "${#lines[@]}" -eq 3 ]
    "$I" --kind masks -o "$T/none.rnl" "$D/tensor-f32.rnl"
    run "$I" "$T/none.rnl"
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == *'"records":0'* ]]
}

@test "--list with a selection lists instead of writing" {
    run "$I" -l -r 1 "$D/tensor-f32.rnl" "$D/scalar-u8.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ] # record 1 is an END record: nothing listed,
    [[ "${lines[0]}" == "==> "* ]] # and reading stops there, like head(1)
    run "$I" -l -r 2 "$D/tensor-f32.rnl" "$D/scalar-u8.rnl"
    [[ "${lines[2]}" =~ ^\ +2\ +tensor\ +u8 ]]
}

@test "--to-npy and --from-npy convert both ways" {
    "$I" --from-npy "$D/f32.npy" --meta '{"src":"npy"}' -o "$T/x.rnl"
    run "$I" "$T/x.rnl"
    [[ "${lines[0]}" == *'f32   [2, 3]'*'{"src":"npy"}' ]]
    "$I" --to-npy "$T/y.npy" "$T/x.rnl"
    # the data bytes are the last 24 bytes of both .npy files
    [ "$(tail -c 24 "$D/f32.npy" | od -An -tx1)" = "$(tail -c 24 "$T/y.npy" | od -An -tx1)" ]
    head -c 6 "$T/y.npy" | grep -q NUMPY
}

@test "a stream cut anywhere exits 1 naming the record" {
    size=$(stat -c %s "$D/tensor-f32.rnl")
    for n in 0 1 64 127 128 150 192 200 250 256 300 383 384 447; do
        run bash -c "head -c $n '$D/tensor-f32.rnl' | '$I'"
        [ "$status" -eq 1 ]
        [[ "$output" == *"inspect: stdin: "* ]]
        [[ "$output" == *"record "* || "$output" == *"empty input"* ]]
    done
    head -c 256 "$D/tensor-f32.rnl" > "$T/cut.rnl"
    run "$I" "$T/cut.rnl"
    [ "$status" -eq 1 ]
    [[ "${lines[0]}" == *"tensor"* ]] # records before the cut are still listed
    [[ "$output" == *"cut.rnl: record 1: missing: input ends after record 0 without an END record"* ]]
    [ "$size" -eq 448 ]
}

@test "a corrupted payload is named by record and checksum" {
    cp "$D/tensor-f32.rnl" "$T/bad.rnl"
    printf '\x55' | dd of="$T/bad.rnl" bs=1 seek=200 conv=notrunc 2>/dev/null
    run "$I" "$T/bad.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.rnl: record 0: checksum mismatch"* ]]
    run "$I" --no-verify "$T/bad.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"skip"* ]]
}

@test "a failed input after a good one: error, exit 1, and no output file" {
    head -c 300 "$D/tensor-f32.rnl" > "$T/cut.rnl"
    run "$I" -r 0- -o "$T/out.rnl" "$D/scalar-u8.rnl" "$T/cut.rnl"
    [ "$status" -eq 1 ]
    [ ! -e "$T/out.rnl" ]
    [ -z "$(ls "$T" | grep tmp)" ]
}

@test "missing files and directories are runtime errors (exit 1)" {
    run "$I" "$T/nope.rnl"
    [ "$status" -eq 1 ]
    [ "$output" = "inspect: $T/nope.rnl: cannot open: No such file or directory" ]
    run "$I" "$T"
    [ "$status" -eq 1 ]
    [[ "$output" == *"is a directory"* ]]
    run "$I" -r 0 -o /nonexistent-dir/x.rnl "$D/tensor-f32.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"/nonexistent-dir/x.rnl: cannot create output"* ]]
    run "$I" --from-npy "$D/tensor-f32.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == "inspect: $D/tensor-f32.rnl: "* ]]
    run "$I" -r 5 --to-npy "$T/z.npy" "$D/tensor-f32.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no record selected for --to-npy"* ]]
}

@test "usage errors exit 2 with a hint" {
    run "$I" --recrods 3
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "inspect: unknown option '--recrods' (did you mean --records?)" ]]
    [[ "${lines[1]}" == "Try 'inspect --help' for more information." ]]
    run "$I" -r 5-3 "$D/tensor-f32.rnl"
    [ "$status" -eq 2 ]
    [[ "$output" == *"bad record range '5-3'"* ]]
    run "$I" --kind blob "$D/tensor-f32.rnl"
    [ "$status" -eq 2 ]
    run "$I" --from-npy "$D/f32.npy" --meta '[1]'
    [ "$status" -eq 2 ]
    [[ "$output" == *"--meta: metadata is not a JSON object"* ]]
    run "$I" --meta '{}' "$D/tensor-f32.rnl"
    [ "$status" -eq 2 ]
    run "$I" --to-npy x.npy --json "$D/tensor-f32.rnl"
    [ "$status" -eq 2 ]
    run "$I" -o
    [ "$status" -eq 2 ]
    [[ "$output" == *"option -o needs an argument FILE"* ]]
}

@test "a full disk on stdout is an error, not a short output" {
    [ -w /dev/full ]
    run bash -c "'$I' '$D/tensor-f32.rnl' > /dev/full"
    [ "$status" -eq 1 ]
    [[ "$output" == *"stdout"* ]]
    run bash -c "'$I' -r 0 '$D/tensor-f32.rnl' > /dev/full"
    [ "$status" -eq 1 ]
    [[ "$output" == *"No space left on device"* ]]
}

@test "--help and --version go to stdout and exit 0" {
    run "$I" --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Usage: inspect [OPTIONS] [FILE...]" ]]
    run "$I" -V
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^inspect\ \(runnel\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "--log-json reports errors as JSON lines; -v adds a summary; -q stays quiet" {
    run "$I" --log-json "$BATS_TEST_TMPDIR/missing.rnl"
    [ "$status" -eq 1 ]
    echo "$output" | /usr/bin/python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["level"] == "error" and o["prog"] == "inspect", o
assert o["where"].endswith("missing.rnl") and "cannot open" in o["msg"], o
assert o["status"] == "I/O error", o'
    run bash -c "'$I' -v '$D/tensor-f32.rnl' 2>&1 >/dev/null"
    [ "$output" = "inspect: $D/tensor-f32.rnl: 2 records, 448 bytes" ]
    run bash -c "'$I' -q '$D/tensor-f32.rnl' 2>&1 >/dev/null"
    [ -z "$output" ]
}

@test "-o FIFO writes into the pipe instead of replacing it (as for /dev/null)" {
    # A FIFO takes the same path as a device; testing on /dev/null itself
    # would break the machine if the behaviour ever regressed.
    mkfifo "$T/fifo"
    ( "$I" --json "$T/fifo" > "$T/listed" ) &
    "$I" -r 0 -o "$T/fifo" "$D/tensor-f32.rnl"
    wait
    [ -p "$T/fifo" ]
    grep -q '"kind":"tensor"' "$T/listed"
}

@test "a binary stream is never written to a terminal" {
    command -v script
    run script -qec "'$I' -r 0 '$D/tensor-f32.rnl'" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"refusing to write a binary stream to a terminal"* ]]
    # a listing is text, and goes to the terminal
    run script -qec "'$I' '$D/tensor-f32.rnl'" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == *"tensor"* ]]
}
