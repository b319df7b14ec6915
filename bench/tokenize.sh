#!/bin/sh
# bench/tokenize.sh [MB] — encoding speed of runnel's tokenize against
# tiktoken (PyPI, its Rust core) with GPT-2's vocabulary, on the same corpus
# of real text from this machine (default 24 MB), in the same run: one
# thread, then all cores. Prints MB/s for each and runnel/tiktoken.
#
# Fairness: both encode the same bytes in memory (tiktoken's Python str,
# decoded before timing; runnel's file, read by the timed process, with the
# time to load the vocabulary and start subtracted), both are warmed up
# once, each figure is the best of 3. tiktoken spreads a batch of texts
# over threads, so with N threads it gets the corpus as 8N line-aligned
# slices; runnel cuts the one document itself.
#
# Environment (to run elsewhere, e.g. on a machine with more cores):
# TOKENIZE, BENCH_PYTHON (with tiktoken and regex), BENCH_RANKS,
# BENCH_CORPUS, BENCH_THREADS (default "1 NCPU").
set -eu
cd "$(dirname "$0")/.."
mb=${1:-24}
tok=${TOKENIZE:-bin/tokenize}
ranks=${BENCH_RANKS:-build/vocab/gpt2.tiktoken}
py=${BENCH_PYTHON:-build/venv/bin/python}
corpus=${BENCH_CORPUS:-build/bench/tokenize-corpus-$mb.txt}
ref=tests/ref/tokenize_ref.py
[ -n "${TOKENIZE:-}" ] || make -s bin/tokenize >&2
[ -n "${BENCH_PYTHON:-}" ] || make -s venv >&2
[ -n "${BENCH_RANKS:-}" ] || make -s vocab-gpt2 >&2
mkdir -p build/bench
[ -f "$corpus" ] || tests/ref/tokenize_corpus.sh "$corpus" $((mb * 1000000))
: > build/bench/empty.txt
ncpu=$(nproc)
threads=${BENCH_THREADS:-1 $ncpu}
[ "$ncpu" -gt 1 ] || threads=1

# best_seconds CMD...: best wall time of 3 runs, after one warm-up
best_seconds() {
    "$@" > /dev/null
    best=
    for i in 1 2 3; do
        s=$(date +%s.%N)
        "$@" > /dev/null
        e=$(date +%s.%N)
        best=$(awk -v s="$s" -v e="$e" -v b="$best" 'BEGIN { t = e - s; print (b == "" || t < b) ? t : b }')
    done
    echo "$best"
}

bytes=$(wc -c < "$corpus")
echo "corpus: $corpus ($bytes bytes), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %12s %12s %8s\n' threads runnel_MB/s tiktoken_MB/s ratio
for j in $threads; do
    t_run=$(best_seconds "$tok" -m "$ranks" -j "$j" "$corpus")
    t_load=$(best_seconds "$tok" -m "$ranks" -j "$j" build/bench/empty.txt)
    ours=$(awk -v b="$bytes" -v t="$t_run" -v l="$t_load" 'BEGIN { printf "%.2f", b / 1e6 / (t - l) }')
    theirs=$("$py" "$ref" bench "$ranks" "$corpus" "$j")
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
    printf '%-10s %12s %12s %8s\n' "$j" "$ours" "$theirs" "${ratio}x"
done
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
