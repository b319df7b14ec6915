/* train — train the language model (lm.h) on tokens records.
 *
 * Reads: tokens records (tokenize's output) from the FILEs, or stdin when
 * none, concatenated into one token array. Writes: a checkpoint (-o, a
 * safetensors file, runnel-checkpoint(5)) every checkpoint_interval steps,
 * at the end and on SIGINT/SIGTERM; optionally a PNG of the loss curves.
 * stdout carries nothing but --print-config; progress and logs go to
 * stderr (JSON lines with --log-json). The loop is libcore/trainer.c.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnel.h"
#include "trainer.h"

enum { OPT_CONFIG = 'c', OPT_OUTPUT = 'o', OPT_THREADS = 'j', OPT_RESUME = 256, OPT_PLOT,
       OPT_PRINT_CONFIG, OPT_TOKENIZER, OPT_FIELD_BASE = 1000 };

static const struct rn_option own_options[] = {
    {"config", 'c', "FILE", "read the training config (YAML) from FILE; flags override it",
     RN_COMP_FILE, NULL, OPT_CONFIG},
    {"output", 'o', "FILE", "write checkpoints to FILE (replaced atomically each time)",
     RN_COMP_FILE, NULL, OPT_OUTPUT},
    {"resume", 0, "CKPT", "continue the run saved in CKPT (its config, then -c and flags)",
     RN_COMP_FILE, NULL, OPT_RESUME},
    {"threads", 'j', "N", "threads for the matrix products and loops (default: all cores)",
     RN_COMP_NONE, NULL, OPT_THREADS},
    {"tokenizer", 0, "FILE", "check the records against this tokenizer and store it in checkpoints",
     RN_COMP_FILE, NULL, OPT_TOKENIZER},
    {"plot", 0, "FILE", "draw the train and held-out loss curves into a PNG at each checkpoint",
     RN_COMP_FILE, NULL, OPT_PLOT},
    {"print-config", 0, NULL, "print the effective config as YAML on stdout and exit",
     RN_COMP_NONE, NULL, OPT_PRINT_CONFIG},
    {0},
};

static struct rn_program program = {
    "train", "[OPTIONS] -o CKPT [FILE...]",
    "Train the DeepSeek-V3-style language model on tokens records (stdin when no FILE).",
    "Every config field (runnel-config(5)) is also a flag, --name VALUE, which wins over\n"
    "-c FILE; --steps N is the total number of optimizer steps. The learning rate follows\n"
    "warmup_iters and lr_decay_iters, never --steps, so a run stopped early and resumed\n"
    "goes on exactly as one run. SIGINT or SIGTERM saves a checkpoint and exits 0.\n\n"
    "Examples:\n"
    "  tokenize --train --vocab-size 4096 -o tok.json stories.txt\n"
    "  tokenize -m tok.json --split blank-line stories.txt > tokens.rnl\n"
    "  train -c samples/tiny.yaml -o tiny.ckpt --plot loss.png tokens.rnl\n"
    "  train -c samples/tiny.yaml --resume tiny.ckpt --steps 500 -o tiny.ckpt tokens.rnl\n"
    "  train -c samples/tiny.yaml --n_layer 4 --print-config",
    NULL, RN_COMP_FILE};

struct cmdline {
    const char *config;      /* -c; NULL: defaults (or the checkpoint's) */
    const char *output;      /* -o: checkpoint path, required */
    const char *resume;      /* --resume CKPT */
    const char *plot;        /* --plot PNG */
    const char *tokenizer;   /* --tokenizer FILE: embedded in checkpoints */
    int threads;             /* 1..1024 */
    int print_config;
    char **files;            /* operands; none: stdin */
    int nfiles;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Options, then the config layered as defaults < checkpoint < -c < flags. */
