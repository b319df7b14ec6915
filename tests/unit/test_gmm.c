/* Unit tests for libcore/gmm: fitting recovers known clusters, densities
 * match a direct double-precision evaluation, degenerate inputs stay
 * finite, and bad arguments are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gmm.h"
#include "rng.h"

/* Three well-separated anisotropic clusters in colour space. */
static const double TRUE_W[3] = {0.5, 0.3, 0.2};
static const double TRUE_MU[3][3] = {{40, 60, 200}, {200, 50, 40}, {120, 210, 90}};
static const double TRUE_SD[3][3] = {{6, 10, 4}, {12, 5, 5}, {4, 4, 9}};

static float *sample_clusters(int64_t n, uint64_t seed)
{
    struct rn_rng r;
    rn_rng_seed(&r, seed);
    float *x = malloc((size_t)n * 3 * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        double u = rn_rng_uniform(&r);
        int c = u < TRUE_W[0] ? 0 : u < TRUE_W[0] + TRUE_W[1] ? 1 : 2;
        for (int j = 0; j < 3; j++)
            x[3 * i + j] = (float)(TRUE_MU[c][j] + TRUE_SD[c][j] * rn_rng_normal(&r));
    }
    return x;
}

static void test_fit_recovers_clusters(void **state)
{
    (void)state;
    const int64_t n = 30000;
    float *x = sample_clusters(n, 11);
    struct rn_gmm g;
    struct rn_err e = {0};
    assert_int_equal(rn_gmm_fit(&g, x, n, 3, 5, 7, &e), RN_OK);
    for (int c = 0; c < 3; c++) {
        /* the fitted component nearest to true cluster c */
        int best = -1;
        double bd = 1e30;
        for (int k = 0; k < 3; k++) {
            double d = 0;
            for (int j = 0; j < 3; j++)
                d += (g.mean[k][j] - TRUE_MU[c][j]) * (g.mean[k][j] - TRUE_MU[c][j]);
            if (d < bd)
                bd = d, best = k;
        }
        print_message("cluster %d: mean error %.3f, weight %.3f (true %.2f)\n", c, sqrt(bd),
                      g.weight[best], TRUE_W[c]);
        assert_true(sqrt(bd) < 0.5);
        assert_true(fabs(g.weight[best] - TRUE_W[c]) < 0.01);
        for (int j = 0; j < 3; j++) {
            double var = TRUE_SD[c][j] * TRUE_SD[c][j] + RN_GMM_COV_REG;
            assert_true(fabs(g.cov[best][4 * j] - var) < 0.08 * var);
        }
        /* the clusters are axis-aligned: off-diagonal terms near 0 */
        assert_true(fabs(g.cov[best][1]) < 0.1 * TRUE_SD[c][0] * TRUE_SD[c][1]);
    }
    /* Samples are assigned to the component of their own cluster. */
    int wrong = 0;
    for (int c = 0; c < 3; c++) {
        float mu[3] = {(float)TRUE_MU[c][0], (float)TRUE_MU[c][1], (float)TRUE_MU[c][2]};
        int k = rn_gmm_component(&g, mu);
        for (int j = 0; j < 3; j++)
            wrong += fabs(g.mean[k][j] - TRUE_MU[c][j]) > 1;
    }
    assert_int_equal(wrong, 0);
    /* Same seed, same model; the fit is reproducible bit for bit. */
    struct rn_gmm g2;
    assert_int_equal(rn_gmm_fit(&g2, x, n, 3, 5, 7, &e), RN_OK);
    assert_memory_equal(g.mean, g2.mean, sizeof g.mean);
    free(x);
}

/* -log sum_k w_k N(x; mu_k, S_k), straight from the definition. */
static double neglog_direct(const double *w, const double (*mu)[3], const double (*cov)[9],
                            int k, const double *x)
{
    double p = 0;
    for (int c = 0; c < k; c++) {
        const double *m = cov[c];
        double a = m[0], b = m[1], d = m[2], e = m[4], f = m[5], i = m[8];
        double det = a * (e * i - f * f) - b * (b * i - f * d) + d * (b * f - e * d);
        double inv[9] = {e * i - f * f, d * f - b * i, b * f - d * e,
                         d * f - b * i, a * i - d * d, b * d - a * f,
                         b * f - d * e, b * d - a * f, a * e - b * b};
        double v[3] = {x[0] - mu[c][0], x[1] - mu[c][1], x[2] - mu[c][2]}, q = 0;
        for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++)
                q += v[r] * inv[3 * r + s] / det * v[s];
        p += w[c] * exp(-0.5 * q) / sqrt(pow(2 * M_PI, 3) * det);
    }
    return -log(p);
}

