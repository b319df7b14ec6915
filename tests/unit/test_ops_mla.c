/* Unit tests for libcore/mla: the backward against central finite
 * differences of a double-precision MLA written here from DESIGN.md 3 (for
 * the input and every parameter), dropout's reproducibility and its
 * forward/backward agreement, and causality. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mla.h"
#include "ops.h"
#include "rng.h"
#include "test_ops_util.h"

static const struct rn_mla_config CFG = {
    .n_embd = 8, .n_head = 2, .head_dim = 4, .rope_dim = 6, .kv_rank = 6, .q_rank = 7,
    .bias = 1, .dropout = 0.0f, .eps = 1e-6f,
};
enum { B = 2, T = 5 };

/* ---- MLA in double, from the formula ------------------------------------ */

static void lin_d(double *out, const double *in, const double *w, const double *b, int N,
                  int I, int O)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < I; i++)
                s += in[n * I + i] * w[o * I + i];
            out[n * O + o] = s;
        }
}

static void rope_d(double *x, int N, int H, int R, const float *ct, const float *st)
{
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            double *v = x + (n * H + h) * R;
            int t = n % T;
            for (int i = 0; i < R / 2; i++) {
                double c = ct[t * R / 2 + i], s = st[t * R / 2 + i];
                double a = v[i], b = v[i + R / 2];
                v[i] = a * c - b * s;
                v[i + R / 2] = a * s + b * c;
            }
        }
}

struct mla_ctx {
    double *x, *w, *G; /* w: all parameters, packed as rn_mla_params_bind does */
    const float *ct, *st;
    double *out; /* or NULL: receives the output */
};

static double mla_loss(void *p)
{
    struct mla_ctx *m = p;
    const struct rn_mla_config *c = &CFG;
    const int N = B * T, C = c->n_embd, H = c->n_head, Dh = c->head_dim, R = c->rope_dim;
    const int Rk = c->kv_rank, Rq = c->q_rank;
    const double *w = m->w;
    const double *w_dkv = w, *kvn = w_dkv + Rk * C, *w_dq = kvn + Rk, *w_uk = w_dq + Rq * C;
    const double *w_uv = w_uk + H * Dh * Rk, *w_uq = w_uv + H * Dh * Rk;
    const double *w_kr = w_uq + H * Dh * Rq, *w_qr = w_kr + H * R * C;
    const double *w_o = w_qr + H * R * Rq, *b_o = w_o + C * H * Dh;
    double *ckv = dvec(N * Rk), *cq = dvec(N * Rq), *kc = dvec(N * H * Dh),
           *v = dvec(N * H * Dh), *qc = dvec(N * H * Dh), *kr = dvec(N * H * R),
           *qr = dvec(N * H * R), *y = dvec(N * H * Dh), *out = dvec(N * C), *s = dvec(T);
    lin_d(ckv, m->x, w_dkv, NULL, N, C, Rk);
    for (int n = 0; n < N; n++) { /* kv_norm: eps outside the root */
        double ss = 0;
        for (int i = 0; i < Rk; i++)
            ss += ckv[n * Rk + i] * ckv[n * Rk + i];
        double d = sqrt(ss / Rk) + c->eps;
        for (int i = 0; i < Rk; i++)
            ckv[n * Rk + i] = kvn[i] * ckv[n * Rk + i] / d;
    }
    lin_d(cq, m->x, w_dq, NULL, N, C, Rq);
    lin_d(kc, ckv, w_uk, NULL, N, Rk, H * Dh);
    lin_d(v, ckv, w_uv, NULL, N, Rk, H * Dh);
    lin_d(qc, cq, w_uq, NULL, N, Rq, H * Dh);
    lin_d(kr, m->x, w_kr, NULL, N, C, H * R);
    lin_d(qr, cq, w_qr, NULL, N, Rq, H * R);
    rope_d(kr, N, H, R, m->ct, m->st);
    rope_d(qr, N, H, R, m->ct, m->st);
    double scale = 1.0 / sqrt((double)(Dh + R));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                int nt = b * T + t;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    int nj = b * T + j;
                    double d = 0;
                    for (int e = 0; e < Dh; e++)
                        d += qc[(nt * H + h) * Dh + e] * kc[(nj * H + h) * Dh + e];
                    for (int e = 0; e < R; e++)
                        d += qr[(nt * H + h) * R + e] * kr[(nj * H + h) * R + e];
                    s[j] = d * scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= t; j++)
                    sum += exp(s[j] - mx);
                for (int e = 0; e < Dh; e++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++)
                        o += exp(s[j] - mx) / sum * v[((b * T + j) * H + h) * Dh + e];
                    y[(nt * H + h) * Dh + e] = o;
                }
            }
    lin_d(out, y, w_o, b_o, N, H * Dh, C);
    double L = dot_gd(m->G, out, (size_t)N * C);
    if (m->out)
        memcpy(m->out, out, sizeof(double) * N * C);
    free(ckv), free(cq), free(kc), free(v), free(qc), free(kr), free(qr), free(y), free(out);
    free(s);
    return L;
}

