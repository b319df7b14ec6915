#!/usr/bin/env bash
# bench/frames.sh — decoding speed of `frames` against FFmpeg in the same run.
#
# Issue acceptance: `frames clip.mp4 > /dev/null` decodes within 1.5x of
# `ffmpeg -i clip.mp4 -f null -` (goal; reported, never judged).
#
# Measures (median of RUNS runs each, after one untimed warm-up run of each),
# on an H.264 clip made here with the ffmpeg CLI (testsrc2, yuv420p):
#   ffmpeg-null:  ffmpeg -i clip.mp4 -f null -                 (decode only: the goal's reference)
#   ffmpeg-rgb:   ffmpeg -i clip.mp4 -f rawvideo -pix_fmt rgb24 - > /dev/null
#                 (decode + RGB conversion + write: the same work frames does)
#   frames:       frames clip.mp4 > /dev/null                  (decode + RGB + records with CRC-32C)
# Both sides use FFmpeg's default decoder threads (one per core).
#
# Environment: FRAMES_BENCH_SIZE (default 1280x720), FRAMES_BENCH_FRAMES
# (default 300), FRAMES_BENCH_RUNS (default 5), RUNNEL_BIN (default bin), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${FRAMES_BENCH_SIZE:-1280x720}
N=${FRAMES_BENCH_FRAMES:-300}
RUNS=${FRAMES_BENCH_RUNS:-5}
BIN=${RUNNEL_BIN:-bin}
FRAMES="$BIN/frames"

for need in ffmpeg "$FRAMES"; do
    command -v "$need" > /dev/null || { echo "frames.sh: missing: $need" >&2; exit 1; }
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
read -r l1 l5 l15 procs _ < /proc/loadavg
echo "load at start (/proc/loadavg): 1 min $l1, 5 min $l5, 15 min $l15 (running/total $procs)"
echo "top CPU users now (ps %CPU, lifetime average):"
ps -eo pcpu=,pid=,comm= --sort=-pcpu | head -3 | sed 's/^/    /'

work=$(mktemp -d "${TMPDIR:-/tmp}/frames-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
clip="$work/clip.mp4"
ffmpeg -v error -f lavfi -i "testsrc2=size=$SIZE:rate=30" -frames:v "$N" \
    -c:v libx264 -pix_fmt yuv420p "$clip"
echo "clip: $SIZE, $N frames, H.264 yuv420p ($(du -k "$clip" | cut -f1) KiB)"

# Seconds of wall time of one run of "$@" (stdout to /dev/null).
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > /dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

run_ffmpeg_null() { ffmpeg -v error -i "$clip" -f null -; }
run_ffmpeg_rgb() { ffmpeg -v error -i "$clip" -f rawvideo -pix_fmt rgb24 -; }
run_frames() { "$FRAMES" "$clip"; }

# The output must be right before its speed means anything.
count=$("$FRAMES" "$clip" | "$BIN/inspect" -k frame -l | wc -l)
[ "$count" -eq "$N" ] || { echo "frames.sh: frames wrote $count frames, not $N" >&2; exit 1; }

declare -A med
for what in ffmpeg_null ffmpeg_rgb frames; do
    "run_$what" > /dev/null # warm-up
    times=()
    for ((i = 0; i < RUNS; i++)); do times+=("$(timed "run_$what")"); done
    med[$what]=$(median "${times[@]}")
    printf '%-12s median %.3f s  (%.1f frames/s)  runs: %s\n' "$what" "${med[$what]}" \
        "$(awk -v n="$N" -v t="${med[$what]}" 'BEGIN { print n / t }')" "${times[*]}"
done

ratio=$(awk -v a="${med[frames]}" -v b="${med[ffmpeg_null]}" 'BEGIN { print a / b }')
ratio_rgb=$(awk -v a="${med[frames]}" -v b="${med[ffmpeg_rgb]}" 'BEGIN { print a / b }')
printf 'ratio frames / ffmpeg -f null: %.2fx  (goal: at most 1.5x)\n' "$ratio"
printf 'ratio frames / ffmpeg rgb24 rawvideo: %.2fx  (same work)\n' "$ratio_rgb"
