/* seg — see seg.h for the method and the energy.
 *
 * Layout: a `grid` is the coarse level of the region of interest (ROI):
 * cw x ch cells, cell (cx, cy) averaging the s x s image pixels
 * [rx0 + cx s, ...) x [ry0 + cy s, ...) (clipped at the ROI's edge). Cell
 * labels use GrabCut's trimap codes below; fixed cells never enter the
 * graph, their smoothness links to free cells become terminal capacities.
 */
#include "seg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmm.h"
#include "maxflow.h"

enum { BG = 0, FG = 1, PR_BG = 2, PR_FG = 3 }; /* label & 1: object */

/* Share of the box's weight in the colour models that each click carries
 * (see build_grid). */
#define CLICK_SHARE 0.02
/* Loops over fewer items than this run on one thread: waking a team
 * costs more than it saves, and much more on a busy machine, where
 * spinning OpenMP threads compete with the work. */
#define PAR(n) ((n) >= ((int64_t)1 << 18))
/* The refinement band reaches at least this many pixels, and at least
 * one cell, to each side of the coarse boundary. */
#define BAND_MIN_PX 4
/* Bands of more pixels than this are cut on the 4-neighbourhood. */
#define BAND_FOUR_PX ((int64_t)1 << 18)

/* The four forward neighbours of the 8-neighbourhood (the other four are
 * the same pairs seen from the other end). */
static const int NDX[4] = {1, 0, 1, -1}, NDY[4] = {0, 1, 1, 1};
static const float NDIST[4] = {1.0f, 1.0f, 1.41421356f, 1.41421356f};

void rn_seg_params_default(struct rn_seg_params *p)
{
    p->iters = 5;
    p->components = 5;
    p->gamma = 50;
    p->work_pixels = 65536;
    p->refine = 1;
    p->radius = 4;
    p->seed = 1;
}

int rn_seg_params_check(const struct rn_seg_params *p, struct rn_err *e)
{
    if (p->iters < 1 || p->iters > 100)
        return rn_err_set(e, RN_EUSAGE, "iterations", "%d is outside 1..100", p->iters);
    if (p->components < 1 || p->components > RN_GMM_MAX_K)
        return rn_err_set(e, RN_EUSAGE, "components", "%d is outside 1..%d", p->components,
                          RN_GMM_MAX_K);
    if (!(p->gamma >= 0 && p->gamma <= 1e6))
        return rn_err_set(e, RN_EUSAGE, "gamma", "%g is outside 0..1e6", p->gamma);
    if (p->work_pixels < 256 || p->work_pixels > (int64_t)RN_IMAGE_MAX_PIXELS)
        return rn_err_set(e, RN_EUSAGE, "work-pixels", "%lld is outside 256..%llu",
                          (long long)p->work_pixels, (unsigned long long)RN_IMAGE_MAX_PIXELS);
    if (!(p->radius >= 0 && p->radius <= 1e4))
        return rn_err_set(e, RN_EUSAGE, "radius", "%g is outside 0..10000", p->radius);
    return RN_OK;
}

int rn_seg_prompt_check(const struct rn_seg_prompt *p, int w, int h, struct rn_err *e)
{
    int objects = 0;
    if (p->has_box) {
        const double *b = p->box;
        if (!(b[0] < b[2] && b[1] < b[3]))
            return rn_err_set(e, RN_EFORMAT, NULL, "box %g,%g,%g,%g is empty", b[0], b[1], b[2],
                              b[3]);
        if (!(b[0] < w && b[2] > 0 && b[1] < h && b[3] > 0))
            return rn_err_set(e, RN_EFORMAT, NULL, "box %g,%g,%g,%g lies outside the %dx%d image",
                              b[0], b[1], b[2], b[3], w, h);
        /* Clipped, it must still hold a pixel centre. */
        double x1 = fmax(b[0], 0), y1 = fmax(b[1], 0), x2 = fmin(b[2], w), y2 = fmin(b[3], h);
        if (ceil(x2 - 0.5) <= ceil(x1 - 0.5) || ceil(y2 - 0.5) <= ceil(y1 - 0.5))
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "box %g,%g,%g,%g holds no whole pixel of the %dx%d image", b[0],
                              b[1], b[2], b[3], w, h);
    }
    for (int i = 0; i < p->npoints; i++) {
        const struct rn_seg_point *q = &p->points[i];
        if (!(q->x >= 0 && q->x < w && q->y >= 0 && q->y < h))
            return rn_err_set(e, RN_EFORMAT, NULL, "point %g,%g,%d lies outside the %dx%d image",
                              q->x, q->y, q->object, w, h);
        objects += q->object != 0;
    }
    if (p->init && (p->init_w <= 0 || p->init_h <= 0))
        return rn_err_set(e, RN_EFORMAT, NULL, "starting mask has no pixels");
    if (!p->has_box && !objects && !p->init)
        return rn_err_set(e, RN_EFORMAT, NULL,
                          "no box, object point or starting mask: nothing says where the "
                          "object is");
    return RN_OK;
}

