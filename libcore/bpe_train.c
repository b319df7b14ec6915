/* bpe_train — learn a byte-level BPE vocabulary from a corpus.
 *
 * 1. feed: pre-tokenize the corpus (as encoding will) and count distinct
 *    pieces ("words"), on several threads, each into its own table.
 * 2. run: every word becomes a sequence of byte ids. Each adjacent pair
 *    has a count (summed over words, weighted by word count) and a list of
 *    the words it occurs in. A max-heap orders pairs by count, then by
 *    lower (left, right) ids, which makes the result deterministic.
 *    Each merge rewrites only the words on its list and adjusts the counts
 *    of the pairs next to each merge site; pairs whose count rose are
 *    pushed again, and an entry found stale when popped is dropped or put
 *    back at its pair's count. No merge rescans the corpus: the work per
 *    merge is proportional to where the pair occurs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_private.h"

/* Pieces longer than this are left out of training: they are rare (rules
 * of '=', base64 blobs, a line with no spaces) and each merge touching
 * one would rewrite all of it. Encoding still handles any length. */
#define TRAIN_PIECE_MAX 512
/* Least count worth a merge: a pair seen once teaches nothing. */
#define MIN_COUNT 2
#define CHUNK_BYTES (1 << 20)

/* ---- counting pieces ------------------------------------------------- */

/* 16 bytes a slot: a corpus of random words has millions of distinct
 * pieces, and each thread holds a table of them. No stored hash: a probe
 * compares lengths, then bytes. */
struct wslot {
    uint64_t off : 40;          /* into the arena */
    uint64_t len : 24;          /* 0: empty slot; pieces are <= TRAIN_PIECE_MAX */
    uint64_t count;
};

struct wtab {
    struct wslot *slot;
    uint64_t mask, used;
    unsigned char *arena;
    size_t an, acap;
    uint64_t pieces, skipped;
    int failed;
};

static int wtab_grow(struct wtab *t)
{
    uint64_t cap = t->slot ? (t->mask + 1) * 2 : 1 << 16;
    struct wslot *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (uint64_t i = 0; t->slot && i <= t->mask; i++) {
        if (!t->slot[i].len)
            continue;
        uint64_t j = rn_bpe_hash_bytes(t->arena + t->slot[i].off, t->slot[i].len) & (cap - 1);
        while (s[j].len)
            j = (j + 1) & (cap - 1);
        s[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = s;
    t->mask = cap - 1;
    return 0;
}

static int wtab_add(struct wtab *t, const unsigned char *p, size_t n, uint64_t count)
{
    if ((t->used + 1) * 2 > t->mask + 1 && wtab_grow(t) < 0)
        return -1;
    uint64_t h = rn_bpe_hash_bytes(p, n), i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        struct wslot *s = &t->slot[i];
        if (!s->len)
            break;
        if (s->len == n && memcmp(t->arena + s->off, p, n) == 0) {
            s->count += count;
            return 0;
        }
    }
    if (t->an + n >= (uint64_t)1 << 40)
        return -1;
    if (t->an + n > t->acap) {
        size_t cap = t->acap ? t->acap * 2 : 1 << 20;
        while (cap < t->an + n)
            cap *= 2;
        unsigned char *a = realloc(t->arena, cap);
        if (!a)
            return -1;
        t->arena = a;
        t->acap = cap;
    }
    memcpy(t->arena + t->an, p, n);
    t->slot[i] = (struct wslot){.off = t->an, .len = n, .count = count};
    t->an += n;
    t->used++;
    return 0;
}

static void wtab_free(struct wtab *t)
{
    free(t->slot);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

static void count_text(struct wtab *t, const unsigned char *s, size_t len)
{
    for (size_t pos = 0; pos < len && !t->failed;) {
        size_t end = rn_pretok_next(s, len, pos);
        t->pieces++;
        if (end - pos > TRAIN_PIECE_MAX)
            t->skipped++;
        else if (wtab_add(t, s + pos, end - pos, 1) < 0)
            t->failed = 1;
        pos = end;
    }
}

struct rn_bpe_trainer {
    int nthreads;
    struct wtab *tabs;          /* one per thread */
    uint64_t bytes;
    struct rn_bpe_train_stats stats;
};

struct feed_job {
    struct rn_bpe_trainer *t;
    const unsigned char *s;
    size_t *cuts;               /* chunk k is [cuts[k], cuts[k+1]) */
    size_t nchunks;
    atomic_size_t next;
};

struct feed_arg {
    struct feed_job *job;
    struct wtab *tab;
};

static void *feed_worker(void *arg)
{
    struct feed_arg *a = arg;
    struct feed_job *j = a->job;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->nchunks)
            break;
        count_text(a->tab, j->s + j->cuts[k], j->cuts[k + 1] - j->cuts[k]);
    }
    return NULL;
}

