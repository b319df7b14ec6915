/* ckpt — see ckpt.h. The rules follow the reference implementation
 * (huggingface/safetensors): header length at most 100 MB, a header that
 * starts with '{', tensors that tile the data section exactly (sorted by
 * offset: the first starts at 0, each starts where the previous ended, the
 * last ends at the end of the file), and a byte span equal to the shape's
 * element count times the element size. runnel adds one rule of its own:
 * each tensor's data must be aligned to its element size in the file,
 * because views point into the mapping and are used as float * etc. */
#include "ckpt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "runnel.h"

#define NAME_MAX_BYTES 1024
/* Largest integer a JSON number (a double in cJSON) holds exactly: shapes
 * and offsets above it cannot be trusted to mean what the file says. */
#define JSON_INT_MAX 9007199254740992.0

struct rn_ckpt_wtensor {
    char *name;
    struct rn_tensor t;   /* owned data for add_copy, borrowed for add */
};

struct rn_ckpt_entry {
    const char *name;
    int dtype, rank;
    int64_t dims[RN_MAX_RANK];
    uint64_t begin, end;  /* relative to the data section */
};

/* ---- dtypes -------------------------------------------------------------- */

static const struct {
    const char *name;
    int dtype;
} st_dtypes[] = {
    {"U8", RN_DTYPE_U8},     {"I8", RN_DTYPE_I8},   {"U16", RN_DTYPE_U16},
    {"I16", RN_DTYPE_I16},   {"U32", RN_DTYPE_U32}, {"I32", RN_DTYPE_I32},
    {"U64", RN_DTYPE_U64},   {"I64", RN_DTYPE_I64}, {"F16", RN_DTYPE_F16},
    {"BF16", RN_DTYPE_BF16}, {"F32", RN_DTYPE_F32}, {"F64", RN_DTYPE_F64},
};

const char *rn_ckpt_dtype_name(int dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].dtype == dtype)
            return st_dtypes[i].name;
    return NULL;
}

int rn_ckpt_dtype_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0)
            return st_dtypes[i].dtype;
    return RN_DTYPE_INVALID;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Offset of the first byte that breaks UTF-8 (overlongs, surrogates and
 * code points past U+10FFFF included) or is NUL; len if none. */
static size_t utf8_bad_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

static int valid_text(const char *s)
{
    size_t n = strlen(s);
    return utf8_bad_at((const unsigned char *)s, n) == n;
}

/* ---- writer -------------------------------------------------------------- */

void rn_ckpt_writer_init(struct rn_ckpt_writer *w)
{
    memset(w, 0, sizeof *w);
}

void rn_ckpt_writer_free(struct rn_ckpt_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nt_; i++) {
        free(w->t_[i].name);
        rn_tensor_free(&w->t_[i].t);
    }
    for (size_t i = 0; i < w->nmeta_; i++) {
        free(w->meta_key_[i]);
        free(w->meta_val_[i]);
    }
    free(w->t_);
    free(w->meta_key_);
    free(w->meta_val_);
    memset(w, 0, sizeof *w);
}

static int add_tensor(struct rn_ckpt_writer *w, const char *name, const struct rn_tensor *t,
                      int copy, struct rn_err *e)
{
    if (!name || !*name)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "empty tensor name");
    if (strlen(name) > NAME_MAX_BYTES)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor name longer than %d bytes: %.40s...",
                          NAME_MAX_BYTES, name);
    if (!valid_text(name))
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor name is not valid UTF-8");
    if (strcmp(name, "__metadata__") == 0)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "'__metadata__' cannot name a tensor");
    if (!rn_ckpt_dtype_name(t->dtype))
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor '%s': dtype %d has no safetensors name",
                          name, t->dtype);
    uint64_t nbytes;
    if (rn_shape_nbytes(t->dtype, t->rank, t->dims, &nbytes, NULL) < 0)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor '%s': invalid shape (rank %d)",
                          name, t->rank);
    if (nbytes > 0 && !t->data)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor '%s' has no data", name);
    for (size_t i = 0; i < w->nt_; i++)
        if (strcmp(w->t_[i].name, name) == 0)
            return rn_err_set(e, RN_EUSAGE, "checkpoint", "tensor '%s' added twice", name);
    if (w->nt_ == w->capt_) {
        size_t cap = w->capt_ ? w->capt_ * 2 : 64;
        struct rn_ckpt_wtensor *nt = realloc(w->t_, cap * sizeof *nt);
        if (!nt)
            return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory");
        w->t_ = nt;
        w->capt_ = cap;
    }
    struct rn_ckpt_wtensor *slot = &w->t_[w->nt_];
    memset(slot, 0, sizeof *slot);
    slot->name = strdup(name);
    if (!slot->name)
        return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory");
    int rc = copy ? rn_tensor_new(&slot->t, t->dtype, t->rank, t->dims, e)
                  : rn_tensor_view(&slot->t, t->dtype, t->rank, t->dims, t->data, e);
    if (rc < 0) {
        free(slot->name);
        return rc;
    }
    if (copy && nbytes)
        memcpy(slot->t.data, t->data, nbytes);
    slot->t.nbytes = nbytes;
    w->nt_++;
    return RN_OK;
}

