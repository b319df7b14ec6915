/* bpe_load — vocabulary files in and out: tiktoken ranks files, GPT-2's
 * encoder.json + vocab.bpe, and runnel's own JSON (runnel-tokenizer(5)). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpe.h"
#include "bpe_private.h"
#include "io.h"

#define VOCAB_FILE_MAX ((size_t)256 << 20)

/* Name the file in e, replacing the place the inner call recorded. */
static void set_where(struct rn_err *e, const char *where)
{
    if (!e)
        return;
    size_t n = strlen(where);
    if (n >= sizeof e->where)
        n = sizeof e->where - 1;
    memcpy(e->where, where, n);
    e->where[n] = 0;
}

/* ---- base64 ---------------------------------------------------------- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode n chars of padded base64 into out (room for n/4*3 bytes);
 * returns the byte count or -1 if s is not base64. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    if (n == 0 || n % 4)
        return -1;
    long o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(c)) < 0) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2) out[o++] = (unsigned char)(w >> 8);
        if (pad < 1) out[o++] = (unsigned char)w;
    }
    return o;
}

static size_t b64_encode(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n) w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) w |= p[i + 2];
        out[o++] = b64_chars[w >> 18 & 63];
        out[o++] = b64_chars[w >> 12 & 63];
        out[o++] = i + 1 < n ? b64_chars[w >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64_chars[w & 63] : '=';
    }
    out[o] = 0;
    return o;
}

/* ---- a list of tokens being read ------------------------------------- */

struct toklist {
    int32_t n;
    unsigned char **tok;     /* tok[rank], NULL where no line gave that rank */
    uint32_t *len;
};

static int toklist_alloc(struct toklist *t, int32_t n, struct rn_err *e)
{
    t->n = n;
    t->tok = calloc((size_t)n, sizeof *t->tok);
    t->len = calloc((size_t)n, sizeof *t->len);
    if (!t->tok || !t->len)
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory for %d tokens", (int)n);
    return RN_OK;
}

static void toklist_free(struct toklist *t)
{
    if (t->tok)
        for (int32_t i = 0; i < t->n; i++)
            free(t->tok[i]);
    free(t->tok);
    free(t->len);
    memset(t, 0, sizeof *t);
}

static int toklist_set(struct toklist *t, int32_t rank, const unsigned char *p, size_t n,
                       struct rn_err *e)
{
    if (t->tok[rank])
        return rn_err_set(e, RN_EFORMAT, NULL, "rank %d given twice", (int)rank);
    t->tok[rank] = malloc(n ? n : 1);
    if (!t->tok[rank])
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
    memcpy(t->tok[rank], p, n);
    t->len[rank] = (uint32_t)n;
    return RN_OK;
}

static int toklist_build(struct toklist *t, struct rn_bpe *b, const char *name, struct rn_err *e)
{
    for (int32_t i = 0; i < t->n; i++)
        if (!t->tok[i])
            return rn_err_set(e, RN_EFORMAT, NULL, "no token has rank %d (ranks must be 0..%d)",
                              (int)i, (int)t->n - 1);
    return rn_bpe_build(b, t->n, (const unsigned char *const *)t->tok, t->len, name, e);
}

/* "dir/gpt2.tiktoken" -> "gpt2" */
static void base_name(const char *path, char *out, size_t size)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    snprintf(out, size, "%s", *s ? s : "bpe");
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = 0;
}

/* ---- tiktoken ranks -------------------------------------------------- */

