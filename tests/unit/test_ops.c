/* Unit tests for libcore/blas and libcore/ops (attention: test_ops_attn.c).
 *
 * Fast kernels are compared with their naive twins (*_ref) on odd sizes;
 * every backward is compared with central finite differences of a
 * double-precision forward written here from the formula (see
 * test_ops_util.h for the tolerances' reasoning).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ops.h"
#include "rng.h"
#include "test_ops_util.h"

/* ---- blas ---------------------------------------------------------------- */

static void test_blas_is_openmp_build(void **state)
{
    (void)state;
    /* The Makefile pins the OpenMP build by rpath; the pthread build would
     * fight runnel's OpenMP pool (DESIGN.md 5). */
    assert_string_equal(rn_blas_parallel(), "openmp");
    assert_non_null(rn_blas_config());
    assert_true(rn_blas_threads() >= 1);
}

static void sgemm_case(struct rn_rng *g, int ta, int tb, int M, int N, int K, float alpha,
                       float beta, int pad)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    size_t nc = (size_t)M * ldc;
    float *A = fvec(na), *Bm = fvec(nb), *C1 = fvec(nc), *C2 = fvec(nc);
    frand(A, na, g, 1.0f);
    frand(Bm, nb, g, 1.0f);
    frand(C1, nc, g, 1.0f);
    if (beta == 0.0f) /* BLAS: beta == 0 makes C write-only */
        for (size_t i = 0; i < nc; i++)
            C1[i] = NAN;
    memcpy(C2, C1, nc * sizeof(float));
    rn_sgemm(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C1, ldc);
    rn_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C2, ldc);
    /* compare only the M x N window; the padding must be untouched too */
    double md = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            float a = C1[(size_t)i * ldc + j], b = C2[(size_t)i * ldc + j];
            if (j >= N) {
                if (!(isnan(a) && isnan(b)) && a != b)
                    fail_msg("sgemm wrote outside C at (%d,%d)", i, j);
                continue;
            }
            double d = fabs((double)a - b);
            if (!(d <= md))
                md = d;
        }
    if (!(md <= 1e-5 * sqrt((double)K + 1)))
        fail_msg("sgemm ta=%d tb=%d %dx%dx%d: max diff %.3g", ta, tb, M, N, K, md);
    free(A), free(Bm), free(C1), free(C2);
}

static void test_sgemm_vs_ref(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            sgemm_case(&g, ta, tb, 37, 29, 53, 0.7f, 0.3f, 3);
            sgemm_case(&g, ta, tb, 37, 29, 53, 1.0f, 0.0f, 0);
            sgemm_case(&g, ta, tb, 131, 97, 75, -1.3f, 1.0f, 1);
            sgemm_case(&g, ta, tb, 1, 7, 1, 2.0f, 0.5f, 0);
        }
}

static void test_sgemm_empty_k(void **state)
{
    (void)state;
    /* K = 0: the product is empty, C = beta * C. */
    float A[1] = {0}, Bm[1] = {0}, C[6] = {1, 2, 3, 4, 5, 6};
    rn_sgemm(RN_NOTRANS, RN_NOTRANS, 2, 3, 0, 1.0f, A, 1, Bm, 3, 0.5f, C, 3);
    for (int i = 0; i < 6; i++)
        assert_float_equal(C[i], 0.5f * (float)(i + 1), 0.0f);
}

/* ---- linear ---------------------------------------------------------------- */

