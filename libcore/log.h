/* log — talk to the user on stderr: human lines, or JSON lines for scripts.
 *
 * stdout carries data, so everything here goes to stderr. rn_log_setup is
 * called once by the shared CLI code (-q, -v, --log-json). In human mode a
 * line reads "inspect: message key=value ..."; with --log-json each line is
 * one JSON object: {"ts": 1732550000.123, "prog": "inspect",
 * "level": "info", "msg": "message", ...fields}.
 *
 *     rn_log(RN_LOG_INFO, "read %d records", n);
 *     cJSON *f = cJSON_CreateObject();
 *     cJSON_AddNumberToObject(f, "step", step);
 *     rn_log_json(RN_LOG_INFO, "step", f);       // takes ownership of f
 *
 * Progress lines (rn_progress_*) are drawn only when stderr is a terminal
 * and neither -q nor --log-json is in force.
 */
#ifndef RN_LOG_H
#define RN_LOG_H

#include <stdint.h>
#include <stdio.h>

struct cJSON;

enum rn_log_level { RN_LOG_ERROR = 0, RN_LOG_WARN = 1, RN_LOG_INFO = 2, RN_LOG_DEBUG = 3 };

/* prog: name in every line; level: most verbose level shown (default
 * RN_LOG_INFO; -q gives RN_LOG_ERROR... only errors, -v RN_LOG_DEBUG);
 * json: 1 for JSON lines. */
void rn_log_setup(const char *prog, int level, int json);
int rn_log_level(void);
int rn_log_is_json(void);
const char *rn_log_prog(void);

void rn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields; fields (a cJSON object, may be NULL) is
 * consumed. Human mode prints the fields as key=value after the message. */
void rn_log_json(int level, const char *msg, struct cJSON *fields);

/* Whether a field value can be shown bare in a human line without
 * forging a field or a line (no spaces, quotes, backslashes or control
 * characters, not empty); others are shown as JSON strings. */
int rn_log_bare(const char *s);

/* Redirect output (tests); NULL restores stderr. */
void rn_log_set_stream(FILE *f);

struct rn_progress {
    const char *what;     /* "encoding", "training", ... */
    uint64_t total;       /* 0 if unknown */
    double t_start, t_last;
    int active;           /* a line is on screen and needs clearing */
};

/* Monotonic clock in seconds. */
double rn_now(void);
void rn_progress_start(struct rn_progress *p, const char *what, uint64_t total);
/* Redraw at most ~10 times a second: "what: done/total (pct) rate ETA extra". */
void rn_progress_update(struct rn_progress *p, uint64_t done, const char *extra);
/* Clear the line. */
void rn_progress_end(struct rn_progress *p);

#endif