static void test_density_matches_definition(void **state)
{
    (void)state;
    const double w[2] = {0.7, 0.3};
    const double mu[2][3] = {{100, 100, 100}, {130, 90, 70}};
    const double cov[2][9] = {{100, 20, 10, 20, 80, -5, 10, -5, 60},
                              {30, 0, 0, 0, 40, 12, 0, 12, 50}};
    struct rn_gmm g;
    struct rn_err e = {0};
    assert_int_equal(rn_gmm_set(&g, 2, w, mu, cov, &e), RN_OK);
    struct rn_rng r;
    rn_rng_seed(&r, 2);
    double worst = 0;
    for (int t = 0; t < 1000; t++) {
        double x[3];
        float xf[3];
        for (int j = 0; j < 3; j++)
            xf[j] = (float)(x[j] = 60 + 100 * rn_rng_uniform(&r));
        double want = neglog_direct(w, mu, cov, 2, x);
        int comp;
        double got = rn_gmm_neglog(&g, xf, &comp);
        double d = fabs(got - want) / (1 + fabs(want));
        worst = d > worst ? d : worst;
        assert_int_equal(comp, rn_gmm_component(&g, xf));
    }
    print_message("largest relative difference of -log p: %.3g\n", worst);
    assert_true(worst < 1e-4);
    /* Far from every component the cost is large but finite. */
    float far[3] = {1e4f, -1e4f, 1e4f};
    assert_true(isfinite(rn_gmm_neglog(&g, far, NULL)) && rn_gmm_neglog(&g, far, NULL) > 1e3);
}

static void test_degenerate_and_errors(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_gmm g;
    /* One flat colour: the regulariser keeps it finite. */
    float flat[300];
    for (int i = 0; i < 300; i++)
        flat[i] = 77;
    assert_int_equal(rn_gmm_fit(&g, flat, 100, 5, 2, 1, &e), RN_OK);
    float x[3] = {77, 77, 77};
    assert_true(isfinite(rn_gmm_neglog(&g, x, NULL)));
    double wsum = 0;
    for (int c = 0; c < g.k; c++)
        wsum += g.weight[c];
    assert_true(fabs(wsum - 1) < 1e-9);
    /* Errors, not crashes. */
    assert_int_equal(rn_gmm_fit(&g, flat, 0, 5, 0, 1, &e), RN_EFORMAT);
    assert_int_equal(rn_gmm_fit(&g, flat, 10, 0, 0, 1, &e), RN_EUSAGE);
    assert_int_equal(rn_gmm_fit(&g, flat, 10, RN_GMM_MAX_K + 1, 0, 1, &e), RN_EUSAGE);
    struct rn_gmm_stats st;
    rn_gmm_stats_clear(&st, 3);
    assert_int_equal(rn_gmm_from_stats(&g, &st, &e), RN_EFORMAT);
    const double w[1] = {1}, mu[1][3] = {{0, 0, 0}};
    const double bad[1][9] = {{1, 2, 0, 2, 1, 0, 0, 0, 1}}; /* indefinite */
    assert_int_equal(rn_gmm_set(&g, 1, w, mu, bad, &e), RN_EFORMAT);
    /* Weighted statistics equal repeated samples. */
    struct rn_gmm_stats a, b;
    rn_gmm_stats_clear(&a, 1);
    rn_gmm_stats_clear(&b, 1);
    float p[3] = {1, 2, 3}, q[3] = {4, 0, 9};
    rn_gmm_stats_add_w(&a, 0, p, 3);
    rn_gmm_stats_add(&a, 0, q);
    for (int i = 0; i < 3; i++)
        rn_gmm_stats_add(&b, 0, p);
    rn_gmm_stats_add(&b, 0, q);
    assert_memory_equal(&a, &b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_recovers_clusters),
        cmocka_unit_test(test_density_matches_definition),
        cmocka_unit_test(test_degenerate_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