double rn_seg_iou(const uint8_t *a, const uint8_t *b, int64_t n)
{
    int64_t in = 0, un = 0;
    for (int64_t i = 0; i < n; i++) {
        int x = a[i] != 0, y = b[i] != 0;
        in += x & y;
        un += x | y;
    }
    return un ? (double)in / (double)un : 1.0;
}

/* ---- pixels ------------------------------------------------------------ */

static inline void pixel_rgb(const struct rn_image *im, int x, int y, float z[3])
{
    const uint8_t *p = im->data + ((size_t)y * (size_t)im->w + (size_t)x) * (size_t)im->c;
    if (im->c >= 3) {
        z[0] = p[0], z[1] = p[1], z[2] = p[2];
    } else {
        z[0] = z[1] = z[2] = p[0];
    }
}

/* ---- the working state of one instance --------------------------------- */

struct seg {
    const struct rn_image *im;
    const struct rn_seg_params *par;
    const struct rn_seg_prompt *p;
    int bx1, by1, bx2, by2;        /* box as pixel ranges [bx1, bx2) (whole image if none) */
    int rx0, ry0, rw, rh;          /* ROI */
    int s, cw, ch;                 /* coarse factor and grid size */
    float *z;                      /* (ch, cw, 3) cell colours */
    uint8_t *lab;                  /* (ch, cw) trimap codes */
    float *nw;                     /* (ch, cw, 4) smoothness weights to forward neighbours */
    int32_t *node;                 /* (ch, cw) graph node of a free cell, -1 if fixed */
    struct rn_gmm fg, bg;
    float *weight;                 /* (ch, cw) sample weight in the colour models;
                                      NULL: all 1 (no clicks) */
    double score;
    double energy;                 /* the last cut's E(L) (its flow) */
};

/* Is image pixel (x, y) in the box, in a click disk? -1: no click. */
static int click_at(const struct seg *S, int x, int y)
{
    const struct rn_seg_prompt *p = S->p;
    double r2 = S->par->radius * S->par->radius;
    int hit = -1;
    for (int i = 0; i < p->npoints; i++) {
        const struct rn_seg_point *q = &p->points[i];
        double dx = x + 0.5 - q->x, dy = y + 0.5 - q->y;
        if (dx * dx + dy * dy <= r2 || ((int)q->x == x && (int)q->y == y))
            hit = q->object != 0; /* later clicks win */
    }
    return hit;
}

static inline int in_box(const struct seg *S, int x, int y)
{
    return x >= S->bx1 && x < S->bx2 && y >= S->by1 && y < S->by2;
}

static int init_at(const struct seg *S, int x, int y)
{
    const struct rn_seg_prompt *p = S->p;
    int ix = (int)((int64_t)x * p->init_w / S->im->w);
    int iy = (int)((int64_t)y * p->init_h / S->im->h);
    return p->init[(size_t)iy * (size_t)p->init_w + (size_t)ix] != 0;
}

/* Box (clipped, grown to hold object clicks), ROI and coarse factor. */
static void plan(struct seg *S)
{
    const struct rn_seg_prompt *p = S->p;
    int w = S->im->w, h = S->im->h;
    S->bx1 = 0, S->by1 = 0, S->bx2 = w, S->by2 = h;
    int boxed = 0;
    if (p->has_box) {
        S->bx1 = (int)ceil(fmax(p->box[0], 0) - 0.5);
        S->by1 = (int)ceil(fmax(p->box[1], 0) - 0.5);
        S->bx2 = (int)ceil(fmin(p->box[2], w) - 0.5);
        S->by2 = (int)ceil(fmin(p->box[3], h) - 0.5);
        boxed = 1;
    } else if (p->init) {
        /* The starting mask's box, widened so the object can grow. */
        int x1 = w, y1 = h, x2 = 0, y2 = 0;
        for (int y = 0; y < p->init_h; y++)
            for (int x = 0; x < p->init_w; x++)
                if (p->init[(size_t)y * (size_t)p->init_w + (size_t)x]) {
                    x1 = x < x1 ? x : x1, x2 = x + 1 > x2 ? x + 1 : x2;
                    y1 = y < y1 ? y : y1, y2 = y + 1 > y2 ? y + 1 : y2;
                }
        if (x2 > x1) {
            /* mask pixels to image pixels, rounding outward */
            x1 = (int)((int64_t)x1 * w / p->init_w);
            x2 = (int)(((int64_t)x2 * w + p->init_w - 1) / p->init_w);
            y1 = (int)((int64_t)y1 * h / p->init_h);
            y2 = (int)(((int64_t)y2 * h + p->init_h - 1) / p->init_h);
            int mx = (x2 - x1) / 10 + 4, my = (y2 - y1) / 10 + 4;
            S->bx1 = x1 - mx > 0 ? x1 - mx : 0, S->bx2 = x2 + mx < w ? x2 + mx : w;
            S->by1 = y1 - my > 0 ? y1 - my : 0, S->by2 = y2 + my < h ? y2 + my : h;
            boxed = 1;
        }
    }
    if (boxed)
        for (int i = 0; i < p->npoints; i++)
            if (p->points[i].object) {
                int x = (int)p->points[i].x, y = (int)p->points[i].y;
                S->bx1 = x < S->bx1 ? x : S->bx1, S->bx2 = x + 1 > S->bx2 ? x + 1 : S->bx2;
                S->by1 = y < S->by1 ? y : S->by1, S->by2 = y + 1 > S->by2 ? y + 1 : S->by2;
            }
    /* ROI: the box and a ring of background around it to learn from. */
    int bw = S->bx2 - S->bx1, bh = S->by2 - S->by1;
    int m = (bw > bh ? bw : bh) / 4 + 8;
    S->rx0 = S->bx1 - m > 0 ? S->bx1 - m : 0;
    S->ry0 = S->by1 - m > 0 ? S->by1 - m : 0;
    S->rw = (S->bx2 + m < w ? S->bx2 + m : w) - S->rx0;
    S->rh = (S->by2 + m < h ? S->by2 + m : h) - S->ry0;
    int s = 1;
    while ((int64_t)((S->rw + s - 1) / s) * ((S->rh + s - 1) / s) > S->par->work_pixels)
        s++;
    S->s = s;
    S->cw = (S->rw + s - 1) / s;
    S->ch = (S->rh + s - 1) / s;
}

