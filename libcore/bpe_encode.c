/* bpe_encode — text to ids and back.
 *
 * BPE of a piece follows tiktoken's byte_pair_merge exactly: start from
 * one token per byte; repeatedly merge the adjacent pair whose
 * concatenation has the lowest rank (the leftmost such pair on a tie);
 * stop when no adjacent concatenation is a token. A piece that is itself a
 * token is that token, without merging (tiktoken checks this first, and
 * merging would not always arrive at it).
 */
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_private.h"

/* Pieces up to this many bytes use the quadratic scan on the stack, which
 * beats a heap on the short pieces text is made of. */
#define SMALL_PIECE 128

static int push_all(struct rn_bpe_ids *out, const int32_t *v, size_t n, struct rn_err *e)
{
    if (out->cap - out->n < n) {
        size_t cap = out->cap ? out->cap : 256;
        while (cap - out->n < n)
            cap *= 2;
        int32_t *p = realloc(out->v, cap * sizeof *p);
        if (!p)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %zu token ids", cap);
        out->v = p;
        out->cap = cap;
    }
    memcpy(out->v + out->n, v, n * sizeof *v);
    out->n += n;
    return RN_OK;
}

/* BPE of p (n <= SMALL_PIECE bytes) into id[]; returns the id count. */
static size_t merge_small(const struct rn_bpe *b, const unsigned char *p, size_t n,
                          int32_t id[SMALL_PIECE])
{
    int32_t rank[SMALL_PIECE];
    for (size_t i = 0; i < n; i++)
        id[i] = b->byte_tok[p[i]];
    for (size_t i = 0; i + 1 < n; i++)
        rank[i] = rn_bpe_pair(b, id[i], id[i + 1]);
    size_t m = n;
    for (;;) {
        int32_t best = RN_BPE_NONE;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (rank[i] < best) {
                best = rank[i];
                bi = i;
            }
        if (best == RN_BPE_NONE)
            break;
        id[bi] = best;
        m--;
        memmove(id + bi + 1, id + bi + 2, (m - bi - 1) * sizeof *id);
        if (bi + 1 < m)
            memmove(rank + bi + 1, rank + bi + 2, (m - bi - 2) * sizeof *rank);
        rank[bi] = bi + 1 < m ? rn_bpe_pair(b, id[bi], id[bi + 1]) : RN_BPE_NONE;
        if (bi > 0)
            rank[bi - 1] = rn_bpe_pair(b, id[bi - 1], id[bi]);
    }
    return m;
}

/* Min-heap of (rank << 32 | position): the lowest rank, then the leftmost. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h[up] <= v)
            break;
        h[i] = h[up];
        i = up;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0, len = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len)
            break;
        if (c + 1 < len && h[c + 1] < h[c])
            c++;
        if (v <= h[c])
            break;
        h[i] = h[c];
        i = c;
    }
    if (len)
        h[i] = v;
    return top;
}

/* The same merges in O(n log n): a linked list of parts and a heap of
 * candidate pairs, stale entries dropped when popped. An entry is current
 * when its part is alive and still has that rank: a part's pair only ever
 * grows to the right, so a rank never comes back. */
