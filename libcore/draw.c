/* draw — see draw.h. */
#include "draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void hsv_to_rgb(double h, double s, double v, uint8_t rgb[3])
{
    double f = h * 6 - floor(h * 6);
    double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
    double r, g, b;
    switch ((int)floor(h * 6) % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (uint8_t)lround(r * 255);
    rgb[1] = (uint8_t)lround(g * 255);
    rgb[2] = (uint8_t)lround(b * 255);
}

void rn_draw_color(int64_t id, uint8_t rgb[3])
{
    /* Golden-ratio hue steps put consecutive ids far apart on the wheel;
     * saturation and value vary with the id too, so ids whose hues land
     * close together still differ. */
    uint64_t u = (uint64_t)id;
    double h = fmod((double)(u % 1000003) * 0.6180339887498949 + 0.05, 1.0);
    double s = (u / 3) % 2 ? 0.65 : 0.85;
    double v = u % 3 == 0 ? 0.95 : u % 3 == 1 ? 0.85 : 1.0;
    hsv_to_rgb(h, s, v, rgb);
}

int rn_draw_scale_mask(const uint8_t *mask, int mw, int mh, uint8_t *out, int w, int h)
{
    if (mw == w && mh == h) {
        for (size_t i = 0; i < (size_t)w * h; i++)
            out[i] = mask[i] > 127 ? 255 : 0;
        return RN_OK;
    }
    /* Pixel centres map to pixel centres (cv2.resize's convention);
     * weights in 1/256ths, the threshold half of the full scale. Source
     * rows with no object pixel make whole output rows empty at once. */
    int *xs = malloc((size_t)w * 2 * sizeof *xs);
    uint8_t *any = calloc((size_t)mh, 1);
    if (!xs || !any) {
        free(xs);
        free(any);
        return RN_ENOMEM;
    }
    for (int x = 0; x < w; x++) {
        double fx = (x + 0.5) * mw / w - 0.5;
        fx = fx < 0 ? 0 : fx > mw - 1 ? mw - 1 : fx;
        xs[2 * x] = (int)fx;
        xs[2 * x + 1] = (int)lround((fx - (int)fx) * 256);
    }
    for (int y = 0; y < mh; y++)
        for (int x = 0; x < mw && !any[y]; x++)
            any[y] = mask[(size_t)y * mw + x] != 0;
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * mh / h - 0.5;
        fy = fy < 0 ? 0 : fy > mh - 1 ? mh - 1 : fy;
        int y0 = (int)fy, y1 = y0 + 1 < mh ? y0 + 1 : y0;
        int wy = (int)lround((fy - y0) * 256);
        uint8_t *o = out + (size_t)y * w;
        if (!any[y0] && !any[y1]) {
            memset(o, 0, (size_t)w);
            continue;
        }
        const uint8_t *r0 = mask + (size_t)y0 * mw, *r1 = mask + (size_t)y1 * mw;
        for (int x = 0; x < w; x++) {
            int x0 = xs[2 * x], x1 = x0 + 1 < mw ? x0 + 1 : x0, wx = xs[2 * x + 1];
            int top = (256 - wx) * r0[x0] + wx * r0[x1];
            int bottom = (256 - wx) * r1[x0] + wx * r1[x1];
            /* v / 65536 >= 127.5, in integers */
            o[x] = 2 * ((256 - wy) * top + wy * bottom) >= 255 * 65536 ? 255 : 0;
        }
    }
    free(xs);
    free(any);
    return RN_OK;
}

static void put(struct rn_image *im, int x, int y, const uint8_t rgb[3], unsigned a)
{
    uint8_t *p = im->data + ((size_t)y * im->w + x) * im->c;
    if (im->c >= 3) {
        for (int k = 0; k < 3; k++)
            p[k] = (uint8_t)((rgb[k] * a + p[k] * (255 - a) + 127) / 255);
    } else {
        unsigned luma = (rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8;
        p[0] = (uint8_t)((luma * a + p[0] * (255 - a) + 127) / 255);
    }
}

/* edge[i] = 1 where mask pixel i has a background pixel within t pixels
 * (a (2t+1)-square around it, clipped to the image: the border is not
 * background). The square is separable, so a row pass then a column pass
 * of sliding counts do it in O(w h) whatever t is. */
static int contour_map(const uint8_t *m, int w, int h, int t, uint8_t *edge)
{
    int *pre = malloc(((size_t)w + 1) * sizeof *pre), *cnt = calloc((size_t)w, sizeof *cnt);
    uint8_t *near = malloc((size_t)w * h);
    if (!pre || !cnt || !near) {
        free(pre), free(cnt), free(near);
        return -1;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *row = m + (size_t)y * w;
        pre[0] = 0;
        for (int x = 0; x < w; x++)
            pre[x + 1] = pre[x] + !row[x];
        for (int x = 0; x < w; x++) {
            int lo = x - t < 0 ? 0 : x - t, hi = x + t + 1 > w ? w : x + t + 1;
            near[(size_t)y * w + x] = pre[hi] - pre[lo] > 0;
        }
    }
    for (int y = 0; y <= t && y < h; y++)
        for (int x = 0; x < w; x++)
            cnt[x] += near[(size_t)y * w + x];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            edge[(size_t)y * w + x] = m[(size_t)y * w + x] && cnt[x] > 0;
        if (y + t + 1 < h)
            for (int x = 0; x < w; x++)
                cnt[x] += near[(size_t)(y + t + 1) * w + x];
        if (y - t >= 0)
            for (int x = 0; x < w; x++)
                cnt[x] -= near[(size_t)(y - t) * w + x];
    }
    free(pre), free(cnt), free(near);
    return 0;
}

