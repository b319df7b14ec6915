/* Unit tests for libcore/seg and seg_prompt: segmentation of synthetic
 * images with known masks (a textured object on a textured background,
 * made here), by box, by box and clicks, from a starting mask, at full and
 * at reduced resolution; prompt checks and prompt parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "seg.h"
#include "seg_prompt.h"

struct synth {
    struct rn_image im;
    uint8_t *truth;       /* h x w, 1 object */
    double box[4];        /* the object's bounding box plus a margin */
};

static uint8_t clamp8(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

/* Background: green and grey mixed by a smooth wave pattern, with noise.
 * Object: a wobbly ellipse, orange and red in 6-pixel checks, with noise.
 * distractor: also paint a blue square touching the object, inside its
 * box, that is background (its colour appears nowhere else). */
static void synth_make(struct synth *s, int w, int h, uint64_t seed, int distractor)
{
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(&s->im, w, h, 3, &e), RN_OK);
    s->truth = calloc((size_t)w * h, 1);
    struct rn_rng r;
    rn_rng_seed(&r, seed);
    double cx = 0.5 * w, cy = 0.5 * h, ax = 0.25 * w, ay = 0.3 * h;
    int x1 = w, y1 = h, x2 = 0, y2 = 0;
    double sc = w / 160.0; /* texture scale follows the image size */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = (x + 0.5 - cx) / ax, dy = (y + 0.5 - cy) / ay;
            double th = atan2(dy, dx), rad = 1 + 0.1 * sin(5 * th);
            int obj = dx * dx + dy * dy < rad * rad;
            uint8_t *p = s->im.data + 3 * ((size_t)y * w + x);
            double c[3];
            if (obj) {
                int chk = ((int)(x / (6 * sc)) + (int)(y / (6 * sc))) & 1;
                c[0] = chk ? 200 : 230, c[1] = chk ? 80 : 170, c[2] = chk ? 50 : 60;
                x1 = x < x1 ? x : x1, x2 = x + 1 > x2 ? x + 1 : x2;
                y1 = y < y1 ? y : y1, y2 = y + 1 > y2 ? y + 1 : y2;
            } else {
                double t = 0.5 + 0.5 * sin(x / (7 * sc)) * cos(y / (5 * sc));
                c[0] = 60 + 80 * t, c[1] = 110 + 30 * t, c[2] = 60 + 60 * t;
            }
            for (int k = 0; k < 3; k++)
                p[k] = clamp8(c[k] + 8 * rn_rng_normal(&r));
            s->truth[(size_t)y * w + x] = (uint8_t)obj;
        }
    int m = w / 20;
    s->box[0] = x1 - m, s->box[1] = y1 - m, s->box[2] = x2 + m, s->box[3] = y2 + m;
    if (distractor) {
        /* Left of the object, inside the box, overlapping the ellipse. */
        int q0 = (int)s->box[0] + 1, q1 = (int)(cx - 0.6 * ax);
        for (int y = (int)(cy - 0.25 * ay); y < (int)(cy + 0.25 * ay); y++)
            for (int x = q0; x < q1; x++) {
                uint8_t *p = s->im.data + 3 * ((size_t)y * w + x);
                p[0] = clamp8(40 + 8 * rn_rng_normal(&r));
                p[1] = clamp8(60 + 8 * rn_rng_normal(&r));
                p[2] = clamp8(200 + 8 * rn_rng_normal(&r));
                s->truth[(size_t)y * w + x] = 0;
            }
    }
}

static void synth_free(struct synth *s)
{
    rn_image_free(&s->im);
    free(s->truth);
}

