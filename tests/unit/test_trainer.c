/* Unit tests for libcore/trainer: the data split and its windows, the
 * errors on bad data, the LR schedule's independence from the planned
 * step count, bit-identical resume (N + N steps against 2N), determinism,
 * the stop flag set by a real signal, the checkpoint's contents and the
 * refusal of a changed model, and the loss plot. Tiny configs only: every
 * test runs in well under a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "img.h"
#include "stream.h"
#include "trainer.h"

/* A tokens record borrowing ids. */
static struct rn_record record(int32_t *ids, int64_t n, uint64_t index, char *meta)
{
    struct rn_record r = {0};
    r.kind = RN_KIND_TOKENS;
    r.dtype = RN_DTYPE_I32;
    r.rank = 1;
    r.dims[0] = n;
    r.payload = ids;
    r.payload_len = (uint64_t)n * sizeof(int32_t);
    r.meta = meta;
    r.index = index;
    return r;
}

/* n tokens with tok[i] = i % vocab, as one record. */
static void make_data(struct rn_train_data *d, int64_t n, int64_t vocab)
{
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    assert_non_null(ids);
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int32_t)(i % vocab);
    char meta[] = "{}";
    struct rn_record r = record(ids, n, 0, meta);
    struct rn_err e = {0};
    assert_int_equal(rn_train_data_add(d, &r, vocab, "test", &e), RN_OK);
    free(ids);
}

static void tiny_config(struct rn_train_config *c)
{
    struct rn_err e = {0};
    static const char *const kv[][2] = {
        {"vocab_size", "64"}, {"n_layer", "1"}, {"n_head", "2"}, {"n_embd", "16"},
        {"block_size", "16"}, {"kv_lora_rank", "8"}, {"q_lora_rank", "8"}, {"rope_dim", "4"},
        {"n_experts", "4"}, {"n_experts_per_token", "2"}, {"expert_intermediate_size", "16"},
        {"shared_expert_intermediate_size", "16"}, {"multi_token_predict", "1"},
        {"dropout", "0.1"}, {"batch_size", "2"}, {"seq_len", "8"}, {"steps", "8"},
        {"learning_rate", "0.01"}, {"min_lr", "0.001"}, {"warmup_iters", "2"},
        {"lr_decay_iters", "6"}, {"eval_interval", "3"}, {"eval_iters", "2"},
        {"checkpoint_interval", "0"}, {"val_fraction", "0.2"}, {"seed", "7"},
    };
    memset(c, 0, sizeof *c);
    assert_int_equal(rn_cfg_defaults(&rn_train_config_table, c, &e), RN_OK);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rn_cfg_set(&rn_train_config_table, c, kv[i][0], kv[i][1], "test", &e) < 0)
            fail_msg("%s: %s", kv[i][0], e.msg);
    assert_int_equal(rn_cfg_validate(&rn_train_config_table, c, &e), RN_OK);
}

static struct rn_train_data shared_data;

static int setup(void **state)
{
    (void)state;
    memset(&shared_data, 0, sizeof shared_data);
    /* pseudo-random ids so the model has something to learn */
    struct rn_rng g;
    rn_rng_seed(&g, 3);
    int32_t ids[600];
    for (int i = 0; i < 600; i++)
        ids[i] = i % 7 == 0 ? (int32_t)rn_rng_below(&g, 64) : (i * 5) % 64;
    char meta[] = "{}";
    struct rn_record r = record(ids, 600, 0, meta);
    struct rn_err e = {0};
    if (rn_train_data_add(&shared_data, &r, 64, "test", &e) < 0 ||
        rn_train_data_split(&shared_data, 0.2, 8, 1, &e) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_train_data_free(&shared_data);
    return 0;
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/rn_test_trainer_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid(), name);
    return p;
}

/* ---- data ---------------------------------------------------------------------- */

