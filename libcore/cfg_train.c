/* cfg_train — the table of struct rn_train_config: every field of a
 * `train` config file and flag, its default (DESIGN.md section 3 and
 * issue 4), its range and its help line. runnel-config(5) documents the
 * same list; test_cfg checks that the page names every field and its
 * default. Ranges are there to catch typos and absurd values with a clear
 * message, not to judge what trains well. */
#include <inttypes.h>
#include <stddef.h>

#include "cfg.h"

#define T struct rn_train_config
#define BIG INT64_C(1000000000000) /* "no practical limit" for step counts */

static const struct rn_cfg_field fields[] = {
    /* model */
    RN_CFG_INT_FIELD(T, vocab_size, "50259", 2, 16777216, "N",
                     "number of token ids (must match the tokenizer)"),
    RN_CFG_INT_FIELD(T, n_layer, "6", 1, 256, "N", "number of transformer blocks"),
    RN_CFG_INT_FIELD(T, n_head, "8", 1, 1024, "N", "attention heads (n_embd must be a multiple)"),
    RN_CFG_INT_FIELD(T, n_embd, "256", 1, 65536, "N", "model width"),
    RN_CFG_INT_FIELD(T, block_size, "1024", 1, 1048576, "N", "longest context in tokens"),
    RN_CFG_FLOAT_FIELD(T, dropout, "0.1", 0, 0.99, "P", "dropout probability while training"),
    RN_CFG_BOOL_FIELD(T, bias, "true", "biases in the attention output and the experts"),
    RN_CFG_INT_FIELD(T, kv_lora_rank, "128", 1, 65536, "N",
                     "MLA compressed key/value width (what the KV cache stores)"),
    RN_CFG_INT_FIELD(T, q_lora_rank, "192", 1, 65536, "N", "MLA compressed query width"),
    RN_CFG_INT_FIELD(T, rope_dim, "64", 2, 4096, "N", "per-head RoPE width (even)"),
    RN_CFG_FLOAT_FIELD(T, rope_theta, "10000", 1, 1e12, "X", "RoPE frequency base"),
    RN_CFG_INT_FIELD(T, n_experts, "4", 1, 1024, "N", "routed experts per MoE layer"),
    RN_CFG_INT_FIELD(T, n_experts_per_token, "2", 1, 1024, "N",
                     "experts each token is routed to (top-k)"),
    RN_CFG_INT_FIELD(T, expert_intermediate_size, "512", 1, 1048576, "N",
                     "hidden width of a routed expert"),
    RN_CFG_INT_FIELD(T, shared_expert_intermediate_size, "768", 1, 1048576, "N",
                     "hidden width of the shared expert"),
    RN_CFG_BOOL_FIELD(T, use_shared_expert, "true", "add the shared expert to every MoE layer"),
    RN_CFG_FLOAT_FIELD(T, aux_loss_weight, "0", 0, 100, "X",
                       "weight of the sequence-wise balance loss (0: bias balancing only)"),
    RN_CFG_FLOAT_FIELD(T, bias_update_rate, "0.001", 0, 1, "X",
                       "step of the routing-bias balancing after each training forward"),
    RN_CFG_INT_FIELD(T, multi_token_predict, "2", 0, 16, "N",
                     "multi-token prediction depths (0: next token only)"),
    RN_CFG_FLOAT_FIELD(T, mtp_loss_weight, "0.3", 0, 100, "X",
                       "weight of the mean multi-token prediction loss"),
    RN_CFG_FLOAT_FIELD(T, init_std, "0.02", 0, 1, "X",
                       "standard deviation of the initial weights"),
    /* training */
    RN_CFG_INT_FIELD(T, batch_size, "8", 1, 1048576, "N", "sequences per micro-batch"),
    RN_CFG_INT_FIELD(T, seq_len, "256", 1, 1048576, "N",
                     "tokens per training sequence (at most block_size)"),
    RN_CFG_INT_FIELD(T, grad_accum, "1", 1, 1048576, "N", "micro-batches per optimizer step"),
    RN_CFG_INT_FIELD(T, steps, "20000", 0, BIG, "N", "optimizer steps of the whole run"),
    RN_CFG_FLOAT_FIELD(T, learning_rate, "0.0006", 0, 10, "LR", "peak learning rate"),
    RN_CFG_FLOAT_FIELD(T, min_lr, "6e-05", 0, 10, "LR", "learning rate at the end of the cosine"),
    RN_CFG_INT_FIELD(T, warmup_iters, "2000", 0, BIG, "N", "steps of linear warmup"),
    RN_CFG_INT_FIELD(T, lr_decay_iters, "20000", 0, BIG, "N",
                     "step at which the cosine decay reaches min_lr"),
    RN_CFG_FLOAT_FIELD(T, weight_decay, "0.1", 0, 10, "X", "AdamW decoupled weight decay"),
    RN_CFG_FLOAT_FIELD(T, beta1, "0.9", 0, 0.999999, "X", "AdamW first-moment decay"),
    RN_CFG_FLOAT_FIELD(T, beta2, "0.95", 0, 0.999999999, "X", "AdamW second-moment decay"),
    RN_CFG_FLOAT_FIELD(T, adam_eps, "1e-08", 0, 1, "X", "AdamW epsilon"),
    RN_CFG_FLOAT_FIELD(T, grad_clip, "1", 0, 1e9, "X", "clip the global gradient norm (0: off)"),
    RN_CFG_INT_FIELD(T, seed, "1337", 0, INT64_MAX, "N",
                     "seed of the initial weights, dropout and batch sampling"),
    RN_CFG_FLOAT_FIELD(T, val_fraction, "0.1", 0, 0.5, "X",
                       "share of the tokens held out for evaluation"),
    RN_CFG_INT_FIELD(T, eval_interval, "250", 0, BIG, "N",
                     "steps between evaluations (0: never)"),
    RN_CFG_INT_FIELD(T, eval_iters, "20", 1, 1000000000, "N", "batches per evaluation"),
    RN_CFG_INT_FIELD(T, checkpoint_interval, "1000", 0, BIG, "N",
                     "steps between checkpoints (0: only at the end)"),
    RN_CFG_INT_FIELD(T, log_interval, "1", 1, BIG, "N", "steps between log lines"),
    {0},
};

