/* serve_gen — private to serve_gen.c (requests: parse, check, queue, wait)
 * and serve_format.c (answers: the JSON and the stream events of each
 * API family). */
#ifndef RN_SERVE_GEN_H
#define RN_SERVE_GEN_H

#include <time.h>

#include "buf.h"
#include "genq.h"
#include "serve.h"

enum serve_api {
    API_PREDICT,         /* the seed's /predict */
    API_COMPLETION,      /* OpenAI /v1/completions */
    API_CHAT,            /* OpenAI /v1/chat/completions */
    API_OLLAMA_GENERATE, /* /api/generate */
    API_OLLAMA_CHAT,     /* /api/chat */
};

enum { PHASE_START, PHASE_BODY, PHASE_DONE };

/* One generation request (r->app). */
struct serve_gen {
    struct rn_serve *S;
    int api, stream, include_usage;
    struct rn_job *job;
    char id[80];                 /* "cmpl-" / "chatcmpl-" and the request id */
    long long created;           /* Unix seconds */
    int phase;
    struct rn_buf out;           /* formatted bytes; those from pos on are not sent yet */
    size_t pos;
    int oom;
};

/* Append the stream's opening (OpenAI chat: the role delta), one piece of
 * text (n bytes, any bytes: made valid UTF-8 here), or its end (the
 * finish chunk, usage, [DONE] / the done:true line). */
void rn_serve_fmt_start(struct serve_gen *g);
void rn_serve_fmt_piece(struct serve_gen *g, const char *p, size_t n);
void rn_serve_fmt_end(struct serve_gen *g, const struct rn_job_result *res);
/* The whole answer of a request that does not stream (NULL on out of
 * memory), for rn_serve_reply_json. */
struct cJSON *rn_serve_fmt_whole(struct serve_gen *g, const char *text, size_t n,
                                 const struct rn_job_result *res);

#endif