static int parse_args(struct cmdline *c, struct rn_train_config *cfg, struct rn_cli *cli)
{
    struct rn_err e = {0};
    struct rn_cfg_cli cc;
    long long v;
    int id;
    if (rn_cfg_cli_init(&cc, &rn_train_config_table, own_options, OPT_FIELD_BASE, &e) < 0)
        rn_die(&e);
    program.options = cc.options;
    rn_cli_init(cli, &program, cli->argc, cli->argv);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu > 0 ? (int)(ncpu < 1024 ? ncpu : 1024) : 1;
    while ((id = rn_cli_next(cli)) > 0) {
        if (rn_cfg_cli_take(&cc, id, cli->arg))
            continue;
        switch (id) {
        case OPT_CONFIG: c->config = cli->arg; break;
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_RESUME: c->resume = cli->arg; break;
        case OPT_PLOT: c->plot = cli->arg; break;
        case OPT_TOKENIZER: c->tokenizer = cli->arg; break;
        case OPT_PRINT_CONFIG: c->print_config = 1; break;
        case OPT_THREADS:
            if (rn_cli_int(cli, 1, 1024, &v) < 0)
                goto out;
            c->threads = (int)v;
            break;
        }
    }
    if (id == RN_CLI_EXIT)
        goto out;
    c->files = cli->argv + cli->optind;
    c->nfiles = cli->argc - cli->optind;
    if (rn_cfg_defaults(&rn_train_config_table, cfg, &e) < 0 ||
        (c->resume && rn_trainer_ckpt_config(c->resume, cfg, &e) < 0) ||
        (c->config && rn_cfg_load_file(&rn_train_config_table, cfg, c->config, &e) < 0) ||
        rn_cfg_cli_apply(&cc, cfg, &e) < 0 || rn_cfg_validate(&rn_train_config_table, cfg, &e) < 0) {
        rn_cfg_cli_free(&cc);
        rn_die(&e);
    }
    rn_cfg_cli_free(&cc);
    if (c->print_config)
        return 0;
    if (!c->output)
        return rn_cli_usage(cli, "no output: give -o CKPT");
    if (!strcmp(c->output, "-"))
        return rn_cli_usage(cli, "-o: a checkpoint is replaced in place: give a file name");
    if (c->plot && !strcmp(c->plot, "-"))
        return rn_cli_usage(cli, "--plot: give a file name");
    if (!c->nfiles && isatty(0))
        return rn_cli_usage(cli, "no input: give tokens FILEs or pipe tokenize's output");
    return 0;
out:
    rn_cfg_cli_free(&cc);
    return RN_CLI_EXIT;
}

/* ---- what the user watches ------------------------------------------------------ */

struct watch {
    struct rn_progress pr;
    struct rn_train_event last;   /* the last step */
    int64_t total;                /* cfg.steps */
};

/* Per MoE layer: expert usage fractions of the last forward and the
 * balancing biases, as two arrays of arrays. */
static void add_experts(cJSON *f, const struct rn_trainer *t)
{
    const struct rn_lm *m = &t->lm;
    int E = m->cfg.n_experts;
    float frac[1024];
    cJSON *usage = cJSON_AddArrayToObject(f, "expert_usage");
    cJSON *bias = cJSON_AddArrayToObject(f, "expert_bias");
    for (int l = 0; l < m->n_moe && usage && bias; l++) {
        rn_lm_expert_usage(m, l, frac);
        cJSON *u = cJSON_CreateArray(), *b = cJSON_CreateArray();
        for (int k = 0; k < E && u && b; k++) {
            cJSON_AddItemToArray(u, cJSON_CreateNumber(round(frac[k] * 1e4) / 1e4));
            cJSON_AddItemToArray(b, cJSON_CreateNumber(m->expert_bias[(size_t)l * E + k]));
        }
        cJSON_AddItemToArray(usage, u);
        cJSON_AddItemToArray(bias, b);
    }
}

