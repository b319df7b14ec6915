/* trainer — the training loop, its checkpoints and resume. See trainer.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "io.h"
#include "log.h"
#include "trainer.h"

/* Seed offset of the evaluation generator: any constant that keeps it
 * apart from the training generator's seed. */
#define EVAL_SEED_XOR 0x5eed0e7a15ca1eull
#define HIST_LOSS "train.history.loss"
#define HIST_EVAL "train.history.eval"
#define META_THREADS "threads"
#define META_DATA_TOKENS "data_tokens"
#define META_DATA_HASH "data_hash"

int rn_trainer_lm_config(const struct rn_train_config *c, struct rn_lm_config *lc,
                         struct rn_err *e)
{
    /* lm builds its RoPE table with the fixed base 10000 (RN_ROPE_THETA). */
    if (c->rope_theta != 10000.0)
        return rn_err_set(e, RN_EUNSUPPORTED, "rope_theta",
                          "%g: this build's model supports only 10000", c->rope_theta);
    /* Every int field was range-checked by cfg; the ranges fit an int. */
    lc->vocab_size = (int)c->vocab_size;
    lc->n_layer = (int)c->n_layer;
    lc->n_head = (int)c->n_head;
    lc->n_embd = (int)c->n_embd;
    lc->block_size = (int)c->block_size;
    lc->dropout = (float)c->dropout;
    lc->bias = c->bias;
    lc->kv_lora_rank = (int)c->kv_lora_rank;
    lc->q_lora_rank = (int)c->q_lora_rank;
    lc->rope_dim = (int)c->rope_dim;
    lc->n_experts = (int)c->n_experts;
    lc->n_experts_per_token = (int)c->n_experts_per_token;
    lc->expert_intermediate_size = (int)c->expert_intermediate_size;
    lc->shared_expert_intermediate_size = (int)c->shared_expert_intermediate_size;
    lc->use_shared_expert = c->use_shared_expert;
    lc->aux_loss_weight = (float)c->aux_loss_weight;
    lc->bias_update_rate = (float)c->bias_update_rate;
    lc->multi_token_predict = (int)c->multi_token_predict;
    lc->mtp_loss_weight = (float)c->mtp_loss_weight;
    return RN_OK;
}

void rn_trainer_schedule(const struct rn_train_config *c, struct rn_lr_schedule *s)
{
    s->lr = c->learning_rate;
    s->min_lr = c->min_lr;
    s->warmup = c->warmup_iters;
    s->decay_end = c->lr_decay_iters;
}

void rn_trainer_free(struct rn_trainer *t)
{
    if (!t)
        return;
    rn_lm_free(&t->lm);
    free(t->adam_m);
    free(t->adam_v);
    free(t->batch);
    free(t->hist_loss);
    free(t->hist_eval);
    free(t->tok_id);
    free(t->tok_path);
    free(t->tok_json);
    memset(t, 0, sizeof *t);
}

/* Replace *dst by a copy of src (NULL: none). */
static int set_str(char **dst, const char *src, struct rn_err *e)
{
    char *p = NULL;
    if (src && !(p = strdup(src)))
        return rn_err_set(e, RN_ENOMEM, "tokenizer", "out of memory");
    free(*dst);
    *dst = p;
    return RN_OK;
}

int rn_trainer_set_tokenizer(struct rn_trainer *t, const char *id, const char *path,
                             const char *json, struct rn_err *e)
{
    int rc = set_str(&t->tok_id, id, e);
    if (rc == RN_OK)
        rc = set_str(&t->tok_path, path, e);
    if (rc == RN_OK)
        rc = set_str(&t->tok_json, json, e);
    return rc;
}

