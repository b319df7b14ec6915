/* lm — the model: config, named parameters, buffers, the backbone, the
 * LM heads and the multi-token-prediction chain (blocks in lm_block.c). */
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carve.h"
#include "lm_private.h"
#include "ops_moe.h"
#include "tensor.h"

#define MAX_DEPTH 8        /* multi_token_predict <= 8 (m->mtp_loss) */
#define MAX_LAYER 256
#define MAX_DIM (1 << 20)  /* any one size; keeps every product in size_t */

/* ---- config ------------------------------------------------------------------ */

void rn_lm_config_default(struct rn_lm_config *c)
{
    *c = (struct rn_lm_config){
        .vocab_size = 50259, .n_layer = 6, .n_head = 8, .n_embd = 256, .block_size = 1024,
        .dropout = 0.1f, .bias = 1, .kv_lora_rank = 128, .q_lora_rank = 192,
        .rope_dim = 64, .n_experts = 4, .n_experts_per_token = 2,
        .expert_intermediate_size = 512, .shared_expert_intermediate_size = 768,
        .use_shared_expert = 1, .aux_loss_weight = 0.0f, .bias_update_rate = 0.001f,
        .multi_token_predict = 2, .mtp_loss_weight = 0.3f,
    };
}

static int range(struct rn_err *e, const char *field, long v, long lo, long hi)
{
    if (v < lo || v > hi)
        return rn_err_set(e, RN_EUSAGE, field, "%ld is out of range: must be in [%ld, %ld]",
                          v, lo, hi);
    return RN_OK;
}

static int frange(struct rn_err *e, const char *field, float v, float lo, float hi,
                  int hi_open)
{
    if (!(v >= lo && (hi_open ? v < hi : v <= hi)))
        return rn_err_set(e, RN_EUSAGE, field, "%g is out of range: must be in [%g, %g%c",
                          (double)v, (double)lo, (double)hi, hi_open ? ')' : ']');
    return RN_OK;
}

