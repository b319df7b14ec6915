/* segment — promptable segmentation of images and frames (GrabCut-style
 * colour models and graph cuts; no neural weights).
 *
 * Reads: a stream of records on stdin (frame records are segmented, every
 * other record is passed through in order), or image FILEs (PNG, JPEG,
 * PNM), each turned into a frame record; a FILE that is a runnel stream
 * is read like stdin. One frame is held at a time.
 * Writes: the stream with a masks record (N x H x W u8, one plane per
 * instance; metadata: frame, and per instance id, score, box, label) right
 * after each frame record; or, with -o, mask images and no stream.
 * Prompts: --box/--point on the command line (the same for every frame),
 * --prompts FILE (JSON lines, one per frame), or, with --refine, the masks
 * records that follow frames in the input.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "img.h"
#include "runnel.h"
#include "seg.h"
#include "seg_prompt.h"
#include "vismeta.h"

enum { OPT_BOX = 'b', OPT_POINT = 'p', OPT_OUTPUT = 'o', OPT_ITERS = 'n', OPT_PROMPTS = 256,
       OPT_REFINE, OPT_COMPONENTS, OPT_GAMMA, OPT_WORK, OPT_NO_BAND, OPT_RADIUS, OPT_SEED,
       OPT_THREADS };

static const struct rn_option options[] = {
    {"box", 'b', "X1,Y1,X2,Y2", "segment the object in this box (pixels, X2/Y2 exclusive); "
     "each --box is one instance", RN_COMP_NONE, NULL, OPT_BOX},
    {"point", 'p', "X,Y[,L]", "a click: L=1 object (default), L=0 background; joins the "
     "latest --box's instance", RN_COMP_NONE, NULL, OPT_POINT},
    {"prompts", 0, "FILE", "JSON lines of prompts, one line per image or frame", RN_COMP_FILE,
     NULL, OPT_PROMPTS},
    {"refine", 0, NULL, "start from the masks records that follow frames in the input "
     "(and consume them)", RN_COMP_NONE, NULL, OPT_REFINE},
    {"output", 'o', "FILE", "write the mask as an image instead of a stream (%d: frame "
     "number)", RN_COMP_FILE, NULL, OPT_OUTPUT},
    {"iterations", 'n', "N", "GrabCut rounds of colour models and cut (1..100, default 5)",
     RN_COMP_NONE, NULL, OPT_ITERS},
    {"components", 0, "K", "Gaussians per colour model (1..8, default 5)", RN_COMP_NONE, NULL,
     OPT_COMPONENTS},
    {"gamma", 0, "G", "smoothness weight (0..1e6, default 50)", RN_COMP_NONE, NULL, OPT_GAMMA},
    {"work-pixels", 0, "N", "most pixels of the coarse level (256.., default 65536)",
     RN_COMP_NONE, NULL, OPT_WORK},
    {"no-band", 0, NULL, "skip the full-resolution refinement of the boundary",
     RN_COMP_NONE, NULL, OPT_NO_BAND},
    {"radius", 0, "R", "radius of a click in pixels (0..10000, default 4)", RN_COMP_NONE,
     NULL, OPT_RADIUS},
    {"seed", 0, "N", "seed of the colour models' k-means++ (default 1)", RN_COMP_NONE, NULL,
     OPT_SEED},
    {"threads", 'j', "N", "threads (default: OMP_NUM_THREADS or all cores)", RN_COMP_NONE,
     NULL, OPT_THREADS},
    {0},
};

static const struct rn_program program = {
    "segment", "[OPTIONS] [FILE...]",
    "Segment objects in images or frame records from a box or clicks (stdin when no FILE).",
    "Writes the input stream with a masks record after each frame record, or with -o a\n"
    "mask image (255 object, 0 background). Each --box starts an instance; each --point\n"
    "joins the latest --box (points before any box make one box-less instance).\n\n"
    "Examples:\n"
    "  segment --box 40,30,200,180 photo.jpg > masks.rnl\n"
    "  segment -b 40,30,200,180 -p 120,100 -p 60,170,0 -o mask.png photo.jpg\n"
    "  frames photos/*.jpg | segment --prompts boxes.jsonl | inspect -k masks",
    options, RN_COMP_FILE};

struct cmdline {
    struct rn_seg_prompts prompts;   /* --box / --point, for every frame */
    const char *prompts_file;        /* --prompts: NULL if none */
    const char *output;              /* -o: mask image path (maybe with %d) */
    int output_numbered;             /* output holds a %d */
    int refine;
    struct rn_seg_params par;
};

