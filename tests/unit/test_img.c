/* img: every PNG flavour decodes to the exact pixels it was written with,
 * JPEG round trips within the codec's tolerance, EXIF orientation is
 * applied, PNM/PAM round trip, and a table of hostile files each gives a
 * clear error without a crash or a large allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "img.h"

/* ---- helpers ------------------------------------------------------------- */

static uint8_t pattern(int x, int y, int k)
{
    return (uint8_t)(x * 37 + y * 11 + k * 71 + ((x ^ y) & 5) * 13);
}

static void fill_pattern(struct rn_image *im)
{
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            for (int k = 0; k < im->c; k++)
                im->data[((size_t)y * im->w + x) * im->c + k] = pattern(x, y, k);
}

struct membuf {
    uint8_t *p;
    size_t n, cap;
};

static void mem_write(png_structp png, png_bytep d, png_size_t n)
{
    struct membuf *b = png_get_io_ptr(png);
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

/* A PNG written directly with libpng, rows already packed for the flavour. */
struct png_spec {
    int w, h, type, depth, interlace;
    png_color palette[16];
    int npalette;
    png_byte trns[16];
    int ntrns;
};

static struct membuf write_png(const struct png_spec *s, uint8_t **rows)
{
    struct membuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed writing a test image");
    png_set_write_fn(png, &b, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->type,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->npalette)
        png_set_PLTE(png, info, s->palette, s->npalette);
    if (s->ntrns)
        png_set_tRNS(png, info, s->trns, s->ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return b;
}

static uint8_t **alloc_rows(int h, size_t rowbytes)
{
    uint8_t **rows = calloc((size_t)h, sizeof *rows);
    assert_non_null(rows);
    for (int y = 0; y < h; y++)
        assert_non_null(rows[y] = calloc(1, rowbytes));
    return rows;
}

static void free_rows(uint8_t **rows, int h)
{
    for (int y = 0; y < h; y++)
        free(rows[y]);
    free(rows);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = (uint8_t)v;
}

/* Rewrite a PNG's IHDR size (and its CRC) in place. */
static void patch_ihdr(uint8_t *png, uint32_t w, uint32_t h)
{
    assert_memory_equal(png + 12, "IHDR", 4);
    put32(png + 16, w);
    put32(png + 20, h);
    put32(png + 29, crc32_png(png + 12, 17));
}

static void check_pixels(const struct rn_image *im, int w, int h, int c, const uint8_t *want)
{
    assert_int_equal(im->w, w);
    assert_int_equal(im->h, h);
    assert_int_equal(im->c, c);
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        if (im->data[i] != want[i])
            fail_msg("pixel byte %zu: got %d, want %d", i, im->data[i], want[i]);
}

/* ---- PNG flavours ---------------------------------------------------------- */

static void test_png_8bit_flavours(void **state)
{
    (void)state;
    static const int types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    for (int interlace = 0; interlace < 2; interlace++)
        for (int c = 1; c <= 4; c++) {
            int w = 13, h = 9;
            uint8_t **rows = alloc_rows(h, (size_t)w * c);
            uint8_t *want = malloc((size_t)w * h * c);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int k = 0; k < c; k++)
                        want[((size_t)y * w + x) * c + k] = rows[y][x * c + k] = pattern(x, y, k);
            struct png_spec s = {.w = w, .h = h, .type = types[c - 1], .depth = 8,
                                 .interlace = interlace ? PNG_INTERLACE_ADAM7 : 0};
            struct membuf b = write_png(&s, rows);
            struct rn_image im;
            struct rn_err e = {0};
            assert_int_equal(rn_image_read_mem(b.p, b.n, "t.png", &im, &e), RN_OK);
            check_pixels(&im, w, h, c, want);
            rn_image_free(&im);
            free(b.p);
            free(want);
            free_rows(rows, h);
        }
}

static void test_png_16bit_scaled(void **state)
{
    (void)state;
    /* Samples v * 257 are exactly v in 8 bits, so the result is exact. */
    static const int types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    for (int c = 1; c <= 4; c++) {
        int w = 7, h = 5;
        uint8_t **rows = alloc_rows(h, (size_t)w * c * 2);
        uint8_t *want = malloc((size_t)w * h * c);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++) {
                    uint8_t v = pattern(x, y, k);
                    want[((size_t)y * w + x) * c + k] = v;
                    rows[y][(x * c + k) * 2] = v; /* big-endian v * 257 */
                    rows[y][(x * c + k) * 2 + 1] = v;
                }
        struct png_spec s = {.w = w, .h = h, .type = types[c - 1], .depth = 16,
                             .interlace = c == 4 ? PNG_INTERLACE_ADAM7 : 0};
        struct membuf b = write_png(&s, rows);
        struct rn_image im;
        struct rn_err e = {0};
        assert_int_equal(rn_image_read_mem(b.p, b.n, "t16.png", &im, &e), RN_OK);
        check_pixels(&im, w, h, c, want);
        rn_image_free(&im);
        free(b.p);
        free(want);
        free_rows(rows, h);
    }
}

