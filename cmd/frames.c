/* frames — pictures into frame records, and frame records into pictures.
 *
 * Reads: image files (PNG, JPEG, PNM/PAM), videos, and FFmpeg input
 * devices or filter sources (--format lavfi, --format v4l2), told apart
 * by their first bytes (stdin too); runnel streams pass through, their
 * frame records resized like the rest.
 * Writes: a stream of frame records (u8, H x W x C; metadata: frame, t,
 * fps, source) on stdout; or, with -o, frame records from the input
 * streams (stdin by default) into a video, a GIF or still images. One
 * frame is held at a time, so a camera can run for days.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"
#include "runnel.h"
#include "video.h"
#include "vismeta.h"

enum { OPT_OUTPUT = 'o', OPT_FORMAT = 'f', OPT_COUNT = 'n', OPT_START = 256, OPT_EVERY,
       OPT_FPS, OPT_MAX_SIDE, OPT_SIZE, OPT_GRAY, OPT_CODEC, OPT_QUALITY };

static const struct rn_option options[] = {
    {"output", 'o', "FILE", "encode frame records into FILE: a video, a GIF, an image or "
     "out_%04d.png", RN_COMP_FILE, NULL, OPT_OUTPUT},
    {"format", 'f', "NAME", "FFmpeg input format or device (lavfi, v4l2, ...); with -o, the "
     "output format", RN_COMP_WORDS, "lavfi v4l2 mp4 matroska gif nut", OPT_FORMAT},
    {"start", 0, "N", "skip the first N frames", RN_COMP_NONE, NULL, OPT_START},
    {"count", 'n', "N", "stop after N frames", RN_COMP_NONE, NULL, OPT_COUNT},
    {"every", 0, "N", "keep one frame in every N", RN_COMP_NONE, NULL, OPT_EVERY},
    {"fps", 0, "RATE", "resample videos to RATE frames per second; with -o, the output rate",
     RN_COMP_NONE, NULL, OPT_FPS},
    {"max-side", 0, "N", "scale down so the longer side is at most N pixels", RN_COMP_NONE,
     NULL, OPT_MAX_SIDE},
    {"size", 0, "WxH", "scale every frame to W x H pixels", RN_COMP_NONE, NULL, OPT_SIZE},
    {"gray", 0, NULL, "one channel (luma) instead of RGB", RN_COMP_NONE, NULL, OPT_GRAY},
    {"codec", 0, "NAME", "video encoder for -o (libx264, mpeg4, ...)", RN_COMP_WORDS,
     "libx264 mpeg4 gif png ffv1", OPT_CODEC},
    {"quality", 0, "Q", "JPEG quality 1..100 for -o *.jpg (default 90)", RN_COMP_NONE, NULL,
     OPT_QUALITY},
    {0},
};

static const struct rn_program program = {
    "frames", "[OPTIONS] [FILE|URL...]",
    "Turn images, videos and cameras into frame records, and frame records into files.",
    "Without -o, decodes each input in turn (stdin when none is given) and writes frame\n"
    "records on stdout. With -o OUTPUT, the inputs are streams (stdin when none is given)\n"
    "whose frame records become OUTPUT: .mp4/.mkv/.avi/.gif/... through FFmpeg, or\n"
    ".png/.jpg/.pnm stills.\n\n"
    "Examples:\n"
    "  frames street.mp4 --max-side 640 > street.rnl\n"
    "  frames --format lavfi testsrc2=rate=30 --count 90 | frames -o test.mp4\n"
    "  frames photos/*.jpg --size 320x240 | frames -o thumb_%03d.png\n"
    "  frames --format v4l2 /dev/video0 --fps 5 | overlay | frames -o cam.mkv",
    options, RN_COMP_FILE};

struct cmdline {
    const char *output;      /* -o: encode mode; NULL: decode mode */
    const char *format;      /* input format/device, or output muxer with -o; NULL: guess */
    const char *codec;       /* -o encoder; NULL: the muxer's default */
    long long start;         /* frames skipped first, >= 0; default 0 */
    long long count;         /* frames kept at most, >= 0; -1 (default): all */
    long long every;         /* keep 1 in N, 1..1e9; default 1 */
    double fps;              /* frames/s, 0.001..1000: resample (decode) or output rate
                                (-o); 0 (default): the source's */
    long long max_side;      /* pixels, 1..16384; 0 (default): no limit */
    int size_w, size_h;      /* pixels, 1..16384 each; 0 (default): source size */
    int gray;                /* 1: one channel */
    long long quality;       /* JPEG quality 1..100; 0 (default): 90 */
};

