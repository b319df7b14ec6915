/* ops — linear, RMSNorm, RoPE, softmax, SiLU/SwiGLU, cross-entropy,
 * dropout and embedding kernels (attention lives in ops_attn.c). */
#include "ops.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "err.h"
#include "ops_vec.h"
#include "rng.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 16384
/* Elementwise kernels hand the vector primitives chunks of this size. */
#define CHUNK 4096

#define FOR_CHUNKS(n, i0, len, body)                                              \
    do {                                                                          \
        size_t n_ = (n), nch_ = (n_ + CHUNK - 1) / CHUNK;                         \
        _Pragma("omp parallel for if (n_ > PAR_MIN) schedule(static)")            \
        for (size_t c_ = 0; c_ < nch_; c_++) {                                    \
            size_t i0 = c_ * CHUNK, len = n_ - i0 < CHUNK ? n_ - i0 : CHUNK;      \
            body;                                                                 \
        }                                                                         \
    } while (0)

/* ======================================================================
 * linear
 * ====================================================================== */

void rn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int C, int OC)
{
    RN_ASSERT(N >= 0 && C >= 0 && OC >= 0);
    if (b) {
        /* The bias rides in as beta*C so sgemm adds it for free. */
#pragma omp parallel for if ((size_t)N * OC > PAR_MIN) schedule(static)
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * OC, b, sizeof(float) * OC);
    }
    rn_sgemm(RN_NOTRANS, RN_TRANS, N, OC, C, 1.0f, inp, C, w, C, b ? 1.0f : 0.0f, out,
             OC);
}

/* db[o] += sum_n dout[n][o]: threads split the columns (deterministic). */
static void bias_backward(float *db, const float *dout, int N, int OC)
{
    const int blk = 64;
    int nblk = (OC + blk - 1) / blk;
#pragma omp parallel for if ((size_t)N * OC > PAR_MIN) schedule(static)
    for (int ib = 0; ib < nblk; ib++) {
        int o0 = ib * blk, o1 = o0 + blk < OC ? o0 + blk : OC;
        float acc[64];
        for (int o = o0; o < o1; o++)
            acc[o - o0] = 0.0f;
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = o0; o < o1; o++)
                acc[o - o0] += d[o];
        }
        for (int o = o0; o < o1; o++)
            db[o] += acc[o - o0];
    }
}

void rn_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int C, int OC)
{
    RN_ASSERT(N >= 0 && C >= 0 && OC >= 0);
    if (dinp)
        rn_sgemm(RN_NOTRANS, RN_NOTRANS, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    if (dw)
        rn_sgemm(RN_TRANS, RN_NOTRANS, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (db)
        bias_backward(db, dout, N, OC);
}

void rn_linear_forward_ref(float *out, const float *inp, const float *w, const float *b,
                           int N, int C, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++)
                s += (double)inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = (float)s;
        }
}

void rn_linear_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC)
{
    if (dinp)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int o = 0; o < OC; o++)
                    s += (double)dout[(size_t)n * OC + o] * w[(size_t)o * C + c];
                dinp[(size_t)n * C + c] += (float)s;
            }
    if (dw)
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int n = 0; n < N; n++)
                    s += (double)dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
                dw[(size_t)o * C + c] += (float)s;
            }
    if (db)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += dout[(size_t)n * OC + o];
            db[o] += (float)s;
        }
}

/* ======================================================================
 * RMSNorm: r = ||x|| / sqrt(C), s = 1/(r + eps), y = w x s.
 * dy/dx: dx_i = s w_i g_i - s^2 x_i <g w, x> / (C r)   (r > 0)
 * ====================================================================== */

void rn_rmsnorm_forward(float *out, float *rms, const float *inp, const float *w, int N,
                        int C, float eps)
{
    RN_ASSERT(N >= 0 && C > 0);
    /* PyTorch's order: x.norm() * C**-0.5, the scale rounded to float. */
    const float inv_sqrt_c = (float)(1.0 / sqrt((double)C));
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double ss = 0;
        for (int i = 0; i < C; i++)
            ss += (double)x[i] * x[i];
        float r = (float)sqrt(ss) * inv_sqrt_c;
        float s = 1.0f / (r + eps);
        rms[n] = r;
        for (int i = 0; i < C; i++)
            y[i] = w[i] * (x[i] * s);
    }
}