static void test_linear_vs_ref(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 2);
    const int N = 41, C = 37, OC = 23;
    float *x = fvec(N * C), *w = fvec(OC * C), *b = fvec(OC), *y1 = fvec(N * OC),
          *y2 = fvec(N * OC), *dy = fvec(N * OC);
    frand(x, N * C, &g, 1), frand(w, OC * C, &g, 0.5f), frand(b, OC, &g, 1);
    frand(dy, N * OC, &g, 1);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        rn_linear_forward(y1, x, w, with_bias ? b : NULL, N, C, OC);
        rn_linear_forward_ref(y2, x, w, with_bias ? b : NULL, N, C, OC);
        CHECK_REL(rel_ff(y1, y2, N * OC), 1e-6, "linear forward");
    }
    /* backward accumulates: start both from the same non-zero buffers */
    float *dx1 = fvec(N * C), *dx2 = fvec(N * C), *dw1 = fvec(OC * C), *dw2 = fvec(OC * C),
          *db1 = fvec(OC), *db2 = fvec(OC);
    frand(dx1, N * C, &g, 1), frand(dw1, OC * C, &g, 1), frand(db1, OC, &g, 1);
    memcpy(dx2, dx1, sizeof(float) * N * C);
    memcpy(dw2, dw1, sizeof(float) * OC * C);
    memcpy(db2, db1, sizeof(float) * OC);
    rn_linear_backward(dx1, dw1, db1, dy, x, w, N, C, OC);
    rn_linear_backward_ref(dx2, dw2, db2, dy, x, w, N, C, OC);
    CHECK_REL(rel_ff(dx1, dx2, N * C), 1e-6, "linear dinp");
    CHECK_REL(rel_ff(dw1, dw2, OC * C), 1e-6, "linear dw");
    CHECK_REL(rel_ff(db1, db2, OC), 1e-6, "linear db");
    /* NULL gradients are skipped */
    rn_linear_backward(NULL, NULL, db1, dy, x, w, N, C, OC);
    rn_linear_backward_ref(NULL, NULL, db2, dy, x, w, N, C, OC);
    CHECK_REL(rel_ff(db1, db2, OC), 1e-6, "linear db only");
    free(x), free(w), free(b), free(y1), free(y2), free(dy);
    free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

struct lin_ctx {
    double *x, *w, *b, *G;
    int N, C, OC;
};

static double lin_loss(void *p)
{
    struct lin_ctx *c = p;
    double L = 0;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OC; o++) {
            double s = c->b[o];
            for (int i = 0; i < c->C; i++)
                s += c->x[n * c->C + i] * c->w[o * c->C + i];
            L += c->G[n * c->OC + o] * s;
        }
    return L;
}

static void test_linear_backward_fd(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 3);
    const int N = 5, C = 7, OC = 3;
    float *x = fvec(N * C), *w = fvec(OC * C), *b = fvec(OC), *dy = fvec(N * OC);
    frand(x, N * C, &g, 1), frand(w, OC * C, &g, 1), frand(b, OC, &g, 1);
    frand(dy, N * OC, &g, 1);
    float *dx = fvec(N * C), *dw = fvec(OC * C), *db = fvec(OC);
    rn_linear_backward(dx, dw, db, dy, x, w, N, C, OC);
    struct lin_ctx c = {to_d(x, N * C), to_d(w, OC * C), to_d(b, OC), to_d(dy, N * OC), N, C,
                        OC};
    double *fx = dvec(N * C), *fw = dvec(OC * C), *fb = dvec(OC);
    fd_grad(fx, c.x, N * C, lin_loss, &c);
    fd_grad(fw, c.w, OC * C, lin_loss, &c);
    fd_grad(fb, c.b, OC, lin_loss, &c);
    CHECK_REL(rel_fd(dx, fx, N * C), 1e-4, "linear dinp vs fd");
    CHECK_REL(rel_fd(dw, fw, OC * C), 1e-4, "linear dw vs fd");
    CHECK_REL(rel_fd(db, fb, OC), 1e-4, "linear db vs fd");
    free(x), free(w), free(b), free(dy), free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.G), free(fx), free(fw), free(fb);
}

/* ---- RMSNorm ----------------------------------------------------------------- */

/* y = w x / (||x||/sqrt(C) + eps), straight from DESIGN.md 3. */
static void rmsnorm_d(double *y, const double *x, const double *w, int N, int C, double eps)
{
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++)
            ss += x[n * C + i] * x[n * C + i];
        double d = sqrt(ss) / sqrt((double)C) + eps;
        for (int i = 0; i < C; i++)
            y[n * C + i] = w[i] * x[n * C + i] / d;
    }
}

struct norm_ctx {
    double *x, *w, *G, *y;
    int N, C;
    double eps;
};

static double norm_loss(void *p)
{
    struct norm_ctx *c = p;
    rmsnorm_d(c->y, c->x, c->w, c->N, c->C, c->eps);
    return dot_gd(c->G, c->y, (size_t)c->N * c->C);
}

