/* log — see log.h. */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "runnel";
static int log_level = RN_LOG_INFO;
static int log_json_mode;
static FILE *log_out;

static const char *level_names[] = {"error", "warn", "info", "debug"};

void rn_log_setup(const char *prog, int level, int json)
{
    if (prog)
        log_prog = prog;
    log_level = level;
    log_json_mode = json;
}

int rn_log_level(void) { return log_level; }
int rn_log_is_json(void) { return log_json_mode; }
const char *rn_log_prog(void) { return log_prog; }
void rn_log_set_stream(FILE *f) { log_out = f; }

static FILE *out(void) { return log_out ? log_out : stderr; }

double rn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int rn_log_bare(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\\' || *s == 0x7f)
            return 0;
    return 1;
}

/* Human form of one field value: plain strings bare, everything else
 * (strings with spaces, quotes or control characters included) as JSON. */
static void print_field(FILE *f, const cJSON *item)
{
    if (cJSON_IsString(item) && rn_log_bare(item->valuestring)) {
        fprintf(f, " %s=%s", item->string, item->valuestring);
        return;
    }
    char *s = cJSON_PrintUnformatted(item);
    fprintf(f, " %s=%s", item->string, s ? s : "?");
    free(s);
}

void rn_log_json(int level, const char *msg, cJSON *fields)
{
    if (level > log_level) {
        cJSON_Delete(fields);
        return;
    }
    if (level < 0)
        level = 0;
    if (level > RN_LOG_DEBUG)
        level = RN_LOG_DEBUG;
    FILE *f = out();
    flockfile(f); /* one whole line at a time from any thread */
    if (log_json_mode) {
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            funlockfile(f);
            cJSON_Delete(fields);
            return;
        }
        cJSON_AddNumberToObject(o, "ts", wall_now());
        cJSON_AddStringToObject(o, "prog", log_prog);
        cJSON_AddStringToObject(o, "level", level_names[level]);
        cJSON_AddStringToObject(o, "msg", msg);
        if (fields) {
            cJSON *it = fields->child;
            while (it) {
                cJSON *next = it->next;
                cJSON_DetachItemViaPointer(fields, it);
                if (!cJSON_GetObjectItemCaseSensitive(o, it->string))
                    cJSON_AddItemToObject(o, it->string, it);
                else
                    cJSON_Delete(it);
                it = next;
            }
        }
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        fprintf(f, "%s: %s%s", log_prog, level == RN_LOG_WARN ? "warning: " : "", msg);
        if (fields)
            for (const cJSON *it = fields->child; it; it = it->next)
                print_field(f, it);
        fputc('\n', f);
    }
    fflush(f);
    funlockfile(f);
    cJSON_Delete(fields);
}

void rn_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rn_log_json(level, buf, NULL);
}

/* ---- progress ---------------------------------------------------------- */

static int progress_enabled(void)
{
    return !log_out && !log_json_mode && log_level >= RN_LOG_INFO && isatty(2);
}

void rn_progress_start(struct rn_progress *p, const char *what, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    p->t_start = rn_now();
}

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, n, "--:--");
    else if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else
        snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

void rn_progress_update(struct rn_progress *p, uint64_t done, const char *extra)
{
    if (!progress_enabled())
        return;
    double now = rn_now();
    if (p->active && now - p->t_last < 0.1 && done != p->total)
        return;
    p->t_last = now;
    p->active = 1;
    double el = now - p->t_start;
    double rate = el > 0 ? done / el : 0;
    char eta[32] = "";
    if (p->total && rate > 0) {
        char d[24];
        fmt_duration(d, sizeof d, (double)(p->total - (done < p->total ? done : p->total)) / rate);
        snprintf(eta, sizeof eta, " ETA %s", d);
    }
    if (p->total)
        fprintf(stderr, "\r\033[K%s: %s: %llu/%llu (%.0f%%) %.3g/s%s%s%s", log_prog, p->what,
                (unsigned long long)done, (unsigned long long)p->total,
                100.0 * done / p->total, rate, eta, extra ? " " : "", extra ? extra : "");
    else
        fprintf(stderr, "\r\033[K%s: %s: %llu %.3g/s%s%s", log_prog, p->what,
                (unsigned long long)done, rate, extra ? " " : "", extra ? extra : "");
    fflush(stderr);
}

void rn_progress_end(struct rn_progress *p)
{
    if (p->active && progress_enabled()) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->active = 0;
}
