/* inspect — look inside runnel streams.
 *
 * Reads: one or more streams (files or stdin), each a whole stream; record
 * numbers run on across files as they would through `cat a b | inspect`.
 * Writes: a listing (text or JSON lines) on stdout; or, with a selection
 * (-r, -k), the selected records as a new stream; or a .npy file
 * (--to-npy); or, with --from-npy, a one-record stream made from a .npy.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runnel.h"
#include "select.h"

enum { OPT_RECORDS = 'r', OPT_KIND = 'k', OPT_OUTPUT = 'o', OPT_JSON = 'j', OPT_LIST = 'l',
       OPT_CHECK = 'c', OPT_TO_NPY = 256, OPT_FROM_NPY, OPT_META, OPT_NO_VERIFY, OPT_FULL };

static const struct rn_option options[] = {
    {"records", 'r', "LIST", "select records by index: N, A-B, A-, -B, comma-separated",
     RN_COMP_NONE, NULL, OPT_RECORDS},
    {"kind", 'k', "KIND", "select records of KIND (comma-separated)", RN_COMP_WORDS,
     "tensor tokens frame masks text", OPT_KIND},
    {"output", 'o', "FILE", "write the selected stream or the .npy stream to FILE", RN_COMP_FILE,
     NULL, OPT_OUTPUT},
    {"list", 'l', NULL, "list the selected records instead of writing them", RN_COMP_NONE, NULL,
     OPT_LIST},
    {"json", 'j', NULL, "list records as JSON lines", RN_COMP_NONE, NULL, OPT_JSON},
    {"full", 0, NULL, "print metadata in full in text listings", RN_COMP_NONE, NULL, OPT_FULL},
    {"check", 'c', NULL, "verify the streams and print nothing; the exit status tells",
     RN_COMP_NONE, NULL, OPT_CHECK},
    {"no-verify", 0, NULL, "skip payload checksums (headers are still checked)", RN_COMP_NONE,
     NULL, OPT_NO_VERIFY},
    {"to-npy", 0, "FILE", "write the first selected record as a NumPy .npy file", RN_COMP_FILE,
     NULL, OPT_TO_NPY},
    {"from-npy", 0, "FILE", "write a NumPy .npy file as a tensor record stream", RN_COMP_FILE,
     NULL, OPT_FROM_NPY},
    {"meta", 0, "JSON", "metadata object for --from-npy", RN_COMP_NONE, NULL, OPT_META},
    {0},
};

static const struct rn_program program = {
    "inspect", "[OPTIONS] [FILE...]",
    "List, select and convert runnel streams (stdin when no FILE is given).",
    "Without a selection, lists every record: index, kind, dtype, shape, payload bytes,\n"
    "checksum status and metadata. With -r or -k, writes the selected records as a new\n"
    "stream (with its own END record). Record numbers run on across FILEs.\n\n"
    "Examples:\n"
    "  inspect data.rnl                      list the records\n"
    "  inspect -r 2-5 data.rnl > part.rnl    keep records 2 to 5\n"
    "  inspect -k masks -l --json data.rnl   list the masks records as JSON\n"
    "  inspect -r 3 --to-npy x.npy data.rnl  record 3 as a NumPy file\n"
    "  inspect --from-npy x.npy > x.rnl      a NumPy file as a stream",
    options, RN_COMP_FILE};

struct cmdline {
    struct rn_select sel;
    const char *output;       /* -o: NULL is stdout */
    const char *to_npy;
    const char *from_npy;
    const char *meta;         /* --meta for --from-npy; NULL: none */
    int list, json, full, check, no_verify;
};

