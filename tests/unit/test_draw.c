/* draw and font: colours as a function of the id, mask scaling with exact
 * edges, fill/contour/box/label pixels, cut-outs, and both font paths
 * (FreeType and the built-in fallback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draw.h"
#include "font.h"
#include "img.h"

static void new_image(struct rn_image *im, int w, int h, int c, uint8_t v)
{
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(im, w, h, c, &e), RN_OK);
    memset(im->data, v, (size_t)w * h * c);
}

static const uint8_t *px(const struct rn_image *im, int x, int y)
{
    return im->data + ((size_t)y * im->w + x) * im->c;
}

static int is_bg(const struct rn_image *im, int x, int y, uint8_t v)
{
    for (int k = 0; k < im->c; k++)
        if (px(im, x, y)[k] != v)
            return 0;
    return 1;
}

static void test_color_per_id(void **state)
{
    (void)state;
    uint8_t a[3], b[3];
    for (int64_t id = -5; id < 200; id++) {
        rn_draw_color(id, a);
        rn_draw_color(id, b);
        assert_memory_equal(a, b, 3);
    }
    /* The first dozen ids are told apart at a glance: every pair differs
     * by at least 60 levels summed over the channels. */
    for (int i = 0; i < 12; i++)
        for (int j = i + 1; j < 12; j++) {
            rn_draw_color(i, a);
            rn_draw_color(j, b);
            int d = abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]);
            if (d < 60)
                fail_msg("ids %d and %d: colours too close (%d)", i, j, d);
        }
}

static void test_scale_mask(void **state)
{
    (void)state;
    uint8_t m[6 * 4] = {0}, out[12 * 8];
    for (int y = 1; y < 3; y++)
        for (int x = 2; x < 4; x++)
            m[y * 6 + x] = 255;
    assert_int_equal(rn_draw_scale_mask(m, 6, 4, out, 6, 4), RN_OK);
    assert_memory_equal(m, out, sizeof m);
    /* Twice the size: the block covers exactly [4, 8) x [2, 6). */
    assert_int_equal(rn_draw_scale_mask(m, 6, 4, out, 12, 8), RN_OK);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 12; x++) {
            int want = x >= 4 && x < 8 && y >= 2 && y < 6 ? 255 : 0;
            if (out[y * 12 + x] != want)
                fail_msg("(%d, %d): %d, want %d", x, y, out[y * 12 + x], want);
        }
    /* Half the size: 2x2 blocks average, half or more is the object. */
    uint8_t half[3 * 2];
    assert_int_equal(rn_draw_scale_mask(m, 6, 4, half, 3, 2), RN_OK);
    assert_int_equal(half[1], 255);
    assert_int_equal(half[0], 0);
    assert_int_equal(half[2], 0);
}

/* The integer scaler against bilinear interpolation in doubles (the naive
 * reference), on random masks and scale factors: the same pixels wherever
 * the interpolated value is not within a hair of the threshold. */
static void test_scale_mask_matches_reference(void **state)
{
    (void)state;
    static const int sizes[][4] = {{16, 12, 64, 48}, {40, 30, 13, 11}, {7, 5, 100, 3},
                                   {33, 17, 50, 80}};
    unsigned seed = 12345;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int mw = sizes[k][0], mh = sizes[k][1], w = sizes[k][2], h = sizes[k][3];
        uint8_t *m = malloc((size_t)mw * mh), *out = malloc((size_t)w * h);
        for (int i = 0; i < mw * mh; i++)
            m[i] = (seed = seed * 1103515245 + 12345) >> 16 & 1 ? 255 : 0;
        assert_int_equal(rn_draw_scale_mask(m, mw, mh, out, w, h), RN_OK);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double fx = (x + 0.5) * mw / w - 0.5, fy = (y + 0.5) * mh / h - 0.5;
                fx = fx < 0 ? 0 : fx > mw - 1 ? mw - 1 : fx;
                fy = fy < 0 ? 0 : fy > mh - 1 ? mh - 1 : fy;
                int x0 = (int)fx, y0 = (int)fy;
                int x1 = x0 + 1 < mw ? x0 + 1 : x0, y1 = y0 + 1 < mh ? y0 + 1 : y0;
                double ax = fx - x0, ay = fy - y0;
                double v = (1 - ay) * ((1 - ax) * m[y0 * mw + x0] + ax * m[y0 * mw + x1]) +
                           ay * ((1 - ax) * m[y1 * mw + x0] + ax * m[y1 * mw + x1]);
                if (fabs(v - 127.5) < 2)
                    continue;
                if (out[y * w + x] != (v >= 127.5 ? 255 : 0))
                    fail_msg("%dx%d -> %dx%d at (%d, %d): %d, reference %.2f", mw, mh, w, h, x,
                             y, out[y * w + x], v);
            }
        free(m);
        free(out);
    }
}

