/* font — text on images: FreeType with a TrueType font (DejaVu Sans by
 * default), anti-aliased; or, when the font file cannot be loaded, a small
 * built-in bitmap font, so labels never go missing.
 *
 *     struct rn_font *f;
 *     if (rn_font_open(&f, NULL, 14, &e) < 0) ...   // only fails out of memory
 *     rn_font_draw(f, &im, 10, 10, "ID 3 | 0.92", (uint8_t[3]){255, 255, 255});
 *     rn_font_close(f);
 *
 * Text is UTF-8; the built-in font shows characters outside ASCII as '?'.
 */
#ifndef RN_FONT_H
#define RN_FONT_H

#include <stdint.h>

#include "err.h"
#include "img.h"

#define RN_FONT_DEFAULT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

struct rn_font;

/* Open path (NULL: RN_FONT_DEFAULT) at px pixels (line height, 6..200). A
 * missing or unreadable font falls back to the built-in one, which
 * rn_font_is_builtin then reports. On error *f is NULL. */
int rn_font_open(struct rn_font **f, const char *path, int px, struct rn_err *e);
int rn_font_is_builtin(const struct rn_font *f);

/* Line height in pixels and the baseline's distance from its top. */
int rn_font_height(const struct rn_font *f);
int rn_font_ascent(const struct rn_font *f);
/* Width of text in pixels. */
int rn_font_width(struct rn_font *f, const char *text);

/* Draw text with its line box's top-left corner at (x, y), clipped to im
 * (1 to 4 channels; gray images get the colour's luma; alpha is left as
 * it is). */
void rn_font_draw(struct rn_font *f, struct rn_image *im, int x, int y, const char *text,
                  const uint8_t rgb[3]);

/* Release f; NULL is a no-op. */
void rn_font_close(struct rn_font *f);

#endif
