/* mla — multi-head latent attention from the ops.h kernels. */
#include "mla.h"

#include <math.h>
#include <string.h>

#include "carve.h"
#include "err.h"
#include "ops.h"

static void check_cfg(const struct rn_mla_config *c)
{
    RN_ASSERT(c->n_embd > 0 && c->n_head > 0 && c->head_dim > 0);
    RN_ASSERT(c->rope_dim > 0 && c->rope_dim % 2 == 0);
    RN_ASSERT(c->kv_rank > 0 && c->q_rank > 0);
    RN_ASSERT(c->dropout >= 0.0f && c->dropout < 1.0f);
}

size_t rn_mla_param_count(const struct rn_mla_config *c)
{
    check_cfg(c);
    size_t C = c->n_embd, HD = (size_t)c->n_head * c->head_dim,
           HR = (size_t)c->n_head * c->rope_dim;
    /* packed densely, in the order of struct rn_mla_params */
    return c->kv_rank * C + c->kv_rank + c->q_rank * C + 2 * HD * c->kv_rank +
           HD * c->q_rank + HR * C + HR * c->q_rank + C * HD + (c->bias ? C : 0);
}

void rn_mla_params_bind(struct rn_mla_params *p, float *buf, const struct rn_mla_config *c)
{
    check_cfg(c);
    size_t C = c->n_embd, HD = (size_t)c->n_head * c->head_dim,
           HR = (size_t)c->n_head * c->rope_dim;
    float *q = buf;
    p->w_dkv = q, q += c->kv_rank * C;
    p->kv_norm = q, q += c->kv_rank;
    p->w_dq = q, q += c->q_rank * C;
    p->w_uk = q, q += HD * c->kv_rank;
    p->w_uv = q, q += HD * c->kv_rank;
    p->w_uq = q, q += HD * c->q_rank;
    p->w_kr = q, q += HR * C;
    p->w_qr = q, q += HR * c->q_rank;
    p->w_o = q, q += C * HD;
    p->b_o = c->bias ? q : NULL;
}

static void carve_acts(struct rn_mla_acts *a, struct rn_carve *cv, const struct rn_mla_config *c,
                       int B, int T)
{
    size_t N = (size_t)B * T, H = c->n_head, Dqk = (size_t)c->head_dim + c->rope_dim;
    a->ckv_pre = rn_carve_take(cv, N * c->kv_rank);
    a->ckv_rms = rn_carve_take(cv, N);
    a->ckv = rn_carve_take(cv, N * c->kv_rank);
    a->cq = rn_carve_take(cv, N * c->q_rank);
    a->q = rn_carve_take(cv, N * H * Dqk);
    a->k = rn_carve_take(cv, N * H * Dqk);
    a->v = rn_carve_take(cv, N * H * c->head_dim);
    a->att = rn_carve_take(cv, (size_t)B * H * T * T);
    a->y = rn_carve_take(cv, N * H * c->head_dim);
}

size_t rn_mla_acts_floats(const struct rn_mla_config *c, int B, int T)
{
    struct rn_mla_acts a;
    struct rn_carve cv = {NULL, 0};
    check_cfg(c);
    carve_acts(&a, &cv, c, B, T);
    return cv.used;
}

void rn_mla_acts_bind(struct rn_mla_acts *a, float *buf, const struct rn_mla_config *c,
                      int B, int T)
{
    struct rn_carve cv = {buf, 0};
    check_cfg(c);
    carve_acts(a, &cv, c, B, T);
}

/* The scratch of either pass; the forward uses a prefix of the backward's
 * layout where the two overlap in time. */
struct mla_scratch {
    float *dpre;     /* (N,C) dout through the output dropout */
    float *dy;       /* (N,H*Dh) */
    float *dq, *dk;  /* (N,H*(Dh+R)) */
    float *dv;       /* (N,H*Dh) */
    float *attn;     /* (B,H,T,T) attention's own scratch */
    float *t1, *t2;  /* (N,H*max(Dh,R)) head-part staging */
    float *dcq;      /* (N,q_rank) */
    float *dckv;     /* (N,kv_rank) */
    float *dckv_pre; /* (N,kv_rank) */
};

