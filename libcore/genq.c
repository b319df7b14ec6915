/* genq — see genq.h. Locks: the queue's mutex guards the waiting list,
 * the slots table and the totals; each job's mutex guards its text and
 * state. The scheduler never holds both at once except to end queued jobs
 * in rn_genq_cancel_all (queue, then job: always in that order). */
#include "genq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "buf.h"
#include "lm_decode.h"
#include "log.h"
#include "rng.h"
#include "stops.h"
#include "utf8.h"

#define PREFILL_ROWS 64 /* prompt positions per decoder call */

struct rn_job {
    pthread_mutex_t mu;
    int refs;
    /* the request */
    int32_t *ids;          /* prompt, then completion ids */
    int n_ids, n_prompt, cap_ids;
    int max_tokens, trim, ignore_eos;
    struct rn_sample_params sp;
    struct rn_rng g;
    char *stop[RN_JOB_MAX_STOP];
    int nstop;
    size_t stop_max;
    /* what has been produced */
    struct rn_buf text;    /* the completion */
    size_t taken;
    int n_new, ended, cancelled;
    const char *finish;
    void (*wake)(void *);
    void *wake_arg;
    int armed;
    double t_submit, t_admit, t_first, t_end;
    /* the scheduler's own */
    int pos;               /* prompt positions prefilled */
    struct rn_job *next;   /* waiting list */
};

int rn_job_new(struct rn_job **out, const struct rn_job_request *req, struct rn_err *e)
{
    *out = NULL;
    if (req->n_ids < 1 || req->max_tokens < 1 || req->nstop < 0 || req->nstop > RN_JOB_MAX_STOP)
        return rn_err_set(e, RN_EUSAGE, "job", "empty prompt or bad limits");
    struct rn_job *j = calloc(1, sizeof *j);
    if (!j)
        return rn_err_set(e, RN_ENOMEM, "job", "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    j->refs = 1;
    j->cap_ids = req->n_ids + req->max_tokens + 1;
    j->ids = malloc(sizeof(int32_t) * (size_t)j->cap_ids);
    int ok = j->ids && rn_buf_put(&j->text, "", 0) == 0;
    for (int i = 0; ok && i < req->nstop; i++) {
        ok = (j->stop[i] = strdup(req->stop[i])) != NULL;
        j->nstop = i + 1;
        if (ok && strlen(j->stop[i]) > j->stop_max)
            j->stop_max = strlen(j->stop[i]);
    }
    if (!ok) {
        rn_job_release(j);
        return rn_err_set(e, RN_ENOMEM, "job", "out of memory");
    }
    memcpy(j->ids, req->ids, sizeof(int32_t) * (size_t)req->n_ids);
    j->n_ids = j->n_prompt = req->n_ids;
    j->max_tokens = req->max_tokens;
    j->trim = req->trim_leading;
    j->ignore_eos = req->ignore_eos;
    j->sp = req->sp;
    rn_rng_seed(&j->g, req->seed);
    *out = j;
    return RN_OK;
}

void rn_job_set_wake(struct rn_job *j, void (*wake)(void *), void *arg)
{
    pthread_mutex_lock(&j->mu);
    j->wake = wake, j->wake_arg = arg;
    pthread_mutex_unlock(&j->mu);
}

void rn_job_lock(struct rn_job *j) { pthread_mutex_lock(&j->mu); }
void rn_job_unlock(struct rn_job *j) { pthread_mutex_unlock(&j->mu); }

/* Bytes that can no longer change: all of them once ended; else not the
 * tail that could still become a stop string, nor a split character. */
static size_t final_len(const struct rn_job *j)
{
    if (j->ended)
        return j->text.n;
    size_t hold = j->stop_max ? j->stop_max - 1 : 0;
    if (j->text.n <= j->taken + hold)
        return j->taken;
    return j->taken + rn_utf8_complete(j->text.p + j->taken, j->text.n - hold - j->taken);
}

int rn_job_want_wake(struct rn_job *j, int at_end)
{
    if (j->ended || (!at_end && final_len(j) > j->taken))
        return 1;
    j->armed = at_end ? 2 : 1;
    return 0;
}

size_t rn_job_take(struct rn_job *j, const char **p, int *done)
{
    size_t upto = final_len(j), n = upto - j->taken;
    *p = j->text.p + j->taken;
    j->taken = upto;
    *done = j->ended && j->taken == j->text.n;
    return n;
}

void rn_job_result(const struct rn_job *j, struct rn_job_result *r)
{
    r->finish = j->finish ? j->finish : "stop";
    r->prompt_tokens = j->n_prompt;
    r->completion_tokens = j->n_new;
    r->ids = j->ids;
    r->n_ids = j->n_ids;
    double admit = j->t_admit > 0 ? j->t_admit : j->t_end;
    double first = j->t_first > 0 ? j->t_first : j->t_end;
    r->queued_s = admit - j->t_submit;
    r->prefill_s = first - admit;
    r->decode_s = j->t_end - first;
}

static void job_free(struct rn_job *j)
{
    for (int i = 0; i < j->nstop; i++)
        free(j->stop[i]);
    free(j->ids);
    rn_buf_free(&j->text);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Drop a reference; from_client marks an unfinished job cancelled. */
static void job_unref(struct rn_job *j, int from_client)
{
    pthread_mutex_lock(&j->mu);
    if (from_client && !j->ended)
        j->cancelled = 1;
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last)
        job_free(j);
}

void rn_job_release(struct rn_job *j)
{
    if (j)
        job_unref(j, 1);
}

/* Locked: tell the connection something changed, if it asked. One that
 * waits for the end is also woken every CHECK_EVERY tokens, so that
 * libmicrohttpd, which does not watch a suspended socket, sees a client
 * that has gone away and the job is cancelled instead of run to the end. */
#define CHECK_EVERY 32
static void notify(struct rn_job *j)
{
    int due = j->ended || (j->n_new > 0 && j->n_new % CHECK_EVERY == 0);
    if ((j->armed == 1 || (j->armed == 2 && due)) && j->wake) {
        j->armed = 0;
        j->wake(j->wake_arg);
    }
}

/* Locked. */
static void end_job(struct rn_job *j, const char *finish)
{
    if (j->ended)
        return;
    j->ended = 1;
    j->finish = finish;
    j->t_end = rn_now();
    notify(j);
}

static int append_text(struct rn_job *j, const unsigned char *p, size_t n)
{
    if (j->trim && j->text.n == 0)
        while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
            p++, n--;
    return rn_buf_put(&j->text, p, n);
}

/* ---- the scheduler ------------------------------------------------------- */

struct rn_genq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int quit, refusing;
    struct rn_lm *m;
    const struct rn_bpe *b;
    struct rn_lm_decoder d;
    struct rn_sampler smp;
    struct rn_bpe_bytes piece;   /* one token's bytes */
    int nslots, nactive;
    struct rn_job **slot;
    struct rn_job *head, *tail;
    int nwait, qcap;
    uint64_t prompt_tokens, gen_tokens;
    int32_t eos[2];
    int *seqs;                   /* (nslots) scratch for a decode step */
    int32_t *next;
};

