/* img — still images in and out: PNG (libpng), JPEG (libjpeg-turbo) and
 * PNM/PAM, as 8-bit interleaved pixels.
 *
 * Ownership: rn_image_read* and rn_image_new own their pixels
 * (rn_image_free releases them); rn_image_view borrows (for a frame
 * record's payload). Every decoder checks width x height x channels
 * against RN_IMAGE_MAX_PIXELS before it allocates.
 *
 *     struct rn_image im;
 *     if (rn_image_read("photo.jpg", &im, &e) < 0) rn_die(&e);
 *     // im.data: im.h rows of im.w pixels of im.c bytes (1 gray, 2 gray+alpha,
 *     // 3 RGB, 4 RGBA); 16-bit PNGs are scaled to 8 bits; JPEG EXIF
 *     // orientation is applied.
 *     rn_image_write("out.png", &im, 0, &e);   // format from the extension
 *     rn_image_free(&im);
 */
#ifndef RN_IMG_H
#define RN_IMG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest image accepted: 2^28 pixels (16384 x 16384). */
#define RN_IMAGE_MAX_PIXELS ((uint64_t)1 << 28)

struct rn_image {
    int w, h, c;          /* width, height, channels 1..4 */
    uint8_t *data;        /* h * w * c bytes, row-major, interleaved */
    int owned;            /* 1: rn_image_free releases data */
};

enum rn_image_format { RN_IMAGE_UNKNOWN = 0, RN_IMAGE_PNG, RN_IMAGE_JPEG, RN_IMAGE_PNM };

/* Decode a file ("-": stdin), choosing the decoder from the content's
 * magic bytes, not the name. */
int rn_image_read(const char *path, struct rn_image *im, struct rn_err *e);
int rn_image_read_mem(const void *data, size_t len, const char *name, struct rn_image *im,
                      struct rn_err *e);
/* Encode to path ("-": stdout, then PNG unless fmt says otherwise) through
 * a temporary file. fmt RN_IMAGE_UNKNOWN picks the format from the
 * extension (.png .jpg .jpeg .pnm .ppm .pgm .pam). quality: JPEG quality
 * 1..100, 0 for the default (90). */
int rn_image_write(const char *path, const struct rn_image *im, int fmt, int quality,
                   struct rn_err *e);
/* Format of a file name by its extension; RN_IMAGE_UNKNOWN if none. */
int rn_image_format_from_name(const char *path);

/* New zeroed image; RN_ELIMIT past RN_IMAGE_MAX_PIXELS. */
int rn_image_new(struct rn_image *im, int w, int h, int c, struct rn_err *e);
/* Borrow h x w x c bytes (e.g. a frame record's payload). */
void rn_image_view(struct rn_image *im, int w, int h, int c, uint8_t *data);
/* Release owned pixels and zero im; NULL is a no-op. */
void rn_image_free(struct rn_image *im);

/* Turn src by an EXIF orientation code into a new owned image dst (1: as
 * stored; 3: rotate 180 degrees; 6: 90 clockwise; 8: 90 counter-clockwise;
 * 2, 4, 5, 7: their mirrored forms). Codes outside 1..8 are RN_EUSAGE. */
int rn_image_orient(const struct rn_image *src, int orientation, struct rn_image *dst,
                    struct rn_err *e);

#endif