static void test_split_and_windows(void **state)
{
    (void)state;
    struct rn_train_data d = {0};
    struct rn_err e = {0};
    make_data(&d, 1000, 1 << 20);
    assert_int_equal(rn_train_data_split(&d, 0.1, 16, 1, &e), RN_OK);
    assert_int_equal(d.n, 1000);
    assert_int_equal(d.n_train, 900);
    struct rn_rng g;
    rn_rng_seed(&g, 1);
    int32_t w[4 * 17];
    int seen_end = 0;
    for (int rep = 0; rep < 200; rep++) {
        for (int split = 0; split < 2; split++) {
            rn_train_data_windows(&d, split, &g, 4, 16, w);
            for (int b = 0; b < 4; b++) {
                int32_t s = w[b * 17];
                /* consecutive tokens, inside the split */
                for (int k = 1; k < 17; k++)
                    assert_int_equal(w[b * 17 + k], s + k);
                if (split == 0)
                    assert_true(s + 16 < 900);
                else
                    assert_true(s >= 900 && s + 16 < 1000);
                seen_end |= split == 0 && s + 16 == 899;
            }
        }
    }
    assert_true(seen_end); /* the last training token is reachable */
    /* the windows are a function of the generator's state alone */
    struct rn_rng g1, g2;
    int32_t a[4 * 17], b2[4 * 17];
    rn_rng_seed(&g1, 99), rn_rng_seed(&g2, 99);
    rn_train_data_windows(&d, 0, &g1, 4, 16, a);
    rn_train_data_windows(&d, 0, &g2, 4, 16, b2);
    assert_memory_equal(a, b2, sizeof a);
    assert_memory_equal(&g1, &g2, sizeof g1);
    rn_train_data_free(&d);
}

static void test_data_errors(void **state)
{
    (void)state;
    struct rn_train_data d = {0};
    struct rn_err e = {0};
    /* too short for T+1 in the training split */
    make_data(&d, 20, 64);
    assert_int_equal(rn_train_data_split(&d, 0.1, 32, 0, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "need at least T+1 = 33 tokens in the training split"));
    /* held-out split too small only matters when evaluating */
    assert_int_equal(rn_train_data_split(&d, 0.1, 8, 0, &e), RN_OK);
    assert_int_equal(rn_train_data_split(&d, 0.1, 8, 1, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "held-out"));
    rn_train_data_free(&d);
    /* empty */
    assert_int_equal(rn_train_data_split(&d, 0.1, 8, 0, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "no tokens"));
    /* an id >= vocab_size names the record and the position */
    int32_t ids[5] = {1, 2, 3, 64, 4};
    char meta[] = "{}";
    struct rn_record r = record(ids, 5, 3, meta);
    assert_int_equal(rn_train_data_add(&d, &r, 64, "x.rnl", &e), RN_EFORMAT);
    assert_string_equal(e.where, "x.rnl");
    assert_non_null(strstr(e.msg, "record 3: token 3: id 64"));
    ids[3] = -1;
    assert_int_equal(rn_train_data_add(&d, &r, 64, "x.rnl", &e), RN_EFORMAT);
    /* records of another tokenizer are refused */
    ids[3] = 5;
    char m1[] = "{\"tokenizer\":\"runnel-bpe\",\"fingerprint\":\"00000000000000aa\"}";
    char m2[] = "{\"tokenizer\":\"runnel-bpe\",\"fingerprint\":\"00000000000000bb\"}";
    struct rn_record r1 = record(ids, 5, 0, m1), r2 = record(ids, 5, 1, m2);
    rn_train_data_free(&d);
    assert_int_equal(rn_train_data_add(&d, &r1, 64, "x", &e), RN_OK);
    assert_string_equal(d.tokenizer, "runnel-bpe:00000000000000aa");
    assert_int_equal(rn_train_data_add(&d, &r1, 64, "x", &e), RN_OK);
    assert_int_equal(rn_train_data_add(&d, &r2, 64, "x", &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "record 1: made with tokenizer"));
    assert_int_equal(d.n, 10);
    /* other record kinds are skipped */
    struct rn_record t = r1;
    t.kind = RN_KIND_TENSOR;
    assert_int_equal(rn_train_data_add(&d, &t, 64, "x", &e), RN_OK);
    assert_int_equal(d.n, 10);
    rn_train_data_free(&d);
}

/* ---- schedule ------------------------------------------------------------------- */

