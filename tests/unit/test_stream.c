/* Unit tests for the record stream: round trips of every kind and dtype,
 * concatenation, pipes read in tiny chunks, and a table of hostile inputs
 * that must each fail with their own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runnel.h"

/* ---- helpers -------------------------------------------------------------- */

/* Write a stream into a malloc'd buffer through a pipe-less temp file. */
struct blob {
    unsigned char *data;
    size_t len;
};

static struct blob slurp_fd(int fd)
{
    struct blob b = {0};
    size_t cap = 4096;
    b.data = malloc(cap);
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, b.data + b.len, cap - b.len)) > 0) {
        b.len += (size_t)n;
        if (b.len == cap)
            b.data = realloc(b.data, cap *= 2);
    }
    return b;
}

static int tmpfile_fd(void)
{
    char path[] = "/tmp/rn_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)((i * 131u + seed * 7u) ^ (i >> 8));
}

/* Put little-endian integers into a hand-built header. */
static void le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Build one record by hand, with correct CRCs unless told otherwise, so a
 * test can reach each check behind the checksums. */
static size_t hand_record(unsigned char *out, int kind, int dtype, int rank, const uint64_t *dims,
                          const char *meta, uint32_t meta_len, uint64_t payload_len,
                          const void *payload, size_t payload_avail)
{
    unsigned char *h = out;
    memset(h, 0, 128);
    memcpy(h, "RNNL", 4);
    le(h + 4, 1, 2);
    le(h + 6, 128, 2);
    h[8] = (unsigned char)kind;
    h[9] = (unsigned char)dtype;
    h[10] = (unsigned char)rank;
    le(h + 12, meta_len, 4);
    for (int i = 0; i < 8; i++)
        le(h + 16 + 8 * i, dims ? dims[i] : 0, 8);
    le(h + 80, payload_len, 8);
    uint32_t crc = rn_crc32c(0, meta, meta_len);
    crc = rn_crc32c(crc, payload, payload_avail);
    le(h + 88, crc, 4);
    le(h + 124, rn_crc32c(0, h, 124), 4);
    size_t n = 128;
    if (meta_len)
        memcpy(out + n, meta, meta_len);
    n += meta_len;
    while (n % 64)
        out[n++] = 0;
    if (payload_avail)
        memcpy(out + n, payload, payload_avail);
    n += payload_avail;
    while (n % 64)
        out[n++] = 0;
    return n;
}

static size_t hand_end(unsigned char *out, int count)
{
    char meta[64];
    snprintf(meta, sizeof meta, "{\"records\":%d}", count);
    return hand_record(out, RN_KIND_END, 0, 0, NULL, meta, (uint32_t)strlen(meta), 0, NULL, 0);
}

static void refix_header_crc(unsigned char *h) { le(h + 124, rn_crc32c(0, h, 124), 4); }

/* Read every record of a memory stream; returns the final status. */
static int read_all_mem(const void *data, size_t len, struct rn_err *e, int *nrec)
{
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open_mem(&r, data, len, "mem", e);
    assert_int_equal(rc, RN_OK);
    *nrec = 0;
    while ((rc = rn_stream_read(&r, &rec, 0, e)) == RN_OK)
        (*nrec)++;
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    return rc;
}

