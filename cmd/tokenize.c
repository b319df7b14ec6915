/* tokenize — text to tokens and back with byte-level BPE, and training of
 * a BPE vocabulary.
 *
 * Encode (default): reads text FILEs (stdin when none), splits them into
 * documents (--split), writes one tokens record per document (kind tokens,
 * i32, rank 1, metadata naming the vocabulary), or with --ids one line of
 * decimal ids per document.
 * Decode (-d): reads tokens records (or --ids lines), writes the text.
 * Train (--train): reads text FILEs, writes a tokenizer file (JSON,
 * runnel-tokenizer(5)).
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe.h"
#include "runnel.h"

enum { OPT_MODEL = 'm', OPT_OUTPUT = 'o', OPT_DECODE = 'd', OPT_THREADS = 'j', OPT_TRAIN = 256,
       OPT_VOCAB, OPT_IDS, OPT_ALLOW_SPECIAL, OPT_SPECIAL, OPT_WRAP, OPT_SPLIT };

static const struct rn_option options[] = {
    {"model", 'm', "MODEL", "tokenizer: a --train file, a tiktoken ranks file or a GPT-2 directory",
     RN_COMP_FILE, NULL, OPT_MODEL},
    {"decode", 'd', NULL, "read tokens records (or --ids lines) and write the text", RN_COMP_NONE,
     NULL, OPT_DECODE},
    {"ids", 0, NULL, "ids as text, one document per line, instead of records", RN_COMP_NONE, NULL,
     OPT_IDS},
    {"train", 0, NULL, "learn a vocabulary from the FILEs and write it as a tokenizer file",
     RN_COMP_NONE, NULL, OPT_TRAIN},
    {"vocab-size", 0, "N", "with --train: tokens in all, special ones included", RN_COMP_NONE, NULL,
     OPT_VOCAB},
    {"output", 'o', "FILE", "write to FILE (replaced whole, atomically) instead of stdout",
     RN_COMP_FILE, NULL, OPT_OUTPUT},
    {"allow-special", 0, NULL, "read special tokens' text in the input as those tokens",
     RN_COMP_NONE, NULL, OPT_ALLOW_SPECIAL},
    {"special", 0, "TOKEN", "add a special token after the built-in ones (repeatable)",
     RN_COMP_NONE, NULL, OPT_SPECIAL},
    {"wrap", 0, "WHAT", "wrap each document: story (<|story|> ... </|story|>) or eot (... <|endoftext|>)",
     RN_COMP_WORDS, "story eot", OPT_WRAP},
    {"split", 0, "HOW", "documents: file (one per FILE, the default), blank-line or line",
     RN_COMP_WORDS, "file blank-line line", OPT_SPLIT},
    {"threads", 'j', "N", "threads for encoding and training (default: all cores)", RN_COMP_NONE,
     NULL, OPT_THREADS},
    {0},
};

static const struct rn_program program = {
    "tokenize", "[OPTIONS] [FILE...]",
    "Byte-level BPE: encode text to token records, decode them, or train a vocabulary.",
    "MODEL is a tokenizer file made by --train, a tiktoken ranks file (gpt2.tiktoken;\n"
    "`make vocab-gpt2` fetches it) or a directory holding GPT-2's encoder.json and\n"
    "vocab.bpe. <|endoftext|>, <|story|> and </|story|> follow the BPE tokens (GPT-2:\n"
    "50256, 50257, 50258), then --special tokens.\n\n"
    "Examples:\n"
    "  tokenize --train --vocab-size 4096 -o tok.json corpus.txt\n"
    "  tokenize -m tok.json corpus.txt > corpus.rnl\n"
    "  tokenize -m tok.json -d corpus.rnl > corpus.txt\n"
    "  echo 'Hello world' | tokenize -m gpt2.tiktoken --ids      # 15496 995 198\n"
    "  tokenize -m gpt2.tiktoken --split blank-line --wrap story stories.txt | train ...",
    options, RN_COMP_FILE};

enum wrap { WRAP_NONE, WRAP_STORY, WRAP_EOT };

#define MAX_SPECIAL 64
#define FILE_MAX ((size_t)16 << 30)

struct cmdline {
    const char *model;          /* -m: tokenizer path; needed unless --train */
    const char *output;         /* -o: NULL is stdout */
    int decode, ids, train, allow_special;
    long long vocab_size;       /* --train: total tokens, 0: not given */
    const char *special[MAX_SPECIAL];
    int nspecial;
    enum wrap wrap;
    enum rn_bpe_split split;
    int threads;                /* >= 1 */
    char **files;               /* operands; none: stdin */
    int nfiles;
};

