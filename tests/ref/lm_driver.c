/* lm_driver — runs the whole model (libcore/lm) for the PyTorch parity test
 * tests/ref/lm_ref.py.
 *
 *   lm_driver DIR
 *
 * Reads DIR/config.txt ("key value" lines: every struct rn_lm_config field
 * plus batch, seq_len, seed, lr, weight_decay, clip) and DIR/tokens.i32
 * (batch x (seq_len+1) int32). Writes, raw little-endian:
 *   names.txt     one line per parameter tensor: name rank d0 d1 offset numel
 *   params0.f32   the initial parameters (rn_lm_init_weights from seed)
 *   init.safetensors  the same, as a safetensors file (libcore/ckpt) under
 *                 the table's names, with the balancing-bias buffers
 *                 ({transformer.h.i,mtp_heads.d}.mlp.expert_bias): what
 *                 lm_ref.py loads into the torch module's state_dict
 *   loss0.f32     [loss, main, mtp_1..mtp_D, aux] of the first forward
 *   grads0.f32    dloss/dparams of that forward
 *   bias1.f32     balancing biases (n_moe, E) after that forward
 *   losses.f32    the loss of each of the 3 training forwards
 *   params3.f32   parameters after 3 AdamW steps (clip, constant lr; weight
 *                 decay on the tensors whose table entry says decay)
 *   bias3.f32     balancing biases after the 3 forwards
 * Dropout must be 0 in config.txt for parity. Exit 0, 1 on I/O or model
 * errors, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "lm.h"
#include "optim.h"

static const char *dir;

static FILE *open_in(const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void save(const char *name, const void *p, size_t n, size_t elem)
{
    FILE *f = open_in(name, "wb");
    if (fwrite(p, elem, n, f) != n || fclose(f) != 0) {
        perror(name);
        exit(1);
    }
}

static void die_err(const struct rn_err *e)
{
    fprintf(stderr, "lm_driver: %s: %s\n", e->where, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lm_driver DIR\n");
        return 2;
    }
    dir = argv[1];
    struct rn_lm_config c;
    rn_lm_config_default(&c);
    int B = 0, T = 0;
    unsigned long long seed = 1;
    double lr = 1e-3, wd = 0.1, clip = 1.0;
    FILE *f = open_in("config.txt", "r");
    char key[128];
    double v;
    while (fscanf(f, "%127s %lf", key, &v) == 2) {
#define I(k) else if (!strcmp(key, #k)) c.k = (int)v
#define F(k) else if (!strcmp(key, #k)) c.k = (float)v
        if (!strcmp(key, "batch"))
            B = (int)v;
        else if (!strcmp(key, "seq_len"))
            T = (int)v;
        else if (!strcmp(key, "seed"))
            seed = (unsigned long long)v;
        else if (!strcmp(key, "lr"))
            lr = v;
        else if (!strcmp(key, "weight_decay"))
            wd = v;
        else if (!strcmp(key, "clip"))
            clip = v;
        I(vocab_size); I(n_layer); I(n_head); I(n_embd); I(block_size); F(dropout);
        I(bias); I(kv_lora_rank); I(q_lora_rank); I(rope_dim); I(n_experts);
        I(n_experts_per_token); I(expert_intermediate_size);
        I(shared_expert_intermediate_size); I(use_shared_expert); F(aux_loss_weight);
        F(bias_update_rate); I(multi_token_predict); F(mtp_loss_weight);
        else {
            fprintf(stderr, "lm_driver: config.txt: unknown key %s\n", key);
            return 2;
        }
#undef I
#undef F
    }
    fclose(f);

    struct rn_lm m;
    struct rn_err e = {0};
    struct rn_rng g;
    if (rn_lm_init(&m, &c, B, T, RN_LM_GRAD, &e) < 0)
        die_err(&e);
    rn_rng_seed(&g, seed);
    rn_lm_init_weights(&m, &g);

    FILE *nf = open_in("names.txt", "w");
    for (int i = 0; i < m.n_tensors; i++) {
        const struct rn_lm_tensor *t = &m.tensors[i];
        fprintf(nf, "%s %d %lld %lld %zu %zu\n", t->name, t->rank, (long long)t->shape[0],
                (long long)t->shape[1], t->offset, t->numel);
    }
    if (fclose(nf) != 0)
        return 1;
    save("params0.f32", m.params, m.n_params, sizeof(float));
    /* the initial weights and buffers as a checkpoint file */
    struct rn_ckpt_writer w;
    rn_ckpt_writer_init(&w);
    for (int i = 0; i < m.n_tensors; i++) {
        const struct rn_lm_tensor *t = &m.tensors[i];
        struct rn_tensor tv;
        if (rn_tensor_view(&tv, RN_DTYPE_F32, t->rank, t->shape, m.params + t->offset, &e) < 0 ||
            rn_ckpt_writer_add(&w, t->name, &tv, &e) < 0)
            die_err(&e);
    }
    for (int l = 0; l < m.n_moe; l++) {
        char name[RN_LM_NAME_MAX];
        int64_t dims[1] = {c.n_experts};
        struct rn_tensor tv;
        if (l < c.n_layer)
            snprintf(name, sizeof name, "transformer.h.%d.mlp.expert_bias", l);
        else
            snprintf(name, sizeof name, "mtp_heads.%d.mlp.expert_bias", l - c.n_layer);
        if (rn_tensor_view(&tv, RN_DTYPE_F32, 1, dims, m.expert_bias + (size_t)l * c.n_experts,
                           &e) < 0 ||
            rn_ckpt_writer_add(&w, name, &tv, &e) < 0)
            die_err(&e);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/init.safetensors", dir);
    if (rn_ckpt_writer_write(&w, path, &e) < 0)
        die_err(&e);
    rn_ckpt_writer_free(&w);

    size_t ntok = (size_t)B * (T + 1);
    int32_t *tok = malloc(sizeof(int32_t) * ntok);
    float *am = calloc(m.n_params, sizeof(float)), *av = calloc(m.n_params, sizeof(float));
    if (!tok || !am || !av)
        return 1;
    f = open_in("tokens.i32", "rb");
    if (fread(tok, sizeof(int32_t), ntok, f) != ntok) {
        fprintf(stderr, "lm_driver: tokens.i32: expected %zu ids\n", ntok);
        return 1;
    }
    fclose(f);

    const int D = c.multi_token_predict, nb = m.n_moe * c.n_experts;
    float losses[3];
    for (int step = 0; step < 3; step++) {
        rn_lm_zero_grad(&m);
        if (rn_lm_forward(&m, tok, B, T, RN_LM_TRAIN, 0, &e) < 0)
            die_err(&e);
        rn_lm_backward(&m);
        losses[step] = m.loss;
        if (step == 0) {
            float l0[2 + 8 + 1];
            l0[0] = m.loss, l0[1] = m.main_loss;
            for (int d = 0; d < D; d++)
                l0[2 + d] = m.mtp_loss[d];
            l0[2 + D] = m.aux_loss;
            save("loss0.f32", l0, 3 + (size_t)D, sizeof(float));
            save("grads0.f32", m.grads, m.n_params, sizeof(float));
            save("bias1.f32", m.expert_bias, nb, sizeof(float));
        }
        float *gp[1] = {m.grads};
        size_t cnt[1] = {m.n_params};
        rn_grad_clip(gp, cnt, 1, clip);
        for (int i = 0; i < m.n_tensors; i++) {
            const struct rn_lm_tensor *t = &m.tensors[i];
            rn_adamw_step(m.params + t->offset, m.grads + t->offset, am + t->offset,
                          av + t->offset, t->numel, lr, 0.9, 0.95, 1e-8, t->decay ? wd : 0.0,
                          step + 1);
        }
    }
    save("losses.f32", losses, 3, sizeof(float));
    save("params3.f32", m.params, m.n_params, sizeof(float));
    save("bias3.f32", m.expert_bias, nb, sizeof(float));
    free(tok), free(am), free(av);
    rn_lm_free(&m);
    return 0;
}
