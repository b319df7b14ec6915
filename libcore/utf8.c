/* utf8 — see utf8.h. */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the well-formed sequence at p (at most n bytes), 0 if the
 * bytes there are not one (RFC 3629's table, so overlongs and surrogates
 * fail), -1 if they are a valid start that n cuts short. */
static int seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int L;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xC2 && c <= 0xDF)
        L = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        L = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        L = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    for (int i = 1; i < L; i++) {
        if ((size_t)i >= n)
            return -1;
        unsigned b = p[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
    }
    return L;
}

size_t rn_utf8_complete(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    /* only the last three bytes can begin an unfinished sequence */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        size_t i = n - back;
        if ((p[i] & 0xC0) == 0x80)
            continue;
        return seq_len(p + i, back) < 0 ? i : n;
    }
    return n;
}

int rn_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int L = seq_len(p + i, n - i);
        if (L <= 0)
            return 0;
        i += (size_t)L;
    }
    return 1;
}

char *rn_utf8_sanitize(const char *s, size_t n, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n > (((size_t)-1) - 1) / 3)
        return NULL;
    char *out = malloc(3 * n + 1); /* a bad byte (1) becomes 3 */
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int L = seq_len(p + i, n - i);
        if (L > 0) {
            memcpy(out + o, p + i, (size_t)L);
            o += (size_t)L, i += (size_t)L;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
        }
    }
    out[o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}