static int parse_size(const char *s, int *w, int *h)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X'))
        return -1;
    const char *s2 = end + 1;
    long b = strtol(s2, &end, 10);
    if (end == s2 || *end || a < 1 || b < 1 || a > 16384 || b > 16384)
        return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int parse_args(struct cmdline *c, struct rn_cli *cli)
{
    int id;
    while ((id = rn_cli_next(cli)) > 0) {
        int rc = 0;
        switch (id) {
        case OPT_OUTPUT: c->output = cli->arg; break;
        case OPT_FORMAT: c->format = cli->arg; break;
        case OPT_CODEC: c->codec = cli->arg; break;
        case OPT_START: rc = rn_cli_int(cli, 0, INT64_MAX / 2, &c->start); break;
        case OPT_COUNT: rc = rn_cli_int(cli, 0, INT64_MAX / 2, &c->count); break;
        case OPT_EVERY: rc = rn_cli_int(cli, 1, 1000000000, &c->every); break;
        case OPT_FPS: rc = rn_cli_double(cli, 0.001, 1000, &c->fps); break;
        case OPT_MAX_SIDE: rc = rn_cli_int(cli, 1, 16384, &c->max_side); break;
        case OPT_QUALITY: rc = rn_cli_int(cli, 1, 100, &c->quality); break;
        case OPT_GRAY: c->gray = 1; break;
        case OPT_SIZE:
            if (parse_size(cli->arg, &c->size_w, &c->size_h) < 0)
                return rn_cli_usage(cli, "--size: \"%s\" is not WxH (1 to 16384 each)",
                                    cli->arg);
            break;
        }
        if (rc == RN_CLI_EXIT)
            return rc;
    }
    if (id == RN_CLI_EXIT)
        return id;
    if (c->size_w && c->max_side)
        return rn_cli_usage(cli, "--size and --max-side do not go together");
    if (!c->output && (c->codec || c->quality))
        return rn_cli_usage(cli, "--codec and --quality only go with -o");
    return 0;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The frame selection shared by both directions: --start, --every,
 * --count over the sequence of frames as they arrive. */
struct pick {
    const struct cmdline *c;
    long long seen, kept;
};

static int pick_wants(const struct pick *p)
{
    return p->seen >= p->c->start && (p->seen - p->c->start) % p->c->every == 0;
}

static int pick_done(const struct pick *p)
{
    return stop_flag || (p->c->count >= 0 && p->kept >= p->c->count);
}

/* Resize or gray a frame as the options ask; returns im or the converted
 * copy in *tmp. */
static int reshape(const struct cmdline *c, struct rn_scaler *sc, const struct rn_image *im,
                   struct rn_image *tmp, const struct rn_image **out, struct rn_err *e)
{
    int w, h;
    rn_video_fit(im->w, im->h, c->size_w, c->size_h, (int)c->max_side, &w, &h);
    int ch = c->gray ? (im->c == 2 || im->c == 4 ? 2 : 1) : im->c;
    if (w == im->w && h == im->h && ch == im->c) {
        *out = im;
        return RN_OK;
    }
    int rc = rn_scaler_run(sc, im, w, h, ch, tmp, e);
    *out = tmp;
    return rc;
}

/* ---- decode: inputs to frame records --------------------------------------- */

struct dec {
    const struct cmdline *c;
    struct rn_stream_writer w;
    struct pick pick;
    struct rn_scaler sc;
    struct rn_image tmp;
};

static int emit(struct dec *d, const struct rn_image *im, const struct rn_frame_info *fi,
                struct rn_err *e)
{
    const struct rn_image *out;
    int rc = reshape(d->c, &d->sc, im, &d->tmp, &out, e);
    if (rc < 0)
        return rc;
    char *meta = rn_frame_meta_format(fi);
    if (!meta)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    int64_t dims[3] = {out->h, out->w, out->c};
    rc = rn_stream_write(&d->w, RN_KIND_FRAME, RN_DTYPE_U8, 3, dims, meta, out->data,
                         (uint64_t)out->w * out->h * out->c, e);
    free(meta);
    d->pick.kept++;
    return rc;
}

static int decode_video(struct dec *d, const char *url, struct rn_err *e)
{
    struct rn_video_opts o = {.format = d->c->format, .fps = d->c->fps, .gray = d->c->gray,
                              .size_w = d->c->size_w, .size_h = d->c->size_h,
                              .max_side = (int)d->c->max_side, .stop = &stop_flag};
    struct rn_video_reader *v;
    int rc = rn_video_open(&v, url, &o, e);
    if (rc < 0)
        return rc;
    struct rn_image im;
    struct rn_frame_info fi;
    while (!pick_done(&d->pick)) {
        int want = pick_wants(&d->pick);
        if ((rc = rn_video_read(v, &im, &fi, want ? 0 : RN_VIDEO_SKIP, e)) != RN_OK)
            break;
        fi.index = d->pick.seen++; /* indices run on across inputs */
        if (want && (rc = emit(d, &im, &fi, e)) < 0)
            break;
    }
    rn_video_close(v);
    return rc == RN_EOF ? RN_OK : rc;
}

static int decode_stream(struct dec *d, const char *path, struct rn_err *e)
{
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open(&r, path, 0, e);
    if (rc < 0)
        return rc;
    while (!pick_done(&d->pick) && (rc = rn_stream_read(&r, &rec, 0, e)) == RN_OK) {
        if (rec.kind != RN_KIND_FRAME) {
            if ((rc = rn_stream_write_record(&d->w, &rec, e)) < 0)
                break;
            continue;
        }
        int want = pick_wants(&d->pick);
        d->pick.seen++;
        if (!want)
            continue;
        struct rn_image im;
        struct rn_frame_info fi;
        if ((rc = rn_frame_info_parse(rec.meta, &fi, e)) < 0) {
            rn_err_prefix(e, "record %llu: ", (unsigned long long)rec.index);
            break;
        }
        rn_image_view(&im, (int)rec.dims[1], (int)rec.dims[0], (int)rec.dims[2], rec.payload);
        if ((rc = emit(d, &im, &fi, e)) < 0)
            break;
    }
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    return rc == RN_EOF ? RN_OK : rc;
}

static int decode_image(struct dec *d, const char *path, struct rn_err *e)
{
    int want = pick_wants(&d->pick);
    struct rn_frame_info fi = {.index = d->pick.seen, .t = -1};
    d->pick.seen++;
    if (!want)
        return RN_OK;
    struct rn_image im;
    int rc = rn_image_read(path, &im, e);
    if (rc < 0)
        return rc;
    snprintf(fi.source, sizeof fi.source, "%s", rn_io_name(path, 0));
    rc = emit(d, &im, &fi, e);
    rn_image_free(&im);
    return rc;
}

enum input_kind { IN_VIDEO, IN_STREAM, IN_IMAGE };

/* The first bytes of stdin without consuming them: pread for a file;
 * for a pipe, tee(2) copies what the pipe holds into a pipe of our own and
 * leaves it in place for whoever reads stdin next. Returns the count. */
static size_t peek_stdin(unsigned char *m, size_t size)
{
    struct stat sb;
    if (fstat(0, &sb) < 0)
        return 0;
    if (S_ISREG(sb.st_mode)) {
        ssize_t got = pread(0, m, size, lseek(0, 0, SEEK_CUR));
        return got > 0 ? (size_t)got : 0;
    }
    int p[2];
    if (!S_ISFIFO(sb.st_mode) || pipe(p) < 0)
        return 0;
    ssize_t got = 0;
    /* tee waits for the first bytes; a writer that sends fewer than size
     * at first gets a moment (up to a second) to send the rest. */
    for (int tries = 0; tries < 1000; tries++) {
        got = tee(0, p[1], size, 0);
        if (got <= 0 || (size_t)got >= size)
            break;
        if (read(p[0], m, (size_t)got) != got)
            break;
        usleep(1000);
    }
    if (got > 0 && read(p[0], m, (size_t)got) != got)
        got = 0;
    close(p[0]);
    close(p[1]);
    return got > 0 ? (size_t)got : 0;
}

/* Decide by content, as file(1) would. */
static int input_kind(const char *path, const struct cmdline *c)
{
    if (c->format)
        return IN_VIDEO;
    unsigned char m[8] = {0};
    size_t n = 0;
    if (!strcmp(path, "-")) {
        n = peek_stdin(m, sizeof m);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f)
            return IN_VIDEO; /* FFmpeg reports why it cannot be opened */
        n = fread(m, 1, sizeof m, f);
        fclose(f);
    }
    if (n >= 4 && !memcmp(m, RN_STREAM_MAGIC, 4))
        return IN_STREAM;
    if ((n >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8)) ||
        (n >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff) ||
        (n >= 2 && m[0] == 'P' && m[1] >= '1' && m[1] <= '7' &&
         (m[2] == ' ' || m[2] == '\n' || m[2] == '\r' || m[2] == '\t')))
        return IN_IMAGE;
    /* A file named like an image is one: the image decoders say best
     * what is wrong with it. */
    if (rn_image_format_from_name(path) != RN_IMAGE_UNKNOWN)
        return IN_IMAGE;
    return IN_VIDEO;
}

