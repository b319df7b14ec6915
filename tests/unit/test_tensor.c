/* Unit tests for libcore/tensor: dtype table, shape arithmetic and its
 * overflow checks, aligned buffers, tensors, f16/bf16 conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tensor.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- dtypes -------------------------------------------------------------- */

static void test_dtype_table(void **state)
{
    (void)state;
    static const struct {
        int dtype;
        const char *name;
        size_t size;
        int is_float;
    } want[] = {
        {RN_DTYPE_U8, "u8", 1, 0},    {RN_DTYPE_I8, "i8", 1, 0},    {RN_DTYPE_U16, "u16", 2, 0},
        {RN_DTYPE_I16, "i16", 2, 0},  {RN_DTYPE_U32, "u32", 4, 0},  {RN_DTYPE_I32, "i32", 4, 0},
        {RN_DTYPE_U64, "u64", 8, 0},  {RN_DTYPE_I64, "i64", 8, 0},  {RN_DTYPE_F16, "f16", 2, 1},
        {RN_DTYPE_BF16, "bf16", 2, 1}, {RN_DTYPE_F32, "f32", 4, 1}, {RN_DTYPE_F64, "f64", 8, 1},
    };
    assert_int_equal(sizeof want / sizeof want[0], RN_DTYPE_COUNT - 1);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(rn_dtype_size(want[i].dtype), want[i].size);
        assert_string_equal(rn_dtype_name(want[i].dtype), want[i].name);
        assert_int_equal(rn_dtype_from_name(want[i].name), want[i].dtype);
        assert_int_equal(!!rn_dtype_is_float(want[i].dtype), want[i].is_float);
        assert_int_equal(!!rn_dtype_is_int(want[i].dtype), !want[i].is_float);
    }
}

static void test_dtype_unknown(void **state)
{
    (void)state;
    const int bad[] = {RN_DTYPE_INVALID, RN_DTYPE_COUNT, -1, 255, 1 << 30};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rn_dtype_size(bad[i]), 0);
        assert_string_equal(rn_dtype_name(bad[i]), "?");
        assert_false(rn_dtype_is_float(bad[i]));
        assert_false(rn_dtype_is_int(bad[i]));
    }
    const char *names[] = {"", "?", "F32", "f32 ", "float32", "u", "bf", "f8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(rn_dtype_from_name(names[i]), RN_DTYPE_INVALID);
    assert_int_equal(rn_dtype_from_name(NULL), RN_DTYPE_INVALID);
}

/* ---- shapes -------------------------------------------------------------- */

#define BIG INT64_C(4294967296)

