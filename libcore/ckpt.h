/* ckpt — checkpoints as safetensors files: named tensors plus string
 * metadata, readable by Python's `safetensors` package (runnel-checkpoint(5)).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (padded with spaces to a multiple of 8), then the tensor data. The header
 * maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the start of the data) and may hold "__metadata__",
 * an object of string -> string.
 *
 * Writing: collect tensors and metadata in a writer, then write it all at
 * once through a temporary file that is fsync'd, renamed over the target
 * and whose directory is fsync'd, so a kill -9 at any moment leaves either
 * the previous checkpoint or the new one under the final name.
 *
 *     struct rn_ckpt_writer w;
 *     rn_ckpt_writer_init(&w);
 *     rn_ckpt_writer_add(&w, "tok_emb.weight", &emb, &e);   // borrows emb.data
 *     rn_ckpt_writer_set_meta(&w, RN_CKPT_META_CONFIG, json, &e);
 *     rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, step, &e);
 *     rc = rn_ckpt_writer_write(&w, "model.ckpt", &e);
 *     rn_ckpt_writer_free(&w);
 *
 * Reading: the file is mapped and its header validated completely (JSON,
 * dtypes, shapes, offsets: in range, contiguous, no overlap, no hole,
 * aligned to the element size) before anything is handed out.
 *
 *     struct rn_ckpt c;
 *     if (rn_ckpt_open(&c, "model.ckpt", &e) < 0) ...
 *     struct rn_tensor w;
 *     if (rn_ckpt_get(&c, "tok_emb.weight", &w, &e) < 0) ...   // borrowed view
 *     const char *cfg = rn_ckpt_meta(&c, RN_CKPT_META_CONFIG); // NULL if absent
 *     rn_ckpt_close(&c);                     // every view dies here
 *
 * Ownership: the writer borrows what rn_ckpt_writer_add is given (until
 * the write returns) and copies what rn_ckpt_writer_add_copy and the
 * metadata setters are given. Everything a reader hands out is borrowed
 * from the struct rn_ckpt and valid until rn_ckpt_close.
 */
#ifndef RN_CKPT_H
#define RN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"
#include "tensor.h"

/* Largest header accepted: the limit of the reference implementation. */
#define RN_CKPT_HEADER_MAX 100000000u
/* Most JSON values in a header (about 8 per tensor): bounds the parser's
 * memory at ~100 MB for a hostile header; real checkpoints stay far below. */
#define RN_CKPT_JSON_ITEMS_MAX (1u << 21)

/* The __metadata__ keys runnel writes (runnel-checkpoint(5)). */
#define RN_CKPT_META_FORMAT "format"             /* "runnel-checkpoint" */
#define RN_CKPT_META_FORMAT_VERSION "format_version" /* "1" */
#define RN_CKPT_META_CONFIG "config"             /* the effective config, one JSON object */
#define RN_CKPT_META_STEP "step"                 /* optimizer steps done, decimal */
#define RN_CKPT_META_TOKENIZER "tokenizer"       /* tokenizer name and fingerprint */
#define RN_CKPT_META_TOKENIZER_PATH "tokenizer_path" /* path as given to train */
#define RN_CKPT_META_TOKENIZER_JSON "tokenizer_json" /* the whole tokenizer file (optional) */
#define RN_CKPT_META_CREATED_BY "created_by"     /* "runnel 0.1.0 train" */
#define RN_CKPT_FORMAT_NAME "runnel-checkpoint"
#define RN_CKPT_FORMAT_VERSION 1

/* Reserved tensor-name prefixes: model parameters never start with them. */
#define RN_CKPT_OPTIM_M_PREFIX "optim.m." /* AdamW first moment of a parameter */
#define RN_CKPT_OPTIM_V_PREFIX "optim.v." /* AdamW second moment */
#define RN_CKPT_RNG_PREFIX "rng."         /* an rn_rng state: U64 [4] */

