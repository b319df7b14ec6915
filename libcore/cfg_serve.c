/* cfg_serve — the table of struct rn_serve_config (every setting of
 * `serve`, its default, range and --help line) and the layers that fill
 * it: defaults < YAML < .env < environment < flags (doc/serve.md,
 * "Settings and their layers"). Ranges catch typos and absurd values with
 * a clear message; they do not judge what serves well. */
#include "cfg_serve.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dotenv.h"
#include "io.h"

#define T struct rn_serve_config
#define DAY 86400

static const struct rn_cfg_field fields[] = {
    /* network */
    RN_CFG_STRING_FIELD(T, host, "127.0.0.1", "ADDR",
                        "address to listen on (0.0.0.0: every interface)"),
    RN_CFG_INT_FIELD(T, port, "8080", 0, 65535, "PORT", "port to listen on (0: any free port)"),
    RN_CFG_INT_FIELD(T, http_threads, "4", 1, 256, "N", "threads that read and answer HTTP requests"),
    RN_CFG_INT_FIELD(T, max_connections, "512", 1, 65536, "N",
                     "open connections at most; more are refused"),
    /* model */
    RN_CFG_STRING_FIELD(T, model, "", "FILE", "checkpoint to serve (made by train)"),
    RN_CFG_STRING_FIELD(T, tokenizer, "", "FILE",
                        "tokenizer file; empty: the one the checkpoint embeds"),
    RN_CFG_STRING_FIELD(T, model_name, "", "NAME",
                        "model name in responses; empty: the checkpoint's file name"),
    RN_CFG_INT_FIELD(T, threads, "0", 0, 1024, "N", "threads that compute generations (0: all cores)"),
    /* generation */
    RN_CFG_INT_FIELD(T, max_concurrent, "8", 1, 64, "N",
                     "generations decoded together, one cache slot each"),
    RN_CFG_INT_FIELD(T, queue_size, "32", 0, 65536, "N",
                     "generation requests that may wait for a slot; more get 503"),
    RN_CFG_INT_FIELD(T, max_tokens, "512", 1, 1048576, "N",
                     "most new tokens one request may ask for"),
    RN_CFG_INT_FIELD(T, default_max_tokens, "128", 1, 1048576, "N",
                     "new tokens for a request that does not say (at most max_tokens)"),
    RN_CFG_FLOAT_FIELD(T, temperature, "1", 0, 100, "X",
                       "sampling temperature for a request that does not say (0: greedy)"),
    RN_CFG_INT_FIELD(T, top_k, "0", 0, 16777216, "N",
                     "sample among the k likeliest tokens for a request that does not say (0: all)"),
    RN_CFG_FLOAT_FIELD(T, top_p, "1", 1e-9, 1, "P",
                       "nucleus sampling mass for a request that does not say (1: off)"),
    RN_CFG_FLOAT_FIELD(T, repetition_penalty, "1", 1e-3, 1e3, "X",
                       "penalty on repeated tokens for a request that does not say (1: none)"),
    /* protection */
    RN_CFG_INT_FIELD(T, max_body_bytes, "1048576", 1024, 67108864, "BYTES",
                     "largest request body; a longer one gets 413"),
    RN_CFG_FLOAT_FIELD(T, request_timeout, "30", 0.05, DAY, "SECONDS",
                       "seconds a client has to send a whole request"),
    RN_CFG_INT_FIELD(T, idle_timeout, "60", 1, DAY, "SECONDS",
                     "seconds before a silent keep-alive connection is closed"),
    RN_CFG_FLOAT_FIELD(T, shutdown_timeout, "30", 0, DAY, "SECONDS",
                       "seconds a SIGTERM waits for requests in flight"),
    RN_CFG_INT_FIELD(T, retry_after, "1", 0, 3600, "SECONDS",
                     "seconds a 503 asks the client to wait (Retry-After)"),
    RN_CFG_STRING_FIELD(T, api_key, "", "KEY",
                        "key clients must send as Authorization: Bearer KEY; empty: no key"),
    /* logging */
    RN_CFG_BOOL_FIELD(T, log_json, "false", "log JSON objects instead of text lines"),
    RN_CFG_BOOL_FIELD(T, log_requests, "true", "log one line per request"),
    {0},
};