/* Locked job: add token t. */
static void push(struct rn_genq *q, struct rn_job *j, int32_t t)
{
    if ((t == q->eos[0] || t == q->eos[1]) && !j->ignore_eos) {
        end_job(j, "stop");
        return;
    }
    struct rn_err e = {0};
    size_t before = j->text.n;
    j->ids[j->n_ids++] = t;
    j->n_new++;
    __atomic_add_fetch(&q->gen_tokens, 1, __ATOMIC_RELAXED);
    q->piece.n = 0;
    if (rn_bpe_decode(q->b, &t, 1, &q->piece, &e) < 0 || append_text(j, q->piece.v, q->piece.n) < 0) {
        rn_log(RN_LOG_ERROR, "generation: %s", e.msg[0] ? e.msg : "out of memory");
        end_job(j, "error");
        return;
    }
    long cut = rn_stop_find(j->text.p, j->text.n, before, (const char *const *)j->stop, j->nstop);
    if (cut >= 0) {
        j->text.n = (size_t)cut;
        j->text.p[cut] = 0;
        end_job(j, "stop");
        return;
    }
    if (j->n_new >= j->max_tokens || j->n_ids >= q->m->cfg.block_size)
        end_job(j, "length");
    else
        notify(j);
}

/* Sample job j's next token from its row of logits. */
static void sample_push(struct rn_genq *q, struct rn_job *j, const float *lg)
{
    pthread_mutex_lock(&j->mu);
    if (!j->ended) {
        int t = rn_sample(&q->smp, &j->sp, lg, j->ids, j->n_ids, &j->g);
        push(q, j, t);
    }
    pthread_mutex_unlock(&j->mu);
}

