/* spec — speculative decoding with the MTP heads (spec.h). */
#include "spec.h"

#include <stdlib.h>
#include <string.h>

void rn_spec_free(struct rn_spec *sp)
{
    free(sp->tok);
    free(sp->hist);
    free(sp->q);
    free(sp->p);
    rn_sampler_free(&sp->smp);
    memset(sp, 0, sizeof *sp);
}

int rn_spec_init(struct rn_spec *sp, struct rn_lm_decoder *d, int slot, struct rn_err *e)
{
    const struct rn_lm_config *c = &d->m->cfg;
    const int D = c->multi_token_predict, V = c->vocab_size, C = c->n_embd;
    int r;
    memset(sp, 0, sizeof *sp);
    if (D < 1)
        return rn_err_set(e, RN_EUSAGE, "multi_token_predict",
                          "the model has no MTP heads to draft with");
    if (d->levels != D)
        return rn_err_set(e, RN_EUSAGE, "levels",
                          "the decoder caches %d of the %d MTP levels; speculative decoding "
                          "needs all",
                          d->levels, D);
    if (slot < 0 || slot >= d->n_seq)
        return rn_err_set(e, RN_EUSAGE, "slot", "%d is outside [0, %d)", slot, d->n_seq);
    if ((r = rn_sampler_init(&sp->smp, V, e)) < 0)
        return r;
    sp->d = d, sp->slot = slot, sp->D = D;
    sp->tok = malloc(sizeof(int32_t) * ((size_t)d->max_T + D + 1));
    sp->hist = malloc(sizeof(float) * (size_t)D * d->max_T * C);
    sp->q = malloc(sizeof(float) * (size_t)D * V);
    sp->p = malloc(sizeof(float) * (size_t)V);
    if (!sp->tok || !sp->hist || !sp->q || !sp->p) {
        rn_spec_free(sp);
        return rn_err_set(e, RN_ENOMEM, "spec", "out of memory");
    }
    return RN_OK;
}

static int cache_len(const struct rn_spec *sp, int level)
{
    return sp->d->len[(size_t)level * sp->d->n_seq + sp->slot];
}

/* Runs `n` rows of `level` for the slot in chunks of max_rows; level
 * outputs go to hist[level] (when level < D) at the rows' positions;
 * *last gets the last row's logits. ids (n) the rows' tokens; hprev the
 * previous level's output at the same rows (level >= 1). */
static int run_rows(struct rn_spec *sp, int level, const int32_t *ids, int n,
                    const float *hprev, const float **last, struct rn_err *e)
{
    struct rn_lm_decoder *d = sp->d;
    const int C = d->m->cfg.n_embd;
    for (int i = 0; i < n;) {
        const int k = n - i < d->max_rows ? n - i : d->max_rows, row0 = cache_len(sp, level);
        int r = rn_lm_decode(d, level, &sp->slot, 1, ids + i, k,
                             hprev ? hprev + (size_t)i * C : NULL, RN_DEC_LAST, last, e);
        if (r < 0)
            return r;
        if (level < sp->D)
            memcpy(sp->hist + ((size_t)level * d->max_T + row0) * C, d->h,
                   sizeof(float) * (size_t)k * C);
        i += k;
    }
    return RN_OK;
}