static int parse_args(struct cmdline *c, struct rn_cli *cli)
{
    int id, rc = 0;
    long long v;
    double d;
    struct rn_err e = {0};
    while (rc == 0 && (id = rn_cli_next(cli)) > 0) {
        switch (id) {
        case OPT_BOX:
            if (rn_seg_prompts_add_box(&c->prompts, cli->arg, &e) < 0)
                return rn_cli_usage(cli, "--box: %s", e.msg);
            break;
        case OPT_POINT:
            if (rn_seg_prompts_add_point(&c->prompts, cli->arg, &e) < 0)
                return rn_cli_usage(cli, "--point: %s", e.msg);
            break;
        case OPT_PROMPTS: c->prompts_file = cli->arg; break;
        case OPT_REFINE: c->refine = 1; break;
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_ITERS:
            if ((rc = rn_cli_int(cli, 1, 100, &v)) == 0)
                c->par.iters = (int)v;
            break;
        case OPT_COMPONENTS:
            if ((rc = rn_cli_int(cli, 1, 8, &v)) == 0)
                c->par.components = (int)v;
            break;
        case OPT_GAMMA:
            if ((rc = rn_cli_double(cli, 0, 1e6, &d)) == 0)
                c->par.gamma = d;
            break;
        case OPT_WORK:
            if ((rc = rn_cli_int(cli, 256, (long long)RN_IMAGE_MAX_PIXELS, &v)) == 0)
                c->par.work_pixels = v;
            break;
        case OPT_NO_BAND: c->par.refine = 0; break;
        case OPT_RADIUS:
            if ((rc = rn_cli_double(cli, 0, 10000, &d)) == 0)
                c->par.radius = d;
            break;
        case OPT_SEED:
            if ((rc = rn_cli_int(cli, 0, INT64_MAX, &v)) == 0)
                c->par.seed = (uint64_t)v;
            break;
        case OPT_THREADS:
            if ((rc = rn_cli_int(cli, 1, 1024, &v)) == 0)
                rn_blas_set_threads((int)v);
            break;
        }
    }
    if (rc == RN_CLI_EXIT || id == RN_CLI_EXIT)
        return RN_CLI_EXIT;
    if (c->prompts_file && c->prompts.n)
        return rn_cli_usage(cli, "--prompts replaces --box and --point; give one or the other");
    if (c->refine && c->prompts_file)
        return rn_cli_usage(cli, "--refine takes its prompts from the input's masks records, "
                                 "not --prompts");
    if (c->refine) {
        for (int i = 0; i < c->prompts.n; i++)
            if (c->prompts.inst[i].has_box)
                return rn_cli_usage(cli, "--refine takes --point clicks, not --box");
    } else if (!c->prompts_file && !c->prompts.n) {
        return rn_cli_usage(cli, "nothing to segment: give --box, --point, --prompts or "
                                 "--refine");
    }
    if (c->output) {
        /* The only conversion allowed is one integer: %d, %5d, %05d. */
        int convs = 0;
        for (const char *s = c->output; *s; s++) {
            if (*s != '%')
                continue;
            if (s[1] == '%') {
                s++;
                continue;
            }
            s++;
            while (*s >= '0' && *s <= '9')
                s++;
            if (*s != 'd' || ++convs > 1)
                return rn_cli_usage(cli, "-o: '%s' may hold one %%d (or %%0Nd) and no other "
                                         "%% conversion", c->output);
        }
        c->output_numbered = convs;
        if (rn_image_format_from_name(c->output) == RN_IMAGE_UNKNOWN && strcmp(c->output, "-"))
            return rn_cli_usage(cli, "-o: '%s' has no image extension (.png .pgm .pnm .pam "
                                     ".jpg)", c->output);
    }
    return 0;
}

/* ---- the run -------------------------------------------------------------- */

struct run {
    const struct cmdline *c;
    struct rn_stream_writer w;
    int writing;                     /* w is open (no -o) */
    FILE *pf;                        /* --prompts file */
    int64_t pf_line;
    char *line;
    size_t line_cap;
    struct rn_seg_prompts fprompts;  /* the current line's prompts */
    int64_t next_frame;              /* index given to image FILE operands */
    int64_t masks_out;               /* masks written (for -o without %d) */
    uint8_t *planes;                 /* N x H x W of the current frame */
    size_t planes_cap;
};