int rn_ckpt_writer_add(struct rn_ckpt_writer *w, const char *name, const struct rn_tensor *t,
                       struct rn_err *e)
{
    return add_tensor(w, name, t, 0, e);
}

int rn_ckpt_writer_add_copy(struct rn_ckpt_writer *w, const char *name,
                            const struct rn_tensor *t, struct rn_err *e)
{
    return add_tensor(w, name, t, 1, e);
}

int rn_ckpt_writer_set_meta(struct rn_ckpt_writer *w, const char *key, const char *value,
                            struct rn_err *e)
{
    if (!key || !*key || !value)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "empty metadata key or NULL value");
    if (!valid_text(key) || !valid_text(value))
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "metadata '%.60s' is not valid UTF-8", key);
    char *v = strdup(value);
    if (!v)
        return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory");
    for (size_t i = 0; i < w->nmeta_; i++)
        if (strcmp(w->meta_key_[i], key) == 0) {
            free(w->meta_val_[i]);
            w->meta_val_[i] = v;
            return RN_OK;
        }
    if (w->nmeta_ == w->capmeta_) {
        size_t cap = w->capmeta_ ? w->capmeta_ * 2 : 16;
        char **nk = realloc(w->meta_key_, cap * sizeof *nk);
        if (nk)
            w->meta_key_ = nk;
        char **nv = nk ? realloc(w->meta_val_, cap * sizeof *nv) : NULL;
        if (nv)
            w->meta_val_ = nv;
        if (!nk || !nv) {
            free(v);
            return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory");
        }
        w->capmeta_ = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory");
    }
    w->meta_key_[w->nmeta_] = k;
    w->meta_val_[w->nmeta_] = v;
    w->nmeta_++;
    return RN_OK;
}

int rn_ckpt_writer_set_meta_int(struct rn_ckpt_writer *w, const char *key, int64_t value,
                                struct rn_err *e)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return rn_ckpt_writer_set_meta(w, key, buf, e);
}

