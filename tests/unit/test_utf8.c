/* Unit tests for libcore/utf8: rn_utf8_complete at every split point of
 * 1- to 4-byte characters and on bytes that no continuation can fix, and
 * rn_utf8_sanitize on the hostile-input table of RFC 3629 (overlongs,
 * surrogates, past U+10FFFF, stray continuations, cut-short sequences,
 * NUL), plus random bytes against an independent decoder written here.
 *
 * Python's bytes.decode('utf-8', 'replace') agrees with the expected
 * outputs below wherever every bad byte is its own maximal invalid subpart
 * (C0 80, E0 80 80, ED A0 80, F4 90 80 80, FF, stray 80: checked with
 * CPython 3). It differs on two documented points: a valid lead byte cut
 * short (E2 82 then end, or E2 82 41) is one U+FFFD in Python but one per
 * byte here, and Python keeps NUL while this function replaces it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "utf8.h"

#define FFFD "\xEF\xBF\xBD"

/* ---- rn_utf8_complete -------------------------------------------------- */

static size_t complete(const char *s) { return rn_utf8_complete(s, strlen(s)); }

static void test_complete_ascii(void **state)
{
    assert_int_equal(rn_utf8_complete("", 0), 0);
    assert_int_equal(complete("a"), 1);
    assert_int_equal(complete("hello, world\n"), 13);
    /* a NUL is one complete (if unwanted) character */
    assert_int_equal(rn_utf8_complete("ab\0", 3), 3);
}

/* Every proper prefix of character ch, after a prefix of text, is held
 * back to the start of ch; the whole character is not. */
static void check_splits(const char *ch)
{
    const char *lead[] = {"", "x", "ab", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    size_t L = strlen(ch);
    char buf[32];
    for (size_t k = 0; k < sizeof lead / sizeof *lead; k++) {
        size_t P = strlen(lead[k]);
        memcpy(buf, lead[k], P);
        memcpy(buf + P, ch, L);
        for (size_t cut = 1; cut < L; cut++)
            assert_int_equal(rn_utf8_complete(buf, P + cut), P);
        assert_int_equal(rn_utf8_complete(buf, P + L), P + L);
        assert_int_equal(rn_utf8_complete(buf, P), P);
    }
}

static void test_complete_splits(void **state)
{
    check_splits("\xC3\xA9");          /* U+00E9 */
    check_splits("\xDF\xBF");          /* U+07FF */
    check_splits("\xE2\x82\xAC");      /* U+20AC */
    check_splits("\xE0\xA0\x80");      /* U+0800, E0's narrow second byte */
    check_splits("\xED\x9F\xBF");      /* U+D7FF, ED's narrow second byte */
    check_splits("\xEF\xBF\xBF");      /* U+FFFF */
    check_splits("\xF0\x90\x80\x80");  /* U+10000 */
    check_splits("\xF0\x9F\x98\x80");  /* U+1F600 */
    check_splits("\xF4\x8F\xBF\xBF");  /* U+10FFFF */
}

/* Bytes that no further byte can turn into a character are not held
 * back: the caller would otherwise wait for ever. */
static void test_complete_hopeless(void **state)
{
    assert_int_equal(complete("abc\x80"), 4);          /* stray continuation */
    assert_int_equal(complete("\x80\x80\x80\x80"), 4);
    assert_int_equal(complete("\xC3\xA9\x80"), 3);     /* continuation after a whole char */
    assert_int_equal(complete("ab\xFF"), 3);           /* never a lead byte */
    assert_int_equal(complete("ab\xFE"), 3);
    assert_int_equal(complete("ab\xC0"), 3);           /* overlong-only leads */
    assert_int_equal(complete("ab\xC1"), 3);
    assert_int_equal(complete("ab\xF5"), 3);           /* past U+10FFFF */
    assert_int_equal(complete("ab\xF8\x80"), 4);
    assert_int_equal(complete("ab\xE0\x80"), 4);       /* overlong 3-byte, already wrong */
    assert_int_equal(complete("ab\xED\xA0"), 4);       /* surrogate, already wrong */
    assert_int_equal(complete("ab\xF4\x90"), 4);       /* past U+10FFFF, already wrong */
    assert_int_equal(complete("ab\xF0\x80\x80"), 5);   /* overlong 4-byte */
    assert_int_equal(complete("ab\xE2" "A"), 4);       /* lead broken by ASCII */
    /* a lead four back can no longer be unfinished by the last bytes */
    assert_int_equal(complete("\xF0\x9F\x98\x80\x80"), 5);
}

/* ---- rn_utf8_sanitize ---------------------------------------------------- */

static void check_sanitize(const char *in, size_t n, const char *want, size_t want_len)
{
    size_t len = 12345;
    char *out = rn_utf8_sanitize(in, n, &len);
    assert_non_null(out);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[len], 0);
    free(out);
}

#define SAN(in, want) check_sanitize(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_sanitize_valid(void **state)
{
    SAN("", "");
    SAN("plain ASCII\n\t~", "plain ASCII\n\t~");
    const char all[] = "\x01\x7F"
                       "\xC2\x80\xC3\xA9\xDF\xBF"
                       "\xE0\xA0\x80\xE2\x82\xAC\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
                       "\xF0\x90\x80\x80\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
    SAN(all, all);
    /* U+FFFD itself is valid and stays */
    SAN(FFFD, FFFD);
}

