/* inspect — look inside runnel streams.
 *
 * Reads: one or more streams (files or stdin), each a whole stream; record
 * numbers run on across files as they would through `cat a b | inspect`.
 * Writes: a listing (text or JSON lines) on stdout; or, with a selection
 * (-r, -k), the selected records as a new stream; or a .npy file
 * (--to-npy) or a PNG of a frame or masks record (--to-png); or, with
 * --from-npy or --from-png, a one-record stream made from a .npy or an image.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"
#include "runnel.h"
#include "select.h"
#include "vismeta.h"

enum { OPT_RECORDS = 'r', OPT_KIND = 'k', OPT_OUTPUT = 'o', OPT_JSON = 'j', OPT_LIST = 'l',
       OPT_CHECK = 'c', OPT_TO_NPY = 256, OPT_FROM_NPY, OPT_META, OPT_NO_VERIFY, OPT_FULL,
       OPT_TO_PNG, OPT_FROM_PNG };

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
    {"to-png", 0, "FILE", "write the first selected frame or masks record as a PNG image",
     RN_COMP_FILE, NULL, OPT_TO_PNG},
    {"from-png", 0, "FILE", "write an image as a frame record stream (a masks record when "
     "--meta lists instances)", RN_COMP_FILE, NULL, OPT_FROM_PNG},
    {"meta", 0, "JSON", "metadata object for --from-npy or --from-png", RN_COMP_NONE, NULL,
     OPT_META},
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
    "  inspect --from-npy x.npy > x.rnl      a NumPy file as a stream\n"
    "  inspect -k frame --to-png f.png v.rnl the first frame as a PNG",
    options, RN_COMP_FILE};

struct cmdline {
    struct rn_select sel;
    const char *output;       /* -o: NULL is stdout */
    const char *to_npy;
    const char *from_npy;
    const char *to_png, *from_png;
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
        case OPT_TO_PNG: c->to_png = cli->arg; break;
        case OPT_FROM_PNG: c->from_png = cli->arg; break;
        }
    }
    if (id == RN_CLI_EXIT)
        return id;
    int nfiles = cli->argc - cli->optind;
    const char *from = c->from_npy ? "--from-npy" : "--from-png";
    const char *to = c->to_npy ? "--to-npy" : "--to-png";
    if (c->from_npy && c->from_png)
        return rn_cli_usage(cli, "--from-npy and --from-png do not go together");
    if (c->to_npy && c->to_png)
        return rn_cli_usage(cli, "--to-npy and --to-png do not go together");
    if ((c->from_npy || c->from_png) &&
        (nfiles || rn_select_active(&c->sel) || c->to_npy || c->to_png || c->check))
        return rn_cli_usage(cli, "%s takes no FILE, selection, --to-npy, --to-png or --check",
                            from);
    if (c->meta && !c->from_npy && !c->from_png)
        return rn_cli_usage(cli, "--meta only goes with --from-npy or --from-png");
    if ((c->to_npy || c->to_png) && (c->list || c->json || c->check))
        return rn_cli_usage(cli, "%s cannot be combined with --list, --json or --check", to);
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

enum mode { MODE_LIST, MODE_CHECK, MODE_SELECT, MODE_TO_NPY, MODE_TO_PNG };

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

/* A frame record is an image as it stands; a masks record's N x H x W
 * payload is a gray image of its N masks stacked top to bottom. */
