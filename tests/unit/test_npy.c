/* Unit tests for libcore/npy: round trips of every dtype and rank, headers
 * written by hand the ways NumPy and others write them, and a hostile
 * table in which every bad file gets its own message. Each input is read
 * three ways — from memory (rn_npy_parse), from a regular file and from a
 * pipe on stdin (rn_npy_read) — since each takes its own code path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npy.h"
#include "rng.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_npy.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
                unlink(p);
            }
        closedir(d);
    }
    return rmdir(tmpdir);
}

static const char *tmp_path(const char *leaf)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, leaf);
    return p[k];
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    rewind(f);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Feed img to rn_npy_read("-") through a pipe on fd 0, written by a child. */
static int read_via_pipe(const void *img, size_t len, struct rn_tensor *t, struct rn_err *e)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        const unsigned char *q = img;
        while (len > 0) {
            ssize_t w = write(p[1], q, len);
            if (w <= 0)
                _exit(1);
            q += w;
            len -= (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    int saved = dup(0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[0], 0), 0);
    close(p[0]);
    int rc = rn_npy_read("-", t, e);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    waitpid(pid, NULL, 0);
    return rc;
}

/* A .npy image: preamble of version major.0, the dict, spaces up to a
 * multiple of align (counting the preamble and the final '\n'), data. */
static unsigned char *npy_image(int major, const char *dict, size_t align, const void *data,
                                size_t dlen, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t total = pre + n + 1;
    if (align)
        total = (total + align - 1) / align * align;
    size_t hlen = total - pre;
    unsigned char *p = malloc(total + dlen + 1);
    assert_non_null(p);
    memcpy(p, "\x93NUMPY", 6);
    p[6] = (unsigned char)major;
    p[7] = 0;
    p[8] = (unsigned char)(hlen & 0xff);
    p[9] = (unsigned char)(hlen >> 8 & 0xff);
    if (pre == 12) {
        p[10] = (unsigned char)(hlen >> 16 & 0xff);
        p[11] = (unsigned char)(hlen >> 24 & 0xff);
    }
    memcpy(p + pre, dict, n);
    memset(p + pre + n, ' ', hlen - n - 1);
    p[total - 1] = '\n';
    if (dlen)
        memcpy(p + total, data, dlen);
    *len = total + dlen;
    return p;
}

static void assert_same_tensor(const struct rn_tensor *a, const struct rn_tensor *b)
{
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->rank, b->rank);
    for (int i = 0; i < RN_MAX_RANK; i++)
        assert_true(a->dims[i] == b->dims[i]);
    assert_true(a->nbytes == b->nbytes);
    if (a->nbytes)
        assert_memory_equal(a->data, b->data, (size_t)a->nbytes);
}

/* Read img the three ways; all must succeed and agree. t receives the
 * parsed tensor. */
static void read_ok(const void *img, size_t len, struct rn_tensor *t)
{
    struct rn_err e = {0};
    int rc = rn_npy_parse(img, len, "mem", t, &e);
    if (rc != RN_OK)
        fail_msg("parse: %s", e.msg);
    assert_int_equal(t->owned, 1);
    assert_int_equal((uintptr_t)t->data % RN_ALIGN, 0);

    const char *path = tmp_path("ok.npy");
    write_bytes(path, img, len);
    struct rn_tensor f, p;
    if ((rc = rn_npy_read(path, &f, &e)) != RN_OK)
        fail_msg("file: %s", e.msg);
    assert_same_tensor(t, &f);
    rn_tensor_free(&f);
    if ((rc = read_via_pipe(img, len, &p, &e)) != RN_OK)
        fail_msg("pipe: %s", e.msg);
    assert_same_tensor(t, &p);
    rn_tensor_free(&p);
}

/* Read img the three ways; each must fail with code and exactly msg, name
 * the input, and leave the tensor empty. */
