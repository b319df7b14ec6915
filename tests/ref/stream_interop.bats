#!/usr/bin/env bats
# Interop of runnel-stream(5) between libcore (through inspect) and rnl.py,
# an independent Python reader/writer written from the man page alone.
# Needs RUNNEL_BIN (directory of the binaries) and /usr/bin/python3 with numpy.

bats_require_minimum_version 1.5.0

PY=/usr/bin/python3
HERE="$BATS_TEST_DIRNAME"
RNL="$HERE/rnl.py"
CASES="$HERE/stream_cases.py"
VMEM_KB=300000   # ulimit -v for hostile input: no giant allocation fits

setup_file() {
    : "${RUNNEL_BIN:?RUNNEL_BIN must name the directory of the binaries}"
    local d="$BATS_FILE_TMPDIR"
    mkdir -p "$d/valid" "$d/sorted" "$d/hostile" "$d/npy"
    "$PY" "$CASES" valid "$d/valid" >/dev/null
    "$PY" "$CASES" valid "$d/sorted" sorted >/dev/null
    "$PY" "$CASES" hostile "$d/hostile" > "$d/hostile/table"
    "$PY" "$CASES" small "$d/small.rnl"
    "$PY" "$CASES" shrink "$d/shrink.rnl"
    "$PY" "$CASES" npy "$d/npy" > "$d/npy/names"
}

setup() {
    D="$BATS_FILE_TMPDIR"
    INSPECT="$RUNNEL_BIN/inspect"
    [ -x "$INSPECT" ] || { echo "no inspect in RUNNEL_BIN=$RUNNEL_BIN"; return 1; }
}

# ---- rnl.py itself ------------------------------------------------------------

@test "rnl: CRC-32C check value and self round trip of every kind" {
    run "$PY" -c "import sys; sys.path.insert(0, '$HERE'); import rnl
assert rnl.crc32c(b'123456789') == 0xE3069283
assert rnl.crc32c(b'') == 0"
    [ "$status" -eq 0 ]
    run "$PY" "$RNL" list "$D/valid/valid.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 154 ]   # 153 records + END
    [[ "${lines[153]}" == *'"kind":"end"'*'"records":153'* ]]
}

# ---- (a) rnl.py writes, inspect reads ---------------------------------------------

@test "inspect lists every kind, dtype, rank 0..8 and metadata size as rnl.py wrote it" {
    run --separate-stderr "$INSPECT" --json "$D/valid/valid.rnl"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    printf '%s\n' "$output" > "$D/valid/listing"
    run "$PY" "$CASES" agree "$D/valid/listing" "$D/valid/valid.json"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "inspect --check accepts rnl.py's stream, from a file and from a pipe" {
    run "$INSPECT" -c "$D/valid/valid.rnl"
    [ "$status" -eq 0 ]
    run bash -c 'cat "$1" | "$2" -c' _ "$D/valid/valid.rnl" "$INSPECT"
    [ "$status" -eq 0 ]
}

@test "inspect -r 0- re-emits every record bit-identically (records in written order)" {
    # Regression test for finding 1 of NOTES-stream.md (a payload shorter
    # than the previous one failed its CRC; fixed in 51f2f49): this corpus,
    # in written order, has many such records.
    run bash -c '"$1" -r 0- "$2" > "$3"' _ "$INSPECT" "$D/valid/valid.rnl" "$D/valid/all.rnl"
    echo "$output"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" same "$D/valid/valid.rnl" "$D/valid/all.rnl"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "inspect -r 0- re-emits every record bit-identically (records sorted by size)" {
    local s="$D/sorted"
    run bash -c 'cat "$1" | "$2" -r 0- > "$3"' _ "$s/valid.rnl" "$INSPECT" "$s/all.rnl"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" same "$s/valid.rnl" "$s/all.rnl"
    echo "$output"
    [ "$status" -eq 0 ]
    # the END record inspect wrote counts the same
    run "$PY" "$RNL" list "$s/all.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[153]}" == *'"meta":{"records":153,"counts":{"tensor":148,"tokens":2,"frame":1,"masks":1,"text":1}}'* ]]
}

