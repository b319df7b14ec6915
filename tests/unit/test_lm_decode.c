/* Unit tests for libcore/lm_decode: the latent-cache inference path against
 * rn_lm_logits' full recompute (every position, absorbed and plain
 * attention, prefill in chunks, a batch of different prompt lengths),
 * greedy decoding over 500 steps, the MTP levels against the training
 * forward's MTP losses, bad calls, the cache's bytes per token, and
 * rn_lm_load on checkpoints written the way train writes them.
 *
 * Tolerance: |a - b| <= 1e-4 * (1 + |b|) per logit. The two paths sum the
 * same products in a different order (sgemm blocking, latent-space vs
 * expanded attention), so they agree to float rounding (<= 6e-6 observed),
 * far inside 1e-4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "cfg.h"
#include "ckpt.h"
#include "lm.h"
#include "lm_decode.h"
#include "lm_load.h"
#include "tensor.h"
#include "ops.h"
#include "rng.h"

#define TOL 1e-4f

/* Every part on: 2 layers, 2 MTP heads, biases, shared expert, top-2 of 3
 * experts, rope 4 (so rotary and content parts both matter). Weights
 * N(0, 0.1) instead of 0.02 so the logits are far from uniform and greedy
 * ties cannot occur by accident; non-zero balancing biases. */
static struct rn_lm_config tiny(void)
{
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    c.vocab_size = 37, c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = 512;
    c.kv_lora_rank = 6, c.q_lora_rank = 5, c.rope_dim = 4, c.n_experts = 3;
    c.n_experts_per_token = 2, c.expert_intermediate_size = 10;
    c.shared_expert_intermediate_size = 12, c.dropout = 0.0f;
    return c;
}

static void make_model(struct rn_lm *m, struct rn_lm_config c, int B, int T, uint64_t seed)
{
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(m, &c, B, T, 0, &e), RN_OK);
    rn_rng_seed(&g, seed);
    rn_lm_init_weights(m, &g);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] *= 5.0f; /* 0.02 -> 0.1; norm weights 1 -> 5 */
    for (int i = 0; i < m->n_moe * c.n_experts; i++)
        m->expert_bias[i] = 0.01f * (float)(i % 5) - 0.02f;
}

static void fill_tokens(int32_t *tok, size_t n, int V, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    for (size_t i = 0; i < n; i++)
        tok[i] = (int32_t)rn_rng_below(&g, (uint64_t)V);
}

static float max_rel(const float *a, const float *b, size_t n)
{
    float w = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float r = fabsf(a[i] - b[i]) / (1.0f + fabsf(b[i]));
        if (!(r <= w))
            w = r;
    }
    return w;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* Prefill in chunks of `chunk` positions; every position's logits vs the
 * full recompute, with either attention path. */
static void check_positions_cfg(struct rn_lm_config c, int flags, int chunk)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    const int T = 40, V = c.vocab_size;
    int32_t tok[40];
    const float *full, *lg;
    make_model(&m, c, 1, T, 7);
    fill_tokens(tok, T, V, 3);
    assert_int_equal(rn_lm_logits(&m, tok, 1, T, &full, &e), RN_OK);
    float *ref = malloc(sizeof(float) * T * V);
    memcpy(ref, full, sizeof(float) * T * V);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 2, T, 16, 0, &e), RN_OK);
    int slot = 1;
    float worst = 0.0f;
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int n = t0 + chunk <= T ? chunk : T - t0;
        assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, tok + t0, n, NULL, flags, &lg, &e),
                         RN_OK);
        float w = max_rel(lg, ref + (size_t)t0 * V, (size_t)n * V);
        worst = w > worst ? w : worst;
        assert_true(w <= TOL);
    }
    assert_int_equal(d.len[1], T);
    assert_int_equal(d.len[0], 0);
    print_message("worst relative logit difference %g\n", (double)worst);
    free(ref);
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
}