/* Average cell colours; initial labels from box, starting mask and clicks. */
static void build_grid(struct seg *S)
{
    int s = S->s, cw = S->cw;
    const struct rn_image *im = S->im;
#pragma omp parallel for schedule(static) if (PAR((int64_t)S->rw * S->rh))
    for (int cy = 0; cy < S->ch; cy++) {
        int y0 = S->ry0 + cy * s, y1 = y0 + s < S->ry0 + S->rh ? y0 + s : S->ry0 + S->rh;
        for (int cx = 0; cx < cw; cx++) {
            int x0 = S->rx0 + cx * s, x1 = x0 + s < S->rx0 + S->rw ? x0 + s : S->rx0 + S->rw;
            float acc[3] = {0, 0, 0}, z[3];
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    pixel_rgb(im, x, y, z);
                    acc[0] += z[0], acc[1] += z[1], acc[2] += z[2];
                }
            float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
            float *o = S->z + 3 * ((size_t)cy * cw + cx);
            o[0] = acc[0] * inv, o[1] = acc[1] * inv, o[2] = acc[2] * inv;
            /* The cell's centre pixel decides its prompt labels. */
            int px = (x0 + x1 - 1) / 2, py = (y0 + y1 - 1) / 2;
            uint8_t l;
            if (!in_box(S, px, py))
                l = BG;
            else if (S->p->init)
                l = init_at(S, px, py) ? PR_FG : PR_BG;
            else
                l = S->p->has_box ? PR_FG : PR_BG;
            S->lab[(size_t)cy * cw + cx] = l;
        }
    }
    /* Clicks: every cell whose centre is in the disk, and the cell holding
     * the click even when the disk is smaller than a cell. A click is the
     * user's word against thousands of pixels the box only guesses at, so
     * in the colour models each click's cells weigh together as much as
     * CLICK_SHARE of the box's cells (or their own count, if more):
     * a background click inside the box then teaches the background model
     * its colour, instead of a few dozen samples drowned by the object
     * model's guesses. */
    double box_cells = (double)(S->bx2 - S->bx1) * (S->by2 - S->by1) / ((double)s * s);
    for (int i = 0; i < S->p->npoints; i++) {
        const struct rn_seg_point *q = &S->p->points[i];
        double r = S->par->radius;
        int cx0 = (int)floor((q->x - r - S->rx0) / s), cx1 = (int)floor((q->x + r - S->rx0) / s);
        int cy0 = (int)floor((q->y - r - S->ry0) / s), cy1 = (int)floor((q->y + r - S->ry0) / s);
        int hits = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int cy = cy0 < 0 ? 0 : cy0; cy <= cy1 && cy < S->ch; cy++)
                for (int cx = cx0 < 0 ? 0 : cx0; cx <= cx1 && cx < cw; cx++) {
                    double mx = S->rx0 + (cx + 0.5) * s, my = S->ry0 + (cy + 0.5) * s;
                    double dx = mx - q->x, dy = my - q->y;
                    int holds = (int)((q->x - S->rx0) / s) == cx &&
                                (int)((q->y - S->ry0) / s) == cy;
                    if (!holds && dx * dx + dy * dy > r * r)
                        continue;
                    size_t c = (size_t)cy * cw + cx;
                    if (pass == 0) {
                        hits++;
                        continue;
                    }
                    S->lab[c] = q->object ? FG : BG;
                    float wt = (float)fmax(1.0, CLICK_SHARE * box_cells / hits);
                    S->weight[c] = wt > S->weight[c] ? wt : S->weight[c];
                }
    }
}

