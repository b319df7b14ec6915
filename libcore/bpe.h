/* bpe — byte-level BPE tokenizer: GPT-2's (exactly, as tiktoken's `gpt2`
 * encoding) or one trained here; the pre-tokenizer, encoding, decoding,
 * vocabulary files and training. Used by tokenize, train, generate, serve.
 *
 * Token ids and merge ranks are the same numbers (as in tiktoken): ids
 * 0..n_base-1 are BPE tokens, a lower id merges first; ids n_base.. are
 * special tokens ("<|endoftext|>", "<|story|>", "</|story|>", then
 * user-added ones), which BPE never produces from ordinary text.
 *
 *     struct rn_bpe b;
 *     struct rn_bpe_ids ids = {0};
 *     struct rn_bpe_bytes text = {0};
 *     if (rn_bpe_load(&b, "gpt2.tiktoken", &e) < 0) rn_die(&e);
 *     rn_bpe_encode(&b, "Hello world", 11, 0, &ids, &e);   // 15496 995
 *     rn_bpe_decode(&b, ids.v, ids.n, &text, &e);          // "Hello world"
 *     rn_bpe_ids_free(&ids); rn_bpe_bytes_free(&text); rn_bpe_free(&b);
 *
 * Ownership: a struct rn_bpe owns all its tables; encoding and decoding
 * only read it, so one loaded tokenizer may serve many threads at once.
 * Output buffers (rn_bpe_ids, rn_bpe_bytes) are caller-owned, grow as
 * needed, and are appended to, never cleared.
 */
#ifndef RN_BPE_H
#define RN_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RN_BPE_EOT "<|endoftext|>"
#define RN_BPE_STORY "<|story|>"
#define RN_BPE_STORY_END "</|story|>"
/* Largest vocabulary (BPE plus special tokens) this module accepts. */
#define RN_BPE_VOCAB_MAX (1 << 20)
/* Longest special token, in bytes. */
#define RN_BPE_SPECIAL_MAX 256

/* ---- growable outputs ------------------------------------------------ */

struct rn_bpe_ids {
    int32_t *v;
    size_t n, cap;
};
struct rn_bpe_bytes {
    unsigned char *v;
    size_t n, cap;
};
int rn_bpe_ids_push(struct rn_bpe_ids *ids, int32_t id, struct rn_err *e);
void rn_bpe_ids_free(struct rn_bpe_ids *ids);
int rn_bpe_bytes_append(struct rn_bpe_bytes *b, const void *p, size_t n, struct rn_err *e);
void rn_bpe_bytes_free(struct rn_bpe_bytes *b);

/* ---- pre-tokenizer (bpe_pretok.c) ------------------------------------ */

