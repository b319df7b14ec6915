/* buf — see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `more` bytes of data and the NUL after them. */
static int reserve(struct rn_buf *b, size_t more)
{
    if (more > ((size_t)-1) / 2 - b->n - 1)
        return -1;
    size_t need = b->n + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p, b->cap = cap;
    return 0;
}

int rn_buf_put(struct rn_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int rn_buf_printf(struct rn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || reserve(b, (size_t)k) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
    return 0;
}

int rn_buf_json(struct rn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t from = 0; /* start of the run of bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t k = 2;
        if (c == '\n')
            esc[1] = 'n';
        else if (c == '\t')
            esc[1] = 't';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c != '"' && c != '\\')
            esc[1] = 'u', esc[2] = esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15], k = 6;
        if (rn_buf_put(b, s + from, i - from) < 0 || rn_buf_put(b, esc, k) < 0)
            return -1;
        from = i + 1;
    }
    return rn_buf_put(b, s + from, n - from);
}

void rn_buf_free(struct rn_buf *b)
{
    free(b->p);
    *b = (struct rn_buf){0};
}
