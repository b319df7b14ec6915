#!/usr/bin/python3
"""Test data and checks for stream_interop.bats, built on rnl.py.

    stream_cases.py valid DIR [sorted]  DIR/valid.rnl + DIR/valid.json (expected records)
    stream_cases.py shrink FILE      tensor u8 [72] then i8 [] (payload shrinks)
    stream_cases.py small FILE       a 3-record stream (tensor, text, END), 640 bytes
    stream_cases.py hostile DIR      DIR/NAME.rnl per case; prints "NAME N PHRASE"
    stream_cases.py agree LISTING EXPECTED
                                     inspect --json listing vs expected records
    stream_cases.py same A B         rnl reads A and B; non-END records bit-identical
    stream_cases.py npy DIR          DIR/NAME.npy arrays for --from-npy
    stream_cases.py npycheck NPY RNL the stream holds NPY's array as one tensor
    stream_cases.py example FILE     FILE is the 448-byte example of runnel-stream(5)
    stream_cases.py cuts FILE INSPECT  every prefix of FILE fails in INSPECT naming
                                     the right record; the whole file lists
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnl  # noqa: E402

DTYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64",
               "f16", "bf16", "f32", "f64"]


def meta_of_len(n, char="x"):
    """A JSON object whose UTF-8 encoding is exactly n bytes (n >= 8)."""
    base = len('{"k":""}')
    m = '{"k":"' + char * (n - base) + '"}'
    assert len(m.encode()) == n, n
    return m.encode()


def valid_records():
    rng = random.Random(1234)
    recs = []  # (kind, dtype, dims, payload, meta-bytes-or-None)

    def rand(n):
        return bytes(rng.getrandbits(8) for _ in range(n))

    for dt in DTYPE_NAMES:
        size = rnl.DTYPES[rnl.DTYPE_VALUE[dt]][1]
        for rank in range(0, 9):
            dims = [(i % 3) + 1 for i in range(rank)]  # 1,2,3,1,2,...
            n = size
            for d in dims:
                n *= d
            recs.append(("tensor", dt, dims, rand(n), {"dtype": dt, "rank": rank}))
        # empty dims
        recs.append(("tensor", dt, [0], b"", None))
        recs.append(("tensor", dt, [3, 0, 2], b"", {"empty": True}))
    recs.append(("tensor", "u8", [0] * 8, b"", None))
    # typed values survive (not only random bytes)
    recs.append(("tensor", "f32", [4], rnl.pack_values("f32", [1.5, -2.0, 0.0, 3.25]), None))
    recs.append(("tensor", "bf16", [2], rnl.pack_values("bf16", [1.0, -0.5]), None))
    recs.append(("tensor", "f16", [2], rnl.pack_values("f16", [65504.0, -1.0]), None))
    recs.append(("tokens", "i32", [7], rnl.pack_values("i32", [1, 2, 3, 40000, -1, 0, 7]),
                 {"tokenizer": "bpe-test"}))
    recs.append(("tokens", "i32", [2, 5], rnl.pack_values("i32", list(range(10))),
                 {"tokenizer": "bpe-test"}))
    recs.append(("frame", "u8", [4, 5, 3], rand(60),
                 {"frame": 0, "t": 0.04, "fps": 25, "source": "clip.mp4"}))
    recs.append(("masks", "u8", [2, 4, 5], rand(40),
                 {"frame": 0, "instances": [
                     {"id": 1, "score": 0.93, "box": [0, 0, 3, 2], "label": "bag"},
                     {"id": 2, "score": 0.5, "box": [1, 1, 4, 3]}]}))
    txt = "héllo wörld ✓ 😀\n".encode("utf-8")
    recs.append(("text", "u8", [len(txt)], txt, None))
    for n in (8, 63, 64, 65, 127, 128, 4096, 65535, 65536):
        recs.append(("tensor", "u8", [1], b"\x2a", meta_of_len(n)))
    recs.append(("tensor", "u8", [1], b"\x01", b"{}"))
    recs.append(("tensor", "u8", [1], b"\x02",
                 {"名前": "données ✓ 😀", "ключ": ["ü", "∑", "🙂"]}))
    # non-ASCII metadata close to the limit: 2-byte characters (60 008 bytes)
    recs.append(("tensor", "u8", [1], b"\x03", {"k": "é" * 30000}))
    return recs


def expected_json(recs):
    out = []
    off = 0
    for i, (kind, dt, dims, payload, meta) in enumerate(recs):
        m = rnl.encode_meta(meta)
        out.append({"index": i, "offset": off, "kind": kind, "dtype": dt, "shape": dims,
                    "bytes": len(payload), "meta": json.loads(m) if m else {}})
        off += len(rnl.encode_record(kind, dt, dims, payload, m))
    return out


def cmd_valid(d, order="natural"):
    """order "sorted": by payload size, smallest first (see NOTES-stream.md:
    inspect -r misreads a payload shorter than the one before it)."""
    recs = valid_records()
    if order == "sorted":
        recs.sort(key=lambda r: len(r[3]))
    with open(os.path.join(d, "valid.rnl"), "wb") as f:
        w = rnl.Writer(f)
        for kind, dt, dims, payload, meta in recs:
            w.write(kind, dt, dims, payload, meta)
        w.close()
    with open(os.path.join(d, "valid.json"), "w") as f:
        json.dump(expected_json(recs), f, ensure_ascii=False)
    print(len(recs))
    return 0


def small_stream():
    return (rnl.encode_record("tensor", "u8", [10], bytes(range(10)), b'{"a":1}')
            + rnl.encode_record("text", "u8", [20], b"twenty bytes of text")
            + rnl.encode_record("end", 0, [], b"", b'{"records":2,"counts":{"tensor":1,"text":1}}'))


def cmd_shrink(path):
    """Two records, the second's payload shorter than the first's."""
    with open(path, "wb") as f:
        w = rnl.Writer(f)
        w.write("tensor", "u8", [72], bytes(range(72)))
        w.write("tensor", "i8", [], b"\x07")
        w.close()
    return 0


def cmd_small(path):
    with open(path, "wb") as f:
        f.write(small_stream())
    return 0


def fail(msg):
    sys.stderr.write("stream_cases: %s\n" % msg)
    return 1


def cmd_agree(listing, expected):
    """Every expected record appears in inspect's JSON listing, in order, with
    equal kind, dtype, shape, bytes, offset, meta and crc "ok"; the listing
    ends with one END record counting them."""
    with open(expected) as f:
        exp = json.load(f)
    with open(listing) as f:
        got = [json.loads(line) for line in f if line.strip()]
    if len(got) != len(exp) + 1:
        return fail("inspect listed %d records, expected %d + END" % (len(got), len(exp)))
    for e, g in zip(exp, got):
        for k in ("index", "offset", "kind", "dtype", "shape", "bytes", "meta"):
            if e[k] != g.get(k):
                return fail("record %d: %s: inspect %r, rnl %r" % (e["index"], k, g.get(k), e[k]))
        if g.get("crc") != "ok":
            return fail("record %d: crc %r" % (e["index"], g.get("crc")))
    end = got[-1]
    if end["kind"] != "end" or end["meta"].get("records") != len(exp):
        return fail("bad END listing %r" % end)
    return 0


def body(path):
    """Non-END records of a stream as comparable tuples (rnl reads it)."""
    with open(path, "rb") as f:
        return [(r.kind, r.dtype, r.dims, r.meta_raw, r.payload)
                for r in rnl.read_stream(f) if r.kind != 6]


def cmd_same(a, b, *selection):
    """Stream b holds exactly the non-END records of a that the selection
    names, bit-identical. selection: indices into the non-END records of a,
    or kind=K,K (records of those kinds); none: all."""
    ra, rb = body(a), body(b)
    if selection and selection[0].startswith("kind="):
        kinds = {rnl.KIND_VALUE[k] for k in selection[0][5:].split(",")}
        ra = [r for r in ra if r[0] in kinds]
        if not ra:
            return fail("no records of kind %s in %s" % (selection[0], a))
    elif selection:
        ra = [ra[int(i)] for i in selection]
    if len(ra) != len(rb):
        return fail("%s has %d records, %s %d" % (a, len(ra), b, len(rb)))
    for i, (x, y) in enumerate(zip(ra, rb)):
        for what, u, v in zip(("kind", "dtype", "dims", "meta", "payload"), x, y):
            if u != v:
                return fail("record %d: %s differs" % (i, what))
    return 0


# ---- hostile table ----------------------------------------------------------
# Every case: name, bytes, the record index a reader must name. The phrases
# inspect must print are in stream_interop.bats.
def hostile_cases():
    good = rnl.encode_record("tensor", "f32", [2, 3], bytes(range(24)), b'{"a":1}')
    small = rnl.encode_record("tensor", "u8", [4], b"abcd")
    end2 = rnl.encode_record("end", 0, [], b"", b'{"records":2,"counts":{"tensor":2}}')
    ok2 = small + good  # two valid records first, so the damage is record 2

    def rec(**kw):
        a = dict(kind="tensor", dtype="u8", dims=[4], payload=b"abcd", meta=None)
        raw = {k: kw.pop(k) for k in list(kw) if k not in a}
        a.update(kw)
        return rnl.encode_record(a["kind"], a["dtype"], a["dims"], a["payload"], a["meta"], **raw)

    def bad_meta(m):
        return rec(meta=m)

    flipped = bytearray(good)
    flipped[192 + 5] ^= 0x10  # a payload byte
    cases = [
        ("truncated_header", ok2 + good[:100], 2),
        ("truncated_meta", ok2 + good[:131], 2),
        ("truncated_payload", ok2 + good[:200], 2),
        ("cut_in_meta_padding", ok2 + good[:150], 2),
        ("cut_in_payload_padding", ok2 + good[:230], 2),
        ("cut_at_record_boundary", ok2, 2),
        ("bad_magic", ok2 + rec(magic=b"RNNX") + end2, 2),
        ("bad_version", ok2 + rec(version=2) + end2, 2),
        ("bad_header_size", ok2 + rec(header_size=64) + end2, 2),
        ("header_crc_wrong", ok2 + rec(header_crc=0x12345678) + end2, 2),
        ("data_crc_wrong", small + bytes(flipped) + end2, 1),
        ("rank_9", ok2 + rec(rank=9, dims8=[1] * 8) + end2, 2),
        ("unknown_kind", ok2 + rec(kind=7) + end2, 2),
        ("kind_0", ok2 + rec(kind=0) + end2, 2),
        ("unknown_dtype", ok2 + rec(dtype=13) + end2, 2),
        ("dtype_0", ok2 + rec(dtype=0) + end2, 2),
        ("dims_overflow", ok2 + rec(dims=[1 << 32, 1 << 33], payload=b"",
                                    payload_len=0) + end2, 2),
        ("dims_overflow_elem", ok2 + rec(dtype="f64", dims=[1 << 62], payload=b"",
                                         payload_len=0) + end2, 2),
        ("dim_over_2_63", ok2 + rec(dims=[1 << 63], payload=b"",
                                    payload_len=1 << 63) + end2, 2),
        ("payload_len_near_2_64", ok2 + rec(dtype="f64", dims=[(1 << 61) - 8], payload=b"",
                                            payload_len=(1 << 64) - 64) + end2, 2),
        ("payload_len_2_64_minus_1", ok2 + rec(payload_len=(1 << 64) - 1) + end2, 2),
        ("payload_len_mismatch", ok2 + rec(dims=[5]) + end2, 2),
        ("meta_not_json", ok2 + bad_meta(b'{"a":1,}') + end2, 2),
        ("meta_trailing_garbage", ok2 + bad_meta(b'{"a":1} x') + end2, 2),
        ("meta_json_array", ok2 + bad_meta(b'[1,2,3]') + end2, 2),
        ("meta_invalid_utf8", ok2 + bad_meta(b'{"a":"\xff\xfe"}') + end2, 2),
        ("meta_nul", ok2 + bad_meta(b'{"a":"\x00"}') + end2, 2),
        ("meta_len_65537", ok2 + bad_meta(meta_of_len(65537)) + end2, 2),
        ("end_wrong_count", small + good + rnl.encode_record(
            "end", 0, [], b"", b'{"records":3,"counts":{"tensor":3}}'), 2),
        ("end_without_count", ok2 + rnl.encode_record("end", 0, [], b"", None), 2),
        ("end_with_payload", ok2 + rnl.encode_record("end", 0, [], b"", b'{"records":2}',
                                                     payload_len=64), 2),
        ("dims_beyond_rank", ok2 + rec(dims8=[4, 0, 7, 0, 0, 0, 0, 0]) + end2, 2),
        ("empty_input", b"", 0),
        # a truthful header under the payload limit that claims 1 GiB, then
        # 100 bytes: a reader must not allocate the claimed size up front
        ("claims_1gib_sends_100", ok2 + rec(dims=[1 << 30], payload=b"",
                                            payload_len=1 << 30)[:128] + bytes(100), 2),
    ]
    return cases


def cmd_hostile(d):
    for name, data, n in hostile_cases():
        with open(os.path.join(d, name + ".rnl"), "wb") as f:
            f.write(data)
        print("%s %d" % (name, n))
    return 0


# ---- numpy interop ------------------------------------------------------------
def cmd_npy(d):
    import numpy as np
    rng = np.random.default_rng(5)
    arrays = {
        "u8": rng.integers(0, 255, (3, 4), dtype=np.uint8),
        "i8": rng.integers(-128, 127, (5,), dtype=np.int8),
        "u16": rng.integers(0, 65535, (2, 3, 4), dtype=np.uint16),
        "i16": rng.integers(-30000, 30000, (7,), dtype=np.int16),
        "u32": rng.integers(0, 2**32 - 1, (2, 2), dtype=np.uint32),
        "i32": rng.integers(-2**31, 2**31 - 1, (1, 1, 1, 3), dtype=np.int32),
        "u64": rng.integers(0, 2**63, (4,), dtype=np.uint64),
        "i64": rng.integers(-2**62, 2**62, (2, 5), dtype=np.int64),
        "f16": rng.standard_normal((3, 3)).astype(np.float16),
        "f32": rng.standard_normal((2, 3, 4, 5)).astype(np.float32),
        "f64": rng.standard_normal((6,)),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((3, 0, 2), dtype=np.float32),
        "big_endian": np.arange(6, dtype=">i4").reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
    }
    for name, a in arrays.items():
        np.save(os.path.join(d, name + ".npy"), a)
    print(" ".join(arrays))
    return 0


def cmd_npycheck(npy, stream):
    import numpy as np
    a = np.load(npy)
    with open(stream, "rb") as f:
        recs = list(rnl.read_stream(f))
    if len(recs) != 2 or recs[0].kind != 1 or recs[1].kind != 6:
        return fail("%s: expected one tensor + END, got %r" % (stream, recs))
    r = recs[0]
    names = {"uint8": "u8", "int8": "i8", "uint16": "u16", "int16": "i16", "uint32": "u32",
             "int32": "i32", "uint64": "u64", "int64": "i64", "float16": "f16",
             "float32": "f32", "float64": "f64"}
    want = names[a.dtype.name]
    if r.dtype_name() != want:
        return fail("%s: dtype %s, want %s" % (stream, r.dtype_name(), want))
    if r.dims != list(a.shape):
        return fail("%s: shape %r, want %r" % (stream, r.dims, list(a.shape)))
    # the payload is the array in C order, little-endian
    if r.payload != np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes():
        return fail("%s: payload differs from the array" % stream)
    return 0


def cmd_example(path):
    """runnel-stream(5) EXAMPLES: one 2x3 f32 tensor with metadata {"a":1}."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != 448:
        return fail("example stream is %d bytes, the man page says 448" % len(data))
    recs = rnl.read_bytes(data)
    if [r.kind_name() for r in recs] != ["tensor", "end"]:
        return fail("kinds %r" % [r.kind_name() for r in recs])
    t, e = recs
    checks = [
        (t.offset, 0), (len(t.meta_raw), 7), (t.meta_raw, b'{"a":1}'),
        (t.dims, [2, 3]), (t.dtype_name(), "f32"), (t.payload_len, 24),
        (data[128:135], b'{"a":1}'), (data[135:192], bytes(57)),  # 57 padding
        (data[216:256], bytes(40)),                                # 40 padding
        (e.offset, 256), (len(e.meta_raw), 35),
        (e.meta_raw, b'{"records":1,"counts":{"tensor":1}}'),
        (data[256 + 128:256 + 163], b'{"records":1,"counts":{"tensor":1}}'),
        (data[256 + 163:448], bytes(29)),
    ]
    for i, (got, want) in enumerate(checks):
        if got != want:
            return fail("example check %d: got %r, man page says %r" % (i, got, want))
    return 0


