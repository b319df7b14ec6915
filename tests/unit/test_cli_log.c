/* cli and log: option parsing (mixed operands, bundles, --opt=value,
 * errors with suggestions), number parsing, --help and completions from
 * one table, human and JSON log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

enum { O_OUT = 'o', O_KIND = 'k', O_FLAG = 'f', O_NUM = 300 };
static const struct rn_option opts[] = {
    {"output", 'o', "FILE", "write to FILE", RN_COMP_FILE, NULL, O_OUT},
    {"kind", 'k', "KIND", "pick a kind: it's [fun]", RN_COMP_WORDS, "tensor text", O_KIND},
    {"flag", 'f', NULL, "a flag", RN_COMP_NONE, NULL, O_FLAG},
    {"number", 0, "N", "a number", RN_COMP_NONE, NULL, O_NUM},
    {0},
};
static const struct rn_program prog = {"tool", "[OPTIONS] [FILE...]", "Does things.", NULL,
                                       opts, RN_COMP_FILE};

struct parsed {
    const char *out, *kind;
    int flag;
    long long num;
    int rc, status, nops;
    char *ops[8];
};

static struct parsed parse(int argc, const char **cargv)
{
    static char *argv[16];
    static char store[16][64];
    for (int i = 0; i < argc; i++) {
        snprintf(store[i], sizeof store[i], "%s", cargv[i]);
        argv[i] = store[i];
    }
    struct parsed p = {0};
    struct rn_cli cli;
    rn_cli_init(&cli, &prog, argc, argv);
    int id;
    while ((id = rn_cli_next(&cli)) > 0) {
        switch (id) {
        case O_OUT: p.out = cli.arg; break;
        case O_KIND: p.kind = cli.arg; break;
        case O_FLAG: p.flag++; break;
        case O_NUM:
            if (rn_cli_int(&cli, 1, 100, &p.num) == RN_CLI_EXIT)
                id = RN_CLI_EXIT;
            break;
        }
        if (id == RN_CLI_EXIT)
            break;
    }
    p.rc = id;
    p.status = cli.status;
    if (id == 0) {
        p.nops = argc - cli.optind;
        for (int i = 0; i < p.nops && i < 8; i++)
            p.ops[i] = argv[cli.optind + i];
    }
    return p;
}

static void test_mixed_operands_and_forms(void **state)
{
    (void)state;
    const char *a[] = {"tool", "in1", "-o", "out", "--kind=text", "in2", "-ff", "--", "-x", "-"};
    struct parsed p = parse(10, a);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.out, "out");
    assert_string_equal(p.kind, "text");
    assert_int_equal(p.flag, 2);
    assert_int_equal(p.nops, 4);
    assert_string_equal(p.ops[0], "in1");
    assert_string_equal(p.ops[1], "in2");
    assert_string_equal(p.ops[2], "-x");
    assert_string_equal(p.ops[3], "-");
    const char *b[] = {"tool", "-oFILE", "-fk", "tensor"};
    p = parse(4, b);
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.out, "FILE");
    assert_string_equal(p.kind, "tensor");
    assert_int_equal(p.nops, 0);
}

static void test_usage_errors(void **state)
{
    (void)state;
    const char *a[] = {"tool", "--kidn", "x"};
    struct parsed p = parse(3, a);
    assert_int_equal(p.rc, RN_CLI_EXIT);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *b[] = {"tool", "-o"};
    p = parse(2, b);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *c[] = {"tool", "--flag=3"};
    p = parse(2, c);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *d[] = {"tool", "-z"};
    p = parse(2, d);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *n1[] = {"tool", "--number", "101"};
    p = parse(3, n1);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *n2[] = {"tool", "--number", "5x"};
    p = parse(3, n2);
    assert_int_equal(p.status, RN_EXIT_USAGE);
    const char *n3[] = {"tool", "--number=42"};
    p = parse(2, n3);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.num, 42);
}

static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f);
    fclose(f);
    return buf;
}

static void help_to(FILE *f) { rn_cli_print_help(&prog, f); }
static void bash_to(FILE *f) { assert_int_equal(rn_cli_print_completion(&prog, "bash", f), 0); }
static void zsh_to(FILE *f) { assert_int_equal(rn_cli_print_completion(&prog, "zsh", f), 0); }

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *h = capture(help_to);
    for (const struct rn_option *o = opts; o->name; o++) {
        char want[64];
        snprintf(want, sizeof want, "--%s", o->name);
        assert_non_null(strstr(h, want));
        assert_non_null(strstr(h, o->help));
    }
    assert_non_null(strstr(h, "Usage: tool [OPTIONS] [FILE...]"));
    assert_non_null(strstr(h, "--help"));
    assert_non_null(strstr(h, "--log-json"));
    assert_null(strstr(h, "--completion")); /* hidden */
    free(h);
}

