/* bpe_vocab — the tokenizer's tables: token bytes, the bytes -> id and
 * (id, id) -> id hash tables, special tokens and the fingerprint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_private.h"

/* ---- growable outputs ------------------------------------------------ */

int rn_bpe_ids_push(struct rn_bpe_ids *ids, int32_t id, struct rn_err *e)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 256;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %zu token ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return RN_OK;
}

void rn_bpe_ids_free(struct rn_bpe_ids *ids)
{
    if (!ids)
        return;
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

int rn_bpe_bytes_append(struct rn_bpe_bytes *b, const void *p, size_t n, struct rn_err *e)
{
    if (n > SIZE_MAX / 2 - b->n)
        return rn_err_set(e, RN_ENOMEM, NULL, "output too large");
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *v = realloc(b->v, cap);
        if (!v)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %zu bytes", cap);
        b->v = v;
        b->cap = cap;
    }
    if (n)
        memcpy(b->v + b->n, p, n);
    b->n += n;
    return RN_OK;
}

void rn_bpe_bytes_free(struct rn_bpe_bytes *b)
{
    if (!b)
        return;
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ---- the tokenizer --------------------------------------------------- */

void rn_bpe_init(struct rn_bpe *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 256; i++)
        b->byte_tok[i] = -1;
    snprintf(b->name, sizeof b->name, "bpe");
}

static void map_free(struct rn_bpe_map *m)
{
    if (!m)
        return;
    free(m->tok);
    free(m->pair);
    free(m->special);
    free(m);
}

void rn_bpe_free(struct rn_bpe *b)
{
    if (!b)
        return;
    free(b->tok_off);
    free(b->bytes);
    map_free(b->map);
    rn_bpe_init(b);
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

static void pair_insert(struct rn_bpe_map *m, int32_t x, int32_t y, int32_t val)
{
    uint64_t key = (uint64_t)(uint32_t)x << 32 | (uint32_t)y;
    uint64_t i = rn_bpe_hash_pair(key) & m->pair_mask;
    while (m->pair[i].key != UINT64_MAX && m->pair[i].key != key)
        i = (i + 1) & m->pair_mask;
    m->pair[i].key = key;
    m->pair[i].val = val;
}

int rn_bpe_build(struct rn_bpe *b, int32_t n, const unsigned char *const *tok,
                 const uint32_t *len, const char *name, struct rn_err *e)
{
    rn_bpe_init(b);
    if (n < 256 || n > RN_BPE_VOCAB_MAX)
        return rn_err_set(e, RN_EFORMAT, NULL, "%d tokens: a byte-level vocabulary has 256..%d",
                          (int)n, RN_BPE_VOCAB_MAX);
    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (len[i] == 0)
            return rn_err_set(e, RN_EFORMAT, NULL, "token %d is empty", (int)i);
        total += len[i];
    }
    if (total > UINT32_MAX / 2)
        return rn_err_set(e, RN_ELIMIT, NULL, "tokens hold %llu bytes, too many",
                          (unsigned long long)total);
    struct rn_bpe_map *m = calloc(1, sizeof *m);
    b->cap = n + 16;
    b->tok_off = malloc((size_t)(b->cap + 1) * sizeof *b->tok_off);
    b->bytes_cap = total + 1024;
    b->bytes = malloc(b->bytes_cap);
    b->map = m;
    uint64_t tcap = pow2_at_least((uint64_t)n * 2);
    if (m) {
        m->tok = malloc(tcap * sizeof *m->tok);
        m->tok_mask = tcap - 1;
    }
    if (!m || !m->tok || !b->tok_off || !b->bytes) {
        rn_bpe_free(b);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %d tokens", (int)n);
    }
    memset(m->tok, 0xff, tcap * sizeof *m->tok);
    snprintf(b->name, sizeof b->name, "%s", name ? name : "bpe");

    uint32_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        b->tok_off[i] = off;
        memcpy(b->bytes + off, tok[i], len[i]);
        off += len[i];
        b->tok_off[i + 1] = off;
        b->n_base = b->n_vocab = i + 1;
        if (rn_bpe_lookup(b, tok[i], len[i]) >= 0) {
            int32_t prev = rn_bpe_lookup(b, tok[i], len[i]);
            rn_bpe_free(b);
            return rn_err_set(e, RN_EFORMAT, NULL, "token %d repeats token %d", (int)i, (int)prev);
        }
        uint64_t h = rn_bpe_hash_bytes(tok[i], len[i]) & m->tok_mask;
        while (m->tok[h] >= 0)
            h = (h + 1) & m->tok_mask;
        m->tok[h] = i;
        if (len[i] == 1)
            b->byte_tok[tok[i][0]] = i;
    }
    for (int c = 0; c < 256; c++)
        if (b->byte_tok[c] < 0) {
            rn_bpe_free(b);
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "byte 0x%02x has no token: not a byte-level vocabulary", c);
        }

    /* Every way of writing a token as two tokens is a pair BPE may merge:
     * listing them all makes the pair table exactly "the concatenation is
     * a token", the rule tiktoken applies, at one hash probe per pair. */
    uint64_t npairs = 0;
    for (int32_t i = 0; i < n; i++)
        npairs += len[i] - 1;
    uint64_t pcap = pow2_at_least(npairs * 2 + 16);
    m->pair = malloc(pcap * sizeof *m->pair);
    if (!m->pair) {
        rn_bpe_free(b);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for the pair table");
    }
    memset(m->pair, 0xff, pcap * sizeof *m->pair);
    m->pair_mask = pcap - 1;
    for (int32_t i = 0; i < n; i++) {
        const unsigned char *p = b->bytes + b->tok_off[i];
        for (uint32_t k = 1; k < len[i]; k++) {
            int32_t x = rn_bpe_lookup(b, p, k), y = rn_bpe_lookup(b, p + k, len[i] - k);
            if (x >= 0 && y >= 0)
                pair_insert(m, x, y, i);
        }
    }
    rn_bpe_update_fingerprint(b);
    return RN_OK;
}