static int parse_args(struct cmdline *c, struct rn_cli *cli)
{
    int id;
    struct rn_err e = {0};
    while ((id = rn_cli_next(cli)) > 0) {
        switch (id) {
        case OPT_RECORDS:
            if (rn_select_add_ranges(&c->sel, cli->arg, &e) < 0)
                return rn_cli_usage(cli, "-r: %s", e.msg);
            break;
        case OPT_KIND:
            if (rn_select_add_kinds(&c->sel, cli->arg, &e) < 0)
                return rn_cli_usage(cli, "--kind: %s", e.msg);
            break;
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_LIST: c->list = 1; break;
        case OPT_JSON: c->json = 1; break;
        case OPT_FULL: c->full = 1; break;
        case OPT_CHECK: c->check = 1; break;
        case OPT_NO_VERIFY: c->no_verify = 1; break;
        case OPT_TO_NPY: c->to_npy = cli->arg; break;
        case OPT_FROM_NPY: c->from_npy = cli->arg; break;
        case OPT_META: c->meta = cli->arg; break;
        }
    }
    if (id == RN_CLI_EXIT)
        return id;
    int nfiles = cli->argc - cli->optind;
    if (c->from_npy && (nfiles || rn_select_active(&c->sel) || c->to_npy || c->check))
        return rn_cli_usage(cli, "--from-npy takes no FILE, selection, --to-npy or --check");
    if (c->meta && !c->from_npy)
        return rn_cli_usage(cli, "--meta only goes with --from-npy");
    if (c->to_npy && (c->list || c->json || c->check))
        return rn_cli_usage(cli, "--to-npy cannot be combined with --list, --json or --check");
    if ((c->json || c->full) && !c->list && rn_select_active(&c->sel))
        c->list = 1; /* --json with a selection can only mean a listing */
    if (c->check && (c->list || c->json))
        return rn_cli_usage(cli, "--check prints nothing; drop --list/--json");
    if (c->meta) {
        struct rn_err me = {0};
        if (rn_meta_validate(c->meta, strlen(c->meta), &me) < 0)
            return rn_cli_usage(cli, "--meta: %s", me.msg);
    }
    return 0;
}

/* ---- listing ------------------------------------------------------------ */

static void print_text(const struct rn_record *rec, int full)
{
    char shape[200];
    rn_shape_format(rec->rank, rec->dims, shape, sizeof shape);
    const char *dt = rec->kind == RN_KIND_END ? "-" : rn_dtype_name(rec->dtype);
    const char *crc = rec->crc_ok ? "ok" : "skip";
    if (!full && strlen(rec->meta) > 120)
        printf("%6" PRIu64 "  %-6s  %-4s  %-18s %12" PRIu64 "  %-4s  %.117s...\n", rec->index,
               rn_kind_name(rec->kind), dt, shape, rec->payload_len, crc, rec->meta);
    else
        printf("%6" PRIu64 "  %-6s  %-4s  %-18s %12" PRIu64 "  %-4s  %s\n", rec->index,
               rn_kind_name(rec->kind), dt, shape, rec->payload_len, crc, rec->meta);
}

static void print_json(const struct rn_record *rec, const char *file)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "index", (double)rec->index);
    cJSON_AddNumberToObject(o, "offset", (double)rec->offset);
    cJSON_AddStringToObject(o, "kind", rn_kind_name(rec->kind));
    if (rec->kind == RN_KIND_END)
        cJSON_AddNullToObject(o, "dtype");
    else
        cJSON_AddStringToObject(o, "dtype", rn_dtype_name(rec->dtype));
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int i = 0; i < rec->rank; i++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)rec->dims[i]));
    cJSON_AddNumberToObject(o, "bytes", (double)rec->payload_len);
    cJSON_AddStringToObject(o, "crc", rec->crc_ok ? "ok" : "skipped");
    cJSON *meta = cJSON_Parse(rec->meta);
    cJSON_AddItemToObject(o, "meta", meta ? meta : cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(o);
}

/* ---- the main loop ------------------------------------------------------ */

enum mode { MODE_LIST, MODE_CHECK, MODE_SELECT, MODE_TO_NPY };

struct run {
    const struct cmdline *c;
    enum mode mode;
    struct rn_stream_writer w;
    uint64_t next_index;      /* record numbers continue across files */
    int done;                 /* --to-npy wrote its record, or selection is past its end */
    int status;
};

static int to_npy(struct run *run, const struct rn_record *rec, struct rn_err *e)
{
    struct rn_tensor t;
    int rc = rn_record_tensor(rec, &t, e);
    if (rc == RN_OK)
        rc = rn_npy_write(run->c->to_npy, &t, e);
    if (rc < 0)
        rn_err_prefix(e, "record %" PRIu64 ": ", rec->index);
    return rc;
}

static int handle(struct run *run, struct rn_record *rec, const char *file, struct rn_err *e)
{
    const struct cmdline *c = run->c;
    int selected = !rn_select_active(&c->sel) || rn_select_match(&c->sel, rec->index, rec->kind);
    switch (run->mode) {
    case MODE_CHECK:
        return RN_OK;
    case MODE_LIST:
        if (!selected)
            return RN_OK;
        if (c->json)
            print_json(rec, file);
        else
            print_text(rec, c->full);
        return RN_OK;
    case MODE_SELECT:
        return selected ? rn_stream_write_record(&run->w, rec, e) : RN_OK;
    case MODE_TO_NPY:
        if (!selected || rec->kind == RN_KIND_END)
            return RN_OK;
        run->done = 1;
        return to_npy(run, rec, e);
    }
    return RN_OK;
}

