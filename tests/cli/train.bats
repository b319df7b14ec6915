#!/usr/bin/env bats
# train through its command line on the sample stories, tokenized with a
# vocabulary trained here: a tiny end-to-end run, the checkpoint read back
# with Python's json and struct, resume equality, SIGTERM and kill -9,
# --log-json, --plot, and every bad input with its message and exit status
# (1 for bad data and failed writes, 2 for bad usage). Tiny models only.

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."

setup_file() {
    export W="$BATS_FILE_TMPDIR"
    "$RUNNEL_BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" \
        "$ROOT/samples/tokenize-stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --split blank-line \
        "$ROOT/samples/tokenize-stories.txt" > "$W/tokens.rnl"
    cat > "$W/tiny.yaml" <<'EOF'
vocab_size: 300
n_layer: 1
n_head: 2
n_embd: 32
block_size: 32
kv_lora_rank: 16
q_lora_rank: 16
rope_dim: 8
n_experts: 4
n_experts_per_token: 2
expert_intermediate_size: 32
shared_expert_intermediate_size: 32
multi_token_predict: 2
dropout: 0.1
batch_size: 4
seq_len: 32
steps: 12
learning_rate: 0.003
min_lr: 0.0003
warmup_iters: 3
lr_decay_iters: 12
eval_interval: 5
eval_iters: 2
checkpoint_interval: 5
log_interval: 1
EOF
}

setup() {
    TRAIN="$RUNNEL_BIN/train"
    T="$BATS_TEST_TMPDIR"
}

# ckpt FILE: one line per tensor ("name dtype shape") then "meta key=value"
# lines, read with nothing but json and struct; fails unless the tensors
# tile the file exactly.
ckpt() {
    /usr/bin/python3 -c '
import json, os, struct, sys
p = sys.argv[1]
f = open(p, "rb")
n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n))
meta = h.pop("__metadata__", {})
end = 0
for name, t in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"]):
    b, e = t["data_offsets"]
    assert b == end, (name, b, end)
    end = e
    print(name, t["dtype"], t["shape"])
assert 8 + n + end == os.path.getsize(p), "tensors do not tile the file"
for k in sorted(meta):
    print("meta", k + "=" + meta[k])' "$1"
}

# losses LOG: "step loss" of every step line of a --log-json log.
losses() {
    /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["msg"] == "step":
        print(d["step"], repr(d["loss"]))' "$1"
}

@test "a tiny run writes a checkpoint with the model, optimizer and run state" {
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" -j 2 -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 0 ]
    [ -z "$output" ]                                   # stdout carries nothing
    [[ "$stderr" == *"train: done at step 12: 12 steps in "*"; loss "*"held-out main loss"* ]]
    [[ "$stderr" == *"eval at step 10: held-out loss"* ]]
    [[ "$stderr" == *"layer 0 "*"usage"*"bias"* ]]
    run ckpt "$T/m.ckpt"
    [ "$status" -eq 0 ]
    [[ "$output" == *"transformer.wte.weight F32 [300, 32]"* ]]
    [[ "$output" == *"optim.m.transformer.wte.weight F32 [300, 32]"* ]]
    [[ "$output" == *"optim.v.mtp_heads.1.combine_proj.weight F32 [32, 64]"* ]]
    [[ "$output" == *"transformer.h.0.mlp.expert_bias F32 [4]"* ]]
    [[ "$output" == *"mtp_heads.1.mlp.expert_bias F32 [4]"* ]]
    [[ "$output" == *"rng.train U64 [4]"* ]]
    [[ "$output" == *"train.history.loss F32 [12]"* ]]
    [[ "$output" == *"meta format=runnel-checkpoint"* ]]
    [[ "$output" == *"meta step=12"* ]]
    [[ "$output" == *"meta threads=2"* ]]
    [[ "$output" == *'meta config={"vocab_size": 300, "n_layer": 1,'* ]]
    [[ "$output" == *"meta tokenizer=runnel-bpe:"* ]]
}

