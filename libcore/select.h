/* select — which records a tool keeps: index ranges ("3", "2-5", "7-",
 * "-4", comma-separated, repeatable) and a set of kinds.
 *
 *     struct rn_select s;
 *     rn_select_init(&s);
 *     if (rn_select_add_ranges(&s, "0,2-5", &e) < 0) ...   // usage error
 *     if (rn_select_add_kinds(&s, "tensor,masks", &e) < 0) ...
 *     if (rn_select_match(&s, rec.index, rec.kind)) ...
 *     rn_select_free(&s);
 *
 * With no ranges every index matches; with no kinds every kind matches;
 * both must match when both are given. END records never match: writers
 * add their own.
 */
#ifndef RN_SELECT_H
#define RN_SELECT_H

#include <stdint.h>

#include "err.h"

struct rn_select {
    uint64_t (*ranges)[2];   /* inclusive [lo, hi] pairs */
    int nranges;
    unsigned kinds;          /* bit k set: kind k selected; 0: all */
};

void rn_select_init(struct rn_select *s);
void rn_select_free(struct rn_select *s);
/* Parse a range list; RN_EUSAGE with a message naming the bad part. */
int rn_select_add_ranges(struct rn_select *s, const char *spec, struct rn_err *e);
/* Parse a comma-separated list of kind names. */
int rn_select_add_kinds(struct rn_select *s, const char *spec, struct rn_err *e);
int rn_select_match(const struct rn_select *s, uint64_t index, int kind);
/* 1 if any selection was given. */
int rn_select_active(const struct rn_select *s);
/* Largest index any range can match (UINT64_MAX if unbounded or no ranges):
 * readers may stop after it. */
uint64_t rn_select_last(const struct rn_select *s);

#endif
