/* lm_decode — the model's inference with the MLA latent cache (lm_decode.h).
 *
 * Each call runs R = n*T new rows through a level's blocks as one batch (so
 * every projection is one product over all sequences: sgemm, or for <= 4
 * rows dot products over the weight rows, see linear_rows); only the
 * attention is per (sequence, head), over that sequence's cached positions. The block
 * arithmetic is the same as lm_block.c's forward with dropout off and no
 * bias update, so the logits agree with rn_lm_logits to rounding. */
#include "lm_decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ops.h"
#include "ops_moe.h"
#include "tensor.h"

#define MAX_LEVEL 8

/* One block's weights, bound by name from the model's table. */
struct dec_block {
    const float *attn_norm, *w_dkv, *kv_norm, *w_dq, *w_uk, *w_uv, *w_uq, *w_kr, *w_qr;
    const float *w_o, *b_o, *mlp_norm, *router;
    struct rn_swiglu_ffn *ffn; /* (E+1): experts, then the shared one */
    const float *bias;         /* (E) the balancing bias (read only) */
};

struct dec_mtp {
    const float *w_c, *b_c, *norm1, *norm2;
};

struct rn_lm_dec_state {
    int C, H, Dh, R, kv, q, E, K, F, Fs, V, shared, n_cached;
    const float *wte, *ln_f;
    struct dec_block *blk;            /* (n_cached) backbone, then MTP heads */
    struct rn_swiglu_ffn *ffns;       /* (n_cached * (E+1)) */
    struct dec_mtp mtp[MAX_LEVEL];
    float *rope_cos, *rope_sin;       /* (max_T, R/2) */
    /* scratch, R = max_rows rows */
    float *x, *ln, *rms, *ckv, *kr, *cq, *qc, *qr, *qa, *y, *att_o, *tmp; /* see carve */
    float *scores;                    /* (R, H, max_T) */
    float *kc_all, *v_all;            /* (max_T, H*Dh): the plain path's expansion */
    float *rlog, *wk;                 /* (R,E), (R,K) */
    int32_t *idx, *src, *ids;         /* (R,K), (R*K), (R) */
    int *off;                         /* (E+1) */
    float *xe, *ye, *eg, *eu, *eh;    /* (R,C) (R*K,C) (R*K,F) x3 */
    float *sg, *su, *sh;              /* (R,Fs) */
    float *cat;                       /* (R, 2C) */
    float *logits;                    /* (R, V) */
    int *pos;                         /* (R) position of each row */
};

static const float *param(const struct rn_lm *m, const char *fmt, const char *pre)
{
    /* room for any prefix handed in: a longer name would not be in the table */
    char name[2 * RN_LM_NAME_MAX + 64];
    snprintf(name, sizeof name, fmt, pre);
    const struct rn_lm_tensor *t = rn_lm_find(m, name);
    /* every name asked for is one the model's own table defines */
    RN_ASSERT(t);
    return m->params + t->offset;
}

static void bind_block(struct dec_block *b, struct rn_swiglu_ffn *ffn, const struct rn_lm *m,
                       const char *pre, int l)
{
    const struct rn_lm_config *c = &m->cfg;
    char p2[RN_LM_NAME_MAX + 64];
    b->attn_norm = param(m, "%sattn_norm.weight", pre);
    b->w_dkv = param(m, "%sattn.kv_proj.weight", pre);
    b->kv_norm = param(m, "%sattn.kv_norm.weight", pre);
    b->w_dq = param(m, "%sattn.q_proj.weight", pre);
    b->w_uk = param(m, "%sattn.k_decompress.weight", pre);
    b->w_uv = param(m, "%sattn.v_decompress.weight", pre);
    b->w_uq = param(m, "%sattn.q_decompress.weight", pre);
    b->w_kr = param(m, "%sattn.k_rope_proj.weight", pre);
    b->w_qr = param(m, "%sattn.q_rope_proj.weight", pre);
    b->w_o = param(m, "%sattn.o_proj.weight", pre);
    b->b_o = c->bias ? param(m, "%sattn.o_proj.bias", pre) : NULL;
    b->mlp_norm = param(m, "%smlp_norm.weight", pre);
    b->router = param(m, "%smlp.router.weight", pre);
    b->ffn = ffn;
    for (int e = 0; e <= c->n_experts; e++) {
        if (e == c->n_experts && !c->use_shared_expert) {
            memset(&ffn[e], 0, sizeof ffn[e]);
            break;
        }
        if (e < c->n_experts)
            snprintf(p2, sizeof p2, "%smlp.experts.%d.expert_mlp.", pre, e);
        else
            snprintf(p2, sizeof p2, "%smlp.shared_expert.", pre);
        ffn[e].w_gate = param(m, "%sgate_proj.weight", p2);
        ffn[e].w_up = param(m, "%sup_proj.weight", p2);
        ffn[e].w_down = param(m, "%sdown_proj.weight", p2);
        ffn[e].b_gate = c->bias ? param(m, "%sgate_proj.bias", p2) : NULL;
        ffn[e].b_up = c->bias ? param(m, "%sup_proj.bias", p2) : NULL;
        ffn[e].b_down = c->bias ? param(m, "%sdown_proj.bias", p2) : NULL;
    }
    b->bias = m->expert_bias + (size_t)l * c->n_experts;
}

