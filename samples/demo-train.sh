#!/bin/sh
# demo-train.sh — the language-model part of `make demo`: learn a small
# vocabulary from the sample stories, encode them, train the tiny model of
# samples/tiny.yaml on them (a few minutes on 2 cores), then print the
# final losses and where the loss plot is. Run from the top of the source
# tree after `make`. DEMO_STEPS bounds the run (default: tiny.yaml's 250).
set -eu
. "$(dirname "$0")/demo-lib.sh"
STEPS=${DEMO_STEPS:-250}
# Idle OpenMP threads sleep instead of spinning: on a box that is busy with
# other work, spinning threads on 2 cores make each step several times
# slower; on a quiet one the difference is small.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

# The vocabulary size must be tiny.yaml's vocab_size: the model's
# embedding has exactly one row per token id.
VOCAB=$(sed -n 's/^vocab_size: *\([0-9]*\).*/\1/p' samples/tiny.yaml)
run "$BIN/tokenize --train --vocab-size $VOCAB -o $OUT/tiny-tok.json samples/tokenize-stories.txt"
run "$BIN/tokenize -m $OUT/tiny-tok.json --split blank-line --wrap story samples/tokenize-stories.txt > $OUT/tiny-tokens.rnl"

# Train: a progress line on a terminal, a log line every 10 steps, the
# held-out loss and the experts' routing every 50. The checkpoint embeds
# the tokenizer (--tokenizer), so it is all a later `generate` needs.
rm -f "$OUT/tiny.ckpt"
say "$BIN/train -c samples/tiny.yaml --steps $STEPS --tokenizer $OUT/tiny-tok.json -o $OUT/tiny.ckpt --plot $OUT/tiny-loss.png $OUT/tiny-tokens.rnl"
"$BIN/train" -c samples/tiny.yaml --steps "$STEPS" --tokenizer "$OUT/tiny-tok.json" \
    -o "$OUT/tiny.ckpt" --plot "$OUT/tiny-loss.png" "$OUT/tiny-tokens.rnl"

# The checkpoint is a safetensors file: a JSON header, then the tensors.
say "what the checkpoint holds (read with python3's json and struct)"
/usr/bin/python3 - "$OUT/tiny.ckpt" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n))
meta = h.pop("__metadata__")
params = sum(1 for k in h if not k.startswith(("optim.", "rng.", "train.")))
print("%d tensors (%d of the model), step %s, tokenizer %s" %
      (len(h), params, meta["step"], meta.get("tokenizer", "?")))
def floats(name):
    b, e = h[name]["data_offsets"]
    f.seek(8 + n + b)
    return struct.unpack("<%df" % ((e - b) // 4), f.read(e - b))
train, ev = floats("train.history.loss"), floats("train.history.eval")
print("next-token loss: first step %.3f, last step %.3f" % (train[0], train[-1]))
for i in range(0, len(ev), 2):
    print("  held-out at step %4d: %.3f" % (ev[i], ev[i + 1]))
PY
cat <<EOF

loss curves: $OUT/tiny-loss.png
(The sample corpus is only ~1000 tokens: the model learns it by heart, so
the training loss falls towards 0 while the held-out loss rises. Train on a
real corpus, such as TinyStories, for a model that generalises.)
EOF
