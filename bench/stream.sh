#!/usr/bin/env bash
# bench/stream.sh — throughput and memory of the record stream through a pipe.
#
# Issue acceptance: writing and then reading 1 GiB of f32 tensor records
# through a pipe (`inspect -r 0-`) uses bounded memory (peak RSS under 64 MiB
# beyond the largest single record), at a throughput measured against plain
# `cat` of the same bytes in the same run.
#
# Measures (median of RUNS runs each, after one untimed warm-up run):
#   cat:      cat FILE | cat > /dev/null                 (the reference: a pipe's speed)
#   inspect:  cat FILE | inspect -r 0- | cat > /dev/null (read, verify CRC, re-write)
#   gen:      stream_gen | inspect -r 0- > /dev/null     (libcore writer -> reader, end to end)
# and inspect's peak RSS (GNU time's %M) on the same pipe. Exits 1 when a
# pipeline fails, the re-written stream differs from the input, or the memory
# bound is broken; speed is reported, never judged.
#
# Environment: STREAM_BENCH_BYTES (total payload, default 1 GiB),
# STREAM_BENCH_RECORD (payload bytes per record, default 16 MiB),
# STREAM_BENCH_RUNS (default 5), RUNNEL_BIN (default bin), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${STREAM_BENCH_BYTES:-$((1 << 30))}
REC=${STREAM_BENCH_RECORD:-$((16 << 20))}
RUNS=${STREAM_BENCH_RUNS:-5}
BIN=${RUNNEL_BIN:-bin}
INSPECT="$BIN/inspect"
GEN=build/bench/stream_gen
BOUND_KB=$((64 << 10))   # 64 MiB beyond the largest record

missing=()
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (Debian package: time)")
[ -x "$INSPECT" ] || missing+=("$INSPECT (make bin/inspect)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'stream.sh: missing: %s\n' "${missing[@]}" >&2
    exit 1
fi
make -s --no-print-directory "$GEN" >&2 || { echo "stream.sh: cannot build $GEN" >&2; exit 1; }

if [ $((REC % 4)) -ne 0 ] || [ "$REC" -le 0 ] || [ "$TOTAL" -lt "$REC" ]; then
    echo "stream.sh: STREAM_BENCH_RECORD must be a positive multiple of 4, at most STREAM_BENCH_BYTES" >&2
    exit 1
fi
COUNT=$((TOTAL / REC))

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
read -r l1 l5 l15 procs _ < /proc/loadavg
echo "load at start (/proc/loadavg, other processes): 1 min $l1, 5 min $l5, 15 min $l15 (running/total $procs)"
cpu_busy() {   # percent of all CPUs busy over one second, from /proc/stat
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
echo "CPU busy over 1 s before the runs (other processes): $(cpu_busy)%"
echo "top CPU users now (ps %CPU, lifetime average):"
ps -eo pcpu=,pid=,comm= --sort=-pcpu | head -3 | sed 's/^/    /'

work=$(mktemp -d "${TMPDIR:-/tmp}/rnl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
data="$work/data.rnl"
"$GEN" "$COUNT" "$REC" > "$data"
BYTES=$(stat -c %s "$data")
echo "data: $COUNT f32 tensor records of $REC payload bytes, $BYTES stream bytes ($data)"

# check once that the pipe re-writes the stream unchanged (same writer: same bytes)
if ! "$INSPECT" -r 0- < "$data" | cmp -s - "$data"; then
    echo "stream.sh: inspect -r 0- did not reproduce the stream byte for byte" >&2
    exit 1
fi

now() { date +%s.%N; }
# reads seconds, one a line; prints "median min"
median() { sort -g | awk '{a[NR] = $1} END {print ((NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1]}'; }

# time_runs NAME CMD...: one warm-up, then RUNS timed runs into $work/NAME.t
# (in this shell: with set -e and pipefail, a failing pipeline ends the script)
time_runs() {
    local name=$1 t0 t1 i
    shift
    "$@"
    : > "$work/$name.t"
    for ((i = 0; i < RUNS; i++)); do
        t0=$(now); "$@"; t1=$(now)
        echo "$t1 - $t0" | bc -l >> "$work/$name.t"
    done
}

p_cat()     { cat "$data" | cat > /dev/null; }
p_inspect() { cat "$data" | "$INSPECT" -r 0- | cat > /dev/null; }
p_gen()     { "$GEN" "$COUNT" "$REC" | "$INSPECT" -r 0- > /dev/null; }

time_runs cat p_cat
time_runs inspect p_inspect
time_runs gen p_gen
read -r t_cat m_cat < <(median < "$work/cat.t")
read -r t_inspect m_inspect < <(median < "$work/inspect.t")
read -r t_gen m_gen < <(median < "$work/gen.t")

# peak RSS and CPU time of inspect alone (CPU time is robust to other load)
read -r rss_kb cpu_user cpu_sys < <(cat "$data" | /usr/bin/time -f '%M %U %S' "$INSPECT" -r 0- 2>&1 >/dev/null | tail -1)
rec_kb=$(((REC + 1023) / 1024))
extra_kb=$((rss_kb - rec_kb))

mbs() { echo "$BYTES / $1 / 1000000" | bc -l | xargs printf '%.0f'; }
echo
printf 'median of %d runs (MB = 10^6 bytes; best run in brackets):\n' "$RUNS"
printf '  %-45s %7.3f s %6s MB/s [%6s]\n' "cat data | cat > /dev/null" "$t_cat" "$(mbs "$t_cat")" "$(mbs "$m_cat")"
printf '  %-45s %7.3f s %6s MB/s [%6s]  %.2fx cat\n' "cat data | inspect -r 0- | cat > /dev/null" \
    "$t_inspect" "$(mbs "$t_inspect")" "$(mbs "$m_inspect")" "$(echo "$t_cat / $t_inspect" | bc -l)"
printf '  %-45s %7.3f s %6s MB/s [%6s]  %.2fx cat\n' "stream_gen | inspect -r 0- > /dev/null" \
    "$t_gen" "$(mbs "$t_gen")" "$(mbs "$m_gen")" "$(echo "$t_cat / $t_gen" | bc -l)"
printf '  inspect CPU time on that pipe: %s s user + %s s sys (%s MB per CPU-second)\n' \
    "$cpu_user" "$cpu_sys" "$(mbs "$(echo "$cpu_user + $cpu_sys + 0.001" | bc -l)")"
echo
echo "inspect peak RSS: $rss_kb KiB; largest record payload: $rec_kb KiB;" \
     "beyond it: $extra_kb KiB (bound: $BOUND_KB KiB)"
read -r l1 _ < /proc/loadavg
echo "load at end: 1 min $l1; CPU busy over 1 s after the runs: $(cpu_busy)%"
if [ "$extra_kb" -ge "$BOUND_KB" ]; then
    echo "stream.sh: memory bound broken: $extra_kb KiB beyond the largest record" >&2
    exit 1
fi
echo "memory bound: met"
