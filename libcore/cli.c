/* cli — see cli.h. A small hand-written parser instead of getopt_long so
 * that messages are ours ("did you mean --kind?") and the option table is
 * the one source for --help and the completions. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "runnel.h"

enum { ID_HELP = -100, ID_VERSION, ID_QUIET, ID_VERBOSE, ID_LOG_JSON, ID_COMPLETION };

static const struct rn_option common_opts[] = {
    {"help", 'h', NULL, "show this help and exit", RN_COMP_NONE, NULL, ID_HELP},
    {"version", 'V', NULL, "show the version and exit", RN_COMP_NONE, NULL, ID_VERSION},
    {"quiet", 'q', NULL, "print errors only", RN_COMP_NONE, NULL, ID_QUIET},
    {"verbose", 'v', NULL, "print debugging detail", RN_COMP_NONE, NULL, ID_VERBOSE},
    {"log-json", 0, NULL, "write log lines on stderr as JSON objects", RN_COMP_NONE, NULL,
     ID_LOG_JSON},
    {0},
};
/* Hidden: used by `make completions`, not shown in --help. */
static const struct rn_option hidden_opts[] = {
    {"completion", 0, "SHELL", "print a completion script", RN_COMP_WORDS, "bash zsh",
     ID_COMPLETION},
    {0},
};

static const char *progname = "runnel";

const char *rn_progname(void) { return progname; }

void rn_cli_init(struct rn_cli *cli, const struct rn_program *prog, int argc, char **argv)
{
    memset(cli, 0, sizeof *cli);
    cli->prog = prog;
    cli->argc = argc;
    cli->argv = argv;
    cli->pos_ = 1;
    progname = prog->name;
    rn_log_setup(prog->name, RN_LOG_INFO, 0);
}

int rn_cli_usage(struct rn_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", cli->prog->name);
    cli->status = RN_EXIT_USAGE;
    return RN_CLI_EXIT;
}

size_t rn_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const struct rn_option *find_long(const struct rn_option *tab, const char *name, size_t n)
{
    for (; tab && tab->name; tab++)
        if (strlen(tab->name) == n && strncmp(tab->name, name, n) == 0)
            return tab;
    return NULL;
}

static const struct rn_option *find_short(const struct rn_option *tab, int c)
{
    for (; tab && tab->name; tab++)
        if (tab->short_name == c)
            return tab;
    return NULL;
}

static const char *closest_option(const struct rn_program *prog, const char *name, size_t n)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < 120 ? n : 120), name);
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    const struct rn_option *tabs[] = {prog->options, common_opts};
    for (int t = 0; t < 2; t++)
        for (const struct rn_option *o = tabs[t]; o && o->name; o++) {
            size_t d = rn_edit_distance(buf, o->name);
            if (d < bestd) {
                bestd = d;
                best = o->name;
            }
        }
    return bestd <= 2 || (best && strncmp(best, buf, strlen(buf)) == 0) ? best : NULL;
}

static int handle_common(struct rn_cli *cli, int id)
{
    switch (id) {
    case ID_HELP:
        rn_cli_print_help(cli->prog, stdout);
        cli->status = rn_close_stdout();
        return RN_CLI_EXIT;
    case ID_VERSION:
        printf("%s (runnel) %s\n", cli->prog->name, RN_VERSION);
        cli->status = rn_close_stdout();
        return RN_CLI_EXIT;
    case ID_QUIET:
        cli->quiet = 1;
        break;
    case ID_VERBOSE:
        cli->verbose++;
        break;
    case ID_LOG_JSON:
        cli->log_json = 1;
        break;
    case ID_COMPLETION:
        if (rn_cli_print_completion(cli->prog, cli->arg, stdout) < 0)
            return rn_cli_usage(cli, "--completion: unknown shell '%s' (bash or zsh)", cli->arg);
        cli->status = rn_close_stdout();
        return RN_CLI_EXIT;
    }
    int level = cli->quiet ? RN_LOG_ERROR : cli->verbose ? RN_LOG_DEBUG : RN_LOG_INFO;
    rn_log_setup(cli->prog->name, level, cli->log_json);
    return 0;
}

/* Operands are collected as they come, so options may follow them (GNU
 * style); they are moved to the end of argv when parsing is done. */
