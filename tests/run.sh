#!/usr/bin/env bash
# run.sh — run every test suite and end with one line: "N passed, N failed".
#
# Suites: the cmocka unit tests, the bats CLI and reference tests, the fuzz
# corpus replayed through each fuzz target; then the unit and CLI tests
# again against the AddressSanitizer + UndefinedBehaviorSanitizer build.
# Every suite speaks TAP; a suite that dies without reporting counts as a
# failure, so a crash can never pass.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LOG=build/test-logs
mkdir -p "$LOG"
passed=0
failed=0
failures=()

# tally NAME FILE EXIT: count TAP lines of FILE, print the failures.
tally() {
    local name=$1 file=$2 rc=$3 ok bad
    ok=$(grep -cE '^ok ' "$file")
    bad=$(grep -cE '^not ok ' "$file")
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
        failures+=("$name: exited with status $rc without reporting a failed test (crash?)")
    fi
    while IFS= read -r line; do failures+=("$name: $line"); done \
        < <(grep -E '^not ok ' "$file")
    passed=$((passed + ok))
    failed=$((failed + bad))
    printf '%-44s %5d passed %5d failed\n' "$name" "$ok" "$bad"
}

run_units() { # $1 = build dir, $2 = label
    local t name
    for t in "$1"/tests/test_*; do
        [ -x "$t" ] || continue
        name="$2unit/${t##*/}"
        CMOCKA_MESSAGE_OUTPUT=TAP "$t" > "$LOG/${name//\//_}.tap" 2>&1
        tally "$name" "$LOG/${name//\//_}.tap" $?
    done
}

run_bats() { # $1 = bin dir, $2 = build dir, $3 = label, $4... = files
    local bindir=$1 builddir=$2 label=$3 f name
    shift 3
    for f in "$@"; do
        [ -f "$f" ] || continue
        name="$label${f#tests/}"
        RUNNEL_BIN="$ROOT/$bindir" RUNNEL_BUILD="$ROOT/$builddir" RUNNEL_ROOT="$ROOT" \
            RUNNEL_VENV="$ROOT/build/venv" RUNNEL_VOCAB_DIR="$ROOT/build/vocab" \
            bats --tap "$f" > "$LOG/${name//\//_}.tap" 2>&1
        tally "$name" "$LOG/${name//\//_}.tap" $?
    done
}

run_fuzz_corpus() {
    local f n out
    for f in build/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        n=${f##*/fuzz_}
        out="$LOG/fuzz_$n.tap"
        if "$f" -runs=0 tests/fuzz/corpus/"$n"/* > "$out.log" 2>&1; then
            echo "ok 1 - corpus of $n replays cleanly ($(ls tests/fuzz/corpus/"$n" | wc -l) inputs)" > "$out"
        else
            echo "not ok 1 - corpus of $n: see $out.log" > "$out"
        fi
        tally "fuzz/$n (corpus replay)" "$out" 0
    done
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
export LC_ALL=C.UTF-8

run_units build ""
run_bats bin build "" tests/cli/*.bats tests/ref/*.bats
run_fuzz_corpus
if [ -d build/asan/bin ]; then
    run_units build/asan "asan/"
    run_bats build/asan/bin build/asan "asan/" tests/cli/*.bats
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "Failures (logs in $LOG):"
    printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
