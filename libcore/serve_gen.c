/* serve_gen — the generation endpoints: read the request (each family's
 * field names, types and ranges, 400 naming the parameter), build the
 * prompt (the chat template of doc/serve.md), encode it as generate does,
 * queue a job (503 when the queue is full), then either suspend until it
 * ends or stream its text as it comes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lm_load.h"
#include "log.h"
#include "serve_gen.h"
#include "utf8.h"

#define MAX_USER_STOP 4
#define STOP_MAX_BYTES 256

/* What one request asks for, read from its body. */
struct ask {
    char *prompt;                /* malloc'd */
    int max_tokens, has_max;
    struct rn_sample_params sp;
    long long seed;
    int has_seed;
    const char *stop[RN_JOB_MAX_STOP];
    int nstop, chat, stream, include_usage, load_only, ignore_eos;
};

static int bad(struct rn_http_req *r, const char *param, const char *fmt, const char *name)
{
    rn_serve_error(r, 400, param, NULL, fmt, name);
    return -1;
}

static const cJSON *field(const cJSON *o, const char *name)
{
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    return it && !cJSON_IsNull(it) ? it : NULL;
}

/* 1 and *v if present, 0 if absent or null, -1 (answered 400) if wrong. */
static int get_int(struct rn_http_req *r, const cJSON *o, const char *name, const char *param,
                   long long lo, long long hi, long long *v)
{
    const cJSON *it = field(o, name);
    if (!it)
        return 0;
    double d = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d))
        return bad(r, param, "'%s' must be an integer", param);
    if (d < (double)lo || d > (double)hi) {
        rn_serve_error(r, 400, param, NULL, "'%s' must be between %lld and %lld (got %.0f)",
                       param, lo, hi, d);
        return -1;
    }
    *v = (long long)d;
    return 1;
}

static int get_num(struct rn_http_req *r, const cJSON *o, const char *name, const char *param,
                   double lo, double hi, int lo_open, float *v)
{
    const cJSON *it = field(o, name);
    if (!it)
        return 0;
    double d = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(d))
        return bad(r, param, "'%s' must be a number", param);
    if (d < lo || (lo_open && d == lo) || d > hi) {
        rn_serve_error(r, 400, param, NULL, "'%s' must be in %s%g, %g] (got %g)", param,
                       lo_open ? "(" : "[", lo, hi, d);
        return -1;
    }
    *v = (float)d;
    return 1;
}

static int get_bool(struct rn_http_req *r, const cJSON *o, const char *name, const char *param,
                    int *v)
{
    const cJSON *it = field(o, name);
    if (!it)
        return 0;
    if (!cJSON_IsBool(it))
        return bad(r, param, "'%s' must be true or false", param);
    *v = cJSON_IsTrue(it);
    return 1;
}

/* A string field: *v points into o. */
static int get_str(struct rn_http_req *r, const cJSON *o, const char *name, const char *param,
                   const char **v)
{
    const cJSON *it = field(o, name);
    if (!it)
        return 0;
    if (!cJSON_IsString(it))
        return bad(r, param, "'%s' must be a string", param);
    *v = it->valuestring;
    return 1;
}

static int add_stop(struct rn_http_req *r, struct ask *a, const char *s, const char *param)
{
    if (!s[0])
        return 0;
    if (strlen(s) > STOP_MAX_BYTES) {
        rn_serve_error(r, 400, param, NULL, "'%s': a stop string is at most %d bytes", param,
                       STOP_MAX_BYTES);
        return -1;
    }
    if (a->nstop >= MAX_USER_STOP) {
        rn_serve_error(r, 400, param, NULL, "'%s': at most %d stop strings", param, MAX_USER_STOP);
        return -1;
    }
    a->stop[a->nstop++] = s;
    return 0;
}

