/* maxflow — minimum s-t cuts of sparse graphs: the Boykov-Kolmogorov
 * augmenting-path algorithm (two search trees that are reused between
 * augmentations; "An Experimental Comparison of Min-Cut/Max-Flow Algorithms
 * for Energy Minimization in Vision", PAMI 2004), plus a naive
 * Edmonds-Karp reference for tests.
 *
 * A graph has n nodes and two terminals, the source s and the sink t. Each
 * node has a capacity from s and one to t (rn_maxflow_add_tweights); each
 * edge between two nodes has a capacity in each direction. Solving finds
 * the maximum flow from s to t, whose value equals the capacity of the
 * minimum cut, and labels every node by the side of that cut it falls on.
 * In a labelling energy, "source side" is label 1 (the object, in seg).
 *
 *     struct rn_maxflow g;
 *     if (rn_maxflow_init(&g, n, 4 * n, &e) < 0) ...
 *     rn_maxflow_add_tweights(&g, i, cost_of_label0, cost_of_label1);
 *     rn_maxflow_add_edge(&g, i, j, w, w);        // paid when i, j differ
 *     double flow;
 *     if (rn_maxflow_solve(&g, &flow, &e) < 0) ...
 *     int obj = rn_maxflow_source_side(&g, i);
 *     rn_maxflow_free(&g);
 *
 * Capacities are non-negative finite floats. The graph owns its arrays;
 * rn_maxflow_reset empties it for reuse without freeing them.
 */
#ifndef RN_MAXFLOW_H
#define RN_MAXFLOW_H

#include <stdint.h>

#include "err.h"

/* Largest graph: node and arc indices are int32 (two arcs per edge). */
#define RN_MAXFLOW_MAX_NODES ((int64_t)1 << 30)
#define RN_MAXFLOW_MAX_EDGES ((int64_t)1 << 29)

/* One arc of the residual graph; an arc and its sister (the reverse arc)
 * come from one edge. Kept together: BK reads all three at once. */
struct rn_maxflow_arc {
    int32_t head;           /* node the arc points to */
    int32_t sister;         /* the reverse arc */
    float rcap;             /* residual capacity */
};

struct rn_maxflow {
    int64_t n;              /* nodes */
    int64_t m, m_cap;       /* edges added, edges allocated */
    /* Edges as added: (m) tails, heads and capacities both ways. */
    int32_t *e_from, *e_to;
    float *e_cap, *e_rev;
    float *tr;              /* (n) net terminal capacity: > 0 from s, < 0 to t */
    float *tmin;            /* (n) min(cap_s, cap_t) of each node: paid by every cut */
    double flow0;           /* sum of tmin: flow forced by paired terminal capacities */
    /* Solver state, (re)built by rn_maxflow_solve: arcs grouped by tail. */
    int32_t *first;         /* (n + 1) first arc of each node */
    struct rn_maxflow_arc *arc; /* (2m) */
    float *rtr;             /* (n) residual terminal capacity, signed like tr */
    int32_t *parent;        /* (n) arc to the parent in its tree, or a mark below */
    int32_t *next;          /* (n) active-queue link; -1 not queued, self: last */
    int32_t *ts, *dist;     /* (n) BK's timestamps and distance-to-terminal marks */
    uint8_t *in_sink;       /* (n) 1: node is in (or was last in) the sink tree */
    int32_t *orphans;       /* (n) circular buffer of orphans */
    uint8_t *marked;        /* (n) 1: terminal capacities changed since the last solve */
    int32_t *marks;         /* (n) the marked nodes, nmarked of them */
    int64_t nmarked;
    int32_t time;           /* BK's clock, kept across rn_maxflow_resolve */
    int64_t nodes_cap;      /* nodes allocated */
};

/* An empty graph of n nodes with room for edges_hint edges (it grows).
 * RN_ELIMIT past the limits above, RN_ENOMEM when out of memory. */
int rn_maxflow_init(struct rn_maxflow *g, int64_t n, int64_t edges_hint, struct rn_err *e);
/* Forget all edges and capacities and resize to n nodes, keeping memory. */
int rn_maxflow_reset(struct rn_maxflow *g, int64_t n, struct rn_err *e);
/* Release everything; a zeroed or freed graph is a no-op. */
void rn_maxflow_free(struct rn_maxflow *g);

/* Add cap_s to the capacity s->i and cap_t to i->t (both >= 0). Only the
 * difference is kept: min(cap_s, cap_t) is flow that every cut pays. */
void rn_maxflow_add_tweights(struct rn_maxflow *g, int64_t i, float cap_s, float cap_t);
/* Add an edge i->j of capacity cap and j->i of capacity rev (>= 0, i != j).
 * RN_ENOMEM if the edge array cannot grow. */
int rn_maxflow_add_edge(struct rn_maxflow *g, int64_t i, int64_t j, float cap, float rev,
                        struct rn_err *e);

/* Boykov-Kolmogorov. *flow receives the maximum flow (= minimum cut). The
 * graph itself (edges, capacities) is left as it was: solving again after
 * adding to it starts from scratch. */
int rn_maxflow_solve(struct rn_maxflow *g, double *flow, struct rn_err *e);
/* After a solve: replace node i's terminal capacities by cap_s and cap_t
 * (>= 0), keeping the flow found, so that rn_maxflow_resolve continues
 * from it instead of starting over (Kohli and Torr's dynamic graph cuts:
 * GrabCut's rounds change only terminal capacities). Before any solve it
 * just sets them. */
void rn_maxflow_set_tweights(struct rn_maxflow *g, int64_t i, float cap_s, float cap_t);
/* Solve again after rn_maxflow_set_tweights, reusing the previous flow and
 * search trees (edges must not have been added since). *flow receives the
 * minimum cut's capacity on the graph as it now is. Falls back to
 * rn_maxflow_solve on a graph never solved. */
int rn_maxflow_resolve(struct rn_maxflow *g, double *flow, struct rn_err *e);

/* After solve: 1 if node i is on the source side of the minimum cut (it can
 * still be reached from s in the residual graph), else 0. */
int rn_maxflow_source_side(const struct rn_maxflow *g, int64_t i);

/* Naive reference: Edmonds-Karp (shortest augmenting paths by BFS) in
 * double precision on the same graph, O(n m^2): for tests on small graphs.
 * Fills *flow and, if side is non-NULL, side[i] = 1 for nodes reachable
 * from s in the final residual graph. Leaves g unsolved. */
int rn_maxflow_solve_ref(const struct rn_maxflow *g, double *flow, uint8_t *side,
                         struct rn_err *e);

#endif