/* Human form of the same: one line per MoE layer. */
static void log_experts(const struct rn_trainer *t)
{
    const struct rn_lm *m = &t->lm;
    int E = m->cfg.n_experts;
    float frac[1024];
    for (int l = 0; l < m->n_moe; l++) {
        char line[2048], name[32];
        size_t n = 0;
        rn_lm_expert_usage(m, l, frac);
        if (l < m->cfg.n_layer)
            snprintf(name, sizeof name, "layer %d", l);
        else
            snprintf(name, sizeof name, "mtp %d", l - m->cfg.n_layer);
        n += (size_t)snprintf(line + n, sizeof line - n, "  %-8s usage", name);
        for (int k = 0; k < E && n < sizeof line - 64; k++)
            n += (size_t)snprintf(line + n, sizeof line - n, " %.3f", frac[k]);
        n += (size_t)snprintf(line + n, sizeof line - n, "  bias");
        for (int k = 0; k < E && n < sizeof line - 64; k++)
            n += (size_t)snprintf(line + n, sizeof line - n, " %+.4f",
                                  m->expert_bias[(size_t)l * E + k]);
        rn_log(RN_LOG_INFO, "%s", line);
    }
}

static void on_event(void *ud, const struct rn_trainer *t, const struct rn_train_event *ev)
{
    struct watch *w = ud;
    int D = t->lm.cfg.multi_token_predict;
    int json = rn_log_is_json();
    if (ev->kind == RN_TRAIN_STEP) {
        w->last = *ev;
        char extra[160];
        snprintf(extra, sizeof extra, "step %" PRId64 " loss %.4f lr %.2e %.0f tok/s", ev->step,
                 ev->loss, ev->lr, ev->tokens_per_s);
        rn_progress_update(&w->pr, (uint64_t)(ev->step - t->start_step), extra);
        if (ev->step % t->cfg.log_interval && ev->step != w->total)
            return;
        rn_progress_end(&w->pr);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "step", (double)ev->step);
        cJSON_AddNumberToObject(f, "loss", ev->loss);
        cJSON_AddNumberToObject(f, "main_loss", ev->main_loss);
        cJSON *mtp = cJSON_AddArrayToObject(f, "mtp_loss");
        for (int d = 0; d < D && mtp; d++)
            cJSON_AddItemToArray(mtp, cJSON_CreateNumber(ev->mtp_loss[d]));
        cJSON_AddNumberToObject(f, "lr", ev->lr);
        cJSON_AddNumberToObject(f, "grad_norm", ev->grad_norm);
        cJSON_AddNumberToObject(f, "tokens_per_s", round(ev->tokens_per_s * 10) / 10);
        if (json) {
            cJSON_AddNumberToObject(f, "step_ms", round(ev->step_s * 1e4) / 10);
            add_experts(f, t);
            rn_log_json(RN_LOG_INFO, "step", f);
        } else {
            cJSON_Delete(f);
            char mt[128] = "";
            size_t n = 0;
            for (int d = 0; d < D && d < 8; d++)
                n += (size_t)snprintf(mt + n, sizeof mt - n, "%s%.3f", d ? " " : ", mtp ",
                                      ev->mtp_loss[d]);
            rn_log(RN_LOG_INFO, "step %" PRId64 "/%" PRId64 ": loss %.4f (main %.4f%s) lr %.2e "
                   "norm %.3f %.0f tok/s", ev->step, w->total, ev->loss, ev->main_loss, mt, ev->lr,
                   ev->grad_norm, ev->tokens_per_s);
        }
    } else if (ev->kind == RN_TRAIN_EVAL) {
        rn_progress_end(&w->pr);
        if (json) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddNumberToObject(f, "step", (double)ev->step);
            cJSON_AddNumberToObject(f, "val_loss", ev->val_loss);
            cJSON_AddNumberToObject(f, "val_main_loss", ev->val_main_loss);
            add_experts(f, t);
            rn_log_json(RN_LOG_INFO, "eval", f);
        } else {
            rn_log(RN_LOG_INFO, "eval at step %" PRId64 ": held-out loss %.4f (main %.4f); "
                   "experts on the last held-out batch:", ev->step, ev->val_loss,
                   ev->val_main_loss);
            log_experts(t);
        }
    } else if (ev->kind == RN_TRAIN_CHECKPOINT) {
        rn_progress_end(&w->pr);
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "step", (double)ev->step);
        cJSON_AddStringToObject(f, "path", ev->path);
        rn_log_json(RN_LOG_INFO, "checkpoint", f);
    }
}

