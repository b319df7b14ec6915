/* video — see video.h. FFmpeg's send/receive decoding and encoding, with
 * libswscale between FFmpeg's pixel formats and runnel's 8-bit interleaved
 * images. FFmpeg's own log lines are routed to rn_log at debug level (-v),
 * never printed on their own. */
#include "video.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "io.h"
#include "log.h"

/* ---- shared -------------------------------------------------------------- */

static void on_av_log(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    if (level > AV_LOG_WARNING || rn_log_level() < RN_LOG_DEBUG)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (n)
        rn_log(RN_LOG_DEBUG, "ffmpeg: %s", line);
}

static pthread_once_t av_once = PTHREAD_ONCE_INIT;

static void av_setup(void)
{
    av_log_set_callback(on_av_log);
    avdevice_register_all();
}

static int av_fail(struct rn_err *e, int code, const char *where, int averr, const char *what)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, buf, sizeof buf);
    return rn_err_set(e, code, where, "%s: %s", what, buf);
}

static enum AVPixelFormat pixfmt_of(int c)
{
    static const enum AVPixelFormat f[5] = {AV_PIX_FMT_NONE, AV_PIX_FMT_GRAY8, AV_PIX_FMT_YA8,
                                            AV_PIX_FMT_RGB24, AV_PIX_FMT_RGBA};
    return c >= 1 && c <= 4 ? f[c] : AV_PIX_FMT_NONE;
}

/* Ensure im is an owned w x h x c image, reallocating only on a change. */
static int image_shape(struct rn_image *im, int w, int h, int c, struct rn_err *e)
{
    if (im->data && im->owned && im->w == w && im->h == h && im->c == c)
        return RN_OK;
    rn_image_free(im);
    return rn_image_new(im, w, h, c, e);
}

/* ---- conversion ---------------------------------------------------------- */

int rn_scaler_run(struct rn_scaler *s, const struct rn_image *src, int w, int h, int c,
                  struct rn_image *dst, struct rn_err *e)
{
    int rc = image_shape(dst, w, h, c, e);
    if (rc < 0)
        return rc;
    struct SwsContext *sws = sws_getCachedContext(s->sws_, src->w, src->h, pixfmt_of(src->c), w,
                                                  h, pixfmt_of(c), SWS_BICUBIC, NULL, NULL, NULL);
    if (!sws)
        return rn_err_set(e, RN_EUNSUPPORTED, NULL, "cannot convert %dx%dx%d to %dx%dx%d",
                          src->w, src->h, src->c, w, h, c);
    s->sws_ = sws;
    const uint8_t *in[4] = {src->data};
    int in_stride[4] = {src->w * src->c};
    uint8_t *out[4] = {dst->data};
    int out_stride[4] = {w * c};
    sws_scale(sws, in, in_stride, 0, src->h, out, out_stride);
    return RN_OK;
}

void rn_scaler_free(struct rn_scaler *s)
{
    if (!s)
        return;
    sws_freeContext(s->sws_);
    s->sws_ = NULL;
}

void rn_video_fit(int w, int h, int size_w, int size_h, int max_side, int *out_w, int *out_h)
{
    *out_w = w;
    *out_h = h;
    if (size_w > 0 && size_h > 0) {
        *out_w = size_w;
        *out_h = size_h;
    } else if (max_side > 0 && (w > max_side || h > max_side)) {
        double s = (double)max_side / (w > h ? w : h);
        *out_w = (int)lround(w * s);
        *out_h = (int)lround(h * s);
    }
    if (*out_w < 1)
        *out_w = 1;
    if (*out_h < 1)
        *out_h = 1;
}

/* ---- reading ------------------------------------------------------------- */

struct rn_video_reader {
    struct rn_video_opts o;
    char source[RN_SOURCE_MAX];
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;            /* the current decoded frame */
    int stream;
    double tb;                 /* stream time base, seconds */
    double fps;                /* stream rate (0: unknown) */
    int rotation;              /* degrees clockwise to display */
    int eof_sent;
    int64_t decoded, damaged;  /* frames decoded; packets the decoder refused */
    double t0, last_t;         /* first timestamp; the current frame's */
    int t0_set;
    int64_t index;             /* frames handed out */
    int64_t pending;           /* more outputs of the current frame */
    int64_t slot;              /* next output slot with fps resampling */
    double slot_t;             /* time of the output being handed out */
    int converted;             /* out holds the current frame */
    struct SwsContext *sws;
    struct rn_image conv, out; /* scaled, then rotated (out may be conv's view) */
};

