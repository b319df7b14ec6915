/* ops_moe — MoE routing, grouping, gather and weighted scatter (ops_moe.h). */
#include "ops_moe.h"

#include <math.h>
#include <string.h>

#include "err.h"
#include "ops.h"

#define PAR_MIN 16384

void rn_moe_route_forward(int32_t *idx, float *w, int *usage, const float *logits,
                          const float *bias, int N, int E, int K)
{
    RN_ASSERT(N >= 0 && E > 0 && K >= 1 && K <= E);
#pragma omp parallel for if ((size_t)N * E > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * E;
        int32_t *ix = idx + (size_t)n * K;
        float *wk = w + (size_t)n * K;
        /* selection by repeated max: K and E are small (2 of 4) */
        for (int k = 0; k < K; k++) {
            int best = -1;
            float bz = 0;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int j = 0; j < k; j++)
                    taken |= ix[j] == e;
                float z = l[e] + (bias ? bias[e] : 0.0f);
                if (!taken && (best < 0 || z > bz))
                    best = e, bz = z;
            }
            ix[k] = best;
            wk[k] = bz;
        }
        /* softmax over the selected biased logits; wk[0] is their max */
        float m = wk[0], sum = 0;
        for (int k = 0; k < K; k++) {
            wk[k] = expf(wk[k] - m);
            sum += wk[k];
        }
        for (int k = 0; k < K; k++)
            wk[k] /= sum;
    }
    if (usage)
        for (size_t i = 0; i < (size_t)N * K; i++)
            usage[idx[i]]++;
}

void rn_moe_route_backward(float *dlogits, const float *dw, const float *w,
                           const int32_t *idx, int N, int E, int K)
{
    RN_ASSERT(N >= 0 && E > 0 && K >= 1 && K <= E);
#pragma omp parallel for if ((size_t)N * E > PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = dw + (size_t)n * K, *p = w + (size_t)n * K;
        float dot = 0;
        for (int k = 0; k < K; k++)
            dot += g[k] * p[k];
        for (int k = 0; k < K; k++)
            dlogits[(size_t)n * E + idx[(size_t)n * K + k]] += p[k] * (g[k] - dot);
    }
}

void rn_moe_bias_update(float *bias, const int *usage, int E, float rate)
{
    RN_ASSERT(E > 0);
    /* the seed keeps usage in a float tensor: its mean is a float sum over E */
    float total = 0;
    for (int e = 0; e < E; e++)
        total += (float)usage[e];
    float mean = total / (float)E;
    for (int e = 0; e < E; e++)
        bias[e] = (float)usage[e] > mean ? bias[e] - rate : bias[e] + rate;
}

float rn_moe_seq_aux_forward(float *probs, float *seq, const float *logits, int B, int T,
                             int E)
{
    RN_ASSERT(B > 0 && T > 0 && E > 0);
    rn_softmax_forward(probs, logits, B * T, E);
    for (int b = 0; b < B; b++) {
        for (int e = 0; e < E; e++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                s += probs[((size_t)b * T + t) * E + e];
            seq[(size_t)b * E + e] = (float)s;
        }
    }
    /* sum_ij <u_i, u_j> = |sum_i u_i|^2; the -I removes B */
    double tot = 0;
    for (int e = 0; e < E; e++) {
        double col = 0;
        for (int b = 0; b < B; b++) {
            double z = 0;
            for (int j = 0; j < E; j++)
                z += seq[(size_t)b * E + j];
            col += seq[(size_t)b * E + e] / z;
        }
        tot += col * col;
    }
    return (float)((tot - B) / ((double)B * B));
}

