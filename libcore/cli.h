/* cli — the options every binary shares, and one option table per binary
 * that is the single source of --help, the bash/zsh completions and the
 * OPTIONS list checked against the man page.
 *
 * A binary declares its options and walks them:
 *
 *     static const struct rn_option opts[] = {
 *         {"output", 'o', "FILE", "write the stream to FILE", RN_COMP_FILE, NULL, 'o'},
 *         {"kind", 0, "KIND", "keep records of KIND", RN_COMP_WORDS, "tensor tokens", OPT_KIND},
 *         {0}
 *     };
 *     static const struct rn_program prog = {"inspect", "[OPTIONS] [FILE...]",
 *         "list, select and convert runnel streams", NULL, opts, RN_COMP_FILE};
 *
 *     struct rn_cli cli;
 *     rn_cli_init(&cli, &prog, argc, argv);
 *     while ((id = rn_cli_next(&cli)) > 0)
 *         switch (id) { case 'o': out = cli.arg; break; ... }
 *     if (id == RN_CLI_EXIT) return cli.status;   // --help, --version, usage error
 *     files = argv + cli.optind;
 *
 * Shared options, handled here: -h/--help, -V/--version, -q/--quiet,
 * -v/--verbose, --log-json, and the hidden --completion bash|zsh and
 * --options-roff used to generate completions/ and check man pages.
 * Exit codes are the same for every binary: 0 success, 1 runtime or data
 * error, 2 usage error.
 */
#ifndef RN_CLI_H
#define RN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define RN_EXIT_OK 0
#define RN_EXIT_FAIL 1
#define RN_EXIT_USAGE 2

enum rn_complete {
    RN_COMP_NONE = 0,   /* free text / number: no completion */
    RN_COMP_FILE,       /* file names */
    RN_COMP_DIR,        /* directory names */
    RN_COMP_WORDS,      /* one of the space-separated words in .words */
};

struct rn_option {
    const char *name;     /* long name without "--" */
    int short_name;       /* short letter, or 0 */
    const char *arg;      /* argument name shown in help ("FILE"); NULL: a flag */
    const char *help;     /* one line, lower case, no final period */
    int complete;         /* enum rn_complete for the argument */
    const char *words;    /* for RN_COMP_WORDS */
    int id;               /* returned by rn_cli_next; > 0 */
};

struct rn_program {
    const char *name;        /* "inspect" */
    const char *usage;       /* "[OPTIONS] [FILE...]" */
    const char *summary;     /* one line: what it does */
    const char *details;     /* extra --help paragraph(s), or NULL */
    const struct rn_option *options;  /* terminated by a zeroed entry */
    int operands;            /* enum rn_complete for operands */
};

#define RN_CLI_EXIT (-1)

struct rn_cli {
    const struct rn_program *prog;
    int argc;
    char **argv;
    int optind;           /* first operand, once rn_cli_next returned 0 */
    const char *arg;      /* argument of the option just returned */
    int status;           /* exit status when rn_cli_next returns RN_CLI_EXIT */
    int quiet, verbose, log_json;
    /* private */
    int pos_, only_operands_;
    char **operands_;
    int noperands_;
    char optname_[72];    /* the option being parsed, for messages */
};

/* Sets the program name used by rn_die and the logger. */
void rn_cli_init(struct rn_cli *cli, const struct rn_program *prog, int argc, char **argv);
/* Next option id (> 0), 0 when options are done (operands are then
 * argv[optind..argc-1], options and operands may be mixed, "--" ends
 * options), or RN_CLI_EXIT when main should return cli->status (help or
 * version printed: 0; usage error printed: 2). */
int rn_cli_next(struct rn_cli *cli);

/* Print "prog: message" and "Try 'prog --help'." on stderr; set
 * cli->status = 2 and return RN_CLI_EXIT. */
int rn_cli_usage(struct rn_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* When a binary stream would go to a terminal (output is NULL or "-" and
 * stdout is a tty), print a usage error and return RN_CLI_EXIT; else 0. */
int rn_cli_refuse_tty(struct rn_cli *cli, const char *output);

/* Parse cli->arg as a number in [min, max]; on failure print a usage error
 * naming the option and return RN_CLI_EXIT, else 0. */
int rn_cli_int(struct rn_cli *cli, long long min, long long max, long long *out);
int rn_cli_double(struct rn_cli *cli, double min, double max, double *out);

/* Levenshtein distance between two short names (99 when either passes 64
 * characters), for "did you mean ...?" suggestions. */
size_t rn_edit_distance(const char *a, const char *b);

/* The program name set by rn_cli_init ("runnel" before). */
const char *rn_progname(void);

/* Report e as "prog: where: msg" on stderr and exit 1 (2 for RN_EUSAGE). */
void rn_die(const struct rn_err *e) __attribute__((noreturn));
/* Report e without exiting; returns the exit status it calls for. */
int rn_report(const struct rn_err *e);

/* Flush and close stdout, reporting a failed write (a full disk, a closed
 * pipe) as "prog: stdout: ..."; returns the exit status to use (0 or 1). */
int rn_close_stdout(void);

/* Print --help text to f. */

void rn_cli_print_help(const struct rn_program *prog, FILE *f);
/* Print a bash or zsh completion script for prog; returns -1 for an
 * unknown shell. */
int rn_cli_print_completion(const struct rn_program *prog, const char *shell, FILE *f);

#endif