static int interrupted(void *opaque)
{
    const struct rn_video_reader *v = opaque;
    return v->o.stop && *v->o.stop;
}

int rn_video_open(struct rn_video_reader **out, const char *url, const struct rn_video_opts *o,
                  struct rn_err *e)
{
    pthread_once(&av_once, av_setup);
    *out = NULL;
    const char *name = rn_io_name(url, 0);
    const AVInputFormat *ifmt = NULL;
    if (o->format && !(ifmt = av_find_input_format(o->format)))
        return rn_err_set(e, RN_EUSAGE, name, "unknown input format or device \"%s\"",
                          o->format);
    struct rn_video_reader *v = calloc(1, sizeof *v);
    if (!v)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    v->o = *o;
    v->o.format = NULL; /* not kept: the caller's string */
    snprintf(v->source, sizeof v->source, "%s", name);
    int rc = RN_OK, ret;
    if (!(v->fmt = avformat_alloc_context()) || !(v->pkt = av_packet_alloc()) ||
        !(v->frame = av_frame_alloc())) {
        rc = rn_err_set(e, RN_ENOMEM, name, "out of memory");
        goto fail;
    }
    v->fmt->interrupt_callback = (AVIOInterruptCB){interrupted, v};
    const char *path = !url || !strcmp(url, "-") ? "pipe:0" : url;
    if ((ret = avformat_open_input(&v->fmt, path, ifmt, NULL)) < 0) {
        int code = ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EISDIR)
                       ? RN_EIO
                       : RN_EFORMAT;
        rc = av_fail(e, code, name, ret,
                     code == RN_EIO ? "cannot open" : "not a picture or video FFmpeg can read");
        goto fail;
    }
    if ((ret = avformat_find_stream_info(v->fmt, NULL)) < 0) {
        rc = av_fail(e, RN_EFORMAT, name, ret, "cannot read stream information");
        goto fail;
    }
    const AVCodec *codec = NULL;
    v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (v->stream < 0 || !codec) {
        rc = rn_err_set(e, RN_EFORMAT, name,
                        v->stream == AVERROR_DECODER_NOT_FOUND ? "no decoder for its video"
                                                               : "no video stream");
        goto fail;
    }
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != v->stream)
            v->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = v->fmt->streams[v->stream];
    if (!(v->dec = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(v->dec, st->codecpar) < 0) {
        rc = rn_err_set(e, RN_ENOMEM, name, "out of memory");
        goto fail;
    }
    v->dec->thread_count = 0; /* FFmpeg picks: one per core */
    v->dec->pkt_timebase = st->time_base;
    if ((ret = avcodec_open2(v->dec, codec, NULL)) < 0) {
        rc = av_fail(e, RN_EFORMAT, name, ret, "cannot open the decoder");
        goto fail;
    }
    v->tb = av_q2d(st->time_base);
    AVRational r = av_guess_frame_rate(v->fmt, st, NULL);
    v->fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    /* Players turn the picture by the display matrix; so do we. */
    const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (dm) {
        double theta = -av_display_rotation_get((const int32_t *)dm);
        if (isfinite(theta)) {
            int q = (int)lround(theta / 90.0) % 4;
            v->rotation = (q < 0 ? q + 4 : q) * 90;
        }
    }
    *out = v;
    return RN_OK;
fail:
    rn_video_close(v);
    return rc;
}

double rn_video_fps(const struct rn_video_reader *v)
{
    return v->fps;
}

int rn_video_rotation(const struct rn_video_reader *v)
{
    return v->rotation;
}