int rn_lm_config_validate(const struct rn_lm_config *c, struct rn_err *e)
{
    int r;
#define R(f, lo, hi) \
    if ((r = range(e, #f, c->f, lo, hi)) < 0) return r
#define FR(f, lo, hi, open) \
    if ((r = frange(e, #f, c->f, lo, hi, open)) < 0) return r
    R(vocab_size, 2, 1 << 24);
    R(n_layer, 1, MAX_LAYER);
    R(n_head, 1, 1024);
    R(n_embd, 1, 1 << 16);
    if (c->n_embd % c->n_head != 0)
        return rn_err_set(e, RN_EUSAGE, "n_embd",
                          "%d is not a multiple of n_head (%d): the head dim is n_embd/n_head",
                          c->n_embd, c->n_head);
    R(block_size, 1, 1 << 20);
    FR(dropout, 0.0f, 1.0f, 1);
    R(bias, 0, 1);
    R(kv_lora_rank, 1, MAX_DIM);
    R(q_lora_rank, 1, MAX_DIM);
    R(rope_dim, 2, 1 << 12);
    if (c->rope_dim % 2 != 0)
        return rn_err_set(e, RN_EUSAGE, "rope_dim",
                          "%d is odd: rotate-half RoPE pairs the two halves", c->rope_dim);
    R(n_experts, 1, 1024);
    R(n_experts_per_token, 1, c->n_experts);
    R(expert_intermediate_size, 1, MAX_DIM);
    R(use_shared_expert, 0, 1);
    if (c->use_shared_expert)
        R(shared_expert_intermediate_size, 1, MAX_DIM);
    FR(aux_loss_weight, 0.0f, 1e6f, 0);
    FR(bias_update_rate, 0.0f, 1.0f, 0);
    R(multi_token_predict, 0, MAX_DEPTH);
    if (c->multi_token_predict >= c->block_size)
        return rn_err_set(e, RN_EUSAGE, "multi_token_predict",
                          "%d leaves no position in a block of %d (must be < block_size)",
                          c->multi_token_predict, c->block_size);
    FR(mtp_loss_weight, 0.0f, 1e6f, 0);
#undef R
#undef FR
    return RN_OK;
}

/* ---- parameters ------------------------------------------------------------------ */

struct lm_mtp_p {
    float *w_c, *b_c;        /* combine_proj (C, 2C), (C) or NULL */
    float *norm1, *norm2;    /* (C) each */
};

/* Lays the named tensors out in buffer order; with table == NULL it only
 * counts, with base == NULL it hands out NULL pointers. */
struct walker {
    struct rn_lm_tensor *table;
    int n;
    float *base;
    size_t off;
};

static float *take_t(struct walker *w, int rank, int64_t d0, int64_t d1, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static float *take_t(struct walker *w, int rank, int64_t d0, int64_t d1, const char *fmt, ...)
{
    size_t n = (size_t)d0 * (rank == 2 ? (size_t)d1 : 1);
    if (w->table) {
        struct rn_lm_tensor *t = &w->table[w->n];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->name, sizeof t->name, fmt, ap);
        va_end(ap);
        t->rank = rank, t->shape[0] = d0, t->shape[1] = rank == 2 ? d1 : 0;
        t->offset = w->off, t->numel = n, t->decay = rank == 2;
    }
    w->n++;
    float *p = w->base ? w->base + w->off : NULL;
    w->off += n;
    return p;
}

static void walk_ffn(struct walker *w, struct lm_ffn_p *f, const char *pre, int C, int F,
                     int bias)
{
    f->w_gate = take_t(w, 2, F, C, "%sgate_proj.weight", pre);
    f->b_gate = bias ? take_t(w, 1, F, 0, "%sgate_proj.bias", pre) : NULL;
    f->w_up = take_t(w, 2, F, C, "%sup_proj.weight", pre);
    f->b_up = bias ? take_t(w, 1, F, 0, "%sup_proj.bias", pre) : NULL;
    f->w_down = take_t(w, 2, C, F, "%sdown_proj.weight", pre);
    f->b_down = bias ? take_t(w, 1, C, 0, "%sdown_proj.bias", pre) : NULL;
}

static void walk_block(struct walker *w, struct lm_block_p *b, const char *pre,
                       const struct rn_lm_config *c)
{
    const int C = c->n_embd, HD = c->n_embd, HR = c->n_head * c->rope_dim,
              kv = c->kv_lora_rank, q = c->q_lora_rank;
    char name[RN_LM_NAME_MAX];
    b->attn_norm = take_t(w, 1, C, 0, "%sattn_norm.weight", pre);
    b->attn.w_dkv = take_t(w, 2, kv, C, "%sattn.kv_proj.weight", pre);
    b->attn.kv_norm = take_t(w, 1, kv, 0, "%sattn.kv_norm.weight", pre);
    b->attn.w_dq = take_t(w, 2, q, C, "%sattn.q_proj.weight", pre);
    b->attn.w_uk = take_t(w, 2, HD, kv, "%sattn.k_decompress.weight", pre);
    b->attn.w_uv = take_t(w, 2, HD, kv, "%sattn.v_decompress.weight", pre);
    b->attn.w_uq = take_t(w, 2, HD, q, "%sattn.q_decompress.weight", pre);
    b->attn.w_kr = take_t(w, 2, HR, C, "%sattn.k_rope_proj.weight", pre);
    b->attn.w_qr = take_t(w, 2, HR, q, "%sattn.q_rope_proj.weight", pre);
    b->attn.w_o = take_t(w, 2, C, HD, "%sattn.o_proj.weight", pre);
    b->attn.b_o = c->bias ? take_t(w, 1, C, 0, "%sattn.o_proj.bias", pre) : NULL;
    b->mlp_norm = take_t(w, 1, C, 0, "%smlp_norm.weight", pre);
    b->router = take_t(w, 2, c->n_experts, C, "%smlp.router.weight", pre);
    for (int e = 0; e < c->n_experts; e++) {
        snprintf(name, sizeof name, "%smlp.experts.%d.expert_mlp.", pre, e);
        walk_ffn(w, &b->ffn[e], name, C, c->expert_intermediate_size, c->bias);
    }
    if (c->use_shared_expert) {
        snprintf(name, sizeof name, "%smlp.shared_expert.", pre);
        walk_ffn(w, &b->ffn[c->n_experts], name, C, c->shared_expert_intermediate_size,
                 c->bias);
    } else {
        memset(&b->ffn[c->n_experts], 0, sizeof b->ffn[0]);
    }
}

/* The whole model, in the order of the header's table. bp (n_moe): blocks
 * then MTP heads' blocks; mp (D). */
static void walk(struct walker *w, const struct rn_lm_config *c, float **wte, float **ln_f,
                 struct lm_block_p *bp, struct lm_mtp_p *mp)
{
    char pre[RN_LM_NAME_MAX];
    const int C = c->n_embd;
    *wte = take_t(w, 2, c->vocab_size, C, "transformer.wte.weight");
    for (int i = 0; i < c->n_layer; i++) {
        snprintf(pre, sizeof pre, "transformer.h.%d.", i);
        walk_block(w, &bp[i], pre, c);
    }
    *ln_f = take_t(w, 1, C, 0, "transformer.ln_f.weight");
    for (int d = 0; d < c->multi_token_predict; d++) {
        mp[d].w_c = take_t(w, 2, C, 2 * C, "mtp_heads.%d.combine_proj.weight", d);
        mp[d].b_c = c->bias ? take_t(w, 1, C, 0, "mtp_heads.%d.combine_proj.bias", d) : NULL;
        mp[d].norm1 = take_t(w, 1, C, 0, "mtp_heads.%d.norm1.weight", d);
        mp[d].norm2 = take_t(w, 1, C, 0, "mtp_heads.%d.norm2.weight", d);
        snprintf(pre, sizeof pre, "mtp_heads.%d.", d);
        walk_block(w, &bp[c->n_layer + d], pre, c);
    }
}

/* ---- state ------------------------------------------------------------------- */

/* What the MTP head of depth d keeps (Nd = B*(T-d) rows). */
struct lm_mtp_acts {
    float *htrim;    /* (Nd,C) previous level's output without its last position */
    float *emb;      /* (Nd,C) wte[tokens[:, d : d+T-d]] */
    float *cat;      /* (Nd,2C) [RMSNorm1(htrim), RMSNorm2(emb)] */
    float *rms_a, *rms_b; /* (Nd) */
    float *comb;     /* (Nd,C) cat W_c^T + b_c: the block's input */
    float *out;      /* (Nd,C) the head's output h_d */
    int32_t *eids;   /* (Nd) ids embedded */
};

struct rn_lm_state {
    struct lm_dims dims;
    float *wte, *ln_f, *gwte, *gln_f;
    struct lm_block_p *bp, *bg;      /* (n_moe) */
    struct lm_ffn_p *ffn;            /* (2 * n_moe * (E+1)): params then grads */
    struct lm_mtp_p mp[MAX_DEPTH], mg[MAX_DEPTH];
    float *buf;                      /* one allocation for everything below */
    float *rope_cos, *rope_sin;      /* (max_T, R/2) */
    int32_t *ids;                    /* (N) level-0 input ids */
    int32_t *tgt[MAX_DEPTH + 1];     /* (Nd) targets of level d */
    float **res;                     /* (n_layer+1) x (N,C): block inputs, backbone output */
    struct lm_block_acts *ba;        /* (n_moe) */
    struct lm_mtp_acts ma[MAX_DEPTH];
    float *hf[MAX_DEPTH + 1], *rmsf[MAX_DEPTH + 1]; /* (Nd,C), (Nd): RMSNorm_f of level d */
    float *dhf[MAX_DEPTH + 1];       /* (Nd,C) dloss/dhf, formed in the forward */
    float *dres[MAX_DEPTH + 1];      /* (N,C) residual gradient of each level */
    float *dcat;                     /* (N,2C) */
    float *logits;                   /* (N,V) logits, then dlogits */
    struct lm_scratch s;
    int B, T, flags;
    uint64_t seed_emb;
    float drop_emb;
};


static struct rn_mla_config mla_cfg(const struct rn_lm_config *c, float dropout)
{
    return (struct rn_mla_config){c->n_embd, c->n_head, c->n_embd / c->n_head, c->rope_dim,
                                  c->kv_lora_rank, c->q_lora_rank, c->bias, dropout,
                                  RN_RMSNORM_EPS};
}

/* Carves every activation and scratch buffer for B x T (all levels sized
 * for the full N); with cv->base == NULL only counts. */
static void carve_state(struct rn_lm_state *st, struct rn_carve *cv, const struct rn_lm_config *c,
                        int B, int T)
{
    const size_t N = (size_t)B * T, C = c->n_embd, E = c->n_experts,
                 K = c->n_experts_per_token, F = c->expert_intermediate_size,
                 Fs = c->use_shared_expert ? c->shared_expert_intermediate_size : 0,
                 D = c->multi_token_predict, NC = N * C;
    const int n_moe = c->n_layer + (int)D;
    struct rn_mla_config mc = mla_cfg(c, 0.0f);
    st->rope_cos = rn_carve_take(cv, (size_t)T * c->rope_dim / 2);
    st->rope_sin = rn_carve_take(cv, (size_t)T * c->rope_dim / 2);
    st->ids = rn_carve_take(cv, N);
    for (size_t d = 0; d <= D; d++) {
        st->tgt[d] = rn_carve_take(cv, N);
        st->hf[d] = rn_carve_take(cv, NC);
        st->rmsf[d] = rn_carve_take(cv, N);
        st->dhf[d] = rn_carve_take(cv, NC);
        st->dres[d] = rn_carve_take(cv, NC);
    }
    for (int i = 0; i <= c->n_layer; i++) {
        float *p = rn_carve_take(cv, NC);
        if (cv->base)
            st->res[i] = p;
    }
    for (int l = 0; l < n_moe; l++) {
        struct lm_block_acts a;
        a.ln1 = rn_carve_take(cv, NC), a.rms1 = rn_carve_take(cv, N);
        float *mla = rn_carve_take(cv, rn_mla_acts_floats(&mc, B, T));
        if (cv->base)
            rn_mla_acts_bind(&a.mla, mla, &mc, B, T);
        a.res1 = rn_carve_take(cv, NC);
        a.ln2 = rn_carve_take(cv, NC);
        a.rms2 = rn_carve_take(cv, N);
        a.logits = rn_carve_take(cv, N * E);
        a.probs = rn_carve_take(cv, N * E);
        a.seq = rn_carve_take(cv, (size_t)B * E);
        a.idx = rn_carve_take(cv, N * K);
        a.w = rn_carve_take(cv, N * K);
        a.src = rn_carve_take(cv, N * K);
        a.off = rn_carve_take(cv, E + 1);
        a.eg = rn_carve_take(cv, N * K * F);
        a.eu = rn_carve_take(cv, N * K * F);
        a.eh = rn_carve_take(cv, N * K * F);
        a.ye = rn_carve_take(cv, N * K * C);
        a.sg = rn_carve_take(cv, N * Fs);
        a.su = rn_carve_take(cv, N * Fs);
        a.sh = rn_carve_take(cv, N * Fs);
        if (cv->base)
            st->ba[l] = a;
    }
    for (size_t d = 0; d < D; d++) {
        struct lm_mtp_acts *m = &st->ma[d];
        m->htrim = rn_carve_take(cv, NC);
        m->emb = rn_carve_take(cv, NC);
        m->cat = rn_carve_take(cv, 2 * NC);
        m->rms_a = rn_carve_take(cv, N), m->rms_b = rn_carve_take(cv, N);
        m->comb = rn_carve_take(cv, NC);
        m->out = rn_carve_take(cv, NC);
        m->eids = rn_carve_take(cv, N);
    }
    st->dcat = rn_carve_take(cv, 2 * NC);
    st->logits = rn_carve_take(cv, N * c->vocab_size);
    st->s.mla = rn_carve_take(cv, rn_mla_scratch_floats(&mc, B, T));
    st->s.ffn = rn_carve_take(cv, 2 * N * (F > Fs ? F : Fs));
    st->s.xe = rn_carve_take(cv, NC);
    st->s.dye = rn_carve_take(cv, NC);
    st->s.dxe = rn_carve_take(cv, NC);
    st->s.sum = rn_carve_take(cv, NC), st->s.dln = rn_carve_take(cv, NC);
    st->s.blog = rn_carve_take(cv, N * E);
    st->s.dlog = rn_carve_take(cv, N * E);
    st->s.dw = rn_carve_take(cv, N * K);
}

size_t rn_lm_acts_floats(const struct rn_lm_config *cfg, int B, int T, int flags)
{
    struct rn_lm_state st;
    struct rn_carve cv = {NULL, 0};
    memset(&st, 0, sizeof st);
    carve_state(&st, &cv, cfg, B, T);
    return cv.used;
}

void rn_lm_free(struct rn_lm *m)
{
    if (!m)
        return;
    if (m->st) {
        rn_aligned_free(m->st->buf);
        free(m->st->bp);
        free(m->st->ffn);
        free(m->st->res);
        free(m->st->ba);
        free(m->st);
    }
    rn_aligned_free(m->params);
    rn_aligned_free(m->grads);
    free(m->tensors);
    free(m->expert_bias);
    free(m->usage);
    memset(m, 0, sizeof *m);
}

static void *zalloc(size_t n, size_t size, int *fail)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        *fail = 1;
    return p;
}

int rn_lm_init(struct rn_lm *m, const struct rn_lm_config *cfg, int B, int T, int flags,
               struct rn_err *e)
{
    memset(m, 0, sizeof *m);
    int r = rn_lm_config_validate(cfg, e);
    if (r < 0)
        return r;
    if (B < 1 || B > (1 << 16))
        return rn_err_set(e, RN_EUSAGE, "batch_size", "%d is out of range: must be in [1, 65536]", B);
    if (T <= cfg->multi_token_predict || T > cfg->block_size)
        return rn_err_set(e, RN_EUSAGE, "seq_len",
                          "%d is out of range: must be in [multi_token_predict+1 = %d, "
                          "block_size = %d]",
                          T, cfg->multi_token_predict + 1, cfg->block_size);
    if ((int64_t)B * T > (1 << 24))
        /* row counts are ints in the kernels: keep N*K and the like far
         * from overflow */
        return rn_err_set(e, RN_EUSAGE, "batch_size",
                          "%d x %d tokens per batch exceeds the limit of %d", B, T, 1 << 24);
    const int E = cfg->n_experts, D = cfg->multi_token_predict;
    int fail = 0;
    m->cfg = *cfg;
    m->n_moe = cfg->n_layer + D;
    m->max_B = B, m->max_T = T;
    m->grad_scale = 1.0f;
    struct rn_lm_state *st = m->st = zalloc(1, sizeof *st, &fail);
    if (fail)
        goto oom;
    st->bp = zalloc(2 * (size_t)m->n_moe, sizeof *st->bp, &fail);
    st->ffn = zalloc(2 * (size_t)m->n_moe * (E + 1), sizeof *st->ffn, &fail);
    st->res = zalloc((size_t)cfg->n_layer + 1, sizeof *st->res, &fail);
    st->ba = zalloc((size_t)m->n_moe, sizeof *st->ba, &fail);
    m->expert_bias = zalloc((size_t)m->n_moe * E, sizeof(float), &fail);
    m->usage = zalloc((size_t)m->n_moe * E, sizeof(int), &fail);
    if (fail)
        goto oom;
    st->bg = st->bp + m->n_moe;
    for (int l = 0; l < 2 * m->n_moe; l++)
        st->bp[l].ffn = st->ffn + (size_t)l * (E + 1);

    /* Count, then name and bind parameters, then bind the gradients. */
    struct walker w = {NULL, 0, NULL, 0};
    walk(&w, cfg, &st->wte, &st->ln_f, st->bp, st->mp);
    m->n_tensors = w.n, m->n_params = w.off;
    m->tensors = zalloc((size_t)w.n, sizeof *m->tensors, &fail);
    m->params = rn_aligned_alloc(sizeof(float) * m->n_params);
    if (fail || !m->params)
        goto oom;
    memset(m->params, 0, sizeof(float) * m->n_params);
    w = (struct walker){m->tensors, 0, m->params, 0};
    walk(&w, cfg, &st->wte, &st->ln_f, st->bp, st->mp);
    if (flags & RN_LM_GRAD) {
        m->grads = rn_aligned_alloc(sizeof(float) * m->n_params);
        if (!m->grads)
            goto oom;
        memset(m->grads, 0, sizeof(float) * m->n_params);
        w = (struct walker){NULL, 0, m->grads, 0};
        walk(&w, cfg, &st->gwte, &st->gln_f, st->bg, st->mg);
    }

    struct rn_carve cv = {NULL, 0};
    carve_state(st, &cv, cfg, B, T);
    st->buf = rn_aligned_alloc(sizeof(float) * cv.used);
    if (!st->buf)
        goto oom;
    cv = (struct rn_carve){st->buf, 0};
    carve_state(st, &cv, cfg, B, T);
    rn_rope_table(st->rope_cos, st->rope_sin, T, cfg->rope_dim, RN_ROPE_THETA);
    st->flags = flags;
    return RN_OK;
oom:
    rn_lm_free(m);
    return rn_err_set(e, RN_ENOMEM, "model", "out of memory for the model at batch %d x %d",
                      B, T);
}

void rn_lm_init_weights(struct rn_lm *m, struct rn_rng *g)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        size_t len = strlen(t->name);
        if (t->rank == 2) {
            for (size_t j = 0; j < t->numel; j++)
                p[j] = (float)(rn_rng_normal(g) * 0.02);
        } else {
            /* rank 1: a bias (0) or a norm's weight (1) */
            float v = len >= 5 && !strcmp(t->name + len - 5, ".bias") ? 0.0f : 1.0f;
            for (size_t j = 0; j < t->numel; j++)
                p[j] = v;
        }
    }
    memset(m->expert_bias, 0, sizeof(float) * (size_t)m->n_moe * m->cfg.n_experts);
}

const struct rn_lm_tensor *rn_lm_find(const struct rn_lm *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

void rn_lm_zero_grad(struct rn_lm *m)
{
    RN_ASSERT(m->grads);
    memset(m->grads, 0, sizeof(float) * m->n_params);
}

const int32_t *rn_lm_routing(const struct rn_lm *m, int l)
{
    RN_ASSERT(l >= 0 && l < m->n_moe);
    return m->st->ba[l].idx;
}

void rn_lm_expert_usage(const struct rn_lm *m, int l, float *frac)
{
    RN_ASSERT(l >= 0 && l < m->n_moe);
    const int E = m->cfg.n_experts, *u = m->usage + (size_t)l * E;
    long tot = 0;
    for (int e = 0; e < E; e++)
        tot += u[e];
    for (int e = 0; e < E; e++)
        frac[e] = tot > 0 ? (float)u[e] / (float)tot : 0.0f;
}

/* ---- forward and backward ------------------------------------------------------- */

/* Checks every id of tokens (B, stride) in the first `len` columns. */
static int check_tokens(const struct rn_lm *m, const int32_t *tokens, int B, int len,
                        int stride, struct rn_err *e)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < len; t++) {
            int32_t id = tokens[(size_t)b * stride + t];
            if (id < 0 || id >= m->cfg.vocab_size)
                return rn_err_set(e, RN_EUSAGE, "tokens",
                                  "row %d position %d: token id %d is outside the "
                                  "vocabulary [0, %d)",
                                  b, t, (int)id, m->cfg.vocab_size);
        }
    return RN_OK;
}

static int check_shape(const struct rn_lm *m, int B, int T, int min_T, struct rn_err *e)
{
    if (B < 1 || B > m->max_B || T < min_T || T > m->max_T)
        return rn_err_set(e, RN_EUSAGE, "batch",
                          "%d x %d is outside the model's buffers (B in [1, %d], T in "
                          "[%d, %d])",
                          B, T, m->max_B, min_T, m->max_T);
    return RN_OK;
}

static void set_dims(struct rn_lm *m, int flags)
{
    const struct rn_lm_config *c = &m->cfg;
    float p = (flags & RN_LM_DROPOUT) ? c->dropout : 0.0f;
    m->st->dims = (struct lm_dims){
        .C = c->n_embd, .E = c->n_experts, .K = c->n_experts_per_token,
        .F = c->expert_intermediate_size,
        .Fs = c->use_shared_expert ? c->shared_expert_intermediate_size : 0,
        .shared = c->use_shared_expert, .aux_w = c->aux_loss_weight,
        .rate = c->bias_update_rate, .aux_dloss = c->aux_loss_weight * m->grad_scale,
        .mla = mla_cfg(c, p), .drop = p,
    };
    m->st->drop_emb = p;
}

/* Runs MoE layer l's block on (B, T) rows from `in` into `out`. */
static float run_block(struct rn_lm *m, int l, float *out, const float *in, int B, int T,
                       int flags, uint64_t seed)
{
    struct rn_lm_state *st = m->st;
    struct lm_block_acts *a = &st->ba[l];
    const int E = m->cfg.n_experts;
    a->res0 = in;
    a->seed_attn = rn_dropout_stream(seed, 1 + 2 * (uint64_t)l);
    a->seed_moe = rn_dropout_stream(seed, 2 + 2 * (uint64_t)l);
    return lm_block_forward(out, a, &st->s, &st->bp[l], m->expert_bias + (size_t)l * E,
                            m->usage + (size_t)l * E, &st->dims, st->rope_cos, st->rope_sin,
                            B, T, !!(flags & RN_LM_BALANCE));
}

/* The embedding and the backbone's blocks on st->ids: st->res[n_layer]. */
static float backbone(struct rn_lm *m, int B, int T, int flags, uint64_t seed)
{
    struct rn_lm_state *st = m->st;
    const int C = m->cfg.n_embd, L = m->cfg.n_layer;
    const size_t N = (size_t)B * T;
    float aux = 0.0f;
    rn_embedding_forward(st->res[0], st->ids, st->wte, (int)N, C);
    st->seed_emb = rn_dropout_stream(seed, 0);
    if (st->drop_emb > 0.0f)
        rn_dropout_forward(st->res[0], st->res[0], N * C, st->drop_emb, st->seed_emb);
    for (int i = 0; i < L; i++)
        aux += run_block(m, i, st->res[i + 1], st->res[i], B, T, flags, seed);
    return aux;
}

/* The LM head on level d's output h (Nd, C) with weight `wt` in the total
 * loss: RMSNorm_f, logits = hf wte^T, mean cross-entropy. With
 * RN_LM_GRAD the logits become dlogits in place and dhf[d] and wte's
 * gradient are formed at once, so one (N, V) buffer serves every head. */
static float lm_head(struct rn_lm *m, int d, const float *h, int Nd, float wt, int flags)
{
    struct rn_lm_state *st = m->st;
    const int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    float loss;
    rn_rmsnorm_forward(st->hf[d], st->rmsf[d], h, st->ln_f, Nd, C, RN_RMSNORM_EPS);
    rn_linear_forward(st->logits, st->hf[d], st->wte, NULL, Nd, C, V);
    if (flags & RN_LM_GRAD) {
        loss = rn_crossentropy_fused(st->logits, st->tgt[d], Nd, V, -1, wt, NULL);
        memset(st->dhf[d], 0, sizeof(float) * (size_t)Nd * C);
        rn_linear_backward(st->dhf[d], st->gwte, NULL, st->logits, st->hf[d], st->wte, Nd, C,
                           V);
    } else {
        loss = rn_crossentropy_forward(NULL, st->logits, st->tgt[d], Nd, V, -1, NULL);
    }
    return loss;
}

/* dres[d] += RMSNorm_f'(dhf[d]) on level d's output h. */
static void head_backward(struct rn_lm *m, int d, const float *h, int Nd)
{
    struct rn_lm_state *st = m->st;
    rn_rmsnorm_backward(st->dres[d], st->gln_f, st->dhf[d], h, st->ln_f, st->rmsf[d], Nd,
                        m->cfg.n_embd, RN_RMSNORM_EPS);
}

/* MTP head of depth d (1-based) on the previous level's output prev
 * (B, T+1-d, C): its output ma[d-1].out (B, T-d, C). Returns the aux loss. */
static float mtp_forward(struct rn_lm *m, int d, const float *prev, const int32_t *tokens,
                         int B, int T, int flags, uint64_t seed)
{
    struct rn_lm_state *st = m->st;
    struct lm_mtp_acts *a = &st->ma[d - 1];
    const struct lm_mtp_p *p = &st->mp[d - 1];
    const int C = m->cfg.n_embd, Td = T - d, Nd = B * Td;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < Nd; r++) {
        int b = r / Td, t = r % Td;
        memcpy(a->htrim + (size_t)r * C, prev + ((size_t)b * (Td + 1) + t) * C,
               sizeof(float) * C);
        a->eids[r] = tokens[(size_t)b * (T + 1) + t + d];
    }
    rn_embedding_forward(a->emb, a->eids, st->wte, Nd, C);
    /* cat = [RMSNorm1(htrim), RMSNorm2(emb)] row by row */
    float *na = st->s.sum, *nb = st->s.dln;
    rn_rmsnorm_forward(na, a->rms_a, a->htrim, p->norm1, Nd, C, RN_RMSNORM_EPS);
    rn_rmsnorm_forward(nb, a->rms_b, a->emb, p->norm2, Nd, C, RN_RMSNORM_EPS);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < Nd; r++) {
        memcpy(a->cat + (size_t)r * 2 * C, na + (size_t)r * C, sizeof(float) * C);
        memcpy(a->cat + (size_t)r * 2 * C + C, nb + (size_t)r * C, sizeof(float) * C);
    }
    rn_linear_forward(a->comb, a->cat, p->w_c, p->b_c, Nd, 2 * C, C);
    return run_block(m, m->cfg.n_layer + d - 1, a->out, a->comb, B, Td, flags, seed);
}

