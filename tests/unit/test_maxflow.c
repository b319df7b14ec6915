/* Unit tests for libcore/maxflow: Boykov-Kolmogorov against the
 * Edmonds-Karp reference on random graphs, validity of the cut it returns,
 * hand-checked small cases, and a grid of the kind segmentation builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "maxflow.h"
#include "rng.h"

/* Capacity of the cut (S = side[i] == 1) computed from the edge list and
 * the terminal capacities as given: what a valid minimum cut must equal. */
static double cut_capacity(const struct rn_maxflow *g, const uint8_t *side)
{
    double c = g->flow0;
    for (int64_t i = 0; i < g->n; i++) {
        /* tr > 0: s->i (cut when i is in T); tr < 0: i->t (cut when i in S) */
        if (g->tr[i] > 0 && !side[i])
            c += g->tr[i];
        if (g->tr[i] < 0 && side[i])
            c -= g->tr[i];
    }
    for (int64_t k = 0; k < g->m; k++) {
        int u = g->e_from[k], v = g->e_to[k];
        if (side[u] && !side[v])
            c += g->e_cap[k];
        if (side[v] && !side[u])
            c += g->e_rev[k];
    }
    return c;
}

/* A random graph: n nodes, m edges, integer capacities 0..cmax (so float
 * sums are exact and flows must agree to the last bit). */
static void random_graph(struct rn_maxflow *g, struct rn_rng *r, int n, int m, int cmax)
{
    struct rn_err e = {0};
    assert_int_equal(rn_maxflow_init(g, n, m, &e), RN_OK);
    for (int i = 0; i < n; i++)
        rn_maxflow_add_tweights(g, i, (float)rn_rng_below(r, (uint64_t)cmax + 1),
                                (float)rn_rng_below(r, (uint64_t)cmax + 1));
    for (int k = 0; k < m; k++) {
        int u = (int)rn_rng_below(r, (uint64_t)n), v = (int)rn_rng_below(r, (uint64_t)n);
        if (u == v)
            continue;
        assert_int_equal(rn_maxflow_add_edge(g, u, v, (float)rn_rng_below(r, (uint64_t)cmax + 1),
                                             (float)rn_rng_below(r, (uint64_t)cmax + 1), &e),
                         RN_OK);
    }
}

static void test_random_graphs_match_reference(void **state)
{
    (void)state;
    struct rn_rng r;
    rn_rng_seed(&r, 9);
    struct rn_err e = {0};
    int nonzero = 0;
    for (int t = 0; t < 300; t++) {
        int n = 2 + (int)rn_rng_below(&r, 60);
        int m = (int)rn_rng_below(&r, (uint64_t)(4 * n));
        int cmax = t % 3 == 0 ? 1 : 20;
        struct rn_maxflow g;
        random_graph(&g, &r, n, m, cmax);
        double ref = -1, bk = -1;
        uint8_t *side_ref = malloc((size_t)n), *side = malloc((size_t)n);
        assert_int_equal(rn_maxflow_solve_ref(&g, &ref, side_ref, &e), RN_OK);
        assert_int_equal(rn_maxflow_solve(&g, &bk, &e), RN_OK);
        if (bk != ref)
            print_error("graph %d (n=%d m=%d): BK %g, reference %g\n", t, n, m, bk, ref);
        assert_true(bk == ref);
        nonzero += bk > g.flow0;
        for (int i = 0; i < n; i++)
            side[i] = (uint8_t)rn_maxflow_source_side(&g, i);
        /* The cut BK reports must cost exactly the flow (max-flow min-cut),
         * and so must the reference's. */
        assert_true(cut_capacity(&g, side) == bk);
        assert_true(cut_capacity(&g, side_ref) == ref);
        /* Both report the source side as "reachable from s in the residual
         * graph", which is unique: the same set. */
        assert_memory_equal(side, side_ref, (size_t)n);
        free(side);
        free(side_ref);
        rn_maxflow_free(&g);
    }
    assert_true(nonzero > 200); /* the graphs really carried flow */
}

/* Tree reuse: after a solve, change the terminal capacities of some or all
 * nodes (as GrabCut's rounds do) and resolve; the result must equal a
 * fresh reference solve of the changed graph, round after round. */
static void test_resolve_after_new_tweights(void **state)
{
    (void)state;
    struct rn_rng r;
    rn_rng_seed(&r, 21);
    struct rn_err e = {0};
    int changed_cut = 0;
    for (int t = 0; t < 150; t++) {
        int n = 2 + (int)rn_rng_below(&r, 50);
        int m = (int)rn_rng_below(&r, (uint64_t)(4 * n));
        struct rn_maxflow g;
        random_graph(&g, &r, n, m, 20);
        uint8_t *side = malloc((size_t)n), *side_ref = malloc((size_t)n),
                *before = malloc((size_t)n);
        double f, ref;
        assert_int_equal(rn_maxflow_solve(&g, &f, &e), RN_OK);
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < n; i++)
                before[i] = (uint8_t)rn_maxflow_source_side(&g, i);
            int all = round % 2;
            for (int i = 0; i < n; i++)
                if (all || rn_rng_below(&r, 3) == 0)
                    rn_maxflow_set_tweights(&g, i, (float)rn_rng_below(&r, 21),
                                            (float)rn_rng_below(&r, 21));
            assert_int_equal(rn_maxflow_resolve(&g, &f, &e), RN_OK);
            assert_int_equal(rn_maxflow_solve_ref(&g, &ref, side_ref, &e), RN_OK);
            if (f != ref)
                print_error("graph %d round %d: resolve %g, reference %g\n", t, round, f, ref);
            assert_true(f == ref);
            for (int i = 0; i < n; i++)
                side[i] = (uint8_t)rn_maxflow_source_side(&g, i);
            assert_memory_equal(side, side_ref, (size_t)n);
            assert_true(cut_capacity(&g, side) == ref);
            changed_cut += memcmp(side, before, (size_t)n) != 0;
        }
        free(side);
        free(side_ref);
        free(before);
        rn_maxflow_free(&g);
    }
    assert_true(changed_cut > 300); /* the changes really moved the cuts */
}

