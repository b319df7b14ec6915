/* generate — text from a checkpoint made by train: prompts from the
 * arguments or one per stdin line, decoded with the MLA latent KV cache
 * (lm_decode.h), several prompts at once (--batch), or speculatively with
 * the MTP heads as the draft (--speculative, spec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "bpe.h"
#include "buf.h"
#include "cli.h"
#include "err.h"
#include "lm.h"
#include "lm_decode.h"
#include "lm_load.h"
#include "log.h"
#include "rng.h"
#include "sample.h"
#include "spec.h"
#include "stops.h"
#include "stream.h"

#define MAX_STOP 16
#define MAX_BATCH 64
#define PREFILL_ROWS 64 /* prompt positions per decoder call */

enum {
    OPT_MAX = 1000, OPT_TEMP, OPT_TOPK, OPT_TOPP, OPT_REP, OPT_SEED, OPT_STOP, OPT_BATCH,
    OPT_SPEC, OPT_JSON, OPT_STREAM, OPT_PLAIN, OPT_INPUT,
};

static const struct rn_option options[] = {
    {"model", 'm', "CKPT", "the checkpoint to generate with (written by train)", RN_COMP_FILE,
     NULL, 'm'},
    {"tokenizer", 't', "FILE", "tokenizer file (default: the one the checkpoint embeds)",
     RN_COMP_FILE, NULL, 't'},
    {"max-tokens", 'n', "N", "new tokens per prompt at most (default 256)", RN_COMP_NONE, NULL,
     OPT_MAX},
    {"temperature", 0, "T", "sampling temperature, 0 for greedy (default 1)", RN_COMP_NONE,
     NULL, OPT_TEMP},
    {"top-k", 0, "K", "sample among the K most likely tokens only (default 0: all)",
     RN_COMP_NONE, NULL, OPT_TOPK},
    {"top-p", 0, "P", "sample within the smallest set of probability P (default 1: all)",
     RN_COMP_NONE, NULL, OPT_TOPP},
    {"repetition-penalty", 0, "R", "penalise tokens already in the text by R (default 1: off)",
     RN_COMP_NONE, NULL, OPT_REP},
    {"seed", 0, "N", "random seed: the same seed gives the same text (default 1)",
     RN_COMP_NONE, NULL, OPT_SEED},
    {"stop", 0, "STRING", "also stop where the text produces STRING (repeatable)", RN_COMP_NONE,
     NULL, OPT_STOP},
    {"batch", 'b', "N", "decode up to N stdin prompts together (default 1)", RN_COMP_NONE, NULL,
     OPT_BATCH},
    {"speculative", 0, NULL, "draft with the MTP heads, verify with the main model",
     RN_COMP_NONE, NULL, OPT_SPEC},
    {"plain-attention", 0, NULL, "expand keys and values from the cache instead of absorbing",
     RN_COMP_NONE, NULL, OPT_PLAIN},
    {"format", 'f', "FORMAT", "output: text (one line per prompt) or tokens (records)",
     RN_COMP_WORDS, "text tokens", 'f'},
    {"input-format", 0, "FORMAT", "stdin holds text lines (default) or tokens records",
     RN_COMP_WORDS, "text tokens", OPT_INPUT},
    {"threads", 'j', "N", "threads for the matrix products and loops (default: all cores)",
     RN_COMP_NONE, NULL, 'j'},
    {"json", 0, NULL, "one JSON object per prompt: text, counts, stop reason, timings",
     RN_COMP_NONE, NULL, OPT_JSON},
    {"stream", 0, NULL, "write text as it is produced (default on a terminal)", RN_COMP_NONE,
     NULL, OPT_STREAM},
    {0},
};

static const struct rn_program program = {
    "generate",
    "-m CKPT [OPTIONS] [PROMPT...]",
    "Continue prompts with a trained model.",
    "Each PROMPT argument, or else each line of stdin, is one prompt; each gives one\n"
    "line of output (its continuation) in order. Generation stops at </|story|>,\n"
    "<|endoftext|>, a --stop STRING, --max-tokens or the model's block_size.\n"
    "Example:\n"
    "  generate -m tiny.ckpt --temperature 0.8 --top-k 40 'Once upon a time'\n",
    options,
    RN_COMP_NONE,
};