#define NFIELDS ((int)(sizeof fields / sizeof fields[0]) - 1)
_Static_assert(NFIELDS <= (int)(sizeof ((struct rn_serve_origin *)0)->where /
                                sizeof ((struct rn_serve_origin *)0)->where[0]),
               "struct rn_serve_origin has a slot per field");

static int check(const void *p, struct rn_err *e)
{
    const T *c = p;
    if (!c->host || !*c->host)
        return rn_err_set(e, RN_EUSAGE, "serve config",
                          "host: an address is needed (127.0.0.1, 0.0.0.0, ::1, ...)");
    /* the key is compared with an HTTP header value, which cannot carry
     * these (and a trailing space would never match) */
    for (const unsigned char *k = (const unsigned char *)c->api_key; k && *k; k++)
        if (*k <= ' ' || *k == 0x7F)
            return rn_err_set(e, RN_EUSAGE, "serve config",
                              "api_key: spaces and control characters cannot be sent in an "
                              "Authorization header");
    return RN_OK;
}

const struct rn_cfg_table rn_serve_config_table = {"serve config", fields, check};

/* ---- layers ---------------------------------------------------------------- */

static void set_origin(struct rn_serve_origin *org, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_origin(struct rn_serve_origin *org, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(org->where[i], sizeof org->where[i], fmt, ap);
    va_end(ap);
}

/* "RUNNEL_" + the field name in upper case. */
static void env_name(const char *field, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "RUNNEL_");
    for (; *field && n + 1 < size; field++)
        buf[n++] = (char)toupper((unsigned char)*field);
    buf[n] = '\0';
}

/* Index of the field whose upper-case name is rest (what follows
 * "RUNNEL_"), or -1: only the upper-case spelling is a setting. */
static int env_field(const char *rest)
{
    for (int i = 0; i < NFIELDS; i++) {
        const char *f = fields[i].name, *r = rest;
        while (*f && *r == toupper((unsigned char)*f))
            f++, r++;
        if (!*f && !*r)
            return i;
    }
    return -1;
}

struct dotenv_ctx {
    T *cfg;
    struct rn_serve_origin *org;
    const char *path;
};

static int on_dotenv(void *ctx, const char *name, const char *value, int line, struct rn_err *e)
{
    struct dotenv_ctx *d = ctx;
    if (strncmp(name, "RUNNEL_", 7) != 0)
        return RN_OK;   /* a .env shared with other tools */
    char where[RN_ERR_WHERE_MAX];
    snprintf(where, sizeof where, "%s:%d", d->path, line);
    int i = env_field(name + 7);
    if (i < 0) {
        char lower[64], up[80];
        size_t n = 0;
        for (const char *r = name + 7; *r && n + 1 < sizeof lower; r++)
            lower[n++] = (char)tolower((unsigned char)*r);
        lower[n] = '\0';
        const char *s = rn_cfg_closest(&rn_serve_config_table, lower);
        if (!s)
            return rn_err_set(e, RN_EUSAGE, where, "unknown setting %.80s", name);
        env_name(s, up, sizeof up);
        return rn_err_set(e, RN_EUSAGE, where, "unknown setting %.80s (did you mean %s?)", name,
                          up);
    }
    int rc = rn_cfg_set(&rn_serve_config_table, d->cfg, fields[i].name, value, where, e);
    if (rc < 0)
        return rc;
    set_origin(d->org, i, "%s", where);
    return RN_OK;
}

static int load_env_file(T *cfg, struct rn_serve_origin *org, const struct rn_serve_layers *L,
                         struct rn_err *e)
{
    struct stat st;
    /* ./.env is optional; a file named by --env-file is not */
    if (!L->env_file_required && stat(L->env_file, &st) != 0 && errno == ENOENT)
        return RN_OK;
    struct dotenv_ctx d = {cfg, org, L->env_file};
    return rn_dotenv_load_file(L->env_file, on_dotenv, &d, e);
}

static int load_environ(T *cfg, struct rn_serve_origin *org, char **env, struct rn_err *e)
{
    for (int i = 0; i < NFIELDS; i++) {
        char name[80];
        env_name(fields[i].name, name, sizeof name);
        size_t n = strlen(name);
        /* the first definition wins, as with getenv */
        for (char **v = env; *v; v++) {
            if (strncmp(*v, name, n) != 0 || (*v)[n] != '=')
                continue;
            char where[RN_ERR_WHERE_MAX];
            snprintf(where, sizeof where, "environment %s", name);
            int rc = rn_cfg_set(&rn_serve_config_table, cfg, fields[i].name, *v + n + 1, where, e);
            if (rc < 0)
                return rc;
            set_origin(org, i, "%s", where);
            break;
        }
    }
    return RN_OK;
}

