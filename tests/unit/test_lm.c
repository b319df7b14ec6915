/* Unit tests for libcore/lm: config validation, the hand-written backward
 * of the whole model against finite differences (every tensor, dropout and
 * the aux loss on), overfitting one batch, determinism (same seed; 1 vs 2
 * threads), the balancing-bias rule through the model, bad batches, and
 * the inference path against the evaluation forward. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "lm.h"
#include "ops.h"
#include "optim.h"
#include "rng.h"

/* A tiny config with every part on: 2 layers, 2 MTP heads, biases, shared
 * expert, top-2 of 3 experts, aux loss, dropout. */
static struct rn_lm_config tiny(void)
{
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    c.vocab_size = 23, c.n_layer = 2, c.n_head = 2, c.n_embd = 8, c.block_size = 16;
    c.kv_lora_rank = 6, c.q_lora_rank = 5, c.rope_dim = 4, c.n_experts = 3;
    c.n_experts_per_token = 2, c.expert_intermediate_size = 10;
    c.shared_expert_intermediate_size = 12, c.aux_loss_weight = 0.05f, c.dropout = 0.1f;
    return c;
}

static void fill_tokens(int32_t *tok, size_t n, int V, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    for (size_t i = 0; i < n; i++)
        tok[i] = (int32_t)rn_rng_below(&g, (uint64_t)V);
}

/* ---- config ---------------------------------------------------------------- */

struct bad_case {
    const char *field;
    void (*set)(struct rn_lm_config *c);
};

static void set_vocab_size(struct rn_lm_config *c) { c->vocab_size = 1; }
static void set_n_layer(struct rn_lm_config *c) { c->n_layer = 0; }
static void set_n_head(struct rn_lm_config *c) { c->n_head = -2; }
static void set_n_embd(struct rn_lm_config *c) { c->n_embd = 250; } /* not a multiple of 8 */
static void set_block_size(struct rn_lm_config *c) { c->block_size = 0; }
static void set_dropout(struct rn_lm_config *c) { c->dropout = 1.0f; }
static void set_dropout_nan(struct rn_lm_config *c) { c->dropout = NAN; }
static void set_bias(struct rn_lm_config *c) { c->bias = 2; }
static void set_kv_lora_rank(struct rn_lm_config *c) { c->kv_lora_rank = 0; }
static void set_q_lora_rank(struct rn_lm_config *c) { c->q_lora_rank = -1; }
static void set_rope_dim(struct rn_lm_config *c) { c->rope_dim = 63; }
static void set_n_experts(struct rn_lm_config *c) { c->n_experts = 0; }
static void set_topk(struct rn_lm_config *c) { c->n_experts_per_token = 5; }
static void set_expert_size(struct rn_lm_config *c) { c->expert_intermediate_size = 0; }
static void set_shared_size(struct rn_lm_config *c) { c->shared_expert_intermediate_size = 0; }
static void set_use_shared(struct rn_lm_config *c) { c->use_shared_expert = -1; }
static void set_aux(struct rn_lm_config *c) { c->aux_loss_weight = -0.1f; }
static void set_rate(struct rn_lm_config *c) { c->bias_update_rate = -0.001f; }
static void set_mtp(struct rn_lm_config *c) { c->multi_token_predict = 9; }
static void set_mtp_block(struct rn_lm_config *c) { c->block_size = 2; }
static void set_mtp_w(struct rn_lm_config *c) { c->mtp_loss_weight = INFINITY; }

