/* lm — the DeepSeek-V3-style language model of DESIGN.md 3: config,
 * parameters, training forward and hand-written backward, aux-free expert
 * balancing, multi-token prediction, and a forward-only inference path.
 *
 *   x = dropout(wte[tokens])                             (B,T,C)
 *   N blocks:  x += MLA(RMSNorm(x));  x += MoE(RMSNorm(x))
 *   main:      logits = RMSNorm_f(x) wte^T, CE of t -> t+1
 *   MTP depth d = 1..D:  h = h[:, :-1];  e = wte[tokens[:, d : d+len(h)]]
 *              h = Block(W_c [RMSNorm(h); RMSNorm(e)] + b_c)
 *              logits = RMSNorm_f(h) wte^T, CE of t -> t+d+1
 *   loss = main + mtp_loss_weight * mean_d(mtp_d)
 *          + aux_loss_weight * sum over MoE layers of the sequence-wise aux
 *
 * MoE = dropout(sum_k w_k E_k(x) + shared(x)), routed on x W_r + b (b the
 * non-learned balancing bias, also inside the softmax over the k chosen,
 * as the reference does); only the chosen experts run (ops_moe.h). After a
 * training forward (RN_LM_BALANCE) each MoE layer moves b_e by -rate if
 * its usage is above the mean, else +rate.
 *
 * Ownership: struct rn_lm owns everything it points to (parameters,
 * gradients, activations), all allocated once by rn_lm_init for batches of
 * at most B x T; nothing allocates afterwards. Adam moments and the
 * training rng are the caller's (index them with m.tensors). rn_lm_free on
 * a zeroed or freed struct is a no-op; a failed rn_lm_init leaves it zeroed.
 *
 *     struct rn_lm m;  struct rn_rng g;  struct rn_err e;
 *     struct rn_lm_config c;  rn_lm_config_default(&c);
 *     if (rn_lm_init(&m, &c, 8, 256, RN_LM_GRAD, &e) < 0) ...;
 *     rn_rng_seed(&g, 1337);  rn_lm_init_weights(&m, &g);
 *     rn_lm_zero_grad(&m);   // before the forward: it adds the heads' part
 *     // tokens (8, 257): each row's inputs and, shifted by one, its targets
 *     rn_lm_forward(&m, tokens, 8, 256, RN_LM_TRAIN, rn_rng_u64(&g), &e);
 *     rn_lm_backward(&m);    // m.grads now holds dloss/dparams
 *
 * Parameter names (one flat float buffer, table m.tensors in this order;
 * the names are the PyTorch reference module's state_dict keys, so a
 * safetensors checkpoint and tests/ref/lm_ref.py map 1:1; "lm_head.weight"
 * is tied to transformer.wte.weight and not stored twice):
 *
 *   transformer.wte.weight                                  (V, C)
 *   transformer.h.{i}.  + BLOCK                             i < n_layer
 *   transformer.ln_f.weight                                 (C)
 *   mtp_heads.{d}.combine_proj.weight                       (C, 2C)
 *   mtp_heads.{d}.combine_proj.bias                         (C)   if bias
 *   mtp_heads.{d}.norm1.weight, .norm2.weight               (C)
 *   mtp_heads.{d}.  + BLOCK                                 d < multi_token_predict
 * BLOCK:
 *   attn_norm.weight                                        (C)
 *   attn.kv_proj.weight (kv_rank, C)   attn.kv_norm.weight (kv_rank)
 *   attn.q_proj.weight (q_rank, C)     attn.k_decompress.weight (H*Dh, kv_rank)
 *   attn.v_decompress.weight (H*Dh, kv_rank)   attn.q_decompress.weight (H*Dh, q_rank)
 *   attn.k_rope_proj.weight (H*R, C)   attn.q_rope_proj.weight (H*R, q_rank)
 *   attn.o_proj.weight (C, H*Dh)       attn.o_proj.bias (C) if bias
 *   mlp_norm.weight                                         (C)
 *   mlp.router.weight                                       (E, C)
 *   mlp.experts.{e}.expert_mlp.{gate,up}_proj.weight (F, C), .bias (F) if bias
 *   mlp.experts.{e}.expert_mlp.down_proj.weight (C, F), .bias (C) if bias
 *   mlp.shared_expert.{gate,up,down}_proj.*   as above with Fs  if use_shared_expert
 * Buffers (not parameters): {transformer.h.{i}|mtp_heads.{d}}.mlp.expert_bias
 * (E), in m.expert_bias, one row per MoE layer: backbone layers first.
 */
#ifndef RN_LM_H
#define RN_LM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

/* Every field can be set by a config file and flags (names as written). */
struct rn_lm_config {
    int vocab_size;                      /* V, 50259 */
    int n_layer;                         /* 6 */
    int n_head;                          /* H, 8; n_embd % n_head == 0 */
    int n_embd;                          /* C, 256; head_dim Dh = C / H */
    int block_size;                      /* 1024: the longest T */
    float dropout;                       /* 0.1, in [0, 1) */
    int bias;                            /* 1: o_proj, experts, combine_proj biases */
    int kv_lora_rank;                    /* 128 */
    int q_lora_rank;                     /* 192 */
    int rope_dim;                        /* R, 64, even */
    int n_experts;                       /* E, 4 */
    int n_experts_per_token;             /* K, 2; 1 <= K <= E */
    int expert_intermediate_size;        /* F, 512 */
    int shared_expert_intermediate_size; /* Fs, 768 */
    int use_shared_expert;               /* 1 */
    float aux_loss_weight;               /* 0: aux-loss-free balancing only */
    float bias_update_rate;              /* 0.001 */
    int multi_token_predict;             /* D, 2 MTP heads (t+2, t+3) */
    float mtp_loss_weight;               /* 0.3 */
};