static double run_iou(const struct synth *s, const struct rn_seg_prompt *p,
                      const struct rn_seg_params *par, struct rn_seg_result *res)
{
    struct rn_err e = {0};
    size_t n = (size_t)s->im.w * s->im.h;
    uint8_t *mask = malloc(n);
    int rc = rn_seg_segment(&s->im, p, par, mask, res, &e);
    if (rc < 0)
        print_error("rn_seg_segment: %s\n", e.msg);
    assert_int_equal(rc, RN_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(mask[i] == 0 || mask[i] == 255);
    double iou = rn_seg_iou(mask, s->truth, (int64_t)n);
    free(mask);
    return iou;
}

static void test_box_full_resolution(void **state)
{
    (void)state;
    struct synth s;
    synth_make(&s, 160, 120, 1, 0);
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_prompt p = {.has_box = 1};
    memcpy(p.box, s.box, sizeof p.box);
    struct rn_seg_result res;
    double iou = run_iou(&s, &p, &par, &res);
    print_message("box, 160x120: IoU %.4f score %.3f scale %d\n", iou, res.score, res.scale);
    assert_int_equal(res.scale, 1);
    assert_true(iou >= 0.97);
    assert_true(res.score > 0.9 && res.score <= 1);
    /* The reported box is the mask's bounding box: inside the prompt box. */
    assert_true(res.box[0] >= s.box[0] && res.box[2] <= s.box[2]);
    assert_true(res.area > 0);
    synth_free(&s);
}

static void test_box_reduced_resolution(void **state)
{
    (void)state;
    struct synth s;
    synth_make(&s, 1280, 960, 2, 0);
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_prompt p = {.has_box = 1};
    memcpy(p.box, s.box, sizeof p.box);
    struct rn_seg_result res;
    double iou = run_iou(&s, &p, &par, &res);
    print_message("box, 1280x960: IoU %.4f scale %d band %lld px\n", iou, res.scale,
                  (long long)res.band);
    assert_true(res.scale > 1);
    assert_true(res.band > 0);
    assert_true(iou >= 0.97);
    /* Without the full-resolution band the boundary is blockier. */
    par.refine = 0;
    double coarse = run_iou(&s, &p, &par, &res);
    print_message("  without the band: IoU %.4f\n", coarse);
    assert_true(coarse < iou);
    synth_free(&s);
}

static void test_box_and_clicks(void **state)
{
    (void)state;
    struct synth s;
    synth_make(&s, 200, 150, 3, 1);
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_prompt p = {.has_box = 1};
    memcpy(p.box, s.box, sizeof p.box);
    struct rn_seg_result res;
    double box_only = run_iou(&s, &p, &par, &res);
    /* One background click on the blue square, one object click. */
    double qx = (s.box[0] + 1 + 0.5 * 200 - 0.6 * 0.25 * 200) / 2, qy = 75;
    struct rn_seg_point pts[2] = {{qx, qy, 0}, {100, 75, 1}};
    p.points = pts;
    p.npoints = 2;
    double clicked = run_iou(&s, &p, &par, &res);
    print_message("distractor: box only IoU %.4f, with clicks %.4f\n", box_only, clicked);
    assert_true(box_only < 0.93); /* the square is taken for object... */
    assert_true(clicked >= 0.95); /* ...until a click says otherwise */
    synth_free(&s);
}

static void test_points_only(void **state)
{
    (void)state;
    struct synth s;
    synth_make(&s, 160, 120, 4, 0);
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_point pts[3] = {{80, 60, 1}, {70, 40, 1}, {95, 75, 1}};
    struct rn_seg_prompt p = {.points = pts, .npoints = 3};
    struct rn_seg_result res;
    double iou = run_iou(&s, &p, &par, &res);
    print_message("three object clicks, no box: IoU %.4f\n", iou);
    assert_true(iou >= 0.9);
    synth_free(&s);
}

static void test_starting_mask(void **state)
{
    (void)state;
    struct synth s;
    synth_make(&s, 160, 120, 5, 0);
    int w = 160, h = 120;
    /* A sloppy previous mask: the truth shifted by 5 pixels, at half
     * resolution (masks may be smaller than the frame). */
    uint8_t *init = calloc((size_t)(w / 2) * (h / 2), 1);
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++) {
            int sx = 2 * x - 5, sy = 2 * y + 3;
            if (sx >= 0 && sy < h)
                init[y * (w / 2) + x] = s.truth[sy * w + sx] ? 255 : 0;
        }
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_prompt p = {.init = init, .init_w = w / 2, .init_h = h / 2};
    struct rn_seg_result res;
    double iou = run_iou(&s, &p, &par, &res);
    print_message("refined from a shifted half-size mask: IoU %.4f\n", iou);
    assert_true(iou >= 0.95);
    /* An empty starting mask gives an empty mask, score 0. */
    memset(init, 0, (size_t)(w / 2) * (h / 2));
    double empty = run_iou(&s, &p, &par, &res);
    assert_true(empty < 0.01);
    assert_true(res.score == 0 && res.area == 0);
    free(init);
    synth_free(&s);
}

