/* sample — turning a row of logits into the next token: greedy,
 * temperature, top-k, top-p (nucleus), repetition penalty, seeded.
 *
 * The distribution is built in this order (the usual one, e.g. Hugging
 * Face's logits processors):
 *
 *   1. repetition penalty r: every distinct id in the history has its logit
 *      divided by r if positive, multiplied by r otherwise (CTRL);
 *   2. temperature 0: greedy, all mass on the first largest logit;
 *      otherwise logits / temperature;
 *   3. top-k (k > 0): only the k largest logits stay (ties broken toward
 *      the lower id, so exactly k);
 *   4. softmax over what stays;
 *   5. top-p (p < 1): the smallest set of most probable ids whose mass is
 *      >= p stays (at least one), then renormalised.
 *
 * rn_sample_probs exposes the resulting distribution because speculative
 * sampling (spec.h) needs the target and draft distributions themselves;
 * rn_sample_draw draws from one with a single uniform of the caller's
 * struct rn_rng (inverse CDF in id order), so the same seed gives the same
 * tokens. A struct rn_sampler owns its scratch (allocated once by
 * rn_sampler_init); nothing allocates afterwards.
 *
 *     struct rn_sampler s;  struct rn_sample_params p = RN_SAMPLE_DEFAULTS;
 *     p.temperature = 0.8f, p.top_k = 40;
 *     rn_sampler_init(&s, V, &e);
 *     int tok = rn_sample(&s, &p, logits, history, n_history, &rng);
 */
#ifndef RN_SAMPLE_H
#define RN_SAMPLE_H

#include <stdint.h>

#include "err.h"
#include "rng.h"

struct rn_sample_params {
    float temperature;        /* >= 0; 0 means greedy */
    int top_k;                /* 0: off; else keep the k largest */
    float top_p;              /* (0, 1]; 1: off */
    float repetition_penalty; /* >= 1 (1: off); values < 1 would favour repeats and are allowed */
};

#define RN_SAMPLE_DEFAULTS ((struct rn_sample_params){1.0f, 0, 1.0f, 1.0f})

struct rn_sampler {
    int V;
    float *probs;     /* (V) the last distribution built */
    float *work;      /* (V) adjusted logits */
    int32_t *order;   /* (V) ids sorted by decreasing value */
    uint8_t *seen;    /* (V) history marks */
};

/* RN_OK, RN_EUSAGE (V < 1), RN_ENOMEM (s zeroed). */
int rn_sampler_init(struct rn_sampler *s, int V, struct rn_err *e);
void rn_sampler_free(struct rn_sampler *s);
/* RN_OK or RN_EUSAGE naming the field ("temperature", "top_k", "top_p",
 * "repetition_penalty") for a value outside its range or not finite. */
int rn_sample_params_validate(const struct rn_sample_params *p, struct rn_err *e);

/* s->probs (V) = the distribution above for logits (V); history (n) the
 * ids the penalty applies to (ids outside [0, V) are ignored); n may be 0.
 * Returns s->probs. */
const float *rn_sample_probs(struct rn_sampler *s, const struct rn_sample_params *p,
                             const float *logits, const int32_t *history, int n);
/* An id drawn from probs (V), which sums to ~1: the first i with
 * cumsum(probs)[i] > u * sum, u = rn_rng_uniform(g); ids of probability 0
 * are never drawn. */
int rn_sample_draw(const float *probs, int V, struct rn_rng *g);
/* rn_sample_probs then rn_sample_draw; greedy (temperature 0) draws no
 * random number, so the rng stays where it was. */
int rn_sample(struct rn_sampler *s, const struct rn_sample_params *p, const float *logits,
              const int32_t *history, int n, struct rn_rng *g);

#endif