void rn_moe_seq_aux_backward(float *dlogits, const float *probs, const float *seq, int B,
                             int T, int E, float dloss)
{
    RN_ASSERT(B > 0 && T > 0 && E > 0 && E <= 1024);
    /* d/du_i of sum_ij <u_i,u_j> / B^2 is 2 S / B^2 with S = sum_j u_j, the
     * same for every sequence; then through the normalisation and the
     * softmax. */
    double S[1024] = {0};
    for (int b = 0; b < B; b++) {
        double z = 0;
        for (int j = 0; j < E; j++)
            z += seq[(size_t)b * E + j];
        for (int e = 0; e < E; e++)
            S[e] += seq[(size_t)b * E + e] / z;
    }
    const double k = 2.0 * dloss / ((double)B * B);
    for (int b = 0; b < B; b++) {
        const float *s = seq + (size_t)b * E;
        double z = 0, dot = 0;
        for (int j = 0; j < E; j++)
            z += s[j];
        for (int j = 0; j < E; j++)
            dot += k * S[j] * (s[j] / z);
        float ds[1024];
        for (int e = 0; e < E; e++) /* du -> ds through u = s / sum(s) */
            ds[e] = (float)((k * S[e] - dot) / z);
#pragma omp parallel for if ((size_t)T * E > PAR_MIN) schedule(static)
        for (int t = 0; t < T; t++) {
            const float *p = probs + ((size_t)b * T + t) * E;
            float *d = dlogits + ((size_t)b * T + t) * E;
            float pd = 0;
            for (int e = 0; e < E; e++)
                pd += p[e] * ds[e];
            for (int e = 0; e < E; e++)
                d[e] += p[e] * (ds[e] - pd);
        }
    }
}

void rn_moe_plan(int *offsets, int32_t *src, const int32_t *idx, int N, int E, int K)
{
    RN_ASSERT(N >= 0 && E > 0 && K >= 1);
    size_t nk = (size_t)N * K;
    for (int e = 0; e <= E; e++)
        offsets[e] = 0;
    for (size_t i = 0; i < nk; i++) {
        RN_ASSERT(idx[i] >= 0 && idx[i] < E);
        offsets[idx[i] + 1]++;
    }
    for (int e = 0; e < E; e++)
        offsets[e + 1] += offsets[e];
    /* fill in token order: a stable counting sort */
    for (int e = E; e > 0; e--)
        offsets[e] = offsets[e - 1];
    offsets[0] = 0;
    for (size_t i = 0; i < nk; i++)
        src[offsets[idx[i] + 1]++] = (int32_t)i;
}

void rn_moe_gather(float *xe, const float *x, const int32_t *src, int M, int K, int C)
{
    RN_ASSERT(M >= 0 && K >= 1 && C >= 0);
#pragma omp parallel for if ((size_t)M * C > PAR_MIN) schedule(static)
    for (int s = 0; s < M; s++)
        memcpy(xe + (size_t)s * C, x + (size_t)(src[s] / K) * C, sizeof(float) * C);
}

void rn_moe_combine_forward(float *out, const float *ye, const float *w,
                            const int32_t *src, int M, int K, int C)
{
    RN_ASSERT(M >= 0 && K >= 1 && C >= 0);
#pragma omp parallel for if ((size_t)M * C > PAR_MIN) schedule(static)
    for (int s = 0; s < M; s++) {
        float *o = out + (size_t)(src[s] / K) * C;
        const float *y = ye + (size_t)s * C;
        float a = w[src[s]];
        for (int c = 0; c < C; c++)
            o[c] += a * y[c];
    }
}

void rn_moe_combine_backward(float *dye, float *dw, const float *dout, const float *ye,
                             const float *w, const int32_t *src, int M, int K, int C)
{
    RN_ASSERT(M >= 0 && K >= 1 && C >= 0);
#pragma omp parallel for if ((size_t)M * C > PAR_MIN) schedule(static)
    for (int s = 0; s < M; s++) {
        const float *g = dout + (size_t)(src[s] / K) * C, *y = ye + (size_t)s * C;
        float *d = dye + (size_t)s * C;
        float a = w[src[s]], dot = 0;
        for (int c = 0; c < C; c++) {
            d[c] = a * g[c];
            dot += g[c] * y[c];
        }
        dw[src[s]] = dot;
    }
}

void rn_moe_scatter_add(float *dx, const float *dxe, const int32_t *src, int M, int K,
                        int C)
{
    RN_ASSERT(M >= 0 && K >= 1 && C >= 0);
#pragma omp parallel for if ((size_t)M * C > PAR_MIN) schedule(static)
    for (int s = 0; s < M; s++) {
        float *d = dx + (size_t)(src[s] / K) * C;
        const float *g = dxe + (size_t)s * C;
        for (int c = 0; c < C; c++)
            d[c] += g[c];
    }
}
