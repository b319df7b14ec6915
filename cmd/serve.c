/* serve — a checkpoint behind an HTTP API (doc/serve.md): the settings
 * from their layers, the model and tokenizer loaded once, the scheduler
 * and the HTTP server started, then the main thread waits for signals:
 * SIGHUP reloads the settings, SIGTERM or SIGINT drains and exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "cfg_serve.h"
#include "cli.h"
#include "crc32c.h"
#include "err.h"
#include "lm_load.h"
#include "log.h"
#include "openapi.h"
#include "runnel.h"
#include "serve.h"

extern char **environ;

enum { OPT_CONFIG = 'c', OPT_ENV_FILE = 900, OPT_PRINT, OPT_FIELD_BASE = 1000 };

static const struct rn_option own_options[] = {
    {"config", 'c', "FILE", "read settings from FILE (YAML); .env, RUNNEL_ variables and flags "
     "override it", RN_COMP_FILE, NULL, OPT_CONFIG},
    {"env-file", 0, "FILE", "read RUNNEL_ settings from FILE (default: ./.env when present)",
     RN_COMP_FILE, NULL, OPT_ENV_FILE},
    {"print-config", 0, NULL, "print every setting, its value and the layer that set it, and exit",
     RN_COMP_NONE, NULL, OPT_PRINT},
    {0},
};

static struct rn_program program = {
    "serve",
    "-m CKPT [-c FILE] [--host H] [--port P] [OPTIONS]",
    "Serve a trained model over HTTP: the seed's, OpenAI's and Ollama's APIs.",
    "Settings come in layers, each overriding the one before: defaults, the\n"
    "YAML file of -c, the .env file, RUNNEL_<SETTING> environment variables,\n"
    "then the flags below (-m is --model). SIGHUP reloads them; SIGTERM and\n"
    "SIGINT stop accepting, finish the requests in flight and exit 0.\n"
    "Example:\n"
    "  serve -m tiny.ckpt --port 8080 &\n"
    "  curl -s localhost:8080/v1/completions -d '{\"prompt\": \"Once upon a time\"}'\n",
    NULL,
    RN_COMP_NONE,
};

struct cmdline {
    const char *config, *env_file;
    int print_config;
    struct rn_cfg_cli cc;   /* kept: SIGHUP applies the flags again */
};

static int parse_args(struct rn_cli *cli, struct cmdline *c)
{
    struct rn_err e = {0};
    int id;
    if (rn_cfg_cli_init(&c->cc, &rn_serve_config_table, own_options, OPT_FIELD_BASE, &e) < 0)
        rn_die(&e);
    for (struct rn_option *o = c->cc.options; o->name; o++)
        if (strcmp(o->name, "model") == 0)
            o->short_name = 'm';
    program.options = c->cc.options;
    rn_cli_init(cli, &program, cli->argc, cli->argv);
    while ((id = rn_cli_next(cli)) > 0) {
        if (rn_cfg_cli_take(&c->cc, id, cli->arg))
            continue;
        switch (id) {
        case OPT_CONFIG: c->config = cli->arg; break;
        case OPT_ENV_FILE: c->env_file = cli->arg; break;
        case OPT_PRINT: c->print_config = 1; break;
        }
    }
    if (id == RN_CLI_EXIT)
        return id;
    if (cli->optind < cli->argc)
        return rn_cli_usage(cli, "unexpected argument '%s' (the checkpoint goes after -m)",
                            cli->argv[cli->optind]);
    return 0;
}

static int load_settings(const struct cmdline *c, struct rn_serve_config *cfg,
                         struct rn_serve_origin *org, struct rn_err *e)
{
    struct rn_serve_layers L = {c->config, c->env_file ? c->env_file : ".env",
                                c->env_file != NULL, environ, &c->cc};
    return rn_serve_config_load(cfg, org, &L, e);
}

/* The settings a request reads, from cfg, into S->live (under its lock). */
static int set_live(struct rn_serve *S, const struct rn_serve_config *cfg)
{
    char *key = strdup(cfg->api_key);
    if (!key)
        return -1;
    pthread_rwlock_wrlock(&S->lock);
    free(S->live.api_key);
    S->live.api_key = key;
    S->live.max_tokens = (int)cfg->max_tokens;
    S->live.default_max_tokens = (int)(cfg->default_max_tokens < cfg->max_tokens
                                           ? cfg->default_max_tokens : cfg->max_tokens);
    S->live.sp = (struct rn_sample_params){(float)cfg->temperature, (int)cfg->top_k,
                                           (float)cfg->top_p, (float)cfg->repetition_penalty};
    S->live.retry_after = (int)cfg->retry_after;
    S->live.log_requests = cfg->log_requests;
    pthread_rwlock_unlock(&S->lock);
    return 0;
}