/* MTP head d: dres[d] (d out) -> dres[d-1] += d htrim (first T-d positions
 * of each row), wte += d emb; clobbers dres[d]. */
static void mtp_backward(struct rn_lm *m, int d, int B, int T)
{
    struct rn_lm_state *st = m->st;
    struct lm_mtp_acts *a = &st->ma[d - 1];
    const struct lm_mtp_p *p = &st->mp[d - 1], *g = &st->mg[d - 1];
    const int C = m->cfg.n_embd, Td = T - d, Nd = B * Td, l = m->cfg.n_layer + d - 1;
    float *dres = st->dres[d];
    lm_block_backward(dres, &st->bg[l], &st->s, &st->ba[l], &st->bp[l], &st->dims,
                      st->rope_cos, st->rope_sin, B, Td);
    memset(st->dcat, 0, sizeof(float) * (size_t)Nd * 2 * C);
    rn_linear_backward(st->dcat, g->w_c, g->b_c, dres, a->cat, p->w_c, Nd, 2 * C, C);
    float *da = st->s.sum, *db = st->s.dye, *dh = st->s.dln, *de = st->s.dxe;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < Nd; r++) {
        memcpy(da + (size_t)r * C, st->dcat + (size_t)r * 2 * C, sizeof(float) * C);
        memcpy(db + (size_t)r * C, st->dcat + (size_t)r * 2 * C + C, sizeof(float) * C);
    }
    memset(dh, 0, sizeof(float) * (size_t)Nd * C);
    memset(de, 0, sizeof(float) * (size_t)Nd * C);
    rn_rmsnorm_backward(dh, g->norm1, da, a->htrim, p->norm1, a->rms_a, Nd, C,
                        RN_RMSNORM_EPS);
    rn_rmsnorm_backward(de, g->norm2, db, a->emb, p->norm2, a->rms_b, Nd, C, RN_RMSNORM_EPS);
    rn_embedding_backward(st->gwte, de, a->eids, Nd, C);
    float *prev = st->dres[d - 1];