struct rn_bpe_trainer *rn_bpe_trainer_new(int nthreads, struct rn_err *e)
{
    if (nthreads < 1)
        nthreads = 1;
    struct rn_bpe_trainer *t = calloc(1, sizeof *t);
    if (t)
        t->tabs = calloc((size_t)nthreads, sizeof *t->tabs);
    if (!t || !t->tabs) {
        free(t);
        rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    t->nthreads = nthreads;
    return t;
}

void rn_bpe_trainer_free(struct rn_bpe_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nthreads; i++)
        wtab_free(&t->tabs[i]);
    free(t->tabs);
    free(t);
}

int rn_bpe_trainer_feed(struct rn_bpe_trainer *t, const void *text, size_t len,
                        struct rn_err *e)
{
    const unsigned char *s = text;
    t->bytes += len;
    if (t->nthreads == 1 || len < 2 * CHUNK_BYTES) {
        count_text(&t->tabs[0], s, len);
    } else {
        size_t max = len / CHUNK_BYTES + 2, n = 0;
        size_t *cuts = malloc((max + 1) * sizeof *cuts);
        pthread_t *tid = calloc((size_t)t->nthreads, sizeof *tid);
        struct feed_arg *args = calloc((size_t)t->nthreads, sizeof *args);
        if (!cuts || !tid || !args) {
            free(cuts), free(tid), free(args);
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        }
        cuts[0] = 0;
        while (cuts[n] < len && n < max - 1) {
            cuts[n + 1] = rn_pretok_cut(s, len, cuts[n] + CHUNK_BYTES);
            n++;
        }
        if (cuts[n] < len)
            cuts[++n] = len;
        struct feed_job j = {.t = t, .s = s, .cuts = cuts, .nchunks = n};
        atomic_init(&j.next, 0);
        int started = 0;
        for (int i = 0; i < t->nthreads; i++)
            args[i] = (struct feed_arg){.job = &j, .tab = &t->tabs[i]};
        for (int i = 1; i < t->nthreads; i++, started++)
            if (pthread_create(&tid[i], NULL, feed_worker, &args[i]) != 0)
                break;
        feed_worker(&args[0]);
        for (int i = 1; i <= started; i++)
            pthread_join(tid[i], NULL);
        free(cuts), free(tid), free(args);
    }
    for (int i = 0; i < t->nthreads; i++)
        if (t->tabs[i].failed)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory counting the corpus' pieces");
    return RN_OK;
}

void rn_bpe_trainer_stats(const struct rn_bpe_trainer *t, struct rn_bpe_train_stats *s)
{
    *s = t->stats;
    s->bytes = t->bytes;
    s->pieces = 0;
    for (int i = 0; i < t->nthreads; i++)
        s->pieces += t->tabs[i].pieces;
}

/* ---- merging --------------------------------------------------------- */

struct pair {
    int32_t a, b;
    int64_t count;
    int64_t in_heap;            /* count of the pair's newest heap entry; 0: none */
    int32_t *post;              /* words the pair has occurred in (may hold stale ones) */
    uint32_t npost, cpost;
    int dirty;
};

