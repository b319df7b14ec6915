/* bpe_private — the bpe module's hash tables, shared by its .c files only
 * (not part of the public contract; other modules include bpe.h). */
#ifndef RN_BPE_PRIVATE_H
#define RN_BPE_PRIVATE_H

#include <stdint.h>
#include <string.h>

#include "bpe.h"

#define RN_BPE_NONE INT32_MAX   /* "no merge" rank */

struct rn_bpe_pair_slot {
    uint64_t key;               /* (left id << 32) | right id; UINT64_MAX: empty */
    int32_t val;                /* the merged token's id (= its rank) */
};

struct rn_bpe_map {
    int32_t *tok;               /* bytes -> id; -1: empty */
    uint64_t tok_mask;
    struct rn_bpe_pair_slot *pair;  /* (id, id) -> id of the concatenation */
    uint64_t pair_mask;
    int32_t *special;           /* ids of special tokens, in id order */
    int32_t n_special;
    unsigned char special_first[256];  /* 1: some special starts with this byte */
    size_t special_max;         /* longest special, in bytes */
};

static inline uint64_t rn_bpe_hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

static inline uint64_t rn_bpe_hash_pair(uint64_t key)
{
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 32);
}

/* Id of the BPE token with these bytes, or -1. */
static inline int32_t rn_bpe_lookup(const struct rn_bpe *b, const unsigned char *p, size_t n)
{
    const struct rn_bpe_map *m = b->map;
    uint64_t i = rn_bpe_hash_bytes(p, n) & m->tok_mask;
    for (;;) {
        int32_t id = m->tok[i];
        if (id < 0)
            return -1;
        uint32_t off = b->tok_off[id];
        if (b->tok_off[id + 1] - off == n && memcmp(b->bytes + off, p, n) == 0)
            return id;
        i = (i + 1) & m->tok_mask;
    }
}

/* Id (= rank) of the token whose bytes are token a's then token b's, or
 * RN_BPE_NONE. */
static inline int32_t rn_bpe_pair(const struct rn_bpe *b, int32_t x, int32_t y)
{
    const struct rn_bpe_map *m = b->map;
    uint64_t key = (uint64_t)(uint32_t)x << 32 | (uint32_t)y;
    uint64_t i = rn_bpe_hash_pair(key) & m->pair_mask;
    for (;;) {
        const struct rn_bpe_pair_slot *s = &m->pair[i];
        if (s->key == key)
            return s->val;
        if (s->key == UINT64_MAX)
            return RN_BPE_NONE;
        i = (i + 1) & m->pair_mask;
    }
}

/* A per-thread cache of recent pieces' ids (bpe_encode.c); NULL on
 * allocation failure, released with free(). Encoding with or without one
 * gives the same ids. */
struct rn_bpe_cache;
struct rn_bpe_cache *rn_bpe_cache_new(void);
int rn_bpe_encode_cached(const struct rn_bpe *b, const void *text, size_t len, int flags,
                         struct rn_bpe_cache *cache, struct rn_bpe_ids *out, struct rn_err *e);

#endif
