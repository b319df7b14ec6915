/* gmm — see gmm.h. */
#include "gmm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define LOG_2PI 1.8378770664093453

void rn_gmm_stats_clear(struct rn_gmm_stats *st, int k)
{
    RN_ASSERT(k >= 1 && k <= RN_GMM_MAX_K);
    memset(st, 0, sizeof *st);
    st->k = k;
}

void rn_gmm_stats_merge(struct rn_gmm_stats *dst, const struct rn_gmm_stats *src)
{
    RN_ASSERT(dst->k == src->k);
    for (int c = 0; c < dst->k; c++) {
        dst->n[c] += src->n[c];
        for (int i = 0; i < 3; i++)
            dst->s[c][i] += src->s[c][i];
        for (int i = 0; i < 6; i++)
            dst->ss[c][i] += src->ss[c][i];
    }
}

/* Derive mu, S^-1 (by cofactors) and the log normaliser of component c.
 * Returns 0, or -1 if S is not positive definite. */
static int derive(struct rn_gmm *g, int c)
{
    const double *m = g->cov[c];
    double a = m[0], b = m[1], d = m[2], e = m[4], f = m[5], i = m[8];
    /* symmetric: m[3] = b, m[6] = d, m[7] = f */
    double c00 = e * i - f * f, c01 = d * f - b * i, c02 = b * f - d * e;
    double det = a * c00 + b * c01 + d * c02;
    if (!(det > 0) || !(a > 0) || !(a * e - b * b > 0) || !isfinite(det))
        return -1;
    double c11 = a * i - d * d, c12 = b * d - a * f, c22 = a * e - b * b;
    g->icov[c][0] = (float)(c00 / det);
    g->icov[c][1] = (float)(c01 / det);
    g->icov[c][2] = (float)(c02 / det);
    g->icov[c][3] = (float)(c11 / det);
    g->icov[c][4] = (float)(c12 / det);
    g->icov[c][5] = (float)(c22 / det);
    for (int k = 0; k < 3; k++)
        g->mu[c][k] = (float)g->mean[c][k];
    g->lognorm[c] = g->weight[c] > 0
                        ? (float)(log(g->weight[c]) - 0.5 * log(det) - 1.5 * LOG_2PI)
                        : -INFINITY;
    return 0;
}

int rn_gmm_set(struct rn_gmm *g, int k, const double *weight, const double (*mean)[3],
               const double (*cov)[9], struct rn_err *e)
{
    if (k < 1 || k > RN_GMM_MAX_K)
        return rn_err_set(e, RN_EUSAGE, "gmm", "%d components is outside 1..%d", k,
                          RN_GMM_MAX_K);
    memset(g, 0, sizeof *g);
    g->k = k;
    for (int c = 0; c < k; c++) {
        g->weight[c] = weight[c];
        memcpy(g->mean[c], mean[c], sizeof g->mean[c]);
        memcpy(g->cov[c], cov[c], sizeof g->cov[c]);
        if (derive(g, c) < 0)
            return rn_err_set(e, RN_EFORMAT, "gmm",
                              "covariance of component %d is not positive definite", c);
    }
    return RN_OK;
}

int rn_gmm_from_stats(struct rn_gmm *g, const struct rn_gmm_stats *st, struct rn_err *e)
{
    double total = 0;
    for (int c = 0; c < st->k; c++)
        total += st->n[c];
    if (!(total > 0))
        return rn_err_set(e, RN_EFORMAT, "gmm", "no samples to fit a colour model to");
    memset(g, 0, sizeof *g);
    g->k = st->k;
    for (int c = 0; c < st->k; c++) {
        double n = st->n[c];
        double *cv = g->cov[c];
        if (n <= 0) {
            /* Unused: a harmless unit Gaussian of weight 0. */
            cv[0] = cv[4] = cv[8] = 1;
            derive(g, c);
            continue;
        }
        g->weight[c] = n / total;
        double mu[3] = {st->s[c][0] / n, st->s[c][1] / n, st->s[c][2] / n};
        memcpy(g->mean[c], mu, sizeof mu);
        const double *q = st->ss[c];
        cv[0] = q[0] / n - mu[0] * mu[0] + RN_GMM_COV_REG;
        cv[1] = cv[3] = q[1] / n - mu[0] * mu[1];
        cv[2] = cv[6] = q[2] / n - mu[0] * mu[2];
        cv[4] = q[3] / n - mu[1] * mu[1] + RN_GMM_COV_REG;
        cv[5] = cv[7] = q[4] / n - mu[1] * mu[2];
        cv[8] = q[5] / n - mu[2] * mu[2] + RN_GMM_COV_REG;
        if (derive(g, c) < 0) {
            /* Rounding made an almost flat component indefinite: keep its
             * variances only. */
            cv[1] = cv[2] = cv[3] = cv[5] = cv[6] = cv[7] = 0;
            for (int d = 0; d < 9; d += 4)
                if (!(cv[d] >= RN_GMM_COV_REG))
                    cv[d] = RN_GMM_COV_REG;
            derive(g, c);
        }
    }
    return RN_OK;
}

/* log(w_k N(x; mu_k, S_k)) = lognorm_k - (x - mu_k)^T S_k^-1 (x - mu_k) / 2 */
static inline float comp_log(const struct rn_gmm *g, int c, const float x[3])
{
    const float *A = g->icov[c];
    float a = x[0] - g->mu[c][0], b = x[1] - g->mu[c][1], d = x[2] - g->mu[c][2];
    float q = a * (A[0] * a + 2 * A[1] * b + 2 * A[2] * d) + b * (A[3] * b + 2 * A[4] * d) +
              A[5] * d * d;
    return g->lognorm[c] - 0.5f * q;
}

