/* rng — seeded, reproducible random numbers (xoshiro256**, seeded through
 * splitmix64). The whole state is the four words of struct rn_rng, so it
 * can be saved in a checkpoint and restored bit for bit. Same seed, same
 * sequence, on every machine.
 *
 *     struct rn_rng g;
 *     rn_rng_seed(&g, 1337);
 *     float x = rn_rng_normal(&g) * 0.02f;
 */
#ifndef RN_RNG_H
#define RN_RNG_H

#include <stdint.h>

struct rn_rng {
    uint64_t s[4];
};

void rn_rng_seed(struct rn_rng *g, uint64_t seed);
uint64_t rn_rng_u64(struct rn_rng *g);
/* Uniform in [0, 1): 53 random bits (double) or 24 (float). */
double rn_rng_uniform(struct rn_rng *g);
float rn_rng_uniformf(struct rn_rng *g);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t rn_rng_below(struct rn_rng *g, uint64_t n);
/* Standard normal (Box-Muller; two uniforms per call, no hidden cache). */
double rn_rng_normal(struct rn_rng *g);
/* Advance by 2^128 steps: gives non-overlapping streams for threads. */
void rn_rng_jump(struct rn_rng *g);

#endif