/* The next non-blank line of --prompts into r->fprompts. */
static int next_prompts(struct run *r, int64_t frame, struct rn_err *e)
{
    const char *name = r->c->prompts_file;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->pf);
        if (n < 0) {
            if (ferror(r->pf))
                return rn_err_errno(e, name, "read");
            return rn_err_set(e, RN_EFORMAT, name, "no line of prompts left for frame %" PRId64,
                              frame);
        }
        r->pf_line++;
        if (strspn(r->line, " \t\r\n") == (size_t)n)
            continue;
        int64_t want;
        int rc = rn_seg_prompts_parse_json(&r->fprompts, r->line, &want, e);
        if (rc == RN_OK && want >= 0 && want != frame)
            rc = rn_err_set(e, RN_EFORMAT, NULL, "prompts are for frame %" PRId64
                            ", but the frame is %" PRId64, want, frame);
        if (rc < 0) {
            char where[RN_ERR_WHERE_MAX], msg[RN_ERR_MSG_MAX];
            snprintf(where, sizeof where, "%s: line %" PRId64, name, r->pf_line);
            snprintf(msg, sizeof msg, "%s", e->msg);
            rn_err_set(e, rc, where, "%s", msg);
        }
        return rc;
    }
}

/* -o path for this frame: the %d conversion filled with the frame number. */
static int output_path(struct run *r, int64_t frame, char *buf, size_t size, struct rn_err *e)
{
    const char *o = r->c->output;
    if (!r->c->output_numbered) {
        if (r->masks_out > 0)
            return rn_err_set(e, RN_EFORMAT, o, "several frames need a %%d in the -o name");
        snprintf(buf, size, "%s", o);
        return RN_OK;
    }
    /* The parser allowed exactly one %[0-9]*d and %% escapes. */
    int n = snprintf(buf, size, o, (int)frame);
    if (n < 0 || (size_t)n >= size)
        return rn_err_set(e, RN_EUSAGE, o, "-o name too long");
    return RN_OK;
}

/* Write the union of the instance planes as a grey image. */
static int write_mask_image(struct run *r, int64_t frame, int n, int w, int h, struct rn_err *e)
{
    char path[4096];
    int rc = output_path(r, frame, path, sizeof path, e);
    if (rc < 0)
        return rc;
    size_t px = (size_t)w * h;
    for (int i = 1; i < n; i++)
        for (size_t k = 0; k < px; k++)
            r->planes[k] |= r->planes[(size_t)i * px + k];
    struct rn_image im;
    rn_image_view(&im, w, h, 1, r->planes);
    rc = rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 0, e);
    r->masks_out++;
    return rc;
}

/* Segment one frame and write it (forwarded) with its masks record. init:
 * the masks record that followed it, for --refine; NULL otherwise. */