static void carve_scratch(struct mla_scratch *s, struct rn_carve *cv,
                          const struct rn_mla_config *c, int B, int T)
{
    size_t N = (size_t)B * T, H = c->n_head, Dh = c->head_dim, R = c->rope_dim;
    size_t Dqk = Dh + R, Dm = Dh > R ? Dh : R;
    s->dpre = rn_carve_take(cv, N * c->n_embd);
    s->dy = rn_carve_take(cv, N * H * Dh);
    s->dq = rn_carve_take(cv, N * H * Dqk);
    s->dk = rn_carve_take(cv, N * H * Dqk);
    s->dv = rn_carve_take(cv, N * H * Dh);
    s->attn = rn_carve_take(cv, (size_t)B * H * T * T);
    s->t1 = rn_carve_take(cv, N * H * Dm);
    s->t2 = rn_carve_take(cv, N * H * Dm);
    s->dcq = rn_carve_take(cv, N * c->q_rank);
    s->dckv = rn_carve_take(cv, N * c->kv_rank);
    s->dckv_pre = rn_carve_take(cv, N * c->kv_rank);
}

size_t rn_mla_scratch_floats(const struct rn_mla_config *c, int B, int T)
{
    struct mla_scratch s;
    struct rn_carve cv = {NULL, 0};
    check_cfg(c);
    carve_scratch(&s, &cv, c, B, T);
    return cv.used;
}

