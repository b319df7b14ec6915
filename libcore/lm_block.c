/* lm_block — one transformer block of the model (DESIGN.md 3), forward
 * beside backward:
 *
 *   res1 = res0 + MLA(RMSNorm(res0))
 *   out  = res1 + dropout(sum_k w_k E_idx_k(z) + shared(z)),  z = RMSNorm(res1)
 *
 * The MoE computes only the chosen experts: the N*K routing decisions are
 * grouped by expert (rn_moe_plan), each expert's rows are gathered into one
 * dense matrix, the SwiGLU FFN runs on it as three sgemms, and the outputs
 * are scattered back weighted. The same grouping drives the backward.
 */
#include <string.h>

#include "err.h"
#include "lm_private.h"
#include "ops_moe.h"

static struct rn_swiglu_ffn ffn_c(const struct lm_ffn_p *f)
{
    return (struct rn_swiglu_ffn){f->w_gate, f->b_gate, f->w_up, f->b_up, f->w_down,
                                  f->b_down};
}

static struct rn_swiglu_ffn_grad ffn_g(const struct lm_ffn_p *f)
{
    return (struct rn_swiglu_ffn_grad){f->w_gate, f->b_gate, f->w_up, f->b_up, f->w_down,
                                       f->b_down};
}

/* ---- MoE ------------------------------------------------------------------ */

/* out (N,C) = res1 + dropout(MoE(z)), z = a->ln2 (N,C). */
static float moe_forward(float *out, struct lm_block_acts *a, struct lm_scratch *s,
                         const struct lm_block_p *p, float *bias, int *usage,
                         const struct lm_dims *d, int B, int T, int balance)
{
    const int C = d->C, E = d->E, K = d->K, F = d->F, Fs = d->Fs;
    const size_t N = (size_t)B * T, NC = N * C;
    const float *z = a->ln2;
    float aux = 0.0f;

    rn_linear_forward(a->logits, z, p->router, NULL, (int)N, C, E);
    memset(usage, 0, sizeof(int) * E);
    rn_moe_route_forward(a->idx, a->w, usage, a->logits, bias, (int)N, E, K);
    if (d->aux_w > 0.0f) {
        /* The reference computes the aux loss on the router logits it
         * returns, which include the balancing bias. */
        for (size_t n = 0; n < N; n++)
            for (int e = 0; e < E; e++)
                s->blog[n * E + e] = a->logits[n * E + e] + bias[e];
        aux = rn_moe_seq_aux_forward(a->probs, a->seq, s->blog, B, T, E);
    }
    if (balance)
        /* Selection of this forward is done: the new bias acts from the
         * next forward on, as in the reference's in-forward update. */
        rn_moe_bias_update(bias, usage, E, d->rate);

    rn_moe_plan(a->off, a->src, a->idx, (int)N, E, K);
    memset(s->sum, 0, sizeof(float) * NC);
    for (int e = 0; e < E; e++) {
        int o = a->off[e], M = a->off[e + 1] - o;
        if (M == 0)
            continue;
        size_t of = (size_t)o * F;
        struct rn_swiglu_ffn f = ffn_c(&p->ffn[e]);
        rn_moe_gather(s->xe, z, a->src + o, M, K, C);
        rn_swiglu_ffn_forward(a->ye + (size_t)o * C, a->eg + of, a->eu + of, a->eh + of,
                              s->xe, &f, M, C, F);
        rn_moe_combine_forward(s->sum, a->ye + (size_t)o * C, a->w, a->src + o, M, K, C);
    }
    if (d->shared) {
        struct rn_swiglu_ffn f = ffn_c(&p->ffn[E]);
        rn_swiglu_ffn_forward(s->dye, a->sg, a->su, a->sh, z, &f, (int)N, C, Fs);
#pragma omp parallel for if (NC > 65536) schedule(static)
        for (size_t i = 0; i < NC; i++)
            s->sum[i] += s->dye[i];
    }
    if (d->drop > 0.0f)
        rn_dropout_forward(s->sum, s->sum, NC, d->drop, a->seed_moe);
#pragma omp parallel for if (NC > 65536) schedule(static)
    for (size_t i = 0; i < NC; i++)
        out[i] = a->res1[i] + s->sum[i];
    return aux;
}

