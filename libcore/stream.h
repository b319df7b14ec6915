/* stream — the runnel record stream: one typed binary format between tools.
 *
 * Byte layout (all integers little-endian; full text in runnel-stream(5)):
 *
 *   record  = header(128) meta pad64 payload pad64
 *   header  = 0  magic "RNNL"          4  u16 version (1)
 *             6  u16 header size (128) 8  u8 kind   9 u8 dtype
 *             10 u8 rank (0..8)        11 u8 flags (0)
 *             12 u32 meta length       16 u64 dims[8] (unused = 0)
 *             80 u64 payload length    88 u32 CRC-32C of meta then payload
 *             92 u8 reserved[32] (0)   124 u32 CRC-32C of header bytes 0..123
 *
 * meta is a UTF-8 JSON object (0..RN_META_MAX bytes; 0 bytes means {}).
 * meta and payload are each zero-padded to a multiple of 64 bytes, so every
 * record is a multiple of 64 bytes long, every payload starts 64-byte
 * aligned relative to the stream start, and `cat a b` of two streams is a
 * stream. A stream ends with an END record whose meta counts the records
 * before it ({"records": N}), so a consumer can tell a whole stream from a
 * cut one.
 *
 * Writing:
 *     struct rn_stream_writer w;
 *     rn_stream_writer_open(&w, "-", &e);            // stdout
 *     rn_stream_write(&w, RN_KIND_TENSOR, RN_DTYPE_F32, 2, dims, "{}", x, n, &e);
 *     rn_stream_writer_close(&w, &e);                // END record, flush, check
 *
 * Reading (bounded memory: one record at a time):
 *     struct rn_stream_reader r;
 *     struct rn_record rec = {0};
 *     rn_stream_reader_open(&r, path, 0, &e);
 *     while ((rc = rn_stream_read(&r, &rec, 0, &e)) == RN_OK) { ... }
 *     // rc == RN_EOF at the clean end of input, < 0 on error
 *     rn_record_free(&rec);
 *     rn_stream_reader_close(&r);
 *
 * Nothing here trusts the input: every length is checked against the
 * reader's limits and for overflow before anything is allocated, and a
 * payload is allocated as it arrives, so a lying length in a short stream
 * never costs more memory than the bytes that were really there.
 */
#ifndef RN_STREAM_H
#define RN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"
#include "tensor.h"

#define RN_STREAM_MAGIC "RNNL"
#define RN_STREAM_VERSION 1
#define RN_HEADER_SIZE 128
#define RN_PAD 64
#define RN_META_MAX (64 * 1024)
/* Default largest payload a reader accepts (16 GiB); see reader limits. */
#define RN_PAYLOAD_MAX_DEFAULT ((uint64_t)16 << 30)

/* Values are part of the format: never renumber. END records carry dtype
 * RN_DTYPE_INVALID (0, "none"); every other kind needs a real dtype. */
enum rn_kind {
    RN_KIND_INVALID = 0,
    RN_KIND_TENSOR = 1,   /* any dtype, any rank */
    RN_KIND_TOKENS = 2,   /* integer dtype, rank 1 (a sequence) or 2 (a batch) */
    RN_KIND_FRAME = 3,    /* u8, rank 3: H x W x C, C in 1..4 */
    RN_KIND_MASKS = 4,    /* u8, rank 3: N x H x W; meta "instances": [...] */
    RN_KIND_TEXT = 5,     /* u8, rank 1: bytes (normally UTF-8, not checked) */
    RN_KIND_END = 6,      /* rank 0, no payload; meta {"records": N, ...} */
    RN_KIND_COUNT
};

/* "tensor", "tokens", ...; "?" if unknown. */
const char *rn_kind_name(int kind);
/* Inverse of rn_kind_name; RN_KIND_INVALID if unknown. */
int rn_kind_from_name(const char *name);

/* One record. The reader fills it; rn_record_free releases what it owns.
 * meta is always NUL-terminated ("{}" when the record had none). */
struct rn_record {
    int kind;                    /* enum rn_kind */
    int dtype;                   /* enum rn_dtype */
    int rank;
    int64_t dims[RN_MAX_RANK];
    char *meta;                  /* JSON object text, NUL-terminated */
    uint32_t meta_len;           /* bytes stored in the stream; 0: none (meta reads "{}") */
    void *payload;               /* NULL when skipped or empty; 64-byte aligned */
    uint64_t payload_len;
    uint32_t crc;                /* stored CRC-32C of meta+payload */
    int crc_ok;                  /* 1 once verified; 0 when verification was skipped */
    uint64_t index;              /* 0-based position in the input (all inputs of a reader) */
    uint64_t offset;             /* byte offset of the header in its stream */
    /* private: owned buffers (payload may instead point into a mapping) */
    void *payload_buf_;
    size_t meta_cap_, payload_cap_;
};

/* Release the record's buffers and zero it; NULL is a no-op. */
void rn_record_free(struct rn_record *rec);
/* Borrow the payload as a tensor view (no copy). */
int rn_record_tensor(const struct rn_record *rec, struct rn_tensor *t, struct rn_err *e);

