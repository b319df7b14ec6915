/* ckpt: safetensors round trips of every dtype and of metadata, the
 * hostile-header table, and crash safety (a writer killed mid-write, or
 * failing on a full disk, never harms the previous checkpoint). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt.h"
#include "io.h"
#include "rng.h"
#include "tensor.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_ckpt.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[512];
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    char *d;
    struct rn_err e = {0};
    assert_int_equal(rn_read_file(path, (size_t)1 << 30, &d, len, &e), RN_OK);
    return (unsigned char *)d;
}

/* Files in tmpdir whose name contains needle. */
static int count_files(const char *needle)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static void fill_random(void *p, size_t n, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)rn_rng_u64(&g);
}

/* ---- round trips ----------------------------------------------------------- */

static const int all_dtypes[] = {RN_DTYPE_U8,  RN_DTYPE_I8,  RN_DTYPE_U16, RN_DTYPE_I16,
                                 RN_DTYPE_U32, RN_DTYPE_I32, RN_DTYPE_U64, RN_DTYPE_I64,
                                 RN_DTYPE_F16, RN_DTYPE_BF16, RN_DTYPE_F32, RN_DTYPE_F64};
#define NDT ((int)(sizeof all_dtypes / sizeof all_dtypes[0]))

static void test_roundtrip_every_dtype(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    /* per dtype: rank 0, rank 1 of odd length, rank 3, rank 8, and empty */
    static const int64_t shapes[5][8] = {{0}, {7}, {2, 3, 5}, {2, 1, 2, 1, 3, 1, 1, 2}, {3, 0, 2}};
    static const int ranks[5] = {0, 1, 3, 8, 3};
    struct rn_tensor src[NDT][5];
    char name[64];
    for (int d = 0; d < NDT; d++)
        for (int s = 0; s < 5; s++) {
            assert_int_equal(rn_tensor_new(&src[d][s], all_dtypes[d], ranks[s], shapes[s], &e), RN_OK);
            fill_random(src[d][s].data, src[d][s].nbytes, (uint64_t)(d * 10 + s));
            snprintf(name, sizeof name, "t.%s.%d", rn_dtype_name(all_dtypes[d]), s);
            assert_int_equal(rn_ckpt_writer_add(&w, name, &src[d][s], &e), RN_OK);
        }
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "note", "h\xc3\xa9llo \"quoted\"\n\ttab", &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "empty", "", &e), RN_OK);
    char path[512];
    path_in(path, sizeof path, "all.safetensors");
    assert_int_equal(rn_ckpt_writer_write(&w, path, &e), RN_OK);

    /* the in-memory serialization is the same bytes, and so is a second write */
    void *mem;
    size_t mlen, flen;
    assert_int_equal(rn_ckpt_writer_serialize(&w, &mem, &mlen, &e), RN_OK);
    unsigned char *file = slurp(path, &flen);
    assert_int_equal(mlen, flen);
    assert_memory_equal(mem, file, flen);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | file[i];
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(file[8], '{');
    assert_int_equal(file[8 + hlen - 1] == ' ' || file[8 + hlen - 1] == '}', 1);
    free(file);
    free(mem);

    struct rn_ckpt c;
    assert_int_equal(rn_ckpt_open(&c, path, &e), RN_OK);
    assert_int_equal(rn_ckpt_count(&c), NDT * 5);
    for (int d = 0; d < NDT; d++)
        for (int s = 0; s < 5; s++) {
            snprintf(name, sizeof name, "t.%s.%d", rn_dtype_name(all_dtypes[d]), s);
            struct rn_tensor t;
            assert_int_equal(rn_ckpt_get(&c, name, &t, &e), RN_OK);
            assert_int_equal(t.dtype, all_dtypes[d]);
            assert_int_equal(t.rank, ranks[s]);
            for (int k = 0; k < ranks[s]; k++)
                assert_int_equal(t.dims[k], shapes[s][k]);
            assert_int_equal(t.nbytes, src[d][s].nbytes);
            assert_int_equal(t.owned, 0);
            assert_non_null(t.data);
            /* views are usable in place: aligned to the element size */
            assert_int_equal((uintptr_t)t.data % rn_dtype_size(t.dtype), 0);
            if (t.nbytes)
                assert_memory_equal(t.data, src[d][s].data, t.nbytes);
            rn_tensor_free(&t); /* a view: frees nothing */
        }
    /* file order: element size descending, then name */
    size_t prev = 8;
    for (size_t i = 0; i < rn_ckpt_count(&c); i++) {
        struct rn_tensor t;
        assert_int_equal(rn_ckpt_get(&c, rn_ckpt_name(&c, i), &t, &e), RN_OK);
        assert_true(rn_dtype_size(t.dtype) <= prev);
        prev = rn_dtype_size(t.dtype);
    }
    assert_null(rn_ckpt_name(&c, rn_ckpt_count(&c)));
    assert_string_equal(rn_ckpt_meta(&c, "note"), "h\xc3\xa9llo \"quoted\"\n\ttab");
    assert_string_equal(rn_ckpt_meta(&c, "empty"), "");
    assert_null(rn_ckpt_meta(&c, "absent"));
    assert_int_equal(rn_ckpt_meta_count(&c), 2);
    assert_string_equal(rn_ckpt_meta_key(&c, 0), "empty");
    assert_string_equal(rn_ckpt_meta_key(&c, 1), "note");
    assert_null(rn_ckpt_meta_key(&c, 2));

    /* writing through a view changes this process's copy, never the file */
    struct rn_tensor t;
    assert_int_equal(rn_ckpt_get(&c, "t.u8.1", &t, &e), RN_OK);
    ((unsigned char *)t.data)[0] ^= 0xFF;
    rn_ckpt_close(&c);
    rn_ckpt_close(&c); /* twice is harmless */
    assert_int_equal(rn_ckpt_open(&c, path, &e), RN_OK);
    assert_int_equal(rn_ckpt_get(&c, "t.u8.1", &t, &e), RN_OK);
    assert_memory_equal(t.data, src[0][1].data, t.nbytes);
    rn_ckpt_close(&c);

    for (int d = 0; d < NDT; d++)
        for (int s = 0; s < 5; s++)
            rn_tensor_free(&src[d][s]);
    rn_ckpt_writer_free(&w);
    rn_ckpt_writer_free(NULL);
    rn_ckpt_close(NULL);
}