static void test_rmsnorm(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 4);
    const int N = 9, C = 19;
    const float eps = 1e-6f;
    float *x = fvec(N * C), *w = fvec(C), *y = fvec(N * C), *rms = fvec(N), *dy = fvec(N * C);
    frand(x, N * C, &g, 2), frand(w, C, &g, 1.5f), frand(dy, N * C, &g, 1);
    for (int i = 0; i < C; i++) /* a row at a small scale: eps weighs 0.2% there */
        x[3 * C + i] *= 1e-3f;
    rn_rmsnorm_forward(y, rms, x, w, N, C, eps);
    struct norm_ctx c = {to_d(x, N * C), to_d(w, C), to_d(dy, N * C), dvec(N * C), N, C, eps};
    rmsnorm_d(c.y, c.x, c.w, N, C, eps);
    CHECK_REL(rel_fd(y, c.y, N * C), 1e-6, "rmsnorm forward");
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++)
            ss += c.x[n * C + i] * c.x[n * C + i];
        assert_true(fabs(rms[n] - sqrt(ss / C)) <= 1e-6 * sqrt(ss / C));
    }
    float *dx = fvec(N * C), *dw = fvec(C);
    rn_rmsnorm_backward(dx, dw, dy, x, w, rms, N, C, eps);
    double *fx = dvec(N * C), *fw = dvec(C);
    fd_grad(fx, c.x, N * C, norm_loss, &c);
    fd_grad(fw, c.w, C, norm_loss, &c);
    CHECK_REL(rel_fd(dx, fx, N * C), 1e-4, "rmsnorm dinp vs fd");
    CHECK_REL(rel_fd(dw, fw, C), 1e-4, "rmsnorm dw vs fd");
    free(x), free(w), free(y), free(rms), free(dy), free(dx), free(dw), free(fx), free(fw);
    free(c.x), free(c.w), free(c.G), free(c.y);
}

static void test_rmsnorm_zero_row(void **state)
{
    (void)state;
    /* x = 0: y = 0 and, with the norm's subgradient 0 as PyTorch takes it,
     * dx = w * dy / eps (finite, no 0/0). */
    const int C = 4;
    const float eps = 1e-6f;
    float x[4] = {0}, w[4] = {1, 2, 3, 4}, y[4], rms[1], dy[4] = {1, -1, 0.5f, 2};
    float dx[4] = {0}, dw[4] = {0};
    rn_rmsnorm_forward(y, rms, x, w, 1, C, eps);
    rn_rmsnorm_backward(dx, dw, dy, x, w, rms, 1, C, eps);
    for (int i = 0; i < C; i++) {
        assert_float_equal(y[i], 0.0f, 0.0f);
        assert_true(isfinite(dx[i]));
        assert_float_equal(dx[i], w[i] * dy[i] / eps, 1e-6 * fabs(w[i] * dy[i] / eps));
        assert_float_equal(dw[i], 0.0f, 0.0f);
    }
}

/* ---- RoPE -------------------------------------------------------------------- */

static void test_rope_table(void **state)
{
    (void)state;
    const int T = 1024, D = 64;
    float *c = fvec((size_t)T * D / 2), *s = fvec((size_t)T * D / 2);
    rn_rope_table(c, s, T, D, 10000.0f);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D / 2; i++) {
            double ang = t * pow(10000.0, -2.0 * i / D);
            /* float32 angles, as the reference forms them: exact to float
             * rounding of t * f_i, i.e. ~ t * 2^-24 radians */
            double tol = 1e-6 + t * 1.2e-7;
            if (fabs(c[t * D / 2 + i] - cos(ang)) > tol || fabs(s[t * D / 2 + i] - sin(ang)) > tol)
                fail_msg("rope table t=%d i=%d: %g %g vs %g %g", t, i, c[t * D / 2 + i],
                         s[t * D / 2 + i], cos(ang), sin(ang));
        }
    /* inv_freq_i = 10000^(-2i/D): the angle of t=1, i=1 is 10000^(-1/32) */
    assert_true(fabs(acos(c[D / 2 + 1]) - pow(10000.0, -2.0 / D)) < 1e-6);
    free(c), free(s);
}

static void rope_d(double *y, const double *x, const float *ct, const float *st, int B, int T,
                   int H, int D, int pos0)
{
    int h2 = D / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                const double *xx = x + ((size_t)(b * T + t) * H + h) * D;
                double *yy = y + ((size_t)(b * T + t) * H + h) * D;
                for (int i = 0; i < h2; i++) {
                    double c = ct[(pos0 + t) * h2 + i], s = st[(pos0 + t) * h2 + i];
                    yy[i] = xx[i] * c - xx[i + h2] * s;
                    yy[i + h2] = xx[i] * s + xx[i + h2] * c;
                }
            }
}

