/* Unit tests for libcore/genq, the continuous-batching scheduler: its
 * tokens against a plain sequential loop over lm_decode.h and sample.h
 * (greedy, one job and five jobs through two slots with chunked prefill;
 * seeded sampling alone and in company), the ends of a job (max_tokens,
 * block_size, stop strings taken incrementally, end-of-text and
 * ignore_eos), the waiting limit, cancellation (client release,
 * rn_genq_cancel_all, rn_genq_stop in flight), rn_job_want_wake's
 * one-shot arming, and rn_genq_stats.
 *
 * The model is a tiny random one (weights scaled to N(0, 0.1) so logits
 * are peaked and greedy ties cannot occur by accident) over a byte-level
 * tokenizer: ids 0..255 are the bytes, 256.. the built-in specials, so
 * "<|endoftext|>" and "</|story|>" end a job.
 *
 * Waiting is by wake callback and condition variable with a 10 s timeout,
 * so a scheduler bug fails the test instead of hanging it. Where a test
 * needs the scheduler held still (a job surely running, exact counts), a
 * "gated" wake function blocks the scheduler thread inside a job's first
 * wake until the test opens the gate: deterministic, no sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "bpe.h"
#include "genq.h"
#include "lm.h"
#include "lm_decode.h"
#include "rng.h"
#include "sample.h"

#define BLOCK 512
#define TIMEOUT_S 10

static struct rn_lm M;
static struct rn_bpe B;
static int32_t EOS_A, EOS_B; /* "</|story|>", "<|endoftext|>" */

/* ---- fixture -------------------------------------------------------------- */

static int setup(void **state)
{
    struct rn_err e = {0};
    const unsigned char *tok[256];
    uint32_t len[256];
    static unsigned char bytes[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (unsigned char)i;
        tok[i] = &bytes[i];
        len[i] = 1;
    }
    if (rn_bpe_build(&B, 256, tok, len, "test", &e) < 0 || rn_bpe_add_builtin_specials(&B, &e) < 0)
        return -1;
    EOS_A = rn_bpe_special_id(&B, RN_BPE_STORY_END, strlen(RN_BPE_STORY_END));
    EOS_B = rn_bpe_special_id(&B, RN_BPE_EOT, strlen(RN_BPE_EOT));
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    c.vocab_size = B.n_vocab, c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = BLOCK;
    c.kv_lora_rank = 6, c.q_lora_rank = 5, c.rope_dim = 4, c.n_experts = 3;
    c.n_experts_per_token = 2, c.expert_intermediate_size = 10;
    c.shared_expert_intermediate_size = 12, c.dropout = 0.0f;
    if (rn_lm_init(&M, &c, 1, 8, 0, &e) < 0)
        return -1;
    struct rn_rng g;
    rn_rng_seed(&g, 5);
    rn_lm_init_weights(&M, &g);
    for (size_t i = 0; i < M.n_params; i++)
        M.params[i] *= 5.0f;
    return 0;
}

static int teardown(void **state)
{
    rn_lm_free(&M);
    rn_bpe_free(&B);
    return 0;
}

/* ---- waiting -------------------------------------------------------------- */

/* A wake target: counts calls and signals; a gated one also holds the
 * scheduler thread in the call until gate_open (or the timeout). */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls, gated, open;
};

static void waiter_init(struct waiter *w, int gated)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->calls = 0, w->gated = gated, w->open = 0;
}

static void waiter_free(struct waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static struct timespec deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += TIMEOUT_S;
    return ts;
}

static void wake_fn(void *arg)
{
    struct waiter *w = arg;
    struct timespec ts = deadline();
    pthread_mutex_lock(&w->mu);
    w->calls++;
    pthread_cond_broadcast(&w->cv);
    while (w->gated && !w->open)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break; /* the test has failed already; let the scheduler go */
    pthread_mutex_unlock(&w->mu);
}