/* The checkpoint's name (its file name without the extension), size and
 * time, and a digest of the weights as loaded (CRC-32C, no second read of
 * the file), for the model lists. */
static void describe_checkpoint(struct rn_serve *S, const char *path, const char *name)
{
    struct rn_err e = {0};
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (name[0])
        base = name, n = strlen(name);
    else if (dot && dot != base)
        n = (size_t)(dot - base);
    if (!(S->name = strndup(base, n))) {
        rn_err_set(&e, RN_ENOMEM, "serve", "out of memory");
        rn_die(&e);
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        rn_err_set(&e, RN_EIO, path, "%s", strerror(errno));
        rn_die(&e);
    }
    S->ckpt_size = (long long)st.st_size;
    S->created = (long long)st.st_mtime;
    uint32_t crc = rn_crc32c(0, S->m.params, S->m.n_params * sizeof *S->m.params);
    snprintf(S->digest, sizeof S->digest, "%08x", crc);
}

/* SIGHUP: the layers again; what can change while running changes. */
static void reload(struct rn_serve *S, const struct cmdline *c, struct rn_serve_config *cur)
{
    struct rn_serve_config cfg = {0};
    struct rn_serve_origin org;
    struct rn_err e = {0};
    if (load_settings(c, &cfg, &org, &e) < 0) {
        rn_log(RN_LOG_ERROR, "reload: %s: %s; keeping the running settings", e.where, e.msg);
        rn_cfg_free(&rn_serve_config_table, &cfg);
        return;
    }
    /* fixed at startup: the socket, the threads, the model, the cache */
    static const char *const fixed[] = {"host", "port", "http_threads", "max_connections",
                                        "model", "tokenizer", "model_name", "threads",
                                        "max_concurrent", "idle_timeout"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const struct rn_cfg_field *f = rn_cfg_find(&rn_serve_config_table, fixed[i]);
        char a[256], b[256];
        rn_cfg_value_text(f, cur, a, sizeof a);
        rn_cfg_value_text(f, &cfg, b, sizeof b);
        if (strcmp(a, b) != 0)
            rn_log(RN_LOG_WARN, "reload: %s: a change needs a restart; keeping %s", fixed[i], a);
        rn_cfg_set(&rn_serve_config_table, &cfg, fixed[i], a, "running", &e);
    }
    if (set_live(S, &cfg) < 0) {
        rn_log(RN_LOG_ERROR, "reload: out of memory; keeping the running settings");
        rn_cfg_free(&rn_serve_config_table, &cfg);
        return;
    }
    rn_genq_set_queue(S->q, (int)cfg.queue_size);
    rn_http_set_limits(S->http, cfg.request_timeout, (size_t)cfg.max_body_bytes);
    rn_log_setup(rn_progname(), rn_log_level(), cfg.log_json || rn_log_is_json());
    rn_cfg_free(&rn_serve_config_table, cur);
    *cur = cfg;
    rn_log(RN_LOG_INFO, "reloaded the settings");
}

/* Stop accepting, let requests in flight end (at most shutdown_timeout
 * seconds; a second signal cuts it short), then cut what is left. */
static void drain(struct rn_serve *S, const struct rn_serve_config *cfg, const sigset_t *sigs)
{
    S->draining = 1;
    rn_http_quiesce(S->http);
    int n = rn_http_inflight(S->http);
    rn_log(RN_LOG_INFO, "shutting down: %d request%s in flight", n, n == 1 ? "" : "s");
    double deadline = rn_now() + cfg->shutdown_timeout;
    struct timespec tick = {0, 20000000L};
    while (rn_http_inflight(S->http) > 0 && rn_now() < deadline) {
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            rn_log(RN_LOG_WARN, "second signal: not waiting any longer");
            break;
        }
    }
    if ((n = rn_http_inflight(S->http)) > 0) {
        rn_log(RN_LOG_WARN, "cutting %d request%s short", n, n == 1 ? "" : "s");
        rn_genq_cancel_all(S->q);
        for (double until = rn_now() + 1; rn_http_inflight(S->http) > 0 && rn_now() < until;)
            nanosleep(&tick, NULL);
    }
}