/* ---- writing ------------------------------------------------------------- */

struct rn_ckpt_wtensor;   /* private */

struct rn_ckpt_writer {
    /* private: tensors and metadata in the order they were added */
    struct rn_ckpt_wtensor *t_;
    size_t nt_, capt_;
    char **meta_key_, **meta_val_;
    size_t nmeta_, capmeta_;
};

void rn_ckpt_writer_init(struct rn_ckpt_writer *w);
/* Release everything the writer copied; borrowed data is left alone.
 * NULL is a no-op. */
void rn_ckpt_writer_free(struct rn_ckpt_writer *w);

/* Add tensor t under name, borrowing t->data: it must stay valid and
 * unchanged until rn_ckpt_writer_write returns. Names are non-empty UTF-8
 * without NUL, at most 1024 bytes, unique, and not "__metadata__"; the
 * dtype must be one of tensor.h's. Returns RN_EUSAGE on a bad name or
 * dtype, RN_ENOMEM. */
int rn_ckpt_writer_add(struct rn_ckpt_writer *w, const char *name, const struct rn_tensor *t,
                       struct rn_err *e);
/* Same, copying the data now (for small state that changes afterwards). */
int rn_ckpt_writer_add_copy(struct rn_ckpt_writer *w, const char *name,
                            const struct rn_tensor *t, struct rn_err *e);
/* Set metadata key to value (both copied, UTF-8; value may be empty);
 * setting a key again replaces its value. */
int rn_ckpt_writer_set_meta(struct rn_ckpt_writer *w, const char *key, const char *value,
                            struct rn_err *e);
int rn_ckpt_writer_set_meta_int(struct rn_ckpt_writer *w, const char *key, int64_t value,
                                struct rn_err *e);

/* Write everything to path ("-": stdout, not atomic) as one safetensors
 * file: tensors ordered by element size (largest first), then by name, so
 * every tensor is aligned to its element size; metadata keys sorted. The
 * output appears under path only complete and synced; on any error
 * (including a full disk) the previous file at path is untouched and the
 * temporary file is removed. The writer can be written again or freed. */
int rn_ckpt_writer_write(struct rn_ckpt_writer *w, const char *path, struct rn_err *e);
/* The same bytes into a malloc'd buffer the caller frees (tests, servers). */
int rn_ckpt_writer_serialize(struct rn_ckpt_writer *w, void **buf, size_t *len,
                             struct rn_err *e);

/* ---- reading ------------------------------------------------------------- */

struct rn_ckpt_entry;     /* private */

struct rn_ckpt {
    /* private */
    unsigned char *base_;      /* whole file: mapped or malloc'd */
    size_t len_;
    int mapped_;               /* 1: munmap base_; 0: free it (unless borrowed_) */
    int borrowed_;             /* rn_ckpt_open_mem: the caller owns base_ */
    const unsigned char *data_; /* start of the data section */
    struct rn_ckpt_entry *ent_; /* by file offset */
    size_t *by_name_;           /* indexes into ent_, sorted by name */
    size_t nent_;
    char **meta_key_, **meta_val_; /* sorted by key */
    size_t nmeta_;
    char *names_;              /* storage for names, keys and values */
    char name_[RN_ERR_WHERE_MAX];
};

/* Map path ("-" or a pipe: read into memory) and validate it. On error c
 * is left closed (safe to close again). The mapping is private and
 * writable: writing through a view changes this process's copy only. */
int rn_ckpt_open(struct rn_ckpt *c, const char *path, struct rn_err *e);
/* Validate an in-memory file of len bytes, borrowing buf (it must outlive
 * c and be aligned to 8 bytes). name is for messages. */
int rn_ckpt_open_mem(struct rn_ckpt *c, const void *buf, size_t len, const char *name,
                     struct rn_err *e);