void rn_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rms, int N, int C, float eps)
{
    RN_ASSERT(N >= 0 && C > 0);
    if (dinp) {
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float r = rms[n], s = 1.0f / (r + eps);
            double dot = 0;
            for (int i = 0; i < C; i++)
                dot += (double)g[i] * w[i] * x[i];
            /* r == 0 means x == 0: the second term vanishes with x. */
            float k = r > 0.0f ? (float)(dot * s * s / ((double)C * r)) : 0.0f;
            for (int i = 0; i < C; i++)
                dx[i] += s * w[i] * g[i] - k * x[i];
        }
    }
    if (dw) {
        const int blk = 64;
        int nblk = (C + blk - 1) / blk;
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
        for (int ib = 0; ib < nblk; ib++) {
            int i0 = ib * blk, i1 = i0 + blk < C ? i0 + blk : C;
            float acc[64] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
                float s = 1.0f / (rms[n] + eps);
                for (int i = i0; i < i1; i++)
                    acc[i - i0] += g[i] * x[i] * s;
            }
            for (int i = i0; i < i1; i++)
                dw[i] += acc[i - i0];
        }
    }
}

/* ======================================================================
 * RoPE
 * ====================================================================== */

void rn_rope_table(float *cos_t, float *sin_t, int T, int D, float theta)
{
    RN_ASSERT(T >= 0 && D > 0 && D % 2 == 0);
    int h = D / 2;
    for (int i = 0; i < h; i++) {
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)D);
        for (int t = 0; t < T; t++) {
            float ang = (float)t * inv_freq;
            cos_t[(size_t)t * h + i] = (float)cos((double)ang);
            sin_t[(size_t)t * h + i] = (float)sin((double)ang);
        }
    }
}

void rn_rope_forward(float *out, const float *inp, const float *cos_t, const float *sin_t,
                     int B, int T, int H, int D, int pos0)
{
    RN_ASSERT(B >= 0 && T >= 0 && H >= 0 && D > 0 && D % 2 == 0 && pos0 >= 0);
    int h2 = D / 2;
    size_t rows = (size_t)B * T;
#pragma omp parallel for if (rows * H * D > PAR_MIN) schedule(static)
    for (size_t bt = 0; bt < rows; bt++) {
        int t = (int)(bt % (size_t)T);
        const float *c = cos_t + (size_t)(pos0 + t) * h2, *s = sin_t + (size_t)(pos0 + t) * h2;
        for (int hh = 0; hh < H; hh++) {
            const float *x = inp + (bt * H + hh) * D;
            float *y = out + (bt * H + hh) * D;
            for (int i = 0; i < h2; i++) {
                float x1 = x[i], x2 = x[i + h2];
                y[i] = x1 * c[i] - x2 * s[i];
                y[i + h2] = x1 * s[i] + x2 * c[i];
            }
        }
    }
}

void rn_rope_backward(float *dinp, const float *dout, const float *cos_t,
                      const float *sin_t, int B, int T, int H, int D, int pos0)
{
    RN_ASSERT(B >= 0 && T >= 0 && H >= 0 && D > 0 && D % 2 == 0 && pos0 >= 0);
    int h2 = D / 2;
    size_t rows = (size_t)B * T;
#pragma omp parallel for if (rows * H * D > PAR_MIN) schedule(static)
    for (size_t bt = 0; bt < rows; bt++) {
        int t = (int)(bt % (size_t)T);
        const float *c = cos_t + (size_t)(pos0 + t) * h2, *s = sin_t + (size_t)(pos0 + t) * h2;
        for (int hh = 0; hh < H; hh++) {
            const float *g = dout + (bt * H + hh) * D;
            float *dx = dinp + (bt * H + hh) * D;
            for (int i = 0; i < h2; i++) {
                float g1 = g[i], g2 = g[i + h2];
                dx[i] += g1 * c[i] + g2 * s[i];
                dx[i + h2] += g2 * c[i] - g1 * s[i];
            }
        }
    }
}