int rn_ckpt_writer_set_identity(struct rn_ckpt_writer *w, const char *prog, struct rn_err *e)
{
    char by[128];
    snprintf(by, sizeof by, "runnel %s %s", RN_VERSION, prog ? prog : "");
    int rc = rn_ckpt_writer_set_meta(w, RN_CKPT_META_FORMAT, RN_CKPT_FORMAT_NAME, e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta_int(w, RN_CKPT_META_FORMAT_VERSION, RN_CKPT_FORMAT_VERSION, e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta(w, RN_CKPT_META_CREATED_BY, by, e);
    return rc;
}

/* Largest element size first, then by name (bytewise): the order the
 * reference writer uses, which keeps every tensor aligned. */
static int cmp_wtensor(const void *a, const void *b)
{
    const struct rn_ckpt_wtensor *x = a, *y = b;
    size_t sx = rn_dtype_size(x->t.dtype), sy = rn_dtype_size(y->t.dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The padded header (JSON + spaces), malloc'd. Sorts w's tensors. */
static int build_header(struct rn_ckpt_writer *w, char **out, size_t *out_len,
                        uint64_t *data_len, struct rn_err *e)
{
    if (w->nt_ > 1)
        qsort(w->t_, w->nt_, sizeof *w->t_, cmp_wtensor);
    int rc = RN_OK;
    char *text = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        goto nomem;
    if (w->nmeta_) {
        /* sort keys via an index so key and value stay paired */
        char **keys = malloc(w->nmeta_ * sizeof *keys);
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        if (!keys || !meta) {
            free(keys);
            goto nomem;
        }
        memcpy(keys, w->meta_key_, w->nmeta_ * sizeof *keys);
        qsort(keys, w->nmeta_, sizeof *keys, cmp_str_ptr);
        for (size_t i = 0; i < w->nmeta_; i++) {
            size_t j = 0;
            while (w->meta_key_[j] != keys[i])
                j++;
            if (!cJSON_AddStringToObject(meta, keys[i], w->meta_val_[j])) {
                free(keys);
                goto nomem;
            }
        }
        free(keys);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->nt_; i++) {
        const struct rn_tensor *t = &w->t_[i].t;
        /* key order as the reference writes it: dtype, shape, data_offsets */
        cJSON *ent = cJSON_AddObjectToObject(root, w->t_[i].name);
        if (!ent || !cJSON_AddStringToObject(ent, "dtype", rn_ckpt_dtype_name(t->dtype)))
            goto nomem;
        cJSON *shape = cJSON_AddArrayToObject(ent, "shape");
        cJSON *offs = shape ? cJSON_AddArrayToObject(ent, "data_offsets") : NULL;
        if (!offs)
            goto nomem;
        /* Offsets of files we can write fit in 2^53 (a double): a larger
         * total would be refused by every reader, ours included. */
        if (t->nbytes > (uint64_t)JSON_INT_MAX - off) {
            cJSON_Delete(root);
            return rn_err_set(e, RN_ELIMIT, "checkpoint", "tensors exceed 2^53 bytes in total");
        }
        for (int d = 0; d < t->rank; d++)
            if (!cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d])))
                goto nomem;
        if (!cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off)) ||
            !cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes))))
            goto nomem;
        off += t->nbytes;
    }
    text = cJSON_PrintUnformatted(root);
    if (!text)
        goto nomem;
    cJSON_Delete(root);
    root = NULL;
    size_t n = strlen(text);
    size_t padded = (n + 7) / 8 * 8;
    if (padded > RN_CKPT_HEADER_MAX) {
        free(text);
        return rn_err_set(e, RN_ELIMIT, "checkpoint", "header of %zu bytes exceeds the limit of %u",
                          padded, RN_CKPT_HEADER_MAX);
    }
    char *buf = realloc(text, padded + 1);
    if (!buf)
        goto nomem;
    memset(buf + n, ' ', padded - n);
    buf[padded] = '\0';
    *out = buf;
    *out_len = padded;
    *data_len = off;
    return rc;
nomem:
    cJSON_Delete(root);
    free(text);
    return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory building the header");
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int rn_ckpt_writer_write(struct rn_ckpt_writer *w, const char *path, struct rn_err *e)
{
    char *hdr;
    size_t hlen;
    uint64_t dlen;
    int rc = build_header(w, &hdr, &hlen, &dlen, e);
    if (rc < 0)
        return rc;
    struct rn_outfile o;
    rc = rn_outfile_open(&o, path, e);
    if (rc < 0) {
        free(hdr);
        return rc;
    }
    unsigned char len8[8];
    put_le64(len8, hlen);
    rc = rn_outfile_write(&o, len8, 8, e);
    if (rc == RN_OK)
        rc = rn_outfile_write(&o, hdr, hlen, e);
    free(hdr);
    for (size_t i = 0; rc == RN_OK && i < w->nt_; i++)
        if (w->t_[i].t.nbytes)
            rc = rn_outfile_write(&o, w->t_[i].t.data, w->t_[i].t.nbytes, e);
    if (rc < 0) {
        rn_outfile_abort(&o);
        return rc;
    }
    return rn_outfile_commit(&o, e);
}

int rn_ckpt_writer_serialize(struct rn_ckpt_writer *w, void **buf, size_t *len,
                             struct rn_err *e)
{
    char *hdr;
    size_t hlen;
    uint64_t dlen;
    int rc = build_header(w, &hdr, &hlen, &dlen, e);
    if (rc < 0)
        return rc;
    if (dlen > SIZE_MAX - 8 - hlen) {
        free(hdr);
        return rn_err_set(e, RN_ELIMIT, "checkpoint", "too large for memory");
    }
    unsigned char *out = malloc(8 + hlen + dlen);
    if (!out) {
        free(hdr);
        return rn_err_set(e, RN_ENOMEM, "checkpoint", "out of memory (%" PRIu64 " bytes)",
                          8 + hlen + dlen);
    }
    put_le64(out, hlen);
    memcpy(out + 8, hdr, hlen);
    free(hdr);
    size_t off = 8 + hlen;
    for (size_t i = 0; i < w->nt_; i++) {
        if (w->t_[i].t.nbytes)
            memcpy(out + off, w->t_[i].t.data, w->t_[i].t.nbytes);
        off += w->t_[i].t.nbytes;
    }
    *buf = out;
    *len = off;
    return RN_OK;
}