static int parse_args(struct cmdline *c, struct rn_cli *cli)
{
    int id;
    long long v;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu > 0 ? (int)(ncpu < 256 ? ncpu : 256) : 1;
    while ((id = rn_cli_next(cli)) > 0) {
        switch (id) {
        case OPT_MODEL: c->model = cli->arg; break;
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_DECODE: c->decode = 1; break;
        case OPT_IDS: c->ids = 1; break;
        case OPT_TRAIN: c->train = 1; break;
        case OPT_ALLOW_SPECIAL: c->allow_special = 1; break;
        case OPT_VOCAB:
            /* The range is checked against the special tokens at training. */
            if (rn_cli_int(cli, LLONG_MIN, LLONG_MAX, &v) < 0)
                return RN_CLI_EXIT;
            c->vocab_size = v;
            break;
        case OPT_THREADS:
            if (rn_cli_int(cli, 1, 256, &v) < 0)
                return RN_CLI_EXIT;
            c->threads = (int)v;
            break;
        case OPT_SPECIAL:
            if (c->nspecial == MAX_SPECIAL)
                return rn_cli_usage(cli, "--special: at most %d tokens", MAX_SPECIAL);
            if (!cli->arg[0] || strlen(cli->arg) > RN_BPE_SPECIAL_MAX)
                return rn_cli_usage(cli, "--special: a token has 1..%d bytes", RN_BPE_SPECIAL_MAX);
            c->special[c->nspecial++] = cli->arg;
            break;
        case OPT_WRAP:
            if (strcmp(cli->arg, "story") == 0) c->wrap = WRAP_STORY;
            else if (strcmp(cli->arg, "eot") == 0) c->wrap = WRAP_EOT;
            else return rn_cli_usage(cli, "--wrap: '%s' is not story or eot", cli->arg);
            break;
        case OPT_SPLIT:
            if (strcmp(cli->arg, "file") == 0) c->split = RN_BPE_SPLIT_FILE;
            else if (strcmp(cli->arg, "blank-line") == 0) c->split = RN_BPE_SPLIT_BLANK_LINE;
            else if (strcmp(cli->arg, "line") == 0) c->split = RN_BPE_SPLIT_LINE;
            else return rn_cli_usage(cli, "--split: '%s' is not file, blank-line or line", cli->arg);
            break;
        }
    }
    if (id == RN_CLI_EXIT)
        return id;
    c->files = cli->argv + cli->optind;
    c->nfiles = cli->argc - cli->optind;
    if (c->train && c->decode)
        return rn_cli_usage(cli, "--train and --decode exclude each other");
    if (c->train && c->model)
        return rn_cli_usage(cli, "--train makes a tokenizer; it takes no -m");
    if (c->train && !c->vocab_size)
        return rn_cli_usage(cli, "--train needs --vocab-size N");
    if (!c->train && c->vocab_size)
        return rn_cli_usage(cli, "--vocab-size only goes with --train");
    if (!c->train && !c->model)
        return rn_cli_usage(cli, "no tokenizer: give -m MODEL (or --train)");
    if (c->decode && (c->wrap || c->split || c->allow_special))
        return rn_cli_usage(cli, "--wrap, --split and --allow-special are for encoding");
    if (c->train && (c->wrap || c->ids || c->allow_special))
        return rn_cli_usage(cli, "--wrap, --ids and --allow-special are for encoding");
    if (!c->train && !c->decode && !c->ids && (!c->output || !strcmp(c->output, "-")) &&
        isatty(1))
        return rn_cli_usage(cli, "token records are binary: redirect stdout, or use -o or --ids");
    return 0;
}