static int encode_large(const struct rn_bpe *b, const unsigned char *p, size_t n,
                        struct rn_bpe_ids *out, struct rn_err *e)
{
    if (n > UINT32_MAX - 1)
        return rn_err_set(e, RN_ELIMIT, NULL, "piece of %zu bytes is too long", n);
    int32_t *id = malloc(n * sizeof *id), *rank = malloc(n * sizeof *rank);
    uint32_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
    uint64_t *heap = malloc(3 * n * sizeof *heap);
    size_t hn = 0, hcap = 3 * n;
    int rc = RN_OK;
    if (!id || !rank || !next || !prev || !heap) {
        rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory for a piece of %zu bytes", n);
        goto done;
    }
    const uint32_t END = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        id[i] = b->byte_tok[p[i]];
        next[i] = i + 1 < n ? (uint32_t)(i + 1) : END;
        prev[i] = i > 0 ? (uint32_t)(i - 1) : END;
    }
    for (size_t i = 0; i < n; i++) {
        rank[i] = i + 1 < n ? rn_bpe_pair(b, id[i], id[i + 1]) : RN_BPE_NONE;
        if (rank[i] != RN_BPE_NONE)
            heap_push(heap, &hn, (uint64_t)rank[i] << 32 | i);
    }
    while (hn > 0) {
        uint64_t top = heap_pop(heap, &hn);
        uint32_t i = (uint32_t)top;
        int32_t r = (int32_t)(top >> 32);
        if (rank[i] != r || id[i] < 0)
            continue;
        uint32_t j = next[i];
        id[i] = r;
        id[j] = -1;
        next[i] = next[j];
        if (next[j] != END)
            prev[next[j]] = i;
        /* Each merge pushes at most two entries and removes a part, so
         * the heap never outgrows 3n; the check guards the arithmetic. */
        if (hn + 2 > hcap) {
            rc = rn_err_set(e, RN_ELIMIT, NULL, "merge heap overflow");
            goto done;
        }
        rank[i] = next[i] != END ? rn_bpe_pair(b, id[i], id[next[i]]) : RN_BPE_NONE;
        if (rank[i] != RN_BPE_NONE)
            heap_push(heap, &hn, (uint64_t)rank[i] << 32 | i);
        if (prev[i] != END) {
            uint32_t q = prev[i];
            rank[q] = rn_bpe_pair(b, id[q], id[i]);
            if (rank[q] != RN_BPE_NONE)
                heap_push(heap, &hn, (uint64_t)rank[q] << 32 | q);
        }
    }
    size_t m = 0;
    for (uint32_t i = 0; i != END; i = next[i])
        id[m++] = id[i];
    rc = push_all(out, id, m, e);
done:
    free(id);
    free(rank);
    free(next);
    free(prev);
    free(heap);
    return rc;
}

/* Id of the token with p's bytes, given p's hash, or -1. */
static inline int32_t lookup_hashed(const struct rn_bpe *b, const unsigned char *p, size_t n,
                                    uint64_t h)
{
    const struct rn_bpe_map *m = b->map;
    for (uint64_t i = h & m->tok_mask;; i = (i + 1) & m->tok_mask) {
        int32_t id = m->tok[i];
        if (id < 0)
            return -1;
        uint32_t off = b->tok_off[id];
        if (b->tok_off[id + 1] - off == n && memcmp(b->bytes + off, p, n) == 0)
            return id;
    }
}

/* The encoder's cache: pieces that are not tokens recur (a name, a CJK
 * word, a markup sequence), and remembering their merges skips the pair
 * lookups, the bulk of the work. Direct-mapped, one per thread. */
#define CACHE_SLOTS 4096
#define CACHE_BYTES 22
#define CACHE_IDS 7

struct rn_bpe_cache_slot {
    uint64_t hash;
    uint8_t len, n;             /* len 0: empty */
    unsigned char bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
};

struct rn_bpe_cache {
    struct rn_bpe_cache_slot slot[CACHE_SLOTS];
};

struct rn_bpe_cache *rn_bpe_cache_new(void)
{
    return calloc(1, sizeof(struct rn_bpe_cache));
}

static int encode_piece(const struct rn_bpe *b, const unsigned char *p, size_t len,
                        struct rn_bpe_cache *cache, struct rn_bpe_ids *out, struct rn_err *e)
{
    if (len == 0)
        return RN_OK;
    if (len == 1)
        return rn_bpe_ids_push(out, b->byte_tok[p[0]], e);
    uint64_t h = rn_bpe_hash_bytes(p, len);
    int32_t whole = lookup_hashed(b, p, len, h);
    if (whole >= 0)
        return rn_bpe_ids_push(out, whole, e);
    if (len > SMALL_PIECE)
        return encode_large(b, p, len, out, e);
    struct rn_bpe_cache_slot *slot = NULL;
    if (cache && len <= CACHE_BYTES) {
        slot = &cache->slot[(h >> 20) & (CACHE_SLOTS - 1)];
        if (slot->hash == h && slot->len == len && memcmp(slot->bytes, p, len) == 0)
            return push_all(out, slot->ids, slot->n, e);
    }
    int32_t id[SMALL_PIECE];
    size_t m = merge_small(b, p, len, id);
    if (slot && m <= CACHE_IDS) {
        slot->hash = h;
        slot->len = (uint8_t)len;
        slot->n = (uint8_t)m;
        memcpy(slot->bytes, p, len);
        memcpy(slot->ids, id, m * sizeof *id);
    }
    return push_all(out, id, m, e);
}

int rn_bpe_encode_piece(const struct rn_bpe *b, const unsigned char *p, size_t len,
                        struct rn_bpe_ids *out, struct rn_err *e)
{
    return encode_piece(b, p, len, NULL, out, e);
}