/* beta = 1 / (2 <|z_p - z_q|^2>) over the 8-neighbour pairs of the grid,
 * then the smoothness weights V_pq = gamma / |p - q| exp(-beta |dz|^2). */
static void smoothness(struct seg *S)
{
    int cw = S->cw, ch = S->ch;
    double sum = 0;
    int64_t pairs = 0;
#pragma omp parallel for reduction(+ : sum, pairs) schedule(static) if (PAR((int64_t)cw * ch))
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
            for (int d = 0; d < 4; d++) {
                int qx = x + NDX[d], qy = y + NDY[d];
                if (qx < 0 || qx >= cw || qy >= ch)
                    continue;
                const float *a = S->z + 3 * ((size_t)y * cw + x),
                            *b = S->z + 3 * ((size_t)qy * cw + qx);
                float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
                sum += d0 * d0 + d1 * d1 + d2 * d2;
                pairs++;
            }
    float beta = sum > 0 ? (float)(pairs / (2 * sum)) : 0;
    /* The coarse level stands for the full-resolution energy: a cell's
     * data term counts for its s^2 pixels and a cell edge for s pixel
     * edges, so relative to D the smoothness weight is gamma / s. (Kept at
     * gamma, a coarse level is s times smoother than the image it stands
     * for, and thin parts of the object are lost before the band can see
     * them.) */
    float gamma = (float)(S->par->gamma / S->s);
#pragma omp parallel for schedule(static) if (PAR((int64_t)cw * ch))
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
            for (int d = 0; d < 4; d++) {
                int qx = x + NDX[d], qy = y + NDY[d];
                float wgt = 0;
                if (qx >= 0 && qx < cw && qy < ch) {
                    const float *a = S->z + 3 * ((size_t)y * cw + x),
                                *b = S->z + 3 * ((size_t)qy * cw + qx);
                    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
                    wgt = gamma / NDIST[d] * expf(-beta * (d0 * d0 + d1 * d1 + d2 * d2));
                }
                S->nw[4 * ((size_t)y * cw + x) + d] = wgt;
            }
}

/* k-means++ and k-means only, as OpenCV initialises: the GrabCut rounds
 * do the hard-EM steps. which: 0 object, 1 background (seeds differ). */
static int init_fit(struct seg *S, struct rn_gmm *g, const float *x, int64_t n, int which,
                    struct rn_err *e)
{
    return rn_gmm_fit(g, x, n, S->par->components, 0, S->par->seed + (uint64_t)which, e);
}

/* Initial colour models: k-means on each label's cells. A box that covers
 * the whole image leaves no background: the grid's outer ring stands in.
 * RN_EOF when no cell is object. */
static int init_models(struct seg *S, struct rn_err *e)
{
    size_t n = (size_t)S->cw * S->ch;
    float *f = malloc(n * 3 * sizeof *f), *b = malloc(n * 3 * sizeof *b);
    if (!f || !b) {
        free(f);
        free(b);
        return rn_err_set(e, RN_ENOMEM, "segment", "out of memory");
    }
    int64_t nf = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        float *dst = (S->lab[i] & 1) ? f + 3 * nf++ : b + 3 * nb++;
        memcpy(dst, S->z + 3 * i, 3 * sizeof *dst);
    }
    if (nb == 0)
        for (int y = 0; y < S->ch; y++)
            for (int x = 0; x < S->cw; x++)
                if (x == 0 || y == 0 || x == S->cw - 1 || y == S->ch - 1) {
                    size_t i = (size_t)y * S->cw + x;
                    memcpy(b + 3 * nb++, S->z + 3 * i, 3 * sizeof *b);
                    if (S->lab[i] == PR_FG)
                        S->lab[i] = PR_BG;
                }
    /* No object at all (an empty starting mask): nothing to segment. */
    int rc = nf ? init_fit(S, &S->fg, f, nf, 0, e) : RN_EOF;
    if (rc == RN_OK)
        rc = init_fit(S, &S->bg, b, nb, 1, e);
    free(f);
    free(b);
    return rc;
}

/* One hard-EM step on the grid: each cell to its label's most likely
 * component, then refit both models. */
/* Refit the object and background models from their statistics; a model
 * whose statistics hold no sample keeps its current fit. */
static int refit_models(struct seg *S, const struct rn_gmm_stats *sf,
                        const struct rn_gmm_stats *sb, struct rn_err *e)
{
    double nf = 0, nb = 0;
    for (int c = 0; c < RN_GMM_MAX_K; c++)
        nf += sf->n[c], nb += sb->n[c];
    int rc = RN_OK;
    if (nf > 0)
        rc = rn_gmm_from_stats(&S->fg, sf, e);
    if (rc == RN_OK && nb > 0)
        rc = rn_gmm_from_stats(&S->bg, sb, e);
    return rc;
}

