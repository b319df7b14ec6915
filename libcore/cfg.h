/* cfg — layered configuration: defaults < YAML file < command line.
 *
 * A config is a plain C struct described by a static table of fields
 * (name, type, offset, default, range, help). The table is the one source
 * for parsing (YAML files, `--name value` flags, the JSON a checkpoint
 * stores), validation, printing the effective config (YAML or JSON), and
 * the --help lines and completion words of the flags (runnel-config(5)).
 *
 *     struct rn_train_config cfg;
 *     rn_cfg_defaults(&rn_train_config_table, &cfg, &e);
 *     rn_cfg_load_file(&rn_train_config_table, &cfg, "tiny.yaml", &e);
 *     rn_cfg_set(&rn_train_config_table, &cfg, "n_layer", "4", "command line", &e);
 *     rn_cfg_validate(&rn_train_config_table, &cfg, &e);   // cross-field rules
 *     ...
 *     rn_cfg_free(&rn_train_config_table, &cfg);           // string fields
 *
 * A binary exposes every field as a long option with struct rn_cfg_cli:
 * it appends one rn_option per field to the binary's own table, records
 * the values seen while the options are walked, and applies them after the
 * config file has been loaded, whatever their order on the command line.
 *
 *     struct rn_cfg_cli cc;                      // own options use ids < 1000
 *     rn_cfg_cli_init(&cc, &rn_train_config_table, own_options, 1000, &e);
 *     struct rn_program prog = {"train", ..., cc.options, RN_COMP_FILE};
 *     while ((id = rn_cli_next(&cli)) > 0)
 *         if (!rn_cfg_cli_take(&cc, id, cli.arg))
 *             switch (id) { case 'c': cfg_path = cli.arg; break; ... }
 *     rn_cfg_defaults(...); rn_cfg_load_file(..., cfg_path, &e);
 *     rn_cfg_cli_apply(&cc, &cfg, &e);            // flags win over the file
 *     rn_cfg_validate(...);
 *     rn_cfg_cli_free(&cc);                       // after the last rn_cli_next
 *
 * Errors name the field, the value, the allowed range or words, and the
 * place: e.where is "FILE:LINE" for a file, "command line" for a flag;
 * e.msg reads "n_layer: 0 is out of range [1, 256]" or "unknown config
 * field 'n_layers' (did you mean n_layer?)". Hostile YAML (aliases,
 * anchors, tags, nesting, several documents, huge scalars or files) is
 * refused with a message, never followed.
 */
#ifndef RN_CFG_H
#define RN_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "err.h"

enum rn_cfg_type {
    RN_CFG_INT = 1,     /* int64_t, inclusive range [imin, imax] */
    RN_CFG_FLOAT,       /* double, finite, inclusive range [fmin, fmax] */
    RN_CFG_BOOL,        /* int 0/1; true/false, yes/no, on/off */
    RN_CFG_STRING,      /* char *, owned by the struct (rn_cfg_free) */
    RN_CFG_ENUM,        /* int: index of the value in .words */
};

struct rn_cfg_field {
    const char *name;     /* YAML key and long option (--name): [a-z0-9_] */
    int type;             /* enum rn_cfg_type */
    size_t offset;        /* of the member in the config struct */
    const char *def;      /* default, written as a config value ("6", "0.1", "true") */
    int64_t imin, imax;   /* RN_CFG_INT range */
    double fmin, fmax;    /* RN_CFG_FLOAT range */
    const char *words;    /* RN_CFG_ENUM: allowed values, space-separated */
    const char *arg;      /* argument name in --help ("N"); NULL: from the type */
    const char *help;     /* one line, lower case, no final period */
};

/* Table entries; the _Generic term refuses a member of the wrong C type
 * at compile time. */
#define RN_CFG_MEMBER_(T, m, ctype) \
    (offsetof(T, m) + 0 * sizeof(char[_Generic(((T *)0)->m, ctype: 1)]))
