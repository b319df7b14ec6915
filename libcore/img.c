/* img — see img.h. This file picks the codec (by magic bytes to read, by
 * extension to write) and owns the image buffers; the codecs live in
 * img_png.c, img_jpeg.c and img_pnm.c. */
#include "img.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "img_private.h"
#include "io.h"

/* Encoded files larger than this are refused before they are read: no
 * legitimate 2^28-pixel image needs more. */
#define IMAGE_FILE_MAX ((size_t)1 << 30)

int rn_image_check_size(uint64_t w, uint64_t h, int c, const char *name, struct rn_err *e)
{
    if (w == 0 || h == 0)
        return rn_err_set(e, RN_EFORMAT, name, "image has zero size (%llux%llu)",
                          (unsigned long long)w, (unsigned long long)h);
    if (c < 1 || c > 4)
        return rn_err_set(e, RN_EUNSUPPORTED, name, "%d channels (1 to 4 supported)", c);
    if (w > RN_IMAGE_MAX_PIXELS || h > RN_IMAGE_MAX_PIXELS || w * h > RN_IMAGE_MAX_PIXELS)
        return rn_err_set(e, RN_ELIMIT, name,
                          "image size %llux%llu exceeds the limit of %llu pixels",
                          (unsigned long long)w, (unsigned long long)h,
                          (unsigned long long)RN_IMAGE_MAX_PIXELS);
    return RN_OK;
}

int rn_image_new(struct rn_image *im, int w, int h, int c, struct rn_err *e)
{
    memset(im, 0, sizeof *im);
    int rc = rn_image_check_size(w < 0 ? 0 : (uint64_t)w, h < 0 ? 0 : (uint64_t)h, c, NULL, e);
    if (rc < 0)
        return rc;
    im->data = calloc((size_t)w * h, (size_t)c);
    if (!im->data)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for a %dx%d image", w, h);
    im->w = w;
    im->h = h;
    im->c = c;
    im->owned = 1;
    return RN_OK;
}

int rn_image_begin(struct rn_image *im, int w, int h, int c, const char *name, struct rn_err *e)
{
    memset(im, 0, sizeof *im);
    int rc = rn_image_check_size(w < 0 ? 0 : (uint64_t)w, h < 0 ? 0 : (uint64_t)h, c, name, e);
    if (rc < 0)
        return rc;
    im->w = w;
    im->h = h;
    im->c = c;
    im->owned = 1;
    return RN_OK;
}

int rn_image_reserve(struct rn_image *im, int rows, size_t *cap, const char *name,
                     struct rn_err *e)
{
    if ((size_t)rows <= *cap)
        return RN_OK;
    size_t want = *cap ? *cap * 2 : 64;
    want = want < (size_t)rows ? (size_t)rows : want;
    want = want < (size_t)im->h ? want : (size_t)im->h;
    uint8_t *p = realloc(im->data, want * im->w * im->c);
    if (!p)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory for a %dx%d image", im->w, im->h);
    im->data = p;
    *cap = want;
    return RN_OK;
}

void rn_image_view(struct rn_image *im, int w, int h, int c, uint8_t *data)
{
    im->w = w;
    im->h = h;
    im->c = c;
    im->data = data;
    im->owned = 0;
}

void rn_image_free(struct rn_image *im)
{
    if (!im)
        return;
    if (im->owned)
        free(im->data);
    memset(im, 0, sizeof *im);
}

