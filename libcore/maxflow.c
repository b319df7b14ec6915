/* maxflow — see maxflow.h.
 *
 * Boykov-Kolmogorov in brief. Two trees grow from the terminals through
 * non-saturated arcs: S from the source, T from the sink. Every node is
 * free or belongs to one tree, with a parent arc pointing at its parent.
 *   growth:       active nodes claim free neighbours into their tree, until
 *                 an arc joins S to T: that is an augmenting path;
 *   augmentation: push the path's bottleneck; arcs that saturate cut their
 *                 child off its tree, which makes the child an orphan;
 *   adoption:     each orphan looks for a new parent in its own tree whose
 *                 root is a terminal; failing that it becomes free, and its
 *                 children become orphans in turn.
 * The trees are kept between augmentations, which is why BK beats
 * Dinic-style solvers on the short-path-rich grids of vision problems.
 * Distance and timestamp marks (ts, dist) make the "is my candidate's root
 * a terminal" walk cheap and prefer short paths (Kolmogorov's v3 code).
 *
 * Arcs are stored grouped by tail (CSR), built once in rn_maxflow_solve
 * from the edge list, so a node's arcs are contiguous in memory.
 */
#include "maxflow.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define PARENT_NONE (-1)      /* free node */
#define PARENT_TERMINAL (-2)  /* child of s or t directly */
#define PARENT_ORPHAN (-3)    /* lost its parent; waiting for adoption */
#define DIST_INF 0x7fffffff

static void free_solver(struct rn_maxflow *g);
static void mark(struct rn_maxflow *g, int64_t i, float tr);

static int grow_nodes(struct rn_maxflow *g, int64_t n, struct rn_err *e)
{
    if (n <= g->nodes_cap)
        return RN_OK;
    float *tr = realloc(g->tr, (size_t)n * sizeof *tr);
    if (tr)
        g->tr = tr;
    float *tm = tr ? realloc(g->tmin, (size_t)n * sizeof *tm) : NULL;
    if (!tm)
        return rn_err_set(e, RN_ENOMEM, "maxflow", "out of memory for %lld nodes", (long long)n);
    g->tmin = tm;
    g->nodes_cap = n;
    return RN_OK;
}

static int grow_edges(struct rn_maxflow *g, int64_t m, struct rn_err *e)
{
    if (m <= g->m_cap)
        return RN_OK;
    if (m > RN_MAXFLOW_MAX_EDGES)
        return rn_err_set(e, RN_ELIMIT, "maxflow", "more than %lld edges",
                          (long long)RN_MAXFLOW_MAX_EDGES);
    int64_t cap = g->m_cap ? g->m_cap : 1024;
    while (cap < m)
        cap *= 2;
    if (cap > RN_MAXFLOW_MAX_EDGES)
        cap = RN_MAXFLOW_MAX_EDGES;
    int32_t *a = realloc(g->e_from, (size_t)cap * sizeof *a);
    if (a)
        g->e_from = a;
    int32_t *b = a ? realloc(g->e_to, (size_t)cap * sizeof *b) : NULL;
    if (b)
        g->e_to = b;
    float *c = b ? realloc(g->e_cap, (size_t)cap * sizeof *c) : NULL;
    if (c)
        g->e_cap = c;
    float *d = c ? realloc(g->e_rev, (size_t)cap * sizeof *d) : NULL;
    if (!d)
        return rn_err_set(e, RN_ENOMEM, "maxflow", "out of memory for %lld edges",
                          (long long)cap);
    g->e_rev = d;
    g->m_cap = cap;
    return RN_OK;
}

int rn_maxflow_init(struct rn_maxflow *g, int64_t n, int64_t edges_hint, struct rn_err *e)
{
    memset(g, 0, sizeof *g);
    if (edges_hint < 0 || edges_hint > RN_MAXFLOW_MAX_EDGES)
        edges_hint = RN_MAXFLOW_MAX_EDGES;
    int rc = rn_maxflow_reset(g, n, e);
    if (rc == RN_OK && edges_hint > 0)
        rc = grow_edges(g, edges_hint, e);
    if (rc < 0)
        rn_maxflow_free(g);
    return rc;
}