/* ======================================================================
 * softmax
 * ====================================================================== */

void rn_softmax_forward(float *out, const float *inp, int N, int C)
{
    RN_ASSERT(N >= 0 && C > 0);
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float m = rn_vec_max(x, C);
        double sum = rn_vec_expsum(y, x, C, m);
        rn_vec_scale(y, C, (float)(1.0 / sum));
    }
}

void rn_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C)
{
    RN_ASSERT(N >= 0 && C > 0);
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * C, *g = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float dot = 0;
        for (int i = 0; i < C; i++)
            dot += g[i] * y[i];
        for (int i = 0; i < C; i++)
            dx[i] += y[i] * (g[i] - dot);
    }
}

/* ======================================================================
 * SiLU, SwiGLU
 * ====================================================================== */

void rn_silu_forward(float *out, const float *inp, size_t n)
{
    FOR_CHUNKS(n, i0, len, rn_vec_silu(out + i0, inp + i0, len));
}

void rn_silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    FOR_CHUNKS(n, i0, len, rn_vec_silu_backward(dinp + i0, dout + i0, inp + i0, len));
}

void rn_swiglu_forward(float *h, const float *g, const float *u, size_t n)
{
    FOR_CHUNKS(n, i0, len, rn_vec_swiglu(h + i0, g + i0, u + i0, len));
}

void rn_swiglu_backward(float *dg, float *du, const float *dh, const float *g,
                        const float *u, size_t n)
{
    FOR_CHUNKS(n, i0, len,
               rn_vec_swiglu_backward(dg ? dg + i0 : NULL, du ? du + i0 : NULL, dh + i0,
                                      g + i0, u + i0, len, 1));
}

/* The FFN backward's middle step, in place over its scratch: on entry d0
 * holds dh; on exit d0 holds du and d1 holds dg (written, not added). */
static void swiglu_split_grad(float *d0, float *d1, const float *g, const float *u,
                              size_t n)
{
    FOR_CHUNKS(n, i0, len,
               rn_vec_swiglu_backward(d1 + i0, d0 + i0, d0 + i0, g + i0, u + i0, len, 0));
}

typedef void (*linear_fwd_fn)(float *, const float *, const float *, const float *, int,
                              int, int);
typedef void (*linear_bwd_fn)(float *, float *, float *, const float *, const float *,
                              const float *, int, int, int);

static void ffn_forward(linear_fwd_fn lin, float *out, float *g, float *u, float *h,
                        const float *inp, const struct rn_swiglu_ffn *p, int N, int C,
                        int F)
{
    lin(g, inp, p->w_gate, p->b_gate, N, C, F);
    lin(u, inp, p->w_up, p->b_up, N, C, F);
    rn_swiglu_forward(h, g, u, (size_t)N * F);
    lin(out, h, p->w_down, p->b_down, N, F, C);
}

static void ffn_backward(linear_bwd_fn lin, float *dinp, const struct rn_swiglu_ffn_grad *dp,
                         float *scratch, const float *dout, const float *inp,
                         const float *g, const float *u, const float *h,
                         const struct rn_swiglu_ffn *p, int N, int C, int F)
{
    size_t nf = (size_t)N * F;
    float *d0 = scratch, *d1 = scratch + nf;
    memset(d0, 0, sizeof(float) * nf);
    lin(d0, dp->w_down, dp->b_down, dout, h, p->w_down, N, F, C);
    swiglu_split_grad(d0, d1, g, u, nf);
    lin(dinp, dp->w_gate, dp->b_gate, d1, inp, p->w_gate, N, C, F);
    lin(dinp, dp->w_up, dp->b_up, d0, inp, p->w_up, N, C, F);
}

void rn_swiglu_ffn_forward(float *out, float *g, float *u, float *h, const float *inp,
                           const struct rn_swiglu_ffn *p, int N, int C, int F)
{
    ffn_forward(rn_linear_forward, out, g, u, h, inp, p, N, C, F);
}

void rn_swiglu_ffn_backward(float *dinp, const struct rn_swiglu_ffn_grad *dp,
                            float *scratch, const float *dout, const float *inp,
                            const float *g, const float *u, const float *h,
                            const struct rn_swiglu_ffn *p, int N, int C, int F)
{
    ffn_backward(rn_linear_backward, dinp, dp, scratch, dout, inp, g, u, h, p, N, C, F);
}

