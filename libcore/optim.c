/* optim — AdamW, gradient clipping, LR schedule (PyTorch/nanoGPT semantics). */
#include "optim.h"

#include <math.h>

#include "err.h"

#define PAR_MIN 16384
/* Sums are cut into this many fixed slices and added in order, so the norm
 * is the same whatever the number of threads. */
#define SLICES 64

void rn_adamw_step(float *param, const float *grad, float *m, float *v, size_t n,
                   double lr, double beta1, double beta2, double eps, double wd,
                   int64_t step)
{
    RN_ASSERT(step >= 1);
    /* The scalars as torch forms them: Python doubles, rounded to float once
     * where they meet a float tensor. */
    const float decay = (float)(1.0 - lr * wd);
    const float b1 = (float)beta1, c1 = (float)(1.0 - beta1);
    const float b2 = (float)beta2, c2 = (float)(1.0 - beta2);
    const double bc1 = 1.0 - pow(beta1, (double)step);
    const double bc2 = 1.0 - pow(beta2, (double)step);
    const float neg_step = (float)(-(lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float feps = (float)eps;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float p = param[i] * decay;
        float mi = m[i] * b1 + c1 * g;
        float vi = v[i] * b2 + c2 * g * g;
        float denom = sqrtf(vi) / bc2_sqrt + feps;
        param[i] = p + neg_step * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

static double sumsq(const float *g, size_t n)
{
    double part[SLICES];
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int s = 0; s < SLICES; s++) {
        size_t i0 = n / SLICES * s + (n % SLICES < (size_t)s ? n % SLICES : (size_t)s);
        size_t len = n / SLICES + ((size_t)s < n % SLICES);
        double acc = 0;
        for (size_t i = i0; i < i0 + len; i++)
            acc += (double)g[i] * g[i];
        part[s] = acc;
    }
    double total = 0;
    for (int s = 0; s < SLICES; s++)
        total += part[s];
    return total;
}

double rn_grad_norm(float *const *grads, const size_t *counts, int n_tensors)
{
    RN_ASSERT(n_tensors >= 0);
    double ss = 0;
    for (int t = 0; t < n_tensors; t++)
        ss += sumsq(grads[t], counts[t]);
    return sqrt(ss);
}

double rn_grad_clip(float *const *grads, const size_t *counts, int n_tensors,
                    double max_norm)
{
    double norm = rn_grad_norm(grads, counts, n_tensors);
    /* torch forms the coefficient on float32 tensors. */
    float coef = (float)max_norm / ((float)norm + 1e-6f);
    if (!(coef < 1.0f) && !isnan(coef))
        return norm;
    for (int t = 0; t < n_tensors; t++) {
        float *g = grads[t];
        size_t n = counts[t];
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < n; i++)
            g[i] *= coef;
    }
    return norm;
}

double rn_lr_at(const struct rn_lr_schedule *s, int64_t it)
{
    RN_ASSERT(it >= 0 && s->warmup >= 0);
    if (it < s->warmup)
        return s->lr * (double)(it + 1) / (double)(s->warmup + 1);
    if (it > s->decay_end || s->decay_end <= s->warmup)
        return s->min_lr;
    double r = (double)(it - s->warmup) / (double)(s->decay_end - s->warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * r));
    return s->min_lr + coeff * (s->lr - s->min_lr);
}
