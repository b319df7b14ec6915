#!/usr/bin/env bats
# PyTorch parity of the model's kernels: tests/ref/ops_ref.py drives
# $RUNNEL_BUILD/tests/ops_driver and compares with Debian's python3-torch.
# Tolerances (stated in ops_ref.py): forward 1e-5 and gradients 1e-4
# relative to torch in float64; AdamW 1e-5 against torch in float32; LR
# schedule 1e-12; MoE routing decisions and balancing biases identical. torch is imported once, in setup_file; each test reports
# its case's largest differences.

setup_file() {
    export RUNNEL_BUILD=${RUNNEL_BUILD:-build}
    [ -x "$RUNNEL_BUILD/tests/ops_driver" ] || skip "no $RUNNEL_BUILD/tests/ops_driver (make unit)"
    TMPDIR=$BATS_FILE_TMPDIR /usr/bin/python3 "$BATS_TEST_DIRNAME/ops_ref.py" \
        > "$BATS_FILE_TMPDIR/results" 2>&1 || true
}

# case NAME: show its lines, pass if ops_ref.py said "ok NAME".
case_passed() {
    grep -E "^  $1 |^(not )?ok $1\$|Error|error" "$BATS_FILE_TMPDIR/results" || true
    grep -qx "ok $1" "$BATS_FILE_TMPDIR/results"
}

@test "torch reference ran" {
    run grep -c -E '^(not )?ok ' "$BATS_FILE_TMPDIR/results"
    [ "$output" -eq 15 ] || { cat "$BATS_FILE_TMPDIR/results"; false; }
}
@test "linear (bias): forward and dX, dW, db match torch" { case_passed linear; }
@test "RMSNorm, eps outside the root: forward and backward match the seed's module" { case_passed rmsnorm; }
@test "RoPE rotate-half: forward and backward match the seed's apply_rope" { case_passed rope; }
@test "RoPE tables agree with the seed's float32 ones up to position 1023" { case_passed rope_long; }
@test "causal attention, qk dim 96 / v dim 32: forward and backward match torch" { case_passed attention; }
@test "SwiGLU expert down(silu(gate(x)) * up(x)): forward and all gradients match torch" { case_passed swiglu; }
@test "cross-entropy with ignore_index: loss and dlogits match F.cross_entropy" { case_passed crossentropy; }
@test "cross-entropy at vocab 50259 matches F.cross_entropy" { case_passed crossentropy_vocab; }
@test "embedding forward and scatter-add backward match F.embedding" { case_passed embedding; }
@test "AdamW, 3 steps with clip_grad_norm_ and scheduled lr, matches torch.optim.AdamW" { case_passed adamw; }
@test "LR schedule matches nanoGPT's get_lr at its break points" { case_passed lr; }
@test "MLA, one layer of the default config: output, dx and every weight gradient match the seed's module" { case_passed mla; }
@test "MLA without o_proj bias, odd small dims: matches the seed's module" { case_passed mla_small_nobias; }
@test "MoE layer of the default config (routing, experts, shared expert, bias update) matches the seed's module" { case_passed moe; }
@test "MoE complementary sequence-wise aux loss and its gradient match the seed's function" { case_passed moe_aux; }