static int get_stop(struct rn_http_req *r, const cJSON *o, const char *param, struct ask *a)
{
    const cJSON *it = field(o, "stop");
    if (!it)
        return 0;
    if (cJSON_IsString(it))
        return add_stop(r, a, it->valuestring, param);
    if (!cJSON_IsArray(it))
        return bad(r, param, "'%s' must be a string or an array of strings", param);
    for (const cJSON *s = it->child; s; s = s->next) {
        if (!cJSON_IsString(s))
            return bad(r, param, "'%s' must be a string or an array of strings", param);
        if (add_stop(r, a, s->valuestring, param) < 0)
            return -1;
    }
    return 0;
}

/* ---- prompts ------------------------------------------------------------------ */

/* The chat template: "Role: content\n" per message, then "Assistant:". */
static int chat_prompt(struct rn_http_req *r, const cJSON *msgs, struct ask *a)
{
    if (!cJSON_IsArray(msgs))
        return bad(r, "messages", "'%s' must be an array of {role, content} objects", "messages");
    struct rn_buf t = {0};
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        const char *role = NULL;
        char param[48];
        snprintf(param, sizeof param, "messages[%d]", i);
        if (!cJSON_IsObject(m)) {
            rn_buf_free(&t);
            return bad(r, param, "'%s' must be an object with role and content", param);
        }
        int rc = get_str(r, m, "role", "role", &role);
        if (rc <= 0) {
            rn_buf_free(&t);
            return rc < 0 ? -1 : bad(r, param, "'%s' has no role", param);
        }
        const char *Role = strcmp(role, "system") == 0 || strcmp(role, "developer") == 0 ? "System"
                           : strcmp(role, "user") == 0                                ? "User"
                           : strcmp(role, "assistant") == 0                           ? "Assistant"
                                                                                      : NULL;
        if (!Role) {
            rn_buf_free(&t);
            return bad(r, param, "'%s': role must be system, user or assistant", param);
        }
        const cJSON *c = field(m, "content");
        int ok = rn_buf_put(&t, Role, strlen(Role)) == 0 && rn_buf_put(&t, ": ", 2) == 0;
        if (c && cJSON_IsString(c))
            ok = ok && rn_buf_put(&t, c->valuestring, strlen(c->valuestring)) == 0;
        else if (c && cJSON_IsArray(c)) {
            /* OpenAI content parts: the text ones, in order */
            for (const cJSON *part = c->child; part && ok; part = part->next) {
                const cJSON *txt = field(part, "text");
                if (!cJSON_IsObject(part) || !txt || !cJSON_IsString(txt)) {
                    rn_buf_free(&t);
                    return bad(r, param, "'%s': only text content parts are supported", param);
                }
                ok = rn_buf_put(&t, txt->valuestring, strlen(txt->valuestring)) == 0;
            }
        } else if (c || strcmp(role, "assistant") != 0) { /* only an assistant's may be absent */
            rn_buf_free(&t);
            return bad(r, param, "'%s': content must be a string", param);
        }
        if (!ok || rn_buf_put(&t, "\n", 1) < 0) {
            rn_buf_free(&t);
            rn_serve_error(r, 500, NULL, NULL, "out of memory");
            return -1;
        }
    }
    if (i == 0)
        a->load_only = 1;
    if (rn_buf_put(&t, "Assistant:", 10) < 0) {
        rn_buf_free(&t);
        rn_serve_error(r, 500, NULL, NULL, "out of memory");
        return -1;
    }
    a->prompt = t.p; /* the buffer passes to a */
    a->chat = 1;
    a->stop[a->nstop++] = "\nUser:";
    a->stop[a->nstop++] = "\nSystem:";
    return 0;
}

/* ---- each family's fields ----------------------------------------------------- */

static int check_model(struct rn_serve *S, struct rn_http_req *r, const cJSON *o, int required)
{
    const char *m = NULL;
    int rc = get_str(r, o, "model", "model", &m);
    if (rc < 0)
        return -1;
    if (!rc) {
        if (required)
            return bad(r, "model", "'%s' is required", "model");
        return 0;
    }
    size_t n = strlen(S->name);
    if (strcmp(m, S->name) == 0 || (strncmp(m, S->name, n) == 0 && strcmp(m + n, ":latest") == 0))
        return 0;
    rn_serve_error(r, 404, "model", "model_not_found",
                   "model '%.200s' not found (this server has '%s')", m, S->name);
    return -1;
}

