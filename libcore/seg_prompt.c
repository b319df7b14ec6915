/* seg_prompt — see seg_prompt.h. */
#include "seg_prompt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rn_seg_prompts_init(struct rn_seg_prompts *ps)
{
    memset(ps, 0, sizeof *ps);
}

void rn_seg_prompts_clear(struct rn_seg_prompts *ps)
{
    for (int i = 0; i < ps->n; i++) {
        free(ps->inst[i].points);
        ps->inst[i].points = NULL;
    }
    ps->n = 0;
}

void rn_seg_prompts_free(struct rn_seg_prompts *ps)
{
    if (!ps)
        return;
    rn_seg_prompts_clear(ps);
    free(ps->inst);
    memset(ps, 0, sizeof *ps);
}

static struct rn_seg_inst *new_inst(struct rn_seg_prompts *ps, int code, struct rn_err *e)
{
    if (ps->n >= RN_SEG_MAX_INSTANCES) {
        rn_err_set(e, code, NULL, "more than %d instances", RN_SEG_MAX_INSTANCES);
        return NULL;
    }
    if (ps->n == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 4;
        struct rn_seg_inst *a = realloc(ps->inst, (size_t)cap * sizeof *a);
        if (!a) {
            rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
            return NULL;
        }
        ps->inst = a;
        ps->cap = cap;
    }
    struct rn_seg_inst *in = &ps->inst[ps->n++];
    memset(in, 0, sizeof *in);
    return in;
}

static int add_point(struct rn_seg_inst *in, double x, double y, int obj, int code,
                     struct rn_err *e)
{
    if (in->npoints >= RN_SEG_MAX_POINTS)
        return rn_err_set(e, code, NULL, "more than %d points in one instance",
                          RN_SEG_MAX_POINTS);
    if (in->npoints == in->cap) {
        int cap = in->cap ? 2 * in->cap : 4;
        struct rn_seg_point *a = realloc(in->points, (size_t)cap * sizeof *a);
        if (!a)
            return rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        in->points = a;
        in->cap = cap;
    }
    in->points[in->npoints++] = (struct rn_seg_point){x, y, obj};
    return RN_OK;
}

/* Parse "a,b,..." into at most max finite numbers; returns the count, or
 * -1 on a syntax error. */
static int parse_numbers(const char *text, double *v, int max)
{
    const char *s = text;
    int n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || !isfinite(d) || n == max)
            return -1;
        v[n++] = d;
        s = end;
        while (*s == ' ')
            s++;
        if (!*s)
            return n;
        if (*s != ',')
            return -1;
        s++;
    }
}

int rn_seg_prompts_add_box(struct rn_seg_prompts *ps, const char *text, struct rn_err *e)
{
    double v[4];
    if (parse_numbers(text, v, 4) != 4)
        return rn_err_set(e, RN_EUSAGE, NULL, "box '%s' is not X1,Y1,X2,Y2", text);
    if (!(v[2] > v[0] && v[3] > v[1]))
        return rn_err_set(e, RN_EUSAGE, NULL, "box '%s' is empty (X2 must exceed X1, Y2 Y1)",
                          text);
    struct rn_seg_inst *in = new_inst(ps, RN_EUSAGE, e);
    if (!in)
        return e ? e->code : RN_EUSAGE;
    in->has_box = 1;
    memcpy(in->box, v, sizeof v);
    return RN_OK;
}

int rn_seg_prompts_add_point(struct rn_seg_prompts *ps, const char *text, struct rn_err *e)
{
    double v[3] = {0, 0, 1};
    int n = parse_numbers(text, v, 3);
    if (n != 2 && n != 3)
        return rn_err_set(e, RN_EUSAGE, NULL, "point '%s' is not X,Y or X,Y,LABEL", text);
    if (v[2] != 0 && v[2] != 1)
        return rn_err_set(e, RN_EUSAGE, NULL,
                          "point '%s': label must be 1 (object) or 0 (background)", text);
    struct rn_seg_inst *in = ps->n ? &ps->inst[ps->n - 1] : new_inst(ps, RN_EUSAGE, e);
    if (!in)
        return e ? e->code : RN_EUSAGE;
    return add_point(in, v[0], v[1], (int)v[2], RN_EUSAGE, e);
}

/* Up to max numbers of a JSON array; -1 if it is not an array of finite
 * numbers of length min..max. */
