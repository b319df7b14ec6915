#!/usr/bin/python3
"""Training-step speed of the PyTorch reference model (tests/ref/lm_ref.py,
the same model as libcore/lm) for bench/train.sh: default config with the
vocab given, dropout 0.1, float32, AdamW with clip_grad_norm_, random
tokens; each step is zero_grad + forward + backward + clip + step.

  train_ref.py VOCAB BATCH SEQ STEPS WARMUP THREADS [N_LAYER]

Prints two lines on stdout: "torch_sgemm GFLOPS" (median of 5 products
2048^3 through torch.matmul, before training) and
  torch STEP_MS_MEDIAN TOKENS_PER_S PEAK_RSS_MB FWD_MS BWD_MS OPT_MS
"""
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import lm_ref  # noqa: E402


def main():
    V, B, T, steps, warm, threads = map(int, sys.argv[1:7])
    L = int(sys.argv[7]) if len(sys.argv) > 7 else 6
    torch.set_num_threads(threads)
    torch.manual_seed(1337)
    cfg = lm_ref.Config(vocab_size=V, n_layer=L, dropout=0.1)
    model = lm_ref.DeepSeek(cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
            elif n.endswith(".bias"):
                p.zero_()
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), eps=1e-8)
    rng = np.random.default_rng(1)
    tok = torch.from_numpy(rng.integers(0, V, size=(B, T + 1)).astype(np.int64))
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and "/" in l})
    cap = [l.strip() for l in torch.__config__.show().splitlines() if "capability" in l]
    print("train_ref: torch %s, %s, %d threads, blas: %s, %d parameters" %
          (torch.__version__, cap[0] if cap else "?", torch.get_num_threads(), " ".join(blas),
           sum(p.numel() for p in model.parameters())), file=sys.stderr)
    # the reference's own sgemm rate, so a reader sees what it ran on
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    torch.matmul(a, b)
    tm = []
    for _ in range(5):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        tm.append(time.perf_counter() - t0)
    print("torch_sgemm %.1f" % (2 * 2048 ** 3 / sorted(tm)[2] / 1e9))
    del a, b
    tf, tb, to, ts = [], [], [], []
    for s in range(warm + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(tok)[0]
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t3 = time.perf_counter()
        print("  step %d: %.1f ms (fwd %.1f, bwd %.1f, opt %.1f), loss %.4f" %
              (s, (t3 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
               loss.item()), file=sys.stderr)
        if s >= warm:
            tf.append(t1 - t0), tb.append(t2 - t1), to.append(t3 - t2), ts.append(t3 - t0)
    med = lambda v: sorted(v)[len(v) // 2]
    step = med(ts)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch %.1f %.1f %.0f %.1f %.1f %.1f" % (step * 1e3, B * T / step, rss, med(tf) * 1e3,
                                                   med(tb) * 1e3, med(to) * 1e3))


if __name__ == "__main__":
    main()