@test "N steps resumed for N more give the losses of 2N steps, bit for bit" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json -o "$T/full.ckpt" "$W/tokens.rnl" 2> "$T/full.log"
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json --steps 6 -o "$T/half.ckpt" "$W/tokens.rnl" \
        2> "$T/a.log"
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json --resume "$T/half.ckpt" -o "$T/half.ckpt" \
        "$W/tokens.rnl" 2> "$T/b.log"
    losses "$T/full.log" > "$T/full.txt"
    { losses "$T/a.log"; losses "$T/b.log"; } > "$T/halves.txt"
    [ "$(wc -l < "$T/full.txt")" -eq 12 ]
    diff "$T/full.txt" "$T/halves.txt"
    # and the same seed gives the same run again
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json -o "$T/again.ckpt" "$W/tokens.rnl" 2> "$T/again.log"
    losses "$T/again.log" | diff "$T/full.txt" -
}

@test "--log-json: one JSON line per step with losses, lr, norm, speed and experts" {
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json --steps 5 \
        -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 0 ]
    printf '%s\n' "$stderr" > "$T/log"
    run /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
steps = [d for d in lines if d["msg"] == "step"]
assert [d["step"] for d in steps] == [1, 2, 3, 4, 5], steps
for d in steps:
    for k in ("loss", "main_loss", "mtp_loss", "lr", "grad_norm", "tokens_per_s",
              "expert_usage", "expert_bias"):
        assert k in d, k
    assert len(d["mtp_loss"]) == 2
    assert len(d["expert_usage"]) == 3 and len(d["expert_usage"][0]) == 4
    assert abs(sum(d["expert_usage"][0]) - 1) < 1e-3
ev = [d for d in lines if d["msg"] == "eval"]
assert len(ev) == 1 and ev[0]["step"] == 5 and "val_loss" in ev[0], ev
done = lines[-1]
assert done["msg"] == "done" and done["step"] == 5, done
print("ok")' "$T/log"
    [ "$status" -eq 0 ]
    [ "$output" = ok ]
}

@test "--plot writes a PNG of the loss curves" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --plot "$T/loss.png" -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$(head -c 8 "$T/loss.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
    [ "$(stat -c %s "$T/loss.png")" -gt 2000 ]
}

@test "tokens can come from stdin, piped from tokenize" {
    "$RUNNEL_BIN/tokenize" -m "$W/tok.json" "$ROOT/samples/tokenize-stories.txt" |
        "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 2 --eval_interval 0 -o "$T/m.ckpt"
    ckpt "$T/m.ckpt" | grep -q "meta step=2"
}

@test "SIGTERM mid-run saves a valid checkpoint and exits 0" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json --steps 1000000 --checkpoint_interval 0 \
        --eval_interval 0 -o "$T/m.ckpt" "$W/tokens.rnl" 2> "$T/log" &
    pid=$!
    for _ in $(seq 200); do grep -q '"step":3,' "$T/log" 2>/dev/null && break; sleep 0.05; done
    kill -TERM "$pid"
    wait "$pid"                                        # exit status 0, or the test fails
    grep -q '"msg":"stopped by signal: checkpoint saved"' "$T/log"
    step=$(ckpt "$T/m.ckpt" | sed -n 's/^meta step=//p')
    [ "$step" -ge 3 ] && [ "$step" -lt 1000000 ]
    # and it resumes from there
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --resume "$T/m.ckpt" --steps $((step + 1)) \
        --eval_interval 0 -o "$T/m2.ckpt" "$W/tokens.rnl"
    ckpt "$T/m2.ckpt" | grep -q "meta step=$((step + 1))"
}

@test "kill -9 during training leaves the last checkpoint whole" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 --log-json --steps 1000000 --checkpoint_interval 2 \
        --eval_interval 0 -o "$T/m.ckpt" "$W/tokens.rnl" 2> "$T/log" &
    pid=$!
    for _ in $(seq 200); do
        [ "$(grep -c '"msg":"checkpoint"' "$T/log" 2>/dev/null)" -ge 3 ] && break; sleep 0.05
    done
    kill -9 "$pid"
    wait "$pid" || true
    run ckpt "$T/m.ckpt"
    [ "$status" -eq 0 ]
    step=$(printf '%s\n' "$output" | sed -n 's/^meta step=//p')
    [ "$step" -ge 6 ]
    [ $((step % 2)) -eq 0 ]
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --resume "$T/m.ckpt" --steps $((step + 1)) \
        --eval_interval 0 -o "$T/m2.ckpt" "$W/tokens.rnl"
}

