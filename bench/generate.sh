#!/usr/bin/env bash
# bench/generate.sh — decoding speed of `generate` against PyTorch, same run,
# same checkpoint (issue 5).
#
# A default-config checkpoint (samples/default.yaml: 6 layers, C 256,
# vocab 50259) is made here by one tiny `train` step on the sample stories
# with GPT-2's tokenizer (weights are near their init: speed does not care).
# Then, greedy, NEW new tokens (default 256) after 'Once upon a time':
#   runnel-1      generate, one stream (latent cache, absorbed attention)
#   runnel-8      generate -b 8, eight prompts decoded together (tokens/s over all)
#   torch-nocache lm_ref.py's module, float32, full recompute each step (as the seed generates)
#   torch-kv      the same module's weights, per-layer K/V cache, one position per step
# and prints runnel's ratios to both, and runnel's single-stream decode
# speed against its bound: bytes of weights read per token (every backbone
# tensor except the experts a token does not use, plus the tied LM head)
# divided by the memory bandwidth measured here (numpy copy of 512 MiB).
# Goals (issue 5): runnel-1 >= 10x torch-nocache at 256 tokens, and within
# 2x of the bound. Reported, never judged.
#
# Environment: GEN_BENCH_TOKENS (default 256), RUNNEL_BIN (default bin),
# THREADS (default: all cores, for both sides), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

NEW=${GEN_BENCH_TOKENS:-256}
BIN=${RUNNEL_BIN:-bin}
THREADS=${THREADS:-$(nproc)}
VOCAB=build/vocab/gpt2.tiktoken
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

for need in "$BIN/generate" "$BIN/train" "$BIN/tokenize" "$VOCAB"; do
    [ -e "$need" ] || { echo "generate.sh: missing: $need (make all; make vocab-gpt2)" >&2; exit 1; }
done
/usr/bin/python3 -c 'import torch' 2> /dev/null || { echo "generate.sh: python3-torch missing" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/generate-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); threads $THREADS"

"$BIN/tokenize" -m "$VOCAB" --split blank-line --wrap story samples/tokenize-stories.txt > "$W/tokens.rnl"
"$BIN/train" -q -c samples/default.yaml --steps 1 --batch_size 1 --seq_len 64 --eval_interval 0 \
    --checkpoint_interval 0 --tokenizer "$VOCAB" -o "$W/d.ckpt" "$W/tokens.rnl"
PROMPT='Once upon a time'
IDS=$(printf '%s\n' "<|story|>$PROMPT" | "$BIN/tokenize" -m "$VOCAB" --allow-special --ids)

# runnel: tokens/s from --json (completion tokens over the batch's seconds,
# prefill included, as torch's timing below)
r1=$("$BIN/generate" -m "$W/d.ckpt" --temperature 0 -n "$NEW" --json "$PROMPT" |
     /usr/bin/python3 -c 'import json,sys; o=json.loads(sys.stdin.readline()); print(o["completion_tokens"]/o["seconds"], o["completion_tokens"])')
