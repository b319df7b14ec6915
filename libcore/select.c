/* select — see select.h. */
#include "select.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

void rn_select_init(struct rn_select *s) { memset(s, 0, sizeof *s); }

void rn_select_free(struct rn_select *s)
{
    if (!s)
        return;
    free(s->ranges);
    memset(s, 0, sizeof *s);
}

static int parse_index(const char *p, const char *end, uint64_t *v)
{
    if (p == end)
        return -1;
    uint64_t x = 0;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p) || x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return 0;
}

int rn_select_add_ranges(struct rn_select *s, const char *spec, struct rn_err *e)
{
    const char *p = spec;
    if (!*p)
        return rn_err_set(e, RN_EUSAGE, NULL, "empty record list");
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *dash = memchr(p, '-', (size_t)(end - p));
        uint64_t lo = 0, hi = UINT64_MAX;
        int bad = 0;
        if (!dash) {
            bad = parse_index(p, end, &lo);
            hi = lo;
        } else {
            if (dash == p && dash + 1 == end) /* a lone "-" */
                bad = 1;
            if (dash > p && parse_index(p, dash, &lo))
                bad = 1;
            if (dash + 1 < end && parse_index(dash + 1, end, &hi))
                bad = 1;
        }
        if (bad || lo > hi)
            return rn_err_set(e, RN_EUSAGE, NULL,
                              "bad record range '%.*s' (use N, A-B, A- or -B, comma-separated)",
                              (int)(end - p), p);
        uint64_t(*nr)[2] = realloc(s->ranges, sizeof *s->ranges * (size_t)(s->nranges + 1));
        if (!nr)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        s->ranges = nr;
        s->ranges[s->nranges][0] = lo;
        s->ranges[s->nranges][1] = hi;
        s->nranges++;
        p = comma ? comma + 1 : end;
        if (comma && !*p)
            return rn_err_set(e, RN_EUSAGE, NULL, "record list '%s' ends with a comma", spec);
    }
    return RN_OK;
}

int rn_select_add_kinds(struct rn_select *s, const char *spec, struct rn_err *e)
{
    const char *p = spec;
    do {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(n < 31 ? n : 31), p);
        int k = n < 31 ? rn_kind_from_name(name) : RN_KIND_INVALID;
        if (k == RN_KIND_INVALID || k == RN_KIND_END)
            return rn_err_set(e, RN_EUSAGE, NULL,
                              "unknown record kind '%.*s' (tensor, tokens, frame, masks, text)",
                              (int)n, p);
        s->kinds |= 1u << k;
        p = comma ? comma + 1 : NULL;
    } while (p);
    return RN_OK;
}

int rn_select_match(const struct rn_select *s, uint64_t index, int kind)
{
    if (kind == RN_KIND_END)
        return 0;
    if (s->kinds && !(s->kinds & (1u << kind)))
        return 0;
    if (!s->nranges)
        return 1;
    for (int i = 0; i < s->nranges; i++)
        if (index >= s->ranges[i][0] && index <= s->ranges[i][1])
            return 1;
    return 0;
}

int rn_select_active(const struct rn_select *s) { return s->nranges > 0 || s->kinds != 0; }

uint64_t rn_select_last(const struct rn_select *s)
{
    if (!s->nranges)
        return UINT64_MAX;
    uint64_t m = 0;
    for (int i = 0; i < s->nranges; i++)
        if (s->ranges[i][1] > m)
            m = s->ranges[i][1];
    return m;
}