@test "a failed checkpoint write (file size limit, as a full disk) keeps the old one" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 2 --eval_interval 0 -o "$T/m.ckpt" "$W/tokens.rnl"
    cp "$T/m.ckpt" "$T/before.ckpt"
    # ulimit -f makes the write fail with EFBIG once the file passes 64 KiB
    run --separate-stderr sh -c 'trap "" XFSZ; ulimit -f 128; exec "$@"' sh "$TRAIN" \
        -c "$W/tiny.yaml" -j 2 -q --steps 4 --eval_interval 0 -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: "*"m.ckpt"* ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    cmp "$T/m.ckpt" "$T/before.ckpt"
    [ -z "$(ls "$T" | grep tmp)" ]                      # no temporary file left
}

@test "--print-config shows the layered config: file, then flags" {
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --n_layer 3 --steps 99 --print-config
    [ "$status" -eq 0 ]
    [[ "$output" == *"n_layer: 3"* ]]
    [[ "$output" == *"steps: 99"* ]]
    [[ "$output" == *"n_embd: 32"* ]]
    [[ "$output" == *"learning_rate: 0.003"* ]]
}

@test "bad config: unknown field named with a suggestion, out-of-range values, exit 2" {
    printf 'n_layers: 2\n' > "$T/bad.yaml"
    run --separate-stderr "$TRAIN" -c "$T/bad.yaml" -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"unknown config field 'n_layers' (did you mean n_layer?)"* ]]
    [[ "$stderr" == *"bad.yaml:1"* ]]
    run --separate-stderr "$TRAIN" --n_layers 2 -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"unknown option '--n_layers' (did you mean --n_layer?)"* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --n_layer 0 -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"n_layer: 0 is out of range"* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --seq_len 64 -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"seq_len 64 exceeds block_size 32"* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"no output: give -o CKPT"* ]]
}

@test "a token id >= vocab_size names the record and the position, exit 1" {
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --vocab_size 200 -o "$T/m.ckpt" \
        "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" =~ tokens.rnl:\ record\ [0-9]+:\ token\ [0-9]+:\ id\ [0-9]+\ is\ outside\ the\ vocabulary\ \(vocab_size\ 200\) ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    [ ! -e "$T/m.ckpt" ]
}

@test "empty and too-short data are refused, exit 1" {
    : > "$T/nothing"
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" -o "$T/m.ckpt" "$T/nothing"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: $T/nothing: empty input"* ]]
    printf '' | "$RUNNEL_BIN/tokenize" -m "$W/tok.json" > "$T/empty.rnl"
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" -o "$T/m.ckpt" "$T/empty.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: data: no tokens: the input's 1 tokens records are all empty" ]]
    printf 'Once upon a time.' | "$RUNNEL_BIN/tokenize" -m "$W/tok.json" > "$T/short.rnl"
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" -o "$T/m.ckpt" "$T/short.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"need at least T+1 = 33 tokens in the training split"* ]]
}

@test "an unwritable output directory is refused before training starts" {
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --log-json -o /nonexistent-dir/m.ckpt \
        "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"/nonexistent-dir/m.ckpt"* ]]
    [[ "$stderr" != *'"msg":"step"'* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --plot /nonexistent-dir/l.png \
        -o "$T/m.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"/nonexistent-dir/l.png"* ]]
    [ ! -e "$T/m.ckpt" ]
}

@test "resume refuses a changed model field, by name" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 1 --eval_interval 0 -o "$T/m.ckpt" "$W/tokens.rnl"
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --n_embd 64 --resume "$T/m.ckpt" \
        -o "$T/m2.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"n_embd is 64 here but 32 in the checkpoint"* ]]
    run --separate-stderr "$TRAIN" --resume "$W/tokens.rnl" -o "$T/m2.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: "*"tokens.rnl"* ]]
}