size_t rn_lm_cache_bytes_per_token(const struct rn_lm_config *c)
{
    return (size_t)c->n_layer * ((size_t)c->kv_lora_rank + (size_t)c->n_head * c->rope_dim) *
           sizeof(float);
}

size_t rn_lm_kv_bytes_per_token(const struct rn_lm_config *c)
{
    size_t Dh = (size_t)(c->n_embd / c->n_head);
    return (size_t)c->n_layer * c->n_head * (2 * Dh + (size_t)c->rope_dim) * sizeof(float);
}

void rn_lm_decoder_free(struct rn_lm_decoder *d)
{
    if (d->st) {
        struct rn_lm_dec_state *s = d->st;
        free(s->blk);
        free(s->ffns);
        rn_aligned_free(s->rope_cos);
        free(s);
    }
    free(d->len);
    rn_aligned_free(d->ckv);
    memset(d, 0, sizeof *d);
}

/* Carves the scratch from one buffer (base NULL: only counts). */
struct carve {
    char *base;
    size_t used;
};

static void *take(struct carve *cv, size_t bytes)
{
    void *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += (bytes + 63) & ~(size_t)63;
    return p;
}

static void carve_scratch(struct rn_lm_dec_state *s, struct carve *cv, int Rr, int max_T)
{
    const size_t R = (size_t)Rr, C = s->C, HD = (size_t)s->H * s->Dh, HR = (size_t)s->H * s->R,
                 K = s->K, F = s->F, Fs = s->Fs, f = sizeof(float);
    s->rope_cos = take(cv, (size_t)max_T * s->R / 2 * f);
    s->rope_sin = take(cv, (size_t)max_T * s->R / 2 * f);
    s->x = take(cv, R * C * f), s->ln = take(cv, R * C * f), s->rms = take(cv, R * f);
    s->ckv = take(cv, R * s->kv * f), s->kr = take(cv, R * HR * f);
    s->cq = take(cv, R * s->q * f), s->qc = take(cv, R * HD * f), s->qr = take(cv, R * HR * f);
    s->qa = take(cv, R * s->H * s->kv * f), s->att_o = take(cv, R * s->H * s->kv * f);
    /* tmp holds (R,C) residual branches and the (R,kv_rank) latent before
     * its norm: kv_rank may exceed C */
    s->y = take(cv, R * HD * f), s->tmp = take(cv, R * (C > (size_t)s->kv ? C : (size_t)s->kv) * f);
    s->scores = take(cv, R * s->H * (size_t)max_T * f);
    s->kc_all = take(cv, (size_t)max_T * HD * f), s->v_all = take(cv, (size_t)max_T * HD * f);
    s->rlog = take(cv, R * s->E * f), s->wk = take(cv, R * K * f);
    s->idx = take(cv, R * K * 4), s->src = take(cv, R * K * 4), s->ids = take(cv, R * 4);
    s->off = take(cv, ((size_t)s->E + 1) * 4);
    s->xe = take(cv, R * C * f), s->ye = take(cv, R * K * C * f);
    s->eg = take(cv, R * K * F * f), s->eu = take(cv, R * K * F * f);
    s->eh = take(cv, R * K * F * f);
    s->sg = take(cv, R * Fs * f), s->su = take(cv, R * Fs * f), s->sh = take(cv, R * Fs * f);
    s->cat = take(cv, R * 2 * C * f);
    s->logits = take(cv, R * s->V * f);
    s->pos = take(cv, R * 4);
}

