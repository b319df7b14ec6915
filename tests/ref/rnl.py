#!/usr/bin/python3
"""rnl.py -- an independent reader and writer of the runnel record stream.

Written from the man page runnel-stream(5) alone (not from libcore/stream.c),
to prove that the page is enough to implement the format in another language.
Standard library only. Where the page left a choice open, the choice made here
is marked "AMBIGUOUS:" and listed in NOTES-stream.md.

Library use:
    w = Writer(f); w.write("tensor", "f32", [2, 3], payload, meta={"a": 1}); w.close()
    for rec in read_stream(f): ...        # raises StreamError("record N: ...")

Command line:
    rnl.py list [--limit BYTES] [FILE|-]   one JSON line per record (END included)
    rnl.py check [FILE|-]                  exit 0 if the stream is valid, else 1
Errors: one line "rnl: FILE: record N: message" on stderr, exit status 1.
"""
import hashlib
import json
import struct
import sys

MAGIC = b"RNNL"
VERSION = 1
HEADER_SIZE = 128
ALIGN = 64
META_MAX = 65536
PAYLOAD_MAX_DEFAULT = 16 << 30
MAX_RANK = 8
DIM_MAX = (1 << 63) - 1
U64 = 1 << 64

KINDS = {1: "tensor", 2: "tokens", 3: "frame", 4: "masks", 5: "text", 6: "end"}
KIND_VALUE = {v: k for k, v in KINDS.items()}
# value -> (name, element size, struct code)
DTYPES = {
    1: ("u8", 1, "B"), 2: ("i8", 1, "b"), 3: ("u16", 2, "H"), 4: ("i16", 2, "h"),
    5: ("u32", 4, "I"), 6: ("i32", 4, "i"), 7: ("u64", 8, "Q"), 8: ("i64", 8, "q"),
    9: ("f16", 2, "e"), 10: ("bf16", 2, None), 11: ("f32", 4, "f"), 12: ("f64", 8, "d"),
}
DTYPE_VALUE = {v[0]: k for k, v in DTYPES.items()}
INT_DTYPES = {1, 2, 3, 4, 5, 6, 7, 8}

# Header: magic, version, header_size, kind, dtype, rank, flags, meta_len,
# dims[8], payload_len, data_crc, reserved[32]; header_crc follows at 124.
HDR = struct.Struct("<4sHHBBBBI8QQI32s")
assert HDR.size == 124


# ---- CRC-32C (Castagnoli, reflected 0x82F63B78, init/final xor 0xFFFFFFFF)
def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _make_table()


def crc32c_update(crc, data):
    """Continue a CRC-32C; start with crc=0 (the pre/post inversion is inside)."""
    c = crc ^ 0xFFFFFFFF
    t = _T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc32c(data):
    return crc32c_update(0, data)


assert crc32c(b"123456789") == 0xE3069283


def pad_len(n):
    return (ALIGN - n % ALIGN) % ALIGN


class StreamError(Exception):
    """A data error. index is the 0-based record number (END records count)."""

    def __init__(self, index, msg):
        super().__init__("record %d: %s" % (index, msg))
        self.index = index
        self.msg = msg


class Record:
    __slots__ = ("index", "offset", "kind", "dtype", "dims", "meta_raw", "meta",
                 "payload", "payload_len", "data_crc")

    def __repr__(self):
        return "Record(%d %s %s %s %dB)" % (self.index, KINDS[self.kind],
                                            self.dtype_name(), self.dims, self.payload_len)

    def kind_name(self):
        return KINDS[self.kind]

    def dtype_name(self):
        return DTYPES[self.dtype][0] if self.dtype else None


def shape_bytes(dtype, dims):
    """Byte size of a shape, or None when it does not fit in 64 bits.

    AMBIGUOUS: with a 0 among the dims the exact product is 0 even when a
    prefix product overflows; the page does not say which is meant. rnl.py
    uses the exact product (the byte size itself must fit in 64 bits)."""
    n = DTYPES[dtype][1]
    for d in dims:
        n *= d
    return n if n < U64 else None


