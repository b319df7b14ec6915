/* genq — the generation scheduler behind serve: one thread owns the model,
 * a latent-KV-cache decoder of `slots` sequence slots (lm_decode.h) and a
 * sampler, and runs every admitted request together (continuous
 * batching). Each turn of its loop prefills one chunk of one newly admitted
 * prompt, then decodes one token for every generating request in a single
 * rn_lm_decode call; a finished or cancelled request frees its slot for
 * the next waiting one at once. Requests beyond the slots wait in a FIFO
 * of at most `queue` jobs; rn_genq_submit refuses more (serve answers 503).
 *
 * A job is shared by the submitting connection and the scheduler
 * (reference counted). The scheduler appends text to it under its lock and
 * calls its wake function when the connection asked to be woken (serve
 * resumes the suspended HTTP connection there); the connection reads the
 * text that can no longer change (rn_job_take) and drops its reference
 * when the request ends, which also cancels an unfinished job.
 *
 *     struct rn_job *j = rn_job_new(&req, &e);           // ids, limits, sampling
 *     rn_job_set_wake(j, resume, conn);    // NULL to disarm before the conn goes
 *     if (rn_genq_submit(q, j, &e) < 0) ... 503 ...
 *     ... in the connection, each time it is woken:
 *     rn_job_lock(j); n = rn_job_take(j, &p, &done); ...; rn_job_unlock(j);
 *     rn_job_release(j);                                  // request over
 */
#ifndef RN_GENQ_H
#define RN_GENQ_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"
#include "err.h"
#include "lm.h"
#include "sample.h"

#define RN_JOB_MAX_STOP 8

/* What a request asks for; rn_job_new copies everything. */
struct rn_job_request {
    const int32_t *ids;           /* the prompt, already encoded (1 .. block_size-1 ids) */
    int n_ids;
    int max_tokens;               /* new tokens at most (>= 1) */
    struct rn_sample_params sp;
    uint64_t seed;
    const char *stop[RN_JOB_MAX_STOP]; /* stop strings (non-empty) */
    int nstop;
    int trim_leading;             /* drop leading white space of the completion (chat) */
    int ignore_eos;               /* run to max_tokens through end-of-text tokens (benchmarks) */
};

struct rn_job;

/* RN_OK or RN_ENOMEM; *out gets one reference (the caller's). */
int rn_job_new(struct rn_job **out, const struct rn_job_request *req, struct rn_err *e);
/* Called by the scheduler, job locked, when new text or the end arrives
 * and the connection armed it with rn_job_want_wake. */
void rn_job_set_wake(struct rn_job *j, void (*wake)(void *), void *arg);
void rn_job_lock(struct rn_job *j);
void rn_job_unlock(struct rn_job *j);
/* Locked: arm the wake function (one shot) for the next piece of text, or
 * with at_end for the end (and every 32 tokens before it, so a suspended
 * connection gets to look at its socket). Returns 1, arming nothing, if
 * what is waited for is already there (do not sleep then), else 0. */
int rn_job_want_wake(struct rn_job *j, int at_end);
/* Locked: the bytes of the completion that are final and not yet taken
 * (complete UTF-8 sequences, never the start of a possible stop string);
 * *p points into the job (valid while locked). Marks them taken. *done
 * is 1 once the job has ended and everything has been taken. */
size_t rn_job_take(struct rn_job *j, const char **p, int *done);

struct rn_job_result {
    const char *finish;           /* "stop", "length", "cancelled" (shutdown), "error" (logged) */
    int prompt_tokens, completion_tokens;
    const int32_t *ids;           /* prompt then completion ids (Ollama's context) */
    int n_ids;
    double queued_s, prefill_s, decode_s; /* waiting, prompt, new tokens */
};
/* Locked, after done: the counts and timings. */
void rn_job_result(const struct rn_job *j, struct rn_job_result *r);
/* Drop a reference; the last one frees. A connection that drops its
 * reference before the end cancels the job. */
void rn_job_release(struct rn_job *j);

struct rn_genq;

/* Start the scheduler thread over model m (borrowed, loaded for inference)
 * and tokenizer b (borrowed): `slots` sequences decoded together, `queue`
 * jobs waiting at most. RN_OK, RN_EUSAGE, RN_ENOMEM, RN_EIO (thread). */
int rn_genq_start(struct rn_genq **out, struct rn_lm *m, const struct rn_bpe *b, int slots,
                  int queue, struct rn_err *e);
/* Queue j (the queue takes its own reference). RN_OK; RN_ELIMIT when the
 * queue is full; RN_EUSAGE when the scheduler is stopping. */
int rn_genq_submit(struct rn_genq *q, struct rn_job *j, struct rn_err *e);
/* Change the waiting limit (SIGHUP); jobs already waiting stay. */
void rn_genq_set_queue(struct rn_genq *q, int queue);
struct rn_genq_stats {
    int waiting, active;          /* jobs in the queue, jobs in slots */
    uint64_t prompt_tokens, generated_tokens; /* totals since start */
};
void rn_genq_stats(struct rn_genq *q, struct rn_genq_stats *s);
/* End every job ("cancelled"), waking their connections; new submissions
 * are refused. The thread keeps running until rn_genq_stop. */
void rn_genq_cancel_all(struct rn_genq *q);
/* Cancel everything, join the thread, free the scheduler. NULL: no-op. */
void rn_genq_stop(struct rn_genq *q);

#endif