static void test_png_low_bit_gray(void **state)
{
    (void)state;
    for (int depth = 1; depth <= 4; depth *= 2) {
        int w = 11, h = 3, maxv = (1 << depth) - 1;
        uint8_t **rows = alloc_rows(h, (size_t)(w * depth + 7) / 8);
        uint8_t *want = malloc((size_t)w * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = (x + y) % (maxv + 1);
                int bit = x * depth;
                rows[y][bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
                want[y * w + x] = (uint8_t)(v * 255 / maxv);
            }
        struct png_spec s = {.w = w, .h = h, .type = PNG_COLOR_TYPE_GRAY, .depth = depth};
        struct membuf b = write_png(&s, rows);
        struct rn_image im;
        struct rn_err e = {0};
        assert_int_equal(rn_image_read_mem(b.p, b.n, "g.png", &im, &e), RN_OK);
        check_pixels(&im, w, h, 1, want);
        rn_image_free(&im);
        free(b.p);
        free(want);
        free_rows(rows, h);
    }
}

static void test_png_palette(void **state)
{
    (void)state;
    for (int with_trns = 0; with_trns < 2; with_trns++) {
        for (int depth = 4; depth <= 8; depth += 4) {
            int w = 9, h = 4, c = with_trns ? 4 : 3;
            struct png_spec s = {.w = w, .h = h, .type = PNG_COLOR_TYPE_PALETTE, .depth = depth};
            s.npalette = 16;
            for (int i = 0; i < 16; i++) {
                s.palette[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 9),
                                           (png_byte)(i * i)};
                s.trns[i] = (png_byte)(i * 17);
            }
            s.ntrns = with_trns ? 16 : 0;
            uint8_t **rows = alloc_rows(h, (size_t)w);
            uint8_t *want = malloc((size_t)w * h * c);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int i = (x * 3 + y) % 16;
                    if (depth == 8)
                        rows[y][x] = (uint8_t)i;
                    else
                        rows[y][x / 2] |= (uint8_t)(x % 2 ? i : i << 4);
                    uint8_t *p = want + ((size_t)y * w + x) * c;
                    p[0] = s.palette[i].red, p[1] = s.palette[i].green, p[2] = s.palette[i].blue;
                    if (with_trns)
                        p[3] = s.trns[i];
                }
            struct membuf b = write_png(&s, rows);
            struct rn_image im;
            struct rn_err e = {0};
            assert_int_equal(rn_image_read_mem(b.p, b.n, "p.png", &im, &e), RN_OK);
            check_pixels(&im, w, h, c, want);
            rn_image_free(&im);
            free(b.p);
            free(want);
            free_rows(rows, h);
        }
    }
}

/* ---- round trips through rn_image_write ------------------------------------ */

static char tmpdir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_img.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

static void test_write_read_png_pnm(void **state)
{
    (void)state;
    static const char *exts[] = {"png", "pnm", "pam"};
    for (int x = 0; x < 3; x++)
        for (int c = 1; c <= 4; c++) {
            struct rn_image im, back;
            struct rn_err e = {0};
            char path[128];
            snprintf(path, sizeof path, "%s/rt%d.%s", tmpdir, c, exts[x]);
            assert_int_equal(rn_image_new(&im, 31, 17, c, &e), RN_OK);
            fill_pattern(&im);
            assert_int_equal(rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 0, &e), RN_OK);
            assert_int_equal(rn_image_read(path, &back, &e), RN_OK);
            check_pixels(&back, im.w, im.h, c, im.data);
            rn_image_free(&back);
            rn_image_free(&im);
        }
}

