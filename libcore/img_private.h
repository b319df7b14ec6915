/* img_private — the codecs behind img.h, shared by img*.c only.
 *
 * Decoders take the whole encoded file in memory (name is for messages) and
 * fill a new owned image; encoders return a malloc'd buffer the caller
 * frees. Each codec keeps its own longjmp-based error handling inside its
 * functions: nothing here unwinds past its caller.
 */
#ifndef RN_IMG_PRIVATE_H
#define RN_IMG_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "img.h"

int rn_png_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                  struct rn_err *e);
int rn_png_encode(const struct rn_image *im, const char *name, uint8_t **out, size_t *out_len,
                  struct rn_err *e);
int rn_jpeg_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                   struct rn_err *e);
int rn_jpeg_encode(const struct rn_image *im, int quality, const char *name, uint8_t **out,
                   size_t *out_len, struct rn_err *e);
int rn_pnm_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                  struct rn_err *e);
/* pam: 1 always writes P7 (PAM); 0 writes P5/P6 for gray/RGB, P7 otherwise. */
int rn_pnm_encode(const struct rn_image *im, int pam, const char *name, uint8_t **out,
                  size_t *out_len, struct rn_err *e);

/* Check declared dimensions before anything is allocated. */
int rn_image_check_size(uint64_t w, uint64_t h, int c, const char *name, struct rn_err *e);

/* Decoders that produce rows in order grow the pixel buffer as the rows
 * arrive, so a small file that declares a large (but allowed) size and
 * then ends costs memory in proportion to what it really holds.
 * rn_image_begin sets the shape (checked) with no pixels yet, owned;
 * rn_image_reserve makes rows 0..rows-1 writable, *cap counting the rows
 * allocated (0 to begin with). */
int rn_image_begin(struct rn_image *im, int w, int h, int c, const char *name, struct rn_err *e);
int rn_image_reserve(struct rn_image *im, int rows, size_t *cap, const char *name,
                     struct rn_err *e);

#endif