static void add_specials(struct rn_bpe *b, const struct cmdline *c)
{
    struct rn_err e = {0};
    for (int i = 0; i < c->nspecial; i++)
        if (rn_bpe_add_special(b, c->special[i], &e) < 0) {
            rn_err_prefix(&e, "--special %s: ", c->special[i]);
            rn_die(&e);
        }
}

/* ---- encode ---------------------------------------------------------- */

/* An input's bytes: a regular file is mapped (no copy, and the pages are
 * read by the threads that encode them), anything else read whole. */
struct input {
    char *p;
    size_t len;
    int mapped;
};

static int input_open(struct input *in, const char *path, struct rn_err *e)
{
    struct stat st;
    int fd = strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    in->mapped = 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= FILE_MAX) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            in->p = m;
            in->len = (size_t)st.st_size;
            in->mapped = 1;
            return RN_OK;
        }
    }
    if (fd >= 0)
        close(fd);
    return rn_read_file(path, FILE_MAX, &in->p, &in->len, e);
}

static void input_close(struct input *in)
{
    if (in->mapped)
        munmap(in->p, in->len);
    else
        free(in->p);
}

/* Documents encoded together (on all threads); their inputs stay loaded
 * until the batch is written. */
#define BATCH_BYTES ((size_t)64 << 20)
#define BATCH_DOCS 16384

struct encoder {
    const struct cmdline *c;
    struct rn_bpe b;
    char **files;
    struct rn_stream_writer w;  /* records */
    struct rn_outfile out;      /* --ids text */
    struct rn_bpe_bytes text;   /* --ids output buffer */
    int32_t open, close;        /* --wrap ids, or -1 */
    const unsigned char *doc[BATCH_DOCS];
    size_t len[BATCH_DOCS];
    int file[BATCH_DOCS];       /* index into files */
    struct rn_bpe_ids ids[BATCH_DOCS];
    size_t n, bytes;
    struct input *inputs;       /* to release after the batch */
    size_t ninputs;
    uint64_t docs, tokens, in_bytes;
};

/* Report e, drop the half-written output, exit 1. */
static void encode_die(struct encoder *en, const struct rn_err *e)
{
    if (en->c->ids)
        rn_outfile_abort(&en->out);
    else
        rn_stream_writer_abort(&en->w);
    rn_die(e);
}

static void write_ids_line(struct encoder *en, const struct rn_bpe_ids *ids, struct rn_err *e)
{
    char num[16];
    for (size_t k = 0; k < ids->n; k++) {
        int n = snprintf(num, sizeof num, k ? " %" PRId32 : "%" PRId32, ids->v[k]);
        if (rn_bpe_bytes_append(&en->text, num, (size_t)n, e) < 0)
            encode_die(en, e);
    }
    if (rn_bpe_bytes_append(&en->text, "\n", 1, e) < 0)
        encode_die(en, e);
    if (en->text.n >= (1 << 20)) {
        if (rn_outfile_write(&en->out, en->text.v, en->text.n, e) < 0)
            encode_die(en, e);
        en->text.n = 0;
    }
}

static void encode_batch(struct encoder *en)
{
    struct rn_err e = {0};
    int flags = en->c->allow_special ? RN_BPE_ALLOW_SPECIAL : 0;
    for (size_t i = 0; i < en->n; i++)
        if (en->open >= 0 && rn_bpe_ids_push(&en->ids[i], en->open, &e) < 0)
            encode_die(en, &e);
    if (rn_bpe_encode_batch(&en->b, en->n, en->doc, en->len, flags, en->c->threads, en->ids,
                            &e) < 0)
        encode_die(en, &e);
    for (size_t i = 0; i < en->n; i++) {
        struct rn_bpe_ids *ids = &en->ids[i];
        if (en->close >= 0 && rn_bpe_ids_push(ids, en->close, &e) < 0)
            encode_die(en, &e);
        en->tokens += ids->n;
        if (en->c->ids) {
            write_ids_line(en, ids, &e);
        } else {
            char *meta;
            int64_t dims[1] = {(int64_t)ids->n};
            if (rn_bpe_record_meta(&en->b, rn_io_name(en->files[en->file[i]], 0), en->docs, &meta,
                                   &e) < 0)
                encode_die(en, &e);
            int rc = rn_stream_write(&en->w, RN_KIND_TOKENS, RN_DTYPE_I32, 1, dims, meta, ids->v,
                                     ids->n * sizeof(int32_t), &e);
            free(meta);
            if (rc < 0)
                encode_die(en, &e);
        }
        en->docs++;
        rn_bpe_ids_free(ids);
    }
    for (size_t i = 0; i < en->ninputs; i++)
        input_close(&en->inputs[i]);
    en->n = en->bytes = en->ninputs = 0;
}