int rn_lm_decoder_init(struct rn_lm_decoder *d, struct rn_lm *m, int n_seq, int max_T,
                       int max_rows, int levels, struct rn_err *e)
{
    const struct rn_lm_config *c = &m->cfg;
    memset(d, 0, sizeof *d);
    if (n_seq < 1 || n_seq > (1 << 16))
        return rn_err_set(e, RN_EUSAGE, "n_seq", "%d must be in [1, 65536]", n_seq);
    if (max_T < 1 || max_T > c->block_size)
        return rn_err_set(e, RN_EUSAGE, "max_T", "%d must be in [1, block_size %d]", max_T,
                          c->block_size);
    if (max_rows < 1 || max_rows > (1 << 20))
        return rn_err_set(e, RN_EUSAGE, "max_rows", "%d must be in [1, 1048576]", max_rows);
    if (levels < 0 || levels > c->multi_token_predict || levels > MAX_LEVEL)
        return rn_err_set(e, RN_EUSAGE, "levels", "%d must be in [0, multi_token_predict %d]",
                          levels, c->multi_token_predict);
    struct rn_lm_dec_state *s = calloc(1, sizeof *s);
    d->st = s;
    if (!s)
        goto nomem;
    d->m = m, d->n_seq = n_seq, d->max_T = max_T, d->max_rows = max_rows, d->levels = levels;
    s->C = c->n_embd, s->H = c->n_head, s->Dh = c->n_embd / c->n_head, s->R = c->rope_dim;
    s->kv = c->kv_lora_rank, s->q = c->q_lora_rank, s->E = c->n_experts;
    s->K = c->n_experts_per_token, s->F = c->expert_intermediate_size;
    s->shared = c->use_shared_expert, s->Fs = s->shared ? c->shared_expert_intermediate_size : 0;
    s->V = c->vocab_size, s->n_cached = c->n_layer + levels;
    s->wte = param(m, "%stransformer.wte.weight", "");
    s->ln_f = param(m, "%stransformer.ln_f.weight", "");
    s->blk = calloc((size_t)s->n_cached, sizeof *s->blk);
    s->ffns = calloc((size_t)s->n_cached * (s->E + 1), sizeof *s->ffns);
    d->len = calloc((size_t)(levels + 1) * n_seq, sizeof *d->len);
    if (!s->blk || !s->ffns || !d->len)
        goto nomem;
    char pre[RN_LM_NAME_MAX];
    for (int l = 0; l < s->n_cached; l++) {
        int mtp = l >= c->n_layer;
        if (mtp)
            snprintf(pre, sizeof pre, "mtp_heads.%d.", l - c->n_layer);
        else
            snprintf(pre, sizeof pre, "transformer.h.%d.", l);
        bind_block(&s->blk[l], s->ffns + (size_t)l * (s->E + 1), m, pre, l);
        if (mtp) {
            struct dec_mtp *t = &s->mtp[l - c->n_layer];
            t->w_c = param(m, "%scombine_proj.weight", pre);
            t->b_c = c->bias ? param(m, "%scombine_proj.bias", pre) : NULL;
            t->norm1 = param(m, "%snorm1.weight", pre);
            t->norm2 = param(m, "%snorm2.weight", pre);
        }
    }
    /* the cache: one allocation, ckv then kr */
    size_t per = (size_t)s->n_cached * n_seq * max_T;
    size_t ckv_n = per * s->kv, kr_n = per * s->H * s->R;
    d->ckv = rn_aligned_alloc((ckv_n + kr_n) * sizeof(float));
    if (!d->ckv)
        goto nomem;
    d->kr = d->ckv + ckv_n;
    struct carve cv = {NULL, 0};
    carve_scratch(s, &cv, max_rows, max_T);
    void *buf = rn_aligned_alloc(cv.used);
    if (!buf)
        goto nomem;
    cv = (struct carve){buf, 0};
    carve_scratch(s, &cv, max_rows, max_T); /* s->rope_cos is the buffer's start */
    rn_rope_table(s->rope_cos, s->rope_sin, max_T, s->R, RN_ROPE_THETA);
    d->h = s->x;
    return RN_OK;
nomem:
    rn_lm_decoder_free(d);
    return rn_err_set(e, RN_ENOMEM, "decoder", "out of memory for %d x %d positions", n_seq,
                      max_T);
}