static void test_empty_and_deterministic(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    void *buf;
    size_t len;
    /* the reference implementation's own expected bytes for an empty file */
    assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, "\x08\0\0\0\0\0\0\0{}      ", 16);
    struct rn_ckpt c;
    assert_int_equal(rn_ckpt_open_mem(&c, buf, len, "empty", &e), RN_OK);
    assert_int_equal(rn_ckpt_count(&c), 0);
    assert_int_equal(rn_ckpt_meta_count(&c), 0);
    rn_ckpt_close(&c);
    free(buf);
    /* and with metadata {"framework": "pt"}: 40-byte header, as the
     * reference's test_empty expects */
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "framework", "pt", &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
    assert_int_equal(len, 48);
    assert_memory_equal(buf, "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", 48);
    free(buf);
    rn_ckpt_writer_free(&w);

    /* the reference's test_serialization: one f32 [1, 2, 3] named attn.0 */
    static const unsigned char want[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t dims[3] = {1, 2, 3};
    struct rn_tensor t;
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 3, dims, x, &e), RN_OK);
    rn_ckpt_writer_init(&w);
    assert_int_equal(rn_ckpt_writer_add(&w, "attn.0", &t, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
    /* byte for byte what the reference writes (its key order included) */
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, len);
    free(buf);
    rn_ckpt_writer_free(&w);
}