static void test_config_validate(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"vocab_size", set_vocab_size},
        {"n_layer", set_n_layer},
        {"n_head", set_n_head},
        {"n_embd", set_n_embd},
        {"block_size", set_block_size},
        {"dropout", set_dropout},
        {"dropout", set_dropout_nan},
        {"bias", set_bias},
        {"kv_lora_rank", set_kv_lora_rank},
        {"q_lora_rank", set_q_lora_rank},
        {"rope_dim", set_rope_dim},
        {"n_experts", set_n_experts},
        {"n_experts_per_token", set_topk},
        {"expert_intermediate_size", set_expert_size},
        {"shared_expert_intermediate_size", set_shared_size},
        {"use_shared_expert", set_use_shared},
        {"aux_loss_weight", set_aux},
        {"bias_update_rate", set_rate},
        {"multi_token_predict", set_mtp},
        {"multi_token_predict", set_mtp_block},
        {"mtp_loss_weight", set_mtp_w},
    };
    struct rn_lm_config c;
    struct rn_err e;
    rn_lm_config_default(&c);
    assert_int_equal(c.vocab_size, 50259);
    assert_int_equal(c.n_layer, 6);
    assert_int_equal(c.kv_lora_rank, 128);
    assert_int_equal(c.q_lora_rank, 192);
    assert_int_equal(c.multi_token_predict, 2);
    assert_true(c.mtp_loss_weight == 0.3f && c.dropout == 0.1f && c.aux_loss_weight == 0.0f);
    assert_int_equal(rn_lm_config_validate(&c, &e), RN_OK);
    /* the shared expert's size is not checked when it is off */
    c.use_shared_expert = 0, c.shared_expert_intermediate_size = 0;
    assert_int_equal(rn_lm_config_validate(&c, &e), RN_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_lm_config_default(&c);
        cases[i].set(&c);
        memset(&e, 0, sizeof e);
        assert_int_equal(rn_lm_config_validate(&c, &e), RN_EUSAGE);
        if (strcmp(e.where, cases[i].field) != 0)
            fail_msg("case %zu: error names '%s', expected '%s' (%s)", i, e.where,
                     cases[i].field, e.msg);
        assert_true(strlen(e.msg) > 0);
    }
    /* rn_lm_init refuses a bad config too, leaving nothing allocated */
    struct rn_lm m;
    rn_lm_config_default(&c);
    c.rope_dim = 3;
    assert_int_equal(rn_lm_init(&m, &c, 1, 4, 0, &e), RN_EUSAGE);
    assert_null(m.params);
    rn_lm_free(&m);
}

/* The parameter table: names in order, contiguous, sizes of the default. */
static void test_param_table(void **state)
{
    (void)state;
    struct rn_lm_config c;
    struct rn_lm m;
    struct rn_err e;
    rn_lm_config_default(&c);
    assert_int_equal(rn_lm_init(&m, &c, 1, 8, 0, &e), RN_OK);
    size_t off = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        assert_int_equal(m.tensors[i].offset, off);
        off += m.tensors[i].numel;
    }
    assert_int_equal(off, m.n_params);
    assert_string_equal(m.tensors[0].name, "transformer.wte.weight");
    const struct rn_lm_tensor *t = rn_lm_find(&m, "mtp_heads.1.combine_proj.weight");
    assert_non_null(t);
    assert_true(t->shape[0] == 256 && t->shape[1] == 512 && t->decay);
    t = rn_lm_find(&m, "transformer.h.5.mlp.experts.3.expert_mlp.down_proj.bias");
    assert_true(t && t->numel == 256 && !t->decay);
    t = rn_lm_find(&m, "transformer.h.0.attn.q_rope_proj.weight");
    assert_true(t && t->shape[0] == 8 * 64 && t->shape[1] == 192);
    assert_null(rn_lm_find(&m, "lm_head.weight")); /* tied to wte */
    /* one block: norms 2x256, MLA 331,264 + bias, router 1024, 4 experts of
     * 3*256*512 + 2*512 + 256, shared 3*256*768 + 2*768 + 256 */
    size_t mla = 128 * 256 + 128 + 192 * 256 + 2 * 256 * 128 + 256 * 192 + 512 * 256 +
                 512 * 192 + 256 * 256 + 256;
    size_t blk = 512 + mla + 1024 + 4 * (3 * 256 * 512 + 1024 + 256) +
                 (3 * 256 * 768 + 1536 + 256);
    size_t want = 50259 * 256 + 6 * blk + 256 + 2 * (256 * 512 + 256 + 512 + blk);
    assert_int_equal(m.n_params, want);
    struct rn_rng g;
    rn_rng_seed(&g, 5);
    rn_lm_init_weights(&m, &g);
    t = rn_lm_find(&m, "transformer.ln_f.weight");
    assert_true(m.params[t->offset] == 1.0f);
    t = rn_lm_find(&m, "transformer.h.2.attn.o_proj.bias");
    assert_true(m.params[t->offset] == 0.0f);
    t = rn_lm_find(&m, "transformer.wte.weight");
    double s = 0, s2 = 0;
    for (size_t i = 0; i < t->numel; i++)
        s += m.params[t->offset + i], s2 += (double)m.params[t->offset + i] * m.params[t->offset + i];
    double mean = s / t->numel, sd = sqrt(s2 / t->numel - mean * mean);
    assert_true(fabs(mean) < 1e-4 && fabs(sd - 0.02) < 1e-4);
    rn_lm_free(&m);
    rn_lm_free(&m); /* free twice is harmless */
}

