/* stream — see stream.h for the byte layout and the contract. */
#include "stream.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define WRITE_BUF (1u << 20)
#define READ_BUF (1u << 20)
/* A payload buffer starts at most this big and doubles as bytes arrive, so
 * a header that lies about its length costs memory only for real bytes. */
#define PAYLOAD_FIRST_ALLOC ((uint64_t)64 << 20)

static const char *kind_names[RN_KIND_COUNT] = {"?", "tensor", "tokens", "frame",
                                                "masks", "text", "end"};

const char *rn_kind_name(int kind)
{
    return kind > 0 && kind < RN_KIND_COUNT ? kind_names[kind] : "?";
}

int rn_kind_from_name(const char *name)
{
    for (int k = 1; k < RN_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return RN_KIND_INVALID;
}

static uint64_t pad64(uint64_t n) { return (RN_PAD - n % RN_PAD) % RN_PAD; }

static void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* ---- validation shared by reader and writer ----------------------------- */

/* Returns the offset of the first invalid byte, or len if s is valid UTF-8
 * (no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return i;
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

int rn_meta_validate(const char *meta, size_t len, struct rn_err *e)
{
    if (len == 0)
        return RN_OK;
    if (len > RN_META_MAX)
        return rn_err_set(e, RN_ELIMIT, NULL, "metadata length %zu exceeds limit %d", len,
                          RN_META_MAX);
    size_t bad = utf8_check((const unsigned char *)meta, len);
    if (bad < len)
        return rn_err_set(e, RN_EFORMAT, NULL, "metadata is not valid UTF-8 (byte %zu)", bad);
    /* RFC 8259 allows no raw control characters (in strings they must be
     * escaped; outside only tab, newline and return) and no BOM. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)meta[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "metadata contains control character 0x%02x (byte %zu)", c, i);
    }
    if (len >= 3 && memcmp(meta, "\xEF\xBB\xBF", 3) == 0)
        return rn_err_set(e, RN_EFORMAT, NULL, "metadata starts with a byte order mark");
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(meta, len, &end, 0);
    int ok = j && cJSON_IsObject(j);
    cJSON_Delete(j);
    if (ok) /* only whitespace may follow the object */
        for (const char *p = end; p < meta + len; p++)
            if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
                ok = 0;
    if (!ok)
        return rn_err_set(e, RN_EFORMAT, NULL, "metadata is not a JSON object: %.40s%s", meta,
                          len > 40 ? "..." : "");
    return RN_OK;
}

int rn_record_validate_shape(int kind, int dtype, int rank, const int64_t *dims,
                             uint64_t payload_len, struct rn_err *e)
{
    if (kind <= RN_KIND_INVALID || kind >= RN_KIND_COUNT)
        return rn_err_set(e, RN_EFORMAT, NULL, "unknown record kind %d", kind);
    if (rank < 0 || rank > RN_MAX_RANK)
        return rn_err_set(e, RN_EFORMAT, NULL, "rank %d exceeds %d", rank, RN_MAX_RANK);
    if (kind == RN_KIND_END) {
        if (dtype != RN_DTYPE_INVALID || rank != 0 || payload_len != 0)
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "END record must have no dtype, rank 0 and no payload");
        return RN_OK;
    }
    if (rn_dtype_size(dtype) == 0)
        return rn_err_set(e, RN_EFORMAT, NULL, "unknown dtype %d", dtype);
    char shape[160];
    const char *kn = kind_names[kind];
    switch (kind) {
    case RN_KIND_TOKENS:
        if (!rn_dtype_is_int(dtype) || (rank != 1 && rank != 2))
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "tokens record must be integers of rank 1 or 2 (got %s, rank %d)",
                              rn_dtype_name(dtype), rank);
        break;
    case RN_KIND_FRAME:
        if (dtype != RN_DTYPE_U8 || rank != 3 || dims[2] < 1 || dims[2] > 4)
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "frame record must be u8 H x W x C with C in 1..4 (got %s %s)",
                              rn_dtype_name(dtype), rn_shape_format(rank, dims, shape, sizeof shape));
        break;
    case RN_KIND_MASKS:
    case RN_KIND_TEXT:
        if (dtype != RN_DTYPE_U8 || rank != (kind == RN_KIND_MASKS ? 3 : 1))
            return rn_err_set(e, RN_EFORMAT, NULL, "%s record must be u8 of rank %d (got %s, rank %d)",
                              kn, kind == RN_KIND_MASKS ? 3 : 1, rn_dtype_name(dtype), rank);
        break;
    default:
        break;
    }
    uint64_t nbytes;
    int rc = rn_shape_nbytes(dtype, rank, dims, &nbytes, e);
    if (rc < 0)
        return rc;
    if (nbytes != payload_len)
        return rn_err_set(e, RN_EFORMAT, NULL,
                          "payload length %" PRIu64 " does not match shape %s of %s (%" PRIu64
                          " bytes)",
                          payload_len, rn_shape_format(rank, dims, shape, sizeof shape),
                          rn_dtype_name(dtype), nbytes);
    return RN_OK;
}