static int calls(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->calls;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* Wait until w has been called more than `seen` times; fail on timeout. */
static void wait_calls(struct waiter *w, int seen)
{
    struct timespec ts = deadline();
    int timed_out = 0;
    pthread_mutex_lock(&w->mu);
    while (w->calls <= seen && !timed_out)
        timed_out = pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT;
    int ok = w->calls > seen;
    pthread_mutex_unlock(&w->mu);
    if (!ok)
        fail_msg("timed out after %d s waiting for a wake", TIMEOUT_S);
}

static void gate_open(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    w->open = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* ---- jobs ----------------------------------------------------------------- */

struct outcome {
    struct rn_bpe_bytes text;     /* everything taken, in order */
    char finish[16];
    int prompt_tokens, completion_tokens;
    int32_t ids[BLOCK];
    int n_ids;
    int armings;                  /* times want_wake armed (returned 0) */
    size_t max_seen;              /* largest text length taken before done */
};

static struct rn_job_request request(const int32_t *ids, int n, int max_tokens)
{
    struct rn_job_request r;
    memset(&r, 0, sizeof r);
    r.ids = ids, r.n_ids = n, r.max_tokens = max_tokens;
    r.sp = RN_SAMPLE_DEFAULTS;
    r.sp.temperature = 0.0f;
    return r;
}

static struct rn_job *new_job(const struct rn_job_request *r, struct waiter *w)
{
    struct rn_job *j;
    struct rn_err e = {0};
    assert_int_equal(rn_job_new(&j, r, &e), RN_OK);
    if (w)
        rn_job_set_wake(j, wake_fn, w);
    return j;
}

static void submit_ok(struct rn_genq *q, struct rn_job *j)
{
    struct rn_err e = {0};
    assert_int_equal(rn_genq_submit(q, j, &e), RN_OK);
}

/* Arm j's wake for the end only (before submitting, so it cannot be late). */
static void arm_end(struct rn_job *j)
{
    rn_job_lock(j);
    int r = rn_job_want_wake(j, 1);
    rn_job_unlock(j);
    assert_int_equal(r, 0);
}

/* Take j's text as it comes until done, arming w each time nothing is
 * final. Every answer of want_wake is checked against what take then
 * gives: 1 means bytes or the end are there, 0 means neither. */
static void follow(struct rn_job *j, struct waiter *w, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    struct rn_err e = {0};
    for (;;) {
        const char *p;
        int done;
        rn_job_lock(j);
        int ready = rn_job_want_wake(j, 0);
        size_t n = rn_job_take(j, &p, &done);
        int appended = rn_bpe_bytes_append(&o->text, p, n, &e);
        int seen = calls(w);
        if (done) {
            struct rn_job_result r;
            rn_job_result(j, &r);
            snprintf(o->finish, sizeof o->finish, "%s", r.finish);
            o->prompt_tokens = r.prompt_tokens, o->completion_tokens = r.completion_tokens;
            o->n_ids = r.n_ids;
            if (r.n_ids <= BLOCK)
                memcpy(o->ids, r.ids, sizeof(int32_t) * (size_t)r.n_ids);
        } else if (o->text.n > o->max_seen)
            o->max_seen = o->text.n;
        rn_job_unlock(j);
        assert_int_equal(appended, RN_OK);
        if (ready)
            assert_true(n > 0 || done);
        else
            assert_true(n == 0 && !done);
        if (done)
            break;
        if (!ready) {
            o->armings++;
            wait_calls(w, seen);
        }
    }
    assert_true(o->n_ids <= BLOCK);
}

static void outcome_free(struct outcome *o) { rn_bpe_bytes_free(&o->text); }

/* ---- the reference: one sequence, lm_decode + sample, no scheduler --------- */

struct ref {
    int32_t ids[BLOCK];
    int n_ids, n_new;
    const char *finish;
    struct rn_bpe_bytes text;     /* the completion's bytes */
};

static int is_eos(int32_t t) { return t == EOS_A || t == EOS_B; }

static void ref_run(const struct rn_job_request *r, struct ref *out)
{
    struct rn_lm_decoder d;
    struct rn_sampler s;
    struct rn_rng g;
    struct rn_err e = {0};
    const float *lg;
    int slot = 0;
    memset(out, 0, sizeof *out);
    assert_int_equal(rn_lm_decoder_init(&d, &M, 1, BLOCK, BLOCK, 0, &e), RN_OK);
    assert_int_equal(rn_sampler_init(&s, M.cfg.vocab_size, &e), RN_OK);
    rn_rng_seed(&g, r->seed);
    memcpy(out->ids, r->ids, sizeof(int32_t) * (size_t)r->n_ids);
    out->n_ids = r->n_ids;
    assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, out->ids, r->n_ids, NULL, RN_DEC_LAST, &lg, &e),
                     RN_OK);
    for (;;) {
        int32_t t = rn_sample(&s, &r->sp, lg, out->ids, out->n_ids, &g);
        if (is_eos(t) && !r->ignore_eos) {
            out->finish = "stop";
            break;
        }
        out->ids[out->n_ids++] = t;
        out->n_new++;
        if (out->n_new >= r->max_tokens || out->n_ids >= BLOCK) {
            out->finish = "length";
            break;
        }
        assert_int_equal(rn_lm_decode(&d, 0, &slot, 1, &t, 1, NULL, RN_DEC_LAST, &lg, &e), RN_OK);
    }
    assert_int_equal(rn_bpe_decode(&B, out->ids + r->n_ids, (size_t)out->n_new, &out->text, &e),
                     RN_OK);
    rn_sampler_free(&s);
    rn_lm_decoder_free(&d);
}

/* The scheduler's outcome is exactly the reference's. */
static void expect_ref(const struct outcome *o, const struct ref *rf, int n_prompt)
{
    assert_string_equal(o->finish, rf->finish);
    assert_int_equal(o->prompt_tokens, n_prompt);
    assert_int_equal(o->completion_tokens, rf->n_new);
    assert_int_equal(o->n_ids, rf->n_ids);
    assert_memory_equal(o->ids, rf->ids, sizeof(int32_t) * (size_t)rf->n_ids);
    assert_int_equal(o->text.n, rf->text.n);
    if (rf->text.n)
        assert_memory_equal(o->text.v, rf->text.v, rf->text.n);
}

static void random_prompt(int32_t *ids, int n, uint64_t seed)
{
    struct rn_rng g;
    rn_rng_seed(&g, seed);
    for (int i = 0; i < n; i++)
        ids[i] = (int32_t)rn_rng_below(&g, 256);
}

