/* ckpt_tool — libcore's checkpoint and config code driven from the
 * reference tests (tests/ref/ckpt.bats), so that Python's `safetensors`
 * can check what runnel writes and runnel can read what it writes.
 *
 *   ckpt_tool write OUT [nobf16]  write the pattern checkpoint (below) to
 *                              OUT; nobf16 leaves out bf16, which NumPy
 *                              (and so safetensors.numpy) cannot hold
 *   ckpt_tool dump FILE DIR    tensor i's bytes to DIR/i.bin; prints a JSON
 *                              manifest {"tensors": [{"name", "dtype",
 *                              "shape", "file"}...], "metadata": {...}}
 *   ckpt_tool check FILE       validate FILE; the error on stderr, exit 1
 *   ckpt_tool config FILE      load FILE as a train config (YAML or JSON)
 *                              and print the effective config as JSON
 *
 * The pattern checkpoint has, for each dtype D of tensor.h and shape index
 * s, tensor "pattern.D.s" whose byte j is (j * 131 + k * 17 + 7) mod 256,
 * k being the tensor's position in that list: every bit pattern of every
 * dtype (NaN payloads, infinities, subnormals) appears, and the Python side
 * recomputes the bytes independently. It also carries the conventions of
 * runnel-checkpoint(5): identity and step metadata, a config, an rng state
 * and optimizer moments. Exit status: 0 ok, 1 error, 2 usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "ckpt.h"
#include "rng.h"
#include "tensor.h"

static const int dtypes[] = {RN_DTYPE_U8,  RN_DTYPE_I8,  RN_DTYPE_U16,  RN_DTYPE_I16,
                             RN_DTYPE_U32, RN_DTYPE_I32, RN_DTYPE_U64,  RN_DTYPE_I64,
                             RN_DTYPE_F16, RN_DTYPE_BF16, RN_DTYPE_F32, RN_DTYPE_F64};
static const int ranks[] = {0, 1, 2, 3, 8};
static const int64_t shapes[][8] = {{0}, {13}, {3, 5}, {2, 0, 4}, {1, 2, 1, 3, 1, 2, 1, 2}};

static int die(const struct rn_err *e)
{
    fprintf(stderr, "ckpt_tool: %s: %s\n", e->where, e->msg);
    return 1;
}

static int cmd_write(const char *out, int nobf16)
{
    struct rn_err e = {0};
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    size_t nd = sizeof dtypes / sizeof dtypes[0], ns = sizeof ranks / sizeof ranks[0];
    struct rn_tensor *t = calloc(nd * ns, sizeof *t);
    int k = 0, rc = RN_OK;
    for (size_t d = 0; d < nd && rc == RN_OK; d++)
        for (size_t s = 0; s < ns && rc == RN_OK; s++, k++) {
            char name[64];
            if (nobf16 && dtypes[d] == RN_DTYPE_BF16)
                continue;
            rc = rn_tensor_new(&t[k], dtypes[d], ranks[s], shapes[s], &e);
            if (rc < 0)
                break;
            unsigned char *b = t[k].data;
            for (uint64_t j = 0; j < t[k].nbytes; j++)
                b[j] = (unsigned char)((j * 131 + (uint64_t)k * 17 + 7) & 0xFF);
            snprintf(name, sizeof name, "pattern.%s.%zu", rn_ckpt_dtype_name(dtypes[d]), s);
            rc = rn_ckpt_writer_add(&w, name, &t[k], &e);
        }
    /* the conventions: an optimizer moment pair, an rng, metadata */
    float m[6] = {0.5f, -1.0f, 2.0f, 0.0f, -0.0f, 1e-30f}, v[6] = {1, 2, 3, 4, 5, 6};
    int64_t d23[2] = {2, 3};
    struct rn_tensor tm, tv;
    struct rn_rng g;
    rn_rng_seed(&g, 42);
    if (rc == RN_OK)
        rc = rn_tensor_view(&tm, RN_DTYPE_F32, 2, d23, m, &e);
    if (rc == RN_OK)
        rc = rn_tensor_view(&tv, RN_DTYPE_F32, 2, d23, v, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_add(&w, "optim.m.layer.w", &tm, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_add(&w, "optim.v.layer.w", &tv, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_add_rng(&w, "train", &g, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_identity(&w, "ckpt_tool", &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta_int(&w, RN_CKPT_META_STEP, 1234567890123LL, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta(&w, "unicode", "caf\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80 \"q\" \\ \n", &e);
    struct rn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *json = NULL;
    if (rc == RN_OK)
        rc = rn_cfg_defaults(&rn_train_config_table, &cfg, &e);
    if (rc == RN_OK)
        rc = rn_cfg_format(&rn_train_config_table, &cfg, RN_CFG_JSON, &json, &e);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_set_meta(&w, RN_CKPT_META_CONFIG, json, &e);
    free(json);
    rn_cfg_free(&rn_train_config_table, &cfg);
    if (rc == RN_OK)
        rc = rn_ckpt_writer_write(&w, out, &e);
    rn_ckpt_writer_free(&w);
    for (int i = 0; i < k; i++)
        rn_tensor_free(&t[i]);
    free(t);
    return rc < 0 ? die(&e) : 0;
}

static int cmd_dump(const char *path, const char *dir)
{
    struct rn_err e = {0};
    struct rn_ckpt c;
    if (rn_ckpt_open(&c, path, &e) < 0)
        return die(&e);
    cJSON *root = cJSON_CreateObject();
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    int rc = 0;
    for (size_t i = 0; i < rn_ckpt_count(&c) && rc == 0; i++) {
        struct rn_tensor t;
        if (rn_ckpt_get(&c, rn_ckpt_name(&c, i), &t, &e) < 0) {
            rc = die(&e);
            break;
        }
        char file[64], full[4096];
        snprintf(file, sizeof file, "%zu.bin", i);
        snprintf(full, sizeof full, "%s/%s", dir, file);
        FILE *f = fopen(full, "wb");
        if (!f || (t.nbytes && fwrite(t.data, 1, t.nbytes, f) != t.nbytes) || fclose(f) != 0) {
            fprintf(stderr, "ckpt_tool: %s: write failed\n", full);
            rc = 1;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", rn_ckpt_name(&c, i));
        cJSON_AddStringToObject(o, "dtype", rn_ckpt_dtype_name(t.dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t.rank; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t.dims[d]));
        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddItemToArray(ts, o);
    }
    for (size_t i = 0; i < rn_ckpt_meta_count(&c); i++)
        cJSON_AddStringToObject(meta, rn_ckpt_meta_key(&c, i), rn_ckpt_meta(&c, rn_ckpt_meta_key(&c, i)));
    if (rc == 0) {
        char *s = cJSON_PrintUnformatted(root);
        puts(s);
        free(s);
    }
    cJSON_Delete(root);
    rn_ckpt_close(&c);
    return rc;
}

static int cmd_check(const char *path)
{
    struct rn_err e = {0};
    struct rn_ckpt c;
    if (rn_ckpt_open(&c, path, &e) < 0)
        return die(&e);
    printf("%zu tensors, %zu metadata\n", rn_ckpt_count(&c), rn_ckpt_meta_count(&c));
    rn_ckpt_close(&c);
    return 0;
}

static int cmd_config(const char *path)
{
    struct rn_err e = {0};
    struct rn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *json = NULL;
    int rc = rn_cfg_defaults(&rn_train_config_table, &cfg, &e);
    if (rc == RN_OK)
        rc = rn_cfg_load_file(&rn_train_config_table, &cfg, path, &e);
    if (rc == RN_OK)
        rc = rn_cfg_validate(&rn_train_config_table, &cfg, &e);
    if (rc == RN_OK)
        rc = rn_cfg_format(&rn_train_config_table, &cfg, RN_CFG_JSON, &json, &e);
    if (rc == RN_OK)
        puts(json);
    free(json);
    rn_cfg_free(&rn_train_config_table, &cfg);
    return rc < 0 ? die(&e) : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], 0);
    if (argc == 4 && strcmp(argv[1], "write") == 0 && strcmp(argv[3], "nobf16") == 0)
        return cmd_write(argv[2], 1);
    if (argc == 4 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2]);
    if (argc == 3 && strcmp(argv[1], "config") == 0)
        return cmd_config(argv[2]);
    fprintf(stderr, "usage: ckpt_tool write OUT [nobf16] | dump FILE DIR | check FILE | config FILE\n");
    return 2;
}
