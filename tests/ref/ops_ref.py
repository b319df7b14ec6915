#!/usr/bin/python3
"""PyTorch parity of runnel's kernels (libcore/ops, libcore/optim).

For each case: random float32 inputs (numpy, fixed seed) go to
$RUNNEL_BUILD/tests/ops_driver through raw files; the same inputs go
through PyTorch written as the reference implementation writes it (the
seeds' RMSNorm, RotaryEmbedding/apply_rope, attention, SwiGLU, MLA and
MixtureOfExperts modules; F.cross_entropy; torch.optim.AdamW with
clip_grad_norm_; nanoGPT's get_lr). MoE's routing decisions and its
balancing biases after the update must be identical. Kernels are compared with PyTorch in float64 on the float32
inputs, i.e. with the exact answer: runnel's own float32 rounding is all
that may differ. The optimizer is compared with PyTorch in float32, the
dtype it trains in.

Error = max |runnel - torch| / max |torch| per tensor. Tolerances:
forward outputs 1e-5, gradients 1e-4, optimizer parameters and state
1e-5 (the 3-step update alone 1e-4), LR values 1e-12.

Prints one line per tensor and, per case, "ok CASE" or "not ok CASE";
exits 1 if any case fails. Usage: ops_ref.py [CASE...] (default: all).
"""
import math
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)

TOL_FWD = 1e-5
TOL_GRAD = 1e-4
TOL_OPT = 1e-5
TOL_LR = 1e-12

DRIVER = os.path.join(os.environ.get("RUNNEL_BUILD", "build"), "tests", "ops_driver")