static void check_positions(int flags, int chunk)
{
    check_positions_cfg(tiny(), flags, chunk);
}

static void test_positions_absorbed_steps(void **state) { check_positions(0, 1); }
static void test_positions_absorbed_chunks(void **state) { check_positions(0, 7); }
static void test_positions_plain(void **state) { check_positions(RN_DEC_PLAIN, 5); }

/* Latent and query ranks wider than the model, no biases, no shared
 * expert, top-1, one MTP head: the other shapes of the config. */
static void test_positions_wide_latent(void **state)
{
    struct rn_lm_config c = tiny();
    c.kv_lora_rank = 24, c.q_lora_rank = 20, c.rope_dim = 6, c.n_head = 4, c.bias = 0;
    c.use_shared_expert = 0, c.n_experts_per_token = 1, c.multi_token_predict = 1;
    check_positions_cfg(c, 0, 3);
    check_positions_cfg(c, RN_DEC_PLAIN, 4);
}

/* A batch of 3 prompts of different lengths prefilled separately, then
 * decoded together one token per step; each matches its own recompute. */
static void test_batch_lengths(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    const int V = c.vocab_size, steps = 12, lens[3] = {3, 9, 1}, maxT = 32;
    int32_t seq[3][32];
    const float *lg, *full;
    make_model(&m, c, 1, maxT, 11);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 4, maxT, 16, 0, &e), RN_OK);
    int slots[3] = {2, 0, 3};
    for (int i = 0; i < 3; i++) {
        fill_tokens(seq[i], (size_t)lens[i], V, 100 + (uint64_t)i);
        assert_int_equal(rn_lm_decode(&d, 0, &slots[i], 1, seq[i], lens[i], NULL, RN_DEC_LAST,
                                      &lg, &e),
                         RN_OK);
    }
    int cur[3] = {lens[0], lens[1], lens[2]};
    /* next token of each: argmax of its last logits; recheck in the batch */
    int32_t next[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rn_lm_logits(&m, seq[i], 1, cur[i], &full, &e), RN_OK);
        next[i] = argmax(full + (size_t)(cur[i] - 1) * V, V);
    }
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < 3; i++)
            seq[i][cur[i]++] = next[i];
        assert_int_equal(rn_lm_decode(&d, 0, slots, 3, next, 1, NULL, 0, &lg, &e), RN_OK);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(rn_lm_logits(&m, seq[i], 1, cur[i], &full, &e), RN_OK);
            float w = max_rel(lg + (size_t)i * V, full + (size_t)(cur[i] - 1) * V, (size_t)V);
            assert_true(w <= TOL);
            next[i] = argmax(lg + (size_t)i * V, V);
            assert_int_equal(next[i], argmax(full + (size_t)(cur[i] - 1) * V, V));
        }
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.len[slots[i]], cur[i]);
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
}

/* 500 greedy steps: the cached path's tokens equal the full recompute's
 * (which re-runs the whole prefix every step). */
static void test_greedy_500(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    const int V = c.vocab_size, P = 5, N = 500, maxT = P + N;
    int32_t *a = malloc(sizeof(int32_t) * maxT), *b = malloc(sizeof(int32_t) * maxT);
    const float *lg;
    make_model(&m, c, 1, maxT, 21);
    fill_tokens(a, P, V, 5);
    memcpy(b, a, sizeof(int32_t) * P);
    /* full recompute */
    for (int t = P; t < maxT; t++) {
        assert_int_equal(rn_lm_logits(&m, a, 1, t, &lg, &e), RN_OK);
        a[t] = argmax(lg + (size_t)(t - 1) * V, V);
    }
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, maxT, P, 0, &e), RN_OK);
    int slot = 0, distinct = 0;
    assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, b, P, NULL, RN_DEC_LAST, &lg, &e), RN_OK);
    for (int t = P; t < maxT; t++) {
        b[t] = argmax(lg, V);
        if (t + 1 < maxT)
            assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, &b[t], 1, NULL, RN_DEC_LAST, &lg, &e),
                             RN_OK);
    }
    for (int t = P; t < maxT; t++) {
        assert_int_equal(a[t], b[t]);
        distinct += a[t] != a[t - 1];
    }
    assert_true(distinct > 10); /* a real sequence, not one repeated token */
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
    free(a);
    free(b);
}