/* Decode the next frame into v->frame: RN_OK, RN_EOF, or an error. */
static int decode_next(struct rn_video_reader *v, struct rn_err *e)
{
    for (;;) {
        if (interrupted(v))
            return RN_EOF;
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == 0) {
            v->decoded++;
            return RN_OK;
        }
        if (ret == AVERROR_EOF) {
            if (v->decoded == 0 && v->damaged)
                return rn_err_set(e, RN_EFORMAT, v->source,
                                  "no frame could be decoded (%lld damaged packets)",
                                  (long long)v->damaged);
            if (v->decoded == 0)
                return rn_err_set(e, RN_EFORMAT, v->source, "no video frames");
            return RN_EOF;
        }
        if (ret != AVERROR(EAGAIN))
            return av_fail(e, RN_EFORMAT, v->source, ret, "cannot decode");
        ret = av_read_frame(v->fmt, v->pkt);
        if (ret == AVERROR_EXIT)
            return RN_EOF; /* interrupted by o.stop */
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(v->fmt->pb))) {
            if (v->eof_sent)
                return RN_EOF;
            v->eof_sent = 1;
            avcodec_send_packet(v->dec, NULL); /* drain the decoder */
            continue;
        }
        if (ret < 0)
            return av_fail(e, RN_EIO, v->source, ret, "cannot read");
        if (v->pkt->stream_index == v->stream) {
            ret = avcodec_send_packet(v->dec, v->pkt);
            /* A damaged packet costs its frame, as in every player; the
             * stream goes on. */
            v->damaged += ret == AVERROR_INVALIDDATA;
            if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EAGAIN)) {
                av_packet_unref(v->pkt);
                return av_fail(e, RN_EFORMAT, v->source, ret, "cannot decode");
            }
        }
        av_packet_unref(v->pkt);
    }
}

/* The current frame's time in seconds from the stream start, into
 * v->last_t; a frame without a timestamp follows the previous one by the
 * stream's frame period. */
static void frame_time(struct rn_video_reader *v)
{
    int64_t pts = v->frame->best_effort_timestamp;
    double t;
    if (pts != AV_NOPTS_VALUE)
        t = pts * v->tb;
    else
        t = v->t0_set ? v->last_t + v->t0 + (v->fps > 0 ? 1 / v->fps : 0) : 0;
    if (!v->t0_set) {
        int64_t start = v->fmt->streams[v->stream]->start_time;
        v->t0 = start != AV_NOPTS_VALUE && start * v->tb <= t ? start * v->tb : t;
        v->t0_set = 1;
    }
    v->last_t = t - v->t0 > 0 ? t - v->t0 : 0;
}

static int convert(struct rn_video_reader *v, struct rn_err *e)
{
    const AVFrame *f = v->frame;
    int turned = v->rotation == 90 || v->rotation == 270;
    int dw = turned ? f->height : f->width, dh = turned ? f->width : f->height;
    int ow, oh;
    rn_video_fit(dw, dh, v->o.size_w, v->o.size_h, v->o.max_side, &ow, &oh);
    int c = v->o.gray ? 1 : 3;
    int tw = turned ? oh : ow, th = turned ? ow : oh;
    int rc = image_shape(&v->conv, tw, th, c, e);
    if (rc < 0)
        return rc;
    /* Deprecated full-range "J" formats: the plain format plus a range. */
    enum AVPixelFormat pf = f->format;
    int full = f->color_range == AVCOL_RANGE_JPEG;
    switch (pf) {
    case AV_PIX_FMT_YUVJ420P: pf = AV_PIX_FMT_YUV420P, full = 1; break;
    case AV_PIX_FMT_YUVJ422P: pf = AV_PIX_FMT_YUV422P, full = 1; break;
    case AV_PIX_FMT_YUVJ444P: pf = AV_PIX_FMT_YUV444P, full = 1; break;
    case AV_PIX_FMT_YUVJ440P: pf = AV_PIX_FMT_YUV440P, full = 1; break;
    default: break;
    }
    v->sws = sws_getCachedContext(v->sws, f->width, f->height, pf, tw, th, pixfmt_of(c),
                                  SWS_BICUBIC, NULL, NULL, NULL);
    if (!v->sws)
        return rn_err_set(e, RN_EUNSUPPORTED, v->source, "cannot convert pixel format %s",
                          av_get_pix_fmt_name(f->format));
    int *inv, *table, src_range, dst_range, bri, con, sat;
    if (sws_getColorspaceDetails(v->sws, &inv, &src_range, &table, &dst_range, &bri, &con,
                                 &sat) >= 0) {
        const int *coefs = sws_getCoefficients(f->colorspace == AVCOL_SPC_UNSPECIFIED
                                                   ? SWS_CS_DEFAULT
                                                   : (int)f->colorspace);
        sws_setColorspaceDetails(v->sws, coefs, full, table, dst_range, bri, con, sat);
    }
    uint8_t *out[4] = {v->conv.data};
    int stride[4] = {tw * c};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, out, stride);
    if (!turned && v->rotation == 0) {
        rn_image_view(&v->out, tw, th, c, v->conv.data);
    } else {
        rn_image_free(&v->out);
        rc = rn_image_orient(&v->conv, v->rotation == 90 ? 6 : v->rotation == 180 ? 3 : 8,
                             &v->out, e);
        if (rc < 0)
            return rc;
    }
    v->converted = 1;
    return RN_OK;
}