static int openai_fields(struct rn_serve *S, struct rn_http_req *r, const cJSON *o, int api,
                         struct ask *a)
{
    long long v;
    int rc;
    if (check_model(S, r, o, 0) < 0)
        return -1;
    if (api == API_CHAT) {
        const cJSON *msgs = field(o, "messages");
        if (!msgs)
            return bad(r, "messages", "'%s' is required", "messages");
        if (chat_prompt(r, msgs, a) < 0)
            return -1;
        if (a->load_only)
            return bad(r, "messages", "'%s' must not be empty", "messages");
    } else {
        const cJSON *p = field(o, "prompt");
        if (p && cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child))
            p = p->child;
        if (!p)
            return bad(r, "prompt", "'%s' is required", "prompt");
        if (!cJSON_IsString(p))
            return bad(r, "prompt", "'%s' must be a string (or an array of one string)", "prompt");
        if (!(a->prompt = strdup(p->valuestring))) {
            rn_serve_error(r, 500, NULL, NULL, "out of memory");
            return -1;
        }
    }
    if ((rc = get_int(r, o, "max_tokens", "max_tokens", 1, 1 << 30, &v)) < 0)
        return -1;
    if (!rc && (rc = get_int(r, o, "max_completion_tokens", "max_completion_tokens", 1, 1 << 30, &v)) < 0)
        return -1;
    if (rc)
        a->max_tokens = (int)v, a->has_max = 1;
    if (get_num(r, o, "temperature", "temperature", 0, 2, 0, &a->sp.temperature) < 0 ||
        get_num(r, o, "top_p", "top_p", 0, 1, 1, &a->sp.top_p) < 0 ||
        get_num(r, o, "repetition_penalty", "repetition_penalty", 1e-3, 1e3, 0,
                &a->sp.repetition_penalty) < 0)
        return -1;
    if ((rc = get_int(r, o, "top_k", "top_k", 0, 1 << 24, &v)) < 0)
        return -1;
    if (rc)
        a->sp.top_k = (int)v;
    if ((rc = get_int(r, o, "seed", "seed", INT64_MIN, INT64_MAX, &a->seed)) < 0)
        return -1;
    a->has_seed = rc;
    if ((rc = get_int(r, o, "n", "n", 1, 1, &v)) < 0)
        return -1;
    if (get_stop(r, o, "stop", a) < 0 || get_bool(r, o, "stream", "stream", &a->stream) < 0 ||
        get_bool(r, o, "ignore_eos", "ignore_eos", &a->ignore_eos) < 0)
        return -1;
    const cJSON *so = field(o, "stream_options");
    if (so && !cJSON_IsObject(so))
        return bad(r, "stream_options", "'%s' must be an object", "stream_options");
    if (get_bool(r, so, "include_usage", "stream_options.include_usage", &a->include_usage) < 0)
        return -1;
    /* refused rather than silently ignored: the answer would not be what was asked */
    static const char *const zero[] = {"frequency_penalty", "presence_penalty"};
    for (int i = 0; i < 2; i++) {
        float z = 0;
        if (get_num(r, o, zero[i], zero[i], -2, 2, 0, &z) < 0)
            return -1;
        if (z != 0)
            return bad(r, zero[i], "'%s' is not supported (use repetition_penalty)", zero[i]);
    }
    static const char *const unsupported[] = {"logprobs", "echo", "suffix", "tools", "functions"};
    for (int i = 0; i < 5; i++) {
        const cJSON *it = field(o, unsupported[i]);
        if (it && !cJSON_IsFalse(it))
            return bad(r, unsupported[i], "'%s' is not supported", unsupported[i]);
    }
    if ((rc = get_int(r, o, "best_of", "best_of", 1, 1, &v)) < 0)
        return -1;
    return 0;
}

