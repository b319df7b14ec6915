/* ops — the numerical kernels of the language model, fp32, each forward
 * beside its backward (llm.c style).
 *
 * Conventions, said once:
 * - Buffers are caller-owned, dense, row-major float32 unless a stride is
 *   named; every argument states its shape. Kernels allocate nothing and
 *   cannot fail: a shape that makes no sense is a caller bug (RN_ASSERT).
 * - A backward ADDS into its gradient buffers (dinp, dw, db: +=), so
 *   residual branches and shared weights need no extra buffers; zero them
 *   once per step. Any gradient pointer documented "or NULL" is skipped.
 *   The one exception is the cross-entropy backward, which starts the chain
 *   and writes its result (so it can work in place over the logits).
 * - Forward buffers named "saved" are what the backward needs; keep them.
 * - Loops run on OpenMP threads; matrix products go through rn_sgemm
 *   (blas.h). Results do not depend on the thread count except through
 *   OpenBLAS's own blocking.
 * - Dropout is reproducible: its mask is a function of (seed, element), see
 *   rn_dropout_stream. Draw the seed from the training struct rn_rng with
 *   rn_rng_u64 before the forward and pass the same seed to the backward.
 * - Each fast kernel whose structure differs from the textbook formula has
 *   a naive twin named *_ref with the same contract, for the unit tests.
 *
 *     rn_linear_forward(h, x, w, b, N, C, OC);           // h = x w^T + b
 *     rn_rmsnorm_forward(y, rms, h, g, N, OC, RN_RMSNORM_EPS);
 *     ...
 *     rn_rmsnorm_backward(dh, dg, dy, h, g, rms, N, OC, RN_RMSNORM_EPS);
 *     rn_linear_backward(dx, dw, db, dh, x, w, N, C, OC);
 *
 * The attention kernels are implemented in ops_attn.c; the MoE routing
 * kernels have their own header, ops_moe.h; mla.h builds the attention
 * block from these.
 */
#ifndef RN_OPS_H
#define RN_OPS_H

#include <stddef.h>
#include <stdint.h>

/* The model's constants (DESIGN.md 3). */
#define RN_RMSNORM_EPS 1e-6f
#define RN_ROPE_THETA 10000.0f

/* ---- linear: out = inp @ w^T + b (w stored as PyTorch's nn.Linear) ---- */

/* out (N,OC); inp (N,C); w (OC,C); b (OC) or NULL. */
void rn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int C, int OC);
/* dinp (N,C) += dout @ w;  dw (OC,C) += dout^T @ inp;  db (OC) += sum_n dout;
 * each or NULL. dout (N,OC); inp (N,C); w (OC,C). */
void rn_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int C, int OC);
void rn_linear_forward_ref(float *out, const float *inp, const float *w, const float *b,
                           int N, int C, int OC);
void rn_linear_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC);

/* ---- RMSNorm (DESIGN.md 3): y = w * x / (||x||_2 / sqrt(C) + eps) ------
 * eps sits outside the root, as in the reference implementation (not
 * LLaMA's rsqrt(mean(x^2) + eps)). */

/* out (N,C); rms (N) saved, ||x||_2/sqrt(C) per row; inp (N,C), kept for
 * the backward; w (C). */
void rn_rmsnorm_forward(float *out, float *rms, const float *inp, const float *w, int N,
                        int C, float eps);
/* dinp (N,C) or NULL; dw (C) or NULL; dout (N,C); inp, w, rms as given to and
 * saved by the forward. A row of zeros has gradient w*dout/eps (the norm's
 * subgradient at 0 is taken as 0, as PyTorch does). */
void rn_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rms, int N, int C, float eps);

/* ---- RoPE, rotate-half pairing (DESIGN.md 3) ----------------------------
 * Element i of the first half pairs with element i of the second half:
 *   y[i]     = x[i] cos(t f_i) - x[i+D/2] sin(t f_i)
 *   y[i+D/2] = x[i] sin(t f_i) + x[i+D/2] cos(t f_i),   f_i = theta^(-2i/D).
 */