static int json_numbers(const cJSON *a, double *v, int min, int max)
{
    if (!cJSON_IsArray(a))
        return -1;
    int n = cJSON_GetArraySize(a);
    if (n < min || n > max)
        return -1;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return -1;
        v[i++] = it->valuedouble;
    }
    return n;
}

static int parse_inst(struct rn_seg_prompts *ps, const cJSON *o, int k, struct rn_err *e)
{
    if (!cJSON_IsObject(o))
        return rn_err_set(e, RN_EFORMAT, NULL, "instance %d is not a JSON object", k);
    struct rn_seg_inst *in = new_inst(ps, RN_EFORMAT, e);
    if (!in)
        return e ? e->code : RN_EFORMAT;
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(o, "box");
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(o, "points");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(o, "label");
    if (!box && !pts)
        return rn_err_set(e, RN_EFORMAT, NULL, "instance %d has neither \"box\" nor \"points\"",
                          k);
    if (box) {
        if (json_numbers(box, in->box, 4, 4) != 4)
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"box\" needs 4 numbers", k);
        if (!(in->box[2] > in->box[0] && in->box[3] > in->box[1]))
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: box %g,%g,%g,%g is empty", k,
                              in->box[0], in->box[1], in->box[2], in->box[3]);
        in->has_box = 1;
    }
    if (pts) {
        if (!cJSON_IsArray(pts))
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"points\" is not an array", k);
        const cJSON *pt;
        int j = 0;
        cJSON_ArrayForEach(pt, pts)
        {
            double v[3] = {0, 0, 1};
            j++;
            if (json_numbers(pt, v, 2, 3) < 0 || (v[2] != 0 && v[2] != 1))
                return rn_err_set(e, RN_EFORMAT, NULL,
                                  "instance %d: point %d is not [X, Y] or [X, Y, 0|1]", k, j);
            int rc = add_point(in, v[0], v[1], (int)v[2], RN_EFORMAT, e);
            if (rc < 0)
                return rc;
        }
    }
    if (id) {
        double d = cJSON_IsNumber(id) ? id->valuedouble : -1;
        if (!(d >= 1 && d <= 9e15 && d == floor(d)))
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"id\" is not a positive integer",
                              k);
        in->id = (int64_t)d;
    }
    if (label) {
        if (!cJSON_IsString(label) || strlen(label->valuestring) >= RN_LABEL_MAX)
            return rn_err_set(e, RN_EFORMAT, NULL,
                              "instance %d: \"label\" is not a string of under %d bytes", k,
                              RN_LABEL_MAX);
        snprintf(in->label, sizeof in->label, "%s", label->valuestring);
    }
    return RN_OK;
}

int rn_seg_prompts_parse_json(struct rn_seg_prompts *ps, const char *line, int64_t *frame,
                              struct rn_err *e)
{
    rn_seg_prompts_clear(ps);
    *frame = -1;
    cJSON *o = cJSON_Parse(line);
    int rc = RN_OK;
    if (!cJSON_IsObject(o)) {
        rc = rn_err_set(e, RN_EFORMAT, NULL, "not a JSON object");
        goto done;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "frame");
    if (f) {
        double d = cJSON_IsNumber(f) ? f->valuedouble : -1;
        if (!(d >= 0 && d <= 9e15 && d == floor(d))) {
            rc = rn_err_set(e, RN_EFORMAT, NULL, "\"frame\" is not a frame number");
            goto done;
        }
        *frame = (int64_t)d;
    }
    const cJSON *insts = cJSON_GetObjectItemCaseSensitive(o, "instances");
    if (!cJSON_IsArray(insts) || cJSON_GetArraySize(insts) == 0) {
        rc = rn_err_set(e, RN_EFORMAT, NULL, "\"instances\" is not a non-empty array");
        goto done;
    }
    const cJSON *it;
    int k = 0;
    cJSON_ArrayForEach(it, insts)
    {
        if ((rc = parse_inst(ps, it, ++k, e)) < 0)
            break;
    }
done:
    cJSON_Delete(o);
    if (rc < 0)
        rn_seg_prompts_clear(ps);
    return rc;
}

void rn_seg_prompts_get(const struct rn_seg_prompts *ps, int i, struct rn_seg_prompt *p)
{
    RN_ASSERT(i >= 0 && i < ps->n);
    const struct rn_seg_inst *in = &ps->inst[i];
    memset(p, 0, sizeof *p);
    p->has_box = in->has_box;
    memcpy(p->box, in->box, sizeof p->box);
    p->points = in->points;
    p->npoints = in->npoints;
}