static int ollama_fields(struct rn_serve *S, struct rn_http_req *r, const cJSON *o, int api,
                         struct ask *a)
{
    long long v;
    int rc;
    if (check_model(S, r, o, 1) < 0)
        return -1;
    a->stream = 1; /* Ollama streams unless told not to */
    if (get_bool(r, o, "stream", "stream", &a->stream) < 0)
        return -1;
    if (api == API_OLLAMA_CHAT) {
        const cJSON *msgs = field(o, "messages");
        if (!msgs)
            a->load_only = 1;
        else if (chat_prompt(r, msgs, a) < 0)
            return -1;
    } else {
        const char *prompt = "", *system = NULL;
        if (get_str(r, o, "prompt", "prompt", &prompt) < 0 ||
            get_str(r, o, "system", "system", &system) < 0)
            return -1;
        if (!prompt[0])
            a->load_only = 1;
        size_t n = strlen(prompt) + (system ? strlen(system) + 1 : 0) + 1;
        if (!(a->prompt = malloc(n))) {
            rn_serve_error(r, 500, NULL, NULL, "out of memory");
            return -1;
        }
        snprintf(a->prompt, n, "%s%s%s", system ? system : "", system ? "\n" : "", prompt);
    }
    const cJSON *opt = field(o, "options");
    if (opt && !cJSON_IsObject(opt))
        return bad(r, "options", "'%s' must be an object", "options");
    if ((rc = get_int(r, opt, "num_predict", "options.num_predict", -2, 1 << 30, &v)) < 0)
        return -1;
    if (rc && v > 0)
        a->max_tokens = (int)v, a->has_max = 1;
    else if (rc && v < 0) /* Ollama's -1 (no limit) and -2 (fill the context) */
        a->max_tokens = 0, a->has_max = 2;
    if (get_num(r, opt, "temperature", "options.temperature", 0, 100, 0, &a->sp.temperature) < 0 ||
        get_num(r, opt, "top_p", "options.top_p", 0, 1, 1, &a->sp.top_p) < 0 ||
        get_num(r, opt, "repeat_penalty", "options.repeat_penalty", 1e-3, 1e3, 0,
                &a->sp.repetition_penalty) < 0)
        return -1;
    if (get_bool(r, opt, "ignore_eos", "options.ignore_eos", &a->ignore_eos) < 0 ||
        (rc = get_int(r, opt, "top_k", "options.top_k", 0, 1 << 24, &v)) < 0)
        return -1;
    if (rc)
        a->sp.top_k = (int)v;
    if ((rc = get_int(r, opt, "seed", "options.seed", INT64_MIN, INT64_MAX, &a->seed)) < 0)
        return -1;
    a->has_seed = rc;
    return get_stop(r, opt, "options.stop", a);
}

static int predict_fields(struct rn_http_req *r, const cJSON *o, struct ask *a)
{
    const char *in = rn_http_query(r, "input");
    long long v;
    int rc;
    if (o && get_str(r, o, "input", "input", &in) < 0)
        return -1;
    if (!in)
        return bad(r, "input", "'%s' is required (in the JSON body or as ?input=)", "input");
    if (!(a->prompt = strdup(in))) {
        rn_serve_error(r, 500, NULL, NULL, "out of memory");
        return -1;
    }
    if ((rc = get_int(r, o, "max_tokens", "max_tokens", 1, 1 << 30, &v)) < 0)
        return -1;
    if (rc)
        a->max_tokens = (int)v, a->has_max = 1;
    if (get_num(r, o, "temperature", "temperature", 0, 100, 0, &a->sp.temperature) < 0 ||
        (rc = get_int(r, o, "seed", "seed", INT64_MIN, INT64_MAX, &a->seed)) < 0)
        return -1;
    a->has_seed = rc;
    return 0;
}

/* ---- the request's life --------------------------------------------------------- */

static void gen_free(struct rn_http_req *r)
{
    struct serve_gen *g = r->app;
    if (g->job) {
        rn_job_set_wake(g->job, NULL, NULL); /* no wake may reach a freed request */
        rn_job_release(g->job);
    }
    rn_buf_free(&g->out);
    free(g);
    r->app = NULL;
}

static void wake(void *arg) { rn_http_resume(arg); }

static void note_tokens(struct rn_http_req *r, const struct rn_job_result *res)
{
    r->prompt_tokens = res->prompt_tokens;
    r->completion_tokens = res->completion_tokens;
}

