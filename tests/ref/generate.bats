#!/usr/bin/env bats
# PyTorch parity of generate's inference paths: a small model is trained
# here by train (so the checkpoint is exactly what train writes), then
# tests/ref/generate_ref.py loads it into the torch reference model of
# lm_ref.py and compares, for four prompts (1, 3, 20 and block_size-41
# tokens): logits of the full recompute, of the latent cache (absorbed
# attention, one position per call) and of plain attention (three per
# call) within 1e-4 of the largest logit at every position, and 40-token
# greedy continuations (cached and speculative) identical to torch's
# full-recompute greedy loop.

setup_file() {
    export RUNNEL_BUILD=${RUNNEL_BUILD:-build}
    RUNNEL_BIN=${RUNNEL_BIN:-bin}
    [ -x "$RUNNEL_BUILD/tests/generate_driver" ] || skip "no $RUNNEL_BUILD/tests/generate_driver (make unit)"
    [ -x "$RUNNEL_BIN/train" ] || skip "no $RUNNEL_BIN/train"
    local W="$BATS_FILE_TMPDIR" S="$BATS_TEST_DIRNAME/../../samples/tokenize-stories.txt"
    export OMP_WAIT_POLICY=passive
    {
        "$RUNNEL_BIN/tokenize" --train --vocab-size 300 -q -o "$W/tok.json" "$S" &&
        "$RUNNEL_BIN/tokenize" -m "$W/tok.json" --split blank-line --wrap story "$S" > "$W/tokens.rnl" &&
        printf '%s\n' 'vocab_size: 300' 'n_layer: 2' 'n_head: 2' 'n_embd: 32' 'block_size: 128' \
            'kv_lora_rank: 16' 'q_lora_rank: 24' 'rope_dim: 8' 'n_experts: 4' \
            'n_experts_per_token: 2' 'expert_intermediate_size: 48' \
            'shared_expert_intermediate_size: 40' 'multi_token_predict: 2' 'dropout: 0' \
            'batch_size: 4' 'seq_len: 64' 'steps: 150' 'learning_rate: 0.01' 'warmup_iters: 10' \
            'lr_decay_iters: 150' 'eval_interval: 0' > "$W/model.yaml" &&
        "$RUNNEL_BIN/train" -q -c "$W/model.yaml" --tokenizer "$W/tok.json" -o "$W/m.ckpt" \
            "$W/tokens.rnl" &&
        /usr/bin/python3 "$BATS_TEST_DIRNAME/generate_ref.py" "$W/m.ckpt" 40
    } > "$W/results" 2>&1 || true
}

case_passed() {
    grep -E "^  $1: |^(not )?ok $1\$|Error|error" "$BATS_FILE_TMPDIR/results" || true
    grep -qx "ok $1" "$BATS_FILE_TMPDIR/results"
}

@test "torch reference ran every case" {
    run grep -c -E '^(not )?ok ' "$BATS_FILE_TMPDIR/results"
    [ "$output" -eq 4 ] || { cat "$BATS_FILE_TMPDIR/results"; false; }
}
@test "3-token prompt: logits with and without the cache match torch, greedy identical" { case_passed short; }
@test "1-token prompt: logits match torch, greedy identical" { case_passed one; }
@test "20-token prompt: logits match torch, greedy identical" { case_passed random; }
@test "prompt filling the context but 41: logits match torch, greedy identical" { case_passed long; }