/* ---- fixtures ---------------------------------------------------------------- */

struct fix {
    struct rn_mla_config cfg;
    size_t np;
    float *w, *x, *dy, *out, *acts, *scr, *ct, *st;
    struct rn_mla_params p;
    struct rn_mla_acts a;
};

static void fix_init(struct fix *f, const struct rn_mla_config *cfg, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    f->cfg = *cfg;
    f->np = rn_mla_param_count(cfg);
    size_t nx = (size_t)B * T * cfg->n_embd;
    f->w = fvec(f->np), f->x = fvec(nx), f->dy = fvec(nx), f->out = fvec(nx);
    frand(f->w, f->np, &g, 0.5f), frand(f->x, nx, &g, 1.0f), frand(f->dy, nx, &g, 1.0f);
    rn_mla_params_bind(&f->p, f->w, cfg);
    for (int i = 0; i < cfg->kv_rank; i++)
        f->p.kv_norm[i] = 1.0f + 0.5f * f->p.kv_norm[i];
    f->acts = fvec(rn_mla_acts_floats(cfg, B, T));
    f->scr = fvec(rn_mla_scratch_floats(cfg, B, T));
    rn_mla_acts_bind(&f->a, f->acts, cfg, B, T);
    f->ct = fvec((size_t)T * cfg->rope_dim / 2), f->st = fvec((size_t)T * cfg->rope_dim / 2);
    rn_rope_table(f->ct, f->st, T, cfg->rope_dim, 10000.0f);
}

static void fix_free(struct fix *f)
{
    free(f->w), free(f->x), free(f->dy), free(f->out), free(f->acts), free(f->scr);
    free(f->ct), free(f->st);
}

static void test_mla_param_layout(void **state)
{
    (void)state;
    /* The default model's MLA: 8 heads of 32 + 64, ranks 128 / 192. */
    struct rn_mla_config d = {256, 8, 32, 64, 128, 192, 1, 0.1f, 1e-6f};
    size_t want = 128 * 256 + 128 + 192 * 256 + 2 * 256 * 128 + 256 * 192 + 512 * 256 +
                  512 * 192 + 256 * 256 + 256;
    assert_int_equal(rn_mla_param_count(&d), want);
    float *buf = fvec(want);
    struct rn_mla_params p;
    rn_mla_params_bind(&p, buf, &d);
    assert_ptr_equal(p.w_dkv, buf);
    assert_ptr_equal(p.b_o + 256, buf + want);
    d.bias = 0;
    rn_mla_params_bind(&p, buf, &d);
    assert_null(p.b_o);
    assert_int_equal(rn_mla_param_count(&d), want - 256);
    free(buf);
}

static void test_mla_backward_fd(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f, &CFG, 61);
    size_t nx = (size_t)B * T * CFG.n_embd;
    rn_mla_forward(f.out, &f.a, f.scr, f.x, &f.p, &CFG, f.ct, f.st, B, T, 0);
    double *outd = dvec(nx);
    struct mla_ctx m = {to_d(f.x, nx), to_d(f.w, f.np), to_d(f.dy, nx), f.ct, f.st, outd};
    mla_loss(&m);
    CHECK_REL(rel_fd(f.out, outd, nx), 1e-5, "mla forward");
    m.out = NULL;
    float *dx = fvec(nx), *gw = fvec(f.np);
    struct rn_mla_params g;
    rn_mla_params_bind(&g, gw, &CFG);
    rn_mla_backward(dx, &g, f.scr, f.dy, f.x, &f.a, &f.p, &CFG, f.ct, f.st, B, T, 0);
    double *fx = dvec(nx), *fw = dvec(f.np);
    fd_grad(fx, m.x, nx, mla_loss, &m);
    fd_grad(fw, m.w, f.np, mla_loss, &m);
    CHECK_REL(rel_fd(dx, fx, nx), 1e-4, "mla dx vs fd");
    /* each parameter tensor on its own scale */
    struct {
        const char *name;
        float *got;
        size_t n;
    } parts[] = {
        {"w_dkv", g.w_dkv, (size_t)CFG.kv_rank * CFG.n_embd},
        {"kv_norm", g.kv_norm, (size_t)CFG.kv_rank},
        {"w_dq", g.w_dq, (size_t)CFG.q_rank * CFG.n_embd},
        {"w_uk", g.w_uk, (size_t)CFG.n_head * CFG.head_dim * CFG.kv_rank},
        {"w_uv", g.w_uv, (size_t)CFG.n_head * CFG.head_dim * CFG.kv_rank},
        {"w_uq", g.w_uq, (size_t)CFG.n_head * CFG.head_dim * CFG.q_rank},
        {"w_kr", g.w_kr, (size_t)CFG.n_head * CFG.rope_dim * CFG.n_embd},
        {"w_qr", g.w_qr, (size_t)CFG.n_head * CFG.rope_dim * CFG.q_rank},
        {"w_o", g.w_o, (size_t)CFG.n_embd * CFG.n_head * CFG.head_dim},
        {"b_o", g.b_o, (size_t)CFG.n_embd},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t off = (size_t)(parts[i].got - gw);
        CHECK_REL(rel_fd(parts[i].got, fw + off, parts[i].n), 1e-4, parts[i].name);
    }
    free(outd), free(dx), free(gw), free(fx), free(fw), free(m.x), free(m.w), free(m.G);
    fix_free(&f);
}

