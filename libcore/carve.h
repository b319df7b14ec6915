/* carve — hand out slices of one preallocated float buffer, each rounded up
 * to 16 floats (64 bytes) so every slice stays aligned for vector loads.
 * Run once with base == NULL to count the floats needed, allocate, then
 * run again with the buffer to get the pointers:
 *
 *     struct rn_carve cv = {NULL, 0};
 *     lay_out(&cv);                       // calls rn_carve_take(&cv, n) ...
 *     cv.base = rn_aligned_alloc(cv.used * sizeof(float)); cv.used = 0;
 *     lay_out(&cv);                       // ... now returns real pointers
 *
 * Internal to libcore's model code; nothing here allocates.
 */
#ifndef RN_CARVE_H
#define RN_CARVE_H

#include <stddef.h>

#define RN_CARVE_SLICE(n) (((size_t)(n) + 15) & ~(size_t)15)

struct rn_carve {
    float *base;   /* NULL: only count */
    size_t used;   /* floats handed out so far */
};

/* The next n floats (NULL while counting). */
static inline void *rn_carve_take(struct rn_carve *cv, size_t n)
{
    float *p = cv->base ? cv->base + cv->used : NULL;
    cv->used += RN_CARVE_SLICE(n);
    return p;
}

#endif
