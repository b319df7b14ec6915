/* tensor — see tensor.h. */
#include "tensor.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexed by enum rn_dtype; the names are the stream format's spelling. */
static const struct {
    const char *name;
    size_t size;
    int is_float;
} dtype_table[RN_DTYPE_COUNT] = {
    [RN_DTYPE_INVALID] = {"?", 0, 0},
    [RN_DTYPE_U8] = {"u8", 1, 0},
    [RN_DTYPE_I8] = {"i8", 1, 0},
    [RN_DTYPE_U16] = {"u16", 2, 0},
    [RN_DTYPE_I16] = {"i16", 2, 0},
    [RN_DTYPE_U32] = {"u32", 4, 0},
    [RN_DTYPE_I32] = {"i32", 4, 0},
    [RN_DTYPE_U64] = {"u64", 8, 0},
    [RN_DTYPE_I64] = {"i64", 8, 0},
    [RN_DTYPE_F16] = {"f16", 2, 1},
    [RN_DTYPE_BF16] = {"bf16", 2, 1},
    [RN_DTYPE_F32] = {"f32", 4, 1},
    [RN_DTYPE_F64] = {"f64", 8, 1},
};

static int dtype_valid(int dtype)
{
    return dtype > RN_DTYPE_INVALID && dtype < RN_DTYPE_COUNT;
}

size_t rn_dtype_size(int dtype)
{
    return dtype_valid(dtype) ? dtype_table[dtype].size : 0;
}

const char *rn_dtype_name(int dtype)
{
    return dtype_valid(dtype) ? dtype_table[dtype].name : "?";
}

int rn_dtype_from_name(const char *name)
{
    if (!name)
        return RN_DTYPE_INVALID;
    for (int d = RN_DTYPE_INVALID + 1; d < RN_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_table[d].name) == 0)
            return d;
    return RN_DTYPE_INVALID;
}

int rn_dtype_is_float(int dtype)
{
    return dtype_valid(dtype) && dtype_table[dtype].is_float;
}

int rn_dtype_is_int(int dtype)
{
    return dtype_valid(dtype) && !dtype_table[dtype].is_float;
}

/* ---- shapes -------------------------------------------------------------- */