int rn_spec_start(struct rn_spec *sp, const int32_t *prompt, int n,
                  const struct rn_sample_params *p, struct rn_rng *g, int32_t *first,
                  struct rn_err *e)
{
    const float *lg;
    int r;
    if (n < 1)
        return rn_err_set(e, RN_EUSAGE, "prompt", "empty prompt");
    if (n >= sp->d->max_T)
        return rn_err_set(e, RN_EUSAGE, "prompt",
                          "%d tokens leave no room in a cache of %d positions", n,
                          sp->d->max_T);
    rn_lm_decoder_reset(sp->d, sp->slot);
    sp->len = 0;
    if ((r = run_rows(sp, 0, prompt, n, NULL, &lg, e)) < 0)
        return r;
    memcpy(sp->tok, prompt, sizeof(int32_t) * (size_t)n);
    sp->len = n;
    *first = rn_sample(&sp->smp, p, lg, sp->tok, n, g);
    sp->tok[sp->len++] = *first;
    return RN_OK;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

int rn_spec_step(struct rn_spec *sp, const struct rn_sample_params *p, struct rn_rng *g,
                 int32_t *out, int *n_out, struct rn_err *e)
{
    struct rn_lm_decoder *d = sp->d;
    const int V = d->m->cfg.vocab_size, C = d->m->cfg.n_embd, L = sp->len, M = L - 1;
    const int greedy = p->temperature == 0.0f;
    const float *lg;
    int32_t ids[2 * 8 + 2], rows_ids[64];
    int r;
    RN_ASSERT(L >= 2 && cache_len(sp, 0) == M);
    if (M + 1 > d->max_T)
        return rn_err_set(e, RN_ELIMIT, "tokens", "the cache's %d positions are full",
                          d->max_T);
    /* k drafts need k+1 verify positions M..M+k */
    int k = d->max_T - M - 1 < sp->D ? d->max_T - M - 1 : sp->D;
    int32_t *draft = ids + 1; /* draft[j-1] = g_j */

    /* draft: head d catches up on rows [len_d, M), its last row drafts g_d */
    for (int lv = 1; lv <= k; lv++) {
        const int n0 = cache_len(sp, lv);
        for (int r0 = n0; r0 < M;) {
            const int cnt = M - r0 < 64 ? M - r0 : 64;
            for (int i = 0; i < cnt; i++) {
                /* row r embeds x[r+lv]: committed below L, else a draft */
                const int idx = r0 + i + lv;
                rows_ids[i] = idx < L ? sp->tok[idx] : draft[idx - L];
            }
            if ((r = run_rows(sp, lv, rows_ids, cnt,
                              sp->hist + ((size_t)(lv - 1) * d->max_T + r0) * C, &lg, e)) < 0)
                return r;
            r0 += cnt;
        }
        /* the penalty's history: committed tokens, then the drafts so far */
        memcpy(sp->tok + L, draft, sizeof(int32_t) * (size_t)(lv - 1));
        const float *q = rn_sample_probs(&sp->smp, p, lg, sp->tok, L + lv - 1);
        memcpy(sp->q + (size_t)(lv - 1) * V, q, sizeof(float) * V);
        draft[lv - 1] = greedy ? argmax(q, V) : rn_sample_draw(q, V, g);
        /* keep only rows whose inputs were all committed: r + lv < L */
        rn_lm_decoder_truncate(d, lv, sp->slot, L - lv < cache_len(sp, lv) ? L - lv
                                                                          : cache_len(sp, lv));
    }

    /* verify: [x[L-1], g_1..g_k] through the main model, all rows */
    ids[0] = sp->tok[L - 1];
    if ((r = rn_lm_decode(d, 0, &sp->slot, 1, ids, k + 1, NULL, 0, &lg, e)) < 0)
        return r;
    memcpy(sp->hist + (size_t)M * C, d->h, sizeof(float) * (size_t)(k + 1) * C);

    int a = 0, n = 0;
    for (int j = 1; j <= k; j++) {
        /* target p_j for position L+j-1, history = committed + accepted */
        const float *pj = rn_sample_probs(&sp->smp, p, lg + (size_t)(j - 1) * V, sp->tok, L + a);
        const int32_t gj = draft[j - 1];
        int ok;
        if (greedy) {
            ok = pj[gj] > 0.0f; /* one-hot at the argmax */
        } else {
            const float qg = sp->q[(size_t)(j - 1) * V + gj];
            /* accept with probability min(1, p/q); q(g) > 0 as g ~ q */
            ok = rn_rng_uniform(g) * (double)qg < (double)pj[gj];
        }
        if (ok) {
            sp->tok[L + a] = gj;
            out[n++] = gj, a++;
            continue;
        }
        int32_t t;
        if (greedy) {
            t = argmax(pj, V);
        } else {
            /* residual norm(max(0, p - q)); never all zero here: p(g) < q(g)
             * for the rejected g means p exceeds q elsewhere */
            const float *qj = sp->q + (size_t)(j - 1) * V;
            for (int i = 0; i < V; i++)
                sp->p[i] = pj[i] > qj[i] ? pj[i] - qj[i] : 0.0f;
            t = rn_sample_draw(sp->p, V, g);
        }
        sp->tok[L + a] = t;
        out[n++] = t;
        break;
    }
    if (a == k) /* every draft accepted: the bonus token from row k */
        out[n++] = sp->tok[L + a] =
            rn_sample(&sp->smp, p, lg + (size_t)k * V, sp->tok, L + a, g);
    /* the main cache keeps x[L-1] and the accepted drafts */
    rn_lm_decoder_truncate(d, 0, sp->slot, M + 1 + a);
    sp->len = L + n;
    sp->drafted += k, sp->accepted += a, sp->rounds++;
    *n_out = n;
    return RN_OK;
}
