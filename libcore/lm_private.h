/* lm_private — what lm.c (the model: parameters, MTP chain, heads) and
 * lm_block.c (one transformer block: MLA + MoE) share. Not installed. */
#ifndef RN_LM_PRIVATE_H
#define RN_LM_PRIVATE_H

#include <stdint.h>

#include "mla.h"
#include "ops.h"

/* A SwiGLU FFN's tensors (biases NULL without cfg.bias). */
struct lm_ffn_p {
    float *w_gate, *b_gate; /* (F,C), (F) */
    float *w_up, *b_up;     /* (F,C), (F) */
    float *w_down, *b_down; /* (C,F), (C) */
};

/* One block's parameters, or (same shapes) its gradients. */
struct lm_block_p {
    float *attn_norm;        /* (C) */
    struct rn_mla_params attn;
    float *mlp_norm;         /* (C) */
    float *router;           /* (E,C) */
    struct lm_ffn_p *ffn;    /* (E+1): the experts, then the shared expert
                                (all NULL when !use_shared_expert) */
};

/* The block's fixed sizes, derived once from the config. */
struct lm_dims {
    int C, E, K, F, Fs, shared;
    float aux_w, rate;
    float aux_dloss;          /* aux_w * grad_scale: the aux loss's weight in the backward */
    struct rn_mla_config mla; /* dropout already 0 when the forward has none */
    float drop;               /* the MoE output's dropout this forward */
};

/* What a block's forward keeps for its backward; N = B*T rows. */
struct lm_block_acts {
    const float *res0;       /* (N,C) block input (borrowed) */
    float *ln1, *rms1;       /* (N,C), (N): RMSNorm(res0) and its norms */
    struct rn_mla_acts mla;
    float *res1;             /* (N,C) res0 + MLA(ln1) */
    float *ln2, *rms2;       /* (N,C), (N) */
    float *logits;           /* (N,E) router logits without the bias */
    float *probs, *seq;      /* (N,E), (B,E): the aux loss's saved state */
    int32_t *idx;            /* (N,K) chosen experts */
    float *w;                /* (N,K) their weights */
    int32_t *src;            /* (N*K) decisions grouped by expert */
    int *off;                /* (E+1) group offsets into src */
    float *eg, *eu, *eh;     /* (N*K,F) experts' gate, up, silu(gate)*up by slot */
    float *ye;               /* (N*K,C) experts' outputs by slot */
    float *sg, *su, *sh;     /* (N,Fs) the shared expert's */
    uint64_t seed_attn, seed_moe;
};

/* Scratch shared by every block (and the MTP heads between blocks). */
struct lm_scratch {
    float *mla;              /* rn_mla_scratch_floats */
    float *ffn;              /* (2, N, max(F,Fs)) */
    float *xe, *dye, *dxe;   /* (N,C) each: gathered rows and their grads */
    float *sum, *dln;        /* (N,C) each */
    float *blog, *dlog;      /* (N,E) each: biased logits, their gradient */
    float *dw;               /* (N*K) routing-weight gradient */
};

/* out (B,T,C) = block(res0): res1 = res0 + MLA(RMSNorm(res0)); out = res1 +
 * MoE(RMSNorm(res1)). a->res0 must be set. bias (E) the layer's balancing
 * bias, updated when `balance`; usage (E) written; returns the aux loss
 * (0 when dims->aux_w == 0). */
float lm_block_forward(float *out, struct lm_block_acts *a, struct lm_scratch *s,
                       const struct lm_block_p *p, float *bias, int *usage,
                       const struct lm_dims *d, const float *cos_t, const float *sin_t,
                       int B, int T, int balance);
/* dres (B,T,C): on entry d out, on return d res0 (in place); g +=. */
void lm_block_backward(float *dres, const struct lm_block_p *g, struct lm_scratch *s,
                       const struct lm_block_acts *a, const struct lm_block_p *p,
                       const struct lm_dims *d, const float *cos_t, const float *sin_t,
                       int B, int T);

#endif