/* libgomp reads OMP_WAIT_POLICY once, when it is loaded, and its default
 * spins idle workers: next to the HTTP threads that made one generation
 * 28 times slower here (7.6 s against 0.28 s for 2000 tokens on 2 cores).
 * So unless the user chose a policy, run again with the passive one. */
static void prefer_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv); /* on failure, carry on as we are */
}

int main(int argc, char **argv)
{
    prefer_passive_openmp(argv);
    struct rn_cli cli = {.argc = argc, .argv = argv};
    static struct cmdline c;
    struct rn_serve_config cfg = {0};
    struct rn_serve_origin org;
    struct rn_err e = {0};
    if (parse_args(&cli, &c) == RN_CLI_EXIT) {
        rn_cfg_cli_free(&c.cc);
        return cli.status;
    }
    if (load_settings(&c, &cfg, &org, &e) < 0)
        rn_die(&e);
    if (c.print_config) {
        if (rn_serve_config_print(stdout, &cfg, &org) < 0) {
            rn_err_set(&e, RN_EIO, "stdout", "write failed");
            rn_die(&e);
        }
        rn_cfg_free(&rn_serve_config_table, &cfg);
        rn_cfg_cli_free(&c.cc);
        return rn_close_stdout();
    }
    if (!cfg.model[0]) {
        fprintf(stderr, "serve: no checkpoint: give -m CKPT\nTry 'serve --help'.\n");
        rn_cfg_free(&rn_serve_config_table, &cfg);
        rn_cfg_cli_free(&c.cc);
        return RN_EXIT_USAGE;
    }
    if (cfg.log_json && !rn_log_is_json())
        rn_log_setup(rn_progname(), rn_log_level(), 1);

    /* Every thread started from here on inherits this mask, so the
     * signals reach the main thread's sigwait and nowhere else. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct rn_serve S;
    struct rn_lm_ckpt_info info;
    S.t_start = rn_now();
    S.seed_next = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    pthread_rwlock_init(&S.lock, NULL);
    rn_blas_set_threads((int)cfg.threads);
    if (rn_lm_load(&S.m, cfg.model, 1, 1, &info, &e) < 0 ||
        rn_lm_load_tokenizer(&S.b, cfg.tokenizer[0] ? cfg.tokenizer : NULL, cfg.model, &info,
                             S.m.cfg.vocab_size, &e) < 0)
        rn_die(&e);
    rn_lm_ckpt_info_free(&info);
    describe_checkpoint(&S, cfg.model, cfg.model_name);
    if (rn_serve_metrics_new(&S.metrics) < 0 || set_live(&S, &cfg) < 0 ||
        !(S.openapi = rn_openapi_render(RN_VERSION, S.name))) {
        rn_err_set(&e, RN_ENOMEM, "serve", "out of memory");
        rn_die(&e);
    }
    if (rn_genq_start(&S.q, &S.m, &S.b, (int)cfg.max_concurrent, (int)cfg.queue_size, &e) < 0)
        rn_die(&e);
    struct rn_http_opts o = {cfg.host, (int)cfg.port, (int)cfg.http_threads,
                             (int)cfg.max_connections, (size_t)cfg.max_body_bytes,
                             cfg.request_timeout, (int)cfg.idle_timeout, rn_serve_handle,
                             rn_serve_done, rn_serve_http_error, &S};
    if (rn_http_start(&S.http, &o, &e) < 0)
        rn_die(&e);
    const char *h = strchr(cfg.host, ':') ? "[" : "";
    rn_log(RN_LOG_INFO, "listening on http://%s%s%s:%d (model %s, %lld parameters, %lld slots, "
           "queue %lld)", h, cfg.host, h[0] ? "]" : "", rn_http_port(S.http), S.name,
           (long long)S.m.n_params, (long long)cfg.max_concurrent, (long long)cfg.queue_size);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(&S, &c, &cfg);
            continue;
        }
        break;
    }
    drain(&S, &cfg, &sigs);
    rn_http_stop(S.http);
    rn_genq_stop(S.q);
    rn_log(RN_LOG_INFO, "stopped");
    rn_serve_metrics_free(S.metrics);
    free(S.live.api_key);
    free(S.name);
    free(S.openapi);
    pthread_rwlock_destroy(&S.lock);
    rn_bpe_free(&S.b);
    rn_lm_free(&S.m);
    rn_cfg_free(&rn_serve_config_table, &cfg);
    rn_cfg_cli_free(&c.cc);
    return 0;
}