int rn_image_read_mem(const void *data, size_t len, const char *name, struct rn_image *im,
                      struct rn_err *e)
{
    const uint8_t *p = data;
    memset(im, 0, sizeof *im);
    if (len == 0)
        return rn_err_set(e, RN_EFORMAT, name, "empty file, not an image");
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return rn_png_decode(p, len, name, im, e);
    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return rn_jpeg_decode(p, len, name, im, e);
    if (len >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
        return rn_pnm_decode(p, len, name, im, e);
    return rn_err_set(e, RN_EFORMAT, name, "not a PNG, JPEG or PNM/PAM image");
}

int rn_image_read(const char *path, struct rn_image *im, struct rn_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    memset(im, 0, sizeof *im);
    int rc = rn_read_file(path, IMAGE_FILE_MAX, &buf, &len, e);
    if (rc < 0)
        return rc;
    rc = rn_image_read_mem(buf, len, rn_io_name(path, 0), im, e);
    free(buf);
    return rc;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "";
}

int rn_image_format_from_name(const char *path)
{
    if (!path)
        return RN_IMAGE_UNKNOWN;
    const char *x = extension(path);
    if (!strcasecmp(x, "png"))
        return RN_IMAGE_PNG;
    if (!strcasecmp(x, "jpg") || !strcasecmp(x, "jpeg"))
        return RN_IMAGE_JPEG;
    if (!strcasecmp(x, "pnm") || !strcasecmp(x, "ppm") || !strcasecmp(x, "pgm") ||
        !strcasecmp(x, "pam"))
        return RN_IMAGE_PNM;
    return RN_IMAGE_UNKNOWN;
}

int rn_image_write(const char *path, const struct rn_image *im, int fmt, int quality,
                   struct rn_err *e)
{
    const char *name = rn_io_name(path, 1);
    int to_stdout = !path || !strcmp(path, "-");
    if (fmt == RN_IMAGE_UNKNOWN)
        fmt = to_stdout ? RN_IMAGE_PNG : rn_image_format_from_name(path);
    if (fmt == RN_IMAGE_UNKNOWN)
        return rn_err_set(e, RN_EUSAGE, name,
                          "unknown image type (use .png, .jpg, .jpeg, .pnm, .ppm, .pgm or .pam)");
    if (quality < 0 || quality > 100)
        return rn_err_set(e, RN_EUSAGE, name, "JPEG quality %d is not in 1..100", quality);
    int rc = rn_image_check_size((uint64_t)(im->w > 0 ? im->w : 0),
                                 (uint64_t)(im->h > 0 ? im->h : 0), im->c, name, e);
    if (rc < 0)
        return rc;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fmt == RN_IMAGE_PNG)
        rc = rn_png_encode(im, name, &buf, &len, e);
    else if (fmt == RN_IMAGE_JPEG)
        rc = rn_jpeg_encode(im, quality ? quality : 90, name, &buf, &len, e);
    else
        rc = rn_pnm_encode(im, !to_stdout && !strcasecmp(extension(path), "pam"), name, &buf,
                           &len, e);
    if (rc < 0)
        return rc;
    struct rn_outfile o;
    rc = rn_outfile_open(&o, path, e);
    if (rc == RN_OK) {
        rc = rn_outfile_write(&o, buf, len, e);
        if (rc < 0)
            rn_outfile_abort(&o);
        else
            rc = rn_outfile_commit(&o, e);
    }
    free(buf);
    return rc;
}

int rn_image_orient(const struct rn_image *src, int orientation, struct rn_image *dst,
                    struct rn_err *e)
{
    memset(dst, 0, sizeof *dst);
    if (orientation < 1 || orientation > 8)
        return rn_err_set(e, RN_EUSAGE, NULL, "orientation %d is not in 1..8", orientation);
    int W = src->w, H = src->h, c = src->c;
    int swap = orientation >= 5; /* 5..8 exchange width and height */
    int rc = rn_image_new(dst, swap ? H : W, swap ? W : H, c, e);
    if (rc < 0)
        return rc;
    for (int oy = 0; oy < dst->h; oy++) {
        uint8_t *out = dst->data + (size_t)oy * dst->w * c;
        for (int ox = 0; ox < dst->w; ox++, out += c) {
            int ix, iy; /* the stored pixel shown at (ox, oy) */
            switch (orientation) {
            case 1: ix = ox; iy = oy; break;
            case 2: ix = W - 1 - ox; iy = oy; break;
            case 3: ix = W - 1 - ox; iy = H - 1 - oy; break;
            case 4: ix = ox; iy = H - 1 - oy; break;
            case 5: ix = oy; iy = ox; break;
            case 6: ix = oy; iy = H - 1 - ox; break;
            case 7: ix = W - 1 - oy; iy = H - 1 - ox; break;
            default: ix = W - 1 - oy; iy = ox; break;
            }
            memcpy(out, src->data + ((size_t)iy * W + ix) * c, (size_t)c);
        }
    }
    return RN_OK;
}
