"""Reference side of tests/ref/ckpt.bats: checks runnel's safetensors files
with the `safetensors` package (and with a plain json+struct reader that
needs only NumPy), and writes the files runnel must read.

    ckpt_ref.py check-reference FILE         safetensors.deserialize: every tensor
    ckpt_ref.py check-numpy FILE             safetensors.numpy.load_file (no bf16)
    ckpt_ref.py check-plain FILE             json+struct reader, layout rules
    ckpt_ref.py save-numpy OUT               safetensors.numpy.save_file cases
    ckpt_ref.py save-plain OUT               hand-made file: bf16, odd header
    ckpt_ref.py compare-dump SRC DIR MANIFEST  runnel's dump == SRC bit for bit
    ckpt_ref.py hostile KIND OUT             a file runnel must refuse

The pattern file (tests/ref/ckpt_tool.c) holds tensor "pattern.D.s" whose
byte j is (j * 131 + k * 17 + 7) mod 256, k = 5 * dtype index + s. Every
comparison is exact: bytes, dtype names and shapes.
"""
import json
import os
import struct
import sys

DTYPES = ["U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16", "F32", "F64"]
SIZES = {"U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4, "U64": 8, "I64": 8,
         "F16": 2, "BF16": 2, "F32": 4, "F64": 8}
SHAPES = [[], [13], [3, 5], [2, 0, 4], [1, 2, 1, 3, 1, 2, 1, 2]]
NP = {"U8": "<u1", "I8": "<i1", "U16": "<u2", "I16": "<i2", "U32": "<u4", "I32": "<i4",
      "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8"}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def pattern(dt, s):
    k = 5 * DTYPES.index(dt) + s
    n = numel(SHAPES[s]) * SIZES[dt]
    return bytes((j * 131 + k * 17 + 7) & 0xFF for j in range(n))


def expected(with_bf16=True):
    """name -> (dtype, shape, bytes) of the pattern file's pattern tensors."""
    out = {}
    for dt in DTYPES:
        if dt == "BF16" and not with_bf16:
            continue
        for s in range(len(SHAPES)):
            out["pattern.%s.%d" % (dt, s)] = (dt, SHAPES[s], pattern(dt, s))
    return out


def fail(msg):
    sys.exit("FAIL: " + msg)


def check_conventions(meta, get):
    """Metadata and convention tensors of the pattern file; get(name) gives
    (dtype, shape, bytes)."""
    if meta.get("format") != "runnel-checkpoint" or meta.get("format_version") != "1":
        fail("identity metadata: %r" % meta)
    if meta.get("step") != "1234567890123":
        fail("step %r" % meta.get("step"))
    if meta.get("unicode") != "caf\u00e9 \u2211 \U0001F600 \"q\" \\ \n":
        fail("unicode metadata %r" % meta.get("unicode"))
    cfg = json.loads(meta["config"])
    if cfg["n_layer"] != 6 or cfg["vocab_size"] != 50259 or cfg["learning_rate"] != 6e-4 \
            or cfg["bias"] is not True:
        fail("config %r" % cfg)
    dt, shape, data = get("optim.m.layer.w")
    if dt != "F32" or shape != [2, 3] or \
            struct.unpack("<6f", data) != (0.5, -1.0, 2.0, 0.0, -0.0, struct.unpack("<f", struct.pack("<f", 1e-30))[0]):
        fail("optim.m.layer.w: %s %s %r" % (dt, shape, data))
    if struct.pack("<f", -0.0) != data[16:20]:
        fail("-0.0 lost its sign")
    dt, shape, data = get("rng.train")
    if dt != "U64" or shape != [4] or data == bytes(32):
        fail("rng.train: %s %s" % (dt, shape))


def check_reference(path):
    """The reference implementation's own parser and validator."""
    from safetensors import deserialize, safe_open
    with open(path, "rb") as f:
        raw = f.read()
    got = {name: (t["dtype"].upper(), list(t["shape"]), bytes(t["data"]))
           for name, t in deserialize(raw)}
    want = expected()
    for name, w in want.items():
        if got.get(name) != w:
            fail("%s: got %r, want %r" % (name, got.get(name, "nothing")[:2], w[:2]))
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    check_conventions(meta, lambda n: got[n])
    print("%d tensors identical through safetensors.deserialize" % len(got))


def check_numpy(path):
    import numpy as np
    from safetensors.numpy import load_file
    arrays = load_file(path)
    want = expected(with_bf16=False)
    for name, (dt, shape, data) in want.items():
        a = arrays[name]
        if a.dtype != np.dtype(NP[dt]) or list(a.shape) != shape or a.tobytes() != data:
            fail("%s: %s %s differs from %s %s" % (name, a.dtype, a.shape, dt, shape))
    print("%d arrays identical through safetensors.numpy.load_file" % len(want))