/* The same through a pipe fed by a thread in chunks of 1..7 bytes. */
struct feeder {
    int fd;
    const unsigned char *data;
    size_t len;
    int chunk_max;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    size_t off = 0;
    unsigned k = 1;
    while (off < f->len) {
        size_t n = f->chunk_max ? 1 + (k++ % (unsigned)f->chunk_max) : f->len - off;
        if (n > f->len - off)
            n = f->len - off;
        ssize_t w = write(f->fd, f->data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

static int read_all_pipe(const void *data, size_t len, int chunk_max, struct rn_err *e,
                         int *nrec, struct rn_record *last)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct feeder f = {p[1], data, len, chunk_max};
    pthread_t th;
    pthread_create(&th, NULL, feed, &f);
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open_fd(&r, p[0], "pipe", e);
    assert_int_equal(rc, RN_OK);
    *nrec = 0;
    while ((rc = rn_stream_read(&r, &rec, 0, e)) == RN_OK) {
        (*nrec)++;
        if (last && rec.kind != RN_KIND_END) {
            rn_record_free(last);
            last->kind = rec.kind;
            last->payload_len = rec.payload_len;
            last->payload_buf_ = malloc(rec.payload_len + 1);
            memcpy(last->payload_buf_, rec.payload, rec.payload_len);
        }
    }
    /* Drain so the feeder never blocks on a reader that stopped early. */
    char sink[4096];
    while (read(p[0], sink, sizeof sink) > 0)
        ;
    pthread_join(th, NULL);
    close(p[0]);
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    return rc;
}

/* ---- round trips ------------------------------------------------------------ */

static void write_every_kind(struct rn_stream_writer *w)
{
    struct rn_err e = {0};
    /* Every dtype, at several ranks, as tensors. */
    for (int dt = 1; dt < RN_DTYPE_COUNT; dt++)
        for (int rank = 0; rank <= RN_MAX_RANK; rank += 2) {
            int64_t dims[RN_MAX_RANK] = {0};
            for (int i = 0; i < rank; i++)
                dims[i] = 1 + (i + dt) % 3;
            uint64_t nb;
            assert_int_equal(rn_shape_nbytes(dt, rank, dims, &nb, &e), RN_OK);
            unsigned char *p = malloc(nb + 1);
            fill(p, nb, (unsigned)(dt * 10 + rank));
            char meta[64];
            snprintf(meta, sizeof meta, "{\"dt\":%d,\"rank\":%d}", dt, rank);
            assert_int_equal(rn_stream_write(w, RN_KIND_TENSOR, dt, rank, dims, meta, p, nb, &e),
                             RN_OK);
            free(p);
        }
    int32_t toks[5] = {1, 2, 3, 50256, 7};
    int64_t d1[1] = {5};
    assert_int_equal(rn_stream_write(w, RN_KIND_TOKENS, RN_DTYPE_I32, 1, d1, "{\"tokenizer\":\"t\"}",
                                     toks, sizeof toks, &e), RN_OK);
    unsigned char frame[4 * 5 * 3];
    fill(frame, sizeof frame, 3);
    int64_t fd3[3] = {4, 5, 3};
    assert_int_equal(rn_stream_write(w, RN_KIND_FRAME, RN_DTYPE_U8, 3, fd3,
                                     "{\"frame\":0,\"t\":0.0,\"fps\":30}", frame, sizeof frame, &e),
                     RN_OK);
    unsigned char masks[2 * 4 * 5];
    fill(masks, sizeof masks, 4);
    int64_t md[3] = {2, 4, 5};
    assert_int_equal(rn_stream_write(w, RN_KIND_MASKS, RN_DTYPE_U8, 3, md,
                                     "{\"frame\":0,\"instances\":[{\"id\":1,\"score\":0.9,"
                                     "\"box\":[0,0,3,2]},{\"id\":2,\"score\":0.5,\"box\":[1,1,4,3]}]}",
                                     masks, sizeof masks, &e),
                     RN_OK);
    const char *text = "h\xc3\xa9llo \xff\xfe invalid utf-8 is fine in text";
    int64_t td[1] = {(int64_t)strlen(text)};
    assert_int_equal(rn_stream_write(w, RN_KIND_TEXT, RN_DTYPE_U8, 1, td, NULL, text, strlen(text),
                                     &e), RN_OK);
}

static void read_ok(struct rn_stream_reader *r, struct rn_record *rec, struct rn_err *e)
{
    int rc = rn_stream_read(r, rec, 0, e);
    if (rc != RN_OK)
        fail_msg("read failed (%d): %s: %s", rc, e->where, e->msg);
}

static void check_every_kind(struct rn_stream_reader *r)
{
    struct rn_err e = {0};
    struct rn_record rec = {0};
    for (int dt = 1; dt < RN_DTYPE_COUNT; dt++)
        for (int rank = 0; rank <= RN_MAX_RANK; rank += 2) {
            read_ok(r, &rec, &e);
            assert_int_equal(rec.kind, RN_KIND_TENSOR);
            assert_int_equal(rec.dtype, dt);
            assert_int_equal(rec.rank, rank);
            assert_true(rec.crc_ok);
            int64_t dims[RN_MAX_RANK] = {0};
            for (int i = 0; i < rank; i++)
                dims[i] = 1 + (i + dt) % 3;
            assert_memory_equal(rec.dims, dims, sizeof dims);
            uint64_t nb;
            rn_shape_nbytes(dt, rank, dims, &nb, &e);
            assert_int_equal(rec.payload_len, nb);
            unsigned char *p = malloc(nb + 1);
            fill(p, nb, (unsigned)(dt * 10 + rank));
            assert_memory_equal(rec.payload, p, nb);
            assert_int_equal((uintptr_t)rec.payload % 64, 0);
            free(p);
            char meta[64];
            snprintf(meta, sizeof meta, "{\"dt\":%d,\"rank\":%d}", dt, rank);
            assert_string_equal(rec.meta, meta);
        }
    read_ok(r, &rec, &e);
    assert_int_equal(rec.kind, RN_KIND_TOKENS);
    assert_int_equal(((int32_t *)rec.payload)[3], 50256);
    read_ok(r, &rec, &e);
    assert_int_equal(rec.kind, RN_KIND_FRAME);
    assert_int_equal(rec.dims[2], 3);
    read_ok(r, &rec, &e);
    assert_int_equal(rec.kind, RN_KIND_MASKS);
    assert_non_null(strstr(rec.meta, "\"instances\""));
    read_ok(r, &rec, &e);
    assert_int_equal(rec.kind, RN_KIND_TEXT);
    assert_string_equal(rec.meta, "{}");
    assert_int_equal(rec.meta_len, 0);
    assert_memory_equal(rec.payload, "h\xc3\xa9llo \xff\xfe", 9);
    read_ok(r, &rec, &e);
    assert_int_equal(rec.kind, RN_KIND_END);
    assert_non_null(strstr(rec.meta, "\"records\":"));
    rn_record_free(&rec);
}

static struct blob every_kind_blob(void)
{
    struct rn_err e = {0};
    struct rn_stream_writer w;
    int fd = tmpfile_fd();
    assert_int_equal(rn_stream_writer_open_fd(&w, fd, "tmp", &e), RN_OK);
    write_every_kind(&w);
    assert_int_equal(rn_stream_writer_close(&w, &e), RN_OK);
    struct blob b = slurp_fd(fd);
    close(fd);
    assert_int_equal(b.len % 64, 0);
    return b;
}

static void test_roundtrip_mem(void **state)
{
    (void)state;
    struct blob b = every_kind_blob();
    struct rn_err e = {0};
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    /* The memory reader hands out payloads in place: copy to an aligned
     * buffer so the alignment assertion means something. */
    void *al = rn_aligned_alloc(b.len);
    memcpy(al, b.data, b.len);
    assert_int_equal(rn_stream_reader_open_mem(&r, al, b.len, "mem", &e), RN_OK);
    check_every_kind(&r);
    assert_int_equal(rn_stream_read(&r, &rec, 0, &e), RN_EOF);
    rn_stream_reader_close(&r);
    rn_aligned_free(al);
    free(b.data);
}

static void test_roundtrip_file_and_mmap(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char path[] = "/tmp/rn_test_file_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct rn_stream_writer w;
    assert_int_equal(rn_stream_writer_open(&w, path, &e), RN_OK);
    write_every_kind(&w);
    assert_int_equal(rn_stream_writer_close(&w, &e), RN_OK);
    for (int flags = 0; flags <= RN_OPEN_MMAP; flags += RN_OPEN_MMAP) {
        struct rn_stream_reader r;
        struct rn_record rec = {0};
        assert_int_equal(rn_stream_reader_open(&r, path, flags, &e), RN_OK);
        check_every_kind(&r);
        assert_int_equal(rn_stream_read(&r, &rec, 0, &e), RN_EOF);
        rn_record_free(&rec);
        rn_stream_reader_close(&r);
    }
    unlink(path);
}

static void test_roundtrip_pipe_small_chunks(void **state)
{
    (void)state;
    struct blob b = every_kind_blob();
    struct rn_err e = {0};
    int n;
    for (int chunk = 1; chunk <= 7; chunk += 3) {
        assert_int_equal(read_all_pipe(b.data, b.len, chunk, &e, &n, NULL), RN_EOF);
        int expect = (RN_DTYPE_COUNT - 1) * 5 + 4 + 1;
        assert_int_equal(n, expect);
    }
    free(b.data);
}

static void test_concatenated(void **state)
{
    (void)state;
    struct blob b = every_kind_blob();
    size_t n3 = b.len * 3;
    unsigned char *cat = malloc(n3);
    for (int i = 0; i < 3; i++)
        memcpy(cat + i * b.len, b.data, b.len);
    struct rn_err e = {0};
    int n;
    int per = (RN_DTYPE_COUNT - 1) * 5 + 4 + 1;
    assert_int_equal(read_all_mem(cat, n3, &e, &n), RN_EOF);
    assert_int_equal(n, 3 * per);
    assert_int_equal(read_all_pipe(cat, n3, 0, &e, &n, NULL), RN_EOF);
    assert_int_equal(n, 3 * per);
    free(cat);
    free(b.data);
}

static void test_skip_payload_still_verifies(void **state)
{
    (void)state;
    struct blob b = every_kind_blob();
    b.data[128 + 64 + 0] ^= 1; /* first payload byte of record 0 */
    struct rn_err e = {0};
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    assert_int_equal(rn_stream_reader_open_mem(&r, b.data, b.len, "mem", &e), RN_OK);
    assert_int_equal(rn_stream_read(&r, &rec, RN_READ_SKIP_PAYLOAD, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "checksum mismatch"));
    rn_stream_reader_close(&r);
    assert_int_equal(rn_stream_reader_open_mem(&r, b.data, b.len, "mem", &e), RN_OK);
    assert_int_equal(rn_stream_read(&r, &rec, RN_READ_NO_VERIFY, &e), RN_OK);
    assert_false(rec.crc_ok);
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    free(b.data);
}

static void test_empty_and_minimal(void **state)
{
    (void)state;
    struct rn_err e = {0};
    int n;
    assert_int_equal(read_all_mem("", 0, &e, &n), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "empty input"));
    unsigned char buf[256];
    size_t len = hand_end(buf, 0);
    assert_int_equal(len, 192);
    assert_int_equal(read_all_mem(buf, len, &e, &n), RN_EOF);
    assert_int_equal(n, 1);
}

static void test_writer_rejects_bad_records(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_stream_writer w;
    int fd = tmpfile_fd();
    assert_int_equal(rn_stream_writer_open_fd(&w, fd, "tmp", &e), RN_OK);
    int64_t d[1] = {4};
    float x[4] = {0};
    assert_int_equal(rn_stream_write(&w, RN_KIND_TENSOR, RN_DTYPE_F32, 1, d, "[1]", x, 16, &e),
                     RN_EFORMAT);
    assert_non_null(strstr(e.msg, "not a JSON object"));
    assert_int_equal(rn_stream_write(&w, RN_KIND_TENSOR, RN_DTYPE_F32, 1, d, NULL, x, 12, &e),
                     RN_EFORMAT);
    assert_non_null(strstr(e.msg, "does not match shape"));
    assert_int_equal(rn_stream_write(&w, RN_KIND_TOKENS, RN_DTYPE_F32, 1, d, NULL, x, 16, &e),
                     RN_EFORMAT);
    assert_int_equal(rn_stream_write(&w, RN_KIND_END, 0, 0, d, NULL, NULL, 0, &e), RN_EUSAGE);
    assert_int_equal(rn_stream_write(&w, RN_KIND_TENSOR, RN_DTYPE_F32, 1, d, "{\"a\": [1, 2]} \n",
                                     x, 16, &e), RN_OK);
    assert_int_equal(rn_stream_writer_close(&w, &e), RN_OK);
    struct blob b = slurp_fd(fd);
    int n;
    assert_int_equal(read_all_mem(b.data, b.len, &e, &n), RN_EOF);
    assert_int_equal(n, 2);
    free(b.data);
    close(fd);
}

static void test_named_output_is_atomic(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char dir[] = "/tmp/rn_test_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/out.rnl", dir);
    struct rn_stream_writer w;
    assert_int_equal(rn_stream_writer_open(&w, path, &e), RN_OK);
    assert_int_not_equal(access(path, F_OK), 0); /* not there until close */
    rn_stream_writer_abort(&w);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(rmdir(dir), 0); /* the temporary file is gone too */
    assert_int_equal(rn_stream_writer_open(&w, "/nonexistent-dir/x.rnl", &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent-dir/x.rnl");
    assert_non_null(strstr(e.msg, "cannot create"));
}

/* ---- hostile inputs ----------------------------------------------------------- */

struct hostile {
    const char *name;
    int expect_rc;
    const char *expect_msg;   /* substring of the message */
};

/* A valid two-record stream (f32 [2,3], then END) to mutate. */
static size_t base_stream(unsigned char *buf)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    uint64_t dims[8] = {2, 3};
    size_t n = hand_record(buf, RN_KIND_TENSOR, RN_DTYPE_F32, 2, dims, "{\"a\":1}", 7, 24, x, 24);
    n += hand_end(buf + n, 1);
    return n;
}

static void expect_fail(const unsigned char *data, size_t len, const struct hostile *h)
{
    struct rn_err e = {0};
    int n;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    int rc = read_all_mem(data, len, &e, &n);
    if (rc != h->expect_rc || !strstr(e.msg, h->expect_msg))
        fail_msg("%s: got rc %d, message '%s'; wanted rc %d with '%s'", h->name, rc, e.msg,
                 h->expect_rc, h->expect_msg);
    assert_string_equal(e.where, "mem");
    /* The same bytes through a pipe must fail the same way. */
    struct rn_err e2 = {0};
    rc = read_all_pipe(data, len, 0, &e2, &n, NULL);
    if (rc != h->expect_rc || !strstr(e2.msg, h->expect_msg))
        fail_msg("%s (pipe): got rc %d, message '%s'; wanted '%s'", h->name, rc, e2.msg,
                 h->expect_msg);
    getrusage(RUSAGE_SELF, &after);
    /* No large allocation: peak RSS may not grow by more than 100 MiB. */
    if (after.ru_maxrss - before.ru_maxrss > 100 * 1024)
        fail_msg("%s: peak RSS grew by %ld KiB", h->name, after.ru_maxrss - before.ru_maxrss);
}

static void test_hostile_table(void **state)
{
    (void)state;
    unsigned char buf[1 << 17], mut[1 << 17];
    size_t n = base_stream(buf);
    assert_int_equal(n, 256 + 192);
    struct rn_err e = {0};
    int cnt;
    assert_int_equal(read_all_mem(buf, n, &e, &cnt), RN_EOF);

    /* Truncations: every cut inside the stream names what is missing. */
    static const struct { size_t cut; const char *msg; } cuts[] = {
        {1, "record 0: truncated header"},      {127, "record 0: truncated header"},
        {128, "record 0: truncated metadata"},  {130, "record 0: truncated metadata"},
        {140, "record 0: truncated metadata padding"},
        {192, "record 0: truncated payload"},   {200, "record 0: truncated payload"},
        {220, "record 0: truncated payload padding"},
        {256, "without an END record"},         {300, "record 1: truncated header"},
        {400, "record 1: truncated metadata padding"},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct hostile h = {"cut", RN_EFORMAT, cuts[i].msg};
        expect_fail(buf, cuts[i].cut, &h);
    }

    struct {
        struct hostile h;
        void (*mutate)(unsigned char *m);
    } table[] = {
        {{"bad magic", RN_EFORMAT, "record 0: bad magic"}, NULL},
        {{"bad version", RN_EFORMAT, "record 0: unsupported format version 2"}, NULL},
        {{"header crc", RN_EFORMAT, "record 0: header checksum mismatch"}, NULL},
        {{"data crc", RN_EFORMAT, "record 0: checksum mismatch"}, NULL},
        {{"rank 9", RN_EFORMAT, "record 0: rank 9 exceeds 8"}, NULL},
        {{"overflow", RN_ELIMIT, "record 0: shape"}, NULL},
        {{"huge payload", RN_ELIMIT, "record 0: payload length 18446744073709551552"}, NULL},
        {{"meta not json", RN_EFORMAT, "record 0: metadata is not a JSON object"}, NULL},
        {{"meta too long", RN_ELIMIT, "record 0: metadata length 65537 exceeds limit 65536"}, NULL},
        {{"meta bad utf8", RN_EFORMAT, "record 0: metadata is not valid UTF-8"}, NULL},
        {{"unknown kind", RN_EFORMAT, "record 0: unknown record kind 77"}, NULL},
        {{"unknown dtype", RN_EFORMAT, "record 0: unknown dtype 99"}, NULL},
        {{"shape mismatch", RN_EFORMAT, "record 0: payload length 24 does not match shape [2, 4]"}, NULL},
        {{"end count", RN_EFORMAT, "record 1: END record counts 5 records but 1 came before it"}, NULL},
        {{"dims past rank", RN_EFORMAT, "record 0: dimension 5 set beyond rank 2"}, NULL},
        {{"claimed 8 GiB, sent 0", RN_EFORMAT, "record 0: truncated"}, NULL},
        {{"flags set", RN_EFORMAT, "record 0: flags 01 set"}, NULL},
        {{"reserved set", RN_EFORMAT, "record 0: reserved header byte 100 is not zero"}, NULL},
        {{"end count float", RN_EFORMAT, "record 1: END record's \"records\" is not a whole number"}, NULL},
        {{"end counts wrong", RN_EFORMAT, "record 1: END record counts 2 tensor records but 1"}, NULL},
        {{"end counts missing kind", RN_EFORMAT, "record 1: END record's \"counts\" leaves out 1 tensor"}, NULL},
        {{"end counts bad kind", RN_EFORMAT, "record 1: END record's \"counts\" has a bad entry \"blob\""}, NULL},
        {{"meta control char", RN_EFORMAT, "record 0: metadata contains control character 0x01"}, NULL},
        {{"meta bom", RN_EFORMAT, "record 0: metadata starts with a byte order mark"}, NULL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t len = n;
        memcpy(mut, buf, n);
        const char *name = table[i].h.name;
        uint64_t dims[8] = {2, 3};
        float x[6] = {1, 2, 3, 4, 5, 6};
        if (!strcmp(name, "bad magic")) {
            mut[0] = 'X';
        } else if (!strcmp(name, "bad version")) {
            mut[4] = 2;
        } else if (!strcmp(name, "header crc")) {
            mut[20] ^= 0x40;
        } else if (!strcmp(name, "data crc")) {
            mut[192 + 5] ^= 1;
        } else if (!strcmp(name, "rank 9")) {
            mut[10] = 9;
            refix_header_crc(mut);
        } else if (!strcmp(name, "overflow")) {
            uint64_t big[8] = {1ull << 32, 1ull << 32, 1ull << 32};
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_F32, 3, big, "{}", 2, 24, x, 24);
        } else if (!strcmp(name, "huge payload")) {
            uint64_t d1[8] = {(1ull << 62) - 16};
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_U8, 1, d1, "{}", 2, 0, NULL, 0);
            le(mut + 80, UINT64_MAX - 63, 8);
            refix_header_crc(mut);
        } else if (!strcmp(name, "meta not json")) {
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_F32, 2, dims, "{\"a\":", 5, 24, x, 24);
            len += hand_end(mut + len, 1);
        } else if (!strcmp(name, "meta too long")) {
            le(mut + 12, 65537, 4);
            refix_header_crc(mut);
        } else if (!strcmp(name, "meta bad utf8")) {
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_F32, 2, dims, "{\"a\":\"\xc0\xaf\"}", 10,
                              24, x, 24);
            len += hand_end(mut + len, 1);
        } else if (!strcmp(name, "unknown kind")) {
            mut[8] = 77;
            refix_header_crc(mut);
        } else if (!strcmp(name, "unknown dtype")) {
            mut[9] = 99;
            refix_header_crc(mut);
        } else if (!strcmp(name, "shape mismatch")) {
            le(mut + 24, 4, 8);
            refix_header_crc(mut);
        } else if (!strcmp(name, "end count")) {
            len = 256 + hand_end(mut + 256, 5);
        } else if (!strcmp(name, "dims past rank")) {
            le(mut + 16 + 8 * 5, 1, 8);
            refix_header_crc(mut);
        } else if (!strcmp(name, "claimed 8 GiB, sent 0")) {
            uint64_t d1[8] = {8ull << 30};
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_U8, 1, d1, "{}", 2, 8ull << 30, NULL, 0);
        } else if (!strcmp(name, "flags set")) {
            mut[11] = 1;
            refix_header_crc(mut);
        } else if (!strcmp(name, "reserved set")) {
            mut[100] = 1;
            refix_header_crc(mut);
        } else if (!strncmp(name, "end count", 9)) {
            const char *m = !strcmp(name, "end count float") ? "{\"records\":1.5}"
                          : !strcmp(name, "end counts wrong") ? "{\"records\":1,\"counts\":{\"tensor\":2}}"
                          : !strcmp(name, "end counts missing kind") ? "{\"records\":1,\"counts\":{}}"
                          : "{\"records\":1,\"counts\":{\"tensor\":1,\"blob\":0}}";
            len = 256 + hand_record(mut + 256, RN_KIND_END, 0, 0, NULL, m, (uint32_t)strlen(m), 0,
                                    NULL, 0);
        } else if (!strcmp(name, "meta control char") || !strcmp(name, "meta bom")) {
            const char *m = !strcmp(name, "meta bom") ? "\xEF\xBB\xBF{}" : "{\"a\":\"\x01\"}";
            len = hand_record(mut, RN_KIND_TENSOR, RN_DTYPE_F32, 2, dims, m, (uint32_t)strlen(m),
                              24, x, 24);
            len += hand_end(mut + len, 1);
        }
        expect_fail(mut, len, &table[i].h);
    }
}