/* cos, sin (T, D/2): tables for positions 0..T-1; D even. The angles are
 * formed as the reference does, in float32 (f_i = 1/theta^(2i/D) rounded to
 * float, then t*f_i rounded to float), so long positions agree with PyTorch
 * to rounding instead of drifting apart by ~1e-4. */
void rn_rope_table(float *cos_t, float *sin_t, int T, int D, float theta);
/* out, inp (B,T,H,D): the layout of a linear's (B*T, H*D) output. Position of
 * row t is pos0 + t; cos/sin hold at least pos0+T rows. out may equal inp. */
void rn_rope_forward(float *out, const float *inp, const float *cos_t, const float *sin_t,
                     int B, int T, int H, int D, int pos0);
/* dinp (B,T,H,D) += R^T dout; dinp must not alias dout. */
void rn_rope_backward(float *dinp, const float *dout, const float *cos_t,
                      const float *sin_t, int B, int T, int H, int D, int pos0);

/* ---- softmax over the last axis ---------------------------------------- */

/* out, inp (N,C); max-subtracted, so any finite input is safe. out may equal inp. */
void rn_softmax_forward(float *out, const float *inp, int N, int C);
/* dinp (N,C) += out * (dout - sum(dout * out)); out is the forward's result. */
void rn_softmax_backward(float *dinp, const float *dout, const float *out, int N, int C);

/* ---- causal scaled-dot-product attention --------------------------------
 * q, k (B,T,H,Dk) and v (B,T,H,Dv) in token-major layout: exactly the
 * (B*T, H*D) output of a linear, so no transpose is ever copied; the heads
 * are strided views handed to sgemm. out (B,T,H,Dv) is ready for the output
 * projection. Dk and Dv may differ (MLA: Dk = 32 + 64, Dv = 32).
 *   S = scale * q k^T (causal), P = softmax(S), A = dropout(P), out = A v. */

/* att (B,H,T,T) saved: P, zero above the diagonal. scratch (B,H,T,T): needed
 * only when dropout > 0 (A lives there), else may be NULL. dropout in [0,1). */
void rn_attention_forward(float *out, float *att, float *scratch, const float *q,
                          const float *k, const float *v, int B, int T, int H, int Dk,
                          int Dv, float scale, float dropout, uint64_t seed);
/* dq, dk (B,T,H,Dk), dv (B,T,H,Dv) +=; scratch (B,H,T,T), clobbered; dout
 * (B,T,H,Dv); att as saved; same dropout and seed as the forward. */
void rn_attention_backward(float *dq, float *dk, float *dv, float *scratch,
                           const float *dout, const float *q, const float *k,
                           const float *v, const float *att, int B, int T, int H, int Dk,
                           int Dv, float scale, float dropout, uint64_t seed);
void rn_attention_forward_ref(float *out, float *att, const float *q, const float *k,
                              const float *v, int B, int T, int H, int Dk, int Dv,
                              float scale, float dropout, uint64_t seed);
void rn_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                               const float *q, const float *k, const float *v,
                               const float *att, int B, int T, int H, int Dk, int Dv,
                               float scale, float dropout, uint64_t seed);
/* ---- SiLU and SwiGLU ---------------------------------------------------- */

/* out, inp (n): out = x * sigmoid(x); out may equal inp. */
void rn_silu_forward(float *out, const float *inp, size_t n);
/* dinp (n) += dout * silu'(x). */
void rn_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* h = silu(g) * u, all (n). */
void rn_swiglu_forward(float *h, const float *g, const float *u, size_t n);
/* dg (n) += dh * u * silu'(g);  du (n) += dh * silu(g). Either may be NULL. */
void rn_swiglu_backward(float *dg, float *du, const float *dh, const float *g,
                        const float *u, size_t n);

/* The SwiGLU feed-forward of the experts: out = down(silu(gate(x)) * up(x)),
 * each projection a linear with optional bias (NULL). */
struct rn_swiglu_ffn {
    const float *w_gate, *b_gate; /* (F,C), (F) */
    const float *w_up, *b_up;     /* (F,C), (F) */
    const float *w_down, *b_down; /* (C,F), (C) */
};
struct rn_swiglu_ffn_grad {
    float *w_gate, *b_gate; /* (F,C), (F): +=; any may be NULL */
    float *w_up, *b_up;
    float *w_down, *b_down; /* (C,F), (C) */
};
/* out (N,C); g, u, h (N,F) saved: gate and up pre-activations, their
 * product; inp (N,C). */