class Case:
    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="ops_ref_" + name + "_")
        self.ok = True
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))

    def put(self, name, arr):
        arr = np.ascontiguousarray(arr)
        ext = {np.float32: "f32", np.int32: "i32", np.float64: "f64"}[arr.dtype.type]
        arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(self.dir, name + "." + ext))
        return arr

    def randn(self, name, *shape, scale=1.0):
        return self.put(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def get(self, name, ext="f32"):
        dt = {"f32": "<f4", "i32": "<i4", "f64": "<f8"}[ext]
        return np.fromfile(os.path.join(self.dir, name + "." + ext), dtype=dt)

    def run(self, kernel, *dims):
        r = subprocess.run([DRIVER, kernel, self.dir] + [str(d) for d in dims],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            print(f"  {self.name}: ops_driver failed ({r.returncode}): {r.stdout.strip()}")
            self.ok = False
            return False
        return True

    def check(self, what, got, want, tol):
        want = np.asarray(want.detach().numpy() if torch.is_tensor(want) else want,
                          dtype=np.float64).reshape(-1)
        got = np.asarray(got, dtype=np.float64).reshape(-1)
        if got.shape != want.shape:
            print(f"  {self.name} {what}: shape {got.shape} != {want.shape}")
            self.ok = False
            return
        scale = np.max(np.abs(want)) if want.size else 0.0
        diff = np.max(np.abs(got - want)) if want.size else 0.0
        err = diff / scale if scale > 0 else diff
        good = bool(err <= tol)  # NaN fails
        print(f"  {self.name} {what}: max rel err {err:.3g} (tol {tol:g}){'' if good else '  FAIL'}")
        self.ok = self.ok and good


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---- the reference implementation's modules (shared/seeds/4, 5, 3) ----------

def rmsnorm(x, weight, eps=1e-6):
    norm = x.norm(dim=-1, keepdim=True) * (x.size(-1) ** -0.5)
    return weight * x / (norm + eps)


def rope_cos_sin(dim, seq_len):
    # RotaryEmbedding: float32 inv_freq and angles, as in the seed
    inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    t = torch.arange(seq_len).type_as(inv_freq)
    freqs = torch.outer(t, inv_freq)
    return freqs.cos(), freqs.sin()


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def causal_attention(q, k, v):
    # q, k, v: (B, H, T, D), the seed's MLA core without dropout
    T = q.size(-2)
    scale = 1.0 / math.sqrt(q.size(-1))
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.matmul(F.softmax(scores, dim=-1), v)


def swiglu(x, wg, bg, wu, bu, wd, bd):
    return F.linear(F.silu(F.linear(x, wg, bg)) * F.linear(x, wu, bu), wd, bd)


class MLA(torch.nn.Module):
    """The seed's MultiheadLatentAttention (shared/seeds/4), with the
    kv_proj / kv_norm its excerpt uses but does not show defined as
    DESIGN.md 3 says (no bias, RMSNorm eps 1e-6), without dropout."""

    def __init__(self, C, H, Dh, R, Rkv, Rq, bias):
        super().__init__()
        L = torch.nn.Linear
        self.n_head, self.head_dim, self.rope_dim = H, Dh, R
        self.kv_proj = L(C, Rkv, bias=False)
        self.kv_norm_weight = torch.nn.Parameter(torch.ones(Rkv))
        self.q_proj = L(C, Rq, bias=False)
        self.k_decompress = L(Rkv, H * Dh, bias=False)
        self.v_decompress = L(Rkv, H * Dh, bias=False)
        self.q_decompress = L(Rq, H * Dh, bias=False)
        self.k_rope_proj = L(C, H * R, bias=False)
        self.q_rope_proj = L(Rq, H * R, bias=False)
        self.o_proj = L(H * Dh, C, bias=bias)

    def tensors(self):
        # the order of struct rn_mla_params
        t = [self.kv_proj.weight, self.kv_norm_weight, self.q_proj.weight,
             self.k_decompress.weight, self.v_decompress.weight, self.q_decompress.weight,
             self.k_rope_proj.weight, self.q_rope_proj.weight, self.o_proj.weight]
        return t + ([self.o_proj.bias] if self.o_proj.bias is not None else [])

    def forward(self, x):
        B, T, C = x.size()
        H, Dh, R = self.n_head, self.head_dim, self.rope_dim
        kv = rmsnorm(self.kv_proj(x), self.kv_norm_weight)
        cq = self.q_proj(x)
        k_c = self.k_decompress(kv).view(B, T, H, Dh).transpose(1, 2)
        v = self.v_decompress(kv).view(B, T, H, Dh).transpose(1, 2)
        q_c = self.q_decompress(cq).view(B, T, H, Dh).transpose(1, 2)
        k_r = self.k_rope_proj(x).view(B, T, H, R).transpose(1, 2)
        q_r = self.q_rope_proj(cq).view(B, T, H, R).transpose(1, 2)
        cos, sin = rope_cos_sin(R, T)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        q = torch.cat([q_c, apply_rope(q_r, cos, sin)], dim=-1)
        k = torch.cat([k_c, apply_rope(k_r, cos, sin)], dim=-1)
        out = causal_attention(q, k, v).transpose(1, 2).contiguous().view(B, T, H * Dh)
        return self.o_proj(out)


class SwiGLU(torch.nn.Module):
    # shared/seeds/3
    def __init__(self, input_dim, hidden_dim, output_dim, bias=True):
        super().__init__()
        self.gate_proj = torch.nn.Linear(input_dim, hidden_dim, bias=bias)
        self.up_proj = torch.nn.Linear(input_dim, hidden_dim, bias=bias)
        self.down_proj = torch.nn.Linear(hidden_dim, output_dim, bias=bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    def tensors(self):
        return [self.gate_proj.weight, self.gate_proj.bias, self.up_proj.weight,
                self.up_proj.bias, self.down_proj.weight, self.down_proj.bias]


class MoE(torch.nn.Module):
    """The seed's MixtureOfExperts (shared/seeds/3), dropout left out."""

    def __init__(self, C, E, K, F_, Fs):
        super().__init__()
        self.n_experts, self.top_k = E, K
        self.router = torch.nn.Linear(C, E, bias=False)
        self.experts = torch.nn.ModuleList([SwiGLU(C, F_, C) for _ in range(E)])
        self.shared_expert = SwiGLU(C, Fs, C)
        self.register_buffer("expert_bias", torch.zeros(E))
        self.bias_update_rate = 0.001

    def tensors(self):
        t = [self.router.weight]
        for e in self.experts:
            t += e.tensors()
        return t + self.shared_expert.tensors()

    def forward(self, x):
        batch_size, seq_len, hidden_dim = x.shape
        x_flat = x.view(-1, hidden_dim)
        router_logits = self.router(x_flat) + self.expert_bias
        top_k_logits, top_k_indices = torch.topk(router_logits, self.top_k, dim=-1)
        routing_weights = torch.zeros_like(router_logits)
        routing_weights.scatter_(-1, top_k_indices, F.softmax(top_k_logits, dim=-1))
        output = torch.zeros_like(x_flat)
        expert_usage = torch.zeros(self.n_experts, device=x.device)
        for expert_idx in range(self.n_experts):
            expert_mask = (top_k_indices == expert_idx).any(dim=-1)
            expert_usage[expert_idx] = expert_mask.sum().float()
            if expert_mask.any():
                expert_input = x_flat[expert_mask]
                expert_output = self.experts[expert_idx](expert_input)
                weights = routing_weights[expert_mask, expert_idx].unsqueeze(-1)
                output[expert_mask] += expert_output * weights
        output += self.shared_expert(x_flat)
        if self.training:
            with torch.no_grad():
                avg_usage = expert_usage.mean()
                for i in range(self.n_experts):
                    if expert_usage[i] > avg_usage:
                        self.expert_bias[i] -= self.bias_update_rate
                    else:
                        self.expert_bias[i] += self.bias_update_rate
        self.top_k_indices = top_k_indices
        return output.view(batch_size, seq_len, hidden_dim)


def get_lr(it, learning_rate, min_lr, warmup_iters, lr_decay_iters):
    # nanoGPT train.py
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


# ---- cases -------------------------------------------------------------------

def case_linear(c):
    N, C, OC = 37, 256, 96
    x, w, b = c.randn("x", N, C), c.randn("w", OC, C, scale=0.05), c.randn("b", OC)
    dy = c.randn("dy", N, OC)
    if not c.run("linear", N, C, OC):
        return
    X, W, Bb = t64(x, True), t64(w, True), t64(b, True)
    Y = F.linear(X, W, Bb)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)
    c.check("dw", c.get("dw"), W.grad, TOL_GRAD)
    c.check("db", c.get("db"), Bb.grad, TOL_GRAD)


def case_rmsnorm(c):
    N, C = 41, 256
    x = c.rng.standard_normal((N, C)).astype(np.float32)
    x[3] *= 1e-4  # eps outside the root matters here
    c.put("x", x)
    w = c.put("w", (1 + 0.3 * c.rng.standard_normal(C)).astype(np.float32))
    dy = c.randn("dy", N, C)
    if not c.run("rmsnorm", N, C):
        return
    X, Wt = t64(x, True), t64(w, True)
    Y = rmsnorm(X, Wt)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)
    c.check("dw", c.get("dw"), Wt.grad, TOL_GRAD)


def rope_case(c, B, T, H, D, pos0):
    x, dy = c.randn("x", B, T, H, D), c.randn("dy", B, T, H, D)
    if not c.run("rope", B, T, H, D, pos0):
        return
    cos, sin = rope_cos_sin(D, pos0 + T)
    cos, sin = cos[pos0:].double(), sin[pos0:].double()
    X = t64(x, True)
    Y = apply_rope(X.transpose(1, 2), cos, sin).transpose(1, 2)  # the seed's (B,H,T,D)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)


def case_rope(c):
    rope_case(c, 2, 33, 8, 64, 5)


def case_rope_long(c):
    # positions up to block_size: the float32 angle tables must agree
    rope_case(c, 1, 1024, 1, 64, 0)


def case_attention(c):
    # MLA's shapes: qk head dim 32 + 64, v head dim 32; T crosses row blocks
    B, T, H, Dk, Dv = 2, 75, 3, 96, 32
    q, k = c.randn("q", B, T, H, Dk), c.randn("k", B, T, H, Dk)
    v, dy = c.randn("v", B, T, H, Dv), c.randn("dy", B, T, H, Dv)
    if not c.run("attention", B, T, H, Dk, Dv):
        return
    Q, K, V = t64(q, True), t64(k, True), t64(v, True)
    Y = causal_attention(Q.transpose(1, 2), K.transpose(1, 2), V.transpose(1, 2)).transpose(1, 2)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dq", c.get("dq"), Q.grad, TOL_GRAD)
    c.check("dk", c.get("dk"), K.grad, TOL_GRAD)
    c.check("dv", c.get("dv"), V.grad, TOL_GRAD)


def case_swiglu(c):
    N, C, F_ = 29, 64, 96
    x = c.randn("x", N, C)
    ws = [c.randn("wg", F_, C, scale=0.1), c.randn("bg", F_, scale=0.1),
          c.randn("wu", F_, C, scale=0.1), c.randn("bu", F_, scale=0.1),
          c.randn("wd", C, F_, scale=0.1), c.randn("bd", C, scale=0.1)]
    dy = c.randn("dy", N, C)
    if not c.run("swiglu", N, C, F_):
        return
    X = t64(x, True)
    W = [t64(w, True) for w in ws]
    Y = swiglu(X, *W)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)
    for name, t in zip(["dwg", "dbg", "dwu", "dbu", "dwd", "dbd"], W):
        c.check(name, c.get(name), t.grad, TOL_GRAD)