static int parse_tiktoken(struct rn_bpe *b, const char *text, size_t len, const char *name,
                          struct rn_err *e)
{
    int32_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            lines++;
    if (len && text[len - 1] != '\n')
        lines++;
    if (lines < 256 || lines > RN_BPE_VOCAB_MAX)
        return rn_err_set(e, RN_EFORMAT, NULL, "%d lines: a ranks file has 256..%d tokens",
                          (int)lines, RN_BPE_VOCAB_MAX);
    struct toklist t = {0};
    int rc = toklist_alloc(&t, lines, e);
    unsigned char buf[4096];
    size_t pos = 0;
    for (int32_t line = 1; rc == RN_OK && pos < len; line++) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        const char *sp = memchr(s, ' ', n);
        if (!sp) {
            rc = rn_err_set(e, RN_EFORMAT, NULL, "line %d: expected \"BASE64 RANK\"", (int)line);
            break;
        }
        size_t blen = (size_t)(sp - s);
        if (blen / 4 * 3 > sizeof buf) {
            rc = rn_err_set(e, RN_ELIMIT, NULL, "line %d: token longer than %zu bytes", (int)line,
                            sizeof buf);
            break;
        }
        long got = b64_decode(s, blen, buf);
        char *end;
        errno = 0;
        long long rank = strtoll(sp + 1, &end, 10);
        if (got <= 0) {
            rc = rn_err_set(e, RN_EFORMAT, NULL, "line %d: bad base64 token", (int)line);
        } else if (end == sp + 1 || end != s + n || errno || rank < 0 || rank >= lines) {
            rc = rn_err_set(e, RN_EFORMAT, NULL, "line %d: rank is not an integer in 0..%d",
                            (int)line, (int)lines - 1);
        } else {
            rc = toklist_set(&t, (int32_t)rank, buf, (size_t)got, e);
            if (rc < 0)
                rn_err_prefix(e, "line %d: ", (int)line);
        }
    }
    if (rc == RN_OK)
        rc = toklist_build(&t, b, name, e);
    toklist_free(&t);
    return rc;
}

int rn_bpe_load_tiktoken(struct rn_bpe *b, const char *path, struct rn_err *e)
{
    char *text;
    size_t len;
    rn_bpe_init(b);
    int rc = rn_read_file(path, VOCAB_FILE_MAX, &text, &len, e);
    if (rc < 0)
        return rc;
    char name[64];
    base_name(path, name, sizeof name);
    rc = parse_tiktoken(b, text, len, name, e);
    free(text);
    if (rc == RN_OK)
        rc = rn_bpe_add_builtin_specials(b, e);
    if (rc < 0) {
        rn_bpe_free(b);
        set_where(e, path);
    }
    return rc;
}

/* ---- GPT-2's encoder.json + vocab.bpe -------------------------------- */

/* GPT-2 writes each byte as a printable character: bytes that are
 * printable in Latin-1 stand for themselves, the other 68 become
 * U+0100.. in byte order (bytes_to_unicode in GPT-2's encoder.py). */
static void gpt2_byte_table(int16_t cp_to_byte[324])
{
    for (int i = 0; i < 324; i++)
        cp_to_byte[i] = -1;
    int n = 0;
    for (int c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        if (printable)
            cp_to_byte[c] = (int16_t)c;
        else
            cp_to_byte[256 + n++] = (int16_t)c;
    }
}

/* Decode GPT-2's printable form s (UTF-8) into bytes; -1 if a character
 * is not one of the 256. */
