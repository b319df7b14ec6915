/* ops_attn — causal scaled-dot-product attention, forward and backward.
 *
 * Per (batch, head) the work is a handful of sgemms on strided views of the
 * token-major q, k, v. Causality is exploited in row blocks of ABLK: block
 * [r0, r1) of queries only meets keys [0, r1), so about half of the
 * products a dense T x T attention would do are skipped. The (b, h) pairs
 * are spread over OpenMP threads; rn_sgemm then runs single-threaded on
 * each (OpenBLAS's OpenMP build detects the enclosing parallel region).
 *
 * Math, per head, rows t and keys j <= t:
 *   S = scale q k^T, P = softmax(S), A = P * keep / (1-p), O = A v
 *   dv = A^T dO, dA = dO v^T, dP = dA * keep / (1-p),
 *   dS = P * (dP - rowsum(dP * P)), dq = scale dS k, dk = scale dS^T q
 */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "err.h"
#include "ops.h"
#include "ops_vec.h"
#include "rng.h"

#define ABLK 64

static void check_shape(int B, int T, int H, int Dk, int Dv, float dropout)
{
    RN_ASSERT(B >= 0 && T >= 0 && H >= 0 && Dk > 0 && Dv > 0);
    RN_ASSERT(dropout >= 0.0f && dropout < 1.0f);
}

/* Row t of head bh's attention, entries 0..t: the dropout multipliers
 * (0 or 1/(1-p)), one uniform per entry from the row's own stream. */
static void keep_row(float *mul, uint64_t seed, size_t bh, int T, int t, float p)
{
    struct rn_rng g;
    rn_rng_seed(&g, rn_dropout_stream(seed, bh * (size_t)T + (size_t)t));
    float sc = 1.0f / (1.0f - p);
    for (int j = 0; j <= t; j++)
        mul[j] = rn_rng_uniformf(&g) >= p ? sc : 0.0f;
}

/* Row t of A = P with dropout applied; zeros above the diagonal. */
static void dropped_row(float *a, const float *prow, uint64_t seed, size_t bh, int T,
                        int t, float p)
{
    keep_row(a, seed, bh, T, t, p);
    for (int j = 0; j <= t; j++)
        a[j] *= prow[j];
    memset(a + t + 1, 0, sizeof(float) * (size_t)(T - t - 1));
}

void rn_attention_forward(float *out, float *att, float *scratch, const float *q,
                          const float *k, const float *v, int B, int T, int H, int Dk,
                          int Dv, float scale, float dropout, uint64_t seed)
{
    check_shape(B, T, H, Dk, Dv, dropout);
    RN_ASSERT(dropout == 0.0f || scratch);
    const int ldq = H * Dk, ldv = H * Dv;
    const int nbh = B * H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < nbh; bh++) {
        int b = bh / H, h = bh % H;
        const float *Q = q + (size_t)b * T * ldq + (size_t)h * Dk;
        const float *K = k + (size_t)b * T * ldq + (size_t)h * Dk;
        const float *V = v + (size_t)b * T * ldv + (size_t)h * Dv;
        float *O = out + (size_t)b * T * ldv + (size_t)h * Dv;
        float *P = att + (size_t)bh * T * T;
        for (int r0 = 0; r0 < T; r0 += ABLK) {
            int r1 = r0 + ABLK < T ? r0 + ABLK : T;
            rn_sgemm(RN_NOTRANS, RN_TRANS, r1 - r0, r1, Dk, scale, Q + (size_t)r0 * ldq,
                     ldq, K, ldq, 0.0f, P + (size_t)r0 * T, T);
        }
        for (int t = 0; t < T; t++) {
            float *row = P + (size_t)t * T;
            float m = rn_vec_max(row, (size_t)t + 1);
            double sum = rn_vec_expsum(row, row, (size_t)t + 1, m);
            rn_vec_scale(row, (size_t)t + 1, (float)(1.0 / sum));
            memset(row + t + 1, 0, sizeof(float) * (size_t)(T - t - 1));
        }
        const float *A = P;
        if (dropout > 0.0f) {
            float *Ad = scratch + (size_t)bh * T * T;
            for (int t = 0; t < T; t++)
                dropped_row(Ad + (size_t)t * T, P + (size_t)t * T, seed, (size_t)bh, T, t,
                            dropout);
            A = Ad;
        }
        for (int r0 = 0; r0 < T; r0 += ABLK) {
            int r1 = r0 + ABLK < T ? r0 + ABLK : T;
            rn_sgemm(RN_NOTRANS, RN_NOTRANS, r1 - r0, Dv, r1, 1.0f, A + (size_t)r0 * T, T,
                     V, ldv, 0.0f, O + (size_t)r0 * ldv, ldv);
        }
    }
}

