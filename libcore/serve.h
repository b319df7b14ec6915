/* serve — the application behind `serve`: what the request handlers
 * share (the model, the tokenizer, the scheduler, the settings that SIGHUP
 * may change, the metrics), and the entry points cmd/serve.c wires to
 * http.h. The handlers are split by family: serve_route.c (routing, keys,
 * errors, the small endpoints), serve_gen.c (the generation endpoints of
 * the seed, OpenAI and Ollama, streamed or not), serve_metrics.c. */
#ifndef RN_SERVE_H
#define RN_SERVE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "bpe.h"
#include "cfg_serve.h"
#include "genq.h"
#include "http.h"
#include "lm.h"

/* Settings read per request; SIGHUP replaces them under the lock. */
struct rn_serve_live {
    char *api_key;               /* "" or the key (owned) */
    int max_tokens, default_max_tokens;
    struct rn_sample_params sp;  /* defaults for requests */
    int retry_after;
    int log_requests;
};

struct rn_serve_metrics;

struct rn_serve {
    struct rn_lm m;
    struct rn_bpe b;
    struct rn_genq *q;
    struct rn_http *http;
    char *name;                  /* model name in responses */
    double t_start;              /* rn_now() at startup */
    long long created;           /* the checkpoint's mtime (Unix seconds) */
    long long ckpt_size;
    char digest[16];             /* CRC-32C of the loaded weights, hex */
    char *openapi;               /* the OpenAPI document, rendered once */
    pthread_rwlock_t lock;       /* live */
    struct rn_serve_live live;
    uint64_t seed_next;          /* seeds of requests that give none */
    int draining;                /* SIGTERM seen */
    struct rn_serve_metrics *metrics;
};

/* http.h's handler and done hook (rn_http_opts.ctx is the rn_serve). */
void rn_serve_handle(struct rn_http_req *r);
void rn_serve_done(struct rn_http_req *r);
void rn_serve_http_error(struct rn_http_req *r, int status, const char *msg);

/* serve_route.c, for serve_gen.c: answer an error in the shape of r's
 * family (OpenAI {"error":{...}} or Ollama {"error": "..."}); param may be
 * NULL. */
void rn_serve_error(struct rn_http_req *r, int status, const char *param, const char *code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answer with o as JSON text (o consumed; NULL answers 500, out of memory). */
struct cJSON;
void rn_serve_reply_json(struct rn_http_req *r, int status, struct cJSON *o);
/* serve_gen.c: the generation endpoints (r->path is one of them). */
void rn_serve_generate(struct rn_serve *S, struct rn_http_req *r);

/* serve_format.c: "2026-11-25T20:40:00.123456789Z" (UTC), Ollama's times. */
void rn_serve_iso_time(const struct timespec *t, char *buf, size_t size);

/* serve_metrics.c */
int rn_serve_metrics_new(struct rn_serve_metrics **out);
void rn_serve_metrics_free(struct rn_serve_metrics *m);
/* Count one finished request (path one of the known ones or "other"). */
void rn_serve_metrics_count(struct rn_serve_metrics *m, const char *path, int status,
                            double seconds);
/* The Prometheus text exposition (0.0.4), malloc'd. */
char *rn_serve_metrics_text(struct rn_serve_metrics *m, const struct rn_genq_stats *g,
                            double uptime);

#endif