static void test_schedule_ignores_steps(void **state)
{
    (void)state;
    struct rn_train_config a, b;
    tiny_config(&a);
    b = a;
    a.steps = 4, b.steps = 1000;
    struct rn_lr_schedule sa, sb;
    rn_trainer_schedule(&a, &sa);
    rn_trainer_schedule(&b, &sb);
    for (int64_t it = 0; it < 20; it++)
        assert_true(rn_lr_at(&sa, it) == rn_lr_at(&sb, it));
    /* warmup then cosine to min_lr at lr_decay_iters */
    assert_true(rn_lr_at(&sa, 0) < rn_lr_at(&sa, 1));
    assert_true(fabs(rn_lr_at(&sa, 2) - 0.01) < 1e-12);
    assert_true(fabs(rn_lr_at(&sa, 6) - 0.001) < 1e-12);
    assert_true(fabs(rn_lr_at(&sa, 100) - 0.001) < 1e-12);
    /* and the loop uses it: the rates of a 4-step run are the first four
     * of an 8-step run */
    struct rn_trainer t;
    struct rn_err e = {0};
    double lr4[4];
    assert_int_equal(rn_trainer_init(&t, &a, &shared_data, &e), RN_OK);
    for (int i = 0; i < 4; i++) {
        struct rn_train_event ev;
        assert_int_equal(rn_trainer_step(&t, &ev, &e), RN_OK);
        lr4[i] = ev.lr;
        assert_true(ev.lr == rn_lr_at(&sb, i));
    }
    rn_trainer_free(&t);
    assert_true(lr4[3] < lr4[2]);
}

/* ---- determinism and resume ---------------------------------------------------- */

/* Run cfg from scratch (or from resume) to steps; copy the per-step losses
 * and the final parameters out. */
static void run_to(const struct rn_train_config *cfg0, int64_t steps, const char *resume,
                   const char *out, float *loss, float **params, size_t *np)
{
    struct rn_train_config cfg = *cfg0;
    struct rn_trainer t;
    struct rn_err e = {0};
    cfg.steps = steps;
    assert_int_equal(rn_trainer_init(&t, &cfg, &shared_data, &e), RN_OK);
    if (resume && rn_trainer_load(&t, resume, &e) < 0)
        fail_msg("load: %s: %s", e.where, e.msg);
    t.out_path = out;
    if (rn_trainer_run(&t, &e) < 0)
        fail_msg("run: %s: %s", e.where, e.msg);
    assert_int_equal(t.step, steps);
    assert_int_equal(t.hist_n, steps);
    memcpy(loss, t.hist_loss, sizeof(float) * (size_t)steps);
    if (params) {
        *np = t.lm.n_params;
        *params = malloc(sizeof(float) * *np);
        assert_non_null(*params);
        memcpy(*params, t.lm.params, sizeof(float) * *np);
    }
    rn_trainer_free(&t);
}

static void test_resume_bit_identical(void **state)
{
    (void)state;
    struct rn_train_config cfg;
    tiny_config(&cfg); /* dropout on, evals every 3 steps: both must not matter */
    cfg.grad_accum = 2;
    float full[10], half[10], rest[10];
    float *pf, *pr;
    size_t nf, nr;
    char *ck = tmp_path("half.ckpt"), *ck2 = tmp_path("full.ckpt");
    run_to(&cfg, 10, NULL, ck2, full, &pf, &nf);
    run_to(&cfg, 5, NULL, ck, half, NULL, NULL);
    assert_memory_equal(full, half, sizeof(float) * 5);
    run_to(&cfg, 10, ck, ck, rest, &pr, &nr);
    /* the resumed run carries the first half's curve on */
    assert_memory_equal(full, rest, sizeof full);
    assert_int_equal(nf, nr);
    assert_memory_equal(pf, pr, sizeof(float) * nf);
    /* and the same state: every tensor but the eval curve (the first half
     * ended with an eval of its own) holds the same bytes */
    struct rn_err e = {0};
    struct rn_ckpt a, b;
    assert_int_equal(rn_ckpt_open(&a, ck2, &e), RN_OK);
    assert_int_equal(rn_ckpt_open(&b, ck, &e), RN_OK);
    assert_int_equal(rn_ckpt_count(&a), rn_ckpt_count(&b));
    for (size_t i = 0; i < rn_ckpt_count(&a); i++) {
        const char *name = rn_ckpt_name(&a, i);
        if (!strcmp(name, "train.history.eval"))
            continue;
        struct rn_tensor ta, tb;
        assert_int_equal(rn_ckpt_get(&a, name, &ta, &e), RN_OK);
        if (rn_ckpt_get(&b, name, &tb, &e) < 0)
            fail_msg("%s missing", name);
        assert_int_equal(ta.nbytes, tb.nbytes);
        if (memcmp(ta.data, tb.data, ta.nbytes))
            fail_msg("%s differs", name);
    }
    rn_ckpt_close(&a), rn_ckpt_close(&b);
    free(pf), free(pr);
    unlink(ck), unlink(ck2);
}