static void read_fails(const char *label, const void *img, size_t len, int code, const char *msg)
{
    const char *path = tmp_path("bad.npy");
    write_bytes(path, img, len);
    for (int way = 0; way < 3; way++) {
        struct rn_err e = {0};
        struct rn_tensor t;
        memset(&t, 0x5a, sizeof t);
        int rc = way == 0   ? rn_npy_parse(img, len, "mem", &t, &e)
                 : way == 1 ? rn_npy_read(path, &t, &e)
                            : read_via_pipe(img, len, &t, &e);
        const char *where = way == 0 ? "mem" : way == 1 ? path : "stdin";
        if (rc != code || strcmp(e.msg, msg) != 0 || strcmp(e.where, where) != 0)
            fail_msg("%s (%s): got %d \"%s: %s\", want %d \"%s: %s\"", label,
                     way == 0 ? "memory" : way == 1 ? "file" : "pipe", rc, e.where, e.msg, code,
                     where, msg);
        assert_null(t.data);
        assert_int_equal(t.owned, 0);
    }
}

/* ---- round trips --------------------------------------------------------- */

static const int npy_dtypes[] = {RN_DTYPE_U8,  RN_DTYPE_I8,  RN_DTYPE_U16, RN_DTYPE_I16,
                                 RN_DTYPE_U32, RN_DTYPE_I32, RN_DTYPE_U64, RN_DTYPE_I64,
                                 RN_DTYPE_F16, RN_DTYPE_F32, RN_DTYPE_F64};
static const char *npy_descrs[] = {"|u1", "|i1", "<u2", "<i2", "<u4", "<i4",
                                   "<u8", "<i8", "<f2", "<f4", "<f8"};

static void check_written_layout(const unsigned char *img, size_t len, const char *descr,
                                 const struct rn_tensor *t)
{
    assert_true(len >= 10);
    assert_memory_equal(img, "\x93NUMPY\x01\x00", 8);
    size_t hlen = img[8] | (size_t)img[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_true(len == 10 + hlen + t->nbytes);
    assert_int_equal(img[10 + hlen - 1], '\n');
    char want[512];
    int n = snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->dims[i]);
    snprintf(want + n, sizeof want - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    assert_memory_equal(img + 10, want, strlen(want));
    for (size_t i = 10 + strlen(want); i < 10 + hlen - 1; i++)
        assert_int_equal(img[i], ' ');
}

static void test_round_trip_all_dtypes_and_ranks(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 5);
    const int64_t base[RN_MAX_RANK] = {3, 2, 1, 2, 1, 2, 1, 2};
    int files = 0;
    for (size_t d = 0; d < sizeof npy_dtypes / sizeof npy_dtypes[0]; d++)
        for (int rank = 0; rank <= RN_MAX_RANK; rank++)
            for (int empty = 0; empty < 2; empty++) {
                if (empty && rank == 0)
                    continue;
                int64_t dims[RN_MAX_RANK];
                memcpy(dims, base, sizeof dims);
                if (empty)
                    dims[rank - 1] = 0;
                struct rn_err e = {0};
                struct rn_tensor t, back;
                assert_int_equal(rn_tensor_new(&t, npy_dtypes[d], rank, dims, &e), RN_OK);
                unsigned char *p = t.data;
                for (uint64_t i = 0; i < t.nbytes; i++)
                    p[i] = (unsigned char)rn_rng_u64(&g);
                const char *path = tmp_path("rt.npy");
                if (rn_npy_write(path, &t, &e) != RN_OK)
                    fail_msg("write %s rank %d: %s", npy_descrs[d], rank, e.msg);
                size_t len;
                unsigned char *img = slurp(path, &len);
                check_written_layout(img, len, npy_descrs[d], &t);
                assert_int_equal(rn_npy_read(path, &back, &e), RN_OK);
                assert_same_tensor(&t, &back);
                rn_tensor_free(&back);
                read_ok(img, len, &back);
                assert_same_tensor(&t, &back);
                rn_tensor_free(&back);
                free(img);
                rn_tensor_free(&t);
                files++;
            }
    assert_int_equal(files, 11 * 17);
}