void rn_attention_backward(float *dq, float *dk, float *dv, float *scratch,
                           const float *dout, const float *q, const float *k,
                           const float *v, const float *att, int B, int T, int H, int Dk,
                           int Dv, float scale, float dropout, uint64_t seed)
{
    check_shape(B, T, H, Dk, Dv, dropout);
    const int ldq = H * Dk, ldv = H * Dv;
    const int nbh = B * H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < nbh; bh++) {
        int b = bh / H, h = bh % H;
        size_t qo = (size_t)b * T * ldq + (size_t)h * Dk;
        size_t vo = (size_t)b * T * ldv + (size_t)h * Dv;
        const float *Q = q + qo, *K = k + qo, *V = v + vo, *dO = dout + vo;
        float *dQ = dq + qo, *dK = dk + qo, *dV = dv + vo;
        const float *P = att + (size_t)bh * T * T;
        float *W = scratch + (size_t)bh * T * T;

        /* dV += A^T dO, by column blocks of A: block [j0, j1) is only met
         * by queries t >= j0. */
        const float *A = P;
        if (dropout > 0.0f) {
            for (int t = 0; t < T; t++)
                dropped_row(W + (size_t)t * T, P + (size_t)t * T, seed, (size_t)bh, T, t,
                            dropout);
            A = W;
        }
        for (int j0 = 0; j0 < T; j0 += ABLK) {
            int j1 = j0 + ABLK < T ? j0 + ABLK : T;
            rn_sgemm(RN_TRANS, RN_NOTRANS, j1 - j0, Dv, T - j0, 1.0f,
                     A + (size_t)j0 * T + j0, T, dO + (size_t)j0 * ldv, ldv, 1.0f,
                     dV + (size_t)j0 * ldv, ldv);
        }

        /* dA = dO V^T (lower part), then dS in place. */
        for (int r0 = 0; r0 < T; r0 += ABLK) {
            int r1 = r0 + ABLK < T ? r0 + ABLK : T;
            rn_sgemm(RN_NOTRANS, RN_TRANS, r1 - r0, r1, Dv, 1.0f, dO + (size_t)r0 * ldv,
                     ldv, V, ldv, 0.0f, W + (size_t)r0 * T, T);
        }
        for (int t = 0; t < T; t++) {
            float *d = W + (size_t)t * T;
            const float *p = P + (size_t)t * T;
            if (dropout > 0.0f) {
                /* The forward's mask, regenerated from the row's stream. */
                struct rn_rng g;
                rn_rng_seed(&g, rn_dropout_stream(seed, (size_t)bh * T + (size_t)t));
                float sc = 1.0f / (1.0f - dropout);
                for (int j = 0; j <= t; j++)
                    d[j] = rn_rng_uniformf(&g) >= dropout ? d[j] * sc : 0.0f;
            }
            float dot = 0;
            for (int j = 0; j <= t; j++)
                dot += d[j] * p[j];
            for (int j = 0; j <= t; j++)
                d[j] = p[j] * (d[j] - dot);
            memset(d + t + 1, 0, sizeof(float) * (size_t)(T - t - 1));
        }

        /* dQ += scale dS K (row blocks); dK += scale dS^T Q (column blocks). */
        for (int r0 = 0; r0 < T; r0 += ABLK) {
            int r1 = r0 + ABLK < T ? r0 + ABLK : T;
            rn_sgemm(RN_NOTRANS, RN_NOTRANS, r1 - r0, Dk, r1, scale, W + (size_t)r0 * T, T,
                     K, ldq, 1.0f, dQ + (size_t)r0 * ldq, ldq);
        }
        for (int j0 = 0; j0 < T; j0 += ABLK) {
            int j1 = j0 + ABLK < T ? j0 + ABLK : T;
            rn_sgemm(RN_TRANS, RN_NOTRANS, j1 - j0, Dk, T - j0, scale,
                     W + (size_t)j0 * T + j0, T, Q + (size_t)j0 * ldq, ldq, 1.0f,
                     dK + (size_t)j0 * ldq, ldq);
        }
    }
}