def cmd_cuts(path, inspect):
    import re
    with open(path, "rb") as f:
        data = f.read()
    starts = [r.offset for r in rnl.read_bytes(data)]
    bad = 0
    for cut in range(len(data)):
        n = max(i for i, s in enumerate(starts) if s <= cut)
        p = subprocess.run([inspect, "-"], input=data[:cut], capture_output=True)
        err = p.stderr.decode("utf-8", "replace")
        lines = err.strip().splitlines()
        # inside record n: "record n: ..."; at the start of record n (n > 0):
        # "record n: missing: input ends after record n-1 without an END
        # record"; no bytes at all: "empty input".
        if cut == 0:
            want = r"empty input"
        elif cut in starts:
            want = r"\brecord %d: missing: input ends after record %d without an END record" % (n, n - 1)
        else:
            want = r"\brecord %d: .*truncated" % n
        if p.returncode != 1 or len(lines) != 1 or not re.search(want, err):
            sys.stderr.write("cut %d: status %d, want 1 and /%s/: %r\n"
                             % (cut, p.returncode, want, err))
            bad += 1
        try:
            rnl.read_bytes(data[:cut])
            sys.stderr.write("cut %d: rnl accepted a cut stream\n" % cut)
            bad += 1
        except rnl.StreamError as ex:
            if ex.index != n:
                sys.stderr.write("cut %d: rnl named record %d, want %d\n" % (cut, ex.index, n))
                bad += 1
    p = subprocess.run([inspect, "--json", "-"], input=data, capture_output=True)
    got = [json.loads(x) for x in p.stdout.decode().splitlines()]
    if p.returncode != 0 or [g["index"] for g in got] != list(range(len(starts))):
        sys.stderr.write("whole stream: status %d, listing %r\n" % (p.returncode, got))
        bad += 1
    if bad:
        return fail("%d failures over %d cuts" % (bad, len(data)))
    print("%d cuts ok" % len(data))
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    fn = {"valid": cmd_valid, "small": cmd_small, "hostile": cmd_hostile, "agree": cmd_agree,
          "same": cmd_same, "npy": cmd_npy, "npycheck": cmd_npycheck,
          "example": cmd_example, "cuts": cmd_cuts,
          "shrink": cmd_shrink}[cmd]
    try:
        return fn(*args)
    except rnl.StreamError as ex:
        return fail(str(ex))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