/* The MTP levels: level d's logits at row r predict token r+d+1; their
 * mean cross-entropy equals rn_lm_forward's mtp_loss[d-1]. */
static void test_mtp_levels(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    const int V = c.vocab_size, T = 20, D = c.multi_token_predict, C = c.n_embd;
    int32_t tok[21];
    const float *lg;
    make_model(&m, c, 1, T, 31);
    fill_tokens(tok, T + 1, V, 9);
    assert_int_equal(rn_lm_forward(&m, tok, 1, T, 0, 0, &e), RN_OK);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, T, T, D, &e), RN_OK);
    int slot = 0;
    float *h = malloc(sizeof(float) * T * C);
    assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, tok, T, NULL, 0, &lg, &e), RN_OK);
    double ce = 0.0;
    for (int t = 0; t < T; t++) {
        const float *l = lg + (size_t)t * V;
        float mx = l[argmax(l, V)];
        double z = 0.0;
        for (int v = 0; v < V; v++)
            z += exp((double)(l[v] - mx));
        ce += log(z) + mx - l[tok[t + 1]];
    }
    assert_true(fabs(ce / T - m.main_loss) <= 1e-4 * (1 + m.main_loss));
    memcpy(h, d.h, sizeof(float) * T * C);
    for (int lv = 1; lv <= D; lv++) {
        const int Td = T - lv;
        /* two calls (rows 0..5, then the rest) to exercise the level's cache */
        float *hn = malloc(sizeof(float) * Td * C);
        ce = 0.0;
        for (int r0 = 0; r0 < Td; r0 += 6) {
            int n = r0 + 6 <= Td ? 6 : Td - r0;
            assert_int_equal(rn_lm_decode(&d, lv, &slot, 1, tok + r0 + lv, n, h + (size_t)r0 * C,
                                          0, &lg, &e),
                             RN_OK);
            memcpy(hn + (size_t)r0 * C, d.h, sizeof(float) * n * C);
            for (int t = 0; t < n; t++) {
                const float *l = lg + (size_t)t * V;
                float mx = l[argmax(l, V)];
                double z = 0.0;
                for (int v = 0; v < V; v++)
                    z += exp((double)(l[v] - mx));
                ce += log(z) + mx - l[tok[r0 + t + lv + 1]];
            }
        }
        assert_true(fabs(ce / Td - m.mtp_loss[lv - 1]) <= 1e-4 * (1 + m.mtp_loss[lv - 1]));
        memcpy(h, hn, sizeof(float) * Td * C);
        free(hn);
    }
    free(h);
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
}

/* Truncate then re-append: the same logits as the first time. */
static void test_truncate(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    const int V = c.vocab_size;
    int32_t tok[12], other[4] = {1, 2, 3, 4};
    const float *lg;
    float first[37];
    make_model(&m, c, 1, 12, 41);
    fill_tokens(tok, 12, V, 2);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, 12, 12, 0, &e), RN_OK);
    int s = 0;
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok, 8, NULL, 0, &lg, &e), RN_OK);
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok + 8, 1, NULL, RN_DEC_LAST, &lg, &e), RN_OK);
    memcpy(first, lg, sizeof first);
    rn_lm_decoder_truncate(&d, 0, s, 6);
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, other, 2, NULL, 0, &lg, &e), RN_OK);
    rn_lm_decoder_truncate(&d, 0, s, 6);
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok + 6, 3, NULL, RN_DEC_LAST, &lg, &e), RN_OK);
    assert_true(max_rel(lg, first, (size_t)V) <= TOL);
    rn_lm_decoder_reset(&d, s);
    assert_int_equal(d.len[0], 0);
    rn_lm_decoder_free(&d);
    rn_lm_decoder_free(&d); /* no-op */
    rn_lm_free(&m);
}