/* ---- reader -------------------------------------------------------------- */

void rn_ckpt_close(struct rn_ckpt *c)
{
    if (!c)
        return;
    if (c->base_ && !c->borrowed_) {
        if (c->mapped_)
            munmap(c->base_, c->len_);
        else
            free(c->base_);
    }
    free(c->ent_);
    free(c->by_name_);
    free(c->meta_key_);
    free(c->meta_val_);
    free(c->names_);
    memset(c, 0, sizeof *c);
}

/* A JSON number that is a non-negative integer exactly held by a double. */
static int json_uint(const cJSON *x, uint64_t *v)
{
    if (!cJSON_IsNumber(x))
        return 0;
    double d = x->valuedouble;
    if (!(d >= 0) || d > JSON_INT_MAX || d != (double)(uint64_t)d)
        return 0;
    *v = (uint64_t)d;
    return 1;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const struct rn_ckpt_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* qsort_r, not a global context: servers open checkpoints from threads. */
static int cmp_by_name(const void *a, const void *b, void *ctx)
{
    const struct rn_ckpt_entry *ent = ctx;
    return strcmp(ent[*(const size_t *)a].name, ent[*(const size_t *)b].name);
}

/* Copy s into the names arena at *pos; returns the copy. */
static char *arena_put(char *arena, size_t *pos, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena + *pos;
    memcpy(p, s, n);
    *pos += n;
    return p;
}

static int parse_entry(struct rn_ckpt *c, const cJSON *item, struct rn_ckpt_entry *ent,
                       uint64_t data_len, struct rn_err *e)
{
    const char *nm = item->string;
    if (!cJSON_IsObject(item))
        return rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%.200s': entry is not a JSON object", nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%.200s': no \"dtype\" string", nm);
    ent->dtype = rn_ckpt_dtype_from_name(dt->valuestring);
    if (ent->dtype == RN_DTYPE_INVALID)
        return rn_err_set(e, RN_EUNSUPPORTED, c->name_, "tensor '%.200s': unsupported dtype '%.40s'",
                          nm, dt->valuestring);
    if (!cJSON_IsArray(shape))
        return rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%.200s': no \"shape\" array", nm);
    int rank = cJSON_GetArraySize(shape);
    if (rank > RN_MAX_RANK)
        return rn_err_set(e, RN_EUNSUPPORTED, c->name_, "tensor '%.200s': rank %d exceeds %d", nm,
                          rank, RN_MAX_RANK);
    ent->rank = rank;
    int d = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, shape) {
        uint64_t v;
        if (!json_uint(x, &v))
            return rn_err_set(e, RN_EFORMAT, c->name_,
                              "tensor '%.200s': shape[%d] is not an integer in [0, 2^53]", nm, d);
        ent->dims[d++] = (int64_t)v;
    }
    uint64_t nbytes;
    if (rn_shape_nbytes(ent->dtype, rank, ent->dims, &nbytes, NULL) < 0) {
        char sh[200];
        rn_shape_format(rank, ent->dims, sh, sizeof sh);
        return rn_err_set(e, RN_ELIMIT, c->name_, "tensor '%.200s': shape %s overflows 64 bits",
                          nm, sh);
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &ent->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &ent->end))
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "tensor '%.200s': \"data_offsets\" is not two integers in [0, 2^53]", nm);
    if (ent->end < ent->begin)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                          nm, ent->begin, ent->end);
    if (ent->end > data_len)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64
                          "] run past the end of the file (data section holds %" PRIu64 " bytes)",
                          nm, ent->begin, ent->end, data_len);
    if (ent->end - ent->begin != nbytes) {
        char sh[160];
        rn_shape_format(rank, ent->dims, sh, sizeof sh);
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "tensor '%.200s': shape %s of %s needs %" PRIu64
                          " bytes, data_offsets span %" PRIu64,
                          nm, sh, dt->valuestring, nbytes, ent->end - ent->begin);
    }
    uint64_t at = (uint64_t)(c->data_ - c->base_) + ent->begin;
    if (at % rn_dtype_size(ent->dtype))
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "tensor '%.200s': data at file offset %" PRIu64
                          " is not aligned to its %zu-byte elements",
                          nm, at, rn_dtype_size(ent->dtype));
    return RN_OK;
}

