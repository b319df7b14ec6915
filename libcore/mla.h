/* mla — multi-head latent attention (DESIGN.md 3), forward and backward,
 * built from the kernels of ops.h.
 *
 *   c_kv = RMSNorm(x W_dkv)            (N, kv_rank)     the cached latent
 *   c_q  = x W_dq                      (N, q_rank)      no norm
 *   per head h: k_c = c_kv W_uk, v = c_kv W_uv, q_c = c_q W_uq    (head_dim)
 *               k_r = RoPE(x W_kr),  q_r = RoPE(c_q W_qr)          (rope_dim)
 *   q = [q_c, q_r], k = [k_c, k_r]; causal softmax(q k^T / sqrt(head_dim +
 *   rope_dim)), dropout on the weights; heads concatenated; out =
 *   dropout(y W_o + b_o). Only W_o has a bias (when cfg.bias).
 *
 * Weights are stored as PyTorch's nn.Linear (out, in) so that the names
 * and layouts of the reference module (shared/seeds/4) map one to one:
 * kv_proj, kv_norm, q_proj, k_decompress, v_decompress, q_decompress,
 * k_rope_proj, q_rope_proj, o_proj. N = B*T rows, token-major.
 *
 * Memory is the caller's: struct rn_mla_acts points into one buffer of
 * rn_mla_acts_floats() floats (what the backward needs, per layer), and
 * both passes use a scratch of rn_mla_scratch_floats() floats that can be
 * shared by all layers.
 *
 *     struct rn_mla_acts a;
 *     float *buf = rn_aligned_alloc(4 * rn_mla_acts_floats(&cfg, B, T));
 *     rn_mla_acts_bind(&a, buf, &cfg, B, T);
 *     rn_mla_forward(out, &a, scratch, x, &w, &cfg, cos, sin, B, T, seed);
 *     rn_mla_backward(dx, &g, scratch, dout, x, &a, &w, &cfg, cos, sin, B, T, seed);
 */
#ifndef RN_MLA_H
#define RN_MLA_H

#include <stddef.h>
#include <stdint.h>

struct rn_mla_config {
    int n_embd;    /* C */
    int n_head;    /* H */
    int head_dim;  /* Dh: per-head content dim, n_embd / n_head (32) */
    int rope_dim;  /* R: per-head rotary dim (64), even */
    int kv_rank;   /* kv_lora_rank (128) */
    int q_rank;    /* q_lora_rank (192) */
    int bias;      /* o_proj has a bias */
    float dropout; /* on the attention weights and on the output, [0,1) */
    float eps;     /* kv_norm's epsilon (1e-6) */
};

/* Parameters (or, for the backward, their gradients: same shapes, +=). */
struct rn_mla_params {
    float *w_dkv;   /* kv_proj      (kv_rank, C) */
    float *kv_norm; /* kv_norm      (kv_rank) */
    float *w_dq;    /* q_proj       (q_rank, C) */
    float *w_uk;    /* k_decompress (H*Dh, kv_rank) */
    float *w_uv;    /* v_decompress (H*Dh, kv_rank) */
    float *w_uq;    /* q_decompress (H*Dh, q_rank) */
    float *w_kr;    /* k_rope_proj  (H*R, C) */
    float *w_qr;    /* q_rope_proj  (H*R, q_rank) */
    float *w_o;     /* o_proj       (C, H*Dh) */
    float *b_o;     /* o_proj bias  (C), NULL when !bias */
};

/* Parameter count (with the bias when cfg->bias). */
size_t rn_mla_param_count(const struct rn_mla_config *cfg);
/* Point p's fields at consecutive slices of buf, in the order of the
 * struct; buf holds rn_mla_param_count() floats. */
void rn_mla_params_bind(struct rn_mla_params *p, float *buf, const struct rn_mla_config *cfg);

/* What the forward saves for the backward. */
struct rn_mla_acts {
    float *ckv_pre; /* (N, kv_rank) x W_dkv */
    float *ckv_rms; /* (N) RMSNorm's saved norms */
    float *ckv;     /* (N, kv_rank) c_kv */
    float *cq;      /* (N, q_rank) c_q */
    float *q, *k;   /* (B,T,H,Dh+R) [content, rotated] per head */
    float *v;       /* (B,T,H,Dh) */
    float *att;     /* (B,H,T,T) softmax weights */
    float *y;       /* (B,T,H*Dh) heads concatenated, before W_o */
};

size_t rn_mla_acts_floats(const struct rn_mla_config *cfg, int B, int T);
void rn_mla_acts_bind(struct rn_mla_acts *a, float *buf, const struct rn_mla_config *cfg,
                      int B, int T);
size_t rn_mla_scratch_floats(const struct rn_mla_config *cfg, int B, int T);

/* out (B,T,C); a: saved activations; scratch: rn_mla_scratch_floats();
 * x (B,T,C); rope_cos, rope_sin (>= T, R/2) from rn_rope_table; seed: this
 * call's dropout seed (unused when cfg->dropout == 0), the same one goes
 * to the backward. */
void rn_mla_forward(float *out, struct rn_mla_acts *a, float *scratch, const float *x,
                    const struct rn_mla_params *p, const struct rn_mla_config *cfg,
                    const float *rope_cos, const float *rope_sin, int B, int T,
                    uint64_t seed);
/* dx (B,T,C) += or NULL; g: gradients +=; scratch clobbered; dout (B,T,C);
 * x, a, p, cfg, tables and seed as in the forward. */
void rn_mla_backward(float *dx, const struct rn_mla_params *g, float *scratch,
                     const float *dout, const float *x, const struct rn_mla_acts *a,
                     const struct rn_mla_params *p, const struct rn_mla_config *cfg,
                     const float *rope_cos, const float *rope_sin, int B, int T,
                     uint64_t seed);

#endif
