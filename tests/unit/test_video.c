/* video: size fitting, conversions, a lossless write/read round trip
 * through FFmpeg, frame-rate resampling, still-image outputs and their
 * patterns, a live source stopped by its flag, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img.h"
#include "video.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_video.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void frame_pattern(struct rn_image *im, int i)
{
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            for (int k = 0; k < im->c; k++)
                im->data[((size_t)y * im->w + x) * im->c + k] =
                    (uint8_t)(x * 5 + y * 3 + k * 60 + i * 17);
}

static void test_fit(void **state)
{
    (void)state;
    int w, h;
    rn_video_fit(640, 480, 0, 0, 0, &w, &h);
    assert_true(w == 640 && h == 480);
    rn_video_fit(640, 480, 100, 50, 0, &w, &h);
    assert_true(w == 100 && h == 50);
    rn_video_fit(640, 480, 0, 0, 320, &w, &h);
    assert_true(w == 320 && h == 240);
    rn_video_fit(480, 640, 0, 0, 320, &w, &h);
    assert_true(w == 240 && h == 320);
    rn_video_fit(100, 50, 0, 0, 320, &w, &h);     /* never enlarges */
    assert_true(w == 100 && h == 50);
    rn_video_fit(10000, 1, 0, 0, 100, &w, &h);    /* sides stay >= 1 */
    assert_true(w == 100 && h == 1);
}

static void test_scaler(void **state)
{
    (void)state;
    struct rn_scaler s = {0};
    struct rn_image src, dst = {0};
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(&src, 16, 8, 3, &e), RN_OK);
    frame_pattern(&src, 0);
    assert_int_equal(rn_scaler_run(&s, &src, 16, 8, 3, &dst, &e), RN_OK);
    assert_memory_equal(src.data, dst.data, 16 * 8 * 3);
    /* Gray: a gray RGB pixel keeps its value. */
    memset(src.data, 90, 16 * 8 * 3);
    assert_int_equal(rn_scaler_run(&s, &src, 8, 4, 1, &dst, &e), RN_OK);
    assert_int_equal(dst.c, 1);
    for (int i = 0; i < 32; i++)
        assert_true(abs(dst.data[i] - 90) <= 1);
    /* RGBA to RGB drops alpha; the reused dst is reshaped. */
    struct rn_image rgba;
    assert_int_equal(rn_image_new(&rgba, 4, 4, 4, &e), RN_OK);
    for (int i = 0; i < 16; i++)
        memcpy(rgba.data + 4 * i, (uint8_t[4]){10, 20, 30, 40}, 4);
    assert_int_equal(rn_scaler_run(&s, &rgba, 4, 4, 3, &dst, &e), RN_OK);
    assert_int_equal(dst.c, 3);
    assert_memory_equal(dst.data, ((uint8_t[3]){10, 20, 30}), 3);
    rn_image_free(&rgba);
    rn_image_free(&dst);
    rn_image_free(&src);
    rn_scaler_free(&s);
}

/* Write n frames of w x h RGB at fps into path with codec. */
static void write_clip(const char *path, const char *codec, int n, int w, int h, double fps)
{
    struct rn_video_writer *vw;
    struct rn_err e = {0};
    struct rn_writer_opts o = {.codec = codec, .fps = fps};
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_OK);
    struct rn_image im;
    assert_int_equal(rn_image_new(&im, w, h, 3, &e), RN_OK);
    for (int i = 0; i < n; i++) {
        frame_pattern(&im, i);
        if (rn_video_writer_write(vw, &im, NULL, &e) != RN_OK)
            fail_msg("write: %s", e.msg);
    }
    assert_int_equal(rn_video_writer_count(vw), n);
    if (rn_video_writer_close(vw, &e) != RN_OK)
        fail_msg("close: %s", e.msg);
    rn_image_free(&im);
}

