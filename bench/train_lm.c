/* train_lm — training-step speed of runnel's model (libcore/lm), for
 * bench/train.sh. Default config (DESIGN.md 3) with the vocab given,
 * dropout on, random tokens; each step is zero_grad + forward + backward
 * + clip + AdamW, as the `train` binary will run it.
 *
 *   train_lm [-V VOCAB] [-B BATCH] [-T SEQ] [-s STEPS] [-w WARMUP] [-t THREADS]
 *            [-L N_LAYER]
 *
 * Prints one line on stdout:
 *   runnel STEP_MS_MEDIAN TOKENS_PER_S PEAK_RSS_MB FWD_MS BWD_MS OPT_MS MFLOP_PER_TOKEN
 * (phase times are medians too; MFLOP per token counts the matrix products
 * and the attention as 3 x 2 x multiply-adds, the usual training estimate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "blas.h"
#include "lm.h"
#include "optim.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp);
    return v[n / 2];
}

/* Multiply-adds per token of one training forward, DESIGN.md 5's count:
 * every projection, full-T attention (QK^T and PV), the active experts
 * and the shared one, MTP combine projections, and the tied head 1+D
 * times. */
static double macs_per_token(const struct rn_lm_config *c, int T)
{
    double C = c->n_embd, HD = c->n_embd, HR = (double)c->n_head * c->rope_dim,
           kv = c->kv_lora_rank, q = c->q_lora_rank;
    double mla = C * kv + C * q + 2 * kv * HD + q * HD + C * HR + q * HR + HD * C;
    double att = (double)c->n_head * (HD / c->n_head + c->rope_dim + HD / c->n_head) * T;
    double moe = C * c->n_experts + c->n_experts_per_token * 3.0 * C * c->expert_intermediate_size +
                 (c->use_shared_expert ? 3.0 * C * c->shared_expert_intermediate_size : 0);
    int D = c->multi_token_predict;
    return (c->n_layer + D) * (mla + att + moe) + D * 2 * C * C +
           (1 + D) * C * (double)c->vocab_size;
}

int main(int argc, char **argv)
{
    int V = 50259, B = 8, T = 256, steps = 5, warm = 2, threads = 2, L = 6;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-V"))
            V = v;
        else if (!strcmp(argv[i], "-B"))
            B = v;
        else if (!strcmp(argv[i], "-T"))
            T = v;
        else if (!strcmp(argv[i], "-s"))
            steps = v;
        else if (!strcmp(argv[i], "-w"))
            warm = v;
        else if (!strcmp(argv[i], "-t"))
            threads = v;
        else if (!strcmp(argv[i], "-L"))
            L = v;
        else
            goto usage;
    }
    if (steps < 1 || steps > 1000 || warm < 0)
        goto usage;
    rn_blas_set_threads(threads);
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    c.vocab_size = V, c.n_layer = L;
    struct rn_lm m;
    struct rn_err e = {0};
    struct rn_rng g;
    if (rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e) < 0) {
        fprintf(stderr, "train_lm: %s: %s\n", e.where, e.msg);
        return 1;
    }
    rn_rng_seed(&g, 1337);
    rn_lm_init_weights(&m, &g);
    size_t ntok = (size_t)B * (T + 1);
    int32_t *tok = malloc(sizeof(int32_t) * ntok);
    float *am = calloc(m.n_params, sizeof(float)), *av = calloc(m.n_params, sizeof(float));
    double *tf = malloc(sizeof(double) * steps), *tb = malloc(sizeof(double) * steps),
           *to = malloc(sizeof(double) * steps), *ts = malloc(sizeof(double) * steps);
    if (!tok || !am || !av || !tf || !tb || !to || !ts)
        return 1;
    for (size_t i = 0; i < ntok; i++)
        tok[i] = (int32_t)rn_rng_below(&g, (uint64_t)V);
    fprintf(stderr, "train_lm: %zu parameters, %d threads (%s OpenBLAS), batch %d x %d, vocab %d\n",
            m.n_params, rn_blas_threads(), rn_blas_parallel(), B, T, V);
    for (int s = 0; s < warm + steps; s++) {
        double t0 = now();
        rn_lm_zero_grad(&m);
        if (rn_lm_forward(&m, tok, B, T, RN_LM_TRAIN, rn_rng_u64(&g), &e) < 0)
            return 1;
        double t1 = now();
        rn_lm_backward(&m);
        double t2 = now();
        float *gp[1] = {m.grads};
        size_t cnt[1] = {m.n_params};
        rn_grad_clip(gp, cnt, 1, 1.0);
        for (int i = 0; i < m.n_tensors; i++) {
            const struct rn_lm_tensor *t = &m.tensors[i];
            rn_adamw_step(m.params + t->offset, m.grads + t->offset, am + t->offset,
                          av + t->offset, t->numel, 6e-4, 0.9, 0.95, 1e-8,
                          t->decay ? 0.1 : 0.0, s + 1);
        }
        double t3 = now();
        fprintf(stderr, "  step %d: %.1f ms (fwd %.1f, bwd %.1f, opt %.1f), loss %.9g\n", s,
                (t3 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, m.loss);
        if (s >= warm) {
            int k = s - warm;
            tf[k] = t1 - t0, tb[k] = t2 - t1, to[k] = t3 - t2, ts[k] = t3 - t0;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double step = median(ts, steps);
    printf("runnel %.1f %.1f %.0f %.1f %.1f %.1f %.1f\n", step * 1e3, B * T / step,
           ru.ru_maxrss / 1024.0, median(tf, steps) * 1e3, median(tb, steps) * 1e3,
           median(to, steps) * 1e3, 6 * macs_per_token(&c, T) / 1e6);
    free(tok), free(am), free(av), free(tf), free(tb), free(to), free(ts);
    rn_lm_free(&m);
    return 0;
usage:
    fprintf(stderr, "usage: train_lm [-V VOCAB] [-B BATCH] [-T SEQ] [-s STEPS] [-w WARMUP] "
                    "[-t THREADS] [-L N_LAYER]\n");
    return 2;
}
