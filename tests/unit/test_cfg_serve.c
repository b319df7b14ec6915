/* cfg_serve and dotenv: serve's defaults and table, the five layers
 * (defaults < YAML < .env < environment < flags) and the origin each
 * value reports, .env syntax and every error with its place, the size
 * limits, and --print-config output that loads back. Files live in a
 * mkdtemp directory removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_serve.h"
#include "dotenv.h"

static const struct rn_cfg_table *st = &rn_serve_config_table;

/* ---- fixtures -------------------------------------------------------------- */

static char dir[64];
static char yaml_path[128], env_path[128];

static const char *const tmp_names[] = {"serve.yaml", ".env", "big.env"};

static int make_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cfg_serve.XXXXXX", tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(yaml_path, sizeof yaml_path, "%s/serve.yaml", dir);
    snprintf(env_path, sizeof env_path, "%s/.env", dir);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tmp_names / sizeof tmp_names[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/%s", dir, tmp_names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static int field_index(const char *name)
{
    const struct rn_cfg_field *f = rn_cfg_find(st, name);
    if (!f)
        fail_msg("no field %s", name);
    return (int)(f - st->fields);
}

/* The flags of a command line: pairs of field name and value, NULL-ended. */
static void cli_of(struct rn_cfg_cli *cc, const char *const *pairs)
{
    struct rn_err e = {0};
    assert_int_equal(rn_cfg_cli_init(cc, st, NULL, 1000, &e), RN_OK);
    for (int i = 0; pairs && pairs[i]; i += 2)
        assert_int_equal(rn_cfg_cli_take(cc, 1000 + field_index(pairs[i]), pairs[i + 1]), 1);
}

/* ---- the table ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_serve_config c;
    struct rn_serve_origin org;
    memset(&c, 0, sizeof c);
    struct rn_serve_layers none = {0};
    assert_int_equal(rn_serve_config_load(&c, &org, &none, &e), RN_OK);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.http_threads, 4);
    assert_int_equal(c.max_connections, 512);
    assert_string_equal(c.model, "");
    assert_string_equal(c.tokenizer, "");
    assert_string_equal(c.model_name, "");
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_concurrent, 8);
    assert_int_equal(c.queue_size, 32);
    assert_int_equal(c.max_tokens, 512);
    assert_int_equal(c.default_max_tokens, 128);
    assert_true(c.temperature == 1);
    assert_int_equal(c.top_k, 0);
    assert_true(c.top_p == 1);
    assert_true(c.repetition_penalty == 1);
    assert_int_equal(c.max_body_bytes, 1048576);
    assert_true(c.request_timeout == 30);
    assert_int_equal(c.idle_timeout, 60);
    assert_true(c.shutdown_timeout == 30);
    assert_int_equal(c.retry_after, 1);
    assert_string_equal(c.api_key, "");
    assert_int_equal(c.log_json, 0);
    assert_int_equal(c.log_requests, 1);

    /* one field per member, in struct order, each default parses and lies
     * in its range, each help a lower-case line without a final period */
    static const char *const names[] = {
        "host", "port", "http_threads", "max_connections", "model", "tokenizer", "model_name",
        "threads", "max_concurrent", "queue_size", "max_tokens", "default_max_tokens",
        "temperature", "top_k", "top_p", "repetition_penalty", "max_body_bytes",
        "request_timeout", "idle_timeout", "shutdown_timeout", "retry_after", "api_key",
        "log_json", "log_requests"};
    size_t n = 0;
    size_t last = 0;
    for (const struct rn_cfg_field *f = st->fields; f->name; f++, n++) {
        assert_true(n < sizeof names / sizeof names[0]);
        assert_string_equal(f->name, names[n]);
        assert_true(n == 0 || f->offset > last);
        last = f->offset;
        assert_non_null(f->def);
        assert_non_null(f->help);
        size_t hl = strlen(f->help);
        if (hl == 0 || !islower((unsigned char)f->help[0]) || f->help[hl - 1] == '.' ||
            strchr(f->help, '\n'))
            fail_msg("help of %s: '%s'", f->name, f->help);
        if (rn_cfg_set(st, &c, f->name, f->def, "defaults", &e) < 0)
            fail_msg("default of %s: %s", f->name, e.msg);
        assert_string_equal(org.where[n], "default");
    }
    assert_int_equal(n, sizeof names / sizeof names[0]);
    assert_string_equal(st->what, "serve config");
    assert_int_equal(rn_cfg_validate(st, &c, &e), RN_OK);
    rn_cfg_free(st, &c);
}