static void test_lossless_round_trip(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/rt.mkv", dir);
    write_clip(path, "png", 6, 33, 17, 12);
    struct rn_video_reader *v;
    struct rn_video_opts o = {0};
    struct rn_err e = {0};
    assert_int_equal(rn_video_open(&v, path, &o, &e), RN_OK);
    assert_true(fabs(rn_video_fps(v) - 12) < 1e-6);
    assert_int_equal(rn_video_rotation(v), 0);
    struct rn_image im, want;
    struct rn_frame_info fi;
    assert_int_equal(rn_image_new(&want, 33, 17, 3, &e), RN_OK);
    int n = 0, rc;
    while ((rc = rn_video_read(v, &im, &fi, 0, &e)) == RN_OK) {
        frame_pattern(&want, n);
        assert_int_equal(im.w, 33);
        assert_int_equal(im.h, 17);
        assert_int_equal(im.c, 3);
        assert_false(im.owned);
        assert_memory_equal(im.data, want.data, 33 * 17 * 3);
        assert_int_equal(fi.index, n);
        assert_true(fabs(fi.t - n / 12.0) < 1e-3);
        assert_string_equal(fi.source, path);
        n++;
    }
    assert_int_equal(rc, RN_EOF);
    assert_int_equal(n, 6);
    rn_video_close(v);
    rn_image_free(&want);
}

static int count_frames(const char *path, struct rn_video_opts *o, double *last_t)
{
    struct rn_video_reader *v;
    struct rn_err e = {0};
    assert_int_equal(rn_video_open(&v, path, o, &e), RN_OK);
    struct rn_image im = {0};
    struct rn_frame_info fi;
    int n = 0, rc;
    while ((rc = rn_video_read(v, &im, &fi, RN_VIDEO_SKIP, &e)) == RN_OK) {
        n++;
        *last_t = fi.t;
    }
    assert_int_equal(rc, RN_EOF);
    assert_null(im.data); /* skipped frames are not converted */
    rn_video_close(v);
    return n;
}

static void test_fps_resampling(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/ten.mkv", dir);
    write_clip(path, "png", 10, 8, 8, 10);
    double t;
    struct rn_video_opts o = {.fps = 5};
    assert_int_equal(count_frames(path, &o, &t), 5);
    assert_true(fabs(t - 0.8) < 1e-9);
    o.fps = 20;
    assert_int_equal(count_frames(path, &o, &t), 20);
    assert_true(fabs(t - 0.95) < 1e-9);
    o.fps = 0;
    assert_int_equal(count_frames(path, &o, &t), 10);
}

static void test_resize_and_gray_on_read(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/big.mkv", dir);
    write_clip(path, "png", 2, 64, 32, 25);
    struct rn_video_reader *v;
    struct rn_video_opts o = {.max_side = 16, .gray = 1};
    struct rn_err e = {0};
    struct rn_image im;
    struct rn_frame_info fi;
    assert_int_equal(rn_video_open(&v, path, &o, &e), RN_OK);
    assert_int_equal(rn_video_read(v, &im, &fi, 0, &e), RN_OK);
    assert_true(im.w == 16 && im.h == 8 && im.c == 1);
    rn_video_close(v);
}

