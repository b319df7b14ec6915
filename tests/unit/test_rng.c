/* Unit tests for libcore/rng.
 *
 * The known answers below were computed once with an independent Python
 * implementation of splitmix64, xoshiro256**, its jump polynomial,
 * Lemire's bounded draw and Box-Muller (arbitrary-precision integers masked
 * to 64 bits, written from the published reference code, not from rng.c),
 * and pasted here. splitmix64(0)'s first output, 0xe220a8397b1dcdaf, also
 * matches the value widely published for the reference implementation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static void test_seed_known_answers(void **state)
{
    (void)state;
    struct rn_rng g;
    /* seeding is four splitmix64 outputs from the seed */
    rn_rng_seed(&g, 0);
    const uint64_t s0[4] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full,
                            0xf88bb8a8724c81ecull};
    for (int i = 0; i < 4; i++)
        assert_true(g.s[i] == s0[i]);
    rn_rng_seed(&g, 1337);
    const uint64_t s1337[4] = {0xb6a8a9b313caa00bull, 0xcb7f284b67d605c9ull,
                               0x3440fccf54082b5aull, 0x77026dc1feefc262ull};
    for (int i = 0; i < 4; i++)
        assert_true(g.s[i] == s1337[i]);
}

static void test_u64_known_answers(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        uint64_t out[8];
    } cases[] = {
        {0,
         {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull,
          0xbba5ad4a1f842e59ull, 0xffef8375d9ebcacaull, 0x6c160deed2f54c98ull, 0x8920ad648fc30a3full}},
        {1337,
         {0xad0aa0a04f822edcull, 0xd0815851ce885defull, 0xc70b17471e263e43ull, 0xee4d7f13899de194ull,
          0x2de1af701a887873ull, 0xa78d767894da656dull, 0x19749109710ef3b1ull, 0x42b87991c392d553ull}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rn_rng g;
        rn_rng_seed(&g, cases[c].seed);
        for (int i = 0; i < 8; i++) {
            uint64_t x = rn_rng_u64(&g);
            if (x != cases[c].out[i])
                fail_msg("seed %llu draw %d: 0x%016llx, want 0x%016llx",
                         (unsigned long long)cases[c].seed, i, (unsigned long long)x,
                         (unsigned long long)cases[c].out[i]);
        }
    }
}

static void test_uniform_known_answers(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 1337);
    const double want[4] = {0.6759434119590045, 0.8144736480449252, 0.7775129841449137,
                            0.9308700010966429};
    for (int i = 0; i < 4; i++)
        assert_true(rn_rng_uniform(&g) == want[i]); /* exact: k * 2^-53 */
    rn_rng_seed(&g, 1337);
    const uint32_t wantf[4] = {11340448, 13664600, 13044503, 15617407}; /* in units of 2^-24 */
    for (int i = 0; i < 4; i++)
        assert_true(rn_rng_uniformf(&g) == ldexpf((float)wantf[i], -24));
}

static void test_normal_known_answers(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 1337);
    const double want[4] = {0.5916483246479189, 1.572725350798113, -0.35489327418753025,
                            -0.03053789175995745};
    /* log/cos may differ by an ulp between libms; the draws themselves are exact */
    for (int i = 0; i < 4; i++) {
        double x = rn_rng_normal(&g);
        if (fabs(x - want[i]) > 1e-12)
            fail_msg("normal %d: %.17g, want %.17g", i, x, want[i]);
    }
}

static void test_below_known_answers(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 1337);
    const uint64_t n[8] = {1, 2, 3, 10, 1000, (1ull << 63) + 1, UINT64_MAX, 6};
    const uint64_t want[8] = {0, 1, 2, 9, 179, 917125208992086488ull, 4807726269176403282ull, 1};
    for (int i = 0; i < 8; i++) {
        uint64_t x = rn_rng_below(&g, n[i]);
        if (x != want[i])
            fail_msg("below(%llu) #%d: %llu, want %llu", (unsigned long long)n[i], i,
                     (unsigned long long)x, (unsigned long long)want[i]);
    }
}

static void test_jump_known_answers(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 1337);
    rn_rng_jump(&g);
    const uint64_t want[4] = {0x8a58f719aed54015ull, 0xd2eb58900c38a97full, 0x5defb58444c84672ull,
                              0x70a01c1be21a5a90ull};
    for (int i = 0; i < 4; i++)
        assert_true(g.s[i] == want[i]);
    assert_true(rn_rng_u64(&g) == 0xaf48a912fae5aa07ull);
}

static void test_jump_gives_another_stream(void **state)
{
    (void)state;
    struct rn_rng a, b;
    rn_rng_seed(&a, 42);
    rn_rng_seed(&b, 42);
    rn_rng_jump(&b);
    uint64_t xa[64], xb[64];
    for (int i = 0; i < 64; i++) {
        xa[i] = rn_rng_u64(&a);
        xb[i] = rn_rng_u64(&b);
    }
    /* no window of the jumped stream lines up with the original */
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            assert_true(xa[i] != xb[j]);
    /* two jumps are not one jump */
    struct rn_rng c;
    rn_rng_seed(&c, 42);
    rn_rng_jump(&c);
    rn_rng_jump(&c);
    assert_memory_not_equal(c.s, b.s, sizeof c.s);
}

