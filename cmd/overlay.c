/* overlay — draw masks on the frames they belong to.
 *
 * Reads: one stream (stdin, or the FILEs in turn) of frame records each
 * followed by the masks records that name its frame index.
 * Writes: the frames with every instance drawn (semi-transparent fill,
 * contour, box, "ID 3 | 0.92" label, colour a function of the id) as frame
 * records on stdout, other records passed through in order; or, with -o, a
 * video or images as `frames -o` writes them. --cutout writes RGBA frames
 * whose alpha is the union of the masks instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draw.h"
#include "font.h"
#include "img.h"
#include "runnel.h"
#include "video.h"
#include "vismeta.h"

enum { OPT_OUTPUT = 'o', OPT_ALPHA = 'a', OPT_NO_BOXES = 256, OPT_NO_LABELS, OPT_CUTOUT,
       OPT_CONTOUR, OPT_FONT, OPT_FONT_SIZE, OPT_FORMAT, OPT_CODEC, OPT_FPS, OPT_QUALITY };

static const struct rn_option options[] = {
    {"output", 'o', "FILE", "write a video, GIF or images (out_%04d.png) instead of a stream",
     RN_COMP_FILE, NULL, OPT_OUTPUT},
    {"alpha", 'a', "A", "opacity of the mask fill, 0..1 (default 0.5)", RN_COMP_NONE, NULL,
     OPT_ALPHA},
    {"contour", 0, "N", "contour thickness in pixels, 0 for none (default 2)", RN_COMP_NONE,
     NULL, OPT_CONTOUR},
    {"no-boxes", 0, NULL, "do not draw boxes", RN_COMP_NONE, NULL, OPT_NO_BOXES},
    {"no-labels", 0, NULL, "do not draw labels", RN_COMP_NONE, NULL, OPT_NO_LABELS},
    {"cutout", 0, NULL, "write RGBA frames with the masks as alpha instead of drawing",
     RN_COMP_NONE, NULL, OPT_CUTOUT},
    {"font", 0, "FILE", "TrueType font for labels (default DejaVu Sans)", RN_COMP_FILE, NULL,
     OPT_FONT},
    {"font-size", 0, "PX", "label text height in pixels (default: from the frame height)",
     RN_COMP_NONE, NULL, OPT_FONT_SIZE},
    {"format", 'f', "NAME", "output format for -o (mp4, matroska, gif, ...)", RN_COMP_WORDS,
     "mp4 matroska gif nut", OPT_FORMAT},
    {"codec", 0, "NAME", "video encoder for -o", RN_COMP_WORDS, "libx264 mpeg4 gif png ffv1",
     OPT_CODEC},
    {"fps", 0, "RATE", "frame rate for -o (default: the frames')", RN_COMP_NONE, NULL, OPT_FPS},
    {"quality", 0, "Q", "JPEG quality 1..100 for -o *.jpg", RN_COMP_NONE, NULL, OPT_QUALITY},
    {0},
};

static const struct rn_program program = {
    "overlay", "[OPTIONS] [STREAM...]",
    "Draw instance masks, boxes and labels on the frames they belong to.",
    "Reads frame records, each followed by the masks records of its frame index, and\n"
    "writes the frames drawn. Same object id, same colour, in every frame.\n\n"
    "Examples:\n"
    "  frames photo.jpg | segment --box 40,30,200,180 | overlay -o out.png\n"
    "  frames street.mp4 | track --point 320,200 | overlay | frames -o tracked.mp4\n"
    "  frames photo.jpg | segment --box 40,30,200,180 | overlay --cutout -o cut.png",
    options, RN_COMP_FILE};

struct cmdline {
    const char *output;       /* -o FILE; NULL (default): a stream on stdout */
    double alpha;             /* fill opacity, 0..1; default 0.5 */
    long long contour;        /* pixels, 0..50; default 2 */
    int boxes, labels;        /* 1 (default): drawn */
    int cutout;               /* 1: RGBA with the masks as alpha, nothing drawn */
    const char *font;         /* NULL (default): RN_FONT_DEFAULT */
    long long font_size;      /* pixels, 6..200; 0 (default): frame height / 36 in 12..48 */
    struct rn_writer_opts wo; /* -o: format, codec, fps, quality as in frames */
};