static void test_still_outputs(void **state)
{
    (void)state;
    struct rn_video_writer *vw;
    struct rn_err e = {0};
    struct rn_writer_opts o = {0};
    struct rn_image im, back;
    char path[160], name[160];
    assert_int_equal(rn_image_new(&im, 5, 4, 4, &e), RN_OK);
    frame_pattern(&im, 1);
    snprintf(path, sizeof path, "%s/s_%%03d.png", dir);
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rn_video_writer_write(vw, &im, NULL, &e), RN_OK);
    assert_int_equal(rn_video_writer_close(vw, &e), RN_OK);
    snprintf(name, sizeof name, "%s/s_002.png", dir);
    assert_int_equal(rn_image_read(name, &back, &e), RN_OK);
    assert_int_equal(back.c, 4);
    assert_memory_equal(back.data, im.data, 5 * 4 * 4);
    rn_image_free(&back);

    /* One image name takes one frame. */
    snprintf(path, sizeof path, "%s/one.png", dir);
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_OK);
    assert_int_equal(rn_video_writer_write(vw, &im, NULL, &e), RN_OK);
    assert_int_equal(rn_video_writer_write(vw, &im, NULL, &e), RN_EUSAGE);
    assert_int_equal(rn_video_writer_close(vw, &e), RN_OK);

    /* Bad patterns are refused up front. */
    static const char *bad[] = {"x_%d_%d.png", "x_%s.png", "x_%.png", "x%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, bad[i], i == 3 ? ".png" : "");
        assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_EUSAGE);
        assert_null(vw);
    }
    /* %% is a percent sign. */
    snprintf(path, sizeof path, "%s/p%%%%_%%d.png", dir);
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_OK);
    assert_int_equal(rn_video_writer_write(vw, &im, NULL, &e), RN_OK);
    assert_int_equal(rn_video_writer_close(vw, &e), RN_OK);
    snprintf(name, sizeof name, "%s/p%%_0.png", dir);
    assert_int_equal(access(name, F_OK), 0);
    rn_image_free(&im);
}

static void test_writer_errors(void **state)
{
    (void)state;
    struct rn_video_writer *vw;
    struct rn_err e = {0};
    struct rn_writer_opts o = {0};
    char path[160];
    snprintf(path, sizeof path, "%s/x.unknownext", dir);
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_EUSAGE);
    assert_int_equal(rn_video_writer_open(&vw, "-", &o, &e), RN_EUSAGE);
    o.codec = "no-such-codec";
    snprintf(path, sizeof path, "%s/x.mp4", dir);
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_EUSAGE);
    o.codec = NULL;
    o.format = "no-such-format";
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_EUSAGE);
    o.format = NULL;
    assert_int_equal(rn_video_writer_open(&vw, "/nonexistent/dir/x.mp4", &o, &e), RN_EIO);
    /* No frames: an error, and no file left behind (not even a temporary). */
    assert_int_equal(rn_video_writer_open(&vw, path, &o, &e), RN_OK);
    assert_int_equal(rn_video_writer_close(vw, &e), RN_EFORMAT);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '^x.mp4'", dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_reader_errors_and_stop(void **state)
{
    (void)state;
    struct rn_video_reader *v;
    struct rn_video_opts o = {0};
    struct rn_err e = {0};
    assert_int_equal(rn_video_open(&v, "/nonexistent/clip.mp4", &o, &e), RN_EIO);
    assert_null(v);
    assert_string_equal(e.where, "/nonexistent/clip.mp4");
    char path[160];
    snprintf(path, sizeof path, "%s/junk.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    assert_true(rn_video_open(&v, path, &o, &e) < 0);
    assert_string_equal(e.where, path);
    o.format = "no-such-device";
    assert_int_equal(rn_video_open(&v, "x", &o, &e), RN_EUSAGE);

    /* A live source ends cleanly once the stop flag is set. */
    volatile sig_atomic_t stop = 0;
    o.format = "lavfi";
    o.stop = &stop;
    assert_int_equal(rn_video_open(&v, "testsrc2=size=32x24:rate=25", &o, &e), RN_OK);
    struct rn_image im;
    struct rn_frame_info fi;
    int n = 0, rc;
    while ((rc = rn_video_read(v, &im, &fi, 0, &e)) == RN_OK) {
        assert_true(im.w == 32 && im.h == 24);
        if (++n == 3)
            stop = 1;
        assert_true(n <= 4);
    }
    assert_int_equal(rc, RN_EOF);
    assert_int_equal(n, 3);
    rn_video_close(v);
    rn_video_close(NULL);
    rn_video_writer_abort(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_scaler),
        cmocka_unit_test(test_lossless_round_trip),
        cmocka_unit_test(test_fps_resampling),
        cmocka_unit_test(test_resize_and_gray_on_read),
        cmocka_unit_test(test_still_outputs),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_reader_errors_and_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