/* An upper bound on the JSON values in text: one more than the commas and
 * opening brackets outside strings. */
static size_t json_items_bound(const char *s, size_t n)
{
    size_t items = 1;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == ',' || ch == '[' || ch == '{') {
            items++;
        }
    }
    return items;
}

static int parse_header(struct rn_ckpt *c, const char *hdr, size_t hlen, uint64_t data_len,
                        struct rn_err *e)
{
    /* cJSON spends ~64 bytes per value: a 100 MB header of "0," would cost
     * gigabytes before any rule could refuse it, so count first. */
    size_t items = json_items_bound(hdr, hlen);
    if (items > RN_CKPT_JSON_ITEMS_MAX)
        return rn_err_set(e, RN_ELIMIT, c->name_,
                          "header holds up to %zu JSON values, more than the limit of %u", items,
                          RN_CKPT_JSON_ITEMS_MAX);
    /* cJSON needs a terminated string: the header is copied once. */
    char *text = malloc(hlen + 1);
    if (!text)
        return rn_err_set(e, RN_ENOMEM, c->name_, "out of memory for a %zu-byte header", hlen);
    memcpy(text, hdr, hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    int rc = RN_OK;
    size_t names_len = 0, nmeta = 0, nent = 0, pos = 0;
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        rc = rn_err_set(e, RN_EFORMAT, c->name_, "header is not valid JSON (at byte %zu of %zu)",
                        at, hlen);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = rn_err_set(e, RN_EFORMAT, c->name_, "header is not a JSON object");
        goto out;
    }
    const cJSON *item, *meta = NULL;
    cJSON_ArrayForEach(item, root) {
        names_len += strlen(item->string) + 1;
        if (strcmp(item->string, "__metadata__") == 0) {
            if (meta) {
                rc = rn_err_set(e, RN_EFORMAT, c->name_, "header has two \"__metadata__\" objects");
                goto out;
            }
            meta = item;
            if (!cJSON_IsObject(meta)) {
                rc = rn_err_set(e, RN_EFORMAT, c->name_, "\"__metadata__\" is not a JSON object");
                goto out;
            }
            const cJSON *kv;
            cJSON_ArrayForEach(kv, meta) {
                if (!cJSON_IsString(kv)) {
                    rc = rn_err_set(e, RN_EFORMAT, c->name_,
                                    "metadata '%.200s' is not a string", kv->string);
                    goto out;
                }
                names_len += strlen(kv->string) + strlen(kv->valuestring) + 2;
                nmeta++;
            }
        } else {
            nent++;
        }
    }
    c->ent_ = calloc(nent ? nent : 1, sizeof *c->ent_);
    c->by_name_ = calloc(nent ? nent : 1, sizeof *c->by_name_);
    c->meta_key_ = calloc(nmeta ? nmeta : 1, sizeof *c->meta_key_);
    c->meta_val_ = calloc(nmeta ? nmeta : 1, sizeof *c->meta_val_);
    c->names_ = malloc(names_len ? names_len : 1);
    if (!c->ent_ || !c->by_name_ || !c->meta_key_ || !c->meta_val_ || !c->names_) {
        rc = rn_err_set(e, RN_ENOMEM, c->name_, "out of memory for %zu tensors", nent);
        goto out;
    }
    size_t k = 0;
    cJSON_ArrayForEach(item, root) {
        if (item == meta)
            continue;
        rc = parse_entry(c, item, &c->ent_[k], data_len, e);
        if (rc < 0)
            goto out;
        c->ent_[k].name = arena_put(c->names_, &pos, item->string);
        k++;
    }
    c->nent_ = nent;
    if (meta) {
        const cJSON *kv;
        size_t m = 0;
        cJSON_ArrayForEach(kv, meta) {
            c->meta_key_[m] = arena_put(c->names_, &pos, kv->string);
            c->meta_val_[m] = arena_put(c->names_, &pos, kv->valuestring);
            m++;
        }
        c->nmeta_ = nmeta;
        /* Sort the keys; each value sits in the arena right after its
         * key's NUL, so it is found again from the key. Duplicates end up
         * adjacent. (qsort: a hostile header may hold a million keys.) */
        qsort(c->meta_key_, nmeta, sizeof *c->meta_key_, cmp_str_ptr);
        for (size_t i = 0; i < nmeta; i++)
            c->meta_val_[i] = c->meta_key_[i] + strlen(c->meta_key_[i]) + 1;
        for (size_t i = 1; i < nmeta; i++)
            if (strcmp(c->meta_key_[i - 1], c->meta_key_[i]) == 0) {
                rc = rn_err_set(e, RN_EFORMAT, c->name_, "metadata key '%.200s' appears twice",
                                c->meta_key_[i]);
                goto out;
            }
    }
    /* Tile check: sorted by offset, the tensors must cover [0, data_len)
     * exactly, each starting where the previous one ended. */
    qsort(c->ent_, nent, sizeof *c->ent_, cmp_by_offset);
    uint64_t at = 0;
    for (size_t i = 0; i < nent; i++) {
        const struct rn_ckpt_entry *t = &c->ent_[i];
        if (t->begin < at) {
            rc = rn_err_set(e, RN_EFORMAT, c->name_,
                            "tensor '%.200s' (bytes %" PRIu64 "-%" PRIu64 ") overlaps tensor '%.200s'",
                            t->name, t->begin, t->end, c->ent_[i - 1].name);
            goto out;
        }
        if (t->begin > at) {
            rc = rn_err_set(e, RN_EFORMAT, c->name_,
                            "hole of %" PRIu64 " bytes before tensor '%.200s' (data_offsets must be "
                            "contiguous)", t->begin - at, t->name);
            goto out;
        }
        at = t->end;
    }
    if (at != data_len) {
        rc = rn_err_set(e, RN_EFORMAT, c->name_,
                        "%" PRIu64 " bytes after the last tensor (the data section holds %" PRIu64
                        ", the tensors %" PRIu64 ")", data_len - at, data_len, at);
        goto out;
    }
    for (size_t i = 0; i < nent; i++)
        c->by_name_[i] = i;
    qsort_r(c->by_name_, nent, sizeof *c->by_name_, cmp_by_name, c->ent_);
    for (size_t i = 1; i < nent; i++)
        if (strcmp(c->ent_[c->by_name_[i - 1]].name, c->ent_[c->by_name_[i]].name) == 0) {
            rc = rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%.200s' appears twice",
                            c->ent_[c->by_name_[i]].name);
            goto out;
        }
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int validate(struct rn_ckpt *c, struct rn_err *e)
{
    const unsigned char *p = c->base_;
    if (c->len_ < 8)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "file is %zu bytes, too short for the 8-byte header length", c->len_);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | p[i];
    if (n > RN_CKPT_HEADER_MAX)
        return rn_err_set(e, RN_ELIMIT, c->name_,
                          "header length %" PRIu64 " exceeds the limit of %u bytes", n,
                          RN_CKPT_HEADER_MAX);
    if (n > c->len_ - 8)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "header length %" PRIu64 " runs past the end of the file (%zu bytes)", n,
                          c->len_);
    if (n == 0 || p[8] != '{')
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "header does not start with '{' (not a safetensors file?)");
    size_t bad = utf8_bad_at(p + 8, (size_t)n);
    if (bad != n)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "header is not valid UTF-8 (bad byte 0x%02x at header offset %zu)",
                          p[8 + bad], bad);
    c->data_ = p + 8 + n;
    int rc = parse_header(c, (const char *)p + 8, (size_t)n, c->len_ - 8 - n, e);
    return rc;
}