static void test_determinism(void **state)
{
    (void)state;
    struct rn_train_config cfg;
    tiny_config(&cfg);
    float a[6], b[6], c[6];
    run_to(&cfg, 6, NULL, NULL, a, NULL, NULL);
    run_to(&cfg, 6, NULL, NULL, b, NULL, NULL);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 6; i++)
        assert_true(isfinite(a[i]) && a[i] > 0);
    cfg.seed = 8;
    run_to(&cfg, 6, NULL, NULL, c, NULL, NULL);
    assert_memory_not_equal(a, c, sizeof a);
    /* the loss goes down on this easy data */
    struct rn_train_config lcfg;
    tiny_config(&lcfg);
    lcfg.dropout = 0, lcfg.lr_decay_iters = 100, lcfg.learning_rate = 0.02;
    lcfg.eval_interval = 0;
    float l[100];
    run_to(&lcfg, 100, NULL, NULL, l, NULL, NULL);
    double last = (l[95] + l[96] + l[97] + l[98] + l[99]) / 5;
    if (!(last < 0.7 * l[0]))
        fail_msg("loss %g -> %g: not learning", l[0], last);
}

/* ---- signals -------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;
static void on_sig(int sig)
{
    (void)sig;
    got_signal = 1;
}

/* After step 3, deliver SIGUSR1 to ourselves, as a user's SIGTERM would
 * arrive: the handler only sets the flag. */
static void raise_at_3(void *ud, const struct rn_trainer *t, const struct rn_train_event *ev)
{
    (void)ud;
    if (ev->kind == RN_TRAIN_STEP && t->step == 3)
        raise(SIGUSR1);
    if (ev->kind == RN_TRAIN_CHECKPOINT)
        (*(int *)ud)++;
}

static void test_stop_flag_saves(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = on_sig}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    struct rn_train_config cfg;
    tiny_config(&cfg);
    cfg.steps = 50;
    struct rn_trainer t;
    struct rn_err e = {0};
    int ckpts = 0;
    char *ck = tmp_path("stop.ckpt");
    unlink(ck);
    got_signal = 0;
    assert_int_equal(rn_trainer_init(&t, &cfg, &shared_data, &e), RN_OK);
    t.out_path = ck, t.stop = &got_signal, t.on_event = raise_at_3, t.ud = &ckpts;
    assert_int_equal(rn_trainer_run(&t, &e), RN_OK);
    assert_int_equal(got_signal, 1);
    assert_int_equal(t.step, 3);
    assert_int_equal(ckpts, 1);
    /* the checkpoint holds step 3, and a new run resumes from it */
    struct rn_ckpt c;
    int64_t step;
    assert_int_equal(rn_ckpt_open(&c, ck, &e), RN_OK);
    assert_int_equal(rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &step, &e), RN_OK);
    assert_int_equal(step, 3);
    rn_ckpt_close(&c);
    rn_trainer_free(&t);
    sigaction(SIGUSR1, &old, NULL);
    unlink(ck);
}

/* ---- checkpoint ------------------------------------------------------------------ */

