/* dotenv — the NAME=value lines of a .env file, as docker compose and
 * python-dotenv write them. This module only splits and unquotes; what a
 * name means is the caller's business (cfg_serve maps RUNNEL_* names to
 * settings).
 *
 *     static int on_var(void *ctx, const char *name, const char *value,
 *                       int line, struct rn_err *e) { ...; return RN_OK; }
 *     if (rn_dotenv_load_file(".env", on_var, ctx, &e) < 0) ...
 *
 * Syntax, one assignment a line (LF or CRLF):
 *
 *     # a comment line; blank lines are skipped
 *     export NAME=value        "export " is optional
 *     NAME = value # comment   unquoted: ends at " #", trimmed
 *     NAME="a \"b\"\n"         double quotes: \" \\ \n are escapes, other
 *                              backslashes are kept as they are
 *     NAME='as is # not a comment'   single quotes: nothing is special
 *
 * NAME is [A-Za-z_][A-Za-z0-9_]*. Values span one line (no multi-line
 * quotes, no ${VAR} expansion). A quoted value may be followed only by
 * blanks and a comment.
 */
#ifndef RN_DOTENV_H
#define RN_DOTENV_H

#include <stddef.h>

#include "err.h"

#define RN_DOTENV_FILE_MAX (1u << 20)   /* bytes of a .env file */
#define RN_DOTENV_LINE_MAX (64u << 10)  /* bytes of one line, without its end */

/* Called once per assignment, in file order, with the unquoted value and
 * the 1-based line number. name and value are borrowed for the call.
 * Return RN_OK to go on, or fill e and return < 0 to stop the parse with
 * that status. */
typedef int (*rn_dotenv_fn)(void *ctx, const char *name, const char *value, int line,
                            struct rn_err *e);

/* Parse len bytes of .env text; name is the file name for messages.
 * Errors (e->where "NAME:LINE"): RN_EFORMAT for a line that is not
 * NAME=value (the message quotes it), a bad quote or a NUL byte;
 * RN_ELIMIT for text over RN_DOTENV_FILE_MAX or a line over
 * RN_DOTENV_LINE_MAX; RN_ENOMEM; or whatever fn returned. */
int rn_dotenv_parse(const char *text, size_t len, const char *name, rn_dotenv_fn fn, void *ctx,
                    struct rn_err *e);

/* Read the file at path (at most RN_DOTENV_FILE_MAX bytes; RN_EIO naming
 * path if it cannot be read) and parse it, with path as the name. */
int rn_dotenv_load_file(const char *path, rn_dotenv_fn fn, void *ctx, struct rn_err *e);

#endif
