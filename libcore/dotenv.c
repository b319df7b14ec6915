/* dotenv — see dotenv.h. One pass over the text, one line at a time; the
 * name and the unquoted value of a line go into one scratch buffer sized
 * for the longest allowed line, so nothing is allocated per line. */
#include "dotenv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

struct parser {
    const char *name;    /* file name for messages */
    int line;            /* 1-based number of the line being parsed */
    struct rn_err *e;
};

static int perr(const struct parser *P, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(const struct parser *P, int code, const char *fmt, ...)
{
    char where[RN_ERR_WHERE_MAX];
    snprintf(where, sizeof where, "%s:%d", P->name, P->line);
    va_list ap;
    va_start(ap, fmt);
    rn_err_vset(P->e, code, where, fmt, ap);
    va_end(ap);
    return code;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* After a closing quote only blanks and a comment may follow. */
static int check_tail(const struct parser *P, const char *s, size_t n, size_t k)
{
    while (k < n && is_blank(s[k]))
        k++;
    if (k < n && s[k] != '#')
        return perr(P, RN_EFORMAT, "unexpected text after the closing quote: '%.*s'",
                    (int)(n - k < 80 ? n - k : 80), s + k);
    return RN_OK;
}

/* The value of s[i..n) (just after '=') into out, NUL-terminated. */
static int parse_value(const struct parser *P, const char *s, size_t n, size_t i, char *out)
{
    size_t j = i, o = 0;
    while (j < n && is_blank(s[j]))
        j++;
    if (j < n && s[j] == '"') {
        size_t k = j + 1;
        for (;;) {
            if (k == n)
                return perr(P, RN_EFORMAT, "unterminated double quote");
            char c = s[k];
            if (c == '\\' && k + 1 < n && (s[k + 1] == '"' || s[k + 1] == '\\' || s[k + 1] == 'n')) {
                out[o++] = s[k + 1] == 'n' ? '\n' : s[k + 1];
                k += 2;
            } else if (c == '"') {
                k++;
                break;
            } else {
                out[o++] = c;
                k++;
            }
        }
        out[o] = '\0';
        return check_tail(P, s, n, k);
    }
    if (j < n && s[j] == '\'') {
        const char *q = memchr(s + j + 1, '\'', n - j - 1);
        if (!q)
            return perr(P, RN_EFORMAT, "unterminated single quote");
        o = (size_t)(q - (s + j + 1));
        memcpy(out, s + j + 1, o);
        out[o] = '\0';
        return check_tail(P, s, n, (size_t)(q - s) + 1);
    }
    /* unquoted: a '#' starts a comment only after a blank, so URLs with
     * fragments and "#hex" values right after '=' survive */
    size_t end = i;
    while (end < n && !(s[end] == '#' && end > i && is_blank(s[end - 1])))
        end++;
    while (end > j && is_blank(s[end - 1]))
        end--;
    memcpy(out, s + j, end - j);
    out[end - j] = '\0';
    return RN_OK;
}

/* One line s[0..n), without its line end. buf holds 2n + 2 bytes. */
static int parse_line(const struct parser *P, const char *s, size_t n, char *buf, rn_dotenv_fn fn,
                      void *ctx)
{
    if (memchr(s, '\0', n))
        return perr(P, RN_EFORMAT, "line contains a NUL byte");
    size_t i = 0;
    while (i < n && is_blank(s[i]))
        i++;
    if (i == n || s[i] == '#')
        return RN_OK;
    if (n - i > 7 && memcmp(s + i, "export", 6) == 0 && is_blank(s[i + 6])) {
        i += 7;
        while (i < n && is_blank(s[i]))
            i++;
    }
    size_t k = i;
    while (k < n && is_name_char(s[k]))
        k++;
    size_t eq = k;
    while (eq < n && is_blank(s[eq]))
        eq++;
    if (k == i || !is_name_start(s[i]) || eq == n || s[eq] != '=')
        return perr(P, RN_EFORMAT, "expected NAME=value, not '%.*s'", (int)(n < 80 ? n : 80), s);
    char *name = buf, *value = buf + n + 1;
    memcpy(name, s + i, k - i);
    name[k - i] = '\0';
    int rc = parse_value(P, s, n, eq + 1, value);
    if (rc < 0)
        return rc;
    return fn(ctx, name, value, P->line, P->e);
}

int rn_dotenv_parse(const char *text, size_t len, const char *name, rn_dotenv_fn fn, void *ctx,
                    struct rn_err *e)
{
    struct parser P = {name ? name : ".env", 0, e};
    if (len > RN_DOTENV_FILE_MAX)
        return rn_err_set(e, RN_ELIMIT, P.name, "file of %zu bytes exceeds the limit of %u", len,
                          RN_DOTENV_FILE_MAX);
    /* editors on Windows start files with a byte-order mark */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    size_t longest = len < RN_DOTENV_LINE_MAX ? len : RN_DOTENV_LINE_MAX;
    char *buf = malloc(2 * longest + 2);
    if (!buf)
        return rn_err_set(e, RN_ENOMEM, P.name, "out of memory");
    int rc = RN_OK;
    for (size_t at = 0; at < len && rc == RN_OK;) {
        const char *s = text + at;
        const char *nl = memchr(s, '\n', len - at);
        size_t n = nl ? (size_t)(nl - s) : len - at;
        at += n + (nl != NULL);
        P.line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n > RN_DOTENV_LINE_MAX)
            rc = perr(&P, RN_ELIMIT, "line of %zu bytes exceeds the limit of %u", n,
                      RN_DOTENV_LINE_MAX);
        else
            rc = parse_line(&P, s, n, buf, fn, ctx);
    }
    free(buf);
    return rc;
}

int rn_dotenv_load_file(const char *path, rn_dotenv_fn fn, void *ctx, struct rn_err *e)
{
    char *text;
    size_t len;
    int rc = rn_read_file(path, RN_DOTENV_FILE_MAX, &text, &len, e);
    if (rc < 0)
        return rc;
    rc = rn_dotenv_parse(text, len, rn_io_name(path, 0), fn, ctx, e);
    free(text);
    return rc;
}