static struct rn_genq *start(int slots, int queue)
{
    struct rn_genq *q;
    struct rn_err e = {0};
    assert_int_equal(rn_genq_start(&q, &M, &B, slots, queue, &e), RN_OK);
    return q;
}

/* Poll until the scheduler has released every slot (a job's end is
 * signalled before its slot is freed). */
static void wait_idle(struct rn_genq *q, struct rn_genq_stats *s)
{
    double until = (double)time(NULL) + TIMEOUT_S;
    for (;;) {
        rn_genq_stats(q, s);
        if (s->active == 0 && s->waiting == 0)
            return;
        if ((double)time(NULL) > until)
            fail_msg("scheduler still busy after %d s", TIMEOUT_S);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- against the reference ------------------------------------------------ */

static void test_greedy_one(void **state)
{
    int32_t prompt[10];
    random_prompt(prompt, 10, 1);
    struct rn_job_request r = request(prompt, 10, 60);
    struct ref rf;
    ref_run(&r, &rf);
    assert_true(rf.n_new > 20); /* a real run, not an immediate end-of-text */
    struct rn_genq *q = start(1, 0);
    struct waiter w;
    waiter_init(&w, 0);
    struct rn_job *j = new_job(&r, &w);
    submit_ok(q, j);
    struct outcome o;
    follow(j, &w, &o);
    expect_ref(&o, &rf, 10);
    assert_int_equal(calls(&w), o.armings); /* one call per arming */
    rn_job_release(j);
    rn_genq_stop(q);
    outcome_free(&o);
    rn_bpe_bytes_free(&rf.text);
    waiter_free(&w);
}

/* Five prompts, three longer than one 64-row prefill chunk, through two
 * slots and a queue: each job's tokens are its own sequential run's. */
static void test_greedy_batch(void **state)
{
    enum { N = 5 };
    static const int lens[N] = {3, 150, 70, 1, 129};
    static const int maxt[N] = {40, 25, 60, 33, 20};
    int32_t prompt[N][160];
    struct rn_job_request r[N];
    struct ref rf[N];
    struct waiter w[N];
    struct rn_job *j[N];
    struct outcome o[N];
    uint64_t want_prompt = 0, want_gen = 0;
    for (int i = 0; i < N; i++) {
        random_prompt(prompt[i], lens[i], 10 + (uint64_t)i);
        r[i] = request(prompt[i], lens[i], maxt[i]);
        ref_run(&r[i], &rf[i]);
        print_message("prompt %3d ids: %2d new, %s\n", lens[i], rf[i].n_new, rf[i].finish);
        want_prompt += (uint64_t)lens[i], want_gen += (uint64_t)rf[i].n_new;
    }
    assert_true(want_gen >= 100);
    struct rn_genq *q = start(2, 8);
    for (int i = 0; i < N; i++) {
        waiter_init(&w[i], 0);
        j[i] = new_job(&r[i], &w[i]);
    }
    for (int i = 0; i < N; i++)
        submit_ok(q, j[i]);
    for (int i = 0; i < N; i++) {
        follow(j[i], &w[i], &o[i]);
        expect_ref(&o[i], &rf[i], lens[i]);
    }
    struct rn_genq_stats s;
    wait_idle(q, &s);
    assert_int_equal(s.prompt_tokens, want_prompt);
    assert_int_equal(s.generated_tokens, want_gen);
    for (int i = 0; i < N; i++) {
        rn_job_release(j[i]);
        outcome_free(&o[i]);
        rn_bpe_bytes_free(&rf[i].text);
        waiter_free(&w[i]);
    }
    rn_genq_stop(q);
}

static struct rn_job_request sampled(const int32_t *ids, int n, int max_tokens, uint64_t seed)
{
    struct rn_job_request r = request(ids, n, max_tokens);
    r.sp.temperature = 1.3f, r.sp.top_k = 40, r.sp.top_p = 0.95f;
    r.sp.repetition_penalty = 1.1f;
    r.seed = seed;
    return r;
}

/* The same seeded job alone and among three others (sharing the decode
 * batches, before and after it in the slots) gives the same text, and
 * that text is the sequential reference's. */
static void test_sampling_seeded(void **state)
{
    int32_t prompt[4][80];
    struct rn_job_request r[4];
    for (int i = 0; i < 4; i++)
        random_prompt(prompt[i], 20 + 20 * i, 30 + (uint64_t)i);
    r[0] = sampled(prompt[0], 20, 50, 1234);
    for (int i = 1; i < 4; i++)
        r[i] = sampled(prompt[i], 20 + 20 * i, 30 + 10 * i, 99 + (uint64_t)i);
    struct ref rf;
    ref_run(&r[0], &rf);
    assert_true(rf.n_new > 10);
    struct rn_genq *q = start(4, 4);
    struct waiter w[4];
    struct rn_job *j[4];
    struct outcome alone, crowd[4];
    waiter_init(&w[0], 0);
    j[0] = new_job(&r[0], &w[0]);
    submit_ok(q, j[0]);
    follow(j[0], &w[0], &alone);
    rn_job_release(j[0]);
    waiter_free(&w[0]);
    expect_ref(&alone, &rf, 20);
    /* again, with others in the slots before and after it */
    const int order[4] = {1, 2, 0, 3};
    for (int k = 0; k < 4; k++) {
        int i = order[k];
        waiter_init(&w[i], 0);
        j[i] = new_job(&r[i], &w[i]);
        submit_ok(q, j[i]);
    }
    for (int i = 0; i < 4; i++)
        follow(j[i], &w[i], &crowd[i]);
    assert_int_equal(crowd[0].text.n, alone.text.n);
    assert_memory_equal(crowd[0].text.v, alone.text.v, alone.text.n);
    assert_int_equal(crowd[0].n_ids, alone.n_ids);
    assert_memory_equal(crowd[0].ids, alone.ids, sizeof(int32_t) * (size_t)alone.n_ids);
    /* another seed, another text: the seed is really used */
    struct ref other;
    struct rn_job_request r2 = r[0];
    r2.seed = 1235;
    ref_run(&r2, &other);
    assert_false(other.n_ids == rf.n_ids &&
                 memcmp(other.ids, rf.ids, sizeof(int32_t) * (size_t)rf.n_ids) == 0);
    for (int i = 0; i < 4; i++) {
        rn_job_release(j[i]);
        outcome_free(&crowd[i]);
        waiter_free(&w[i]);
    }
    rn_genq_stop(q);
    outcome_free(&alone);
    rn_bpe_bytes_free(&rf.text);
    rn_bpe_bytes_free(&other.text);
}

/* ---- how a job ends ------------------------------------------------------- */

/* max_tokens: "length" after exactly that many; the block size also ends
 * a job with "length" (prompt + completion = block_size). */
static void test_max_tokens(void **state)
{
    static int32_t prompt[BLOCK];
    random_prompt(prompt, BLOCK, 3);
    struct rn_genq *q = start(2, 2);
    const int maxt[3] = {1, 17, 100};
    const int plen[3] = {5, 9, BLOCK - 7};
    for (int k = 0; k < 3; k++) {
        struct rn_job_request r = request(prompt, plen[k], maxt[k]);
        r.ignore_eos = 1;
        struct waiter w;
        waiter_init(&w, 0);
        struct rn_job *j = new_job(&r, &w);
        submit_ok(q, j);
        struct outcome o;
        follow(j, &w, &o);
        int want = plen[k] + maxt[k] <= BLOCK ? maxt[k] : BLOCK - plen[k];
        assert_string_equal(o.finish, "length");
        assert_int_equal(o.completion_tokens, want);
        assert_int_equal(o.n_ids, plen[k] + want);
        rn_job_release(j);
        outcome_free(&o);
        waiter_free(&w);
    }
    rn_genq_stop(q);
}

/* Stop strings: the job ends "stop" with the text cut before the first
 * occurrence of any of them, and what was taken along the way (woken for
 * every piece) never went past that cut. The stop strings are pieces of
 * the greedy reference's own text, found after it is generated. */
static void test_stop_strings(void **state)
{
    int32_t prompt[12];
    random_prompt(prompt, 12, 7);
    struct rn_job_request r = request(prompt, 12, 200);
    r.ignore_eos = 1;
    struct ref rf;
    ref_run(&r, &rf);
    assert_true(rf.text.n >= 150);
    const char *t = (const char *)rf.text.v;
    const size_t at[3][2] = {{100, 4}, {60, 1}, {40, 7}}; /* offset, length into the text */
    for (int k = 0; k < 3; k++) {
        /* the stop string, and the first place it occurs */
        char stop[8], never[8];
        size_t L = at[k][1];
        memcpy(stop, t + at[k][0], L);
        stop[L] = 0;
        if (memchr(stop, 0, L)) /* a NUL byte cannot be in a C string: skip */
            continue;
        const char *first = memmem(t, rf.text.n, stop, L);
        assert_non_null(first);
        size_t cut = (size_t)(first - t);
        /* a second string that never occurs, no longer than the first so
         * that what is held back is exactly what the real one needs */
        memset(never, '\x01', sizeof never);
        never[L > 1 ? L : 1] = 0;
        struct rn_job_request rs = r;
        rs.stop[0] = never, rs.stop[1] = stop, rs.nstop = 2;
        struct rn_genq *q = start(1, 0);
        struct waiter w;
        waiter_init(&w, 0);
        struct rn_job *j = new_job(&rs, &w);
        submit_ok(q, j);
        struct outcome o;
        follow(j, &w, &o);
        print_message("stop string of %zu bytes: cut at %zu, %d wakes, %zu taken before the end\n",
                      L, cut, o.armings, o.max_seen);
        assert_string_equal(o.finish, "stop");
        assert_true(o.max_seen <= cut);
        assert_int_equal(o.text.n, cut);
        assert_memory_equal(o.text.v, t, cut);
        rn_job_release(j);
        rn_genq_stop(q);
        outcome_free(&o);
        waiter_free(&w);
    }
    rn_bpe_bytes_free(&rf.text);
}

/* End of text: a sampled job that meets "</|story|>" or "<|endoftext|>"
 * ends there ("stop", the id neither counted nor in the text); the same
 * job with ignore_eos goes on through it to max_tokens, its text holding
 * the special token's text. The seed is searched (deterministically) for
 * a run that meets end-of-text early. */
static void test_eos_and_ignore_eos(void **state)
{
    int32_t prompt[8];
    random_prompt(prompt, 8, 17);
    struct rn_job_request r = sampled(prompt, 8, 120, 0);
    r.sp.temperature = 3.0f, r.sp.top_k = 0, r.sp.top_p = 1.0f, r.sp.repetition_penalty = 1.0f;
    r.ignore_eos = 1;
    struct ref rf;
    int k = -1;
    for (uint64_t seed = 1; seed < 200 && k < 0; seed++) {
        r.seed = seed;
        ref_run(&r, &rf);
        for (int i = 8; i < rf.n_ids - 10 && k < 0; i++)
            if (is_eos(rf.ids[i]))
                k = i - 8;
        if (k < 0)
            rn_bpe_bytes_free(&rf.text);
    }
    assert_true(k >= 0);
    print_message("seed %llu meets end-of-text after %d tokens\n", (unsigned long long)r.seed, k);
    struct rn_genq *q = start(2, 2);
    struct waiter w[2];
    struct rn_job *j[2];
    struct outcome o[2];
    struct rn_job_request stops = r;
    stops.ignore_eos = 0;
    waiter_init(&w[0], 0);
    waiter_init(&w[1], 0);
    j[0] = new_job(&stops, &w[0]);
    j[1] = new_job(&r, &w[1]);
    submit_ok(q, j[0]);
    submit_ok(q, j[1]);
    follow(j[0], &w[0], &o[0]);
    follow(j[1], &w[1], &o[1]);
    /* ended at the end-of-text id */
    assert_string_equal(o[0].finish, "stop");
    assert_int_equal(o[0].completion_tokens, k);
    assert_int_equal(o[0].n_ids, 8 + k);
    assert_memory_equal(o[0].ids, rf.ids, sizeof(int32_t) * (size_t)(8 + k));
    struct rn_bpe_bytes want = {0};
    struct rn_err e = {0};
    assert_int_equal(rn_bpe_decode(&B, rf.ids + 8, (size_t)k, &want, &e), RN_OK);
    assert_int_equal(o[0].text.n, want.n);
    if (want.n)
        assert_memory_equal(o[0].text.v, want.v, want.n);
    /* went through it */
    expect_ref(&o[1], &rf, 8);
    assert_string_equal(o[1].finish, "length");
    assert_int_equal(o[1].completion_tokens, 120);
    const char *special = rf.ids[8 + k] == EOS_A ? RN_BPE_STORY_END : RN_BPE_EOT;
    assert_non_null(memmem(o[1].text.v, o[1].text.n, special, strlen(special)));
    for (int i = 0; i < 2; i++) {
        rn_job_release(j[i]);
        outcome_free(&o[i]);
        waiter_free(&w[i]);
    }
    rn_genq_stop(q);
    rn_bpe_bytes_free(&want);
    rn_bpe_bytes_free(&rf.text);
}

/* ---- the queue ------------------------------------------------------------ */

/* A long job whose first wake holds the scheduler: it surely occupies a
 * slot until the gate opens. */
static struct rn_job *long_job(const int32_t *prompt, struct waiter *gate)
{
    struct rn_job_request r = request(prompt, 5, BLOCK);
    r.ignore_eos = 1;
    struct rn_job *j = new_job(&r, gate);
    rn_job_lock(j);
    int ready = rn_job_want_wake(j, 0);
    rn_job_unlock(j);
    assert_int_equal(ready, 0);
    return j;
}

/* slots = 1, queue = 1: with one job running, a second waits, a third is
 * refused (RN_ELIMIT); raising the queue to 2 lets one more in. The
 * waiting ones then run once the running one is released. */
static void test_queue_limit(void **state)
{
    int32_t prompt[5];
    random_prompt(prompt, 5, 2);
    struct rn_genq *q = start(1, 1);
    struct waiter gate, w[2];
    waiter_init(&gate, 1);
    struct rn_job *run = long_job(prompt, &gate);
    submit_ok(q, run);
    wait_calls(&gate, 0); /* the scheduler is now held inside run's first token */
    struct rn_job_request r = request(prompt, 5, 10);
    struct rn_job *a, *b, *c, *d;
    struct rn_err e = {0};
    waiter_init(&w[0], 0);
    waiter_init(&w[1], 0);
    a = new_job(&r, &w[0]);
    b = new_job(&r, NULL);
    c = new_job(&r, &w[1]);
    d = new_job(&r, NULL);
    submit_ok(q, a);
    assert_int_equal(rn_genq_submit(q, b, &e), RN_ELIMIT);
    struct rn_genq_stats s;
    rn_genq_stats(q, &s);
    assert_int_equal(s.active, 1);
    assert_int_equal(s.waiting, 1);
    rn_genq_set_queue(q, 2);
    submit_ok(q, c);
    assert_int_equal(rn_genq_submit(q, d, &e), RN_ELIMIT);
    rn_genq_stats(q, &s);
    assert_int_equal(s.waiting, 2);
    /* lowering the limit keeps the waiting ones but refuses more */
    rn_genq_set_queue(q, 0);
    assert_int_equal(rn_genq_submit(q, d, &e), RN_ELIMIT);
    rn_genq_stats(q, &s);
    assert_int_equal(s.waiting, 2);
    gate_open(&gate);
    rn_job_release(run); /* cancels it: the waiting ones get the slot */
    struct outcome o[2];
    follow(a, &w[0], &o[0]);
    follow(c, &w[1], &o[1]);
    for (int i = 0; i < 2; i++)
        assert_int_equal(o[i].prompt_tokens, 5);
    rn_job_release(a), rn_job_release(b), rn_job_release(c), rn_job_release(d);
    rn_genq_stop(q);
    for (int i = 0; i < 2; i++) {
        outcome_free(&o[i]);
        waiter_free(&w[i]);
    }
    waiter_free(&gate);
}

/* ---- cancellation --------------------------------------------------------- */

/* Two slots, both taken by long jobs, one job waiting. Releasing the
 * client's reference to one running job cancels it and frees its slot:
 * the waiting job is admitted and finishes while the other long job is
 * still running, and the cancelled one stopped far short of its limit. */
static void test_release_frees_slot(void **state)
{
    int32_t prompt[5];
    random_prompt(prompt, 5, 4);
    struct rn_genq *q = start(2, 4);
    struct waiter gate, wb;
    waiter_init(&gate, 1);
    waiter_init(&wb, 0);
    struct rn_job_request lr = request(prompt, 5, BLOCK);
    lr.ignore_eos = 1;
    struct rn_job *victim = new_job(&lr, NULL);
    struct rn_job *keeper = long_job(prompt, &gate);
    submit_ok(q, victim);
    submit_ok(q, keeper);
    wait_calls(&gate, 0); /* the scheduler is held inside keeper's first token */
    struct rn_job_request br = request(prompt, 5, 20);
    br.ignore_eos = 1;
    struct rn_job *waiting = new_job(&br, &wb);
    submit_ok(q, waiting);
    struct rn_genq_stats s;
    rn_genq_stats(q, &s);
    assert_int_equal(s.active, 2);
    assert_int_equal(s.waiting, 1);
    rn_job_release(victim); /* the scheduler holds only keeper's lock now */
    gate_open(&gate);
    struct outcome o;
    follow(waiting, &wb, &o);
    assert_string_equal(o.finish, "length");
    assert_int_equal(o.completion_tokens, 20);
    /* keeper (BLOCK - 5 tokens to go) is still running */
    rn_job_lock(keeper);
    int keeper_ended = rn_job_want_wake(keeper, 1);
    rn_job_unlock(keeper);
    assert_int_equal(keeper_ended, 0);
    struct outcome ok;
    follow(keeper, &gate, &ok); /* the gate, once open, is a plain waiter */
    assert_string_equal(ok.finish, "length");
    assert_int_equal(ok.completion_tokens, BLOCK - 5);
    wait_idle(q, &s);
    uint64_t victim_tokens = s.generated_tokens - 20 - (BLOCK - 5);
    print_message("the released job generated %llu tokens\n", (unsigned long long)victim_tokens);
    assert_true(victim_tokens < 50);
    rn_job_release(waiting);
    rn_job_release(keeper);
    rn_genq_stop(q);
    outcome_free(&o);
    outcome_free(&ok);
    waiter_free(&gate);
    waiter_free(&wb);
}

struct cancel_arg {
    struct rn_genq *q;
    int stop;                     /* rn_genq_stop instead of rn_genq_cancel_all */
};

static void *cancel_thread(void *arg)
{
    struct cancel_arg *c = arg;
    if (c->stop)
        rn_genq_stop(c->q);
    else
        rn_genq_cancel_all(c->q);
    return NULL;
}

/* One job running (held at its first token), four waiting; cancel_all (or
 * stop) from another thread ends the waiting ones at once, then - once the
 * scheduler lets go of the running one - that one too: every job ends
 * "cancelled" and is woken exactly once (armed for the end). After
 * cancel_all, submissions are refused with RN_EUSAGE. */
static void cancel_everything(int stop)
{
    enum { N = 5 };
    int32_t prompt[5];
    random_prompt(prompt, 5, 6);
    struct rn_genq *q = start(2, 8);
    struct waiter w[N];
    struct rn_job *j[N];
    struct rn_job_request r = request(prompt, 5, BLOCK);
    r.ignore_eos = 1;
    waiter_init(&w[0], 1);
    j[0] = long_job(prompt, &w[0]);
    submit_ok(q, j[0]);
    wait_calls(&w[0], 0); /* the scheduler is held inside j[0]'s first token */
    for (int i = 1; i < N; i++) {
        waiter_init(&w[i], 0);
        j[i] = new_job(&r, &w[i]);
        arm_end(j[i]);
        submit_ok(q, j[i]);
    }
    struct rn_genq_stats s;
    rn_genq_stats(q, &s);
    assert_int_equal(s.active, 1);
    assert_int_equal(s.waiting, N - 1);
    pthread_t th;
    struct cancel_arg ca = {q, stop};
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &ca), 0);
    for (int i = 1; i < N; i++)
        wait_calls(&w[i], 0);
    gate_open(&w[0]);
    pthread_join(th, NULL);
    if (!stop) {
        struct rn_job *late = new_job(&r, NULL);
        struct rn_err e = {0};
        assert_int_equal(rn_genq_submit(q, late, &e), RN_EUSAGE);
        rn_job_release(late);
        wait_idle(q, &s);
        assert_int_equal(s.prompt_tokens, 5); /* only the running one was read */
    }
    for (int i = 0; i < N; i++) {
        const char *p;
        int done;
        struct rn_job_result res;
        rn_job_lock(j[i]);
        rn_job_take(j[i], &p, &done);
        rn_job_result(j[i], &res);
        int ended = rn_job_want_wake(j[i], 1);
        char finish[16];
        snprintf(finish, sizeof finish, "%s", res.finish);
        rn_job_unlock(j[i]);
        if (i == 0 && !stop && !ended) { /* the scheduler ends it at its next turn */
            wait_calls(&w[0], 1);         /* armed for the end just above */
            rn_job_lock(j[0]);
            rn_job_take(j[0], &p, &done);
            rn_job_result(j[0], &res);
            snprintf(finish, sizeof finish, "%s", res.finish);
            ended = rn_job_want_wake(j[0], 1);
            rn_job_unlock(j[0]);
        }
        assert_true(ended);
        assert_true(done);
        assert_string_equal(finish, "cancelled");
        assert_true(res.completion_tokens < 50);
        if (i > 0) {
            assert_int_equal(calls(&w[i]), 1);
            assert_int_equal(res.completion_tokens, 0);
        }
    }
    if (!stop)
        rn_genq_stop(q);
    for (int i = 0; i < N; i++) {
        rn_job_release(j[i]);
        waiter_free(&w[i]);
    }
}