int rn_video_read(struct rn_video_reader *v, struct rn_image *im, struct rn_frame_info *fi,
                  int flags, struct rn_err *e)
{
    while (v->pending == 0) {
        int rc = decode_next(v, e);
        if (rc != RN_OK)
            return rc;
        frame_time(v);
        v->converted = 0;
        if (v->o.fps <= 0) {
            v->pending = 1;
            v->slot_t = v->last_t;
            continue;
        }
        /* This frame fills every output slot k/fps that starts before it
         * ends (by the stream's rate): none when the output is slower,
         * several when it is faster. A jump in time skips the gap. */
        double R = v->o.fps, end = v->last_t + (v->fps > 0 ? 1 / v->fps : 1 / R);
        if (v->slot / R < v->last_t - 60)
            v->slot = (int64_t)ceil(v->last_t * R);
        int64_t first = v->slot;
        while (v->slot / R < end - 1e-9)
            v->slot++;
        v->pending = v->slot - first;
        v->slot_t = first / R;
    }
    if (!(flags & RN_VIDEO_SKIP)) {
        if (!v->converted) {
            int rc = convert(v, e);
            if (rc < 0)
                return rc;
        }
        *im = v->out;
        im->owned = 0;
    }
    memset(fi, 0, sizeof *fi);
    fi->index = v->index++;
    fi->t = v->slot_t;
    fi->fps = v->o.fps > 0 ? v->o.fps : v->fps;
    snprintf(fi->source, sizeof fi->source, "%s", v->source);
    v->pending--;
    if (v->o.fps > 0)
        v->slot_t += 1 / v->o.fps;
    return RN_OK;
}

void rn_video_close(struct rn_video_reader *v)
{
    if (!v)
        return;
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    av_packet_free(&v->pkt);
    av_frame_free(&v->frame);
    sws_freeContext(v->sws);
    rn_image_free(&v->out);
    rn_image_free(&v->conv);
    free(v);
}

/* ---- writing ------------------------------------------------------------- */

struct rn_video_writer {
    struct rn_writer_opts o;
    char *path;                /* as given ("-": stdout) */
    const char *name;          /* for messages */
    int still;                 /* image files, not FFmpeg */
    int pattern;               /* still: path holds a %d */
    int64_t count;
    /* FFmpeg outputs */
    const AVOutputFormat *ofmt;
    const AVCodec *codec;
    struct rn_outfile out;
    int out_open;
    struct rn_err io_err;      /* the first failed write under FFmpeg's callbacks */
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
};

/* Expand the one %d / %0Nd of a still-image pattern; "%%" is a percent.
 * Returns -1 unless the pattern has exactly one number conversion. */
static int expand_pattern(const char *pat, int64_t n, char *out, size_t size)
{
    size_t o = 0;
    int convs = 0;
    for (const char *p = pat; *p; p++) {
        char piece[32];
        const char *add = piece;
        if (*p != '%') {
            piece[0] = *p, piece[1] = 0;
        } else if (p[1] == '%') {
            piece[0] = '%', piece[1] = 0;
            p++;
        } else {
            int width = 0;
            p++;
            if (*p == '0')
                p++;
            while (*p >= '0' && *p <= '9' && width < 100)
                width = width * 10 + (*p++ - '0');
            if (*p != 'd' || width > 20 || ++convs > 1)
                return -1;
            snprintf(piece, sizeof piece, "%0*lld", width, (long long)n);
        }
        size_t len = strlen(add);
        if (o + len >= size)
            return -1;
        memcpy(out + o, add, len);
        o += len;
    }
    out[o] = 0;
    return convs == 1 ? 0 : -1;
}