/* ---- gradient check -------------------------------------------------------- */

/* Directional finite differences, one check per named tensor: direction
 * v = unit(g/|g| + r) with r a random unit vector in that tensor, so both a
 * wrong magnitude along g and an error orthogonal to g show.
 *   fd = (L(p + h v) - L(p - h v)) / 2h   vs   an = <g, v>.
 * Why the tolerance: the loss (~5) is a float32 sum whose rounding noise is
 * ~1e-6 relative, ~5e-6 absolute per evaluation; the step h is chosen so
 * that h max(|an|, 0.1) = 1e-2, so the difference quotient carries
 * ~5e-6 / 2h <= 2.5e-4 max(|an|, 0.1) of noise, and the truncation error
 * h^2/6 L''' stays ~1e-4 relative. |fd - an| <= 2e-2 |an| + 1e-4 therefore
 * passes a
 * right gradient with margin and fails a wrong one: dropping a term (a
 * residual, a norm's second term, a routing weight) changes <g, v> by far
 * more than 2%. Routing is piecewise: the top-k choice must not change
 * between the three evaluations (checked; h shrinks if it does). Dropout
 * is on with a fixed seed, which makes the loss a deterministic, smooth
 * function of the parameters. */
static void test_gradcheck(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    c.mtp_loss_weight = 3.0f; /* MTP and aux paths as large as the main one */
    c.aux_loss_weight = 20.0f;
    enum { B = 2, T = 7 };
    struct rn_lm m;
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e), RN_OK);
    rn_rng_seed(&g, 42);
    rn_lm_init_weights(&m, &g);
    /* Scale the weights up from 0.02 so every path carries a gradient well
     * above the noise (at init the MoE and MTP paths are ~1e-3 of the main
     * one), and give the norms and biases non-trivial values. */
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] = m.params[i] * 5.0f + 0.1f * (float)(rn_rng_uniform(&g) - 0.5);
    int32_t tok[B * (T + 1)];
    fill_tokens(tok, B * (T + 1), c.vocab_size, 3);
    const int flags = RN_LM_GRAD | RN_LM_DROPOUT;
    const uint64_t seed = 99;
    rn_lm_zero_grad(&m);
    assert_int_equal(rn_lm_forward(&m, tok, B, T, flags, seed, &e), RN_OK);
    rn_lm_backward(&m);
    assert_true(m.aux_loss != 0.0f);
    float base = m.loss;
    size_t nidx = 0;
    for (int l = 0; l < m.n_moe; l++)
        nidx += (size_t)B * T * c.n_experts_per_token;
    int32_t *idx0 = malloc(sizeof(int32_t) * nidx), *idx1 = malloc(sizeof(int32_t) * nidx);
    float *p0 = malloc(sizeof(float) * m.n_params), *v = malloc(sizeof(float) * m.n_params);
    assert_true(idx0 && idx1 && p0 && v);
    memcpy(p0, m.params, sizeof(float) * m.n_params);