def ce_case(c, N, V, ignore):
    logits = c.randn("logits", N, V, scale=3.0)
    tg = c.rng.integers(0, V, N).astype(np.int32)
    tg[[1, N - 2]] = ignore
    c.put("targets", tg)
    if not c.run("ce", N, V, ignore):
        return
    L = t64(logits, True)
    loss = F.cross_entropy(L, torch.tensor(tg, dtype=torch.long), ignore_index=ignore)
    loss.backward()
    per_row = F.cross_entropy(L.detach(), torch.tensor(tg, dtype=torch.long),
                              ignore_index=ignore, reduction="none")
    got = c.get("loss")
    c.check("loss", got[:1], loss, TOL_FWD)
    c.check("loss (fused)", got[1:], loss, TOL_FWD)
    c.check("per-row losses", c.get("losses"), per_row, TOL_FWD)
    c.check("dlogits (fused)", c.get("dlogits"), L.grad, TOL_GRAD)
    c.check("dlogits", c.get("dlogits_sep"), L.grad, TOL_GRAD)


def case_crossentropy(c):
    ce_case(c, 37, 1031, -100)


def case_crossentropy_vocab(c):
    ce_case(c, 6, 50259, -1)


def case_embedding(c):
    N, V, C = 53, 97, 64
    w, dy = c.randn("w", V, C), c.randn("dy", N, C)
    ids = c.rng.integers(0, 20, N).astype(np.int32)  # repeats must sum
    c.put("ids", ids)
    if not c.run("embedding", N, V, C):
        return
    Wt = t64(w, True)
    Y = F.embedding(torch.tensor(ids, dtype=torch.long), Wt)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dw", c.get("dw"), Wt.grad, TOL_GRAD)