static void test_cancel_all(void **state) { cancel_everything(0); }
static void test_stop_held(void **state) { cancel_everything(1); }

/* rn_genq_stop while jobs run and wait, without any gate: it returns,
 * every job the client still holds has ended "cancelled", and nothing
 * leaks (the sanitizer build checks that), including jobs the client
 * released before the stop. */
static void test_stop_in_flight(void **state)
{
    enum { N = 6 };
    int32_t prompt[128];
    random_prompt(prompt, 128, 8);
    struct rn_genq *q = start(2, 8);
    struct rn_job *j[N];
    for (int i = 0; i < N; i++) {
        struct rn_job_request r = request(prompt, 1 + 20 * i, BLOCK - 1 - 20 * i);
        r.ignore_eos = 1;
        j[i] = new_job(&r, NULL);
        submit_ok(q, j[i]);
    }
    rn_job_release(j[1]);
    rn_job_release(j[4]);
    rn_genq_stop(q);
    for (int i = 0; i < N; i++) {
        if (i == 1 || i == 4)
            continue;
        const char *p;
        int done;
        struct rn_job_result res;
        rn_job_lock(j[i]);
        rn_job_take(j[i], &p, &done);
        rn_job_result(j[i], &res);
        rn_job_unlock(j[i]);
        assert_true(done);
        assert_string_equal(res.finish, "cancelled");
        rn_job_release(j[i]);
    }
    rn_genq_stop(NULL);
}