static void test_reproducible(void **state)
{
    (void)state;
    struct rn_rng a, b;
    rn_rng_seed(&a, 7);
    rn_rng_seed(&b, 7);
    for (int i = 0; i < 1000; i++) {
        assert_true(rn_rng_u64(&a) == rn_rng_u64(&b));
        assert_true(rn_rng_uniform(&a) == rn_rng_uniform(&b));
        assert_true(rn_rng_normal(&a) == rn_rng_normal(&b));
        assert_true(rn_rng_below(&a, 12345) == rn_rng_below(&b, 12345));
    }
    /* the state is the whole story: a copy replays everything */
    assert_int_equal(sizeof(struct rn_rng), 4 * sizeof(uint64_t));
    struct rn_rng saved = a;
    double x[16];
    for (int i = 0; i < 16; i++)
        x[i] = rn_rng_normal(&a);
    for (int i = 0; i < 16; i++)
        assert_true(rn_rng_normal(&saved) == x[i]);
    /* different seeds, different streams (seeds that differ in one bit) */
    rn_rng_seed(&a, 7);
    rn_rng_seed(&b, 6);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += rn_rng_u64(&a) == rn_rng_u64(&b);
    assert_int_equal(same, 0);
}

static void test_uniform_range(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 99);
    double lo = 1, hi = 0, sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = rn_rng_uniform(&g);
        assert_true(u >= 0.0 && u < 1.0);
        /* 53 bits: an exact multiple of 2^-53 */
        assert_true(ldexp(u, 53) == floor(ldexp(u, 53)));
        float f = rn_rng_uniformf(&g);
        assert_true(f >= 0.0f && f < 1.0f);
        assert_true(ldexpf(f, 24) == floorf(ldexpf(f, 24)));
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    assert_true(lo < 1e-4 && hi > 1 - 1e-4);
    /* mean 0.5, sd of the mean sqrt(1/12/n) ~ 6.5e-4: 6 sigma */
    assert_true(fabs(sum / n - 0.5) < 4e-3);
    /* A state whose next output is all ones (s[1] solved for
     * rotl(s1 * 5, 7) * 9 == 2^64 - 1): the largest draw stays below 1, in
     * float too, where rounding 64 bits instead of taking 24 would give 1. */
    struct rn_rng top = {{0, 0x4fc71c71c71c71c7ull, 0, 0}};
    struct rn_rng topf = top;
    assert_true(rn_rng_u64(&(struct rn_rng){{0, 0x4fc71c71c71c71c7ull, 0, 0}}) == UINT64_MAX);
    assert_true(rn_rng_uniform(&top) == 1.0 - 0x1.0p-53);
    assert_true(rn_rng_uniformf(&topf) == 1.0f - 0x1.0p-24f);
}

static void test_below_range_and_uniformity(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 2024);
    for (int i = 0; i < 1000; i++)
        assert_true(rn_rng_below(&g, 1) == 0);
    const uint64_t ns[] = {2, 3, 7, 1000, (1ull << 32) + 1, (1ull << 63) + 1, UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 10000; i++)
            assert_true(rn_rng_below(&g, ns[k]) < ns[k]);

    /* chi-square over 10 buckets, 100000 draws: 9 degrees of freedom, the
     * 99.99th percentile is 33.7 */
    enum { K = 10, N = 100000 };
    long count[K] = {0};
    for (int i = 0; i < N; i++)
        count[rn_rng_below(&g, K)]++;
    double chi = 0;
    for (int k = 0; k < K; k++) {
        double d = (double)count[k] - N / K;
        chi += d * d / (N / K);
    }
    assert_true(chi < 33.7);

    /* n = 3 * 2^62: a modulo reduction would give [0, 2^62) two of the
     * 2^64 inputs per value and the rest one, so half the draws instead of
     * a third would land there; a quarter of the raw words are rejected. */
    long low = 0;
    for (int i = 0; i < 20000; i++)
        low += rn_rng_below(&g, 3ull << 62) < (1ull << 62);
    assert_true(labs(low - 6667) < 400); /* sd 67 */
}

static void test_normal_moments(void **state)
{
    (void)state;
    struct rn_rng g;
    rn_rng_seed(&g, 31337);
    const int n = 400000;
    double s1 = 0, s2 = 0, s4 = 0;
    long beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double x = rn_rng_normal(&g);
        assert_true(isfinite(x));
        s1 += x;
        s2 += x * x;
        s4 += x * x * x * x;
        beyond3 += fabs(x) > 3;
    }
    double mean = s1 / n, var = s2 / n - mean * mean, kurt = s4 / n;
    /* sd of the mean 1/sqrt(n) = 1.6e-3; of the variance sqrt(2/n) = 2.2e-3 */
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(var - 1) < 0.015);
    assert_true(fabs(kurt - 3) < 0.1);
    /* P(|x| > 3) = 0.0027 */
    assert_true(beyond3 > 900 && beyond3 < 1260);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_known_answers),
        cmocka_unit_test(test_u64_known_answers),
        cmocka_unit_test(test_uniform_known_answers),
        cmocka_unit_test(test_normal_known_answers),
        cmocka_unit_test(test_below_known_answers),
        cmocka_unit_test(test_jump_known_answers),
        cmocka_unit_test(test_jump_gives_another_stream),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_uniform_range),
        cmocka_unit_test(test_below_range_and_uniformity),
        cmocka_unit_test(test_normal_moments),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
