/* npy — see npy.h. The format (numpy/lib/format.py, NEP 1):
 *
 *   "\x93NUMPY" u8 major u8 minor   header length: u16 LE (1.0), u32 LE (2.0, 3.0)
 *   header: a Python dict literal, ASCII (1.0, 2.0) or UTF-8 (3.0), padded
 *           with spaces and ended by '\n' so that the data starts aligned
 *   data:   prod(shape) elements of descr, C order
 *
 * Everything in the header is untrusted: each size is checked for overflow
 * and against the bytes really present before anything is allocated.
 */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Data is aligned to 64 bytes: NumPy's own ARRAY_ALIGN, and RN_ALIGN, so a
 * mapped file can be used in place. */
#define NPY_ALIGN 64
/* A supported array's header is a few hundred bytes; this bound only keeps
 * a hostile length from costing memory. */
#define NPY_HEADER_MAX (1u << 20)
/* Pipes are read in growing chunks so a lying shape costs at most about
 * twice the bytes that really arrive. */
#define NPY_CHUNK ((uint64_t)1 << 20)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NPY_HOST_ORDER '>'
#else
#define NPY_HOST_ORDER '<'
#endif

struct npy_header {
    int dtype;
    int swap;                    /* data is in the other byte order */
    int rank;
    int64_t dims[RN_MAX_RANK];
    uint64_t nbytes;
};

/* ---- preamble ------------------------------------------------------------ */

/* Validate the fixed preamble in p[0..len) and return the preamble size
 * (10 or 12) and the header length. */
