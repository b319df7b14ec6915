/* lm_load — a model from a checkpoint (lm_load.h). */
#include "lm_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "cfg.h"
#include "ckpt.h"
#include "tensor.h"
#include "trainer.h"

void rn_lm_ckpt_info_free(struct rn_lm_ckpt_info *info)
{
    free(info->tokenizer);
    free(info->tokenizer_path);
    free(info->tokenizer_json);
    memset(info, 0, sizeof *info);
    info->step = -1;
}

static int dup_meta(char **dst, const struct rn_ckpt *c, const char *key, const char *dflt,
                    struct rn_err *e)
{
    const char *v = rn_ckpt_meta(c, key);
    if (!v)
        v = dflt;
    if (!v)
        return RN_OK;
    if (!(*dst = strdup(v)))
        return rn_err_set(e, RN_ENOMEM, key, "out of memory");
    return RN_OK;
}

/* The model config stored in c's metadata. */
static int read_config(const struct rn_ckpt *c, const char *path, struct rn_lm_config *lc,
                       struct rn_err *e)
{
    struct rn_train_config tc;
    const char *json = rn_ckpt_meta(c, RN_CKPT_META_CONFIG);
    if (!json)
        return rn_err_set(e, RN_EFORMAT, path, "no config in the checkpoint's metadata");
    memset(&tc, 0, sizeof tc); /* rn_cfg_defaults wants a zeroed struct */
    int rc = rn_cfg_defaults(&rn_train_config_table, &tc, e);
    if (rc == RN_OK && (rc = rn_cfg_load_text(&rn_train_config_table, &tc, json, strlen(json),
                                              path, e)) == RN_OK)
        rc = rn_trainer_lm_config(&tc, lc, e);
    rn_cfg_free(&rn_train_config_table, &tc);
    return rc;
}

/* rn_lm_init wants T > multi_token_predict (its training forward's need). */
static int lm_T(const struct rn_lm_config *c, int T)
{
    if (T <= 0)
        return c->block_size;
    return T > c->multi_token_predict ? T : c->multi_token_predict + 1;
}

int rn_lm_load(struct rn_lm *m, const char *path, int B, int T, struct rn_lm_ckpt_info *info,
               struct rn_err *e)
{
    struct rn_ckpt c;
    struct rn_lm_config lc;
    char name[RN_LM_NAME_MAX + 32];
    memset(m, 0, sizeof *m);
    if (info)
        memset(info, 0, sizeof *info), info->step = -1;
    int rc = rn_ckpt_open(&c, path, e);
    if (rc < 0)
        return rc;
    if ((rc = rn_ckpt_check_format(&c, e)) < 0) {
        if (!e->where[0])
            snprintf(e->where, sizeof e->where, "%.200s", path);
        goto out;
    }
    if ((rc = read_config(&c, path, &lc, e)) < 0 ||
        (rc = rn_lm_init(m, &lc, B, lm_T(&lc, T), 0, e)) < 0)
        goto out;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *p = &m->tensors[i];
        if ((rc = rn_ckpt_read_into(&c, p->name, RN_DTYPE_F32, p->rank, p->shape,
                                    m->params + p->offset, e)) < 0)
            goto out;
    }
    int64_t E = lc.n_experts;
    for (int l = 0; l < m->n_moe; l++) {
        if (l < lc.n_layer)
            snprintf(name, sizeof name, "transformer.h.%d.mlp.expert_bias", l);
        else
            snprintf(name, sizeof name, "mtp_heads.%d.mlp.expert_bias", l - lc.n_layer);
        if ((rc = rn_ckpt_read_into(&c, name, RN_DTYPE_F32, 1, &E,
                                    m->expert_bias + (size_t)l * E, e)) < 0)
            goto out;
    }
    if (info) {
        int64_t step;
        if (rn_ckpt_meta(&c, RN_CKPT_META_STEP) &&
            rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &step, e) == RN_OK)
            info->step = step;
        if ((rc = dup_meta(&info->tokenizer, &c, RN_CKPT_META_TOKENIZER, "", e)) < 0 ||
            (rc = dup_meta(&info->tokenizer_path, &c, RN_CKPT_META_TOKENIZER_PATH, NULL, e)) < 0 ||
            (rc = dup_meta(&info->tokenizer_json, &c, RN_CKPT_META_TOKENIZER_JSON, NULL, e)) < 0)
            goto out;
    }
    rc = RN_OK;
out:
    rn_ckpt_close(&c);
    if (rc < 0) {
        rn_lm_free(m);
        if (info)
            rn_lm_ckpt_info_free(info);
    }
    return rc;
}

int rn_lm_load_tokenizer(struct rn_bpe *b, const char *path, const char *model,
                         const struct rn_lm_ckpt_info *info, int vocab_size, struct rn_err *e)
{
    char hex[17], id[128];
    int rc;
    if (path)
        rc = rn_bpe_load(b, path, e);
    else if (info->tokenizer_json)
        rc = rn_bpe_parse_json(b, info->tokenizer_json, strlen(info->tokenizer_json), model, e);
    else if (info->tokenizer_path)
        rc = rn_bpe_load(b, info->tokenizer_path, e);
    else
        return rn_err_set(e, RN_EUSAGE, model, "the checkpoint embeds no tokenizer: give -t FILE");
    if (rc < 0)
        return rc;
    snprintf(id, sizeof id, "%.40s:%s", b->name, rn_bpe_fingerprint_hex(b, hex));
    if (info->tokenizer[0] && strcmp(info->tokenizer, id) != 0)
        rc = rn_err_set(e, RN_EFORMAT, path ? path : model,
                        "tokenizer mismatch: the model was trained with %.100s, this is %s",
                        info->tokenizer, id);
    else if (b->n_vocab > vocab_size)
        rc = rn_err_set(e, RN_EFORMAT, path ? path : model,
                        "tokenizer mismatch: %d tokens, but the model has %d embeddings",
                        (int)b->n_vocab, vocab_size);
    if (rc < 0)
        rn_bpe_free(b);
    return rc;
}

size_t rn_lm_prompt_fit(struct rn_bpe_ids *ids, int block_size)
{
    const size_t keep = (size_t)block_size - 1;
    if (ids->n <= keep)
        return 0;
    size_t cut = ids->n - keep;
    memmove(ids->v, ids->v + cut, sizeof(int32_t) * keep);
    ids->n = keep;
    return cut;
}

int rn_lm_prompt_ids(const struct rn_bpe *b, const char *text, size_t len, int block_size,
                     struct rn_bpe_ids *ids, size_t *dropped, struct rn_err *e)
{
    static const char story[] = "<|story|>";
    const int32_t s = rn_bpe_special_id(b, story, sizeof story - 1);
    int rc;
    if (s >= 0 && !(len >= sizeof story - 1 && memcmp(text, story, sizeof story - 1) == 0) &&
        (rc = rn_bpe_ids_push(ids, s, e)) < 0)
        return rc;
    if ((rc = rn_bpe_encode(b, text, len, RN_BPE_ALLOW_SPECIAL, ids, e)) < 0)
        return rc;
    size_t cut = rn_lm_prompt_fit(ids, block_size);
    if (dropped)
        *dropped = cut;
    return RN_OK;
}