r8=$(for i in 1 2 3 4 5 6 7 8; do echo "$PROMPT"; done |
     "$BIN/generate" -m "$W/d.ckpt" --temperature 0 -n "$NEW" -b 8 --json |
     /usr/bin/python3 -c 'import json,sys
os=[json.loads(l) for l in sys.stdin]
print(sum(o["completion_tokens"] for o in os)/os[0]["seconds"])')

/usr/bin/python3 - "$W/d.ckpt" "$NEW" "$THREADS" "$IDS" "$r1" "$r8" <<'PY'
import json, math, os, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F
sys.path.insert(0, "tests/ref")
from lm_ref import Config, DeepSeek, apply_rope, rope_cos_sin

ckpt, new, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompt = [int(t) for t in sys.argv[4].split()]
r1, r1_tokens = (float(x) for x in sys.argv[5].split())
r8 = float(sys.argv[6])
torch.set_num_threads(threads)

raw = open(ckpt, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
hdr = json.loads(raw[8:8 + n]); meta = hdr.pop("__metadata__"); data = raw[8 + n:]
conf = json.loads(meta["config"])
cfg = Config(**{k: v for k, v in conf.items() if hasattr(Config(), k)}); cfg.dropout = 0.0
model = DeepSeek(cfg).eval()
sd = {}
for k in model.state_dict():
    if k == "lm_head.weight":
        continue
    b, e = hdr[k]["data_offsets"]
    sd[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").reshape(hdr[k]["shape"]).copy())
sd["lm_head.weight"] = sd["transformer.wte.weight"]
model.load_state_dict(sd, strict=True)

@torch.no_grad()
def nocache(ids, n):
    ids = list(ids)
    for _ in range(n):
        x = model.transformer.wte(torch.tensor([ids]))
        for blk in model.transformer.h:
            x, _ = blk(x)
        ids.append(int(model.lm_head(model.transformer.ln_f(x[:, -1])).argmax()))
    return ids[len(ids) - n:]

cos_t, sin_t = rope_cos_sin(cfg.rope_dim, cfg.block_size)

@torch.no_grad()
def attn_cached(a, x, cache, pos):
    # x (1, T, C) at positions pos..pos+T-1; cache: [k (1,H,P,Dh+R), v (1,H,P,Dh)]
    B, T, C = x.shape
    H, Dh, R = a.n_head, a.head_dim, a.rope_dim
    kv = a.kv_norm(a.kv_proj(x)); cq = a.q_proj(x)
    cs, sn = cos_t[pos:pos + T], sin_t[pos:pos + T]
    q = torch.cat([a.q_decompress(cq).view(B, T, H, Dh).transpose(1, 2),
                   apply_rope(a.q_rope_proj(cq).view(B, T, H, R).transpose(1, 2), cs, sn)], -1)
    k = torch.cat([a.k_decompress(kv).view(B, T, H, Dh).transpose(1, 2),
                   apply_rope(a.k_rope_proj(x).view(B, T, H, R).transpose(1, 2), cs, sn)], -1)
    v = a.v_decompress(kv).view(B, T, H, Dh).transpose(1, 2)
    if cache:
        k = torch.cat([cache[0], k], 2); v = torch.cat([cache[1], v], 2)
    cache[:] = [k, v]
    s = q @ k.transpose(-2, -1) / math.sqrt(Dh + R)
    P = k.size(2)
    mask = torch.ones(T, P, dtype=torch.bool).tril(P - T)
    s = s.masked_fill(~mask, float("-inf"))
    return a.o_proj((F.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, H * Dh))

@torch.no_grad()
def kvcache(ids, n):
    caches = [[] for _ in model.transformer.h]
    out, pos, cur = [], 0, list(ids)
    for _ in range(n):
        x = model.transformer.wte(torch.tensor([cur]))
        for blk, c in zip(model.transformer.h, caches):
            x = x + attn_cached(blk.attn, blk.attn_norm(x), c, pos)
            m, _ = blk.mlp(blk.mlp_norm(x)); x = x + m
        pos += len(cur)
        t = int(model.lm_head(model.transformer.ln_f(x[:, -1])).argmax())
        out.append(t); cur = [t]
    return out

def timed(f):
    t = time.perf_counter(); r = f(); return r, time.perf_counter() - t

a, t_nc = timed(lambda: nocache(prompt, new))
b, t_kv = timed(lambda: kvcache(prompt, new))
nc, kvs = new / t_nc, new / t_kv

# bytes of weights one decode token reads: backbone minus unused experts, plus the head
C, V, L = cfg.n_embd, cfg.vocab_size, cfg.n_layer
per_expert = sum(v.numel() for k, v in sd.items() if k.startswith("transformer.h.0.mlp.experts.0."))
backbone = sum(v.numel() for k, v in sd.items() if k.startswith("transformer.h."))
bytes_tok = 4 * (backbone - L * (cfg.n_experts - cfg.n_experts_per_token) * per_expert + V * C + C)
buf = np.ones(128 << 20, dtype=np.float32); dst = np.empty_like(buf)
best = 0.0
for _ in range(5):
    t = time.perf_counter(); np.copyto(dst, buf); dt = time.perf_counter() - t
    best = max(best, 2 * buf.nbytes / dt)  # read + write
bound = best / bytes_tok
print(f"default config, greedy, {new} new tokens after {len(prompt)} prompt tokens")
print(f"  torch outputs agree (no cache vs KV cache): {a == b}")
print(f"  runnel-1       {r1:9.1f} tokens/s ({int(r1_tokens)} tokens)")
print(f"  runnel-8       {r8:9.1f} tokens/s over 8 streams")
print(f"  torch-nocache  {nc:9.1f} tokens/s")
print(f"  torch-kv       {kvs:9.1f} tokens/s")
print(f"  runnel-1 / torch-nocache {r1 / nc:6.2f}x   (goal >= 10x)")
print(f"  runnel-1 / torch-kv      {r1 / kvs:6.2f}x")
print(f"  runnel-8 / runnel-1      {r8 / r1:6.2f}x")
print(f"  bound: {bytes_tok / 1e6:.1f} MB of weights per token at {best / 1e9:.1f} GB/s = "
      f"{bound:.1f} tokens/s; runnel-1 at {r1 / bound:.2f} of it (goal >= 0.5)")
PY