/* ---- records ------------------------------------------------------------- */

void rn_record_free(struct rn_record *rec)
{
    if (!rec)
        return;
    free(rec->meta);
    rn_aligned_free(rec->payload_buf_);
    memset(rec, 0, sizeof *rec);
}

int rn_record_tensor(const struct rn_record *rec, struct rn_tensor *t, struct rn_err *e)
{
    if (rec->payload_len && !rec->payload)
        return rn_err_set(e, RN_EUSAGE, NULL, "record %" PRIu64 ": payload was not read",
                          rec->index);
    return rn_tensor_view(t, rec->dtype, rec->rank, rec->dims, rec->payload, e);
}

/* ---- writer -------------------------------------------------------------- */

static int w_flush(struct rn_stream_writer *w, struct rn_err *e)
{
    if (w->buf_len == 0)
        return RN_OK;
    int rc = rn_outfile_write(&w->out, w->buf, w->buf_len, e);
    w->buf_len = 0;
    return rc;
}

static int w_put(struct rn_stream_writer *w, const void *data, uint64_t n, struct rn_err *e)
{
    w->bytes += n;
    if (n >= w->buf_cap) { /* big payloads skip the copy */
        int rc = w_flush(w, e);
        return rc < 0 ? rc : rn_outfile_write(&w->out, data, n, e);
    }
    if (w->buf_len + n > w->buf_cap) {
        int rc = w_flush(w, e);
        if (rc < 0)
            return rc;
    }
    memcpy(w->buf + w->buf_len, data, n);
    w->buf_len += n;
    return RN_OK;
}

static int w_pad(struct rn_stream_writer *w, uint64_t n, struct rn_err *e)
{
    static const unsigned char zeros[RN_PAD];
    return n ? w_put(w, zeros, n, e) : RN_OK;
}

static int writer_init(struct rn_stream_writer *w, struct rn_err *e)
{
    w->buf_cap = WRITE_BUF;
    w->buf = malloc(w->buf_cap);
    if (!w->buf)
        return rn_err_set(e, RN_ENOMEM, w->name, "out of memory");
    return RN_OK;
}

int rn_stream_writer_open(struct rn_stream_writer *w, const char *path, struct rn_err *e)
{
    memset(w, 0, sizeof *w);
    int rc = rn_outfile_open(&w->out, path, e);
    if (rc < 0)
        return rc;
    w->own_out = 1;
    w->name = w->out.name;
    rc = writer_init(w, e);
    if (rc < 0)
        rn_stream_writer_abort(w);
    return rc;
}

int rn_stream_writer_open_fd(struct rn_stream_writer *w, int fd, const char *name,
                             struct rn_err *e)
{
    memset(w, 0, sizeof *w);
    w->out.fd = fd;
    w->out.name = name;
    w->name = name;
    return writer_init(w, e);
}

