#!/usr/bin/env bats
# NumPy .npy interop of libcore/npy through inspect, checked by NumPy itself:
# arrays that numpy.save wrote go through --from-npy and --to-npy and must
# come back with the same bytes, dtype (byte order normalised) and shape;
# streams written by rnl.py (an independent stream writer) go through
# --to-npy and must load in NumPy as the exact payload. Needs RUNNEL_BIN
# (directory of the binaries) and /usr/bin/python3 with numpy (Debian's
# python3-numpy): without numpy these tests fail, they are never skipped.

bats_require_minimum_version 1.5.0

PY=/usr/bin/python3
HERE="$BATS_TEST_DIRNAME"
VMEM_KB=300000   # ulimit -v for lying headers: no giant allocation fits

setup_file() {
    : "${RUNNEL_BIN:?RUNNEL_BIN must name the directory of the binaries}"
    local d="$BATS_FILE_TMPDIR"
    mkdir -p "$d/np" "$d/rnl"
    cat > "$d/cases.py" <<'EOF'
"""Writes and checks the .npy cases of npy.bats."""
import os
import sys

import numpy as np

DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"]
SHAPES = {0: (), 1: (7,), 3: (2, 3, 4), 8: (2, 1, 3, 1, 2, 1, 1, 2)}


def random_array(rng, dt, shape):
    # random bytes, so float arrays carry NaNs with payloads, infinities,
    # subnormals and -0.0 like any other value
    n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
    return rng.integers(0, 256, size=n, dtype=np.uint8).view(dt).reshape(shape)


def cases():
    rng = np.random.default_rng(20261125)
    for dt in DTYPES:
        for rank, shape in SHAPES.items():
            yield "%s_r%d" % (dt, rank), random_array(rng, "<" + dt, shape)
        yield "%s_empty" % dt, np.zeros((0,), dtype="<" + dt)
        yield "%s_empty3" % dt, np.zeros((3, 0, 2), dtype="<" + dt)
    bits32 = [0x7FC00000, 0x7FC00001, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x80000000,
              0x00000000, 0x7F800000, 0xFF800000, 0x00000001, 0x807FFFFF]
    yield "f4_special", np.array(bits32, dtype="<u4").view("<f4")
    bits64 = [0x7FF8000000000000, 0x7FF8000000000001, 0xFFF0000000000001,
              0x8000000000000000, 0x7FF0000000000000, 0x0000000000000001]
    yield "f8_special", np.array(bits64, dtype="<u8").view("<f8")
    bits16 = [0x7E00, 0x7C01, 0xFE01, 0x7DFF, 0x8000, 0x7C00, 0xFC00, 0x0001, 0x83FF]
    yield "f2_special", np.array(bits16, dtype="<u2").view("<f2")
    yield "f4_negzero", np.array([-0.0, 0.0, -0.0], dtype="<f4")
    for dt in ["u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"]:
        yield "be_%s" % dt, random_array(rng, ">" + dt, (3, 5))
    yield "be_f4_special", np.array(bits32, dtype="<u4").view("<f4").astype(">f4")
    yield "big", random_array(rng, "<f4", (3, 1000, 700))  # 8.4 MB: pipes grow buffers


def expected_bytes(a):
    # the bytes a little-endian file must hold: big-endian data swapped
    return a.byteswap().tobytes() if a.dtype.byteorder == ">" else a.tobytes()


def gen(d):
    for name, a in cases():
        np.save(os.path.join(d, name + ".npy"), a)
        print(name)


def check(src, out):
    """out (from --to-npy) must hold src's array, bit for bit."""
    a = np.load(src)
    b = np.load(out)
    if b.dtype.byteorder not in "<|=":
        sys.exit("%s: written with byte order %r" % (out, b.dtype.byteorder))
    if a.dtype.newbyteorder("<") != b.dtype.newbyteorder("<"):
        sys.exit("%s: dtype %s, want %s" % (out, b.dtype.str, a.dtype.str))
    if a.shape != b.shape:
        sys.exit("%s: shape %r, want %r" % (out, b.shape, a.shape))
    if expected_bytes(a) != b.tobytes():
        diff = np.flatnonzero(np.frombuffer(expected_bytes(a), np.uint8)
                              != np.frombuffer(b.tobytes(), np.uint8))
        sys.exit("%s: data differs from %s at byte %d" % (out, src, diff[0]))
    with open(out, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version != (1, 0):
            sys.exit("%s: version %r, want 1.0 for a small header" % (out, version))
        np.lib.format.read_array_header_1_0(f)
        if f.tell() % 64:
            sys.exit("%s: data starts at %d, not 64-byte aligned" % (out, f.tell()))
    if not b.flags.c_contiguous:
        sys.exit("%s: not C order" % out)


def rnl_streams(d):
    """Streams written by rnl.py, with the arrays they must become."""
    sys.path.insert(0, os.environ["RNL_DIR"])
    import rnl
    rng = np.random.default_rng(7)
    names = {"u1": "u8", "i1": "i8", "u2": "u16", "i2": "i16", "u4": "u32", "i4": "i32",
             "u8": "u64", "i8": "i64", "f2": "f16", "f4": "f32", "f8": "f64"}
    with open(os.path.join(d, "all.rnl"), "wb") as f:
        w = rnl.Writer(f)
        for i, dt in enumerate(DTYPES):
            a = random_array(rng, "<" + dt, (2, i + 1, 3))
            w.write("tensor", names[dt], list(a.shape), a.tobytes(), {"i": i})
            np.save(os.path.join(d, "want%d.npy" % i), a)
        w.close()
    with open(os.path.join(d, "bf16.rnl"), "wb") as f:
        w = rnl.Writer(f)
        w.write("tensor", "bf16", [2], rnl.pack_values("bf16", [1.0, 2.0]))
        w.close()
    print(len(DTYPES))


def lie(src, out, shape):
    """Copy src with its header's shape replaced (data left as it was)."""
    a = np.load(src)
    hdr = {"descr": a.dtype.str, "fortran_order": False, "shape": tuple(shape)}
    with open(src, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        data = f.read()
    with open(out, "wb") as f:
        np.lib.format.write_array_header_1_0(f, hdr)
        f.write(data)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "rnl":
        rnl_streams(sys.argv[2])
    elif cmd == "lie":
        lie(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4:]])
    elif cmd == "save":
        exec(sys.argv[3], {"np": np, "out": sys.argv[2]})
    else:
        sys.exit("unknown command " + cmd)
EOF
    "$PY" "$d/cases.py" gen "$d/np" > "$d/np/names"
    RNL_DIR="$HERE" "$PY" "$d/cases.py" rnl "$d/rnl" > "$d/rnl/count"
}