/* Release c; every view and string it handed out dies. NULL is a no-op. */
void rn_ckpt_close(struct rn_ckpt *c);

/* Number of tensors, and the name of tensor i (0 <= i < count) in file
 * order (by data offset); NULL when i is out of range. */
size_t rn_ckpt_count(const struct rn_ckpt *c);
const char *rn_ckpt_name(const struct rn_ckpt *c, size_t i);
/* 1 if a tensor of that name exists. */
int rn_ckpt_has(const struct rn_ckpt *c, const char *name);

/* Borrowed view of tensor name (t->owned = 0; its data is aligned to the
 * element size, not to RN_ALIGN). RN_EFORMAT "no tensor 'x'" if absent. */
int rn_ckpt_get(const struct rn_ckpt *c, const char *name, struct rn_tensor *t,
                struct rn_err *e);
/* Same, and refuse (RN_EFORMAT, naming the tensor and both shapes) unless
 * the tensor has exactly this dtype and shape: the usual way to load a
 * parameter whose shape the config dictates. */
int rn_ckpt_get_checked(const struct rn_ckpt *c, const char *name, int dtype, int rank,
                        const int64_t *dims, struct rn_tensor *t, struct rn_err *e);
/* Copy tensor name into dst, which holds exactly the given dtype and shape. */
int rn_ckpt_read_into(const struct rn_ckpt *c, const char *name, int dtype, int rank,
                      const int64_t *dims, void *dst, struct rn_err *e);

/* Metadata value of key, or NULL if absent (borrowed). */
const char *rn_ckpt_meta(const struct rn_ckpt *c, const char *key);
/* Number of metadata entries and key i (sorted); NULL when out of range. */
size_t rn_ckpt_meta_count(const struct rn_ckpt *c);
const char *rn_ckpt_meta_key(const struct rn_ckpt *c, size_t i);
/* Parse metadata key as a decimal int64 (no sign but '-', no spaces).
 * RN_EFORMAT naming the key when it is absent or not a number. */
int rn_ckpt_meta_int(const struct rn_ckpt *c, const char *key, int64_t *v, struct rn_err *e);

/* ---- conventions (runnel-checkpoint(5)) ----------------------------------- */

/* "optim.m.<param>" (which = 'm') or "optim.v.<param>" (which = 'v') into
 * buf; RN_EUSAGE if it does not fit or which is neither. */
int rn_ckpt_optim_name(char *buf, size_t size, char which, const char *param,
                       struct rn_err *e);
/* Save g's state as tensor "rng.<name>" (U64 [4], copied), and load it
 * back; loading checks dtype and shape and refuses the all-zero state that
 * xoshiro256** can never leave. */
int rn_ckpt_writer_add_rng(struct rn_ckpt_writer *w, const char *name,
                           const struct rn_rng *g, struct rn_err *e);
int rn_ckpt_get_rng(const struct rn_ckpt *c, const char *name, struct rn_rng *g,
                    struct rn_err *e);
/* Refuse (RN_EFORMAT) a file without "format" = "runnel-checkpoint"
 * metadata, naming what it is instead, and (RN_EUNSUPPORTED) one whose
 * "format_version" is not an integer in 1..RN_CKPT_FORMAT_VERSION: what
 * generate and serve call before trusting the conventions below. */
int rn_ckpt_check_format(const struct rn_ckpt *c, struct rn_err *e);
/* Set "format", "format_version" and "created_by" (prog: "train"). */
int rn_ckpt_writer_set_identity(struct rn_ckpt_writer *w, const char *prog, struct rn_err *e);

/* safetensors' dtype spelling ("F32", "BF16", ...) of a tensor.h dtype, or
 * NULL; and the inverse (RN_DTYPE_INVALID for names runnel cannot hold,
 * such as "BOOL" or "F8_E4M3"). */
const char *rn_ckpt_dtype_name(int dtype);
int rn_ckpt_dtype_from_name(const char *name);

#endif