static long gpt2_unprintable(const int16_t *cp_to_byte, const char *s, size_t n,
                             unsigned char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        unsigned cp;
        if (c < 0x80) {
            cp = c;
            i++;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            cp = (c & 0x1F) << 6 | ((unsigned char)s[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1;
        }
        if (cp >= 324 || cp_to_byte[cp] < 0 || o >= cap)
            return -1;
        out[o++] = (unsigned char)cp_to_byte[cp];
    }
    return (long)o;
}

int rn_bpe_load_gpt2_dir(struct rn_bpe *b, const char *dir, struct rn_err *e)
{
    char path[4096], where[4096];
    char *json = NULL, *merges = NULL;
    size_t jlen, mlen;
    cJSON *root = NULL;
    struct toklist t = {0};
    int16_t cp_to_byte[324];
    unsigned char buf[1024];
    int rc;

    rn_bpe_init(b);
    gpt2_byte_table(cp_to_byte);
    snprintf(path, sizeof path, "%s/encoder.json", dir);
    if ((rc = rn_read_file(path, VOCAB_FILE_MAX, &json, &jlen, e)) < 0)
        goto out;
    snprintf(where, sizeof where, "%s/vocab.bpe", dir);
    if ((rc = rn_read_file(where, VOCAB_FILE_MAX, &merges, &mlen, e)) < 0)
        goto out;

    root = cJSON_ParseWithLength(json, jlen);
    if (!cJSON_IsObject(root)) {
        rc = rn_err_set(e, RN_EFORMAT, path, "not a JSON object");
        goto out;
    }
    /* ids 0..255 are the bytes and id 256 + i is merge line i; any id past
     * the merges is a special token (GPT-2 has one: <|endoftext|>). */
    int32_t nmerges = 0;
    for (size_t i = 0; i < mlen;) {
        const char *s = merges + i, *nl = memchr(s, '\n', mlen - i);
        size_t n = nl ? (size_t)(nl - s) : mlen - i;
        i += n + 1;
        if (n && strncmp(s, "#version", 8) != 0)
            nmerges++;
    }
    if (nmerges > RN_BPE_VOCAB_MAX - 256) {
        rc = rn_err_set(e, RN_EFORMAT, where, "%d merges: too many", (int)nmerges);
        goto out;
    }
    int32_t nbase = 256 + nmerges;
    if ((rc = toklist_alloc(&t, nbase, e)) < 0)
        goto out;
    int32_t nspecial = 0;
    char *specials[16];
    int32_t special_id[16];
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        double v = it->valuedouble;
        if (!cJSON_IsNumber(it) || v < 0 || v >= RN_BPE_VOCAB_MAX || v != (double)(int32_t)v) {
            rc = rn_err_set(e, RN_EFORMAT, path, "token %.40s: id is not an integer in 0..%d",
                            it->string, RN_BPE_VOCAB_MAX - 1);
            goto specials_out;
        }
        int32_t id = (int32_t)v;
        if (id >= nbase) {
            if (nspecial == 16 || !(specials[nspecial] = strdup(it->string))) {
                rc = rn_err_set(e, RN_EFORMAT, path, "too many ids past the %d merges", (int)nmerges);
                goto specials_out;
            }
            special_id[nspecial++] = id;
            continue;
        }
        long got = gpt2_unprintable(cp_to_byte, it->string, strlen(it->string), buf, sizeof buf);
        if (got <= 0) {
            rc = rn_err_set(e, RN_EFORMAT, path, "token %.40s: not in GPT-2's byte alphabet",
                            it->string);
            goto specials_out;
        }
        if ((rc = toklist_set(&t, id, buf, (size_t)got, e)) < 0) {
            rn_err_prefix(e, "%s: ", path);
            goto specials_out;
        }
    }
    for (int32_t i = 0; i < 256; i++)
        if (!t.tok[i] || t.len[i] != 1) {
            rc = rn_err_set(e, RN_EFORMAT, path, "id %d is not a single byte", (int)i);
            goto specials_out;
        }
    /* Check every merge against the ids: a pair of files that disagree
     * would encode differently from the model that shipped them. */
    int32_t line = 0, k = 0;
    for (size_t i = 0; i < mlen && rc == RN_OK;) {
        const char *s = merges + i, *nl = memchr(s, '\n', mlen - i);
        size_t n = nl ? (size_t)(nl - s) : mlen - i;
        i += n + 1;
        line++;
        if (!n || strncmp(s, "#version", 8) == 0)
            continue;
        const char *sp = memchr(s, ' ', n);
        long a = sp ? gpt2_unprintable(cp_to_byte, s, (size_t)(sp - s), buf, sizeof buf) : -1;
        long c = a > 0 ? gpt2_unprintable(cp_to_byte, sp + 1, n - (size_t)(sp - s) - 1, buf + a,
                                          sizeof buf - (size_t)a) : -1;
        int32_t id = 256 + k++;
        if (a <= 0 || c <= 0)
            rc = rn_err_set(e, RN_EFORMAT, where, "line %d: expected two tokens", (int)line);
        else if (!t.tok[id] || t.len[id] != (uint32_t)(a + c) || memcmp(t.tok[id], buf, (size_t)(a + c)))
            rc = rn_err_set(e, RN_EFORMAT, where,
                            "line %d: merge %.*s does not give token %d of encoder.json",
                            (int)line, (int)(n > 60 ? 60 : n), s, (int)id);
    }
    if (rc == RN_OK && (rc = toklist_build(&t, b, "gpt2", e)) < 0)
        set_where(e, path);
    /* Specials keep their ids, which must follow the merges. */
    for (int32_t want = nbase; rc == RN_OK && want < nbase + nspecial; want++) {
        int32_t s = 0;
        while (s < nspecial && special_id[s] != want)
            s++;
        if (s == nspecial) {
            rc = rn_err_set(e, RN_EFORMAT, path, "ids past the merges are not %d..%d",
                            (int)nbase, (int)(nbase + nspecial - 1));
        } else {
            int32_t got = rn_bpe_add_special(b, specials[s], e);
            if (got != want && got >= 0)
                rc = rn_err_set(e, RN_EFORMAT, path, "special token %s repeats", specials[s]);
            else if (got < 0)
                rc = got;
        }
    }
    if (rc == RN_OK)
        rc = rn_bpe_add_builtin_specials(b, e);
specials_out:
    for (int32_t s = 0; s < nspecial; s++)
        free(specials[s]);
out:
    toklist_free(&t);
    cJSON_Delete(root);
    free(json);
    free(merges);
    if (rc < 0)
        rn_bpe_free(b);
    return rc;
}

