/* Unit tests for libcore/bpe: pre-tokenizer, BPE merges, special tokens,
 * batch encoding, training, and the vocabulary file readers on hostile
 * input.
 *
 * The pre-tokenizer's expected splits were computed with Python's `regex`
 * module and GPT-2's pattern (RN_PRETOK_GPT2_PATTERN), not from
 * bpe_pretok.c. GPT-2 parity on real text is tests/ref/tokenize.bats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "rng.h"

/* ---- helpers --------------------------------------------------------- */

/* Pieces of s joined by '|'. */
static void split(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s), pos = 0, o = 0;
    while (pos < len) {
        size_t end = rn_pretok_next((const unsigned char *)s, len, pos);
        assert_true(end > pos && end <= len);
        if (pos)
            out[o++] = '|';
        assert_true(o + (end - pos) < cap);
        memcpy(out + o, s + pos, end - pos);
        o += end - pos;
        pos = end;
    }
    out[o] = 0;
}

/* A vocabulary: the 256 bytes (id = byte), then the given tokens. */
static void build_vocab(struct rn_bpe *b, const char *const *extra, int n)
{
    const unsigned char *tok[256 + 16];
    uint32_t len[256 + 16];
    static unsigned char bytes[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (unsigned char)i;
        tok[i] = &bytes[i];
        len[i] = 1;
    }
    for (int i = 0; i < n; i++) {
        tok[256 + i] = (const unsigned char *)extra[i];
        len[256 + i] = (uint32_t)strlen(extra[i]);
    }
    struct rn_err e = {0};
    assert_int_equal(rn_bpe_build(b, 256 + n, tok, len, "test", &e), RN_OK);
}

static void random_text(struct rn_rng *g, unsigned char *p, size_t n)
{
    static const char *const atoms[] = {"a", "b", "ab", "the", " ", " ", "  ", "\n", "\n\n", "1",
                                        "23", "'s", "'", ".", "!?", "\t", "\xc3\xa9", "\xe6\x97\xa5",
                                        "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xe2\x80\x83", "Z"};
    size_t natoms = sizeof atoms / sizeof *atoms, i = 0;
    while (i < n) {
        const char *a = atoms[rn_rng_below(g, natoms)];
        size_t k = strlen(a);
        if (k > n - i)
            k = n - i;
        memcpy(p + i, a, k);
        i += k;
    }
}

/* ---- pre-tokenizer --------------------------------------------------- */