/* ---- waking --------------------------------------------------------------- */

/* Armed for the end only: one call, at the end (a job shorter than the 32
 * tokens after which genq also wakes such a waiter, to let it look at its
 * socket); then want_wake answers 1 (the end is there) without arming,
 * before and after everything is taken. Armed for text, each arming gets
 * exactly one call (follow counts them). */
static void test_want_wake(void **state)
{
    int32_t prompt[6];
    random_prompt(prompt, 6, 9);
    struct rn_genq *q = start(1, 1);
    struct rn_job_request r = request(prompt, 6, 20);
    r.ignore_eos = 1;
    struct waiter w;
    waiter_init(&w, 0);
    struct rn_job *j = new_job(&r, &w);
    arm_end(j);
    submit_ok(q, j);
    wait_calls(&w, 0);
    const char *p;
    int done;
    rn_job_lock(j);
    int ready_text = rn_job_want_wake(j, 0), ready_end = rn_job_want_wake(j, 1);
    size_t n = rn_job_take(j, &p, &done);
    int ready_after = rn_job_want_wake(j, 0);
    struct rn_job_result res;
    rn_job_result(j, &res);
    rn_job_unlock(j);
    assert_int_equal(ready_text, 1);
    assert_int_equal(ready_end, 1);
    assert_int_equal(ready_after, 1);
    assert_true(done);
    assert_int_equal(res.completion_tokens, 20);
    assert_true(n > 0);
    wait_idle(q, &(struct rn_genq_stats){0});
    assert_int_equal(calls(&w), 1);
    rn_job_release(j);
    /* armed for text: one call per arming, over a whole job */
    struct waiter w2;
    waiter_init(&w2, 0);
    r.max_tokens = 150;
    j = new_job(&r, &w2);
    submit_ok(q, j);
    struct outcome o;
    follow(j, &w2, &o);
    wait_idle(q, &(struct rn_genq_stats){0});
    print_message("%d armings for %d tokens\n", o.armings, o.completion_tokens);
    assert_true(o.armings >= 1);
    assert_int_equal(calls(&w2), o.armings);
    assert_int_equal(o.completion_tokens, 150);
    rn_job_release(j);
    rn_genq_stop(q);
    outcome_free(&o);
    waiter_free(&w);
    waiter_free(&w2);
}