struct rope_ctx {
    double *x, *G, *y;
    const float *c, *s;
    int B, T, H, D, pos0;
};

static double rope_loss(void *p)
{
    struct rope_ctx *k = p;
    rope_d(k->y, k->x, k->c, k->s, k->B, k->T, k->H, k->D, k->pos0);
    return dot_gd(k->G, k->y, (size_t)k->B * k->T * k->H * k->D);
}

static void test_rope(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 5);
    const int B = 2, T = 7, H = 3, D = 10, pos0 = 4;
    const size_t n = (size_t)B * T * H * D;
    float *ct = fvec((pos0 + T) * D / 2), *st = fvec((pos0 + T) * D / 2);
    rn_rope_table(ct, st, pos0 + T, D, 10000.0f);

    /* rotate-half pairing: e_1 at position t goes to cos in slot 1 and sin
     * in slot 1 + D/2 */
    float e[10] = {0}, r[10];
    e[1] = 1.0f;
    rn_rope_forward(r, e, ct, st, 1, 1, 1, D, 3);
    assert_float_equal(r[1], ct[3 * D / 2 + 1], 0.0f);
    assert_float_equal(r[1 + D / 2], st[3 * D / 2 + 1], 0.0f);
    for (int i = 0; i < D; i++)
        if (i != 1 && i != 1 + D / 2)
            assert_float_equal(r[i], 0.0f, 0.0f);

    float *x = fvec(n), *y = fvec(n), *dy = fvec(n), *dx = fvec(n);
    frand(x, n, &g, 1), frand(dy, n, &g, 1);
    rn_rope_forward(y, x, ct, st, B, T, H, D, pos0);
    struct rope_ctx k = {to_d(x, n), to_d(dy, n), dvec(n), ct, st, B, T, H, D, pos0};
    rope_d(k.y, k.x, ct, st, B, T, H, D, pos0);
    CHECK_REL(rel_fd(y, k.y, n), 1e-6, "rope forward");
    /* in place gives the same */
    float *z = fvec(n);
    memcpy(z, x, n * sizeof(float));
    rn_rope_forward(z, z, ct, st, B, T, H, D, pos0);
    CHECK_REL(rel_ff(z, y, n), 0.0, "rope in place");
    rn_rope_backward(dx, dy, ct, st, B, T, H, D, pos0);
    double *fx = dvec(n);
    fd_grad(fx, k.x, n, rope_loss, &k);
    CHECK_REL(rel_fd(dx, fx, n), 1e-4, "rope dinp vs fd");
    free(ct), free(st), free(x), free(y), free(dy), free(dx), free(z), free(fx);
    free(k.x), free(k.G), free(k.y);
}

/* ---- softmax ------------------------------------------------------------------- */

static void softmax_d(double *y, const double *x, int N, int C)
{
    for (int n = 0; n < N; n++) {
        double m = -INFINITY, s = 0;
        for (int i = 0; i < C; i++)
            m = fmax(m, x[n * C + i]);
        for (int i = 0; i < C; i++)
            s += exp(x[n * C + i] - m);
        for (int i = 0; i < C; i++)
            y[n * C + i] = exp(x[n * C + i] - m) / s;
    }
}

struct sm_ctx {
    double *x, *G, *y;
    int N, C;
};

static double sm_loss(void *p)
{
    struct sm_ctx *c = p;
    softmax_d(c->y, c->x, c->N, c->C);
    return dot_gd(c->G, c->y, (size_t)c->N * c->C);
}

static void test_softmax(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 6);
    const int N = 6, C = 13;
    float *x = fvec(N * C), *y = fvec(N * C), *dy = fvec(N * C), *dx = fvec(N * C);
    frand(x, N * C, &g, 3), frand(dy, N * C, &g, 1);
    for (int i = 0; i < C; i++) /* a row far from 0: the max shift must hold */
        x[2 * C + i] += 5000.0f;
    rn_softmax_forward(y, x, N, C);
    struct sm_ctx c = {to_d(x, N * C), to_d(dy, N * C), dvec(N * C), N, C};
    softmax_d(c.y, c.x, N, C);
    CHECK_REL(rel_fd(y, c.y, N * C), 1e-5, "softmax forward");
    rn_softmax_backward(dx, dy, y, N, C);
    double *fx = dvec(N * C);
    fd_grad(fx, c.x, N * C, sm_loss, &c);
    CHECK_REL(rel_fd(dx, fx, N * C), 1e-4, "softmax dinp vs fd");
    free(x), free(y), free(dy), free(dx), free(fx), free(c.x), free(c.G), free(c.y);
}