static int to_png(struct run *run, const struct rn_record *rec, struct rn_err *e)
{
    struct rn_image im;
    int rc = RN_OK;
    if (rec->kind == RN_KIND_FRAME)
        rn_image_view(&im, (int)rec->dims[1], (int)rec->dims[0], (int)rec->dims[2], rec->payload);
    else if (rec->kind == RN_KIND_MASKS)
        rn_image_view(&im, (int)rec->dims[2], (int)(rec->dims[0] * rec->dims[1]), 1,
                      rec->payload);
    else
        rc = rn_err_set(e, RN_EFORMAT, run->c->to_png, "a %s record has no PNG form "
                        "(frame and masks records have)", rn_kind_name(rec->kind));
    if (rc == RN_OK)
        rc = rn_image_write(run->c->to_png, &im, RN_IMAGE_PNG, 0, e);
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
    case MODE_TO_PNG:
        if (!selected || rec->kind == RN_KIND_END)
            return RN_OK;
        run->done = 1;
        return run->mode == MODE_TO_NPY ? to_npy(run, rec, e) : to_png(run, rec, e);
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

static int write_one(const struct cmdline *c, int kind, const struct rn_tensor *t,
                     const char *meta, struct rn_err *e)
{
    struct rn_stream_writer w;
    int rc = rn_stream_writer_open(&w, c->output, e);
    if (rc == RN_OK) {
        rc = rn_stream_write(&w, kind, t->dtype, t->rank, t->dims, meta, t->data, t->nbytes, e);
        if (rc == RN_OK)
            rc = rn_stream_writer_close(&w, e);
        else
            rn_stream_writer_abort(&w);
    }
    return rc;
}

static int from_npy(const struct cmdline *c)
{
    struct rn_err e = {0};
    struct rn_tensor t = {0};
    if (rn_npy_read(c->from_npy, &t, &e) < 0)
        return rn_report(&e);
    int rc = write_one(c, RN_KIND_TENSOR, &t, c->meta, &e);
    rn_tensor_free(&t);
    return rc < 0 ? rn_report(&e) : RN_EXIT_OK;
}

/* The inverse of --to-png: --meta listing instances means the (gray)
 * image holds that many masks stacked top to bottom. */
static int from_png(const struct cmdline *c)
{
    struct rn_err e = {0};
    struct rn_image im;
    struct rn_tensor t = {0};
    if (rn_image_read(c->from_png, &im, &e) < 0)
        return rn_report(&e);
    cJSON *m = c->meta ? cJSON_Parse(c->meta) : NULL;
    int masks = cJSON_GetObjectItemCaseSensitive(m, "instances") != NULL;
    cJSON_Delete(m);
    struct rn_instance *inst = NULL;
    int64_t frame, n = 1;
    int ni = 0, rc = RN_OK;
    char *meta = NULL;
    if (masks && (rc = rn_masks_meta_parse(c->meta, &frame, &inst, &ni, -1, &e)) == RN_OK) {
        n = ni;
        if (im.c != 1 || n < 1 || im.h % n)
            rc = rn_err_set(&e, RN_EFORMAT, c->from_png, "a masks image must be gray and hold "
                            "the %d listed masks stacked (height %d)", ni, im.h);
    } else if (!masks && !c->meta) {
        struct rn_frame_info fi = {.t = -1};
        snprintf(fi.source, sizeof fi.source, "%s", c->from_png);
        meta = rn_frame_meta_format(&fi);
    }
    int64_t dims[3] = {im.h, im.w, im.c};
    if (masks)
        dims[0] = n, dims[1] = im.h / n, dims[2] = im.w;
    if (rc == RN_OK && (rc = rn_tensor_view(&t, RN_DTYPE_U8, 3, dims, im.data, &e)) == RN_OK)
        rc = write_one(c, masks ? RN_KIND_MASKS : RN_KIND_FRAME, &t, meta ? meta : c->meta, &e);
    free(inst);
    free(meta);
    rn_image_free(&im);
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
    int writes_stream = c.from_npy || c.from_png ||
                        (rn_select_active(&c.sel) && !c.list && !c.to_npy && !c.to_png && !c.check);
    if (writes_stream && rn_cli_refuse_tty(&cli, c.output) == RN_CLI_EXIT) {
        rn_select_free(&c.sel);
        return cli.status;
    }
    if (c.from_npy || c.from_png) {
        status = c.from_npy ? from_npy(&c) : from_png(&c);
        rn_select_free(&c.sel);
        return status ? status : rn_close_stdout();
    }

    struct run run = {.c = &c, .mode = MODE_LIST};
    if (c.check)
        run.mode = MODE_CHECK;
    else if (c.to_npy)
        run.mode = MODE_TO_NPY;
    else if (c.to_png)
        run.mode = MODE_TO_PNG;
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
    if ((run.mode == MODE_TO_NPY || run.mode == MODE_TO_PNG) && !run.done &&
        run.status == RN_EXIT_OK) {
        rn_err_set(&e, RN_EFORMAT, "", "no record selected for %s",
                   run.mode == MODE_TO_NPY ? "--to-npy" : "--to-png");
        run.status = rn_report(&e);
    }
    rn_select_free(&c.sel);
    status = rn_close_stdout();
    return run.status ? run.status : status;
}