/* ---- layers ---------------------------------------------------------------- */

struct run {
    int use_yaml, use_env, use_environ, use_cli;
};

/* Load with the layers of r over fixed files: each layer sets port, and
 * the lower ones each set one field of their own. */
static void load_layers(const struct run *r, struct rn_serve_config *c, struct rn_serve_origin *org)
{
    struct rn_err e = {0};
    write_text(yaml_path, "# serve\nhost: 0.0.0.0\nport: 1001\n");
    write_text(env_path, "RUNNEL_PORT=1002\nRUNNEL_QUEUE_SIZE=7\n");
    char *env[] = {"RUNNEL_PORT=1003", "RUNNEL_TOP_K=40", NULL};
    static const char *const flags[] = {"port", "1004", NULL};
    struct rn_cfg_cli cc;
    cli_of(&cc, flags);
    struct rn_serve_layers L = {r->use_yaml ? yaml_path : NULL, r->use_env ? env_path : NULL, 1,
                                r->use_environ ? env : NULL, r->use_cli ? &cc : NULL};
    memset(c, 0, sizeof *c);
    if (rn_serve_config_load(c, org, &L, &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    rn_cfg_cli_free(&cc);
}

static void test_layering(void **state)
{
    (void)state;
    struct rn_serve_config c;
    struct rn_serve_origin org;
    int port = field_index("port"), host = field_index("host"), queue = field_index("queue_size"),
        topk = field_index("top_k");
    char want[256];

    struct run r = {1, 1, 1, 1};
    load_layers(&r, &c, &org);
    assert_int_equal(c.port, 1004);
    assert_string_equal(org.where[port], "command line --port");
    assert_string_equal(c.host, "0.0.0.0");
    snprintf(want, sizeof want, "%s:2", yaml_path);
    assert_string_equal(org.where[host], want);
    assert_int_equal(c.queue_size, 7);
    snprintf(want, sizeof want, "%s:2", env_path);
    assert_string_equal(org.where[queue], want);
    assert_int_equal(c.top_k, 40);
    assert_string_equal(org.where[topk], "environment RUNNEL_TOP_K");
    assert_string_equal(org.where[field_index("max_tokens")], "default");
    rn_cfg_free(st, &c);

    r.use_cli = 0;
    load_layers(&r, &c, &org);
    assert_int_equal(c.port, 1003);
    assert_string_equal(org.where[port], "environment RUNNEL_PORT");
    rn_cfg_free(st, &c);

    r.use_environ = 0;
    load_layers(&r, &c, &org);
    assert_int_equal(c.port, 1002);
    snprintf(want, sizeof want, "%s:1", env_path);
    assert_string_equal(org.where[port], want);
    assert_int_equal(c.top_k, 0);
    assert_string_equal(org.where[topk], "default");
    rn_cfg_free(st, &c);

    r.use_env = 0;
    load_layers(&r, &c, &org);
    assert_int_equal(c.port, 1001);
    snprintf(want, sizeof want, "%s:3", yaml_path);
    assert_string_equal(org.where[port], want);
    assert_int_equal(c.queue_size, 32);
    rn_cfg_free(st, &c);

    r.use_yaml = 0;
    load_layers(&r, &c, &org);
    assert_int_equal(c.port, 8080);
    assert_string_equal(org.where[port], "default");
    assert_string_equal(c.host, "127.0.0.1");
    assert_string_equal(org.where[host], "default");
    rn_cfg_free(st, &c);

    /* each upper layer alone still beats the defaults */
    struct run only_cli = {0, 0, 0, 1}, only_env = {0, 1, 0, 0};
    load_layers(&only_cli, &c, &org);
    assert_int_equal(c.port, 1004);
    rn_cfg_free(st, &c);
    load_layers(&only_env, &c, &org);
    assert_int_equal(c.port, 1002);
    rn_cfg_free(st, &c);
}

/* The whole --print-config text, origins and all, byte for byte. */
static void test_print_exact(void **state)
{
    (void)state;
    struct rn_err e = {0};
    write_text(yaml_path, "model: /models/tiny.ckpt\ntemperature: 0.7\n");
    write_text(env_path, "# keys\nexport RUNNEL_API_KEY=sk-secret-123\nRUNNEL_LOG_JSON=yes\n");
    char *env[] = {"HOME=/root", "RUNNEL_MODEL_NAME=tiny story", NULL};
    static const char *const flags[] = {"threads", "2", "top_p", "0.9", NULL};
    struct rn_cfg_cli cc;
    cli_of(&cc, flags);
    struct rn_serve_layers L = {yaml_path, env_path, 0, env, &cc};
    struct rn_serve_config c = {0};
    struct rn_serve_origin org;
    assert_int_equal(rn_serve_config_load(&c, &org, &L, &e), RN_OK);
    rn_cfg_cli_free(&cc);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rn_serve_config_print(f, &c, &org), RN_OK);
    assert_int_equal(fclose(f), 0);
    char want[4096];
    snprintf(want, sizeof want,
             "host: 127.0.0.1  # default\n"
             "port: 8080  # default\n"
             "http_threads: 4  # default\n"
             "max_connections: 512  # default\n"
             "model: /models/tiny.ckpt  # %s:1\n"
             "tokenizer: \"\"  # default\n"
             "model_name: \"tiny story\"  # environment RUNNEL_MODEL_NAME\n"
             "threads: 2  # command line --threads\n"
             "max_concurrent: 8  # default\n"
             "queue_size: 32  # default\n"
             "max_tokens: 512  # default\n"
             "default_max_tokens: 128  # default\n"
             "temperature: 0.7  # %s:2\n"
             "top_k: 0  # default\n"
             "top_p: 0.9  # command line --top_p\n"
             "repetition_penalty: 1  # default\n"
             "max_body_bytes: 1048576  # default\n"
             "request_timeout: 30  # default\n"
             "idle_timeout: 60  # default\n"
             "shutdown_timeout: 30  # default\n"
             "retry_after: 1  # default\n"
             "api_key: \"(set)\"  # %s:2\n"
             "log_json: true  # %s:3\n"
             "log_requests: true  # default\n",
             yaml_path, yaml_path, env_path, env_path);
    assert_string_equal(buf, want);
    assert_null(strstr(buf, "secret"));
    assert_string_equal(c.api_key, "sk-secret-123");
    free(buf);
    rn_cfg_free(st, &c);
}

/* ---- .env syntax ----------------------------------------------------------- */

/* Collects "NAME=[value]@line;" for every assignment. */
static int collect(void *ctx, const char *name, const char *value, int line, struct rn_err *e)
{
    (void)e;
    char *out = ctx;
    size_t n = strlen(out);
    if (strlen(value) > 100)   /* the line-limit test's long value */
        snprintf(out + n, 4096 - n, "%s=<%zu bytes>@%d;", name, strlen(value), line);
    else
        snprintf(out + n, 4096 - n, "%s=[%s]@%d;", name, value, line);
    return RN_OK;
}

static void test_dotenv_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"A=1\n", "A=[1]@1;"},
        {"A=1", "A=[1]@1;"},                                  /* no final newline */
        {"\n\n# c\n   # indented comment\nB=2\n", "B=[2]@5;"}, /* blank and comment lines */
        {"export A=x\n", "A=[x]@1;"},
        {"export\tA = x y \n", "A=[x y]@1;"},                 /* blanks around = and value */
        {"  A=1\r\nB=2\r\n", "A=[1]@1;B=[2]@2;"},             /* CRLF */
        {"\xEF\xBB\xBF" "A=1\n", "A=[1]@1;"},                 /* byte-order mark */
        {"A=x # comment\n", "A=[x]@1;"},
        {"A=x\t# comment\n", "A=[x]@1;"},
        {"A=x#y\n", "A=[x#y]@1;"},                            /* '#' after no blank */
        {"A=#x\n", "A=[#x]@1;"},
        {"A= # only a comment\n", "A=[]@1;"},
        {"A=\n", "A=[]@1;"},
        {"A=\"x # y\" # c\n", "A=[x # y]@1;"},
        {"A=\"a \\\"q\\\" \\\\ b\\nc\"\n", "A=[a \"q\" \\ b\nc]@1;"},
        {"A=\"C:\\temp\"\n", "A=[C:\\temp]@1;"},              /* other backslashes kept */
        {"A=\"\"\n", "A=[]@1;"},
        {"A='it \\n # is' # c\n", "A=[it \\n # is]@1;"},      /* single quotes: literal */
        {"A=\"x\"#c\n", "A=[x]@1;"},
        {"A=x=y\n", "A=[x=y]@1;"},
        {"a_1=v\nexport=1\n", "a_1=[v]@1;export=[1]@2;"},     /* "export" as a name */
        {"A=1\nA=2\n", "A=[1]@1;A=[2]@2;"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096] = "";
        struct rn_err e = {0};
        int rc = rn_dotenv_parse(cases[i].text, strlen(cases[i].text), "t.env", collect, out, &e);
        if (rc != RN_OK || strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu: rc %d (%s: %s), got '%s', want '%s'", i, rc, e.where, e.msg, out,
                     cases[i].want);
    }
}

