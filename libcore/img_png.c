/* img_png — PNG through libpng. Every flavour (gray, gray+alpha, RGB, RGBA,
 * palette, 1 to 16 bits, Adam7) is read as 8-bit interleaved pixels; writes
 * are 8-bit, non-interlaced.
 *
 * libpng reports errors by longjmp. Each public function here keeps the
 * setjmp in an inner function whose only state lives in a context owned by
 * its caller, so nothing the jump skips over needs to be volatile and
 * cleanup happens in one place after the inner function returns. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_private.h"

struct png_ctx {
    const char *name;
    png_structp png;
    png_infop info;
    const uint8_t *src;        /* decoding: the encoded bytes */
    size_t src_len, src_pos;
    uint8_t *dst;              /* encoding: the growing output */
    size_t dst_len, dst_cap;
    int nomem;
    size_t rows_cap;           /* decoding: rows of the image allocated so far */
    char msg[256];             /* libpng's message when it jumped */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *cx = png_get_error_ptr(png);
    snprintf(cx->msg, sizeof cx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (bad ancillary chunks) do not stop a decode */
}

static void read_mem(png_structp png, png_bytep out, png_size_t n)
{
    struct png_ctx *cx = png_get_io_ptr(png);
    if (n > cx->src_len - cx->src_pos)
        png_error(png, "truncated file");
    memcpy(out, cx->src + cx->src_pos, n);
    cx->src_pos += n;
}

static int decode_inner(struct png_ctx *cx, struct rn_image *im, struct rn_err *e)
{
    if (setjmp(png_jmpbuf(cx->png)))
        return rn_err_set(e, RN_EFORMAT, cx->name, "corrupt PNG: %s", cx->msg);
    png_set_read_fn(cx->png, cx, read_mem);
    png_read_info(cx->png, cx->info);
    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(cx->png, cx->info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    int rc = rn_image_check_size(w, h, 1, cx->name, e);
    if (rc < 0)
        return rc;
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(cx->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(cx->png);
    if (png_get_valid(cx->png, cx->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(cx->png);
    if (depth == 16)
        png_set_scale_16(cx->png); /* rounds, where strip_16 would truncate */
    int passes = png_set_interlace_handling(cx->png);
    png_read_update_info(cx->png, cx->info);
    int c = png_get_channels(cx->png, cx->info);
    if (png_get_rowbytes(cx->png, cx->info) != (size_t)w * c)
        return rn_err_set(e, RN_EUNSUPPORTED, cx->name, "unexpected PNG row layout");
    if ((rc = rn_image_begin(im, (int)w, (int)h, c, cx->name, e)) < 0)
        return rc;
    /* Row by row (each pass, for Adam7) rather than png_read_image, so no
     * row-pointer array proportional to the height is needed, and, without
     * interlacing, memory grows only as rows really arrive. Adam7 passes
     * revisit every row, so they need the whole image up front. */
    if (passes > 1 && (rc = rn_image_reserve(im, (int)h, &cx->rows_cap, cx->name, e)) < 0)
        return rc;
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) {
            if ((rc = rn_image_reserve(im, (int)y + 1, &cx->rows_cap, cx->name, e)) < 0)
                return rc;
            png_read_row(cx->png, im->data + (size_t)y * w * c, NULL);
        }
    png_read_end(cx->png, NULL);
    return RN_OK;
}

int rn_png_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                  struct rn_err *e)
{
    struct png_ctx cx = {.name = name, .src = data, .src_len = len};
    memset(im, 0, sizeof *im);
    cx.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &cx, on_error, on_warning);
    if (cx.png)
        cx.info = png_create_info_struct(cx.png);
    if (!cx.png || !cx.info) {
        png_destroy_read_struct(cx.png ? &cx.png : NULL, NULL, NULL);
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    }
    int rc = decode_inner(&cx, im, e);
    png_destroy_read_struct(&cx.png, &cx.info, NULL);
    if (rc < 0)
        rn_image_free(im);
    return rc;
}

static void write_mem(png_structp png, png_bytep in, png_size_t n)
{
    struct png_ctx *cx = png_get_io_ptr(png);
    if (n > cx->dst_cap - cx->dst_len) {
        size_t cap = cx->dst_cap ? cx->dst_cap : 65536;
        while (cap - cx->dst_len < n)
            cap *= 2;
        uint8_t *p = realloc(cx->dst, cap);
        if (!p) {
            cx->nomem = 1;
            png_error(png, "out of memory");
        }
        cx->dst = p;
        cx->dst_cap = cap;
    }
    memcpy(cx->dst + cx->dst_len, in, n);
    cx->dst_len += n;
}

static void flush_mem(png_structp png)
{
    (void)png;
}

static int encode_inner(struct png_ctx *cx, const struct rn_image *im, struct rn_err *e)
{
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (setjmp(png_jmpbuf(cx->png)))
        return rn_err_set(e, cx->nomem ? RN_ENOMEM : RN_EIO, cx->name, "PNG encoder: %s",
                          cx->msg);
    png_set_write_fn(cx->png, cx, write_mem, flush_mem);
    png_set_IHDR(cx->png, cx->info, (png_uint_32)im->w, (png_uint_32)im->h, 8, types[im->c],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(cx->png, cx->info);
    for (int y = 0; y < im->h; y++)
        png_write_row(cx->png, im->data + (size_t)y * im->w * im->c);
    png_write_end(cx->png, NULL);
    return RN_OK;
}

int rn_png_encode(const struct rn_image *im, const char *name, uint8_t **out, size_t *out_len,
                  struct rn_err *e)
{
    struct png_ctx cx = {.name = name};
    *out = NULL;
    *out_len = 0;
    cx.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &cx, on_error, on_warning);
    if (cx.png)
        cx.info = png_create_info_struct(cx.png);
    if (!cx.png || !cx.info) {
        png_destroy_write_struct(cx.png ? &cx.png : NULL, NULL);
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    }
    int rc = encode_inner(&cx, im, e);
    png_destroy_write_struct(&cx.png, &cx.info);
    if (rc < 0) {
        free(cx.dst);
        return rc;
    }
    *out = cx.dst;
    *out_len = cx.dst_len;
    return RN_OK;
}