static void header_pack(unsigned char *h, int kind, int dtype, int rank, const int64_t *dims,
                        uint32_t meta_len, uint64_t payload_len, uint32_t crc)
{
    memset(h, 0, RN_HEADER_SIZE);
    memcpy(h, RN_STREAM_MAGIC, 4);
    put_u16(h + 4, RN_STREAM_VERSION);
    put_u16(h + 6, RN_HEADER_SIZE);
    h[8] = (unsigned char)kind;
    h[9] = (unsigned char)dtype;
    h[10] = (unsigned char)rank;
    put_u32(h + 12, meta_len);
    for (int i = 0; i < rank; i++)
        put_u64(h + 16 + 8 * i, (uint64_t)dims[i]);
    put_u64(h + 80, payload_len);
    put_u32(h + 88, crc);
    put_u32(h + 124, rn_crc32c(0, h, 124));
}

static int write_raw(struct rn_stream_writer *w, int kind, int dtype, int rank,
                     const int64_t *dims, const char *meta, size_t meta_len,
                     const void *payload, uint64_t payload_len, struct rn_err *e)
{
    uint32_t crc = rn_crc32c(0, meta, meta_len);
    crc = rn_crc32c(crc, payload, payload_len);
    unsigned char h[RN_HEADER_SIZE];
    header_pack(h, kind, dtype, rank, dims, (uint32_t)meta_len, payload_len, crc);
    int rc = w_put(w, h, sizeof h, e);
    if (rc == RN_OK && meta_len)
        rc = w_put(w, meta, meta_len, e);
    if (rc == RN_OK)
        rc = w_pad(w, pad64(meta_len), e);
    if (rc == RN_OK && payload_len)
        rc = w_put(w, payload, payload_len, e);
    if (rc == RN_OK)
        rc = w_pad(w, pad64(payload_len), e);
    return rc;
}

int rn_stream_write(struct rn_stream_writer *w, int kind, int dtype, int rank,
                    const int64_t *dims, const char *meta, const void *payload,
                    uint64_t payload_len, struct rn_err *e)
{
    if (kind == RN_KIND_END)
        return rn_err_set(e, RN_EUSAGE, w->name, "END records are written by close");
    size_t meta_len = meta ? strlen(meta) : 0;
    int rc = rn_record_validate_shape(kind, dtype, rank, dims, payload_len, e);
    if (rc == RN_OK)
        rc = rn_meta_validate(meta, meta_len, e);
    if (rc < 0) {
        rn_err_prefix(e, "record %" PRIu64 ": ", w->records);
        if (e)
            snprintf(e->where, sizeof e->where, "%s", w->name);
        return rc;
    }
    if (payload_len && !payload)
        return rn_err_set(e, RN_EUSAGE, w->name, "record %" PRIu64 ": no payload", w->records);
    rc = write_raw(w, kind, dtype, rank, dims, meta, meta_len, payload, payload_len, e);
    if (rc < 0)
        return rc;
    w->records++;
    w->kind_counts[kind]++;
    return RN_OK;
}

int rn_stream_write_record(struct rn_stream_writer *w, const struct rn_record *rec,
                           struct rn_err *e)
{
    if (rec->kind == RN_KIND_END)
        return RN_OK;
    return rn_stream_write(w, rec->kind, rec->dtype, rec->rank, rec->dims,
                           rec->meta_len ? rec->meta : NULL, rec->payload, rec->payload_len, e);
}

int rn_stream_writer_close(struct rn_stream_writer *w, struct rn_err *e)
{
    /* The END record says how many records precede it, per kind too, so a
     * reader can tell a whole stream from one cut at a record boundary. */
    char meta[512];
    int n = snprintf(meta, sizeof meta, "{\"records\":%" PRIu64 ",\"counts\":{", w->records);
    int first = 1;
    for (int k = 1; k < RN_KIND_COUNT; k++)
        if (w->kind_counts[k]) {
            n += snprintf(meta + n, sizeof meta - (size_t)n, "%s\"%s\":%" PRIu64, first ? "" : ",",
                          kind_names[k], w->kind_counts[k]);
            first = 0;
        }
    snprintf(meta + n, sizeof meta - (size_t)n, "}}");
    int64_t nodims[1] = {0};
    int rc = write_raw(w, RN_KIND_END, RN_DTYPE_INVALID, 0, nodims, meta, strlen(meta), NULL, 0, e);
    if (rc == RN_OK)
        rc = w_flush(w, e);
    if (w->own_out) {
        if (rc == RN_OK)
            rc = rn_outfile_commit(&w->out, e);
        else
            rn_outfile_abort(&w->out);
    }
    free(w->buf);
    memset(w, 0, sizeof *w);
    return rc;
}

