/* ops_driver — runs one libcore kernel, forward and backward, on inputs
 * read from files, for the PyTorch parity tests (tests/ref/ops_ref.py).
 *
 *   ops_driver KERNEL DIR DIMS...
 *
 * Tensors are raw little-endian files in DIR: NAME.f32 (float32),
 * NAME.i32 (int32), NAME.f64 (float64), C order, shapes given by DIMS.
 * The driver reads the inputs the kernel needs and writes its outputs
 * beside them; ops_ref.py documents which is which. Exit status 0 on
 * success, 1 on a missing or short file, 2 on bad usage.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mla.h"
#include "ops.h"
#include "ops_moe.h"
#include "optim.h"

static const char *dir;

/* Every buffer is tracked and released at the end, so the driver also runs
 * clean under LeakSanitizer (the ASan build of the tests). */
static void *owned[256];
static int n_owned;

static void *zalloc(size_t n, size_t elem)
{
    void *p = calloc(n ? n : 1, elem);
    if (!p || n_owned == (int)(sizeof owned / sizeof owned[0])) {
        fprintf(stderr, "ops_driver: out of memory\n");
        exit(1);
    }
    return owned[n_owned++] = p;
}

static void release_all(void)
{
    while (n_owned > 0)
        free(owned[--n_owned]);
}

static void *load(const char *name, const char *ext, size_t n, size_t elem)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    void *p = zalloc(n, elem);
    if (fread(p, elem, n, f) != n || fgetc(f) != EOF) {
        fprintf(stderr, "ops_driver: %s: expected exactly %zu values\n", path, n);
        exit(1);
    }
    fclose(f);
    return p;
}

static float *lf(const char *name, size_t n)
{
    return load(name, "f32", n, sizeof(float));
}

static void save(const char *name, const char *ext, const void *p, size_t n, size_t elem)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, elem, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void sf(const char *name, const float *p, size_t n)
{
    save(name, "f32", p, n, sizeof(float));
}

static float *zf(size_t n)
{
    return zalloc(n, sizeof(float));
}

