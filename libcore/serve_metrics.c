/* serve_metrics — request counts by path and status, one latency
 * histogram, and the scheduler's gauges, as Prometheus text. Paths outside
 * the known set count as "other" so that a scanner cannot grow the series
 * without bound; statuses are HTTP codes (a bounded set too). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "serve.h"

static const char *const paths[] = {
    "/", "/health", "/metrics", "/predict", "/v1/completions", "/v1/chat/completions",
    "/v1/models", "/api/generate", "/api/chat", "/api/tags", "/api/version", "/openapi.json",
    "/docs", "other",
};
#define NPATHS (sizeof paths / sizeof paths[0])
#define NSTATUS 16 /* distinct statuses kept per path */

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                 2.5,   5,      10,    30,   60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct rn_serve_metrics {
    pthread_mutex_t mu;
    int status[NPATHS][NSTATUS];
    uint64_t count[NPATHS][NSTATUS];
    uint64_t bucket[NBUCKETS + 1]; /* the last: +Inf */
    double sum;
    uint64_t n;
};

int rn_serve_metrics_new(struct rn_serve_metrics **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return RN_ENOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return RN_OK;
}

void rn_serve_metrics_free(struct rn_serve_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static size_t path_index(const char *path)
{
    for (size_t i = 0; i + 1 < NPATHS; i++)
        if (strcmp(paths[i], path) == 0)
            return i;
    if (strncmp(path, "/v1/models/", 11) == 0)
        return path_index("/v1/models");
    return NPATHS - 1;
}

void rn_serve_metrics_count(struct rn_serve_metrics *m, const char *path, int status,
                            double seconds)
{
    size_t p = path_index(path);
    pthread_mutex_lock(&m->mu);
    for (int k = 0; k < NSTATUS; k++)
        if (m->status[p][k] == status || m->status[p][k] == 0) {
            m->status[p][k] = status;
            m->count[p][k]++;
            break;
        }
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    m->bucket[b]++;
    m->sum += seconds;
    m->n++;
    pthread_mutex_unlock(&m->mu);
}

/* Append to b, remembering a failure to check once at the end. */
#define put(b, ...) (oom |= rn_buf_printf(b, __VA_ARGS__) < 0)

char *rn_serve_metrics_text(struct rn_serve_metrics *m, const struct rn_genq_stats *g,
                            double uptime)
{
    struct rn_buf b = {0};
    int oom = 0;
    pthread_mutex_lock(&m->mu);
    put(&b, "# HELP runnel_requests_total HTTP requests answered, by path and status.\n"
            "# TYPE runnel_requests_total counter\n");
    for (size_t p = 0; p < NPATHS; p++)
        for (int k = 0; k < NSTATUS && m->status[p][k]; k++)
            put(&b, "runnel_requests_total{path=\"%s\",status=\"%d\"} %llu\n", paths[p],
                m->status[p][k], (unsigned long long)m->count[p][k]);
    put(&b, "# HELP runnel_request_duration_seconds Time from the first byte of a request to "
            "the end of its answer.\n# TYPE runnel_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->bucket[i];
        put(&b, "runnel_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
            (unsigned long long)cum);
    }
    cum += m->bucket[NBUCKETS];
    put(&b, "runnel_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
            "runnel_request_duration_seconds_sum %.6f\n"
            "runnel_request_duration_seconds_count %llu\n",
        (unsigned long long)cum, m->sum, (unsigned long long)m->n);
    pthread_mutex_unlock(&m->mu);
    put(&b, "# HELP runnel_prompt_tokens_total Prompt tokens read by the model.\n"
            "# TYPE runnel_prompt_tokens_total counter\nrunnel_prompt_tokens_total %llu\n"
            "# HELP runnel_generated_tokens_total Tokens generated.\n"
            "# TYPE runnel_generated_tokens_total counter\nrunnel_generated_tokens_total %llu\n"
            "# HELP runnel_queue_depth Generation requests waiting for a slot.\n"
            "# TYPE runnel_queue_depth gauge\nrunnel_queue_depth %d\n"
            "# HELP runnel_generations_active Generation requests being decoded.\n"
            "# TYPE runnel_generations_active gauge\nrunnel_generations_active %d\n"
            "# HELP runnel_uptime_seconds Seconds since the server started.\n"
            "# TYPE runnel_uptime_seconds gauge\nrunnel_uptime_seconds %.3f\n",
        (unsigned long long)g->prompt_tokens, (unsigned long long)g->generated_tokens,
        g->waiting, g->active, uptime);
    if (oom) {
        rn_buf_free(&b);
        return NULL;
    }
    return b.p;
}