setup() {
    D="$BATS_FILE_TMPDIR"
    INSPECT="$RUNNEL_BIN/inspect"
    [ -x "$INSPECT" ] || { echo "no inspect in RUNNEL_BIN=$RUNNEL_BIN"; return 1; }
    CASES="$D/cases.py"
}

# from_to NAME: NAME.npy -> --from-npy -> --to-npy -> NumPy compares.
from_to() {
    local n=$1
    run --separate-stderr "$INSPECT" --from-npy "$D/np/$n.npy" -o "$D/np/$n.rnl"
    [ "$status" -eq 0 ] || { echo "$n: --from-npy: $stderr"; return 1; }
    run --separate-stderr "$INSPECT" --to-npy "$D/np/$n.out.npy" "$D/np/$n.rnl"
    [ "$status" -eq 0 ] || { echo "$n: --to-npy: $stderr"; return 1; }
    run "$PY" "$CASES" check "$D/np/$n.npy" "$D/np/$n.out.npy"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "numpy is importable from /usr/bin/python3 (python3-numpy)" {
    run "$PY" -c 'import numpy; print(numpy.__version__)'
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "every dtype at ranks 0, 1, 3 and 8 survives --from-npy then --to-npy bit for bit" {
    local n count=0
    while read -r n; do
        case $n in *_r[0-9]) from_to "$n"; count=$((count + 1)) ;; esac
    done < "$D/np/names"
    [ "$count" -eq 44 ]
}

@test "empty arrays of every dtype, (0,) and (3, 0, 2), round trip" {
    local n count=0
    while read -r n; do
        case $n in *_empty*) from_to "$n"; count=$((count + 1)) ;; esac
    done < "$D/np/names"
    [ "$count" -eq 22 ]
}