int rn_ckpt_open_mem(struct rn_ckpt *c, const void *buf, size_t len, const char *name,
                     struct rn_err *e)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name_, sizeof c->name_, "%s", name ? name : "checkpoint");
    c->base_ = (unsigned char *)buf;
    c->len_ = len;
    c->borrowed_ = 1;
    int rc = validate(c, e);
    if (rc < 0)
        rn_ckpt_close(c);
    return rc;
}

int rn_ckpt_open(struct rn_ckpt *c, const char *path, struct rn_err *e)
{
    memset(c, 0, sizeof *c);
    const char *name = rn_io_name(path, 0);
    snprintf(c->name_, sizeof c->name_, "%s", name);
    int fd = (!path || strcmp(path, "-") == 0) ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_err_errno(e, name, "cannot open");
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = rn_err_errno(e, name, "cannot stat");
        if (fd > 0)
            close(fd);
        return rc;
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > SIZE_MAX) {
            if (fd > 0)
                close(fd);
            return rn_err_set(e, RN_ELIMIT, name, "file too large to map");
        }
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (fd > 0)
            close(fd);
        if (m == MAP_FAILED)
            return rn_err_errno(e, name, "cannot map");
        c->base_ = m;
        c->len_ = (size_t)st.st_size;
        c->mapped_ = 1;
    } else {
        if (fd > 0)
            close(fd);
        /* a pipe (or an empty file): read it whole; malloc's alignment (16)
         * covers every element size */
        char *data;
        size_t len;
        int rc = rn_read_file(path, (size_t)1 << 40, &data, &len, e);
        if (rc < 0)
            return rc;
        c->base_ = (unsigned char *)data;
        c->len_ = len;
    }
    int rc = validate(c, e);
    if (rc < 0)
        rn_ckpt_close(c);
    return rc;
}