/* The last line: where the run ended, how fast, the final losses, the files. */
static void summary(const struct rn_trainer *t, const struct watch *w, const struct cmdline *c)
{
    const char *msg = stop_flag ? "stopped by signal: checkpoint saved" : "done";
    int ran = t->step > t->start_step, val = !isnan(t->last_val_loss);
    if (!rn_log_is_json()) {
        char losses[160] = "", held[64] = "", plot[300] = "";
        if (ran)
            snprintf(losses, sizeof losses, "; loss %.4f (main %.4f)", w->last.loss,
                     w->last.main_loss);
        if (val)
            snprintf(held, sizeof held, ", held-out main loss %.4f", t->last_val_loss);
        if (c->plot)
            snprintf(plot, sizeof plot, ", plot %.256s", c->plot);
        rn_log(RN_LOG_INFO, "%s at step %" PRId64 ": %" PRId64 " steps in %.1f s (%.0f tokens/s)"
               "%s%s; checkpoint %s%s", msg, t->step, t->step - t->start_step, t->t_run,
               w->last.tokens_per_s, losses, held, c->output, plot);
        return;
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "step", (double)t->step);
    cJSON_AddNumberToObject(f, "steps_run", (double)(t->step - t->start_step));
    cJSON_AddNumberToObject(f, "seconds", round(t->t_run * 100) / 100);
    cJSON_AddNumberToObject(f, "tokens_per_s", round(w->last.tokens_per_s * 10) / 10);
    if (ran) {
        cJSON_AddNumberToObject(f, "loss", w->last.loss);
        cJSON_AddNumberToObject(f, "main_loss", w->last.main_loss);
    }
    if (val)
        cJSON_AddNumberToObject(f, "val_main_loss", t->last_val_loss);
    cJSON_AddStringToObject(f, "checkpoint", c->output);
    if (c->plot)
        cJSON_AddStringToObject(f, "plot", c->plot);
    rn_log_json(RN_LOG_INFO, msg, f);
}

/* ---- main ----------------------------------------------------------------------- */

/* --tokenizer: the records must be its ids, it must fit the embedding, and
 * checkpoints carry it (as runnel-tokenizer JSON, whatever file it was
 * loaded from), so that a checkpoint is usable on its own. */
static void attach_tokenizer(struct rn_trainer *t, const char *path,
                             const struct rn_train_config *cfg, const struct rn_train_data *d)
{
    struct rn_bpe b;
    struct rn_err e = {0};
    char hex[17], id[96], *json;
    size_t len;
    if (rn_bpe_load(&b, path, &e) < 0)
        rn_die(&e);
    snprintf(id, sizeof id, "%.40s:%s", b.name, rn_bpe_fingerprint_hex(&b, hex));
    if (b.n_vocab > cfg->vocab_size)
        rn_err_set(&e, RN_EUSAGE, path, "%d tokens do not fit vocab_size %" PRId64
                   " (set --vocab_size %d)", (int)b.n_vocab, cfg->vocab_size, (int)b.n_vocab);
    else if (d->tokenizer[0] && strcmp(d->tokenizer, id) != 0)
        rn_err_set(&e, RN_EFORMAT, path, "is tokenizer %s, but the records were made with %s",
                   id, d->tokenizer);
    else if (rn_bpe_to_json(&b, NULL, &json, &len, &e) == RN_OK) {
        if (rn_trainer_set_tokenizer(t, id, path, json, &e) == RN_OK)
            e.code = RN_OK;
        free(json);
    }
    rn_bpe_free(&b);
    if (e.code < 0)
        rn_die(&e);
}