int64_t rn_video_writer_count(const struct rn_video_writer *w)
{
    return w->count;
}

int rn_video_writer_open(struct rn_video_writer **out, const char *path,
                         const struct rn_writer_opts *o, struct rn_err *e)
{
    pthread_once(&av_once, av_setup);
    *out = NULL;
    const char *name = rn_io_name(path, 1);
    int to_stdout = !path || !strcmp(path, "-");
    struct rn_video_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(to_stdout ? "-" : path))) {
        free(w);
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    }
    w->o = *o;
    w->o.format = w->o.codec = NULL; /* the caller's strings: resolved below */
    w->name = rn_io_name(w->path, 1);
    int rc = RN_OK;
    if (o->quality < 0 || o->quality > 100) {
        rc = rn_err_set(e, RN_EUSAGE, w->name, "quality %d is not in 1..100", o->quality);
        goto fail;
    }
    if (!o->format && !to_stdout && rn_image_format_from_name(path) != RN_IMAGE_UNKNOWN) {
        char probe[4096];
        w->still = 1;
        w->pattern = strchr(path, '%') != NULL;
        if (w->pattern && expand_pattern(path, 0, probe, sizeof probe) < 0) {
            rc = rn_err_set(e, RN_EUSAGE, w->name,
                            "a numbered output needs exactly one %%d or %%0Nd (%%%% for a %%)");
            goto fail;
        }
        *out = w;
        return RN_OK;
    }
    /* A named format must exist: av_guess_format would otherwise fall back
     * to the file name and hide the typo. */
    if (!(w->ofmt = o->format ? av_guess_format(o->format, NULL, NULL)
                              : av_guess_format(NULL, to_stdout ? NULL : path, NULL))) {
        rc = o->format ? rn_err_set(e, RN_EUSAGE, w->name, "unknown output format \"%s\"",
                                    o->format)
                       : rn_err_set(e, RN_EUSAGE, w->name,
                                    to_stdout ? "writing video to stdout needs --format"
                                              : "cannot tell the output format from the name "
                                                "(name it .mp4, .mkv, .gif, .png, ... or use "
                                                "--format)");
        goto fail;
    }
    if (o->codec)
        w->codec = avcodec_find_encoder_by_name(o->codec);
    else if (w->ofmt->video_codec != AV_CODEC_ID_NONE)
        w->codec = avcodec_find_encoder(w->ofmt->video_codec);
    if (!w->codec || w->codec->type != AVMEDIA_TYPE_VIDEO) {
        rc = o->codec ? rn_err_set(e, RN_EUSAGE, w->name, "unknown video encoder \"%s\"",
                                   o->codec)
                      : rn_err_set(e, RN_EUNSUPPORTED, w->name,
                                   "no video encoder for the %s format", w->ofmt->name);
        goto fail;
    }
    /* Create the (temporary) output now, so an unwritable place is
     * reported before any decoding work is done. */
    if ((rc = rn_outfile_open(&w->out, to_stdout ? NULL : path, e)) < 0)
        goto fail;
    w->out_open = 1;
    *out = w;
    return RN_OK;
fail:
    rn_video_writer_abort(w);
    return rc;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