def check_meta(index, raw):
    """Validate metadata bytes; return the parsed object."""
    if len(raw) == 0:
        return {}
    if b"\0" in raw:
        raise StreamError(index, "metadata contains a NUL byte")
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as ex:
        raise StreamError(index, "metadata is not valid UTF-8 (byte %d)" % ex.start)

    def bad_constant(name):  # RFC 8259 has no NaN/Infinity
        raise ValueError("non-JSON constant " + name)

    try:
        obj = json.loads(text, parse_constant=bad_constant)
    except ValueError as ex:
        raise StreamError(index, "metadata is not JSON: %s" % ex)
    except RecursionError:
        # AMBIGUOUS: the page sets no nesting limit; Python's parser (like
        # most) has one, near 1000 levels.
        raise StreamError(index, "metadata nests too deeply to parse")
    if not isinstance(obj, dict):
        raise StreamError(index, "metadata is not a JSON object")
    # "only whitespace may follow the closing brace": json.loads already
    # allows only JSON whitespace (space, tab, LF, CR) around the value.
    return obj


def parse_header(index, hdr, payload_limit=PAYLOAD_MAX_DEFAULT, strict=True):
    """Check a 128-byte header in the order the man page lists; return fields."""
    (magic, version, hsize, kind, dtype, rank, flags, meta_len, d0, d1, d2, d3, d4, d5,
     d6, d7, payload_len, data_crc, reserved) = HDR.unpack_from(hdr, 0)
    dims8 = [d0, d1, d2, d3, d4, d5, d6, d7]
    (header_crc,) = struct.unpack_from("<I", hdr, 124)
    if magic != MAGIC:
        raise StreamError(index, "bad magic %r" % magic)
    if version != VERSION:
        raise StreamError(index, "unsupported version %d" % version)
    if hsize != HEADER_SIZE:
        raise StreamError(index, "bad header size %d" % hsize)
    if crc32c(hdr[:124]) != header_crc:
        raise StreamError(index, "header checksum mismatch")
    if kind not in KINDS:
        raise StreamError(index, "unknown kind %d" % kind)
    if kind == 6:
        if dtype != 0:
            raise StreamError(index, "END record with dtype %d" % dtype)
    elif dtype not in DTYPES:
        raise StreamError(index, "unknown dtype %d" % dtype)
    if rank > MAX_RANK:
        raise StreamError(index, "rank %d exceeds 8" % rank)
    if any(dims8[rank:]):
        raise StreamError(index, "nonzero dims beyond rank")
    dims = dims8[:rank]
    if any(d > DIM_MAX for d in dims):
        raise StreamError(index, "dimension exceeds 2^63-1")
    if kind == 6:
        if rank != 0 or payload_len != 0:
            raise StreamError(index, "END record with a shape or payload")
    else:
        size = shape_bytes(dtype, dims)
        if size is None:
            raise StreamError(index, "shape byte size overflows 64 bits")
        if size != payload_len:
            raise StreamError(index, "payload length %d does not match the shape (%d)"
                              % (payload_len, size))
    if meta_len > META_MAX:
        raise StreamError(index, "metadata length %d exceeds limit %d" % (meta_len, META_MAX))
    if payload_len > payload_limit:
        raise StreamError(index, "payload length %d exceeds limit %d"
                          % (payload_len, payload_limit))
    if strict:
        # AMBIGUOUS: the header table says flags and reserved are 0, but the
        # list of reader checks does not name them. rnl.py rejects nonzero.
        if flags != 0:
            raise StreamError(index, "nonzero flags")
        if any(reserved):
            raise StreamError(index, "nonzero reserved bytes")
        # AMBIGUOUS: the kinds table constrains dtype/rank per kind, but the
        # list of reader checks does not say readers enforce it. rnl.py does.
        if kind == 2 and (dtype not in INT_DTYPES or rank not in (1, 2)):
            raise StreamError(index, "tokens record must be integer, rank 1 or 2")
        if kind in (3, 4) and (dtype != 1 or rank != 3):
            raise StreamError(index, "%s record must be u8 rank 3" % KINDS[kind])
        if kind == 3 and not 1 <= dims[2] <= 4:
            raise StreamError(index, "frame channels %d not in 1..4" % dims[2])
        if kind == 5 and (dtype != 1 or rank != 1):
            raise StreamError(index, "text record must be u8 rank 1")
    return kind, dtype, dims, meta_len, payload_len, data_crc