int32_t rn_bpe_special_id(const struct rn_bpe *b, const char *text, size_t len)
{
    for (int32_t id = b->n_base; id < b->n_vocab; id++) {
        size_t n = b->tok_off[id + 1] - b->tok_off[id];
        if (n == len && memcmp(b->bytes + b->tok_off[id], text, len) == 0)
            return id;
    }
    return -1;
}

int32_t rn_bpe_add_special(struct rn_bpe *b, const char *text, struct rn_err *e)
{
    size_t len = strlen(text);
    if (!b->map)
        return rn_err_set(e, RN_EUSAGE, NULL, "special token added to an empty vocabulary");
    if (len == 0)
        return rn_err_set(e, RN_EUSAGE, NULL, "empty special token");
    if (len > RN_BPE_SPECIAL_MAX)
        return rn_err_set(e, RN_EUSAGE, NULL, "special token longer than %d bytes",
                          RN_BPE_SPECIAL_MAX);
    int32_t id = rn_bpe_special_id(b, text, len);
    if (id >= 0)
        return id;
    if (b->n_vocab >= RN_BPE_VOCAB_MAX)
        return rn_err_set(e, RN_ELIMIT, NULL, "vocabulary full (%d tokens)", RN_BPE_VOCAB_MAX);
    struct rn_bpe_map *m = b->map;
    if (b->n_vocab == b->cap) {
        uint32_t *o = realloc(b->tok_off, (size_t)(b->cap * 2 + 1) * sizeof *o);
        if (!o)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        b->tok_off = o;
        b->cap *= 2;
    }
    uint32_t off = b->tok_off[b->n_vocab];
    if (off + len > b->bytes_cap) {
        size_t cap = (b->bytes_cap + len) * 2;
        unsigned char *p = realloc(b->bytes, cap);
        if (!p)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        b->bytes = p;
        b->bytes_cap = cap;
    }
    int32_t *s = realloc(m->special, (size_t)(m->n_special + 1) * sizeof *s);
    if (!s)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    m->special = s;
    id = b->n_vocab;
    m->special[m->n_special++] = id;
    m->special_first[(unsigned char)text[0]] = 1;
    if (len > m->special_max)
        m->special_max = len;
    memcpy(b->bytes + off, text, len);
    b->tok_off[id + 1] = off + (uint32_t)len;
    b->n_vocab++;
    rn_bpe_update_fingerprint(b);
    return id;
}

int rn_bpe_add_builtin_specials(struct rn_bpe *b, struct rn_err *e)
{
    static const char *const builtin[] = {RN_BPE_EOT, RN_BPE_STORY, RN_BPE_STORY_END};
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        int32_t id = rn_bpe_add_special(b, builtin[i], e);
        if (id < 0)
            return id;
    }
    return RN_OK;
}

int32_t rn_bpe_token_id(const struct rn_bpe *b, const void *p, size_t len)
{
    if (!b->map || len == 0)
        return -1;
    return rn_bpe_lookup(b, p, len);
}

const unsigned char *rn_bpe_token(const struct rn_bpe *b, int32_t id, size_t *len)
{
    if (id < 0 || id >= b->n_vocab)
        return NULL;
    *len = b->tok_off[id + 1] - b->tok_off[id];
    return b->bytes + b->tok_off[id];
}

static uint64_t fnv_feed(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

void rn_bpe_update_fingerprint(struct rn_bpe *b)
{
    /* Over what decides every id: the count of BPE tokens, then each
     * token's length (u32 LE) and bytes in id order, specials included. */
    uint64_t h = 0xCBF29CE484222325ull;
    unsigned char w[4];
    uint32_t nb = (uint32_t)b->n_base;
    w[0] = nb & 0xff, w[1] = nb >> 8 & 0xff, w[2] = nb >> 16 & 0xff, w[3] = nb >> 24;
    h = fnv_feed(h, w, 4);
    for (int32_t id = 0; id < b->n_vocab; id++) {
        uint32_t n = b->tok_off[id + 1] - b->tok_off[id];
        w[0] = n & 0xff, w[1] = n >> 8 & 0xff, w[2] = n >> 16 & 0xff, w[3] = n >> 24;
        h = fnv_feed(h, w, 4);
        h = fnv_feed(h, b->bytes + b->tok_off[id], n);
    }
    b->fingerprint = h;
}

char *rn_bpe_fingerprint_hex(const struct rn_bpe *b, char buf[17])
{
    snprintf(buf, 17, "%016llx", (unsigned long long)b->fingerprint);
    return buf;
}