@test "the man page's examples run (on a smaller model)" {
    cd "$T"
    mkdir samples bin
    cp "$ROOT/samples/tiny.yaml" "$ROOT/samples/gen-stories.awk" samples/
    # train as the examples call it, with a tiny model and 2 steps appended
    # (the last value of a flag wins)
    cat > bin/train <<SH
#!/bin/sh
exec "$RUNNEL_BIN/train" "\$@" -j 2 --n_layer 1 --n_embd 32 --n_head 2 --kv_lora_rank 16 \
    --q_lora_rank 16 --rope_dim 8 --expert_intermediate_size 32 \
    --shared_expert_intermediate_size 32 --batch_size 2 --seq_len 32 --block_size 32 \
    --eval_interval 0 --steps 2
SH
    chmod +x bin/train
    grep '^\\fB\$ ' "$ROOT/man/man1/train.1" | sed -e 's/^\\fB\$ //' -e 's/\\fR$//' \
        -e 's/\\-/-/g' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 5 ]
    PATH="$T/bin:$RUNNEL_BIN:$PATH" bash -e examples.sh > out.txt
    [ -s tiny.ckpt ] && [ -s big.ckpt ] && [ -s loss.png ]
    grep -q '"msg":"done"' train.log
    grep -q '^grad_accum: 4$' out.txt
}

@test "--tokenizer stores the tokenizer in the checkpoint; another one is refused" {
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 1 --eval_interval 0 --tokenizer "$W/tok.json" \
        -o "$T/m.ckpt" "$W/tokens.rnl"
    run ckpt "$T/m.ckpt"
    [[ "$output" == *"meta tokenizer_path=$W/tok.json"* ]]
    [[ "$output" == *'meta tokenizer_json={'*'"format": "runnel-tokenizer"'* ]]
    # a resumed run keeps it without being told again
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 2 --eval_interval 0 --resume "$T/m.ckpt" \
        -o "$T/m2.ckpt" "$W/tokens.rnl"
    ckpt "$T/m2.ckpt" | grep -q '"format": "runnel-tokenizer"'
    # records of another vocabulary: by --tokenizer, and by the checkpoint
    "$RUNNEL_BIN/tokenize" --train --vocab-size 280 -q -o "$T/other.json" \
        "$ROOT/samples/tokenize-stories.txt"
    "$RUNNEL_BIN/tokenize" -m "$T/other.json" "$ROOT/samples/tokenize-stories.txt" > "$T/other.rnl"
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --tokenizer "$T/other.json" \
        -o "$T/x.ckpt" "$W/tokens.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: $T/other.json: is tokenizer runnel-bpe:"*", but the records were made with runnel-bpe:"* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --resume "$T/m.ckpt" -o "$T/x.ckpt" \
        "$T/other.rnl"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "train: $T/m.ckpt: trained with tokenizer runnel-bpe:"* ]]
    run --separate-stderr "$TRAIN" -c "$W/tiny.yaml" --vocab_size 290 --tokenizer "$W/tok.json" \
        -o "$T/x.ckpt" "$T/other.rnl"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"300 tokens do not fit vocab_size 290"* ]]
}

@test "Python's safetensors package loads the checkpoint (steps 0: the initial weights)" {
    [ -x "${RUNNEL_VENV:-}/bin/python" ] || skip "no build/venv (make venv)"
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 0 -o "$T/init.ckpt" "$W/tokens.rnl"
    "$TRAIN" -c "$W/tiny.yaml" -j 2 -q --steps 3 -o "$T/m.ckpt" "$W/tokens.rnl"
    run "$RUNNEL_VENV/bin/python" -c '
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
with safe_open(sys.argv[2], framework="np") as f:
    meta = f.metadata()
assert meta["step"] == "3" and a["train.history.loss"].shape == (0,)
assert b["train.history.loss"].shape == (3,) and b["rng.train"].dtype == np.uint64
w0, w3 = a["transformer.wte.weight"], b["transformer.wte.weight"]
assert w0.shape == (300, 32) and abs(w0.std() - 0.02) < 0.002, w0.std()
assert not np.array_equal(w0, w3)                      # trained
assert (a["optim.m.transformer.wte.weight"] == 0).all()
print(len(b))' "$T/init.ckpt" "$T/m.ckpt"
    [ "$status" -eq 0 ]
    [ "$output" -gt 400 ]
}