void rn_swiglu_ffn_forward_ref(float *out, float *g, float *u, float *h,
                               const float *inp, const struct rn_swiglu_ffn *p, int N,
                               int C, int F)
{
    ffn_forward(rn_linear_forward_ref, out, g, u, h, inp, p, N, C, F);
}

void rn_swiglu_ffn_backward_ref(float *dinp, const struct rn_swiglu_ffn_grad *dp,
                                float *scratch, const float *dout, const float *inp,
                                const float *g, const float *u, const float *h,
                                const struct rn_swiglu_ffn *p, int N, int C, int F)
{
    ffn_backward(rn_linear_backward_ref, dinp, dp, scratch, dout, inp, g, u, h, p, N, C,
                 F);
}

/* ======================================================================
 * cross-entropy
 * ====================================================================== */

/* Row sums are reduced in this many fixed slices, then added in order, so
 * the loss does not depend on the number of threads. */
#define CE_SLICES 64

static int ce_count(const int32_t *targets, int N, int V, int32_t ignore)
{
    int cnt = 0;
    for (int n = 0; n < N; n++) {
        if (targets[n] == ignore)
            continue;
        RN_ASSERT(targets[n] >= 0 && targets[n] < V);
        cnt++;
    }
    return cnt;
}

/* Row max m and sum of exp(x - m): logsumexp = m + log(sum), kept apart so
 * that m - x[target] is formed exactly even for huge logits. */
static double row_sumexp(const float *x, int V, float *m_out)
{
    float m = rn_vec_max(x, V);
    *m_out = m;
    return rn_vec_expsum(NULL, x, V, m);
}

float rn_crossentropy_forward(float *losses, const float *logits, const int32_t *targets,
                              int N, int V, int32_t ignore, int *n_valid)
{
    RN_ASSERT(N >= 0 && V > 0);
    int cnt = ce_count(targets, N, V, ignore);
    double part[CE_SLICES] = {0};
#pragma omp parallel for if ((size_t)N * V > PAR_MIN) schedule(static)
    for (int sl = 0; sl < CE_SLICES; sl++) {
        int n0 = (int)((int64_t)N * sl / CE_SLICES), n1 = (int)((int64_t)N * (sl + 1) / CE_SLICES);
        double acc = 0;
        for (int n = n0; n < n1; n++) {
            const float *x = logits + (size_t)n * V;
            double row = 0;
            if (targets[n] != ignore) {
                float m;
                double s = row_sumexp(x, V, &m);
                row = ((double)m - x[targets[n]]) + log(s);
            }
            if (losses)
                losses[n] = (float)row;
            acc += row;
        }
        part[sl] = acc;
    }
    double sum = 0;
    for (int sl = 0; sl < CE_SLICES; sl++)
        sum += part[sl];
    if (n_valid)
        *n_valid = cnt;
    return cnt ? (float)(sum / cnt) : 0.0f;
}

void rn_crossentropy_backward(float *dlogits, const float *logits, const int32_t *targets,
                              int N, int V, int32_t ignore, float dloss)
{
    RN_ASSERT(N >= 0 && V > 0);
    int cnt = ce_count(targets, N, V, ignore);
    float scale = cnt ? dloss / (float)cnt : 0.0f;
#pragma omp parallel for if ((size_t)N * V > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        int32_t tg = targets[n];
        if (tg == ignore) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        float m = rn_vec_max(x, V);
        double sum = rn_vec_expsum(d, x, V, m); /* d may be x: read before written */
        rn_vec_scale(d, V, (float)(scale / sum));
        d[tg] -= scale;
    }
}