static int io_write(void *opaque, const uint8_t *buf, int n)
#else
static int io_write(void *opaque, uint8_t *buf, int n)
#endif
{
    struct rn_video_writer *w = opaque;
    if (rn_outfile_write(&w->out, buf, (size_t)n, &w->io_err) < 0)
        return AVERROR(EIO);
    return n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
    struct rn_video_writer *w = opaque;
    if (!w->out.path)
        return AVERROR(ESPIPE);
    if (whence == AVSEEK_SIZE) {
        struct stat sb;
        return fstat(w->out.fd, &sb) < 0 ? AVERROR(errno) : sb.st_size;
    }
    off_t r = lseek(w->out.fd, off, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : r;
}

static enum AVPixelFormat pick_pixfmt(const AVCodec *codec, int c)
{
    const enum AVPixelFormat *list = codec->pix_fmts;
    if (!list)
        return AV_PIX_FMT_YUV420P;
    enum AVPixelFormat ok[64];
    int n = 0, has420 = 0, alpha = c == 2 || c == 4;
    for (const enum AVPixelFormat *p = list; *p != AV_PIX_FMT_NONE && n < 63; p++)
        if (sws_isSupportedOutput(*p)) {
            ok[n++] = *p;
            has420 |= *p == AV_PIX_FMT_YUV420P;
        }
    ok[n] = AV_PIX_FMT_NONE;
    if (!n)
        return AV_PIX_FMT_NONE;
    enum AVPixelFormat best = avcodec_find_best_pix_fmt_of_list(ok, pixfmt_of(c), alpha, NULL);
    /* Alpha kept where the codec can store it; otherwise the format every
     * player reads, where the codec has it; else the least lossy one. */
    if (alpha && (av_pix_fmt_desc_get(best)->flags & AV_PIX_FMT_FLAG_ALPHA))
        return best;
    return has420 ? AV_PIX_FMT_YUV420P : best;
}

static int start_video(struct rn_video_writer *w, const struct rn_image *im,
                       const struct rn_frame_info *fi, struct rn_err *e)
{
    double fps = w->o.fps > 0 ? w->o.fps : fi && fi->fps > 0 ? fi->fps : 25;
    AVRational rate = av_d2q(fps, 100000);
    enum AVPixelFormat pf = pick_pixfmt(w->codec, im->c);
    if (pf == AV_PIX_FMT_NONE)
        return rn_err_set(e, RN_EUNSUPPORTED, w->name, "no pixel format for %s",
                          w->codec->name);
    /* Subsampled chroma needs sides that are multiples of its block. */
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pf);
    int mw = 1 << d->log2_chroma_w, mh = 1 << d->log2_chroma_h;
    int width = (im->w + mw - 1) / mw * mw, height = (im->h + mh - 1) / mh * mh;
    int ret = avformat_alloc_output_context2(&w->fmt, w->ofmt, NULL, NULL);
    if (ret < 0)
        return av_fail(e, RN_ENOMEM, w->name, ret, "cannot set up the muxer");
    if (!(w->st = avformat_new_stream(w->fmt, NULL)) ||
        !(w->enc = avcodec_alloc_context3(w->codec)) || !(w->pkt = av_packet_alloc()) ||
        !(w->frame = av_frame_alloc()))
        return rn_err_set(e, RN_ENOMEM, w->name, "out of memory");
    w->enc->width = width;
    w->enc->height = height;
    w->enc->pix_fmt = pf;
    w->enc->time_base = av_inv_q(rate);
    w->enc->framerate = rate;
    w->enc->sample_aspect_ratio = (AVRational){1, 1};
    w->enc->thread_count = 0;
    if (w->ofmt->flags & AVFMT_GLOBALHEADER)
        w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(w->enc, w->codec, NULL)) < 0)
        return av_fail(e, RN_EUNSUPPORTED, w->name, ret, "cannot open the encoder");
    if ((ret = avcodec_parameters_from_context(w->st->codecpar, w->enc)) < 0)
        return av_fail(e, RN_ENOMEM, w->name, ret, "cannot set up the stream");
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    w->st->sample_aspect_ratio = w->enc->sample_aspect_ratio;
    unsigned char *buf = av_malloc(1 << 16);
    if (!buf || !(w->fmt->pb = avio_alloc_context(buf, 1 << 16, 1, w, NULL, io_write,
                                                  io_seek))) {
        av_free(buf);
        return rn_err_set(e, RN_ENOMEM, w->name, "out of memory");
    }
    w->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    if (!w->out.path)
        w->fmt->pb->seekable = 0;
    if ((ret = avformat_write_header(w->fmt, NULL)) < 0) {
        if (w->io_err.code)
            return rn_err_set(e, w->io_err.code, w->io_err.where, "%s", w->io_err.msg);
        /* mp4 and friends go back to the start to finish: not on a pipe. */
        return av_fail(e, RN_EUNSUPPORTED, w->name, ret,
                       w->out.path ? "cannot start the file"
                                   : "cannot start the file on a pipe (use a file name, or a "
                                     "streamable format: nut, matroska, mpegts)");
    }
    w->frame->format = pf;
    w->frame->width = width;
    w->frame->height = height;
    if ((ret = av_frame_get_buffer(w->frame, 0)) < 0)
        return av_fail(e, RN_ENOMEM, w->name, ret, "cannot allocate a frame");
    return RN_OK;
}

