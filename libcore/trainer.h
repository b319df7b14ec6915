/* trainer — the training loop of `train` as a library: token data and its
 * held-out split, random windows, gradient accumulation, AdamW on the
 * configured LR schedule, clipping, evaluation, checkpoints that resume
 * bit for bit, and a stop flag for signals. Nothing here prints: the
 * caller watches through an event callback (cmd/train.c logs from it).
 *
 *     struct rn_train_data d = {0};
 *     rn_train_data_read(&d, "tokens.rnl", cfg.vocab_size, &e);  // or "-"
 *     struct rn_trainer t;
 *     rn_trainer_init(&t, &cfg, &d, &e);        // borrows d; weights from cfg.seed
 *     rn_trainer_load(&t, "old.ckpt", &e);      // optional: --resume
 *     t.out_path = "model.ckpt";  t.on_event = log_fn;  t.stop = &flag;
 *     rn_trainer_run(&t, &e);                   // to cfg.steps, or until *stop
 *     rn_trainer_free(&t);  rn_train_data_free(&d);
 *
 * Determinism: one generator (struct rn_rng, seeded by cfg.seed after the
 * weights are drawn) picks every training window and every dropout seed,
 * so the data order state is that generator's state. It is saved with the
 * parameters, the AdamW moments, the balancing biases and the step, and a
 * run of 2N steps equals a run of N steps resumed for N more, bit for bit,
 * at the same thread count. Evaluation draws its windows from a generator
 * of its own, reseeded for every evaluation (the same held-out batches
 * each time), so evaluating never changes the training.
 *
 * Checkpoint (runnel-checkpoint(5)): the model's tensors under lm.h's
 * names, "<layer>.mlp.expert_bias" (E) per MoE layer, optim.m./optim.v.
 * per parameter, rng.train, the curves under "train.history." and the
 * metadata config, step, tokenizer (+ tokenizer_path, tokenizer_json when
 * set), threads, data_tokens, data_hash.
 */
#ifndef RN_TRAINER_H
#define RN_TRAINER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "err.h"
#include "lm.h"
#include "optim.h"
#include "rng.h"

struct rn_record;

/* ---- data (trainer_data.c) ------------------------------------------------- */

/* Every token of the input, concatenated in record order; the last
 * val_fraction of them (rounded down) is the held-out split. */
struct rn_train_data {
    int32_t *tok;              /* (n) */
    size_t n, cap;
    size_t n_train;            /* tok[0, n_train) trains, tok[n_train, n) evaluates */
    uint64_t records;          /* tokens records read */
    char tokenizer[96];        /* "name:fingerprint" of the first record, "" if none said */
};

/* Append the ids of a tokens record; other kinds are skipped (RN_OK).
 * Refuses (RN_EFORMAT, e->where = name) an id outside [0, vocab_size),
 * naming the record and the position, and a record whose tokenizer
 * fingerprint differs from the first record's. */
int rn_train_data_add(struct rn_train_data *d, const struct rn_record *rec, int64_t vocab_size,
                      const char *name, struct rn_err *e);
/* Read every record of the stream at path ("-": stdin) with
 * rn_train_data_add. */
int rn_train_data_read(struct rn_train_data *d, const char *path, int64_t vocab_size,
                       struct rn_err *e);
/* Split: n_val = floor(n * val_fraction). RN_EFORMAT (where "data") when
 * the training split has fewer than T+1 tokens, or when need_val and the
 * held-out split has fewer than T+1. */
int rn_train_data_split(struct rn_train_data *d, double val_fraction, int T, int need_val,
                        struct rn_err *e);
/* B windows of T+1 consecutive tokens of split 0 (train) or 1 (held out)
 * into out (B, T+1), each starting at rn_rng_below(g, len - T): B draws
 * from g, in row order. The split must hold at least T+1 tokens. */
void rn_train_data_windows(const struct rn_train_data *d, int split, struct rn_rng *g, int B,
                           int T, int32_t *out);
/* FNV-1a 64 of the token array, to tell on resume whether the data is
 * the same. */
uint64_t rn_train_data_hash(const struct rn_train_data *d);
void rn_train_data_free(struct rn_train_data *d);

/* ---- the loop (trainer.c) -------------------------------------------------- */

/* The model half of a train config; RN_EUNSUPPORTED for a rope_theta
 * other than 10000 (lm's RoPE table is fixed). */
int rn_trainer_lm_config(const struct rn_train_config *c, struct rn_lm_config *lc,
                         struct rn_err *e);
/* Learning-rate schedule of a config: rn_lr_at(&s, step) is the rate of
 * the update after step optimizer steps. It depends on warmup_iters and
 * lr_decay_iters, never on steps. */
void rn_trainer_schedule(const struct rn_train_config *c, struct rn_lr_schedule *s);

enum rn_train_event_kind {
    RN_TRAIN_STEP = 1,         /* an optimizer step is done */
    RN_TRAIN_EVAL,             /* an evaluation is done */
    RN_TRAIN_CHECKPOINT,       /* a checkpoint was written to path */
};

struct rn_train_event {
    int kind;                  /* enum rn_train_event_kind */
    int64_t step;              /* optimizer steps done */
    /* RN_TRAIN_STEP: means over the step's micro-batches */
    double loss, main_loss, mtp_loss[8];
    double lr, grad_norm;      /* grad_norm before clipping */
    double step_s;             /* seconds this step took */
    double tokens_per_s;       /* training tokens per second since the run (re)started */
    /* RN_TRAIN_EVAL: means over eval_iters held-out batches */
    double val_loss, val_main_loss;
    const char *path;          /* RN_TRAIN_CHECKPOINT */
};

