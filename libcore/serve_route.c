/* serve_route — where each request goes: the key check, the route table
 * (405 with Allow for a known path and the wrong method, 404 for the
 * rest), errors in the family's shape, and the endpoints that need no
 * model run: /, /health, /metrics, the model lists, /openapi.json, /docs. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "openapi.h"
#include "runnel.h"
#include "serve.h"

static int is_ollama(const struct rn_http_req *r) { return strncmp(r->path, "/api/", 5) == 0; }

void rn_serve_reply_json(struct rn_http_req *r, int status, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                  "\"param\":null,\"code\":null}}";
        rn_http_reply(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    rn_http_reply(r, status, "application/json", s, strlen(s));
    free(s);
}

void rn_serve_error(struct rn_http_req *r, int status, const char *param, const char *code,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (is_ollama(r))
        cJSON_AddStringToObject(o, "error", msg);
    else {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", status >= 500 ? "server_error"
                                           : status == 401 ? "authentication_error"
                                                           : "invalid_request_error");
        if (param)
            cJSON_AddStringToObject(e, "param", param);
        else
            cJSON_AddNullToObject(e, "param");
        if (code)
            cJSON_AddStringToObject(e, "code", code);
        else
            cJSON_AddNullToObject(e, "code");
    }
    rn_serve_reply_json(r, status, o);
}

void rn_serve_http_error(struct rn_http_req *r, int status, const char *msg)
{
    rn_serve_error(r, status, NULL, NULL, "%s", msg);
}

/* ---- the small endpoints ------------------------------------------------------ */

static void root(struct rn_serve *S, struct rn_http_req *r)
{
    static const char text[] = "runnel serve is running: see /docs\n";
    rn_http_reply(r, 200, "text/plain; charset=utf-8", text, sizeof text - 1);
}

static void health(struct rn_serve *S, struct rn_http_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", S->draining ? "draining" : "ok");
    cJSON_AddStringToObject(o, "model", S->name);
    cJSON_AddStringToObject(o, "version", RN_VERSION);
    cJSON_AddNumberToObject(o, "uptime_s", (double)(long long)((rn_now() - S->t_start) * 1e3) / 1e3);
    rn_serve_reply_json(r, S->draining ? 503 : 200, o);
}

static void metrics(struct rn_serve *S, struct rn_http_req *r)
{
    struct rn_genq_stats g;
    rn_genq_stats(S->q, &g);
    char *t = rn_serve_metrics_text(S->metrics, &g, rn_now() - S->t_start);
    if (!t)
        return rn_serve_error(r, 500, NULL, NULL, "out of memory");
    rn_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", t, strlen(t));
    free(t);
}

static cJSON *model_object(struct rn_serve *S)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", S->name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)S->created);
    cJSON_AddStringToObject(m, "owned_by", "runnel");
    return m;
}

static void models(struct rn_serve *S, struct rn_http_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "data"), model_object(S));
    rn_serve_reply_json(r, 200, o);
}

static void model_one(struct rn_serve *S, struct rn_http_req *r)
{
    const char *id = r->path + strlen("/v1/models/");
    if (strcmp(id, S->name) != 0)
        return rn_serve_error(r, 404, "model", "model_not_found",
                              "The model '%.200s' does not exist", id);
    rn_serve_reply_json(r, 200, model_object(S));
}

static void tags(struct rn_serve *S, struct rn_http_req *r)
{
    char name[300], when[64], size[32];
    snprintf(name, sizeof name, "%s:latest", S->name);
    rn_serve_iso_time(&(struct timespec){(time_t)S->created, 0}, when, sizeof when);
    double n = (double)S->m.n_params;
    if (n >= 1e9)
        snprintf(size, sizeof size, "%.1fB", n / 1e9);
    else if (n >= 1e6)
        snprintf(size, sizeof size, "%.1fM", n / 1e6);
    else
        snprintf(size, sizeof size, "%.1fK", n / 1e3);
    cJSON *o = cJSON_CreateObject();
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "models"), m);
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "model", name);
    cJSON_AddStringToObject(m, "modified_at", when);
    cJSON_AddNumberToObject(m, "size", (double)S->ckpt_size);
    cJSON_AddStringToObject(m, "digest", S->digest);
    cJSON *d = cJSON_AddObjectToObject(m, "details");
    cJSON_AddStringToObject(d, "parent_model", "");
    cJSON_AddStringToObject(d, "format", "safetensors");
    cJSON_AddStringToObject(d, "family", "deepseek-v3");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(d, "families"), cJSON_CreateString("deepseek-v3"));
    cJSON_AddStringToObject(d, "parameter_size", size);
    cJSON_AddStringToObject(d, "quantization_level", "F32");
    rn_serve_reply_json(r, 200, o);
}

static void version(struct rn_serve *S, struct rn_http_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", RN_VERSION);
    rn_serve_reply_json(r, 200, o);
}

static void openapi(struct rn_serve *S, struct rn_http_req *r)
{
    rn_http_reply(r, 200, "application/json", S->openapi, strlen(S->openapi));
}

static void docs(struct rn_serve *S, struct rn_http_req *r)
{
    rn_http_reply(r, 200, "text/html; charset=utf-8", rn_docs_html, strlen(rn_docs_html));
}

/* ---- routing -------------------------------------------------------------------- */

struct route {
    const char *path;
    int post;          /* POST only; else GET and HEAD */
    int prefix;        /* path is a prefix (/v1/models/{id}) */
    void (*fn)(struct rn_serve *S, struct rn_http_req *r);
};