static void test_checkpoint_contents(void **state)
{
    (void)state;
    struct rn_train_config cfg;
    tiny_config(&cfg);
    cfg.steps = 3;
    struct rn_trainer t;
    struct rn_err e = {0};
    char *ck = tmp_path("c.ckpt");
    assert_int_equal(rn_trainer_init(&t, &cfg, &shared_data, &e), RN_OK);
    t.out_path = ck;
    t.threads = 3;
    assert_int_equal(rn_trainer_run(&t, &e), RN_OK);
    struct rn_ckpt c;
    assert_int_equal(rn_ckpt_open(&c, ck, &e), RN_OK);
    assert_int_equal(rn_ckpt_check_format(&c, &e), RN_OK);
    /* every parameter, its two moments, the biases, the generator, the curves */
    assert_true(rn_ckpt_has(&c, "transformer.wte.weight"));
    assert_true(rn_ckpt_has(&c, "optim.m.transformer.wte.weight"));
    assert_true(rn_ckpt_has(&c, "optim.v.transformer.h.0.attn.kv_proj.weight"));
    assert_true(rn_ckpt_has(&c, "transformer.h.0.mlp.expert_bias"));
    assert_true(rn_ckpt_has(&c, "mtp_heads.0.mlp.expert_bias"));
    assert_true(rn_ckpt_has(&c, "rng.train"));
    assert_true(rn_ckpt_has(&c, "train.history.loss"));
    assert_int_equal(rn_ckpt_count(&c), 3 * (size_t)t.lm.n_tensors + (size_t)t.lm.n_moe + 3);
    int64_t v;
    assert_int_equal(rn_ckpt_meta_int(&c, "threads", &v, &e), RN_OK);
    assert_int_equal(v, 3);
    assert_int_equal(rn_ckpt_meta_int(&c, "data_tokens", &v, &e), RN_OK);
    assert_int_equal(v, 600);
    assert_non_null(strstr(rn_ckpt_meta(&c, RN_CKPT_META_CONFIG), "\"n_layer\": 1"));
    rn_ckpt_close(&c);
    rn_trainer_free(&t);

    /* the config comes back, and a changed model field is refused by name */
    struct rn_train_config back = {0};
    assert_int_equal(rn_cfg_defaults(&rn_train_config_table, &back, &e), RN_OK);
    assert_int_equal(rn_trainer_ckpt_config(ck, &back, &e), RN_OK);
    assert_int_equal(back.n_embd, 16);
    assert_int_equal(back.steps, 3);
    back.n_head = 4;
    assert_int_equal(rn_trainer_init(&t, &back, &shared_data, &e), RN_OK);
    assert_int_equal(rn_trainer_load(&t, ck, &e), RN_EUSAGE);
    assert_non_null(strstr(e.msg, "n_head is 4 here but 2 in the checkpoint"));
    rn_trainer_free(&t);
    /* a training field may change; the state resumes at step 3 */
    back.n_head = 2;
    back.batch_size = 3;
    assert_int_equal(rn_trainer_init(&t, &back, &shared_data, &e), RN_OK);
    assert_int_equal(rn_trainer_load(&t, ck, &e), RN_OK);
    assert_int_equal(t.step, 3);
    assert_int_equal(t.resumed_threads, 3);
    assert_true(t.resumed_same_data);
    rn_trainer_free(&t);
    unlink(ck);
    /* not a runnel checkpoint */
    assert_true(rn_trainer_ckpt_config("/nonexistent/x.ckpt", &back, &e) < 0);
}

/* Data of one tokenizer, as records name it. */
static void named_data(struct rn_train_data *d, const char *fp)
{
    int32_t ids[300];
    char meta[128];
    for (int i = 0; i < 300; i++)
        ids[i] = (i * 7) % 64;
    snprintf(meta, sizeof meta, "{\"tokenizer\":\"runnel-bpe\",\"fingerprint\":\"%s\"}", fp);
    struct rn_record r = record(ids, 300, 0, meta);
    struct rn_err e = {0};
    memset(d, 0, sizeof *d);
    assert_int_equal(rn_train_data_add(d, &r, 64, "t", &e), RN_OK);
    assert_int_equal(rn_train_data_split(d, 0.2, 8, 1, &e), RN_OK);
}