struct cmdline {
    const char *model, *tokenizer;
    long long max_tokens, batch;
    long long threads;          /* -j: 0 = the default (all cores, or OMP_NUM_THREADS) */
    struct rn_sample_params sp;
    uint64_t seed;
    const char *stop[MAX_STOP];
    int nstop, speculative, json, stream, plain;
    int tokens_out, tokens_in; /* -f tokens, --input-format tokens */
};

static int parse(struct rn_cli *cli, struct cmdline *c)
{
    int id;
    long long v;
    double d;
    memset(c, 0, sizeof *c);
    c->max_tokens = 256, c->batch = 1, c->sp = RN_SAMPLE_DEFAULTS, c->seed = 1;
    c->stream = isatty(1);
    while ((id = rn_cli_next(cli)) > 0) {
        switch (id) {
        case 'm': c->model = cli->arg; break;
        case 't': c->tokenizer = cli->arg; break;
        case OPT_MAX:
            if (rn_cli_int(cli, 1, 1 << 20, &c->max_tokens)) return RN_CLI_EXIT;
            break;
        case OPT_TEMP:
            if (rn_cli_double(cli, 0, 100, &d)) return RN_CLI_EXIT;
            c->sp.temperature = (float)d;
            break;
        case OPT_TOPK:
            if (rn_cli_int(cli, 0, 1 << 24, &v)) return RN_CLI_EXIT;
            c->sp.top_k = (int)v;
            break;
        case OPT_TOPP:
            if (rn_cli_double(cli, 1e-9, 1, &d)) return RN_CLI_EXIT;
            c->sp.top_p = (float)d;
            break;
        case OPT_REP:
            if (rn_cli_double(cli, 1e-3, 1e3, &d)) return RN_CLI_EXIT;
            c->sp.repetition_penalty = (float)d;
            break;
        case OPT_SEED:
            if (rn_cli_int(cli, 0, INT64_MAX, &v)) return RN_CLI_EXIT;
            c->seed = (uint64_t)v;
            break;
        case OPT_STOP:
            if (!cli->arg[0])
                return rn_cli_usage(cli, "--stop needs a non-empty STRING");
            if (c->nstop == MAX_STOP)
                return rn_cli_usage(cli, "at most %d --stop strings", MAX_STOP);
            c->stop[c->nstop++] = cli->arg;
            break;
        case OPT_BATCH:
            if (rn_cli_int(cli, 1, MAX_BATCH, &c->batch)) return RN_CLI_EXIT;
            break;
        case 'j':
            if (rn_cli_int(cli, 1, 1024, &c->threads)) return RN_CLI_EXIT;
            break;
        case OPT_SPEC: c->speculative = 1; break;
        case OPT_PLAIN: c->plain = 1; break;
        case OPT_JSON: c->json = 1; break;
        case OPT_STREAM: c->stream = 2; break;
        case 'f':
        case OPT_INPUT: {
            int tok = strcmp(cli->arg, "tokens") == 0;
            if (!tok && strcmp(cli->arg, "text") != 0)
                return rn_cli_usage(cli, "%s: unknown format '%s' (text or tokens)",
                                    id == 'f' ? "--format" : "--input-format", cli->arg);
            if (id == 'f')
                c->tokens_out = tok;
            else
                c->tokens_in = tok;
            break;
        }
        }
    }
    if (id == RN_CLI_EXIT)
        return id;
    if (!c->model)
        return rn_cli_usage(cli, "no checkpoint: give -m CKPT");
    if (c->speculative && c->batch > 1)
        return rn_cli_usage(cli, "--speculative decodes one prompt at a time: drop --batch");
    if (c->stream == 2 && (c->batch > 1 || c->json))
        return rn_cli_usage(cli, "--stream writes one prompt at a time as text: drop %s",
                            c->json ? "--json" : "--batch");
    if (c->tokens_out && (c->json || c->stream == 2))
        return rn_cli_usage(cli, "-f tokens writes records: drop %s",
                            c->json ? "--json" : "--stream");
    if (c->tokens_in && cli->optind < cli->argc)
        return rn_cli_usage(cli, "--input-format tokens reads stdin: drop the PROMPT arguments");
    if (c->tokens_out && rn_cli_refuse_tty(cli, NULL) == RN_CLI_EXIT)
        return RN_CLI_EXIT;
    if (c->json || c->batch > 1 || c->tokens_out)
        c->stream = 0;
    return 0;
}