#define SNAP(dst)                                                                        \
    do {                                                                                 \
        size_t o_ = 0;                                                                   \
        for (int l = 0; l < m.n_moe; l++) {                                              \
            int d_ = l < c.n_layer ? 0 : l - c.n_layer + 1;                              \
            size_t k_ = (size_t)B * (T - d_) * c.n_experts_per_token;                    \
            memcpy((dst) + o_, rn_lm_routing(&m, l), sizeof(int32_t) * k_);              \
            o_ += k_;                                                                    \
        }                                                                                \
    } while (0)
    /* the eval forwards must see the same routing as the analytic one */
    assert_int_equal(rn_lm_forward(&m, tok, B, T, RN_LM_DROPOUT, seed, &e), RN_OK);
    assert_true(m.loss == base);
    SNAP(idx0);
    int checked = 0;
    for (int ti = 0; ti < m.n_tensors; ti++) {
        const struct rn_lm_tensor *t = &m.tensors[ti];
        const float *gr = m.grads + t->offset;
        double gn = 0, rn = 0;
        for (size_t i = 0; i < t->numel; i++)
            gn += (double)gr[i] * gr[i];
        gn = sqrt(gn);
        if (gn < 1e-4) {
            /* only the unused-expert case can be this small here: the tiny
             * model routes every expert, so a zero gradient is a bug */
            fail_msg("%s: gradient norm %.3g is ~0", t->name, gn);
        }
        for (size_t i = 0; i < t->numel; i++)
            v[i] = (float)rn_rng_normal(&g), rn += (double)v[i] * v[i];
        rn = sqrt(rn);
        double vn = 0, an = 0;
        for (size_t i = 0; i < t->numel; i++)
            v[i] = (float)(gr[i] / gn + v[i] / rn), vn += (double)v[i] * v[i];
        vn = sqrt(vn);
        for (size_t i = 0; i < t->numel; i++)
            v[i] = (float)(v[i] / vn), an += (double)gr[i] * v[i];
        /* a step that moves the loss by ~1e-2 at most: well inside the
         * smooth region, well above the noise */
        double h = 1e-2 / (fabs(an) > 0.1 ? fabs(an) : 0.1), fd = 0;
        int tries;
        for (tries = 0; tries < 4; tries++, h /= 4) {
            float lp, lm;
            int same = 1;
            for (size_t i = 0; i < t->numel; i++)
                m.params[t->offset + i] = p0[t->offset + i] + (float)h * v[i];
            rn_lm_forward(&m, tok, B, T, RN_LM_DROPOUT, seed, &e);
            lp = m.loss;
            SNAP(idx1);
            same &= !memcmp(idx0, idx1, sizeof(int32_t) * nidx);
            for (size_t i = 0; i < t->numel; i++)
                m.params[t->offset + i] = p0[t->offset + i] - (float)h * v[i];
            rn_lm_forward(&m, tok, B, T, RN_LM_DROPOUT, seed, &e);
            lm = m.loss;
            SNAP(idx1);
            same &= !memcmp(idx0, idx1, sizeof(int32_t) * nidx);
            memcpy(m.params + t->offset, p0 + t->offset, sizeof(float) * t->numel);
            if (same) {
                fd = ((double)lp - lm) / (2 * h);
                break;
            }
        }
        if (tries == 4)
            fail_msg("%s: routing changes under every step tried", t->name);
        if (getenv("TEST_LM_VERBOSE"))
            print_message("%-55s fd %12.6g an %12.6g\n", t->name, fd, an);
        if (!(fabs(fd - an) <= 2e-2 * fabs(an) + 1e-4))
            fail_msg("%s: finite difference %.6g vs backward %.6g", t->name, fd, an);
        checked++;
    }
    assert_int_equal(checked, m.n_tensors);
    free(idx0), free(idx1), free(p0), free(v);
    rn_lm_free(&m);
}

/* ---- training ------------------------------------------------------------- */