static int parse_args(struct cmdline *c, struct rn_cli *cli)
{
    int id;
    long long q = 0;
    while ((id = rn_cli_next(cli)) > 0) {
        int rc = 0;
        switch (id) {
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_ALPHA: rc = rn_cli_double(cli, 0, 1, &c->alpha); break;
        case OPT_CONTOUR: rc = rn_cli_int(cli, 0, 50, &c->contour); break;
        case OPT_NO_BOXES: c->boxes = 0; break;
        case OPT_NO_LABELS: c->labels = 0; break;
        case OPT_CUTOUT: c->cutout = 1; break;
        case OPT_FONT: c->font = cli->arg; break;
        case OPT_FONT_SIZE: rc = rn_cli_int(cli, 6, 200, &c->font_size); break;
        case OPT_FORMAT: c->wo.format = cli->arg; break;
        case OPT_CODEC: c->wo.codec = cli->arg; break;
        case OPT_FPS: rc = rn_cli_double(cli, 0.001, 1000, &c->wo.fps); break;
        case OPT_QUALITY: rc = rn_cli_int(cli, 1, 100, &q); break;
        }
        if (rc == RN_CLI_EXIT)
            return rc;
    }
    if (id == RN_CLI_EXIT)
        return id;
    c->wo.quality = (int)q;
    if (!c->output && (c->wo.format || c->wo.codec || c->wo.fps > 0 || q))
        return rn_cli_usage(cli, "--format, --codec, --fps and --quality only go with -o");
    return 0;
}

/* The frame being drawn on, held until a record that is not one of its
 * masks arrives. */
struct held {
    int active;
    struct rn_image im;       /* owned copy of the frame's pixels */
    struct rn_frame_info fi;
    char *meta;               /* the frame record's metadata, passed on as is */
    struct rn_image cut;      /* --cutout: RGBA result */
    int has_cut;
};

struct run {
    const struct cmdline *c;
    struct rn_stream_writer w;          /* without -o */
    struct rn_video_writer *vw;         /* with -o */
    struct rn_font *font;
    struct held f;
    uint64_t frames;
};

static int hold(struct run *r, const struct rn_record *rec, struct rn_err *e)
{
    struct held *f = &r->f;
    int rc = rn_frame_info_parse(rec->meta, &f->fi, e);
    if (rc < 0)
        return rc;
    int w = (int)rec->dims[1], h = (int)rec->dims[0], c = (int)rec->dims[2];
    if (!f->im.data || f->im.w != w || f->im.h != h || f->im.c != c) {
        rn_image_free(&f->im);
        if ((rc = rn_image_new(&f->im, w, h, c, e)) < 0)
            return rc;
    }
    memcpy(f->im.data, rec->payload, (size_t)w * h * c);
    free(f->meta);
    if (!(f->meta = strdup(rec->meta)))
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    if (r->c->cutout) {
        rn_image_free(&f->cut);
        /* No masks yet: fully transparent until some arrive. */
        if ((rc = rn_draw_cutout(&f->im, NULL, 0, 1, 1, &f->cut, e)) < 0)
            return rc;
    }
    f->active = 1;
    return RN_OK;
}

static int flush(struct run *r, struct rn_err *e)
{
    struct held *f = &r->f;
    if (!f->active)
        return RN_OK;
    f->active = 0;
    const struct rn_image *im = r->c->cutout ? &f->cut : &f->im;
    r->frames++;
    if (r->vw)
        return rn_video_writer_write(r->vw, im, &f->fi, e);
    int64_t dims[3] = {im->h, im->w, im->c};
    return rn_stream_write(&r->w, RN_KIND_FRAME, RN_DTYPE_U8, 3, dims, f->meta, im->data,
                           (uint64_t)im->w * im->h * im->c, e);
}

/* Label anchor when the instance has no box: the mask's top-left. */
static void mask_corner(const uint8_t *m, int mw, int mh, int w, int h, double *x, double *y)
{
    int minx = mw, miny = mh;
    for (int yy = 0; yy < mh; yy++)
        for (int xx = 0; xx < mw; xx++)
            if (m[(size_t)yy * mw + xx] > 127) {
                minx = xx < minx ? xx : minx;
                miny = yy < miny ? yy : miny;
            }
    *x = minx < mw ? (double)minx * w / mw : 0;
    *y = miny < mh ? (double)miny * h / mh : 0;
}