/* Whether slot job j has ended; a cancelled one is ended here. */
static int finished(struct rn_job *j)
{
    pthread_mutex_lock(&j->mu);
    if (j->cancelled)
        end_job(j, "cancelled");
    int out = j->ended;
    pthread_mutex_unlock(&j->mu);
    return out;
}

/* One turn: a prefill chunk for the first slot still reading its prompt,
 * then one new token for every slot that is generating. */
static void step(struct rn_genq *q)
{
    struct rn_err e = {0};
    const float *lg;
    for (int s = 0; s < q->nslots; s++) {
        struct rn_job *j = q->slot[s];
        if (!j || j->pos >= j->n_prompt || finished(j))
            continue;
        int k = j->n_prompt - j->pos < PREFILL_ROWS ? j->n_prompt - j->pos : PREFILL_ROWS;
        if (rn_lm_decode(&q->d, 0, &s, 1, j->ids + j->pos, k, NULL, RN_DEC_LAST, &lg, &e) < 0) {
            rn_log(RN_LOG_ERROR, "generation: %s: %s", e.where, e.msg);
            pthread_mutex_lock(&j->mu);
            end_job(j, "error");
            pthread_mutex_unlock(&j->mu);
            continue;
        }
        j->pos += k;
        if (j->pos == j->n_prompt) {
            __atomic_add_fetch(&q->prompt_tokens, (uint64_t)j->n_prompt, __ATOMIC_RELAXED);
            pthread_mutex_lock(&j->mu);
            j->t_first = rn_now();
            pthread_mutex_unlock(&j->mu);
            sample_push(q, j, lg);
        }
        break;
    }
    int a = 0;
    for (int s = 0; s < q->nslots; s++) {
        struct rn_job *j = q->slot[s];
        if (!j || j->pos < j->n_prompt || finished(j))
            continue;
        q->seqs[a] = s;
        q->next[a++] = j->ids[j->n_ids - 1];
    }
    if (a == 0)
        return;
    if (rn_lm_decode(&q->d, 0, q->seqs, a, q->next, 1, NULL, RN_DEC_LAST, &lg, &e) < 0) {
        rn_log(RN_LOG_ERROR, "generation: %s: %s", e.where, e.msg);
        for (int i = 0; i < a; i++) {
            struct rn_job *j = q->slot[q->seqs[i]];
            pthread_mutex_lock(&j->mu);
            end_job(j, "error");
            pthread_mutex_unlock(&j->mu);
        }
        return;
    }
    const size_t V = (size_t)q->m->cfg.vocab_size;
    for (int i = 0; i < a; i++)
        sample_push(q, q->slot[q->seqs[i]], lg + (size_t)i * V);
}

static void *run(void *arg)
{
    struct rn_genq *q = arg;
    /* omp_set_num_threads is per thread: take the count the process set
     * for OpenBLAS (global) for this thread's OpenMP loops too */
    rn_blas_set_threads(rn_blas_threads());
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->quit && !q->head && q->nactive == 0)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->quit)
            break;
        for (int s = 0; s < q->nslots && q->head; s++) {
            if (q->slot[s])
                continue;
            struct rn_job *j = q->head;
            q->head = j->next;
            if (!q->head)
                q->tail = NULL;
            q->nwait--;
            j->next = NULL;
            j->pos = 0;
            q->slot[s] = j;
            q->nactive++;
            rn_lm_decoder_reset(&q->d, s);
            pthread_mutex_lock(&j->mu);
            j->t_admit = rn_now();
            pthread_mutex_unlock(&j->mu);
        }
        pthread_mutex_unlock(&q->mu);
        step(q);
        pthread_mutex_lock(&q->mu);
        for (int s = 0; s < q->nslots; s++)
            if (q->slot[s] && finished(q->slot[s])) {
                job_unref(q->slot[s], 0);
                q->slot[s] = NULL;
                q->nactive--;
            }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int rn_genq_start(struct rn_genq **out, struct rn_lm *m, const struct rn_bpe *b, int slots,
                  int queue, struct rn_err *e)
{
    *out = NULL;
    if (slots < 1 || queue < 0)
        return rn_err_set(e, RN_EUSAGE, "genq", "slots must be >= 1 and queue >= 0");
    struct rn_genq *q = calloc(1, sizeof *q);
    if (!q)
        return rn_err_set(e, RN_ENOMEM, "genq", "out of memory");
    q->m = m, q->b = b, q->nslots = slots, q->qcap = queue;
    q->eos[0] = rn_bpe_special_id(b, "</|story|>", 10);
    q->eos[1] = rn_bpe_special_id(b, "<|endoftext|>", 13);
    q->slot = calloc((size_t)slots, sizeof *q->slot);
    q->seqs = calloc((size_t)slots, sizeof *q->seqs);
    q->next = calloc((size_t)slots, sizeof *q->next);
    int rc;
    if (!q->slot || !q->seqs || !q->next)
        rc = rn_err_set(e, RN_ENOMEM, "genq", "out of memory");
    else
        rc = rn_lm_decoder_init(&q->d, m, slots, m->cfg.block_size,
                                slots > PREFILL_ROWS ? slots : PREFILL_ROWS, 0, e);
    if (rc == RN_OK && (rc = rn_sampler_init(&q->smp, m->cfg.vocab_size, e)) < 0)
        rn_lm_decoder_free(&q->d);
    if (rc < 0) {
        free(q->slot), free(q->seqs), free(q->next), free(q);
        return rc;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->th, NULL, run, q) != 0) {
        rn_sampler_free(&q->smp);
        rn_lm_decoder_free(&q->d);
        free(q->slot), free(q->seqs), free(q->next), free(q);
        return rn_err_set(e, RN_EIO, "genq", "cannot start the generation thread");
    }
    *out = q;
    return RN_OK;
}