#pragma omp parallel for schedule(static)
    for (int r = 0; r < Nd; r++) {
        int b = r / Td, t = r % Td;
        float *dst = prev + ((size_t)b * (Td + 1) + t) * C;
        const float *src = dh + (size_t)r * C;
        for (int i = 0; i < C; i++)
            dst[i] += src[i];
    }
}

int rn_lm_forward(struct rn_lm *m, const int32_t *tokens, int B, int T, int flags,
                  uint64_t seed, struct rn_err *e)
{
    struct rn_lm_state *st = m->st;
    const int D = m->cfg.multi_token_predict, L = m->cfg.n_layer;
    int r;
    if ((r = check_shape(m, B, T, D + 1, e)) < 0 ||
        (r = check_tokens(m, tokens, B, T + 1, T + 1, e)) < 0)
        return r;
    RN_ASSERT(!(flags & RN_LM_GRAD) || m->grads);
    set_dims(m, flags);
    st->B = B, st->T = T, st->flags = flags;
    for (int d = 0; d <= D; d++) {
        const int Td = T - d;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Td; t++)
                st->tgt[d][b * Td + t] = tokens[(size_t)b * (T + 1) + t + d + 1];
    }
    for (int b = 0; b < B; b++)
        memcpy(st->ids + (size_t)b * T, tokens + (size_t)b * (T + 1), sizeof(int32_t) * T);

    float aux = backbone(m, B, T, flags, seed);
    m->main_loss = lm_head(m, 0, st->res[L], B * T, m->grad_scale, flags);
    const float wd = D > 0 ? m->cfg.mtp_loss_weight / (float)D * m->grad_scale : 0.0f;
    double mtp = 0.0;
    const float *prev = st->res[L];
    for (int d = 1; d <= D; d++) {
        aux += mtp_forward(m, d, prev, tokens, B, T, flags, seed);
        prev = st->ma[d - 1].out;
        m->mtp_loss[d - 1] = lm_head(m, d, prev, B * (T - d), wd, flags);
        mtp += m->mtp_loss[d - 1];
    }
    m->aux_loss = aux;
    m->loss = (float)(m->main_loss + (D > 0 ? m->cfg.mtp_loss_weight * (mtp / D) : 0.0) +
                      m->cfg.aux_loss_weight * (double)aux);
    return RN_OK;
}

