/* bpe_pretok — GPT-2's pre-tokenizer, hand-compiled.
 *
 * The pattern (RN_PRETOK_GPT2_PATTERN) is matched leftmost-first, the way
 * tiktoken's fancy_regex and the original Python `regex` do:
 *
 *   1  '(?:[sdmt]|ll|ve|re)      ASCII contractions, case-sensitive
 *   2  ' '? \p{L}+               an optional U+0020, then letters
 *   3  ' '? \p{N}+               ... then numbers
 *   4  ' '? [^\s\p{L}\p{N}]+     ... then anything else
 *   5  \s+(?!\S)                 a space run not followed by a non-space:
 *                                the whole run at the end of the text,
 *                                otherwise the run minus its last character
 *   6  \s+                       a one-character run before a non-space
 *
 * A regex engine pays for generality on every byte; this walks the text
 * once with a class table for ASCII and utf8proc's category table for the
 * rest, which is what makes encoding faster than tiktoken's.
 */
#include <utf8proc.h>

#include "bpe.h"

enum { C_OTHER = 0, C_LETTER = 1, C_NUMBER = 2, C_SPACE = 3 };

/* \s is Unicode White_Space in Rust's regex and in Python's `regex`; the
 * ASCII controls 0x1C..0x1F are not in it (Python's str.isspace disagrees). */
static const unsigned char ascii_class[128] = {
    ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
    ['\r'] = C_SPACE, [' '] = C_SPACE,
    ['0'] = C_NUMBER, ['1'] = C_NUMBER, ['2'] = C_NUMBER, ['3'] = C_NUMBER,
    ['4'] = C_NUMBER, ['5'] = C_NUMBER, ['6'] = C_NUMBER, ['7'] = C_NUMBER,
    ['8'] = C_NUMBER, ['9'] = C_NUMBER,
    ['A'] = C_LETTER, ['B'] = C_LETTER, ['C'] = C_LETTER, ['D'] = C_LETTER,
    ['E'] = C_LETTER, ['F'] = C_LETTER, ['G'] = C_LETTER, ['H'] = C_LETTER,
    ['I'] = C_LETTER, ['J'] = C_LETTER, ['K'] = C_LETTER, ['L'] = C_LETTER,
    ['M'] = C_LETTER, ['N'] = C_LETTER, ['O'] = C_LETTER, ['P'] = C_LETTER,
    ['Q'] = C_LETTER, ['R'] = C_LETTER, ['S'] = C_LETTER, ['T'] = C_LETTER,
    ['U'] = C_LETTER, ['V'] = C_LETTER, ['W'] = C_LETTER, ['X'] = C_LETTER,
    ['Y'] = C_LETTER, ['Z'] = C_LETTER,
    ['a'] = C_LETTER, ['b'] = C_LETTER, ['c'] = C_LETTER, ['d'] = C_LETTER,
    ['e'] = C_LETTER, ['f'] = C_LETTER, ['g'] = C_LETTER, ['h'] = C_LETTER,
    ['i'] = C_LETTER, ['j'] = C_LETTER, ['k'] = C_LETTER, ['l'] = C_LETTER,
    ['m'] = C_LETTER, ['n'] = C_LETTER, ['o'] = C_LETTER, ['p'] = C_LETTER,
    ['q'] = C_LETTER, ['r'] = C_LETTER, ['s'] = C_LETTER, ['t'] = C_LETTER,
    ['u'] = C_LETTER, ['v'] = C_LETTER, ['w'] = C_LETTER, ['x'] = C_LETTER,
    ['y'] = C_LETTER, ['z'] = C_LETTER,
};

static int is_white_space(int32_t c)
{
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int class_of(int32_t c)
{
    if (is_white_space(c))
        return C_SPACE;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return C_NUMBER;
    default:
        return C_OTHER;
    }
}

/* Decode the character at s[i] (i < len): its byte length and class. The
 * accepted forms are exactly Unicode's well-formed UTF-8 (Table 3-7): no
 * overlongs, no surrogates, nothing above U+10FFFF; anything else is one
 * byte of class C_OTHER. */
static inline size_t char_at(const unsigned char *s, size_t len, size_t i, int *cls)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cls = ascii_class[c];
        return 1;
    }
    size_t left = len - i;
    int32_t cp;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (s[i + 1] & 0xC0) != 0x80)
            goto bad;
        cp = (int32_t)(c & 0x1F) << 6 | (s[i + 1] & 0x3F);
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
            goto bad;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F))
            goto bad;
        cp = (int32_t)(c & 0x0F) << 12 | (int32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
        n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
            (s[i + 3] & 0xC0) != 0x80)
            goto bad;
        if ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            goto bad;
        cp = (int32_t)(c & 0x07) << 18 | (int32_t)(s[i + 1] & 0x3F) << 12 |
             (int32_t)(s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F);
        n = 4;
    } else {
        goto bad;
    }
    *cls = class_of(cp);
    return n;
bad:
    *cls = C_OTHER;
    return 1;
}

/* End of the run of characters of class cls starting at i. */
static size_t run_end(const unsigned char *s, size_t len, size_t i, int cls)
{
    while (i < len) {
        int k;
        if (s[i] < 0x80) {
            if (ascii_class[s[i]] != cls)
                break;
            i++;
            continue;
        }
        size_t n = char_at(s, len, i, &k);
        if (k != cls)
            break;
        i += n;
    }
    return i;
}

size_t rn_pretok_next(const unsigned char *s, size_t len, size_t pos)
{
    RN_ASSERT(pos < len);
    int k0;
    size_t n0 = char_at(s, len, pos, &k0);

    if (s[pos] == '\'' && pos + 1 < len) {
        unsigned char c1 = s[pos + 1];
        if (c1 == 's' || c1 == 'd' || c1 == 'm' || c1 == 't')
            return pos + 2;
        if (pos + 2 < len) {
            unsigned char c2 = s[pos + 2];
            if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e'))
                return pos + 3;
        }
    }
    if (s[pos] == ' ' && pos + 1 < len) {
        int k1;
        char_at(s, len, pos + 1, &k1);
        if (k1 != C_SPACE)
            return run_end(s, len, pos + 1, k1);
    }
    if (k0 != C_SPACE)
        return run_end(s, len, pos + n0, k0);

    /* A space run: find its end and the start of its last character. */
    size_t last = pos, i = pos + n0;
    while (i < len) {
        int k;
        size_t n = char_at(s, len, i, &k);
        if (k != C_SPACE)
            break;
        last = i;
        i += n;
    }
    if (i == len || last == pos)
        return i;
    return last;
}

size_t rn_pretok_cut(const unsigned char *s, size_t len, size_t target)
{
    /* A match depends only on the text from its start on (the one
     * look-around looks ahead), so a cut is safe where a match always ends
     * and the text before it pre-tokenizes the same when it ends there:
     * after a letter or digit that precedes an ASCII space, and after a
     * newline that stands alone between non-spaces. (A longer space run
     * would not do: at the end of a text, \s+(?!\S) takes all of it.) */
    size_t p = target < 2 ? 2 : target;
    for (; p < len; p++) {
        unsigned char a = s[p - 1], c = s[p];
        if (c == ' ' && a < 0x80 && (ascii_class[a] == C_LETTER || ascii_class[a] == C_NUMBER))
            return p;
        if (a == '\n' && c < 0x80 && ascii_class[c] != C_SPACE && s[p - 2] < 0x80 &&
            ascii_class[s[p - 2]] != C_SPACE)
            return p;
    }
    return len;
}