void rn_swiglu_ffn_forward(float *out, float *g, float *u, float *h, const float *inp,
                           const struct rn_swiglu_ffn *p, int N, int C, int F);
/* dinp (N,C) += or NULL; grads +=; scratch (2,N,F) clobbered; dout (N,C);
 * g, u, h, inp as in the forward. */
void rn_swiglu_ffn_backward(float *dinp, const struct rn_swiglu_ffn_grad *dp,
                            float *scratch, const float *dout, const float *inp,
                            const float *g, const float *u, const float *h,
                            const struct rn_swiglu_ffn *p, int N, int C, int F);
void rn_swiglu_ffn_forward_ref(float *out, float *g, float *u, float *h,
                               const float *inp, const struct rn_swiglu_ffn *p, int N,
                               int C, int F);
void rn_swiglu_ffn_backward_ref(float *dinp, const struct rn_swiglu_ffn_grad *dp,
                                float *scratch, const float *dout, const float *inp,
                                const float *g, const float *u, const float *h,
                                const struct rn_swiglu_ffn *p, int N, int C, int F);

/* ---- cross-entropy with logits -----------------------------------------
 * loss = mean over rows n with targets[n] != ignore of
 *        logsumexp(logits[n]) - logits[n][targets[n]].
 * A target outside [0,V) that is not `ignore` is a caller bug (RN_ASSERT):
 * token ids are validated where they are read. With no valid row the loss
 * and every gradient are 0 (PyTorch would give NaN). */

/* Returns the mean loss. losses (N) or NULL: per-row loss, 0 on ignored
 * rows; logits (N,V); targets (N); *n_valid (or NULL) gets the number of
 * rows averaged. */
float rn_crossentropy_forward(float *losses, const float *logits, const int32_t *targets,
                              int N, int V, int32_t ignore, int *n_valid);
/* dlogits (N,V) = dloss * (softmax(logits) - onehot(target)) / n_valid,
 * written, 0 on ignored rows; dlogits may equal logits. dloss: the weight
 * of this loss in the total (1 for the main loss). */
void rn_crossentropy_backward(float *dlogits, const float *logits, const int32_t *targets,
                              int N, int V, int32_t ignore, float dloss);
/* Forward and backward in one pass over the logits, which it overwrites with
 * dlogits (the (N,V) logits buffer is the largest activation: no second one,
 * and one exp per element instead of two). Returns the mean loss. */
float rn_crossentropy_fused(float *logits, const int32_t *targets, int N, int V,
                            int32_t ignore, float dloss, int *n_valid);

/* ---- dropout ------------------------------------------------------------
 * Element i is kept with probability 1-p and scaled by 1/(1-p); its uniform
 * is draw i % 4096 of stream rn_dropout_stream(seed, i / 4096), so the mask
 * depends on the seed only, not on threads or call order. */

/* out, inp (n); out may equal inp; p in [0,1). */
void rn_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed);
/* dinp (n) += dout * mask / (1-p), the same mask as the forward's. */
void rn_dropout_backward(float *dinp, const float *dout, size_t n, float p,
                         uint64_t seed);
/* Seed of the idx-th independent random stream under seed (for rn_rng_seed). */
uint64_t rn_dropout_stream(uint64_t seed, uint64_t idx);

/* ---- embedding ---------------------------------------------------------- */

/* out (N,C) = rows ids[n] of wte (V,C); ids (N) in [0,V) (validated by the
 * caller: not checked here beyond RN_ASSERT on negatives). */
void rn_embedding_forward(float *out, const int32_t *ids, const float *wte, int N, int C);
/* dwte (V,C) += scatter of dout (N,C) by ids: repeated ids sum. Deterministic:
 * threads split the columns, each sums its rows in order. */
void rn_embedding_backward(float *dwte, const float *dout, const int32_t *ids, int N,
                           int C);
void rn_embedding_backward_ref(float *dwte, const float *dout, const int32_t *ids, int N,
                               int C);

#endif