void rn_lm_backward(struct rn_lm *m)
{
    struct rn_lm_state *st = m->st;
    RN_ASSERT(m->grads && (st->flags & RN_LM_GRAD));
    const int B = st->B, T = st->T, C = m->cfg.n_embd, L = m->cfg.n_layer,
              D = m->cfg.multi_token_predict;
    const size_t N = (size_t)B * T;
    for (int d = 0; d <= D; d++)
        memset(st->dres[d], 0, sizeof(float) * N * C);
    /* Deepest level first: each MTP head feeds the level above it. */
    for (int d = D; d >= 1; d--) {
        head_backward(m, d, st->ma[d - 1].out, B * (T - d));
        mtp_backward(m, d, B, T);
    }
    head_backward(m, 0, st->res[L], (int)N);
    float *dres = st->dres[0];
    for (int i = L - 1; i >= 0; i--)
        lm_block_backward(dres, &st->bg[i], &st->s, &st->ba[i], &st->bp[i], &st->dims,
                          st->rope_cos, st->rope_sin, B, T);
    if (st->drop_emb > 0.0f) {
        memset(st->s.sum, 0, sizeof(float) * N * C);
        rn_dropout_backward(st->s.sum, dres, N * C, st->drop_emb, st->seed_emb);
        dres = st->s.sum;
    }
    rn_embedding_backward(st->gwte, dres, st->ids, (int)N, C);
}

int rn_lm_logits(struct rn_lm *m, const int32_t *tokens, int B, int T, const float **logits,
                 struct rn_err *e)
{
    struct rn_lm_state *st = m->st;
    const int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    int r;
    if ((r = check_shape(m, B, T, 1, e)) < 0 || (r = check_tokens(m, tokens, B, T, T, e)) < 0)
        return r;
    set_dims(m, 0);
    st->B = B, st->T = T, st->flags = 0;
    memcpy(st->ids, tokens, sizeof(int32_t) * (size_t)B * T);
    backbone(m, B, T, 0, 0);
    rn_rmsnorm_forward(st->hf[0], st->rmsf[0], st->res[m->cfg.n_layer], st->ln_f, B * T, C,
                       RN_RMSNORM_EPS);
    rn_linear_forward(st->logits, st->hf[0], st->wte, NULL, B * T, C, V);
    *logits = st->logits;
    return RN_OK;
}