def _read_exact(f, n):
    """Read up to n bytes (fewer only at end of input), in bounded chunks."""
    parts = []
    got = 0
    while got < n:
        b = f.read(min(n - got, 1 << 20))
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def read_stream(f, payload_limit=PAYLOAD_MAX_DEFAULT, keep_payload=True, strict=True):
    """Yield every Record of a binary file object (END records included).

    Raises StreamError on any damage. Memory: one record at a time; a payload
    is read in 1 MiB chunks, so a lying length costs only the bytes present.
    """
    index = 0
    offset = 0
    since_end = 0
    counts = {}
    last_was_end = False
    while True:
        hdr = _read_exact(f, HEADER_SIZE)
        if len(hdr) == 0:
            if index == 0:
                raise StreamError(0, "empty input is not a stream")
            if not last_was_end:
                raise StreamError(index, "stream ends without an END record (truncated)")
            return
        if len(hdr) < HEADER_SIZE:
            raise StreamError(index, "truncated header (%d of 128 bytes)" % len(hdr))
        kind, dtype, dims, meta_len, payload_len, data_crc = parse_header(
            index, hdr, payload_limit, strict)
        meta_raw = _read_exact(f, meta_len)
        if len(meta_raw) < meta_len:
            raise StreamError(index, "truncated metadata")
        mpad = _read_exact(f, pad_len(meta_len))
        if len(mpad) < pad_len(meta_len):
            raise StreamError(index, "truncated metadata padding")
        crc = crc32c_update(0, meta_raw) if meta_len else 0
        crc_state = crc ^ 0xFFFFFFFF
        parts = []
        got = 0
        t = _T
        while got < payload_len:
            b = f.read(min(payload_len - got, 1 << 20))
            if not b:
                raise StreamError(index, "truncated payload (%d of %d bytes)" % (got, payload_len))
            c = crc_state
            for x in b:
                c = t[(c ^ x) & 0xFF] ^ (c >> 8)
            crc_state = c
            if keep_payload:
                parts.append(b)
            got += len(b)
        ppad = _read_exact(f, pad_len(payload_len))
        if len(ppad) < pad_len(payload_len):
            raise StreamError(index, "truncated payload padding")
        # AMBIGUOUS: padding is "not covered by any checksum; writers set
        # them to 0" -- not said whether readers reject nonzero padding.
        # rnl.py accepts it.
        if (crc_state ^ 0xFFFFFFFF) != data_crc:
            raise StreamError(index, "data checksum mismatch")
        meta = check_meta(index, meta_raw)
        rec = Record()
        rec.index, rec.offset, rec.kind, rec.dtype, rec.dims = index, offset, kind, dtype, dims
        rec.meta_raw, rec.meta, rec.payload_len, rec.data_crc = meta_raw, meta, payload_len, data_crc
        rec.payload = b"".join(parts) if keep_payload else None
        if kind == 6:
            n = meta.get("records")
            if type(n) is not int or n < 0:
                raise StreamError(index, "END record without a records count")
            if n != since_end:
                raise StreamError(index, "END record counts %d records, stream had %d"
                                  % (n, since_end))
            # AMBIGUOUS: "counts" is described but not marked required, and
            # the page does not say a reader checks it. rnl.py checks it when
            # present (kinds with 0 records may be omitted).
            if "counts" in meta:
                c = meta["counts"]
                if not isinstance(c, dict) or any(
                        type(v) is not int or c.get(k, 0) != counts.get(k, 0)
                        for k in set(c) | set(counts) for v in [c.get(k, 0)]):
                    raise StreamError(index, "END record counts per kind disagree")
            since_end = 0
            counts = {}
            last_was_end = True
        else:
            since_end += 1
            counts[KINDS[kind]] = counts.get(KINDS[kind], 0) + 1
            last_was_end = False
        yield rec
        index += 1
        offset += HEADER_SIZE + meta_len + pad_len(meta_len) + payload_len + pad_len(payload_len)


def read_bytes(data, **kw):
    import io
    return list(read_stream(io.BytesIO(data), **kw))


# ---- writing ---------------------------------------------------------------