static void test_grey_and_deterministic(void **state)
{
    (void)state;
    /* A grey (1-channel) image: a bright disk on dark noise. */
    struct rn_image im;
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(&im, 64, 48, 1, &e), RN_OK);
    struct rn_rng r;
    rn_rng_seed(&r, 6);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            int in = (x - 32) * (x - 32) + (y - 24) * (y - 24) < 144;
            im.data[y * 64 + x] = clamp8((in ? 190 : 60) + 10 * rn_rng_normal(&r));
        }
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    struct rn_seg_prompt p = {.has_box = 1, .box = {14, 6, 50, 42}};
    uint8_t a[64 * 48], b[64 * 48];
    struct rn_seg_result res;
    assert_int_equal(rn_seg_segment(&im, &p, &par, a, &res, &e), RN_OK);
    assert_int_equal(rn_seg_segment(&im, &p, &par, b, &res, &e), RN_OK);
    assert_memory_equal(a, b, sizeof a);
    int64_t area = 0;
    for (int i = 0; i < 64 * 48; i++)
        area += a[i] != 0;
    assert_true(area > 400 && area < 500); /* pi 12^2 = 452 */
    rn_image_free(&im);
}

static void test_prompt_checks(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_seg_prompt p = {.has_box = 1, .box = {600, 0, 700, 50}};
    assert_int_equal(rn_seg_prompt_check(&p, 500, 333, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "box 600,0,700,50 lies outside the 500x333 image"));
    p.box[0] = 10, p.box[2] = 10;
    assert_int_equal(rn_seg_prompt_check(&p, 500, 333, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "empty"));
    p.box[0] = -50, p.box[2] = 20; /* partly outside: clipped, fine */
    assert_int_equal(rn_seg_prompt_check(&p, 500, 333, &e), RN_OK);
    struct rn_seg_point pt = {500, 10, 1};
    p.points = &pt;
    p.npoints = 1;
    assert_int_equal(rn_seg_prompt_check(&p, 500, 333, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "point 500,10,1 lies outside"));
    struct rn_seg_prompt none = {0};
    struct rn_seg_point bgpt = {5, 5, 0};
    none.points = &bgpt;
    none.npoints = 1;
    assert_int_equal(rn_seg_prompt_check(&none, 500, 333, &e), RN_EFORMAT);
    /* rn_seg_segment refuses what the check refuses, and bad parameters. */
    struct rn_image im;
    assert_int_equal(rn_image_new(&im, 8, 8, 3, &e), RN_OK);
    uint8_t mask[64];
    struct rn_seg_result res;
    struct rn_seg_params par;
    rn_seg_params_default(&par);
    assert_int_equal(rn_seg_segment(&im, &none, &par, mask, &res, &e), RN_EFORMAT);
    struct rn_seg_prompt ok = {.has_box = 1, .box = {1, 1, 7, 7}};
    par.iters = 0;
    assert_int_equal(rn_seg_segment(&im, &ok, &par, mask, &res, &e), RN_EUSAGE);
    rn_seg_params_default(&par);
    assert_int_equal(rn_seg_segment(&im, &ok, &par, mask, &res, &e), RN_OK); /* flat image */
    rn_image_free(&im);
    uint8_t x[4] = {0, 255, 255, 0}, y[4] = {0, 255, 0, 255};
    assert_true(fabs(rn_seg_iou(x, y, 4) - 1.0 / 3) < 1e-12);
    assert_true(rn_seg_iou(x, x, 0) == 1.0);
}

