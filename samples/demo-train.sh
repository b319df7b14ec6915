#!/bin/sh
# demo-train.sh — the language-model part of `make demo`: generate a corpus
# of simple children's stories (samples/gen-stories.awk), learn a small
# vocabulary from it, encode it one story per document, train the tiny
# model of samples/tiny.yaml on it (about 2 minutes on 2 cores), then
# print the training and held-out losses and either two stories written by
# the model (when bin/generate exists) or where the loss plot is. Run from
# the top of the source tree after `make`. DEMO_STEPS bounds the run
# (default: tiny.yaml's steps), DEMO_STORIES the corpus (default 3500).
set -eu
. "$(dirname "$0")/demo-lib.sh"
STEPS=${DEMO_STEPS:-$(sed -n 's/^steps: *\([0-9]*\).*/\1/p' samples/tiny.yaml)}
STORIES=${DEMO_STORIES:-3500}
# Idle OpenMP threads sleep instead of spinning: on a box that is busy with
# other work, spinning threads on 2 cores make each step several times
# slower; on a quiet one the difference is small.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

# The corpus: the same bytes on every machine (the generator has its own
# random numbers), ~550 bytes a story, a blank line between stories.
run "awk -v seed=1 -v stories=$STORIES -f samples/gen-stories.awk > $OUT/stories.txt"
say "head -n 1 $OUT/stories.txt      # the first of $STORIES stories"
head -n 1 "$OUT/stories.txt"

# The vocabulary size must be tiny.yaml's vocab_size: the model's
# embedding has exactly one row per token id. Each story becomes one
# document between <|story|> and </|story|>.
VOCAB=$(sed -n 's/^vocab_size: *\([0-9]*\).*/\1/p' samples/tiny.yaml)
run "$BIN/tokenize --train --vocab-size $VOCAB -o $OUT/tiny-tok.json $OUT/stories.txt"
run "$BIN/tokenize -m $OUT/tiny-tok.json --split blank-line --wrap story $OUT/stories.txt > $OUT/tiny-tokens.rnl"

# Train: a progress line on a terminal, a log line every 20 steps, the
# held-out loss and the experts' routing every 100. The checkpoint embeds
# the tokenizer (--tokenizer), so it is all `generate` needs.
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
if len(ev) >= 4:
    print("held-out loss %.3f -> %.3f: %s" % (ev[1], ev[-1],
          "it falls, the model generalises to stories it has not seen"
          if ev[-1] < ev[1] else "it did not fall"))
PY

if [ -x "$BIN/generate" ]; then
    # Two stories from the model, each from the same opening words (a
    # seed each). generate writes the continuation: the prompt goes first.
    for s in 1 2; do
        say "$BIN/generate -m $OUT/tiny.ckpt --temperature 0.8 --top-k 40 --seed $s 'Once upon a time'"
        printf 'Once upon a time'
        "$BIN/generate" -m "$OUT/tiny.ckpt" --temperature 0.8 --top-k 40 --seed "$s" 'Once upon a time'
    done
    printf '\nloss curves: %s\n' "$OUT/tiny-loss.png"
fi

if [ -x "$BIN/serve" ] && command -v curl > /dev/null; then
    # The same model behind HTTP for a moment: a port the kernel picks,
    # the seed's and OpenAI's and Ollama's endpoints, then SIGTERM.
    say "$BIN/serve -m $OUT/tiny.ckpt --port 0 &"
    "$BIN/serve" -m "$OUT/tiny.ckpt" --port 0 --env-file /dev/null 2> "$OUT/serve.log" &
    SERVE=$!
    URL=
    for _ in $(seq 100); do
        URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$OUT/serve.log" | head -1) && [ -n "$URL" ] && break
        sleep 0.1
    done
    if [ -n "$URL" ]; then
        run "curl -s $URL/health"
        run "curl -s $URL/predict -d '{\"input\": \"Once upon a time\", \"max_tokens\": 24, \"seed\": 1}'"
        run "curl -sN $URL/api/generate -d '{\"model\": \"tiny\", \"prompt\": \"The cat\", \"options\": {\"num_predict\": 5, \"seed\": 1}}'"
        printf '\n'
    fi
    kill -TERM "$SERVE"
    wait "$SERVE" || true
    printf '(request log: %s)\n' "$OUT/serve.log"
elif [ ! -x "$BIN/generate" ]; then
    cat <<EOF

loss curves: $OUT/tiny-loss.png
(bin/generate is not built yet: once it is, this demo ends with two stories
written by the model: generate -m $OUT/tiny.ckpt 'Once upon a time'.)
EOF
fi
