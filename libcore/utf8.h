/* utf8 — the two things a server that streams model text needs: where a
 * chunk may end without splitting a character, and a copy that is valid
 * UTF-8 whatever bytes the model produced (JSON must be valid UTF-8; a
 * byte-level tokenizer may emit any byte). */
#ifndef RN_UTF8_H
#define RN_UTF8_H

#include <stddef.h>

/* Longest prefix of p (n bytes) that does not end inside a UTF-8 sequence
 * that more bytes could still complete. */
size_t rn_utf8_complete(const char *p, size_t n);
/* Whether p (n bytes) is well-formed UTF-8 without NUL bytes. */
int rn_utf8_valid(const char *p, size_t n);
/* A NUL-terminated copy of p (n bytes) in which every byte that is not
 * part of a well-formed UTF-8 sequence (overlong forms, surrogates, code
 * points past U+10FFFF, stray continuation bytes, NUL) becomes U+FFFD;
 * *out_len its length. NULL on out of memory. */
char *rn_utf8_sanitize(const char *p, size_t n, size_t *out_len);

#endif
