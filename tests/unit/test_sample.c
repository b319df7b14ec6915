/* Unit tests for libcore/sample: each transform on small distributions
 * with exact expectations, their order, drawing frequencies, seeding, and
 * parameter validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rng.h"
#include "sample.h"

#define EPS 1e-6

/* logits = log(p): softmax gives p back exactly (up to rounding). */
static void logs_of(float *l, const double *p, int n)
{
    for (int i = 0; i < n; i++)
        l[i] = p[i] > 0 ? (float)log(p[i]) : -INFINITY;
}

static void expect(const float *got, const double *want, int n)
{
    for (int i = 0; i < n; i++)
        assert_float_equal(got[i], want[i], EPS);
}

static const double P4[4] = {0.1, 0.2, 0.3, 0.4};

static void test_plain_softmax(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    float l[4];
    assert_int_equal(rn_sampler_init(&s, 4, &e), RN_OK);
    logs_of(l, P4, 4);
    expect(rn_sample_probs(&s, &p, l, NULL, 0), P4, 4);
    rn_sampler_free(&s);
}

static void test_temperature(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    float l[4];
    double want[4], z = 0;
    assert_int_equal(rn_sampler_init(&s, 4, &e), RN_OK);
    logs_of(l, P4, 4);
    /* T = 2: p^(1/2) renormalised */
    for (int i = 0; i < 4; i++)
        z += want[i] = sqrt(P4[i]);
    for (int i = 0; i < 4; i++)
        want[i] /= z;
    p.temperature = 2.0f;
    expect(rn_sample_probs(&s, &p, l, NULL, 0), want, 4);
    /* T = 0.5: p^2 renormalised (0.01, 0.04, 0.09, 0.16) / 0.3 */
    const double sq[4] = {0.01 / 0.3, 0.04 / 0.3, 0.09 / 0.3, 0.16 / 0.3};
    p.temperature = 0.5f;
    expect(rn_sample_probs(&s, &p, l, NULL, 0), sq, 4);
    rn_sampler_free(&s);
}

static void test_greedy(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_rng g, g0;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    const float l[5] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
    const double one[5] = {0, 1, 0, 0, 0};
    assert_int_equal(rn_sampler_init(&s, 5, &e), RN_OK);
    p.temperature = 0.0f;
    rn_rng_seed(&g, 4);
    g0 = g;
    /* ties: the first largest */
    expect(rn_sample_probs(&s, &p, l, NULL, 0), one, 5);
    assert_int_equal(rn_sample(&s, &p, l, NULL, 0, &g), 1);
    assert_memory_equal(&g, &g0, sizeof g); /* greedy draws nothing */
    rn_sampler_free(&s);
}

static void test_top_k(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    float l[4];
    assert_int_equal(rn_sampler_init(&s, 4, &e), RN_OK);
    logs_of(l, P4, 4);
    p.top_k = 2;
    const double k2[4] = {0, 0, 3.0 / 7, 4.0 / 7};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), k2, 4);
    p.top_k = 1;
    const double k1[4] = {0, 0, 0, 1};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), k1, 4);
    p.top_k = 9; /* more than V: off */
    expect(rn_sample_probs(&s, &p, l, NULL, 0), P4, 4);
    /* ties at the boundary: exactly k, the lower id kept */
    const float t[4] = {1.0f, 2.0f, 2.0f, 0.0f};
    p.top_k = 2;
    const double tk[4] = {0, 0.5, 0.5, 0};
    expect(rn_sample_probs(&s, &p, t, NULL, 0), tk, 4);
    p.top_k = 1;
    const double t1[4] = {0, 1, 0, 0};
    expect(rn_sample_probs(&s, &p, t, NULL, 0), t1, 4);
    rn_sampler_free(&s);
}