static int parse_preamble(const unsigned char *p, size_t len, const char *name, size_t *pre,
                          size_t *hlen, struct rn_err *e)
{
    size_t m = len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN;
    if (m > 0 && memcmp(p, NPY_MAGIC, m) != 0)
        return rn_err_set(e, RN_EFORMAT, name, "not a .npy file (bad magic)");
    if (len < 8)
        return rn_err_set(e, RN_EFORMAT, name,
                          "truncated header: file has %zu bytes, a .npy preamble needs at least 10",
                          len);
    int major = p[6], minor = p[7];
    if (major < 1 || major > 3 || minor != 0)
        return rn_err_set(e, RN_EUNSUPPORTED, name, "unsupported .npy format version %d.%d",
                          major, minor);
    *pre = major == 1 ? 10 : 12;
    if (len < *pre)
        return rn_err_set(e, RN_EFORMAT, name,
                          "truncated header: file has %zu bytes, a version %d.0 preamble needs %zu",
                          len, major, *pre);
    uint32_t h = (uint32_t)p[8] | (uint32_t)p[9] << 8;
    if (major > 1)
        h |= (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    if (h > NPY_HEADER_MAX)
        return rn_err_set(e, RN_ELIMIT, name,
                          "header length %" PRIu32 " exceeds the limit of %u bytes", h,
                          NPY_HEADER_MAX);
    *hlen = h;
    return RN_OK;
}

static int header_past_end(const char *name, size_t hlen, uint64_t have, struct rn_err *e)
{
    return rn_err_set(e, RN_EFORMAT, name,
                      "truncated header: header length is %zu bytes, file has %" PRIu64
                      " after the preamble",
                      hlen, have);
}

/* ---- header dict --------------------------------------------------------- */

struct lex {
    const char *start, *p, *end;
    const char *name;
    struct rn_err *e;
};

static void skip_ws(struct lex *l)
{
    while (l->p < l->end &&
           (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r' || *l->p == '\f'))
        l->p++;
}

static int lex_fail(struct lex *l, const char *what)
{
    if (l->p >= l->end)
        return rn_err_set(l->e, RN_EFORMAT, l->name, "header: %s, found the end of the header",
                          what);
    return rn_err_set(l->e, RN_EFORMAT, l->name, "header: %s, found '%c' at offset %td", what,
                      (*l->p >= 0x20 && *l->p < 0x7f) ? *l->p : '?', l->p - l->start);
}

static int expect(struct lex *l, char c, const char *what)
{
    skip_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return RN_OK;
    }
    return lex_fail(l, what);
}

/* A quoted Python string without escapes (no valid key or descr needs
 * one). Points s and n into the header. */
static int lex_string(struct lex *l, const char **s, size_t *n)
{
    skip_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
        return lex_fail(l, "expected a quoted string");
    char q = *l->p++;
    const char *start = l->p;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\')
            return rn_err_set(l->e, RN_EFORMAT, l->name,
                              "header: escape sequences in strings are not supported");
        l->p++;
    }
    if (l->p >= l->end)
        return rn_err_set(l->e, RN_EFORMAT, l->name, "header: unterminated string");
    *s = start;
    *n = (size_t)(l->p - start);
    l->p++;
    return RN_OK;
}

static int word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* Map a NumPy type string to a dtype. NumPy writes '|' for one-byte types
 * and '<' or '>' otherwise; '=' (native) and '|' on wider types are read
 * as the host order, as numpy.dtype does. */
static int descr_to_dtype(const char *s, size_t n, const char *name, struct npy_header *h,
                          struct rn_err *e)
{
    static const struct {
        const char *code;
        int dtype;
    } map[] = {
        {"u1", RN_DTYPE_U8},  {"i1", RN_DTYPE_I8},  {"u2", RN_DTYPE_U16}, {"i2", RN_DTYPE_I16},
        {"u4", RN_DTYPE_U32}, {"i4", RN_DTYPE_I32}, {"u8", RN_DTYPE_U64}, {"i8", RN_DTYPE_I64},
        {"f2", RN_DTYPE_F16}, {"f4", RN_DTYPE_F32}, {"f8", RN_DTYPE_F64},
    };
    int shown = n > 32 ? 32 : (int)n;
    if (n >= 2 && strchr("<>|=", s[0])) {
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (word_is(s + 1, n - 1, map[i].code)) {
                h->dtype = map[i].dtype;
                char order = s[0] == '<' || s[0] == '>' ? s[0] : NPY_HOST_ORDER;
                h->swap = rn_dtype_size(h->dtype) > 1 && order != NPY_HOST_ORDER;
                return RN_OK;
            }
        if (s[1] == 'b')
            return rn_err_set(e, RN_EUNSUPPORTED, name,
                              "bool dtype '%.*s' is not supported (save it as uint8)", shown, s);
        if (s[1] == 'O')
            return rn_err_set(e, RN_EUNSUPPORTED, name, "object dtype '%.*s' is not supported",
                              shown, s);
    }
    return rn_err_set(e, RN_EUNSUPPORTED, name, "unsupported dtype descr '%.*s'%s", shown, s,
                      n > 32 ? "..." : "");
}

/* A Python int, with an optional sign and the 'L' suffix that Python 2
 * era writers emitted (NumPy still reads those files). */
static int lex_int(struct lex *l, int index, int64_t *v)
{
    skip_ws(l);
    int neg = 0;
    if (l->p < l->end && (*l->p == '-' || *l->p == '+'))
        neg = *l->p++ == '-';
    if (l->p >= l->end || *l->p < '0' || *l->p > '9')
        return lex_fail(l, "expected an integer in 'shape'");
    uint64_t x = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        unsigned d = (unsigned)(*l->p - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return rn_err_set(l->e, RN_ELIMIT, l->name, "dimension %d overflows 64 bits", index);
        x = x * 10 + d;
        l->p++;
    }
    if (l->p < l->end && (*l->p == 'L' || *l->p == 'l'))
        l->p++;
    *v = neg ? -(int64_t)x : (int64_t)x;
    return RN_OK;
}

/* "(3, 4)", "(5,)", "()"; also "(5)", which Python reads as an int but a
 * hand-written header means as a one-element shape. */
static int lex_shape(struct lex *l, struct npy_header *h)
{
    int rc = expect(l, '(', "'shape' must be a tuple");
    if (rc < 0)
        return rc;
    int rank = 0;
    for (;;) {
        skip_ws(l);
        if (l->p < l->end && *l->p == ')') {
            l->p++;
            break;
        }
        int64_t v = 0;
        if ((rc = lex_int(l, rank, &v)) < 0)
            return rc;
        if (rank < RN_MAX_RANK)
            h->dims[rank] = v;
        rank++;
        skip_ws(l);
        if (l->p < l->end && *l->p == ',') {
            l->p++;
            continue;
        }
        if ((rc = expect(l, ')', "expected ',' or ')' in 'shape'")) < 0)
            return rc;
        break;
    }
    if (rank > RN_MAX_RANK)
        return rn_err_set(l->e, RN_EFORMAT, l->name, "rank %d exceeds %d", rank, RN_MAX_RANK);
    h->rank = rank;
    return RN_OK;
}

static int parse_header(const char *text, size_t n, const char *name, struct npy_header *h,
                        struct rn_err *e)
{
    struct lex l = {text, text, text + n, name, e};
    int seen_descr = 0, seen_order = 0, seen_shape = 0, fortran = 0;
    int rc = expect(&l, '{', "expected '{' at the start");
    if (rc < 0)
        return rc;
    for (;;) {
        skip_ws(&l);
        if (l.p < l.end && *l.p == '}') {
            l.p++;
            break;
        }
        const char *k;
        size_t kn;
        if ((rc = lex_string(&l, &k, &kn)) < 0)
            return rc;
        if ((rc = expect(&l, ':', "expected ':' after a key")) < 0)
            return rc;
        skip_ws(&l);
        if (word_is(k, kn, "descr")) {
            if (seen_descr++)
                return rn_err_set(e, RN_EFORMAT, name, "header: duplicate key 'descr'");
            if (l.p < l.end && *l.p == '[')
                return rn_err_set(e, RN_EUNSUPPORTED, name,
                                  "structured dtypes are not supported");
            const char *d;
            size_t dn;
            if ((rc = lex_string(&l, &d, &dn)) < 0)
                return rc;
            if ((rc = descr_to_dtype(d, dn, name, h, e)) < 0)
                return rc;
        } else if (word_is(k, kn, "fortran_order")) {
            if (seen_order++)
                return rn_err_set(e, RN_EFORMAT, name, "header: duplicate key 'fortran_order'");
            size_t wn = 0;
            while (l.p + wn < l.end && ((l.p[wn] >= 'A' && l.p[wn] <= 'Z') ||
                                        (l.p[wn] >= 'a' && l.p[wn] <= 'z')))
                wn++;
            if (word_is(l.p, wn, "True"))
                fortran = 1;
            else if (!word_is(l.p, wn, "False"))
                return lex_fail(&l, "'fortran_order' must be True or False");
            l.p += wn;
        } else if (word_is(k, kn, "shape")) {
            if (seen_shape++)
                return rn_err_set(e, RN_EFORMAT, name, "header: duplicate key 'shape'");
            if ((rc = lex_shape(&l, h)) < 0)
                return rc;
        } else {
            return rn_err_set(e, RN_EFORMAT, name, "header: unexpected key '%.*s'",
                              kn > 40 ? 40 : (int)kn, k);
        }
        skip_ws(&l);
        if (l.p < l.end && *l.p == ',') {
            l.p++;
            continue;
        }
        if ((rc = expect(&l, '}', "expected ',' or '}' after a value")) < 0)
            return rc;
        break;
    }
    skip_ws(&l);
    if (l.p != l.end)
        return lex_fail(&l, "expected only padding after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return rn_err_set(e, RN_EFORMAT, name, "header has no '%s'",
                          !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");

    struct rn_err sub = {0};
    int64_t numel;
    if ((rc = rn_shape_numel(h->rank, h->dims, &numel, &sub)) < 0 ||
        (rc = rn_shape_nbytes(h->dtype, h->rank, h->dims, &h->nbytes, &sub)) < 0)
        return rn_err_set(e, rc, name, "%s", sub.msg);
    if (fortran) {
        /* Fortran and C order lay out the same bytes when at most one
         * dimension exceeds 1 (or there are no elements): NumPy itself
         * marks such arrays both C- and F-contiguous. */
        int spread = 0;
        for (int i = 0; i < h->rank; i++)
            spread += h->dims[i] > 1;
        if (numel > 0 && spread > 1)
            return rn_err_set(e, RN_EUNSUPPORTED, name,
                              "fortran_order True is not supported (save a C-order array, "
                              "e.g. with numpy.ascontiguousarray)");
    }
    return RN_OK;
}

static int data_size_mismatch(const char *name, uint64_t want, uint64_t have, struct rn_err *e)
{
    return rn_err_set(e, RN_EFORMAT, name,
                      "%s data: header says %" PRIu64 " bytes, file has %" PRIu64,
                      have < want ? "truncated" : "trailing", want, have);
}

static void swap_bytes(void *data, uint64_t nbytes, size_t size)
{
    unsigned char *p = data;
    for (uint64_t i = 0; i + size <= nbytes; i += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char c = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = c;
        }
}

/* Wrap an aligned buffer holding the header's shape into an owned tensor. */
static int adopt(struct rn_tensor *t, const struct npy_header *h, void *data, struct rn_err *e)
{
    int rc = rn_tensor_view(t, h->dtype, h->rank, h->dims, data, e);
    if (rc < 0)
        return rc;
    if (h->swap)
        swap_bytes(data, h->nbytes, rn_dtype_size(h->dtype));
    t->owned = 1;
    return RN_OK;
}

static void *alloc_data(uint64_t nbytes, const char *name, struct rn_err *e)
{
    void *p = nbytes <= SIZE_MAX ? rn_aligned_alloc((size_t)nbytes) : NULL;
    if (!p)
        rn_err_set(e, RN_ENOMEM, name, "cannot allocate %" PRIu64 " bytes of array data", nbytes);
    return p;
}

/* ---- reading ------------------------------------------------------------- */

int rn_npy_parse(const void *data, size_t len, const char *name, struct rn_tensor *t,
                 struct rn_err *e)
{
    memset(t, 0, sizeof *t);
    if (!name)
        name = "npy";
    const unsigned char *p = data;
    size_t pre, hlen;
    int rc = parse_preamble(p, len, name, &pre, &hlen, e);
    if (rc < 0)
        return rc;
    if (hlen > len - pre)
        return header_past_end(name, hlen, len - pre, e);
    struct npy_header h = {0};
    if ((rc = parse_header((const char *)p + pre, hlen, name, &h, e)) < 0)
        return rc;
    size_t off = pre + hlen;
    if (h.nbytes != len - off)
        return data_size_mismatch(name, h.nbytes, len - off, e);
    void *buf = alloc_data(h.nbytes, name, e);
    if (!buf)
        return RN_ENOMEM;
    memcpy(buf, p + off, (size_t)h.nbytes);
    if ((rc = adopt(t, &h, buf, e)) < 0)
        rn_aligned_free(buf);
    return rc;
}

/* Read the data of a non-seekable input, growing the buffer only as bytes
 * arrive, then make sure nothing follows. */
static int read_stream_data(int fd, const char *name, uint64_t want, void **out,
                            struct rn_err *e)
{
    uint64_t cap = want < NPY_CHUNK ? want : NPY_CHUNK, have = 0;
    unsigned char *buf = alloc_data(cap, name, e);
    if (!buf)
        return RN_ENOMEM;
    for (;;) {
        size_t got;
        int rc = rn_read_full(fd, buf + have, (size_t)(cap - have), &got, name, e);
        if (rc < 0) {
            rn_aligned_free(buf);
            return rc;
        }
        have += got;
        if (have < cap || have == want)
            break;
        uint64_t ncap = cap > want / 2 ? want : cap * 2;
        unsigned char *nb = alloc_data(ncap, name, e);
        if (!nb) {
            rn_aligned_free(buf);
            return RN_ENOMEM;
        }
        memcpy(nb, buf, (size_t)have);
        rn_aligned_free(buf);
        buf = nb;
        cap = ncap;
    }
    if (have == want) {
        /* Count what follows for the message, without keeping it, and
         * without waiting forever on an endless input. */
        unsigned char extra[4096];
        uint64_t more = 0;
        size_t got;
        do {
            int rc = rn_read_full(fd, extra, sizeof extra, &got, name, e);
            if (rc < 0) {
                rn_aligned_free(buf);
                return rc;
            }
            more += got;
        } while (got == sizeof extra && more < NPY_CHUNK);
        if (got == sizeof extra) {
            rn_aligned_free(buf);
            return rn_err_set(e, RN_EFORMAT, name,
                              "trailing data: header says %" PRIu64
                              " bytes, input has at least %" PRIu64,
                              want, want + more);
        }
        have += more;
    }
    if (have != want) {
        rn_aligned_free(buf);
        return data_size_mismatch(name, want, have, e);
    }
    *out = buf;
    return RN_OK;
}

static int read_fd(int fd, const char *name, struct rn_tensor *t, struct rn_err *e)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rn_err_errno(e, name, "cannot stat");
    /* Sizes of a regular file are checked before reading; stdin may be a
     * file opened at some offset, so measure from where reading starts. */
    off_t start = S_ISREG(st.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
    int regular = start >= 0 && start <= st.st_size;
    uint64_t fsize = regular ? (uint64_t)(st.st_size - start) : 0;

    unsigned char pre_buf[12];
    size_t got, pre, hlen;
    int rc = rn_read_full(fd, pre_buf, 10, &got, name, e);
    if (rc < 0)
        return rc;
    if (got == 10 && memcmp(pre_buf, NPY_MAGIC, NPY_MAGIC_LEN) == 0 && pre_buf[6] >= 2) {
        size_t more;
        if ((rc = rn_read_full(fd, pre_buf + 10, 2, &more, name, e)) < 0)
            return rc;
        got += more;
    }
    if ((rc = parse_preamble(pre_buf, got, name, &pre, &hlen, e)) < 0)
        return rc;
    if (regular && (fsize < pre || fsize - pre < hlen))
        return header_past_end(name, hlen, fsize < pre ? 0 : fsize - pre, e);

    char *text = malloc(hlen ? hlen : 1);
    if (!text)
        return rn_err_set(e, RN_ENOMEM, name, "cannot allocate %zu bytes of header", hlen);
    if ((rc = rn_read_full(fd, text, hlen, &got, name, e)) < 0) {
        free(text);
        return rc;
    }
    if (got < hlen) {
        free(text);
        return header_past_end(name, hlen, got, e);
    }
    struct npy_header h = {0};
    rc = parse_header(text, hlen, name, &h, e);
    free(text);
    if (rc < 0)
        return rc;

    void *data;
    if (regular) {
        uint64_t avail = fsize - pre - hlen;
        if (h.nbytes != avail)
            return data_size_mismatch(name, h.nbytes, avail, e);
        if (!(data = alloc_data(h.nbytes, name, e)))
            return RN_ENOMEM;
        if ((rc = rn_read_full(fd, data, (size_t)h.nbytes, &got, name, e)) < 0 ||
            (got != h.nbytes && (rc = data_size_mismatch(name, h.nbytes, got, e)) < 0)) {
            rn_aligned_free(data);
            return rc;
        }
    } else if ((rc = read_stream_data(fd, name, h.nbytes, &data, e)) < 0) {
        return rc;
    }
    if ((rc = adopt(t, &h, data, e)) < 0)
        rn_aligned_free(data);
    return rc;
}

int rn_npy_read(const char *path, struct rn_tensor *t, struct rn_err *e)
{
    memset(t, 0, sizeof *t);
    const char *name = rn_io_name(path, 0);
    int use_stdin = !path || strcmp(path, "-") == 0;
    int fd = use_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_err_errno(e, name, "cannot open");
    int rc = read_fd(fd, name, t, e);
    if (!use_stdin)
        close(fd);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/* NumPy's type code without the byte-order character. */
static const char *dtype_descr(int dtype)
{
    switch (dtype) {
    case RN_DTYPE_U8: return "u1";
    case RN_DTYPE_I8: return "i1";
    case RN_DTYPE_U16: return "u2";
    case RN_DTYPE_I16: return "i2";
    case RN_DTYPE_U32: return "u4";
    case RN_DTYPE_I32: return "i4";
    case RN_DTYPE_U64: return "u8";
    case RN_DTYPE_I64: return "i8";
    case RN_DTYPE_F16: return "f2";
    case RN_DTYPE_F32: return "f4";
    case RN_DTYPE_F64: return "f8";
    default: return NULL;
    }
}

int rn_npy_write(const char *path, const struct rn_tensor *t, struct rn_err *e)
{
    const char *name = rn_io_name(path, 1);
    if (t->dtype == RN_DTYPE_BF16)
        return rn_err_set(e, RN_EUNSUPPORTED, name,
                          "bf16 has no NumPy dtype (convert to f32 first)");
    const char *code = dtype_descr(t->dtype);
    if (!code)
        return rn_err_set(e, RN_EUSAGE, name, "unknown dtype %d", t->dtype);
    struct rn_err sub = {0};
    uint64_t nbytes;
    int rc = rn_shape_nbytes(t->dtype, t->rank, t->dims, &nbytes, &sub);
    if (rc < 0)
        return rn_err_set(e, rc, name, "%s", sub.msg);
    if (nbytes != t->nbytes || (nbytes > 0 && !t->data))
        return rn_err_set(e, RN_EUSAGE, name,
                          "tensor holds %" PRIu64 " bytes, its shape needs %" PRIu64,
                          t->data ? t->nbytes : 0, nbytes);

    /* Rank <= 8 keeps the dict under 300 bytes, far below version 1.0's
     * 64 KiB header limit, so version 2.0 is never needed for writing. */
    char dict[512];
    char order = rn_dtype_size(t->dtype) == 1 ? '|' : NPY_HOST_ORDER;
    size_t n = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%c%s', 'fortran_order': False, 'shape': (", order, code);
    for (int i = 0; i < t->rank; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", t->rank == 1 ? "," : "");
    RN_ASSERT(n < sizeof dict);

    const size_t pre = 10;
    size_t hlen = (pre + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN - pre;
    unsigned char head[10 + sizeof dict + NPY_ALIGN];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1;
    head[7] = 0;
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + pre, dict, n);
    memset(head + pre + n, ' ', hlen - n - 1);
    head[pre + hlen - 1] = '\n';

    struct rn_outfile o;
    if ((rc = rn_outfile_open(&o, path, e)) < 0)
        return rc;
    if ((rc = rn_outfile_write(&o, head, pre + hlen, e)) < 0 ||
        (nbytes > 0 && (rc = rn_outfile_write(&o, t->data, (size_t)nbytes, e)) < 0)) {
        rn_outfile_abort(&o);
        return rc;
    }
    return rn_outfile_commit(&o, e);
}