int rn_trainer_init(struct rn_trainer *t, const struct rn_train_config *cfg,
                    const struct rn_train_data *d, struct rn_err *e)
{
    memset(t, 0, sizeof *t);
    struct rn_lm_config lc;
    int rc = rn_trainer_lm_config(cfg, &lc, e);
    if (rc < 0)
        return rc;
    if (cfg->batch_size > 65536 || cfg->seq_len > cfg->block_size)
        return rn_err_set(e, RN_EUSAGE, "batch_size", "batch %" PRId64 " x %" PRId64
                          " does not fit the model (batch_size <= 65536, seq_len <= block_size)",
                          cfg->batch_size, cfg->seq_len);
    t->cfg = *cfg;
    int B = (int)cfg->batch_size, T = (int)cfg->seq_len;
    if ((rc = rn_lm_init(&t->lm, &lc, B, T, RN_LM_GRAD, e)) < 0) {
        memset(t, 0, sizeof *t);
        return rc;
    }
    size_t np = t->lm.n_params;
    t->adam_m = calloc(np ? np : 1, sizeof(float));
    t->adam_v = calloc(np ? np : 1, sizeof(float));
    t->batch = malloc(sizeof(int32_t) * (size_t)B * ((size_t)T + 1));
    t->hist_cap = 1024, t->hist_eval_cap = 64;
    t->hist_loss = malloc(sizeof(float) * (size_t)t->hist_cap);
    t->hist_eval = malloc(sizeof(float) * 2 * (size_t)t->hist_eval_cap);
    if (!t->adam_m || !t->adam_v || !t->batch || !t->hist_loss || !t->hist_eval) {
        rn_trainer_free(t);
        return rn_err_set(e, RN_ENOMEM, "model", "out of memory for the optimizer state");
    }
    /* The weights come first from the seed, then the same generator goes
     * on to pick windows and dropout seeds: one state to save. */
    rn_rng_seed(&t->rng, (uint64_t)cfg->seed);
    rn_lm_init_weights(&t->lm, &t->rng);
    if (cfg->init_std != 0.02) {
        float k = (float)(cfg->init_std / 0.02);
        for (int i = 0; i < t->lm.n_tensors; i++) {
            const struct rn_lm_tensor *p = &t->lm.tensors[i];
            if (p->rank == 2)
                for (size_t j = 0; j < p->numel; j++)
                    t->lm.params[p->offset + j] *= k;
        }
    }
    t->data = d;
    t->data_hash = rn_train_data_hash(d);
    t->last_val_loss = NAN;
    t->threads = 1;
    return RN_OK;
}

/* ---- steps ------------------------------------------------------------------ */

static int push_loss(struct rn_trainer *t, float v, struct rn_err *e)
{
    if (t->hist_n == t->hist_cap) {
        float *p = realloc(t->hist_loss, sizeof(float) * 2 * (size_t)t->hist_cap);
        if (!p)
            return rn_err_set(e, RN_ENOMEM, "history", "out of memory");
        t->hist_loss = p, t->hist_cap *= 2;
    }
    t->hist_loss[t->hist_n++] = v;
    return RN_OK;
}

static int push_eval(struct rn_trainer *t, float step, float v, struct rn_err *e)
{
    if (t->hist_eval_n == t->hist_eval_cap) {
        float *p = realloc(t->hist_eval, sizeof(float) * 4 * (size_t)t->hist_eval_cap);
        if (!p)
            return rn_err_set(e, RN_ENOMEM, "history", "out of memory");
        t->hist_eval = p, t->hist_eval_cap *= 2;
    }
    t->hist_eval[2 * t->hist_eval_n] = step;
    t->hist_eval[2 * t->hist_eval_n + 1] = v;
    t->hist_eval_n++;
    return RN_OK;
}

