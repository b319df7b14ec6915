/* npy — NumPy .npy files (format versions 1.0, 2.0 and 3.0) to and from
 * tensors.
 *
 * Reading accepts little- and big-endian data (big-endian is swapped on
 * load) and C order only; Fortran order (unless it lays out the same bytes,
 * e.g. rank 1), bool, object and structured dtypes are refused with a clear
 * message, and the data must be exactly the size the header gives (a
 * truncated file or trailing bytes are errors). Writing produces version
 * 1.0 (a rank-8 header is far below its 64 KiB limit), little-endian, C
 * order, data 64-byte aligned. bf16 has no NumPy dtype and is refused.
 *
 *     struct rn_tensor t;
 *     if (rn_npy_read("x.npy", &t, &e) < 0) ...   // t owns its data
 *     rn_npy_write("y.npy", &t, &e);              // atomic (temp + rename)
 */
#ifndef RN_NPY_H
#define RN_NPY_H

#include <stddef.h>

#include "err.h"
#include "tensor.h"

/* Read path ("-": stdin) into a new owned tensor. */
int rn_npy_read(const char *path, struct rn_tensor *t, struct rn_err *e);
/* Parse an in-memory .npy image (copies the data). name is for messages. */
int rn_npy_parse(const void *data, size_t len, const char *name, struct rn_tensor *t,
                 struct rn_err *e);
/* Write t to path ("-": stdout) through a temporary file. */
int rn_npy_write(const char *path, const struct rn_tensor *t, struct rn_err *e);

#endif
