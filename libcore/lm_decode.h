/* lm_decode — incremental inference for the model of lm.h with the MLA
 * latent KV cache (DESIGN.md 3, shared/seeds/4).
 *
 * What is cached, per MoE layer l, sequence slot s and position p:
 *
 *   ckv[l][s][p]  (kv_rank)   c_kv = RMSNorm(x W_dkv), after kv_norm
 *   kr[l][s][p]   (H*R)       k_r = RoPE(x W_kr), already rotated
 *
 * and nothing else: the content keys k_c = c_kv W_uk and the values
 * v = c_kv W_uv are never stored. Two attention paths read the cache:
 *
 *   plain     k_c, v re-expanded from c_kv for every cached position, then
 *             ordinary attention (what a naive MLA cache costs);
 *   absorbed  (DeepSeek's trick) q_c W_uk_h is formed once per query, so
 *             scores = (q_c W_uk_h) . c_kv + q_r . k_r, and the output is
 *             (sum_p a_p c_kv[p]) W_uv_h^T: attention runs in the latent
 *             space, nothing is expanded per position.
 *
 * Both give the logits of rn_lm_logits up to float rounding (the tests
 * hold them to it); absorbed is the default because per generated token it
 * costs O(P * H * kv_rank) instead of O(P * kv_rank * H * Dh).
 *
 * Levels: level 0 is the backbone (n_layer blocks, the main head); level
 * d = 1..D is MTP head d (one block, its own cache, its own positions: row
 * r of level d combines level d-1's output at row r with the embedding of
 * token r+d, exactly as rn_lm_forward's chain). A decoder built with
 * `levels` = D caches every MTP head too (for speculative decoding, spec.h).
 *
 * Ownership: struct rn_lm_decoder borrows the model (which must outlive it
 * and whose parameters must not change while cached positions are in use)
 * and owns its cache and scratch, allocated once by rn_lm_decoder_init.
 * Nothing allocates afterwards; nothing prints.
 *
 *     struct rn_lm_decoder d;
 *     rn_lm_decoder_init(&d, &m, 8, 1024, 64, 0, &e);       // 8 slots
 *     int s = 0;  const float *lg;
 *     rn_lm_decode(&d, 0, &s, 1, prompt, n, NULL, RN_DEC_LAST, &lg, &e); // prefill
 *     ... pick tok from lg (V) ...
 *     rn_lm_decode(&d, 0, &s, 1, &tok, 1, NULL, RN_DEC_LAST, &lg, &e);  // one step
 *     rn_lm_decoder_free(&d);
 */
#ifndef RN_LM_DECODE_H
#define RN_LM_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lm.h"

/* rn_lm_decode flags. */
enum {
    RN_DEC_LAST = 1,   /* logits only for each sequence's last new position: (n, V) */
    RN_DEC_PLAIN = 2,  /* the plain (non-absorbed) attention path */
};

struct rn_lm_dec_state; /* scratch and bound weights, private */

struct rn_lm_decoder {
    struct rn_lm *m;       /* borrowed */
    int n_seq;             /* sequence slots */
    int max_T;             /* positions per slot (<= block_size) */
    int max_rows;          /* most new positions in one call, over all sequences */
    int levels;            /* MTP levels cached (0..multi_token_predict) */
    int *len;              /* (levels+1, n_seq): cached positions per level and slot */
    float *ckv;            /* (n_moe_cached, n_seq, max_T, kv_rank) */
    float *kr;             /* (n_moe_cached, n_seq, max_T, H*R) */
    float *h;              /* (max_rows, C): the last call's level output, before ln_f */
    struct rn_lm_dec_state *st;
};

/* Allocate a decoder for n_seq slots of max_T positions, at most max_rows
 * new positions per call, caching `levels` MTP heads. RN_OK, RN_EUSAGE
 * (a size out of range, levels > multi_token_predict, max_T > block_size),
 * RN_ENOMEM. On error d is zeroed. */
int rn_lm_decoder_init(struct rn_lm_decoder *d, struct rn_lm *m, int n_seq, int max_T,
                       int max_rows, int levels, struct rn_err *e);
/* No-op on a zeroed or freed decoder. */
void rn_lm_decoder_free(struct rn_lm_decoder *d);
/* Forget slot s at every level (its positions are reused from 0). */
void rn_lm_decoder_reset(struct rn_lm_decoder *d, int s);
/* Keep only the first len positions of slot s at `level` (len <= current):
 * drops rejected speculative positions. */
void rn_lm_decoder_truncate(struct rn_lm_decoder *d, int level, int s, int len);

/* Append T positions to each of the n slots seqs[0..n) at `level` and run
 * them: tokens (n, T) are the ids at those positions (level 0: the inputs;
 * level d: the ids embedded beside the previous level, i.e. token r+d for
 * row r); hprev (n, T, C) the previous level's output at the same rows
 * (level >= 1 only, else NULL). Rows of slot seqs[i] get positions
 * len[level][s] .. +T-1. *logits (valid until the next call) is (n, T, V),
 * or (n, V) with RN_DEC_LAST; d->h (n*T, C) holds the level's output
 * before ln_f (the input of the next level). The slots must be distinct.
 * RN_OK, or RN_EUSAGE (nothing changed) for n*T > max_rows, a slot out
 * of range or repeated, a position past max_T, a token outside the vocabulary. */
int rn_lm_decode(struct rn_lm_decoder *d, int level, const int *seqs, int n,
                 const int32_t *tokens, int T, const float *hprev, int flags,
                 const float **logits, struct rn_err *e);

/* Bytes of cache per token (all backbone layers, float32) of this latent
 * cache: n_layer * (kv_rank + H*R) * 4, and of a plain K/V cache of the
 * same attention, which stores k = [k_c, k_r] (H*(Dh+R)) and v (H*Dh):
 * n_layer * H * (2*Dh + R) * 4. */
size_t rn_lm_cache_bytes_per_token(const struct rn_lm_config *c);
size_t rn_lm_kv_bytes_per_token(const struct rn_lm_config *c);

#endif