static int shell_syntax_ok(const char *shell, const char *script)
{
    char path[] = "/tmp/rn_comp_XXXXXX";
    int fd = mkstemp(path);
    ssize_t n = write(fd, script, strlen(script));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -n %s 2>/dev/null", shell, path);
    int rc = n == (ssize_t)strlen(script) ? system(cmd) : -1;
    unlink(path);
    return rc == 0;
}

static void test_completions(void **state)
{
    (void)state;
    char *b = capture(bash_to);
    assert_non_null(strstr(b, "complete -o filenames -F _runnel_tool tool"));
    assert_non_null(strstr(b, "tensor text"));
    assert_non_null(strstr(b, "--output"));
    assert_true(shell_syntax_ok("bash", b));
    free(b);
    char *z = capture(zsh_to);
    assert_non_null(strstr(z, "#compdef tool"));
    assert_non_null(strstr(z, "it'\\''s \\[fun\\]")); /* quoting of ' and [] */
    if (access("/usr/bin/zsh", X_OK) == 0 || access("/bin/zsh", X_OK) == 0)
        assert_true(shell_syntax_ok("zsh", z));
    free(z);
    assert_int_equal(rn_cli_print_completion(&prog, "fish", stdout), -1);
}

static void test_log_human_and_json(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rn_log_set_stream(f);
    rn_log_setup("tool", RN_LOG_INFO, 0);
    rn_log(RN_LOG_INFO, "hello %d", 5);
    rn_log(RN_LOG_DEBUG, "hidden");
    cJSON *fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "step", 3);
    cJSON_AddStringToObject(fields, "name", "x");
    rn_log_json(RN_LOG_WARN, "careful", fields);
    fflush(f);
    assert_string_equal(buf, "tool: hello 5\ntool: warning: careful step=3 name=x\n");
    fclose(f);
    free(buf);

    f = open_memstream(&buf, &len);
    rn_log_set_stream(f);
    rn_log_setup("tool", RN_LOG_DEBUG, 1);
    fields = cJSON_CreateObject();
    cJSON_AddNumberToObject(fields, "loss", 2.5);
    rn_log_json(RN_LOG_INFO, "step", fields);
    rn_log(RN_LOG_DEBUG, "quote \" and \\ survive");
    fflush(f);
    char *line2 = strchr(buf, '\n');
    assert_non_null(line2);
    *line2++ = '\0';
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "info");
    assert_string_equal(cJSON_GetObjectItem(j, "prog")->valuestring, "tool");
    assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "step");
    assert_true(cJSON_GetObjectItem(j, "loss")->valuedouble == 2.5);
    assert_true(cJSON_GetObjectItem(j, "ts")->valuedouble > 1e9);
    cJSON_Delete(j);
    j = cJSON_Parse(line2);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "quote \" and \\ survive");
    cJSON_Delete(j);
    fclose(f);
    free(buf);

    /* -q: errors only. */
    f = open_memstream(&buf, &len);
    rn_log_set_stream(f);
    rn_log_setup("tool", RN_LOG_ERROR, 0);
    rn_log(RN_LOG_WARN, "no");
    rn_log(RN_LOG_ERROR, "yes");
    fflush(f);
    assert_string_equal(buf, "tool: yes\n");
    fclose(f);
    free(buf);
    rn_log_set_stream(NULL);
}

static void test_progress_silent_off_terminal(void **state)
{
    (void)state;
    /* Progress is drawn only on a terminal; under the test runner stderr
     * is a file, so these must not write anything or crash. */
    struct rn_progress p;
    rn_progress_start(&p, "work", 10);
    for (uint64_t i = 0; i <= 10; i++)
        rn_progress_update(&p, i, "extra");
    rn_progress_end(&p);
    assert_int_equal(p.active, isatty(2) ? p.active : 0);
    assert_true(rn_now() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_operands_and_forms),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_completions),
        cmocka_unit_test(test_log_human_and_json),
        cmocka_unit_test(test_progress_silent_off_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
