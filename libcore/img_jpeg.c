/* img_jpeg — JPEG through libjpeg-turbo: gray, RGB/YCbCr and (Adobe)
 * CMYK/YCCK in, gray or RGB out; the EXIF orientation tag is applied.
 * Writing drops an alpha channel (JPEG has none).
 *
 * libjpeg reports errors through error_exit, which must not return; it
 * longjmps back into the inner function that set the jump, whose caller
 * owns every resource, as in img_png.c. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "img_private.h"

/* A progressive JPEG can declare thousands of tiny scans, each one a full
 * pass over the coefficients: a few hundred is more than any encoder
 * writes, and keeps a hostile file from costing minutes. */
#define MAX_SCANS 1000
/* libjpeg's own working memory (coefficient buffers of progressive files)
 * on top of the output image. */
#define MAX_WORK_MEMORY ((long)1 << 30)

struct jpeg_ctx {
    struct jpeg_error_mgr err;   /* first: libjpeg casts cinfo->err to this */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    const char *name;
    union {
        struct jpeg_decompress_struct d;
        struct jpeg_compress_struct c;
    } u;
    uint8_t *row;                /* scratch row (CMYK in, alpha-dropped out) */
    size_t rows_cap;             /* decoding: rows of the image allocated so far */
    unsigned char *dst;          /* jpeg_mem_dest output */
    unsigned long dst_len;
    char msg[JMSG_LENGTH_MAX];
};

static void on_error_exit(j_common_ptr cinfo)
{
    struct jpeg_ctx *cx = (struct jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, cx->msg);
    longjmp(cx->jump, 1);
}

/* libjpeg pads a file whose data runs out (at its end, or at a marker
 * before the picture is complete) with gray and only warns: here that is
 * an error, not a silently gray picture. Other corrupt-data warnings are
 * recoverable damage, decoded the way every viewer shows it. */
static void on_message(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
        struct jpeg_ctx *cx = (struct jpeg_ctx *)cinfo->err;
        snprintf(cx->msg, sizeof cx->msg, code == JWRN_JPEG_EOF ? "truncated file"
                                                                : "image data ends early");
        longjmp(cx->jump, 1);
    }
}

static void on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        struct jpeg_ctx *cx = (struct jpeg_ctx *)cinfo->err;
        snprintf(cx->msg, sizeof cx->msg, "more than %d scans", MAX_SCANS);
        longjmp(cx->jump, 1);
    }
}