/* ---- runnel tokenizer JSON ------------------------------------------- */

#define JSON_FORMAT "runnel-tokenizer"
#define JSON_VERSION 1

static int json_int(const cJSON *root, const char *key, long lo, long hi, long *out,
                    const char *where, struct rn_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
        v->valuedouble != (double)(long)v->valuedouble)
        return rn_err_set(e, RN_EFORMAT, where, "\"%s\" must be an integer in %ld..%ld", key, lo, hi);
    *out = (long)v->valuedouble;
    return RN_OK;
}

int rn_bpe_parse_json(struct rn_bpe *b, const char *text, size_t len, const char *where,
                      struct rn_err *e)
{
    rn_bpe_init(b);
    cJSON *root = cJSON_ParseWithLength(text, len);
    struct toklist t = {0};
    int rc = RN_OK;
    long version, vocab, nbase;
    if (!cJSON_IsObject(root)) {
        rc = rn_err_set(e, RN_EFORMAT, where, "not a JSON object");
        goto out;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, JSON_FORMAT) != 0) {
        rc = rn_err_set(e, RN_EFORMAT, where, "\"format\" is not \"%s\"", JSON_FORMAT);
        goto out;
    }
    if ((rc = json_int(root, "version", 1, 1000, &version, where, e)) < 0)
        goto out;
    if (version != JSON_VERSION) {
        rc = rn_err_set(e, RN_EUNSUPPORTED, where, "version %ld (this build reads %d)", version,
                        JSON_VERSION);
        goto out;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!cJSON_IsString(pre) || strcmp(pre->valuestring, "gpt2") != 0) {
        rc = rn_err_set(e, RN_EUNSUPPORTED, where, "\"pre_tokenizer\" must be \"gpt2\"");
        goto out;
    }
    if ((rc = json_int(root, "vocab_size", 256, RN_BPE_VOCAB_MAX, &vocab, where, e)) < 0 ||
        (rc = json_int(root, "n_base", 256, vocab, &nbase, where, e)) < 0)
        goto out;
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    if (!cJSON_IsArray(toks) || cJSON_GetArraySize(toks) != nbase) {
        rc = rn_err_set(e, RN_EFORMAT, where, "\"tokens\" must be an array of n_base (%ld) strings",
                        nbase);
        goto out;
    }
    if ((rc = toklist_alloc(&t, (int32_t)nbase, e)) < 0)
        goto out;
    unsigned char buf[4096];
    int32_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, toks) {
        size_t n = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
        long got = n && n / 4 * 3 <= sizeof buf ? b64_decode(it->valuestring, n, buf) : -1;
        if (got <= 0) {
            rc = rn_err_set(e, RN_EFORMAT, where, "tokens[%d]: not a base64 string", (int)i);
            goto out;
        }
        if ((rc = toklist_set(&t, i, buf, (size_t)got, e)) < 0)
            goto out;
        i++;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if ((rc = toklist_build(&t, b, cJSON_IsString(nm) ? nm->valuestring : "runnel-bpe", e)) < 0) {
        set_where(e, where);
        goto out;
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(root, "special_tokens");
    if (sp && !cJSON_IsArray(sp)) {
        rc = rn_err_set(e, RN_EFORMAT, where, "\"special_tokens\" must be an array");
        goto out;
    }
    int32_t k = 0;
    cJSON_ArrayForEach(it, sp) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(it, "text");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(tx) || id->valuedouble != (double)(nbase + k)) {
            rc = rn_err_set(e, RN_EFORMAT, where,
                            "special_tokens[%d]: expected {\"id\": %ld, \"text\": \"...\"}", (int)k,
                            nbase + k);
            goto out;
        }
        int32_t got = rn_bpe_add_special(b, tx->valuestring, e);
        if (got < 0 || got != nbase + k) {
            rc = got < 0 ? got : rn_err_set(e, RN_EFORMAT, NULL, "special token repeats");
            rn_err_prefix(e, "special_tokens[%d]: ", (int)k);
            set_where(e, where);
            goto out;
        }
        k++;
    }
    if (b->n_vocab != vocab) {
        rc = rn_err_set(e, RN_EFORMAT, where, "vocab_size %ld, but the file holds %d tokens", vocab,
                        (int)b->n_vocab);
        goto out;
    }
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(root, "fingerprint");
    char hex[17];
    if (fp && (!cJSON_IsString(fp) || strcmp(fp->valuestring, rn_bpe_fingerprint_hex(b, hex)))) {
        rc = rn_err_set(e, RN_EFORMAT, where,
                        "\"fingerprint\" does not match the tokens (edited? remove the field)");
        goto out;
    }
    rc = rn_bpe_add_builtin_specials(b, e);