static int check(const void *p, struct rn_err *e)
{
    const T *c = p;
    const char *w = "train config";
    if (c->n_embd % c->n_head)
        return rn_err_set(e, RN_EUSAGE, w, "n_embd %" PRId64 " is not a multiple of n_head %" PRId64,
                          c->n_embd, c->n_head);
    if (c->rope_dim % 2)
        return rn_err_set(e, RN_EUSAGE, w,
                          "rope_dim %" PRId64 " is odd (RoPE rotates pairs of dimensions)",
                          c->rope_dim);
    if (c->n_experts_per_token > c->n_experts)
        return rn_err_set(e, RN_EUSAGE, w,
                          "n_experts_per_token %" PRId64 " exceeds n_experts %" PRId64,
                          c->n_experts_per_token, c->n_experts);
    if (c->seq_len > c->block_size)
        return rn_err_set(e, RN_EUSAGE, w, "seq_len %" PRId64 " exceeds block_size %" PRId64,
                          c->seq_len, c->block_size);
    if (c->seq_len <= c->multi_token_predict)
        return rn_err_set(e, RN_EUSAGE, w,
                          "seq_len %" PRId64 " leaves no position for multi_token_predict %" PRId64
                          " (needs seq_len > multi_token_predict)",
                          c->seq_len, c->multi_token_predict);
    if (c->min_lr > c->learning_rate)
        return rn_err_set(e, RN_EUSAGE, w, "min_lr %g exceeds learning_rate %g", c->min_lr,
                          c->learning_rate);
    if (c->eval_interval > 0 && c->val_fraction == 0)
        return rn_err_set(e, RN_EUSAGE, w,
                          "eval_interval %" PRId64 " needs held-out data: val_fraction is 0 "
                          "(set eval_interval to 0 to train without evaluation)",
                          c->eval_interval);
    return RN_OK;
}

const struct rn_cfg_table rn_train_config_table = {"train config", fields, check};