int rn_trainer_step(struct rn_trainer *t, struct rn_train_event *ev, struct rn_err *e)
{
    const struct rn_train_config *c = &t->cfg;
    struct rn_lm *m = &t->lm;
    int B = (int)c->batch_size, T = (int)c->seq_len, K = (int)c->grad_accum;
    int D = m->cfg.multi_token_predict;
    double t0 = rn_now(), loss = 0, main_loss = 0, mtp[8] = {0};
    /* The forward adds the heads' share of the embedding gradient itself,
     * so the gradients are zeroed once, before the first micro-batch, and
     * the micro-batches' gradients add up. */
    rn_lm_zero_grad(m);
    for (int k = 0; k < K; k++) {
        rn_train_data_windows(t->data, 0, &t->rng, B, T, t->batch);
        uint64_t seed = rn_rng_u64(&t->rng);
        int rc = rn_lm_forward(m, t->batch, B, T, RN_LM_TRAIN, seed, e);
        if (rc < 0)
            return rc;
        rn_lm_backward(m);
        loss += m->loss, main_loss += m->main_loss;
        for (int d = 0; d < D && d < 8; d++)
            mtp[d] += m->mtp_loss[d];
    }
    if (K > 1) {
        /* the mean over micro-batches, as one batch of K*B would give */
        float inv = 1.0f / (float)K;
        float *gr = m->grads;
        long np = (long)m->n_params;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < np; i++)
            gr[i] *= inv;
    }
    loss /= K, main_loss /= K;
    float *g[1] = {m->grads};
    size_t n[1] = {m->n_params};
    double norm = c->grad_clip > 0 ? rn_grad_clip(g, n, 1, c->grad_clip) : rn_grad_norm(g, n, 1);
    if (!isfinite(loss) || !isfinite(norm))
        return rn_err_set(e, RN_ELIMIT, "training",
                          "step %" PRId64 ": loss %g, gradient norm %g: the run diverged "
                          "(lower learning_rate); the last checkpoint is kept",
                          t->step + 1, loss, norm);
    struct rn_lr_schedule s;
    rn_trainer_schedule(c, &s);
    double lr = rn_lr_at(&s, t->step);
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *p = &m->tensors[i];
        rn_adamw_step(m->params + p->offset, m->grads + p->offset, t->adam_m + p->offset,
                      t->adam_v + p->offset, p->numel, lr, c->beta1, c->beta2, c->adam_eps,
                      p->decay ? c->weight_decay : 0.0, t->step + 1);
    }
    t->step++;
    int rc = push_loss(t, (float)main_loss, e);
    if (rc < 0)
        return rc;
    double dt = rn_now() - t0;
    t->t_run += dt;
    if (ev) {
        memset(ev, 0, sizeof *ev);
        ev->kind = RN_TRAIN_STEP;
        ev->step = t->step;
        ev->loss = loss, ev->main_loss = main_loss;
        for (int d = 0; d < D && d < 8; d++)
            ev->mtp_loss[d] = mtp[d] / K;
        ev->lr = lr, ev->grad_norm = norm, ev->step_s = dt;
        double tok = (double)(t->step - t->start_step) * B * T * K;
        ev->tokens_per_s = t->t_run > 0 ? tok / t->t_run : 0;
    }
    return RN_OK;
}

int rn_trainer_eval(struct rn_trainer *t, double *val_loss, double *val_main_loss,
                    struct rn_err *e)
{
    const struct rn_train_config *c = &t->cfg;
    int B = (int)c->batch_size, T = (int)c->seq_len;
    struct rn_rng g;
    rn_rng_seed(&g, (uint64_t)c->seed ^ EVAL_SEED_XOR);
    double sum = 0, sum_main = 0;
    for (int64_t i = 0; i < c->eval_iters; i++) {
        rn_train_data_windows(t->data, 1, &g, B, T, t->batch);
        int rc = rn_lm_forward(&t->lm, t->batch, B, T, 0, 0, e);
        if (rc < 0)
            return rc;
        sum += t->lm.loss, sum_main += t->lm.main_loss;
    }
    *val_loss = sum / (double)c->eval_iters;
    *val_main_loss = sum_main / (double)c->eval_iters;
    return RN_OK;
}

static void emit(struct rn_trainer *t, const struct rn_train_event *ev)
{
    if (t->on_event)
        t->on_event(t->ud, t, ev);
}

