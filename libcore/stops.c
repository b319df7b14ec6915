/* stops — see stops.h. */
#include "stops.h"

#include <string.h>

long rn_stop_find(const char *text, size_t n, size_t before, const char *const *stop, int nstop)
{
    for (int i = 0; i < nstop; i++) {
        size_t L = strlen(stop[i]);
        size_t from = before >= L ? before - L + 1 : 0;
        for (size_t p = from; p + L <= n; p++)
            if (memcmp(text + p, stop[i], L) == 0)
                return (long)p;
    }
    return -1;
}