static void test_dotenv_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int code;
        const char *where, *msg;
    } cases[] = {
        {"A=1\njust text\n", RN_EFORMAT, "t.env:2", "expected NAME=value, not 'just text'"},
        {"=1\n", RN_EFORMAT, "t.env:1", "expected NAME=value, not '=1'"},
        {"1A=1\n", RN_EFORMAT, "t.env:1", "expected NAME=value, not '1A=1'"},
        {"A B=1\n", RN_EFORMAT, "t.env:1", "expected NAME=value, not 'A B=1'"},
        {"A-B=1\r\n", RN_EFORMAT, "t.env:1", "expected NAME=value, not 'A-B=1'"},
        {"export\n", RN_EFORMAT, "t.env:1", "expected NAME=value, not 'export'"},
        {"A=\"open\n", RN_EFORMAT, "t.env:1", "unterminated double quote"},
        {"A=\"esc\\\"\n", RN_EFORMAT, "t.env:1", "unterminated double quote"},
        {"A='open\nB=1\n", RN_EFORMAT, "t.env:1", "unterminated single quote"},
        {"\nA=\"x\" y\n", RN_EFORMAT, "t.env:2", "unexpected text after the closing quote: 'y'"},
        {"A='x'y\n", RN_EFORMAT, "t.env:1", "unexpected text after the closing quote: 'y'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096] = "";
        struct rn_err e = {0};
        int rc = rn_dotenv_parse(cases[i].text, strlen(cases[i].text), "t.env", collect, out, &e);
        if (rc != cases[i].code || strcmp(e.where, cases[i].where) != 0 ||
            strcmp(e.msg, cases[i].msg) != 0)
            fail_msg("case %zu: rc %d at '%s': '%s'; want %d at '%s': '%s'", i, rc, e.where, e.msg,
                     cases[i].code, cases[i].where, cases[i].msg);
    }
    /* a NUL byte */
    struct rn_err e = {0};
    char out[4096] = "";
    assert_int_equal(rn_dotenv_parse("A=1\nB=x\0y\n", 10, "t.env", collect, out, &e), RN_EFORMAT);
    assert_string_equal(e.where, "t.env:2");
    assert_string_equal(e.msg, "line contains a NUL byte");
    /* the callback's error stops the parse and is returned as is */
    assert_int_equal(rn_dotenv_load_file("/nonexistent/.env", collect, out, &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent/.env");
}

/* Limits: a line over 64 KiB and a file over 1 MiB are refused with a
 * message, in memory and from a file. */
static void test_dotenv_limits(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char out[4096] = "";
    size_t n = RN_DOTENV_LINE_MAX + 1;
    char *s = malloc(n + 16);
    assert_non_null(s);
    memcpy(s, "# ok\nA=", 7);
    memset(s + 7, 'x', n - 2);
    memcpy(s + 5 + n, "\nB=1\n", 6);
    assert_int_equal(rn_dotenv_parse(s, strlen(s), "t.env", collect, out, &e), RN_ELIMIT);
    assert_string_equal(e.where, "t.env:2");
    assert_string_equal(e.msg, "line of 65537 bytes exceeds the limit of 65536");
    /* exactly at the limit is fine */
    memcpy(s + 4 + n, "\nB=1\n", 6);
    out[0] = '\0';
    assert_int_equal(rn_dotenv_parse(s, strlen(s), "t.env", collect, out, &e), RN_OK);
    assert_string_equal(out, "A=<65534 bytes>@2;B=[1]@3;");
    free(s);

    size_t big = RN_DOTENV_FILE_MAX + 1;
    char *f = malloc(big);
    assert_non_null(f);
    memset(f, '\n', big);
    assert_int_equal(rn_dotenv_parse(f, big, "t.env", collect, out, &e), RN_ELIMIT);
    assert_string_equal(e.where, "t.env");
    char path[160];
    snprintf(path, sizeof path, "%s/big.env", dir);
    write_file(path, f, big);
    free(f);
    struct rn_serve_config c = {0};
    struct rn_serve_layers L = {NULL, path, 0, NULL, NULL};
    assert_int_equal(rn_serve_config_load(&c, NULL, &L, &e), RN_ELIMIT);
    assert_string_equal(e.where, path);
    assert_non_null(strstr(e.msg, "limit of 1048576 bytes"));
    rn_cfg_free(st, &c);
}

/* The .env layer through rn_serve_config_load: syntax reaches the
 * settings, non-RUNNEL_ names are skipped, later lines win. */
static void test_dotenv_layer(void **state)
{
    (void)state;
    struct rn_err e = {0};
    write_text(env_path,
               "# serve settings\r\n"
               "\r\n"
               "PATH=/ignored\r\n"
               "export RUNNEL_HOST=\"::1\"\r\n"
               "RUNNEL_MODEL='my model #1.ckpt'  # single quotes\r\n"
               "RUNNEL_MODEL_NAME=\"say \\\"hi\\\"\"\r\n"
               "RUNNEL_TOKENIZER=tok.bin # inline comment\r\n"
               "RUNNEL_PORT=9000\r\n"
               "RUNNEL_PORT = 9001\r\n"
               "RUNNEL_LOG_REQUESTS=off");
    struct rn_serve_config c = {0};
    struct rn_serve_origin org;
    struct rn_serve_layers L = {NULL, env_path, 1, NULL, NULL};
    if (rn_serve_config_load(&c, &org, &L, &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    assert_string_equal(c.host, "::1");
    assert_string_equal(c.model, "my model #1.ckpt");
    assert_string_equal(c.model_name, "say \"hi\"");
    assert_string_equal(c.tokenizer, "tok.bin");
    assert_int_equal(c.port, 9001);
    assert_int_equal(c.log_requests, 0);
    char want[256];
    snprintf(want, sizeof want, "%s:9", env_path);
    assert_string_equal(org.where[field_index("port")], want);
    snprintf(want, sizeof want, "%s:10", env_path);
    assert_string_equal(org.where[field_index("log_requests")], want);
    rn_cfg_free(st, &c);
}

/* ---- errors ---------------------------------------------------------------- */

struct bad {
    const char *yaml, *dotenv;      /* file contents, NULL: no such layer */
    const char *environ1;           /* one environment entry, or NULL */
    const char *flag, *flag_value;  /* one flag, or NULL */
    int code;
    const char *where;              /* "@Y" / "@E" + suffix: the yaml / env path */
    const char *msg;
};

static const struct bad bad_cases[] = {
    {"host: x\nport: abc\n", NULL, NULL, NULL, NULL, RN_EUSAGE, "@Y:2",
     "port: 'abc' is not an integer"},
    {NULL, "# c\nRUNNEL_PORT=abc\n", NULL, NULL, NULL, RN_EUSAGE, "@E:2",
     "port: 'abc' is not an integer"},
    {NULL, NULL, "RUNNEL_PORT=abc", NULL, NULL, RN_EUSAGE, "environment RUNNEL_PORT",
     "port: 'abc' is not an integer"},
    {NULL, NULL, NULL, "port", "abc", RN_EUSAGE, "command line", "--port: 'abc' is not an integer"},
    /* a bad value in a lower layer stops startup even if a higher one
     * would override it: the file is wrong either way */
    {"port: abc\n", NULL, "RUNNEL_PORT=1", "port", "2", RN_EUSAGE, "@Y:1",
     "port: 'abc' is not an integer"},
    {NULL, "RUNNEL_PROT=1\n", NULL, NULL, NULL, RN_EUSAGE, "@E:1",
     "unknown setting RUNNEL_PROT (did you mean RUNNEL_PORT?)"},
    {NULL, "RUNNEL_MAX_TOKEN=1\n", NULL, NULL, NULL, RN_EUSAGE, "@E:1",
     "unknown setting RUNNEL_MAX_TOKEN (did you mean RUNNEL_MAX_TOKENS?)"},
    {NULL, "RUNNEL_port=1\n", NULL, NULL, NULL, RN_EUSAGE, "@E:1",
     "unknown setting RUNNEL_port (did you mean RUNNEL_PORT?)"},
    {NULL, "RUNNEL_BIN=/usr/bin\n", NULL, NULL, NULL, RN_EUSAGE, "@E:1",
     "unknown setting RUNNEL_BIN"},
    {NULL, "RUNNEL_PORT=1\nport: 2\n", NULL, NULL, NULL, RN_EFORMAT, "@E:2",
     "expected NAME=value, not 'port: 2'"},
    {NULL, NULL, "RUNNEL_PORT=70000", NULL, NULL, RN_EUSAGE, "environment RUNNEL_PORT",
     "port: 70000 is out of range [0, 65535]"},
    {"top_p: 0\n", NULL, NULL, NULL, NULL, RN_EUSAGE, "@Y:1", "top_p: 0 is out of range [1e-09, 1]"},
    {NULL, "RUNNEL_REQUEST_TIMEOUT=0.01\n", NULL, NULL, NULL, RN_EUSAGE, "@E:1",
     "request_timeout: 0.01 is out of range [0.05, 86400]"},
    {NULL, NULL, NULL, "log_json", "maybe", RN_EUSAGE, "command line",
     "--log_json: 'maybe' is not a boolean (true or false)"},
    {NULL, NULL, "RUNNEL_MAX_CONCURRENT=", NULL, NULL, RN_EUSAGE,
     "environment RUNNEL_MAX_CONCURRENT", "max_concurrent: '' is not an integer"},
    {"prot: 1\n", NULL, NULL, NULL, NULL, RN_EUSAGE, "@Y:1",
     "unknown config field 'prot' (did you mean port?)"},
    /* rules between fields, checked after every layer */
    {NULL, NULL, "RUNNEL_HOST=", NULL, NULL, RN_EUSAGE, "serve config",
     "host: an address is needed"},
    {NULL, NULL, NULL, "api_key", "two words", RN_EUSAGE, "serve config",
     "api_key: spaces and control characters cannot be sent in an Authorization header"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad *b = &bad_cases[i];
        if (b->yaml)
            write_text(yaml_path, b->yaml);
        if (b->dotenv)
            write_text(env_path, b->dotenv);
        char *env[] = {"RUNNEL_BIN=/x", (char *)b->environ1, NULL};
        const char *flags[] = {b->flag, b->flag_value, NULL};
        struct rn_cfg_cli cc;
        cli_of(&cc, b->flag ? flags : NULL);
        struct rn_serve_layers L = {b->yaml ? yaml_path : NULL, b->dotenv ? env_path : NULL, 1,
                                    env, &cc};
        struct rn_serve_config c = {0};
        struct rn_err e = {0};
        int rc = rn_serve_config_load(&c, NULL, &L, &e);
        char where[256];
        if (b->where[0] == '@')
            snprintf(where, sizeof where, "%s%s", b->where[1] == 'Y' ? yaml_path : env_path,
                     b->where + 2);
        else
            snprintf(where, sizeof where, "%s", b->where);
        if (rc != b->code || strcmp(e.where, where) != 0 || !strstr(e.msg, b->msg))
            fail_msg("case %zu: rc %d at '%s': '%s'; want %d at '%s': '%s'", i, rc, e.where,
                     e.msg, b->code, where, b->msg);
        rn_cfg_cli_free(&cc);
        rn_cfg_free(st, &c);
    }
}

static void test_missing_files(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_serve_config c = {0};
    char path[160], yaml[160];
    snprintf(path, sizeof path, "%s/no-such.env", dir);
    snprintf(yaml, sizeof yaml, "%s/no-such.yaml", dir);
    /* ./.env is optional */
    struct rn_serve_layers opt = {NULL, path, 0, NULL, NULL};
    assert_int_equal(rn_serve_config_load(&c, NULL, &opt, &e), RN_OK);
    assert_int_equal(c.port, 8080);
    /* --env-file FILE is not */
    struct rn_serve_layers req = {NULL, path, 1, NULL, NULL};
    assert_int_equal(rn_serve_config_load(&c, NULL, &req, &e), RN_EIO);
    assert_string_equal(e.where, path);
    assert_non_null(strstr(e.msg, "cannot open"));
    /* an optional one that exists but cannot be read is still an error */
    struct rn_serve_layers isdir = {NULL, dir, 0, NULL, NULL};
    assert_true(rn_serve_config_load(&c, NULL, &isdir, &e) < 0);
    assert_string_equal(e.where, dir);
    /* -c FILE */
    struct rn_serve_layers noyaml = {yaml, NULL, 0, NULL, NULL};
    assert_int_equal(rn_serve_config_load(&c, NULL, &noyaml, &e), RN_EIO);
    assert_string_equal(e.where, yaml);
    rn_cfg_free(st, &c);
}

/* RUNNEL_ variables that are no setting belong to other tools; only the
 * upper-case spelling of a field is read; the first definition wins. */
static void test_environ(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char *env[] = {"RUNNEL_BIN=/usr/bin", "RUNNEL_PROT=1", "RUNNEL_port=1", "RUNNEL_=x",
                   "RUNNEL_PORT",         "RUNNEL_PORTX=1", "PORT=1",       "RUNNEL_PORT=81",
                   "RUNNEL_PORT=82",      "RUNNEL_LOG_JSON=true", NULL};
    struct rn_serve_config c = {0};
    struct rn_serve_origin org;
    struct rn_serve_layers L = {NULL, NULL, 0, env, NULL};
    if (rn_serve_config_load(&c, &org, &L, &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    assert_int_equal(c.port, 81);
    assert_int_equal(c.log_json, 1);
    assert_string_equal(org.where[field_index("log_json")], "environment RUNNEL_LOG_JSON");
    assert_string_equal(org.where[field_index("host")], "default");
    rn_cfg_free(st, &c);
}

/* ---- printing -------------------------------------------------------------- */

static void test_print_round_trip(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_serve_config c = {0}, back = {0};
    struct rn_serve_origin org;
    struct rn_serve_layers none = {0};
    assert_int_equal(rn_serve_config_load(&c, &org, &none, &e), RN_OK);
    /* strings that must be quoted to read back, and a 17-digit float */
    static const char *const hard[] = {"", "null", "~", "-x", "a: b", "#x", "x #y", "new\nline",
                                       "quote \" and \\", "'single'", "[list]", "{map}", "*alias",
                                       "&anchor", " lead", "trail ", "\xc3\xa9t\xc3\xa9", "-"};
    /* origins with what a path may hold must not break the lines */
    snprintf(org.where[0], sizeof org.where[0], "odd\npath #:1");
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        free(c.model_name);
        c.model_name = strdup(hard[i]);
        free(c.tokenizer);
        c.tokenizer = strdup(hard[(i + 1) % (sizeof hard / sizeof hard[0])]);
        free(c.api_key);
        c.api_key = strdup("sk-do-not-print");
        c.temperature = 0.1 + 0.2;
        c.port = 0;
        c.log_json = 1;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(rn_serve_config_print(f, &c, &org), RN_OK);
        assert_int_equal(fclose(f), 0);
        assert_null(strstr(buf, "sk-do-not-print"));
        memset(&back, 0, sizeof back);
        assert_int_equal(rn_cfg_defaults(st, &back, &e), RN_OK);
        if (rn_cfg_load_text(st, &back, buf, len, "printed", &e) < 0)
            fail_msg("case %zu does not read back: %s: %s\n%s", i, e.where, e.msg, buf);
        assert_string_equal(back.model_name, c.model_name);
        assert_string_equal(back.tokenizer, c.tokenizer);
        assert_string_equal(back.api_key, "(set)");
        assert_memory_equal(&back.temperature, &c.temperature, sizeof c.temperature);
        assert_int_equal(back.port, 0);
        assert_int_equal(back.log_json, 1);
        assert_string_equal(back.host, c.host);
        /* one line per field: the odd origin did not add one */
        int lines = 0;
        for (const char *p = buf; *p; p++)
            lines += *p == '\n';
        assert_int_equal(lines, 24);
        free(buf);
        rn_cfg_free(st, &back);
    }
    /* an empty key prints as "" and reads back empty */
    free(c.api_key);
    c.api_key = strdup("");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rn_serve_config_print(f, &c, &org), RN_OK);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(buf, "\napi_key: \"\"  # default\n"));
    free(buf);
    /* a full disk is an error */
    f = fopen("/dev/full", "w");
    if (f) {
        assert_int_equal(rn_serve_config_print(f, &c, &org), RN_EIO);
        fclose(f);
    }
    rn_cfg_free(st, &c);
}

/* ---- what cfg.c gained for the origins ------------------------------------- */

static void test_cfg_origin_helpers(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_serve_config c = {0};
    assert_int_equal(rn_cfg_defaults(st, &c, &e), RN_OK);
    int line[32];
    memset(line, 0x55, sizeof line);
    const char *y = "# top\nport: 1\n\ntop_k: 5\n";
    assert_int_equal(rn_cfg_load_text_lines(st, &c, y, strlen(y), "y", line, &e), RN_OK);
    for (int i = 0; st->fields[i].name; i++)
        assert_int_equal(line[i], i == field_index("port") ? 2 : i == field_index("top_k") ? 4 : 0);
    /* a file that cannot be read leaves no stale lines */
    memset(line, 0x55, sizeof line);
    assert_int_equal(rn_cfg_load_file_lines(st, &c, "/nonexistent.yaml", line, &e), RN_EIO);
    assert_int_equal(line[0], 0);
    assert_int_equal(rn_cfg_load_text_lines(st, &c, y, strlen(y), "y", NULL, &e), RN_OK);
    struct rn_cfg_cli cc;
    static const char *const flags[] = {"port", "1", "port", "2", NULL};
    cli_of(&cc, flags);
    assert_string_equal(rn_cfg_cli_value(&cc, field_index("port")), "2");
    assert_null(rn_cfg_cli_value(&cc, field_index("host")));
    assert_null(rn_cfg_cli_value(&cc, -1));
    assert_null(rn_cfg_cli_value(&cc, 24));
    assert_null(rn_cfg_cli_value(NULL, 0));
    rn_cfg_cli_free(&cc);
    rn_cfg_free(st, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_layering),
        cmocka_unit_test(test_print_exact),
        cmocka_unit_test(test_dotenv_syntax),
        cmocka_unit_test(test_dotenv_errors),
        cmocka_unit_test(test_dotenv_limits),
        cmocka_unit_test(test_dotenv_layer),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_environ),
        cmocka_unit_test(test_print_round_trip),
        cmocka_unit_test(test_cfg_origin_helpers),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