#define RN_CFG_INT_FIELD(T, m, def, lo, hi, arg, help) \
    {#m, RN_CFG_INT, RN_CFG_MEMBER_(T, m, int64_t), def, lo, hi, 0, 0, NULL, arg, help}
#define RN_CFG_FLOAT_FIELD(T, m, def, lo, hi, arg, help) \
    {#m, RN_CFG_FLOAT, RN_CFG_MEMBER_(T, m, double), def, 0, 0, lo, hi, NULL, arg, help}
#define RN_CFG_BOOL_FIELD(T, m, def, help) \
    {#m, RN_CFG_BOOL, RN_CFG_MEMBER_(T, m, int), def, 0, 0, 0, 0, NULL, "BOOL", help}
#define RN_CFG_STRING_FIELD(T, m, def, arg, help) \
    {#m, RN_CFG_STRING, RN_CFG_MEMBER_(T, m, char *), def, 0, 0, 0, 0, NULL, arg, help}
#define RN_CFG_ENUM_FIELD(T, m, def, words, help) \
    {#m, RN_CFG_ENUM, RN_CFG_MEMBER_(T, m, int), def, 0, 0, 0, 0, words, "WORD", help}

struct rn_cfg_table {
    const char *what;                     /* "train config", for messages */
    const struct rn_cfg_field *fields;    /* terminated by a zeroed entry */
    /* Rules between fields (n_embd a multiple of n_head, ...), run by
     * rn_cfg_validate; NULL if none. Fills e and returns < 0 on a breach. */
    int (*check)(const void *cfg, struct rn_err *e);
};

/* Limits on what a config file may be. */
#define RN_CFG_FILE_MAX (1u << 20)    /* bytes of a config file */
#define RN_CFG_SCALAR_MAX 4096        /* bytes of one key or value */

/* Set every field of cfg to its default. cfg must be zeroed or hold a
 * config of this table (its strings are released first). RN_EUSAGE if a
 * default does not parse (a bug in the table: a unit test checks them). */
int rn_cfg_defaults(const struct rn_cfg_table *t, void *cfg, struct rn_err *e);
/* Release the string fields of cfg and set them to NULL; NULL cfg is a
 * no-op. Other fields are left as they are. */
void rn_cfg_free(const struct rn_cfg_table *t, void *cfg);

/* Overlay the fields set in a YAML file (a single mapping of field:
 * value; "-" is stdin) onto cfg. Fields not in the file keep their value.
 * On error cfg may hold some of the file's values. */
int rn_cfg_load_file(const struct rn_cfg_table *t, void *cfg, const char *path,
                     struct rn_err *e);
/* Same for len bytes of YAML (or JSON, which is YAML: the config a
 * checkpoint stores) in memory; name is the file name for messages. */
int rn_cfg_load_text(const struct rn_cfg_table *t, void *cfg, const char *text, size_t len,
                     const char *name, struct rn_err *e);
/* The same two, also telling which fields the file set, for callers that
 * report where each value came from: line (one int per field of t, owned
 * by the caller; NULL: not wanted) gets the 1-based line that set field i,
 * or 0 if the file does not name it. On error it covers the lines read. */
int rn_cfg_load_file_lines(const struct rn_cfg_table *t, void *cfg, const char *path, int *line,
                           struct rn_err *e);
int rn_cfg_load_text_lines(const struct rn_cfg_table *t, void *cfg, const char *text, size_t len,
                           const char *name, int *line, struct rn_err *e);
/* Set one field from its text form; where names the source ("command
 * line"). Unknown names, bad values and out-of-range values are errors. */
int rn_cfg_set(const struct rn_cfg_table *t, void *cfg, const char *name, const char *value,
               const char *where, struct rn_err *e);
/* Run the table's cross-field rules. (Each value was range-checked when
 * it was set.) */
int rn_cfg_validate(const struct rn_cfg_table *t, const void *cfg, struct rn_err *e);

/* The field called name, or NULL. */
const struct rn_cfg_field *rn_cfg_find(const struct rn_cfg_table *t, const char *name);
/* The known field closest to name (a typo away), or NULL if none is close. */
const char *rn_cfg_closest(const struct rn_cfg_table *t, const char *name);

enum rn_cfg_format {
    RN_CFG_YAML = 0,           /* "name: value" lines */
    RN_CFG_YAML_COMMENTED,     /* each line preceded by "# help (range)" */
    RN_CFG_JSON,               /* one line: {"name": value, ...} */
};
/* The effective config as text in a malloc'd string the caller frees.
 * Floats are written in the shortest form that reads back to the same
 * double, so format -> load gives the identical config. */
int rn_cfg_format(const struct rn_cfg_table *t, const void *cfg, int format, char **out,
                  struct rn_err *e);
/* One value as text ("6", "0.1", "true", the word, the string) into buf. */
void rn_cfg_value_text(const struct rn_cfg_field *f, const void *cfg, char *buf, size_t size);

/* ---- command line ---------------------------------------------------------- */

struct rn_cfg_cli {
    /* The binary's own options followed by one per field (--name ARG,
     * help "... (default X)", completion words for bools and enums),
     * zero-terminated: pass it as the rn_program's options. */
    struct rn_option *options;
    /* private */
    const struct rn_cfg_table *table_;
    int id_base_, nfields_;
    char **help_;
    const char **set_value_;   /* per field: last value seen (argv strings) */
    int *set_order_;           /* per field: order of its last appearance */
    int nset_;
};

/* Build the combined option table; field i gets option id id_base + i.
 * own may be NULL. RN_EUSAGE if a field's name collides with one of own's
 * options; RN_ENOMEM. */
int rn_cfg_cli_init(struct rn_cfg_cli *c, const struct rn_cfg_table *t,
                    const struct rn_option *own, int id_base, struct rn_err *e);
/* In the rn_cli_next loop: 1 if id is a config field's option (its value,
 * arg, is kept: it must outlive c, as argv does), 0 if it is not. */
int rn_cfg_cli_take(struct rn_cfg_cli *c, int id, const char *arg);
/* Apply the values taken, in command-line order, onto cfg. Errors are
 * RN_EUSAGE with where = "command line" and the option in the message. */
int rn_cfg_cli_apply(const struct rn_cfg_cli *c, void *cfg, struct rn_err *e);
/* The value taken for field i (table index) that rn_cfg_cli_apply applies,
 * or NULL if the command line does not set it (or i is not a field). */
const char *rn_cfg_cli_value(const struct rn_cfg_cli *c, int i);
void rn_cfg_cli_free(struct rn_cfg_cli *c);

/* ---- the training config (runnel-config(5)) -------------------------------- */

/* Every field of `train -c FILE` and its flags. Model fields first (what
 * lm needs to build the network), then training. Shapes and defaults are
 * DESIGN.md section 3's. */
struct rn_train_config {
    /* model */
    int64_t vocab_size;               /* token ids are < vocab_size */
    int64_t n_layer;                  /* transformer blocks */
    int64_t n_head;                   /* attention heads; n_embd % n_head == 0 */
    int64_t n_embd;                   /* model width */
    int64_t block_size;               /* longest context (positions) */
    double dropout;                   /* probability, training only */
    int bias;                         /* biases in W_o and the experts */
    int64_t kv_lora_rank;             /* MLA key/value latent width */
    int64_t q_lora_rank;              /* MLA query latent width */
    int64_t rope_dim;                 /* per-head RoPE width (even) */
    double rope_theta;                /* RoPE base */
    int64_t n_experts;                /* routed experts per MoE layer */
    int64_t n_experts_per_token;      /* top-k */
    int64_t expert_intermediate_size; /* routed expert hidden width */
    int64_t shared_expert_intermediate_size; /* shared expert hidden width */
    int use_shared_expert;
    double aux_loss_weight;           /* sequence-wise balance loss; 0: aux-free only */
    double bias_update_rate;          /* balancing-bias step per training forward */
    int64_t multi_token_predict;      /* MTP depths (0: none) */
    double mtp_loss_weight;           /* weight of the mean MTP loss */
    double init_std;                  /* N(0, init_std) weight init */
    /* training */
    int64_t batch_size;               /* sequences per micro-batch */
    int64_t seq_len;                  /* tokens per training sequence (<= block_size) */
    int64_t grad_accum;               /* micro-batches per optimizer step */
    int64_t steps;                    /* total optimizer steps of the run */
    double learning_rate;             /* peak, after warmup */
    double min_lr;                    /* floor of the cosine */
    int64_t warmup_iters;             /* linear warmup steps */
    int64_t lr_decay_iters;           /* step at which the cosine reaches min_lr */
    double weight_decay;              /* AdamW decoupled decay (matrices) */
    double beta1, beta2, adam_eps;    /* AdamW moments */
    double grad_clip;                 /* global-norm clip; 0: off */
    int64_t seed;                     /* init, dropout and batch sampling */
    double val_fraction;              /* held-out share of the tokens */
    int64_t eval_interval;            /* steps between evals; 0: never */
    int64_t eval_iters;               /* batches per eval */
    int64_t checkpoint_interval;      /* steps between checkpoints; 0: at the end only */
    int64_t log_interval;             /* steps between log lines */
};

extern const struct rn_cfg_table rn_train_config_table;

#endif
