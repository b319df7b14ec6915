/* err — see err.h. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rn_err_vset(struct rn_err *e, int code, const char *where, const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    if (where)
        snprintf(e->where, sizeof e->where, "%s", where);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return code;
}

int rn_err_set(struct rn_err *e, int code, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rn_err_vset(e, code, where, fmt, ap);
    va_end(ap);
    return code;
}

int rn_err_errno(struct rn_err *e, const char *where, const char *fmt, ...)
{
    int saved = errno;
    if (!e)
        return RN_EIO;
    va_list ap;
    va_start(ap, fmt);
    rn_err_vset(e, RN_EIO, where, fmt, ap);
    va_end(ap);
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
    errno = saved;
    return RN_EIO;
}

void rn_err_prefix(struct rn_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char head[RN_ERR_MSG_MAX], old[RN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* Truncating a too-long message is fine: it is for people to read. */
    size_t h = strlen(head), o = strnlen(old, sizeof old);
    if (h > sizeof e->msg - 1)
        h = sizeof e->msg - 1;
    if (o > sizeof e->msg - 1 - h)
        o = sizeof e->msg - 1 - h;
    memcpy(e->msg, head, h);
    memcpy(e->msg + h, old, o);
    e->msg[h + o] = '\0';
}

const char *rn_status_name(int code)
{
    switch (code) {
    case RN_OK: return "ok";
    case RN_EOF: return "end of input";
    case RN_EIO: return "I/O error";
    case RN_EFORMAT: return "format error";
    case RN_ELIMIT: return "limit exceeded";
    case RN_ENOMEM: return "out of memory";
    case RN_EUSAGE: return "usage error";
    case RN_EUNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

void rn_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "runnel: internal error: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}