void rn_stream_writer_abort(struct rn_stream_writer *w)
{
    if (!w)
        return;
    if (w->own_out)
        rn_outfile_abort(&w->out);
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* ---- reader -------------------------------------------------------------- */

static int reader_common(struct rn_stream_reader *r, const char *name, struct rn_err *e)
{
    r->name = strdup(name);
    r->max_payload = RN_PAYLOAD_MAX_DEFAULT;
    if (!r->name)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    return RN_OK;
}

int rn_stream_reader_open_fd(struct rn_stream_reader *r, int fd, const char *name,
                             struct rn_err *e)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    int rc = reader_common(r, name, e);
    if (rc < 0)
        return rc;
    /* A regular file (stdin too, when redirected from one) tells how much is
     * left, so cut records are caught before their payload is allocated. */
    struct stat st;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= 0 && st.st_size >= pos)
        r->file_size = (uint64_t)(st.st_size - pos);
    r->buf_cap = READ_BUF;
    r->buf = malloc(r->buf_cap);
    if (!r->buf) {
        rn_stream_reader_close(r);
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    }
    return RN_OK;
}

int rn_stream_reader_open(struct rn_stream_reader *r, const char *path, int flags,
                          struct rn_err *e)
{
    const char *name = rn_io_name(path, 0);
    if (!path || strcmp(path, "-") == 0)
        return rn_stream_reader_open_fd(r, 0, name, e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        memset(r, 0, sizeof *r);
        r->fd = -1;
        return rn_err_errno(e, path, "cannot open");
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        memset(r, 0, sizeof *r);
        r->fd = -1;
        return rn_err_set(e, RN_EIO, path, "is a directory");
    }
    if ((flags & RN_OPEN_MMAP) && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            int rc = rn_stream_reader_open_mem(r, m, (size_t)st.st_size, path, e);
            r->mapped = 1;
            if (rc < 0)
                munmap(m, (size_t)st.st_size);
            return rc;
        }
    }
    int rc = rn_stream_reader_open_fd(r, fd, path, e);
    r->own_fd = 1;
    if (rc < 0)
        close(fd);
    return rc;
}

int rn_stream_reader_open_mem(struct rn_stream_reader *r, const void *data, size_t len,
                              const char *name, struct rn_err *e)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->mem = data;
    r->mem_len = len;
    r->file_size = len;
    return reader_common(r, name, e);
}

void rn_stream_reader_close(struct rn_stream_reader *r)
{
    if (!r)
        return;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    if (r->mapped)
        munmap((void *)r->mem, r->mem_len);
    free(r->buf);
    free(r->name);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

/* Copy up to n bytes from the source; *got < n only at end of input. */
static int src_read(struct rn_stream_reader *r, void *dst, uint64_t n, uint64_t *got,
                    struct rn_err *e)
{
    unsigned char *d = dst;
    *got = 0;
    if (r->mem) {
        uint64_t avail = r->mem_len - r->offset;
        uint64_t k = n < avail ? n : avail;
        memcpy(d, r->mem + r->offset, k);
        r->offset += k;
        *got = k;
        return RN_OK;
    }
    while (*got < n) {
        if (r->buf_pos < r->buf_len) {
            uint64_t k = r->buf_len - r->buf_pos;
            if (k > n - *got)
                k = n - *got;
            memcpy(d + *got, r->buf + r->buf_pos, k);
            r->buf_pos += k;
            *got += k;
            r->offset += k;
            continue;
        }
        uint64_t want = n - *got;
        size_t g;
        int rc;
        if (want >= r->buf_cap) { /* large reads go straight to the caller */
            size_t chunk = want > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)want;
            rc = rn_read_full(r->fd, d + *got, chunk, &g, r->name, e);
            if (rc < 0)
                return rc;
            *got += g;
            r->offset += g;
            if (g < chunk)
                return RN_OK;
            continue;
        }
        /* One read() per refill: on a pipe, block only for what is there. */
        ssize_t k;
        do
            k = read(r->fd, r->buf, r->buf_cap);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            return rn_err_errno(e, r->name, "read failed");
        if (k == 0)
            return RN_OK;
        r->buf_pos = 0;
        r->buf_len = (size_t)k;
    }
    return RN_OK;
}