static void test_shape_numel_ok(void **state)
{
    (void)state;
    static const struct {
        int rank;
        int64_t dims[RN_MAX_RANK];
        int64_t numel;
    } cases[] = {
        {0, {0}, 1},
        {1, {0}, 0},
        {1, {7}, 7},
        {2, {3, 4}, 12},
        {3, {2, 0, 5}, 0},
        {8, {2, 2, 2, 2, 2, 2, 2, 2}, 256},
        {1, {INT64_MAX}, INT64_MAX},
        {2, {BIG, BIG / 2 - 1}, BIG * (BIG / 2 - 1)},
        /* zero dims are skipped by the overflow check, so this is allowed: */
        {3, {0, BIG, BIG / 2 - 1}, 0},
        {4, {1, 1, 1, INT64_MAX}, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rn_err e = {0};
        int64_t n = -42;
        assert_int_equal(rn_shape_numel(cases[i].rank, cases[i].dims, &n, &e), RN_OK);
        assert_true(n == cases[i].numel);
    }
}

static void test_shape_numel_errors(void **state)
{
    (void)state;
    static const struct {
        int rank;
        int64_t dims[RN_MAX_RANK];
        int code;
        const char *msg;
    } cases[] = {
        {3, {BIG, BIG, BIG}, RN_ELIMIT,
         "shape [4294967296, 4294967296, 4294967296] overflows 64 bits"},
        {2, {BIG, BIG / 2}, RN_ELIMIT, "shape [4294967296, 2147483648] overflows 64 bits"},
        {2, {INT64_MAX, 2}, RN_ELIMIT, "shape [9223372036854775807, 2] overflows 64 bits"},
        {3, {0, BIG, BIG}, RN_ELIMIT, "shape [0, 4294967296, 4294967296] overflows 64 bits"},
        {3, {2, 3, -1}, RN_EFORMAT, "dimension 2 is negative (-1)"},
        {1, {INT64_MIN}, RN_EFORMAT, "dimension 0 is negative (-9223372036854775808)"},
        {9, {1}, RN_EFORMAT, "rank 9 exceeds 8"},
        {-1, {1}, RN_EFORMAT, "rank -1 is negative"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rn_err e = {0};
        int64_t n = -42;
        assert_int_equal(rn_shape_numel(cases[i].rank, cases[i].dims, &n, &e), cases[i].code);
        assert_int_equal(e.code, cases[i].code);
        assert_string_equal(e.msg, cases[i].msg);
        assert_true(n == -42);
    }
    /* a NULL error struct is allowed */
    int64_t n;
    assert_int_equal(rn_shape_numel(9, (int64_t[9]){0}, &n, NULL), RN_EFORMAT);
}

static void test_shape_nbytes(void **state)
{
    (void)state;
    static const struct {
        int dtype, rank;
        int64_t dims[RN_MAX_RANK];
        int code;
        uint64_t nbytes;
        const char *msg;
    } cases[] = {
        {RN_DTYPE_F32, 2, {3, 4}, RN_OK, 48, NULL},
        {RN_DTYPE_F64, 0, {0}, RN_OK, 8, NULL},
        {RN_DTYPE_U8, 1, {0}, RN_OK, 0, NULL},
        {RN_DTYPE_BF16, 3, {2, 3, 5}, RN_OK, 60, NULL},
        {RN_DTYPE_U8, 1, {INT64_MAX}, RN_OK, INT64_MAX, NULL},
        {RN_DTYPE_I64, 1, {INT64_MAX / 8}, RN_OK, (uint64_t)(INT64_MAX / 8) * 8, NULL},
        {RN_DTYPE_I64, 1, {INT64_MAX / 8 + 1}, RN_ELIMIT, 0,
         "shape [1152921504606846976] of i64 overflows 64 bits"},
        {RN_DTYPE_F16, 2, {BIG, BIG}, RN_ELIMIT, 0,
         "shape [4294967296, 4294967296] of f16 overflows 64 bits"},
        {RN_DTYPE_F32, 2, {3, -4}, RN_EFORMAT, 0, "dimension 1 is negative (-4)"},
        {RN_DTYPE_F32, 9, {1}, RN_EFORMAT, 0, "rank 9 exceeds 8"},
        {RN_DTYPE_INVALID, 1, {1}, RN_EFORMAT, 0, "unknown dtype 0"},
        {RN_DTYPE_COUNT, 1, {1}, RN_EFORMAT, 0, "unknown dtype 13"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rn_err e = {0};
        uint64_t nb = 12345;
        int rc = rn_shape_nbytes(cases[i].dtype, cases[i].rank, cases[i].dims, &nb, &e);
        assert_int_equal(rc, cases[i].code);
        if (rc == RN_OK) {
            assert_true(nb == cases[i].nbytes);
        } else {
            assert_string_equal(e.msg, cases[i].msg);
            assert_true(nb == 12345);
        }
    }
}

static void test_shape_format(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(rn_shape_format(0, NULL, buf, sizeof buf), "[]");
    assert_string_equal(rn_shape_format(1, (int64_t[]){5}, buf, sizeof buf), "[5]");
    assert_string_equal(rn_shape_format(2, (int64_t[]){3, 4}, buf, sizeof buf), "[3, 4]");
    assert_string_equal(rn_shape_format(2, (int64_t[]){-1, 0}, buf, sizeof buf), "[-1, 0]");
    int64_t big[8] = {INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN,
                      INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN};
    char *r = rn_shape_format(8, big, buf, sizeof buf);
    assert_ptr_equal(r, buf);
    assert_string_equal(buf, "[9223372036854775807, -9223372036854775808, 9223372036854775807, "
                             "-9223372036854775808, 9223372036854775807, -9223372036854775808, "
                             "9223372036854775807, -9223372036854775808]");
    assert_string_equal(rn_shape_format(9, big, buf, sizeof buf), "[invalid rank 9]");
    /* Truncation always leaves a NUL-terminated prefix. */
    char small[6];
    memset(small, 'x', sizeof small);
    rn_shape_format(2, (int64_t[]){123, 456}, small, sizeof small);
    assert_string_equal(small, "[123,");
    char one[1] = {'x'};
    rn_shape_format(2, (int64_t[]){1, 2}, one, 1);
    assert_int_equal(one[0], '\0');
    char none[1] = {'x'};
    rn_shape_format(2, (int64_t[]){1, 2}, none, 0);
    assert_int_equal(none[0], 'x');
}

/* ---- memory and tensors -------------------------------------------------- */

static void test_aligned_alloc(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 63, 64, 65, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = rn_aligned_alloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % RN_ALIGN, 0);
        memset(p, 0xab, sizes[i]);
        rn_aligned_free(p);
    }
    assert_null(rn_aligned_alloc(SIZE_MAX));
    assert_null(rn_aligned_alloc(SIZE_MAX - 10));
    rn_aligned_free(NULL);
}

static void test_tensor_new(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_tensor t;
    int64_t dims[3] = {2, 3, 5};
    /* dirty freed heap memory first, so "zeroed" is not luck */
    for (size_t n = 64; n <= 8192; n *= 2) {
        unsigned char *dirty = rn_aligned_alloc(n);
        assert_non_null(dirty);
        memset(dirty, 0xa5, n);
        rn_aligned_free(dirty);
    }
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_F32, 3, dims, &e), RN_OK);
    assert_int_equal(t.dtype, RN_DTYPE_F32);
    assert_int_equal(t.rank, 3);
    assert_true(t.dims[0] == 2 && t.dims[1] == 3 && t.dims[2] == 5);
    for (int i = 3; i < RN_MAX_RANK; i++)
        assert_true(t.dims[i] == 0);
    assert_true(t.nbytes == 120);
    assert_int_equal(t.owned, 1);
    assert_int_equal((uintptr_t)t.data % RN_ALIGN, 0);
    assert_true(rn_tensor_numel(&t) == 30);
    const unsigned char *p = t.data;
    for (int i = 0; i < 120; i++)
        assert_int_equal(p[i], 0);
    rn_tensor_free(&t);
    assert_null(t.data);
    assert_int_equal(t.dtype, RN_DTYPE_INVALID);
    rn_tensor_free(&t); /* twice is harmless */
    rn_tensor_free(NULL);

    /* rank 0 is a scalar; an empty shape still gets a real pointer */
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_F64, 0, NULL, &e), RN_OK);
    assert_true(t.nbytes == 8 && rn_tensor_numel(&t) == 1);
    assert_non_null(t.data);
    rn_tensor_free(&t);
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_I16, 2, (int64_t[]){4, 0}, &e), RN_OK);
    assert_true(t.nbytes == 0 && rn_tensor_numel(&t) == 0);
    assert_non_null(t.data);
    rn_tensor_free(&t);
}