static const struct route routes[] = {
    {"/", 0, 0, root},
    {"/health", 0, 0, health},
    {"/metrics", 0, 0, metrics},
    {"/predict", 1, 0, rn_serve_generate},
    {"/v1/completions", 1, 0, rn_serve_generate},
    {"/v1/chat/completions", 1, 0, rn_serve_generate},
    {"/v1/models", 0, 0, models},
    {"/v1/models/", 0, 1, model_one},
    {"/api/generate", 1, 0, rn_serve_generate},
    {"/api/chat", 1, 0, rn_serve_generate},
    {"/api/tags", 0, 0, tags},
    {"/api/version", 0, 0, version},
    {"/openapi.json", 0, 0, openapi},
    {"/docs", 0, 0, docs},
};

/* Constant-time comparison, so the time taken tells nothing of the key. */
static int key_matches(const char *given, const char *key)
{
    size_t n = strlen(key), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

static int authorised(struct rn_serve *S, struct rn_http_req *r)
{
    pthread_rwlock_rdlock(&S->lock);
    int ok = 1;
    if (S->live.api_key[0]) {
        const char *h = rn_http_header(r, "Authorization");
        ok = h && strncmp(h, "Bearer ", 7) == 0 && key_matches(h + 7, S->live.api_key);
    }
    pthread_rwlock_unlock(&S->lock);
    return ok;
}

void rn_serve_handle(struct rn_http_req *r)
{
    struct rn_serve *S = r->ctx;
    if (r->resumed) /* only generations suspend */
        return rn_serve_generate(S, r);
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !rt; i++)
        if (routes[i].prefix ? strncmp(r->path, routes[i].path, strlen(routes[i].path)) == 0 &&
                                   r->path[strlen(routes[i].path)]
                             : strcmp(r->path, routes[i].path) == 0)
            rt = &routes[i];
    /* probes and the docs page (a browser cannot send the key to open it) go free */
    int open_path = rt && (rt->fn == health || rt->fn == docs);
    if (!open_path && !authorised(S, r)) {
        rn_http_add_header(r, "WWW-Authenticate", "Bearer");
        return rn_serve_error(r, 401, NULL, "invalid_api_key",
                              "missing or wrong API key: send Authorization: Bearer KEY");
    }
    if (!rt)
        return rn_serve_error(r, 404, NULL, NULL, "no such path: %.200s", r->path);
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (rt->post ? strcmp(r->method, "POST") != 0 : !get) {
        rn_http_add_header(r, "Allow", rt->post ? "POST" : "GET, HEAD");
        return rn_serve_error(r, 405, NULL, NULL, "%.20s is not allowed on %.200s (use %s)",
                              r->method, r->path, rt->post ? "POST" : "GET");
    }
    if (S->draining && rt->fn != health) {
        rn_http_add_header(r, "Connection", "close");
        return rn_serve_error(r, 503, NULL, NULL, "the server is shutting down");
    }
    rt->fn(S, r);
}

/* Append s (at most 600 bytes of it) to the line: bare when the human
 * form allows, else as a JSON string, so no client-chosen path can forge a
 * field or a line. */
static int put_str(struct rn_buf *b, const char *s, int json)
{
    size_t n = strnlen(s, 600);
    if (!json && s[n] == 0 && rn_log_bare(s))
        return rn_buf_put(b, s, n);
    return rn_buf_put(b, "\"", 1) | rn_buf_json(b, s, n) | rn_buf_put(b, "\"", 1);
}

/* One line per request, written with a single write: formatting it here
 * rather than through cJSON and rn_log_json more than doubled the
 * requests per second of /health (bench/serve.sh). */
static void log_request(const struct rn_http_req *r, double secs)
{
    struct rn_buf b = {0};
    char tok[64] = "";
    int json = rn_log_is_json(), bad;
    if (r->prompt_tokens || r->completion_tokens)
        snprintf(tok, sizeof tok, json ? ",\"prompt_tokens\":%d,\"completion_tokens\":%d"
                                       : " prompt_tokens=%d completion_tokens=%d",
                 r->prompt_tokens, r->completion_tokens);
    if (json) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        bad = rn_buf_printf(&b, "{\"ts\":%.3f,\"prog\":\"%s\",\"level\":\"info\","
                            "\"msg\":\"request\",\"method\":",
                            (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, rn_progname()) |
              put_str(&b, r->method, 1) | rn_buf_put(&b, ",\"path\":", 8) |
              put_str(&b, r->path, 1) |
              rn_buf_printf(&b, ",\"status\":%d,\"ms\":%.2f%s,\"id\":\"%s\",\"client\":\"%s\"}\n",
                            r->status, secs * 1e3, tok, r->id, r->client);
    } else {
        bad = rn_buf_printf(&b, "%s: request method=", rn_progname()) |
              put_str(&b, r->method, 0) | rn_buf_put(&b, " path=", 6) | put_str(&b, r->path, 0) |
              rn_buf_printf(&b, " status=%d ms=%.2f%s id=%s client=%s\n", r->status, secs * 1e3,
                            tok, r->id, r->client);
    }
    if (!bad)
        fwrite(b.p, 1, b.n, stderr);
    rn_buf_free(&b);
}

void rn_serve_done(struct rn_http_req *r)
{
    struct rn_serve *S = r->ctx;
    double secs = rn_now() - r->t0;
    rn_serve_metrics_count(S->metrics, r->path, r->status, secs);
    pthread_rwlock_rdlock(&S->lock);
    int log = S->live.log_requests;
    pthread_rwlock_unlock(&S->lock);
    if (log && rn_log_level() >= RN_LOG_INFO)
        log_request(r, secs);
}