/* GPT-2's split pattern, as tiktoken writes it; documentation and tests. */
#define RN_PRETOK_GPT2_PATTERN \
    "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* End (exclusive byte offset) of the piece that starts at pos < len, as
 * GPT-2's pattern splits it (leftmost-first alternation, Unicode letters,
 * numbers and White_Space from utf8proc). Bytes that are not well-formed
 * UTF-8 are taken one by one as characters that are neither letters,
 * numbers nor space (as Python's surrogateescape would give). */
size_t rn_pretok_next(const unsigned char *s, size_t len, size_t pos);

/* A byte offset >= min(target, len) where text can be cut into two parts
 * that pre-tokenize exactly as the whole would: a pattern match always ends
 * there. Returns len when there is no such place after target. */
size_t rn_pretok_cut(const unsigned char *s, size_t len, size_t target);

/* ---- the tokenizer (bpe_vocab.c) ------------------------------------- */

struct rn_bpe_map;   /* private hash tables */

struct rn_bpe {
    int32_t n_base;             /* BPE tokens: ids 0..n_base-1 */
    int32_t n_vocab;            /* n_base + special tokens */
    uint32_t *tok_off;          /* (n_vocab + 1) offsets into bytes */
    unsigned char *bytes;       /* all tokens' bytes, specials included */
    int32_t byte_tok[256];      /* id of the one-byte token for each byte */
    char name[64];              /* "gpt2", "runnel-bpe", ...: for metadata */
    uint64_t fingerprint;       /* FNV-1a 64 of the whole vocabulary */
    struct rn_bpe_map *map;     /* private: bytes -> id, (id, id) -> id */
    size_t bytes_cap;           /* private */
    int32_t cap;                /* private */
};

/* An empty tokenizer (no tokens); rn_bpe_free releases any. */
void rn_bpe_init(struct rn_bpe *b);
void rn_bpe_free(struct rn_bpe *b);

/* Build a tokenizer from its BPE tokens: tok[i] (len[i] bytes) has id and
 * rank i. Every byte must be one of the tokens and no token may repeat.
 * Copies the data. b is initialized first (free a previous one before);
 * on error it is left empty. */
int rn_bpe_build(struct rn_bpe *b, int32_t n, const unsigned char *const *tok,
                 const uint32_t *len, const char *name, struct rn_err *e);
/* Append a special token with the next id; returns the id (>= 0), or a
 * negative status (empty, longer than RN_BPE_SPECIAL_MAX, vocabulary
 * full). A text that is already a special token returns its id. */
int32_t rn_bpe_add_special(struct rn_bpe *b, const char *text, struct rn_err *e);
/* The three built-in special tokens, each added unless already there. */
int rn_bpe_add_builtin_specials(struct rn_bpe *b, struct rn_err *e);
/* Id of a special token's text, or -1. */
int32_t rn_bpe_special_id(const struct rn_bpe *b, const char *text, size_t len);
/* Id of the token with exactly these bytes (BPE tokens only), or -1. */
int32_t rn_bpe_token_id(const struct rn_bpe *b, const void *p, size_t len);
/* Bytes of token id (borrowed from b); NULL if id is out of range. */
const unsigned char *rn_bpe_token(const struct rn_bpe *b, int32_t id, size_t *len);
/* "0123456789abcdef": the fingerprint as 16 hex digits into buf[17]. */
char *rn_bpe_fingerprint_hex(const struct rn_bpe *b, char buf[17]);
/* Recompute b->fingerprint (done by build, add_special and the loaders). */
void rn_bpe_update_fingerprint(struct rn_bpe *b);

/* ---- encoding and decoding (bpe_encode.c) ---------------------------- */

enum rn_bpe_flags {
    RN_BPE_ALLOW_SPECIAL = 1,   /* special tokens' text in input becomes their id */
};

/* Append the ids of text (len bytes, any bytes) to out. Never fails on
 * content; fails only for memory (RN_ENOMEM). */
int rn_bpe_encode(const struct rn_bpe *b, const void *text, size_t len, int flags,
                  struct rn_bpe_ids *out, struct rn_err *e);
/* BPE of one pre-tokenized piece (no splitting, no specials). */
int rn_bpe_encode_piece(const struct rn_bpe *b, const unsigned char *p, size_t len,
                        struct rn_bpe_ids *out, struct rn_err *e);
/* The same by the plain quadratic algorithm, byte strings looked up
 * directly (tiktoken's byte_pair_merge); the reference for tests. */
int rn_bpe_encode_piece_ref(const struct rn_bpe *b, const unsigned char *p, size_t len,
                            struct rn_bpe_ids *out, struct rn_err *e);
/* Append the bytes of ids to out; an id outside 0..n_vocab-1 is
 * RN_EFORMAT naming its position. */
int rn_bpe_decode(const struct rn_bpe *b, const int32_t *ids, size_t n,
                  struct rn_bpe_bytes *out, struct rn_err *e);

/* Encode many documents on nthreads threads (<= 1: the calling thread);
 * out[i] receives the ids of doc[i] (appended). Large documents are cut
 * with rn_pretok_cut so that one long text also uses every thread; the
 * result is identical to encoding each document alone. */
int rn_bpe_encode_batch(const struct rn_bpe *b, size_t ndocs, const unsigned char *const *doc,
                        const size_t *len, int flags, int nthreads, struct rn_bpe_ids *out,
                        struct rn_err *e);

/* ---- files (bpe_load.c) ---------------------------------------------- */

/* Load a tokenizer: a runnel tokenizer file (JSON, see runnel-tokenizer(5)),
 * a tiktoken ranks file ("base64 rank" lines), or a directory holding
 * GPT-2's encoder.json and vocab.bpe. Adds the built-in special tokens
 * that are missing. On error b is left empty (safe to free). */
int rn_bpe_load(struct rn_bpe *b, const char *path, struct rn_err *e);
int rn_bpe_load_tiktoken(struct rn_bpe *b, const char *path, struct rn_err *e);
int rn_bpe_load_gpt2_dir(struct rn_bpe *b, const char *dir, struct rn_err *e);
int rn_bpe_load_json(struct rn_bpe *b, const char *path, struct rn_err *e);
/* Parse a runnel tokenizer file from memory; where names it in messages. */
int rn_bpe_parse_json(struct rn_bpe *b, const char *text, size_t len, const char *where,
                      struct rn_err *e);
/* The runnel tokenizer file of b as JSON text (malloc'd, NUL-terminated,
 * the caller frees). extra (may be NULL) is a JSON object text stored
 * under "training". */
int rn_bpe_to_json(const struct rn_bpe *b, const char *extra, char **out, size_t *len,
                   struct rn_err *e);

/* ---- documents and records (bpe_docs.c) ------------------------------ */

struct rn_record;

enum rn_bpe_split {
    RN_BPE_SPLIT_FILE = 0,        /* the whole text is one document */
    RN_BPE_SPLIT_BLANK_LINE = 1,  /* documents end after their trailing empty lines */
    RN_BPE_SPLIT_LINE = 2,        /* each line, with its newline */
};

/* End of the document that starts at pos (how: enum rn_bpe_split). Every
 * byte belongs to one document, so the documents put together are the
 * text. Returns len when pos >= len. */
size_t rn_bpe_next_doc(const unsigned char *s, size_t len, size_t pos, int how);
/* Metadata of a tokens record made with b: {"tokenizer", "vocab_size",
 * "fingerprint", "source" (omitted when NULL), "doc"}; *meta is malloc'd
 * JSON, the caller frees it. */
int rn_bpe_record_meta(const struct rn_bpe *b, const char *source, uint64_t doc, char **meta,
                       struct rn_err *e);
/* Append the ids of a tokens record (any integer dtype) to ids. With b
 * non-NULL, refuses a record whose metadata names another fingerprint and
 * ids outside b's vocabulary. Errors name the record (RN_EFORMAT). */
int rn_bpe_record_ids(const struct rn_bpe *b, const struct rn_record *rec, struct rn_bpe_ids *ids,
                      struct rn_err *e);
/* Append the decimal ids of one line of text (len bytes, no newline,
 * separated by spaces or tabs) to ids; RN_EFORMAT quotes a bad word. */
int rn_bpe_parse_ids(const char *s, size_t len, struct rn_bpe_ids *ids, struct rn_err *e);

/* ---- training (bpe_train.c) ------------------------------------------ */

struct rn_bpe_trainer;

struct rn_bpe_train_stats {
    uint64_t bytes;        /* corpus bytes fed */
    uint64_t pieces;       /* pre-tokenized pieces */
    uint64_t words;        /* distinct pieces */
    int32_t merges;        /* merges learned */
};

/* Progress callback: merges done of total, count of the last merge. */
typedef void (*rn_bpe_progress_fn)(void *ud, int32_t done, int32_t total, int64_t count);

/* nthreads: threads for counting pieces (<= 1: one). Returns NULL on
 * allocation failure (e filled). */
struct rn_bpe_trainer *rn_bpe_trainer_new(int nthreads, struct rn_err *e);
void rn_bpe_trainer_free(struct rn_bpe_trainer *t);
/* Pre-tokenize text and count its pieces (the text is not kept). */
int rn_bpe_trainer_feed(struct rn_bpe_trainer *t, const void *text, size_t len,
                        struct rn_err *e);
/* Learn up to n_merges merges (fewer when no pair occurs twice) and build
 * b from them: ids 0..255 are the bytes, then one id per merge. Pairs are
 * chosen by count, ties by lower (left id, right id): deterministic, and
 * independent of nthreads. b gets no special tokens. */
int rn_bpe_trainer_run(struct rn_bpe_trainer *t, int32_t n_merges, rn_bpe_progress_fn fn,
                       void *ud, struct rn_bpe *b, struct rn_err *e);
void rn_bpe_trainer_stats(const struct rn_bpe_trainer *t, struct rn_bpe_train_stats *s);

#endif