static void test_tensor_new_errors(void **state)
{
    (void)state;
    struct rn_tensor t;
    struct rn_err e = {0};
    memset(&t, 0x5a, sizeof t);
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_F32, 3, (int64_t[]){BIG, BIG, BIG}, &e), RN_ELIMIT);
    assert_string_equal(e.msg, "shape [4294967296, 4294967296, 4294967296] of f32 overflows 64 bits");
    assert_null(t.data);
    assert_int_equal(t.owned, 0);
    rn_tensor_free(&t);
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_INVALID, 1, (int64_t[]){1}, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "unknown dtype 0");
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_U8, 1, (int64_t[]){-3}, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "dimension 0 is negative (-3)");
    /* valid but unallocatable: an error, not a crash */
    assert_int_equal(rn_tensor_new(&t, RN_DTYPE_U8, 1, (int64_t[]){INT64_MAX}, &e), RN_ENOMEM);
    assert_non_null(strstr(e.msg, "9223372036854775807"));
    assert_null(t.data);
}

static void test_tensor_view(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_tensor t;
    float buf[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 2, (int64_t[]){2, 3}, buf, &e), RN_OK);
    assert_ptr_equal(t.data, buf);
    assert_int_equal(t.owned, 0);
    assert_true(t.nbytes == sizeof buf);
    assert_true(rn_tensor_numel(&t) == 6);
    rn_tensor_free(&t); /* must not free buf (stack memory: a free would crash) */
    assert_null(t.data);
    assert_true(buf[5] == 6);

    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 1, (int64_t[]){0}, NULL, &e), RN_OK);
    rn_tensor_free(&t);
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 1, (int64_t[]){2}, NULL, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "view of 8 bytes has no data");
    assert_int_equal(rn_tensor_view(&t, RN_DTYPE_F32, 9, (int64_t[9]){0}, buf, &e), RN_EFORMAT);
    assert_string_equal(e.msg, "rank 9 exceeds 8");
    assert_null(t.data);
}