out:
    toklist_free(&t);
    cJSON_Delete(root);
    if (rc < 0)
        rn_bpe_free(b);
    return rc;
}

int rn_bpe_load_json(struct rn_bpe *b, const char *path, struct rn_err *e)
{
    char *text;
    size_t len;
    rn_bpe_init(b);
    int rc = rn_read_file(path, VOCAB_FILE_MAX, &text, &len, e);
    if (rc < 0)
        return rc;
    rc = rn_bpe_parse_json(b, text, len, rn_io_name(path, 0), e);
    free(text);
    return rc;
}

int rn_bpe_load(struct rn_bpe *b, const char *path, struct rn_err *e)
{
    struct stat st;
    rn_bpe_init(b);
    if (stat(path, &st) < 0)
        return rn_err_errno(e, path, "cannot open tokenizer");
    if (S_ISDIR(st.st_mode))
        return rn_bpe_load_gpt2_dir(b, path, e);
    FILE *f = fopen(path, "rb");
    if (!f)
        return rn_err_errno(e, path, "cannot open tokenizer");
    int c;
    do
        c = fgetc(f);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    fclose(f);
    if (c == '{')
        return rn_bpe_load_json(b, path, e);
    if (c == EOF)
        return rn_err_set(e, RN_EFORMAT, path, "empty tokenizer file");
    return rn_bpe_load_tiktoken(b, path, e);
}