static int do_eval(struct rn_trainer *t, struct rn_err *e)
{
    struct rn_train_event ev = {.kind = RN_TRAIN_EVAL, .step = t->step};
    int rc = rn_trainer_eval(t, &ev.val_loss, &ev.val_main_loss, e);
    if (rc < 0 || (rc = push_eval(t, (float)t->step, (float)ev.val_main_loss, e)) < 0)
        return rc;
    t->last_val_loss = ev.val_main_loss;
    emit(t, &ev);
    return RN_OK;
}

static int do_checkpoint(struct rn_trainer *t, struct rn_err *e)
{
    int rc;
    if (t->out_path) {
        if ((rc = rn_trainer_save(t, t->out_path, e)) < 0) {
            size_t n = strlen(e->msg);
            snprintf(e->msg + n, sizeof e->msg - n,
                     " (step %" PRId64 " not saved; any earlier checkpoint there is intact)",
                     t->step);
            return rc;
        }
        struct rn_train_event ev = {.kind = RN_TRAIN_CHECKPOINT, .step = t->step,
                                    .path = t->out_path};
        emit(t, &ev);
    }
    if (t->plot_path && (rc = rn_train_plot(t->plot_path, t->hist_loss, t->hist_n, t->hist_eval,
                                            t->hist_eval_n, 800, 500, e)) < 0)
        return rc;
    return RN_OK;
}

int rn_trainer_run(struct rn_trainer *t, struct rn_err *e)
{
    const struct rn_train_config *c = &t->cfg;
    int rc;
    int64_t last_eval = -1;
    t->start_step = t->step;
    t->t_run = 0;
    while (t->step < c->steps && !(t->stop && *t->stop)) {
        struct rn_train_event ev;
        if ((rc = rn_trainer_step(t, &ev, e)) < 0)
            return rc;
        emit(t, &ev);
        if (c->eval_interval > 0 && t->step % c->eval_interval == 0) {
            if ((rc = do_eval(t, e)) < 0)
                return rc;
            last_eval = t->step;
        }
        if (c->checkpoint_interval > 0 && t->step % c->checkpoint_interval == 0 &&
            t->step < c->steps && (rc = do_checkpoint(t, e)) < 0)
            return rc;
    }
    /* A finished run ends with an eval (the final held-out loss); a
     * stopped one saves at once. Neither touches the training state. */
    int stopped = t->stop && *t->stop && t->step < c->steps;
    if (!stopped && c->eval_interval > 0 && last_eval != t->step && t->step > t->start_step &&
        (rc = do_eval(t, e)) < 0)
        return rc;
    return do_checkpoint(t, e);
}

/* ---- checkpoints ------------------------------------------------------------ */

/* "transformer.h.{i}.mlp.expert_bias" or "mtp_heads.{d}.mlp.expert_bias" of
 * MoE layer l (backbone layers first, as in lm's expert_bias rows). */
static void bias_name(const struct rn_lm *m, int l, char *buf, size_t size)
{
    if (l < m->cfg.n_layer)
        snprintf(buf, size, "transformer.h.%d.mlp.expert_bias", l);
    else
        snprintf(buf, size, "mtp_heads.%d.mlp.expert_bias", l - m->cfg.n_layer);
}

static int add_f32(struct rn_ckpt_writer *w, const char *name, int rank, const int64_t *dims,
                   const float *data, struct rn_err *e)
{
    struct rn_tensor tv;
    int rc = rn_tensor_view(&tv, RN_DTYPE_F32, rank, dims, (void *)data, e);
    return rc < 0 ? rc : rn_ckpt_writer_add(w, name, &tv, e);
}