def encode_meta(meta):
    if meta is None:
        return b""
    if isinstance(meta, (bytes, bytearray)):
        return bytes(meta)
    if isinstance(meta, str):
        return meta.encode("utf-8")
    return json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_record(kind_, dtype_, dims, payload=b"", meta=None, **raw):
    """Bytes of one record. Any header field may be overridden through raw
    (magic, version, header_size, kind, dtype, rank, flags, meta_len, dims8,
    payload_len, data_crc, reserved, header_crc) to build hostile input;
    without overrides the record is valid."""
    kind = KIND_VALUE[kind_] if isinstance(kind_, str) else kind_
    dtype = DTYPE_VALUE[dtype_] if isinstance(dtype_, str) else (dtype_ or 0)
    dims = list(dims)
    m = encode_meta(meta)
    payload = bytes(payload)
    dims8 = raw.get("dims8", dims + [0] * (8 - len(dims)))
    data_crc = raw.get("data_crc", crc32c(m + payload) if (m or payload) else 0)
    h = HDR.pack(raw.get("magic", MAGIC), raw.get("version", VERSION),
                 raw.get("header_size", HEADER_SIZE), raw.get("kind", kind),
                 raw.get("dtype", dtype), raw.get("rank", len(dims)), raw.get("flags", 0),
                 raw.get("meta_len", len(m)), *dims8,
                 raw.get("payload_len", len(payload)), data_crc,
                 raw.get("reserved", bytes(32)))
    h += struct.pack("<I", raw.get("header_crc", crc32c(h)))
    return h + m + bytes(pad_len(len(m))) + payload + bytes(pad_len(len(payload)))


class Writer:
    """Writes records to a binary file object; close() writes the END record."""

    def __init__(self, f):
        self.f = f
        self.records = 0
        self.counts = {}

    def write(self, kind, dtype, dims, payload=b"", meta=None):
        kind = KIND_VALUE[kind] if isinstance(kind, str) else kind
        if isinstance(dtype, str):
            dtype = DTYPE_VALUE[dtype]
        if kind == 6 or kind not in KINDS:
            raise ValueError("bad kind")
        if len(dims) > MAX_RANK:
            raise ValueError("rank > 8")
        if shape_bytes(dtype, dims) != len(payload):
            raise ValueError("payload length does not match the shape")
        m = encode_meta(meta)
        if len(m) > META_MAX:
            raise ValueError("metadata too long")
        check_meta(self.records, m)
        self.f.write(encode_record(kind, dtype, dims, payload, m))
        self.records += 1
        name = KINDS[kind]
        self.counts[name] = self.counts.get(name, 0) + 1

    def close(self):
        # counts in kind-value order (the page does not fix an order)
        counts = {KINDS[k]: self.counts[KINDS[k]] for k in sorted(KINDS) if KINDS[k] in self.counts}
        meta = {"records": self.records, "counts": counts}
        self.f.write(encode_record(6, 0, [], b"", meta))
        self.records = 0
        self.counts = {}
        self.f.flush()


# ---- values ----------------------------------------------------------------

def pack_values(dtype, values):
    """Pack Python numbers as a payload (bf16: the upper half of an f32)."""
    if isinstance(dtype, str):
        dtype = DTYPE_VALUE[dtype]
    name, _, code = DTYPES[dtype]
    if name == "bf16":
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<%d%s" % (len(values), code), *values)


def unpack_values(dtype, payload):
    if isinstance(dtype, str):
        dtype = DTYPE_VALUE[dtype]
    name, size, code = DTYPES[dtype]
    if name == "bf16":
        return [struct.unpack("<f", b"\0\0" + payload[i:i + 2])[0]
                for i in range(0, len(payload), 2)]
    return list(struct.unpack("<%d%s" % (len(payload) // size, code), payload))


def record_json(rec):
    return {"index": rec.index, "offset": rec.offset, "kind": rec.kind_name(),
            "dtype": rec.dtype_name(), "shape": rec.dims, "bytes": rec.payload_len,
            "meta": rec.meta, "meta_sha256": hashlib.sha256(rec.meta_raw).hexdigest(),
            "sha256": hashlib.sha256(rec.payload).hexdigest() if rec.payload is not None else None}


def main(argv):
    args = argv[1:]
    limit = PAYLOAD_MAX_DEFAULT
    if not args or args[0] not in ("list", "check"):
        sys.stderr.write("usage: rnl.py list|check [--limit BYTES] [FILE|-]\n")
        return 2
    cmd = args.pop(0)
    if args[:1] == ["--limit"]:
        limit = int(args[1])
        args = args[2:]
    path = args[0] if args else "-"
    name = "stdin" if path == "-" else path
    try:
        f = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as ex:
        sys.stderr.write("rnl: %s: %s\n" % (name, ex.strerror))
        return 1
    try:
        for rec in read_stream(f, payload_limit=limit):
            if cmd == "list":
                sys.stdout.write(json.dumps(record_json(rec), ensure_ascii=False,
                                            separators=(",", ":")) + "\n")
    except StreamError as ex:
        sys.stdout.flush()
        sys.stderr.write("rnl: %s: %s\n" % (name, ex))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