struct hent {
    int64_t count;
    int32_t a, b;
    uint32_t idx;
};

struct state {
    /* words: symbols sym[off[w] .. off[w] + len[w]), weight cnt[w] */
    int32_t *sym;
    uint64_t *off;
    uint32_t *len;
    int64_t *cnt;
    int32_t *stamp;             /* last merge that rewrote the word */
    uint64_t nwords;
    /* pairs and their (a, b) -> index table */
    struct pair *pairs;
    uint32_t npairs, cpairs;
    uint32_t *ptab;             /* index + 1; 0: empty */
    uint64_t pmask;
    uint32_t *dirty;
    uint32_t ndirty, cdirty;
    struct hent *heap;
    size_t nheap, cheap;
    /* tokens made so far: bytes and a bytes -> id table */
    unsigned char *tb;
    uint64_t *toff;             /* (ntok + 1) */
    int32_t ntok, ctok;
    size_t tbn, tbcap;
    int32_t *ttab;
    uint64_t tmask;
    int failed;
};

static int hent_before(const struct hent *x, const struct hent *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    if (x->a != y->a)
        return x->a < y->a;
    return x->b < y->b;
}

static void heap_push(struct state *st, struct hent v)
{
    if (st->nheap == st->cheap) {
        size_t cap = st->cheap ? st->cheap * 2 : 1 << 16;
        struct hent *h = realloc(st->heap, cap * sizeof *h);
        if (!h) {
            st->failed = 1;
            return;
        }
        st->heap = h;
        st->cheap = cap;
    }
    size_t i = st->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!hent_before(&v, &st->heap[up]))
            break;
        st->heap[i] = st->heap[up];
        i = up;
    }
    st->heap[i] = v;
}

static struct hent heap_pop(struct state *st)
{
    struct hent top = st->heap[0], v = st->heap[--st->nheap];
    size_t i = 0, n = st->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hent_before(&st->heap[c + 1], &st->heap[c]))
            c++;
        if (!hent_before(&st->heap[c], &v))
            break;
        st->heap[i] = st->heap[c];
        i = c;
    }
    if (n)
        st->heap[i] = v;
    return top;
}

static int ptab_grow(struct state *st)
{
    uint64_t cap = st->ptab ? (st->pmask + 1) * 2 : 1 << 16;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t k = 0; k < st->npairs; k++) {
        uint64_t key = (uint64_t)(uint32_t)st->pairs[k].a << 32 | (uint32_t)st->pairs[k].b;
        uint64_t i = rn_bpe_hash_pair(key) & (cap - 1);
        while (t[i])
            i = (i + 1) & (cap - 1);
        t[i] = k + 1;
    }
    free(st->ptab);
    st->ptab = t;
    st->pmask = cap - 1;
    return 0;
}

/* Index of pair (a, b), created with count 0 if new; UINT32_MAX on failure. */
static uint32_t pair_index(struct state *st, int32_t a, int32_t b)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint64_t i = rn_bpe_hash_pair(key) & st->pmask;
    for (;; i = (i + 1) & st->pmask) {
        uint32_t k = st->ptab[i];
        if (!k)
            break;
        if (st->pairs[k - 1].a == a && st->pairs[k - 1].b == b)
            return k - 1;
    }
    if ((uint64_t)(st->npairs + 1) * 2 > st->pmask + 1 || st->npairs == st->cpairs) {
        if (st->npairs == st->cpairs) {
            uint32_t cap = st->cpairs ? st->cpairs * 2 : 1 << 16;
            struct pair *p = realloc(st->pairs, (size_t)cap * sizeof *p);
            if (!p)
                return UINT32_MAX;
            st->pairs = p;
            st->cpairs = cap;
        }
        if ((uint64_t)(st->npairs + 1) * 2 > st->pmask + 1 && ptab_grow(st) < 0)
            return UINT32_MAX;
        i = rn_bpe_hash_pair(key) & st->pmask;
        while (st->ptab[i])
            i = (i + 1) & st->pmask;
    }
    st->pairs[st->npairs] = (struct pair){.a = a, .b = b};
    st->ptab[i] = st->npairs + 1;
    return st->npairs++;
}

