/* err — how libcore reports what failed, where, and why.
 *
 * Library code never prints and never exits. A function that can fail
 * returns an int status (RN_OK, RN_EOF, or a negative RN_E* code) and, when
 * given a non-NULL struct rn_err, fills it with the place (a file name,
 * "stdin", a field) and a one-line message. Only cmd/ decides to exit:
 *
 *     struct rn_err e = {0};
 *     if (rn_stream_reader_open(&r, path, 0, &e) < 0)
 *         rn_die(&e);          // "inspect: data.rnl: bad magic ...", exit 1
 *
 * A struct rn_err is plain data: no allocation, nothing to free.
 */
#ifndef RN_ERR_H
#define RN_ERR_H

#include <stdarg.h>

enum rn_status {
    RN_OK = 0,
    RN_EOF = 1,         /* clean end of input: not an error */
    RN_EIO = -1,        /* read/write/open failed (errno-based message) */
    RN_EFORMAT = -2,    /* input is malformed, truncated or corrupted */
    RN_ELIMIT = -3,     /* input asks for more than a configured limit */
    RN_ENOMEM = -4,     /* allocation failed */
    RN_EUSAGE = -5,     /* caller or user asked for something invalid */
    RN_EUNSUPPORTED = -6, /* valid, but not something this build handles */
};

#define RN_ERR_WHERE_MAX 256
#define RN_ERR_MSG_MAX 768

struct rn_err {
    int code;                        /* the status that was returned */
    char where[RN_ERR_WHERE_MAX];    /* file, stream or field; may be "" */
    char msg[RN_ERR_MSG_MAX];        /* what went wrong, no trailing newline */
};

/* Fill e (if non-NULL) and return code, so callers can write
 * `return rn_err_set(e, RN_EFORMAT, path, "bad magic %08x", m);`.
 * where may be NULL to keep the place already recorded in e. */
int rn_err_set(struct rn_err *e, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rn_err_vset(struct rn_err *e, int code, const char *where, const char *fmt, va_list ap);

/* Like rn_err_set, appending ": strerror(errno)" to the message. */
int rn_err_errno(struct rn_err *e, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message: "record 3: " + old message. */
void rn_err_prefix(struct rn_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Short name of a status code ("format error", ...); never NULL. */
const char *rn_status_name(int code);

/* Broken invariant (a bug, never bad user data): print file:line and abort. */
#define RN_ASSERT(x) \
    do { if (!(x)) rn_assert_fail(#x, __FILE__, __LINE__); } while (0)
void rn_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
