#!/usr/bin/python3
"""PyTorch parity of runnel's inference paths (libcore/lm_decode, spec).

For a checkpoint written by runnel's train (argument 1), the torch model of
tests/ref/lm_ref.py is built from the config in the checkpoint's metadata,
loaded with the checkpoint's parameters and balancing biases
(load_state_dict(strict=True); optimizer moments, rng and history tensors
are skipped), and run in float64 on fixed prompts. $RUNNEL_BUILD/tests/
generate_driver runs runnel's paths on the same checkpoint and prompts:
the full recompute (rn_lm_logits), the latent KV cache one position per
call (absorbed attention) and three per call (plain attention), a greedy
continuation with the cache and one with speculative decoding.

Error per position = max_v |runnel - torch| / max_v |torch| (relative to
the position's largest logit). Tolerance 1e-4 at every position, for all
three paths. Greedy continuations (TOKENS new tokens) must equal torch's
greedy loop (full recompute each step, as the seed generates), token for
token, for both the cached and the speculative runnel paths.

Prints the largest errors per prompt and "ok CASE" / "not ok CASE" lines;
exits 1 if any case fails. Usage: generate_ref.py CKPT [TOKENS].
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lm_ref import Config, DeepSeek  # noqa: E402

torch.set_num_threads(2)
TOL = 1e-4
DRIVER = os.path.join(os.environ.get("RUNNEL_BUILD", "build"), "tests", "generate_driver")


def read_checkpoint(path):
    """(F32 tensors by name, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for k, v in header.items():
        if v["dtype"] != "F32":
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype="<f4").reshape(v["shape"])
    return out, meta


def build(path):
    st, meta = read_checkpoint(path)
    conf = json.loads(meta["config"])
    cfg = Config(**{k: v for k, v in conf.items() if hasattr(Config(), k)})
    cfg.dropout = 0.0
    model = DeepSeek(cfg).double()
    for m in model.moe_layers():
        m.expert_bias = m.expert_bias.float()
    keys = set(model.state_dict())
    sd = {k: torch.from_numpy(st[k].copy()) for k in keys if k != "lm_head.weight"}
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg


@torch.no_grad()
def logits(model, ids):
    x = model.transformer.wte(torch.tensor([ids]))
    for block in model.transformer.h:
        x, _ = block(x)
    return model.lm_head(model.transformer.ln_f(x))[0].numpy()


def rel_err(a, b):
    return (np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)).max()


def run_case(name, model, cfg, ckpt, prompt, n_new):
    d = tempfile.mkdtemp(prefix="generate_ref_" + name + "_")
    np.asarray(prompt, dtype="<i4").tofile(os.path.join(d, "prompt.i32"))
    r = subprocess.run([DRIVER, ckpt, os.path.join(d, "prompt.i32"), str(n_new), d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"  {name}: driver failed: {r.stderr.strip()}")
        return False
    P, V = len(prompt), cfg.vocab_size
    ref = logits(model, prompt)
    ok = True
    for fn in ("full", "cache", "cache_plain"):
        got = np.fromfile(os.path.join(d, fn + ".f32"), dtype="<f4").reshape(P, V)
        err = rel_err(got.astype(np.float64), ref)
        print(f"  {name}: {fn:12s} max error over {P} positions {err:.2e}")
        ok &= bool(err <= TOL)
    # torch's greedy loop: full recompute every step
    ids = list(prompt)
    for _ in range(n_new):
        ids.append(int(np.argmax(logits(model, ids)[-1])))
    want = ids[P:]
    print(f"  {name}: torch greedy: {len(set(want))} distinct of {n_new} tokens")
    for fn in ("greedy", "greedy_spec"):
        p = os.path.join(d, fn + ".i32")
        if not os.path.exists(p):
            continue
        got = np.fromfile(p, dtype="<i4").tolist()
        same = got == want
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        print(f"  {name}: {fn:12s} {n_new} tokens " +
              ("identical" if same else f"differ from token {first}"))
        ok &= same
    print(f"  {name}: {r.stderr.strip()}")
    return ok


def main():
    ckpt = sys.argv[1]
    n_new = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    model, cfg = build(ckpt)
    rng = np.random.default_rng(5)
    room = cfg.block_size - n_new - 1
    cases = {
        "short": [1, 2, 3],
        "one": [int(rng.integers(cfg.vocab_size))],
        "random": rng.integers(0, cfg.vocab_size, size=min(20, room)).tolist(),
        "long": rng.integers(0, cfg.vocab_size, size=room).tolist(),
    }
    failed = 0
    for name, prompt in cases.items():
        ok = run_case(name, model, cfg, ckpt, prompt, n_new)
        print(("ok " if ok else "not ok ") + name, flush=True)
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