/* ---- naive twins: per element, double accumulation, same mask streams ---- */

void rn_attention_forward_ref(float *out, float *att, const float *q, const float *k,
                              const float *v, int B, int T, int H, int Dk, int Dv,
                              float scale, float dropout, uint64_t seed)
{
    check_shape(B, T, H, Dk, Dv, dropout);
    float *mul = T > 0 ? __builtin_alloca(sizeof(float) * (size_t)T) : NULL;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t bh = (size_t)b * H + h;
            float *P = att + bh * T * T;
            for (int t = 0; t < T; t++) {
                const float *qt = q + (((size_t)b * T + t) * H + h) * Dk;
                double m = -INFINITY;
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    if (j <= t) {
                        const float *kj = k + (((size_t)b * T + j) * H + h) * Dk;
                        for (int d = 0; d < Dk; d++)
                            s += (double)qt[d] * kj[d];
                        s *= scale;
                        m = s > m ? s : m;
                    }
                    P[(size_t)t * T + j] = (float)s;
                }
                double sum = 0;
                for (int j = 0; j <= t; j++)
                    sum += exp((double)P[(size_t)t * T + j] - m);
                for (int j = 0; j < T; j++)
                    P[(size_t)t * T + j] =
                        j <= t ? (float)(exp((double)P[(size_t)t * T + j] - m) / sum) : 0.0f;
                for (int j = 0; j <= t; j++)
                    mul[j] = 1.0f;
                if (dropout > 0.0f)
                    keep_row(mul, seed, bh, T, t, dropout);
                for (int d = 0; d < Dv; d++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++)
                        o += (double)P[(size_t)t * T + j] * mul[j] *
                             v[(((size_t)b * T + j) * H + h) * Dv + d];
                    out[(((size_t)b * T + t) * H + h) * Dv + d] = (float)o;
                }
            }
        }
}

void rn_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                               const float *q, const float *k, const float *v,
                               const float *att, int B, int T, int H, int Dk, int Dv,
                               float scale, float dropout, uint64_t seed)
{
    check_shape(B, T, H, Dk, Dv, dropout);
    float *mul = T > 0 ? __builtin_alloca(sizeof(float) * (size_t)T) : NULL;
    double *ds = T > 0 ? __builtin_alloca(sizeof(double) * (size_t)T) : NULL;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t bh = (size_t)b * H + h;
            const float *P = att + bh * T * T;
#define IX(t, H_, D_, h_) ((((size_t)b * T + (t)) * (H_) + (h_)) * (D_))
            for (int t = 0; t < T; t++) {
                const float *g = dout + IX(t, H, Dv, h);
                for (int j = 0; j <= t; j++)
                    mul[j] = 1.0f;
                if (dropout > 0.0f)
                    keep_row(mul, seed, bh, T, t, dropout);
                double dot = 0;
                for (int j = 0; j <= t; j++) {
                    double a = (double)P[(size_t)t * T + j] * mul[j];
                    double da = 0;
                    for (int d = 0; d < Dv; d++) {
                        dv[IX(j, H, Dv, h) + d] += (float)(a * g[d]);
                        da += (double)g[d] * v[IX(j, H, Dv, h) + d];
                    }
                    ds[j] = da * mul[j];
                    dot += ds[j] * P[(size_t)t * T + j];
                }
                for (int j = 0; j <= t; j++) {
                    double s = P[(size_t)t * T + j] * (ds[j] - dot) * scale;
                    for (int d = 0; d < Dk; d++) {
                        dq[IX(t, H, Dk, h) + d] += (float)(s * k[IX(j, H, Dk, h) + d]);
                        dk[IX(j, H, Dk, h) + d] += (float)(s * q[IX(t, H, Dk, h) + d]);
                    }
                }
            }
#undef IX
        }
}