static void test_round_trip_special_floats(void **state)
{
    (void)state;
    /* bits, not values: NaN payloads, -0.0, infinities and subnormals must
     * come back untouched */
    const uint32_t f32[] = {0x7fc00000, 0x7fc00001, 0xffa5a5a5, 0x7f800001, 0x80000000,
                            0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x3f800000};
    const uint16_t f16[] = {0x7e00, 0x7c01, 0xfd55, 0x8000, 0x7c00, 0xfc00, 0x0001, 0x83ff};
    const uint64_t f64[] = {0x7ff8000000000001ull, 0xfff0000000000001ull, 0x8000000000000000ull,
                            0x0000000000000001ull};
    const struct {
        int dtype;
        const void *data;
        int64_t n;
    } cases[] = {
        {RN_DTYPE_F32, f32, sizeof f32 / 4},
        {RN_DTYPE_F16, f16, sizeof f16 / 2},
        {RN_DTYPE_F64, f64, sizeof f64 / 8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rn_err e = {0};
        struct rn_tensor t, back;
        assert_int_equal(rn_tensor_view(&t, cases[c].dtype, 1, &cases[c].n, (void *)cases[c].data, &e),
                         RN_OK);
        const char *path = tmp_path("special.npy");
        assert_int_equal(rn_npy_write(path, &t, &e), RN_OK);
        assert_int_equal(rn_npy_read(path, &back, &e), RN_OK);
        assert_same_tensor(&t, &back);
        rn_tensor_free(&back);
    }
}

static void test_write_stdout(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_tensor t, back;
    int32_t v[3] = {-1, 0, 7};
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_I32, 1, (int64_t[]){3}, v, &e), RN_OK);
    const char *path = tmp_path("stdout.npy");
    fflush(stdout);
    int saved = dup(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = rn_npy_write("-", &t, &e);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, RN_OK);
    assert_int_equal(rn_npy_read(path, &back, &e), RN_OK);
    assert_same_tensor(&t, &back);
    rn_tensor_free(&back);
}

