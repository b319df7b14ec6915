/* Unit tests for libcore/ops_moe: top-k routing against a sort, its
 * backward and the whole routed-experts chain (route, plan, gather, SwiGLU
 * experts, weighted combine, scatter, router backward) against finite
 * differences of a dense double-precision MoE written here, grouping, and
 * the balancing-bias rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ops_moe.h"
#include "rng.h"
#include "test_ops_util.h"

static void test_route_forward(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 81);
    enum { N = 37, E = 7, K = 3 };
    float logits[N * E], bias[E], w[N * K];
    int32_t idx[N * K];
    int usage[E] = {0};
    frand(logits, N * E, &g, 2.0f), frand(bias, E, &g, 1.0f);
    rn_moe_route_forward(idx, w, usage, logits, bias, N, E, K);
    int count[E] = {0};
    for (int n = 0; n < N; n++) {
        float z[E];
        for (int e = 0; e < E; e++)
            z[e] = logits[n * E + e] + bias[e];
        /* idx: strictly decreasing biased logits, and nothing left out is
         * larger than the last one taken */
        for (int k = 1; k < K; k++)
            assert_true(z[idx[n * K + k - 1]] > z[idx[n * K + k]]);
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int k = 0; k < K; k++)
                taken |= idx[n * K + k] == e;
            if (!taken)
                assert_true(z[e] < z[idx[n * K + K - 1]]);
            count[e] += taken;
        }
        double s = 0, m = z[idx[n * K]];
        for (int k = 0; k < K; k++)
            s += exp(z[idx[n * K + k]] - m);
        for (int k = 0; k < K; k++)
            assert_float_equal(w[n * K + k], exp(z[idx[n * K + k]] - m) / s, 1e-6);
    }
    assert_memory_equal(usage, count, sizeof usage);
    /* the bias steers selection: a huge bias on expert 5 puts it first */
    bias[5] = 100.0f;
    rn_moe_route_forward(idx, w, NULL, logits, bias, N, E, K);
    for (int n = 0; n < N; n++)
        assert_int_equal(idx[n * K], 5);
    /* ties go to the lower expert */
    float flat[4] = {1, 1, 1, 1}, w2[2];
    int32_t i2[2];
    rn_moe_route_forward(i2, w2, NULL, flat, NULL, 1, 4, 2);
    assert_int_equal(i2[0], 0);
    assert_int_equal(i2[1], 1);
    assert_float_equal(w2[0], 0.5f, 0.0f);
}

static void test_bias_update(void **state)
{
    (void)state;
    /* mean 2.5: above goes down, at or below goes up (the seed's else) */
    float b[4] = {0.0f, 0.5f, -0.25f, 1.0f};
    int usage[4] = {4, 2, 3, 1};
    rn_moe_bias_update(b, usage, 4, 0.001f);
    assert_true(b[0] == 0.0f - 0.001f);
    assert_true(b[1] == 0.5f + 0.001f);
    assert_true(b[2] == -0.25f - 0.001f);
    assert_true(b[3] == 1.0f + 0.001f);
    float c[2] = {0, 0};
    int even[2] = {3, 3};
    rn_moe_bias_update(c, even, 2, 0.001f);
    assert_true(c[0] == 0.001f && c[1] == 0.001f);
}

static void test_plan(void **state)
{
    (void)state;
    enum { N = 6, E = 4, K = 2 };
    const int32_t idx[N * K] = {2, 0, 1, 2, 2, 3, 0, 1, 3, 2, 1, 0};
    int off[E + 1];
    int32_t src[N * K];
    rn_moe_plan(off, src, idx, N, E, K);
    const int want_off[E + 1] = {0, 3, 6, 10, 12};
    assert_memory_equal(off, want_off, sizeof off);
    /* expert 0: decisions 1 (token 0), 6 (token 3), 11 (token 5), in order */
    const int32_t want_src[N * K] = {1, 6, 11, 2, 7, 10, 0, 3, 4, 9, 5, 8};
    assert_memory_equal(src, want_src, sizeof src);
}

/* ---- the routed experts chain, densely in double --------------------------- */

enum { MN = 9, MC = 6, ME = 4, MK = 2, MF = 5 };

struct moe_ctx {
    double *x, *wr, *br, *ex; /* ex: E experts' SwiGLU weights, packed */
    double *G;
    const float *bias; /* balancing bias, fixed */
    const int32_t *idx; /* the selection, fixed */
};

static size_t ffn_count(void)
{
    return 2 * (size_t)MF * MC + 2 * MF + (size_t)MC * MF + MC;
}

static double silu_d(double x)
{
    return x / (1 + exp(-x));
}