int rn_serve_config_load(T *cfg, struct rn_serve_origin *org, const struct rn_serve_layers *L,
                         struct rn_err *e)
{
    const struct rn_cfg_table *t = &rn_serve_config_table;
    struct rn_serve_origin scratch;
    if (!org)
        org = &scratch;
    int rc = rn_cfg_defaults(t, cfg, e);
    if (rc < 0)
        return rc;
    for (int i = 0; i < NFIELDS; i++)
        set_origin(org, i, "default");
    if (L->config_path) {
        int line[NFIELDS];
        rc = rn_cfg_load_file_lines(t, cfg, L->config_path, line, e);
        if (rc < 0)
            return rc;
        for (int i = 0; i < NFIELDS; i++)
            if (line[i])
                set_origin(org, i, "%s:%d", rn_io_name(L->config_path, 0), line[i]);
    }
    if (L->env_file && (rc = load_env_file(cfg, org, L, e)) < 0)
        return rc;
    if (L->environ && (rc = load_environ(cfg, org, L->environ, e)) < 0)
        return rc;
    if (L->cli) {
        RN_ASSERT(L->cli->table_ == t);
        if ((rc = rn_cfg_cli_apply(L->cli, cfg, e)) < 0)
            return rc;
        for (int i = 0; i < NFIELDS; i++)
            if (rn_cfg_cli_value(L->cli, i))
                set_origin(org, i, "command line --%s", fields[i].name);
    }
    return rn_cfg_validate(t, cfg, e);
}

/* ---- printing -------------------------------------------------------------- */

/* Whether s[0..n) reads back as the same string unquoted: a plain YAML
 * scalar that is no null word, indicator or key separator. Anything else
 * keeps rn_cfg_format's double quotes. */
static int plain_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalnum((unsigned char)s[0]) || s[0] == '.' || s[0] == '/' || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._/@+-", s[i]))
            return 0;
    static const char *nulls[] = {"null", "Null", "NULL"};
    for (int i = 0; i < 3; i++)
        if (n == strlen(nulls[i]) && memcmp(s, nulls[i], n) == 0)
            return 0;
    return 1;
}

int rn_serve_config_print(FILE *f, const T *cfg, const struct rn_serve_origin *org)
{
    /* a shallow copy whose key is masked: only rn_cfg_format reads it */
    T shown = *cfg;
    shown.api_key = cfg->api_key && *cfg->api_key ? (char *)"(set)" : (char *)"";
    char *text;
    struct rn_err e;
    int rc = rn_cfg_format(&rn_serve_config_table, &shown, RN_CFG_YAML, &text, &e);
    if (rc < 0)
        return rc;
    /* one "name: value" line per field, in table order (strings quoted,
     * so a value never holds a raw newline) */
    const char *line = text;
    for (int i = 0; i < NFIELDS && rc == RN_OK; i++) {
        const char *nl = strchr(line, '\n');
        size_t key = strlen(fields[i].name) + 2;
        RN_ASSERT(nl && (size_t)(nl - line) >= key);
        const char *v = line + key;
        size_t vn = (size_t)(nl - v);
        if (fields[i].type == RN_CFG_STRING && vn >= 2 && plain_ok(v + 1, vn - 2)) {
            v++;
            vn -= 2;
        }
        if (fprintf(f, "%s: %.*s  # ", fields[i].name, (int)vn, v) < 0)
            rc = RN_EIO;
        /* an origin holds a path: keep the comment on its line */
        for (const char *o = org->where[i]; rc == RN_OK && *o; o++)
            if (fputc((unsigned char)*o < ' ' || *o == 0x7F ? '?' : *o, f) == EOF)
                rc = RN_EIO;
        if (rc == RN_OK && fputc('\n', f) == EOF)
            rc = RN_EIO;
        line = nl + 1;
    }
    free(text);
    if (fflush(f) != 0 || ferror(f))
        rc = RN_EIO;
    return rc;
}