@test "inspect -r with a list selects exactly those records" {
    local s="$D/sorted"
    run bash -c '"$1" -r 3,10-12,150- "$2" > "$3"' _ "$INSPECT" "$s/valid.rnl" "$s/r.rnl"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" same "$s/valid.rnl" "$s/r.rnl" 3 10 11 12 150 151 152
    echo "$output"
    [ "$status" -eq 0 ]
    run bash -c '"$1" -r -2 "$2" > "$3"' _ "$INSPECT" "$s/valid.rnl" "$s/r2.rnl"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" same "$s/valid.rnl" "$s/r2.rnl" 0 1 2
    [ "$status" -eq 0 ]
}

@test "inspect -k selects by kind: masks; tokens,text; frame,masks,tokens" {
    local s="$D/sorted" k
    for k in masks tokens,text frame,masks,tokens; do
        run bash -c '"$1" -k "$2" "$3" > "$4"' _ "$INSPECT" "$k" "$s/valid.rnl" "$s/k.rnl"
        [ "$status" -eq 0 ]
        run "$PY" "$CASES" same "$s/valid.rnl" "$s/k.rnl" "kind=$k"
        echo "$k: $output"
        [ "$status" -eq 0 ]
    done
}

@test "inspect reads a record whose payload is shorter than the previous one (-r, --to-npy)" {
    # Finding 1 of NOTES-stream.md: u8 [72] then i8 [] gave "record 1: checksum
    # mismatch" before 51f2f49
    run --separate-stderr "$INSPECT" -r 0- "$D/shrink.rnl"
    echo "$stderr"
    [ "$status" -eq 0 ]
    run --separate-stderr "$INSPECT" -r 1 --to-npy "$D/shrink.npy" "$D/shrink.rnl"
    echo "$stderr"
    [ "$status" -eq 0 ]
}

# ---- (b) inspect writes, rnl.py reads ---------------------------------------------

@test "inspect --from-npy of every NumPy dtype, 0-d, empty and big-endian arrays reads back in rnl.py" {
    local n
    read -r -a names < "$D/npy/names"
    [ "${#names[@]}" -ge 14 ]
    for n in "${names[@]}"; do
        [ "$n" != fortran ] || continue
        run --separate-stderr "$INSPECT" --from-npy "$D/npy/$n.npy" -o "$D/npy/$n.rnl"
        echo "$n: $stderr"
        [ "$status" -eq 0 ]
        run "$PY" "$CASES" npycheck "$D/npy/$n.npy" "$D/npy/$n.rnl"
        echo "$n: $output"
        [ "$status" -eq 0 ]
    done
}

@test "inspect --from-npy refuses a Fortran-order array with a clear message" {
    run --separate-stderr "$INSPECT" --from-npy "$D/npy/fortran.npy" -o "$D/npy/fortran.rnl"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"fortran_order True is not supported"* ]]
    [ ! -e "$D/npy/fortran.rnl" ]
}

@test "inspect --from-npy --meta: rnl.py reads the metadata, non-ASCII included" {
    run bash -c '"$1" --from-npy "$2" --meta "{\"src\":\"données ✓\",\"n\":[1,2]}" > "$3"' \
        _ "$INSPECT" "$D/npy/f32.npy" "$D/npy/meta.rnl"
    [ "$status" -eq 0 ]
    run "$PY" "$RNL" list "$D/npy/meta.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *'"meta":{"src":"données ✓","n":[1,2]}'* ]]
}

# ---- (c) concatenation ------------------------------------------------------------

@test "cat of two streams (rnl.py's and inspect's) reads in both, numbering running on" {
    local c="$D/cat.rnl"
    cat "$D/small.rnl" "$D/npy/f32.rnl" "$D/small.rnl" > "$c"
    run "$PY" "$RNL" list "$c"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 8 ]     # 3 + 2 + 3
    [[ "${lines[4]}" == '{"index":4,'*'"kind":"end"'*'"records":1,'* ]]
    [[ "${lines[7]}" == '{"index":7,'*'"kind":"end"'*'"records":2,'* ]]
    run bash -c 'cat "$1" | "$2" --json' _ "$c" "$INSPECT"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 8 ]
    [[ "${lines[5]}" == *'"index":5,"offset":1472,"kind":"tensor","dtype":"u8","shape":[10]'* ]]
    # selecting across the joins: one stream, one END, records bit-identical
    run bash -c 'cat "$1" | "$2" -r 0- > "$3"' _ "$c" "$INSPECT" "$D/cat_sel.rnl"
    [ "$status" -eq 0 ]
    run "$PY" "$RNL" list "$D/cat_sel.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 6 ]
    [[ "${lines[2]}" == *'"kind":"tensor","dtype":"f32","shape":[2,3,4,5]'* ]]
    [[ "${lines[5]}" == *'"records":5,"counts":{"tensor":3,"text":2}'* ]]
    run "$PY" "$CASES" same "$c" "$D/cat_sel.rnl"
    echo "$output"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" same "$D/small.rnl" "$D/cat_sel.rnl"
    [ "$status" -ne 0 ]   # 2 records against 5: the comparison can fail
}