static void test_end_counts_accepted(void **state)
{
    (void)state;
    unsigned char buf[1024];
    size_t n = base_stream(buf) - 192;
    const char *m = "{\"records\":1,\"counts\":{\"tensor\":1,\"masks\":0}}";
    n += hand_record(buf + n, RN_KIND_END, 0, 0, NULL, m, (uint32_t)strlen(m), 0, NULL, 0);
    struct rn_err e = {0};
    int cnt;
    assert_int_equal(read_all_mem(buf, n, &e, &cnt), RN_EOF);
    assert_int_equal(cnt, 2);
}

static void test_payload_limit(void **state)
{
    (void)state;
    unsigned char buf[512];
    uint64_t d1[8] = {4096};
    unsigned char p[64] = {0};
    size_t n = hand_record(buf, RN_KIND_TENSOR, RN_DTYPE_U8, 1, d1, NULL, 0, 4096, p, 0);
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    struct rn_err e = {0};
    assert_int_equal(rn_stream_reader_open_mem(&r, buf, n, "mem", &e), RN_OK);
    r.max_payload = 1024;
    assert_int_equal(rn_stream_read(&r, &rec, 0, &e), RN_ELIMIT);
    assert_non_null(strstr(e.msg, "record 0: payload length 4096 (4.1e+03) exceeds limit 1024"));
    rn_stream_reader_close(&r);
}