static int run_decode(const struct cmdline *c, int n, char **inputs)
{
    struct dec d = {.c = c, .pick = {.c = c}};
    struct rn_err e = {0};
    if (rn_stream_writer_open(&d.w, "-", &e) < 0)
        return rn_report(&e);
    int status = RN_EXIT_OK;
    for (int i = 0; (i == 0 || i < n) && !pick_done(&d.pick); i++) {
        const char *path = n ? inputs[i] : "-";
        int rc;
        switch (input_kind(path, c)) {
        case IN_STREAM: rc = decode_stream(&d, path, &e); break;
        case IN_IMAGE: rc = decode_image(&d, path, &e); break;
        default: rc = decode_video(&d, path, &e); break;
        }
        if (rc < 0) {
            status = rn_report(&e);
            break;
        }
    }
    rn_image_free(&d.tmp);
    rn_scaler_free(&d.sc);
    /* A failed input must not leave a complete-looking stream behind. */
    if (status != RN_EXIT_OK)
        rn_stream_writer_abort(&d.w);
    else if (rn_stream_writer_close(&d.w, &e) < 0)
        status = rn_report(&e);
    rn_log(RN_LOG_DEBUG, "%lld frames written", d.pick.kept);
    return status;
}

/* ---- encode: frame records to a file ---------------------------------------- */