static void test_bad_calls(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    int32_t tok[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const float *lg;
    make_model(&m, c, 1, 8, 1);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, c.block_size + 1, 4, 0, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 0, 8, 4, 0, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, 8, 4, 3, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 2, 8, 4, 1, &e), RN_OK);
    int s = 0, two[2] = {1, 1}, far = 2;
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok, 5, NULL, 0, &lg, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decode(&d, 0, two, 2, tok, 1, NULL, 0, &lg, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decode(&d, 0, &far, 1, tok, 1, NULL, 0, &lg, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decode(&d, 1, &s, 1, tok, 1, NULL, 0, &lg, &e), RN_EUSAGE);
    assert_int_equal(rn_lm_decode(&d, 2, &s, 1, tok, 1, NULL, 0, &lg, &e), RN_EUSAGE);
    tok[2] = c.vocab_size;
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok, 3, NULL, 0, &lg, &e), RN_EUSAGE);
    assert_string_equal(e.where, "tokens");
    assert_int_equal(d.len[0], 0); /* nothing appended */
    tok[2] = 2;
    for (int i = 0; i < 2; i++)
        assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok + 4 * i, 4, NULL, 0, &lg, &e), RN_OK);
    assert_int_equal(rn_lm_decode(&d, 0, &s, 1, tok, 1, NULL, 0, &lg, &e), RN_EUSAGE);
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
}

static void test_bytes_per_token(void **state)
{
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    /* 6 layers x (128 + 8*64) floats vs 6 x 8 x (2*32 + 64) floats */
    assert_int_equal(rn_lm_cache_bytes_per_token(&c), 6 * (128 + 512) * 4);
    assert_int_equal(rn_lm_kv_bytes_per_token(&c), 6 * 8 * 128 * 4);
}

/* A checkpoint as train writes it (identity, config JSON of the train
 * table, every parameter, the balancing biases, tokenizer metadata);
 * drop: a tensor name to leave out, or NULL; with_config 0: no config. */
static void write_ckpt(const char *path, const struct rn_lm *m, const char *drop,
                       int with_config)
{
    struct rn_ckpt_writer w;
    struct rn_train_config tc;
    struct rn_err e;
    struct rn_tensor tv;
    char *json = NULL, name[160];
    const struct rn_lm_config *c = &m->cfg;
    memset(&tc, 0, sizeof tc);
    assert_int_equal(rn_cfg_defaults(&rn_train_config_table, &tc, &e), RN_OK);
    tc.vocab_size = c->vocab_size, tc.n_layer = c->n_layer, tc.n_head = c->n_head;
    tc.n_embd = c->n_embd, tc.block_size = c->block_size, tc.dropout = c->dropout;
    tc.bias = c->bias, tc.kv_lora_rank = c->kv_lora_rank, tc.q_lora_rank = c->q_lora_rank;
    tc.rope_dim = c->rope_dim, tc.n_experts = c->n_experts;
    tc.n_experts_per_token = c->n_experts_per_token;
    tc.expert_intermediate_size = c->expert_intermediate_size;
    tc.shared_expert_intermediate_size = c->shared_expert_intermediate_size;
    tc.use_shared_expert = c->use_shared_expert, tc.multi_token_predict = c->multi_token_predict;
    tc.seq_len = 8;
    assert_int_equal(rn_cfg_format(&rn_train_config_table, &tc, RN_CFG_JSON, &json, &e), RN_OK);
    rn_ckpt_writer_init(&w);
    assert_int_equal(rn_ckpt_writer_set_identity(&w, "train", &e), RN_OK);
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *t = &m->tensors[i];
        if (drop && strcmp(drop, t->name) == 0)
            continue;
        assert_int_equal(rn_tensor_view(&tv, RN_DTYPE_F32, t->rank, t->shape,
                                        m->params + t->offset, &e),
                         RN_OK);
        assert_int_equal(rn_ckpt_writer_add(&w, t->name, &tv, &e), RN_OK);
    }
    int64_t E = c->n_experts;
    for (int l = 0; l < m->n_moe; l++) {
        if (l < c->n_layer)
            snprintf(name, sizeof name, "transformer.h.%d.mlp.expert_bias", l);
        else
            snprintf(name, sizeof name, "mtp_heads.%d.mlp.expert_bias", l - c->n_layer);
        assert_int_equal(rn_tensor_view(&tv, RN_DTYPE_F32, 1, &E, m->expert_bias + l * E, &e),
                         RN_OK);
        assert_int_equal(rn_ckpt_writer_add(&w, name, &tv, &e), RN_OK);
    }
    if (with_config)
        assert_int_equal(rn_ckpt_writer_set_meta(&w, RN_CKPT_META_CONFIG, json, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta(&w, RN_CKPT_META_TOKENIZER, "test 00ff", &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, 42, &e), RN_OK);
    assert_int_equal(rn_ckpt_writer_write(&w, path, &e), RN_OK);
    rn_ckpt_writer_free(&w);
    free(json);
    rn_cfg_free(&rn_train_config_table, &tc);
}