def case_adamw(c):
    # 3 steps of torch.optim.AdamW on two tensors, clip_grad_norm_ before
    # each, lr from get_lr; gradients scaled so that clipping bites on
    # steps 0 and 2 and not on step 1.
    n1, n2 = 300, 211
    lr, min_lr, warmup, decay_end = 6e-4, 6e-5, 2, 10
    b1, b2, eps, wd, max_norm = 0.9, 0.95, 1e-8, 0.1, 1.0
    p = c.randn("p", n1 + n2, scale=0.02)
    gs = [c.randn(f"g{i}", n1 + n2, scale=s) for i, s in enumerate([0.5, 0.01, 2.0])]
    if not c.run("adamw", n1 + n2, n1, lr, min_lr, warmup, decay_end, b1, b2, eps, wd,
                 max_norm):
        return
    params = [torch.tensor(p[:n1]).requires_grad_(), torch.tensor(p[n1:]).requires_grad_()]
    opt = torch.optim.AdamW(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    norms, lrs = [], []
    clipped = 0
    for it in range(3):
        params[0].grad = torch.tensor(gs[it][:n1])
        params[1].grad = torch.tensor(gs[it][n1:])
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        norms.append(float(norm))
        clipped += float(norm) > max_norm
        for g in opt.param_groups:
            g["lr"] = get_lr(it, lr, min_lr, warmup, decay_end)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        c.check(f"params after step {it + 1}", c.get(f"p{it + 1}"),
                torch.cat([t.detach() for t in params]), TOL_OPT)
    # the update itself, not only where it lands (params are ~50x larger)
    c.check("total update", c.get("p3") - p, torch.cat([t.detach() for t in params]).numpy()
            - p, TOL_GRAD)
    st = [opt.state[t] for t in params]
    c.check("exp_avg", c.get("m"), torch.cat([s["exp_avg"] for s in st]), TOL_OPT)
    c.check("exp_avg_sq", c.get("v"), torch.cat([s["exp_avg_sq"] for s in st]), TOL_OPT)
    c.check("grad norms", c.get("norms", "f64"), np.array(norms), TOL_FWD)
    c.check("lr", c.get("lrs", "f64"), np.array(lrs), TOL_LR)
    if clipped != 2:
        print(f"  {c.name}: clipping bit on {clipped} steps, expected 2  FAIL")
        c.ok = False


def case_lr(c):
    lr, min_lr, warmup, decay_end = 6e-4, 6e-5, 2000, 20000
    its = np.array([0, 1, 999, 1999, 2000, 2001, 5000, 11000, 19999, 20000, 20001, 10 ** 6],
                   dtype=np.float64)
    c.put("its", its)
    if not c.run("lr", lr, min_lr, warmup, decay_end, len(its)):
        return
    want = [get_lr(int(i), lr, min_lr, warmup, decay_end) for i in its]
    c.check("lr schedule", c.get("lr", "f64"), np.array(want), TOL_LR)


def mla_case(c, B, T, C, H, Dh, R, Rkv, Rq, bias):
    m = MLA(C, H, Dh, R, Rkv, Rq, bias).double()
    with torch.no_grad():
        for t in m.tensors():
            t.copy_(torch.tensor(c.rng.standard_normal(t.shape).astype(np.float32)) * 0.05)
        m.kv_norm_weight.add_(1.0)
        for t in m.tensors():  # what runnel gets: the same values, rounded to float32
            t.copy_(t.float().double())
    c.put("params", np.concatenate([t.detach().numpy().reshape(-1) for t in m.tensors()])
          .astype(np.float32))
    x, dy = c.randn("x", B, T, C), c.randn("dy", B, T, C)
    if not c.run("mla", B, T, C, H, Dh, R, Rkv, Rq, int(bias)):
        return
    X = t64(x, True)
    Y = m(X)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)
    got, off = c.get("dparams"), 0
    names = ["kv_proj", "kv_norm", "q_proj", "k_decompress", "v_decompress", "q_decompress",
             "k_rope_proj", "q_rope_proj", "o_proj.weight", "o_proj.bias"]
    for name, t in zip(names, m.tensors()):
        c.check("d" + name, got[off:off + t.numel()], t.grad, TOL_GRAD)
        off += t.numel()
    if off != got.size:
        print(f"  {c.name}: {got.size} gradient values, expected {off}  FAIL")
        c.ok = False


