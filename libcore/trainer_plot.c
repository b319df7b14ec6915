/* trainer_plot — `train --plot`: the loss curves as a PNG, drawn with
 * plain lines into an rn_image (draw.h paints masks and boxes, not
 * curves) and labelled with font.h. See trainer.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"
#include "img.h"
#include "trainer.h"

static const uint8_t C_AXIS[3] = {60, 60, 60}, C_GRID[3] = {225, 225, 225},
                     C_RAW[3] = {150, 185, 225}, C_MEAN[3] = {31, 100, 180},
                     C_EVAL[3] = {230, 110, 20}, C_TEXT[3] = {30, 30, 30};

static void dot(struct rn_image *im, int x, int y, const uint8_t rgb[3], int r)
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int px = x + dx, py = y + dy;
            if (px >= 0 && py >= 0 && px < im->w && py < im->h)
                memcpy(im->data + ((size_t)py * im->w + px) * 3, rgb, 3);
        }
}

/* Bresenham, each point a (2r+1)^2 square. */
static void line(struct rn_image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int r)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        dot(im, x0, y0, rgb, r);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * err;
        if (e2 >= dy)
            err += dy, x0 += sx;
        if (e2 <= dx)
            err += dx, y0 += sy;
    }
}

/* A round tick spacing: 1, 2 or 5 times a power of ten, about range/n. */
static double nice_step(double range, int n)
{
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

struct frame {
    int x0, y0, x1, y1;          /* plot area in pixels (y0 top) */
    double xmin, xmax, ymin, ymax;
};

static int fx(const struct frame *f, double x)
{
    return f->x0 + (int)lround((x - f->xmin) / (f->xmax - f->xmin) * (f->x1 - f->x0));
}
static int fy(const struct frame *f, double y)
{
    return f->y1 - (int)lround((y - f->ymin) / (f->ymax - f->ymin) * (f->y1 - f->y0));
}

static void axes(struct rn_image *im, struct rn_font *font, const struct frame *f)
{
    char buf[32];
    int th = rn_font_height(font);
    double ys = nice_step(f->ymax - f->ymin, 5);
    for (double y = ceil(f->ymin / ys) * ys; y <= f->ymax + 1e-9; y += ys) {
        int py = fy(f, y);
        line(im, f->x0, py, f->x1, py, C_GRID, 0);
        snprintf(buf, sizeof buf, "%g", fabs(y) < 1e-12 ? 0.0 : y);
        rn_font_draw(font, im, f->x0 - 6 - rn_font_width(font, buf), py - th / 2, buf, C_TEXT);
    }
    double xs = nice_step(f->xmax - f->xmin, 6);
    if (xs < 1)
        xs = 1;
    for (double x = ceil(f->xmin / xs) * xs; x <= f->xmax + 1e-9; x += xs) {
        int px = fx(f, x);
        line(im, px, f->y0, px, f->y1, C_GRID, 0);
        snprintf(buf, sizeof buf, "%.0f", x);
        rn_font_draw(font, im, px - rn_font_width(font, buf) / 2, f->y1 + 5, buf, C_TEXT);
    }
    line(im, f->x0, f->y0, f->x0, f->y1, C_AXIS, 0);
    line(im, f->x0, f->y1, f->x1, f->y1, C_AXIS, 0);
    const char *xl = "step";
    rn_font_draw(font, im, (f->x0 + f->x1 - rn_font_width(font, xl)) / 2, f->y1 + 8 + th, xl,
                 C_TEXT);
}

/* Pixels of a w x h box at (x, y) that are neither background nor grid:
 * how much of the curves a legend there would hide. */
static long covered(const struct rn_image *im, int x, int y, int w, int h)
{
    long n = 0;
    for (int j = y; j < y + h && j < im->h; j++)
        for (int i = x; i < x + w && i < im->w; i++) {
            const uint8_t *q = im->data + ((size_t)j * im->w + i) * 3;
            n += !(q[0] == 255 && q[1] == 255 && q[2] == 255) && memcmp(q, C_GRID, 3) != 0;
        }
    return n;
}

/* The legend goes in the corner of the plot area where it hides the
 * least, on a white box. */
static void legend(struct rn_image *im, struct rn_font *font, const struct frame *f, int has_eval)
{
    int th = rn_font_height(font);
    int bw = 42 + rn_font_width(font, "train (running mean)"), bh = 10 + (th + 4) * (1 + has_eval);
    int xs[2] = {f->x1 - bw - 8, f->x0 + 8}, ys[2] = {f->y0 + 8, f->y1 - bh - 8};
    int bx = xs[0], by = ys[0];
    long best = -1;
    for (int k = 0; k < 4; k++) {
        long n = covered(im, xs[k & 1], ys[k >> 1], bw, bh);
        if (best < 0 || n < best)
            best = n, bx = xs[k & 1], by = ys[k >> 1];
    }
    for (int j = by; j < by + bh; j++)
        line(im, bx, j, bx + bw - 1, j, (const uint8_t[3]){255, 255, 255}, 0);
    line(im, bx, by, bx + bw - 1, by, C_GRID, 0);
    line(im, bx, by + bh - 1, bx + bw - 1, by + bh - 1, C_GRID, 0);
    line(im, bx, by, bx, by + bh - 1, C_GRID, 0);
    line(im, bx + bw - 1, by, bx + bw - 1, by + bh - 1, C_GRID, 0);
    int x = bx + 6, y = by + 5;
    line(im, x, y + th / 2, x + 24, y + th / 2, C_MEAN, 1);
    rn_font_draw(font, im, x + 30, y, "train (running mean)", C_TEXT);
    if (has_eval) {
        y += th + 4;
        line(im, x, y + th / 2, x + 24, y + th / 2, C_EVAL, 1);
        dot(im, x + 12, y + th / 2, C_EVAL, 3);
        rn_font_draw(font, im, x + 30, y, "held-out", C_TEXT);
    }
}

int rn_train_plot(const char *path, const float *train, int64_t n_train, const float *eval,
                  int64_t n_eval, int w, int h, struct rn_err *e)
{
    struct rn_image im;
    struct rn_font *font = NULL;
    int rc = rn_image_new(&im, w, h, 3, e);
    if (rc < 0)
        return rc;
    memset(im.data, 255, (size_t)w * h * 3);
    if ((rc = rn_font_open(&font, NULL, 13, e)) < 0) {
        rn_image_free(&im);
        return rc;
    }
    /* Ranges over the finite values; a flat or empty curve still gets a
     * frame of height 1. */
    struct frame f = {70, 30, w - 20, h - 50, 0, 1, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n_train; i++)
        if (isfinite(train[i]))
            f.ymin = fmin(f.ymin, train[i]), f.ymax = fmax(f.ymax, train[i]);
    for (int64_t i = 0; i < n_eval; i++)
        if (isfinite(eval[2 * i + 1]))
            f.ymin = fmin(f.ymin, eval[2 * i + 1]), f.ymax = fmax(f.ymax, eval[2 * i + 1]),
            f.xmax = fmax(f.xmax, eval[2 * i]);
    f.xmax = fmax(f.xmax, (double)n_train);
    if (!(f.ymin <= f.ymax))
        f.ymin = 0, f.ymax = 1;
    if (f.ymax - f.ymin < 1e-6)
        f.ymin -= 0.5, f.ymax += 0.5;
    double pad = (f.ymax - f.ymin) * 0.05;
    f.ymin -= pad, f.ymax += pad;
    axes(&im, font, &f);
    const char *title = "next-token loss";
    rn_font_draw(font, &im, (w - rn_font_width(font, title)) / 2, 8, title, C_TEXT);

    /* Raw per-step loss, light; over it a running mean over ~1/50 of the
     * run, which is what shows the trend in a noisy curve. */
    int64_t win = n_train / 50 > 1 ? n_train / 50 : 1;
    double sum = 0;
    int px = -1, py = 0, mx = -1, my = 0;
    for (int64_t i = 0; i < n_train; i++) {
        if (!isfinite(train[i]))
            continue;
        int x = fx(&f, (double)(i + 1)), y = fy(&f, train[i]);
        if (px >= 0)
            line(&im, px, py, x, y, C_RAW, 0);
        px = x, py = y;
    }
    for (int64_t i = 0; i < n_train; i++) {
        sum += isfinite(train[i]) ? train[i] : 0;
        if (i >= win)
            sum -= isfinite(train[i - win]) ? train[i - win] : 0;
        int64_t k = i + 1 < win ? i + 1 : win;
        int x = fx(&f, (double)(i + 1)), y = fy(&f, sum / (double)k);
        if (mx >= 0)
            line(&im, mx, my, x, y, C_MEAN, 1);
        mx = x, my = y;
    }
    px = -1;
    for (int64_t i = 0; i < n_eval; i++) {
        if (!isfinite(eval[2 * i + 1]))
            continue;
        int x = fx(&f, eval[2 * i]), y = fy(&f, eval[2 * i + 1]);
        if (px >= 0)
            line(&im, px, py, x, y, C_EVAL, 1);
        dot(&im, x, y, C_EVAL, 3);
        px = x, py = y;
    }
    legend(&im, font, &f, n_eval > 0);
    rn_font_close(font);
    rc = rn_image_write(path, &im, RN_IMAGE_PNG, 0, e);
    rn_image_free(&im);
    return rc;
}