static void test_load(void **state)
{
    struct rn_lm m, l;
    struct rn_lm_ckpt_info info;
    struct rn_err e;
    struct rn_lm_config c = tiny();
    char path[] = "/tmp/test_lm_decode_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    make_model(&m, c, 1, 8, 13);
    write_ckpt(path, &m, NULL, 1);
    int rc = rn_lm_load(&l, path, 1, 8, &info, &e);
    if (rc) print_message("%s: %s\n", e.where, e.msg);
    assert_int_equal(rc, RN_OK);
    assert_int_equal(l.n_params, m.n_params);
    assert_memory_equal(l.params, m.params, sizeof(float) * m.n_params);
    assert_memory_equal(l.expert_bias, m.expert_bias, sizeof(float) * m.n_moe * c.n_experts);
    assert_string_equal(info.tokenizer, "test 00ff");
    assert_null(info.tokenizer_json);
    assert_int_equal(info.step, 42);
    assert_int_equal(l.cfg.multi_token_predict, c.multi_token_predict);
    rn_lm_ckpt_info_free(&info);
    rn_lm_free(&l);
    /* a missing tensor, named */
    write_ckpt(path, &m, "transformer.h.1.attn.kv_norm.weight", 1);
    assert_int_equal(rn_lm_load(&l, path, 1, 8, &info, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "transformer.h.1.attn.kv_norm.weight"));
    assert_null(l.params);
    assert_null(info.tokenizer);
    /* no config */
    write_ckpt(path, &m, NULL, 0);
    assert_int_equal(rn_lm_load(&l, path, 1, 8, NULL, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "config"));
    /* corrupt: a header of 2 bytes that is not a JSON object */
    FILE *f = fopen(path, "wb");
    fwrite("\x02\0\0\0\0\0\0\0[]", 1, 10, f);
    fclose(f);
    assert_int_equal(rn_lm_load(&l, path, 1, 8, NULL, &e), RN_EFORMAT);
    unlink(path);
    assert_int_equal(rn_lm_load(&l, path, 1, 8, NULL, &e), RN_EIO);
    rn_lm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_absorbed_steps),
        cmocka_unit_test(test_positions_absorbed_chunks),
        cmocka_unit_test(test_positions_plain),
        cmocka_unit_test(test_positions_wide_latent),
        cmocka_unit_test(test_batch_lengths),
        cmocka_unit_test(test_greedy_500),
        cmocka_unit_test(test_mtp_levels),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_bytes_per_token),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