def case_mla(c):
    # one MLA layer of the default config (DESIGN.md 3), T crossing row blocks
    mla_case(c, 2, 70, 256, 8, 32, 64, 128, 192, True)


def case_mla_small_nobias(c):
    mla_case(c, 3, 11, 48, 3, 16, 8, 24, 20, False)


def case_moe(c):
    # one MoE layer of the default config: 4 experts, top-2, hidden 512,
    # shared expert 768; the biases start away from 0 and steer the routing
    B, T, C, E, K, F_, Fs = 2, 40, 256, 4, 2, 512, 768
    m = MoE(C, E, K, F_, Fs).double()
    with torch.no_grad():
        for t in m.tensors():
            t.copy_(torch.tensor(c.rng.standard_normal(t.shape).astype(np.float32)) * 0.05)
        m.router.weight.mul_(10)  # routing decisions well separated
    bias = c.put("bias", (c.rng.standard_normal(E) * 0.3).astype(np.float32))
    m.expert_bias.copy_(torch.tensor(bias))
    # the bias update in float32, as the model's buffer is
    m.expert_bias = m.expert_bias.float()
    c.put("params", np.concatenate([t.detach().numpy().reshape(-1) for t in m.tensors()])
          .astype(np.float32))
    x, dy = c.randn("x", B, T, C), c.randn("dy", B, T, C)
    if not c.run("moe", B * T, C, E, K, F_, Fs):
        return
    X = t64(x, True)
    Y = m(X)
    (Y * t64(dy)).sum().backward()
    c.check("y", c.get("y"), Y, TOL_FWD)
    c.check("dx", c.get("dx"), X.grad, TOL_GRAD)
    got, off = c.get("dparams"), 0
    names = ["router"] + [f"expert{e}.{n}" for e in range(E) for n in
                          ["gate.w", "gate.b", "up.w", "up.b", "down.w", "down.b"]] + \
            [f"shared.{n}" for n in ["gate.w", "gate.b", "up.w", "up.b", "down.w", "down.b"]]
    for name, t in zip(names, m.tensors()):
        c.check("d" + name, got[off:off + t.numel()], t.grad, TOL_GRAD)
        off += t.numel()
    idx = c.get("idx", "i32").reshape(B * T, K)
    same = np.array_equal(idx, m.top_k_indices.numpy())
    print(f"  {c.name} routing decisions identical: {same}{'' if same else '  FAIL'}")
    b_after = c.get("bias_after")
    same_b = np.array_equal(b_after, m.expert_bias.numpy())
    print(f"  {c.name} balancing biases after the update identical: {same_b} "
          f"({' '.join(f'{v:+.4f}' for v in b_after)}){'' if same_b else '  FAIL'}")
    c.ok = c.ok and same and same_b