/* s->dln (N,C) = d MoE / d z given dout (N,C) = d out; g +=. */
static void moe_backward(struct lm_scratch *s, const struct lm_block_p *g,
                         const float *dout, const struct lm_block_acts *a,
                         const struct lm_block_p *p, const struct lm_dims *d, int B, int T)
{
    const int C = d->C, E = d->E, K = d->K, F = d->F, Fs = d->Fs;
    const size_t N = (size_t)B * T, NC = N * C;
    const float *z = a->ln2;

    /* dsum = dropout'(dout): the mask is regenerated from the seed. */
    if (d->drop > 0.0f) {
        memset(s->sum, 0, sizeof(float) * NC);
        rn_dropout_backward(s->sum, dout, NC, d->drop, a->seed_moe);
    } else {
        memcpy(s->sum, dout, sizeof(float) * NC);
    }
    memset(s->dln, 0, sizeof(float) * NC);
    if (d->shared) {
        struct rn_swiglu_ffn f = ffn_c(&p->ffn[E]);
        struct rn_swiglu_ffn_grad fg = ffn_g(&g->ffn[E]);
        rn_swiglu_ffn_backward(s->dln, &fg, s->ffn, s->sum, z, a->sg, a->su, a->sh, &f,
                               (int)N, C, Fs);
    }
    /* Every decision has exactly one slot, so dw (N*K) is fully written. */
    for (int e = 0; e < E; e++) {
        int o = a->off[e], M = a->off[e + 1] - o;
        if (M == 0)
            continue;
        size_t of = (size_t)o * F;
        struct rn_swiglu_ffn f = ffn_c(&p->ffn[e]);
        struct rn_swiglu_ffn_grad fg = ffn_g(&g->ffn[e]);
        rn_moe_gather(s->xe, z, a->src + o, M, K, C);
        rn_moe_combine_backward(s->dye, s->dw, s->sum, a->ye + (size_t)o * C, a->w,
                                a->src + o, M, K, C);
        memset(s->dxe, 0, sizeof(float) * (size_t)M * C);
        rn_swiglu_ffn_backward(s->dxe, &fg, s->ffn, s->dye, s->xe, a->eg + of, a->eu + of,
                               a->eh + of, &f, M, C, F);
        rn_moe_scatter_add(s->dln, s->dxe, a->src + o, M, K, C);
    }
    memset(s->dlog, 0, sizeof(float) * N * E);
    rn_moe_route_backward(s->dlog, s->dw, a->w, a->idx, (int)N, E, K);
    if (d->aux_w > 0.0f)
        rn_moe_seq_aux_backward(s->dlog, a->probs, a->seq, B, T, E, d->aux_dloss);
    rn_linear_backward(s->dln, g->router, NULL, s->dlog, z, p->router, (int)N, C, E);
}

/* ---- the block ------------------------------------------------------------ */

float lm_block_forward(float *out, struct lm_block_acts *a, struct lm_scratch *s,
                       const struct lm_block_p *p, float *bias, int *usage,
                       const struct lm_dims *d, const float *cos_t, const float *sin_t,
                       int B, int T, int balance)
{
    const int C = d->C;
    const size_t N = (size_t)B * T, NC = N * C;
    RN_ASSERT(a->res0 && out != a->res0);
    rn_rmsnorm_forward(a->ln1, a->rms1, a->res0, p->attn_norm, (int)N, C, RN_RMSNORM_EPS);
    rn_mla_forward(a->res1, &a->mla, s->mla, a->ln1, &p->attn, &d->mla, cos_t, sin_t, B, T,
                   a->seed_attn);
#pragma omp parallel for if (NC > 65536) schedule(static)
    for (size_t i = 0; i < NC; i++)
        a->res1[i] += a->res0[i];
    rn_rmsnorm_forward(a->ln2, a->rms2, a->res1, p->mlp_norm, (int)N, C, RN_RMSNORM_EPS);
    return moe_forward(out, a, s, p, bias, usage, d, B, T, balance);
}

void lm_block_backward(float *dres, const struct lm_block_p *g, struct lm_scratch *s,
                       const struct lm_block_acts *a, const struct lm_block_p *p,
                       const struct lm_dims *d, const float *cos_t, const float *sin_t,
                       int B, int T)
{
    const int C = d->C;
    const size_t N = (size_t)B * T, NC = N * C;
    /* d res1 = d out (the residual) + RMSNorm'(d z): rmsnorm_backward adds
     * into dres, so dres turns into d res1 in place. */
    moe_backward(s, g, dres, a, p, d, B, T);
    rn_rmsnorm_backward(dres, g->mlp_norm, s->dln, a->res1, p->mlp_norm, a->rms2, (int)N, C,
                        RN_RMSNORM_EPS);
    /* d res0 = d res1 + RMSNorm'(MLA'(d res1)), again in place. */
    memset(s->dln, 0, sizeof(float) * NC);
    rn_mla_backward(s->dln, &g->attn, s->mla, dres, a->ln1, &a->mla, &p->attn, &d->mla, cos_t,
                    sin_t, B, T, a->seed_attn);
    rn_rmsnorm_backward(dres, g->attn_norm, s->dln, a->res0, p->attn_norm, a->rms1, (int)N, C,
                        RN_RMSNORM_EPS);
}