static void test_write_errors(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_tensor t;
    uint16_t b[2] = {0x3f80, 0x4000};
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_BF16, 1, (int64_t[]){2}, b, &e), RN_OK);
    const char *path = tmp_path("bf16.npy");
    assert_int_equal(rn_npy_write(path, &t, &e), RN_EUNSUPPORTED);
    assert_string_equal(e.msg, "bf16 has no NumPy dtype (convert to f32 first)");
    assert_string_equal(e.where, path);
    assert_int_equal(access(path, F_OK), -1); /* nothing left behind */

    float f[4] = {0};
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 1, (int64_t[]){4}, f, &e), RN_OK);
    t.nbytes = 12;
    assert_int_equal(rn_npy_write(tmp_path("short.npy"), &t, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "tensor holds 12 bytes, its shape needs 16");
    t.nbytes = 16;
    t.dtype = RN_DTYPE_INVALID;
    assert_int_equal(rn_npy_write(tmp_path("bad.npy"), &t, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "unknown dtype 0");
    t.dtype = RN_DTYPE_F32;
    t.rank = 9;
    assert_int_equal(rn_npy_write(tmp_path("bad.npy"), &t, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "rank 9 exceeds 8");
    t.rank = 1;
    assert_int_equal(rn_npy_write("/nonexistent-dir/x.npy", &t, &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent-dir/x.npy");

    /* a failed write leaves neither the target nor a temporary file */
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while ((de = readdir(d)))
        assert_null(strstr(de->d_name, ".tmp."));
    closedir(d);
}

/* ---- hand-made headers --------------------------------------------------- */

static void test_headers_accepted(void **state)
{
    (void)state;
    const uint16_t le6[6] = {1, 2, 3, 4, 5, 6};
    static const struct {
        const char *label;
        int major;
        size_t align;
        const char *dict;
        int dtype, rank;
        int64_t dims[RN_MAX_RANK];
    } cases[] = {
        {"numpy", 1, 64, "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }",
         RN_DTYPE_U16, 2, {2, 3}},
        {"old numpy, 16-byte padding", 1, 16, "{'descr': '<u2', 'fortran_order': False, 'shape': (6,), }",
         RN_DTYPE_U16, 1, {6}},
        {"no padding at all", 1, 0, "{'descr': '<u2', 'fortran_order': False, 'shape': (6,)}",
         RN_DTYPE_U16, 1, {6}},
        {"key order", 1, 64, "{'shape': (3, 2), 'fortran_order': False, 'descr': '<i2'}",
         RN_DTYPE_I16, 2, {3, 2}},
        {"spacing", 1, 64,
         "{ 'fortran_order' :False ,'shape':( 1 ,\t2 , 3 ,) ,'descr':'<u2' , }",
         RN_DTYPE_U16, 3, {1, 2, 3}},
        {"double quotes", 1, 64, "{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": (6,)}",
         RN_DTYPE_F16, 1, {6}},
        {"python 2 longs", 1, 64, "{'descr': '<u2', 'fortran_order': False, 'shape': (2L, 3L), }",
         RN_DTYPE_U16, 2, {2, 3}},
        {"one-element shape without comma", 1, 64,
         "{'descr': '<u2', 'fortran_order': False, 'shape': (6)}", RN_DTYPE_U16, 1, {6}},
        {"version 2.0", 2, 64, "{'descr': '<i2', 'fortran_order': False, 'shape': (6,), }",
         RN_DTYPE_I16, 1, {6}},
        {"version 3.0", 3, 64, "{'descr': '<u2', 'fortran_order': False, 'shape': (6,), }",
         RN_DTYPE_U16, 1, {6}},
        {"native order", 1, 64, "{'descr': '=u2', 'fortran_order': False, 'shape': (6,), }",
         RN_DTYPE_U16, 1, {6}},
        {"fortran rank 1", 1, 64, "{'descr': '<u2', 'fortran_order': True, 'shape': (6,), }",
         RN_DTYPE_U16, 1, {6}},
        {"fortran, one dim above 1", 1, 64,
         "{'descr': '<u2', 'fortran_order': True, 'shape': (1, 6, 1), }", RN_DTYPE_U16, 3,
         {1, 6, 1}},
        {"rank 8", 1, 64,
         "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 2, 1, 3, 1, 1, 1), }",
         RN_DTYPE_U16, 8, {1, 1, 2, 1, 3, 1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len;
        unsigned char *img = npy_image(cases[c].major, cases[c].dict,
                                       cases[c].align, le6, sizeof le6, &len);
        struct rn_tensor t;
        read_ok(img, len, &t);
        if (t.dtype != cases[c].dtype || t.rank != cases[c].rank)
            fail_msg("%s: dtype %d rank %d", cases[c].label, t.dtype, t.rank);
        for (int i = 0; i < RN_MAX_RANK; i++)
            assert_true(t.dims[i] == cases[c].dims[i]);
        assert_memory_equal(t.data, le6, sizeof le6);
        rn_tensor_free(&t);
        free(img);
    }
}

static void test_headers_scalar_and_empty(void **state)
{
    (void)state;
    size_t len;
    double pi = 3.25;
    unsigned char *img = npy_image(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 64,
                                   &pi, 8, &len);
    struct rn_tensor t;
    read_ok(img, len, &t);
    assert_int_equal(t.rank, 0);
    assert_true(t.nbytes == 8 && *(double *)t.data == 3.25);
    rn_tensor_free(&t);
    free(img);

    img = npy_image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 64, NULL, 0,
                    &len);
    read_ok(img, len, &t);
    assert_int_equal(t.rank, 2);
    assert_true(t.dims[0] == 0 && t.dims[1] == 5 && t.nbytes == 0);
    assert_non_null(t.data);
    rn_tensor_free(&t);
    free(img);
}

static void test_big_endian(void **state)
{
    (void)state;
    static const struct {
        const char *descr;
        int dtype;
        unsigned char be[8];
        size_t size;
    } cases[] = {
        {">u2", RN_DTYPE_U16, {0x12, 0x34}, 2},
        {">i2", RN_DTYPE_I16, {0xff, 0xfe}, 2},
        {">u4", RN_DTYPE_U32, {0x01, 0x02, 0x03, 0x04}, 4},
        {">i4", RN_DTYPE_I32, {0x80, 0x00, 0x00, 0x01}, 4},
        {">u8", RN_DTYPE_U64, {1, 2, 3, 4, 5, 6, 7, 8}, 8},
        {">i8", RN_DTYPE_I64, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 8},
        {">f2", RN_DTYPE_F16, {0x3c, 0x00}, 2},
        {">f4", RN_DTYPE_F32, {0x3f, 0xc0, 0x00, 0x00}, 4},
        {">f8", RN_DTYPE_F64, {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}, 8},
        {">u1", RN_DTYPE_U8, {0xab}, 1},
        {"<i1", RN_DTYPE_I8, {0x80}, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 cases[c].descr);
        /* two elements: the value and its bytes mirrored */
        unsigned char data[16];
        memcpy(data, cases[c].be, cases[c].size);
        for (size_t i = 0; i < cases[c].size; i++)
            data[cases[c].size + i] = cases[c].be[cases[c].size - 1 - i];
        size_t len;
        unsigned char *img = npy_image(1, dict, 64, data, 2 * cases[c].size, &len);
        struct rn_tensor t;
        read_ok(img, len, &t);
        assert_int_equal(t.dtype, cases[c].dtype);
        const unsigned char *p = t.data;
        for (size_t i = 0; i < cases[c].size; i++) {
            /* little-endian host order after the swap */
            assert_int_equal(p[i], cases[c].be[cases[c].size - 1 - i]);
            assert_int_equal(p[cases[c].size + i], cases[c].be[i]);
        }
        rn_tensor_free(&t);
        free(img);
    }
    /* and by value, for a few */
    size_t len;
    const unsigned char be_f4[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0};
    unsigned char *img = npy_image(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 64,
                                   be_f4, 8, &len);
    struct rn_tensor t;
    read_ok(img, len, &t);
    assert_true(((float *)t.data)[0] == 1.5f && ((float *)t.data)[1] == -2.5f);
    rn_tensor_free(&t);
    free(img);
}

static void test_pipe_large(void **state)
{
    (void)state;
    /* Larger than the reader's first chunk, so the buffer grows. */
    const size_t n = 3 * 1024 * 1024 + 5;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    struct rn_rng g;
    rn_rng_seed(&g, 11);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)rn_rng_u64(&g);
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t len;
    unsigned char *img = npy_image(1, dict, 64, data, n, &len);
    struct rn_tensor t;
    read_ok(img, len, &t);
    assert_true(t.nbytes == n);
    assert_memory_equal(t.data, data, n);
    rn_tensor_free(&t);
    free(img);
    free(data);
}

static void test_stdin_at_offset(void **state)
{
    (void)state;
    /* stdin redirected from a file that was partly read already */
    const uint16_t v[2] = {9, 10};
    size_t len;
    unsigned char *img =
        npy_image(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", 64, v, 4, &len);
    unsigned char *buf = malloc(len + 3);
    memcpy(buf, "abc", 3);
    memcpy(buf + 3, img, len);
    const char *path = tmp_path("offset.npy");
    write_bytes(path, buf, len + 3);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
    int saved = dup(0);
    dup2(fd, 0);
    close(fd);
    struct rn_tensor t;
    struct rn_err e = {0};
    int rc = rn_npy_read("-", &t, &e);
    dup2(saved, 0);
    close(saved);
    if (rc != RN_OK)
        fail_msg("%s", e.msg);
    assert_memory_equal(t.data, v, 4);
    rn_tensor_free(&t);
    free(buf);
    free(img);
}

/* ---- hostile input ------------------------------------------------------- */

static void test_hostile_preamble(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        const char *bytes;
        size_t len;
        int code;
        const char *msg;
    } cases[] = {
        {"empty", "", 0, RN_EFORMAT,
         "truncated header: file has 0 bytes, a .npy preamble needs at least 10"},
        {"bad magic", "\x93NUMPX\x01\x00\x00\x00", 10, RN_EFORMAT, "not a .npy file (bad magic)"},
        {"png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, RN_EFORMAT, "not a .npy file (bad magic)"},
        {"text", "{'descr': '<f4'}", 16, RN_EFORMAT, "not a .npy file (bad magic)"},
        {"short bad magic", "\x93N", 2, RN_EFORMAT,
         "truncated header: file has 2 bytes, a .npy preamble needs at least 10"},
        {"magic only", "\x93NUMPY", 6, RN_EFORMAT,
         "truncated header: file has 6 bytes, a .npy preamble needs at least 10"},
        {"preamble cut", "\x93NUMPY\x01\x00\x10", 9, RN_EFORMAT,
         "truncated header: file has 9 bytes, a version 1.0 preamble needs 10"},
        {"v2 preamble cut", "\x93NUMPY\x02\x00\x10\x00\x00", 11, RN_EFORMAT,
         "truncated header: file has 11 bytes, a version 2.0 preamble needs 12"},
        {"version 4.0", "\x93NUMPY\x04\x00\x10\x00", 10, RN_EUNSUPPORTED,
         "unsupported .npy format version 4.0"},
        {"version 0.0", "\x93NUMPY\x00\x00\x10\x00", 10, RN_EUNSUPPORTED,
         "unsupported .npy format version 0.0"},
        {"version 1.1", "\x93NUMPY\x01\x01\x10\x00", 10, RN_EUNSUPPORTED,
         "unsupported .npy format version 1.1"},
        {"header length past end", "\x93NUMPY\x01\x00\xc8\x00{'descr'", 18, RN_EFORMAT,
         "truncated header: header length is 200 bytes, file has 8 after the preamble"},
        {"header length 0", "\x93NUMPY\x01\x00\x00\x00", 10, RN_EFORMAT,
         "header: expected '{' at the start, found the end of the header"},
        {"v2 header length huge", "\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14, RN_ELIMIT,
         "header length 4294967295 exceeds the limit of 1048576 bytes"},
        {"v3 header length past end", "\x93NUMPY\x03\x00\x00\x00\x01\x00{}", 14, RN_EFORMAT,
         "truncated header: header length is 65536 bytes, file has 2 after the preamble"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        read_fails(cases[c].label, cases[c].bytes, cases[c].len, cases[c].code, cases[c].msg);
}

static void test_hostile_header(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        const char *dict;
        int code;
        const char *msg;
    } cases[] = {
        {"unknown descr", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
         RN_EUNSUPPORTED, "unsupported dtype descr '<c8'"},
        {"string descr", "{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }",
         RN_EUNSUPPORTED, "unsupported dtype descr '<U5'"},
        {"descr without order", "{'descr': 'f4', 'fortran_order': False, 'shape': (1,), }",
         RN_EUNSUPPORTED, "unsupported dtype descr 'f4'"},
        {"empty descr", "{'descr': '', 'fortran_order': False, 'shape': (1,), }", RN_EUNSUPPORTED,
         "unsupported dtype descr ''"},
        {"descr name", "{'descr': 'float32', 'fortran_order': False, 'shape': (1,), }",
         RN_EUNSUPPORTED, "unsupported dtype descr 'float32'"},
        {"bool", "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", RN_EUNSUPPORTED,
         "bool dtype '|b1' is not supported (save it as uint8)"},
        {"object", "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", RN_EUNSUPPORTED,
         "object dtype '|O' is not supported"},
        {"structured", "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
         RN_EUNSUPPORTED, "structured dtypes are not supported"},
        {"fortran order", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
         RN_EUNSUPPORTED,
         "fortran_order True is not supported (save a C-order array, e.g. with "
         "numpy.ascontiguousarray)"},
        {"rank 9", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
         RN_EFORMAT, "rank 9 exceeds 8"},
        {"rank 40",
         "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
         "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }",
         RN_EFORMAT, "rank 40 exceeds 8"},
        {"numel overflow",
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
         RN_ELIMIT, "shape [4294967296, 4294967296, 4294967296] overflows 64 bits"},
        {"nbytes overflow", "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }",
         RN_ELIMIT, "shape [2305843009213693952] of f64 overflows 64 bits"},
        {"overflow hidden behind a zero",
         "{'descr': '<u2', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }",
         RN_ELIMIT, "shape [0, 4294967296, 4294967296] overflows 64 bits"},
        {"dim above int64", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
         RN_ELIMIT, "dimension 0 overflows 64 bits"},
        {"negative dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", RN_EFORMAT,
         "dimension 1 is negative (-1)"},
        {"shape larger than data", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
         RN_EFORMAT, "truncated data: header says 4000000000000 bytes, file has 16"},
        {"shape one short", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", RN_EFORMAT,
         "truncated data: header says 20 bytes, file has 16"},
        {"trailing data", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", RN_EFORMAT,
         "trailing data: header says 12 bytes, file has 16"},
        {"missing shape", "{'descr': '<f4', 'fortran_order': False}", RN_EFORMAT,
         "header has no 'shape'"},
        {"missing descr", "{'fortran_order': False, 'shape': (4,)}", RN_EFORMAT,
         "header has no 'descr'"},
        {"missing fortran_order", "{'descr': '<f4', 'shape': (4,)}", RN_EFORMAT,
         "header has no 'fortran_order'"},
        {"duplicate key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
         RN_EFORMAT, "header: duplicate key 'descr'"},
        {"unexpected key", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'foo': 1}",
         RN_EFORMAT, "header: unexpected key 'foo'"},
        {"not a dict", "[1, 2]", RN_EFORMAT, "header: expected '{' at the start, found '[' at offset 0"},
        {"garbage after dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x", RN_EFORMAT,
         "header: expected only padding after the dict, found 'x' at offset 56"},
        {"cut dict", "{'descr': '<f4'", RN_EFORMAT,
         "header: expected ',' or '}' after a value, found the end of the header"},
        {"fortran_order not a bool", "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}", RN_EFORMAT,
         "header: 'fortran_order' must be True or False, found '0' at offset 34"},
        {"shape as list", "{'descr': '<f4', 'fortran_order': False, 'shape': [4]}", RN_EFORMAT,
         "header: 'shape' must be a tuple, found '[' at offset 50"},
        {"shape float", "{'descr': '<f4', 'fortran_order': False, 'shape': (4.0,)}", RN_EFORMAT,
         "header: expected ',' or ')' in 'shape', found '.' at offset 52"},
        {"shape (,)", "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", RN_EFORMAT,
         "header: expected an integer in 'shape', found ',' at offset 51"},
        {"key without quotes", "{descr: '<f4', 'fortran_order': False, 'shape': (4,)}", RN_EFORMAT,
         "header: expected a quoted string, found 'd' at offset 1"},
        {"missing colon", "{'descr' '<f4', 'fortran_order': False, 'shape': (4,)}", RN_EFORMAT,
         "header: expected ':' after a key, found ''' at offset 9"},
        {"stray quote", "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}", RN_EUNSUPPORTED,
         "unsupported dtype descr '<f4, '"},
        {"string runs off the end", "{'descr': '<f4", RN_EFORMAT, "header: unterminated string"},
        {"escape", "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4,)}", RN_EFORMAT,
         "header: escape sequences in strings are not supported"},
    };
    const float data[4] = {1, 2, 3, 4};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len;
        unsigned char *img = npy_image(1, cases[c].dict, 64, data, sizeof data, &len);
        read_fails(cases[c].label, img, len, cases[c].code, cases[c].msg);
        free(img);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_tensor t;
    const char *path = tmp_path("does-not-exist.npy");
    assert_int_equal(rn_npy_read(path, &t, &e), RN_EIO);
    assert_string_equal(e.where, path);
    assert_string_equal(e.msg, "cannot open: No such file or directory");
    assert_null(t.data);
}

int main(void)
{
    /* a reader that stops early closes the pipe under the feeding child */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_dtypes_and_ranks),
        cmocka_unit_test(test_round_trip_special_floats),
        cmocka_unit_test(test_write_stdout),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_headers_accepted),
        cmocka_unit_test(test_headers_scalar_and_empty),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_pipe_large),
        cmocka_unit_test(test_stdin_at_offset),
        cmocka_unit_test(test_hostile_preamble),
        cmocka_unit_test(test_hostile_header),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests_name("npy", tests, setup, teardown);
}