/* L(x) = <dy, mla(x)> in float, for directional derivatives. */
static double loss_f(struct fix *f, const float *x, uint64_t seed)
{
    rn_mla_forward(f->out, &f->a, f->scr, x, &f->p, &f->cfg, f->ct, f->st, B, T, seed);
    double L = 0;
    for (size_t i = 0; i < (size_t)B * T * f->cfg.n_embd; i++)
        L += (double)f->dy[i] * f->out[i];
    return L;
}

static void test_mla_dropout(void **state)
{
    (void)state;
    struct rn_mla_config cfg = CFG;
    cfg.dropout = 0.3f;
    struct fix f;
    fix_init(&f, &cfg, 62);
    size_t nx = (size_t)B * T * cfg.n_embd;
    float *o1 = fvec(nx), *xd = fvec(nx), *dx = fvec(nx), *gw = fvec(f.np), *dir = fvec(nx);
    /* same seed, same output; another seed, another */
    loss_f(&f, f.x, 5);
    memcpy(o1, f.out, nx * sizeof(float));
    loss_f(&f, f.x, 5);
    assert_memory_equal(o1, f.out, nx * sizeof(float));
    loss_f(&f, f.x, 6);
    assert_memory_not_equal(o1, f.out, nx * sizeof(float));
    /* the backward sees the forward's masks: <dx, d> matches the
     * directional derivative of the (fixed-mask) forward */
    loss_f(&f, f.x, 5);
    struct rn_mla_params g;
    rn_mla_params_bind(&g, gw, &cfg);
    rn_mla_backward(dx, &g, f.scr, f.dy, f.x, &f.a, &f.p, &cfg, f.ct, f.st, B, T, 5);
    struct rn_rng r;
    rn_rng_seed(&r, 63);
    frand(dir, nx, &r, 1.0f);
    double want = 0;
    for (size_t i = 0; i < nx; i++)
        want += (double)dx[i] * dir[i];
    const float h = 1e-2f;
    for (size_t i = 0; i < nx; i++)
        xd[i] = f.x[i] + h * dir[i];
    double lp = loss_f(&f, xd, 5);
    for (size_t i = 0; i < nx; i++)
        xd[i] = f.x[i] - h * dir[i];
    double lm = loss_f(&f, xd, 5);
    double fd = (lp - lm) / (2.0 * h);
    CHECK_REL(fabs(fd - want) / fabs(want), 1e-2, "mla dropout: directional derivative");
    free(o1), free(xd), free(dx), free(gw), free(dir);
    fix_free(&f);
}

static void test_mla_causal(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f, &CFG, 64);
    size_t row = CFG.n_embd, nx = (size_t)B * T * row;
    float *o1 = fvec(nx);
    rn_mla_forward(o1, &f.a, f.scr, f.x, &f.p, &CFG, f.ct, f.st, B, T, 0);
    /* perturb the last position of batch 0: earlier positions unchanged,
     * batch 1 unchanged */
    for (size_t i = 0; i < row; i++)
        f.x[(T - 1) * row + i] += 0.5f;
    rn_mla_forward(f.out, &f.a, f.scr, f.x, &f.p, &CFG, f.ct, f.st, B, T, 0);
    assert_memory_equal(o1, f.out, (T - 1) * row * sizeof(float));
    assert_memory_equal(o1 + T * row, f.out + T * row, T * row * sizeof(float));
    assert_memory_not_equal(o1 + (T - 1) * row, f.out + (T - 1) * row, row * sizeof(float));
    free(o1);
    fix_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mla_param_layout),
        cmocka_unit_test(test_mla_backward_fd),
        cmocka_unit_test(test_mla_dropout),
        cmocka_unit_test(test_mla_causal),
    };
    return cmocka_run_group_tests_name("mla", tests, NULL, NULL);
}