/* count steps of AdamW (constant lr, clip 1) on one batch; losses (count). */
static void train(struct rn_lm *m, const int32_t *tok, int B, int T, int count, double lr,
                  uint64_t seed, float *losses)
{
    struct rn_err e;
    struct rn_rng g;
    float *am = calloc(m->n_params, sizeof(float)), *av = calloc(m->n_params, sizeof(float));
    assert_true(am && av);
    rn_rng_seed(&g, seed);
    for (int s = 0; s < count; s++) {
        rn_lm_zero_grad(m);
        assert_int_equal(rn_lm_forward(m, tok, B, T, RN_LM_TRAIN, rn_rng_u64(&g), &e), RN_OK);
        rn_lm_backward(m);
        losses[s] = m->loss;
        float *gp[1] = {m->grads};
        size_t cnt[1] = {m->n_params};
        rn_grad_clip(gp, cnt, 1, 1.0);
        for (int i = 0; i < m->n_tensors; i++) {
            const struct rn_lm_tensor *t = &m->tensors[i];
            rn_adamw_step(m->params + t->offset, m->grads + t->offset, am + t->offset,
                          av + t->offset, t->numel, lr, 0.9, 0.95, 1e-8, t->decay ? 0.1 : 0.0,
                          s + 1);
        }
    }
    free(am), free(av);
}

/* A tiny model memorises one batch: the total loss (main + MTP, aux off)
 * falls by at least 90% within 300 AdamW steps. */
static void test_overfit(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    c.n_embd = 32, c.n_head = 4, c.rope_dim = 8, c.kv_lora_rank = 16, c.q_lora_rank = 16;
    c.expert_intermediate_size = 32, c.shared_expert_intermediate_size = 32;
    c.dropout = 0.0f, c.aux_loss_weight = 0.0f, c.vocab_size = 31;
    enum { B = 2, T = 16, STEPS = 300 };
    struct rn_lm m;
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e), RN_OK);
    rn_rng_seed(&g, 1);
    rn_lm_init_weights(&m, &g);
    int32_t tok[B * (T + 1)];
    fill_tokens(tok, B * (T + 1), c.vocab_size, 17);
    float *losses = malloc(sizeof(float) * STEPS);
    train(&m, tok, B, T, STEPS, 1e-2, 5, losses);
    int hit = -1;
    for (int s = 0; s < STEPS && hit < 0; s++)
        if (losses[s] <= 0.1f * losses[0])
            hit = s;
    if (hit < 0)
        fail_msg("loss %.4f -> %.4f after %d steps: not a 90%% fall", losses[0],
                 losses[STEPS - 1], STEPS);
    print_message("overfit: loss %.4f -> <= %.4f at step %d\n", losses[0], losses[hit], hit);
    /* the balancing biases moved in +-rate steps: multiples of 0.001 */
    for (int i = 0; i < m.n_moe * c.n_experts; i++) {
        float b = m.expert_bias[i] / c.bias_update_rate;
        assert_true(fabsf(b - roundf(b)) < 1e-2f && fabsf(b) <= STEPS);
    }
    free(losses);
    rn_lm_free(&m);
}

/* Same seed, same losses, bit for bit (dropout on); and the same with 1
 * and with 2 threads. */
static void test_determinism(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    c.n_embd = 32, c.n_head = 4, c.rope_dim = 8, c.vocab_size = 257;
    enum { B = 3, T = 12, STEPS = 4 };
    float l[3][STEPS];
    int32_t tok[B * (T + 1)];
    fill_tokens(tok, B * (T + 1), c.vocab_size, 8);
    int threads0 = rn_blas_threads();
    for (int r = 0; r < 3; r++) {
        struct rn_lm m;
        struct rn_err e;
        struct rn_rng g;
        rn_blas_set_threads(r == 2 ? 1 : 2);
        assert_int_equal(rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e), RN_OK);
        rn_rng_seed(&g, 77);
        rn_lm_init_weights(&m, &g);
        train(&m, tok, B, T, STEPS, 3e-3, 9, l[r]);
        rn_lm_free(&m);
    }
    rn_blas_set_threads(threads0);
    for (int s = 0; s < STEPS; s++) {
        if (memcmp(&l[0][s], &l[1][s], sizeof(float)) != 0)
            fail_msg("same seed, step %d: %.9g vs %.9g", s, l[0][s], l[1][s]);
        /* doc/model-kernels.md: every runnel kernel is thread-independent;
         * OpenBLAS's sgemm is too for these sizes (each output element is
         * one dot product in a fixed order whatever the split). */
        if (memcmp(&l[0][s], &l[2][s], sizeof(float)) != 0)
            fail_msg("2 vs 1 threads, step %d: %.9g vs %.9g", s, l[0][s], l[2][s]);
    }
    assert_true(l[0][STEPS - 1] < l[0][0]);
}