/* ---- lookups ------------------------------------------------------------- */

static const struct rn_ckpt_entry *find(const struct rn_ckpt *c, const char *name)
{
    size_t lo = 0, hi = c->nent_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct rn_ckpt_entry *t = &c->ent_[c->by_name_[mid]];
        int r = strcmp(name, t->name);
        if (r == 0)
            return t;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t rn_ckpt_count(const struct rn_ckpt *c) { return c->nent_; }

const char *rn_ckpt_name(const struct rn_ckpt *c, size_t i)
{
    return i < c->nent_ ? c->ent_[i].name : NULL;
}

int rn_ckpt_has(const struct rn_ckpt *c, const char *name)
{
    return name && find(c, name) != NULL;
}

int rn_ckpt_get(const struct rn_ckpt *c, const char *name, struct rn_tensor *t,
                struct rn_err *e)
{
    const struct rn_ckpt_entry *ent = name ? find(c, name) : NULL;
    if (!ent) {
        memset(t, 0, sizeof *t);
        return rn_err_set(e, RN_EFORMAT, c->name_, "no tensor '%.200s'", name ? name : "(null)");
    }
    /* a zero-byte tensor still gets a non-NULL pointer (the data start) */
    return rn_tensor_view(t, ent->dtype, ent->rank, ent->dims, (void *)(c->data_ + ent->begin), e);
}

int rn_ckpt_get_checked(const struct rn_ckpt *c, const char *name, int dtype, int rank,
                        const int64_t *dims, struct rn_tensor *t, struct rn_err *e)
{
    int rc = rn_ckpt_get(c, name, t, e);
    if (rc < 0)
        return rc;
    int same = t->dtype == dtype && t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = t->dims[i] == dims[i];
    if (!same) {
        char want[160], got[160];
        rn_shape_format(rank, dims, want, sizeof want);
        rn_shape_format(t->rank, t->dims, got, sizeof got);
        rc = rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%.200s' is %s %s, expected %s %s", name,
                        rn_dtype_name(t->dtype), got, rn_dtype_name(dtype), want);
        memset(t, 0, sizeof *t);
        return rc;
    }
    return RN_OK;
}

int rn_ckpt_read_into(const struct rn_ckpt *c, const char *name, int dtype, int rank,
                      const int64_t *dims, void *dst, struct rn_err *e)
{
    struct rn_tensor t;
    int rc = rn_ckpt_get_checked(c, name, dtype, rank, dims, &t, e);
    if (rc == RN_OK && t.nbytes)
        memcpy(dst, t.data, t.nbytes);
    return rc;
}