/* ---- stats ---------------------------------------------------------------- */

/* Held at the first token of a 7-id prompt: 1 active, 3 waiting, 7 prompt
 * tokens, 1 generated. At the end: nothing active or waiting, and the
 * totals are the sums of the jobs' own counts. */
static void test_stats(void **state)
{
    int32_t prompt[90];
    random_prompt(prompt, 90, 12);
    struct rn_genq *q = start(2, 4);
    struct rn_genq_stats s;
    rn_genq_stats(q, &s);
    assert_int_equal(s.active + s.waiting, 0);
    assert_int_equal(s.prompt_tokens + s.generated_tokens, 0);
    struct waiter gate, w[3];
    waiter_init(&gate, 1);
    struct rn_job_request gr = request(prompt, 7, 30);
    gr.ignore_eos = 1;
    struct rn_job *g = new_job(&gr, &gate);
    rn_job_lock(g);
    rn_job_want_wake(g, 0);
    rn_job_unlock(g);
    submit_ok(q, g);
    wait_calls(&gate, 0);
    struct rn_job *j[3];
    const int lens[3] = {90, 3, 40};
    for (int i = 0; i < 3; i++) {
        waiter_init(&w[i], 0);
        j[i] = new_job(&(struct rn_job_request){.ids = prompt, .n_ids = lens[i],
                                                .max_tokens = 10 + i, .sp = RN_SAMPLE_DEFAULTS,
                                                .seed = (uint64_t)i},
                       &w[i]);
        arm_end(j[i]);
        submit_ok(q, j[i]);
    }
    rn_genq_stats(q, &s);
    assert_int_equal(s.active, 1);
    assert_int_equal(s.waiting, 3);
    assert_int_equal(s.prompt_tokens, 7);
    assert_int_equal(s.generated_tokens, 1);
    gate_open(&gate);
    uint64_t want_prompt = 7, want_gen = 0;
    for (int i = 0; i < 3; i++) {
        wait_calls(&w[i], 0);
        struct rn_job_result res;
        rn_job_lock(j[i]);
        rn_job_result(j[i], &res);
        rn_job_unlock(j[i]);
        want_prompt += (uint64_t)res.prompt_tokens;
        want_gen += (uint64_t)res.completion_tokens;
    }
    wait_idle(q, &s);
    struct rn_job_result gres;
    rn_job_lock(g);
    rn_job_result(g, &gres);
    rn_job_unlock(g);
    assert_int_equal(gres.completion_tokens, 30);
    want_gen += 30;
    assert_int_equal(s.prompt_tokens, want_prompt);
    assert_int_equal(s.generated_tokens, want_gen);
    assert_int_equal(s.active, 0);
    assert_int_equal(s.waiting, 0);
    rn_job_release(g);
    for (int i = 0; i < 3; i++) {
        rn_job_release(j[i]);
        waiter_free(&w[i]);
    }
    rn_genq_stop(q);
    waiter_free(&gate);
}