int rn_draw_mask(struct rn_image *im, const uint8_t *mask, int mw, int mh, const uint8_t rgb[3],
                 double alpha, int contour, struct rn_err *e)
{
    int w = im->w, h = im->h;
    uint8_t *m = malloc((size_t)w * h), *edge = NULL;
    int ok = m != NULL;
    if (ok && (ok = rn_draw_scale_mask(mask, mw, mh, m, w, h) == RN_OK)) {
        if (contour > 0)
            ok = (edge = malloc((size_t)w * h)) && contour_map(m, w, h, contour, edge) == 0;
    }
    if (!ok) {
        free(m);
        free(edge);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for a %dx%d mask", w, h);
    }
    unsigned a = (unsigned)lround((alpha < 0 ? 0 : alpha > 1 ? 1 : alpha) * 255);
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (m[i])
            put(im, (int)(i % w), (int)(i / w), rgb, edge && edge[i] ? 255 : a);
    free(m);
    free(edge);
    return RN_OK;
}

static void fill(struct rn_image *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3])
{
    x1 = x1 < 0 ? 0 : x1;
    y1 = y1 < 0 ? 0 : y1;
    x2 = x2 > im->w ? im->w : x2;
    y2 = y2 > im->h ? im->h : y2;
    for (int y = y1; y < y2; y++)
        for (int x = x1; x < x2; x++)
            put(im, x, y, rgb, 255);
}

static int clampi(double v, int lo, int hi)
{
    if (!(v >= lo)) /* NaN too */
        return lo;
    return v > hi ? hi : (int)lround(v);
}

void rn_draw_box(struct rn_image *im, const double box[4], const uint8_t rgb[3], int thick)
{
    int x1 = clampi(box[0], -1, im->w + 1), y1 = clampi(box[1], -1, im->h + 1);
    int x2 = clampi(box[2], -1, im->w + 1), y2 = clampi(box[3], -1, im->h + 1);
    if (x2 <= x1 || y2 <= y1)
        return;
    fill(im, x1, y1, x2, y1 + thick, rgb);
    fill(im, x1, y2 - thick, x2, y2, rgb);
    fill(im, x1, y1, x1 + thick, y2, rgb);
    fill(im, x2 - thick, y1, x2, y2, rgb);
}

void rn_draw_label(struct rn_image *im, struct rn_font *f, double x, double y, const char *text,
                   const uint8_t rgb[3])
{
    int pad = 2;
    int tw = rn_font_width(f, text) + 2 * pad, th = rn_font_height(f) + pad;
    int lx = clampi(x, 0, im->w > tw ? im->w - tw : 0);
    int ly = clampi(y, 0, im->h);
    ly = ly - th >= 0 ? ly - th : ly; /* above the point, else below it */
    fill(im, lx, ly, lx + tw, ly + th, rgb);
    unsigned luma = (rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8;
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    rn_font_draw(f, im, lx + pad, ly + pad / 2, text, luma > 140 ? black : white);
}

int rn_draw_cutout(const struct rn_image *im, const uint8_t *masks, int n, int mw, int mh,
                   struct rn_image *out, struct rn_err *e)
{
    int rc = rn_image_new(out, im->w, im->h, 4, e);
    if (rc < 0)
        return rc;
    uint8_t *m = malloc((size_t)im->w * im->h);
    if (!m) {
        rn_image_free(out);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (rn_draw_scale_mask(masks + (size_t)i * mw * mh, mw, mh, m, im->w, im->h) < 0) {
            free(m);
            rn_image_free(out);
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        }
        for (size_t p = 0; p < (size_t)im->w * im->h; p++)
            out->data[p * 4 + 3] |= m[p];
    }
    for (size_t p = 0; p < (size_t)im->w * im->h; p++) {
        const uint8_t *s = im->data + p * im->c;
        uint8_t *d = out->data + p * 4;
        if (im->c >= 3)
            d[0] = s[0], d[1] = s[1], d[2] = s[2];
        else
            d[0] = d[1] = d[2] = s[0];
        /* The frame's own alpha, if it has one, still counts. */
        if (im->c == 2 || im->c == 4)
            d[3] = (uint8_t)(d[3] * s[im->c - 1] / 255);
    }
    free(m);
    return RN_OK;
}