static int run_encode(const struct cmdline *c, int n, char **inputs)
{
    struct rn_writer_opts wo = {.format = c->format, .codec = c->codec, .fps = c->fps,
                                .quality = (int)c->quality};
    struct rn_video_writer *w;
    struct rn_err e = {0};
    if (rn_video_writer_open(&w, c->output, &wo, &e) < 0)
        return rn_report(&e);
    struct pick pick = {.c = c};
    struct rn_scaler sc = {0};
    struct rn_image tmp = {0};
    struct rn_record rec = {0};
    int rc = RN_OK;
    for (int i = 0; (i == 0 || i < n) && rc >= 0 && !pick_done(&pick); i++) {
        struct rn_stream_reader r;
        if ((rc = rn_stream_reader_open(&r, n ? inputs[i] : "-", 0, &e)) < 0)
            break;
        while (!pick_done(&pick) && (rc = rn_stream_read(&r, &rec, 0, &e)) == RN_OK) {
            if (rec.kind != RN_KIND_FRAME)
                continue; /* masks and the rest have no place in a picture */
            int want = pick_wants(&pick);
            pick.seen++;
            if (!want)
                continue;
            struct rn_frame_info fi;
            struct rn_image im;
            const struct rn_image *out;
            if ((rc = rn_frame_info_parse(rec.meta, &fi, &e)) < 0) {
                rn_err_prefix(&e, "%s: record %llu: ", r.name, (unsigned long long)rec.index);
                break;
            }
            rn_image_view(&im, (int)rec.dims[1], (int)rec.dims[0], (int)rec.dims[2],
                          rec.payload);
            if ((rc = reshape(c, &sc, &im, &tmp, &out, &e)) < 0 ||
                (rc = rn_video_writer_write(w, out, &fi, &e)) < 0)
                break;
            pick.kept++;
        }
        rn_stream_reader_close(&r);
        if (rc == RN_EOF)
            rc = RN_OK;
    }
    rn_record_free(&rec);
    rn_image_free(&tmp);
    rn_scaler_free(&sc);
    if (rc < 0) {
        rn_video_writer_abort(w);
        return rn_report(&e);
    }
    if (rn_video_writer_close(w, &e) < 0)
        return rn_report(&e);
    rn_log(RN_LOG_DEBUG, "%lld frames encoded", pick.kept);
    return RN_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct rn_cli cli;
    struct cmdline c = {.count = -1, .every = 1};
    rn_cli_init(&cli, &program, argc, argv);
    if (parse_args(&c, &cli) == RN_CLI_EXIT)
        return cli.status;
    if (rn_cli_refuse_tty(&cli, c.output) == RN_CLI_EXIT)
        return cli.status;
    /* Ctrl-C ends a camera run cleanly: the stream still gets its END
     * record, the video its trailer. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int n = argc - cli.optind;
    char **inputs = argv + cli.optind;
    int status = c.output ? run_encode(&c, n, inputs) : run_decode(&c, n, inputs);
    int close_status = rn_close_stdout();
    return status ? status : close_status;
}
