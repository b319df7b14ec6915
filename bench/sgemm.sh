#!/usr/bin/env bash
# sgemm.sh — the fp32 sgemm ceiling of this machine, runnel (rn_sgemm on
# OpenBLAS's OpenMP build) against torch.matmul in the same run, with
# PyTorch tuned as DESIGN.md 5 says (OpenMP OpenBLAS on LD_LIBRARY_PATH,
# tcmalloc preloaded when installed, ATEN_CPU_CAPABILITY=avx512), the same
# thread count on both sides, a warm-up before timing, and the median of
# RUNS products per shape. Prints GFLOP/s for both and the ratio.
#
#   bench/sgemm.sh [THREADS [RUNS]]      (default: all cores, 7 runs)
#
# Shapes: a large square product (the ceiling), then the default model's
# typical products at batch 8 x 256 tokens (2048 rows): an n_embd x
# shared-expert-hidden projection and the LM head at vocab 50259.
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-$(nproc)}
RUNS=${2:-7}
O=${O:-build}
SHAPES="2048x2048x2048 2048x768x256 2048x256x768 2048x50259x256"
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
OB_OMP=/usr/lib/$MULTIARCH/openblas-openmp
TCMALLOC=/usr/lib/$MULTIARCH/libtcmalloc_minimal.so.4

${MAKE:-make} -s "$O/bench/sgemm"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), threads used: $THREADS"
# Quiet matters: both sides lose what other processes take.
echo "other processes above 5% CPU just before the run (top, 0.5 s sample):"
top -b -n2 -d0.5 -w 200 | awk '/^top -/ { f++ } f == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 5 \
    { printf "  %s%% %s\n", $9, $12; n++ } END { if (!n) print "  none" }'

RN_OUT=$(mktemp)
PT_OUT=$(mktemp)
trap 'rm -f "$RN_OUT" "$PT_OUT"' EXIT

OMP_NUM_THREADS=$THREADS "$O/bench/sgemm" -t "$THREADS" -r "$RUNS" $SHAPES > "$RN_OUT"

PRELOAD=
[ -e "$TCMALLOC" ] && PRELOAD=$TCMALLOC || echo "note: $TCMALLOC missing (libtcmalloc-minimal4): torch runs without tcmalloc"
LD_LIBRARY_PATH=$OB_OMP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} LD_PRELOAD=$PRELOAD \
ATEN_CPU_CAPABILITY=avx512 OMP_NUM_THREADS=$THREADS \
/usr/bin/python3 - "$THREADS" "$RUNS" $SHAPES > "$PT_OUT" <<'EOF'
import sys, time, torch
threads, runs = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and "/" in l})
cap = [l.strip() for l in torch.__config__.show().splitlines() if "capability" in l]
print("torch %s, %s, blas: %s" % (torch.__version__, cap[0] if cap else "?", " ".join(blas)),
      file=sys.stderr)
for s in sys.argv[3:]:
    M, N, K = map(int, s.split("x"))
    a = torch.rand(M, K) * 0.1
    b = torch.rand(K, N) * 0.1
    c = torch.empty(M, N)
    torch.matmul(a, b, out=c)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        t.append(time.perf_counter() - t0)
    t.sort()
    fl = 2.0 * M * N * K * 1e-9
    print("torch %d %d %d %.1f %.1f %.1f" % (M, N, K, fl / t[runs // 2], fl / t[-1], fl / t[0]))
EOF

printf '%-18s %16s %16s %8s\n' "M x N x K" "runnel GFLOP/s" "torch GFLOP/s" "ratio"
paste -d' ' "$RN_OUT" "$PT_OUT" | while read -r _ m n k rmed _ _ _ _ _ _ tmed _ _; do
    printf '%-18s %16s %16s %8s\n' "${m}x${n}x${k}" "$rmed" "$tmed" \
        "$(awk -v a="$rmed" -v b="$tmed" 'BEGIN { printf "%.2f", a / b }')"
done
echo "(median of $RUNS runs after a warm-up; ratio = runnel / torch; the first row is the ceiling)"
