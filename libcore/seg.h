/* seg — promptable segmentation without neural weights: GrabCut-style
 * colour models and graph cuts, prompted by a box, clicks, or a previous
 * mask.
 *
 * One instance at a time: the prompt says where the object is; seg labels
 * every pixel object (255) or background (0).
 *
 *   1. Region: the box (or, without one, the whole image or the previous
 *      mask's box widened by a tenth) plus a margin of background around
 *      it (a quarter of the box's longer side). Pixels outside the box are
 *      background, fixed; a click fixes a disk of object or background,
 *      and an object click outside the box grows the box to hold it.
 *   2. Coarse level: the region is averaged down by an integer factor s
 *      so that it holds at most work_pixels pixels ("cells").
 *   3. GrabCut (Rother, Kolmogorov, Blake 2004) on that level, `iters`
 *      rounds of: assign each cell to the most likely Gaussian of its
 *      label's colour model (rn_gmm, `components` each), refit both
 *      models, and take the minimum cut (rn_maxflow) of the energy
 *          E(L) = sum_p D_p(L_p) + sum_{p~q, L_p != L_q} V_pq
 *          D_p(l) = -log p_l(z_p)                 (colour model of label l)
 *          V_pq = gamma / |p - q| * exp(-beta |z_p - z_q|^2),
 *          beta = 1 / (2 <|z_p - z_q|^2>)         (8-neighbourhood)
 *      over the cells not fixed by the prompt, with gamma / s in place of
 *      gamma: a cell's D stands for s^2 pixels and a cell edge for s pixel
 *      edges, so this is the full-resolution energy's balance (kept at
 *      gamma, the coarse level would be s times smoother than the image
 *      and lose thin parts of the object). Rounds after the first
 *      change only D, so each cut restarts from the last flow
 *      (rn_maxflow_resolve). A click's cells weigh in the colour models
 *      as much as 2% of the box's cells, so that one background click
 *      teaches the background model a colour the box mislabelled.
 *   4. Refinement (s > 1): the mask is brought to full resolution, both
 *      colour models are refit on full-resolution pixels, and the same
 *      energy is minimised again over a band around the boundary (at
 *      least 4 pixels and one cell on each side), the rest held at its
 *      coarse label (banded graph cut, Lombaert et al. 2005). Bands of
 *      more than 2^18 pixels use the 4-neighbourhood (weight gamma), for
 *      speed.
 *
 * The score of an instance is the mean, over the cells the cut decided
 * (in the box, not fixed by a click; coarse level), of the posterior
 * probability of the label each received under the final colour models,
 *     P(object | z) = p_obj(z) / (p_obj(z) + p_bg(z)),
 * so 1 means the colours separate cleanly and 0.5 that they do not
 * separate at all; an empty mask scores 0.
 *
 *     struct rn_seg_params par;
 *     rn_seg_params_default(&par);
 *     struct rn_seg_prompt p = {.has_box = 1, .box = {40, 30, 200, 180}};
 *     if (rn_seg_prompt_check(&p, im.w, im.h, &e) < 0) ...   // off-image
 *     uint8_t *mask = malloc(im.w * im.h);
 *     struct rn_seg_result res;
 *     if (rn_seg_segment(&im, &p, &par, mask, &res, &e) < 0) ...
 */
#ifndef RN_SEG_H
#define RN_SEG_H

#include <stdint.h>

#include "err.h"
#include "img.h"

struct rn_seg_params {
    int iters;            /* GrabCut rounds, 1..100 (default 5) */
    int components;       /* Gaussians per colour model, 1..RN_GMM_MAX_K (default 5) */
    double gamma;         /* smoothness weight, >= 0 (default 50, GrabCut's) */
    int64_t work_pixels;  /* most pixels of the coarse level (default 65536) */
    int refine;           /* 1: banded refinement at full resolution (default 1) */
    double radius;        /* click disk radius in image pixels (default 4) */
    uint64_t seed;        /* k-means++ seeding of the colour models (default 1) */
};

void rn_seg_params_default(struct rn_seg_params *p);
/* RN_EUSAGE naming the field that is out of range. */
int rn_seg_params_check(const struct rn_seg_params *p, struct rn_err *e);

struct rn_seg_point {
    double x, y;          /* image pixels; pixel (i, j) covers [i, i+1) x [j, j+1) */
    int object;           /* 1: the pixel is object, 0: background */
};

struct rn_seg_prompt {
    int has_box;
    double box[4];                  /* x1, y1, x2, y2 in pixels, x2/y2 exclusive */
    const struct rn_seg_point *points;
    int npoints;
    const uint8_t *init;            /* NULL, or h x w: the starting state
                                       (non-zero: object), e.g. a previous mask */
    int init_w, init_h;             /* init's size; scaled when not the image's */
};

/* Check a prompt against a w x h image: a box must overlap the image (it
 * is clipped to it) and be non-empty, points must lie on the image, and
 * there must be a box, an object click or a starting mask. RN_EFORMAT
 * with a message naming the prompt ("box 600,0,700,50 lies outside the
 * 500x333 image"). */
int rn_seg_prompt_check(const struct rn_seg_prompt *p, int w, int h, struct rn_err *e);

struct rn_seg_result {
    double score;         /* in [0, 1], defined above */
    double box[4];        /* bounding box of the mask, x2/y2 exclusive; 0s if empty */
    int64_t area;         /* object pixels */
    int scale;            /* the coarse level's factor s */
    int64_t band;         /* pixels re-solved at full resolution */
    double energy;        /* E(L) of the last coarse cut (fixed cells' terms aside) */
};

/* Segment one instance of im (any channel count: grey is replicated,
 * alpha ignored) into mask (im->h x im->w bytes, caller-allocated): 255
 * object, 0 background. Check the prompt first; a prompt that fails the
 * check is RN_EFORMAT here too. RN_ENOMEM when out of memory. */
int rn_seg_segment(const struct rn_image *im, const struct rn_seg_prompt *p,
                   const struct rn_seg_params *par, uint8_t *mask, struct rn_seg_result *res,
                   struct rn_err *e);

/* Intersection over union of two w x h masks (non-zero: object); 1 when
 * both are empty. */
double rn_seg_iou(const uint8_t *a, const uint8_t *b, int64_t n);

#endif