static void test_pretok_known_splits(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Hello world", "Hello| world"},
        {"it's I'M they'll 've", "it|'s| I|'|M| they|'ll| '|ve"},
        {"  a", " | a"},
        {"a  \n\nb", "a|  \n|\n|b"},
        {"x \n", "x| \n"},
        {"12abc 3.5", "12|abc| 3|.|5"},
        {"   ", "   "},
        {"don\xe2\x80\x99t", "don|\xe2\x80\x99|t"},
        {"h\xc3\xa9llo w\xc3\xb6rld", "h\xc3\xa9llo| w\xc3\xb6rld"},
        {"\xe6\x97\xa5\xe6\x9c\xac \xe3\x83\x86", "\xe6\x97\xa5\xe6\x9c\xac| \xe3\x83\x86"},
        {"a\xc2\xa0" "b", "a|\xc2\xa0|b"},
        {"a\xe3\x80\x80\xe3\x80\x80" "b", "a|\xe3\x80\x80|\xe3\x80\x80|b"},
        {"foo!!! bar", "foo|!!!| bar"},
        {" 'll", " '|ll"},
        {"''s", "''|s"},
        {"\t\tx", "\t|\t|x"},
        {"a\n", "a|\n"},
        {"1 2  3", "1| 2| | 3"},
        /* invalid UTF-8: each bad byte is an "other" character */
        {"a\xff\xfe" "b", "a|\xff\xfe|b"},
        {" \xc3(", " \xc3(", },
        {"x\xed\xa0\x80y", "x|\xed\xa0\x80|y"},
        {"\xe2\x82", "\xe2\x82"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        split(cases[i][0], out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
}

static void test_pretok_cut_is_invisible(void **state)
{
    (void)state;
    /* Cutting where rn_pretok_cut says must give the same pieces. */
    struct rn_rng g;
    rn_rng_seed(&g, 7);
    unsigned char text[4000];
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rn_rng_below(&g, sizeof text - 1);
        random_text(&g, text, n);
        size_t target = rn_rng_below(&g, n);
        size_t cut = rn_pretok_cut(text, n, target);
        assert_true(cut >= target && cut <= n);
        /* whole: boundaries of the whole text must include cut */
        int found = cut == n;
        for (size_t pos = 0; pos < n && !found;) {
            pos = rn_pretok_next(text, n, pos);
            found = pos == cut;
            if (pos > cut)
                break;
        }
        assert_true(found);
        /* and the part before it splits the same alone */
        for (size_t pos = 0; pos < cut;) {
            size_t alone = rn_pretok_next(text, cut, pos), whole = rn_pretok_next(text, n, pos);
            if (alone != whole)
                fail_msg("round %d: piece at %zu ends at %zu, %zu when cut at %zu", round, pos,
                         whole, alone, cut);
            pos = alone;
        }
    }
}

/* ---- BPE merges ------------------------------------------------------ */

static void test_merge_rules(void **state)
{
    (void)state;
    static const char *const extra[] = {"ab", "cd", "abcd", "bc", "aa", "aaaa", "xyz"};
    struct rn_bpe b;
    struct rn_err e = {0};
    build_vocab(&b, extra, 7);
    static const struct {
        const char *in;
        int n;
        int32_t ids[4];
    } cases[] = {
        {"abcd", 1, {258}},             /* a whole token, no merging */
        {"abcde", 2, {258, 'e'}},       /* ab, then cd, then abcd */
        {"bcd", 2, {'b', 257}},         /* cd (257) beats bc (259) */
        {"aaaaa", 2, {261, 'a'}},       /* leftmost first on a tie */
        {"xyzw", 4, {'x', 'y', 'z', 'w'}}, /* xyz is a token, but no pair builds it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct rn_bpe_ids fast = {0}, ref = {0};
        size_t n = strlen(cases[i].in);
        assert_int_equal(rn_bpe_encode_piece(&b, (const unsigned char *)cases[i].in, n, &fast, &e), 0);
        assert_int_equal(rn_bpe_encode_piece_ref(&b, (const unsigned char *)cases[i].in, n, &ref, &e), 0);
        assert_int_equal(fast.n, cases[i].n);
        assert_memory_equal(fast.v, cases[i].ids, fast.n * sizeof(int32_t));
        assert_int_equal(ref.n, fast.n);
        assert_memory_equal(ref.v, fast.v, fast.n * sizeof(int32_t));
        rn_bpe_ids_free(&fast);
        rn_bpe_ids_free(&ref);
    }
    rn_bpe_free(&b);
}

/* A vocabulary trained on random text, shared by the tests below. */
static void trained(struct rn_bpe *b, int32_t merges, int threads)
{
    struct rn_err e = {0};
    struct rn_rng g;
    rn_rng_seed(&g, 42);
    size_t n = 3 << 20;
    unsigned char *text = malloc(n);
    assert_non_null(text);
    random_text(&g, text, n);
    struct rn_bpe_trainer *t = rn_bpe_trainer_new(threads, &e);
    assert_non_null(t);
    assert_int_equal(rn_bpe_trainer_feed(t, text, n, &e), RN_OK);
    assert_int_equal(rn_bpe_trainer_run(t, merges, NULL, NULL, b, &e), RN_OK);
    struct rn_bpe_train_stats st;
    rn_bpe_trainer_stats(t, &st);
    assert_int_equal(st.bytes, n);
    assert_true(st.words > 0 && st.pieces >= st.words);
    rn_bpe_trainer_free(t);
    free(text);
}

static void test_fast_matches_reference(void **state)
{
    (void)state;
    struct rn_bpe b;
    struct rn_err e = {0};
    trained(&b, 300, 1);
    assert_int_equal(b.n_base, 256 + 300);
    struct rn_rng g;
    rn_rng_seed(&g, 3);
    unsigned char piece[700];
    static const char alphabet[] = "aabbt he1'";
    for (int round = 0; round < 400; round++) {
        /* long pieces take the heap path, short ones the quadratic one */
        size_t n = 1 + rn_rng_below(&g, round % 4 == 0 ? sizeof piece - 1 : 40);
        for (size_t i = 0; i < n; i++)
            piece[i] = (unsigned char)alphabet[rn_rng_below(&g, sizeof alphabet - 1)];
        struct rn_bpe_ids fast = {0}, ref = {0};
        assert_int_equal(rn_bpe_encode_piece(&b, piece, n, &fast, &e), 0);
        assert_int_equal(rn_bpe_encode_piece_ref(&b, piece, n, &ref, &e), 0);
        assert_int_equal(fast.n, ref.n);
        assert_memory_equal(fast.v, ref.v, fast.n * sizeof(int32_t));
        rn_bpe_ids_free(&fast);
        rn_bpe_ids_free(&ref);
    }
    rn_bpe_free(&b);
}

static void test_round_trip_any_bytes(void **state)
{
    (void)state;
    struct rn_bpe b;
    struct rn_err e = {0};
    trained(&b, 200, 2);
    struct rn_rng g;
    rn_rng_seed(&g, 9);
    unsigned char text[5000];
    for (int round = 0; round < 100; round++) {
        size_t n = rn_rng_below(&g, sizeof text);
        if (round % 2)
            for (size_t i = 0; i < n; i++)
                text[i] = (unsigned char)rn_rng_below(&g, 256);
        else
            random_text(&g, text, n);
        struct rn_bpe_ids ids = {0};
        struct rn_bpe_bytes out = {0};
        assert_int_equal(rn_bpe_encode(&b, text, n, 0, &ids, &e), RN_OK);
        assert_int_equal(rn_bpe_decode(&b, ids.v, ids.n, &out, &e), RN_OK);
        assert_int_equal(out.n, n);
        if (n)
            assert_memory_equal(out.v, text, n);
        rn_bpe_ids_free(&ids);
        rn_bpe_bytes_free(&out);
    }
    rn_bpe_free(&b);
}

static void test_decode_out_of_range(void **state)
{
    (void)state;
    struct rn_bpe b;
    struct rn_err e = {0};
    build_vocab(&b, NULL, 0);
    int32_t ids[] = {'h', 'i', 256, 7};
    struct rn_bpe_bytes out = {0};
    assert_int_equal(rn_bpe_decode(&b, ids, 4, &out, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "token 2: id 256 out of range"));
    int32_t neg = -1;
    assert_int_equal(rn_bpe_decode(&b, &neg, 1, &out, &e), RN_EFORMAT);
    rn_bpe_bytes_free(&out);
    rn_bpe_free(&b);
}

/* ---- special tokens -------------------------------------------------- */

static void test_special_tokens(void **state)
{
    (void)state;
    struct rn_bpe b;
    struct rn_err e = {0};
    build_vocab(&b, NULL, 0);
    uint64_t fp = b.fingerprint;
    assert_int_equal(rn_bpe_add_builtin_specials(&b, &e), RN_OK);
    assert_true(b.fingerprint != fp);
    assert_int_equal(rn_bpe_special_id(&b, RN_BPE_EOT, strlen(RN_BPE_EOT)), 256);
    assert_int_equal(rn_bpe_special_id(&b, RN_BPE_STORY, strlen(RN_BPE_STORY)), 257);
    assert_int_equal(rn_bpe_special_id(&b, RN_BPE_STORY_END, strlen(RN_BPE_STORY_END)), 258);
    assert_int_equal(rn_bpe_add_special(&b, "<|user|>", &e), 259);
    assert_int_equal(rn_bpe_add_special(&b, "<|user|>", &e), 259);   /* already there */
    assert_true(rn_bpe_add_special(&b, "", &e) < 0);
    assert_int_equal(b.n_vocab, 260);

    const char *text = "a<|story|>b</|story|><|endoftext|";
    struct rn_bpe_ids plain = {0}, special = {0};
    assert_int_equal(rn_bpe_encode(&b, text, strlen(text), 0, &plain, &e), RN_OK);
    assert_int_equal(rn_bpe_encode(&b, text, strlen(text), RN_BPE_ALLOW_SPECIAL, &special, &e), RN_OK);
    for (size_t i = 0; i < plain.n; i++)
        assert_true(plain.v[i] < 256);   /* ordinary text without the flag */
    assert_int_equal(special.v[0], 'a');
    assert_int_equal(special.v[1], 257);
    assert_int_equal(special.v[2], 'b');
    assert_int_equal(special.v[3], 258);
    assert_int_equal(special.n, 4 + strlen("<|endoftext|"));   /* no closing '>' */
    struct rn_bpe_bytes out = {0};
    assert_int_equal(rn_bpe_decode(&b, special.v, special.n, &out, &e), RN_OK);
    assert_int_equal(out.n, strlen(text));
    assert_memory_equal(out.v, text, out.n);
    rn_bpe_ids_free(&plain);
    rn_bpe_ids_free(&special);
    rn_bpe_bytes_free(&out);
    rn_bpe_free(&b);
}

/* ---- batch ----------------------------------------------------------- */

static void test_batch_matches_single(void **state)
{
    (void)state;
    struct rn_bpe b;
    struct rn_err e = {0};
    trained(&b, 200, 1);
    assert_int_equal(rn_bpe_add_builtin_specials(&b, &e), RN_OK);
    struct rn_rng g;
    rn_rng_seed(&g, 11);
    enum { NDOCS = 9 };
    size_t len[NDOCS];
    unsigned char *doc[NDOCS];
    for (int d = 0; d < NDOCS; d++) {
        /* one long document is cut into chunks across threads */
        len[d] = d == 4 ? (size_t)3 << 20 : rn_rng_below(&g, 3000);
        doc[d] = malloc(len[d] + 1);
        random_text(&g, doc[d], len[d]);
    }
    for (int flags = 0; flags <= RN_BPE_ALLOW_SPECIAL; flags += RN_BPE_ALLOW_SPECIAL) {
        struct rn_bpe_ids one[NDOCS] = {{0}}, many[NDOCS] = {{0}};
        for (int d = 0; d < NDOCS; d++)
            assert_int_equal(rn_bpe_encode(&b, doc[d], len[d], flags, &one[d], &e), RN_OK);
        assert_int_equal(rn_bpe_encode_batch(&b, NDOCS, (const unsigned char *const *)doc, len,
                                             flags, 3, many, &e), RN_OK);
        for (int d = 0; d < NDOCS; d++) {
            assert_int_equal(one[d].n, many[d].n);
            if (one[d].n)
                assert_memory_equal(one[d].v, many[d].v, one[d].n * sizeof(int32_t));
            rn_bpe_ids_free(&one[d]);
            rn_bpe_ids_free(&many[d]);
        }
    }
    for (int d = 0; d < NDOCS; d++)
        free(doc[d]);
    rn_bpe_free(&b);
}

/* ---- training -------------------------------------------------------- */

static void test_training_deterministic(void **state)
{
    (void)state;
    struct rn_bpe a, b;
    trained(&a, 500, 1);
    trained(&b, 500, 3);
    assert_int_equal(a.n_base, b.n_base);
    assert_true(a.fingerprint == b.fingerprint);
    rn_bpe_free(&a);
    rn_bpe_free(&b);
}

static void test_training_picks_most_frequent(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_bpe b;
    struct rn_bpe_trainer *t = rn_bpe_trainer_new(1, &e);
    /* Pieces: "low", " low" x2, " lot" x2, " newer", " wider". "lo" is the
     * most frequent pair (5), then " "+"lo" (4); then (" lo", w),
     * (" lo", t) and ("e", "r") tie at 2 and the lowest ids win: "er". */
    const char *corpus = "low low low lot lot newer wider";
    assert_int_equal(rn_bpe_trainer_feed(t, corpus, strlen(corpus), &e), RN_OK);
    assert_int_equal(rn_bpe_trainer_run(t, 3, NULL, NULL, &b, &e), RN_OK);
    static const char *const want[] = {"lo", " lo", "er"};
    for (int k = 0; k < 3; k++) {
        size_t n;
        const unsigned char *p = rn_bpe_token(&b, 256 + k, &n);
        assert_non_null(p);
        assert_int_equal(n, strlen(want[k]));
        assert_memory_equal(p, want[k], n);
    }
    assert_int_equal(b.n_base, 259);
    rn_bpe_trainer_free(t);
    rn_bpe_free(&b);

    /* nothing repeats: no merge is learned */
    t = rn_bpe_trainer_new(1, &e);
    assert_int_equal(rn_bpe_trainer_feed(t, "abc", 3, &e), RN_OK);
    assert_int_equal(rn_bpe_trainer_run(t, 10, NULL, NULL, &b, &e), RN_OK);
    assert_int_equal(b.n_base, 256);
    rn_bpe_trainer_free(t);
    rn_bpe_free(&b);
}

/* ---- files ----------------------------------------------------------- */

static void test_json_round_trip(void **state)
{
    (void)state;
    struct rn_bpe a, b;
    struct rn_err e = {0};
    trained(&a, 100, 1);
    assert_int_equal(rn_bpe_add_builtin_specials(&a, &e), RN_OK);
    assert_int_equal(rn_bpe_add_special(&a, "<|user \"quoted\"|>", &e), a.n_vocab);
    char *json;
    size_t len;
    assert_int_equal(rn_bpe_to_json(&a, "{\"corpus_bytes\": 3}", &json, &len, &e), RN_OK);
    assert_int_equal(rn_bpe_parse_json(&b, json, len, "mem", &e), RN_OK);
    assert_int_equal(a.n_vocab, b.n_vocab);
    assert_true(a.fingerprint == b.fingerprint);
    free(json);
    rn_bpe_free(&a);
    rn_bpe_free(&b);
}

static void test_json_hostile(void **state)
{
    (void)state;
    static const char *const head =
        "{\"format\": \"runnel-tokenizer\", \"version\": 1, \"pre_tokenizer\": \"gpt2\", ";
    /* tokens: the 256 bytes in base64, built below */
    char toks[256 * 8];
    size_t o = 0;
    for (int c = 0; c < 256; c++) {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        o += (size_t)sprintf(toks + o, "%s\"%c%c==\"", c ? "," : "", b64[c >> 2], b64[(c & 3) << 4]);
    }
    static const struct {
        const char *body;   /* %s: the token list */
        const char *msg;    /* expected in the error */
    } cases[] = {
        {"\"vocab_size\": 256, \"n_base\": 256, \"tokens\": [%s]}", NULL},
        {"\"vocab_size\": 256, \"n_base\": 256, \"tokens\": [%s]", "not a JSON object"},
        {"\"vocab_size\": 255, \"n_base\": 256, \"tokens\": [%s]}", "vocab_size"},
        {"\"vocab_size\": 300, \"n_base\": 256, \"tokens\": [%s]}", "vocab_size 300"},
        {"\"vocab_size\": 256, \"n_base\": 257, \"tokens\": [%s]}", "n_base"},
        {"\"vocab_size\": 257, \"n_base\": 257, \"tokens\": [%s, \"AA==\"]}", "repeats"},
        {"\"vocab_size\": 257, \"n_base\": 257, \"tokens\": [%s, \"!!!!\"]}", "base64"},
        {"\"vocab_size\": 257, \"n_base\": 257, \"tokens\": [%s, 7]}", "base64"},
        {"\"vocab_size\": 256, \"n_base\": 256, \"tokens\": [%s], \"fingerprint\": \"00\"}",
         "fingerprint"},
        {"\"vocab_size\": 257, \"n_base\": 256, \"tokens\": [%s], "
         "\"special_tokens\": [{\"id\": 300, \"text\": \"<x>\"}]}", "special_tokens[0]"},
        {"\"vocab_size\": 1e30, \"n_base\": 256, \"tokens\": [%s]}", "vocab_size"},
    };
    char buf[8192];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct rn_bpe b;
        struct rn_err e = {0};
        int n = snprintf(buf, sizeof buf, "%s", head);
        snprintf(buf + n, sizeof buf - (size_t)n, cases[i].body, toks);
        int rc = rn_bpe_parse_json(&b, buf, strlen(buf), "t.json", &e);
        if (!cases[i].msg) {
            assert_int_equal(rc, RN_OK);
            assert_int_equal(b.n_vocab, 259);   /* the built-in specials were added */
        } else {
            assert_true(rc < 0);
            if (!strstr(e.msg, cases[i].msg))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].msg);
            assert_string_equal(e.where, "t.json");
        }
        rn_bpe_free(&b);
    }
    /* a byte with no token */
    struct rn_bpe b;
    struct rn_err e = {0};
    snprintf(buf, sizeof buf, "%s\"vocab_size\": 255, \"n_base\": 255, \"tokens\": [%.*s]}", head,
             (int)(strlen(toks) - 7), toks);
    assert_true(rn_bpe_parse_json(&b, buf, strlen(buf), "t.json", &e) < 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_tiktoken_hostile(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_bpe_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/v.tiktoken", dir);
    /* the 256 bytes as a ranks file */
    static char good[256 * 16];
    size_t o = 0;
    for (int c = 0; c < 256; c++) {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        o += (size_t)sprintf(good + o, "%c%c== %d\n", b64[c >> 2], b64[(c & 3) << 4], c);
    }
    struct rn_bpe b;
    struct rn_err e = {0};
    write_file(path, good);
    assert_int_equal(rn_bpe_load(&b, path, &e), RN_OK);
    assert_int_equal(b.n_base, 256);
    assert_int_equal(b.n_vocab, 259);
    rn_bpe_free(&b);

    char bad[sizeof good + 64];
    static const struct {
        const char *append;
        const char *msg;
    } cases[] = {
        {"YWI= 300\n", "rank is not an integer"},
        {"YWI= x\n", "rank is not an integer"},
        {"YWI=\n", "BASE64 RANK"},
        {"Y!I= 256\n", "bad base64"},
        {"QQ== 256\n", "repeats"},
        {"YWI= 10\n", "given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(bad, sizeof bad, "%s%s", good, cases[i].append);
        write_file(path, bad);
        assert_true(rn_bpe_load(&b, path, &e) < 0);
        if (!strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].msg);
        assert_string_equal(e.where, path);
        rn_bpe_free(&b);
    }
    write_file(path, "QQ== 0\n");
    assert_true(rn_bpe_load(&b, path, &e) < 0);
    write_file(path, "");
    assert_true(rn_bpe_load(&b, path, &e) < 0);
    unlink(path);
    assert_true(rn_bpe_load(&b, path, &e) < 0);
    assert_int_equal(e.code, RN_EIO);
    /* a directory without encoder.json */
    assert_true(rn_bpe_load(&b, dir, &e) < 0);
    assert_non_null(strstr(e.where, "encoder.json"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretok_known_splits),
        cmocka_unit_test(test_pretok_cut_is_invisible),
        cmocka_unit_test(test_merge_rules),
        cmocka_unit_test(test_fast_matches_reference),
        cmocka_unit_test(test_round_trip_any_bytes),
        cmocka_unit_test(test_decode_out_of_range),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_batch_matches_single),
        cmocka_unit_test(test_training_deterministic),
        cmocka_unit_test(test_training_picks_most_frequent),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_hostile),
        cmocka_unit_test(test_tiktoken_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