/* DESIGN.md 3's defaults. */
void rn_lm_config_default(struct rn_lm_config *c);
/* RN_OK, or RN_EUSAGE with e->where = the offending field's name and a
 * message saying what it must be. */
int rn_lm_config_validate(const struct rn_lm_config *c, struct rn_err *e);

#define RN_LM_NAME_MAX 96

/* One named tensor of the flat parameter buffer. */
struct rn_lm_tensor {
    char name[RN_LM_NAME_MAX];
    int rank;          /* 1 or 2 */
    int64_t shape[2];  /* PyTorch's shape (nn.Linear: (out, in)) */
    size_t offset;     /* in floats, into params / grads */
    size_t numel;
    int decay;         /* 1 for matrices and the embedding (AdamW weight decay) */
};

/* Forward flags. */
enum {
    RN_LM_GRAD = 1,     /* keep what the backward needs and form dlogits */
    RN_LM_DROPOUT = 2,  /* apply cfg.dropout (else 0: evaluation) */
    RN_LM_BALANCE = 4,  /* update the balancing biases after routing */
    RN_LM_TRAIN = RN_LM_GRAD | RN_LM_DROPOUT | RN_LM_BALANCE,
};

struct rn_lm_state; /* activations and scratch, private to lm.c */

struct rn_lm {
    struct rn_lm_config cfg;
    size_t n_params;
    float *params;               /* (n_params) */
    float *grads;                /* (n_params), NULL unless init had RN_LM_GRAD */
    int n_tensors;
    struct rn_lm_tensor *tensors; /* (n_tensors), in buffer order */
    int n_moe;                   /* MoE layers: n_layer + multi_token_predict */
    float *expert_bias;          /* (n_moe, E) balancing biases */
    int *usage;                  /* (n_moe, E) tokens routed to each expert, last forward */
    int max_B, max_T;            /* capacity given to rn_lm_init */
    /* The last forward's losses. */
    float loss;                  /* the total that the backward differentiates */
    float main_loss;
    float mtp_loss[8];           /* per depth (D <= 8) */
    float aux_loss;              /* sum over MoE layers (0 unless aux_loss_weight > 0) */
    /* The backward differentiates grad_scale * loss (1 after rn_lm_init):
     * 1/n when n micro-batches accumulate into one step. */
    float grad_scale;
    struct rn_lm_state *st;
};

/* Allocate the model for batches up to B x T (T <= block_size) with
 * parameters zeroed (call rn_lm_init_weights or load them) and biases 0.
 * flags & RN_LM_GRAD: also gradients and backward activations. Validates
 * cfg. RN_OK, RN_EUSAGE (bad cfg, B, T), RN_ENOMEM. On error m is freed. */
int rn_lm_init(struct rn_lm *m, const struct rn_lm_config *cfg, int B, int T, int flags,
               struct rn_err *e);
void rn_lm_free(struct rn_lm *m);

/* N(0, 0.02) for matrices and the embedding, 0 for biases, 1 for norm
 * weights, drawn in table order, one rn_rng_normal per element; balancing
 * biases reset to 0. */
void rn_lm_init_weights(struct rn_lm *m, struct rn_rng *g);
/* The tensor called name, or NULL. */
const struct rn_lm_tensor *rn_lm_find(const struct rn_lm *m, const char *name);
void rn_lm_zero_grad(struct rn_lm *m);

/* Forward over tokens (B, T+1): inputs are tokens[:, :T], the main head
 * predicts tokens[:, 1:], MTP depth d predicts tokens[:, d+1:]. Fills
 * m->loss and friends. flags: RN_LM_TRAIN for training, 0 for evaluation;
 * RN_LM_GRAD needs rn_lm_init with RN_LM_GRAD and ADDS the LM heads' share
 * of the embedding gradient already (so zero the gradients before, not
 * after, the forward). seed: this step's dropout seed. RN_OK, or
 * RN_EUSAGE for B, T outside the capacity, T <= multi_token_predict, or a
 * token id outside [0, vocab_size) (e->where "tokens", message names the
 * row and position). */
int rn_lm_forward(struct rn_lm *m, const int32_t *tokens, int B, int T, int flags,
                  uint64_t seed, struct rn_err *e);
/* grads += d(grad_scale * loss)/dparams of the last forward, which had
 * RN_LM_GRAD; once per forward (the heads' part was added by the forward). */
void rn_lm_backward(struct rn_lm *m);

/* Inference: main-head logits (B, T, V) of tokens (B, T), no dropout, no
 * bias update, no MTP. *logits points into the model (valid until the next
 * call). Errors as rn_lm_forward. */
int rn_lm_logits(struct rn_lm *m, const int32_t *tokens, int B, int T, const float **logits,
                 struct rn_err *e);

/* Routing decisions (N, K) of MoE layer l in the last forward (N = B*T for
 * the backbone, B*(T-d) for MTP depth d). For logging and tests. */
const int32_t *rn_lm_routing(const struct rn_lm *m, int l);
/* frac (E): share of layer l's routing decisions each expert got in the
 * last forward (sums to 1). */
void rn_lm_expert_usage(const struct rn_lm *m, int l, float *frac);

/* Floats of activations + scratch that rn_lm_init allocates for B x T. */
size_t rn_lm_acts_floats(const struct rn_lm_config *cfg, int B, int T, int flags);

#endif