static int finish(struct rn_cli *cli)
{
    int n = cli->noperands_;
    int rest = cli->argc - cli->pos_;
    char **ops = cli->operands_;
    /* Layout: [argv0, ...consumed options..., operands..., rest...]: build
     * the operand list in place at the end of argv. */
    char **tmp = malloc(sizeof(char *) * (size_t)(n + rest + 1));
    if (!tmp) {
        fprintf(stderr, "%s: out of memory\n", cli->prog->name);
        cli->status = RN_EXIT_FAIL;
        return RN_CLI_EXIT;
    }
    for (int i = 0; i < n; i++)
        tmp[i] = ops[i];
    for (int i = 0; i < rest; i++)
        tmp[n + i] = cli->argv[cli->pos_ + i];
    cli->optind = cli->argc - n - rest;
    for (int i = 0; i < n + rest; i++)
        cli->argv[cli->optind + i] = tmp[i];
    free(tmp);
    free(cli->operands_);
    cli->operands_ = NULL;
    return 0;
}

static int add_operand(struct rn_cli *cli, char *s)
{
    char **ops = realloc(cli->operands_, sizeof(char *) * (size_t)(cli->noperands_ + 1));
    if (!ops) {
        fprintf(stderr, "%s: out of memory\n", cli->prog->name);
        cli->status = RN_EXIT_FAIL;
        return RN_CLI_EXIT;
    }
    cli->operands_ = ops;
    ops[cli->noperands_++] = s;
    return 0;
}

static int take_option(struct rn_cli *cli, const struct rn_option *o, const char *inline_arg,
                       const char *shown)
{
    cli->arg = NULL;
    snprintf(cli->optname_, sizeof cli->optname_, "%s", shown);
    if (o->arg) {
        if (inline_arg) {
            cli->arg = inline_arg;
        } else if (cli->pos_ < cli->argc) {
            cli->arg = cli->argv[cli->pos_++];
        } else {
            free(cli->operands_);
            cli->operands_ = NULL;
            return rn_cli_usage(cli, "option %s needs an argument %s", shown, o->arg);
        }
    } else if (inline_arg) {
        free(cli->operands_);
        cli->operands_ = NULL;
        return rn_cli_usage(cli, "option %s takes no argument", shown);
    }
    if (o->id < 0) {
        int rc = handle_common(cli, o->id);
        if (rc == RN_CLI_EXIT) {
            free(cli->operands_);
            cli->operands_ = NULL;
        }
        return rc;
    }
    return o->id;
}

int rn_cli_next(struct rn_cli *cli)
{
    char shortbuf[3];
    for (;;) {
        if (cli->pos_ >= cli->argc)
            return finish(cli);
        char *a = cli->argv[cli->pos_];
        if (cli->only_operands_ || a[0] != '-' || a[1] == '\0') {
            cli->pos_++;
            if (add_operand(cli, a) < 0)
                return RN_CLI_EXIT;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            cli->pos_++;
            cli->only_operands_ = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const struct rn_option *o = find_long(cli->prog->options, name, n);
            if (!o)
                o = find_long(common_opts, name, n);
            if (!o)
                o = find_long(hidden_opts, name, n);
            cli->pos_++;
            if (!o) {
                const char *s = closest_option(cli->prog, name, n);
                free(cli->operands_);
                cli->operands_ = NULL;
                if (s)
                    return rn_cli_usage(cli, "unknown option '--%.*s' (did you mean --%s?)",
                                        (int)n, name, s);
                return rn_cli_usage(cli, "unknown option '--%.*s'", (int)n, name);
            }
            char shown[140];
            snprintf(shown, sizeof shown, "--%s", o->name);
            int rc = take_option(cli, o, eq ? eq + 1 : NULL, shown);
            if (rc != 0)
                return rc;
            continue;
        }
        /* Short options: -o FILE, -oFILE, -qv. Handle the first letter and
         * leave the rest of the bundle in place by rewriting argv[pos]. */
        int c = (unsigned char)a[1];
        const struct rn_option *o = find_short(cli->prog->options, c);
        if (!o)
            o = find_short(common_opts, c);
        shortbuf[0] = '-';
        shortbuf[1] = (char)c;
        shortbuf[2] = '\0';
        if (!o) {
            cli->pos_++;
            free(cli->operands_);
            cli->operands_ = NULL;
            return rn_cli_usage(cli, "unknown option '-%c'", c);
        }
        int rc;
        if (o->arg) {
            cli->pos_++;
            rc = take_option(cli, o, a[2] ? a + 2 : NULL, shortbuf);
        } else if (a[2]) {
            /* Drop the handled letter: "-qv" becomes "-v" for the next call. */
            memmove(a + 1, a + 2, strlen(a + 2) + 1);
            rc = take_option(cli, o, NULL, shortbuf);
        } else {
            cli->pos_++;
            rc = take_option(cli, o, NULL, shortbuf);
        }
        if (rc != 0)
            return rc;
    }
}

