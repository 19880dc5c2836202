#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Target slowdown, completing bench_record.sh (which measures 999 Hz: bare vs
# perf --call-graph dwarf vs xprof record): here 99 Hz for all four setups and
# 999 Hz for `perf record -g`:
#   bare | perf record --call-graph dwarf | perf record -g | xprof record
# The target is perf_work -i N, a fixed amount of CPU work (~0.8 ms per
# iteration). The figure is the target's own CPU time (user + system, which
# holds the in-kernel cost of taking its samples) under each profiler over its
# CPU time bare, the median of BENCH_REPEAT interleaved runs; wall-time ratios
# follow in parentheses (the machine is shared, so they are noisier).
#   bench/bench_slowdown.sh [BUILD_DIR]
# Env: BENCH_REPEAT (5), BENCH_ITERATIONS (2500: ~2 s of CPU).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
X=$build/xprof
W=$build/progs/perf_work
reps=${BENCH_REPEAT:-5}
iters=${BENCH_ITERATIONS:-2500}
T=$(mktemp -d /tmp/xprof-bench-slowdown.XXXXXX)
trap 'rm -rf "$T"' EXIT

say() { echo "bench: $*"; }
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

[ "$(id -u)" = 0 ] || { say "slowdown: unavailable: needs root to record"; exit 0; }
[ -x "$W" ] || { say "slowdown: unavailable: no $W (make bench builds it)"; exit 0; }
[ -x /usr/bin/time ] || { say "slowdown: unavailable: /usr/bin/time is missing"; exit 0; }
have_perf=1
command -v perf >/dev/null || have_perf=0
have_xprof=1
"$X" record --help >/dev/null 2>&1 || have_xprof=0

# Each setup runs the target under /usr/bin/time, which measures the target
# alone (not the profiler). Setups print "wall cpu" into $T/<setup>.
target=(/usr/bin/time -f '%e %U %S' -o "$T/t1" "$W" -i "$iters")
# --buildid-mmap, --no-bpf-event: see bench_offline.sh (perf 6.1 aborts otherwise
# while xprof sessions run).
PERF_REC=(perf record -q --buildid-mmap --no-bpf-event -e cpu-clock -o "$T/perf.data")
run() { # setup
	rm -f "$T/t1"
	case $1 in
	bare) "${target[@]}" ;;
	dwarf99) "${PERF_REC[@]}" -F 99 --call-graph dwarf -- "${target[@]}" ;;
	fp99) "${PERF_REC[@]}" -F 99 -g -- "${target[@]}" ;;
	xprof99) "$X" record -F 99 -o "$T/w.xprof" -- "${target[@]}" ;;
	fp999) "${PERF_REC[@]}" -F 999 -g -- "${target[@]}" ;;
	esac >/dev/null 2>"$T/err.$1"
	[ -s "$T/t1" ] && awk '{printf "%s %.3f\n", $1, $2 + $3}' "$T/t1" >>"$T/$1"
}
setups=(bare)
[ $have_perf = 1 ] && setups+=(dwarf99 fp99 fp999)
[ $have_xprof = 1 ] && setups+=(xprof99)
for i in $(seq "$reps"); do
	for s in "${setups[@]}"; do
		run "$s"
	done
done
[ -s "$T/bare" ] || { say "slowdown: unavailable: the bare target did not run: $(tail -n 1 "$T/err.bare")"; exit 0; }
bw=$(awk '{print $1}' "$T/bare" | median)
bc=$(awk '{print $2}' "$T/bare" | median)
say "slowdown bare perf_work -i $iters: $bc s CPU, $bw s wall (reference; median of $reps)"
line() { # setup, label
	if [ ! -s "$T/$1" ]; then
		say "slowdown $2: unavailable: $(tail -n 1 "$T/err.$1")"
		return
	fi
	local w c
	w=$(awk '{print $1}' "$T/$1" | median)
	c=$(awk '{print $2}' "$T/$1" | median)
	say "slowdown $2: $(awk -v c="$c" -v b="$bc" 'BEGIN {printf "%.3f", c / b}')x CPU ($(awk -v w="$w" -v b="$bw" 'BEGIN {printf "%.3fx wall", w / b}') vs bare; $c s CPU)"
}
if [ $have_perf = 1 ]; then
	line dwarf99 "99 Hz perf record --call-graph dwarf"
	line fp99 "99 Hz perf record -g"
fi
if [ $have_xprof = 1 ]; then
	line xprof99 "99 Hz xprof record"
else
	say "slowdown 99 Hz xprof record: unavailable: 'xprof record' does not run"
fi
[ $have_perf = 1 ] && line fp999 "999 Hz perf record -g"
[ $have_perf = 1 ] || say "slowdown perf: unavailable: perf is not installed"