static int usage(void)
{
    fprintf(stderr,
            "usage: ops_driver KERNEL DIR DIMS...\n"
            "  linear N C OC | rmsnorm N C | rope B T H D POS0 | attention B T H DK DV\n"
            "  swiglu N C F | ce N V IGNORE | embedding N V C\n"
            "  adamw N N1 LR MIN_LR WARMUP DECAY_END BETA1 BETA2 EPS WD MAX_NORM\n"
            "  lr LR MIN_LR WARMUP DECAY_END COUNT\n"
            "  mla B T C H DH R KV_RANK Q_RANK BIAS\n"
            "  moe N C E K F FS | moe_aux B T E\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *k = argv[1];
    dir = argv[2];
    int na = argc - 3;
    double a[16] = {0};
    for (int i = 0; i < na && i < 16; i++)
        a[i] = strtod(argv[3 + i], NULL);
#define NEED(n) \
    if (na != (n)) return usage()

    if (!strcmp(k, "linear")) {
        NEED(3);
        int N = (int)a[0], C = (int)a[1], OC = (int)a[2];
        float *x = lf("x", (size_t)N * C), *w = lf("w", (size_t)OC * C), *b = lf("b", OC),
              *dy = lf("dy", (size_t)N * OC);
        float *y = zf((size_t)N * OC), *dx = zf((size_t)N * C), *dw = zf((size_t)OC * C),
              *db = zf(OC);
        rn_linear_forward(y, x, w, b, N, C, OC);
        rn_linear_backward(dx, dw, db, dy, x, w, N, C, OC);
        sf("y", y, (size_t)N * OC), sf("dx", dx, (size_t)N * C), sf("dw", dw, (size_t)OC * C);
        sf("db", db, OC);
    } else if (!strcmp(k, "rmsnorm")) {
        NEED(2);
        int N = (int)a[0], C = (int)a[1];
        float *x = lf("x", (size_t)N * C), *w = lf("w", C), *dy = lf("dy", (size_t)N * C);
        float *y = zf((size_t)N * C), *rms = zf(N), *dx = zf((size_t)N * C), *dw = zf(C);
        rn_rmsnorm_forward(y, rms, x, w, N, C, RN_RMSNORM_EPS);
        rn_rmsnorm_backward(dx, dw, dy, x, w, rms, N, C, RN_RMSNORM_EPS);
        sf("y", y, (size_t)N * C), sf("dx", dx, (size_t)N * C), sf("dw", dw, C);
    } else if (!strcmp(k, "rope")) {
        NEED(5);
        int B = (int)a[0], T = (int)a[1], H = (int)a[2], D = (int)a[3], p0 = (int)a[4];
        size_t n = (size_t)B * T * H * D;
        float *x = lf("x", n), *dy = lf("dy", n), *y = zf(n), *dx = zf(n);
        float *ct = zf((size_t)(p0 + T) * D / 2), *st = zf((size_t)(p0 + T) * D / 2);
        rn_rope_table(ct, st, p0 + T, D, RN_ROPE_THETA);
        rn_rope_forward(y, x, ct, st, B, T, H, D, p0);
        rn_rope_backward(dx, dy, ct, st, B, T, H, D, p0);
        sf("y", y, n), sf("dx", dx, n);
    } else if (!strcmp(k, "attention")) {
        NEED(5);
        int B = (int)a[0], T = (int)a[1], H = (int)a[2], Dk = (int)a[3], Dv = (int)a[4];
        size_t nq = (size_t)B * T * H * Dk, nv = (size_t)B * T * H * Dv,
               nat = (size_t)B * H * T * T;
        float *q = lf("q", nq), *kk = lf("k", nq), *v = lf("v", nv), *dy = lf("dy", nv);
        float *y = zf(nv), *att = zf(nat), *scr = zf(nat), *dq = zf(nq), *dk = zf(nq),
              *dv = zf(nv);
        float scale = 1.0f / sqrtf((float)Dk);
        rn_attention_forward(y, att, NULL, q, kk, v, B, T, H, Dk, Dv, scale, 0.0f, 0);
        rn_attention_backward(dq, dk, dv, scr, dy, q, kk, v, att, B, T, H, Dk, Dv, scale,
                              0.0f, 0);
        sf("y", y, nv), sf("dq", dq, nq), sf("dk", dk, nq), sf("dv", dv, nv);
    } else if (!strcmp(k, "swiglu")) {
        NEED(3);
        int N = (int)a[0], C = (int)a[1], F = (int)a[2];
        size_t nc = (size_t)N * C, nf = (size_t)N * F, wf = (size_t)F * C;
        float *x = lf("x", nc), *dy = lf("dy", nc);
        struct rn_swiglu_ffn p = {lf("wg", wf), lf("bg", F), lf("wu", wf),
                                  lf("bu", F), lf("wd", wf), lf("bd", C)};
        struct rn_swiglu_ffn_grad d = {zf(wf), zf(F), zf(wf), zf(F), zf(wf), zf(C)};
        float *y = zf(nc), *g = zf(nf), *u = zf(nf), *h = zf(nf), *scr = zf(2 * nf),
              *dx = zf(nc);
        rn_swiglu_ffn_forward(y, g, u, h, x, &p, N, C, F);
        rn_swiglu_ffn_backward(dx, &d, scr, dy, x, g, u, h, &p, N, C, F);
        sf("y", y, nc), sf("dx", dx, nc);
        sf("dwg", d.w_gate, wf), sf("dbg", d.b_gate, F), sf("dwu", d.w_up, wf);
        sf("dbu", d.b_up, F), sf("dwd", d.w_down, wf), sf("dbd", d.b_down, C);
    } else if (!strcmp(k, "ce")) {
        NEED(3);
        int N = (int)a[0], V = (int)a[1];
        int32_t ign = (int32_t)a[2];
        size_t n = (size_t)N * V;
        float *x = lf("logits", n), *d2 = zf(n), *losses = zf(N);
        int32_t *tg = load("targets", "i32", N, sizeof(int32_t));
        float loss = rn_crossentropy_forward(losses, x, tg, N, V, ign, NULL);
        rn_crossentropy_backward(d2, x, tg, N, V, ign, 1.0f);
        float loss2 = rn_crossentropy_fused(x, tg, N, V, ign, 1.0f, NULL);
        float l[2] = {loss, loss2};
        sf("loss", l, 2), sf("losses", losses, N), sf("dlogits", x, n);
        sf("dlogits_sep", d2, n);
    } else if (!strcmp(k, "embedding")) {
        NEED(3);
        int N = (int)a[0], V = (int)a[1], C = (int)a[2];
        float *w = lf("w", (size_t)V * C), *dy = lf("dy", (size_t)N * C);
        int32_t *ids = load("ids", "i32", N, sizeof(int32_t));
        float *y = zf((size_t)N * C), *dw = zf((size_t)V * C);
        rn_embedding_forward(y, ids, w, N, C);
        rn_embedding_backward(dw, dy, ids, N, C);
        sf("y", y, (size_t)N * C), sf("dw", dw, (size_t)V * C);
    } else if (!strcmp(k, "adamw")) {
        /* 3 steps: clip the two gradient tensors (the first N1 values and
         * the rest) together, then AdamW at the schedule's lr. */
        NEED(11);
        size_t n = (size_t)a[0], n1 = (size_t)a[1];
        struct rn_lr_schedule s = {a[2], a[3], (int64_t)a[4], (int64_t)a[5]};
        float *p = lf("p", n), *m = zf(n), *v = zf(n);
        double norms[3], lrs[3];
        for (int it = 0; it < 3; it++) {
            char name[16];
            snprintf(name, sizeof name, "g%d", it);
            float *g = lf(name, n);
            float *gs[2] = {g, g + n1};
            size_t ns[2] = {n1, n - n1};
            norms[it] = rn_grad_clip(gs, ns, 2, a[10]);
            lrs[it] = rn_lr_at(&s, it);
            rn_adamw_step(p, g, m, v, n, lrs[it], a[6], a[7], a[8], a[9], it + 1);
            snprintf(name, sizeof name, "p%d", it + 1);
            sf(name, p, n);
        }
        sf("m", m, n), sf("v", v, n);
        save("norms", "f64", norms, 3, sizeof(double));
        save("lrs", "f64", lrs, 3, sizeof(double));
    } else if (!strcmp(k, "lr")) {
        NEED(5);
        struct rn_lr_schedule s = {a[0], a[1], (int64_t)a[2], (int64_t)a[3]};
        int64_t count = (int64_t)a[4];
        double *its = load("its", "f64", (size_t)count, sizeof(double));
        double *out = zalloc((size_t)count, sizeof(double));
        for (int64_t i = 0; i < count; i++)
            out[i] = rn_lr_at(&s, (int64_t)its[i]);
        save("lr", "f64", out, (size_t)count, sizeof(double));
    } else if (!strcmp(k, "mla")) {
        /* params: every tensor of struct rn_mla_params, packed in order */
        NEED(9);
        int B = (int)a[0], T = (int)a[1];
        struct rn_mla_config c = {(int)a[2], (int)a[3], (int)a[4], (int)a[5], (int)a[6],
                                  (int)a[7], (int)a[8], 0.0f, RN_RMSNORM_EPS};
        size_t np = rn_mla_param_count(&c), nx = (size_t)B * T * c.n_embd;
        float *w = lf("params", np), *x = lf("x", nx), *dy = lf("dy", nx);
        float *gw = zf(np), *y = zf(nx), *dx = zf(nx);
        float *acts = zf(rn_mla_acts_floats(&c, B, T)), *scr = zf(rn_mla_scratch_floats(&c, B, T));
        float *ct = zf((size_t)T * c.rope_dim / 2), *st = zf((size_t)T * c.rope_dim / 2);
        struct rn_mla_params p, g;
        struct rn_mla_acts act;
        rn_mla_params_bind(&p, w, &c);
        rn_mla_params_bind(&g, gw, &c);
        rn_mla_acts_bind(&act, acts, &c, B, T);
        rn_rope_table(ct, st, T, c.rope_dim, RN_ROPE_THETA);
        rn_mla_forward(y, &act, scr, x, &p, &c, ct, st, B, T, 0);
        rn_mla_backward(dx, &g, scr, dy, x, &act, &p, &c, ct, st, B, T, 0);
        sf("y", y, nx), sf("dx", dx, nx), sf("dparams", gw, np);
    } else if (!strcmp(k, "moe")) {
        /* The seed's MixtureOfExperts without dropout, composed from the
         * kernels as the model will: params = router (E,C), then per expert
         * and last the shared expert: w_gate, b_gate, w_up, b_up, w_down,
         * b_down. bias (E) is updated in place and written back. */
        NEED(6);
        int N = (int)a[0], C = (int)a[1], E = (int)a[2], K = (int)a[3], F = (int)a[4],
            Fs = (int)a[5];
        size_t ne = 2 * (size_t)F * C + 2 * F + (size_t)C * F + C;
        size_t ns = 2 * (size_t)Fs * C + 2 * Fs + (size_t)C * Fs + C;
        size_t np = (size_t)E * C + E * ne + ns, nx = (size_t)N * C, nk = (size_t)N * K;
        float *w = lf("params", np), *gw = zf(np), *x = lf("x", nx), *dy = lf("dy", nx);
        float *bias = lf("bias", E), *y = zf(nx), *dx = zf(nx);
        struct rn_swiglu_ffn *f = zalloc((size_t)E + 1, sizeof *f);
        struct rn_swiglu_ffn_grad *fg = zalloc((size_t)E + 1, sizeof *fg);
        for (int e = 0; e <= E; e++) {
            int h = e < E ? F : Fs;
            float *p = w + (size_t)E * C + (size_t)e * ne, *q = gw + (p - w);
            f[e] = (struct rn_swiglu_ffn){p, p + (size_t)h * C, p + (size_t)h * C + h,
                                          p + 2 * (size_t)h * C + h, p + 2 * (size_t)h * C + 2 * h,
                                          p + 3 * (size_t)h * C + 2 * h};
            fg[e] = (struct rn_swiglu_ffn_grad){q, q + (size_t)h * C, q + (size_t)h * C + h,
                                                q + 2 * (size_t)h * C + h,
                                                q + 2 * (size_t)h * C + 2 * h,
                                                q + 3 * (size_t)h * C + 2 * h};
        }
        float *logits = zf((size_t)N * E), *rw = zf(nk), *dw = zf(nk), *dlog = zf((size_t)N * E);
        int32_t *idx = zalloc(nk, sizeof *idx), *src = zalloc(nk, sizeof *src);
        int *off = zalloc((size_t)E + 1, sizeof *off), *use = zalloc((size_t)E, sizeof *use);
        int Fm = Fs > F ? Fs : F;
        float *xe = zf(nx), *ye = zf(nk * C), *sv = zf(3 * nk * F), *ss = zf(3 * (size_t)N * Fs);
        float *ys = zf(nx), *dye = zf(nx), *dxe = zf(nx), *scr = zf(2 * (size_t)N * Fm);
        rn_linear_forward(logits, x, w, NULL, N, C, E);
        rn_moe_route_forward(idx, rw, use, logits, bias, N, E, K);
        rn_moe_plan(off, src, idx, N, E, K);
        for (int e = 0; e < E; e++) {
            int M = off[e + 1] - off[e];
            float *s = sv + 3 * (size_t)off[e] * F;
            rn_moe_gather(xe, x, src + off[e], M, K, C);
            rn_swiglu_ffn_forward(ye + (size_t)off[e] * C, s, s + (size_t)M * F,
                                  s + 2 * (size_t)M * F, xe, &f[e], M, C, F);
            rn_moe_combine_forward(y, ye + (size_t)off[e] * C, rw, src + off[e], M, K, C);
        }
        rn_swiglu_ffn_forward(ys, ss, ss + nx / C * Fs, ss + 2 * nx / C * Fs, x, &f[E], N, C,
                              Fs);
        for (size_t i = 0; i < nx; i++)
            y[i] += ys[i];
        rn_moe_bias_update(bias, use, E, 0.001f);

        rn_swiglu_ffn_backward(dx, &fg[E], scr, dy, x, ss, ss + nx / C * Fs,
                               ss + 2 * nx / C * Fs, &f[E], N, C, Fs);
        for (int e = 0; e < E; e++) {
            int M = off[e + 1] - off[e];
            float *s = sv + 3 * (size_t)off[e] * F;
            rn_moe_gather(xe, x, src + off[e], M, K, C);
            rn_moe_combine_backward(dye, dw, dy, ye + (size_t)off[e] * C, rw, src + off[e], M,
                                    K, C);
            memset(dxe, 0, sizeof(float) * nx);
            rn_swiglu_ffn_backward(dxe, &fg[e], scr, dye, xe, s, s + (size_t)M * F,
                                   s + 2 * (size_t)M * F, &f[e], M, C, F);
            rn_moe_scatter_add(dx, dxe, src + off[e], M, K, C);
        }
        rn_moe_route_backward(dlog, dw, rw, idx, N, E, K);
        rn_linear_backward(dx, gw, NULL, dlog, x, w, N, C, E);
        sf("y", y, nx), sf("dx", dx, nx), sf("dparams", gw, np), sf("bias_after", bias, E);
        save("idx", "i32", idx, nk, sizeof(int32_t));
    } else if (!strcmp(k, "moe_aux")) {
        NEED(3);
        int B = (int)a[0], T = (int)a[1], E = (int)a[2];
        size_t n = (size_t)B * T * E;
        float *l = lf("logits", n), *p = zf(n), *seq = zf((size_t)B * E), *d = zf(n);
        float loss = rn_moe_seq_aux_forward(p, seq, l, B, T, E);
        rn_moe_seq_aux_backward(d, p, seq, B, T, E, 1.0f);
        sf("loss", &loss, 1), sf("dlogits", d, n);
    } else {
        return usage();
    }
    release_all();
    return 0;
}