static void test_float_capacities(void **state)
{
    (void)state;
    struct rn_rng r;
    rn_rng_seed(&r, 3);
    struct rn_err e = {0};
    for (int t = 0; t < 50; t++) {
        unsigned n = 50 + (unsigned)rn_rng_below(&r, 100);
        struct rn_maxflow g;
        assert_int_equal(rn_maxflow_init(&g, n, 0, &e), RN_OK); /* grows from 0 */
        for (unsigned i = 0; i < n; i++)
            rn_maxflow_add_tweights(&g, i, rn_rng_uniformf(&r) * 3, rn_rng_uniformf(&r) * 3);
        for (unsigned k = 0; k < 5 * n; k++) {
            int u = (int)rn_rng_below(&r, n), v = (int)rn_rng_below(&r, n);
            if (u != v)
                rn_maxflow_add_edge(&g, u, v, rn_rng_uniformf(&r), rn_rng_uniformf(&r), &e);
        }
        double ref, bk;
        assert_int_equal(rn_maxflow_solve_ref(&g, &ref, NULL, &e), RN_OK);
        assert_int_equal(rn_maxflow_solve(&g, &bk, &e), RN_OK);
        uint8_t *side = malloc(n);
        for (unsigned i = 0; i < n; i++)
            side[i] = (uint8_t)rn_maxflow_source_side(&g, i);
        assert_true(fabs(bk - ref) <= 1e-4 * (1 + ref));
        assert_true(fabs(cut_capacity(&g, side) - ref) <= 1e-4 * (1 + ref));
        free(side);
        rn_maxflow_free(&g);
    }
}

static void test_small_known_cases(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_maxflow g;
    double f;
    /* s -3-> a -2-> b -4-> t, with a -> t of 1: max flow 3. */
    assert_int_equal(rn_maxflow_init(&g, 2, 4, &e), RN_OK);
    rn_maxflow_add_tweights(&g, 0, 3, 1);
    rn_maxflow_add_tweights(&g, 1, 0, 4);
    assert_int_equal(rn_maxflow_add_edge(&g, 0, 1, 2, 0, &e), RN_OK);
    assert_int_equal(rn_maxflow_solve(&g, &f, &e), RN_OK);
    assert_true(f == 3);
    assert_int_equal(rn_maxflow_source_side(&g, 0), 0);
    /* Terminal capacities on the same node pair up: 5 from s and 2 to t
     * is 2 of forced flow plus 3 from s. */
    assert_int_equal(rn_maxflow_reset(&g, 1, &e), RN_OK);
    rn_maxflow_add_tweights(&g, 0, 5, 2);
    assert_int_equal(rn_maxflow_solve(&g, &f, &e), RN_OK);
    assert_true(f == 2);
    assert_int_equal(rn_maxflow_source_side(&g, 0), 1);
    /* No nodes: zero flow. */
    assert_int_equal(rn_maxflow_reset(&g, 0, &e), RN_OK);
    assert_int_equal(rn_maxflow_solve(&g, &f, &e), RN_OK);
    assert_true(f == 0);
    rn_maxflow_free(&g);
    rn_maxflow_free(&g); /* freeing twice is harmless */
    /* Limits are errors, not crashes. */
    assert_int_equal(rn_maxflow_init(&g, -1, 0, &e), RN_ELIMIT);
    assert_int_equal(rn_maxflow_init(&g, RN_MAXFLOW_MAX_NODES + 1, 0, &e), RN_ELIMIT);
}

/* A 4-connected grid whose left half prefers the source and right half the
 * sink, with noise and uniform smoothness: BK equals the reference, and
 * the cut is the vertical line through the middle. */
static void test_grid_segmentation(void **state)
{
    (void)state;
    enum { W = 24, H = 16 };
    struct rn_err e = {0};
    struct rn_maxflow g;
    struct rn_rng r;
    rn_rng_seed(&r, 5);
    assert_int_equal(rn_maxflow_init(&g, W * H, 2 * W * H, &e), RN_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            float pref = x < W / 2 ? 4.0f : 0.0f, noise = rn_rng_uniformf(&r) * 3;
            rn_maxflow_add_tweights(&g, i, pref + noise, 4.0f - pref + rn_rng_uniformf(&r) * 3);
            if (x + 1 < W)
                rn_maxflow_add_edge(&g, i, i + 1, 2, 2, &e);
            if (y + 1 < H)
                rn_maxflow_add_edge(&g, i, i + W, 2, 2, &e);
        }
    double ref, bk;
    assert_int_equal(rn_maxflow_solve_ref(&g, &ref, NULL, &e), RN_OK);
    assert_int_equal(rn_maxflow_solve(&g, &bk, &e), RN_OK);
    assert_true(fabs(bk - ref) <= 1e-3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            assert_int_equal(rn_maxflow_source_side(&g, y * W + x), x < W / 2);
    rn_maxflow_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_graphs_match_reference),
        cmocka_unit_test(test_resolve_after_new_tweights),
        cmocka_unit_test(test_float_capacities),
        cmocka_unit_test(test_small_known_cases),
        cmocka_unit_test(test_grid_segmentation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