def read_plain(path):
    """A reader from the format's description alone: json + struct."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    return raw, n, header


def check_plain(path):
    raw, n, header = read_plain(path)
    if n % 8 or raw[8:9] != b"{":
        fail("header length %d not a multiple of 8, or no '{'" % n)
    if raw[8:8 + n].rstrip(b" ")[-1:] != b"}":
        fail("header padding is not spaces")
    meta = header.pop("__metadata__")
    if list(meta) != sorted(meta):
        fail("metadata keys not sorted: %r" % list(meta))
    data = raw[8 + n:]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    at = 0
    prev = None
    for name, t in entries:
        b, e = t["data_offsets"]
        if b != at:
            fail("%s starts at %d, previous ended at %d" % (name, b, at))
        if (8 + n + b) % SIZES[t["dtype"]]:
            fail("%s is not aligned" % name)
        key = (-SIZES[t["dtype"]], name)
        if prev is not None and key < prev:
            fail("%s out of order (element size descending, then name)" % name)
        prev = key
        at = e
    if at != len(data):
        fail("tensors end at %d of %d data bytes" % (at, len(data)))
    got = {name: (t["dtype"], t["shape"], data[t["data_offsets"][0]:t["data_offsets"][1]])
           for name, t in header.items()}
    for name, w in expected().items():
        if got.get(name) != w:
            fail("%s differs" % name)
    check_conventions(meta, lambda nm: got[nm])
    print("%d tensors identical through json+struct" % len(got))


def numpy_cases():
    import numpy as np
    rng = np.random.default_rng(20261125)
    out = {}
    for i, dt in enumerate(["<u1", "<i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8"]):
        for rank, shape in enumerate([(), (7,), (2, 3), (2, 0, 3), (1, 2, 1, 2, 1, 3, 1, 2)]):
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
            # random bytes: NaN payloads, infinities and subnormals included
            a = rng.integers(0, 256, size=nbytes, dtype=np.uint8).view(dt).reshape(shape)
            out["np.%s.r%d" % (dt[1:], rank)] = a
    out["big"] = rng.standard_normal((256, 129)).astype(np.float32)
    return out


def save_numpy(path):
    from safetensors.numpy import save_file
    save_file(numpy_cases(), path, metadata={"framework": "np", "note": "\u00e9t\u00e9"})


def save_plain(path):
    """bf16 (which NumPy lacks), keys in an unusual order, whitespace in the
    header, metadata last: all valid safetensors."""
    bf = bytes(range(2, 2 + 2 * 6))          # six bf16 values
    f32 = struct.pack("<3f", 1.5, float("inf"), -2.25)
    header = ('{ "b" : { "data_offsets" : [0, 12], "shape" : [3], "dtype" : "F32" },\n'
              '  "a" : { "shape" : [2, 3], "dtype" : "BF16", "data_offsets" : [12, 24] },\n'
              '  "__metadata__" : { "k" : "v" } }')
    hb = header.encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + f32 + bf)
    with open(path + ".want", "w") as f:
        json.dump({"b": ["F32", [3], f32.hex()], "a": ["BF16", [2, 3], bf.hex()],
                   "__metadata__": {"k": "v"}}, f)


def compare_dump(src, d, manifest):
    """runnel's dump of src (tensor files + manifest) against src itself."""
    with open(manifest) as f:
        m = json.load(f)
    got = {}
    for t in m["tensors"]:
        with open(os.path.join(d, t["file"]), "rb") as f:
            got[t["name"]] = (t["dtype"], t["shape"], f.read())
    if src.endswith(".want"):
        with open(src) as f:
            w = json.load(f)
        meta = w.pop("__metadata__")
        want = {k: (v[0], v[1], bytes.fromhex(v[2])) for k, v in w.items()}
    else:
        import numpy as np
        from safetensors import safe_open
        from safetensors.numpy import load_file
        arrays = load_file(src)
        rev = {np.dtype(v): k for k, v in NP.items()}
        want = {k: (rev[a.dtype], list(a.shape), a.tobytes()) for k, a in arrays.items()}
        with safe_open(src, framework="np") as f:
            meta = f.metadata()
    if set(got) != set(want):
        fail("names differ: %r" % sorted(set(got) ^ set(want)))
    for k in want:
        if got[k] != want[k]:
            fail("%s: runnel read %s %s, want %s %s (or the bytes differ)"
                 % (k, got[k][0], got[k][1], want[k][0], want[k][1]))
    if m["metadata"] != meta:
        fail("metadata %r, want %r" % (m["metadata"], meta))
    print("%d tensors and %d metadata identical" % (len(want), len(meta)))


def hostile(kind, path):
    import numpy as np
    from safetensors.numpy import save_file
    if kind == "bool":
        save_file({"mask": np.array([True, False])}, path)
        return
    if kind == "unpadded":
        # an old writer's file: no header padding, so the f32 data is misaligned
        hb = b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
        assert (8 + len(hb)) % 4
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(hb)) + hb + struct.pack("<f", 1.0))
        return
    if kind == "truncated":
        save_file({"x": np.arange(100, dtype=np.float32)}, path)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 1)
        return
    sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"check-reference": check_reference, "check-numpy": check_numpy,
     "check-plain": check_plain, "save-numpy": save_numpy, "save-plain": save_plain,
     "compare-dump": compare_dump, "hostile": hostile}[cmd](*args)