/* ---- bad calls ------------------------------------------------------------ */

static void test_bad_calls(void **state)
{
    struct rn_genq *q;
    struct rn_job *j;
    struct rn_err e = {0};
    int32_t id = 1;
    assert_int_equal(rn_genq_start(&q, &M, &B, 0, 1, &e), RN_EUSAGE);
    assert_null(q);
    assert_int_equal(rn_genq_start(&q, &M, &B, 1, -1, &e), RN_EUSAGE);
    struct rn_job_request r = request(&id, 0, 5);
    assert_int_equal(rn_job_new(&j, &r, &e), RN_EUSAGE);
    assert_null(j);
    r = request(&id, 1, 0);
    assert_int_equal(rn_job_new(&j, &r, &e), RN_EUSAGE);
    r = request(&id, 1, 5);
    r.nstop = RN_JOB_MAX_STOP + 1;
    assert_int_equal(rn_job_new(&j, &r, &e), RN_EUSAGE);
    rn_job_release(NULL);
    rn_genq_stop(NULL);
}

int main(void)
{
    /* OpenBLAS's count is global; the OpenMP count set here is this
     * thread's only (the scheduler thread keeps OpenMP's default), and the
     * results do not depend on it (checked with OMP_NUM_THREADS 1..16). */
    rn_blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_one),         cmocka_unit_test(test_greedy_batch),
        cmocka_unit_test(test_sampling_seeded),    cmocka_unit_test(test_max_tokens),
        cmocka_unit_test(test_stop_strings),       cmocka_unit_test(test_eos_and_ignore_eos),
        cmocka_unit_test(test_queue_limit),        cmocka_unit_test(test_release_frees_slot),
        cmocka_unit_test(test_cancel_all),         cmocka_unit_test(test_stop_held),
        cmocka_unit_test(test_stop_in_flight),     cmocka_unit_test(test_want_wake),
        cmocka_unit_test(test_stats),              cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