char *rn_shape_format(int rank, const int64_t *dims, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (rank < 0 || rank > RN_MAX_RANK || (rank > 0 && !dims)) {
        snprintf(buf, size, "[invalid rank %d]", rank);
        return buf;
    }
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i <= rank && n < size; i++) {
        int w;
        if (i == rank)
            w = snprintf(buf + n, size - n, rank == 0 ? "[]" : "]");
        else
            w = snprintf(buf + n, size - n, "%s%" PRId64, i == 0 ? "[" : ", ", dims[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* Zero dims are skipped in the overflow check, as NumPy does: a shape like
 * [0, 2^62, 2^62] has no elements, but its strides would still overflow, so
 * it is refused rather than let later index arithmetic wrap. */
static int shape_check(int rank, const int64_t *dims, uint64_t elem, uint64_t *out,
                       int *has_zero, struct rn_err *e)
{
    if (rank < 0)
        return rn_err_set(e, RN_EFORMAT, NULL, "rank %d is negative", rank);
    if (rank > RN_MAX_RANK)
        return rn_err_set(e, RN_EFORMAT, NULL, "rank %d exceeds %d", rank, RN_MAX_RANK);
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0)
            return rn_err_set(e, RN_EFORMAT, NULL, "dimension %d is negative (%" PRId64 ")",
                              i, dims[i]);
    uint64_t p = elem;
    *has_zero = 0;
    for (int i = 0; i < rank; i++) {
        uint64_t d = (uint64_t)dims[i];
        if (d == 0) {
            *has_zero = 1;
            continue;
        }
        if (p > (uint64_t)INT64_MAX / d) {
            char s[256];
            rn_shape_format(rank, dims, s, sizeof s);
            return rn_err_set(e, RN_ELIMIT, NULL, "shape %s overflows 64 bits", s);
        }
        p *= d;
    }
    *out = p;
    return RN_OK;
}

int rn_shape_numel(int rank, const int64_t *dims, int64_t *numel, struct rn_err *e)
{
    uint64_t p;
    int zero;
    int rc = shape_check(rank, dims, 1, &p, &zero, e);
    if (rc < 0)
        return rc;
    *numel = zero ? 0 : (int64_t)p;
    return RN_OK;
}

int rn_shape_nbytes(int dtype, int rank, const int64_t *dims, uint64_t *nbytes, struct rn_err *e)
{
    if (!dtype_valid(dtype))
        return rn_err_set(e, RN_EFORMAT, NULL, "unknown dtype %d", dtype);
    uint64_t p;
    int zero;
    int rc = shape_check(rank, dims, dtype_table[dtype].size, &p, &zero, e);
    if (rc == RN_ELIMIT) {
        char s[256];
        rn_shape_format(rank, dims, s, sizeof s);
        return rn_err_set(e, RN_ELIMIT, NULL, "shape %s of %s overflows 64 bits", s,
                          dtype_table[dtype].name);
    }
    if (rc < 0)
        return rc;
    *nbytes = zero ? 0 : p;
    return RN_OK;
}

/* ---- aligned memory ------------------------------------------------------ */

void *rn_aligned_alloc(size_t n)
{
    /* Rounded up to whole 64-byte lines so SIMD kernels may read a full
     * vector past the last element; 0 still yields a unique pointer. No
     * object may exceed PTRDIFF_MAX (pointer differences would overflow),
     * so such sizes fail here rather than in the allocator. */
    size_t r = n == 0 ? RN_ALIGN : n;
    if (r > (size_t)PTRDIFF_MAX - (RN_ALIGN - 1))
        return NULL;
    r = (r + RN_ALIGN - 1) & ~(size_t)(RN_ALIGN - 1);
    void *p = NULL;
    if (posix_memalign(&p, RN_ALIGN, r) != 0)
        return NULL;
    return p;
}

void rn_aligned_free(void *p)
{
    free(p);
}

/* ---- tensors ------------------------------------------------------------- */

static int tensor_describe(struct rn_tensor *t, int dtype, int rank, const int64_t *dims,
                           struct rn_err *e)
{
    uint64_t nbytes;
    int rc = rn_shape_nbytes(dtype, rank, dims, &nbytes, e);
    if (rc < 0)
        return rc;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->nbytes = nbytes;
    return RN_OK;
}

int rn_tensor_new(struct rn_tensor *t, int dtype, int rank, const int64_t *dims,
                  struct rn_err *e)
{
    memset(t, 0, sizeof *t);
    struct rn_tensor d = {0};
    int rc = tensor_describe(&d, dtype, rank, dims, e);
    if (rc < 0)
        return rc;
    if (d.nbytes > SIZE_MAX) {
        char s[256];
        return rn_err_set(e, RN_ENOMEM, NULL, "tensor %s of %s needs %" PRIu64
                          " bytes, more than this machine can address",
                          rn_shape_format(rank, dims, s, sizeof s), rn_dtype_name(dtype),
                          d.nbytes);
    }
    d.data = rn_aligned_alloc((size_t)d.nbytes);
    if (!d.data) {
        char s[256];
        return rn_err_set(e, RN_ENOMEM, NULL,
                          "cannot allocate %" PRIu64 " bytes for tensor %s of %s", d.nbytes,
                          rn_shape_format(rank, dims, s, sizeof s), rn_dtype_name(dtype));
    }
    memset(d.data, 0, (size_t)d.nbytes);
    d.owned = 1;
    *t = d;
    return RN_OK;
}

int rn_tensor_view(struct rn_tensor *t, int dtype, int rank, const int64_t *dims, void *data,
                   struct rn_err *e)
{
    memset(t, 0, sizeof *t);
    struct rn_tensor d = {0};
    int rc = tensor_describe(&d, dtype, rank, dims, e);
    if (rc < 0)
        return rc;
    if (!data && d.nbytes > 0)
        return rn_err_set(e, RN_EUSAGE, NULL, "view of %" PRIu64 " bytes has no data", d.nbytes);
    d.data = data;
    d.owned = 0;
    *t = d;
    return RN_OK;
}

void rn_tensor_free(struct rn_tensor *t)
{
    if (!t)
        return;
    if (t->owned)
        rn_aligned_free(t->data);
    memset(t, 0, sizeof *t);
}

int64_t rn_tensor_numel(const struct rn_tensor *t)
{
    /* An empty (zeroed or freed) tensor holds nothing, although rank 0
     * would otherwise mean one element. */
    if (!t || !dtype_valid(t->dtype))
        return 0;
    int64_t n;
    if (rn_shape_numel(t->rank, t->dims, &n, NULL) < 0)
        return 0;
    return n;
}

int64_t rn_tensor_int_at(const struct rn_tensor *t, int64_t i)
{
    RN_ASSERT(rn_dtype_is_int(t->dtype) && i >= 0);
    const void *d = t->data;
    switch (t->dtype) {
    case RN_DTYPE_U8: return ((const uint8_t *)d)[i];
    case RN_DTYPE_I8: return ((const int8_t *)d)[i];
    case RN_DTYPE_U16: return ((const uint16_t *)d)[i];
    case RN_DTYPE_I16: return ((const int16_t *)d)[i];
    case RN_DTYPE_U32: return ((const uint32_t *)d)[i];
    case RN_DTYPE_I32: return ((const int32_t *)d)[i];
    case RN_DTYPE_U64: {
        uint64_t u = ((const uint64_t *)d)[i];
        return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
    }
    default: return ((const int64_t *)d)[i];
    }
}

/* ---- half precision ------------------------------------------------------ */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float rn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) /* inf, or NaN with its payload kept in the top bits */
        return f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return f32_from_bits(sign);
        /* Subnormal man * 2^-24: shift the leading 1 into the implicit bit. */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        return f32_from_bits(sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13));
    }
    return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