static void test_every_cut_fails(void **state)
{
    (void)state;
    struct blob b = every_kind_blob();
    struct rn_err e = {0};
    int n;
    /* Cut at every 7th byte (and every record boundary) of a 60-record
     * stream: each must be an error, never a clean end. */
    for (size_t cut = 0; cut < b.len; cut += (cut % 64 == 0) ? 1 : 7) {
        int rc = read_all_mem(b.data, cut, &e, &n);
        if (rc != RN_EFORMAT)
            fail_msg("cut at %zu: rc %d (%s)", cut, rc, e.msg);
    }
    free(b.data);
}

static void test_kind_names(void **state)
{
    (void)state;
    for (int k = 1; k < RN_KIND_COUNT; k++)
        assert_int_equal(rn_kind_from_name(rn_kind_name(k)), k);
    assert_int_equal(rn_kind_from_name("nope"), RN_KIND_INVALID);
    assert_string_equal(rn_kind_name(0), "?");
    assert_string_equal(rn_kind_name(99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_mem),
        cmocka_unit_test(test_roundtrip_file_and_mmap),
        cmocka_unit_test(test_roundtrip_pipe_small_chunks),
        cmocka_unit_test(test_concatenated),
        cmocka_unit_test(test_skip_payload_still_verifies),
        cmocka_unit_test(test_empty_and_minimal),
        cmocka_unit_test(test_writer_rejects_bad_records),
        cmocka_unit_test(test_named_output_is_atomic),
        cmocka_unit_test(test_hostile_table),
        cmocka_unit_test(test_end_counts_accepted),
        cmocka_unit_test(test_payload_limit),
        cmocka_unit_test(test_every_cut_fails),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