static void test_mask_fill_and_contour(void **state)
{
    (void)state;
    struct rn_image im;
    struct rn_err e = {0};
    uint8_t m[20 * 20] = {0};
    for (int y = 5; y < 15; y++)
        for (int x = 5; x < 15; x++)
            m[y * 20 + x] = 255;
    const uint8_t rgb[3] = {200, 40, 0};
    new_image(&im, 20, 20, 3, 100);
    assert_int_equal(rn_draw_mask(&im, m, 20, 20, rgb, 0.5, 1, &e), RN_OK);
    assert_memory_equal(px(&im, 5, 10), rgb, 3);       /* contour */
    assert_memory_equal(px(&im, 14, 14), rgb, 3);
    /* fill: (c * 128 + 100 * 127 + 127) / 255 */
    const uint8_t want[3] = {150, 70, 50};
    assert_memory_equal(px(&im, 10, 10), want, 3);
    assert_true(is_bg(&im, 4, 10, 100));
    assert_true(is_bg(&im, 15, 15, 100));
    rn_image_free(&im);

    /* A gray image takes the colour's luma; alpha 1 and no contour. */
    new_image(&im, 20, 20, 1, 0);
    assert_int_equal(rn_draw_mask(&im, m, 20, 20, rgb, 1.0, 0, &e), RN_OK);
    assert_int_equal(px(&im, 5, 5)[0], (200 * 77 + 40 * 150) >> 8);
    assert_int_equal(px(&im, 4, 4)[0], 0);
    rn_image_free(&im);

    /* RGBA: the alpha channel is left alone. */
    new_image(&im, 20, 20, 4, 77);
    assert_int_equal(rn_draw_mask(&im, m, 20, 20, rgb, 1.0, 0, &e), RN_OK);
    assert_memory_equal(px(&im, 10, 10), rgb, 3);
    assert_int_equal(px(&im, 10, 10)[3], 77);
    rn_image_free(&im);
}

/* The contour against its definition, pixel by pixel: an object pixel
 * with background within t pixels (a square, clipped to the image). */
static void test_contour_matches_definition(void **state)
{
    (void)state;
    enum { W = 37, H = 23 };
    uint8_t m[W * H];
    const uint8_t rgb[3] = {255, 255, 255};
    for (int i = 0; i < W * H; i++) /* blobs, holes and image borders */
        m[i] = ((i % W - 18) * (i % W - 18) + (i / W - 11) * (i / W - 11) * 3 < 300 &&
                (i * 7919) % 13 != 0) || i % W < 3 ? 255 : 0;
    for (int t = 1; t <= 4; t++) {
        struct rn_image im;
        struct rn_err e = {0};
        new_image(&im, W, H, 1, 0);
        assert_int_equal(rn_draw_mask(&im, m, W, H, rgb, 0.0, t, &e), RN_OK);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int edge = 0;
                for (int dy = -t; dy <= t; dy++)
                    for (int dx = -t; dx <= t; dx++) {
                        int nx = x + dx, ny = y + dy;
                        edge |= nx >= 0 && ny >= 0 && nx < W && ny < H && !m[ny * W + nx];
                    }
                int want = m[y * W + x] && edge ? 255 : 0;
                if (px(&im, x, y)[0] != want)
                    fail_msg("t=%d (%d, %d): %d, want %d", t, x, y, px(&im, x, y)[0], want);
            }
        rn_image_free(&im);
    }
}

static void test_box(void **state)
{
    (void)state;
    struct rn_image im;
    const uint8_t rgb[3] = {1, 2, 3};
    new_image(&im, 30, 20, 3, 9);
    rn_draw_box(&im, (double[4]){5, 4, 15, 12}, rgb, 2);
    assert_memory_equal(px(&im, 5, 4), rgb, 3);
    assert_memory_equal(px(&im, 14, 11), rgb, 3);
    assert_memory_equal(px(&im, 6, 8), rgb, 3);
    assert_true(is_bg(&im, 7, 8, 9));
    assert_true(is_bg(&im, 15, 8, 9));
    assert_true(is_bg(&im, 10, 3, 9));
    /* Outside, huge, inverted or NaN boxes are clipped or ignored. */
    rn_draw_box(&im, (double[4]){-100, -100, 1e12, 1e12}, rgb, 2);
    rn_draw_box(&im, (double[4]){20, 15, 10, 5}, rgb, 2);
    rn_draw_box(&im, (double[4]){NAN, 0, NAN, 5}, rgb, 2);
    assert_true(is_bg(&im, 10, 8, 9));
    rn_image_free(&im);
}

