/* http — the server glue between libmicrohttpd and an application: a
 * thread pool on epoll, whole request bodies (bounded) handed to one
 * handler, request ids, a deadline on receiving each request (so a client
 * trickling a byte a second is cut off), suspended connections for work
 * that finishes later, streamed responses, and graceful shutdown.
 *
 * The handler runs on a pool thread and must not block. It either answers
 * at once (rn_http_reply*), starts a stream (rn_http_stream), or suspends
 * the request (rn_http_suspend) and returns; when another thread calls
 * rn_http_resume, the handler runs again for the same request (r->app
 * still set) and answers then.
 *
 *     static void handle(struct rn_http_req *r) {
 *         if (strcmp(r->path, "/health") == 0)
 *             rn_http_reply(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
 *     }
 *     struct rn_http_opts o = RN_HTTP_DEFAULTS;
 *     o.handle = handle;
 *     rn_http_start(&s, &o, &e);
 */
#ifndef RN_HTTP_H
#define RN_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

struct MHD_Connection;
struct rn_http;

#define RN_HTTP_ID_MAX 64

struct rn_http_req {
    struct rn_http *srv;
    void *ctx;                   /* rn_http_opts.ctx */
    struct MHD_Connection *conn;
    const char *method;          /* "GET", ... (MHD's string) */
    char *path;                  /* the URL path, without the query */
    struct rn_buf body;          /* the whole body (NUL-terminated; may hold NULs) */
    char id[RN_HTTP_ID_MAX + 1]; /* request id (the client's X-Request-Id if sane) */
    char client[64];             /* peer address */
    double t0;                   /* rn_now() at the first byte handled */
    int status;                  /* status sent; 0 while none */
    int resumed;                 /* handler calls after the first */
    int prompt_tokens, completion_tokens; /* set by the application, for the log */
    /* The application's: its state, freed by app_free when the request ends. */
    void *app;
    void (*app_free)(struct rn_http_req *r);
    /* private */
    int too_big, suspended, answered, aborted;
    int parked;                  /* this handler call suspended (suspended may be reset by then) */
};

/* A stream's producer: copy up to max bytes into buf and return how many;
 * return 0 after calling rn_http_suspend when nothing is ready yet (the
 * producer's own lock held across both, so a resume cannot come between);
 * return -1 at the end of the stream. */
typedef ssize_t (*rn_http_reader)(struct rn_http_req *r, char *buf, size_t max);

struct rn_http_opts {
    const char *host;            /* numeric or resolvable address to bind */
    int port;                    /* 0: any free port (rn_http_port) */
    int threads;                 /* pool threads */
    int max_connections;
    size_t max_body;             /* longer bodies get 413 */
    double request_timeout;      /* seconds to deliver a whole request */
    int idle_timeout;            /* seconds of silence before a connection closes */
    void (*handle)(struct rn_http_req *r);
    /* After each request (answered, cut or abandoned), before app_free:
     * log it, count it. r->status is 499 when no answer was sent. */
    void (*done)(struct rn_http_req *r);
    /* Answers the errors this layer finds itself (413, 500) in the
     * application's shape; NULL: the message as plain text. */
    void (*error)(struct rn_http_req *r, int status, const char *msg);
    void *ctx;                   /* the application's, as r->ctx */
};

#define RN_HTTP_DEFAULTS \
    ((struct rn_http_opts){"127.0.0.1", 8080, 4, 512, 1u << 20, 30.0, 60, NULL, NULL, NULL, NULL})

/* Bind and start serving. RN_EIO (address in use, cannot bind: the
 * message says which), RN_EUSAGE (bad host), RN_ENOMEM. */
int rn_http_start(struct rn_http **out, const struct rn_http_opts *o, struct rn_err *e);
int rn_http_port(const struct rn_http *s);
/* Change the request timeout and body limit while running (SIGHUP). */
void rn_http_set_limits(struct rn_http *s, double request_timeout, size_t max_body);
/* Stop accepting connections (the listening socket closes); requests in
 * flight go on. */
void rn_http_quiesce(struct rn_http *s);
/* Requests started and not yet done. */
int rn_http_inflight(struct rn_http *s);
/* Close everything and free. NULL: no-op. */
void rn_http_stop(struct rn_http *s);

/* ---- in the handler ------------------------------------------------------- */

/* A request header or query argument, or NULL. */
const char *rn_http_header(struct rn_http_req *r, const char *name);
const char *rn_http_query(struct rn_http_req *r, const char *name);
/* Add a header to the response about to be sent (at most 8 per request;
 * copied). */
void rn_http_add_header(struct rn_http_req *r, const char *name, const char *value);
/* Answer with body (copied). */
void rn_http_reply(struct rn_http_req *r, int status, const char *type, const char *body,
                   size_t len);
/* Answer with a stream (chunked) read from `read`. */
void rn_http_stream(struct rn_http_req *r, int status, const char *type, rn_http_reader read);
/* Park the request (from the handler or a reader); rn_http_resume, from
 * any thread, wakes it. */
void rn_http_suspend(struct rn_http_req *r);
void rn_http_resume(struct rn_http_req *r);
/* Whether the client has closed its end (libmicrohttpd does not watch a
 * suspended connection); a handler that finds it so calls rn_http_abort,
 * which closes the connection when the handler returns. */
int rn_http_peer_gone(struct rn_http_req *r);
void rn_http_abort(struct rn_http_req *r);

#endif
