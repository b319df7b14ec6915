/* generate_driver — runs runnel's inference paths on a checkpoint for the
 * PyTorch parity test tests/ref/generate_ref.py.
 *
 *   generate_driver CKPT PROMPT N DIR
 *
 * PROMPT: a file of P int32 ids (raw little-endian); N new tokens. Writes
 * raw little-endian into DIR:
 *   full.f32        (P, V) rn_lm_logits of the prompt (full recompute)
 *   cache.f32       (P, V) the same from the latent cache, one position per
 *                   call (absorbed attention)
 *   cache_plain.f32 (P, V) the same with plain attention, 3 positions a call
 *   greedy.i32      (N) greedy continuation with the cache
 *   greedy_spec.i32 (N) greedy continuation, speculative (MTP heads)
 * Exit 0, 1 on I/O or model errors, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm.h"
#include "lm_decode.h"
#include "lm_load.h"
#include "sample.h"
#include "spec.h"

static void die(const struct rn_err *e)
{
    fprintf(stderr, "generate_driver: %s: %s\n", e->where, e->msg);
    exit(1);
}

static void put(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "generate_driver: %s: write failed\n", path);
        exit(1);
    }
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

int main(int argc, char **argv)
{
    struct rn_lm m;
    struct rn_lm_decoder d;
    struct rn_spec sp;
    struct rn_err e = {0};
    struct rn_rng g;
    struct rn_sample_params greedy = RN_SAMPLE_DEFAULTS;
    const float *lg;
    int32_t prompt[4096];
    if (argc != 5) {
        fprintf(stderr, "usage: generate_driver CKPT PROMPT N DIR\n");
        return 2;
    }
    const int N = atoi(argv[3]);
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    const int P = (int)fread(prompt, sizeof(int32_t), 4096, f);
    fclose(f);
    if (P < 1 || N < 1)
        return 2;
    if (rn_lm_load(&m, argv[1], 1, P, NULL, &e) < 0)
        die(&e);
    const int V = m.cfg.vocab_size, D = m.cfg.multi_token_predict, maxT = P + N + 1;
    if (maxT > m.cfg.block_size) {
        fprintf(stderr, "generate_driver: %d + %d tokens exceed block_size\n", P, N);
        return 2;
    }
    float *out = malloc(sizeof(float) * (size_t)P * V);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(N + 8));
    if (rn_lm_logits(&m, prompt, 1, P, &lg, &e) < 0)
        die(&e);
    put(argv[4], "full.f32", lg, sizeof(float) * (size_t)P * V);

    for (int plain = 0; plain < 2; plain++) {
        const int step = plain ? 3 : 1, flags = plain ? RN_DEC_PLAIN : 0;
        int s = 0;
        if (rn_lm_decoder_init(&d, &m, 1, maxT, 8, 0, &e) < 0)
            die(&e);
        for (int t = 0; t < P; t += step) {
            int k = P - t < step ? P - t : step;
            if (rn_lm_decode(&d, 0, &s, 1, prompt + t, k, NULL, flags, &lg, &e) < 0)
                die(&e);
            memcpy(out + (size_t)t * V, lg, sizeof(float) * (size_t)k * V);
        }
        put(argv[4], plain ? "cache_plain.f32" : "cache.f32", out,
            sizeof(float) * (size_t)P * V);
        if (!plain) {
            const float *last = lg; /* one position per call: the prompt's last */
            for (int i = 0; i < N; i++) {
                tok[i] = argmax(last, V);
                if (i + 1 < N) {
                    if (rn_lm_decode(&d, 0, &s, 1, &tok[i], 1, NULL, RN_DEC_LAST, &lg, &e) < 0)
                        die(&e);
                    last = lg;
                }
            }
            put(argv[4], "greedy.i32", tok, sizeof(int32_t) * (size_t)N);
        }
        rn_lm_decoder_free(&d);
    }

    /* speculative greedy (needs MTP heads; without, plain greedy again) */
    greedy.temperature = 0.0f;
    rn_rng_seed(&g, 1);
    if (D > 0) {
        int n = 0, got;
        int32_t o[16];
        if (rn_lm_decoder_init(&d, &m, 1, maxT, 64, D, &e) < 0 ||
            rn_spec_init(&sp, &d, 0, &e) < 0 ||
            rn_spec_start(&sp, prompt, P, &greedy, &g, &tok[n++], &e) < 0)
            die(&e);
        while (n < N) {
            if (rn_spec_step(&sp, &greedy, &g, o, &got, &e) < 0)
                die(&e);
            for (int i = 0; i < got && n < N; i++)
                tok[n++] = o[i];
        }
        fprintf(stderr, "speculative: %ld of %ld drafts accepted\n", sp.accepted, sp.drafted);
        rn_spec_free(&sp);
        rn_lm_decoder_free(&d);
        put(argv[4], "greedy_spec.i32", tok, sizeof(int32_t) * (size_t)N);
    }
    free(out);
    free(tok);
    rn_lm_free(&m);
    return 0;
}