static void ffn_d(double *y, const double *x, const double *p)
{
    const double *wg = p, *bg = wg + MF * MC, *wu = bg + MF, *bu = wu + MF * MC,
                 *wd = bu + MF, *bd = wd + MC * MF;
    double h[MF];
    for (int f = 0; f < MF; f++) {
        double a = bg[f], b = bu[f];
        for (int c = 0; c < MC; c++)
            a += wg[f * MC + c] * x[c], b += wu[f * MC + c] * x[c];
        h[f] = silu_d(a) * b;
    }
    for (int c = 0; c < MC; c++) {
        double s = bd[c];
        for (int f = 0; f < MF; f++)
            s += wd[c * MF + f] * h[f];
        y[c] = s;
    }
}

static double moe_loss(void *p)
{
    struct moe_ctx *m = p;
    double L = 0;
    for (int n = 0; n < MN; n++) {
        const double *x = m->x + n * MC;
        double z[MK], mx = -INFINITY, s = 0;
        for (int k = 0; k < MK; k++) {
            int e = m->idx[n * MK + k];
            z[k] = m->br[e] + m->bias[e];
            for (int c = 0; c < MC; c++)
                z[k] += m->wr[e * MC + c] * x[c];
            mx = fmax(mx, z[k]);
        }
        for (int k = 0; k < MK; k++)
            s += exp(z[k] - mx);
        for (int k = 0; k < MK; k++) {
            double y[MC];
            ffn_d(y, x, m->ex + m->idx[n * MK + k] * ffn_count());
            for (int c = 0; c < MC; c++)
                L += m->G[n * MC + c] * exp(z[k] - mx) / s * y[c];
        }
    }
    return L;
}

static void bind_ffn(struct rn_swiglu_ffn *f, struct rn_swiglu_ffn_grad *g, float *p,
                     float *gp)
{
    f->w_gate = p, f->b_gate = p + MF * MC, f->w_up = p + MF * MC + MF;
    f->b_up = f->w_up + MF * MC, f->w_down = f->b_up + MF, f->b_down = f->w_down + MC * MF;
    g->w_gate = gp, g->b_gate = gp + MF * MC, g->w_up = gp + MF * MC + MF;
    g->b_up = g->w_up + MF * MC, g->w_down = g->b_up + MF, g->b_down = g->w_down + MC * MF;
}

static void test_routed_experts_chain(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 82);
    const size_t nf = ffn_count();
    float *x = fvec(MN * MC), *wr = fvec(ME * MC), *br = fvec(ME), *bias = fvec(ME),
          *ex = fvec(ME * nf), *dy = fvec(MN * MC);
    frand(x, MN * MC, &g, 1), frand(wr, ME * MC, &g, 1), frand(br, ME, &g, 0.5f);
    frand(bias, ME, &g, 0.2f), frand(ex, ME * nf, &g, 0.5f), frand(dy, MN * MC, &g, 1);

    /* forward: router (a linear with bias here, to cover it), route, plan,
     * then per expert gather -> FFN -> combine */
    float *logits = fvec(MN * ME), *w = fvec(MN * MK), *out = fvec(MN * MC);
    int32_t idx[MN * MK], src[MN * MK];
    int off[ME + 1];
    rn_linear_forward(logits, x, wr, br, MN, MC, ME);
    rn_moe_route_forward(idx, w, NULL, logits, bias, MN, ME, MK);
    rn_moe_plan(off, src, idx, MN, ME, MK);
    float *xe = fvec(MN * MC), *ye = fvec(MN * MK * MC);
    float *gs = fvec(3 * MN * MK * MF); /* saved g, u, h of all slots */
    struct rn_swiglu_ffn f[ME];
    struct rn_swiglu_ffn_grad fg[ME];
    float *gex = fvec(ME * nf);
    for (int e = 0; e < ME; e++) {
        bind_ffn(&f[e], &fg[e], ex + e * nf, gex + e * nf);
        int M = off[e + 1] - off[e];
        float *sv = gs + 3 * (size_t)off[e] * MF;
        rn_moe_gather(xe, x, src + off[e], M, MK, MC);
        rn_swiglu_ffn_forward(ye + (size_t)off[e] * MC, sv, sv + M * MF, sv + 2 * M * MF, xe,
                              &f[e], M, MC, MF);
        rn_moe_combine_forward(out, ye + (size_t)off[e] * MC, w, src + off[e], M, MK, MC);
    }
    struct moe_ctx m = {to_d(x, MN * MC), to_d(wr, ME * MC), to_d(br, ME), to_d(ex, ME * nf),
                        to_d(dy, MN * MC), bias, idx};
    /* forward equals the dense formula: <G, out> */
    double Lf = 0;
    for (int i = 0; i < MN * MC; i++)
        Lf += (double)dy[i] * out[i];
    CHECK_REL(fabs(Lf - moe_loss(&m)) / fabs(Lf), 1e-5, "routed experts forward");

    /* backward through every kernel */
    float *dx = fvec(MN * MC), *dwr = fvec(ME * MC), *dbr = fvec(ME), *dw = fvec(MN * MK),
          *dlog = fvec(MN * ME), *dye = fvec(MN * MC), *dxe = fvec(MN * MC),
          *scr = fvec(2 * MN * MF);
    for (int e = 0; e < ME; e++) {
        int M = off[e + 1] - off[e];
        float *sv = gs + 3 * (size_t)off[e] * MF;
        rn_moe_gather(xe, x, src + off[e], M, MK, MC);
        rn_moe_combine_backward(dye, dw, dy, ye + (size_t)off[e] * MC, w, src + off[e], M, MK,
                                MC);
        memset(dxe, 0, sizeof(float) * MN * MC);
        rn_swiglu_ffn_backward(dxe, &fg[e], scr, dye, xe, sv, sv + M * MF, sv + 2 * M * MF,
                               &f[e], M, MC, MF);
        rn_moe_scatter_add(dx, dxe, src + off[e], M, MK, MC);
    }
    rn_moe_route_backward(dlog, dw, w, idx, MN, ME, MK);
    rn_linear_backward(dx, dwr, dbr, dlog, x, wr, MN, MC, ME);

    double *fx = dvec(MN * MC), *fwr = dvec(ME * MC), *fbr = dvec(ME), *fex = dvec(ME * nf);
    fd_grad(fx, m.x, MN * MC, moe_loss, &m);
    fd_grad(fwr, m.wr, ME * MC, moe_loss, &m);
    fd_grad(fbr, m.br, ME, moe_loss, &m);
    fd_grad(fex, m.ex, ME * nf, moe_loss, &m);
    CHECK_REL(rel_fd(dx, fx, MN * MC), 1e-4, "moe dx vs fd");
    CHECK_REL(rel_fd(dwr, fwr, ME * MC), 1e-4, "moe router dW vs fd");
    CHECK_REL(rel_fd(dbr, fbr, ME), 1e-4, "moe router db vs fd");
    CHECK_REL(rel_fd(gex, fex, ME * nf), 1e-4, "moe expert weights vs fd");
    free(x), free(wr), free(br), free(bias), free(ex), free(dy), free(logits), free(w);
    free(out), free(xe), free(ye), free(gs), free(gex), free(dx), free(dwr), free(dbr);
    free(dw), free(dlog), free(dye), free(dxe), free(scr), free(fx), free(fwr), free(fbr);
    free(fex), free(m.x), free(m.wr), free(m.br), free(m.ex), free(m.G);
}