static void test_tensor_numel_empty(void **state)
{
    (void)state;
    struct rn_tensor t;
    memset(&t, 0, sizeof t);
    assert_true(rn_tensor_numel(&t) == 0);
    assert_true(rn_tensor_numel(NULL) == 0);
}

/* ---- half precision ------------------------------------------------------ */

static void test_f16_exhaustive_round_trip(void **state)
{
    (void)state;
    int nans = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rn_f16_to_f32((uint16_t)h);
        uint16_t back = rn_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            nans++;
            assert_true(isnan(f));
            assert_int_equal(back & 0x7c00, 0x7c00);
            assert_int_not_equal(back & 0x3ff, 0);
            assert_int_equal(back & 0x8000, h & 0x8000);
            /* quiet NaNs keep their payload bit for bit */
            if (h & 0x200)
                assert_int_equal(back, h);
        } else {
            assert_false(isnan(f));
            if (back != h)
                fail_msg("f16 0x%04x -> %a -> 0x%04x", h, (double)f, back);
        }
    }
    assert_int_equal(nans, 2 * 1023);
}

/* Exact value of a non-NaN half as a double, from first principles. */
static double f16_value(uint16_t h)
{
    int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double s = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0x1f)
        return s * INFINITY;
    if (exp == 0)
        return s * ldexp(man, -24);
    return s * ldexp(1024 + man, exp - 25);
}

static void test_f16_exhaustive_values(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        double want = f16_value((uint16_t)h);
        double got = rn_f16_to_f32((uint16_t)h);
        if (!(want == got && signbit(want) == signbit(got)))
            fail_msg("f16 0x%04x: got %a want %a", h, got, want);
    }
}