static int draw(struct run *r, const struct rn_record *rec, struct rn_err *e)
{
    const struct cmdline *c = r->c;
    struct held *f = &r->f;
    int64_t frame;
    struct rn_instance *inst;
    int n;
    int rc = rn_masks_meta_parse(rec->meta, &frame, &inst, &n, (int)rec->dims[0], e);
    if (rc < 0)
        return rc;
    if (!f->active || frame != f->fi.index) {
        free(inst);
        if (!f->active)
            return rn_err_set(e, RN_EFORMAT, NULL, "masks of frame %" PRId64
                              " with no frame record before them", frame);
        return rn_err_set(e, RN_EFORMAT, NULL, "masks of frame %" PRId64 " follow frame %" PRId64,
                          frame, f->fi.index);
    }
    int mh = (int)rec->dims[1], mw = (int)rec->dims[2];
    const uint8_t *masks = rec->payload;
    struct rn_image *im = &f->im;
    if (c->cutout) {
        struct rn_image cut;
        rc = rn_draw_cutout(im, masks, n, mw, mh, &cut, e);
        if (rc == RN_OK) {
            for (size_t p = 0; p < (size_t)im->w * im->h; p++)
                cut.data[p * 4 + 3] |= f->cut.data[p * 4 + 3];
            rn_image_free(&f->cut);
            f->cut = cut;
        }
        free(inst);
        return rc;
    }
    if (!r->font && c->labels) {
        int px = (int)c->font_size;
        if (!px)
            px = im->h / 36 < 12 ? 12 : im->h / 36 > 48 ? 48 : im->h / 36;
        if ((rc = rn_font_open(&r->font, c->font, px, e)) < 0) {
            free(inst);
            return rc;
        }
        if (rn_font_is_builtin(r->font))
            rn_log(RN_LOG_WARN, "font %s not found: using the built-in font",
                   c->font ? c->font : RN_FONT_DEFAULT);
    }
    uint8_t (*rgb)[3] = calloc((size_t)n + 1, sizeof *rgb);
    if (!rgb) {
        free(inst);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    }
    /* Fills first, then boxes, then labels: text stays readable on top. */
    for (int i = 0; i < n && rc == RN_OK; i++) {
        rn_draw_color(inst[i].id, rgb[i]);
        rc = rn_draw_mask(im, masks + (size_t)i * mw * mh, mw, mh, rgb[i], c->alpha,
                          (int)c->contour, e);
    }
    for (int i = 0; i < n && rc == RN_OK && c->boxes; i++)
        rn_draw_box(im, inst[i].box, rgb[i], im->h >= 360 ? 3 : 2);
    for (int i = 0; i < n && rc == RN_OK && c->labels; i++) {
        char text[RN_LABEL_MAX + 64];
        if (inst[i].label[0])
            snprintf(text, sizeof text, "ID %" PRId64 " | %.2f | %s", inst[i].id, inst[i].score,
                     inst[i].label);
        else
            snprintf(text, sizeof text, "ID %" PRId64 " | %.2f", inst[i].id, inst[i].score);
        double x = inst[i].box[0], y = inst[i].box[1];
        if (!(inst[i].box[2] > inst[i].box[0] && inst[i].box[3] > inst[i].box[1]))
            mask_corner(masks + (size_t)i * mw * mh, mw, mh, im->w, im->h, &x, &y);
        rn_draw_label(im, r->font, x, y, text, rgb[i]);
    }
    free(rgb);
    free(inst);
    return rc;
}

static int overlay_file(struct run *r, const char *path, uint64_t *next_index,
                        struct rn_err *e)
{
    struct rn_stream_reader rd;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open(&rd, path, 0, e);
    if (rc < 0)
        return rc;
    rd.index = *next_index;
    while ((rc = rn_stream_read(&rd, &rec, 0, e)) == RN_OK) {
        if (rec.kind == RN_KIND_MASKS)
            rc = draw(r, &rec, e);
        else if ((rc = flush(r, e)) == RN_OK && rec.kind == RN_KIND_FRAME)
            rc = hold(r, &rec, e);
        else if (rc == RN_OK && !r->vw && rec.kind != RN_KIND_END)
            rc = rn_stream_write_record(&r->w, &rec, e);
        if (rc < 0) {
            rn_err_prefix(e, "record %" PRIu64 ": ", rec.index);
            if (!e->where[0])
                snprintf(e->where, sizeof e->where, "%s", rd.name);
            break;
        }
    }
    *next_index = rd.index;
    rn_record_free(&rec);
    rn_stream_reader_close(&rd);
    return rc == RN_EOF ? RN_OK : rc;
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c = {.alpha = 0.5, .contour = 2, .boxes = 1, .labels = 1};
    rn_cli_init(&cli, &program, argc, argv);
    if (parse_args(&c, &cli) == RN_CLI_EXIT)
        return cli.status;
    if (rn_cli_refuse_tty(&cli, c.output) == RN_CLI_EXIT)
        return cli.status;
    struct run r = {.c = &c};
    struct rn_err e = {0};
    int rc = c.output ? rn_video_writer_open(&r.vw, c.output, &c.wo, &e)
                      : rn_stream_writer_open(&r.w, "-", &e);
    if (rc < 0)
        return rn_report(&e);
    int n = argc - cli.optind;
    uint64_t next_index = 0;
    for (int i = 0; (i == 0 || i < n) && rc == RN_OK; i++)
        rc = overlay_file(&r, n ? argv[cli.optind + i] : "-", &next_index, &e);
    if (rc == RN_OK)
        rc = flush(&r, &e);
    int status = rc < 0 ? rn_report(&e) : RN_EXIT_OK;
    if (status != RN_EXIT_OK) {
        if (r.vw)
            rn_video_writer_abort(r.vw);
        else
            rn_stream_writer_abort(&r.w);
    } else if ((r.vw ? rn_video_writer_close(r.vw, &e) : rn_stream_writer_close(&r.w, &e)) < 0) {
        status = rn_report(&e);
    }
    rn_font_close(r.font);
    rn_image_free(&r.f.im);
    rn_image_free(&r.f.cut);
    free(r.f.meta);
    rn_log(RN_LOG_DEBUG, "%" PRIu64 " frames drawn", r.frames);
    int close_status = rn_close_stdout();
    return status ? status : close_status;
}
