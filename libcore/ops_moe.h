/* ops_moe — the routing kernels of the mixture of experts (DESIGN.md 3,
 * shared/seeds/3), so that MoE computes only the selected experts: route,
 * group the (token, expert) decisions by expert, gather each expert's rows,
 * run the expert FFN (rn_swiglu_ffn_*) on them, and scatter the weighted
 * outputs back.
 *
 *   z = x W_r + b          (b: the non-learned balancing bias)
 *   idx = top-k of z, w = softmax over the k selected z
 *   out = sum_k w_k E_idx_k(x) (+ shared(x), then dropout: the caller's)
 *
 *     rn_linear_forward(logits, x, w_router, NULL, N, C, E);
 *     rn_moe_route_forward(idx, w, usage, logits, bias, N, E, K);
 *     rn_moe_plan(off, src, idx, N, E, K);
 *     for each expert e:  M = off[e+1]-off[e], s = src + off[e]
 *         rn_moe_gather(xe, x, s, M, K, C);   ... FFN ...
 *         rn_moe_combine_forward(out, ye, w, s, M, K, C);
 *     rn_moe_bias_update(bias, usage, E, 0.001f);   // training only
 *
 * A grouped slot s names one routing decision by its flat index
 * src[s] = n*K + k into idx and w; its token is n = src[s] / K. Within one
 * expert's group the tokens are distinct, so the per-group kernels run
 * their rows in parallel without races. Shapes are caller bugs if wrong
 * (RN_ASSERT); nothing allocates or fails.
 */
#ifndef RN_OPS_MOE_H
#define RN_OPS_MOE_H

#include <stdint.h>

/* idx, w (N,K): the K largest logits+bias per row in decreasing order (ties:
 * lower expert first) and the softmax of those K biased logits; logits
 * (N,E); bias (E) or NULL; usage (E) or NULL: += tokens routed to each
 * expert (the seed's expert_usage). 1 <= K <= E. */
void rn_moe_route_forward(int32_t *idx, float *w, int *usage, const float *logits,
                          const float *bias, int N, int E, int K);
/* dlogits (N,E) += the gradient through w = softmax(z[idx]): for row n,
 * dz_k = w_k (dw_k - sum_j dw_j w_j) at column idx[n,k]. dw, w (N,K). The
 * bias is not learned. */
void rn_moe_route_backward(float *dlogits, const float *dw, const float *w,
                           const int32_t *idx, int N, int E, int K);
/* Auxiliary-loss-free balancing, the seed's rule and arithmetic: with
 * mean = sum(usage)/E (float), b_e -= rate if usage_e > mean, else
 * b_e += rate; in float32 as PyTorch does, so biases match bit for bit. */
void rn_moe_bias_update(float *bias, const int *usage, int E, float rate);

/* The complementary sequence-wise auxiliary loss of shared/seeds/3, as the
 * reference computes it on the router logits it returns (bias included;
 * no padding mask: training batches are full):
 *   p = softmax(logits) (B,T,E);  s_b = sum_t p_bt;  u_b = s_b / sum(s_b)
 *   loss = mean over the B x B entries of (u u^T - I)
 * seq (B,E) saved: the s_b; probs (B*T,E) saved; logits (B*T,E);
 * E <= 1024. Returns the loss. */
float rn_moe_seq_aux_forward(float *probs, float *seq, const float *logits, int B, int T,
                             int E);
/* dlogits (B*T,E) += dloss * dloss/dlogits; probs and seq as saved. */
void rn_moe_seq_aux_backward(float *dlogits, const float *probs, const float *seq, int B,
                             int T, int E, float dloss);

/* Group the N*K decisions by expert: offsets (E+1), offsets[e]..offsets[e+1]
 * the slots of expert e (offsets[E] = N*K); src (N*K) the decision of each
 * slot, in token order inside a group (a counting sort: deterministic). */
void rn_moe_plan(int *offsets, int32_t *src, const int32_t *idx, int N, int E, int K);
/* xe (M,C) = x[src[s]/K] for the M slots src[0..M-1]; x (N,C). */
void rn_moe_gather(float *xe, const float *x, const int32_t *src, int M, int K, int C);
/* out[src[s]/K] (C) += w[src[s]] * ye[s] for s < M; ye (M,C); w (N,K) flat. */
void rn_moe_combine_forward(float *out, const float *ye, const float *w,
                            const int32_t *src, int M, int K, int C);
/* dye (M,C) = w[src[s]] * dout[token] and dw[src[s]] = <dout[token], ye[s]>,
 * both written (each decision has exactly one slot); dout (N,C). */
void rn_moe_combine_backward(float *dye, float *dw, const float *dout, const float *ye,
                             const float *w, const int32_t *src, int M, int K, int C);
/* dx[src[s]/K] (C) += dxe[s] for s < M: the gather's backward. */
void rn_moe_scatter_add(float *dx, const float *dxe, const int32_t *src, int M, int K,
                        int C);

#endif