static void test_resume_tokenizer(void **state)
{
    (void)state;
    struct rn_train_config cfg;
    tiny_config(&cfg);
    cfg.steps = 1;
    struct rn_train_data a, b;
    named_data(&a, "00000000000000aa");
    named_data(&b, "00000000000000bb");
    struct rn_trainer t;
    struct rn_err e = {0};
    char *ck = tmp_path("tok.ckpt");
    assert_int_equal(rn_trainer_init(&t, &cfg, &a, &e), RN_OK);
    assert_int_equal(rn_trainer_set_tokenizer(&t, NULL, "tok.json", "{\"x\": 1}", &e), RN_OK);
    t.out_path = ck;
    assert_int_equal(rn_trainer_run(&t, &e), RN_OK);
    rn_trainer_free(&t);
    /* the same vocabulary resumes and keeps the embedded tokenizer */
    assert_int_equal(rn_trainer_init(&t, &cfg, &a, &e), RN_OK);
    assert_int_equal(rn_trainer_load(&t, ck, &e), RN_OK);
    assert_non_null(t.tok_json);
    assert_string_equal(t.tok_json, "{\"x\": 1}");
    assert_string_equal(t.tok_path, "tok.json");
    rn_trainer_free(&t);
    /* another vocabulary's ids are refused */
    assert_int_equal(rn_trainer_init(&t, &cfg, &b, &e), RN_OK);
    assert_int_equal(rn_trainer_load(&t, ck, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "trained with tokenizer runnel-bpe:00000000000000aa, but the "
                                  "data is of tokenizer runnel-bpe:00000000000000bb"));
    rn_trainer_free(&t);
    rn_train_data_free(&a), rn_train_data_free(&b);
    unlink(ck);
}

static void test_output_probe(void **state)
{
    (void)state;
    struct rn_err e = {0};
    assert_int_equal(rn_trainer_check_output(tmp_path("probe.ckpt"), &e), RN_OK);
    assert_int_not_equal(access(tmp_path("probe.ckpt"), F_OK), 0); /* nothing left behind */
    assert_true(rn_trainer_check_output("/nonexistent-dir/x.ckpt", &e) < 0);
    assert_non_null(strstr(e.where, "nonexistent-dir"));
}

static void test_plot(void **state)
{
    (void)state;
    float train[100], eval[4 * 2];
    for (int i = 0; i < 100; i++)
        train[i] = 5.0f * expf(-i / 30.0f) + 1.0f + 0.1f * (float)(i % 3);
    for (int i = 0; i < 4; i++)
        eval[2 * i] = 25.0f * (i + 1), eval[2 * i + 1] = train[25 * i + 24] + 0.2f;
    struct rn_err e = {0};
    char *p = tmp_path("loss.png");
    assert_int_equal(rn_train_plot(p, train, 100, eval, 4, 400, 300, &e), RN_OK);
    struct rn_image im;
    assert_int_equal(rn_image_read(p, &im, &e), RN_OK);
    assert_int_equal(im.w, 400);
    assert_int_equal(im.h, 300);
    /* the curve's blue and the eval orange are both on the canvas */
    int blue = 0, orange = 0;
    for (int i = 0; i < im.w * im.h; i++) {
        const uint8_t *q = im.data + (size_t)i * im.c;
        blue += q[0] == 31 && q[1] == 100 && q[2] == 180;
        orange += q[0] == 230 && q[1] == 110 && q[2] == 20;
    }
    assert_true(blue > 100);
    assert_true(orange > 20);
    rn_image_free(&im);
    /* empty and flat curves still make a picture */
    assert_int_equal(rn_train_plot(p, NULL, 0, NULL, 0, 200, 150, &e), RN_OK);
    float flat[3] = {2, 2, 2};
    assert_int_equal(rn_train_plot(p, flat, 3, NULL, 0, 200, 150, &e), RN_OK);
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_and_windows),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_schedule_ignores_steps),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_stop_flag_saves),
        cmocka_unit_test(test_checkpoint_contents),
        cmocka_unit_test(test_resume_tokenizer),
        cmocka_unit_test(test_output_probe),
        cmocka_unit_test(test_plot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