static int learn(struct seg *S, struct rn_err *e)
{
    struct rn_gmm_stats sf, sb;
    rn_gmm_stats_clear(&sf, S->fg.k);
    rn_gmm_stats_clear(&sb, S->bg.k);
    size_t n = (size_t)S->cw * S->ch;
#pragma omp parallel if (PAR((int64_t)n))
    {
        struct rn_gmm_stats lf, lb;
        rn_gmm_stats_clear(&lf, S->fg.k);
        rn_gmm_stats_clear(&lb, S->bg.k);
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            const float *z = S->z + 3 * i;
            double wt = S->weight ? S->weight[i] : 1.0;
            if (S->lab[i] & 1)
                rn_gmm_stats_add_w(&lf, rn_gmm_component(&S->fg, z), z, wt);
            else
                rn_gmm_stats_add_w(&lb, rn_gmm_component(&S->bg, z), z, wt);
        }
#pragma omp critical
        {
            rn_gmm_stats_merge(&sf, &lf);
            rn_gmm_stats_merge(&sb, &lb);
        }
    }
    /* A label the last cut left empty keeps its model: the next cut can
     * still bring pixels back to it. */
    return refit_models(S, &sf, &sb, e);
}

/* Number the free cells; fixed cells' links become terminal capacities
 * (tfix_s: pulls toward object, tfix_t: toward background). */
static int32_t number_nodes(struct seg *S, float *tfix_s, float *tfix_t)
{
    int cw = S->cw, ch = S->ch;
    int32_t nn = 0;
    for (size_t i = 0; i < (size_t)cw * ch; i++)
        S->node[i] = S->lab[i] >= PR_BG ? nn++ : -1;
    memset(tfix_s, 0, (size_t)nn * sizeof *tfix_s);
    memset(tfix_t, 0, (size_t)nn * sizeof *tfix_t);
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
            for (int d = 0; d < 4; d++) {
                int qx = x + NDX[d], qy = y + NDY[d];
                if (qx < 0 || qx >= cw || qy >= ch)
                    continue;
                size_t p = (size_t)y * cw + x, q = (size_t)qy * cw + qx;
                float wgt = S->nw[4 * p + d];
                if (S->node[p] >= 0 && S->node[q] < 0)
                    *(S->lab[q] == FG ? &tfix_s[S->node[p]] : &tfix_t[S->node[p]]) += wgt;
                else if (S->node[p] < 0 && S->node[q] >= 0)
                    *(S->lab[p] == FG ? &tfix_s[S->node[q]] : &tfix_t[S->node[q]]) += wgt;
            }
    return nn;
}

/* The GrabCut rounds on the grid. */
static int grabcut(struct seg *S, struct rn_err *e)
{
    size_t n = (size_t)S->cw * S->ch;
    float *tfs = malloc(n * sizeof *tfs), *tft = malloc(n * sizeof *tft);
    float *dfg = malloc(n * sizeof *dfg), *dbg = malloc(n * sizeof *dbg);
    int32_t *cell = malloc(n * sizeof *cell);
    struct rn_maxflow g = {0};
    int rc = RN_OK;
    if (!tfs || !tft || !dfg || !dbg || !cell) {
        rc = rn_err_set(e, RN_ENOMEM, "segment", "out of memory");
        goto done;
    }
    int32_t nn = number_nodes(S, tfs, tft);
    for (size_t i = 0; i < n; i++)
        if (S->node[i] >= 0)
            cell[S->node[i]] = (int32_t)i;
    rc = rn_maxflow_init(&g, nn, 4 * (int64_t)nn, e);
    for (int it = 0; it < S->par->iters && rc == RN_OK; it++) {
        rc = learn(S, e);
        if (rc < 0)
            break;
#pragma omp parallel for schedule(static) if (PAR(nn))
        for (int32_t v = 0; v < nn; v++) {
            const float *z = S->z + 3 * (size_t)cell[v];
            dfg[v] = rn_gmm_neglog(&S->fg, z, NULL);
            dbg[v] = rn_gmm_neglog(&S->bg, z, NULL);
        }
        double flow;
        if (it > 0) {
            /* Only the colour models changed: the smoothness edges are the
             * same, so the last flow and search trees are reused and only
             * the terminal capacities move (dynamic graph cuts). */
            for (int32_t v = 0; v < nn; v++)
                rn_maxflow_set_tweights(&g, v, dbg[v] + tfs[v], dfg[v] + tft[v]);
            rc = rn_maxflow_resolve(&g, &flow, e);
            if (rc < 0)
                break;
            S->energy = flow;
            for (int32_t v = 0; v < nn; v++)
                S->lab[cell[v]] = rn_maxflow_source_side(&g, v) ? PR_FG : PR_BG;
            continue;
        }
        for (int32_t v = 0; v < nn && rc == RN_OK; v++) {
            /* Cutting s->v labels v background and costs D_v(bg). */
            rn_maxflow_add_tweights(&g, v, dbg[v] + tfs[v], dfg[v] + tft[v]);
            size_t p = (size_t)cell[v];
            int x = (int)(p % (size_t)S->cw), y = (int)(p / (size_t)S->cw);
            for (int d = 0; d < 4 && rc == RN_OK; d++) {
                int qx = x + NDX[d], qy = y + NDY[d];
                if (qx < 0 || qx >= S->cw || qy >= S->ch)
                    continue;
                int32_t u = S->node[(size_t)qy * S->cw + qx];
                float wgt = S->nw[4 * p + d];
                if (u >= 0 && wgt > 0)
                    rc = rn_maxflow_add_edge(&g, v, u, wgt, wgt, e);
            }
        }
        if (rc == RN_OK)
            rc = rn_maxflow_solve(&g, &flow, e);
        if (rc < 0)
            break;
        S->energy = flow;
        for (int32_t v = 0; v < nn; v++)
            S->lab[cell[v]] = rn_maxflow_source_side(&g, v) ? PR_FG : PR_BG;
    }
    if (rc == RN_OK) {
        /* Score: mean posterior of the label given, over the free cells
         * inside the box: 1 / (1 + exp(D_l - D_other)). */
        double sum = 0;
        int64_t cnt = 0, obj = 0;
        for (int32_t v = 0; v < nn; v++) {
            size_t p = (size_t)cell[v];
            int x = S->rx0 + (int)(p % (size_t)S->cw) * S->s;
            int y = S->ry0 + (int)(p / (size_t)S->cw) * S->s;
            int fgl = S->lab[p] & 1;
            obj += fgl;
            if (!in_box(S, x, y))
                continue;
            double dl = fgl ? dfg[v] - dbg[v] : dbg[v] - dfg[v];
            sum += 1.0 / (1.0 + exp(dl > 50 ? 50 : dl));
            cnt++;
        }
        S->score = cnt ? sum / (double)cnt : 1.0;
        for (size_t i = 0; i < n; i++)
            obj += S->lab[i] == FG;
        if (!obj)
            S->score = 0;
    }
done:
    rn_maxflow_free(&g);
    free(tfs);
    free(tft);
    free(dfg);
    free(dbg);
    free(cell);
    return rc;
}