/* The stream's producer (http.h's rn_http_reader). */
static ssize_t stream_read(struct rn_http_req *r, char *buf, size_t max)
{
    struct serve_gen *g = r->app;
    for (;;) {
        if (g->oom)
            return -1;
        if (g->pos < g->out.n) {
            size_t k = g->out.n - g->pos < max ? g->out.n - g->pos : max;
            memcpy(buf, g->out.p + g->pos, k);
            g->pos += k;
            return (ssize_t)k;
        }
        g->out.n = g->pos = 0;
        if (g->phase == PHASE_DONE)
            return -1;
        if (g->phase == PHASE_START) {
            rn_serve_fmt_start(g);
            g->phase = PHASE_BODY;
            continue;
        }
        const char *p;
        int done;
        rn_job_lock(g->job);
        size_t n = rn_job_take(g->job, &p, &done);
        if (n)
            rn_serve_fmt_piece(g, p, n);
        else if (done) {
            struct rn_job_result res;
            rn_job_result(g->job, &res);
            rn_serve_fmt_end(g, &res);
            note_tokens(r, &res);
            g->phase = PHASE_DONE;
        } else if (!rn_job_want_wake(g->job, 0)) {
            rn_http_suspend(r); /* under the job's lock: the wake cannot come first */
            rn_job_unlock(g->job);
            return 0;
        }
        rn_job_unlock(g->job);
    }
}

/* A request that does not stream: suspend until its job ends, then answer. */
static void finish_whole(struct rn_http_req *r, struct serve_gen *g)
{
    if (r->resumed && rn_http_peer_gone(r)) { /* gen_free then cancels the job */
        rn_http_abort(r);
        return;
    }
    rn_job_lock(g->job);
    if (!rn_job_want_wake(g->job, 1)) {
        rn_http_suspend(r);
        rn_job_unlock(g->job);
        return;
    }
    const char *p;
    int done;
    size_t n = rn_job_take(g->job, &p, &done);
    struct rn_job_result res;
    rn_job_result(g->job, &res);
    note_tokens(r, &res);
    if (strcmp(res.finish, "cancelled") == 0 || strcmp(res.finish, "error") == 0) {
        rn_job_unlock(g->job);
        int down = strcmp(res.finish, "cancelled") == 0;
        rn_serve_error(r, down ? 503 : 500, NULL, NULL, "%s",
                       down ? "the server is shutting down" : "generation failed");
        return;
    }
    cJSON *o = rn_serve_fmt_whole(g, p, n, &res);
    rn_job_unlock(g->job);
    rn_serve_reply_json(r, 200, o);
}

/* Ollama's answer to a request with no prompt: the model is "loaded". */
static void load_only(struct serve_gen *g, struct rn_http_req *r)
{
    struct rn_job_result res = {"load", 0, 0, NULL, 0, 0, 0, 0};
    rn_serve_reply_json(r, 200, rn_serve_fmt_whole(g, "", 0, &res));
}

static int api_of(const char *path)
{
    return strcmp(path, "/predict") == 0               ? API_PREDICT
           : strcmp(path, "/v1/completions") == 0      ? API_COMPLETION
           : strcmp(path, "/v1/chat/completions") == 0 ? API_CHAT
           : strcmp(path, "/api/generate") == 0        ? API_OLLAMA_GENERATE
                                                       : API_OLLAMA_CHAT;
}

/* Encode the prompt as generate does (rn_lm_prompt_ids). */
static int encode(struct rn_serve *S, struct rn_http_req *r, const char *prompt,
                  struct rn_bpe_ids *ids)
{
    struct rn_err e = {0};
    if (rn_lm_prompt_ids(&S->b, prompt, strlen(prompt), S->m.cfg.block_size, ids, NULL, &e) < 0) {
        rn_serve_error(r, e.code == RN_ENOMEM ? 500 : 400, "prompt", NULL, "prompt: %s", e.msg);
        return -1;
    }
    if (ids->n == 0) {
        rn_serve_error(r, 400, "prompt", NULL, "the prompt is empty");
        return -1;
    }
    return 0;
}