static int count_changed(const struct rn_image *im, uint8_t v)
{
    int n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            n += !is_bg(im, x, y, v);
    return n;
}

static void test_fonts(void **state)
{
    (void)state;
    struct rn_font *f;
    struct rn_err e = {0};
    assert_int_equal(rn_font_open(&f, "/nonexistent/font.ttf", 15, &e), RN_OK);
    assert_true(rn_font_is_builtin(f));
    assert_int_equal(rn_font_width(f, "ID 3"), 4 * 7);
    assert_int_equal(rn_font_height(f), 15);
    struct rn_image im;
    new_image(&im, 60, 20, 3, 0);
    rn_font_draw(f, &im, 0, 0, "ID 3", (uint8_t[3]){255, 255, 255});
    int builtin_pixels = count_changed(&im, 0);
    assert_true(builtin_pixels > 20);
    /* Off the image and non-ASCII: clipped, '?', no crash. */
    rn_font_draw(f, &im, 55, 15, "\xc3\xa9t\xff\xe9", (uint8_t[3]){255, 0, 0});
    rn_font_draw(f, &im, -30, -8, "long text beyond the edge", (uint8_t[3]){255, 0, 0});
    rn_font_close(f);
    rn_image_free(&im);

    assert_int_equal(rn_font_open(&f, NULL, 5, &e), RN_EUSAGE);
    if (access(RN_FONT_DEFAULT, R_OK) != 0) {
        print_message("note: %s missing: FreeType path not tested\n", RN_FONT_DEFAULT);
        return;
    }
    assert_int_equal(rn_font_open(&f, NULL, 16, &e), RN_OK);
    assert_false(rn_font_is_builtin(f));
    int w = rn_font_width(f, "ID 3 | 0.92");
    assert_true(w > 40 && w < 120);
    assert_true(rn_font_width(f, "ID 3 | 0.92 | caf\xc3\xa9") > w);
    new_image(&im, 120, 24, 1, 0);
    rn_font_draw(f, &im, 2, 2, "ID 3 | 0.92", (uint8_t[3]){255, 255, 255});
    assert_true(count_changed(&im, 0) > 40);
    /* Anti-aliased: some pixels are neither background nor full white. */
    int grey = 0;
    for (size_t i = 0; i < (size_t)im.w * im.h; i++)
        grey += im.data[i] > 0 && im.data[i] < 255;
    assert_true(grey > 0);
    rn_image_free(&im);

    /* The label's tag sits above the point, or below it at the top. */
    new_image(&im, 120, 60, 3, 0);
    const uint8_t rgb[3] = {255, 255, 0};
    rn_draw_label(&im, f, 10, 40, "ID 1", rgb);
    assert_memory_equal(px(&im, 11, 39), rgb, 3);
    assert_true(is_bg(&im, 11, 41, 0));
    rn_draw_label(&im, f, 10, 0, "ID 2", rgb);
    assert_memory_equal(px(&im, 11, 1), rgb, 3);
    rn_image_free(&im);
    rn_font_close(f);
}

static void test_cutout(void **state)
{
    (void)state;
    struct rn_image im, out;
    struct rn_err e = {0};
    new_image(&im, 8, 4, 2, 0);
    for (int i = 0; i < 32; i++)
        im.data[2 * i] = (uint8_t)i, im.data[2 * i + 1] = 128;
    uint8_t masks[2 * 4 * 8] = {0};
    masks[0 * 32 + 1 * 8 + 1] = 255;   /* mask 0 at (1, 1) */
    masks[1 * 32 + 2 * 8 + 6] = 255;   /* mask 1 at (6, 2) */
    assert_int_equal(rn_draw_cutout(&im, masks, 2, 8, 4, &out, &e), RN_OK);
    assert_int_equal(out.c, 4);
    const uint8_t *p = px(&out, 1, 1);
    assert_int_equal(p[0], 9);
    assert_int_equal(p[2], 9);
    assert_int_equal(p[3], 128);        /* 255 scaled by the frame's alpha */
    assert_int_equal(px(&out, 6, 2)[3], 128);
    assert_int_equal(px(&out, 0, 0)[3], 0);
    rn_image_free(&out);
    rn_image_free(&im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color_per_id),
        cmocka_unit_test(test_scale_mask),
        cmocka_unit_test(test_scale_mask_matches_reference),
        cmocka_unit_test(test_mask_fill_and_contour),
        cmocka_unit_test(test_contour_matches_definition),
        cmocka_unit_test(test_box),
        cmocka_unit_test(test_fonts),
        cmocka_unit_test(test_cutout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