/* ---- writer ---------------------------------------------------------- */

struct rn_stream_writer {
    struct rn_outfile out;       /* temp file + rename for named outputs */
    int own_out;                 /* 1: commit/abort out at close */
    const char *name;            /* for messages */
    unsigned char *buf;          /* write buffer */
    size_t buf_len, buf_cap;
    uint64_t records;            /* non-END records written since the last END */
    uint64_t kind_counts[RN_KIND_COUNT];
    uint64_t bytes;              /* bytes written, END record included */
};

/* Open path for writing ("-" or NULL: stdout). A named file is written to a
 * temporary file beside it and renamed into place by close, so readers
 * never see half a file. */
int rn_stream_writer_open(struct rn_stream_writer *w, const char *path, struct rn_err *e);
/* Write to an already open descriptor (not closed at the end). */
int rn_stream_writer_open_fd(struct rn_stream_writer *w, int fd, const char *name,
                             struct rn_err *e);
/* Write one record. meta may be NULL (no metadata) or a JSON object; the
 * writer validates it. payload_len must equal the shape's byte size. */
int rn_stream_write(struct rn_stream_writer *w, int kind, int dtype, int rank,
                    const int64_t *dims, const char *meta, const void *payload,
                    uint64_t payload_len, struct rn_err *e);
/* Write a record read elsewhere, unchanged except for END records, which
 * are not copied (the writer writes its own at close). */
int rn_stream_write_record(struct rn_stream_writer *w, const struct rn_record *rec,
                           struct rn_err *e);
/* Write the END record, flush, fsync+rename a named file, close. On error
 * a temporary file is removed. Always releases w. */
int rn_stream_writer_close(struct rn_stream_writer *w, struct rn_err *e);
/* Abandon: release w, remove a temporary file, write no END record. */
void rn_stream_writer_abort(struct rn_stream_writer *w);

/* ---- reader ---------------------------------------------------------- */

enum rn_read_flags {
    RN_READ_SKIP_PAYLOAD = 1,    /* stream the payload through the CRC, keep nothing */
    RN_READ_NO_VERIFY = 2,       /* do not verify the data CRC (header CRC still checked) */
};

enum rn_open_flags {
    RN_OPEN_MMAP = 1,            /* map regular files; payloads then point into the map */
};

struct rn_stream_reader {
    int fd;                      /* -1 for memory sources */
    int own_fd;
    char *name;                  /* "stdin" or the path, for messages */
    const unsigned char *mem;    /* memory source (a mapping or borrowed bytes) */
    uint64_t mem_len;
    int mapped;                  /* mem is our mmap: unmap at close */
    uint64_t file_size;          /* regular files: their size (0: unknown) */
    unsigned char *buf;          /* read buffer for descriptors */
    size_t buf_pos, buf_len, buf_cap;
    uint64_t offset;             /* bytes consumed so far */
    uint64_t index;              /* records read so far */
    uint64_t since_end;          /* non-END records since the last END */
    uint64_t kind_counts[RN_KIND_COUNT]; /* the same, per kind */
    int after_end;               /* the last record read was an END record */
    uint64_t max_payload;        /* limit, default RN_PAYLOAD_MAX_DEFAULT */
};

/* Open path ("-" or NULL: stdin). flags: enum rn_open_flags. */
int rn_stream_reader_open(struct rn_stream_reader *r, const char *path, int flags,
                          struct rn_err *e);
int rn_stream_reader_open_fd(struct rn_stream_reader *r, int fd, const char *name,
                             struct rn_err *e);
/* Read from memory (borrowed; must outlive the reader). */
int rn_stream_reader_open_mem(struct rn_stream_reader *r, const void *data, size_t len,
                              const char *name, struct rn_err *e);
/* Read the next record into rec, reusing its buffers. Returns RN_OK,
 * RN_EOF at a clean end (the input ended right after an END record, or was
 * empty), or a negative error whose message names the record and what is
 * wrong, e.g. "record 3: truncated payload (got 100 of 4096 bytes)".
 * flags: enum rn_read_flags. With RN_OPEN_MMAP, rec->payload points into
 * the map (valid until the reader closes) and must not be freed by hand. */
int rn_stream_read(struct rn_stream_reader *r, struct rn_record *rec, int flags,
                   struct rn_err *e);
/* Release the reader; NULL is a no-op. */
void rn_stream_reader_close(struct rn_stream_reader *r);

/* ---- helpers --------------------------------------------------------- */

/* Check that meta (len bytes, not necessarily NUL-terminated) is valid
 * UTF-8 holding exactly one JSON object. */
int rn_meta_validate(const char *meta, size_t len, struct rn_err *e);
/* Check kind/dtype/rank/dims agree with each other and with payload_len. */
int rn_record_validate_shape(int kind, int dtype, int rank, const int64_t *dims,
                             uint64_t payload_len, struct rn_err *e);

#endif