static void inspect_file(struct run *run, const char *path)
{
    const struct cmdline *c = run->c;
    struct rn_err e = {0};
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    const char *name = rn_io_name(path, 0);
    if (rn_stream_reader_open(&r, path, 0, &e) < 0) {
        run->status = rn_report(&e);
        return;
    }
    r.index = run->next_index;
    int flags = (run->mode == MODE_LIST || run->mode == MODE_CHECK) ? RN_READ_SKIP_PAYLOAD : 0;
    if (c->no_verify)
        flags |= RN_READ_NO_VERIFY;
    uint64_t last = rn_select_last(&c->sel);
    int rc;
    while ((rc = rn_stream_read(&r, &rec, flags, &e)) == RN_OK) {
        if (handle(run, &rec, name, &e) < 0) {
            rc = -1;
            break;
        }
        /* Like head(1): once past the last wanted index, stop reading. */
        if (run->done || (run->mode != MODE_CHECK && rec.index >= last)) {
            run->done = 1;
            break;
        }
    }
    if (rc < 0) {
        fflush(stdout);
        run->status = rn_report(&e);
    }
    rn_log(RN_LOG_DEBUG, "%s: %" PRIu64 " records, %" PRIu64 " bytes", name,
           r.index - run->next_index, r.offset);
    run->next_index = r.index;
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
}

static int from_npy(const struct cmdline *c)
{
    struct rn_err e = {0};
    struct rn_tensor t = {0};
    struct rn_stream_writer w;
    if (rn_npy_read(c->from_npy, &t, &e) < 0)
        return rn_report(&e);
    int rc = rn_stream_writer_open(&w, c->output, &e);
    if (rc == RN_OK) {
        rc = rn_stream_write(&w, RN_KIND_TENSOR, t.dtype, t.rank, t.dims, c->meta, t.data,
                             t.nbytes, &e);
        if (rc == RN_OK)
            rc = rn_stream_writer_close(&w, &e);
        else
            rn_stream_writer_abort(&w);
    }
    rn_tensor_free(&t);
    return rc < 0 ? rn_report(&e) : RN_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c = {0};
    rn_select_init(&c.sel);
    rn_cli_init(&cli, &program, argc, argv);
    if (parse_args(&c, &cli) == RN_CLI_EXIT) {
        rn_select_free(&c.sel);
        return cli.status;
    }
    int status;
    int writes_stream = c.from_npy || (rn_select_active(&c.sel) && !c.list && !c.to_npy && !c.check);
    if (writes_stream && !c.output && isatty(1)) {
        rn_select_free(&c.sel);
        return rn_cli_usage(&cli, "refusing to write a binary stream to a terminal "
                                  "(use -o FILE or a pipe)") == RN_CLI_EXIT ? cli.status : 2;
    }
    if (c.from_npy) {
        status = from_npy(&c);
        rn_select_free(&c.sel);
        return status ? status : rn_close_stdout();
    }

    struct run run = {.c = &c, .mode = MODE_LIST};
    if (c.check)
        run.mode = MODE_CHECK;
    else if (c.to_npy)
        run.mode = MODE_TO_NPY;
    else if (writes_stream)
        run.mode = MODE_SELECT;
    struct rn_err e = {0};
    if (run.mode == MODE_SELECT && rn_stream_writer_open(&run.w, c.output, &e) < 0) {
        rn_select_free(&c.sel);
        return rn_report(&e);
    }

    int nfiles = argc - cli.optind;
    for (int i = 0; i == 0 || i < nfiles; i++) {
        const char *path = nfiles ? argv[cli.optind + i] : "-";
        /* A listing goes on past a bad file, like cat(1); an output stream
         * or a conversion stops at the first problem. */
        if (run.done || (run.status && run.mode != MODE_LIST && run.mode != MODE_CHECK))
            break;
        if (run.mode == MODE_LIST && !c.json && nfiles > 1)
            printf("%s==> %s <==\n", i ? "\n" : "", rn_io_name(path, 0));
        inspect_file(&run, path);
    }

    if (run.mode == MODE_SELECT) {
        /* A failed input must not leave a complete-looking stream behind. */
        if (run.status != RN_EXIT_OK)
            rn_stream_writer_abort(&run.w);
        else if (rn_stream_writer_close(&run.w, &e) < 0)
            run.status = rn_report(&e);
    }
    if (run.mode == MODE_TO_NPY && !run.done && run.status == RN_EXIT_OK) {
        rn_err_set(&e, RN_EFORMAT, "", "no record selected for --to-npy");
        run.status = rn_report(&e);
    }
    rn_select_free(&c.sel);
    status = rn_close_stdout();
    return run.status ? run.status : status;
}
