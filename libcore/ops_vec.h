/* ops_vec — vectorised row primitives under the kernels of ops.h: max,
 * exp-and-sum, scale, SiLU/SwiGLU. Internal to libcore/ops*.c.
 *
 * The exponential is the hot spot outside the matrix products (one per
 * logit in the cross-entropy: ~1e8 per training step at vocab 50259; one
 * per attention weight and per expert activation), and glibc's scalar
 * expf is ~4x slower than what PyTorch runs. On CPUs with AVX-512 (checked
 * at run time) these use a Cephes-style exp: range reduction by ln 2, a
 * degree-6 polynomial, and vscalefps for the 2^n (which also gives exact
 * overflow to inf and underflow to 0); about 1 ulp, NaN propagates.
 * Elsewhere they fall back to scalar libm code with the same contract.
 * Each call is single-threaded: callers parallelise over rows or chunks.
 */
#ifndef RN_OPS_VEC_H
#define RN_OPS_VEC_H

#include <stddef.h>

/* Largest of x[0..n-1], n >= 1; NaN if any is NaN (vector path) or the
 * largest non-NaN (scalar path: NaN then surfaces through the exp). */
float rn_vec_max(const float *x, size_t n);
/* Sum over i of exp(x[i] - shift), accumulated in double across blocks;
 * if dst is non-NULL also stores each exp there (dst may equal x). */
double rn_vec_expsum(float *dst, const float *x, size_t n, float shift);
/* x[i] *= k. */
void rn_vec_scale(float *x, size_t n, float k);
/* y = x * sigmoid(x); y may equal x. */
void rn_vec_silu(float *y, const float *x, size_t n);
/* dx += dy * silu'(x). */
void rn_vec_silu_backward(float *dx, const float *dy, const float *x, size_t n);
/* h = silu(g) * u. */
void rn_vec_swiglu(float *h, const float *g, const float *u, size_t n);
/* dg += dh * u * silu'(g) and du += dh * silu(g), either may be NULL;
 * with add == 0 they are written instead (then neither may be NULL, and
 * du may equal dh). */
void rn_vec_swiglu_backward(float *dg, float *du, const float *dh, const float *g,
                            const float *u, size_t n, int add);

/* Which path runs: 1 AVX-512, 0 scalar. rn_vec_set_level(0) forces the
 * scalar path, (1) the vector one where the CPU has it, (-1) automatic;
 * returns the level now in effect. For tests: not thread-safe. */
int rn_vec_level(void);
int rn_vec_set_level(int level);

#endif