static int run_encode(const struct cmdline *c)
{
    static struct encoder en;   /* large: keep it off the stack */
    static char *dash[] = {"-"};
    struct rn_err e = {0};
    int nfiles = c->nfiles ? c->nfiles : 1;
    en.c = c;
    en.files = c->nfiles ? c->files : dash;
    if (rn_bpe_load(&en.b, c->model, &e) < 0)
        rn_die(&e);
    add_specials(&en.b, c);
    en.open = c->wrap == WRAP_STORY ? rn_bpe_special_id(&en.b, RN_BPE_STORY, strlen(RN_BPE_STORY)) : -1;
    en.close = c->wrap == WRAP_STORY ? rn_bpe_special_id(&en.b, RN_BPE_STORY_END, strlen(RN_BPE_STORY_END))
             : c->wrap == WRAP_EOT   ? rn_bpe_special_id(&en.b, RN_BPE_EOT, strlen(RN_BPE_EOT))
                                     : -1;
    if (!(en.inputs = calloc((size_t)nfiles, sizeof *en.inputs))) {
        rn_err_set(&e, RN_ENOMEM, NULL, "out of memory");
        rn_die(&e);
    }
    int rc = c->ids ? rn_outfile_open(&en.out, c->output, &e)
                    : rn_stream_writer_open(&en.w, c->output, &e);
    if (rc < 0)
        rn_die(&e);
    double t0 = rn_now();
    for (int i = 0; i < nfiles; i++) {
        struct input *in = &en.inputs[en.ninputs];
        if (input_open(in, en.files[i], &e) < 0)
            encode_die(&en, &e);
        en.ninputs++;
        en.in_bytes += in->len;
        const unsigned char *s = (const unsigned char *)in->p;
        size_t pos = 0;
        do {
            size_t end = rn_bpe_next_doc(s, in->len, pos, (int)c->split);
            if (en.n == BATCH_DOCS) {
                /* the current input stays loaded: only earlier ones go */
                struct input keep = *in;
                en.ninputs--;
                encode_batch(&en);
                en.inputs[en.ninputs++] = keep;
                in = &en.inputs[0];
            }
            en.doc[en.n] = s + pos;
            en.len[en.n] = end - pos;
            en.file[en.n++] = i;
            en.bytes += end - pos;
            pos = end;
        } while (pos < in->len);
        if (en.bytes >= BATCH_BYTES)
            encode_batch(&en);
    }
    encode_batch(&en);
    if (c->ids) {
        if ((en.text.n && rn_outfile_write(&en.out, en.text.v, en.text.n, &e) < 0) ||
            rn_outfile_commit(&en.out, &e) < 0)
            rn_die(&e);
    } else if (rn_stream_writer_close(&en.w, &e) < 0) {
        rn_die(&e);
    }
    rn_log(RN_LOG_DEBUG, "encoded %" PRIu64 " documents, %" PRIu64 " bytes, %" PRIu64
           " tokens (%.2f bytes/token) in %.2fs", en.docs, en.in_bytes, en.tokens,
           en.tokens ? (double)en.in_bytes / (double)en.tokens : 0.0, rn_now() - t0);
    free(en.inputs);
    rn_bpe_bytes_free(&en.text);
    rn_bpe_free(&en.b);
    return RN_EXIT_OK;
}

/* ---- decode ---------------------------------------------------------- */

struct decoder {
    struct rn_bpe b;
    struct rn_outfile out;
    struct rn_bpe_bytes text;
    struct rn_bpe_ids ids;
};

