/* Unit tests for libcore/ops_vec: both paths (AVX-512 where the CPU has
 * it, and the scalar fallback) against double-precision libm, over the
 * whole float range of exp, with lengths that leave vector tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_vec.h"
#include "rng.h"
#include "test_ops_util.h"

static int levels[2], n_levels;

static int setup(void **state)
{
    (void)state;
    n_levels = 0;
    levels[n_levels++] = rn_vec_set_level(0);
    if (rn_vec_set_level(1) == 1)
        levels[n_levels++] = 1;
    rn_vec_set_level(-1);
    return 0;
}

static void test_exp_accuracy(void **state)
{
    (void)state;
    const size_t n = 20011; /* odd: a tail of 11 */
    float *x = fvec(n), *e = fvec(n);
    for (size_t i = 0; i < n; i++)
        x[i] = -110.0f + 220.0f * (float)i / (float)(n - 1);
    x[5] = 0.0f, x[6] = -0.0f, x[7] = 1e-30f, x[8] = -87.0f, x[9] = 88.7f;
    for (int l = 0; l < n_levels; l++) {
        rn_vec_set_level(levels[l]);
        double sum = rn_vec_expsum(e, x, n, 0.0f), want_sum = 0;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double want = exp((double)x[i]);
            want_sum += (float)want; /* what float exps can sum to */
            if (want > 3.4e38) {
                if (!isinf(e[i]))
                    fail_msg("level %d: exp(%g) = %g, expected inf", levels[l], x[i], e[i]);
            } else if (want < 1.2e-38) {
                /* denormal or zero results: absolute error below the
                 * smallest normal */
                if (!(fabs(e[i] - want) < 1.2e-38))
                    fail_msg("level %d: exp(%g) = %g, expected %g", levels[l], x[i], e[i], want);
            } else {
                double r = fabs(e[i] - want) / want;
                worst = r > worst ? r : worst;
            }
        }
        if (!(worst < 3e-7))
            fail_msg("level %d: exp max relative error %.3g", levels[l], worst);
        assert_true(isinf(sum) && isinf(want_sum));
        /* a finite row: the sum in double blocks */
        double s2 = rn_vec_expsum(NULL, x, n / 2, 0.0f), w2 = 0;
        for (size_t i = 0; i < n / 2; i++)
            w2 += exp((double)x[i]);
        CHECK_REL(fabs(s2 - w2) / w2, 3e-7, "expsum");
        /* shift subtracts first */
        float one = 3.0f, out;
        assert_true(fabs(rn_vec_expsum(&out, &one, 1, 3.0f) - 1.0) < 1e-7);
    }
    rn_vec_set_level(-1);
    free(x), free(e);
}

static void test_max_scale(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 71);
    for (int l = 0; l < n_levels; l++) {
        rn_vec_set_level(levels[l]);
        for (size_t n = 1; n < 70; n += 3) {
            float x[70], y[70];
            frand(x, n, &g, 100.0f);
            x[(n * 7) % n] = 150.0f + (float)n; /* the max somewhere, tail included */
            float m = -INFINITY;
            for (size_t i = 0; i < n; i++)
                m = x[i] > m ? x[i] : m;
            assert_float_equal(rn_vec_max(x, n), m, 0.0f);
            memcpy(y, x, sizeof(float) * n);
            rn_vec_scale(y, n, -0.5f);
            for (size_t i = 0; i < n; i++)
                assert_float_equal(y[i], -0.5f * x[i], 0.0f);
        }
        /* a NaN logit makes the row's exp-sum NaN on either path */
        float z[33] = {0};
        z[31] = NAN;
        float m = rn_vec_max(z, 33);
        assert_true(isnan(rn_vec_expsum(NULL, z, 33, m)));
    }
    rn_vec_set_level(-1);
}

static double sig_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static void test_silu_swiglu_paths(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 72);
    const size_t n = 1037;
    float *x = fvec(n), *u = fvec(n), *dy = fvec(n), *y = fvec(n), *dx = fvec(n),
          *du = fvec(n);
    double *w = dvec(n), *wd = dvec(n), *wu = dvec(n);
    frand(x, n, &g, 30.0f), frand(u, n, &g, 2.0f), frand(dy, n, &g, 1.0f);
    x[0] = -120.0f, x[1] = 120.0f, x[2] = 0.0f;
    for (int l = 0; l < n_levels; l++) {
        rn_vec_set_level(levels[l]);
        rn_vec_silu(y, x, n);
        for (size_t i = 0; i < n; i++)
            w[i] = x[i] * sig_d(x[i]);
        CHECK_REL(rel_fd(y, w, n), 1e-6, "silu");
        for (size_t i = 0; i < n; i++) {
            double s = sig_d(x[i]);
            dx[i] = 1.0f;
            wd[i] = 1.0 + dy[i] * s * (1 + x[i] * (1 - s));
        }
        rn_vec_silu_backward(dx, dy, x, n);
        CHECK_REL(rel_fd(dx, wd, n), 1e-6, "silu backward (accumulating)");
        rn_vec_swiglu(y, x, u, n);
        for (size_t i = 0; i < n; i++)
            w[i] = x[i] * sig_d(x[i]) * u[i];
        CHECK_REL(rel_fd(y, w, n), 1e-6, "swiglu");
        for (size_t i = 0; i < n; i++) {
            double s = sig_d(x[i]);
            wd[i] = dy[i] * u[i] * s * (1 + x[i] * (1 - s));
            wu[i] = dy[i] * x[i] * s;
        }
        /* written, with du over dh in place, as the FFN backward does */
        memcpy(du, dy, sizeof(float) * n);
        rn_vec_swiglu_backward(dx, du, du, x, u, n, 0);
        CHECK_REL(rel_fd(dx, wd, n), 1e-6, "swiglu dgate");
        CHECK_REL(rel_fd(du, wu, n), 1e-6, "swiglu dup");
        for (size_t i = 0; i < n; i++)
            assert_true(isfinite(y[i]) && isfinite(dx[i]) && isfinite(du[i]));
    }
    rn_vec_set_level(-1);
    free(x), free(u), free(dy), free(y), free(dx), free(du), free(w), free(wd), free(wu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_accuracy),
        cmocka_unit_test(test_max_scale),
        cmocka_unit_test(test_silu_swiglu_paths),
    };
    return cmocka_run_group_tests_name("ops_vec", tests, setup, NULL);
}
