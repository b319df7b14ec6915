/* Unit tests for libcore/spec: speculative greedy decoding is token for
 * token plain greedy decoding (many prompts, lengths, up to the cache's
 * end), and speculative sampling emits tokens with the main model's own
 * distribution (the standard acceptance rule), checked against the exact
 * distribution from rn_lm_logits. The acceptance rate is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm.h"
#include "lm_decode.h"
#include "rng.h"
#include "sample.h"
#include "spec.h"

static struct rn_lm_config tiny(int V)
{
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    c.vocab_size = V, c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = 256;
    c.kv_lora_rank = 6, c.q_lora_rank = 5, c.rope_dim = 4, c.n_experts = 3;
    c.n_experts_per_token = 2, c.expert_intermediate_size = 10;
    c.shared_expert_intermediate_size = 12, c.dropout = 0.0f;
    return c;
}

/* weights N(0, 0.02 * scale) */
static void make_model(struct rn_lm *m, struct rn_lm_config c, int T, uint64_t seed, float scale)
{
    struct rn_err e;
    struct rn_rng g;
    assert_int_equal(rn_lm_init(m, &c, 1, T, 0, &e), RN_OK);
    rn_rng_seed(&g, seed);
    rn_lm_init_weights(m, &g);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] *= scale;
}