int rn_cli_refuse_tty(struct rn_cli *cli, const char *output)
{
    if ((output && strcmp(output, "-") != 0) || !isatty(1))
        return 0;
    return rn_cli_usage(cli, "refusing to write a binary stream to a terminal "
                             "(use -o FILE or a pipe)");
}

int rn_cli_int(struct rn_cli *cli, long long min, long long max, long long *out)
{
    const char *s = cli->arg ? cli->arg : "";
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE)
        return rn_cli_usage(cli, "%s '%s' is not an integer", cli->optname_, s);
    if (v < min || v > max)
        return rn_cli_usage(cli, "%s %lld is out of range [%lld, %lld]", cli->optname_, v,
                            min, max);
    *out = v;
    return 0;
}

int rn_cli_double(struct rn_cli *cli, double min, double max, double *out)
{
    const char *s = cli->arg ? cli->arg : "";
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || isnan(v))
        return rn_cli_usage(cli, "%s '%s' is not a number", cli->optname_, s);
    if (v < min || v > max)
        return rn_cli_usage(cli, "%s %g is out of range [%g, %g]", cli->optname_, v, min, max);
    *out = v;
    return 0;
}

int rn_report(const struct rn_err *e)
{
    if (rn_log_is_json()) {
        /* Scripts reading --log-json get errors in the same shape. */
        cJSON *f = cJSON_CreateObject();
        if (e->where[0])
            cJSON_AddStringToObject(f, "where", e->where);
        cJSON_AddStringToObject(f, "status", rn_status_name(e->code));
        rn_log_json(RN_LOG_ERROR, e->msg, f);
    } else if (e->where[0])
        fprintf(stderr, "%s: %s: %s\n", progname, e->where, e->msg);
    else
        fprintf(stderr, "%s: %s\n", progname, e->msg);
    return e->code == RN_EUSAGE ? RN_EXIT_USAGE : RN_EXIT_FAIL;
}

void rn_die(const struct rn_err *e)
{
    exit(rn_report(e));
}

int rn_close_stdout(void)
{
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int saved = errno;
    if (close(1) < 0 && errno != EBADF) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        fprintf(stderr, "%s: stdout: write error: %s\n", progname, strerror(saved));
        return RN_EXIT_FAIL;
    }
    return RN_EXIT_OK;
}

/* ---- --help and completions -------------------------------------------- */

static void help_table(const struct rn_option *o, FILE *f)
{
    for (; o && o->name; o++) {
        char left[96];
        int n = 0;
        if (o->short_name)
            n = snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name);
        else
            n = snprintf(left, sizeof left, "      --%s", o->name);
        if (o->arg && n > 0 && (size_t)n < sizeof left)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        if (strlen(left) < 28)
            fprintf(f, "%-28s%s\n", left, o->help);
        else
            fprintf(f, "%s\n%28s%s\n", left, "", o->help);
    }
}

void rn_cli_print_help(const struct rn_program *prog, FILE *f)
{
    fprintf(f, "Usage: %s %s\n%s\n\n", prog->name, prog->usage, prog->summary);
    if (prog->options && prog->options->name) {
        fprintf(f, "Options:\n");
        help_table(prog->options, f);
        fputc('\n', f);
    }
    fprintf(f, "Common options:\n");
    help_table(common_opts, f);
    if (prog->details)
        fprintf(f, "\n%s\n", prog->details);
    fprintf(f, "\nExit status: 0 on success, 1 on a runtime or data error, 2 on a usage error.\n"
               "Full documentation: man %s\n", prog->name);
}