uint16_t rn_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) {
        /* NaN: keep the top payload bits; force one set so it cannot
         * collapse into infinity. */
        uint16_t man = (uint16_t)((x >> 13) & 0x3ff);
        return sign | 0x7c00 | (man ? man : 0x200);
    }
    if (x >= 0x47800000u) /* >= 65536, or inf: overflows to inf */
        return sign | 0x7c00;
    if (x >= 0x38800000u) {
        /* Normal: rebias the exponent (127 -> 15) and round the 13 dropped
         * bits to nearest even; a carry into the exponent is the right
         * answer, up to and including 65520 -> inf. */
        uint32_t h = (x - 0x38000000u) >> 13;
        uint32_t rem = x & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
            h++;
        return sign | (uint16_t)h;
    }
    if (x <= 0x33000000u) /* <= 2^-25: rounds (ties to even) to zero */
        return sign;
    /* Subnormal result: value = m * 2^(e-150) with 24-bit m; in units of
     * 2^-24 that is m >> (126 - e), rounded to nearest even. Rounding up
     * to 0x400 yields the smallest normal, which is correct. */
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffff) | 0x800000;
    uint32_t s = 126 - e;
    uint32_t h = m >> s;
    uint32_t rem = m & ((1u << s) - 1);
    uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

float rn_bf16_to_f32(uint16_t b)
{
    return f32_from_bits((uint32_t)b << 16);
}

uint16_t rn_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        uint16_t h = (uint16_t)(x >> 16);
        return (h & 0x7f) ? h : (uint16_t)(h | 0x40);
    }
    /* Round to nearest even on the low 16 bits; overflow carries into inf. */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
