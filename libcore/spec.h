/* spec — speculative decoding of one sequence with the model's own MTP heads
 * as the draft (shared/seeds/2, DESIGN.md 3).
 *
 * A round, with committed tokens x[0..L) (x[L-1] not yet run by the main
 * model, so the main cache holds L-1 positions):
 *
 *   draft   MTP head d's row L-2 combines level d-1's output at that row
 *           with the embedding of x[L-2+d] (a draft for d >= 2) and
 *           predicts x[L-1+d]: D draft tokens g_1..g_D, one row per head
 *           (plus any rows a head is behind on);
 *   verify  the main model runs [x[L-1], g_1..g_D] in one call: D+1 rows,
 *           logits row j is the target distribution for position L+j;
 *   accept  greedy: g_j stays while it equals the main argmax of row j-1;
 *           the first mismatch is replaced by that argmax; all accepted
 *           gives a bonus token from row D. Sampled: the standard rule
 *           (Leviathan et al., Chen et al.): g_j ~ q_j stays with
 *           probability min(1, p_j(g_j) / q_j(g_j)); on rejection the token
 *           is drawn from norm(max(0, p_j - q_j)); so every emitted token
 *           is distributed exactly as the main model's sampler would have
 *           drawn it (p, q both built by rn_sample_probs with the same
 *           parameters).
 *   commit  the main cache keeps the positions whose inputs were committed;
 *           each head's cache is cut back to the rows whose inputs were
 *           all committed (rows using drafts are recomputed next round).
 *
 * Greedy output is therefore token for token the main model's greedy
 * output; the speed-up comes from running D+1 positions per main call.
 *
 * Ownership: struct rn_spec borrows a decoder built with levels =
 * multi_token_predict (it uses one slot of it) and owns its token buffer,
 * the per-level hidden-state history and a sampler. Nothing prints.
 *
 *     rn_lm_decoder_init(&d, &m, 1, 1024, 64, m.cfg.multi_token_predict, &e);
 *     rn_spec_init(&sp, &d, 0, &e);
 *     rn_spec_start(&sp, prompt, n, &params, &rng, &tok, &e);   // first token
 *     while (...) rn_spec_step(&sp, &params, &rng, out, &n_out, &e);
 */
#ifndef RN_SPEC_H
#define RN_SPEC_H

#include <stdint.h>

#include "err.h"
#include "lm_decode.h"
#include "rng.h"
#include "sample.h"

struct rn_spec {
    struct rn_lm_decoder *d; /* borrowed */
    int slot, D;
    int32_t *tok;            /* (max_T + D + 1) committed tokens */
    int len;                 /* committed count L */
    float *hist;             /* (D, max_T, C): level d's output per row, d = 0..D-1 */
    float *q;                /* (D, V) draft distributions of the last round */
    float *p;                /* (V) target distribution */
    struct rn_sampler smp;
    long drafted, accepted;  /* totals over rounds: acceptance = accepted / drafted */
    long rounds;
};

/* RN_OK, RN_EUSAGE (decoder without every MTP level, model without MTP
 * heads, slot out of range), RN_ENOMEM. On error sp is zeroed. */
int rn_spec_init(struct rn_spec *sp, struct rn_lm_decoder *d, int slot, struct rn_err *e);
void rn_spec_free(struct rn_spec *sp);

/* Reset the slot, run the prompt (n >= 1 tokens) and draw the first new
 * token from the main model into *first (committed). RN_OK, or the
 * errors of rn_lm_decode (a prompt longer than the cache, bad ids). */
int rn_spec_start(struct rn_spec *sp, const int32_t *prompt, int n,
                  const struct rn_sample_params *p, struct rn_rng *g, int32_t *first,
                  struct rn_err *e);
/* One round: draft, verify, accept. out (D+1) gets the *n_out (>= 1) newly
 * committed tokens, in order. Drafts shrink near the cache's end; RN_ELIMIT
 * when not one more position fits. */
int rn_spec_step(struct rn_spec *sp, const struct rn_sample_params *p, struct rn_rng *g,
                 int32_t *out, int *n_out, struct rn_err *e);

#endif
