/* libFuzzer target for the stream reader: any bytes, read from memory and
 * from a descriptor, must give records or a clean error, never a crash, a
 * leak or a large allocation (run with -malloc_limit_mb). Selected records
 * are written back out, exercising the writer's validation too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include "crc32c.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct rn_stream_reader *r, int flags)
{
    struct rn_record rec = {0};
    struct rn_err e = {0};
    struct rn_stream_writer w;
    int devnull = open("/dev/null", O_WRONLY);
    if (rn_stream_writer_open_fd(&w, devnull, "null", &e) == RN_OK) {
        while (rn_stream_read(r, &rec, flags, &e) == RN_OK)
            if (!(flags & RN_READ_SKIP_PAYLOAD))
                rn_stream_write_record(&w, &rec, &e);
        rn_stream_writer_close(&w, &e);
    }
    close(devnull);
    rn_record_free(&rec);
}

/* The fuzzer cannot forge checksums, so a second pass repairs every header
 * CRC and skips data CRCs: that lets mutations reach the checks behind
 * them (shapes, limits, metadata, END counts). */
static void read_repaired(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    for (size_t off = 0; off + RN_HEADER_SIZE <= size; off += RN_PAD)
        if (memcmp(copy + off, RN_STREAM_MAGIC, 4) == 0) {
            uint32_t c = rn_crc32c(0, copy + off, 124);
            memcpy(copy + off + 124, &c, 4);
        }
    struct rn_stream_reader r;
    struct rn_err e = {0};
    if (rn_stream_reader_open_mem(&r, copy, size, "fuzz-repaired", &e) == RN_OK) {
        r.max_payload = 1 << 20;
        drain(&r, RN_READ_NO_VERIFY);
    }
    rn_stream_reader_close(&r);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_repaired(data, size);

    struct rn_stream_reader r;
    struct rn_err e = {0};
    if (rn_stream_reader_open_mem(&r, data, size, "fuzz", &e) == RN_OK) {
        r.max_payload = 1 << 20;
        drain(&r, 0);
    }
    rn_stream_reader_close(&r);

    /* The descriptor path: buffered reads, growing payload buffers. */
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size && lseek(fd, 0, SEEK_SET) == 0 &&
        rn_stream_reader_open_fd(&r, fd, "fuzz-fd", &e) == RN_OK) {
        r.max_payload = 1 << 20;
        drain(&r, size % 2 ? RN_READ_SKIP_PAYLOAD : 0);
    }
    rn_stream_reader_close(&r);
    close(fd);
    return 0;
}
