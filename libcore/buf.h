/* buf — a growable byte buffer, always NUL-terminated after its data, for
 * the text the server assembles (request bodies, answers, streamed pieces,
 * the metrics page). A zeroed struct is an empty buffer.
 *
 *     struct rn_buf b = {0};
 *     if (rn_buf_put(&b, "abc", 3) < 0 || rn_buf_printf(&b, " %d", 4) < 0) ... out of memory
 *     ... b.p is "abc 4", b.n is 5 ...
 *     rn_buf_free(&b);
 */
#ifndef RN_BUF_H
#define RN_BUF_H

#include <stddef.h>

struct rn_buf {
    char *p;      /* NULL until the first byte; then data, a NUL, spare room */
    size_t n;     /* bytes of data */
    size_t cap;   /* bytes allocated */
};

/* Append n bytes (n may be 0: the buffer then exists, holding ""). 0, or
 * -1 when memory runs out or the size would overflow (b unchanged). */
int rn_buf_put(struct rn_buf *b, const void *p, size_t n);
int rn_buf_printf(struct rn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (n bytes) escaped for the inside of a JSON string (no quotes
 * added): '"', '\\' and control characters escaped, other bytes as they
 * are (so valid UTF-8 stays valid). */
int rn_buf_json(struct rn_buf *b, const char *s, size_t n);
void rn_buf_free(struct rn_buf *b);

#endif
