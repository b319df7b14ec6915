/* font — see font.h. ASCII glyphs are rendered once and cached; others
 * are rendered as they come (labels are short). */
#include "font.h"

#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "font_builtin.h"

struct glyph {
    uint8_t *bits;            /* rows x width coverage, 0..255 */
    int width, rows, left, top, advance;
    int ready;
};

struct rn_font {
    FT_Library lib;
    FT_Face face;             /* NULL: the built-in font */
    int scale;                /* built-in: pixels per font pixel */
    int height, ascent;
    struct glyph ascii[128];
};

int rn_font_open(struct rn_font **out, const char *path, int px, struct rn_err *e)
{
    *out = NULL;
    if (px < 6 || px > 200)
        return rn_err_set(e, RN_EUSAGE, NULL, "font size %d is not in 6..200", px);
    struct rn_font *f = calloc(1, sizeof *f);
    if (!f)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    if (FT_Init_FreeType(&f->lib) == 0 &&
        FT_New_Face(f->lib, path ? path : RN_FONT_DEFAULT, 0, &f->face) == 0 &&
        FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px) == 0) {
        f->ascent = (int)(f->face->size->metrics.ascender >> 6);
        f->height = f->ascent - (int)(f->face->size->metrics.descender >> 6);
    } else {
        if (f->face)
            FT_Done_Face(f->face);
        f->face = NULL;
        f->scale = (px + BUILTIN_H / 2) / BUILTIN_H > 1 ? (px + BUILTIN_H / 2) / BUILTIN_H : 1;
        f->height = BUILTIN_H * f->scale;
        f->ascent = BUILTIN_ASCENT * f->scale;
    }
    *out = f;
    return RN_OK;
}

int rn_font_is_builtin(const struct rn_font *f)
{
    return f->face == NULL;
}

int rn_font_height(const struct rn_font *f)
{
    return f->height;
}

int rn_font_ascent(const struct rn_font *f)
{
    return f->ascent;
}

/* Next code point of UTF-8 text; malformed bytes read as U+FFFD. */
static uint32_t next_cp(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t cp = *p++;
    int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
    if (cp >= 0x80 && !more)
        cp = 0xfffd;
    else if (more)
        cp &= 0x3f >> more;
    for (; more; more--, p++) {
        if ((*p & 0xc0) != 0x80) {
            cp = 0xfffd;
            break;
        }
        cp = cp << 6 | (*p & 0x3f);
    }
    *s = (const char *)p;
    return cp;
}

static int render(struct rn_font *f, uint32_t cp, struct glyph *g)
{
    memset(g, 0, sizeof *g);
    if (!f->face) {
        int i = cp >= 32 && cp < 127 ? (int)cp - 32 : '?' - 32;
        int s = f->scale;
        g->width = BUILTIN_W * s;
        g->rows = BUILTIN_H * s;
        g->top = f->ascent;
        g->advance = g->width;
        if (!(g->bits = malloc((size_t)g->width * g->rows)))
            return -1;
        for (int y = 0; y < g->rows; y++)
            for (int x = 0; x < g->width; x++)
                g->bits[y * g->width + x] =
                    builtin_glyphs[i][y / s] & (0x80 >> (x / s)) ? 255 : 0;
        return 0;
    }
    if (FT_Load_Char(f->face, cp, FT_LOAD_RENDER) != 0)
        return -1;
    FT_GlyphSlot s = f->face->glyph;
    g->width = (int)s->bitmap.width;
    g->rows = (int)s->bitmap.rows;
    g->left = s->bitmap_left;
    g->top = s->bitmap_top;
    g->advance = (int)(s->advance.x >> 6);
    if (g->width && g->rows) {
        if (!(g->bits = malloc((size_t)g->width * g->rows)))
            return -1;
        for (int y = 0; y < g->rows; y++)
            memcpy(g->bits + (size_t)y * g->width,
                   s->bitmap.buffer + (ptrdiff_t)y * s->bitmap.pitch, (size_t)g->width);
    }
    return 0;
}

/* The glyph of cp: cached for ASCII, else rendered into *tmp (freed by
 * the caller). NULL if it cannot be rendered. */
static const struct glyph *glyph_of(struct rn_font *f, uint32_t cp, struct glyph *tmp)
{
    if (cp < 128) {
        struct glyph *g = &f->ascii[cp];
        if (!g->ready) {
            if (render(f, cp, g) < 0)
                return NULL;
            g->ready = 1;
        }
        return g;
    }
    return render(f, cp, tmp) < 0 ? NULL : tmp;
}

int rn_font_width(struct rn_font *f, const char *text)
{
    int w = 0;
    while (*text) {
        struct glyph tmp = {0};
        const struct glyph *g = glyph_of(f, next_cp(&text), &tmp);
        if (g)
            w += g->advance;
        free(tmp.bits);
    }
    return w;
}

static void blend_glyph(struct rn_image *im, const struct glyph *g, int ox, int oy,
                        const uint8_t rgb[3])
{
    int c = im->c;
    uint8_t luma = (uint8_t)((rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8);
    for (int y = 0; y < g->rows; y++) {
        int iy = oy + y;
        if (iy < 0 || iy >= im->h)
            continue;
        for (int x = 0; x < g->width; x++) {
            int ix = ox + x;
            unsigned a = g->bits[y * g->width + x];
            if (ix < 0 || ix >= im->w || !a)
                continue;
            uint8_t *p = im->data + ((size_t)iy * im->w + ix) * c;
            int colour_channels = c >= 3 ? 3 : 1;
            for (int k = 0; k < colour_channels; k++) {
                unsigned want = c >= 3 ? rgb[k] : luma;
                p[k] = (uint8_t)((want * a + p[k] * (255 - a) + 127) / 255);
            }
        }
    }
}

void rn_font_draw(struct rn_font *f, struct rn_image *im, int x, int y, const char *text,
                  const uint8_t rgb[3])
{
    int baseline = y + f->ascent;
    while (*text) {
        struct glyph tmp = {0};
        const struct glyph *g = glyph_of(f, next_cp(&text), &tmp);
        if (g) {
            if (g->bits)
                blend_glyph(im, g, x + g->left, baseline - g->top, rgb);
            x += g->advance;
        }
        free(tmp.bits);
        if (x >= im->w)
            break;
    }
}

void rn_font_close(struct rn_font *f)
{
    if (!f)
        return;
    for (int i = 0; i < 128; i++)
        free(f->ascii[i].bits);
    if (f->face)
        FT_Done_Face(f->face);
    if (f->lib)
        FT_Done_FreeType(f->lib);
    free(f);
}