static void test_jpeg_round_trip(void **state)
{
    (void)state;
    for (int c = 1; c <= 4; c++) {
        struct rn_image im, back;
        struct rn_err e = {0};
        char path[128];
        snprintf(path, sizeof path, "%s/rt%d.jpg", tmpdir, c);
        assert_int_equal(rn_image_new(&im, 64, 48, c, &e), RN_OK);
        /* Smooth content: what JPEG is made for. */
        for (int y = 0; y < im.h; y++)
            for (int x = 0; x < im.w; x++)
                for (int k = 0; k < c; k++)
                    im.data[((size_t)y * im.w + x) * c + k] = (uint8_t)(x * 2 + y + k * 40);
        assert_int_equal(rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 95, &e), RN_OK);
        assert_int_equal(rn_image_read(path, &back, &e), RN_OK);
        int want_c = c <= 2 ? 1 : 3; /* alpha is dropped */
        assert_int_equal(back.c, want_c);
        assert_int_equal(back.w, 64);
        assert_int_equal(back.h, 48);
        double sum = 0;
        int worst = 0;
        for (int i = 0; i < im.w * im.h; i++)
            for (int k = 0; k < want_c; k++) {
                int d = abs(back.data[i * want_c + k] - im.data[i * c + k]);
                sum += d;
                worst = d > worst ? d : worst;
            }
        /* Tolerance at quality 95 on a smooth ramp: mean error under 2
         * levels, no sample off by more than 16. */
        double mean = sum / (im.w * im.h * want_c);
        if (mean > 2.0 || worst > 16)
            fail_msg("c=%d: mean error %.2f, worst %d", c, mean, worst);
        rn_image_free(&back);
        rn_image_free(&im);
    }
}

static void test_format_from_name_and_bad_quality(void **state)
{
    (void)state;
    assert_int_equal(rn_image_format_from_name("a/b.PNG"), RN_IMAGE_PNG);
    assert_int_equal(rn_image_format_from_name("x.jpeg"), RN_IMAGE_JPEG);
    assert_int_equal(rn_image_format_from_name("x.pgm"), RN_IMAGE_PNM);
    assert_int_equal(rn_image_format_from_name("dir.png/x"), RN_IMAGE_UNKNOWN);
    struct rn_image im;
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(&im, 2, 2, 3, &e), RN_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/x.gif", tmpdir);
    assert_int_equal(rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 0, &e), RN_EUSAGE);
    snprintf(path, sizeof path, "%s/x.jpg", tmpdir);
    assert_int_equal(rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 101, &e), RN_EUSAGE);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", tmpdir);
    assert_int_equal(rn_image_write(path, &im, RN_IMAGE_UNKNOWN, 0, &e), RN_EIO);
    rn_image_free(&im);
    assert_int_equal(rn_image_new(&im, 100000, 100000, 3, &e), RN_ELIMIT);
}

/* ---- EXIF orientation ------------------------------------------------------ */

/* A 32x16 JPEG in four flat quadrants (red, green / blue, white) with an
 * APP1 Exif segment holding only the Orientation tag. */
static struct membuf jpeg_with_orientation(int orientation, int little_endian)
{
    static const uint8_t quad[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *out = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &len);
    c.image_width = 32;
    c.image_height = 16;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t exif[6 + 8 + 2 + 12 + 4] = "Exif\0\0";
    uint8_t *t = exif + 6;
    int le = little_endian;
#define W16(p, v) (le ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)) \
                      : ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v)))
    t[0] = t[1] = le ? 'I' : 'M';
    W16(t + 2, 42);
    if (le)
        t[4] = 8, t[5] = t[6] = t[7] = 0;
    else
        t[4] = t[5] = t[6] = 0, t[7] = 8;
    W16(t + 8, 1);            /* one entry */
    W16(t + 10, 0x0112);      /* Orientation */
    W16(t + 12, 3);           /* SHORT */
    t[14] = t[15] = t[16] = 0, t[17] = 0;
    if (le)
        t[14] = 1;
    else
        t[17] = 1;            /* count 1 */
    W16(t + 18, orientation);