int rn_gmm_component(const struct rn_gmm *g, const float x[3])
{
    int best = 0;
    float bl = -INFINITY;
    for (int c = 0; c < g->k; c++) {
        float l = comp_log(g, c, x);
        if (l > bl)
            bl = l, best = c;
    }
    return best;
}

float rn_gmm_neglog(const struct rn_gmm *g, const float x[3], int *comp)
{
    /* log-sum-exp around the largest term, so far-off colours give a large
     * finite cost instead of log(0). */
    float l[RN_GMM_MAX_K], mx = -INFINITY;
    int best = 0;
    for (int c = 0; c < g->k; c++) {
        l[c] = comp_log(g, c, x);
        if (l[c] > mx)
            mx = l[c], best = c;
    }
    /* Terms below e^-30 of the largest change nothing (and expf's
     * underflow path is slow). */
    float s = 0;
    for (int c = 0; c < g->k; c++)
        if (l[c] - mx > -30.0f)
            s += expf(l[c] - mx);
    if (comp)
        *comp = best;
    return -(mx + logf(s));
}

static float dist2(const float *a, const double *b)
{
    float d0 = a[0] - (float)b[0], d1 = a[1] - (float)b[1], d2 = a[2] - (float)b[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

int rn_gmm_fit(struct rn_gmm *g, const float *x, int64_t n, int k, int iters, uint64_t seed,
               struct rn_err *e)
{
    if (k < 1 || k > RN_GMM_MAX_K)
        return rn_err_set(e, RN_EUSAGE, "gmm", "%d components is outside 1..%d", k,
                          RN_GMM_MAX_K);
    if (n <= 0)
        return rn_err_set(e, RN_EFORMAT, "gmm", "no samples to fit a colour model to");
    /* Evenly spaced subsample: k-means on more than 64k colours changes
     * nothing but the time it takes. */
    const int64_t cap = 65536;
    int64_t step = n > cap ? (n + cap - 1) / cap : 1, m = (n + step - 1) / step;
    float *d2 = malloc((size_t)m * sizeof *d2);
    uint8_t *lab = malloc((size_t)m);
    if (!d2 || !lab) {
        free(d2);
        free(lab);
        return rn_err_set(e, RN_ENOMEM, "gmm", "out of memory for %lld samples", (long long)m);
    }
#define SAMPLE(i) (x + 3 * (i) * step)
    struct rn_rng r;
    rn_rng_seed(&r, seed);
    double cen[RN_GMM_MAX_K][3];
    /* k-means++: each next centre drawn with probability proportional to
     * the squared distance to the nearest centre chosen so far. */
    int64_t f = (int64_t)rn_rng_below(&r, (uint64_t)m);
    for (int j = 0; j < 3; j++)
        cen[0][j] = SAMPLE(f)[j];
    for (int64_t i = 0; i < m; i++)
        d2[i] = dist2(SAMPLE(i), cen[0]);
    for (int c = 1; c < k; c++) {
        double tot = 0;
        for (int64_t i = 0; i < m; i++)
            tot += d2[i];
        int64_t pick = 0;
        if (tot > 0) {
            double u = rn_rng_uniform(&r) * tot, acc = 0;
            for (pick = 0; pick < m - 1; pick++)
                if ((acc += d2[pick]) > u)
                    break;
        } else {
            pick = (int64_t)rn_rng_below(&r, (uint64_t)m);
        }
        for (int j = 0; j < 3; j++)
            cen[c][j] = SAMPLE(pick)[j];
        for (int64_t i = 0; i < m; i++) {
            float dd = dist2(SAMPLE(i), cen[c]);
            if (dd < d2[i])
                d2[i] = dd;
        }
    }
    /* Lloyd's k-means (10 rounds at most, as OpenCV's GrabCut). */
    for (int round = 0; round < 10; round++) {
        int changed = 0;
        double sum[RN_GMM_MAX_K][3] = {{0}}, cnt[RN_GMM_MAX_K] = {0};
        for (int64_t i = 0; i < m; i++) {
            int best = 0;
            float bd = FLT_MAX;
            for (int c = 0; c < k; c++) {
                float dd = dist2(SAMPLE(i), cen[c]);
                if (dd < bd)
                    bd = dd, best = c;
            }
            if (round == 0 || lab[i] != best)
                changed = 1;
            lab[i] = (uint8_t)best;
            cnt[best]++;
            for (int j = 0; j < 3; j++)
                sum[best][j] += SAMPLE(i)[j];
        }
        for (int c = 0; c < k; c++)
            if (cnt[c] > 0)
                for (int j = 0; j < 3; j++)
                    cen[c][j] = sum[c][j] / cnt[c];
        if (!changed)
            break;
    }
    struct rn_gmm_stats st;
    rn_gmm_stats_clear(&st, k);
    for (int64_t i = 0; i < m; i++)
        rn_gmm_stats_add(&st, lab[i], SAMPLE(i));
    int rc = rn_gmm_from_stats(g, &st, e);
    for (int it = 0; it < iters && rc == RN_OK; it++) {
        rn_gmm_stats_clear(&st, k);
        for (int64_t i = 0; i < m; i++)
            rn_gmm_stats_add(&st, rn_gmm_component(g, SAMPLE(i)), SAMPLE(i));
        rc = rn_gmm_from_stats(g, &st, e);
    }
#undef SAMPLE
    free(d2);
    free(lab);
    return rc;
}