void rn_lm_decoder_reset(struct rn_lm_decoder *d, int s)
{
    RN_ASSERT(s >= 0 && s < d->n_seq);
    for (int l = 0; l <= d->levels; l++)
        d->len[(size_t)l * d->n_seq + s] = 0;
}

void rn_lm_decoder_truncate(struct rn_lm_decoder *d, int level, int s, int len)
{
    RN_ASSERT(level >= 0 && level <= d->levels && s >= 0 && s < d->n_seq);
    int *p = &d->len[(size_t)level * d->n_seq + s];
    RN_ASSERT(len >= 0 && len <= *p);
    *p = len;
}

/* ---- products for a few rows ----------------------------------------------- */

/* Up to this many rows, products run as dot products over the weight rows
 * instead of sgemm: at decode (1 row per sequence) OpenBLAS packs the whole
 * weight matrix on every call (perf: half the time of a default-config
 * token in sgemm_incopy), while a weight row read once serves every row
 * here straight from L1. */
#define FEW_ROWS 4

/* out (R,OC) = x (R,C) w^T + b, w (OC,C), b (OC) or NULL. */
static void linear_rows(float *out, const float *x, const float *w, const float *b, int R, int C,
                        int OC)
{
    if (R > FEW_ROWS) {
        rn_linear_forward(out, x, w, b, R, C, OC);
        return;
    }
    /* Threads only for the big ones (the LM head): a fork/join per small
     * product costs more than it saves (default config: 145 -> 165
     * tokens/s with this bound instead of 64k). */
#pragma omp parallel for schedule(static) if ((size_t)OC * C > ((size_t)1 << 20))
    for (int o = 0; o < OC; o++) {
        const float *wo = w + (size_t)o * C;
        for (int r = 0; r < R; r++) {
            const float *xr = x + (size_t)r * C;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int i = 0; i < C; i++)
                acc += wo[i] * xr[i];
            out[(size_t)r * OC + o] = acc + (b ? b[o] : 0.0f);
        }
    }
}

/* The SwiGLU FFN of ops.h on M rows: g, u, h (M,F) scratch, out (M,C). */
static void ffn_rows(float *out, float *g, float *u, float *h, const float *x,
                     const struct rn_swiglu_ffn *f, int M, int C, int F)
{
    if (M > FEW_ROWS) {
        rn_swiglu_ffn_forward(out, g, u, h, x, f, M, C, F);
        return;
    }
    linear_rows(g, x, f->w_gate, f->b_gate, M, C, F);
    linear_rows(u, x, f->w_up, f->b_up, M, C, F);
    rn_swiglu_forward(h, g, u, (size_t)M * F);
    linear_rows(out, h, f->w_down, f->b_down, M, F, C);
}

/* ---- attention over the cache --------------------------------------------- */

/* Row i*T+t of the batch is slot seqs[i]'s position pos[i*T+t]; the cache
 * rows of layer l, slot s start at ckv_l + s*max_T*kv. y (R, H*Dh) out. */