static void test_metadata_and_conventions(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    assert_int_equal(rn_ckpt_writer_set_identity(&w, "train", &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, 41, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, -9000000000000LL, &e),
                     RN_OK); /* replaces */
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "bad", "12x", &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta(&w, RN_CKPT_META_CONFIG, "{\"n_layer\": 6}", &e), RN_OK);
    struct rn_rng g;
    rn_rng_seed(&g, 99);
    rn_rng_u64(&g);
    struct rn_rng saved = g;
    assert_int_equal(rn_ckpt_writer_add_rng(&w, "train", &g, &e), RN_OK);
    rn_rng_u64(&g); /* copied: later draws do not change the checkpoint */
    char nm[64];
    assert_int_equal(rn_ckpt_optim_name(nm, sizeof nm, 'm', "blocks.0.attn.w_o", &e), RN_OK);
    assert_string_equal(nm, "optim.m.blocks.0.attn.w_o");
    assert_int_equal(rn_ckpt_optim_name(nm, sizeof nm, 'v', "x", &e), RN_OK);
    assert_string_equal(nm, "optim.v.x");
    assert_int_equal(rn_ckpt_optim_name(nm, sizeof nm, 'q', "x", &e), RN_EUSAGE);
    assert_int_equal(rn_ckpt_optim_name(nm, 10, 'm', "long_parameter", &e), RN_EUSAGE);
    float m[4] = {1, 2, 3, 4};
    int64_t d4[1] = {4};
    struct rn_tensor t;
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 1, d4, m, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_add(&w, "optim.m.x", &t, &e), RN_OK);
    struct rn_rng zero = {{0, 0, 0, 0}};
    assert_int_equal(rn_ckpt_writer_add_rng(&w, "zero", &zero, &e), RN_OK);
    void *buf;
    size_t len;
    assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
    rn_ckpt_writer_free(&w);

    struct rn_ckpt c;
    assert_int_equal(rn_ckpt_open_mem(&c, buf, len, "mem", &e), RN_OK);
    assert_string_equal(rn_ckpt_meta(&c, RN_CKPT_META_FORMAT), "runnel-checkpoint");
    assert_string_equal(rn_ckpt_meta(&c, RN_CKPT_META_FORMAT_VERSION), "1");
    assert_non_null(strstr(rn_ckpt_meta(&c, RN_CKPT_META_CREATED_BY), "train"));
    int64_t v;
    assert_int_equal(rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &v, &e), RN_OK);
    assert_int_equal(v, -9000000000000LL);
    assert_int_equal(rn_ckpt_meta_int(&c, "bad", &v, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "metadata 'bad' = '12x' is not an integer");
    assert_int_equal(rn_ckpt_meta_int(&c, "nope", &v, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "no metadata 'nope'");
    struct rn_rng back;
    assert_int_equal(rn_ckpt_get_rng(&c, "train", &back, &e), RN_OK);
    assert_memory_equal(&back, &saved, sizeof back);
    assert_int_equal(rn_ckpt_get_rng(&c, "zero", &back, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "tensor 'rng.zero' holds the all-zero rng state");
    assert_int_equal(rn_ckpt_get_rng(&c, "missing", &back, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "no tensor 'rng.missing'");
    assert_int_equal(rn_ckpt_check_format(&c, &e), RN_OK);
    assert_true(rn_ckpt_has(&c, "optim.m.x"));
    assert_false(rn_ckpt_has(&c, "optim.v.x"));

    /* checked gets: dtype and shape must match exactly */
    int64_t want[2] = {2, 2};
    assert_int_equal(rn_ckpt_get_checked(&c, "optim.m.x", RN_DTYPE_F32, 2, want, &t, &e),
                     RN_EFORMAT);
    assert_string_equal(e.where, "mem");
    assert_string_equal(e.msg, "tensor 'optim.m.x' is f32 [4], expected f32 [2, 2]");
    assert_int_equal(rn_ckpt_get_checked(&c, "optim.m.x", RN_DTYPE_F16, 1, d4, &t, &e), RN_EFORMAT);
    float out[4] = {0};
    assert_int_equal(rn_ckpt_read_into(&c, "optim.m.x", RN_DTYPE_F32, 1, d4, out, &e), RN_OK);
    assert_memory_equal(out, m, sizeof m);
    rn_ckpt_close(&c);
    free(buf);
}

/* rn_ckpt_check_format: plain safetensors files and later versions. */
static void test_format_check(void **state)
{
    (void)state;
    static const struct {
        const char *format, *version;
        int code;
        const char *msg;
    } cases[] = {
        {NULL, NULL, RN_EFORMAT, "not a runnel checkpoint: no \"format\" metadata"},
        {"pt", "1", RN_EFORMAT, "not a runnel checkpoint: format is 'pt'"},
        {"runnel-checkpoint", NULL, RN_EFORMAT, "no metadata 'format_version'"},
        {"runnel-checkpoint", "x", RN_EFORMAT, "metadata 'format_version' = 'x' is not an integer"},
        {"runnel-checkpoint", "2", RN_EUNSUPPORTED, "checkpoint format version 2 (this runnel reads 1 to 1)"},
        {"runnel-checkpoint", "0", RN_EUNSUPPORTED, "checkpoint format version 0"},
        {"runnel-checkpoint", "1", RN_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rn_err e = {0};
        struct rn_ckpt_writer w;
        rn_ckpt_writer_init(&w);
        if (cases[i].format)
            assert_int_equal(rn_ckpt_writer_set_meta(&w, RN_CKPT_META_FORMAT, cases[i].format, &e), RN_OK);
        if (cases[i].version)
            assert_int_equal(rn_ckpt_writer_set_meta(&w, RN_CKPT_META_FORMAT_VERSION, cases[i].version, &e),
                             RN_OK);
        void *buf;
        size_t len;
        assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
        struct rn_ckpt c;
        assert_int_equal(rn_ckpt_open_mem(&c, buf, len, "f.ckpt", &e), RN_OK);
        int rc = rn_ckpt_check_format(&c, &e);
        if (rc != cases[i].code || !strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: rc %d '%s'", i, rc, e.msg);
        if (rc < 0)
            assert_string_equal(e.where, "f.ckpt");
        rn_ckpt_close(&c);
        free(buf);
        rn_ckpt_writer_free(&w);
    }
}

static void test_writer_refuses(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    float x = 1;
    struct rn_tensor t;
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 0, NULL, &x, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_add(&w, "a", &t, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_add(&w, "a", &t, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "tensor 'a' added twice");
    assert_int_equal(rn_ckpt_writer_add(&w, "", &t, &e), RN_EUSAGE);
    assert_int_equal(rn_ckpt_writer_add(&w, "__metadata__", &t, &e), RN_EUSAGE);
    assert_int_equal(rn_ckpt_writer_add(&w, "bad\xff", &t, &e), RN_EUSAGE);
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "k", "\xc0\x80", &e), RN_EUSAGE);
    char big[1100];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(rn_ckpt_writer_add(&w, big, &t, &e), RN_EUSAGE);
    t.dtype = RN_DTYPE_INVALID;
    assert_int_equal(rn_ckpt_writer_add(&w, "b", &t, &e), RN_EUSAGE);
    /* an unwritable place: an error, nothing created */
    assert_int_equal(rn_ckpt_writer_write(&w, "/nonexistent-dir/x.ckpt", &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent-dir/x.ckpt");
    assert_non_null(strstr(e.msg, "cannot create output"));
    rn_ckpt_writer_free(&w);
    assert_int_equal(rn_ckpt_dtype_from_name("BOOL"), RN_DTYPE_INVALID);
    assert_int_equal(rn_ckpt_dtype_from_name("BF16"), RN_DTYPE_BF16);
    assert_null(rn_ckpt_dtype_name(RN_DTYPE_INVALID));
}

/* ---- hostile headers ------------------------------------------------------- */

/* A file: le64 header length, the header (padded with spaces to a multiple
 * of 8 when pad), then data_len bytes. */
static unsigned char *make_file(const char *hdr, int pad, size_t data_len, size_t *len)
{
    size_t n = strlen(hdr);
    size_t hn = pad ? (n + 7) / 8 * 8 : n;
    unsigned char *b = calloc(8 + hn + data_len + 8, 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, hdr, n);
    memset(b + 8 + n, ' ', hn - n);
    *len = 8 + hn + data_len;
    return b;
}

struct hostile {
    const char *what;
    const char *hdr;
    size_t data_len;
    int code;
    const char *msg;   /* substring of the message */
};

static const struct hostile hostile_cases[] = {
    {"bad JSON", "{\"a\": {\"dtype\": \"F32\",", 0, RN_EFORMAT, "header is not valid JSON"},
    {"not an object", "[1, 2, 3]", 0, RN_EFORMAT, "does not start with '{'"},
    {"trailing garbage", "{} x", 0, RN_EFORMAT, "header is not valid JSON"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"XYZ\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     RN_EUNSUPPORTED, "tensor 'a': unsupported dtype 'XYZ'"},
    {"BOOL", "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     RN_EUNSUPPORTED, "unsupported dtype 'BOOL'"},
    {"fp8", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     RN_EUNSUPPORTED, "unsupported dtype 'F8_E4M3'"},
    {"span != shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
     RN_EFORMAT, "tensor 'a': shape [2, 3] of F32 needs 24 bytes, data_offsets span 20"},
    {"out of file", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
     RN_EFORMAT, "data_offsets [0, 16] run past the end of the file (data section holds 8 bytes)"},
    {"overlap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, RN_EFORMAT, "tensor 'b' (bytes 4-12) overlaps tensor 'a'"},
    {"same range twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, RN_EFORMAT, "overlaps tensor 'a'"},
    {"hole",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
     24, RN_EFORMAT, "hole of 8 bytes before tensor 'b'"},
    {"trailing data", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 10,
     RN_EFORMAT, "8 bytes after the last tensor"},
    {"misaligned",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3,7]}}",
     7, RN_EFORMAT, "tensor 'b': data at file offset 123 is not aligned to its 4-byte elements"},
    {"end before begin", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
     RN_EFORMAT, "end before they begin"},
    {"offsets not a pair", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
     RN_EFORMAT, "\"data_offsets\" is not two integers"},
    {"negative offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1,
     RN_EFORMAT, "\"data_offsets\" is not two integers"},
    {"offset 2^64", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}",
     1, RN_EFORMAT, "\"data_offsets\" is not two integers"},
    {"fractional dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1,
     RN_EFORMAT, "tensor 'a': shape[0] is not an integer"},
    {"negative dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1,
     RN_EFORMAT, "shape[0] is not an integer"},
    {"string dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}}", 1,
     RN_EFORMAT, "shape[0] is not an integer"},
    {"huge dim", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,1]}}", 1,
     RN_EFORMAT, "shape[0] is not an integer"},
    {"shape overflow",
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}",
     8, RN_ELIMIT, "shape [4294967296, 4294967296, 4294967296] overflows 64 bits"},
    {"zero dim hides overflow",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}",
     0, RN_ELIMIT, "overflows 64 bits"},
    {"rank 9", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
     RN_EUNSUPPORTED, "rank 9 exceeds 8"},
    {"no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, RN_EFORMAT,
     "tensor 'a': no \"dtype\" string"},
    {"no shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, RN_EFORMAT,
     "tensor 'a': no \"shape\" array"},
    {"entry not object", "{\"a\":[1,2]}", 0, RN_EFORMAT, "tensor 'a': entry is not a JSON object"},
    {"duplicate names",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
     2, RN_EFORMAT, "tensor 'a' appears twice"},
    {"metadata not object", "{\"__metadata__\":[1]}", 0, RN_EFORMAT,
     "\"__metadata__\" is not a JSON object"},
    {"metadata not string", "{\"__metadata__\":{\"step\":5}}", 0, RN_EFORMAT,
     "metadata 'step' is not a string"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, RN_EFORMAT,
     "two \"__metadata__\" objects"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, RN_EFORMAT,
     "metadata key 'k' appears twice"},
    {"invalid UTF-8", "{\"a\xff\":{}}", 0, RN_EFORMAT, "header is not valid UTF-8"},
    {"overlong UTF-8", "{\"\xc0\xaf\":{}}", 0, RN_EFORMAT, "header is not valid UTF-8"},
    {"surrogate UTF-8", "{\"\xed\xa0\x80\":{}}", 0, RN_EFORMAT, "header is not valid UTF-8"},
    {"deep nesting", NULL, 0, RN_EFORMAT, "header is not valid JSON"},
};

static void test_hostile_table(void **state)
{
    (void)state;
    char deep[4200];
    /* 2000 levels: past cJSON's nesting limit, refused without recursion trouble */
    strcpy(deep, "{\"a\":");
    for (int i = 0; i < 2000; i++)
        strcat(deep, "[");
    for (size_t i = 0; i < sizeof hostile_cases / sizeof hostile_cases[0]; i++) {
        const struct hostile *h = &hostile_cases[i];
        size_t len;
        unsigned char *b = make_file(h->hdr ? h->hdr : deep, 1, h->data_len, &len);
        struct rn_ckpt c;
        struct rn_err e = {0};
        int rc = rn_ckpt_open_mem(&c, b, len, "evil.safetensors", &e);
        if (rc != h->code || !strstr(e.msg, h->msg))
            fail_msg("case '%s': rc %d (%s), want %d with '%s'", h->what, rc, e.msg, h->code,
                     h->msg);
        assert_string_equal(e.where, "evil.safetensors");
        rn_ckpt_close(&c);
        free(b);
    }
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt c;
    size_t len;
    /* a header length past the end of the file */
    unsigned char *b = make_file("{}", 1, 0, &len);
    b[0] = 200;
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_EFORMAT);
    assert_string_equal(e.msg, "header length 200 runs past the end of the file (16 bytes)");
    /* huge lengths: refused before anything is allocated */
    memset(b, 0xFF, 8);
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_ELIMIT);
    assert_string_equal(e.msg,
                        "header length 18446744073709551615 exceeds the limit of 100000000 bytes");
    uint64_t n = 100000001;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_ELIMIT);
    /* zero-length header, and a file shorter than 8 bytes */
    memset(b, 0, 8);
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "does not start with '{'"));
    assert_int_equal(rn_ckpt_open_mem(&c, b, 5, "f", &e), RN_EFORMAT);
    assert_string_equal(e.msg, "file is 5 bytes, too short for the 8-byte header length");
    free(b);
    /* millions of tiny JSON values: refused before cJSON builds them */
    size_t nz = 3000000;
    char *many = malloc(2 * nz + 64);
    strcpy(many, "{\"a\":{\"dtype\":\"U8\",\"shape\":[");
    size_t at = strlen(many);
    for (size_t i = 0; i < nz; i++) {
        many[at++] = '1';
        many[at++] = ',';
    }
    strcpy(many + at, "1],\"data_offsets\":[0,1]}}");
    b = make_file(many, 1, 1, &len);
    free(many);
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_ELIMIT);
    assert_string_equal(e.msg, "header holds up to 3000008 JSON values, more than the limit of 2097152");
    free(b);
    /* 200000 metadata keys in reverse order: sorted and found quickly */
    size_t nk = 200000;
    char *hdr = malloc(nk * 32 + 64), *q = hdr;
    q += sprintf(q, "{\"__metadata__\":{");
    for (size_t i = nk; i-- > 0;)
        q += sprintf(q, "\"k%06zu\":\"v%zu\"%s", i, i, i ? "," : "");
    strcpy(q, "}}");
    b = make_file(hdr, 1, 0, &len);
    free(hdr);
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_OK);
    assert_int_equal(rn_ckpt_meta_count(&c), nk);
    assert_string_equal(rn_ckpt_meta_key(&c, 0), "k000000");
    assert_string_equal(rn_ckpt_meta(&c, "k123456"), "v123456");
    assert_string_equal(rn_ckpt_meta(&c, "k000000"), "v0");
    assert_null(rn_ckpt_meta(&c, "k2"));
    rn_ckpt_close(&c);
    free(b);
    /* NUL inside the header */
    b = make_file("{}\0\0", 0, 0, &len);
    len = 8 + 8;
    b[0] = 8;
    assert_int_equal(rn_ckpt_open_mem(&c, b, len, "f", &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "not valid UTF-8"));
    free(b);
}