/* ---- SiLU, SwiGLU ---------------------------------------------------------------- */

static double silu_d(double x)
{
    return x / (1.0 + exp(-x));
}

struct act_ctx {
    double *g, *u, *G;
    size_t n;
    int swiglu;
};

static double act_loss(void *p)
{
    struct act_ctx *c = p;
    double L = 0;
    for (size_t i = 0; i < c->n; i++)
        L += c->G[i] * silu_d(c->g[i]) * (c->swiglu ? c->u[i] : 1.0);
    return L;
}

static void test_silu_swiglu(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 7);
    const size_t n = 301;
    float *x = fvec(n), *u = fvec(n), *y = fvec(n), *dy = fvec(n), *dx = fvec(n), *du = fvec(n);
    frand(x, n, &g, 8), frand(u, n, &g, 2), frand(dy, n, &g, 1);
    x[0] = -100.0f, x[1] = 100.0f; /* saturated ends stay finite */
    struct act_ctx c = {to_d(x, n), to_d(u, n), to_d(dy, n), n, 0};
    double *want = dvec(n), *fx = dvec(n), *fu = dvec(n);

    rn_silu_forward(y, x, n);
    for (size_t i = 0; i < n; i++)
        want[i] = silu_d(c.g[i]);
    CHECK_REL(rel_fd(y, want, n), 1e-6, "silu forward");
    rn_silu_backward(dx, dy, x, n);
    fd_grad(fx, c.g, n, act_loss, &c);
    CHECK_REL(rel_fd(dx, fx, n), 1e-4, "silu dinp vs fd");

    c.swiglu = 1;
    rn_swiglu_forward(y, x, u, n);
    for (size_t i = 0; i < n; i++)
        want[i] = silu_d(c.g[i]) * c.u[i];
    CHECK_REL(rel_fd(y, want, n), 1e-6, "swiglu forward");
    memset(dx, 0, n * sizeof(float));
    rn_swiglu_backward(dx, du, dy, x, u, n);
    fd_grad(fx, c.g, n, act_loss, &c);
    fd_grad(fu, c.u, n, act_loss, &c);
    CHECK_REL(rel_fd(dx, fx, n), 1e-4, "swiglu dgate vs fd");
    CHECK_REL(rel_fd(du, fu, n), 1e-4, "swiglu dup vs fd");
    free(x), free(u), free(y), free(dy), free(dx), free(du), free(want), free(fx), free(fu);
    free(c.g), free(c.u), free(c.G);
}

/* The full expert: down(silu(gate(x)) * up(x)). */
struct ffn_ctx {
    double *x, *wg, *bg, *wu, *bu, *wd, *bd, *G;
    int N, C, F;
};

static double ffn_loss(void *p)
{
    struct ffn_ctx *c = p;
    double L = 0;
    double *h = dvec(c->F);
    for (int n = 0; n < c->N; n++) {
        const double *x = c->x + n * c->C;
        for (int f = 0; f < c->F; f++) {
            double a = c->bg[f], b = c->bu[f];
            for (int i = 0; i < c->C; i++) {
                a += c->wg[f * c->C + i] * x[i];
                b += c->wu[f * c->C + i] * x[i];
            }
            h[f] = silu_d(a) * b;
        }
        for (int o = 0; o < c->C; o++) {
            double s = c->bd[o];
            for (int f = 0; f < c->F; f++)
                s += c->wd[o * c->F + f] * h[f];
            L += c->G[n * c->C + o] * s;
        }
    }
    free(h);
    return L;
}