static int process(struct run *r, const struct rn_record *frame, const struct rn_record *init,
                   const char *src, struct rn_err *e)
{
    const struct cmdline *c = r->c;
    struct rn_frame_info fi;
    int rc = rn_frame_info_parse(frame->meta, &fi, e);
    if (rc < 0)
        return rc;
    int h = (int)frame->dims[0], w = (int)frame->dims[1], ch = (int)frame->dims[2];
    struct rn_image im;
    rn_image_view(&im, w, h, ch, frame->payload);

    const struct rn_seg_prompts *ps = &c->prompts;
    struct rn_instance *prev = NULL;
    int n = ps->n, nprev = 0;
    if (c->prompts_file) {
        if ((rc = next_prompts(r, fi.index, e)) < 0)
            return rc;
        ps = &r->fprompts;
        n = ps->n;
    }
    if (init) {
        int64_t mframe;
        if ((rc = rn_masks_meta_parse(init->meta, &mframe, &prev, &nprev, (int)init->dims[0],
                                      e)) < 0)
            return rc;
        n = nprev;
        if (mframe != fi.index) {
            free(prev);
            return rn_err_set(e, RN_EFORMAT, NULL, "frame %" PRId64 ": the masks record after "
                              "it is for frame %" PRId64, fi.index, mframe);
        }
        if (c->prompts.n && nprev != 1) {
            free(prev);
            return rn_err_set(e, RN_EFORMAT, NULL, "frame %" PRId64 ": --point with --refine "
                              "needs masks records of one instance, this one has %d",
                              fi.index, nprev);
        }
    } else if (c->refine && !ps->n) {
        return rn_err_set(e, RN_EFORMAT, NULL, "frame %" PRId64 ": no masks record follows it "
                          "to refine", fi.index);
    }
    /* A masks record with no instances (a tracker that lost everything)
     * gives one with none again: an empty mask. */
    size_t px = (size_t)w * h, planes = (size_t)(n ? n : 1) * px;
    if (planes > r->planes_cap) {
        free(r->planes);
        r->planes_cap = 0;
        if (!(r->planes = malloc(planes))) {
            free(prev);
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %d masks", n);
        }
        r->planes_cap = planes;
    }
    if (n == 0)
        memset(r->planes, 0, px);
    struct rn_instance *inst = calloc((size_t)(n ? n : 1), sizeof *inst);
    if (!inst) {
        free(prev);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n && rc == RN_OK; i++) {
        struct rn_seg_prompt p = {0};
        inst[i].id = i + 1;
        if (init) {
            if (c->prompts.n)
                rn_seg_prompts_get(&c->prompts, 0, &p);
            p.init = (const uint8_t *)init->payload + (size_t)i * init->dims[1] * init->dims[2];
            p.init_h = (int)init->dims[1];
            p.init_w = (int)init->dims[2];
            inst[i].id = prev[i].id;
            memcpy(inst[i].label, prev[i].label, sizeof inst[i].label);
        } else {
            rn_seg_prompts_get(ps, i, &p);
            if (ps->inst[i].id)
                inst[i].id = ps->inst[i].id;
            memcpy(inst[i].label, ps->inst[i].label, sizeof inst[i].label);
        }
        struct rn_seg_result res;
        double t0 = rn_now();
        clock_t c0 = clock();
        rc = rn_seg_segment(&im, &p, &c->par, r->planes + (size_t)i * px, &res, e);
        double ms = (rn_now() - t0) * 1e3;
        double cpu_ms = (double)(clock() - c0) * 1e3 / CLOCKS_PER_SEC;
        if (rc < 0) {
            rn_err_prefix(e, "frame %" PRId64 ": instance %d: ", fi.index, i + 1);
            break;
        }
        inst[i].score = res.score;
        memcpy(inst[i].box, res.box, sizeof inst[i].box);
        if (rn_log_level() >= RN_LOG_DEBUG) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "source", src);
            cJSON_AddNumberToObject(f, "frame", (double)fi.index);
            cJSON_AddNumberToObject(f, "id", (double)inst[i].id);
            cJSON_AddNumberToObject(f, "score", res.score);
            cJSON_AddNumberToObject(f, "area", (double)res.area);
            cJSON_AddNumberToObject(f, "scale", res.scale);
            cJSON_AddNumberToObject(f, "band", (double)res.band);
            cJSON_AddNumberToObject(f, "ms", ms);
            cJSON_AddNumberToObject(f, "cpu_ms", cpu_ms);
            rn_log_json(RN_LOG_DEBUG, "segmented", f);
        }
    }
    free(prev);
    if (rc == RN_OK) {
        if (r->writing) {
            char *meta = rn_masks_meta_format(fi.index, inst, n);
            int64_t dims[3] = {n, h, w};
            rc = meta ? rn_stream_write_record(&r->w, frame, e)
                      : rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
            if (rc == RN_OK)
                rc = rn_stream_write(&r->w, RN_KIND_MASKS, RN_DTYPE_U8, 3, dims, meta,
                                     r->planes, (uint64_t)n * px, e);
            free(meta);
        } else {
            rc = write_mask_image(r, fi.index, n, w, h, e);
        }
    }
    free(inst);
    return rc;
}

static int is_frame(const struct rn_record *rec)
{
    return rec->kind == RN_KIND_FRAME && rec->rank == 3 && rec->payload;
}

/* A stream: segment frames, forward the rest; with --refine hold each
 * frame until the next record says whether a masks record follows. */