int rn_trainer_save(const struct rn_trainer *t, const char *path, struct rn_err *e)
{
    const struct rn_lm *m = &t->lm;
    struct rn_ckpt_writer w;
    char name[RN_LM_NAME_MAX + 16], *cfg_json = NULL;
    int rc;
    rn_ckpt_writer_init(&w);
    if ((rc = rn_ckpt_writer_set_identity(&w, "train", e)) < 0)
        goto out;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *p = &m->tensors[i];
        if ((rc = add_f32(&w, p->name, p->rank, p->shape, m->params + p->offset, e)) < 0 ||
            (rc = rn_ckpt_optim_name(name, sizeof name, 'm', p->name, e)) < 0 ||
            (rc = add_f32(&w, name, p->rank, p->shape, t->adam_m + p->offset, e)) < 0 ||
            (rc = rn_ckpt_optim_name(name, sizeof name, 'v', p->name, e)) < 0 ||
            (rc = add_f32(&w, name, p->rank, p->shape, t->adam_v + p->offset, e)) < 0)
            goto out;
    }
    int64_t E = m->cfg.n_experts;
    for (int l = 0; l < m->n_moe; l++) {
        bias_name(m, l, name, sizeof name);
        if ((rc = add_f32(&w, name, 1, &E, m->expert_bias + (size_t)l * E, e)) < 0)
            goto out;
    }
    int64_t hn = t->hist_n, he[2] = {t->hist_eval_n, 2};
    const char *tok_id = t->tok_id ? t->tok_id : t->data->tokenizer;
    char hex[24];
    snprintf(hex, sizeof hex, "%016" PRIx64, t->data_hash);
    if ((rc = add_f32(&w, HIST_LOSS, 1, &hn, t->hist_loss, e)) < 0 ||
        (rc = add_f32(&w, HIST_EVAL, 2, he, t->hist_eval, e)) < 0 ||
        (rc = rn_ckpt_writer_add_rng(&w, "train", &t->rng, e)) < 0 ||
        (rc = rn_cfg_format(&rn_train_config_table, &t->cfg, RN_CFG_JSON, &cfg_json, e)) < 0 ||
        (rc = rn_ckpt_writer_set_meta(&w, RN_CKPT_META_CONFIG, cfg_json, e)) < 0 ||
        (rc = rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, t->step, e)) < 0 ||
        (rc = rn_ckpt_writer_set_meta_int(&w, META_THREADS, t->threads, e)) < 0 ||
        (rc = rn_ckpt_writer_set_meta_int(&w, META_DATA_TOKENS, (int64_t)t->data->n, e)) < 0 ||
        (rc = rn_ckpt_writer_set_meta(&w, META_DATA_HASH, hex, e)) < 0 ||
        (tok_id[0] && (rc = rn_ckpt_writer_set_meta(&w, RN_CKPT_META_TOKENIZER, tok_id, e)) < 0) ||
        (t->tok_path &&
         (rc = rn_ckpt_writer_set_meta(&w, RN_CKPT_META_TOKENIZER_PATH, t->tok_path, e)) < 0) ||
        (t->tok_json &&
         (rc = rn_ckpt_writer_set_meta(&w, RN_CKPT_META_TOKENIZER_JSON, t->tok_json, e)) < 0))
        goto out;
    rc = rn_ckpt_writer_write(&w, path, e);
out:
    free(cfg_json);
    rn_ckpt_writer_free(&w);
    return rc;
}

int rn_trainer_check_output(const char *path, struct rn_err *e)
{
    struct rn_outfile o;
    int rc = rn_outfile_open(&o, path, e);
    if (rc == RN_OK)
        rn_outfile_abort(&o);
    return rc;
}

/* Open and format-check a checkpoint. */
static int open_ckpt(struct rn_ckpt *c, const char *path, struct rn_err *e)
{
    int rc = rn_ckpt_open(c, path, e);
    if (rc == RN_OK && (rc = rn_ckpt_check_format(c, e)) < 0) {
        if (!e->where[0])
            snprintf(e->where, sizeof e->where, "%.200s", path);
        rn_ckpt_close(c);
    }
    return rc;
}