/* The balancing rule through the model: after a training forward, each
 * layer's bias moved by -rate where usage > mean, +rate elsewhere; an
 * evaluation forward leaves them alone. Usage fractions sum to 1. */
static void test_balance(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    c.dropout = 0.0f;
    enum { B = 2, T = 9 };
    struct rn_lm m;
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e), RN_OK);
    rn_rng_seed(&g, 3);
    rn_lm_init_weights(&m, &g);
    int32_t tok[B * (T + 1)];
    fill_tokens(tok, B * (T + 1), c.vocab_size, 4);
    const int E = c.n_experts;
    assert_int_equal(rn_lm_forward(&m, tok, B, T, 0, 0, &e), RN_OK);
    for (int i = 0; i < m.n_moe * E; i++)
        assert_true(m.expert_bias[i] == 0.0f);
    assert_int_equal(rn_lm_forward(&m, tok, B, T, RN_LM_TRAIN, 0, &e), RN_OK);
    for (int l = 0; l < m.n_moe; l++) {
        int d = l < c.n_layer ? 0 : l - c.n_layer + 1, tot = 0;
        float frac[8], fs = 0;
        for (int x = 0; x < E; x++)
            tot += m.usage[l * E + x];
        assert_int_equal(tot, B * (T - d) * c.n_experts_per_token);
        rn_lm_expert_usage(&m, l, frac);
        for (int x = 0; x < E; x++) {
            float mean = (float)tot / E;
            float want = m.usage[l * E + x] > mean ? -0.001f : 0.001f;
            assert_true(m.expert_bias[l * E + x] == want);
            fs += frac[x];
        }
        assert_true(fabsf(fs - 1.0f) < 1e-6f);
    }
    rn_lm_free(&m);
}

/* Gradient accumulation: two micro-batches' backwards add up to the sum of
 * their separate gradients (to float rounding), and grad_scale = 1/2
 * halves every gradient exactly (each backward is linear in the loss
 * weights it starts from, and halving commutes with float rounding). */
static void test_accumulate(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    c.aux_loss_weight = 0.1f;
    enum { B = 2, T = 8 };
    struct rn_lm m;
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e), RN_OK);
    rn_rng_seed(&g, 21);
    rn_lm_init_weights(&m, &g);
    int32_t t1[B * (T + 1)], t2[B * (T + 1)];
    fill_tokens(t1, B * (T + 1), c.vocab_size, 1), fill_tokens(t2, B * (T + 1), c.vocab_size, 2);
    const int fl = RN_LM_GRAD | RN_LM_DROPOUT; /* biases fixed: comparable runs */
    size_t n = m.n_params;
    float *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n);
    assert_true(g1 && g2);
    rn_lm_zero_grad(&m);
    assert_int_equal(rn_lm_forward(&m, t1, B, T, fl, 5, &e), RN_OK);
    rn_lm_backward(&m);
    float l1 = m.loss;
    memcpy(g1, m.grads, sizeof(float) * n);
    rn_lm_zero_grad(&m);
    rn_lm_forward(&m, t2, B, T, fl, 6, &e);
    rn_lm_backward(&m);
    memcpy(g2, m.grads, sizeof(float) * n);
    rn_lm_zero_grad(&m);
    rn_lm_forward(&m, t1, B, T, fl, 5, &e);
    rn_lm_backward(&m);
    rn_lm_forward(&m, t2, B, T, fl, 6, &e);
    rn_lm_backward(&m);
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        gmax = fmax(gmax, fabs((double)g1[i] + g2[i]));
        dmax = fmax(dmax, fabs((double)m.grads[i] - ((double)g1[i] + g2[i])));
    }
    if (!(dmax <= 1e-5 * gmax))
        fail_msg("accumulated gradient differs from the sum by %.3g (max %.3g)", dmax, gmax);
    m.grad_scale = 0.5f;
    rn_lm_zero_grad(&m);
    rn_lm_forward(&m, t1, B, T, fl, 5, &e);
    rn_lm_backward(&m);
    assert_true(m.loss == l1); /* the reported loss is not scaled */
    for (size_t i = 0; i < n; i++)
        if (m.grads[i] != 0.5f * g1[i])
            fail_msg("grad_scale 1/2: element %zu is %.9g, want %.9g", i, m.grads[i],
                     0.5f * g1[i]);
    free(g1), free(g2);
    rn_lm_free(&m);
}

