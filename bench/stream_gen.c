/* stream_gen — benchmark helper: writes COUNT f32 tensor records of BYTES
 * payload bytes each (a rank-1 tensor of BYTES/4 floats) to stdout as a
 * runnel stream (runnel-stream(5)), END record included. Not installed; built
 * by `make build/bench/stream_gen` for bench/stream.sh.
 *
 *     stream_gen COUNT BYTES > data.rnl
 *
 * One payload buffer is filled once and written COUNT times, so the cost
 * measured is the writer's (CRC-32C, headers, write(2)), not the data's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnel.h"

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t count, bytes;
    if (argc != 3 || parse_u64(argv[1], &count) < 0 || parse_u64(argv[2], &bytes) < 0 ||
        bytes == 0 || bytes % 4 || bytes > ((uint64_t)1 << 34)) {
        fprintf(stderr, "usage: stream_gen COUNT BYTES (BYTES a positive multiple of 4, "
                        "at most 16 GiB)\n");
        return 2;
    }
    size_t n = (size_t)(bytes / 4);
    float *x = malloc((size_t)bytes);   /* (n,) */
    if (!x) {
        fprintf(stderr, "stream_gen: cannot allocate %" PRIu64 " bytes\n", bytes);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 1000) * 0.001f;

    struct rn_err e = {0};
    struct rn_stream_writer w;
    if (rn_stream_writer_open_fd(&w, 1, "stdout", &e) < 0)
        goto fail;
    int64_t dims[1] = {(int64_t)n};
    for (uint64_t r = 0; r < count; r++) {
        char meta[64];
        snprintf(meta, sizeof meta, "{\"i\":%" PRIu64 "}", r);
        if (rn_stream_write(&w, RN_KIND_TENSOR, RN_DTYPE_F32, 1, dims, meta, x, bytes, &e) < 0) {
            rn_stream_writer_abort(&w);
            goto fail;
        }
    }
    if (rn_stream_writer_close(&w, &e) < 0)
        goto fail;
    free(x);
    return 0;
fail:
    fprintf(stderr, "stream_gen: %s%s%s\n", e.where, e.where[0] ? ": " : "", e.msg);
    free(x);
    return 1;
}
