/* Unit tests for libcore/optim: AdamW against PyTorch's update written out
 * in double here, hand-computed first steps, clipping semantics of
 * torch.nn.utils.clip_grad_norm_, and the nanoGPT learning-rate schedule
 * at its break points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "rng.h"

/* cmocka 1.1 compares floats only; these values need double. */
#define assert_near(a, b, tol)                                                        \
    do {                                                                              \
        double a_ = (a), b_ = (b);                                                    \
        if (!(fabs(a_ - b_) <= (tol)))                                                \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #a, a_, b_, (double)(tol)); \
    } while (0)

static void test_adamw_first_step(void **state)
{
    (void)state;
    /* step 1, m = v = 0: m = (1-b1) g, v = (1-b2) g^2, and the bias
     * corrections cancel them: p = p (1 - lr wd) - lr g / (|g| + eps). */
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, 1e-3f, 0.0f}, m[3] = {0}, v[3] = {0};
    const double lr = 0.1, wd = 0.1, eps = 1e-8;
    rn_adamw_step(p, g, m, v, 3, lr, 0.9, 0.95, eps, wd, 1);
    double want[3];
    const double p0[3] = {1.0, -2.0, 0.5}, g0[3] = {0.5, 1e-3, 0.0};
    for (int i = 0; i < 3; i++)
        want[i] = p0[i] * (1 - lr * wd) - lr * g0[i] / (fabs(g0[i]) + eps);
    for (int i = 0; i < 3; i++)
        assert_near(p[i], want[i], 1e-6);
    assert_near(m[0], 0.05f, 1e-8);
    assert_near(v[0], 0.05f * 0.25f, 1e-8);
    /* a zero gradient only decays */
    assert_near(p[2], 0.5f * 0.99f, 1e-7);
    /* wd = 0: no decay at all */
    float q[1] = {3.0f}, z[1] = {0.0f}, m1[1] = {0}, v1[1] = {0};
    rn_adamw_step(q, z, m1, v1, 1, 0.1, 0.9, 0.999, 1e-8, 0.0, 1);
    assert_near(q[0], 3.0f, 0.0f);
}

static void test_adamw_matches_torch_formula(void **state)
{
    (void)state;
    /* torch.optim.AdamW's single-tensor loop, in double, for 5 steps with
     * a changing lr, against the float kernel. */
    struct rn_rng r;
    rn_rng_seed(&r, 7);
    enum { N = 257 };
    float p[N], g[N], m[N] = {0}, v[N] = {0};
    double pd[N], md[N] = {0}, vd[N] = {0};
    for (int i = 0; i < N; i++)
        pd[i] = p[i] = (float)rn_rng_normal(&r) * 0.5f;
    const double b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int t = 1; t <= 5; t++) {
        double lr = 6e-4 * t / 5.0;
        for (int i = 0; i < N; i++)
            g[i] = (float)rn_rng_normal(&r) * (i % 3 ? 1e-2f : 1.0f);
        rn_adamw_step(p, g, m, v, N, lr, b1, b2, eps, wd, t);
        for (int i = 0; i < N; i++) {
            pd[i] *= 1 - lr * wd;
            md[i] = b1 * md[i] + (1 - b1) * g[i];
            vd[i] = b2 * vd[i] + (1 - b2) * (double)g[i] * g[i];
            double denom = sqrt(vd[i]) / sqrt(1 - pow(b2, t)) + eps;
            pd[i] -= lr / (1 - pow(b1, t)) * md[i] / denom;
        }
    }
    double md_err = 0, scale = 0;
    for (int i = 0; i < N; i++) {
        md_err = fmax(md_err, fabs(p[i] - pd[i]));
        scale = fmax(scale, fabs(pd[i]));
        /* float rounding of sums of terms up to |g| ~ 1 */
        assert_near(m[i], md[i], 1e-7 + 1e-6 * fabs(md[i]));
        assert_near(v[i], vd[i], 1e-7 + 1e-6 * fabs(vd[i]));
    }
    if (!(md_err <= 1e-6 * scale))
        fail_msg("adamw params differ from the double formula by %.3g", md_err);
}