/* ---- writing --------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
};

static void sb_add(struct sbuf *s, const char *p, size_t n)
{
    if (s->failed)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->n + n + 1)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q) {
            s->failed = 1;
            return;
        }
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = 0;
}

static void sb_str(struct sbuf *s, const char *p)
{
    sb_add(s, p, strlen(p));
}

/* p as a JSON string literal (cJSON does the escaping). */
static void sb_json_string(struct sbuf *s, const char *p)
{
    cJSON *str = cJSON_CreateString(p);
    char *lit = str ? cJSON_PrintUnformatted(str) : NULL;
    if (!lit)
        s->failed = 1;
    else
        sb_str(s, lit);
    free(lit);
    cJSON_Delete(str);
}

int rn_bpe_to_json(const struct rn_bpe *b, const char *extra, char **out, size_t *len,
                   struct rn_err *e)
{
    struct sbuf s = {0};
    char line[512], hex[17];
    cJSON *ex = NULL;
    if (extra) {
        ex = cJSON_Parse(extra);
        if (!cJSON_IsObject(ex)) {
            cJSON_Delete(ex);
            return rn_err_set(e, RN_EUSAGE, NULL, "training metadata is not a JSON object");
        }
    }
    /* One token per line: diffs between two vocabularies stay readable. */
    sb_str(&s, "{\n  \"format\": \"" JSON_FORMAT "\",\n");
    snprintf(line, sizeof line, "  \"version\": %d,\n  \"name\": ", JSON_VERSION);
    sb_str(&s, line);
    sb_json_string(&s, b->name);
    snprintf(line, sizeof line,
             ",\n  \"pre_tokenizer\": \"gpt2\",\n  \"vocab_size\": %d,\n  \"n_base\": %d,\n"
             "  \"fingerprint\": \"%s\",\n  \"special_tokens\": [",
             (int)b->n_vocab, (int)b->n_base, rn_bpe_fingerprint_hex(b, hex));
    sb_str(&s, line);
    for (int32_t id = b->n_base; id < b->n_vocab; id++) {
        char text[RN_BPE_SPECIAL_MAX + 1];
        size_t n;
        const unsigned char *p = rn_bpe_token(b, id, &n);
        memcpy(text, p, n);
        text[n] = 0;
        snprintf(line, sizeof line, "%s\n    {\"id\": %d, \"text\": ", id > b->n_base ? "," : "",
                 (int)id);
        sb_str(&s, line);
        sb_json_string(&s, text);
        sb_str(&s, "}");
    }
    sb_str(&s, "\n  ],\n");
    if (ex) {
        char *t = cJSON_PrintUnformatted(ex);
        sb_str(&s, "  \"training\": ");
        if (t)
            sb_str(&s, t);
        else
            s.failed = 1;
        sb_str(&s, ",\n");
        free(t);
        cJSON_Delete(ex);
    }
    sb_str(&s, "  \"tokens\": [\n");
    size_t maxlen = 0;
    for (int32_t id = 0; id < b->n_base; id++)
        if (b->tok_off[id + 1] - b->tok_off[id] > maxlen)
            maxlen = b->tok_off[id + 1] - b->tok_off[id];
    char *enc = malloc(4 * (maxlen / 3 + 2) + 8);
    if (!enc)
        s.failed = 1;
    for (int32_t id = 0; id < b->n_base && enc; id++) {
        size_t n;
        const unsigned char *p = rn_bpe_token(b, id, &n);
        sb_str(&s, "    \"");
        sb_add(&s, enc, b64_encode(p, n, enc));
        sb_str(&s, id + 1 < b->n_base ? "\",\n" : "\"\n");
    }
    free(enc);
    sb_str(&s, "  ]\n}\n");
    if (s.failed) {
        free(s.p);
        return rn_err_set(e, RN_ENOMEM, NULL, "out of memory writing the tokenizer");
    }
    *out = s.p;
    *len = s.n;
    return RN_OK;
}