static void read_data(const struct cmdline *c, const struct rn_train_config *cfg,
                      struct rn_train_data *d)
{
    struct rn_err e = {0};
    static char *dash[] = {"-"};
    char **files = c->nfiles ? c->files : dash;
    for (int i = 0; i < (c->nfiles ? c->nfiles : 1); i++)
        if (rn_train_data_read(d, files[i], cfg->vocab_size, &e) < 0)
            rn_die(&e);
    if (rn_train_data_split(d, cfg->val_fraction, (int)cfg->seq_len, cfg->eval_interval > 0,
                            &e) < 0)
        rn_die(&e);
}

int main(int argc, char **argv)
{
    struct rn_cli cli = {.argc = argc, .argv = argv};
    struct cmdline c = {0};
    struct rn_train_config cfg = {0};
    struct rn_err e = {0};
    if (parse_args(&c, &cfg, &cli) == RN_CLI_EXIT)
        return cli.status;
    if (c.print_config) {
        char *text;
        if (rn_cfg_format(&rn_train_config_table, &cfg, RN_CFG_YAML, &text, &e) < 0)
            rn_die(&e);
        fputs(text, stdout);
        free(text);
        return rn_close_stdout();
    }
    /* Fail before the work, not after it: both outputs must be creatable. */
    if (rn_trainer_check_output(c.output, &e) < 0 ||
        (c.plot && rn_trainer_check_output(c.plot, &e) < 0))
        rn_die(&e);
    struct rn_train_data data = {0};
    read_data(&c, &cfg, &data);

    rn_blas_set_threads(c.threads);
    struct rn_trainer t;
    if (rn_trainer_init(&t, &cfg, &data, &e) < 0)
        rn_die(&e);
    t.threads = c.threads;
    if (c.tokenizer)
        attach_tokenizer(&t, c.tokenizer, &cfg, &data);
    if (c.resume) {
        if (rn_trainer_load(&t, c.resume, &e) < 0)
            rn_die(&e);
        if (t.resumed_threads && t.resumed_threads != c.threads)
            rn_log(RN_LOG_WARN, "%s was trained on %" PRId64 " threads, this run uses %d: the "
                   "losses will not repeat bit for bit", c.resume, t.resumed_threads, c.threads);
        if (!t.resumed_same_data)
            rn_log(RN_LOG_WARN, "%s was trained on other data: the run goes on from its "
                   "weights with a new data order", c.resume);
    }
    struct watch w = {.total = cfg.steps};
    t.out_path = c.output;
    t.plot_path = c.plot;
    t.stop = &stop_flag;
    t.on_event = on_event;
    t.ud = &w;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int B = (int)cfg.batch_size, T = (int)cfg.seq_len, K = (int)cfg.grad_accum;
    rn_log(RN_LOG_INFO, "%zu parameters; %zu tokens from %" PRIu64 " records (%zu train, %zu "
           "held out); batch %d x %d x %d micro-batches; steps %" PRId64 " to %" PRId64 "; %d threads",
           t.lm.n_params, data.n, data.records, data.n_train, data.n - data.n_train, B, T,
           K, t.step, cfg.steps, c.threads);
    rn_progress_start(&w.pr, "training", (uint64_t)(cfg.steps > t.step ? cfg.steps - t.step : 0));
    int rc = rn_trainer_run(&t, &e);
    rn_progress_end(&w.pr);
    if (rc < 0)
        rn_die(&e);

    summary(&t, &w, &c);
    rn_trainer_free(&t);
    rn_train_data_free(&data);
    return RN_EXIT_OK;
}