/* ---- full resolution ------------------------------------------------------ */

/* Hard label of image pixel (x, y) from the prompt alone: 0 background,
 * 1 object, -1 free. */
static inline int fixed_at(const struct seg *S, int x, int y)
{
    int c = S->p->npoints ? click_at(S, x, y) : -1;
    if (c >= 0)
        return c;
    return in_box(S, x, y) ? -1 : 0;
}

static inline int cell_label(const struct seg *S, int x, int y)
{
    return S->lab[(size_t)((y - S->ry0) / S->s) * S->cw + (size_t)((x - S->rx0) / S->s)] & 1;
}

/* Coarse labels to the full-resolution mask (prompt constraints applied). */
static void upsample(const struct seg *S, uint8_t *mask)
{
    int w = S->im->w, s = S->s;
    memset(mask, 0, (size_t)w * S->im->h);
    /* Cell labels inside the box, row by row... */
#pragma omp parallel for schedule(static) if (PAR((int64_t)S->rw * S->rh))
    for (int y = S->by1; y < S->by2; y++) {
        const uint8_t *lab = S->lab + (size_t)((y - S->ry0) / s) * S->cw;
        uint8_t *row = mask + (size_t)y * w;
        for (int x = S->bx1; x < S->bx2; x++)
            row[x] = (lab[(x - S->rx0) / s] & 1) ? 255 : 0;
    }
    /* ...then the click disks over them (in order: later clicks win). */
    double r = S->par->radius;
    for (int i = 0; i < S->p->npoints; i++) {
        const struct rn_seg_point *q = &S->p->points[i];
        int x0 = (int)floor(q->x - r), x1 = (int)ceil(q->x + r);
        int y0 = (int)floor(q->y - r), y1 = (int)ceil(q->y + r);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < S->im->h; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++) {
                double dx = x + 0.5 - q->x, dy = y + 0.5 - q->y;
                if (dx * dx + dy * dy <= r * r || ((int)q->x == x && (int)q->y == y))
                    mask[(size_t)y * w + x] = q->object ? 255 : 0;
            }
    }
}

/* Refit both models on full-resolution pixels (the cells' centre pixels,
 * labelled by the upsampled mask): cell averages are smoother than single
 * pixels, so the coarse models are too narrow for them. */
static int refit_full(struct seg *S, const uint8_t *mask, struct rn_err *e)
{
    struct rn_gmm_stats sf, sb;
    rn_gmm_stats_clear(&sf, S->fg.k);
    rn_gmm_stats_clear(&sb, S->bg.k);
    int s = S->s, w = S->im->w;
    for (int y = S->ry0 + s / 2; y < S->ry0 + S->rh; y += s)
        for (int x = S->rx0 + s / 2; x < S->rx0 + S->rw; x += s) {
            float z[3];
            pixel_rgb(S->im, x, y, z);
            size_t c = (size_t)((y - S->ry0) / s) * S->cw + (size_t)((x - S->rx0) / s);
            double wt = S->weight ? S->weight[c] : 1.0;
            if (mask[(size_t)y * w + x])
                rn_gmm_stats_add_w(&sf, rn_gmm_component(&S->fg, z), z, wt);
            else
                rn_gmm_stats_add_w(&sb, rn_gmm_component(&S->bg, z), z, wt);
        }
    /* A model without samples here (a sliver of object) keeps its fit. */
    return refit_models(S, &sf, &sb, e);
}