static void attend(struct rn_lm_decoder *d, int l, const int *seqs, int n, int T, int plain)
{
    struct rn_lm_dec_state *s = d->st;
    const int H = s->H, Dh = s->Dh, Rd = s->R, kv = s->kv, HD = H * Dh, HR = H * Rd;
    const int maxT = d->max_T;
    const float scale = (float)(1.0 / sqrt((double)(Dh + Rd)));
    const float *ckv_l = d->ckv + (size_t)l * d->n_seq * maxT * kv;
    const float *kr_l = d->kr + (size_t)l * d->n_seq * maxT * HR;
    const struct dec_block *b = &s->blk[l];

    /* Threads only pay off above ~64k multiply-adds per region: below that
     * the fork/join costs more than the work (tiny test models, one token). */
    long work = 0;
    for (int i = 0; i < n; i++)
        work += (long)T * (s->pos[i * T + T - 1] + 1) * H * (kv + Rd);
    const int par = work > 65536;
    if (!plain) {
        /* absorbed: qa[r, h] (kv) = q_c[r, h] (Dh) @ W_uk_h (Dh, kv) */
        const int Rn = n * T;
#pragma omp parallel for schedule(static) if (par)
        for (int h = 0; h < H; h++)
            rn_sgemm(RN_NOTRANS, RN_NOTRANS, Rn, kv, Dh, 1.0f, s->qc + h * Dh, HD,
                     b->w_uk + (size_t)h * Dh * kv, kv, 0.0f, s->qa + (size_t)h * kv, H * kv);
#pragma omp parallel for collapse(2) schedule(dynamic) if (par)
        for (int i = 0; i < n; i++)
            for (int h = 0; h < H; h++) {
                const int r0 = i * T, P = s->pos[r0 + T - 1] + 1;
                const float *ck = ckv_l + (size_t)seqs[i] * maxT * kv;
                const float *kr = kr_l + (size_t)seqs[i] * maxT * HR + h * Rd;
                float *S = s->scores + ((size_t)r0 * H + (size_t)h * T) * maxT;
                /* S (T, P) = qa (T, kv) ck^T + qr (T, R) kr^T */
                rn_sgemm(RN_NOTRANS, RN_TRANS, T, P, kv, scale,
                         s->qa + (size_t)r0 * H * kv + (size_t)h * kv, H * kv, ck, kv, 0.0f,
                         S, maxT);
                rn_sgemm(RN_NOTRANS, RN_TRANS, T, P, Rd, scale,
                         s->qr + (size_t)r0 * HR + h * Rd, HR, kr, HR, 1.0f, S, maxT);
                for (int t = 0; t < T; t++) {
                    /* causal: row t sees positions 0..pos */
                    const int np = s->pos[r0 + t] + 1;
                    rn_softmax_forward(S + (size_t)t * maxT, S + (size_t)t * maxT, 1, np);
                    memset(S + (size_t)t * maxT + np, 0, sizeof(float) * (size_t)(P - np));
                }
                /* o (T, kv) = A (T, P) ck (P, kv); y_h (T, Dh) = o W_uv_h^T */
                float *o = s->att_o + (size_t)r0 * H * kv + (size_t)h * kv;
                rn_sgemm(RN_NOTRANS, RN_NOTRANS, T, kv, P, 1.0f, S, maxT, ck, kv, 0.0f, o,
                         H * kv);
                rn_sgemm(RN_NOTRANS, RN_TRANS, T, Dh, kv, 1.0f, o, H * kv,
                         b->w_uv + (size_t)h * Dh * kv, kv, 0.0f,
                         s->y + (size_t)r0 * HD + h * Dh, HD);
            }
        return;
    }
    /* plain: expand every cached position's k_c and v, sequence by sequence */
    for (int i = 0; i < n; i++) {
        const int r0 = i * T, P = s->pos[r0 + T - 1] + 1;
        const float *ck = ckv_l + (size_t)seqs[i] * maxT * kv;
        rn_linear_forward(s->kc_all, ck, b->w_uk, NULL, P, kv, HD);
        rn_linear_forward(s->v_all, ck, b->w_uv, NULL, P, kv, HD);
#pragma omp parallel for schedule(static) if (par)
        for (int h = 0; h < H; h++) {
            const float *kr = kr_l + (size_t)seqs[i] * maxT * HR + h * Rd;
            float *S = s->scores + ((size_t)r0 * H + (size_t)h * T) * maxT;
            rn_sgemm(RN_NOTRANS, RN_TRANS, T, P, Dh, scale, s->qc + (size_t)r0 * HD + h * Dh,
                     HD, s->kc_all + h * Dh, HD, 0.0f, S, maxT);
            rn_sgemm(RN_NOTRANS, RN_TRANS, T, P, Rd, scale, s->qr + (size_t)r0 * HR + h * Rd,
                     HR, kr, HR, 1.0f, S, maxT);
            for (int t = 0; t < T; t++) {
                const int np = s->pos[r0 + t] + 1;
                rn_softmax_forward(S + (size_t)t * maxT, S + (size_t)t * maxT, 1, np);
                memset(S + (size_t)t * maxT + np, 0, sizeof(float) * (size_t)(P - np));
            }
            rn_sgemm(RN_NOTRANS, RN_NOTRANS, T, Dh, P, 1.0f, S, maxT, s->v_all + h * Dh, HD,
                     0.0f, s->y + (size_t)r0 * HD + h * Dh, HD);
        }
    }
}