@test "cat of the 153-record corpus with itself: both readers agree on every record" {
    cat "$D/sorted/valid.rnl" "$D/sorted/valid.rnl" > "$D/twice.rnl"
    run bash -c '"$1" --json "$2" | wc -l' _ "$INSPECT" "$D/twice.rnl"
    [ "$output" -eq 308 ]
    run bash -c '"$1" list "$2" | wc -l' _ "$RNL" "$D/twice.rnl"
    [ "$output" -eq 308 ]
}

# ---- (d) the man page's EXAMPLES --------------------------------------------------

@test "runnel-stream(5) example: one 2x3 f32 tensor with {\"a\":1} is 448 bytes as laid out" {
    "$PY" -c 'import numpy as np; np.save("'"$D"'/ex.npy", np.arange(6, dtype=np.float32).reshape(2, 3))'
    run bash -c '"$1" --from-npy "$2" --meta "{\"a\":1}" > "$3"' _ "$INSPECT" "$D/ex.npy" "$D/ex_c.rnl"
    [ "$status" -eq 0 ]
    "$PY" -c "import sys; sys.path.insert(0, '$HERE'); import rnl
with open('$D/ex_py.rnl', 'wb') as f:
    w = rnl.Writer(f)
    w.write('tensor', 'f32', [2, 3], rnl.pack_values('f32', [0, 1, 2, 3, 4, 5]), {'a': 1})
    w.close()"
    run "$PY" "$CASES" example "$D/ex_c.rnl"
    echo "inspect: $output"
    [ "$status" -eq 0 ]
    run "$PY" "$CASES" example "$D/ex_py.rnl"
    echo "rnl.py: $output"
    [ "$status" -eq 0 ]
    cmp "$D/ex_c.rnl" "$D/ex_py.rnl"
    run "$INSPECT" "$D/ex_py.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *tensor*f32*'[2, 3]'*24*ok*'{"a":1}'* ]]
    [[ "${lines[1]}" == *end*'{"records":1,"counts":{"tensor":1}}'* ]]
}

# ---- (e) hostile input -------------------------------------------------------------

# hostile NAME N REGEX: inspect on the case, from a file and from a pipe, under
# ulimit -v, exits 1 with one stderr line "...record N: ..." matching REGEX.
hostile() {
    local name="$1" n="$2" re="$3" f="$D/hostile/$1.rnl" how
    [ -f "$f" ]
    for how in file pipe; do
        if [ "$how" = file ]; then
            run --separate-stderr bash -c 'ulimit -v "$1" && exec "$2" "$3"' _ "$VMEM_KB" "$INSPECT" "$f"
        else
            run --separate-stderr bash -c 'ulimit -v "$1" && exec "$2" < "$3"' _ "$VMEM_KB" "$INSPECT" "$f"
        fi
        echo "$name ($how): status $status: $stderr"
        [ "$status" -eq 1 ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == "inspect: "*"record $n: "* ]]
        grep -Eq -- "$re" <<< "$stderr"
    done
}

@test "ulimit -v $VMEM_KB really forbids a 1 GiB allocation (so the hostile tests mean something)" {
    run bash -c 'ulimit -v "$1" && exec "$2" -c "bytearray(1 << 30)"' _ "$VMEM_KB" "$PY"
    [ "$status" -ne 0 ]
    [[ "$output" == *MemoryError* ]]
}

