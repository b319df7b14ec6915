/* Shared helpers of test_ops*.c: random fills, comparisons, and central
 * finite differences in double precision.
 *
 * A kernel's backward is checked against the finite differences of a
 * double-precision re-implementation of its forward written here, in the
 * tests, from the formula (not from ops.c): L = sum(G * forward(x)) for a
 * fixed random G, dL/dx by (L(x+h) - L(x-h)) / 2h with h ~ 1e-5. The
 * truncation error is ~h^2 and the rounding error ~1e-16/h, both far below
 * the float kernels' own ~1e-6, so a tolerance of 1e-4 relative (max
 * abs difference over max abs value) separates right from wrong.
 */
#ifndef TEST_OPS_UTIL_H
#define TEST_OPS_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* A failed comparison reports which and by how much; cmocka's fail_msg
 * marks the test failed and returns from it. */
#define CHECK_REL(err, tol, what)                                                       \
    do {                                                                                \
        double e_ = (err);                                                              \
        if (!(e_ <= (tol)))                                                             \
            fail_msg("%s: relative error %.3g exceeds %.3g", (what), e_, (double)(tol)); \
    } while (0)

static inline float *fvec(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        abort();
    return p;
}

static inline double *dvec(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p)
        abort();
    return p;
}

/* Uniform in [-a, a). */
static inline void frand(float *x, size_t n, struct rn_rng *g, float a)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2.0f * rn_rng_uniformf(g) - 1.0f) * a;
}

static inline double *to_d(const float *x, size_t n)
{
    double *d = dvec(n);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* max|got - want| / max|want| (or the absolute difference when want == 0). */
static inline double rel_fd(const float *got, const double *want, size_t n)
{
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= md))
            md = d; /* NaN sticks */
        if (fabs(want[i]) > mw)
            mw = fabs(want[i]);
    }
    return mw > 0 ? md / mw : md;
}

static inline double rel_ff(const float *got, const float *want, size_t n)
{
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= md))
            md = d;
        if (fabs(want[i]) > mw)
            mw = fabs(want[i]);
    }
    return mw > 0 ? md / mw : md;
}

typedef double (*loss_fn)(void *ctx);

/* grad[i] = dL/dparam[i] by central differences; param is perturbed in place
 * and restored. */
static inline void fd_grad(double *grad, double *param, size_t n, loss_fn f, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        double save = param[i];
        const double h = 1e-6;
        param[i] = save + h;
        double lp = f(ctx);
        param[i] = save - h;
        double lm = f(ctx);
        param[i] = save;
        grad[i] = (lp - lm) / (2.0 * h);
    }
}

static inline double dot_gd(const double *g, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += g[i] * y[i];
    return s;
}

#endif