/* Consume n bytes, feeding them to the CRC when crc is non-NULL. */
static int src_skip(struct rn_stream_reader *r, uint64_t n, uint32_t *crc, uint64_t *got,
                    struct rn_err *e)
{
    *got = 0;
    if (r->mem) {
        uint64_t avail = r->mem_len - r->offset;
        uint64_t k = n < avail ? n : avail;
        if (crc)
            *crc = rn_crc32c(*crc, r->mem + r->offset, k);
        r->offset += k;
        *got = k;
        return RN_OK;
    }
    unsigned char tmp[1 << 16];
    while (*got < n) {
        uint64_t want = n - *got < sizeof tmp ? n - *got : sizeof tmp;
        uint64_t g;
        int rc = src_read(r, tmp, want, &g, e);
        if (rc < 0)
            return rc;
        if (crc)
            *crc = rn_crc32c(*crc, tmp, g);
        *got += g;
        if (g < want)
            break;
    }
    return RN_OK;
}

/* Every reader message names the record: "record 3: ...". */
static int rec_err(struct rn_stream_reader *r, struct rn_err *e, uint64_t idx, int code,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int rec_err(struct rn_stream_reader *r, struct rn_err *e, uint64_t idx, int code,
                   const char *fmt, ...)
{
    if (!e)
        return code;
    char msg[RN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rn_err_set(e, code, r->name, "record %" PRIu64 ": %s", idx, msg);
}

/* Check the fixed header and fill the shape fields of rec. */
static int header_parse(struct rn_stream_reader *r, const unsigned char *h, struct rn_record *rec,
                        uint64_t idx, struct rn_err *e)
{
    if (memcmp(h, RN_STREAM_MAGIC, 4) != 0) {
        if (idx == 0)
            return rec_err(r, e, idx, RN_EFORMAT,
                           "bad magic %02x %02x %02x %02x: not a runnel stream", h[0], h[1],
                           h[2], h[3]);
        return rec_err(r, e, idx, RN_EFORMAT,
                       "bad magic %02x %02x %02x %02x at byte %" PRIu64
                       ": stream corrupted or misaligned",
                       h[0], h[1], h[2], h[3], rec->offset);
    }
    unsigned version = get_u16(h + 4), hsize = get_u16(h + 6);
    if (version != RN_STREAM_VERSION)
        return rec_err(r, e, idx, RN_EFORMAT, "unsupported format version %u (this reader knows %d)",
                       version, RN_STREAM_VERSION);
    if (hsize != RN_HEADER_SIZE)
        return rec_err(r, e, idx, RN_EFORMAT, "header size %u, expected %d", hsize, RN_HEADER_SIZE);
    uint32_t stored = get_u32(h + 124), computed = rn_crc32c(0, h, 124);
    if (stored != computed)
        return rec_err(r, e, idx, RN_EFORMAT,
                       "header checksum mismatch (stored %08x, computed %08x): header corrupted",
                       stored, computed);
    if (h[11] != 0)
        return rec_err(r, e, idx, RN_EFORMAT, "flags %02x set: unknown to this version-1 reader",
                       h[11]);
    for (int i = 92; i < 124; i++)
        if (h[i] != 0)
            return rec_err(r, e, idx, RN_EFORMAT, "reserved header byte %d is not zero", i);
    rec->kind = h[8];
    rec->dtype = h[9];
    rec->rank = h[10];
    uint32_t meta_len = get_u32(h + 12);
    rec->payload_len = get_u64(h + 80);
    rec->crc = get_u32(h + 88);
    if (rec->kind <= RN_KIND_INVALID || rec->kind >= RN_KIND_COUNT)
        return rec_err(r, e, idx, RN_EFORMAT, "unknown record kind %d", rec->kind);
    if (rec->rank > RN_MAX_RANK)
        return rec_err(r, e, idx, RN_EFORMAT, "rank %d exceeds %d", rec->rank, RN_MAX_RANK);
    memset(rec->dims, 0, sizeof rec->dims);
    for (int i = 0; i < RN_MAX_RANK; i++) {
        uint64_t d = get_u64(h + 16 + 8 * i);
        if (i >= rec->rank && d != 0)
            return rec_err(r, e, idx, RN_EFORMAT, "dimension %d set beyond rank %d", i, rec->rank);
        if (d > (uint64_t)INT64_MAX)
            return rec_err(r, e, idx, RN_ELIMIT, "dimension %d (%" PRIu64 ") exceeds 2^63-1", i, d);
        rec->dims[i] = (int64_t)d;
    }
    if (meta_len > RN_META_MAX)
        return rec_err(r, e, idx, RN_ELIMIT, "metadata length %" PRIu32 " exceeds limit %d",
                       meta_len, RN_META_MAX);
    rec->meta_len = meta_len;
    if (rec->payload_len > r->max_payload)
        return rec_err(r, e, idx, RN_ELIMIT,
                       "payload length %" PRIu64 " (%.3g) exceeds limit %" PRIu64, rec->payload_len,
                       (double)rec->payload_len, r->max_payload);
    struct rn_err sub = {0};
    int rc = rn_record_validate_shape(rec->kind, rec->dtype, rec->rank, rec->dims,
                                      rec->payload_len, &sub);
    if (rc < 0)
        return rec_err(r, e, idx, rc, "%s", sub.msg);
    /* A regular file tells its size: reject a cut record before allocating. */
    uint64_t need = RN_HEADER_SIZE + meta_len + pad64(meta_len) + rec->payload_len +
                    pad64(rec->payload_len);
    if (r->file_size && rec->offset + need > r->file_size) {
        uint64_t have = r->file_size - rec->offset;
        const char *what = have < RN_HEADER_SIZE + meta_len ? "metadata" :
                           have < RN_HEADER_SIZE + meta_len + pad64(meta_len) ? "metadata padding" :
                           have < need - pad64(rec->payload_len) ? "payload" : "payload padding";
        return rec_err(r, e, idx, RN_EFORMAT,
                       "truncated %s: record needs %" PRIu64 " bytes, input has %" PRIu64, what,
                       need, have);
    }
    return RN_OK;
}

static int read_meta(struct rn_stream_reader *r, struct rn_record *rec, uint64_t idx,
                     uint32_t *crc, struct rn_err *e)
{
    uint32_t n = rec->meta_len;
    if ((size_t)n + 1 > rec->meta_cap_) {
        char *m = realloc(rec->meta, (size_t)n + 1);
        if (!m)
            return rec_err(r, e, idx, RN_ENOMEM, "out of memory for metadata");
        rec->meta = m;
        rec->meta_cap_ = (size_t)n + 1;
    }
    uint64_t got;
    int rc = src_read(r, rec->meta, n, &got, e);
    if (rc < 0)
        return rc;
    if (got < n)
        return rec_err(r, e, idx, RN_EFORMAT, "truncated metadata (got %" PRIu64 " of %" PRIu32 " bytes)",
                       got, n);
    rec->meta[n] = '\0';
    *crc = rn_crc32c(*crc, rec->meta, n);
    uint64_t pad = pad64(n);
    rc = src_skip(r, pad, NULL, &got, e);
    if (rc < 0)
        return rc;
    if (got < pad)
        return rec_err(r, e, idx, RN_EFORMAT, "truncated metadata padding (got %" PRIu64 " of %" PRIu64 " bytes)",
                       got, pad);
    return RN_OK;
}

/* Read the payload into rec's own buffer, growing it as bytes arrive. */
static int read_payload_owned(struct rn_stream_reader *r, struct rn_record *rec, uint64_t idx,
                              uint32_t *crc, int verify, struct rn_err *e)
{
    uint64_t n = rec->payload_len, have = 0;
    while (have < n) {
        if (rec->payload_cap_ <= have) {
            uint64_t cap = rec->payload_cap_ ? (uint64_t)rec->payload_cap_ * 2 : PAYLOAD_FIRST_ALLOC;
            if (cap > n)
                cap = n;
            if (cap > SIZE_MAX)
                return rec_err(r, e, idx, RN_ELIMIT, "payload does not fit in memory");
            void *nb = rn_aligned_alloc((size_t)cap);
            if (!nb)
                return rec_err(r, e, idx, RN_ENOMEM, "out of memory for a %" PRIu64 "-byte payload", cap);
            if (have)
                memcpy(nb, rec->payload_buf_, have);
            rn_aligned_free(rec->payload_buf_);
            rec->payload_buf_ = nb;
            rec->payload_cap_ = (size_t)cap;
        }
        uint64_t upto = rec->payload_cap_ < n ? rec->payload_cap_ : n;
        uint64_t want = upto - have, got;
        int rc = src_read(r, (unsigned char *)rec->payload_buf_ + have, want, &got, e);
        if (rc < 0)
            return rc;
        if (verify)
            *crc = rn_crc32c(*crc, (unsigned char *)rec->payload_buf_ + have, got);
        have += got;
        if (got < want)
            return rec_err(r, e, idx, RN_EFORMAT,
                           "truncated payload (got %" PRIu64 " of %" PRIu64 " bytes)", have, n);
    }
    rec->payload = rec->payload_buf_;
    return RN_OK;
}

/* A JSON number that is a whole count a double holds exactly. */
static int json_count(const cJSON *n, uint64_t *v)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9007199254740992.0 ||
        n->valuedouble != (double)(uint64_t)n->valuedouble)
        return 0;
    *v = (uint64_t)n->valuedouble;
    return 1;
}