@test "NaN payloads, signalling NaNs, infinities, subnormals and -0.0 keep their bits" {
    for n in f4_special f8_special f2_special f4_negzero; do from_to "$n"; done
    # and the bits really are the special ones (not a silent canonical NaN)
    run "$PY" -c "import numpy as np; b = np.load('$D/np/f4_special.out.npy').view('<u4')
assert b[1] == 0x7FC00001 and b[3] == 0x7F800001 and b[5] == 0x80000000, [hex(x) for x in b]"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "big-endian arrays come back little-endian with the same values" {
    for dt in u2 i2 u4 i4 u8 i8 f2 f4 f8; do from_to "be_$dt"; done
    from_to be_f4_special
    run "$PY" -c "import numpy as np
a = np.load('$D/np/be_f8.npy'); b = np.load('$D/np/be_f8.out.npy')
assert a.dtype.str == '>f8' and b.dtype.str == '<f8'
assert np.array_equal(a, b, equal_nan=True)"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "format versions 2.0 and 3.0 written by numpy are read" {
    local v
    for v in 2 3; do
        "$PY" "$CASES" save "$D/np/v$v.npy" "
with open(out, 'wb') as f:
    np.lib.format.write_array(f, np.arange(24, dtype='>i4').reshape(2, 3, 4), version=($v, 0))"
        run "$PY" -c "import numpy as np, sys
with open('$D/np/v$v.npy', 'rb') as f: assert np.lib.format.read_magic(f) == ($v, 0)"
        [ "$status" -eq 0 ] || { echo "$output"; return 1; }
        from_to "v$v"
    done
}

@test "a second trip through runnel is byte-identical: stream and .npy" {
    local n
    for n in f4_r3 u1_r8 i8_r0 be_i4 f2_special; do
        from_to "$n"
        run "$INSPECT" --from-npy "$D/np/$n.out.npy" -o "$D/np/$n.2.rnl"
        [ "$status" -eq 0 ]
        cmp "$D/np/$n.rnl" "$D/np/$n.2.rnl"
        run "$INSPECT" --to-npy "$D/np/$n.2.npy" "$D/np/$n.2.rnl"
        [ "$status" -eq 0 ]
        cmp "$D/np/$n.out.npy" "$D/np/$n.2.npy"
    done
}