/* beta at full resolution, from right and down pairs on every s-th row. */
static float beta_full(const struct seg *S)
{
    double sum = 0;
    int64_t pairs = 0;
    for (int y = S->ry0; y < S->ry0 + S->rh - 1; y += S->s)
        for (int x = S->rx0; x < S->rx0 + S->rw - 1; x++) {
            float a[3], b[3], c[3];
            pixel_rgb(S->im, x, y, a);
            pixel_rgb(S->im, x + 1, y, b);
            pixel_rgb(S->im, x, y + 1, c);
            for (int k = 0; k < 3; k++)
                sum += (a[k] - b[k]) * (a[k] - b[k]) + (a[k] - c[k]) * (a[k] - c[k]);
            pairs += 2;
        }
    return sum > 0 ? (float)(pairs / (2 * sum)) : 0;
}

/* Node of image pixel (x, y) in the band (see refine), or -1. */
static inline int64_t band_node(const struct seg *S, const int64_t *base, int x, int y)
{
    int rx = x - S->rx0, ry = y - S->ry0, s = S->s;
    if (rx < 0 || rx >= S->rw || ry < 0 || ry >= S->rh)
        return -1;
    int cx = rx / s, cy = ry / s;
    int64_t b = base[(size_t)cy * S->cw + cx];
    if (b < 0)
        return -1;
    int bw = S->rw - cx * s < s ? S->rw - cx * s : s;
    return b + (int64_t)(ry - cy * s) * bw + (rx - cx * s);
}

/* Banded graph cut: the cells within `reach` cells of a label change
 * (BAND_MIN_PX pixels, at least one cell), both sides, at full
 * resolution. Node of pixel (x, y) in band cell c: base[c] + its offset
 * inside the cell. Pixels fixed by the prompt stay
 * in the graph with a terminal capacity no cut can afford (more than all
 * their links together). */
static int refine(struct seg *S, uint8_t *mask, int64_t *band_px, struct rn_err *e)
{
    int s = S->s, cw = S->cw, ch = S->ch, w = S->im->w;
    size_t n = (size_t)cw * ch;
    int64_t *base = malloc(n * sizeof *base);
    struct rn_maxflow g = {0};
    if (!base)
        return rn_err_set(e, RN_ENOMEM, "segment", "out of memory");
    int64_t nn = 0;
    int reach = (BAND_MIN_PX + s - 1) / s;
    for (int cy = 0; cy < ch; cy++)
        for (int cx = 0; cx < cw; cx++) {
            size_t c = (size_t)cy * cw + cx;
            int l = S->lab[c] & 1, edge = 0;
            for (int dy = -reach; dy <= reach && !edge; dy++)
                for (int dx = -reach; dx <= reach; dx++) {
                    int qx = cx + dx, qy = cy + dy;
                    if (qx >= 0 && qx < cw && qy >= 0 && qy < ch &&
                        (S->lab[(size_t)qy * cw + qx] & 1) != l) {
                        edge = 1;
                        break;
                    }
                }
            if (!edge) {
                base[c] = -1;
                continue;
            }
            int x0 = S->rx0 + cx * s, y0 = S->ry0 + cy * s;
            int bw = x0 + s < S->rx0 + S->rw ? s : S->rx0 + S->rw - x0;
            int bh = y0 + s < S->ry0 + S->rh ? s : S->ry0 + S->rh - y0;
            base[c] = nn;
            nn += (int64_t)bw * bh;
        }
    *band_px = nn;
    int rc = refit_full(S, mask, e);
    if (rc == RN_OK)
        rc = rn_maxflow_init(&g, nn, 4 * nn, e);
    if (rc < 0 || nn == 0)
        goto done;
    float beta = beta_full(S), gamma = (float)S->par->gamma;
    /* Large bands (big photos, where a coarse cell spans many pixels) use
     * the 4-neighbourhood: half the edges and about two thirds of the
     * time, for a boundary a pixel or so less isotropic. */
    int four = nn > BAND_FOUR_PX;
    float hard = 16 * gamma + 1000;
    for (int cy = 0; cy < ch && rc == RN_OK; cy++)
        for (int cx = 0; cx < cw && rc == RN_OK; cx++) {
            size_t c = (size_t)cy * cw + cx;
            if (base[c] < 0)
                continue;
            int x0 = S->rx0 + cx * s, y0 = S->ry0 + cy * s;
            int x1 = x0 + s < S->rx0 + S->rw ? x0 + s : S->rx0 + S->rw;
            int y1 = y0 + s < S->ry0 + S->rh ? y0 + s : S->ry0 + S->rh;
            for (int y = y0; y < y1 && rc == RN_OK; y++)
                for (int x = x0; x < x1 && rc == RN_OK; x++) {
                    int64_t v = band_node(S, base, x, y);
                    float z[3], zq[3];
                    pixel_rgb(S->im, x, y, z);
                    int f = fixed_at(S, x, y);
                    if (f >= 0)
                        rn_maxflow_add_tweights(&g, v, f ? hard : 0, f ? 0 : hard);
                    else
                        rn_maxflow_add_tweights(&g, v, rn_gmm_neglog(&S->bg, z, NULL),
                                                rn_gmm_neglog(&S->fg, z, NULL));
                    /* All eight neighbours: band ones by edges (each pair
                     * once, from its forward end), others as terminals. */
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int qx = x + dx, qy = y + dy;
                            if ((!dx && !dy) || (four && dx && dy) || qx < 0 || qx >= w || qy < 0 || qy >= S->im->h)
                                continue;
                            int64_t u = band_node(S, base, qx, qy);
                            int forward = dy > 0 || (dy == 0 && dx > 0);
                            if (u >= 0 && !forward)
                                continue;
                            pixel_rgb(S->im, qx, qy, zq);
                            float d0 = z[0] - zq[0], d1 = z[1] - zq[1], d2 = z[2] - zq[2];
                            float wgt = gamma / (dx && dy ? 1.41421356f : 1.0f) *
                                        expf(-beta * (d0 * d0 + d1 * d1 + d2 * d2));
                            if (u >= 0)
                                rc = rn_maxflow_add_edge(&g, v, u, wgt, wgt, e);
                            else if (mask[(size_t)qy * w + qx])
                                rn_maxflow_add_tweights(&g, v, wgt, 0);
                            else
                                rn_maxflow_add_tweights(&g, v, 0, wgt);
                        }
                }
        }
    double flow;
    if (rc == RN_OK)
        rc = rn_maxflow_solve(&g, &flow, e);
    if (rc == RN_OK)
        for (int y = S->ry0; y < S->ry0 + S->rh; y++)
            for (int x = S->rx0; x < S->rx0 + S->rw; x++) {
                int64_t v = band_node(S, base, x, y);
                if (v >= 0)
                    mask[(size_t)y * w + x] = rn_maxflow_source_side(&g, v) ? 255 : 0;
            }
