/* vismeta — see vismeta.h. */
#include "vismeta.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *rn_frame_meta_format(const struct rn_frame_info *fi)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "frame", (double)fi->index);
    if (fi->t >= 0)
        cJSON_AddNumberToObject(o, "t", fi->t);
    if (fi->fps > 0)
        cJSON_AddNumberToObject(o, "fps", fi->fps);
    if (fi->source[0])
        cJSON_AddStringToObject(o, "source", fi->source);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int get_number(const cJSON *o, const char *key, double *out, struct rn_err *e)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return rn_err_set(e, RN_EFORMAT, NULL, "metadata key \"%s\" is not a number", key);
    *out = it->valuedouble;
    return 1;
}

int rn_frame_info_parse(const char *meta, struct rn_frame_info *fi, struct rn_err *e)
{
    memset(fi, 0, sizeof *fi);
    fi->t = -1;
    cJSON *o = cJSON_Parse(meta ? meta : "{}");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rn_err_set(e, RN_EFORMAT, NULL, "frame metadata is not a JSON object");
    }
    double v;
    int rc = get_number(o, "frame", &v, e);
    if (rc == 1) {
        if (v < 0 || v != floor(v) || v > 9e15)
            rc = rn_err_set(e, RN_EFORMAT, NULL, "metadata key \"frame\" is not a frame number");
        else
            fi->index = (int64_t)v;
    }
    if (rc >= 0)
        rc = get_number(o, "t", &fi->t, e);
    if (rc >= 0 && (rc = get_number(o, "fps", &v, e)) == 1)
        fi->fps = v > 0 ? v : 0;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    if (rc >= 0 && src) {
        if (!cJSON_IsString(src))
            rc = rn_err_set(e, RN_EFORMAT, NULL, "metadata key \"source\" is not a string");
        else
            snprintf(fi->source, sizeof fi->source, "%s", src->valuestring);
    }
    cJSON_Delete(o);
    return rc < 0 ? rc : RN_OK;
}

char *rn_masks_meta_format(int64_t frame, const struct rn_instance *inst, int n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "frame", (double)frame);
    cJSON *arr = cJSON_AddArrayToObject(o, "instances");
    for (int i = 0; arr && i < n; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "id", (double)inst[i].id);
        /* Four decimals keep the metadata small and stable across runs. */
        cJSON_AddNumberToObject(it, "score", round(inst[i].score * 1e4) / 1e4);
        cJSON *box = cJSON_AddArrayToObject(it, "box");
        for (int k = 0; k < 4; k++)
            cJSON_AddItemToArray(box, cJSON_CreateNumber(round(inst[i].box[k] * 100) / 100));
        if (inst[i].label[0])
            cJSON_AddStringToObject(it, "label", inst[i].label);
        cJSON_AddItemToArray(arr, it);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int parse_instance(const cJSON *it, int i, struct rn_instance *out, struct rn_err *e)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(it))
        return rn_err_set(e, RN_EFORMAT, NULL, "instance %d is not a JSON object", i);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(it, "score");
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(it, "box");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(it, "label");
    if (!cJSON_IsNumber(id) || id->valuedouble != floor(id->valuedouble))
        return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"id\" is not an integer", i);
    out->id = (int64_t)id->valuedouble;
    if (score) {
        if (!cJSON_IsNumber(score) || !(score->valuedouble >= 0 && score->valuedouble <= 1))
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"score\" is not in [0, 1]", i);
        out->score = score->valuedouble;
    }
    if (box) {
        if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 4)
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"box\" is not [x1, y1, x2, y2]",
                              i);
        for (int k = 0; k < 4; k++) {
            const cJSON *v = cJSON_GetArrayItem(box, k);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: box value %d is not a number",
                                  i, k);
            out->box[k] = v->valuedouble;
        }
    }
    if (label) {
        if (!cJSON_IsString(label))
            return rn_err_set(e, RN_EFORMAT, NULL, "instance %d: \"label\" is not a string", i);
        snprintf(out->label, sizeof out->label, "%s", label->valuestring);
    }
    return RN_OK;
}

int rn_masks_meta_parse(const char *meta, int64_t *frame, struct rn_instance **inst, int *n,
                        int expect_n, struct rn_err *e)
{
    *inst = NULL;
    *n = 0;
    *frame = 0;
    cJSON *o = cJSON_Parse(meta ? meta : "{}");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return rn_err_set(e, RN_EFORMAT, NULL, "masks metadata is not a JSON object");
    }
    int rc = RN_OK;
    double f = 0;
    if (get_number(o, "frame", &f, e) < 0 || f < 0 || f != floor(f)) {
        rc = rn_err_set(e, RN_EFORMAT, NULL, "masks metadata: \"frame\" is not a frame number");
        goto out;
    }
    *frame = (int64_t)f;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "instances");
    int count = arr ? cJSON_GetArraySize(arr) : 0;
    if (arr && !cJSON_IsArray(arr)) {
        rc = rn_err_set(e, RN_EFORMAT, NULL, "masks metadata: \"instances\" is not an array");
        goto out;
    }
    if (expect_n >= 0 && count != expect_n) {
        rc = rn_err_set(e, RN_EFORMAT, NULL,
                        "masks metadata lists %d instances but the payload holds %d masks", count,
                        expect_n);
        goto out;
    }
    struct rn_instance *v = calloc(count ? (size_t)count : 1, sizeof *v);
    if (!v) {
        rc = rn_err_set(e, RN_ENOMEM, NULL, "out of memory");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        rc = parse_instance(cJSON_GetArrayItem(arr, i), i, &v[i], e);
        if (rc < 0) {
            free(v);
            goto out;
        }
    }
    *inst = v;
    *n = count;
out:
    cJSON_Delete(o);
    return rc;
}