#undef W16
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
    uint8_t row[32 * 3];
    while (c.next_scanline < 16) {
        int bottom = c.next_scanline >= 8;
        for (int x = 0; x < 32; x++)
            memcpy(row + 3 * x, quad[bottom * 2 + (x >= 16)], 3);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (struct membuf){out, len, len};
}

/* Colour of the quadrant around (x, y): 0 red, 1 green, 2 blue, 3 white. */
static int quadrant_at(const struct rn_image *im, int x, int y)
{
    const uint8_t *p = im->data + ((size_t)y * im->w + x) * 3;
    int r = p[0] > 128, g = p[1] > 128, b = p[2] > 128;
    if (r && g && b)
        return 3;
    if (r && !g && !b)
        return 0;
    if (g && !r && !b)
        return 1;
    if (b && !r && !g)
        return 2;
    return -1;
}

static void test_exif_orientation(void **state)
{
    (void)state;
    /* Quadrants seen at top-left, top-right, bottom-left, bottom-right. */
    static const struct {
        int orientation, w, h, q[4];
    } cases[] = {
        {1, 32, 16, {0, 1, 2, 3}}, {2, 32, 16, {1, 0, 3, 2}}, {3, 32, 16, {3, 2, 1, 0}},
        {4, 32, 16, {2, 3, 0, 1}}, {5, 16, 32, {0, 2, 1, 3}}, {6, 16, 32, {2, 0, 3, 1}},
        {7, 16, 32, {3, 1, 2, 0}}, {8, 16, 32, {1, 3, 0, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int le = 0; le < 2; le++) {
            struct membuf b = jpeg_with_orientation(cases[i].orientation, le);
            struct rn_image im;
            struct rn_err e = {0};
            assert_int_equal(rn_image_read_mem(b.p, b.n, "exif.jpg", &im, &e), RN_OK);
            assert_int_equal(im.w, cases[i].w);
            assert_int_equal(im.h, cases[i].h);
            int qw = im.w / 4, qh = im.h / 4;
            int got[4] = {quadrant_at(&im, qw, qh), quadrant_at(&im, 3 * qw, qh),
                          quadrant_at(&im, qw, 3 * qh), quadrant_at(&im, 3 * qw, 3 * qh)};
            for (int k = 0; k < 4; k++)
                if (got[k] != cases[i].q[k])
                    fail_msg("orientation %d (%s): quadrant %d shows %d, want %d",
                             cases[i].orientation, le ? "II" : "MM", k, got[k], cases[i].q[k]);
            rn_image_free(&im);
            free(b.p);
        }
}

static void test_orient_inverses(void **state)
{
    (void)state;
    /* Applying o then its inverse gives the original back, exactly. */
    static const int inverse[9] = {0, 1, 2, 3, 4, 5, 8, 7, 6};
    struct rn_image im, a, b;
    struct rn_err e = {0};
    assert_int_equal(rn_image_new(&im, 5, 3, 2, &e), RN_OK);
    fill_pattern(&im);
    for (int o = 1; o <= 8; o++) {
        assert_int_equal(rn_image_orient(&im, o, &a, &e), RN_OK);
        assert_int_equal(rn_image_orient(&a, inverse[o], &b, &e), RN_OK);
        check_pixels(&b, im.w, im.h, im.c, im.data);
        rn_image_free(&a);
        rn_image_free(&b);
    }
    assert_int_equal(rn_image_orient(&im, 9, &a, &e), RN_EUSAGE);
    rn_image_free(&im);
}

/* ---- PNM plain and wide variants ------------------------------------------- */

static void test_pnm_variants(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        int w, h, c;
        uint8_t want[6];
    } cases[] = {
        {"P1\n# bits\n3 1\n1 0 1\n", 0, 3, 1, 1, {0, 255, 0}},
        {"P2 2 1 15 0 15", 0, 2, 1, 1, {0, 255}},
        {"P3\n1 1\n255\n10 20 30\n", 0, 1, 1, 3, {10, 20, 30}},
        {"P5\n2 1\n65535\n\xff\xff\x80\x80", 17, 2, 1, 1, {255, 128}},
        {"P4\n3 1\n\xa0", 9, 3, 1, 1, {0, 255, 0}},
        {"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n"
         "\x07\x09", 0, 1, 1, 2, {7, 9}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        struct rn_image im;
        struct rn_err e = {0};
        if (rn_image_read_mem(cases[i].text, len, "x.pnm", &im, &e) != RN_OK)
            fail_msg("case %zu: %s", i, e.msg);
        check_pixels(&im, cases[i].w, cases[i].h, cases[i].c, cases[i].want);
        rn_image_free(&im);
    }
}

/* ---- hostile inputs ---------------------------------------------------------- */

static struct membuf small_png(void)
{
    uint8_t **rows = alloc_rows(8, 8 * 3);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 24; x++)
            rows[y][x] = pattern(x, y, 0);
    struct png_spec s = {.w = 8, .h = 8, .type = PNG_COLOR_TYPE_RGB, .depth = 8};
    struct membuf b = write_png(&s, rows);
    free_rows(rows, 8);
    return b;
}

static struct membuf small_jpeg(void)
{
    return jpeg_with_orientation(1, 1);
}

static void expect_error(const void *p, size_t n, const char *name, int code, const char *what)
{
    struct rn_image im = {0};
    struct rn_err e = {0};
    int rc = rn_image_read_mem(p, n, name, &im, &e);
    if (rc != code)
        fail_msg("%s: got status %d (%s), want %d", what, rc, e.msg, code);
    assert_null(im.data);
    assert_string_equal(e.where, name);
    assert_true(strlen(e.msg) > 5);
}

static void test_hostile_images(void **state)
{
    (void)state;
    struct membuf png = small_png(), jpg = small_jpeg();
    uint8_t *buf = malloc(png.n > jpg.n ? png.n : jpg.n);

    expect_error("", 0, "empty.png", RN_EFORMAT, "empty file");
    expect_error("hello, world\n", 13, "text.png", RN_EFORMAT, "text named .png");
    expect_error(png.p, png.n / 2, "cut.png", RN_EFORMAT, "truncated PNG");
    expect_error(png.p, 40, "header-only.png", RN_EFORMAT, "PNG cut after IHDR");

    memcpy(buf, png.p, png.n);
    buf[png.n - 20] ^= 0x55; /* inside IDAT: its CRC no longer matches */
    expect_error(buf, png.n, "crc.png", RN_EFORMAT, "corrupt PNG data");

    memcpy(buf, png.p, png.n);
    patch_ihdr(buf, 0, 8);
    expect_error(buf, png.n, "zero.png", RN_EFORMAT, "zero-width PNG");

    /* The decompression bomb: a few hundred bytes claiming 10^10 pixels. */
    memcpy(buf, png.p, png.n);
    patch_ihdr(buf, 100000, 100000);
    expect_error(buf, png.n, "bomb.png", RN_ELIMIT, "PNG claiming 100000x100000");

    expect_error(jpg.p, jpg.n / 2, "cut.jpg", RN_EFORMAT, "truncated JPEG");
    memcpy(buf, jpg.p, jpg.n);
    memset(buf + 2, 0xaa, 40);
    expect_error(buf, jpg.n, "garbage.jpg", RN_EFORMAT, "corrupt JPEG header");

    /* A JPEG whose frame header claims 60000 x 60000. */
    memcpy(buf, jpg.p, jpg.n);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < jpg.n; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xc0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    buf[sof + 5] = 0xea, buf[sof + 6] = 0x60, buf[sof + 7] = 0xea, buf[sof + 8] = 0x60;
    expect_error(buf, jpg.n, "huge.jpg", RN_ELIMIT, "JPEG claiming 60000x60000");
    buf[sof + 5] = buf[sof + 6] = 0;
    expect_error(buf, jpg.n, "zero.jpg", RN_EFORMAT, "zero-height JPEG");

    expect_error("P6\n100000 100000\n255\n\1\2\3", 24, "huge.ppm", RN_ELIMIT, "PPM bomb");
    expect_error("P6\n4 4\n255\n\1\2\3", 14, "cut.ppm", RN_EFORMAT, "truncated PPM");
    expect_error("P5\n0 0\n255\n", 11, "zero.pgm", RN_EFORMAT, "zero-sized PGM");
    expect_error("P5\n2 2\n0\n\0\0\0\0", 13, "maxval.pgm", RN_EFORMAT, "maxval 0");
    expect_error("P2\n2 1\n255\n1\n", 13, "short.pgm", RN_EFORMAT, "plain PGM cut short");
    expect_error("P7\nWIDTH 1\nHEIGHT 1\nDEPTH 7\nMAXVAL 255\nENDHDR\n1234567", 52, "d7.pam",
                 RN_EUNSUPPORTED, "PAM depth 7");
    expect_error("P7\nWIDTH 1\nENDHDR\n", 18, "nohdr.pam", RN_EFORMAT, "PAM header missing keys");

    /* The name does not decide the decoder, the bytes do. */
    struct rn_image im;
    struct rn_err e = {0};
    assert_int_equal(rn_image_read_mem(png.p, png.n, "really-a-png.jpg", &im, &e), RN_OK);
    assert_int_equal(im.w, 8);
    rn_image_free(&im);
    assert_int_equal(rn_image_read("/nonexistent/x.png", &im, &e), RN_EIO);
    assert_non_null(strstr(e.where, "/nonexistent/x.png"));

    free(buf);
    free(png.p);
    free(jpg.p);
}

/* Run fn in a child whose address space may grow by at most `room`
 * bytes (not under AddressSanitizer, whose shadow memory needs a huge
 * address space: there only fn's result is checked). */
static void run_with_memory_cap(int (*fn)(void), size_t room)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
#ifndef __SANITIZE_ADDRESS__
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1)
            _exit(3);
        fclose(f);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + room;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            _exit(4);