int rn_trainer_ckpt_config(const char *path, struct rn_train_config *cfg, struct rn_err *e)
{
    struct rn_ckpt c;
    int rc = open_ckpt(&c, path, e);
    if (rc < 0)
        return rc;
    const char *json = rn_ckpt_meta(&c, RN_CKPT_META_CONFIG);
    if (!json)
        rc = rn_err_set(e, RN_EFORMAT, path, "no config in the checkpoint's metadata");
    else
        rc = rn_cfg_load_text(&rn_train_config_table, cfg, json, strlen(json), path, e);
    rn_ckpt_close(&c);
    return rc;
}

/* Fields that may change on resume: they shape no tensor and the saved
 * state stays meaningful under them. Every other model field must match. */
static int resumable_change(const char *name)
{
    static const char *const ok[] = {"dropout", "aux_loss_weight", "bias_update_rate",
                                     "mtp_loss_weight", "init_std", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(name, ok[i]))
            return 1;
    return 0;
}

static int check_model_fields(const struct rn_train_config *now, const char *json,
                              const char *path, struct rn_err *e)
{
    struct rn_train_config saved = {0};
    int rc = rn_cfg_defaults(&rn_train_config_table, &saved, e);
    if (rc == RN_OK)
        rc = rn_cfg_load_text(&rn_train_config_table, &saved, json, strlen(json), path, e);
    for (const struct rn_cfg_field *f = rn_train_config_table.fields; rc == RN_OK && f->name;
         f++) {
        if (!strcmp(f->name, "batch_size"))
            break; /* training fields follow: any of them may change */
        char a[64], b[64];
        rn_cfg_value_text(f, now, a, sizeof a);
        rn_cfg_value_text(f, &saved, b, sizeof b);
        if (strcmp(a, b) != 0 && !resumable_change(f->name))
            rc = rn_err_set(e, RN_EUSAGE, path,
                            "%s is %s here but %s in the checkpoint: a model field cannot "
                            "change on resume", f->name, a, b);
    }
    rn_cfg_free(&rn_train_config_table, &saved);
    return rc;
}

/* Token ids mean nothing under another vocabulary: refuse data (or a
 * tokenizer) whose identity differs from the checkpoint's, and keep the
 * checkpoint's tokenizer path and JSON when t has none of its own. */
static int check_tokenizer(struct rn_trainer *t, const struct rn_ckpt *c, const char *path,
                           struct rn_err *e)
{
    const char *saved = rn_ckpt_meta(c, RN_CKPT_META_TOKENIZER);
    const char *mine = t->tok_id ? t->tok_id : t->data->tokenizer;
    if (saved && saved[0] && mine[0] && strcmp(saved, mine) != 0)
        return rn_err_set(e, RN_EFORMAT, path,
                          "trained with tokenizer %.100s, but the data is of tokenizer %.100s",
                          saved, mine);
    int rc = RN_OK;
    if (!t->tok_id && !t->data->tokenizer[0] && saved)
        rc = set_str(&t->tok_id, saved, e);
    if (rc == RN_OK && !t->tok_json && rn_ckpt_meta(c, RN_CKPT_META_TOKENIZER_JSON)) {
        rc = set_str(&t->tok_json, rn_ckpt_meta(c, RN_CKPT_META_TOKENIZER_JSON), e);
        if (rc == RN_OK && !t->tok_path)
            rc = set_str(&t->tok_path, rn_ckpt_meta(c, RN_CKPT_META_TOKENIZER_PATH), e);
    }
    return rc;
}

