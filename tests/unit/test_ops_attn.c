/* Unit tests for the causal attention kernels of libcore/ops_attn.c: the
 * blocked sgemm version against the naive one (several row blocks, MLA's
 * 96/32 head dims, dropout on and off), both backwards against finite
 * differences of a double-precision attention written here, causality,
 * and independence from the thread count. */
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

struct dims {
    int B, T, H, Dk, Dv;
};

static size_t nq(struct dims d)
{
    return (size_t)d.B * d.T * d.H * d.Dk;
}
static size_t nv(struct dims d)
{
    return (size_t)d.B * d.T * d.H * d.Dv;
}
static size_t na(struct dims d)
{
    return (size_t)d.B * d.H * d.T * d.T;
}

static void compare_with_ref(struct dims d, float dropout, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    float scale = 1.0f / sqrtf((float)d.Dk);
    float *q = fvec(nq(d)), *k = fvec(nq(d)), *v = fvec(nv(d)), *dout = fvec(nv(d));
    frand(q, nq(d), &g, 1.5f), frand(k, nq(d), &g, 1.5f), frand(v, nv(d), &g, 1);
    frand(dout, nv(d), &g, 1);
    float *o1 = fvec(nv(d)), *o2 = fvec(nv(d)), *a1 = fvec(na(d)), *a2 = fvec(na(d));
    float *scr = fvec(na(d));
    rn_attention_forward(o1, a1, scr, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, scale, dropout,
                         seed);
    rn_attention_forward_ref(o2, a2, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, scale, dropout,
                             seed);
    CHECK_REL(rel_ff(a1, a2, na(d)), 1e-5, "attention probabilities vs ref");
    CHECK_REL(rel_ff(o1, o2, nv(d)), 1e-5, "attention output vs ref");
    /* backward accumulates: start from the same non-zero buffers */
    float *dq1 = fvec(nq(d)), *dk1 = fvec(nq(d)), *dv1 = fvec(nv(d));
    float *dq2 = fvec(nq(d)), *dk2 = fvec(nq(d)), *dv2 = fvec(nv(d));
    frand(dq1, nq(d), &g, 1), frand(dk1, nq(d), &g, 1), frand(dv1, nv(d), &g, 1);
    memcpy(dq2, dq1, nq(d) * 4), memcpy(dk2, dk1, nq(d) * 4), memcpy(dv2, dv1, nv(d) * 4);
    rn_attention_backward(dq1, dk1, dv1, scr, dout, q, k, v, a1, d.B, d.T, d.H, d.Dk, d.Dv,
                          scale, dropout, seed);
    rn_attention_backward_ref(dq2, dk2, dv2, dout, q, k, v, a2, d.B, d.T, d.H, d.Dk, d.Dv,
                              scale, dropout, seed);
    CHECK_REL(rel_ff(dq1, dq2, nq(d)), 1e-5, "attention dq vs ref");
    CHECK_REL(rel_ff(dk1, dk2, nq(d)), 1e-5, "attention dk vs ref");
    CHECK_REL(rel_ff(dv1, dv2, nv(d)), 1e-5, "attention dv vs ref");
    free(q), free(k), free(v), free(dout), free(o1), free(o2), free(a1), free(a2), free(scr);
    free(dq1), free(dk1), free(dv1), free(dq2), free(dk2), free(dv2);
}

static void test_attention_vs_ref(void **state)
{
    (void)state;
    /* T = 70 and 130 cross the 64-row blocks; 96/32 are MLA's head dims */
    compare_with_ref((struct dims){2, 70, 3, 13, 7}, 0.0f, 21);
    compare_with_ref((struct dims){2, 70, 3, 13, 7}, 0.3f, 22);
    compare_with_ref((struct dims){1, 130, 2, 96, 32}, 0.0f, 23);
    compare_with_ref((struct dims){1, 130, 2, 96, 32}, 0.1f, 24);
    compare_with_ref((struct dims){3, 1, 2, 4, 5}, 0.0f, 25);
}

/* Attention in double from the formula; mul (B,H,T,T) holds the dropout
 * multipliers (0 or 1/(1-p)) or is NULL. */
struct attn_ctx {
    struct dims d;
    double *q, *k, *v, *G, *out;
    const float *mul;
    double scale;
};

