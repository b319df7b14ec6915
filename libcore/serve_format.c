/* serve_format — the answers of the generation endpoints in each family's
 * shape (doc/serve.md): OpenAI objects and server-sent events, Ollama
 * objects and NDJSON lines, the seed's {"prediction": ...}. Model text may
 * hold any bytes; it is made valid UTF-8 before it goes into JSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_gen.h"
#include "utf8.h"

static void out_put(struct serve_gen *g, const char *p, size_t n)
{
    if (!g->oom && rn_buf_put(&g->out, p, n) < 0)
        g->oom = 1;
}

/* Append o as one event (SSE "data: …\n\n") or line (NDJSON); frees o. */
static void emit(struct serve_gen *g, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        g->oom = 1;
        return;
    }
    int sse = g->api == API_COMPLETION || g->api == API_CHAT;
    if (sse)
        out_put(g, "data: ", 6);
    out_put(g, s, strlen(s));
    out_put(g, sse ? "\n\n" : "\n", sse ? 2 : 1);
    free(s);
}

static cJSON *add_text(cJSON *o, const char *name, const char *p, size_t n)
{
    char *t = rn_utf8_sanitize(p, n, NULL);
    cJSON *s = cJSON_AddStringToObject(o, name, t ? t : "");
    free(t);
    return s;
}

void rn_serve_iso_time(const struct timespec *t, char *buf, size_t size)
{
    struct tm tm;
    gmtime_r(&t->tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%09ldZ", day, t->tv_nsec);
}

static const char *openai_finish(const char *f) { return strcmp(f, "length") == 0 ? "length" : "stop"; }

/* The fields every OpenAI object starts with. */
static cJSON *openai_object(struct serve_gen *g, const char *object)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", g->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)g->created);
    cJSON_AddStringToObject(o, "model", g->S->name);
    return o;
}

static void add_usage(cJSON *o, const struct rn_job_result *res)
{
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", res->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", res->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", res->prompt_tokens + res->completion_tokens);
}

/* One OpenAI choice: text for completions, message or delta for chat. */
static cJSON *openai_choice(struct serve_gen *g, cJSON *choices, const char *p, size_t n,
                            const char *finish, int role)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c);
    cJSON_AddNumberToObject(c, "index", 0);
    if (g->api == API_COMPLETION) {
        add_text(c, "text", p, n);
        cJSON_AddNullToObject(c, "logprobs");
    } else {
        cJSON *m = cJSON_AddObjectToObject(c, g->stream ? "delta" : "message");
        if (role)
            cJSON_AddStringToObject(m, "role", "assistant");
        if (p)
            add_text(m, "content", p, n);
        cJSON_AddNullToObject(c, "logprobs");
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", openai_finish(finish));
    else
        cJSON_AddNullToObject(c, "finish_reason");
    return c;
}

/* The fields every Ollama object starts with. */
static cJSON *ollama_object(struct serve_gen *g)
{
    char when[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rn_serve_iso_time(&now, when, sizeof when);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", g->S->name);
    cJSON_AddStringToObject(o, "created_at", when);
    return o;
}

static void ollama_text(struct serve_gen *g, cJSON *o, const char *p, size_t n)
{
    if (g->api == API_OLLAMA_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        add_text(m, "content", p, n);
    } else
        add_text(o, "response", p, n);
}

static void ollama_done(struct serve_gen *g, cJSON *o, const struct rn_job_result *res)
{
    cJSON_AddBoolToObject(o, "done", 1);
    cJSON_AddStringToObject(o, "done_reason", res->finish);
    if (g->api == API_OLLAMA_GENERATE) {
        cJSON *ctx = cJSON_AddArrayToObject(o, "context");
        for (int i = 0; i < res->n_ids; i++)
            cJSON_AddItemToArray(ctx, cJSON_CreateNumber(res->ids[i]));
    }
    double total = res->queued_s + res->prefill_s + res->decode_s;
    cJSON_AddNumberToObject(o, "total_duration", (double)(long long)(total * 1e9));
    cJSON_AddNumberToObject(o, "load_duration", (double)(long long)(res->queued_s * 1e9));
    cJSON_AddNumberToObject(o, "prompt_eval_count", res->prompt_tokens);
    cJSON_AddNumberToObject(o, "prompt_eval_duration", (double)(long long)(res->prefill_s * 1e9));
    cJSON_AddNumberToObject(o, "eval_count", res->completion_tokens);
    cJSON_AddNumberToObject(o, "eval_duration", (double)(long long)(res->decode_s * 1e9));
}

void rn_serve_fmt_start(struct serve_gen *g)
{
    if (g->api != API_CHAT)
        return;
    cJSON *o = openai_object(g, "chat.completion.chunk");
    openai_choice(g, cJSON_AddArrayToObject(o, "choices"), "", 0, NULL, 1);
    emit(g, o);
}

void rn_serve_fmt_piece(struct serve_gen *g, const char *p, size_t n)
{
    cJSON *o;
    switch (g->api) {
    case API_COMPLETION:
    case API_CHAT:
        o = openai_object(g, g->api == API_CHAT ? "chat.completion.chunk" : "text_completion");
        openai_choice(g, cJSON_AddArrayToObject(o, "choices"), p, n, NULL, 0);
        break;
    default:
        o = ollama_object(g);
        ollama_text(g, o, p, n);
        cJSON_AddBoolToObject(o, "done", 0);
    }
    emit(g, o);
}

void rn_serve_fmt_end(struct serve_gen *g, const struct rn_job_result *res)
{
    if (g->api == API_COMPLETION || g->api == API_CHAT) {
        int chat = g->api == API_CHAT;
        cJSON *o = openai_object(g, chat ? "chat.completion.chunk" : "text_completion");
        openai_choice(g, cJSON_AddArrayToObject(o, "choices"), chat ? NULL : "", 0,
                      res->finish, 0);
        emit(g, o);
        if (g->include_usage) {
            o = openai_object(g, chat ? "chat.completion.chunk" : "text_completion");
            cJSON_AddArrayToObject(o, "choices");
            add_usage(o, res);
            emit(g, o);
        }
        out_put(g, "data: [DONE]\n\n", 14);
        return;
    }
    cJSON *o = ollama_object(g);
    ollama_text(g, o, "", 0);
    ollama_done(g, o, res);
    emit(g, o);
}

cJSON *rn_serve_fmt_whole(struct serve_gen *g, const char *text, size_t n,
                          const struct rn_job_result *res)
{
    cJSON *o;
    switch (g->api) {
    case API_PREDICT:
        o = cJSON_CreateObject();
        add_text(o, "prediction", text, n);
        cJSON_AddStringToObject(o, "model", g->S->name);
        break;
    case API_COMPLETION:
    case API_CHAT:
        o = openai_object(g, g->api == API_CHAT ? "chat.completion" : "text_completion");
        openai_choice(g, cJSON_AddArrayToObject(o, "choices"), text, n, res->finish, 1);
        add_usage(o, res);
        break;
    default:
        o = ollama_object(g);
        ollama_text(g, o, text, n);
        ollama_done(g, o, res);
    }
    return o;
}
