/* io — whole reads and writes on descriptors, and outputs that appear
 * atomically.
 *
 * An rn_outfile writes a named file through a temporary file in the same
 * directory, and rn_outfile_commit fsyncs it, renames it into place and
 * fsyncs the directory, so a crash, a kill -9 or a full disk never leaves
 * a half-written output under the final name. "-" (or NULL) means stdout,
 * written directly; so are devices and FIFOs (/dev/null, a named pipe),
 * which a rename would replace. Through a symlink, the file it points to is
 * replaced and the link kept.
 *
 *     struct rn_outfile o;
 *     if (rn_outfile_open(&o, path, &e) < 0) ...
 *     if (rn_outfile_write(&o, buf, n, &e) < 0) { rn_outfile_abort(&o); ... }
 *     if (rn_outfile_commit(&o, &e) < 0) ...   // checks fsync and close
 */
#ifndef RN_IO_H
#define RN_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Write all n bytes, retrying on EINTR and short writes. where names the
 * output in messages. */
int rn_write_full(int fd, const void *buf, size_t n, const char *where, struct rn_err *e);
/* Read up to n bytes, stopping early only at end of input; *got receives
 * the count (< n means end of input). */
int rn_read_full(int fd, void *buf, size_t n, size_t *got, const char *where,
                 struct rn_err *e);
/* Read a whole file ("-": stdin) into a NUL-terminated malloc'd buffer that
 * the caller frees; refuses files larger than max bytes. */
int rn_read_file(const char *path, size_t max, char **data, size_t *len, struct rn_err *e);

/* "stdin"/"stdout" for "-" or NULL, else path. */
const char *rn_io_name(const char *path, int output);

struct rn_outfile {
    int fd;
    char *path;       /* final name; NULL for stdout */
    char *tmp;        /* temporary name while writing; NULL for stdout */
    const char *name; /* for messages: path or "stdout" */
    int special;      /* a device or FIFO, written in place */
};

int rn_outfile_open(struct rn_outfile *o, const char *path, struct rn_err *e);
int rn_outfile_write(struct rn_outfile *o, const void *buf, size_t n, struct rn_err *e);
/* fsync (files only), close and rename. Always releases o; on error the
 * temporary file is removed. For stdout, only checks that writes succeeded. */
int rn_outfile_commit(struct rn_outfile *o, struct rn_err *e);
/* Release o and remove the temporary file; safe after commit or on a zeroed o. */
void rn_outfile_abort(struct rn_outfile *o);

#endif