@test "hostile: truncated header"        { hostile truncated_header 2 'truncated header'; }
@test "hostile: truncated metadata"      { hostile truncated_meta 2 'truncated metadata'; }
@test "hostile: truncated payload"       { hostile truncated_payload 2 'truncated payload'; }
@test "hostile: cut in metadata padding" { hostile cut_in_meta_padding 2 'truncated metadata padding'; }
@test "hostile: cut in payload padding"  { hostile cut_in_payload_padding 2 'truncated payload padding'; }
@test "hostile: bad magic"               { hostile bad_magic 2 'bad magic'; }
@test "hostile: bad version"             { hostile bad_version 2 'version 2'; }
@test "hostile: bad header size"         { hostile bad_header_size 2 'header size 64'; }
@test "hostile: header CRC wrong"        { hostile header_crc_wrong 2 'header checksum mismatch'; }
@test "hostile: data CRC wrong (a payload byte flipped)" { hostile data_crc_wrong 1 'checksum mismatch.*data corrupted'; }
@test "hostile: rank 9"                  { hostile rank_9 2 'rank 9 exceeds 8'; }
@test "hostile: unknown kind 7"          { hostile unknown_kind 2 'unknown record kind 7'; }
@test "hostile: kind 0"                  { hostile kind_0 2 'unknown record kind 0'; }
@test "hostile: unknown dtype 13"        { hostile unknown_dtype 2 'unknown dtype 13'; }
@test "hostile: dtype 0 in a tensor"     { hostile dtype_0 2 'unknown dtype 0'; }
@test "hostile: dims whose product overflows 64 bits" { hostile dims_overflow 2 'overflows 64 bits'; }
@test "hostile: dims times element size overflows"    { hostile dims_overflow_elem 2 'of f64 overflows 64 bits'; }
@test "hostile: a dimension of 2^63"     { hostile dim_over_2_63 2 'exceeds 2\^63-1'; }
@test "hostile: payload length near 2^64 (shape agrees)" { hostile payload_len_near_2_64 2 'payload length 18446744073709551552 .*exceeds limit'; }
@test "hostile: payload length 2^64-1"   { hostile payload_len_2_64_minus_1 2 'payload length 18446744073709551615'; }
@test "hostile: payload length not matching the shape" { hostile payload_len_mismatch 2 'does not match shape'; }
@test "hostile: metadata not JSON (CRCs right)"        { hostile meta_not_json 2 'not a JSON object'; }
@test "hostile: metadata with garbage after the object" { hostile meta_trailing_garbage 2 'not a JSON object'; }
@test "hostile: metadata a JSON array"   { hostile meta_json_array 2 'not a JSON object: \[1,2,3\]'; }
@test "hostile: metadata invalid UTF-8"  { hostile meta_invalid_utf8 2 'not valid UTF-8'; }
@test "hostile: metadata with a NUL byte" { hostile meta_nul 2 'control character 0x00'; }
@test "hostile: metadata length 65537"   { hostile meta_len_65537 2 'metadata length 65537 exceeds limit 65536'; }
@test "hostile: END record with a wrong count" { hostile end_wrong_count 2 'END record counts 3 records but 2'; }
@test "hostile: END record without a count"    { hostile end_without_count 2 'END record without a "records" count'; }
@test "hostile: END record with a payload"     { hostile end_with_payload 2 'END record must have'; }
@test "hostile: nonzero dims beyond rank"      { hostile dims_beyond_rank 2 'dimension 2 set beyond rank 1'; }
@test "hostile: header claims 1 GiB, 100 bytes follow (no up-front allocation)" {
    hostile claims_1gib_sends_100 2 'truncated payload'
}

@test "hostile: cut exactly at a record boundary (no END record)" {
    # the missing record is named, and the last whole one
    local f="$D/hostile/cut_at_record_boundary.rnl"
    run --separate-stderr bash -c 'ulimit -v "$1" && exec "$2" "$3"' _ "$VMEM_KB" "$INSPECT" "$f"
    echo "$stderr"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"record 2: missing: input ends after record 1 without an END record"* ]]
}

@test "hostile: empty input" {
    run --separate-stderr bash -c 'exec "$1" < /dev/null' _ "$INSPECT"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"empty input"* ]]
}

@test "hostile: rnl.py rejects every case too, naming the same record" {
    local name n bad=0
    while read -r name n; do
        run "$PY" "$RNL" check "$D/hostile/$name.rnl"
        if [ "$status" -ne 1 ] || [[ "$output" != *"record $n: "* ]]; then
            echo "$name: status $status: $output"; bad=1
        fi
    done < "$D/hostile/table"
    [ "$(wc -l < "$D/hostile/table")" -ge 30 ]
    [ "$bad" -eq 0 ]
}

@test "a 3-record stream cut at every byte offset fails naming the record; whole, it lists" {
    [ "$(stat -c %s "$D/small.rnl")" -eq 640 ]
    run "$PY" "$CASES" cuts "$D/small.rnl" "$INSPECT"
    echo "$output" | tail -20
    [ "$status" -eq 0 ]
    [[ "$output" == *"640 cuts ok"* ]]
}
