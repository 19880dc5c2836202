#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The record side of make bench:
#  - the BPF sampler's cost per sample on rec_spin at depth 200 (~11 KiB of
#    live stack, copied whole; bench_capture.sh has 2, 16 and 256 KiB)
#    (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of xp_sample, as
#    bpftool prog show prints them, minus the filter-only cost of other
#    tasks' ticks; and the program's own timing, record -v);
#  - the slowdown of a fixed CPU-bound workload (rec_work: 2 threads, depth 16)
#    at 999 Hz: bare vs `perf record -F 999 --call-graph dwarf` vs
#    `xprof record -F 999`, interleaved in one run, REPS times, medians.
# Prints "bench: <name>: <value> (<ratio vs perf>)".
#   bench/bench_record.sh XPROF PROGS_DIR [REPS]
set -u
XPROF=$1 P=$2 REPS=${3:-5}
[ "$(id -u)" = 0 ] || { echo "bench: record: needs root (BPF); skipped"; exit 0; }
T=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -q kernel.bpf_stats_enabled="$old_stats"; rm -rf "$T"' EXIT
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ---- per-sample BPF cost ------------------------------------------------------
# The kernel's run-time stats of xp_sample (what bpftool prog show prints) count
# every tick, also those of other tasks that the program drops after a map
# lookup. So: measure that filter-only cost on an idle target first, then
# charge the rest of a busy run to its samples.
sysctl -q kernel.bpf_stats_enabled=1
sleep 30 &
idle=$!
"$XPROF" record -v -F 999 -p $idle -d 1 -o "$T/idle.xprof" 2>"$T/idle.err"
kill $idle 2>/dev/null
wait $idle 2>/dev/null
# Depth 200 gives stacks of ~11 KiB, copied whole.
"$XPROF" record -v -F 999 -o "$T/cost.xprof" -- "$P/rec_spin" 2 2 200 >/dev/null 2>"$T/cost.err" &
rp=$!
last=""
while kill -0 $rp 2>/dev/null; do
	# bpftool's view while it runs: the perf_event program (type 7) this xprof holds.
	id=$(grep -l '^prog_type:[[:space:]]*7$' /proc/$rp/fdinfo/* 2>/dev/null | head -n 1 |
		xargs -r awk '$1=="prog_id:"{print $2}')
	cur=""
	[ -n "$id" ] && cur=$(bpftool prog show id "$id" -j 2>/dev/null |
		python3 -c 'import json, sys; p = json.load(sys.stdin); print(p.get("run_time_ns", 0), p.get("run_cnt", 0))')
	[ -n "$cur" ] && last=$cur
	sleep 0.2
done
wait $rp
if [ -n "$last" ]; then
	read -r ns cnt <<<"$last"
	awk -v ns="$ns" -v cnt="$cnt" 'BEGIN{ if (cnt) printf "bench: bpf ns per run, bpftool run_time_ns/run_cnt (all ticks): %.0f (%d runs)\n", ns/cnt, cnt }'
fi
f=$(awk '/sampler runs:/{gsub(",", "", $4); printf "%.1f", $5 / $4}' "$T/idle.err")
awk -v f="${f:-0}" '
	/sampler: [0-9]+ samples/ { s = $3; inside = $5 }
	/sampler runs:/ { gsub(",", "", $4); runs = $4; ns = $5 }
	END {
		if (!s || !runs) { print "bench: bpf cost: no sampler statistics"; exit }
		printf "bench: bpf ns per tick of another task (filter only): %.0f\n", f
		printf "bench: bpf us per sample, kernel run_time_ns (rec_spin, ~11 KiB stack): %.2f (goal < 5)\n", (ns - (runs - s) * f) / s / 1000
		printf "bench: bpf us per sample, timed inside the program (rec_spin, ~11 KiB stack): %.2f\n", inside / 1000
	}' "$T/cost.err"
bytes=$("$XPROF" info "$T/cost.xprof" | awk -F': ' '$1=="stack bytes"{b=$2} $1=="samples"{n=$2} END{if (n) printf "%.0f", b/n}')
echo "bench: stack bytes copied per sample: $bytes"

# ---- target slowdown at 999 Hz ---------------------------------------------------
work=("$P/rec_work" 2 300 16)
run_bare() { "${work[@]}"; }
run_perf() { perf record -q -F 999 -e cpu-clock --call-graph dwarf -o "$T/perf.data" -- "${work[@]}" 2>/dev/null; }
run_xprof() { "$XPROF" record -F 999 -o "$T/w.xprof" -- "${work[@]}" 2>/dev/null; }
for i in $(seq "$REPS"); do
	for m in bare perf xprof; do
		run_$m | awk -v m=$m '{print m, $2, $4}' >>"$T/runs"
	done
done
for m in bare perf xprof; do
	awk -v m=$m '$1==m{print $2}' "$T/runs" | median >"$T/wall.$m"
	awk -v m=$m '$1==m{print $3}' "$T/runs" | median >"$T/cpu.$m"
done
wb=$(cat "$T/wall.bare") wp=$(cat "$T/wall.perf") wx=$(cat "$T/wall.xprof")
cb=$(cat "$T/cpu.bare") cp=$(cat "$T/cpu.perf") cx=$(cat "$T/cpu.xprof")
awk -v wb="$wb" -v wp="$wp" -v wx="$wx" -v cb="$cb" -v cp="$cp" -v cx="$cx" -v r="$REPS" 'BEGIN{
	printf "bench: workload wall s, bare/perf/xprof (median of %d): %.3f / %.3f / %.3f\n", r, wb, wp, wx;
	printf "bench: slowdown perf --call-graph dwarf -F 999 (wall): %.3fx\n", wp/wb;
	printf "bench: slowdown xprof record -F 999 (wall): %.3fx (%.3f vs perf)\n", wx/wb, (wx/wb)/(wp/wb);
	printf "bench: slowdown perf --call-graph dwarf -F 999 (target CPU): %.3fx\n", cp/cb;
	printf "bench: slowdown xprof record -F 999 (target CPU): %.3fx (%.3f vs perf)\n", cx/cb, (cx/cb)/(cp/cb) }'