static void test_top_p(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    float l[4];
    assert_int_equal(rn_sampler_init(&s, 4, &e), RN_OK);
    logs_of(l, P4, 4);
    p.top_p = 0.5f; /* 0.4 < 0.5 <= 0.7: keep {3, 2} */
    const double a[4] = {0, 0, 3.0 / 7, 4.0 / 7};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), a, 4);
    p.top_p = 0.35f; /* 0.4 >= 0.35: only the top one */
    const double b[4] = {0, 0, 0, 1};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), b, 4);
    p.top_p = 0.95f; /* 0.9 < 0.95: all four */
    expect(rn_sample_probs(&s, &p, l, NULL, 0), P4, 4);
    p.top_p = 0.8f; /* 0.9 >= 0.8: {3, 2, 1} */
    const double c[4] = {0, 2.0 / 9, 3.0 / 9, 4.0 / 9};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), c, 4);
    /* after top-k: the nucleus is taken inside the k kept (renormalised
     * 3/7, 4/7: 4/7 >= 0.5 keeps one) */
    p.top_k = 2, p.top_p = 0.5f;
    expect(rn_sample_probs(&s, &p, l, NULL, 0), b, 4);
    rn_sampler_free(&s);
}

static void test_repetition_penalty(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_rng g;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    const float l[3] = {2.0f, -1.0f, 0.5f};
    const int32_t hist[5] = {0, 1, 0, 7, -3}; /* repeats and out-of-range ids */
    assert_int_equal(rn_sampler_init(&s, 3, &e), RN_OK);
    p.repetition_penalty = 2.0f;
    /* adjusted logits {1, -2, 0.5}, applied once per distinct id */
    double z = exp(1.0) + exp(-2.0) + exp(0.5);
    const double want[3] = {exp(1.0) / z, exp(-2.0) / z, exp(0.5) / z};
    expect(rn_sample_probs(&s, &p, l, hist, 5), want, 3);
    /* and the marks were cleared: without history, plain softmax */
    z = exp(2.0) + exp(-1.0) + exp(0.5);
    const double plain[3] = {exp(2.0) / z, exp(-1.0) / z, exp(0.5) / z};
    expect(rn_sample_probs(&s, &p, l, NULL, 0), plain, 3);
    /* greedy with the penalty: {2, 1.5, 0} -> {1, 1.5, 0} picks id 1 */
    const float m[3] = {2.0f, 1.5f, 0.0f};
    p.temperature = 0.0f;
    rn_rng_seed(&g, 1);
    assert_int_equal(rn_sample(&s, &p, m, hist, 1, &g), 1);
    assert_int_equal(rn_sample(&s, &p, m, NULL, 0, &g), 0);
    rn_sampler_free(&s);
}

/* Frequencies of 200000 draws within 5 standard errors of the target;
 * zero-probability ids never drawn; same seed, same tokens. */
static void test_draw(void **state)
{
    struct rn_sampler s;
    struct rn_err e;
    struct rn_rng g, h;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    float l[4];
    int count[4] = {0};
    const int n = 200000;
    assert_int_equal(rn_sampler_init(&s, 4, &e), RN_OK);
    logs_of(l, P4, 4);
    p.top_k = 3; /* {0, 2/9, 3/9, 4/9} */
    const double want[4] = {0, 2.0 / 9, 3.0 / 9, 4.0 / 9};
    rn_rng_seed(&g, 77);
    rn_rng_seed(&h, 77);
    for (int i = 0; i < n; i++) {
        int a = rn_sample(&s, &p, l, NULL, 0, &g);
        assert_int_equal(a, rn_sample(&s, &p, l, NULL, 0, &h));
        count[a]++;
    }
    assert_int_equal(count[0], 0);
    for (int i = 1; i < 4; i++) {
        double f = (double)count[i] / n, se = sqrt(want[i] * (1 - want[i]) / n);
        assert_true(fabs(f - want[i]) < 5 * se);
    }
    rn_sampler_free(&s);
}

static void test_validate(void **state)
{
    struct rn_err e;
    struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_OK);
    p.temperature = -1.0f;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    assert_string_equal(e.where, "temperature");
    p.temperature = NAN;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    p = RN_SAMPLE_DEFAULTS, p.top_k = -1;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    assert_string_equal(e.where, "top_k");
    p = RN_SAMPLE_DEFAULTS, p.top_p = 0.0f;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    assert_string_equal(e.where, "top_p");
    p.top_p = 1.5f;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    p = RN_SAMPLE_DEFAULTS, p.repetition_penalty = 0.0f;
    assert_int_equal(rn_sample_params_validate(&p, &e), RN_EUSAGE);
    assert_string_equal(e.where, "repetition_penalty");
    struct rn_sampler s;
    assert_int_equal(rn_sampler_init(&s, 0, &e), RN_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_softmax),  cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_greedy),         cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),          cmocka_unit_test(test_repetition_penalty),
        cmocka_unit_test(test_draw),           cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