static void test_grad_clip(void **state)
{
    (void)state;
    float a[3] = {3.0f, 0.0f, 0.0f}, b[2] = {0.0f, 4.0f};
    float *gs[2] = {a, b};
    size_t ns[2] = {3, 2};
    assert_near(rn_grad_norm(gs, ns, 2), 5.0, 1e-12);
    /* below the limit: untouched, bit for bit */
    assert_near(rn_grad_clip(gs, ns, 2, 10.0), 5.0, 1e-12);
    assert_near(a[0], 3.0f, 0.0f);
    assert_near(b[1], 4.0f, 0.0f);
    /* above: scaled by max_norm / (norm + 1e-6), and the old norm returned */
    assert_near(rn_grad_clip(gs, ns, 2, 1.0), 5.0, 1e-12);
    assert_near(a[0], 3.0f / (5.0f + 1e-6f), 1e-7);
    assert_near(b[1], 4.0f / (5.0f + 1e-6f), 1e-7);
    double after = rn_grad_norm(gs, ns, 2);
    assert_true(after < 1.0 && after > 1.0 - 1e-6);
    /* exactly at the limit: coef = 5 / (5 + 1e-6) < 1, so torch scales */
    float c[1] = {5.0f};
    float *gc[1] = {c};
    size_t nc[1] = {1};
    rn_grad_clip(gc, nc, 1, 5.0);
    assert_true(c[0] < 5.0f);
    /* a NaN gradient gives a NaN norm, reported to the caller */
    float d[2] = {1.0f, NAN};
    float *gd[1] = {d};
    size_t nd[1] = {2};
    assert_true(isnan(rn_grad_clip(gd, nd, 1, 1.0)));
    /* a long tensor: the sliced double sum is the plain double sum */
    enum { L = 100003 };
    float *e = malloc(L * sizeof(float));
    assert_non_null(e);
    double ss = 0;
    for (int i = 0; i < L; i++) {
        e[i] = (float)((i % 17) - 8) * 1e-3f;
        ss += (double)e[i] * e[i];
    }
    float *ge[1] = {e};
    size_t ne[1] = {L};
    assert_true(fabs(rn_grad_norm(ge, ne, 1) - sqrt(ss)) <= 1e-12 * sqrt(ss));
    free(e);
}

static void test_lr_schedule(void **state)
{
    (void)state;
    struct rn_lr_schedule s = {6e-4, 6e-5, 2000, 20000};
    /* warmup: lr (it+1)/(warmup+1) */
    assert_near(rn_lr_at(&s, 0), 6e-4 / 2001, 1e-15);
    assert_near(rn_lr_at(&s, 999), 6e-4 * 1000 / 2001, 1e-15);
    assert_near(rn_lr_at(&s, 1999), 6e-4 * 2000 / 2001, 1e-15);
    /* peak at the end of the warmup, half way at the middle of the cosine */
    assert_near(rn_lr_at(&s, 2000), 6e-4, 1e-15);
    assert_near(rn_lr_at(&s, 11000), (6e-4 + 6e-5) / 2, 1e-15);
    double r = 0.25;
    assert_near(rn_lr_at(&s, 6500), 6e-5 + 0.5 * (1 + cos(M_PI * r)) * 5.4e-4, 1e-15);
    /* min_lr at decay_end and forever after */
    assert_near(rn_lr_at(&s, 20000), 6e-5, 1e-15);
    assert_near(rn_lr_at(&s, 20001), 6e-5, 0.0);
    assert_near(rn_lr_at(&s, 1000000), 6e-5, 0.0);
    /* non-increasing after the warmup */
    for (int64_t it = 2000; it < 20100; it++)
        assert_true(rn_lr_at(&s, it + 1) <= rn_lr_at(&s, it));
    /* no warmup: the first step runs at the peak */
    struct rn_lr_schedule s0 = {1e-3, 1e-4, 0, 100};
    assert_near(rn_lr_at(&s0, 0), 1e-3, 1e-15);
    /* no cosine (decay_end <= warmup): min_lr right after the warmup */
    struct rn_lr_schedule s1 = {1e-3, 1e-4, 10, 10};
    assert_near(rn_lr_at(&s1, 9), 1e-3 * 10 / 11, 1e-15);
    assert_near(rn_lr_at(&s1, 10), 1e-4, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_first_step),
        cmocka_unit_test(test_adamw_matches_torch_formula),
        cmocka_unit_test(test_grad_clip),
        cmocka_unit_test(test_lr_schedule),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