/* seed 3's complementary loss, in double */
struct aux_ctx {
    double *l;
    int B, T, E;
};

static double aux_loss(void *p)
{
    struct aux_ctx *c = p;
    double u[4][5] = {{0}};
    for (int b = 0; b < c->B; b++) {
        double z = 0;
        for (int t = 0; t < c->T; t++) {
            const double *l = c->l + (b * c->T + t) * c->E;
            double m = -INFINITY, s = 0;
            for (int e = 0; e < c->E; e++)
                m = fmax(m, l[e]);
            for (int e = 0; e < c->E; e++)
                s += exp(l[e] - m);
            for (int e = 0; e < c->E; e++)
                u[b][e] += exp(l[e] - m) / s;
        }
        for (int e = 0; e < c->E; e++)
            z += u[b][e];
        for (int e = 0; e < c->E; e++)
            u[b][e] /= z;
    }
    double L = 0;
    for (int i = 0; i < c->B; i++)
        for (int j = 0; j < c->B; j++) {
            double d = 0;
            for (int e = 0; e < c->E; e++)
                d += u[i][e] * u[j][e];
            L += d - (i == j);
        }
    return L / (c->B * c->B);
}

static void test_seq_aux_loss(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 83);
    enum { B = 4, T = 7, E = 5 };
    float logits[B * T * E], probs[B * T * E], seq[B * E], dl[B * T * E];
    frand(logits, B * T * E, &g, 2.0f);
    float loss = rn_moe_seq_aux_forward(probs, seq, logits, B, T, E);
    struct aux_ctx c = {to_d(logits, B * T * E), B, T, E};
    double want = aux_loss(&c);
    CHECK_REL(fabs(loss - want) / fabs(want), 1e-6, "seq aux loss");
    memset(dl, 0, sizeof dl);
    const float w = 0.01f; /* the loss weight scales the gradient */
    rn_moe_seq_aux_backward(dl, probs, seq, B, T, E, w);
    double fd[B * T * E];
    fd_grad(fd, c.l, B * T * E, aux_loss, &c);
    for (int i = 0; i < B * T * E; i++)
        fd[i] *= w;
    CHECK_REL(rel_fd(dl, fd, B * T * E), 1e-4, "seq aux dlogits vs fd");
    /* and it accumulates */
    float d1 = dl[7];
    rn_moe_seq_aux_backward(dl, probs, seq, B, T, E, w);
    assert_float_equal(dl[7], 2 * d1, 1e-6f * fabsf(d1));
    free(c.l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_forward),
        cmocka_unit_test(test_bias_update),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_routed_experts_chain),
        cmocka_unit_test(test_seq_aux_loss),
    };
    return cmocka_run_group_tests_name("ops_moe", tests, NULL, NULL);
}
