/* rng — see rng.h. xoshiro256** 1.0 and splitmix64 follow the public-domain
 * reference code of David Blackman and Sebastiano Vigna
 * (https://prng.di.unimi.it/), so streams match other implementations of
 * the same generator given the same four state words. */
#include "rng.h"

#include <math.h>

#include "err.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rn_rng_seed(struct rn_rng *g, uint64_t seed)
{
    /* splitmix64 spreads any seed (0 included) over the state; four
     * consecutive outputs can never all be zero, the one state xoshiro
     * must avoid. */
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
}

uint64_t rn_rng_u64(struct rn_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rn_rng_uniform(struct rn_rng *g)
{
    /* The top bits of xoshiro256** are its best; 53 of them fill a double's
     * significand exactly, so every value is k * 2^-53. */
    return (double)(rn_rng_u64(g) >> 11) * 0x1.0p-53;
}

float rn_rng_uniformf(struct rn_rng *g)
{
    return (float)(rn_rng_u64(g) >> 40) * 0x1.0p-24f;
}

uint64_t rn_rng_below(struct rn_rng *g, uint64_t n)
{
    RN_ASSERT(n > 0);
    /* Lemire, "Fast Random Integer Generation in an Interval" (2019): the
     * high word of x * n is uniform once the low words below 2^64 mod n,
     * the biased remainder, are rejected. */
    unsigned __int128 m = (unsigned __int128)rn_rng_u64(g) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = (0 - n) % n;
        while (lo < threshold) {
            m = (unsigned __int128)rn_rng_u64(g) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rn_rng_normal(struct rn_rng *g)
{
    /* Box-Muller, cosine branch only: the sine half would have to be cached
     * outside s[4], and then a restored state would not replay the same
     * sequence. u1 is in (0, 1] so log never sees 0. */
    double u1 = 1.0 - rn_rng_uniform(g);
    double u2 = rn_rng_uniform(g);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void rn_rng_jump(struct rn_rng *g)
{
    /* The reference jump polynomial: equivalent to 2^128 calls of u64. */
    static const uint64_t jump[4] = {0x180ec6d33cfd0abaull, 0xd5a61266f0c9392cull,
                                     0xa9582618e03fc9aaull, 0x39abdc4529b1661cull};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (1ull << b)) {
                s0 ^= g->s[0];
                s1 ^= g->s[1];
                s2 ^= g->s[2];
                s3 ^= g->s[3];
            }
            rn_rng_u64(g);
        }
    g->s[0] = s0;
    g->s[1] = s1;
    g->s[2] = s2;
    g->s[3] = s3;
}
