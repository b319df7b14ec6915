/* trainer_data — the token array `train` learns from: tokens records
 * concatenated, split into training and held-out parts, and cut into
 * random windows. See trainer.h. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "trainer.h"

/* Grow d->tok to hold at least need ids. */
static int reserve(struct rn_train_data *d, size_t need, struct rn_err *e)
{
    if (need <= d->cap)
        return RN_OK;
    size_t cap = d->cap ? d->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t))
            return rn_err_set(e, RN_ENOMEM, "data", "too many tokens");
        cap *= 2;
    }
    int32_t *p = realloc(d->tok, cap * sizeof *p);
    if (!p)
        return rn_err_set(e, RN_ENOMEM, "data", "out of memory for %zu tokens", need);
    d->tok = p;
    d->cap = cap;
    return RN_OK;
}

/* "name:fingerprint" of a record's metadata into buf ("" when it names
 * neither). */
static void record_identity(const char *meta, char *buf, size_t size)
{
    cJSON *o = cJSON_Parse(meta);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "tokenizer");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "fingerprint");
    buf[0] = 0;
    if (cJSON_IsString(fp))
        snprintf(buf, size, "%.40s:%.40s", cJSON_IsString(name) ? name->valuestring : "",
                 fp->valuestring);
    cJSON_Delete(o);
}

int rn_train_data_add(struct rn_train_data *d, const struct rn_record *rec, int64_t vocab_size,
                      const char *name, struct rn_err *e)
{
    if (rec->kind != RN_KIND_TOKENS)
        return RN_OK;
    char id[96];
    record_identity(rec->meta, id, sizeof id);
    if (id[0]) {
        if (!d->tokenizer[0] && !d->records)
            snprintf(d->tokenizer, sizeof d->tokenizer, "%s", id);
        else if (strcmp(id, d->tokenizer) != 0)
            return rn_err_set(e, RN_EFORMAT, name,
                              "record %" PRIu64 ": made with tokenizer %s, not %s like the "
                              "records before it",
                              rec->index, id, d->tokenizer[0] ? d->tokenizer : "(unnamed)");
    }
    struct rn_tensor t;
    int rc = rn_record_tensor(rec, &t, e);
    if (rc < 0)
        return rc;
    if (!rn_dtype_is_int(t.dtype))
        return rn_err_set(e, RN_EFORMAT, name, "record %" PRIu64 ": tokens of dtype %s",
                          rec->index, rn_dtype_name(t.dtype));
    size_t n = (size_t)rn_tensor_numel(&t);
    if ((rc = reserve(d, d->n + n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t v = rn_tensor_int_at(&t, (int64_t)i);
        if (v < 0 || v >= vocab_size)
            return rn_err_set(e, RN_EFORMAT, name,
                              "record %" PRIu64 ": token %zu: id %" PRId64
                              " is outside the vocabulary (vocab_size %" PRId64 ")",
                              rec->index, i, v, vocab_size);
        d->tok[d->n + i] = (int32_t)v;
    }
    d->n += n;
    d->records++;
    return RN_OK;
}

int rn_train_data_read(struct rn_train_data *d, const char *path, int64_t vocab_size,
                       struct rn_err *e)
{
    struct rn_stream_reader r;
    struct rn_record rec = {0};
    int rc = rn_stream_reader_open(&r, path, RN_OPEN_MMAP, e);
    if (rc < 0)
        return rc;
    while ((rc = rn_stream_read(&r, &rec, 0, e)) == RN_OK)
        if ((rc = rn_train_data_add(d, &rec, vocab_size, r.name, e)) < 0)
            break;
    rn_record_free(&rec);
    rn_stream_reader_close(&r);
    return rc == RN_EOF ? RN_OK : rc;
}

int rn_train_data_split(struct rn_train_data *d, double val_fraction, int T, int need_val,
                        struct rn_err *e)
{
    size_t n_val = (size_t)((double)d->n * val_fraction);
    if (n_val > d->n)
        n_val = d->n;
    d->n_train = d->n - n_val;
    if (d->n == 0 && d->records == 0)
        return rn_err_set(e, RN_EFORMAT, "data",
                          "no tokens: the input holds no tokens records (is it tokenize's output?)");
    if (d->n == 0)
        return rn_err_set(e, RN_EFORMAT, "data", "no tokens: the input's %" PRIu64
                          " tokens records are all empty", d->records);
    if (d->n_train < (size_t)T + 1)
        return rn_err_set(e, RN_EFORMAT, "data",
                          "%zu tokens in the training split: need at least T+1 = %d tokens in "
                          "the training split (more data, or a smaller seq_len)",
                          d->n_train, T + 1);
    if (need_val && n_val < (size_t)T + 1)
        return rn_err_set(e, RN_EFORMAT, "data",
                          "%zu held-out tokens (val_fraction %g of %zu): evaluation needs at "
                          "least T+1 = %d (raise val_fraction, lower seq_len, or set "
                          "eval_interval 0)",
                          n_val, val_fraction, d->n, T + 1);
    return RN_OK;
}

void rn_train_data_windows(const struct rn_train_data *d, int split, struct rn_rng *g, int B,
                           int T, int32_t *out)
{
    const int32_t *base = split ? d->tok + d->n_train : d->tok;
    size_t len = split ? d->n - d->n_train : d->n_train;
    RN_ASSERT(len >= (size_t)T + 1);
    for (int b = 0; b < B; b++) {
        /* starts 0 .. len-T-1: every window fits, the last token included */
        size_t s = (size_t)rn_rng_below(g, (uint64_t)(len - (size_t)T));
        memcpy(out + (size_t)b * (T + 1), base + s, sizeof(int32_t) * ((size_t)T + 1));
    }
}

uint64_t rn_train_data_hash(const struct rn_train_data *d)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)d->tok;
    for (size_t i = 0; i < d->n * sizeof(int32_t); i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void rn_train_data_free(struct rn_train_data *d)
{
    if (!d)
        return;
    free(d->tok);
    memset(d, 0, sizeof *d);
}