static int argmax_i(const int *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* 40 prompts of 1..12 tokens, 80 new tokens each (the last prompts run
 * into the cache's end, so drafts shrink to 0 there). */
static void test_greedy_identical(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder plain, sd;
    struct rn_spec sp;
    struct rn_err e;
    struct rn_rng g, pg;
    struct rn_lm_config c = tiny(29);
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    const int V = c.vocab_size, N = 80, maxT = 96;
    int32_t prompt[12], a[200], b[200], out[8];
    int got, r;
    const float *lg;
    p.temperature = 0.0f;
    make_model(&m, c, maxT, 5, 5.0f);
    assert_int_equal(rn_lm_decoder_init(&plain, &m, 1, maxT, 16, 0, &e), RN_OK);
    assert_int_equal(rn_lm_decoder_init(&sd, &m, 2, maxT, 16, 2, &e), RN_OK);
    assert_int_equal(rn_spec_init(&sp, &sd, 1, &e), RN_OK);
    rn_rng_seed(&pg, 99);
    for (int k = 0; k < 40; k++) {
        const int P = 1 + (int)rn_rng_below(&pg, 12);
        const int n_new = k >= 36 ? maxT - P : N; /* to the very end */
        for (int i = 0; i < P; i++)
            prompt[i] = (int32_t)rn_rng_below(&pg, (uint64_t)V);
        /* plain greedy with the cache */
        int s = 0;
        rn_lm_decoder_reset(&plain, 0);
        assert_int_equal(rn_lm_decode(&plain, 0, &s, 1, prompt, P, NULL, RN_DEC_LAST, &lg, &e),
                         RN_OK);
        for (int t = 0; t < n_new; t++) {
            a[t] = argmax(lg, V);
            if (t + 1 < n_new)
                assert_int_equal(
                    rn_lm_decode(&plain, 0, &s, 1, &a[t], 1, NULL, RN_DEC_LAST, &lg, &e), RN_OK);
        }
        /* speculative */
        int n = 0;
        assert_int_equal(rn_spec_start(&sp, prompt, P, &p, &g, &b[n++], &e), RN_OK);
        while (n < n_new) {
            assert_int_equal(rn_spec_step(&sp, &p, &g, out, &got, &e), RN_OK);
            assert_true(got >= 1 && got <= 3);
            for (int i = 0; i < got && n < n_new; i++)
                b[n++] = out[i];
        }
        assert_memory_equal(a, b, sizeof(int32_t) * (size_t)n_new);
    }
    /* the last prompt ran to the cache's end: rounds of one token until
     * the last position is used, then RN_ELIMIT */
    while ((r = rn_spec_step(&sp, &p, &g, out, &got, &e)) == RN_OK)
        assert_int_equal(got, 1);
    assert_int_equal(r, RN_ELIMIT);
    assert_int_equal(sp.len, maxT + 1);
    print_message("greedy: %ld rounds, %ld drafted, %ld accepted (%.1f%%), %.2f tokens/round\n",
                  sp.rounds, sp.drafted, sp.accepted,
                  100.0 * (double)sp.accepted / (double)sp.drafted,
                  (double)(sp.accepted + sp.rounds) / (double)sp.rounds);
    rn_spec_free(&sp);
    rn_lm_decoder_free(&sd);
    rn_lm_decoder_free(&plain);
    rn_lm_free(&m);
}

/* Speculative sampling: over many seeded runs of (prompt, first token from
 * the main model, one round), the round's first token, given the most
 * frequent first token, follows the main model's sampling distribution
 * exactly (checked per id within 5 standard errors, plus a chi-square
 * bound), for plain temperature sampling and with top-k + temperature. Both
 * branches of the rule (accept, reject-and-resample) must occur. */
static void check_sampled(struct rn_sample_params p)
{
    struct rn_lm m;
    struct rn_lm_decoder sd;
    struct rn_spec sp;
    struct rn_sampler smp;
    struct rn_err e;
    struct rn_rng g;
    struct rn_lm_config c = tiny(7);
    const int V = c.vocab_size, runs = 30000;
    const int32_t prompt[4] = {3, 1, 4, 1};
    int32_t first, out[8];
    int got, cnt[7][7] = {{0}}, firsts[7] = {0};
    const float *lg;
    make_model(&m, c, 16, 17, 5.0f);
    assert_int_equal(rn_lm_decoder_init(&sd, &m, 1, 16, 8, 2, &e), RN_OK);
    assert_int_equal(rn_spec_init(&sp, &sd, 0, &e), RN_OK);
    assert_int_equal(rn_sampler_init(&smp, V, &e), RN_OK);
    rn_rng_seed(&g, 2024);
    for (int i = 0; i < runs; i++) {
        assert_int_equal(rn_spec_start(&sp, prompt, 4, &p, &g, &first, &e), RN_OK);
        assert_int_equal(rn_spec_step(&sp, &p, &g, out, &got, &e), RN_OK);
        firsts[first]++;
        cnt[first][out[0]]++;
    }
    assert_true(sp.accepted > 0 && sp.accepted < sp.drafted);
    int f = argmax_i(firsts, V);
    /* exact target: rn_sample_probs on the full recompute's last row */
    int32_t seq[5] = {3, 1, 4, 1, f};
    assert_int_equal(rn_lm_logits(&m, seq, 1, 5, &lg, &e), RN_OK);
    const float *pt = rn_sample_probs(&smp, &p, lg + 4 * V, seq, 5);
    double chi = 0.0;
    int df = 0;
    for (int v = 0; v < V; v++) {
        double n = firsts[f], want = pt[v], fr = cnt[f][v] / n;
        if (want == 0.0) {
            assert_int_equal(cnt[f][v], 0);
            continue;
        }
        double se = sqrt(want * (1 - want) / n);
        assert_true(fabs(fr - want) <= 5 * se + 1e-12);
        chi += (cnt[f][v] - n * want) * (cnt[f][v] - n * want) / (n * want);
        df++;
    }
    /* chi-square with df-1 <= 6 degrees of freedom: 30 is beyond p = 1e-4 */
    assert_true(chi < 30.0);
    print_message("sampled (T %.2f, top-k %d): first token %d in %d runs, chi2 %.2f on %d "
                  "ids, acceptance %.1f%%\n",
                  (double)p.temperature, p.top_k, f, firsts[f], chi, df,
                  100.0 * (double)sp.accepted / (double)sp.drafted);
    rn_sampler_free(&smp);
    rn_spec_free(&sp);
    rn_lm_decoder_free(&sd);
    rn_lm_free(&m);
}

static void test_sampled_plain(void **state)
{
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    check_sampled(p);
}

static void test_sampled_top_k(void **state)
{
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    p.temperature = 0.7f, p.top_k = 4;
    check_sampled(p);
}

static void test_bad(void **state)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_spec sp;
    struct rn_err e;
    struct rn_rng g;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    int32_t t[4] = {1, 2, 3, 4}, first;
    make_model(&m, tiny(9), 4, 1, 1.0f);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, 4, 4, 1, &e), RN_OK);
    assert_int_equal(rn_spec_init(&sp, &d, 0, &e), RN_EUSAGE); /* 1 of 2 levels */
    rn_lm_decoder_free(&d);
    assert_int_equal(rn_lm_decoder_init(&d, &m, 1, 4, 4, 2, &e), RN_OK);
    assert_int_equal(rn_spec_init(&sp, &d, 1, &e), RN_EUSAGE);
    assert_int_equal(rn_spec_init(&sp, &d, 0, &e), RN_OK);
    rn_rng_seed(&g, 1);
    assert_int_equal(rn_spec_start(&sp, t, 0, &p, &g, &first, &e), RN_EUSAGE);
    assert_int_equal(rn_spec_start(&sp, t, 4, &p, &g, &first, &e), RN_EUSAGE);
    t[1] = 9;
    assert_int_equal(rn_spec_start(&sp, t, 3, &p, &g, &first, &e), RN_EUSAGE);
    rn_spec_free(&sp);
    rn_lm_decoder_free(&d);
    rn_lm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_identical),
        cmocka_unit_test(test_sampled_plain),
        cmocka_unit_test(test_sampled_top_k),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