@test "through pipes: numpy file on stdin, .npy on stdout (8 MB, larger than one read chunk)" {
    run bash -c 'cat "$1" | "$2" --from-npy - | "$2" --to-npy - > "$3"' \
        _ "$D/np/big.npy" "$INSPECT" "$D/np/big.pipe.npy"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    run "$PY" "$CASES" check "$D/np/big.npy" "$D/np/big.pipe.npy"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "streams written by rnl.py become the exact arrays in NumPy (--to-npy, -r N)" {
    local count rec
    count=$(cat "$D/rnl/count")
    [ "$count" -eq 11 ]
    # the first tensor record when nothing is selected
    run --separate-stderr "$INSPECT" --to-npy "$D/rnl/first.npy" "$D/rnl/all.rnl"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    run "$PY" "$CASES" check "$D/rnl/want0.npy" "$D/rnl/first.npy"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    # not "i": bats' run clobbers a caller's variable of that name
    for ((rec = 0; rec < count; rec++)); do
        run --separate-stderr "$INSPECT" -r "$rec" --to-npy "$D/rnl/got$rec.npy" "$D/rnl/all.rnl"
        [ "$status" -eq 0 ] || { echo "-r $rec: $stderr"; return 1; }
        run "$PY" "$CASES" check "$D/rnl/want$rec.npy" "$D/rnl/got$rec.npy"
        [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    done
}

@test "--to-npy refuses a bf16 record: NumPy has no bf16, and no file is left" {
    run --separate-stderr "$INSPECT" --to-npy "$D/rnl/bf16.npy" "$D/rnl/bf16.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"bf16 has no NumPy dtype"* ]] || { echo "$stderr"; return 1; }
    [ ! -e "$D/rnl/bf16.npy" ]
    [ -z "$(ls "$D/rnl" | grep '\.tmp\.')" ]
}

# refuse NAME CODE MESSAGE: numpy writes NAME.npy with CODE (out = path);
# --from-npy must exit 1 with MESSAGE on stderr and write nothing.
refuse() {
    local n=$1 code=$2 msg=$3
    "$PY" "$CASES" save "$D/np/$n.npy" "$code"
    run --separate-stderr "$INSPECT" --from-npy "$D/np/$n.npy" -o "$D/np/$n.rnl"
    [ "$status" -eq 1 ] || { echo "$n: status $status"; return 1; }
    [[ "$stderr" == *"$D/np/$n.npy: $msg"* ]] || { echo "$n: $stderr"; return 1; }
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "$n: $stderr"; return 1; }
    [ ! -e "$D/np/$n.rnl" ]
}

@test "--from-npy refuses what runnel cannot hold, each with its own message" {
    refuse bool 'np.save(out, np.array([True, False]))' \
        "bool dtype '|b1' is not supported (save it as uint8)"
    refuse complex 'np.save(out, np.zeros(3, np.complex64))' "unsupported dtype descr '<c8'"
    refuse unicode 'np.save(out, np.array(["ab", "c"]))' "unsupported dtype descr '<U2'"
    refuse object 'np.save(out, np.array([1, "a"], dtype=object), allow_pickle=True)' \
        "object dtype '|O' is not supported"
    refuse structured 'np.save(out, np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]))' \
        "structured dtypes are not supported"
    refuse fortran 'np.save(out, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))' \
        "fortran_order True is not supported"
    refuse rank9 'np.save(out, np.zeros((1,) * 9, np.float32))' "rank 9 exceeds 8"
}

@test "--from-npy on a cut or lying file: a clear message, no giant allocation" {
    local src="$D/np/f4_r3.npy" size
    size=$(stat -c %s "$src")
    head -c $((size - 5)) "$src" > "$D/np/cut.npy"
    run --separate-stderr "$INSPECT" --from-npy "$D/np/cut.npy" -o "$D/np/cut.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"cut.npy: truncated data: header says 96 bytes, file has 91"* ]] \
        || { echo "$stderr"; return 1; }
    [ ! -e "$D/np/cut.rnl" ]

    # a header claiming 4 TB over 96 bytes of data, as a file and as a pipe
    "$PY" "$CASES" lie "$src" "$D/np/lie.npy" 1000000 1000000
    run --separate-stderr bash -c 'ulimit -v '$VMEM_KB'; "$1" --from-npy "$2" -o "$3"' \
        _ "$INSPECT" "$D/np/lie.npy" "$D/np/lie.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"lie.npy: truncated data: header says 4000000000000 bytes, file has 96"* ]] \
        || { echo "$stderr"; return 1; }
    run --separate-stderr bash -c 'ulimit -v '$VMEM_KB'; cat "$2" | "$1" --from-npy - -o "$3"' \
        _ "$INSPECT" "$D/np/lie.npy" "$D/np/lie.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"stdin: truncated data: header says 4000000000000 bytes, file has 96"* ]] \
        || { echo "$stderr"; return 1; }

    # a shape whose element count overflows 64 bits
    "$PY" "$CASES" lie "$src" "$D/np/over.npy" 4294967296 4294967296 4294967296
    run --separate-stderr "$INSPECT" --from-npy "$D/np/over.npy" -o "$D/np/over.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"shape [4294967296, 4294967296, 4294967296] overflows 64 bits"* ]] \
        || { echo "$stderr"; return 1; }

    # not a .npy at all
    run --separate-stderr "$INSPECT" --from-npy "$D/np/names" -o "$D/np/x.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"not a .npy file (bad magic)"* ]] || { echo "$stderr"; return 1; }
}