static void bash_words(const struct rn_option *o, FILE *f)
{
    for (; o && o->name; o++) {
        if (o->short_name)
            fprintf(f, " -%c", o->short_name);
        fprintf(f, " --%s", o->name);
    }
}

static void bash_case(const struct rn_option *o, FILE *f)
{
    for (; o && o->name; o++) {
        if (!o->arg)
            continue;
        fprintf(f, "        ");
        if (o->short_name)
            fprintf(f, "-%c|", o->short_name);
        fprintf(f, "--%s)\n            ", o->name);
        switch (o->complete) {
        case RN_COMP_FILE: fprintf(f, "COMPREPLY=($(compgen -f -- \"$cur\"))"); break;
        case RN_COMP_DIR: fprintf(f, "COMPREPLY=($(compgen -d -- \"$cur\"))"); break;
        case RN_COMP_WORDS:
            fprintf(f, "COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))", o->words ? o->words : "");
            break;
        default: fprintf(f, "COMPREPLY=()"); break;
        }
        fprintf(f, "\n            return ;;\n");
    }
}

/* zsh _arguments specs quote with single quotes and treat []: specially. */
static void zsh_escape(const char *s, FILE *f)
{
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
}

static void zsh_specs(const struct rn_option *o, FILE *f)
{
    for (; o && o->name; o++) {
        fputs("    ", f);
        if (o->short_name)
            fprintf(f, "'(-%c --%s)'{-%c,--%s}'", o->short_name, o->name, o->short_name, o->name);
        else
            fprintf(f, "'--%s", o->name);
        fputc('[', f);
        zsh_escape(o->help, f);
        fputc(']', f);
        if (o->arg) {
            fputc(':', f);
            zsh_escape(o->arg, f);
            fputc(':', f);
            switch (o->complete) {
            case RN_COMP_FILE: fputs("_files", f); break;
            case RN_COMP_DIR: fputs("_files -/", f); break;
            case RN_COMP_WORDS: fprintf(f, "(%s)", o->words ? o->words : ""); break;
            default: fputs(" ", f); break;
            }
        }
        fputs("' \\\n", f);
    }
}

int rn_cli_print_completion(const struct rn_program *prog, const char *shell, FILE *f)
{
    const char *n = prog->name;
    if (shell && strcmp(shell, "bash") == 0) {
        fprintf(f, "# bash completion for %s (generated by `%s --completion bash`)\n", n, n);
        fprintf(f, "_runnel_%s()\n{\n    local cur prev\n", n);
        fprintf(f, "    cur=${COMP_WORDS[COMP_CWORD]}\n    prev=${COMP_WORDS[COMP_CWORD-1]}\n");
        fprintf(f, "    case $prev in\n");
        bash_case(prog->options, f);
        fprintf(f, "    esac\n    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W \"");
        bash_words(prog->options, f);
        bash_words(common_opts, f);
        fprintf(f, " \" -- \"$cur\"))\n        return\n    fi\n");
        switch (prog->operands) {
        case RN_COMP_FILE: fprintf(f, "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"); break;
        case RN_COMP_DIR: fprintf(f, "    COMPREPLY=($(compgen -d -- \"$cur\"))\n"); break;
        default: fprintf(f, "    COMPREPLY=()\n"); break;
        }
        fprintf(f, "}\ncomplete -o filenames -F _runnel_%s %s\n", n, n);
        return 0;
    }
    if (shell && strcmp(shell, "zsh") == 0) {
        fprintf(f, "#compdef %s\n# zsh completion for %s (generated by `%s --completion zsh`)\n",
                n, n, n);
        fprintf(f, "_arguments -s \\\n");
        zsh_specs(prog->options, f);
        zsh_specs(common_opts, f);
        switch (prog->operands) {
        case RN_COMP_FILE: fprintf(f, "    '*:file:_files'\n"); break;
        case RN_COMP_DIR: fprintf(f, "    '*:directory:_files -/'\n"); break;
        default: fprintf(f, "    '*:argument: '\n"); break;
        }
        return 0;
    }
    return -1;
}