/* The END record must count exactly the records since the previous END,
 * in total and, when it lists them, per kind. */
static int check_end(struct rn_stream_reader *r, struct rn_record *rec, uint64_t idx,
                     struct rn_err *e)
{
    cJSON *j = cJSON_ParseWithLength(rec->meta, rec->meta_len);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "records");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(j, "counts");
    uint64_t v;
    int rc = RN_OK;
    if (!n)
        rc = rec_err(r, e, idx, RN_EFORMAT, "END record without a \"records\" count");
    else if (!json_count(n, &v))
        rc = rec_err(r, e, idx, RN_EFORMAT, "END record's \"records\" is not a whole number");
    else if (v != r->since_end)
        rc = rec_err(r, e, idx, RN_EFORMAT,
                     "END record counts %" PRIu64 " records but %" PRIu64
                     " came before it: records lost or added",
                     v, r->since_end);
    else if (counts && !cJSON_IsObject(counts))
        rc = rec_err(r, e, idx, RN_EFORMAT, "END record's \"counts\" is not an object");
    for (const cJSON *c = counts ? counts->child : NULL; rc == RN_OK && c; c = c->next) {
        int k = rn_kind_from_name(c->string);
        if (k == RN_KIND_INVALID || k == RN_KIND_END || !json_count(c, &v))
            rc = rec_err(r, e, idx, RN_EFORMAT, "END record's \"counts\" has a bad entry \"%s\"",
                         c->string);
        else if (v != r->kind_counts[k])
            rc = rec_err(r, e, idx, RN_EFORMAT,
                         "END record counts %" PRIu64 " %s records but %" PRIu64
                         " came before it",
                         v, c->string, r->kind_counts[k]);
    }
    for (int k = 1; counts && rc == RN_OK && k < RN_KIND_END; k++)
        if (r->kind_counts[k] && !cJSON_GetObjectItemCaseSensitive(counts, kind_names[k]))
            rc = rec_err(r, e, idx, RN_EFORMAT, "END record's \"counts\" leaves out %" PRIu64
                         " %s records", r->kind_counts[k], kind_names[k]);
    cJSON_Delete(j);
    return rc;
}