/* ---- one prompt's state ------------------------------------------------------ */

struct seq {
    char *prompt;             /* as given */
    struct rn_bpe_ids ids;    /* prompt ids, then the new ones */
    int n_prompt;             /* prompt ids kept (after truncation) */
    struct rn_bpe_bytes text; /* the completion's bytes */
    struct rn_bpe_ids off;    /* byte offset in text where each new id starts */
    size_t shown;             /* bytes of text already streamed */
    int n_new, done;
    const char *reason;       /* "eos", "stop", "length" */
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct gen {
    struct cmdline *c;
    struct rn_stream_writer w; /* -f tokens */
    long n_prompt;             /* prompts done, for the records' metadata */
    struct rn_lm m;
    struct rn_bpe b;
    struct rn_lm_decoder d;
    struct rn_spec spec;
    struct rn_sampler smp;
    struct rn_rng g;
    int32_t eos[2];
    size_t stop_max;          /* longest --stop */
    long total_new;
    double t_prefill, t_decode;
};

/* Write what can no longer turn into a --stop string. */
static void stream_out(struct gen *G, struct seq *s, int final)
{
    size_t hold = final ? 0 : (G->stop_max ? G->stop_max - 1 : 0);
    if (s->text.n > s->shown + hold) {
        size_t upto = s->text.n - hold;
        fwrite(s->text.v + s->shown, 1, upto - s->shown, stdout);
        s->shown = upto;
        fflush(stdout);
    }
}

/* Append token t to s; sets done and reason when generation ends. */
static void push(struct gen *G, struct seq *s, int32_t t)
{
    struct rn_err e = {0};
    if (t == G->eos[0] || t == G->eos[1]) {
        s->done = 1, s->reason = "eos";
        return;
    }
    size_t before = s->text.n;
    if (rn_bpe_ids_push(&s->ids, t, &e) < 0 || rn_bpe_ids_push(&s->off, (int32_t)before, &e) < 0)
        rn_die(&e);
    s->n_new++;
    if (rn_bpe_decode(&G->b, &t, 1, &s->text, &e) < 0)
        rn_die(&e);
    long cut = rn_stop_find((const char *)s->text.v, s->text.n, before, G->c->stop, G->c->nstop);
    if (cut >= 0) {
        s->text.n = (size_t)cut;
        s->done = 1, s->reason = "stop";
        return;
    }
    if (s->n_new >= G->c->max_tokens || (int)s->ids.n >= G->m.cfg.block_size)
        s->done = 1, s->reason = "length";
}

/* p (n bytes) as a JSON string on stdout. */
static void json_str(const char *p, size_t n)
{
    struct rn_buf b = {0};
    if (rn_buf_put(&b, "\"", 1) < 0 || rn_buf_json(&b, p, n) < 0 || rn_buf_put(&b, "\"", 1) < 0) {
        struct rn_err e;
        rn_err_set(&e, RN_ENOMEM, "json", "out of memory");
        rn_die(&e);
    }
    fwrite(b.p, 1, b.n, stdout);
    rn_buf_free(&b);
}

static void emit(struct gen *G, struct seq *s, double secs)
{
    if (G->c->tokens_out) {
        /* the new ids whose text starts before any --stop cut */
        struct rn_err e = {0};
        const int32_t *ids = s->ids.v + s->n_prompt;
        int64_t n = 0;
        while (n < s->n_new && (size_t)s->off.v[n] < s->text.n)
            n++;
        char *meta;
        if (rn_bpe_record_meta(&G->b, NULL, (uint64_t)G->n_prompt, &meta, &e) < 0 ||
            rn_stream_write(&G->w, RN_KIND_TOKENS, RN_DTYPE_I32, 1, &n, meta, ids,
                            (size_t)n * sizeof(int32_t), &e) < 0)
            rn_die(&e);
        free(meta);
        G->n_prompt++;
        return;
    }
    G->n_prompt++;
    if (G->c->json) {
        fputs("{\"prompt\": ", stdout);
        json_str(s->prompt, strlen(s->prompt));
        fputs(", \"completion\": ", stdout);
        json_str((const char *)s->text.v, s->text.n);
        printf(", \"prompt_tokens\": %d, \"completion_tokens\": %d, \"stop_reason\": \"%s\", "
               "\"seconds\": %.4f, \"tokens_per_s\": %.1f}\n",
               s->n_prompt, s->n_new, s->reason, secs, secs > 0 ? s->n_new / secs : 0.0);
    } else if (G->c->stream) {
        stream_out(G, s, 1);
        putchar('\n');
    } else {
        fwrite(s->text.v, 1, s->text.n, stdout);
        putchar('\n');
    }
    if (ferror(stdout)) {
        struct rn_err e;
        rn_err_set(&e, RN_EIO, "stdout", "write failed");
        rn_die(&e);
    }
    fflush(stdout);
}

/* A prompt longer than the context keeps its last ids: say so. */
static void warn_cut(const char *where, size_t n, size_t keep, int block_size)
{
    rn_log(RN_LOG_WARN, "%s: %zu tokens; keeping the last %zu (block_size %d)", where, n, keep,
           block_size);
}

/* Encode s->prompt as the model saw its training documents (lm_load.h). */
static void encode(struct gen *G, struct seq *s, const char *where, int from_args)
{
    struct rn_err e = {0};
    if (!s->prompt[0]) {
        /* an empty argument is a usage error (2), an empty line bad data (1) */
        rn_err_set(&e, from_args ? RN_EUSAGE : RN_EFORMAT, where, "empty prompt");
        rn_die(&e);
    }
    size_t cut;
    if (rn_lm_prompt_ids(&G->b, s->prompt, strlen(s->prompt), G->m.cfg.block_size, &s->ids, &cut,
                         &e) < 0)
        rn_die(&e);
    if (cut)
        warn_cut(where, s->ids.n + cut, s->ids.n, G->m.cfg.block_size);
    s->n_prompt = (int)s->ids.n;
}

static void die_if(int rc, const struct rn_err *e)
{
    if (rc < 0)
        rn_die(e);
}

/* Speculative decoding of one prompt. */
static void run_spec(struct gen *G, struct seq *s)
{
    struct rn_err e = {0};
    int32_t t, out[16];
    int n;
    double t0 = now();
    die_if(rn_spec_start(&G->spec, s->ids.v, s->n_prompt, &G->c->sp, &G->g, &t, &e), &e);
    G->t_prefill += now() - t0;
    t0 = now();
    push(G, s, t);
    while (!s->done) {
        if (G->c->stream)
            stream_out(G, s, 0);
        int rc = rn_spec_step(&G->spec, &G->c->sp, &G->g, out, &n, &e);
        if (rc == RN_ELIMIT) {
            s->done = 1, s->reason = "length";
            break;
        }
        die_if(rc, &e);
        for (int i = 0; i < n && !s->done; i++)
            push(G, s, out[i]);
    }
    G->t_decode += now() - t0;
}

/* Plain decoding of n prompts together, one slot each. */
static void run_batch(struct gen *G, struct seq *S, int n)
{
    struct rn_err e = {0};
    const int V = G->m.cfg.vocab_size, flags = RN_DEC_LAST | (G->c->plain ? RN_DEC_PLAIN : 0);
    const float *lg;
    int slots[MAX_BATCH];
    int32_t next[MAX_BATCH];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        struct seq *s = &S[i];
        rn_lm_decoder_reset(&G->d, i);
        for (int p = 0; p < s->n_prompt; p += PREFILL_ROWS) {
            int k = s->n_prompt - p < PREFILL_ROWS ? s->n_prompt - p : PREFILL_ROWS;
            die_if(rn_lm_decode(&G->d, 0, &i, 1, s->ids.v + p, k, NULL, flags, &lg, &e), &e);
        }
        push(G, s, rn_sample(&G->smp, &G->c->sp, lg, s->ids.v, (int)s->ids.n, &G->g));
    }
    G->t_prefill += now() - t0;
    t0 = now();
    for (;;) {
        int a = 0;
        for (int i = 0; i < n; i++)
            if (!S[i].done) {
                slots[a] = i;
                next[a++] = S[i].ids.v[S[i].ids.n - 1];
            }
        if (a == 0)
            break;
        if (G->c->stream)
            stream_out(G, &S[0], 0);
        die_if(rn_lm_decode(&G->d, 0, slots, a, next, 1, NULL, flags, &lg, &e), &e);
        for (int j = 0; j < a; j++) {
            struct seq *s = &S[slots[j]];
            push(G, s, rn_sample(&G->smp, &G->c->sp, lg + (size_t)j * V, s->ids.v, (int)s->ids.n,
                                 &G->g));
        }
    }
    G->t_decode += now() - t0;
}

