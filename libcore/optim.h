/* optim — AdamW, global-norm gradient clipping and the learning-rate
 * schedule, matching PyTorch 1.13 (torch.optim.AdamW, clip_grad_norm_) and
 * nanoGPT's get_lr, which the reference training loop follows.
 *
 * Parameters and their state are plain float arrays owned by the caller
 * (the model keeps them, the checkpoint saves them); nothing here
 * allocates or fails.
 *
 *     struct rn_lr_schedule s = {6e-4, 6e-5, 2000, 20000};
 *     float *g[] = {grad}; size_t n[] = {count};
 *     double norm = rn_grad_clip(g, n, 1, 1.0);
 *     rn_adamw_step(param, grad, m, v, count, rn_lr_at(&s, it),
 *                   0.9, 0.95, 1e-8, 0.1, it + 1);
 */
#ifndef RN_OPTIM_H
#define RN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* One AdamW update of n parameters, PyTorch's order exactly:
 *   p -= lr * wd * p                      (decoupled decay, first)
 *   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * param, grad, m, v (n); m and v start at zero. t = step is 1-based (the
 * number of updates including this one). Scalars are formed in double and
 * rounded once, as Python does for torch. wd = 0 for parameters that are
 * not decayed (the caller's grouping). */
void rn_adamw_step(float *param, const float *grad, float *m, float *v, size_t n,
                   double lr, double beta1, double beta2, double eps, double wd,
                   int64_t step);

/* L2 norm over all gradient tensors together: grads[i] has counts[i]
 * floats. Accumulated in double. */
double rn_grad_norm(float *const *grads, const size_t *counts, int n_tensors);
/* torch.nn.utils.clip_grad_norm_: norm = rn_grad_norm(...); if
 * max_norm / (norm + 1e-6) < 1 every gradient is multiplied by it. Returns
 * the norm before clipping. A NaN or infinite norm is returned as is and
 * the gradients are then scaled by NaN or 0, as PyTorch does by default:
 * the caller should skip the step when !isfinite(norm). */
double rn_grad_clip(float *const *grads, const size_t *counts, int n_tensors,
                    double max_norm);

/* Learning rate at iteration it (0-based, the update about to be made),
 * nanoGPT's get_lr:
 *   it <  warmup:          lr * (it + 1) / (warmup + 1)
 *   it >  decay_end:       min_lr
 *   otherwise:             r = (it - warmup) / (decay_end - warmup),
 *                          min_lr + 0.5 (1 + cos(pi r)) (lr - min_lr)
 * The warmup ramps from lr/(warmup+1), never 0, so the first update moves
 * the weights, and reaches lr at it = warmup; the cosine reaches min_lr at
 * it = decay_end and stays there. decay_end <= warmup means no cosine:
 * min_lr from the end of the warmup on. The schedule depends on it only,
 * never on the planned number of steps, so stopping and resuming changes
 * nothing. */
struct rn_lr_schedule {
    double lr;          /* peak, reached at the end of the warmup */
    double min_lr;      /* floor after the cosine */
    int64_t warmup;     /* iterations of linear warmup (0: none) */
    int64_t decay_end;  /* iteration at which the cosine reaches min_lr */
};
double rn_lr_at(const struct rn_lr_schedule *s, int64_t it);

#endif