/* Decode dec->ids onto the output, flushed every megabyte. */
static int decode_ids(struct decoder *d, struct rn_err *e)
{
    int rc = rn_bpe_decode(&d->b, d->ids.v, d->ids.n, &d->text, e);
    d->ids.n = 0;
    if (rc == RN_OK && d->text.n >= (1 << 20)) {
        rc = rn_outfile_write(&d->out, d->text.v, d->text.n, e);
        d->text.n = 0;
    }
    return rc;
}

static int decode_ids_text(struct decoder *d, const char *path, struct rn_err *e)
{
    struct input in;
    int rc = input_open(&in, path, e);
    if (rc < 0)
        return rc;
    size_t line = 1;
    for (size_t pos = 0; pos < in.len && rc == RN_OK; line++) {
        const char *s = in.p + pos, *nl = memchr(s, '\n', in.len - pos);
        size_t n = nl ? (size_t)(nl - s) : in.len - pos;
        pos += n + 1;
        if ((rc = rn_bpe_parse_ids(s, n, &d->ids, e)) == RN_OK)
            rc = decode_ids(d, e);
    }
    if (rc < 0) {
        rn_err_prefix(e, "line %zu: ", line - 1);
        snprintf(e->where, sizeof e->where, "%.200s", rn_io_name(path, 0));
    }
    input_close(&in);
    return rc;
}

static int decode_records(struct decoder *d, const char *path, struct rn_err *e)
{
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open(&r, path, 0, e);
    if (rc < 0)
        return rc;
    while ((rc = rn_stream_read(&r, &rec, 0, e)) == RN_OK) {
        if (rec.kind == RN_KIND_END)
            continue;
        if ((rc = rn_bpe_record_ids(&d->b, &rec, &d->ids, e)) < 0) {
            snprintf(e->where, sizeof e->where, "%.200s", r.name);
            break;
        }
        if ((rc = decode_ids(d, e)) < 0)
            break;
    }
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    return rc == RN_EOF ? RN_OK : rc;
}

static int run_decode(const struct cmdline *c)
{
    struct decoder d = {0};
    struct rn_err e = {0};
    static char *dash[] = {"-"};
    char **files = c->nfiles ? c->files : dash;
    int nfiles = c->nfiles ? c->nfiles : 1;

    if (rn_bpe_load(&d.b, c->model, &e) < 0)
        rn_die(&e);
    add_specials(&d.b, c);
    if (rn_outfile_open(&d.out, c->output, &e) < 0)
        rn_die(&e);
    for (int i = 0; i < nfiles; i++) {
        int rc = c->ids ? decode_ids_text(&d, files[i], &e) : decode_records(&d, files[i], &e);
        if (rc < 0) {
            rn_outfile_abort(&d.out);
            rn_die(&e);
        }
    }
    if ((d.text.n && rn_outfile_write(&d.out, d.text.v, d.text.n, &e) < 0) ||
        rn_outfile_commit(&d.out, &e) < 0)
        rn_die(&e);
    rn_bpe_bytes_free(&d.text);
    rn_bpe_ids_free(&d.ids);
    rn_bpe_free(&d.b);
    return RN_EXIT_OK;
}

/* ---- train ----------------------------------------------------------- */

static void train_progress(void *ud, int32_t done, int32_t total, int64_t count)
{
    static int32_t logged = -1;
    char extra[64];
    snprintf(extra, sizeof extra, "last pair count %lld", (long long)count);
    rn_progress_update(ud, (uint64_t)done, extra);
    /* Cron jobs and Makefiles get a JSON line per tenth instead. */
    int32_t tenth = total > 0 ? (int32_t)((int64_t)done * 10 / total) : 10;
    if (rn_log_is_json() && tenth != logged) {
        logged = tenth;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "merges", done);
        cJSON_AddNumberToObject(f, "of", total);
        cJSON_AddNumberToObject(f, "pair_count", (double)count);
        rn_log_json(RN_LOG_INFO, "training", f);
    }
}