const char *rn_ckpt_meta(const struct rn_ckpt *c, const char *key)
{
    size_t lo = 0, hi = key ? c->nmeta_ : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(key, c->meta_key_[mid]);
        if (r == 0)
            return c->meta_val_[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t rn_ckpt_meta_count(const struct rn_ckpt *c) { return c->nmeta_; }

const char *rn_ckpt_meta_key(const struct rn_ckpt *c, size_t i)
{
    return i < c->nmeta_ ? c->meta_key_[i] : NULL;
}

int rn_ckpt_meta_int(const struct rn_ckpt *c, const char *key, int64_t *v, struct rn_err *e)
{
    const char *s = rn_ckpt_meta(c, key);
    if (!s)
        return rn_err_set(e, RN_EFORMAT, c->name_, "no metadata '%.200s'", key);
    const char *p = s + (*s == '-');
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*p < '0' || *p > '9' || *end || errno == ERANGE)
        return rn_err_set(e, RN_EFORMAT, c->name_, "metadata '%.200s' = '%.60s' is not an integer",
                          key, s);
    *v = x;
    return RN_OK;
}

/* ---- conventions --------------------------------------------------------- */

int rn_ckpt_optim_name(char *buf, size_t size, char which, const char *param,
                       struct rn_err *e)
{
    const char *prefix = which == 'm' ? RN_CKPT_OPTIM_M_PREFIX
                         : which == 'v' ? RN_CKPT_OPTIM_V_PREFIX : NULL;
    if (!prefix)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "optimizer state '%c' is neither m nor v",
                          which);
    int n = snprintf(buf, size, "%s%s", prefix, param);
    if (n < 0 || (size_t)n >= size)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "optimizer tensor name too long for '%.60s'",
                          param);
    return RN_OK;
}

static int rng_name(char *buf, size_t size, const char *name, struct rn_err *e)
{
    int n = snprintf(buf, size, "%s%s", RN_CKPT_RNG_PREFIX, name);
    if (n < 0 || (size_t)n >= size)
        return rn_err_set(e, RN_EUSAGE, "checkpoint", "rng name too long: '%.60s'", name);
    return RN_OK;
}

int rn_ckpt_writer_add_rng(struct rn_ckpt_writer *w, const char *name,
                           const struct rn_rng *g, struct rn_err *e)
{
    char full[NAME_MAX_BYTES + 1];
    int rc = rng_name(full, sizeof full, name, e);
    if (rc < 0)
        return rc;
    struct rn_tensor t;
    int64_t dims[1] = {4};
    rc = rn_tensor_view(&t, RN_DTYPE_U64, 1, dims, (void *)g->s, e);
    if (rc < 0)
        return rc;
    return rn_ckpt_writer_add_copy(w, full, &t, e);
}

int rn_ckpt_get_rng(const struct rn_ckpt *c, const char *name, struct rn_rng *g,
                    struct rn_err *e)
{
    char full[NAME_MAX_BYTES + 1];
    int rc = rng_name(full, sizeof full, name, e);
    if (rc < 0)
        return rc;
    int64_t dims[1] = {4};
    struct rn_rng tmp;
    rc = rn_ckpt_read_into(c, full, RN_DTYPE_U64, 1, dims, tmp.s, e);
    if (rc < 0)
        return rc;
    if ((tmp.s[0] | tmp.s[1] | tmp.s[2] | tmp.s[3]) == 0)
        return rn_err_set(e, RN_EFORMAT, c->name_, "tensor '%s' holds the all-zero rng state", full);
    *g = tmp;
    return RN_OK;
}

int rn_ckpt_check_format(const struct rn_ckpt *c, struct rn_err *e)
{
    const char *f = rn_ckpt_meta(c, RN_CKPT_META_FORMAT);
    if (!f)
        return rn_err_set(e, RN_EFORMAT, c->name_,
                          "not a runnel checkpoint: no \"format\" metadata (a plain safetensors "
                          "file?)");
    if (strcmp(f, RN_CKPT_FORMAT_NAME) != 0)
        return rn_err_set(e, RN_EFORMAT, c->name_, "not a runnel checkpoint: format is '%.80s'", f);
    int64_t v;
    struct rn_err ve = {0};
    if (rn_ckpt_meta_int(c, RN_CKPT_META_FORMAT_VERSION, &v, &ve) < 0)
        return rn_err_set(e, RN_EFORMAT, c->name_, "%s", ve.msg);
    if (v < 1 || v > RN_CKPT_FORMAT_VERSION)
        return rn_err_set(e, RN_EUNSUPPORTED, c->name_,
                          "checkpoint format version %" PRId64 " (this runnel reads 1 to %d)", v,
                          RN_CKPT_FORMAT_VERSION);
    return RN_OK;
}
