#!/usr/bin/env bash
# train.sh — training speed of runnel's model against the PyTorch
# reference (tests/ref/lm_ref.py, the same model) in the same run: the
# default config (DESIGN.md 3) at batch 8 x 256 tokens, vocab 50259 and
# 8192, dropout 0.1, each step zero_grad + forward + backward + clip +
# AdamW. Both sides use THREADS threads, are warmed up for WARMUP steps and
# report the median of STEPS timed steps; PyTorch is tuned as DESIGN.md 5
# says (OpenMP OpenBLAS on LD_LIBRARY_PATH, tcmalloc preloaded when
# installed, ATEN_CPU_CAPABILITY=avx512). Prints tokens/s of both, the
# ratio, peak memory (max RSS) of both, and runnel's GFLOP/s against the
# sgemm ceiling measured in the same run (bench/sgemm, 2048^3, same
# threads, right before each runnel run) and the reference's own
# torch.matmul rate. VERBOSE=1 also prints every step of both sides;
# VOCABS="8192" restricts the vocabularies.
#
#   bench/train.sh [STEPS [WARMUP [THREADS]]]     (default 5 2 2)
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-5}
WARMUP=${2:-2}
THREADS=${3:-2}
O=${O:-build}
VOCABS=${VOCABS:-"50259 8192"}
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
OB_OMP=/usr/lib/$MULTIARCH/openblas-openmp
TCMALLOC=/usr/lib/$MULTIARCH/libtcmalloc_minimal.so.4

${MAKE:-make} -s "$O/bench/train_lm" "$O/bench/sgemm"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), threads used: $THREADS"
others() {
    top -b -n2 -d0.5 -w 200 | awk '/^top -/ { f++ } f == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 5 \
        { printf "  %s%% %s\n", $9, $12; n++ } END { if (!n) print "  none" }'
}
echo "other processes above 5% CPU just before the run (top, 0.5 s sample):"
others

PRELOAD=
[ -e "$TCMALLOC" ] && PRELOAD=$TCMALLOC || echo "note: $TCMALLOC missing (libtcmalloc-minimal4): torch runs without tcmalloc"
torch_env() {
    LD_LIBRARY_PATH=$OB_OMP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} LD_PRELOAD=$PRELOAD \
    ATEN_CPU_CAPABILITY=avx512 OMP_NUM_THREADS=$THREADS "$@"
}

ceiling() {
    OMP_NUM_THREADS=$THREADS "$O/bench/sgemm" -t "$THREADS" -r 5 2048x2048x2048 2>/dev/null |
        awk '{ print $5 }'
}

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
printf '\n%-6s %10s %10s %7s %10s %10s %9s %9s %8s %8s\n' vocab "runnel/s" "torch/s" ratio \
    "runnel MB" "torch MB" "GFLOP/s" "of ceil." "ceiling" "torch mm"
for V in $VOCABS; do
    # the ceiling right before runnel's run, so both see the same machine
    CEIL=$(ceiling)
    R=$(OMP_NUM_THREADS=$THREADS "$O/bench/train_lm" -V "$V" -s "$STEPS" -w "$WARMUP" -t "$THREADS" 2>>"$LOG")
    T=$(torch_env /usr/bin/python3 bench/train_ref.py "$V" 8 256 "$STEPS" "$WARMUP" "$THREADS" 2>>"$LOG")
    TMM=$(echo "$T" | awk '$1 == "torch_sgemm" { print $2 }')
    echo "$R" "$(echo "$T" | grep '^torch ')" | awk -v v="$V" -v c="$CEIL" -v mm="$TMM" '{
        # runnel STEP TOK/S RSS FWD BWD OPT MFLOP/TOK   torch STEP TOK/S RSS FWD BWD OPT
        gf = $3 * $8 / 1000
        printf "%-6s %10.1f %10.1f %7.2f %10d %10d %9.1f %8.0f%% %8.1f %8.1f\n", v, $3, $11,
            $3 / $11, $4, $12, gf, 100 * gf / c, c, mm
        printf "       step ms: runnel %.0f (fwd %.0f bwd %.0f opt %.0f), torch %.0f (fwd %.0f bwd %.0f opt %.0f); %.1f MFLOP/token\n",
            $2, $5, $6, $7, $10, $13, $14, $15, $8
    }'
done
echo
echo "(tokens/s: 8 x 256 tokens / median step time of $STEPS steps after $WARMUP warm-up steps;"
echo " ratio = runnel / torch; MB = peak RSS; GFLOP/s = MFLOP/token x tokens/s, full-T attention"
echo " counted; of ceil. = that as a share of ceiling, runnel's rn_sgemm 2048^3 GFLOP/s measured"
echo " just before its run; torch mm = torch.matmul 2048^3 GFLOP/s measured by the reference)"
echo "other processes above 5% CPU after the run:"
AFTER=$(others)
echo "$AFTER"
[ "$AFTER" = "  none" ] || echo "WARNING: the machine was not quiet: both sides lost CPU to other processes; compare nothing"
[ -z "${VERBOSE:-}" ] || cat "$LOG"