/* Bad batches are user errors, named; the inference logits agree with the
 * evaluation forward's main loss. */
static void test_errors_and_logits(void **state)
{
    (void)state;
    struct rn_lm_config c = tiny();
    enum { B = 2, T = 6 };
    struct rn_lm m;
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(&m, &c, B, T, 0, &e), RN_OK);
    assert_null(m.grads);
    rn_rng_seed(&g, 12);
    rn_lm_init_weights(&m, &g);
    int32_t tok[B * (T + 1)];
    fill_tokens(tok, B * (T + 1), c.vocab_size, 13);
    tok[T + 1 + 4] = c.vocab_size; /* row 1, position 4 */
    memset(&e, 0, sizeof e);
    assert_int_equal(rn_lm_forward(&m, tok, B, T, 0, 0, &e), RN_EUSAGE);
    assert_string_equal(e.where, "tokens");
    assert_non_null(strstr(e.msg, "row 1 position 4"));
    tok[T + 1 + 4] = -1;
    assert_int_equal(rn_lm_forward(&m, tok, B, T, 0, 0, &e), RN_EUSAGE);
    tok[T + 1 + 4] = 0;
    assert_int_equal(rn_lm_forward(&m, tok, B, T + 1, 0, 0, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_forward(&m, tok, B + 1, T, 0, 0, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_forward(&m, tok, B, 2, 0, 0, &e), RN_EUSAGE); /* T <= D */
    struct rn_lm m2;
    assert_int_equal(rn_lm_init(&m2, &c, 1, c.block_size + 1, 0, &e), RN_EUSAGE);
    assert_string_equal(e.where, "seq_len");
    assert_int_equal(rn_lm_init(&m2, &c, 0, T, 0, &e), RN_EUSAGE);
    assert_string_equal(e.where, "batch_size");

    /* logits path: same inputs (rows of tok without their last id) */
    assert_int_equal(rn_lm_forward(&m, tok, B, T, 0, 0, &e), RN_OK);
    float want = m.main_loss;
    int32_t in[B * T], tg[B * T];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            in[b * T + t] = tok[b * (T + 1) + t], tg[b * T + t] = tok[b * (T + 1) + t + 1];
    const float *logits;
    assert_int_equal(rn_lm_logits(&m, in, B, T, &logits, &e), RN_OK);
    float got = rn_crossentropy_forward(NULL, logits, tg, B * T, c.vocab_size, -1, NULL);
    assert_true(got == want);
    /* causality: changing the last input changes only the last position */
    float *l0 = malloc(sizeof(float) * B * T * c.vocab_size);
    memcpy(l0, logits, sizeof(float) * B * T * c.vocab_size);
    in[T - 1] = (in[T - 1] + 1) % c.vocab_size;
    assert_int_equal(rn_lm_logits(&m, in, B, T, &logits, &e), RN_OK);
    size_t row = (size_t)c.vocab_size;
    assert_memory_equal(l0, logits, sizeof(float) * (T - 1) * row);
    assert_memory_not_equal(l0 + (T - 1) * row, logits + (T - 1) * row, sizeof(float) * row);
    assert_memory_equal(l0 + T * row, logits + T * row, sizeof(float) * T * row);
    free(l0);
    rn_lm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_validate),
        cmocka_unit_test(test_param_table),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_overfit),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_accumulate),
        cmocka_unit_test(test_errors_and_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