/* Send a frame (NULL: flush) and write what the encoder gives back. */
static int encode(struct rn_video_writer *w, AVFrame *f, struct rn_err *e)
{
    int ret = avcodec_send_frame(w->enc, f);
    if (ret < 0)
        return av_fail(e, RN_EIO, w->name, ret, "encoder");
    for (;;) {
        ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return RN_OK;
        if (ret < 0)
            return av_fail(e, RN_EIO, w->name, ret, "encoder");
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        ret = av_interleaved_write_frame(w->fmt, w->pkt);
        if (ret < 0)
            return w->io_err.code ? rn_err_set(e, w->io_err.code, w->io_err.where, "%s",
                                               w->io_err.msg)
                                  : av_fail(e, RN_EIO, w->name, ret, "cannot write");
    }
}

int rn_video_writer_write(struct rn_video_writer *w, const struct rn_image *im,
                          const struct rn_frame_info *fi, struct rn_err *e)
{
    int rc;
    if (w->still) {
        char name[4096];
        if (!w->pattern && w->count > 0)
            return rn_err_set(e, RN_EUSAGE, w->name,
                              "holds one image; name a numbered output (out_%%04d.png) or a "
                              "video for more frames");
        if (w->pattern)
            expand_pattern(w->path, w->count, name, sizeof name);
        rc = rn_image_write(w->pattern ? name : w->path, im, RN_IMAGE_UNKNOWN, w->o.quality, e);
        if (rc == RN_OK)
            w->count++;
        return rc;
    }
    if (!w->fmt && (rc = start_video(w, im, fi, e)) < 0)
        return rc;
    int ret = av_frame_make_writable(w->frame);
    if (ret < 0)
        return av_fail(e, RN_ENOMEM, w->name, ret, "frame");
    w->sws = sws_getCachedContext(w->sws, im->w, im->h, pixfmt_of(im->c), w->frame->width,
                                  w->frame->height, w->frame->format, SWS_BICUBIC, NULL, NULL,
                                  NULL);
    if (!w->sws)
        return rn_err_set(e, RN_EUNSUPPORTED, w->name, "cannot convert frames for %s",
                          w->codec->name);
    const uint8_t *in[4] = {im->data};
    int stride[4] = {im->w * im->c};
    sws_scale(w->sws, in, stride, 0, im->h, w->frame->data, w->frame->linesize);
    w->frame->pts = w->count;
    if ((rc = encode(w, w->frame, e)) < 0)
        return rc;
    w->count++;
    return RN_OK;
}

static void release(struct rn_video_writer *w)
{
    if (w->fmt && w->fmt->pb) {
        av_freep(&w->fmt->pb->buffer);
        avio_context_free(&w->fmt->pb);
    }
    avformat_free_context(w->fmt);
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    sws_freeContext(w->sws);
    free(w->path);
    free(w);
}

int rn_video_writer_close(struct rn_video_writer *w, struct rn_err *e)
{
    int rc = RN_OK;
    if (w->count == 0) {
        rc = rn_err_set(e, RN_EFORMAT, w->name, "no frames to write");
        rn_video_writer_abort(w);
        return rc;
    }
    if (!w->still) {
        rc = encode(w, NULL, e);
        int ret;
        if (rc == RN_OK && (ret = av_write_trailer(w->fmt)) < 0)
            rc = w->io_err.code ? rn_err_set(e, w->io_err.code, w->io_err.where, "%s",
                                             w->io_err.msg)
                                : av_fail(e, RN_EIO, w->name, ret, "cannot finish the file");
        if (rc == RN_OK) {
            avio_flush(w->fmt->pb);
            if (w->fmt->pb->error < 0)
                rc = w->io_err.code ? rn_err_set(e, w->io_err.code, w->io_err.where, "%s",
                                                 w->io_err.msg)
                                    : av_fail(e, RN_EIO, w->name, w->fmt->pb->error,
                                              "cannot write");
        }
        if (rc == RN_OK)
            rc = rn_outfile_commit(&w->out, e);
        else
            rn_outfile_abort(&w->out);
        w->out_open = 0;
    }
    release(w);
    return rc;
}

void rn_video_writer_abort(struct rn_video_writer *w)
{
    if (!w)
        return;
    if (w->out_open)
        rn_outfile_abort(&w->out);
    release(w);
}