static void start(struct rn_serve *S, struct rn_http_req *r)
{
    int api = api_of(r->path);
    cJSON *o = NULL;
    if (r->body.n > 0 || api != API_PREDICT) {
        if (!rn_utf8_valid(r->body.p, r->body.n))
            return rn_serve_error(r, 400, NULL, NULL, "the body is not valid UTF-8");
        o = cJSON_ParseWithLength(r->body.p, r->body.n);
        if (!o)
            return rn_serve_error(r, 400, NULL, NULL, "the body is not valid JSON");
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return rn_serve_error(r, 400, NULL, NULL, "the body must be a JSON object");
        }
    }
    struct ask a = {0};
    pthread_rwlock_rdlock(&S->lock);
    a.sp = S->live.sp;
    int cap = S->live.max_tokens, def = S->live.default_max_tokens, retry = S->live.retry_after;
    pthread_rwlock_unlock(&S->lock);
    int rc = api == API_PREDICT                            ? predict_fields(r, o, &a)
             : api == API_COMPLETION || api == API_CHAT ? openai_fields(S, r, o, api, &a)
                                                          : ollama_fields(S, r, o, api, &a);
    struct serve_gen *g = NULL;
    struct rn_bpe_ids ids = {0};
    struct rn_err e = {0};
    if (rc < 0)
        goto out;
    if (!a.has_max)
        a.max_tokens = def;
    else if (a.has_max == 2)
        a.max_tokens = cap;
    if (a.max_tokens > cap) {
        rn_serve_error(r, 400, "max_tokens", NULL,
                       "max_tokens: %d is more than this server allows (%d)", a.max_tokens, cap);
        goto out;
    }
    if (!(g = calloc(1, sizeof *g))) {
        rn_serve_error(r, 500, NULL, NULL, "out of memory");
        goto out;
    }
    g->S = S, g->api = api, g->stream = a.stream, g->include_usage = a.include_usage;
    g->created = (long long)time(NULL);
    snprintf(g->id, sizeof g->id, "%s-%s", api == API_CHAT ? "chatcmpl" : "cmpl", r->id);
    r->app = g, r->app_free = gen_free;
    if (a.load_only) {
        load_only(g, r);
        goto out;
    }
    if (encode(S, r, a.prompt, &ids) < 0)
        goto out;
    uint64_t seed = a.has_seed ? (uint64_t)a.seed
                               : __atomic_fetch_add(&S->seed_next, 0x9E3779B97F4A7C15ull,
                                                    __ATOMIC_RELAXED);
    struct rn_job_request req = {ids.v,   (int)ids.n, a.max_tokens, a.sp,
                                 seed,    {0},        a.nstop,      a.chat,
                                 a.ignore_eos};
    memcpy(req.stop, a.stop, sizeof req.stop);
    if (rn_job_new(&g->job, &req, &e) < 0) {
        rn_serve_error(r, 500, NULL, NULL, "%s", e.msg);
        goto out;
    }
    rn_job_set_wake(g->job, wake, r);
    rc = rn_genq_submit(S->q, g->job, &e);
    if (rc == RN_ELIMIT) {
        char s[24];
        snprintf(s, sizeof s, "%d", retry);
        rn_http_add_header(r, "Retry-After", s);
        rn_serve_error(r, 503, NULL, NULL, "busy: %s; retry after %d s", e.msg, retry);
    } else if (rc < 0)
        rn_serve_error(r, 503, NULL, NULL, "the server is shutting down");
    else if (g->stream)
        rn_http_stream(r, 200, api == API_COMPLETION || api == API_CHAT
                                   ? "text/event-stream"
                                   : "application/x-ndjson",
                       stream_read);
    else
        finish_whole(r, g);
out:
    rn_bpe_ids_free(&ids);
    free(a.prompt);
    cJSON_Delete(o);
}

void rn_serve_generate(struct rn_serve *S, struct rn_http_req *r)
{
    if (!r->resumed)
        start(S, r);
    else if (r->app)
        finish_whole(r, r->app);
}
