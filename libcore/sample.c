/* sample — logits to tokens (sample.h). */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rn_sampler_init(struct rn_sampler *s, int V, struct rn_err *e)
{
    memset(s, 0, sizeof *s);
    if (V < 1)
        return rn_err_set(e, RN_EUSAGE, "vocab_size", "%d must be >= 1", V);
    s->V = V;
    s->probs = malloc(sizeof(float) * (size_t)V);
    s->work = malloc(sizeof(float) * (size_t)V);
    s->order = malloc(sizeof(int32_t) * (size_t)V);
    s->seen = calloc((size_t)V, 1);
    if (!s->probs || !s->work || !s->order || !s->seen) {
        rn_sampler_free(s);
        return rn_err_set(e, RN_ENOMEM, "sampler", "out of memory for %d ids", V);
    }
    return RN_OK;
}

void rn_sampler_free(struct rn_sampler *s)
{
    free(s->probs);
    free(s->work);
    free(s->order);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

int rn_sample_params_validate(const struct rn_sample_params *p, struct rn_err *e)
{
    if (!(p->temperature >= 0.0f && isfinite(p->temperature)))
        return rn_err_set(e, RN_EUSAGE, "temperature", "%g must be a finite number >= 0",
                          (double)p->temperature);
    if (p->top_k < 0)
        return rn_err_set(e, RN_EUSAGE, "top_k", "%d must be >= 0 (0: off)", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return rn_err_set(e, RN_EUSAGE, "top_p", "%g must be in (0, 1]", (double)p->top_p);
    if (!(p->repetition_penalty > 0.0f && isfinite(p->repetition_penalty)))
        return rn_err_set(e, RN_EUSAGE, "repetition_penalty", "%g must be a finite number > 0",
                          (double)p->repetition_penalty);
    return RN_OK;
}

/* qsort has no context argument: the values being sorted by. */
static _Thread_local const float *sort_key;

static int by_value_desc(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = sort_key[i], y = sort_key[j];
    if (x != y)
        return x > y ? -1 : 1;
    return (i > j) - (i < j); /* ties: lower id first */
}

const float *rn_sample_probs(struct rn_sampler *s, const struct rn_sample_params *p,
                             const float *logits, const int32_t *history, int n)
{
    const int V = s->V;
    float *w = s->work, *pr = s->probs;
    memcpy(w, logits, sizeof(float) * (size_t)V);
    if (p->repetition_penalty != 1.0f && n > 0) {
        for (int i = 0; i < n; i++)
            if (history[i] >= 0 && history[i] < V && !s->seen[history[i]]) {
                float *x = &w[history[i]];
                *x = *x > 0.0f ? *x / p->repetition_penalty : *x * p->repetition_penalty;
                s->seen[history[i]] = 1;
            }
        for (int i = 0; i < n; i++)
            if (history[i] >= 0 && history[i] < V)
                s->seen[history[i]] = 0;
    }
    if (p->temperature == 0.0f) {
        int b = 0;
        for (int i = 1; i < V; i++)
            if (w[i] > w[b])
                b = i;
        memset(pr, 0, sizeof(float) * (size_t)V);
        pr[b] = 1.0f;
        return pr;
    }
    const float inv_t = 1.0f / p->temperature;
    int keep = V;
    const int sorted = (p->top_k > 0 && p->top_k < V) || p->top_p < 1.0f;
    if (sorted) {
        for (int i = 0; i < V; i++)
            s->order[i] = i;
        sort_key = w;
        qsort(s->order, (size_t)V, sizeof(int32_t), by_value_desc);
        if (p->top_k > 0 && p->top_k < V)
            keep = p->top_k;
    }
    /* softmax over the kept ids, in double for the sum */
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
        if (w[i] > mx)
            mx = w[i];
    memset(pr, 0, sizeof(float) * (size_t)V);
    double z = 0.0;
    for (int r = 0; r < keep; r++) {
        int i = sorted ? s->order[r] : r;
        double v = exp((double)((w[i] - mx) * inv_t));
        pr[i] = (float)v;
        z += v;
    }
    if (p->top_p < 1.0f) {
        /* smallest prefix of the sorted kept ids with mass >= top_p */
        double c = 0.0;
        int cut = keep;
        for (int r = 0; r < keep; r++) {
            c += pr[s->order[r]] / z;
            if (c >= (double)p->top_p) {
                cut = r + 1;
                break;
            }
        }
        z = 0.0;
        for (int r = 0; r < keep; r++) {
            if (r >= cut)
                pr[s->order[r]] = 0.0f;
            else
                z += pr[s->order[r]];
        }
    }
    const float inv_z = (float)(1.0 / z);
    for (int i = 0; i < V; i++)
        pr[i] *= inv_z;
    return pr;
}

int rn_sample_draw(const float *probs, int V, struct rn_rng *g)
{
    double tot = 0.0;
    for (int i = 0; i < V; i++)
        tot += probs[i];
    double u = rn_rng_uniform(g) * tot, c = 0.0;
    int last = 0;
    for (int i = 0; i < V; i++) {
        if (probs[i] <= 0.0f)
            continue;
        c += probs[i];
        last = i;
        if (c > u)
            return i;
    }
    return last; /* u within rounding of the total: the last possible id */
}

int rn_sample(struct rn_sampler *s, const struct rn_sample_params *p, const float *logits,
              const int32_t *history, int n, struct rn_rng *g)
{
    const float *pr = rn_sample_probs(s, p, logits, history, n);
    if (p->temperature == 0.0f) {
        for (int i = 0; i < s->V; i++)
            if (pr[i] > 0.0f)
                return i;
    }
    return rn_sample_draw(pr, s->V, g);
}