static void test_sanitize_bad(void **state)
{
    SAN("\xC0\x80", FFFD FFFD);                     /* overlong NUL */
    SAN("\xC1\xBF", FFFD FFFD);                     /* overlong U+007F */
    SAN("\xE0\x80\x80", FFFD FFFD FFFD);            /* overlong 3-byte */
    SAN("\xE0\x9F\xBF", FFFD FFFD FFFD);            /* overlong U+07FF */
    SAN("\xF0\x8F\xBF\xBF", FFFD FFFD FFFD FFFD);   /* overlong U+FFFF */
    SAN("\xED\xA0\x80", FFFD FFFD FFFD);            /* U+D800 */
    SAN("\xED\xBF\xBF", FFFD FFFD FFFD);            /* U+DFFF */
    SAN("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD);   /* U+110000 */
    SAN("\xF5\x80\x80\x80", FFFD FFFD FFFD FFFD);
    SAN("\xFF\xFE", FFFD FFFD);
    SAN("a\x80" "b", "a" FFFD "b");                 /* stray continuation */
    SAN("\x80\xBF", FFFD FFFD);
    SAN("\xC3\xA9\xA9", "\xC3\xA9" FFFD);
    /* a valid start cut short: one U+FFFD per byte (Python: one in all) */
    SAN("ab\xC3", "ab" FFFD);
    SAN("ab\xE2\x82", "ab" FFFD FFFD);
    SAN("\xF0\x9F\x98", FFFD FFFD FFFD);
    SAN("\xE2\x82" "A", FFFD FFFD "A");
    SAN("\xF0\x9F" "\xC3\xA9", FFFD FFFD "\xC3\xA9"); /* a new lead ends the old one */
    /* NUL is replaced (Python keeps it) */
    SAN("a\0b", "a" FFFD "b");
    SAN("\0", FFFD);
    /* bad bytes between good characters do not disturb them */
    SAN("\xE2\x82\xAC\xC0\xF0\x9F\x98\x80", "\xE2\x82\xAC" FFFD "\xF0\x9F\x98\x80");
}

static void test_sanitize_null_len(void **state)
{
    char *out = rn_utf8_sanitize("a\x80", 2, NULL);
    assert_non_null(out);
    assert_string_equal(out, "a" FFFD);
    free(out);
}

/* Independent reference: decode the code point from the lead byte's
 * length, then reject overlongs, surrogates and values past U+10FFFF by
 * value (rather than by RFC 3629's byte table, as utf8.c does). Returns
 * the sequence length at p, or 0 for a bad byte. */
static int ref_len(const unsigned char *p, size_t n)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned c = p[0];
    int L = c < 0x80 ? 1
            : (c & 0xE0) == 0xC0 ? 2
            : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4
                                 : 0;
    if (L == 0 || (size_t)L > n)
        return 0;
    uint32_t cp = L == 1 ? c : c & (0x7Fu >> L);
    for (int i = 1; i < L; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp == 0 || cp < min[L] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return L;
}

/* Random bytes, biased toward UTF-8's interesting values, against the
 * reference; the output is also a fixed point of sanitize. */
static void test_sanitize_random(void **state)
{
    static const unsigned char pick[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                         0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0,
                                         0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
    struct rn_rng g;
    rn_rng_seed(&g, 42);
    unsigned char in[24];
    char want[3 * sizeof in + 1];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)rn_rng_below(&g, sizeof in + 1);
        for (size_t i = 0; i < n; i++)
            in[i] = rn_rng_below(&g, 4) ? pick[rn_rng_below(&g, sizeof pick)]
                                        : (unsigned char)rn_rng_below(&g, 256);
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            int L = ref_len(in + i, n - i);
            if (L) {
                memcpy(want + w, in + i, (size_t)L);
                w += (size_t)L, i += (size_t)L;
            } else {
                memcpy(want + w, FFFD, 3);
                w += 3, i++;
            }
        }
        check_sanitize((const char *)in, n, want, w);
        /* a clean string is a fixed point, and fully complete */
        size_t len;
        char *again = rn_utf8_sanitize(want, w, &len);
        assert_non_null(again);
        assert_int_equal(len, w);
        assert_memory_equal(again, want, w);
        assert_int_equal(rn_utf8_complete(want, w), w);
        free(again);
    }
}

/* rn_utf8_valid agrees with sanitize: valid exactly when nothing is replaced. */
static void test_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"plain", 5, 1},
        {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 1},
        {"\xef\xbf\xbd", 3, 1},
        {"a\0b", 3, 0},                 /* NUL */
        {"\xc0\x80", 2, 0},             /* overlong */
        {"\xed\xa0\x80", 3, 0},         /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0},     /* past U+10FFFF */
        {"\x80", 1, 0},                 /* stray continuation */
        {"ab\xe2\x82", 4, 0},           /* cut short */
        {"\xff", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rn_utf8_valid(cases[i].s, cases[i].n), cases[i].ok);
        size_t n;
        char *t = rn_utf8_sanitize(cases[i].s, cases[i].n, &n);
        assert_non_null(t);
        assert_int_equal(n == cases[i].n && memcmp(t, cases[i].s, n) == 0, cases[i].ok);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_ascii),    cmocka_unit_test(test_complete_splits),
        cmocka_unit_test(test_complete_hopeless), cmocka_unit_test(test_sanitize_valid),
        cmocka_unit_test(test_sanitize_bad),      cmocka_unit_test(test_sanitize_null_len),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_sanitize_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