static void pair_add(struct state *st, int32_t a, int32_t b, int64_t delta, uint64_t w)
{
    uint32_t k = pair_index(st, a, b);
    if (k == UINT32_MAX) {
        st->failed = 1;
        return;
    }
    struct pair *p = &st->pairs[k];
    p->count += delta;
    if (delta > 0 && (p->npost == 0 || p->post[p->npost - 1] != (int32_t)w)) {
        if (p->npost == p->cpost) {
            uint32_t cap = p->cpost ? p->cpost * 2 : 4;
            int32_t *q = realloc(p->post, (size_t)cap * sizeof *q);
            if (!q) {
                st->failed = 1;
                return;
            }
            p->post = q;
            p->cpost = cap;
        }
        p->post[p->npost++] = (int32_t)w;
    }
    if (!p->dirty) {
        if (st->ndirty == st->cdirty) {
            uint32_t cap = st->cdirty ? st->cdirty * 2 : 1024;
            uint32_t *d = realloc(st->dirty, (size_t)cap * sizeof *d);
            if (!d) {
                st->failed = 1;
                return;
            }
            st->dirty = d;
            st->cdirty = cap;
        }
        p->dirty = 1;
        st->dirty[st->ndirty++] = k;
    }
}

/* Only a count that went up needs a heap entry now: a pair whose count
 * went down keeps its newer, higher entry, which is corrected when it
 * comes up (pop_best). So every pair has an entry at least as high as its
 * count, which keeps the heap's top right, and the heap grows with the
 * increases only, not with every change. */
static void push_dirty(struct state *st)
{
    for (uint32_t i = 0; i < st->ndirty; i++) {
        struct pair *p = &st->pairs[st->dirty[i]];
        p->dirty = 0;
        if (p->count > p->in_heap) {
            heap_push(st, (struct hent){p->count, p->a, p->b, st->dirty[i]});
            p->in_heap = p->count;
        }
    }
    st->ndirty = 0;
}

/* The pair to merge next, or 0 when the heap is empty. */
static int pop_best(struct state *st, struct hent *top)
{
    while (st->nheap > 0 && !st->failed) {
        *top = heap_pop(st);
        struct pair *p = &st->pairs[top->idx];
        if (top->count == p->count)
            return 1;
        if (top->count == p->in_heap) {
            /* the newest entry, stale: put the pair back at its count */
            p->in_heap = 0;
            if (p->count > 0) {
                heap_push(st, (struct hent){p->count, p->a, p->b, top->idx});
                p->in_heap = p->count;
            }
        }
    }
    return 0;
}

/* Rewrite word w, replacing each non-overlapping (a, b), left to right,
 * by t; only the pairs touching a merge site change count. */
static void merge_word(struct state *st, uint64_t w, int32_t a, int32_t b, int32_t t)
{
    int32_t *x = st->sym + st->off[w];
    uint32_t n = st->len[w], i = 0, j = 0;
    int64_t c = st->cnt[w];
    while (i < n) {
        if (i + 1 < n && x[i] == a && x[i + 1] == b) {
            if (j > 0) {
                pair_add(st, x[j - 1], a, -c, w);
                pair_add(st, x[j - 1], t, c, w);
            }
            if (i + 2 < n) {
                pair_add(st, b, x[i + 2], -c, w);
                pair_add(st, t, x[i + 2], c, w);
            }
            pair_add(st, a, b, -c, w);
            x[j++] = t;
            i += 2;
        } else {
            x[j++] = x[i++];
        }
    }
    st->len[w] = j;
}

static int32_t tok_lookup(const struct state *st, const unsigned char *p, size_t n)
{
    uint64_t i = rn_bpe_hash_bytes(p, n) & st->tmask;
    for (;; i = (i + 1) & st->tmask) {
        int32_t id = st->ttab[i];
        if (id < 0)
            return -1;
        if (st->toff[id + 1] - st->toff[id] == n && memcmp(st->tb + st->toff[id], p, n) == 0)
            return id;
    }
}