static void test_swiglu_ffn(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 8);
    /* fast vs ref on odd sizes, then fd on small ones */
    for (int pass = 0; pass < 2; pass++) {
        const int N = pass ? 3 : 37, C = pass ? 5 : 29, F = pass ? 7 : 43;
        size_t nc = (size_t)N * C, nf = (size_t)N * F, wf = (size_t)F * C;
        float *x = fvec(nc), *wg = fvec(wf), *bg = fvec(F), *wu = fvec(wf), *bu = fvec(F),
              *wd = fvec(wf), *bd = fvec(C), *dy = fvec(nc);
        frand(x, nc, &g, 1), frand(wg, wf, &g, 0.5f), frand(bg, F, &g, 0.5f);
        frand(wu, wf, &g, 0.5f), frand(bu, F, &g, 0.5f), frand(wd, wf, &g, 0.5f);
        frand(bd, C, &g, 0.5f), frand(dy, nc, &g, 1);
        struct rn_swiglu_ffn p = {wg, bg, wu, bu, wd, bd};
        float *out1 = fvec(nc), *out2 = fvec(nc), *s1 = fvec(3 * nf), *s2 = fvec(3 * nf);
        float *sc = fvec(2 * nf);
        rn_swiglu_ffn_forward(out1, s1, s1 + nf, s1 + 2 * nf, x, &p, N, C, F);
        rn_swiglu_ffn_forward_ref(out2, s2, s2 + nf, s2 + 2 * nf, x, &p, N, C, F);
        CHECK_REL(rel_ff(out1, out2, nc), 1e-5, "ffn forward vs ref");
        float *gr1 = fvec(nc + 3 * wf + 2 * F + C), *gr2 = fvec(nc + 3 * wf + 2 * F + C);
        size_t ng = nc + 3 * wf + 2 * F + C;
        struct rn_swiglu_ffn_grad d1 = {gr1 + nc, gr1 + nc + wf, gr1 + nc + wf + F,
                                        gr1 + nc + 2 * wf + F, gr1 + nc + 2 * wf + 2 * F,
                                        gr1 + nc + 3 * wf + 2 * F};
        struct rn_swiglu_ffn_grad d2 = {gr2 + nc, gr2 + nc + wf, gr2 + nc + wf + F,
                                        gr2 + nc + 2 * wf + F, gr2 + nc + 2 * wf + 2 * F,
                                        gr2 + nc + 3 * wf + 2 * F};
        rn_swiglu_ffn_backward(gr1, &d1, sc, dy, x, s1, s1 + nf, s1 + 2 * nf, &p, N, C, F);
        rn_swiglu_ffn_backward_ref(gr2, &d2, sc, dy, x, s2, s2 + nf, s2 + 2 * nf, &p, N, C,
                                   F);
        CHECK_REL(rel_ff(gr1, gr2, ng), 1e-5, "ffn backward vs ref");
        if (pass) {
            struct ffn_ctx c = {to_d(x, nc), to_d(wg, wf), to_d(bg, F), to_d(wu, wf),
                                to_d(bu, F), to_d(wd, wf), to_d(bd, C), to_d(dy, nc),
                                N, C, F};
            double *fd = dvec(ng);
            fd_grad(fd, c.x, nc, ffn_loss, &c);
            fd_grad(fd + nc, c.wg, wf, ffn_loss, &c);
            fd_grad(fd + nc + wf, c.bg, F, ffn_loss, &c);
            fd_grad(fd + nc + wf + F, c.wu, wf, ffn_loss, &c);
            fd_grad(fd + nc + 2 * wf + F, c.bu, F, ffn_loss, &c);
            fd_grad(fd + nc + 2 * wf + 2 * F, c.wd, wf, ffn_loss, &c);
            fd_grad(fd + nc + 3 * wf + 2 * F, c.bd, C, ffn_loss, &c);
            CHECK_REL(rel_fd(gr1, fd, nc), 1e-4, "ffn dinp vs fd");
            CHECK_REL(rel_fd(gr1 + nc, fd + nc, ng - nc), 1e-4, "ffn dweights vs fd");
            free(fd), free(c.x), free(c.wg), free(c.bg), free(c.wu), free(c.bu), free(c.wd);
            free(c.bd), free(c.G);
        }
        free(x), free(wg), free(bg), free(wu), free(bu), free(wd), free(bd), free(dy);
        free(out1), free(out2), free(s1), free(s2), free(sc), free(gr1), free(gr2);
    }
}

/* ---- cross-entropy ------------------------------------------------------------- */

struct ce_ctx {
    double *x;
    const int32_t *tg;
    int N, V;
    int32_t ignore;
    double dloss;
};

static double ce_loss_d(void *p)
{
    struct ce_ctx *c = p;
    double L = 0;
    int cnt = 0;
    for (int n = 0; n < c->N; n++) {
        if (c->tg[n] == c->ignore)
            continue;
        const double *x = c->x + (size_t)n * c->V;
        double m = -INFINITY, s = 0;
        for (int i = 0; i < c->V; i++)
            m = fmax(m, x[i]);
        for (int i = 0; i < c->V; i++)
            s += exp(x[i] - m);
        L += m + log(s) - x[c->tg[n]];
        cnt++;
    }
    return cnt ? c->dloss * L / cnt : 0.0;
}