static void test_prompt_parsing(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_seg_prompts ps;
    rn_seg_prompts_init(&ps);
    /* Points before a box make a box-less instance; later points join
     * the latest box. */
    assert_int_equal(rn_seg_prompts_add_point(&ps, "5,6", &e), RN_OK);
    assert_int_equal(rn_seg_prompts_add_box(&ps, "1,2,30.5,40", &e), RN_OK);
    assert_int_equal(rn_seg_prompts_add_point(&ps, "7,8,0", &e), RN_OK);
    assert_int_equal(rn_seg_prompts_add_box(&ps, "3,3,9,9", &e), RN_OK);
    assert_int_equal(ps.n, 3);
    assert_int_equal(ps.inst[0].has_box, 0);
    assert_int_equal(ps.inst[0].npoints, 1);
    assert_int_equal(ps.inst[0].points[0].object, 1);
    assert_true(ps.inst[1].box[2] == 30.5);
    assert_int_equal(ps.inst[1].npoints, 1);
    assert_int_equal(ps.inst[1].points[0].object, 0);
    assert_int_equal(ps.inst[2].npoints, 0);
    const char *bad_boxes[] = {"1,2,3", "1,2,3,4,5", "a,b,c,d", "5,5,5,9", "9,1,2,5", "1,,2,3",
                               "nan,1,2,3", ""};
    for (size_t i = 0; i < sizeof bad_boxes / sizeof *bad_boxes; i++)
        assert_int_equal(rn_seg_prompts_add_box(&ps, bad_boxes[i], &e), RN_EUSAGE);
    const char *bad_points[] = {"1", "1,2,3,4", "1,2,2", "x,1", "1,2,-1"};
    for (size_t i = 0; i < sizeof bad_points / sizeof *bad_points; i++)
        assert_int_equal(rn_seg_prompts_add_point(&ps, bad_points[i], &e), RN_EUSAGE);
    assert_int_equal(ps.n, 3);

    int64_t frame;
    assert_int_equal(rn_seg_prompts_parse_json(&ps,
                                               "{\"frame\": 4, \"instances\": [{\"id\": 9, "
                                               "\"label\": \"pot\", \"box\": [1, 2, 3, 4], "
                                               "\"points\": [[1, 2], [2, 3, 0]]}, "
                                               "{\"points\": [[5, 5]]}]}",
                                               &frame, &e),
                     RN_OK);
    assert_int_equal(frame, 4);
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.inst[0].id, 9);
    assert_string_equal(ps.inst[0].label, "pot");
    assert_int_equal(ps.inst[0].npoints, 2);
    assert_int_equal(ps.inst[1].has_box, 0);
    struct rn_seg_prompt p;
    rn_seg_prompts_get(&ps, 0, &p);
    assert_true(p.has_box && p.box[3] == 4 && p.npoints == 2 && !p.points[1].object);
    const char *bad_lines[] = {
        "", "[1]", "{\"instances\": []}", "{\"instances\": [{}]}",
        "{\"instances\": [{\"box\": [1, 2, 3]}]}", "{\"instances\": [{\"box\": [3, 2, 1, 4]}]}",
        "{\"instances\": [{\"points\": [[1]]}]}", "{\"instances\": [{\"points\": [[1, 2, 5]]}]}",
        "{\"instances\": [{\"box\": [1, 2, 3, 4], \"id\": 0}]}",
        "{\"instances\": [{\"box\": [1, 2, 3, 4], \"label\": 3}]}",
        "{\"frame\": -1, \"instances\": [{\"box\": [1, 2, 3, 4]}]}", "{\"instances\": "};
    for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
        assert_int_equal(rn_seg_prompts_parse_json(&ps, bad_lines[i], &frame, &e), RN_EFORMAT);
        assert_int_equal(ps.n, 0);
    }
    assert_int_equal(rn_seg_prompts_parse_json(
                         &ps, "{\"instances\": [{\"box\": [1, 2, 3, 4]}, {\"box\": [1, 2]}]}",
                         &frame, &e),
                     RN_EFORMAT);
    assert_non_null(strstr(e.msg, "instance 2"));
    rn_seg_prompts_free(&ps);
    rn_seg_prompts_free(&ps); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_box_full_resolution),
        cmocka_unit_test(test_box_reduced_resolution),
        cmocka_unit_test(test_box_and_clicks),
        cmocka_unit_test(test_points_only),
        cmocka_unit_test(test_starting_mask),
        cmocka_unit_test(test_grey_and_deterministic),
        cmocka_unit_test(test_prompt_checks),
        cmocka_unit_test(test_prompt_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
