/* bpe_docs — where token sequences meet the rest of runnel: documents
 * cut from text, tokens records and their metadata, ids as text. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "stream.h"

size_t rn_bpe_next_doc(const unsigned char *s, size_t len, size_t pos, int how)
{
    if (how == RN_BPE_SPLIT_FILE || pos >= len)
        return len;
    if (how == RN_BPE_SPLIT_LINE) {
        const unsigned char *nl = memchr(s + pos, '\n', len - pos);
        return nl ? (size_t)(nl - s) + 1 : len;
    }
    /* blank-line: the document runs on through its text and the empty
     * lines after it, and ends where text starts again. */
    int seen_text = 0, seen_blank = 0;
    while (pos < len) {
        const unsigned char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) + 1 : len;
        int blank = end - pos == 1 || (end - pos == 2 && s[pos] == '\r');
        if (!blank && seen_blank && seen_text)
            return pos;
        if (blank)
            seen_blank = 1;
        else
            seen_text = 1;
        pos = end;
    }
    return len;
}

int rn_bpe_record_meta(const struct rn_bpe *b, const char *source, uint64_t doc, char **meta,
                       struct rn_err *e)
{
    char hex[17];
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "tokenizer", b->name) &&
        cJSON_AddNumberToObject(o, "vocab_size", b->n_vocab) &&
        cJSON_AddStringToObject(o, "fingerprint", rn_bpe_fingerprint_hex(b, hex)) &&
        (!source || cJSON_AddStringToObject(o, "source", source)) &&
        cJSON_AddNumberToObject(o, "doc", (double)doc))
        *meta = cJSON_PrintUnformatted(o);
    else
        *meta = NULL;
    cJSON_Delete(o);
    return *meta ? RN_OK : rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
}

int rn_bpe_record_ids(const struct rn_bpe *b, const struct rn_record *rec, struct rn_bpe_ids *ids,
                      struct rn_err *e)
{
    if (rec->kind != RN_KIND_TOKENS)
        return rn_err_set(e, RN_EFORMAT, NULL, "record %" PRIu64 ": a %s record, not tokens",
                          rec->index, rn_kind_name(rec->kind));
    if (b) {
        char hex[17];
        cJSON *meta = cJSON_Parse(rec->meta);
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(meta, "fingerprint");
        int other = cJSON_IsString(fp) && strcmp(fp->valuestring, rn_bpe_fingerprint_hex(b, hex));
        char theirs[17];
        snprintf(theirs, sizeof theirs, "%s", other ? fp->valuestring : "");
        cJSON_Delete(meta);
        if (other)
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "record %" PRIu64 ": made with tokenizer %s, not this one (%s)",
                              rec->index, theirs, hex);
    }
    struct rn_tensor t;
    int rc = rn_record_tensor(rec, &t, e);
    if (rc < 0)
        return rc;
    if (!rn_dtype_is_int(t.dtype))
        return rn_err_set(e, RN_EFORMAT, NULL, "record %" PRIu64 ": tokens of dtype %s",
                          rec->index, rn_dtype_name(t.dtype));
    int64_t n = rn_tensor_numel(&t);
    for (int64_t i = 0; i < n && rc == RN_OK; i++) {
        int64_t v = rn_tensor_int_at(&t, i);
        if (v < INT32_MIN || v > INT32_MAX || (b && (v < 0 || v >= b->n_vocab)))
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "record %" PRIu64 ": token %" PRId64 ": id %" PRId64
                              " out of range (vocabulary 0..%d)",
                              rec->index, i, v, b ? (int)b->n_vocab - 1 : INT32_MAX);
        rc = rn_bpe_ids_push(ids, (int32_t)v, e);
    }
    return rc;
}

int rn_bpe_parse_ids(const char *s, size_t len, struct rn_bpe_ids *ids, struct rn_err *e)
{
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        long long v = 0;
        size_t k = i;
        int neg = s[k] == '-';
        k += neg;
        while (k < len && s[k] >= '0' && s[k] <= '9' && v <= INT32_MAX)
            v = v * 10 + (s[k++] - '0');
        int digits = k > i + (size_t)neg;
        int ends = k == len || s[k] == ' ' || s[k] == '\t' || s[k] == '\r';
        if (!digits || !ends || v > INT32_MAX) {
            size_t w = 0;
            while (i + w < len && w < 20 && s[i + w] != ' ')
                w++;
            return rn_err_set(e, RN_EFORMAT, NULL, "'%.*s' is not a token id", (int)w, s + i);
        }
        int rc = rn_bpe_ids_push(ids, (int32_t)(neg ? -v : v), e);
        if (rc < 0)
            return rc;
        i = k;
    }
    return RN_OK;
}
