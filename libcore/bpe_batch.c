/* bpe_batch — encode many documents (or one long one) on several threads.
 *
 * The work is cut into chunks: whole documents, or stretches of a long
 * document cut where the pre-tokenizer is known to end a piece
 * (rn_pretok_cut). Threads take chunks in order from an atomic counter, so
 * the ids are the same as encoding each document alone, on one thread.
 * The chunks of a cut document are then copied into place, in parallel
 * too: on many cores a serial copy of every id would cost as much as the
 * encoding itself.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_private.h"

/* Long documents are cut into chunks of at most this many bytes: large
 * enough that per-chunk costs vanish; and into at least 8 per thread,
 * so that the last chunks finish together. */
#define CHUNK_MAX (256 * 1024)
#define CHUNK_MIN (16 * 1024)

struct chunk {
    size_t doc;
    const unsigned char *p;
    size_t len;
    int whole;                  /* the whole document: encode into out[doc] */
    struct rn_bpe_ids own;      /* ids of one chunk of a cut document */
    size_t at;                  /* where own goes in out[doc] */
};

struct job {
    const struct rn_bpe *b;
    int flags;
    struct chunk *chunks;
    size_t nchunks;
    struct rn_bpe_ids *out;
    int copying;                /* phase 2: copy cut chunks into place */
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    struct rn_err err;          /* the first failure */
};

static void fail(struct job *j, const struct rn_err *e)
{
    pthread_mutex_lock(&j->lock);
    if (!atomic_load(&j->failed))
        j->err = *e;
    atomic_store(&j->failed, 1);
    pthread_mutex_unlock(&j->lock);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct rn_bpe_cache *cache = j->copying ? NULL : rn_bpe_cache_new();  /* NULL: none */
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->nchunks || atomic_load(&j->failed))
            break;
        struct chunk *c = &j->chunks[i];
        struct rn_err e = {0};
        if (j->copying) {
            if (!c->whole && c->own.n)
                memcpy(j->out[c->doc].v + c->at, c->own.v, c->own.n * sizeof *c->own.v);
            rn_bpe_ids_free(&c->own);
            continue;
        }
        struct rn_bpe_ids *dst = c->whole ? &j->out[c->doc] : &c->own;
        /* Room for a token per two bytes up front: fewer reallocations,
         * and untouched pages of a large block cost nothing. */
        if (!c->whole && c->len > 64) {
            c->own.v = malloc((c->len / 2) * sizeof *c->own.v);
            c->own.cap = c->own.v ? c->len / 2 : 0;   /* none: encoding grows it */
        }
        if (rn_bpe_encode_cached(j->b, c->p, c->len, j->flags, cache, dst, &e) < 0) {
            fail(j, &e);
            break;
        }
    }
    free(cache);
    return NULL;
}

/* Run worker on nthreads threads, the calling one included. */
static void run_workers(struct job *j, int nthreads)
{
    atomic_store(&j->next, 0);
    if ((size_t)nthreads > j->nchunks)
        nthreads = (int)j->nchunks;
    pthread_t *tid = nthreads > 1 ? calloc((size_t)nthreads, sizeof *tid) : NULL;
    int started = 0;
    if (tid)
        for (; started < nthreads - 1; started++)
            if (pthread_create(&tid[started], NULL, worker, j) != 0)
                break;
    worker(j);   /* it alone if no thread started: slower, still right */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
}

/* Cutting inside a special token would change what --allow-special sees;
 * the cut points are next to a space or after a newline, so only specials
 * holding one of those forbid cutting. */
static int specials_allow_cuts(const struct rn_bpe *b)
{
    for (int32_t id = b->n_base; id < b->n_vocab; id++) {
        const unsigned char *p = b->bytes + b->tok_off[id];
        size_t n = b->tok_off[id + 1] - b->tok_off[id];
        if (memchr(p, ' ', n) || memchr(p, '\n', n))
            return 0;
    }
    return 1;
}

int rn_bpe_encode_batch(const struct rn_bpe *b, size_t ndocs, const unsigned char *const *doc,
                        const size_t *len, int flags, int nthreads, struct rn_bpe_ids *out,
                        struct rn_err *e)
{
    if (nthreads <= 1) {
        struct rn_bpe_cache *cache = rn_bpe_cache_new();
        int rc = RN_OK;
        for (size_t d = 0; d < ndocs && rc == RN_OK; d++)
            rc = rn_bpe_encode_cached(b, doc[d], len[d], flags, cache, &out[d], e);
        free(cache);
        return rc;
    }
    int may_cut = !(flags & RN_BPE_ALLOW_SPECIAL) || specials_allow_cuts(b);
    size_t total = 0;
    for (size_t d = 0; d < ndocs; d++)
        total += len[d];
    size_t chunk = total / ((size_t)nthreads * 8);
    chunk = chunk < CHUNK_MIN ? CHUNK_MIN : chunk > CHUNK_MAX ? CHUNK_MAX : chunk;

    size_t cap = ndocs + 16, n = 0;
    struct chunk *ch = malloc(cap * sizeof *ch);
    if (!ch)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    for (size_t d = 0; d < ndocs; d++) {
        size_t pos = 0, first = n;
        do {
            size_t end = len[d];
            if (may_cut && len[d] - pos > 2 * chunk)
                end = rn_pretok_cut(doc[d], len[d], pos + chunk);
            if (n == cap) {
                struct chunk *nc = realloc(ch, cap * 2 * sizeof *ch);
                if (!nc) {
                    free(ch);
                    return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
                }
                ch = nc;
                cap *= 2;
            }
            ch[n] = (struct chunk){.doc = d, .p = doc[d] + pos, .len = end - pos};
            n++;
            pos = end;
        } while (pos < len[d]);
        ch[first].whole = n - first == 1;
    }

    struct job j = {.b = b, .flags = flags, .chunks = ch, .nchunks = n, .out = out};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    run_workers(&j, nthreads);

    /* Place every cut chunk: grow each document once, then copy. */
    int rc = RN_OK;
    if (atomic_load(&j.failed)) {
        if (e)
            *e = j.err;
        rc = j.err.code ? j.err.code : RN_ENOMEM;
    }
    for (size_t k = 0; k < n && rc == RN_OK;) {
        if (ch[k].whole) {
            k++;
            continue;
        }
        size_t d = ch[k].doc, need = out[d].n;
        for (; k < n && ch[k].doc == d; k++) {
            ch[k].at = need;
            need += ch[k].own.n;
        }
        if (need > out[d].cap) {
            int32_t *v = realloc(out[d].v, need * sizeof *v);
            if (!v) {
                rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %zu token ids", need);
                break;
            }
            out[d].v = v;
            out[d].cap = need;
        }
        out[d].n = need;
    }
    if (rc == RN_OK) {
        j.copying = 1;
        run_workers(&j, nthreads);
    }
    for (size_t k = 0; k < n; k++)
        rn_bpe_ids_free(&ch[k].own);
    pthread_mutex_destroy(&j.lock);
    free(ch);
    return rc;
}
