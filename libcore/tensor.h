/* tensor — dtypes, shapes and 64-byte aligned buffers.
 *
 * A struct rn_tensor describes an n-dimensional row-major array. Ownership
 * rule: rn_tensor_new owns its data (rn_tensor_free releases it);
 * rn_tensor_view borrows (rn_tensor_free leaves the data alone).
 *
 *     struct rn_tensor t;
 *     int64_t dims[2] = {3, 4};
 *     if (rn_tensor_new(&t, RN_DTYPE_F32, 2, dims, &e) < 0) ...
 *     float *x = t.data;          // 12 floats, zeroed, 64-byte aligned
 *     rn_tensor_free(&t);
 *
 * Every size computation checks for overflow: shapes come from untrusted
 * streams and files.
 */
#ifndef RN_TENSOR_H
#define RN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RN_MAX_RANK 8
#define RN_ALIGN 64

/* Values are part of the stream format (runnel-stream(5)): never renumber. */
enum rn_dtype {
    RN_DTYPE_INVALID = 0,
    RN_DTYPE_U8 = 1,
    RN_DTYPE_I8 = 2,
    RN_DTYPE_U16 = 3,
    RN_DTYPE_I16 = 4,
    RN_DTYPE_U32 = 5,
    RN_DTYPE_I32 = 6,
    RN_DTYPE_U64 = 7,
    RN_DTYPE_I64 = 8,
    RN_DTYPE_F16 = 9,
    RN_DTYPE_BF16 = 10,
    RN_DTYPE_F32 = 11,
    RN_DTYPE_F64 = 12,
    RN_DTYPE_COUNT
};

/* Bytes per element; 0 for an unknown dtype. */
size_t rn_dtype_size(int dtype);
/* "f32", "bf16", ...; "?" for an unknown dtype. */
const char *rn_dtype_name(int dtype);
/* Inverse of rn_dtype_name; RN_DTYPE_INVALID if the name is unknown. */
int rn_dtype_from_name(const char *name);
int rn_dtype_is_float(int dtype);
int rn_dtype_is_int(int dtype);

/* Number of elements of a shape (1 for rank 0). Returns RN_OK, or
 * RN_ELIMIT if the product overflows 2^63-1, RN_EFORMAT if a dim is
 * negative or rank is out of 0..RN_MAX_RANK. As in NumPy, a zero dim does
 * not hide an overflow of the other dims (their strides would overflow). */
int rn_shape_numel(int rank, const int64_t *dims, int64_t *numel, struct rn_err *e);
/* Bytes of a shape of dtype, with the same checks plus the dtype's. */
int rn_shape_nbytes(int dtype, int rank, const int64_t *dims, uint64_t *nbytes, struct rn_err *e);
/* Format a shape as "[3, 4]" into buf (always NUL-terminated); returns buf. */
char *rn_shape_format(int rank, const int64_t *dims, char *buf, size_t size);

/* 64-byte aligned allocation of n bytes (n may be 0: a unique pointer);
 * NULL on failure. The block is rounded up to a multiple of 64 bytes, so a
 * kernel may read whole vectors past the last element. Release with
 * rn_aligned_free. */
void *rn_aligned_alloc(size_t n);
void rn_aligned_free(void *p);

struct rn_tensor {
    int dtype;                    /* enum rn_dtype */
    int rank;                     /* 0..RN_MAX_RANK */
    int64_t dims[RN_MAX_RANK];    /* dims[rank..] are 0 */
    void *data;                   /* RN_ALIGN-aligned when owned */
    uint64_t nbytes;
    int owned;                    /* 1: rn_tensor_free releases data */
};

/* New zeroed tensor; on error t is left empty (safe to free). */
int rn_tensor_new(struct rn_tensor *t, int dtype, int rank, const int64_t *dims,
                  struct rn_err *e);
/* Describe borrowed memory; data must hold the shape's bytes. */
int rn_tensor_view(struct rn_tensor *t, int dtype, int rank, const int64_t *dims,
                   void *data, struct rn_err *e);
/* Release owned data and empty t; NULL and empty tensors are no-ops. */
void rn_tensor_free(struct rn_tensor *t);
/* Elements of t; 0 for NULL or an empty (zeroed or freed) tensor. */
int64_t rn_tensor_numel(const struct rn_tensor *t);
/* Element i of an integer tensor, widened to int64 (u64 values past
 * INT64_MAX saturate to it, so range checks still reject them). */
int64_t rn_tensor_int_at(const struct rn_tensor *t, int64_t i);

/* IEEE half and bfloat16 conversions (round to nearest even; NaN kept). */
float rn_f16_to_f32(uint16_t h);
uint16_t rn_f32_to_f16(float f);
float rn_bf16_to_f32(uint16_t b);
uint16_t rn_f32_to_bf16(float f);

#endif