static double attn_loss(void *p)
{
    struct attn_ctx *c = p;
    struct dims d = c->d;
    double *s = dvec(d.T);
    for (int b = 0; b < d.B; b++)
        for (int h = 0; h < d.H; h++)
            for (int t = 0; t < d.T; t++) {
                const double *qt = c->q + (((size_t)b * d.T + t) * d.H + h) * d.Dk;
                double m = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const double *kj = c->k + (((size_t)b * d.T + j) * d.H + h) * d.Dk;
                    double x = 0;
                    for (int e = 0; e < d.Dk; e++)
                        x += qt[e] * kj[e];
                    s[j] = x * c->scale;
                    m = fmax(m, s[j]);
                }
                for (int j = 0; j <= t; j++)
                    sum += exp(s[j] - m);
                double *o = c->out + (((size_t)b * d.T + t) * d.H + h) * d.Dv;
                for (int e = 0; e < d.Dv; e++)
                    o[e] = 0;
                for (int j = 0; j <= t; j++) {
                    double a = exp(s[j] - m) / sum;
                    if (c->mul)
                        a *= c->mul[(((size_t)b * d.H + h) * d.T + t) * d.T + j];
                    for (int e = 0; e < d.Dv; e++)
                        o[e] += a * c->v[(((size_t)b * d.T + j) * d.H + h) * d.Dv + e];
                }
            }
    free(s);
    return dot_gd(c->G, c->out, nv(d));
}

static void fd_case(float dropout, uint64_t seed)
{
    struct dims d = {2, 9, 2, 5, 3};
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    float scale = 0.45f;
    float *q = fvec(nq(d)), *k = fvec(nq(d)), *v = fvec(nv(d)), *dout = fvec(nv(d));
    frand(q, nq(d), &g, 1.5f), frand(k, nq(d), &g, 1.5f), frand(v, nv(d), &g, 1);
    frand(dout, nv(d), &g, 1);
    float *o = fvec(nv(d)), *att = fvec(na(d)), *scr = fvec(na(d)), *mul = NULL;
    rn_attention_forward(o, att, scr, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, scale, dropout,
                         seed);
    if (dropout > 0) {
        /* The forward leaves A = P * mul in scratch; P > 0 on and below the
         * diagonal, so the multipliers are A / P. Some must be dropped. */
        mul = fvec(na(d));
        int dropped = 0;
        for (size_t i = 0; i < na(d); i++) {
            mul[i] = att[i] > 0 ? (scr[i] != 0 ? 1.0f / (1.0f - dropout) : 0.0f) : 0.0f;
            dropped += att[i] > 0 && scr[i] == 0;
        }
        assert_true(dropped > 0);
    }
    struct attn_ctx c = {d, to_d(q, nq(d)), to_d(k, nq(d)), to_d(v, nv(d)),
                         to_d(dout, nv(d)), dvec(nv(d)), mul, scale};
    attn_loss(&c);
    CHECK_REL(rel_fd(o, c.out, nv(d)), 1e-5, "attention forward vs double");
    double *fq = dvec(nq(d)), *fk = dvec(nq(d)), *fv = dvec(nv(d));
    fd_grad(fq, c.q, nq(d), attn_loss, &c);
    fd_grad(fk, c.k, nq(d), attn_loss, &c);
    fd_grad(fv, c.v, nv(d), attn_loss, &c);
    for (int ref = 0; ref < 2; ref++) {
        float *dq = fvec(nq(d)), *dk = fvec(nq(d)), *dv = fvec(nv(d));
        if (ref)
            rn_attention_backward_ref(dq, dk, dv, dout, q, k, v, att, d.B, d.T, d.H, d.Dk,
                                      d.Dv, scale, dropout, seed);
        else
            rn_attention_backward(dq, dk, dv, scr, dout, q, k, v, att, d.B, d.T, d.H, d.Dk,
                                  d.Dv, scale, dropout, seed);
        CHECK_REL(rel_fd(dq, fq, nq(d)), 1e-4, ref ? "ref dq vs fd" : "dq vs fd");
        CHECK_REL(rel_fd(dk, fk, nq(d)), 1e-4, ref ? "ref dk vs fd" : "dk vs fd");
        CHECK_REL(rel_fd(dv, fv, nv(d)), 1e-4, ref ? "ref dv vs fd" : "dv vs fd");
        free(dq), free(dk), free(dv);
    }
    free(q), free(k), free(v), free(dout), free(o), free(att), free(scr), free(mul);
    free(c.q), free(c.k), free(c.v), free(c.G), free(c.out), free(fq), free(fk), free(fv);
}