/* Every truncation of a valid file is refused with an error, never a crash
 * or a success. */
static void test_every_truncation(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    double d[3] = {1, 2, 3};
    uint16_t h[5] = {1, 2, 3, 4, 5};
    int64_t d3[1] = {3}, d5[1] = {5};
    struct rn_tensor a, bt;
    rn_tensor_view(&a, RN_DTYPE_F64, 1, d3, d, &e);
    rn_tensor_view(&bt, RN_DTYPE_BF16, 1, d5, h, &e);
    assert_int_equal(rn_ckpt_writer_add(&w, "a", &a, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_add(&w, "b", &bt, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta(&w, "k", "v", &e), RN_OK);
    void *buf;
    size_t len;
    assert_int_equal(rn_ckpt_writer_serialize(&w, &buf, &len, &e), RN_OK);
    rn_ckpt_writer_free(&w);
    for (size_t cut = 0; cut < len; cut++) {
        /* a fresh exact-size copy, so ASan sees any read past the end */
        unsigned char *b = malloc(cut ? cut : 1);
        memcpy(b, buf, cut);
        struct rn_ckpt c;
        int rc = rn_ckpt_open_mem(&c, b, cut, "cut", &e);
        if (rc >= 0)
            fail_msg("truncated to %zu of %zu bytes, yet accepted", cut, len);
        free(b);
    }
    struct rn_ckpt c;
    assert_int_equal(rn_ckpt_open_mem(&c, buf, len, "whole", &e), RN_OK);
    rn_ckpt_close(&c);
    free(buf);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_ckpt c;
    char p[512];
    path_in(p, sizeof p, "missing.ckpt");
    assert_int_equal(rn_ckpt_open(&c, p, &e), RN_EIO);
    assert_string_equal(e.where, p);
    path_in(p, sizeof p, "empty.ckpt");
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(rn_ckpt_open(&c, p, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "file is 0 bytes, too short for the 8-byte header length");
    unlink(p);
}

/* ---- crash safety ---------------------------------------------------------- */

#define BIG_FLOATS ((size_t)4 << 20) /* 16 MiB of f32 */

/* Writes a checkpoint whose tensor is BIG_FLOATS floats of value v. */
static int write_big(const char *path, float v, struct rn_err *e)
{
    float *x = malloc(BIG_FLOATS * sizeof *x);
    if (!x)
        return RN_ENOMEM;
    for (size_t i = 0; i < BIG_FLOATS; i++)
        x[i] = v;
    int64_t dims[1] = {(int64_t)BIG_FLOATS};
    struct rn_tensor t;
    rn_tensor_view(&t, RN_DTYPE_F32, 1, dims, x, e);
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    int rc = rn_ckpt_writer_add(&w, "w", &t, e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, (int64_t)v, e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_write(&w, path, e);
    rn_ckpt_writer_free(&w);
    free(x);
    return rc;
}

/* The checkpoint at path is complete and is the one written with value v. */
static void assert_big(const char *path, float v)
{
    struct rn_err e = {0};
    struct rn_ckpt c;
    if (rn_ckpt_open(&c, path, &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    struct rn_tensor t;
    int64_t dims[1] = {(int64_t)BIG_FLOATS};
    assert_int_equal(rn_ckpt_get_checked(&c, "w", RN_DTYPE_F32, 1, dims, &t, &e), RN_OK);
    const float *x = t.data;
    assert_true(x[0] == v && x[BIG_FLOATS / 2] == v && x[BIG_FLOATS - 1] == v);
    int64_t step;
    assert_int_equal(rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &step, &e), RN_OK);
    assert_int_equal(step, (int64_t)v);
    rn_ckpt_close(&c);
}

/* A child that dies by a signal after `limit` bytes of its output:
 * RLIMIT_FSIZE raises SIGXFSZ at exactly that point, whose default action
 * kills the process without any cleanup, as kill -9 would. */
static void killed_after(const char *path, rlim_t limit)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit core = {0, 0}, fsz = {limit, limit};
        setrlimit(RLIMIT_CORE, &core);
        setrlimit(RLIMIT_FSIZE, &fsz);
        signal(SIGXFSZ, SIG_DFL);
        struct rn_err e = {0};
        write_big(path, 2.0f, &e);
        _exit(0); /* not reached when the limit is inside the file */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGXFSZ);
}

static void test_killed_mid_write_keeps_previous(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char p[512];
    path_in(p, sizeof p, "model.ckpt");
    assert_int_equal(write_big(p, 1.0f, &e), RN_OK);
    size_t len0;
    unsigned char *before = slurp(p, &len0);
    /* die in the length prefix, in the header, early and late in the data,
     * and one byte short of the end */
    const rlim_t at[] = {3, 40, 4096, len0 / 2, len0 - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        killed_after(p, at[i]);
        size_t len;
        unsigned char *now = slurp(p, &len);
        assert_int_equal(len, len0);
        assert_memory_equal(now, before, len0);
        free(now);
        assert_big(p, 1.0f);
        /* a killed writer leaves its temporary file (nobody is left to
         * remove it), never under the final name */
        assert_int_equal(count_files(".tmp."), 1);
        char tmp[512];
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        while ((de = readdir(d)))
            if (strstr(de->d_name, "model.ckpt.tmp.")) {
                snprintf(tmp, sizeof tmp, "%s/%s", tmpdir, de->d_name);
                struct rn_ckpt c;
                assert_true(rn_ckpt_open(&c, tmp, &e) < 0); /* it is incomplete */
                unlink(tmp);
            }
        closedir(d);
    }
    free(before);
    /* and the next write goes through */
    assert_int_equal(write_big(p, 3.0f, &e), RN_OK);
    assert_big(p, 3.0f);
    assert_int_equal(count_files(".tmp."), 0);
}

/* kill -9 from outside at whatever moment: the final name always holds a
 * complete checkpoint, the old one or the new one. */
static void test_sigkill_race(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char p[512];
    path_in(p, sizeof p, "race.ckpt");
    assert_int_equal(write_big(p, 1.0f, &e), RN_OK);
    for (int round = 0; round < 8; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rn_err ce = {0};
            _exit(write_big(p, 2.0f, &ce) == RN_OK ? 0 : 1);
        }
        usleep((useconds_t)(round * 3000)); /* from "at once" to "near the end" */
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        struct rn_ckpt c;
        assert_int_equal(rn_ckpt_open(&c, p, &e), RN_OK);
        int64_t step;
        assert_int_equal(rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &step, &e), RN_OK);
        rn_ckpt_close(&c);
        assert_true(step == 1 || step == 2);
        assert_big(p, (float)step);
        /* start each round from the old checkpoint again */
        if (step == 2)
            assert_int_equal(write_big(p, 1.0f, &e), RN_OK);
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        char tmp[512];
        while ((de = readdir(d)))
            if (strstr(de->d_name, "race.ckpt.tmp.")) {
                snprintf(tmp, sizeof tmp, "%s/%s", tmpdir, de->d_name);
                unlink(tmp);
            }
        closedir(d);
    }
}

/* A write that fails (here: a full disk, as EFBIG) is a clean abort: an
 * error, the previous checkpoint intact, no temporary file left. */
static void test_failed_write_cleans_up(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char p[512];
    path_in(p, sizeof p, "full.ckpt");
    assert_int_equal(write_big(p, 1.0f, &e), RN_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit fsz = {1 << 20, 1 << 20};
        setrlimit(RLIMIT_FSIZE, &fsz);
        signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
        struct rn_err ce = {0};
        int rc = write_big(p, 2.0f, &ce);
        _exit(rc == RN_EIO && strstr(ce.msg, "write failed") ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_big(p, 1.0f);
    assert_int_equal(count_files(".tmp."), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_dtype),
        cmocka_unit_test(test_empty_and_deterministic),
        cmocka_unit_test(test_metadata_and_conventions),
        cmocka_unit_test(test_format_check),
        cmocka_unit_test(test_writer_refuses),
        cmocka_unit_test(test_hostile_table),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_killed_mid_write_keeps_previous),
        cmocka_unit_test(test_sigkill_race),
        cmocka_unit_test(test_failed_write_cleans_up),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