float rn_crossentropy_fused(float *logits, const int32_t *targets, int N, int V,
                            int32_t ignore, float dloss, int *n_valid)
{
    RN_ASSERT(N >= 0 && V > 0);
    int cnt = ce_count(targets, N, V, ignore);
    float scale = cnt ? dloss / (float)cnt : 0.0f;
    double part[CE_SLICES] = {0};
#pragma omp parallel for if ((size_t)N * V > PAR_MIN) schedule(static)
    for (int sl = 0; sl < CE_SLICES; sl++) {
        int n0 = (int)((int64_t)N * sl / CE_SLICES), n1 = (int)((int64_t)N * (sl + 1) / CE_SLICES);
        double acc = 0;
        for (int n = n0; n < n1; n++) {
            float *x = logits + (size_t)n * V;
            int32_t tg = targets[n];
            if (tg == ignore) {
                memset(x, 0, sizeof(float) * V);
                continue;
            }
            float m = rn_vec_max(x, V);
            float xt = x[tg];
            double s = rn_vec_expsum(x, x, V, m);
            acc += ((double)m - xt) + log(s);
            rn_vec_scale(x, V, (float)(scale / s));
            x[tg] -= scale;
        }
        part[sl] = acc;
    }
    double sum = 0;
    for (int sl = 0; sl < CE_SLICES; sl++)
        sum += part[sl];
    if (n_valid)
        *n_valid = cnt;
    return cnt ? (float)(sum / cnt) : 0.0f;
}

/* ======================================================================
 * dropout
 * ====================================================================== */

#define DROP_CHUNK 4096

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rn_dropout_stream(uint64_t seed, uint64_t idx)
{
    return mix64(mix64(seed) ^ (idx * 0x9E3779B97F4A7C15ULL));
}

void rn_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed)
{
    RN_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        if (out != inp)
            memcpy(out, inp, sizeof(float) * n);
        return;
    }
    float scale = 1.0f / (1.0f - p);
    size_t nchunk = (n + DROP_CHUNK - 1) / DROP_CHUNK;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        struct rn_rng g;
        rn_rng_seed(&g, rn_dropout_stream(seed, c));
        size_t i1 = (c + 1) * DROP_CHUNK < n ? (c + 1) * DROP_CHUNK : n;
        for (size_t i = c * DROP_CHUNK; i < i1; i++)
            out[i] = rn_rng_uniformf(&g) >= p ? inp[i] * scale : 0.0f;
    }
}

void rn_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed)
{
    RN_ASSERT(p >= 0.0f && p < 1.0f);
    float scale = p == 0.0f ? 1.0f : 1.0f / (1.0f - p);
    size_t nchunk = (n + DROP_CHUNK - 1) / DROP_CHUNK;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        struct rn_rng g;
        rn_rng_seed(&g, rn_dropout_stream(seed, c));
        size_t i1 = (c + 1) * DROP_CHUNK < n ? (c + 1) * DROP_CHUNK : n;
        for (size_t i = c * DROP_CHUNK; i < i1; i++) {
            int keep = p == 0.0f || rn_rng_uniformf(&g) >= p;
            if (keep)
                dinp[i] += dout[i] * scale;
        }
    }
}

/* ======================================================================
 * embedding
 * ====================================================================== */

void rn_embedding_forward(float *out, const int32_t *ids, const float *wte, int N, int C)
{
    RN_ASSERT(N >= 0 && C >= 0);
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        RN_ASSERT(ids[n] >= 0);
        memcpy(out + (size_t)n * C, wte + (size_t)ids[n] * C, sizeof(float) * C);
    }
}

void rn_embedding_backward(float *dwte, const float *dout, const int32_t *ids, int N,
                           int C)
{
    RN_ASSERT(N >= 0 && C >= 0);
    const int blk = 32;
    int nblk = (C + blk - 1) / blk;
#pragma omp parallel for if ((size_t)N * C > PAR_MIN) schedule(static)
    for (int ib = 0; ib < nblk; ib++) {
        int c0 = ib * blk, c1 = c0 + blk < C ? c0 + blk : C;
        for (int n = 0; n < N; n++) {
            RN_ASSERT(ids[n] >= 0);
            float *d = dwte + (size_t)ids[n] * C;
            const float *g = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++)
                d[c] += g[c];
        }
    }
}

void rn_embedding_backward_ref(float *dwte, const float *dout, const int32_t *ids, int N,
                               int C)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            dwte[(size_t)ids[n] * C + c] += dout[(size_t)n * C + c];
}