static void test_attention_backward_fd(void **state)
{
    (void)state;
    fd_case(0.0f, 31);
    fd_case(0.4f, 32);
}

static void test_attention_causal(void **state)
{
    (void)state;
    struct dims d = {1, 20, 2, 6, 4};
    struct rn_rng g;
    rn_rng_seed(&g, 41);
    float *q = fvec(nq(d)), *k = fvec(nq(d)), *v = fvec(nv(d));
    frand(q, nq(d), &g, 1), frand(k, nq(d), &g, 1), frand(v, nv(d), &g, 1);
    float *o1 = fvec(nv(d)), *o2 = fvec(nv(d)), *att = fvec(na(d));
    rn_attention_forward(o1, att, NULL, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, 0.4f, 0.0f, 0);
    for (int h = 0; h < d.H; h++)
        for (int t = 0; t < d.T; t++) {
            double s = 0;
            for (int j = 0; j < d.T; j++) {
                float a = att[((size_t)h * d.T + t) * d.T + j];
                if (j > t)
                    assert_float_equal(a, 0.0f, 0.0f);
                s += a;
            }
            assert_true(fabs(s - 1.0) < 1e-6);
        }
    /* changing the keys and values of the last 5 positions leaves the
     * outputs of the first 15 untouched */
    frand(k + (size_t)15 * d.H * d.Dk, (size_t)5 * d.H * d.Dk, &g, 1);
    frand(v + (size_t)15 * d.H * d.Dv, (size_t)5 * d.H * d.Dv, &g, 1);
    rn_attention_forward(o2, att, NULL, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, 0.4f, 0.0f, 0);
    assert_memory_equal(o1, o2, (size_t)15 * d.H * d.Dv * sizeof(float));
    assert_memory_not_equal(o1, o2, nv(d) * sizeof(float));
    free(q), free(k), free(v), free(o1), free(o2), free(att);
}

static void test_attention_threads(void **state)
{
    (void)state;
    /* Each (b, h) is computed whole by one thread: results are bit-identical
     * whatever the thread count, dropout included. */
    struct dims d = {2, 67, 4, 12, 8};
    struct rn_rng g;
    rn_rng_seed(&g, 51);
    float *q = fvec(nq(d)), *k = fvec(nq(d)), *v = fvec(nv(d)), *dout = fvec(nv(d));
    frand(q, nq(d), &g, 1), frand(k, nq(d), &g, 1), frand(v, nv(d), &g, 1);
    frand(dout, nv(d), &g, 1);
    float *out[2], *dq[2];
    for (int r = 0; r < 2; r++) {
        rn_blas_set_threads(r + 1);
        float *att = fvec(na(d)), *scr = fvec(na(d)), *dk = fvec(nq(d)), *dv = fvec(nv(d));
        out[r] = fvec(nv(d)), dq[r] = fvec(nq(d));
        rn_attention_forward(out[r], att, scr, q, k, v, d.B, d.T, d.H, d.Dk, d.Dv, 0.3f, 0.2f,
                             99);
        rn_attention_backward(dq[r], dk, dv, scr, dout, q, k, v, att, d.B, d.T, d.H, d.Dk,
                              d.Dv, 0.3f, 0.2f, 99);
        free(att), free(scr), free(dk), free(dv);
    }
    rn_blas_set_threads(2);
    assert_memory_equal(out[0], out[1], nv(d) * sizeof(float));
    assert_memory_equal(dq[0], dq[1], nq(d) * sizeof(float));
    free(q), free(k), free(v), free(dout), free(out[0]), free(out[1]), free(dq[0]), free(dq[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_vs_ref),
        cmocka_unit_test(test_attention_backward_fd),
        cmocka_unit_test(test_attention_causal),
        cmocka_unit_test(test_attention_threads),
    };
    return cmocka_run_group_tests_name("ops_attn", tests, NULL, NULL);
}