int rn_trainer_load(struct rn_trainer *t, const char *path, struct rn_err *e)
{
    struct rn_ckpt c;
    struct rn_lm *m = &t->lm;
    char name[RN_LM_NAME_MAX + 16];
    int rc = open_ckpt(&c, path, e);
    if (rc < 0)
        return rc;
    const char *json = rn_ckpt_meta(&c, RN_CKPT_META_CONFIG);
    if (!json) {
        rc = rn_err_set(e, RN_EFORMAT, path, "no config in the checkpoint's metadata");
        goto out;
    }
    if ((rc = check_model_fields(&t->cfg, json, path, e)) < 0 ||
        (rc = check_tokenizer(t, &c, path, e)) < 0)
        goto out;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rn_lm_tensor *p = &m->tensors[i];
        if ((rc = rn_ckpt_read_into(&c, p->name, RN_DTYPE_F32, p->rank, p->shape,
                                    m->params + p->offset, e)) < 0 ||
            (rc = rn_ckpt_optim_name(name, sizeof name, 'm', p->name, e)) < 0 ||
            (rc = rn_ckpt_read_into(&c, name, RN_DTYPE_F32, p->rank, p->shape,
                                    t->adam_m + p->offset, e)) < 0 ||
            (rc = rn_ckpt_optim_name(name, sizeof name, 'v', p->name, e)) < 0 ||
            (rc = rn_ckpt_read_into(&c, name, RN_DTYPE_F32, p->rank, p->shape,
                                    t->adam_v + p->offset, e)) < 0)
            goto out;
    }
    int64_t E = m->cfg.n_experts;
    for (int l = 0; l < m->n_moe; l++) {
        bias_name(m, l, name, sizeof name);
        if ((rc = rn_ckpt_read_into(&c, name, RN_DTYPE_F32, 1, &E,
                                    m->expert_bias + (size_t)l * E, e)) < 0)
            goto out;
    }
    int64_t step;
    if ((rc = rn_ckpt_get_rng(&c, "train", &t->rng, e)) < 0 ||
        (rc = rn_ckpt_meta_int(&c, RN_CKPT_META_STEP, &step, e)) < 0)
        goto out;
    if (step < 0) {
        rc = rn_err_set(e, RN_EFORMAT, path, "step %" PRId64 " is negative", step);
        goto out;
    }
    t->step = t->start_step = step;
    int64_t th = 0, ntok = -1;
    const char *hash = rn_ckpt_meta(&c, META_DATA_HASH);
    char hex[24];
    snprintf(hex, sizeof hex, "%016" PRIx64, t->data_hash);
    if (rn_ckpt_meta(&c, META_THREADS))
        rn_ckpt_meta_int(&c, META_THREADS, &th, NULL);
    if (rn_ckpt_meta(&c, META_DATA_TOKENS))
        rn_ckpt_meta_int(&c, META_DATA_TOKENS, &ntok, NULL);
    t->resumed_threads = th;
    t->resumed_same_data = ntok == (int64_t)t->data->n && hash && !strcmp(hash, hex);
    /* The curves are for the plot: a checkpoint without them still resumes. */
    t->hist_n = t->hist_eval_n = 0;
    struct rn_tensor h;
    if (rn_ckpt_has(&c, HIST_LOSS) && rn_ckpt_get(&c, HIST_LOSS, &h, e) == RN_OK &&
        h.dtype == RN_DTYPE_F32 && h.rank == 1)
        for (int64_t i = 0; i < h.dims[0] && rc == RN_OK; i++)
            rc = push_loss(t, ((const float *)h.data)[i], e);
    if (rc == RN_OK && rn_ckpt_has(&c, HIST_EVAL) && rn_ckpt_get(&c, HIST_EVAL, &h, e) == RN_OK &&
        h.dtype == RN_DTYPE_F32 && h.rank == 2 && h.dims[1] == 2)
        for (int64_t i = 0; i < h.dims[0] && rc == RN_OK; i++)
            rc = push_eval(t, ((const float *)h.data)[2 * i], ((const float *)h.data)[2 * i + 1],
                           e);
    if (rc == RN_OK && t->hist_eval_n)
        t->last_val_loss = t->hist_eval[2 * t->hist_eval_n - 1];
out:
    rn_ckpt_close(&c);
    return rc;
}