#endif
        _exit(fn());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0)
        fail_msg("child failed with status %d", WEXITSTATUS(st));
}

/* A few hundred bytes declaring 16000 x 16000 (allowed: under the pixel
 * limit) and then ending: the decoders allocate as rows arrive, so this
 * costs a few MiB, not the 768 MB the header asks for. */
static int decode_cut_large(void)
{
    struct membuf png = small_png(), jpg = small_jpeg();
    patch_ihdr(png.p, 16000, 16000);
    for (size_t i = 2; i + 9 < jpg.n; i++)
        if (jpg.p[i] == 0xff && jpg.p[i + 1] == 0xc0) {
            jpg.p[i + 5] = 0x3e, jpg.p[i + 6] = 0x80, jpg.p[i + 7] = 0x3e, jpg.p[i + 8] = 0x80;
            break;
        }
    struct rn_image im;
    struct rn_err e = {0};
    int bad = 0;
    if (rn_image_read_mem(png.p, png.n, "large.png", &im, &e) != RN_EFORMAT)
        bad |= 1;
    if (rn_image_read_mem(jpg.p, jpg.n, "large.jpg", &im, &e) != RN_EFORMAT)
        bad |= 2;
    /* A PNM says how many bytes it needs: refused before allocating. */
    if (rn_image_read_mem("P5 16000 16000 255\n\1\2\3", 22, "large.pgm", &im, &e) != RN_EFORMAT)
        bad |= 4;
    if (rn_image_read_mem("P2 16000 16000 255\n1 2 3", 24, "large.pgm", &im, &e) != RN_EFORMAT)
        bad |= 8;
    free(png.p);
    free(jpg.p);
    return bad ? 10 + bad : 0;
}

static void test_cut_large_images_cost_little(void **state)
{
    (void)state;
    run_with_memory_cap(decode_cut_large, (size_t)128 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_8bit_flavours),
        cmocka_unit_test(test_png_16bit_scaled),
        cmocka_unit_test(test_png_low_bit_gray),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_write_read_png_pnm),
        cmocka_unit_test(test_jpeg_round_trip),
        cmocka_unit_test(test_format_from_name_and_bad_quality),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_orient_inverses),
        cmocka_unit_test(test_pnm_variants),
        cmocka_unit_test(test_hostile_images),
        cmocka_unit_test(test_cut_large_images_cost_little),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
