/* cfg_serve — serve's settings and the layers they come from
 * (shared/seeds/0: defaults in code < YAML file < .env < environment):
 *
 *   built-in defaults < config file (-c FILE, YAML) < .env file
 *   < environment (RUNNEL_<FIELD>, e.g. RUNNEL_PORT=9000) < command line (--port 9000)
 *
 * Every setting is a field of rn_serve_config_table, so each one is a YAML
 * key, a .env / environment name (RUNNEL_ + the field in upper case) and a
 * flag (--field) at once. rn_serve_config_load remembers, per field, the
 * layer that set it ("default", "FILE:LINE", ".env:LINE", "environment
 * RUNNEL_PORT", "command line --port") so --print-config can say where
 * each value came from, and so an error names the setting and its source.
 *
 *     struct rn_serve_config cfg = {0};
 *     struct rn_serve_origin org;
 *     struct rn_serve_layers L = {.config_path = path, .env_file = ".env",
 *                                 .environ = environ, .cli = &cc};
 *     if (rn_serve_config_load(&cfg, &org, &L, &e) < 0) rn_die(&e);
 *     rn_serve_config_print(stdout, &cfg, &org);
 *     rn_cfg_free(&rn_serve_config_table, &cfg);
 */
#ifndef RN_CFG_SERVE_H
#define RN_CFG_SERVE_H

#include <stdint.h>
#include <stdio.h>

#include "cfg.h"
#include "err.h"

struct rn_serve_config {
    /* network */
    char *host;                   /* address to bind ("127.0.0.1") */
    int64_t port;                 /* TCP port; 0: any free port (logged at startup) */
    int64_t http_threads;         /* HTTP thread pool size */
    int64_t max_connections;      /* open connections at most */
    /* model */
    char *model;                  /* checkpoint path (-m) */
    char *tokenizer;              /* tokenizer file; "": the one the checkpoint embeds */
    char *model_name;             /* name in responses; "": the checkpoint's file name sans extension */
    int64_t threads;              /* generation threads (BLAS/OpenMP); 0: all cores */
    /* generation */
    int64_t max_concurrent;       /* generations decoded together (cache slots) */
    int64_t queue_size;           /* generation requests waiting beyond those; more get 503 */
    int64_t max_tokens;           /* most new tokens one request may ask for */
    int64_t default_max_tokens;   /* new tokens when a request does not say */
    double temperature;           /* defaults for requests that do not say */
    int64_t top_k;
    double top_p;
    double repetition_penalty;
    /* protection */
    int64_t max_body_bytes;       /* request body limit (413 beyond) */
    double request_timeout;       /* seconds to receive a whole request (slow clients cut off) */
    int64_t idle_timeout;         /* seconds a connection may stay silent */
    double shutdown_timeout;      /* seconds SIGTERM waits for in-flight requests */
    int64_t retry_after;          /* seconds, the Retry-After of a 503 */
    char *api_key;                /* "": no key; else requests need Authorization: Bearer KEY */
    /* logging */
    int log_json;                 /* JSON lines instead of human lines */
    int log_requests;             /* one line per request */
};

extern const struct rn_cfg_table rn_serve_config_table;

/* Where each field of rn_serve_config_table got its value, by field index. */
#define RN_SERVE_ORIGIN_MAX 160
struct rn_serve_origin {
    char where[32][RN_SERVE_ORIGIN_MAX];
};

struct rn_serve_layers {
    const char *config_path;      /* YAML file, or NULL */
    const char *env_file;         /* .env path, or NULL for none */
    int env_file_required;        /* 1: a missing env_file is an error (--env-file given) */
    char **environ;               /* "NAME=value" strings, NULL-terminated; NULL: none */
    const struct rn_cfg_cli *cli; /* flags taken by rn_cfg_cli_take, or NULL */
};

/* Build the effective config: defaults, then each layer of L in order,
 * then rn_cfg_validate. cfg must be zeroed or hold a config of this table;
 * on success and on error alike the caller releases it with rn_cfg_free
 * (on error it holds a mix of layers: do not use it). org may be NULL.
 * .env syntax (dotenv.h): "NAME=value" lines, optional "export ", '#'
 * comments, blank lines, values optionally in single or double quotes;
 * only RUNNEL_ names are read and an unknown RUNNEL_ name is an error there
 * (a typo in our own file), while unknown RUNNEL_ variables in the
 * environment are ignored (RUNNEL_BIN and friends belong to other tools),
 * and only the upper-case spelling (RUNNEL_PORT) names a setting. In the
 * environment the first definition of a name wins (as with getenv), in a
 * .env the last line. A missing env_file is skipped unless
 * env_file_required. Errors are RN_EUSAGE with e->where the source
 * ("serve.yaml:3", ".env:2", "environment RUNNEL_PORT", "command line",
 * "serve config" for a rule between fields) and the setting and value in
 * e->msg; RN_EFORMAT for a malformed line (YAML or .env, as cfg.c does
 * for YAML), RN_ELIMIT for a file or line over its limit, RN_EIO for a
 * config or env file that cannot be read. */
int rn_serve_config_load(struct rn_serve_config *cfg, struct rn_serve_origin *org,
                         const struct rn_serve_layers *L, struct rn_err *e);

/* One line per setting, in table order: "name: value  # origin", values as
 * YAML (strings double-quoted unless plain is safe, "" when empty),
 * api_key shown as "(set)" or "", never the key. The output loads back
 * with rn_cfg_load_file (comments are comments; control characters in an
 * origin become '?'). Flushes f; RN_EIO if a write or the flush fails,
 * RN_ENOMEM. */
int rn_serve_config_print(FILE *f, const struct rn_serve_config *cfg,
                          const struct rn_serve_origin *org);

#endif
