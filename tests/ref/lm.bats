#!/usr/bin/env bats
# PyTorch parity of the whole language model: tests/ref/lm_ref.py drives
# $RUNNEL_BUILD/tests/lm_driver and compares with a PyTorch implementation
# of the same model (Debian's python3-torch, float64). Tolerances (stated in
# lm_ref.py): loss 1e-5 relative; every gradient and every parameter after 3
# AdamW steps 1e-4 (max-abs difference over the tensor's norm); balancing
# biases identical. torch is imported once, in setup_file; each test shows
# its case's largest differences.

setup_file() {
    export RUNNEL_BUILD=${RUNNEL_BUILD:-build}
    [ -x "$RUNNEL_BUILD/tests/lm_driver" ] || skip "no $RUNNEL_BUILD/tests/lm_driver (make unit)"
    TMPDIR=$BATS_FILE_TMPDIR /usr/bin/python3 "$BATS_TEST_DIRNAME/lm_ref.py" \
        > "$BATS_FILE_TMPDIR/results" 2>&1 || true
}

case_passed() {
    grep -E "^  $1 |^(not )?ok $1\$|Error|error" "$BATS_FILE_TMPDIR/results" || true
    grep -qx "ok $1" "$BATS_FILE_TMPDIR/results"
}

@test "torch reference ran every case" {
    run grep -c -E '^(not )?ok ' "$BATS_FILE_TMPDIR/results"
    [ "$output" -eq 3 ] || { cat "$BATS_FILE_TMPDIR/results"; false; }
}
@test "small model (2 layers, 2 MTP heads, aux loss): loss, gradients, 3 AdamW steps, biases match torch" { case_passed small; }
@test "small model without biases or shared expert, top-1, one MTP head: matches torch" { case_passed small_nobias; }
@test "one layer of the default config (vocab 2048): loss, gradients, 3 AdamW steps, biases match torch" { case_passed default_1layer; }