int rn_stream_read(struct rn_stream_reader *r, struct rn_record *rec, int flags,
                   struct rn_err *e)
{
    uint64_t idx = r->index;
    unsigned char h[RN_HEADER_SIZE];
    uint64_t got;
    rec->payload = NULL;
    rec->crc_ok = 0;
    rec->offset = r->offset;
    rec->index = idx;
    int rc = src_read(r, h, sizeof h, &got, e);
    if (rc < 0)
        return rc;
    if (got == 0) {
        if (r->after_end)
            return RN_EOF;
        if (idx == 0)
            return rn_err_set(e, RN_EFORMAT, r->name,
                              "empty input: a runnel stream holds at least an END record");
        return rec_err(r, e, idx, RN_EFORMAT,
                       "missing: input ends after record %" PRIu64 " without an END record",
                       idx - 1);
    }
    if (got < sizeof h)
        return rec_err(r, e, idx, RN_EFORMAT, "truncated header (got %" PRIu64 " of %d bytes)", got,
                       RN_HEADER_SIZE);
    r->after_end = 0;
    rc = header_parse(r, h, rec, idx, e);
    if (rc < 0)
        return rc;
    uint32_t crc = 0;
    rc = read_meta(r, rec, idx, &crc, e);
    if (rc < 0)
        return rc;
    int verify = !(flags & RN_READ_NO_VERIFY);
    uint64_t n = rec->payload_len;
    if (flags & RN_READ_SKIP_PAYLOAD) {
        rc = src_skip(r, n, verify ? &crc : NULL, &got, e);
        if (rc < 0)
            return rc;
        if (got < n)
            return rec_err(r, e, idx, RN_EFORMAT,
                           "truncated payload (got %" PRIu64 " of %" PRIu64 " bytes)", got, n);
    } else if (r->mem) {
        /* Zero copy: the payload stays in the mapping (or caller's memory). */
        rec->payload = n ? (void *)(r->mem + r->offset) : NULL;
        if (verify)
            crc = rn_crc32c(crc, r->mem + r->offset, n);
        r->offset += n;
    } else if (n) {
        rc = read_payload_owned(r, rec, idx, &crc, verify, e);
        if (rc < 0)
            return rc;
    }
    uint64_t pad = pad64(n);
    rc = src_skip(r, pad, NULL, &got, e);
    if (rc < 0)
        return rc;
    if (got < pad)
        return rec_err(r, e, idx, RN_EFORMAT,
                       "truncated payload padding (got %" PRIu64 " of %" PRIu64 " bytes)", got, pad);
    if (verify) {
        if (crc != rec->crc)
            return rec_err(r, e, idx, RN_EFORMAT,
                           "checksum mismatch (stored %08x, computed %08x): data corrupted",
                           rec->crc, crc);
        rec->crc_ok = 1;
    }
    struct rn_err sub = {0};
    rc = rn_meta_validate(rec->meta, rec->meta_len, &sub);
    if (rc < 0)
        return rec_err(r, e, idx, rc, "%s", sub.msg);
    if (rec->meta_len == 0) {
        if (rec->meta_cap_ < 3) {
            char *m = realloc(rec->meta, 3);
            if (!m)
                return rec_err(r, e, idx, RN_ENOMEM, "out of memory");
            rec->meta = m;
            rec->meta_cap_ = 3;
        }
        memcpy(rec->meta, "{}", 3);
    }
    r->index++;
    if (rec->kind == RN_KIND_END) {
        rc = check_end(r, rec, idx, e);
        if (rc < 0)
            return rc;
        r->since_end = 0;
        memset(r->kind_counts, 0, sizeof r->kind_counts);
        r->after_end = 1;
    } else {
        r->since_end++;
        r->kind_counts[rec->kind]++;
    }
    return RN_OK;
}