/* ---- one block over the R rows in s->x (in place) -------------------------- */

static void block(struct rn_lm_decoder *d, int l, const int *seqs, int n, int T, int plain)
{
    struct rn_lm_dec_state *s = d->st;
    const struct dec_block *b = &s->blk[l];
    const int R = n * T, C = s->C, H = s->H, Rd = s->R, kv = s->kv, q = s->q, HD = H * s->Dh,
              HR = H * Rd, E = s->E, K = s->K, F = s->F, maxT = d->max_T;
    const size_t RC = (size_t)R * C;

    /* attention: new latents and rotary keys go straight into the cache */
    rn_rmsnorm_forward(s->ln, s->rms, s->x, b->attn_norm, R, C, RN_RMSNORM_EPS);
    linear_rows(s->tmp, s->ln, b->w_dkv, NULL, R, C, kv);
    rn_rmsnorm_forward(s->ckv, s->rms, s->tmp, b->kv_norm, R, kv, RN_RMSNORM_EPS);
    linear_rows(s->kr, s->ln, b->w_kr, NULL, R, C, HR);
    linear_rows(s->cq, s->ln, b->w_dq, NULL, R, C, q);
    linear_rows(s->qc, s->cq, b->w_uq, NULL, R, q, HD);
    linear_rows(s->qr, s->cq, b->w_qr, NULL, R, q, HR);
    for (int r = 0; r < R; r++) {
        /* rotate each row at its own position (sequences differ) */
        rn_rope_forward(s->kr + (size_t)r * HR, s->kr + (size_t)r * HR, s->rope_cos,
                        s->rope_sin, 1, 1, H, Rd, s->pos[r]);
        rn_rope_forward(s->qr + (size_t)r * HR, s->qr + (size_t)r * HR, s->rope_cos,
                        s->rope_sin, 1, 1, H, Rd, s->pos[r]);
        size_t slot = ((size_t)l * d->n_seq + seqs[r / T]) * maxT + s->pos[r];
        memcpy(d->ckv + slot * kv, s->ckv + (size_t)r * kv, sizeof(float) * kv);
        memcpy(d->kr + slot * HR, s->kr + (size_t)r * HR, sizeof(float) * HR);
    }
    attend(d, l, seqs, n, T, plain);
    linear_rows(s->tmp, s->y, b->w_o, b->b_o, R, HD, C);
    for (size_t i = 0; i < RC; i++)
        s->x[i] += s->tmp[i];

    /* MoE: route with the balancing bias (not updated), only chosen experts */
    rn_rmsnorm_forward(s->ln, s->rms, s->x, b->mlp_norm, R, C, RN_RMSNORM_EPS);
    linear_rows(s->rlog, s->ln, b->router, NULL, R, C, E);
    rn_moe_route_forward(s->idx, s->wk, NULL, s->rlog, b->bias, R, E, K);
    rn_moe_plan(s->off, s->src, s->idx, R, E, K);
    memset(s->tmp, 0, sizeof(float) * RC);
    for (int e = 0; e < E; e++) {
        int o = s->off[e], M = s->off[e + 1] - o;
        if (M == 0)
            continue;
        size_t of = (size_t)o * F;
        rn_moe_gather(s->xe, s->ln, s->src + o, M, K, C);
        ffn_rows(s->ye + (size_t)o * C, s->eg + of, s->eu + of, s->eh + of, s->xe,
                              &b->ffn[e], M, C, F);
        rn_moe_combine_forward(s->tmp, s->ye + (size_t)o * C, s->wk, s->src + o, M, K, C);
    }
    if (s->shared) {
        ffn_rows(s->xe, s->sg, s->su, s->sh, s->ln, &b->ffn[E], R, C, s->Fs);
        for (size_t i = 0; i < RC; i++)
            s->tmp[i] += s->xe[i];
    }
    for (size_t i = 0; i < RC; i++)
        s->x[i] += s->tmp[i];
}

