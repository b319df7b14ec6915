/* draw — what overlay paints on a frame: instance masks (filled and
 * outlined), boxes, labels, and cut-outs. Masks may be at a lower
 * resolution than the image; they are scaled bilinearly and thresholded
 * at half, as the seed's overlay does with cv2.resize.
 *
 *     uint8_t rgb[3];
 *     rn_draw_color(inst.id, rgb);                    // same id, same colour
 *     rn_draw_mask(&im, mask, mw, mh, rgb, 0.5, 2, &e);
 *     rn_draw_box(&im, inst.box, rgb, 2);
 *     rn_draw_label(&im, font, inst.box[0], inst.box[1], "ID 3 | 0.92", rgb);
 *
 * Images are 1 to 4 channels; on gray images colours become their luma;
 * an alpha channel is left as it is.
 */
#ifndef RN_DRAW_H
#define RN_DRAW_H

#include <stdint.h>

#include "err.h"
#include "font.h"
#include "img.h"

/* The colour of an object id: a function of the id alone (hues spread by
 * the golden ratio, so neighbouring ids differ). */
void rn_draw_color(int64_t id, uint8_t rgb[3]);

/* Scale mask (mh x mw, 0 background, > 127 object) to h x w into out
 * (0 or 255; the caller allocates). RN_OK, or RN_ENOMEM. */
int rn_draw_scale_mask(const uint8_t *mask, int mw, int mh, uint8_t *out, int w, int h);

/* Blend rgb over the mask's pixels with opacity alpha (0..1) and draw its
 * outline contour pixels thick (0: none) at full opacity. */
int rn_draw_mask(struct rn_image *im, const uint8_t *mask, int mw, int mh, const uint8_t rgb[3],
                 double alpha, int contour, struct rn_err *e);

/* Outline box (x1, y1, x2, y2; x2/y2 exclusive) thick pixels wide,
 * inside the box and clipped to the image. */
void rn_draw_box(struct rn_image *im, const double box[4], const uint8_t rgb[3], int thick);

/* A filled rgb tag holding text, in black or white (whichever reads
 * better), sitting on top of (x, y), or below it when there is no room
 * above. */
void rn_draw_label(struct rn_image *im, struct rn_font *f, double x, double y, const char *text,
                   const uint8_t rgb[3]);

/* A new RGBA image (owned by the caller) of im's colours with the union of
 * n masks (n x mh x mw) as alpha. */
int rn_draw_cutout(const struct rn_image *im, const uint8_t *masks, int n, int mw, int mh,
                   struct rn_image *out, struct rn_err *e);

#endif
