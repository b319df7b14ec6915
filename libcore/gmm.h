/* gmm — Gaussian mixtures of 3-vectors (colours), the colour models of
 * GrabCut-style segmentation (libcore/seg).
 *
 * A mixture p(x) = sum_k w_k N(x; mu_k, S_k) with full 3x3 covariances.
 * Models are learnt the way GrabCut learns them, by hard assignment: every
 * sample goes to its most likely component, and each component is refit
 * from its samples (sufficient statistics: count, sum, sum of outer
 * products). rn_gmm_fit starts that from k-means++ seeding and k-means.
 *
 *     struct rn_gmm g;
 *     if (rn_gmm_fit(&g, x, n, 5, 10, seed, &e) < 0) ...    // x: n x 3 floats
 *     float cost = rn_gmm_neglog(&g, x + 3 * i);            // -log p(x_i)
 *
 *     struct rn_gmm_stats st;                                // one hard-EM step
 *     rn_gmm_stats_clear(&st, g.k);
 *     for (i...) rn_gmm_stats_add(&st, rn_gmm_component(&g, xi), xi);
 *     rn_gmm_from_stats(&g, &st, &e);
 *
 * Everything is plain data in the structs: nothing to free.
 */
#ifndef RN_GMM_H
#define RN_GMM_H

#include <stdint.h>

#include "err.h"

#define RN_GMM_MAX_K 8
/* Added to every covariance's diagonal: keeps flat-coloured regions (zero
 * variance) from giving singular matrices and infinite densities. In
 * squared 8-bit colour units. */
#define RN_GMM_COV_REG 0.5

struct rn_gmm {
    int k;                               /* components, 1..RN_GMM_MAX_K */
    double weight[RN_GMM_MAX_K];         /* w_k, summing to 1; 0: unused */
    double mean[RN_GMM_MAX_K][3];        /* mu_k */
    double cov[RN_GMM_MAX_K][9];         /* S_k, row-major 3x3 */
    /* Derived by rn_gmm_from_stats/rn_gmm_set for fast evaluation: */
    float mu[RN_GMM_MAX_K][3];
    float icov[RN_GMM_MAX_K][6];         /* S_k^-1: xx xy xz yy yz zz */
    float lognorm[RN_GMM_MAX_K];         /* log w_k - log det S_k / 2 - 3/2 log 2pi;
                                            -inf for unused components */
};

/* Sufficient statistics of a hard assignment. */
struct rn_gmm_stats {
    int k;
    double n[RN_GMM_MAX_K];
    double s[RN_GMM_MAX_K][3];           /* sum x */
    double ss[RN_GMM_MAX_K][6];          /* sum x x^T: xx xy xz yy yz zz */
};

void rn_gmm_stats_clear(struct rn_gmm_stats *st, int k);
static inline void rn_gmm_stats_add(struct rn_gmm_stats *st, int c, const float x[3])
{
    double a = x[0], b = x[1], d = x[2];
    st->n[c] += 1;
    st->s[c][0] += a, st->s[c][1] += b, st->s[c][2] += d;
    st->ss[c][0] += a * a, st->ss[c][1] += a * b, st->ss[c][2] += a * d;
    st->ss[c][3] += b * b, st->ss[c][4] += b * d, st->ss[c][5] += d * d;
}
/* The same with a sample weight w > 0 (w copies of x). */
static inline void rn_gmm_stats_add_w(struct rn_gmm_stats *st, int c, const float x[3], double w)
{
    double a = x[0], b = x[1], d = x[2];
    st->n[c] += w;
    st->s[c][0] += w * a, st->s[c][1] += w * b, st->s[c][2] += w * d;
    st->ss[c][0] += w * a * a, st->ss[c][1] += w * a * b, st->ss[c][2] += w * a * d;
    st->ss[c][3] += w * b * b, st->ss[c][4] += w * b * d, st->ss[c][5] += w * d * d;
}
/* dst += src (same k): merges per-thread statistics. */
void rn_gmm_stats_merge(struct rn_gmm_stats *dst, const struct rn_gmm_stats *src);

/* Refit g from st: w_k = n_k / n, mu_k = s_k / n_k,
 * S_k = ss_k / n_k - mu_k mu_k^T + RN_GMM_COV_REG I. Components without
 * samples get weight 0. RN_EFORMAT if st holds no sample at all. */
int rn_gmm_from_stats(struct rn_gmm *g, const struct rn_gmm_stats *st, struct rn_err *e);
/* Set g from weights, means and covariances (k of each, as in the struct)
 * and derive the evaluation fields. RN_EFORMAT if a covariance is not
 * positive definite. */
int rn_gmm_set(struct rn_gmm *g, int k, const double *weight, const double (*mean)[3],
               const double (*cov)[9], struct rn_err *e);

/* Fit a k-component model to x (n x 3): k-means++ seeding (seeded, so the
 * same seed gives the same model), Lloyd k-means until stable or 10 rounds,
 * then iters hard-EM rounds. Uses at most 65536 evenly spaced samples.
 * RN_EUSAGE for k outside 1..RN_GMM_MAX_K, RN_EFORMAT for n = 0. */
int rn_gmm_fit(struct rn_gmm *g, const float *x, int64_t n, int k, int iters, uint64_t seed,
               struct rn_err *e);

/* Most likely component of x: argmax_k w_k N(x; mu_k, S_k). */
int rn_gmm_component(const struct rn_gmm *g, const float x[3]);
/* -log p(x), and the most likely component in *comp if comp is non-NULL. */
float rn_gmm_neglog(const struct rn_gmm *g, const float x[3], int *comp);

#endif