static void run_group(struct gen *G, struct seq *S, int n)
{
    double t0 = now();
    if (G->c->speculative)
        run_spec(G, &S[0]);
    else
        run_batch(G, S, n);
    double secs = now() - t0;
    for (int i = 0; i < n; i++) {
        emit(G, &S[i], secs);
        G->total_new += S[i].n_new;
        free(S[i].prompt);
        rn_bpe_ids_free(&S[i].ids);
        rn_bpe_bytes_free(&S[i].text);
        rn_bpe_ids_free(&S[i].off);
        memset(&S[i], 0, sizeof S[i]);
    }
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c;
    struct rn_err e = {0};
    struct rn_lm_ckpt_info info;
    static struct gen G;
    rn_cli_init(&cli, &program, argc, argv);
    if (parse(&cli, &c) == RN_CLI_EXIT)
        return cli.status;
    die_if(rn_sample_params_validate(&c.sp, &e), &e);
    rn_blas_set_threads((int)c.threads);
    G.c = &c;
    die_if(rn_lm_load(&G.m, c.model, 1, 1, &info, &e), &e);
    die_if(rn_lm_load_tokenizer(&G.b, c.tokenizer, c.model, &info, G.m.cfg.vocab_size, &e), &e);
    G.eos[0] = rn_bpe_special_id(&G.b, "</|story|>", 10);
    G.eos[1] = rn_bpe_special_id(&G.b, "<|endoftext|>", 13);
    for (int i = 0; i < c.nstop; i++)
        if (strlen(c.stop[i]) > G.stop_max)
            G.stop_max = strlen(c.stop[i]);
    const int levels = c.speculative ? G.m.cfg.multi_token_predict : 0;
    if (c.speculative && levels < 1) {
        rn_err_set(&e, RN_EUSAGE, c.model, "--speculative: the model has no MTP heads");
        rn_die(&e);
    }
    const int rows = c.speculative ? PREFILL_ROWS + levels + 1 : PREFILL_ROWS;
    die_if(rn_lm_decoder_init(&G.d, &G.m, (int)c.batch, G.m.cfg.block_size,
                              rows > c.batch ? rows : (int)c.batch, levels, &e),
           &e);
    if (c.speculative)
        die_if(rn_spec_init(&G.spec, &G.d, 0, &e), &e);
    die_if(rn_sampler_init(&G.smp, G.m.cfg.vocab_size, &e), &e);
    rn_rng_seed(&G.g, c.seed);
    const size_t lat = rn_lm_cache_bytes_per_token(&G.m.cfg),
                 kv = rn_lm_kv_bytes_per_token(&G.m.cfg);
    if (cli.verbose)
        rn_log(RN_LOG_INFO,
               "KV cache: %zu bytes per token (latent c_kv + rotary k_r, %d layers); a plain "
               "K/V cache would take %zu (%.2fx); %s attention",
               lat, G.m.cfg.n_layer, kv, (double)kv / (double)lat,
               c.plain ? "plain" : "absorbed");

    if (c.tokens_out && rn_stream_writer_open(&G.w, "-", &e) < 0)
        rn_die(&e);
    struct seq S[MAX_BATCH];
    memset(S, 0, sizeof S);
    int n = 0;
    char where[64];
    if (cli.optind < argc) {
        for (int i = cli.optind; i < argc; i++) {
            snprintf(where, sizeof where, "prompt %d", i - cli.optind + 1);
            if (!(S[n].prompt = strdup(argv[i]))) {
                rn_err_set(&e, RN_ENOMEM, "prompt", "out of memory");
                rn_die(&e);
            }
            encode(&G, &S[n], where, 1);
            if (++n == c.batch)
                run_group(&G, S, n), n = 0;
        }
    } else if (c.tokens_in) {
        /* tokens records (tokenize's output): each record one prompt, its
         * ids checked against the model's tokenizer by fingerprint */
        struct rn_stream_reader r;
        struct rn_record rec = {0};
        int rc;
        if (rn_stream_reader_open(&r, "-", 0, &e) < 0)
            rn_die(&e);
        while ((rc = rn_stream_read(&r, &rec, 0, &e)) == RN_OK) {
            if (rec.kind != RN_KIND_TOKENS)
                continue;
            snprintf(where, sizeof where, "record %llu", (unsigned long long)rec.index);
            struct rn_bpe_ids ids = {0};
            struct rn_bpe_bytes txt = {0};
            if (rn_bpe_record_ids(&G.b, &rec, &ids, &e) < 0 ||
                rn_bpe_decode(&G.b, ids.v, ids.n, &txt, &e) < 0 ||
                rn_bpe_bytes_append(&txt, "", 1, &e) < 0) {
                if (strstr(e.msg, "fingerprint") || strstr(e.msg, "tokenizer"))
                    rn_err_prefix(&e, "tokenizer mismatch: ");
                rn_die(&e);
            }
            S[n].prompt = (char *)txt.v;
            if (ids.n == 0) {
                rn_err_set(&e, RN_EFORMAT, where, "empty prompt");
                rn_die(&e);
            }
            size_t cut = rn_lm_prompt_fit(&ids, G.m.cfg.block_size);
            if (cut)
                warn_cut(where, ids.n + cut, ids.n, G.m.cfg.block_size);
            S[n].ids = ids;
            S[n].n_prompt = (int)ids.n;
            if (++n == c.batch)
                run_group(&G, S, n), n = 0;
        }
        rn_record_free(&rec);
        rn_stream_reader_close(&r);
        if (rc < 0)
            rn_die(&e);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long lineno = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            if (len > 0 && line[len - 1] == '\n')
                line[--len] = 0;
            snprintf(where, sizeof where, "stdin line %ld", lineno);
            if (!(S[n].prompt = strdup(line))) {
                rn_err_set(&e, RN_ENOMEM, "prompt", "out of memory");
                rn_die(&e);
            }
            encode(&G, &S[n], where, 0);
            if (++n == c.batch)
                run_group(&G, S, n), n = 0;
        }
        free(line);
    }
    if (n > 0)
        run_group(&G, S, n);
    if (c.tokens_out && rn_stream_writer_close(&G.w, &e) < 0)
        rn_die(&e);
    if (!c.tokens_out && (fflush(stdout) != 0 || ferror(stdout))) {
        rn_err_set(&e, RN_EIO, "stdout", "write failed");
        rn_die(&e);
    }
    if (cli.verbose) {
        rn_log(RN_LOG_INFO, "%ld new tokens: prefill %.3fs, decode %.3fs (%.1f tokens/s)",
               G.total_new, G.t_prefill, G.t_decode,
               G.t_decode > 0 ? (double)G.total_new / G.t_decode : 0.0);
        if (c.speculative && G.spec.drafted > 0)
            rn_log(RN_LOG_INFO, "speculative: %ld rounds, %ld of %ld drafts accepted (%.1f%%), "
                   "%.2f tokens per main-model call",
                   G.spec.rounds, G.spec.accepted, G.spec.drafted,
                   100.0 * (double)G.spec.accepted / (double)G.spec.drafted,
                   (double)(G.spec.accepted + G.spec.rounds) / (double)G.spec.rounds);
    }
    rn_spec_free(&G.spec);
    rn_sampler_free(&G.smp);
    rn_lm_decoder_free(&G.d);
    rn_bpe_free(&G.b);
    rn_lm_ckpt_info_free(&info);
    rn_lm_free(&G.m);
    return 0;
}