static int run_stream(struct run *r, const char *path, struct rn_err *e)
{
    struct rn_stream_reader rd;
    struct rn_record rec = {0}, held = {0};
    int have = 0, rc;
    const char *name = rn_io_name(path, 0);
    if ((rc = rn_stream_reader_open(&rd, path, 0, e)) < 0)
        return rc;
    while ((rc = rn_stream_read(&rd, &rec, 0, e)) == RN_OK) {
        if (have) {
            int use = rec.kind == RN_KIND_MASKS && rec.rank == 3 &&
                      (rec.payload || rec.payload_len == 0);
            rc = process(r, &held, use ? &rec : NULL, name, e);
            have = 0;
            if (rc < 0 || use)
                goto next;
        }
        if (is_frame(&rec) && r->c->refine) {
            struct rn_record t = held;
            held = rec;
            rec = t;
            have = 1;
        } else if (is_frame(&rec)) {
            rc = process(r, &rec, NULL, name, e);
        } else if (r->writing && rec.kind != RN_KIND_END) {
            rc = rn_stream_write_record(&r->w, &rec, e);
        }
    next:
        if (rc < 0) {
            if (!e->where[0])
                snprintf(e->where, sizeof e->where, "%s", name);
            break;
        }
    }
    if (rc == RN_EOF && have && (rc = process(r, &held, NULL, name, e)) < 0 && !e->where[0])
        snprintf(e->where, sizeof e->where, "%s", name);
    rn_record_free(&rec);
    rn_record_free(&held);
    rn_stream_reader_close(&rd);
    return rc == RN_EOF ? RN_OK : rc;
}

static int is_stream_file(const char *path)
{
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(m, RN_STREAM_MAGIC, 4);
}

/* An image FILE becomes a frame record (frame number running on across
 * FILEs, source its path) and is segmented like one. */
static int run_image(struct run *r, const char *path, struct rn_err *e)
{
    struct rn_image im;
    int rc = rn_image_read(path, &im, e);
    if (rc < 0)
        return rc;
    struct rn_frame_info fi = {.index = r->next_frame++, .t = -1};
    snprintf(fi.source, sizeof fi.source, "%s", path);
    struct rn_record rec = {.kind = RN_KIND_FRAME, .dtype = RN_DTYPE_U8, .rank = 3,
                            .dims = {im.h, im.w, im.c}, .payload = im.data,
                            .payload_len = (uint64_t)im.w * im.h * im.c};
    rec.meta = rn_frame_meta_format(&fi);
    if (!rec.meta)
        rc = rn_err_set(e, RN_ENOMEM, path, "out of memory");
    else
        rec.meta_len = (uint32_t)strlen(rec.meta);
    if (rc == RN_OK)
        rc = process(r, &rec, NULL, path, e);
    if (rc < 0 && !e->where[0])
        snprintf(e->where, sizeof e->where, "%s", path);
    free(rec.meta);
    rn_image_free(&im);
    return rc;
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c = {0};
    rn_seg_prompts_init(&c.prompts);
    rn_seg_params_default(&c.par);
    rn_cli_init(&cli, &program, argc, argv);
    if (parse_args(&c, &cli) == RN_CLI_EXIT) {
        rn_seg_prompts_free(&c.prompts);
        return cli.status;
    }
    if (rn_cli_refuse_tty(&cli, c.output) == RN_CLI_EXIT) {
        rn_seg_prompts_free(&c.prompts);
        return cli.status;
    }
    struct run r = {.c = &c};
    rn_seg_prompts_init(&r.fprompts);
    struct rn_err e = {0};
    int rc = RN_OK;
    if (c.prompts_file && !(r.pf = fopen(c.prompts_file, "r")))
        rc = rn_err_errno(&e, c.prompts_file, "cannot open");
    if (rc == RN_OK && !c.output) {
        rc = rn_stream_writer_open(&r.w, "-", &e);
        r.writing = rc == RN_OK;
    }
    int nfiles = argc - cli.optind;
    for (int i = 0; rc == RN_OK && (i == 0 || i < nfiles); i++) {
        const char *path = nfiles ? argv[cli.optind + i] : "-";
        if (!strcmp(path, "-") || is_stream_file(path))
            rc = run_stream(&r, path, &e);
        else
            rc = run_image(&r, path, &e);
    }
    if (r.writing) {
        /* A failed input must not leave a complete-looking stream behind. */
        if (rc < 0)
            rn_stream_writer_abort(&r.w);
        else
            rc = rn_stream_writer_close(&r.w, &e);
    }
    int status = rc < 0 ? rn_report(&e) : RN_EXIT_OK;
    if (r.pf)
        fclose(r.pf);
    free(r.line);
    free(r.planes);
    rn_seg_prompts_free(&r.fprompts);
    rn_seg_prompts_free(&c.prompts);
    int cs = rn_close_stdout();
    return status ? status : cs;
}