static int run_train(const struct cmdline *c)
{
    struct rn_err e = {0};
    static char *dash[] = {"-"};
    char **files = c->nfiles ? c->files : dash;
    int nfiles = c->nfiles ? c->nfiles : 1;

    /* Specials are counted in the size, so the model's embedding table
     * can be exactly --vocab-size rows. */
    int nspecial = 3;
    for (int i = 0; i < c->nspecial; i++) {
        int dup = !strcmp(c->special[i], RN_BPE_EOT) || !strcmp(c->special[i], RN_BPE_STORY) ||
                  !strcmp(c->special[i], RN_BPE_STORY_END);
        for (int k = 0; k < i; k++)
            dup |= !strcmp(c->special[i], c->special[k]);
        nspecial += !dup;
    }
    long long min = 256 + nspecial;
    if (c->vocab_size < min || c->vocab_size > RN_BPE_VOCAB_MAX) {
        rn_err_set(&e, RN_ELIMIT, "--vocab-size",
                   "%lld is out of range: %lld (256 bytes + %d special tokens) to %d",
                   c->vocab_size, min, nspecial, RN_BPE_VOCAB_MAX);
        rn_die(&e);
    }
    double t0 = rn_now();
    struct rn_bpe_trainer *tr = rn_bpe_trainer_new(c->threads, &e);
    if (!tr)
        rn_die(&e);
    for (int i = 0; i < nfiles; i++) {
        struct input in;
        if (input_open(&in, files[i], &e) < 0 || rn_bpe_trainer_feed(tr, in.p, in.len, &e) < 0)
            rn_die(&e);
        input_close(&in);
    }
    struct rn_bpe_train_stats st;
    rn_bpe_trainer_stats(tr, &st);
    if (st.bytes == 0) {
        rn_err_set(&e, RN_EFORMAT, nfiles == 1 ? rn_io_name(files[0], 0) : NULL,
                   "empty corpus: nothing to learn from");
        rn_die(&e);
    }
    double t1 = rn_now();
    struct rn_progress pr;
    int32_t merges = (int32_t)(c->vocab_size - min);
    rn_progress_start(&pr, "training", (uint64_t)merges);
    struct rn_bpe b;
    if (rn_bpe_trainer_run(tr, merges, train_progress, &pr, &b, &e) < 0)
        rn_die(&e);
    rn_progress_end(&pr);
    rn_bpe_trainer_stats(tr, &st);
    rn_bpe_trainer_free(tr);
    if (rn_bpe_add_builtin_specials(&b, &e) < 0)
        rn_die(&e);
    add_specials(&b, c);

    char extra[512], *json;
    size_t len;
    snprintf(extra, sizeof extra,
             "{\"corpus_bytes\": %" PRIu64 ", \"pieces\": %" PRIu64 ", \"distinct_pieces\": %" PRIu64
             ", \"merges\": %d, \"min_pair_count\": 2}",
             st.bytes, st.pieces, st.words, (int)st.merges);
    struct rn_outfile o;
    if (rn_bpe_to_json(&b, extra, &json, &len, &e) < 0 || rn_outfile_open(&o, c->output, &e) < 0)
        rn_die(&e);
    if (rn_outfile_write(&o, json, len, &e) < 0) {
        rn_outfile_abort(&o);
        rn_die(&e);
    }
    if (rn_outfile_commit(&o, &e) < 0)
        rn_die(&e);
    free(json);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double t2 = rn_now();
    if (st.merges < merges)
        rn_log(RN_LOG_WARN, "only %d merges: no other pair occurs twice; vocabulary size %d",
               (int)st.merges, (int)b.n_vocab);
    rn_log(RN_LOG_INFO, "trained %d tokens from %" PRIu64 " bytes (%" PRIu64 " distinct pieces):"
           " counting %.2fs, merging %.2fs, max RSS %ld MiB", (int)b.n_vocab, st.bytes, st.words,
           t1 - t0, t2 - t1, ru.ru_maxrss / 1024);
    rn_bpe_free(&b);
    return RN_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c = {0};
    rn_cli_init(&cli, &program, argc, argv);
    if (parse_args(&c, &cli) == RN_CLI_EXIT)
        return cli.status;
    if (c.train)
        return run_train(&c);
    if (c.decode)
        return run_decode(&c);
    return run_encode(&c);
}
