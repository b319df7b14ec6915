/* ops_vec — AVX-512 row primitives with scalar fallbacks (see ops_vec.h). */
#include "ops_vec.h"

#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512 1
#define TGT __attribute__((target("avx512f")))
#endif

static int forced_level = -1;

int rn_vec_level(void)
{
#ifdef HAVE_AVX512
    if (forced_level == 0)
        return 0;
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

int rn_vec_set_level(int level)
{
    forced_level = level < 0 ? -1 : level;
    return rn_vec_level();
}

/* ---- scalar path --------------------------------------------------------- */

static float max_scalar(const float *x, size_t n)
{
    float m = x[0];
    for (size_t i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static double expsum_scalar(float *dst, const float *x, size_t n, float shift)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        float e = expf(x[i] - shift);
        if (dst)
            dst[i] = e;
        s += e;
    }
    return s;
}

static inline float sigm(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* ---- AVX-512 path ---------------------------------------------------------- */
#ifdef HAVE_AVX512

/* exp(x): x = n ln2 + r, |r| <= ln2/2, exp(r) by Cephes' expf polynomial,
 * times 2^n by vscalefps. Inputs are clamped to +-104, beyond which the
 * float result is inf or 0 anyway; max/min keep NaN (second operand). */
TGT static inline __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(104.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
}

TGT static inline __mmask16 tail_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

TGT static float max512(const float *x, size_t n)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + i);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        m = _mm512_max_ps(m, v);
    }
    return nan ? NAN : _mm512_reduce_max_ps(m);
}

TGT static double expsum512(float *dst, const float *x, size_t n, float shift)
{
    const __m512 sh = _mm512_set1_ps(shift);
    __m512d acc = _mm512_setzero_pd();
    /* float lanes for a block of 256, then double: a 50k-long row keeps
     * its sum to ~1e-7 */
    for (size_t i = 0; i < n;) {
        size_t end = n - i > 256 ? i + 256 : n;
        __m512 bs = _mm512_setzero_ps();
        for (; i < end; i += 16) {
            __mmask16 k = tail_mask(end - i);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh));
            if (dst)
                _mm512_mask_storeu_ps(dst + i, k, e);
            bs = _mm512_mask_add_ps(bs, k, bs, e);
        }
        i = end;
        __m256 lo = _mm512_castps512_ps256(bs);
        __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(bs), 1));
        acc = _mm512_add_pd(acc, _mm512_add_pd(_mm512_cvtps_pd(lo), _mm512_cvtps_pd(hi)));
    }
    return _mm512_reduce_add_pd(acc);
}

TGT static void scale512(float *x, size_t n, float k)
{
    const __m512 kv = _mm512_set1_ps(k);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), kv));
    }
}

/* sigmoid(x) = 1 / (1 + exp(-x)): exp overflows to inf for x < -88 and
 * the quotient is then 0, as it should be. */
TGT static inline __m512 sigmoid512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

/* silu'(x) = s (1 + x (1 - s)) */
TGT static inline __m512 dsilu512(__m512 x, __m512 s)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_mul_ps(s, _mm512_fmadd_ps(x, _mm512_sub_ps(one, s), one));
}

TGT static void silu512(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, sigmoid512(v)));
    }
}

TGT static void silu_bwd512(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 d = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), dsilu512(v, sigmoid512(v)));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dx + i), d));
    }
}

TGT static void swiglu512(float *h, const float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, g + i);
        __m512 o = _mm512_mul_ps(_mm512_mul_ps(v, sigmoid512(v)), _mm512_maskz_loadu_ps(m, u + i));
        _mm512_mask_storeu_ps(h + i, m, o);
    }
}

TGT static void swiglu_bwd512(float *dg, float *du, const float *dh, const float *g,
                              const float *u, size_t n, int add)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, g + i), s = sigmoid512(v);
        __m512 d = _mm512_maskz_loadu_ps(m, dh + i);
        __m512 a = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_maskz_loadu_ps(m, u + i)), dsilu512(v, s));
        __m512 b = _mm512_mul_ps(d, _mm512_mul_ps(v, s));
        if (dg) {
            if (add)
                a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, dg + i));
            _mm512_mask_storeu_ps(dg + i, m, a);
        }
        if (du) {
            if (add)
                b = _mm512_add_ps(b, _mm512_maskz_loadu_ps(m, du + i));
            _mm512_mask_storeu_ps(du + i, m, b);
        }
    }
}
#endif /* HAVE_AVX512 */

/* ---- dispatch -------------------------------------------------------------- */

#ifdef HAVE_AVX512
#define VEC (rn_vec_level())
#else
#define VEC 0
#endif

float rn_vec_max(const float *x, size_t n)
{
#ifdef HAVE_AVX512
    if (VEC)
        return max512(x, n);
#endif
    return max_scalar(x, n);
}

double rn_vec_expsum(float *dst, const float *x, size_t n, float shift)
{
#ifdef HAVE_AVX512
    if (VEC)
        return expsum512(dst, x, n, shift);
#endif
    return expsum_scalar(dst, x, n, shift);
}

void rn_vec_scale(float *x, size_t n, float k)
{
#ifdef HAVE_AVX512
    if (VEC) {
        scale512(x, n, k);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] *= k;
}

void rn_vec_silu(float *y, const float *x, size_t n)
{
#ifdef HAVE_AVX512
    if (VEC) {
        silu512(y, x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * sigm(x[i]);
}

void rn_vec_silu_backward(float *dx, const float *dy, const float *x, size_t n)
{
#ifdef HAVE_AVX512
    if (VEC) {
        silu_bwd512(dx, dy, x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        float s = sigm(x[i]);
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

void rn_vec_swiglu(float *h, const float *g, const float *u, size_t n)
{
#ifdef HAVE_AVX512
    if (VEC) {
        swiglu512(h, g, u, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        h[i] = g[i] * sigm(g[i]) * u[i];
}

void rn_vec_swiglu_backward(float *dg, float *du, const float *dh, const float *g,
                            const float *u, size_t n, int add)
{
#ifdef HAVE_AVX512
    if (VEC) {
        swiglu_bwd512(dg, du, dh, g, u, n, add);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        float x = g[i], s = sigm(x), d = dh[i];
        float a = d * u[i] * s * (1.0f + x * (1.0f - s)), b = d * x * s;
        if (dg)
            dg[i] = add ? dg[i] + a : a;
        if (du)
            du[i] = add ? du[i] + b : b;
    }
}