struct rn_trainer;
typedef void (*rn_train_event_fn)(void *ud, const struct rn_trainer *t,
                                  const struct rn_train_event *ev);

struct rn_trainer {
    struct rn_train_config cfg;       /* the run's config (a copy: no string fields) */
    struct rn_lm lm;                  /* B = batch_size, T = seq_len, with gradients */
    float *adam_m, *adam_v;           /* (lm.n_params) AdamW moments */
    struct rn_rng rng;                /* training windows and dropout seeds */
    int64_t step;                     /* optimizer steps done */
    int64_t start_step;               /* step when this process started (resume) */
    const struct rn_train_data *data; /* borrowed */
    uint64_t data_hash;               /* rn_train_data_hash(data), taken once at init */
    int32_t *batch;                   /* (B, T+1) */
    /* Curves for the plot and the checkpoint: main loss of every step
     * (index step-1) and (step, held-out main loss) of every eval. */
    float *hist_loss;
    int64_t hist_n, hist_cap;
    float *hist_eval;                 /* (hist_eval_n, 2) */
    int64_t hist_eval_n, hist_eval_cap;
    double last_val_loss;             /* NAN before the first eval */
    int threads;                      /* recorded in checkpoints (caller sets it) */
    /* The tokenizer as checkpoints name it: "name:fingerprint" (NULL: the
     * data's), its path as given, and its runnel-tokenizer(5) JSON (NULL:
     * not embedded). Owned copies (rn_trainer_set_tokenizer); a resumed
     * checkpoint's path and JSON are kept when none is set. */
    char *tok_id, *tok_path, *tok_json;
    /* Set by rn_trainer_load, for the caller to warn that the run will not
     * continue bit for bit: the saved run's threads, and whether its data
     * (count and hash) equals t->data. */
    int64_t resumed_threads;
    int resumed_same_data;
    /* Set by the caller before rn_trainer_run. */
    const char *out_path;             /* checkpoint file; NULL: never written */
    const char *plot_path;            /* PNG redrawn at every checkpoint; NULL: none */
    volatile sig_atomic_t *stop;      /* nonzero: save and return at the next step boundary */
    rn_train_event_fn on_event;       /* may be NULL */
    void *ud;
    double t_run;                     /* seconds spent in steps this process */
};

/* Build the model for cfg (batch_size x seq_len), draw its weights from
 * cfg.seed (rn_lm_init_weights, rank-2 tensors rescaled to init_std), zero
 * the moments, seed the training generator, and borrow d (split already).
 * RN_EUSAGE for a config lm refuses (e->where names the field),
 * RN_ENOMEM. On error t is freed. */
int rn_trainer_init(struct rn_trainer *t, const struct rn_train_config *cfg,
                    const struct rn_train_data *d, struct rn_err *e);
void rn_trainer_free(struct rn_trainer *t);

/* Set (copy) the tokenizer metadata written with every checkpoint; any
 * argument may be NULL. RN_ENOMEM. */
int rn_trainer_set_tokenizer(struct rn_trainer *t, const char *id, const char *path,
                             const char *json, struct rn_err *e);

/* Overlay the config stored in checkpoint path onto cfg (for --resume:
 * the caller then applies its config file and flags on top). */
int rn_trainer_ckpt_config(const char *path, struct rn_train_config *cfg, struct rn_err *e);
/* Restore everything a checkpoint holds into t (made by rn_trainer_init
 * with the same model fields): parameters, biases, moments, generator,
 * step, curves, and the tokenizer metadata unless t has its own.
 * RN_EUSAGE naming the field when a model field differs from the
 * checkpoint's; RN_EFORMAT for a missing or misshapen tensor, or when the
 * data (or t's tokenizer) names another tokenizer than the checkpoint. */
int rn_trainer_load(struct rn_trainer *t, const char *path, struct rn_err *e);
/* Write t's checkpoint to path atomically (a failed write, a full disk
 * included, leaves the previous file at path untouched). */
int rn_trainer_save(const struct rn_trainer *t, const char *path, struct rn_err *e);
/* RN_OK if a file can be created in path's directory (probed with a
 * temporary file, then removed): checked before training starts. */
int rn_trainer_check_output(const char *path, struct rn_err *e);

/* One optimizer step: grad_accum micro-batches (forward, backward), the
 * gradient averaged, clipped to grad_clip, AdamW at the scheduled rate.
 * Fills ev (kind RN_TRAIN_STEP) when non-NULL. RN_ELIMIT when the loss or
 * gradient norm is not finite (the step is not applied). */
int rn_trainer_step(struct rn_trainer *t, struct rn_train_event *ev, struct rn_err *e);
/* Mean losses over eval_iters held-out batches (no dropout, no bias
 * update); the same batches every call. */
int rn_trainer_eval(struct rn_trainer *t, double *val_loss, double *val_main_loss,
                    struct rn_err *e);

/* Steps until cfg.steps or until *stop is set, evaluating every
 * eval_interval steps, writing out_path every checkpoint_interval steps
 * and at the end (also when stopped), the plot with each checkpoint.
 * RN_OK when done or stopped (check *stop), else the failing call's
 * error; an error never overwrites the last good checkpoint. */
int rn_trainer_run(struct rn_trainer *t, struct rn_err *e);

/* ---- plot (trainer_plot.c) ------------------------------------------------- */

/* A w x h RGB PNG at path: training loss per step (thin, light, plus a
 * running mean) and held-out loss per evaluation, with axes and a legend.
 * train (n_train) is indexed by step-1; eval (n_eval, 2) holds (step, loss). */
int rn_train_plot(const char *path, const float *train, int64_t n_train, const float *eval,
                  int64_t n_eval, int w, int h, struct rn_err *e);

#endif