def complementary_sequence_aux_loss(router_logits, seq_mask=None):
    # shared/seeds/3, MixtureOfExperts._complementary_sequence_aux_loss
    probs = F.softmax(router_logits, dim=-1)
    if seq_mask is not None:
        probs = probs * seq_mask.unsqueeze(-1)
    seq_usage = probs.sum(dim=1)
    seq_usage = seq_usage / seq_usage.sum(dim=-1, keepdim=True)
    sim_matrix = torch.matmul(seq_usage, seq_usage.transpose(0, 1))
    batch_size = seq_usage.size(0)
    off_diag = sim_matrix - torch.eye(batch_size, device=sim_matrix.device)
    return off_diag.mean()


def case_moe_aux(c):
    B, T, E = 8, 64, 4
    logits = c.randn("logits", B, T, E, scale=2.0)
    if not c.run("moe_aux", B, T, E):
        return
    L = t64(logits, True)
    loss = complementary_sequence_aux_loss(L)
    loss.backward()
    c.check("loss", c.get("loss"), loss, TOL_FWD)
    c.check("dlogits", c.get("dlogits"), L.grad, TOL_GRAD)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main(argv):
    names = argv[1:] or list(CASES)
    failed = 0
    for name in names:
        if name not in CASES:
            print(f"unknown case {name}; known: {' '.join(CASES)}")
            return 2
        c = Case(name)
        CASES[name](c)
        print(("ok " if c.ok else "not ok ") + name, flush=True)
        failed += not c.ok
        if c.ok:
            for f in os.listdir(c.dir):
                os.unlink(os.path.join(c.dir, f))
            os.rmdir(c.dir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
