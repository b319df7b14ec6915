/* http — see http.h.
 *
 * Slow clients: libmicrohttpd's connection timeout is an idle timeout, so a
 * client sending one byte every second never trips it. Each connection is
 * therefore tracked from MHD's connection notifications with the time it
 * began waiting for a request (its opening, or the end of its previous
 * response); a sweeper thread shuts down the socket of any connection that
 * has not delivered a whole request within request_timeout, and MHD then
 * closes it as it would a client that hung up. MHD closes the descriptor
 * only after the CLOSED notification, which removes it from the list under
 * the same lock, so the sweeper never touches a reused descriptor. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "rng.h"

#define MAX_HEADERS 8

enum { CONN_WAITING, CONN_HANDLING, CONN_CUT };

struct conn {
    int fd, state;
    double since;
    struct conn *prev, *next;
};

struct rn_http {
    struct MHD_Daemon *d;
    struct rn_http_opts o;
    pthread_mutex_t mu;          /* conns, limits */
    struct conn *conns;
    int inflight, quit, port, nconn;
    pthread_t sweeper;
    pthread_cond_t cv;
    uint64_t id_base, id_next;
};

struct hdr {
    char *name, *value;
};

struct req_priv {
    struct rn_http_req r;
    struct hdr h[MAX_HEADERS];
    int nh;
    rn_http_reader reader;
};

/* ---- connections and the request deadline --------------------------------- */

static void notify_conn(void *cls, struct MHD_Connection *c, void **ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    struct rn_http *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn *k = calloc(1, sizeof *k);
        if (!k || !ci)
            return free(k);
        k->fd = ci->connect_fd;
        k->since = rn_now();
        pthread_mutex_lock(&s->mu);
        /* libmicrohttpd splits its own limit among the pool's threads, so
         * it is not exact; the exact one is counted here */
        if (++s->nconn > s->o.max_connections) {
            k->state = CONN_CUT;
            shutdown(k->fd, SHUT_RDWR);
        }
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        pthread_mutex_unlock(&s->mu);
        *ctx = k;
    } else if (*ctx) {
        struct conn *k = *ctx;
        pthread_mutex_lock(&s->mu);
        s->nconn--;
        if (k->prev)
            k->prev->next = k->next;
        else
            s->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&s->mu);
        free(k);
        *ctx = NULL;
    }
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_state(struct rn_http *s, struct MHD_Connection *c, int state)
{
    struct conn *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&s->mu);
    if (k->state != CONN_CUT)
        k->state = state;
    k->since = rn_now();
    pthread_mutex_unlock(&s->mu);
}

static void *sweep(void *arg)
{
    struct rn_http *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        double now = rn_now();
        for (struct conn *k = s->conns; k; k = k->next)
            if (k->state == CONN_WAITING && now - k->since > s->o.request_timeout) {
                k->state = CONN_CUT;
                shutdown(k->fd, SHUT_RDWR);
            }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long step = s->o.request_timeout < 2 ? 50000000L : 250000000L;
        ts.tv_nsec += step;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- requests --------------------------------------------------------------- */

static int sane_id(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= RN_HTTP_ID_MAX ||
            !((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z') ||
              (v[n] >= '0' && v[n] <= '9') || v[n] == '.' || v[n] == '_' || v[n] == '-'))
            return 0;
    return n > 0;
}

static struct req_priv *req_new(struct rn_http *s, struct MHD_Connection *c, const char *url,
                                const char *method)
{
    struct req_priv *p = calloc(1, sizeof *p);
    if (!p || !(p->r.path = strdup(url))) {
        free(p);
        return NULL;
    }
    struct rn_http_req *r = &p->r;
    r->srv = s, r->ctx = s->o.ctx, r->conn = c, r->method = method, r->t0 = rn_now();
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (v && sane_id(v))
        snprintf(r->id, sizeof r->id, "%s", v);
    else {
        uint64_t n = __atomic_add_fetch(&s->id_next, 1, __ATOMIC_RELAXED);
        uint64_t x = s->id_base + n * 0x9E3779B97F4A7C15ull;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        snprintf(r->id, sizeof r->id, "%016llx", (unsigned long long)(x ^ (x >> 31)));
    }
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client,
                      sizeof r->client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client,
                      sizeof r->client);
    }
    return p;
}

static void req_free(struct req_priv *p)
{
    if (p->r.app_free)
        p->r.app_free(&p->r);
    for (int i = 0; i < p->nh; i++)
        free(p->h[i].name), free(p->h[i].value);
    free(p->r.path);
    rn_buf_free(&p->r.body);
    free(p);
}

static int append(struct req_priv *p, const char *data, size_t n)
{
    struct rn_http_req *r = &p->r;
    if (r->body.n + n > __atomic_load_n(&r->srv->o.max_body, __ATOMIC_RELAXED)) {
        r->too_big = 1;
        return 0;
    }
    return rn_buf_put(&r->body, data, n);
}