/* dst (N, H, Dd) part [off, off+w) of each head <-> src (N, H*w). */
static void pack_heads(float *dst, int Dd, int off, const float *src, int w, size_t N, int H)
{
#pragma omp parallel for if (N * H * w > 16384) schedule(static)
    for (size_t n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            memcpy(dst + (n * H + h) * Dd + off, src + (n * H + h) * w, sizeof(float) * w);
}

static void unpack_heads(float *dst, int w, const float *src, int Ds, int off, size_t N, int H)
{
#pragma omp parallel for if (N * H * w > 16384) schedule(static)
    for (size_t n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            memcpy(dst + (n * H + h) * w, src + (n * H + h) * Ds + off, sizeof(float) * w);
}

static uint64_t attn_seed(uint64_t seed)
{
    return rn_dropout_stream(seed, 1);
}

static uint64_t out_seed(uint64_t seed)
{
    return rn_dropout_stream(seed, 2);
}

void rn_mla_forward(float *out, struct rn_mla_acts *a, float *scratch, const float *x,
                    const struct rn_mla_params *p, const struct rn_mla_config *c,
                    const float *rope_cos, const float *rope_sin, int B, int T,
                    uint64_t seed)
{
    check_cfg(c);
    const int N = B * T, C = c->n_embd, H = c->n_head, Dh = c->head_dim, R = c->rope_dim;
    const int Dqk = Dh + R;
    struct mla_scratch s;
    struct rn_carve cv = {scratch, 0};
    carve_scratch(&s, &cv, c, B, T);
    /* forward temporaries live where the backward's gradients will */
    float *qc = s.dq, *kc = s.dk, *qr = s.t1, *kr = s.t2;

    rn_linear_forward(a->ckv_pre, x, p->w_dkv, NULL, N, C, c->kv_rank);
    rn_rmsnorm_forward(a->ckv, a->ckv_rms, a->ckv_pre, p->kv_norm, N, c->kv_rank, c->eps);
    rn_linear_forward(a->cq, x, p->w_dq, NULL, N, C, c->q_rank);

    rn_linear_forward(qc, a->cq, p->w_uq, NULL, N, c->q_rank, H * Dh);
    rn_linear_forward(qr, a->cq, p->w_qr, NULL, N, c->q_rank, H * R);
    rn_rope_forward(qr, qr, rope_cos, rope_sin, B, T, H, R, 0);
    pack_heads(a->q, Dqk, 0, qc, Dh, N, H);
    pack_heads(a->q, Dqk, Dh, qr, R, N, H);

    rn_linear_forward(kc, a->ckv, p->w_uk, NULL, N, c->kv_rank, H * Dh);
    rn_linear_forward(kr, x, p->w_kr, NULL, N, C, H * R);
    rn_rope_forward(kr, kr, rope_cos, rope_sin, B, T, H, R, 0);
    pack_heads(a->k, Dqk, 0, kc, Dh, N, H);
    pack_heads(a->k, Dqk, Dh, kr, R, N, H);

    rn_linear_forward(a->v, a->ckv, p->w_uv, NULL, N, c->kv_rank, H * Dh);

    float scale = (float)(1.0 / sqrt((double)Dqk));
    rn_attention_forward(a->y, a->att, s.attn, a->q, a->k, a->v, B, T, H, Dqk, Dh, scale,
                         c->dropout, attn_seed(seed));
    rn_linear_forward(out, a->y, p->w_o, c->bias ? p->b_o : NULL, N, H * Dh, C);
    if (c->dropout > 0.0f)
        rn_dropout_forward(out, out, (size_t)N * C, c->dropout, out_seed(seed));
}

void rn_mla_backward(float *dx, const struct rn_mla_params *g, float *scratch,
                     const float *dout, const float *x, const struct rn_mla_acts *a,
                     const struct rn_mla_params *p, const struct rn_mla_config *c,
                     const float *rope_cos, const float *rope_sin, int B, int T,
                     uint64_t seed)
{
    check_cfg(c);
    const int N = B * T, C = c->n_embd, H = c->n_head, Dh = c->head_dim, R = c->rope_dim;
    const int Dqk = Dh + R;
    const size_t n = (size_t)N;
    struct mla_scratch s;
    struct rn_carve cv = {scratch, 0};
    carve_scratch(&s, &cv, c, B, T);

    const float *g_out = dout;
    if (c->dropout > 0.0f) {
        memset(s.dpre, 0, sizeof(float) * n * C);
        rn_dropout_backward(s.dpre, dout, n * C, c->dropout, out_seed(seed));
        g_out = s.dpre;
    }
    memset(s.dy, 0, sizeof(float) * n * H * Dh);
    rn_linear_backward(s.dy, g->w_o, c->bias ? g->b_o : NULL, g_out, a->y, p->w_o, N, H * Dh,
                       C);

    memset(s.dq, 0, sizeof(float) * n * H * Dqk);
    memset(s.dk, 0, sizeof(float) * n * H * Dqk);
    memset(s.dv, 0, sizeof(float) * n * H * Dh);
    float scale = (float)(1.0 / sqrt((double)Dqk));
    rn_attention_backward(s.dq, s.dk, s.dv, s.attn, s.dy, a->q, a->k, a->v, a->att, B, T, H,
                          Dqk, Dh, scale, c->dropout, attn_seed(seed));

    memset(s.dcq, 0, sizeof(float) * n * c->q_rank);
    memset(s.dckv, 0, sizeof(float) * n * c->kv_rank);

    /* rotary halves: undo the rotation, then their projections */
    unpack_heads(s.t1, R, s.dq, Dqk, Dh, n, H);
    memset(s.t2, 0, sizeof(float) * n * H * R);
    rn_rope_backward(s.t2, s.t1, rope_cos, rope_sin, B, T, H, R, 0);
    rn_linear_backward(s.dcq, g->w_qr, NULL, s.t2, a->cq, p->w_qr, N, c->q_rank, H * R);

    unpack_heads(s.t1, R, s.dk, Dqk, Dh, n, H);
    memset(s.t2, 0, sizeof(float) * n * H * R);
    rn_rope_backward(s.t2, s.t1, rope_cos, rope_sin, B, T, H, R, 0);
    rn_linear_backward(dx, g->w_kr, NULL, s.t2, x, p->w_kr, N, C, H * R);

    /* content halves and values: up-projections from the latents */
    unpack_heads(s.t1, Dh, s.dq, Dqk, 0, n, H);
    rn_linear_backward(s.dcq, g->w_uq, NULL, s.t1, a->cq, p->w_uq, N, c->q_rank, H * Dh);
    unpack_heads(s.t1, Dh, s.dk, Dqk, 0, n, H);
    rn_linear_backward(s.dckv, g->w_uk, NULL, s.t1, a->ckv, p->w_uk, N, c->kv_rank, H * Dh);
    rn_linear_backward(s.dckv, g->w_uv, NULL, s.dv, a->ckv, p->w_uv, N, c->kv_rank, H * Dh);

    /* the latents: kv_norm, then both down-projections into dx */
    memset(s.dckv_pre, 0, sizeof(float) * n * c->kv_rank);
    rn_rmsnorm_backward(s.dckv_pre, g->kv_norm, s.dckv, a->ckv_pre, p->kv_norm, a->ckv_rms, N,
                        c->kv_rank, c->eps);
    rn_linear_backward(dx, g->w_dkv, NULL, s.dckv_pre, x, p->w_dkv, N, C, c->kv_rank);
    rn_linear_backward(dx, g->w_dq, NULL, s.dcq, x, p->w_dq, N, C, c->q_rank);
}