int rn_lm_decode(struct rn_lm_decoder *d, int level, const int *seqs, int n,
                 const int32_t *tokens, int T, const float *hprev, int flags,
                 const float **logits, struct rn_err *e)
{
    struct rn_lm_dec_state *s = d->st;
    const struct rn_lm_config *c = &d->m->cfg;
    const int C = s->C, V = s->V;
    if (level < 0 || level > d->levels)
        return rn_err_set(e, RN_EUSAGE, "level", "%d is not cached (0..%d)", level, d->levels);
    if (n < 1 || T < 1 || (long)n * T > d->max_rows)
        return rn_err_set(e, RN_EUSAGE, "batch", "%d x %d rows: must be in [1, %d]", n, T,
                          d->max_rows);
    if (level > 0 && !hprev)
        return rn_err_set(e, RN_EUSAGE, "hprev", "level %d needs the previous level", level);
    int *len = d->len + (size_t)level * d->n_seq;
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= d->n_seq)
            return rn_err_set(e, RN_EUSAGE, "seqs", "slot %d is outside [0, %d)", seqs[i],
                              d->n_seq);
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return rn_err_set(e, RN_EUSAGE, "seqs", "slot %d appears twice", seqs[i]);
        if (len[seqs[i]] + T > d->max_T)
            return rn_err_set(e, RN_EUSAGE, "seqs",
                              "slot %d: %d + %d positions exceed the cache's %d", seqs[i],
                              len[seqs[i]], T, d->max_T);
        for (int t = 0; t < T; t++) {
            int32_t id = tokens[(size_t)i * T + t];
            if (id < 0 || id >= V)
                return rn_err_set(e, RN_EUSAGE, "tokens",
                                  "row %d position %d: token id %d is outside the "
                                  "vocabulary [0, %d)",
                                  i, t, (int)id, V);
        }
    }
    const int R = n * T;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T; t++)
            s->pos[i * T + t] = len[seqs[i]] + t;
    memcpy(s->ids, tokens, sizeof(int32_t) * (size_t)R);

    if (level == 0) {
        rn_embedding_forward(s->x, s->ids, s->wte, R, C);
        for (int l = 0; l < c->n_layer; l++)
            block(d, l, seqs, n, T, flags & RN_DEC_PLAIN);
    } else {
        /* comb = W_c [RMSNorm1(hprev); RMSNorm2(wte[tok])] + b_c, as mtp_forward */
        const struct dec_mtp *p = &s->mtp[level - 1];
        rn_embedding_forward(s->tmp, s->ids, s->wte, R, C);
        rn_rmsnorm_forward(s->xe, s->rms, s->tmp, p->norm2, R, C, RN_RMSNORM_EPS);
        rn_rmsnorm_forward(s->ln, s->rms, hprev, p->norm1, R, C, RN_RMSNORM_EPS);
        for (int r = 0; r < R; r++) {
            memcpy(s->cat + (size_t)r * 2 * C, s->ln + (size_t)r * C, sizeof(float) * C);
            memcpy(s->cat + (size_t)r * 2 * C + C, s->xe + (size_t)r * C, sizeof(float) * C);
        }
        linear_rows(s->x, s->cat, p->w_c, p->b_c, R, 2 * C, C);
        block(d, c->n_layer + level - 1, seqs, n, T, flags & RN_DEC_PLAIN);
    }
    for (int i = 0; i < n; i++)
        len[seqs[i]] += T;

    /* head: RMSNorm_f then the tied embedding, on all rows or the last ones */
    if (flags & RN_DEC_LAST) {
        for (int i = 0; i < n; i++)
            memcpy(s->tmp + (size_t)i * C, s->x + ((size_t)i * T + T - 1) * C,
                   sizeof(float) * C);
        rn_rmsnorm_forward(s->ln, s->rms, s->tmp, s->ln_f, n, C, RN_RMSNORM_EPS);
        linear_rows(s->logits, s->ln, s->wte, NULL, n, C, V);
    } else {
        rn_rmsnorm_forward(s->ln, s->rms, s->x, s->ln_f, R, C, RN_RMSNORM_EPS);
        linear_rows(s->logits, s->ln, s->wte, NULL, R, C, V);
    }
    *logits = s->logits;
    return RN_OK;
}