int rn_bpe_encode_piece_ref(const struct rn_bpe *b, const unsigned char *p, size_t len,
                            struct rn_bpe_ids *out, struct rn_err *e)
{
    if (len == 0)
        return RN_OK;
    int32_t whole = rn_bpe_lookup(b, p, len);
    if (whole >= 0)
        return rn_bpe_ids_push(out, whole, e);
    /* start[i]: where part i begins; parts are [start[i], start[i+1]). */
    size_t *start = malloc((len + 1) * sizeof *start);
    if (!start)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    size_t m = len;
    for (size_t i = 0; i <= len; i++)
        start[i] = i;
    for (;;) {
        int32_t best = RN_BPE_NONE;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            int32_t r = rn_bpe_lookup(b, p + start[i], start[i + 2] - start[i]);
            if (r >= 0 && r < best) {
                best = r;
                bi = i;
            }
        }
        if (best == RN_BPE_NONE)
            break;
        memmove(start + bi + 1, start + bi + 2, (m - bi - 1) * sizeof *start);
        m--;
    }
    int rc = RN_OK;
    for (size_t i = 0; i < m && rc == RN_OK; i++)
        rc = rn_bpe_ids_push(out, rn_bpe_lookup(b, p + start[i], start[i + 1] - start[i]), e);
    free(start);
    return rc;
}

static int encode_ordinary(const struct rn_bpe *b, const unsigned char *s, size_t len,
                           struct rn_bpe_cache *cache, struct rn_bpe_ids *out, struct rn_err *e)
{
    size_t pos = 0;
    while (pos < len) {
        size_t end = rn_pretok_next(s, len, pos);
        int rc = encode_piece(b, s + pos, end - pos, cache, out, e);
        if (rc < 0)
            return rc;
        pos = end;
    }
    return RN_OK;
}

/* First special token at or after pos: its start and id; the longest one
 * when several start at the same byte. Returns len if there is none. */
static size_t find_special(const struct rn_bpe *b, const unsigned char *s, size_t len,
                           size_t pos, int32_t *which, size_t *wlen)
{
    const struct rn_bpe_map *m = b->map;
    for (size_t i = pos; i < len; i++) {
        if (!m->special_first[s[i]])
            continue;
        size_t best = 0;
        for (int32_t k = 0; k < m->n_special; k++) {
            int32_t id = m->special[k];
            size_t n = b->tok_off[id + 1] - b->tok_off[id];
            if (n > best && n <= len - i && memcmp(s + i, b->bytes + b->tok_off[id], n) == 0) {
                best = n;
                *which = id;
            }
        }
        if (best) {
            *wlen = best;
            return i;
        }
    }
    return len;
}

int rn_bpe_encode(const struct rn_bpe *b, const void *text, size_t len, int flags,
                  struct rn_bpe_ids *out, struct rn_err *e)
{
    return rn_bpe_encode_cached(b, text, len, flags, NULL, out, e);
}

int rn_bpe_encode_cached(const struct rn_bpe *b, const void *text, size_t len, int flags,
                         struct rn_bpe_cache *cache, struct rn_bpe_ids *out, struct rn_err *e)
{
    const unsigned char *s = text;
    if (!(flags & RN_BPE_ALLOW_SPECIAL) || b->map->n_special == 0)
        return encode_ordinary(b, s, len, cache, out, e);
    /* As tiktoken: cut at special tokens first, then pre-tokenize each
     * stretch between them as a text of its own. */
    size_t pos = 0;
    while (pos < len) {
        int32_t id = -1;
        size_t slen = 0;
        size_t at = find_special(b, s, len, pos, &id, &slen);
        int rc = encode_ordinary(b, s + pos, at - pos, cache, out, e);
        if (rc < 0)
            return rc;
        if (at == len)
            break;
        if ((rc = rn_bpe_ids_push(out, id, e)) < 0)
            return rc;
        pos = at + slen;
    }
    return RN_OK;
}

int rn_bpe_decode(const struct rn_bpe *b, const int32_t *ids, size_t n,
                  struct rn_bpe_bytes *out, struct rn_err *e)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= b->n_vocab)
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "token %zu: id %ld out of range (vocabulary 0..%d)", i, (long)id,
                              (int)b->n_vocab - 1);
        uint32_t off = b->tok_off[id];
        int rc = rn_bpe_bytes_append(out, b->bytes + off, b->tok_off[id + 1] - off, e);
        if (rc < 0)
            return rc;
    }
    return RN_OK;
}