int rn_maxflow_reset(struct rn_maxflow *g, int64_t n, struct rn_err *e)
{
    if (n < 0 || n > RN_MAXFLOW_MAX_NODES)
        return rn_err_set(e, RN_ELIMIT, "maxflow", "%lld nodes is outside 0..%lld",
                          (long long)n, (long long)RN_MAXFLOW_MAX_NODES);
    int rc = grow_nodes(g, n, e);
    if (rc < 0)
        return rc;
    g->n = n;
    g->m = 0;
    g->flow0 = 0;
    if (n) {
        memset(g->tr, 0, (size_t)n * sizeof *g->tr);
        memset(g->tmin, 0, (size_t)n * sizeof *g->tmin);
    }
    /* Edges will change: the solver state is stale. */
    free_solver(g);
    return RN_OK;
}

static void free_solver(struct rn_maxflow *g)
{
    free(g->first);
    free(g->arc);
    free(g->parent);
    free(g->next);
    free(g->ts);
    free(g->dist);
    free(g->in_sink);
    free(g->orphans);
    free(g->rtr);
    free(g->marked);
    free(g->marks);
    g->rtr = NULL;
    g->marked = NULL;
    g->marks = NULL;
    g->first = g->parent = g->next = g->ts = g->dist = g->orphans = NULL;
    g->arc = NULL;
    g->in_sink = NULL;
}

void rn_maxflow_free(struct rn_maxflow *g)
{
    if (!g)
        return;
    free(g->e_from);
    free(g->e_to);
    free(g->e_cap);
    free(g->e_rev);
    free(g->tr);
    free(g->tmin);
    free_solver(g);
    memset(g, 0, sizeof *g);
}

void rn_maxflow_add_tweights(struct rn_maxflow *g, int64_t i, float cap_s, float cap_t)
{
    RN_ASSERT(i >= 0 && i < g->n && cap_s >= 0 && cap_t >= 0);
    float d = g->tr[i];
    if (d > 0)
        cap_s += d;
    else
        cap_t -= d;
    float m = cap_s < cap_t ? cap_s : cap_t;
    g->flow0 += m;
    g->tmin[i] += m;
    mark(g, i, cap_s - cap_t);
}

int rn_maxflow_add_edge(struct rn_maxflow *g, int64_t i, int64_t j, float cap, float rev,
                        struct rn_err *e)
{
    RN_ASSERT(i >= 0 && i < g->n && j >= 0 && j < g->n && i != j && cap >= 0 && rev >= 0);
    if (g->parent)
        free_solver(g); /* new edges: the next resolve starts over */
    if (g->m == g->m_cap) {
        int rc = grow_edges(g, g->m + 1, e);
        if (rc < 0)
            return rc;
    }
    g->e_from[g->m] = (int32_t)i;
    g->e_to[g->m] = (int32_t)j;
    g->e_cap[g->m] = cap;
    g->e_rev[g->m] = rev;
    g->m++;
    return RN_OK;
}

/* Build the CSR arc arrays from the edge list: edge k gives an arc
 * from->to with capacity cap and its sister to->from with capacity rev. */