static int tok_add(struct state *st, const unsigned char *p, size_t n)
{
    if (st->tbn + n > st->tbcap) {
        size_t cap = st->tbcap * 2 + n;
        unsigned char *q = realloc(st->tb, cap);
        if (!q)
            return -1;
        st->tb = q;
        st->tbcap = cap;
    }
    memcpy(st->tb + st->tbn, p, n);
    st->tbn += n;
    int32_t id = st->ntok++;
    st->toff[id + 1] = st->tbn;
    uint64_t i = rn_bpe_hash_bytes(p, n) & st->tmask;
    while (st->ttab[i] >= 0)
        i = (i + 1) & st->tmask;
    st->ttab[i] = id;
    return id;
}

static void state_free(struct state *st)
{
    for (uint32_t k = 0; k < st->npairs; k++)
        free(st->pairs[k].post);
    free(st->pairs);
    free(st->ptab);
    free(st->dirty);
    free(st->heap);
    free(st->sym);
    free(st->off);
    free(st->len);
    free(st->cnt);
    free(st->stamp);
    free(st->tb);
    free(st->toff);
    free(st->ttab);
}

int rn_bpe_trainer_run(struct rn_bpe_trainer *t, int32_t n_merges, rn_bpe_progress_fn fn,
                       void *ud, struct rn_bpe *b, struct rn_err *e)
{
    struct state st = {0};
    int rc = RN_OK;
    rn_bpe_init(b);
    if (n_merges < 0 || n_merges > RN_BPE_VOCAB_MAX - 256)
        return rn_err_set(e, RN_EUSAGE, NULL, "%d merges: must be 0..%d", (int)n_merges,
                          RN_BPE_VOCAB_MAX - 256);
    /* Fold the per-thread counts into the first table. */
    struct wtab *w0 = &t->tabs[0];
    for (int k = 1; k < t->nthreads; k++) {
        struct wtab *wk = &t->tabs[k];
        for (uint64_t i = 0; wk->slot && i <= wk->mask && !w0->failed; i++)
            if (wk->slot[i].len && wtab_add(w0, wk->arena + wk->slot[i].off, wk->slot[i].len,
                                            wk->slot[i].count) < 0)
                w0->failed = 1;
        w0->pieces += wk->pieces;
        w0->skipped += wk->skipped;
        wk->pieces = wk->skipped = 0;
        free(wk->slot), free(wk->arena);
        wk->slot = NULL, wk->arena = NULL, wk->used = wk->an = wk->acap = 0, wk->mask = 0;
    }
    if (w0->failed)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory counting the corpus' pieces");

    if (w0->used > INT32_MAX)
        return rn_err_set(e, RN_ELIMIT, NULL, "%llu distinct pieces: more than %d",
                          (unsigned long long)w0->used, INT32_MAX);
    st.nwords = w0->used;
    uint64_t nsym = w0->an;
    st.sym = malloc((nsym + 1) * sizeof *st.sym);
    st.off = malloc((st.nwords + 1) * sizeof *st.off);
    st.len = malloc((st.nwords + 1) * sizeof *st.len);
    st.cnt = malloc((st.nwords + 1) * sizeof *st.cnt);
    st.stamp = malloc((st.nwords + 1) * sizeof *st.stamp);
    int32_t ntok_max = 256 + n_merges;
    st.toff = malloc(((size_t)ntok_max + 1) * sizeof *st.toff);
    st.tbcap = 4096;
    st.tb = malloc(st.tbcap);
    uint64_t tcap = 16;
    while (tcap < (uint64_t)ntok_max * 2)
        tcap <<= 1;
    st.ttab = malloc(tcap * sizeof *st.ttab);
    st.tmask = tcap - 1;
    if (!st.sym || !st.off || !st.len || !st.cnt || !st.stamp || !st.toff || !st.tb || !st.ttab ||
        ptab_grow(&st) < 0) {
        rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %llu words",
                        (unsigned long long)st.nwords);
        goto out;
    }
    memset(st.ttab, 0xff, tcap * sizeof *st.ttab);
    st.toff[0] = 0;
    for (int c = 0; c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        tok_add(&st, &byte, 1);
    }
    uint64_t w = 0, pos = 0;
    for (uint64_t i = 0; w0->slot && i <= w0->mask; i++) {
        const struct wslot *s = &w0->slot[i];
        if (!s->len)
            continue;
        st.off[w] = pos;
        st.len[w] = s->len;
        st.cnt[w] = (int64_t)s->count;
        st.stamp[w] = -1;
        for (uint32_t k = 0; k < s->len; k++)
            st.sym[pos + k] = w0->arena[s->off + k];
        pos += s->len;
        w++;
    }
    /* The pieces are symbols now; the counting table can go. */
    t->stats.pieces = w0->pieces;
    t->stats.words = st.nwords;
    free(w0->slot), free(w0->arena);
    w0->slot = NULL, w0->arena = NULL, w0->used = w0->an = w0->acap = 0, w0->mask = 0;

    for (w = 0; w < st.nwords && !st.failed; w++) {
        const int32_t *x = st.sym + st.off[w];
        for (uint32_t k = 0; k + 1 < st.len[w]; k++)
            pair_add(&st, x[k], x[k + 1], st.cnt[w], w);
    }
    push_dirty(&st);

    int32_t made = 0, step = 0;
    unsigned char buf[2 * TRAIN_PIECE_MAX];
    while (made < n_merges && !st.failed) {
        struct hent top = {0};
        if (!pop_best(&st, &top) || top.count < MIN_COUNT)
            break;
        int32_t a = top.a, bb = top.b;
        size_t la = st.toff[a + 1] - st.toff[a], lb = st.toff[bb + 1] - st.toff[bb];
        memcpy(buf, st.tb + st.toff[a], la);
        memcpy(buf + la, st.tb + st.toff[bb], lb);
        /* Two merges can spell the same bytes ("a"+"bc", "ab"+"c"): the
         * second reuses the token, since a vocabulary holds bytes once. */
        int32_t id = tok_lookup(&st, buf, la + lb);
        if (id < 0) {
            if ((id = tok_add(&st, buf, la + lb)) < 0) {
                st.failed = 1;
                break;
            }
            made++;
        }
        struct pair *p = &st.pairs[top.idx];
        int32_t *post = p->post;
        uint32_t npost = p->npost;
        p->post = NULL;
        p->npost = p->cpost = 0;
        for (uint32_t k = 0; k < npost; k++) {
            uint64_t wd = (uint64_t)post[k];
            if (st.stamp[wd] == step)
                continue;
            st.stamp[wd] = step;
            merge_word(&st, wd, a, bb, id);
        }
        free(post);
        st.pairs[top.idx].count = 0;
        st.pairs[top.idx].in_heap = 0;
        push_dirty(&st);
        step++;
        if (fn && (made % 64 == 0 || made == n_merges))
            fn(ud, made, n_merges, top.count);
    }
    if (st.failed) {
        rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory while training");
        goto out;
    }
    if (fn)
        fn(ud, made, n_merges, 0);
    t->stats.merges = made;
    {
        const unsigned char **tok = malloc((size_t)st.ntok * sizeof *tok);
        uint32_t *len = malloc((size_t)st.ntok * sizeof *len);
        if (!tok || !len) {
            rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        } else {
            for (int32_t k = 0; k < st.ntok; k++) {
                tok[k] = st.tb + st.toff[k];
                len[k] = (uint32_t)(st.toff[k + 1] - st.toff[k]);
            }
            rc = rn_bpe_build(b, st.ntok, tok, len, "runnel-bpe", e);
        }
        free(tok);
        free(len);
    }
out:
    state_free(&st);
    return rc;
}