static void test_crossentropy(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 9);
    const int N = 11, V = 17;
    const int32_t ignore = -100;
    int32_t tg[11];
    for (int n = 0; n < N; n++)
        tg[n] = (int32_t)rn_rng_below(&g, V);
    tg[4] = ignore, tg[7] = ignore;
    float *x = fvec(N * V), *losses = fvec(N), *dx = fvec(N * V), *fz = fvec(N * V);
    frand(x, N * V, &g, 4);
    for (int i = 0; i < V; i++) /* a row of huge logits: logsumexp must shift */
        x[2 * V + i] += 1e4f;
    int nv = -1;
    float loss = rn_crossentropy_forward(losses, x, tg, N, V, ignore, &nv);
    assert_int_equal(nv, N - 2);
    struct ce_ctx c = {to_d(x, N * V), tg, N, V, ignore, 1.0};
    double want = ce_loss_d(&c);
    assert_true(isfinite(loss));
    CHECK_REL(fabs(loss - want) / fabs(want), 1e-6, "cross-entropy loss");
    double lsum = 0;
    for (int n = 0; n < N; n++)
        lsum += losses[n];
    assert_float_equal(losses[4], 0.0f, 0.0f);
    CHECK_REL(fabs(lsum / (N - 2) - want) / want, 1e-6, "per-row losses");

    const float dloss = 0.3f;
    c.dloss = dloss;
    rn_crossentropy_backward(dx, x, tg, N, V, ignore, dloss);
    double *fx = dvec(N * V);
    fd_grad(fx, c.x, N * V, ce_loss_d, &c);
    CHECK_REL(rel_fd(dx, fx, N * V), 1e-4, "cross-entropy dlogits vs fd");
    for (int i = 0; i < V; i++) /* ignored rows get exactly zero */
        assert_float_equal(dx[4 * V + i], 0.0f, 0.0f);

    /* fused = forward + backward, in place */
    memcpy(fz, x, sizeof(float) * N * V);
    int nv2 = -1;
    float loss2 = rn_crossentropy_fused(fz, tg, N, V, ignore, dloss, &nv2);
    assert_int_equal(nv2, N - 2);
    CHECK_REL(fabs(loss2 - loss) / fabs(loss), 1e-6, "fused loss");
    CHECK_REL(rel_ff(fz, dx, N * V), 1e-5, "fused dlogits");
    /* backward in place over the logits, too */
    memcpy(fz, x, sizeof(float) * N * V);
    rn_crossentropy_backward(fz, fz, tg, N, V, ignore, dloss);
    CHECK_REL(rel_ff(fz, dx, N * V), 0.0, "backward in place");

    /* every row ignored: loss 0, no NaN */
    int32_t all_ign[11];
    for (int n = 0; n < N; n++)
        all_ign[n] = ignore;
    memcpy(fz, x, sizeof(float) * N * V);
    assert_float_equal(rn_crossentropy_fused(fz, all_ign, N, V, ignore, 1.0f, &nv2), 0.0f, 0.0f);
    assert_int_equal(nv2, 0);
    for (int i = 0; i < N * V; i++)
        assert_float_equal(fz[i], 0.0f, 0.0f);
    free(x), free(losses), free(dx), free(fz), free(fx), free(c.x);
}

static void test_crossentropy_large_vocab(void **state)
{
    (void)state;
    /* the LM head's shape class: V ~ 5e4, sums over many small terms */
    struct rn_rng g;
    rn_rng_seed(&g, 10);
    const int N = 3, V = 50259;
    int32_t tg[3] = {0, 50258, 12345};
    float *x = fvec((size_t)N * V);
    frand(x, (size_t)N * V, &g, 6);
    struct ce_ctx c = {to_d(x, (size_t)N * V), tg, N, V, -1, 1.0};
    double want = ce_loss_d(&c);
    float loss = rn_crossentropy_fused(x, tg, N, V, -1, 1.0f, NULL);
    CHECK_REL(fabs(loss - want) / want, 1e-6, "cross-entropy loss, V=50259");
    /* each gradient row sums to 0 (softmax minus one-hot) */
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int i = 0; i < V; i++)
            s += x[(size_t)n * V + i];
        assert_true(fabs(s) < 1e-6);
    }
    free(x), free(c.x);
}

