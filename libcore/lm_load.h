/* lm_load — a model from a runnel checkpoint (runnel-checkpoint(5)), for
 * inference: the config stored in the metadata (the train config's JSON,
 * read through rn_train_config_table and rn_trainer_lm_config, exactly as
 * train --resume reads it), every parameter under lm.h's names (F32, the
 * table's shapes), the balancing biases ("<block>.mlp.expert_bias", which
 * routing at inference uses), and the tokenizer's identity. Optimizer
 * moments and generators in the file are ignored.
 *
 *     struct rn_lm m;  struct rn_lm_ckpt_info info;
 *     if (rn_lm_load(&m, "model.ckpt", 1, 1, &info, &e) < 0) rn_die(&e);
 *     ... info.tokenizer ("gpt2 0123456789abcdef" or ""), info.tokenizer_json ...
 *     rn_lm_ckpt_info_free(&info);  rn_lm_free(&m);
 */
#ifndef RN_LM_LOAD_H
#define RN_LM_LOAD_H

#include <stdint.h>

#include "err.h"
#include "lm.h"

struct rn_lm_ckpt_info {
    char *tokenizer;       /* metadata "tokenizer" (malloc'd, "" when absent) */
    char *tokenizer_path;  /* "tokenizer_path" or NULL */
    char *tokenizer_json;  /* "tokenizer_json" (the whole tokenizer file) or NULL */
    int64_t step;          /* optimizer steps done; -1 when absent */
};

/* Load path into m, allocated (rn_lm_init, no gradients) for rn_lm_logits
 * batches up to B x T (T 0: block_size; raised to multi_token_predict+1,
 * rn_lm_init's least). info may be NULL. RN_OK; RN_EIO
 * (cannot open); RN_EFORMAT naming the file or tensor (not a runnel
 * checkpoint, no config, a missing or misshapen tensor); RN_EUSAGE or
 * RN_EUNSUPPORTED from the config (e->where the field); RN_ENOMEM. On
 * error m and info are left freed. */
int rn_lm_load(struct rn_lm *m, const char *path, int B, int T, struct rn_lm_ckpt_info *info,
               struct rn_err *e);
void rn_lm_ckpt_info_free(struct rn_lm_ckpt_info *info);

struct rn_bpe;
struct rn_bpe_ids;
/* The tokenizer that goes with a loaded checkpoint: the file `path` when
 * given, else the one the checkpoint embeds, else the file it names. Its
 * identity ("name:fingerprint") must be the checkpoint's and its ids must
 * fit vocab_size embeddings ("tokenizer mismatch: ..."); `model` is the
 * checkpoint's path, for messages. RN_OK; RN_EUSAGE (none to be found),
 * RN_EFORMAT, RN_EIO from loading. */
int rn_lm_load_tokenizer(struct rn_bpe *b, const char *path, const char *model,
                         const struct rn_lm_ckpt_info *info, int vocab_size, struct rn_err *e);

/* The ids of a text prompt as the model saw its training documents:
 * <|story|> first when the tokenizer has it and the text does not already
 * start with it, special tokens allowed, appended to ids; then
 * rn_lm_prompt_fit. *dropped (may be NULL) gets the ids cut. RN_OK, or
 * rn_bpe_encode's errors. */
int rn_lm_prompt_ids(const struct rn_bpe *b, const char *text, size_t len, int block_size,
                     struct rn_bpe_ids *ids, size_t *dropped, struct rn_err *e);
/* Keep the last block_size-1 ids (room for one new token); returns how
 * many were dropped. */
size_t rn_lm_prompt_fit(struct rn_bpe_ids *ids, int block_size);

#endif