static void error_reply(struct rn_http_req *r, int status, const char *msg)
{
    rn_http_add_header(r, "Connection", "close");
    if (r->srv->o.error) {
        r->srv->o.error(r, status, msg);
        return;
    }
    rn_http_reply(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx)
{
    struct rn_http *s = cls;
    struct req_priv *p = *ctx;
    if (!p) {
        if (!(p = req_new(s, c, url, method)))
            return MHD_NO;
        *ctx = p;
        __atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > __atomic_load_n(&s->o.max_body, __ATOMIC_RELAXED)) {
            p->r.too_big = 1;
            error_reply(&p->r, 413, "request body too large");
        }
        return MHD_YES;
    }
    struct rn_http_req *r = &p->r;
    if (*upload_size) {
        /* past the limit the rest is read and dropped: MHD takes an answer
         * only before the body or after it (the request deadline bounds
         * how long a client may keep sending) */
        if (!r->too_big && append(p, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (r->too_big) {
        error_reply(r, 413, "request body too large");
        return r->answered ? MHD_YES : MHD_NO;
    }
    if (!r->resumed)
        set_state(s, c, CONN_HANDLING);
    if (!r->body.p && rn_buf_put(&r->body, "", 0) < 0)
        return MHD_NO;
    r->parked = 0;
    s->o.handle(r);
    r->resumed++;
    if (r->aborted)
        return MHD_NO;
    /* not r->suspended: the wake may have come and cleared it already */
    if (!r->answered && !r->parked) { /* out of memory, or a bug: never spin */
        error_reply(r, 500, "internal error: no answer");
        if (!r->answered)
            return MHD_NO;
    }
    return MHD_YES;
}

static void on_done(void *cls, struct MHD_Connection *c, void **ctx,
                    enum MHD_RequestTerminationCode toe)
{
    struct rn_http *s = cls;
    struct req_priv *p = *ctx;
    if (!p)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && p->reader)
        p->r.status = 499; /* the stream did not reach its end */
    if (!p->r.status)
        p->r.status = 499;
    if (s->o.done)
        s->o.done(&p->r);
    req_free(p);
    *ctx = NULL;
    set_state(s, c, CONN_WAITING);
    __atomic_sub_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
}

/* ---- answering ------------------------------------------------------------------ */

const char *rn_http_header(struct rn_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *rn_http_query(struct rn_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void rn_http_add_header(struct rn_http_req *r, const char *name, const char *value)
{
    struct req_priv *p = (struct req_priv *)r;
    if (p->nh == MAX_HEADERS)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n), free(v);
        return;
    }
    p->h[p->nh++] = (struct hdr){n, v};
}

static void send_response(struct rn_http_req *r, int status, const char *type,
                          struct MHD_Response *resp)
{
    struct req_priv *p = (struct req_priv *)r;
    if (!resp)
        return;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (int i = 0; i < p->nh; i++)
        MHD_add_response_header(resp, p->h[i].name, p->h[i].value);
    if (MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES)
        r->status = status, r->answered = 1;
    MHD_destroy_response(resp);
}

void rn_http_reply(struct rn_http_req *r, int status, const char *type, const char *body,
                   size_t len)
{
    send_response(r, status, type,
                  MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY));
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req_priv *p = cls;
    ssize_t n = p->reader(&p->r, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

void rn_http_stream(struct rn_http_req *r, int status, const char *type, rn_http_reader read)
{
    struct req_priv *p = (struct req_priv *)r;
    p->reader = read;
    rn_http_add_header(r, "Cache-Control", "no-cache");
    send_response(r, status, type,
                  MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, p, NULL));
}

void rn_http_suspend(struct rn_http_req *r)
{
    r->suspended = r->parked = 1;
    MHD_suspend_connection(r->conn);
}

void rn_http_resume(struct rn_http_req *r)
{
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
    }
}

int rn_http_peer_gone(struct rn_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void rn_http_abort(struct rn_http_req *r) { r->aborted = 1; }

/* ---- the server ------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    if (rn_log_level() < RN_LOG_DEBUG)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    rn_log(RN_LOG_DEBUG, "libmicrohttpd: %s", buf);
}

int rn_http_start(struct rn_http **out, const struct rn_http_opts *o, struct rn_err *e)
{
    *out = NULL;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int gai = getaddrinfo(o->host, port, &hints, &ai);
    if (gai != 0)
        return rn_err_set(e, RN_EUSAGE, o->host, "cannot resolve the address to bind: %s",
                          gai_strerror(gai));
    struct rn_http *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return rn_err_set(e, RN_ENOMEM, "http", "out of memory");
    }
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    struct rn_rng g;
    rn_rng_seed(&g, (uint64_t)getpid() ^ (uint64_t)(rn_now() * 1e9));
    s->id_base = rn_rng_u64(&g);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(o->max_connections + o->threads), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->idle_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        char where[300];
        snprintf(where, sizeof where, "%s:%d", o->host, o->port);
        return rn_err_set(e, RN_EIO, where,
                          "cannot listen (address in use, not local, or not permitted)");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    if (pthread_create(&s->sweeper, NULL, sweep, s) != 0) {
        MHD_stop_daemon(s->d);
        free(s);
        return rn_err_set(e, RN_EIO, "http", "cannot start a thread");
    }
    *out = s;
    return RN_OK;
}

int rn_http_port(const struct rn_http *s) { return s->port; }

void rn_http_set_limits(struct rn_http *s, double request_timeout, size_t max_body)
{
    pthread_mutex_lock(&s->mu);
    s->o.request_timeout = request_timeout;
    __atomic_store_n(&s->o.max_body, max_body, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->mu);
}

void rn_http_quiesce(struct rn_http *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

int rn_http_inflight(struct rn_http *s) { return __atomic_load_n(&s->inflight, __ATOMIC_RELAXED); }

void rn_http_stop(struct rn_http *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->sweeper, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
