/* libFuzzer target for the image decoders (PNG, JPEG with EXIF, PNM/PAM):
 * any bytes decode to an image or a clean error, never a crash, a leak or
 * a large allocation (run with -malloc_limit_mb). */
#include <stddef.h>
#include <stdint.h>

#include "img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rn_image im = {0};
    struct rn_err e = {0};
    if (rn_image_read_mem(data, size, "fuzz", &im, &e) == RN_OK) {
        /* Touch every pixel so a short buffer would be caught by ASan. */
        volatile unsigned sum = 0;
        size_t n = (size_t)im.w * (size_t)im.h * (size_t)im.c;
        for (size_t i = 0; i < n; i++)
            sum += im.data[i];
        (void)sum;
    }
    rn_image_free(&im);
    return 0;
}