done:
    rn_maxflow_free(&g);
    free(base);
    return rc;
}

int rn_seg_segment(const struct rn_image *im, const struct rn_seg_prompt *p,
                   const struct rn_seg_params *par, uint8_t *mask, struct rn_seg_result *res,
                   struct rn_err *e)
{
    memset(res, 0, sizeof *res);
    int rc = rn_seg_params_check(par, e);
    if (rc == RN_OK)
        rc = rn_seg_prompt_check(p, im->w, im->h, e);
    if (rc < 0)
        return rc;
    struct seg S = {.im = im, .par = par, .p = p};
    plan(&S);
    size_t n = (size_t)S.cw * S.ch;
    S.z = malloc(n * 3 * sizeof *S.z);
    S.lab = malloc(n);
    S.nw = malloc(n * 4 * sizeof *S.nw);
    S.node = malloc(n * sizeof *S.node);
    if (p->npoints && (S.weight = malloc(n * sizeof *S.weight)))
        for (size_t i = 0; i < n; i++)
            S.weight[i] = 1;
    if ((p->npoints && !S.weight) || !S.z || !S.lab || !S.nw || !S.node) {
        rc = rn_err_set(e, RN_ENOMEM, "segment", "out of memory for a %dx%d grid", S.cw, S.ch);
        goto done;
    }
    build_grid(&S);
    smoothness(&S);
    rc = init_models(&S, e);
    if (rc == RN_EOF) {
        memset(mask, 0, (size_t)im->w * im->h);
        res->scale = S.s;
        rc = RN_OK;
        goto done;
    }
    if (rc == RN_OK)
        rc = grabcut(&S, e);
    if (rc < 0)
        goto done;
    upsample(&S, mask);
    if (S.s > 1 && par->refine)
        rc = refine(&S, mask, &res->band, e);
    if (rc < 0)
        goto done;
    int x1 = im->w, y1 = im->h, x2 = 0, y2 = 0;
    int64_t area = 0;
    for (int y = S.ry0; y < S.ry0 + S.rh; y++) {
        const uint8_t *row = mask + (size_t)y * im->w;
        for (int x = S.rx0; x < S.rx0 + S.rw; x++)
            if (row[x]) {
                area++;
                x1 = x < x1 ? x : x1, x2 = x + 1 > x2 ? x + 1 : x2;
                y1 = y < y1 ? y : y1, y2 = y + 1 > y2 ? y + 1 : y2;
            }
    }
    res->area = area;
    res->scale = S.s;
    res->score = area ? S.score : 0;
    res->energy = S.energy;
    if (area) {
        res->box[0] = x1, res->box[1] = y1, res->box[2] = x2, res->box[3] = y2;
    }
done:
    free(S.z);
    free(S.lab);
    free(S.nw);
    free(S.node);
    free(S.weight);
    return rc;
}