/* ---- dropout -------------------------------------------------------------------- */

static void test_dropout(void **state)
{
    (void)state;
    const size_t n = 100003;
    const float p = 0.25f;
    float *x = fvec(n), *y1 = fvec(n), *y2 = fvec(n), *dx = fvec(n), *ones = fvec(n);
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f + (float)(i % 7), ones[i] = 1.0f;
    rn_blas_set_threads(1);
    rn_dropout_forward(y1, x, n, p, 42);
    rn_blas_set_threads(2);
    rn_dropout_forward(y2, x, n, p, 42);
    /* the mask is a function of the seed, not of the thread count */
    assert_memory_equal(y1, y2, n * sizeof(float));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (y1[i] != 0.0f) {
            kept++;
            assert_float_equal(y1[i], x[i] / (1.0f - p), 1e-6f * y1[i]);
        }
    }
    /* 1 - p = 0.75, binomial sd ~ 0.0014: 5 sd */
    double frac = (double)kept / n;
    if (fabs(frac - 0.75) > 0.007)
        fail_msg("dropout kept %.4f, expected 0.75", frac);
    rn_dropout_forward(y2, x, n, p, 43);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += (y1[i] != 0.0f) == (y2[i] != 0.0f);
    assert_true(same < n * 0.7); /* independent masks agree ~62.5% */
    /* backward uses the forward's mask: d(sum y)/dx = y / x */
    rn_dropout_backward(dx, ones, n, p, 42);
    for (size_t i = 0; i < n; i++)
        assert_float_equal(dx[i], y1[i] / x[i], 1e-6f);
    /* p = 0 is the identity, in place too */
    memcpy(y2, x, n * sizeof(float));
    rn_dropout_forward(y2, y2, n, 0.0f, 42);
    assert_memory_equal(y2, x, n * sizeof(float));
    free(x), free(y1), free(y2), free(dx), free(ones);
}

/* ---- embedding ------------------------------------------------------------------- */

struct emb_ctx {
    double *wte, *G;
    const int32_t *ids;
    int N, C;
};

static double emb_loss(void *p)
{
    struct emb_ctx *c = p;
    double L = 0;
    for (int n = 0; n < c->N; n++)
        for (int i = 0; i < c->C; i++)
            L += c->G[n * c->C + i] * c->wte[c->ids[n] * c->C + i];
    return L;
}

static void test_embedding(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 11);
    const int V = 13, C = 71, N = 29;
    int32_t ids[29];
    for (int n = 0; n < N; n++)
        ids[n] = (int32_t)rn_rng_below(&g, 5); /* many repeats */
    ids[0] = V - 1;
    float *wte = fvec(V * C), *out = fvec(N * C), *dy = fvec(N * C), *d1 = fvec(V * C),
          *d2 = fvec(V * C);
    frand(wte, V * C, &g, 1), frand(dy, N * C, &g, 1);
    rn_embedding_forward(out, ids, wte, N, C);
    for (int n = 0; n < N; n++)
        assert_memory_equal(out + n * C, wte + ids[n] * C, C * sizeof(float));
    rn_embedding_backward(d1, dy, ids, N, C);
    rn_embedding_backward_ref(d2, dy, ids, N, C);
    CHECK_REL(rel_ff(d1, d2, V * C), 1e-6, "embedding backward vs ref");
    struct emb_ctx c = {to_d(wte, V * C), to_d(dy, N * C), ids, N, C};
    double *fd = dvec(V * C);
    fd_grad(fd, c.wte, V * C, emb_loss, &c);
    CHECK_REL(rel_fd(d1, fd, V * C), 1e-4, "embedding backward vs fd");
    free(wte), free(out), free(dy), free(d1), free(d2), free(c.wte), free(c.G), free(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_is_openmp_build),
        cmocka_unit_test(test_sgemm_vs_ref),
        cmocka_unit_test(test_sgemm_empty_k),
        cmocka_unit_test(test_linear_vs_ref),
        cmocka_unit_test(test_linear_backward_fd),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rmsnorm_zero_row),
        cmocka_unit_test(test_rope_table),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_silu_swiglu),
        cmocka_unit_test(test_swiglu_ffn),
        cmocka_unit_test(test_crossentropy),
        cmocka_unit_test(test_crossentropy_large_vocab),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_embedding),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