static void test_f16_known(void **state)
{
    (void)state;
    static const struct {
        uint32_t f32;
        uint16_t f16;
    } cases[] = {
        {0x00000000, 0x0000}, /* +0 */
        {0x80000000, 0x8000}, /* -0 */
        {0x3f800000, 0x3c00}, /* 1 */
        {0xc0000000, 0xc000}, /* -2 */
        {0x3dcccccd, 0x2e66}, /* 0.1 */
        {0x477fe000, 0x7bff}, /* 65504, the largest half */
        {0x477fefff, 0x7bff}, /* just below 65520 */
        {0x477ff000, 0x7c00}, /* 65520: tie, rounds to even = inf */
        {0x47800000, 0x7c00}, /* 65536 */
        {0x7f7fffff, 0x7c00}, /* FLT_MAX */
        {0x7f800000, 0x7c00}, /* inf */
        {0xff800000, 0xfc00}, /* -inf */
        {0x38800000, 0x0400}, /* 2^-14, smallest normal */
        {0x387fc000, 0x03ff}, /* largest subnormal */
        {0x387fe000, 0x0400}, /* halfway between largest subnormal and 2^-14: to even */
        {0x33800000, 0x0001}, /* 2^-24, smallest subnormal */
        {0x33000000, 0x0000}, /* 2^-25: tie, rounds to even = 0 */
        {0x33000001, 0x0001}, /* just above the tie */
        {0x33c00000, 0x0002}, /* 1.5 * 2^-24: tie between 1 and 2, to even = 2 */
        {0x33a00000, 0x0001}, /* 1.25 * 2^-24 */
        {0x34200000, 0x0002}, /* 2.5 * 2^-24: tie, to even = 2 */
        {0x34400000, 0x0003}, /* 3 * 2^-24, exact */
        {0x00000001, 0x0000}, /* f32 subnormal underflows */
        {0x80000001, 0x8000},
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie, to even = 1 */
        {0x3f803000, 0x3c02}, /* 1 + 3*2^-11: tie, to even = 1 + 2^-9 */
        {0x3f801001, 0x3c01}, /* just above the tie */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = rn_f32_to_f16(float_of(cases[i].f32));
        if (got != cases[i].f16)
            fail_msg("f32 0x%08x -> f16 0x%04x, want 0x%04x", cases[i].f32, got, cases[i].f16);
    }
    /* NaNs: sign and the top payload bits kept, never turned into inf */
    assert_int_equal(rn_f32_to_f16(float_of(0x7fc00000)), 0x7e00);
    assert_int_equal(rn_f32_to_f16(float_of(0xffc00000)), 0xfe00);
    assert_int_equal(rn_f32_to_f16(float_of(0x7f800001)), 0x7e00);
    assert_int_equal(rn_f32_to_f16(float_of(0x7fd56000)), 0x7eab);
}

/* Nearest-even rounding of a float, checked against its neighbours: over a
 * sweep of every 97th f32 bit pattern (all exponents and signs). */