static unsigned rd16(const uint8_t *p, int le)
{
    return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" segment, or 1
 * when absent or malformed (a broken tag must not make a photo unreadable). */
static int exif_orientation(const uint8_t *d, size_t n)
{
    if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0)
        return 1;
    const uint8_t *t = d + 6; /* TIFF header: offsets count from here */
    size_t tn = n - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I')
        le = 1;
    else if (t[0] == 'M' && t[1] == 'M')
        le = 0;
    else
        return 1;
    if (rd16(t + 2, le) != 42)
        return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > tn || tn - ifd < 2)
        return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t at = ifd + 2 + (size_t)i * 12;
        if (at + 12 > tn)
            return 1;
        if (rd16(t + at, le) == 0x0112 && rd16(t + at + 2, le) == 3 /* SHORT */) {
            unsigned v = rd16(t + at + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

static int decode_inner(struct jpeg_ctx *cx, const uint8_t *data, size_t len,
                        struct rn_image *im, int *orientation, struct rn_err *e)
{
    struct jpeg_decompress_struct *d = &cx->u.d;
    if (setjmp(cx->jump))
        return rn_err_set(e, RN_EFORMAT, cx->name, "corrupt JPEG: %s", cx->msg);
    jpeg_create_decompress(d);
    d->mem->max_memory_to_use = MAX_WORK_MEMORY;
    cx->progress.progress_monitor = on_progress;
    d->progress = &cx->progress;
    jpeg_mem_src(d, data, (unsigned long)len);
    jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(d, TRUE);
    int rc = rn_image_check_size(d->image_width, d->image_height, 1, cx->name, e);
    if (rc < 0)
        return rc;
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && (*orientation = exif_orientation(m->data,
                                                                          m->data_length)) != 1)
            break;
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    int c = d->num_components == 1 ? 1 : 3;
    d->out_color_space = cmyk ? JCS_CMYK : c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(d);
    /* Rows are allocated as they are decoded: a cut baseline file costs
     * what it holds, not what it declares. */
    if ((rc = rn_image_begin(im, (int)d->output_width, (int)d->output_height, c, cx->name,
                             e)) < 0)
        return rc;
    if (cmyk && !(cx->row = malloc((size_t)d->output_width * 4)))
        return rn_err_set(e, RN_ENOMEM, cx->name, "out of memory");
    while (d->output_scanline < d->output_height) {
        if ((rc = rn_image_reserve(im, (int)d->output_scanline + 1, &cx->rows_cap, cx->name,
                                   e)) < 0)
            return rc;
        uint8_t *out = im->data + (size_t)d->output_scanline * im->w * c;
        JSAMPROW row = cmyk ? cx->row : out;
        if (jpeg_read_scanlines(d, &row, 1) != 1)
            return rn_err_set(e, RN_EFORMAT, cx->name, "corrupt JPEG: no scanline");
        /* Adobe writes CMYK inverted (255 = no ink), so R = C * K / 255. */
        for (int x = 0; cmyk && x < im->w; x++) {
            unsigned k = cx->row[4 * x + 3];
            for (int j = 0; j < 3; j++)
                out[3 * x + j] = (uint8_t)((cx->row[4 * x + j] * k + 127) / 255);
        }
    }
    jpeg_finish_decompress(d);
    return RN_OK;
}

int rn_jpeg_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                   struct rn_err *e)
{
    struct jpeg_ctx *cx = calloc(1, sizeof *cx);
    memset(im, 0, sizeof *im);
    if (!cx)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    cx->name = name;
    cx->u.d.err = jpeg_std_error(&cx->err);
    cx->err.error_exit = on_error_exit;
    cx->err.emit_message = on_message;
    int orientation = 1;
    int rc = decode_inner(cx, data, len, im, &orientation, e);
    jpeg_destroy_decompress(&cx->u.d);
    free(cx->row);
    free(cx);
    if (rc == RN_OK && orientation != 1) {
        struct rn_image turned;
        rc = rn_image_orient(im, orientation, &turned, e);
        rn_image_free(im);
        if (rc == RN_OK)
            *im = turned;
    }
    if (rc < 0)
        rn_image_free(im);
    return rc;
}

static int encode_inner(struct jpeg_ctx *cx, const struct rn_image *im, int quality,
                        struct rn_err *e)
{
    struct jpeg_compress_struct *c = &cx->u.c;
    if (setjmp(cx->jump))
        return rn_err_set(e, RN_EIO, cx->name, "JPEG encoder: %s", cx->msg);
    jpeg_create_compress(c);
    jpeg_mem_dest(c, &cx->dst, &cx->dst_len);
    int gray = im->c <= 2;
    c->image_width = (JDIMENSION)im->w;
    c->image_height = (JDIMENSION)im->h;
    c->input_components = gray ? 1 : 3;
    c->in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    int drop_alpha = im->c == 2 || im->c == 4;
    if (drop_alpha && !(cx->row = malloc((size_t)im->w * 3)))
        return rn_err_set(e, RN_ENOMEM, cx->name, "out of memory");
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        const uint8_t *in = im->data + (size_t)c->next_scanline * im->w * im->c;
        JSAMPROW row = (JSAMPROW)in;
        if (drop_alpha) {
            int k = c->input_components;
            for (int x = 0; x < im->w; x++)
                memcpy(cx->row + (size_t)x * k, in + (size_t)x * im->c, (size_t)k);
            row = cx->row;
        }
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return RN_OK;
}

int rn_jpeg_encode(const struct rn_image *im, int quality, const char *name, uint8_t **out,
                   size_t *out_len, struct rn_err *e)
{
    struct jpeg_ctx *cx = calloc(1, sizeof *cx);
    *out = NULL;
    *out_len = 0;
    if (!cx)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    cx->name = name;
    cx->u.c.err = jpeg_std_error(&cx->err);
    cx->err.error_exit = on_error_exit;
    cx->err.emit_message = on_message;
    int rc = encode_inner(cx, im, quality, e);
    jpeg_destroy_compress(&cx->u.c);
    if (rc == RN_OK) {
        /* jpeg_mem_dest's buffer comes from malloc: hand it over as is. */
        *out = cx->dst;
        *out_len = cx->dst_len;
    } else {
        free(cx->dst);
    }
    free(cx->row);
    free(cx);
    return rc;
}