int rn_genq_submit(struct rn_genq *q, struct rn_job *j, struct rn_err *e)
{
    pthread_mutex_lock(&q->mu);
    int free_slot = q->nactive + q->nwait < q->nslots;
    if (q->refusing || (!free_slot && q->nwait + q->nactive - q->nslots >= q->qcap)) {
        int stopping = q->refusing;
        pthread_mutex_unlock(&q->mu);
        return stopping ? rn_err_set(e, RN_EUSAGE, "server", "shutting down")
                        : rn_err_set(e, RN_ELIMIT, "server", "too many requests waiting");
    }
    pthread_mutex_lock(&j->mu);
    j->refs++;
    j->t_submit = rn_now();
    pthread_mutex_unlock(&j->mu);
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->nwait++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return RN_OK;
}

void rn_genq_set_queue(struct rn_genq *q, int queue)
{
    pthread_mutex_lock(&q->mu);
    q->qcap = queue < 0 ? 0 : queue;
    pthread_mutex_unlock(&q->mu);
}

void rn_genq_stats(struct rn_genq *q, struct rn_genq_stats *s)
{
    pthread_mutex_lock(&q->mu);
    s->waiting = q->nwait;
    s->active = q->nactive;
    pthread_mutex_unlock(&q->mu);
    s->prompt_tokens = __atomic_load_n(&q->prompt_tokens, __ATOMIC_RELAXED);
    s->generated_tokens = __atomic_load_n(&q->gen_tokens, __ATOMIC_RELAXED);
}

void rn_genq_cancel_all(struct rn_genq *q)
{
    pthread_mutex_lock(&q->mu);
    q->refusing = 1;
    while (q->head) {
        struct rn_job *j = q->head;
        q->head = j->next;
        q->nwait--;
        pthread_mutex_lock(&j->mu);
        end_job(j, "cancelled");
        pthread_mutex_unlock(&j->mu);
        job_unref(j, 0);
    }
    q->tail = NULL;
    for (int s = 0; s < q->nslots; s++)
        if (q->slot[s]) {
            pthread_mutex_lock(&q->slot[s]->mu);
            q->slot[s]->cancelled = 1;
            pthread_mutex_unlock(&q->slot[s]->mu);
        }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void rn_genq_stop(struct rn_genq *q)
{
    if (!q)
        return;
    rn_genq_cancel_all(q);
    pthread_mutex_lock(&q->mu);
    q->quit = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    for (int s = 0; s < q->nslots; s++)
        if (q->slot[s]) {
            pthread_mutex_lock(&q->slot[s]->mu);
            end_job(q->slot[s], "cancelled");
            pthread_mutex_unlock(&q->slot[s]->mu);
            job_unref(q->slot[s], 0);
        }
    rn_sampler_free(&q->smp);
    rn_lm_decoder_free(&q->d);
    rn_bpe_bytes_free(&q->piece);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->slot), free(q->seqs), free(q->next), free(q);
}