static int build_arcs(struct rn_maxflow *g, struct rn_err *e)
{
    size_t n = (size_t)g->n, na = 2 * (size_t)g->m;
    free_solver(g);
    g->first = calloc(n + 1, sizeof *g->first);
    g->arc = malloc((na ? na : 1) * sizeof *g->arc);
    g->parent = malloc((n ? n : 1) * sizeof *g->parent);
    g->next = malloc((n ? n : 1) * sizeof *g->next);
    g->ts = malloc((n ? n : 1) * sizeof *g->ts);
    g->dist = malloc((n ? n : 1) * sizeof *g->dist);
    g->in_sink = malloc(n ? n : 1);
    g->orphans = malloc((n ? n : 1) * sizeof *g->orphans);
    g->rtr = malloc((n ? n : 1) * sizeof *g->rtr);
    g->marked = malloc(n ? n : 1);
    g->marks = malloc((n ? n : 1) * sizeof *g->marks);
    if (!g->rtr || !g->marked || !g->marks || !g->first || !g->arc || !g->parent || !g->next ||
        !g->ts || !g->dist || !g->in_sink || !g->orphans) {
        free_solver(g);
        return rn_err_set(e, RN_ENOMEM, "maxflow", "out of memory for %zu arcs", na);
    }
    int32_t *first = g->first;
    for (int64_t k = 0; k < g->m; k++) {
        first[g->e_from[k] + 1]++;
        first[g->e_to[k] + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    /* next[] doubles as each node's fill position while placing arcs. */
    int32_t *pos = g->next;
    memcpy(pos, first, n * sizeof *pos);
    for (int64_t k = 0; k < g->m; k++) {
        int32_t u = g->e_from[k], v = g->e_to[k];
        int32_t a = pos[u]++, b = pos[v]++;
        g->arc[a].head = v;
        g->arc[a].rcap = g->e_cap[k];
        g->arc[b].head = u;
        g->arc[b].rcap = g->e_rev[k];
        g->arc[a].sister = b;
        g->arc[b].sister = a;
    }
    return RN_OK;
}

/* ---- the solver state, one struct for the static helpers -------------- */

struct bk {
    struct rn_maxflow *g;
    int32_t q_first[2], q_last[2];  /* active queues: [0] being served, [1] new */
    int32_t o_head, o_len;          /* orphan deque in g->orphans */
    int32_t n;
    int32_t time;
    double flow;
};

static void set_active(struct bk *s, int32_t i)
{
    int32_t *next = s->g->next;
    if (next[i] >= 0)
        return;
    if (s->q_last[1] >= 0)
        next[s->q_last[1]] = i;
    else
        s->q_first[1] = i;
    s->q_last[1] = i;
    next[i] = i;
}

/* Next active node (one with a tree), or -1. Nodes that became free while
 * queued are dropped here. */
static int32_t next_active(struct bk *s)
{
    int32_t *next = s->g->next;
    for (;;) {
        int32_t i = s->q_first[0];
        if (i < 0) {
            s->q_first[0] = i = s->q_first[1];
            s->q_last[0] = s->q_last[1];
            s->q_first[1] = s->q_last[1] = -1;
            if (i < 0)
                return -1;
        }
        if (next[i] == i)
            s->q_first[0] = s->q_last[0] = -1;
        else
            s->q_first[0] = next[i];
        next[i] = -1;
        if (s->g->parent[i] != PARENT_NONE)
            return i;
    }
}

static void orphan_front(struct bk *s, int32_t i)
{
    s->g->parent[i] = PARENT_ORPHAN;
    s->o_head = s->o_head ? s->o_head - 1 : s->n - 1;
    s->g->orphans[s->o_head] = i;
    s->o_len++;
}

static void orphan_rear(struct bk *s, int32_t i)
{
    s->g->parent[i] = PARENT_ORPHAN;
    int64_t p = (int64_t)s->o_head + s->o_len;
    if (p >= s->n)
        p -= s->n;
    s->g->orphans[p] = i;
    s->o_len++;
}

/* Push the bottleneck along s ~> tail(mid) -> head(mid) ~> t. */
static void augment(struct bk *s, int32_t mid)
{
    struct rn_maxflow *g = s->g;
    struct rn_maxflow_arc *A = g->arc;
    int32_t *parent = g->parent;
    float b = A[mid].rcap;
    int32_t i, a;
    /* In S a parent arc points child -> parent, so flow runs on its sister;
     * in T flow runs child -> parent on the arc itself. */
    for (i = A[A[mid].sister].head; (a = parent[i]) != PARENT_TERMINAL; i = A[a].head)
        if (b > A[A[a].sister].rcap)
            b = A[A[a].sister].rcap;
    if (b > g->rtr[i])
        b = g->rtr[i];
    for (i = A[mid].head; (a = parent[i]) != PARENT_TERMINAL; i = A[a].head)
        if (b > A[a].rcap)
            b = A[a].rcap;
    if (b > -g->rtr[i])
        b = -g->rtr[i];

    A[A[mid].sister].rcap += b;
    A[mid].rcap -= b;
    for (i = A[A[mid].sister].head; (a = parent[i]) != PARENT_TERMINAL; i = A[a].head) {
        A[a].rcap += b;
        A[A[a].sister].rcap -= b;
        if (A[A[a].sister].rcap <= 0) {
            A[A[a].sister].rcap = 0;
            orphan_front(s, i);
        }
    }
    g->rtr[i] -= b;
    if (g->rtr[i] <= 0) {
        g->rtr[i] = 0;
        orphan_front(s, i);
    }
    for (i = A[mid].head; (a = parent[i]) != PARENT_TERMINAL; i = A[a].head) {
        A[A[a].sister].rcap += b;
        A[a].rcap -= b;
        if (A[a].rcap <= 0) {
            A[a].rcap = 0;
            orphan_front(s, i);
        }
    }
    g->rtr[i] += b;
    if (g->rtr[i] >= 0) {
        g->rtr[i] = 0;
        orphan_front(s, i);
    }
    s->flow += b;
}

/* Find orphan i a new parent in its own tree (sink: 1 for T) whose root is
 * a terminal, preferring the shortest path; else free it and orphan its
 * children. An arc a0 out of i can carry i's tree flow when, in S, its
 * sister (into i) has residual capacity, and in T, a0 itself does. */
static void adopt(struct bk *s, int32_t i, int sink)
{
    struct rn_maxflow *g = s->g;
    const int32_t *first = g->first;
    struct rn_maxflow_arc *A = g->arc;
    int32_t *parent = g->parent, *ts = g->ts, *dist = g->dist;
    const uint8_t *in_sink = g->in_sink;
    int32_t best = PARENT_NONE, d_min = DIST_INF;
    for (int32_t a0 = first[i]; a0 < first[i + 1]; a0++) {
        if (!(sink ? A[a0].rcap : A[A[a0].sister].rcap))
            continue;
        int32_t j = A[a0].head;
        if (in_sink[j] != sink || parent[j] == PARENT_NONE)
            continue;
        /* Walk up from j to its root, counting steps, stopping early at a
         * node whose distance was already measured in this round. */
        int32_t d = 0;
        for (;;) {
            if (ts[j] == s->time) {
                d += dist[j];
                break;
            }
            int32_t a = parent[j];
            d++;
            if (a == PARENT_TERMINAL) {
                ts[j] = s->time;
                dist[j] = 1;
                break;
            }
            if (a == PARENT_ORPHAN) {
                d = DIST_INF;
                break;
            }
            j = A[a].head;
        }
        if (d < DIST_INF) {
            if (d < d_min) {
                best = a0;
                d_min = d;
            }
            for (j = A[a0].head; ts[j] != s->time; j = A[parent[j]].head) {
                ts[j] = s->time;
                dist[j] = d--;
            }
        }
    }
    parent[i] = best;
    if (best != PARENT_NONE) {
        ts[i] = s->time;
        dist[i] = d_min + 1;
        return;
    }
    for (int32_t a0 = first[i]; a0 < first[i + 1]; a0++) {
        int32_t j = A[a0].head;
        int32_t a = parent[j];
        if (in_sink[j] != sink || a == PARENT_NONE)
            continue;
        if (sink ? A[a0].rcap : A[A[a0].sister].rcap)
            set_active(s, j);
        if (a != PARENT_TERMINAL && a != PARENT_ORPHAN && A[a].head == i)
            orphan_rear(s, j);
    }
}

static void drain_orphans(struct bk *s)
{
    struct rn_maxflow *g = s->g;
    while (s->o_len) {
        int32_t o = g->orphans[s->o_head];
        s->o_head = s->o_head + 1 == s->n ? 0 : s->o_head + 1;
        s->o_len--;
        adopt(s, o, g->in_sink[o]);
    }
}

/* Growth, augmentation and adoption until no active node is left. */
static void bk_run(struct bk *s0)
{
    struct bk s = *s0;
    struct rn_maxflow *g = s.g;
    int32_t *parent = g->parent, *next = g->next, *ts = g->ts, *dist = g->dist;
    const int32_t *first = g->first;
    struct rn_maxflow_arc *A = g->arc;
    uint8_t *in_sink = g->in_sink;
    int32_t cur = -1;
    for (;;) {
        int32_t i = cur;
        if (i >= 0) {
            next[i] = -1;
            if (parent[i] == PARENT_NONE)
                i = -1;
        }
        if (i < 0 && (i = next_active(&s)) < 0)
            break;
        /* growth */
        int32_t mid = -1;
        if (!in_sink[i]) {
            for (int32_t a = first[i]; a < first[i + 1]; a++) {
                if (!A[a].rcap)
                    continue;
                int32_t j = A[a].head;
                if (parent[j] == PARENT_NONE) {
                    in_sink[j] = 0;
                    parent[j] = A[a].sister;
                    ts[j] = ts[i];
                    dist[j] = dist[i] + 1;
                    set_active(&s, j);
                } else if (in_sink[j]) {
                    mid = a;
                    break;
                } else if (ts[j] <= ts[i] && dist[j] > dist[i]) {
                    parent[j] = A[a].sister;
                    ts[j] = ts[i];
                    dist[j] = dist[i] + 1;
                }
            }
        } else {
            for (int32_t a = first[i]; a < first[i + 1]; a++) {
                if (!A[A[a].sister].rcap)
                    continue;
                int32_t j = A[a].head;
                if (parent[j] == PARENT_NONE) {
                    in_sink[j] = 1;
                    parent[j] = A[a].sister;
                    ts[j] = ts[i];
                    dist[j] = dist[i] + 1;
                    set_active(&s, j);
                } else if (!in_sink[j]) {
                    mid = A[a].sister;
                    break;
                } else if (ts[j] <= ts[i] && dist[j] > dist[i]) {
                    parent[j] = A[a].sister;
                    ts[j] = ts[i];
                    dist[j] = dist[i] + 1;
                }
            }
        }
        s.time++;
        if (mid < 0) {
            cur = -1;
            continue;
        }
        /* Keep i as the current node: it may have more paths to offer. */
        next[i] = i;
        cur = i;
        augment(&s, mid);
        drain_orphans(&s);
    }
    *s0 = s;
}

int rn_maxflow_solve(struct rn_maxflow *g, double *flow, struct rn_err *e)
{
    if (g->n > INT32_MAX - 1)
        return rn_err_set(e, RN_ELIMIT, "maxflow", "too many nodes");
    int rc = build_arcs(g, e);
    if (rc < 0)
        return rc;
    struct bk s = {.g = g, .q_first = {-1, -1}, .q_last = {-1, -1}, .n = (int32_t)g->n};
    for (int32_t i = 0; i < s.n; i++) {
        g->next[i] = -1;
        g->ts[i] = 0;
        g->marked[i] = 0;
        g->rtr[i] = g->tr[i];
        g->in_sink[i] = g->tr[i] < 0;
        if (g->tr[i] != 0) {
            g->parent[i] = PARENT_TERMINAL;
            g->dist[i] = 1;
            set_active(&s, i);
        } else {
            g->parent[i] = PARENT_NONE;
        }
    }
    g->nmarked = 0;
    bk_run(&s);
    g->time = s.time;
    *flow = s.flow + g->flow0;
    return RN_OK;
}

void rn_maxflow_set_tweights(struct rn_maxflow *g, int64_t i, float cap_s, float cap_t)
{
    RN_ASSERT(i >= 0 && i < g->n && cap_s >= 0 && cap_t >= 0);
    float m = cap_s < cap_t ? cap_s : cap_t;
    g->flow0 += (double)m - g->tmin[i];
    g->tmin[i] = m;
    mark(g, i, cap_s - cap_t);
}

/* Set node i's net terminal capacity to tr; after a solve, also move its
 * residual and queue it for rn_maxflow_resolve. */
static void mark(struct rn_maxflow *g, int64_t i, float tr)
{
    if (g->parent) {
        /* Keep the flow through i's terminal arcs; the residual moves by
         * the change of capacity. Where that leaves more flow than
         * capacity, adding one constant to both terminal capacities (which
         * adds it to every cut, so leaves the minimum cut where it is)
         * makes the flow feasible again, and the signed net residual is
         * the same number either way. */
        g->rtr[i] += tr - g->tr[i];
        if (!g->marked[i]) {
            g->marked[i] = 1;
            g->marks[g->nmarked++] = (int32_t)i;
        }
    }
    g->tr[i] = tr;
}

/* Capacity of the current cut on the graph as it is now. */
static double cut_value(const struct rn_maxflow *g)
{
    double c = g->flow0;
    for (int64_t i = 0; i < g->n; i++) {
        int src = rn_maxflow_source_side(g, i);
        if (g->tr[i] > 0 && !src)
            c += g->tr[i];
        else if (g->tr[i] < 0 && src)
            c -= g->tr[i];
    }
    for (int64_t k = 0; k < g->m; k++) {
        int a = rn_maxflow_source_side(g, g->e_from[k]);
        int b = rn_maxflow_source_side(g, g->e_to[k]);
        if (a && !b)
            c += g->e_cap[k];
        else if (b && !a)
            c += g->e_rev[k];
    }
    return c;
}

int rn_maxflow_resolve(struct rn_maxflow *g, double *flow, struct rn_err *e)
{
    if (!g->parent)
        return rn_maxflow_solve(g, flow, e);
    /* Kolmogorov's tree reuse (maxflow v3, reuse_trees): each changed node
     * becomes a child of the terminal its residual now points to, and a
     * node that changed trees orphans its children in the old one. */
    struct bk s = {.g = g, .q_first = {-1, -1}, .q_last = {-1, -1}, .n = (int32_t)g->n,
                   .time = ++g->time};
    int32_t *parent = g->parent, *ts = g->ts, *dist = g->dist;
    const int32_t *first = g->first;
    struct rn_maxflow_arc *A = g->arc;
    uint8_t *in_sink = g->in_sink, *marked = g->marked;
    for (int64_t k = 0; k < g->nmarked; k++) {
        int32_t i = g->marks[k];
        marked[i] = 0;
        set_active(&s, i);
        float r = g->rtr[i];
        if (r == 0) {
            if (parent[i] != PARENT_NONE && parent[i] != PARENT_ORPHAN)
                orphan_rear(&s, i);
            continue;
        }
        uint8_t sink = r < 0;
        if (parent[i] == PARENT_NONE || parent[i] == PARENT_ORPHAN || in_sink[i] != sink) {
            in_sink[i] = sink;
            for (int32_t a = first[i]; a < first[i + 1]; a++) {
                int32_t j = A[a].head;
                if (marked[j])
                    continue;
                /* A child of i loses its parent; it (like any neighbour in
                 * the other tree) may now reach i through a residual arc,
                 * so it must grow again once adopted. */
                if (parent[j] == A[a].sister)
                    orphan_rear(&s, j);
                if (parent[j] != PARENT_NONE && in_sink[j] != sink &&
                    (sink ? A[A[a].sister].rcap : A[a].rcap) > 0)
                    set_active(&s, j);
            }
        }
        parent[i] = PARENT_TERMINAL;
        ts[i] = s.time;
        dist[i] = 1;
    }
    g->nmarked = 0;
    drain_orphans(&s);
    bk_run(&s);
    g->time = s.time;
    *flow = cut_value(g);
    return RN_OK;
}

int rn_maxflow_source_side(const struct rn_maxflow *g, int64_t i)
{
    RN_ASSERT(g->parent && i >= 0 && i < g->n);
    return g->parent[i] != PARENT_NONE && !g->in_sink[i];
}

/* ---- reference ----------------------------------------------------------- */

int rn_maxflow_solve_ref(const struct rn_maxflow *g, double *flow, uint8_t *side,
                         struct rn_err *e)
{
    /* Nodes 0..n-1, then s = n, t = n + 1. Arc 2k and 2k+1 are sisters:
     * each edge and each terminal capacity becomes one pair. */
    int64_t n = g->n, S = n, T = n + 1, nn = n + 2;
    int64_t na = 2 * (g->m + 2 * n);
    int64_t *from = malloc((size_t)(na ? na : 1) * sizeof *from);
    int64_t *to = malloc((size_t)(na ? na : 1) * sizeof *to);
    double *cap = malloc((size_t)(na ? na : 1) * sizeof *cap);
    int64_t *pred = malloc((size_t)nn * sizeof *pred);
    int64_t *queue = malloc((size_t)nn * sizeof *queue);
    int64_t *start = calloc((size_t)nn + 1, sizeof *start);
    int64_t *adj = malloc((size_t)(na ? na : 1) * sizeof *adj);
    int rc = RN_OK;
    if (!from || !to || !cap || !pred || !queue || !start || !adj) {
        rc = rn_err_set(e, RN_ENOMEM, "maxflow", "out of memory (reference solver)");
        goto done;
    }
    int64_t k = 0;
    for (int64_t q = 0; q < g->m; q++) {
        from[k] = g->e_from[q], to[k] = g->e_to[q], cap[k++] = g->e_cap[q];
        from[k] = g->e_to[q], to[k] = g->e_from[q], cap[k++] = g->e_rev[q];
    }
    for (int64_t i = 0; i < n; i++) {
        double c = g->tr[i];
        from[k] = S, to[k] = i, cap[k++] = c > 0 ? c : 0;
        from[k] = i, to[k] = S, cap[k++] = 0;
        from[k] = i, to[k] = T, cap[k++] = c < 0 ? -c : 0;
        from[k] = T, to[k] = i, cap[k++] = 0;
    }
    for (int64_t a = 0; a < na; a++)
        start[from[a] + 1]++;
    for (int64_t i = 0; i < nn; i++)
        start[i + 1] += start[i];
    for (int64_t i = 0; i < nn; i++)
        pred[i] = start[i];
    for (int64_t a = 0; a < na; a++)
        adj[pred[from[a]]++] = a;
    double total = g->flow0;
    for (;;) {
        for (int64_t i = 0; i < nn; i++)
            pred[i] = -1;
        int64_t qh = 0, qt = 0;
        queue[qt++] = S;
        pred[S] = -2;
        while (qh < qt && pred[T] == -1) {
            int64_t u = queue[qh++];
            for (int64_t p = start[u]; p < start[u + 1]; p++) {
                int64_t a = adj[p];
                if (cap[a] > 0 && pred[to[a]] == -1) {
                    pred[to[a]] = a;
                    queue[qt++] = to[a];
                }
            }
        }
        if (pred[T] == -1)
            break;
        double b = DBL_MAX;
        for (int64_t v = T; v != S; v = from[pred[v]])
            if (cap[pred[v]] < b)
                b = cap[pred[v]];
        for (int64_t v = T; v != S; v = from[pred[v]]) {
            cap[pred[v]] -= b;
            cap[pred[v] ^ 1] += b;
        }
        total += b;
    }
    *flow = total;
    if (side)
        for (int64_t i = 0; i < n; i++)
            side[i] = pred[i] != -1;
done:
    free(from);
    free(to);
    free(cap);
    free(pred);
    free(queue);
    free(start);
    free(adj);
    return rc;
}