static void test_f16_rounding_sweep(void **state)
{
    (void)state;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 97) {
        float f = float_of((uint32_t)u);
        if (isnan(f))
            continue;
        uint16_t h = rn_f32_to_f16(f);
        double x = f, got = f16_value(h);
        double ax = fabs(x);
        assert_int_equal(h & 0x8000, ((uint32_t)u >> 16) & 0x8000);
        if (ax >= 65520.0) {
            assert_int_equal(h & 0x7fff, 0x7c00);
            continue;
        }
        /* the neighbours of the result in magnitude */
        uint16_t mag = h & 0x7fff;
        double lo = mag > 0 ? f16_value((uint16_t)(mag - 1)) : -1.0;
        double hi = f16_value((uint16_t)(mag + 1));
        double err = fabs(fabs(got) - ax);
        if (err > fabs(lo - ax) || err > fabs(hi - ax))
            fail_msg("f32 %a -> f16 0x%04x is not nearest", x, h);
        if ((err == fabs(lo - ax) || err == fabs(hi - ax)) && err != 0 && (mag & 1))
            fail_msg("f32 %a -> f16 0x%04x: tie not to even", x, h);
    }
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = rn_bf16_to_f32((uint16_t)b);
        assert_int_equal(bits_of(f), b << 16);
        uint16_t back = rn_f32_to_bf16(f);
        if ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) {
            assert_true(isnan(f));
            assert_int_equal(back, b); /* payload fits: kept */
        } else if (back != b) {
            fail_msg("bf16 0x%04x -> 0x%04x", b, back);
        }
    }
    static const struct {
        uint32_t f32;
        uint16_t bf16;
    } cases[] = {
        {0x3f800000, 0x3f80}, {0x3f808000, 0x3f80}, /* tie, to even */
        {0x3f818000, 0x3f82},                       /* tie, to even (up) */
        {0x3f808001, 0x3f81}, {0x3f807fff, 0x3f80},
        {0x7f7fffff, 0x7f80},                       /* FLT_MAX rounds to inf */
        {0x7f7f7fff, 0x7f7f}, {0x00000001, 0x0000}, /* subnormal f32 rounds to 0 */
        {0x00008000, 0x0000},                       /* tie at 0, to even */
        {0x00018000, 0x0002},                       /* subnormal tie, to even */
        {0x80000000, 0x8000}, {0xff800000, 0xff80},
        {0x7f800001, 0x7fc0}, /* NaN whose payload sits in the dropped bits */
        {0xff800001, 0xffc0}, {0x7fc00000, 0x7fc0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = rn_f32_to_bf16(float_of(cases[i].f32));
        if (got != cases[i].bf16)
            fail_msg("f32 0x%08x -> bf16 0x%04x, want 0x%04x", cases[i].f32, got, cases[i].bf16);
    }
}

static void test_int_at_widens_every_integer_dtype(void **state)
{
    (void)state;
    struct rn_tensor t;
    int64_t d1[1] = {2};
    uint8_t u8[2] = {0, 255};
    int8_t i8[2] = {-128, 127};
    uint16_t u16[2] = {0, 65535};
    int16_t i16[2] = {-32768, 32767};
    uint32_t u32[2] = {0, 4294967295u};
    int32_t i32[2] = {INT32_MIN, INT32_MAX};
    uint64_t u64[2] = {7, UINT64_MAX};
    int64_t i64[2] = {INT64_MIN, INT64_MAX};
    struct { int dt; void *p; int64_t lo, hi; } c[] = {
        {RN_DTYPE_U8, u8, 0, 255},           {RN_DTYPE_I8, i8, -128, 127},
        {RN_DTYPE_U16, u16, 0, 65535},       {RN_DTYPE_I16, i16, -32768, 32767},
        {RN_DTYPE_U32, u32, 0, 4294967295LL}, {RN_DTYPE_I32, i32, INT32_MIN, INT32_MAX},
        {RN_DTYPE_U64, u64, 7, INT64_MAX},   {RN_DTYPE_I64, i64, INT64_MIN, INT64_MAX},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        assert_int_equal(rn_tensor_view(&t, c[k].dt, 1, d1, c[k].p, NULL), RN_OK);
        assert_true(rn_tensor_int_at(&t, 0) == c[k].lo);
        assert_true(rn_tensor_int_at(&t, 1) == c[k].hi);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),
        cmocka_unit_test(test_dtype_unknown),
        cmocka_unit_test(test_shape_numel_ok),
        cmocka_unit_test(test_shape_numel_errors),
        cmocka_unit_test(test_shape_nbytes),
        cmocka_unit_test(test_shape_format),
        cmocka_unit_test(test_aligned_alloc),
        cmocka_unit_test(test_tensor_new),
        cmocka_unit_test(test_tensor_new_errors),
        cmocka_unit_test(test_tensor_view),
        cmocka_unit_test(test_tensor_numel_empty),
        cmocka_unit_test(test_f16_exhaustive_round_trip),
        cmocka_unit_test(test_f16_exhaustive_values),
        cmocka_unit_test(test_f16_known),
        cmocka_unit_test(test_f16_rounding_sweep),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_int_at_widens_every_integer_dtype),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
