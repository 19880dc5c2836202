#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The offline side of make bench, everything on the SAME recordings:
#  - `perf script` vs `xprof report` on one perf.data of a realistic workload
#    (perf record -F 999 --call-graph dwarf): samples/s and frames/s, xprof
#    cold (no table cache) and warm; goal >= 20x faster than perf script;
#  - `xprof report` on xprof's own .xprof recording of the same workload;
#  - bytes per sample, perf.data vs .xprof, both copying 8 KiB of stack (perf's
#    default), with the share of complete stacks each one unwinds to; the
#    .xprof stores each thread's unchanged stack top once (format version 2);
#  - the recorder's cost of writing those samples, stack sharing on vs off
#    (write_bench, into /dev/null);
#  - peak RSS: perf script vs xprof report on the perf.data, and xprof report
#    on a ~100k-sample recording.
# Every timing is the median of BENCH_REPEAT runs, perf and xprof interleaved,
# in CPU seconds (user + system): on this shared 2-CPU machine wall time is
# mostly time spent waiting for a CPU. Wall times are printed alongside.
# Prints "bench: <name>: <value> (<ratio>)"; a piece that cannot run prints
# "bench: <name>: unavailable: <why>".
#   bench/bench_offline.sh [BUILD_DIR]
# Env: BENCH_SAMPLES (10000: the workload is a fixed amount of CPU work that
#      gives about this many samples at 999 Hz however loaded the machine is),
#      BENCH_REPEAT (3),
#      BENCH_RSS_SAMPLES (100000: size of the big recording), BENCH_WORKLOAD (python | work).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
X=$build/xprof
P=$build/progs
nsamples=${BENCH_SAMPLES:-10000}
reps=${BENCH_REPEAT:-3}
T=$(mktemp -d /tmp/xprof-bench-offline.XXXXXX)
trap 'rm -rf "$T"' EXIT

say() { echo "bench: $*"; }
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.0f", a / b; else print 0}'; }
# /usr/bin/time prints CPU seconds with two decimals: too coarse for a 20 ms
# report. wait4()'s rusage has microseconds.
timed() { # tag, command...: appends "wall_s cpu_s maxrss_kb" to $T/t.<tag>
	local tag=$1
	shift
	python3 -c '
import os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(pid, 0)
with open(sys.argv[1], "a") as f:
    f.write("%.4f %.4f %d\n" % (time.monotonic() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(st))' "$T/t.$tag" "$@"
}
wall() { awk '{print $1}' "$T/t.$1" | median; }
cpu() { awk '{print $2}' "$T/t.$1" | median; }
rss_mib() { awk '{print $3}' "$T/t.$1" | median | awk '{printf "%.1f", $1 / 1024}'; }

command -v perf >/dev/null || { say "offline: unavailable: perf is not installed (make deps)"; exit 0; }
[ "$(id -u)" = 0 ] || { say "offline: unavailable: needs root to record"; exit 0; }
[ -x "$X" ] || { say "offline: unavailable: no $X (make all)"; exit 0; }
report_ok=1
if ! "$X" report --help >/dev/null 2>&1; then
	report_ok=0
fi
record_ok=1
if ! "$X" record --help >/dev/null 2>&1; then
	record_ok=0
fi

# The workload: a Python interpreter running recursive code (native frames
# through a large stripped binary and libc; fib(20) is ~1 ms of CPU), or
# perf_work (~0.8 ms per iteration).
workload=${BENCH_WORKLOAD:-python}
if [ "$workload" = python ] && [ -x /usr/bin/python3 ]; then
	wl=(/usr/bin/python3 -c "
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
for _ in range($nsamples): fib(20)")
else
	workload=work
	wl=("$P/perf_work" -i $((nsamples * 6 / 5)))
fi

# ---- the perf.data ----------------------------------------------------------
# perf 6.1 aborts (util/build-id.c:1010, stack smashing) reading MMAP2
# records on which kernel 6.18 left PERF_RECORD_MISC_MMAP_BUILD_ID set for
# another session's sake (xprof record asks for build-ids): --buildid-mmap
# makes the flag true for perf's own events. --no-bpf-event keeps the BPF
# programs of those sessions out of the file.
PERF_REC=(perf record --buildid-mmap --no-bpf-event)
if ! "${PERF_REC[@]}" -q -F 999 --call-graph dwarf -o "$T/perf.data" -- "${wl[@]}" >/dev/null 2>"$T/perf.err"; then
	say "offline: unavailable: perf record failed: $(tail -n 1 "$T/perf.err")"
	exit 0
fi
# perf script once for the counts: samples, frames, complete stacks (ending in a
# process or thread entry point).
perf script -i "$T/perf.data" >"$T/perf.txt" 2>/dev/null
read -r psamples pframes pcomplete < <(awk '
	/^\t/ { f++; s = $2; sub(/\+0x[0-9a-f]+$/, "", s); last = s; next }
	/^$/ { if (n) done(); n = 0; next }
	{ if (n) done(); n = 1; last = "" }
	function done() { ns++; if (last ~ /^(_start|__libc_start_main.*|__libc_start_call_main|clone3?|__clone.*|start_thread)$/) c++ }
	END { if (n) done(); printf "%d %d %d\n", ns, f, c }' "$T/perf.txt")
if [ "${psamples:-0}" = 0 ]; then
	say "offline: unavailable: perf recorded no samples"
	exit 0
fi
pbytes=$(stat -c %s "$T/perf.data")

if [ $report_ok = 0 ]; then
	say "offline xprof report on perf.data: unavailable: 'xprof report' does not run yet"
else
	# warm the caches once (unwind tables, symbol indexes, kallsyms); cold
	# runs use --no-cache
	"$X" report -i "$T/perf.data" -o "$T/warm.folded" --cache-dir "$T/cache" 2>"$T/warm.err" ||
		say "offline xprof report on perf.data: unavailable: $(tail -n 1 "$T/warm.err")"
fi
for i in $(seq "$reps"); do
	timed perf perf script -i "$T/perf.data" >/dev/null 2>&1 </dev/null
	[ -x "$P/perf_dump" ] && timed reader "$P/perf_dump" -s "$T/perf.data" >/dev/null 2>&1
	if [ $report_ok = 1 ]; then
		timed cold "$X" report -i "$T/perf.data" -o "$T/x.folded" --no-cache 2>"$T/x.err"
		timed warm "$X" report -i "$T/perf.data" -o "$T/w.folded" --cache-dir "$T/cache" 2>/dev/null
	fi
done
pcpu=$(cpu perf)
psps=$(per "$psamples" "$pcpu")
pfps=$(per "$pframes" "$pcpu")
say "offline perf script, perf.data of $workload ($psamples samples, $((pframes / psamples)) frames each): $psps samples/s, $pfps frames/s (reference; median of $reps: $pcpu s CPU, $(wall perf) s wall)"

if [ -s "$T/t.reader" ]; then
	c=$(cpu reader)
	sps=$(per "$psamples" "$c")
	say "offline perf.data reader alone (perf_dump -s): $sps samples/s, $(awk -v b="$pbytes" -v c="$c" 'BEGIN {if (c > 0) printf "%.0f", b / c / 1048576; else print "n/a"}') MiB/s ($(ratio "$sps" "$psps")x perf script; $c s CPU)"
fi
folded_frames() { awk '{c = $NF; sub(/ [0-9]+$/, ""); n = split($0, a, ";"); f += (n - 1) * c; s += c} END {printf "%d %d\n", s, f}' "$1"; }
xcomplete() { sed -n 's/.*[ <>]\([0-9.]*\)% complete.*/\1/p' "$1" | tail -n 1; }
if [ $report_ok = 1 ] && [ -s "$T/t.cold" ] && [ -s "$T/x.folded" ]; then
	read -r xs xf < <(folded_frames "$T/x.folded")
	for m in cold warm; do
		c=$(cpu $m)
		how="no caches"
		[ $m = warm ] && how="warm caches"
		sps=$(per "$psamples" "$c")
		fps=$(per "$xf" "$c")
		say "offline xprof report, same perf.data, $how: $sps samples/s, $fps frames/s ($(ratio "$sps" "$psps")x perf script samples/s, $(ratio "$fps" "$pfps")x frames/s; goal >= 20x; $c s CPU, $(wall $m) s wall)"
	done
	say "offline stacks unwound to the entry point on the perf.data: xprof $(xcomplete "$T/x.err")% ($(awk -v c="$pcomplete" -v n="$psamples" 'BEGIN {printf "perf script %.1f%%", 100 * c / n}'))"
	say "peak RSS perf script on the perf.data: $(rss_mib perf) MiB (reference)"
	say "peak RSS xprof report on the same perf.data: $(rss_mib cold) MiB ($(ratio "$(rss_mib cold)" "$(rss_mib perf)")x perf script)"
elif [ $report_ok = 1 ]; then
	say "offline xprof report on perf.data: unavailable: it failed: $(tail -n 1 "$T/x.err" 2>/dev/null)"
fi
say "bytes per sample perf.data (--call-graph dwarf, 8 KiB stacks): $(per "$pbytes" "$psamples") (reference; $((pbytes / 1024)) KiB for $psamples samples)"

# ---- xprof's own recording of the same workload ---------------------------------
if [ $record_ok = 0 ]; then
	say "offline xprof report on .xprof: unavailable: 'xprof record' does not run yet"
elif ! "$X" record -F 999 --stack-size 8192 -o "$T/w.xprof" -- "${wl[@]}" >/dev/null 2>"$T/rec.err"; then
	say "offline xprof report on .xprof: unavailable: xprof record failed: $(tail -n 1 "$T/rec.err")"
else
	xsamples=$("$X" info "$T/w.xprof" 2>/dev/null | awk -F': ' '$1 == "samples" {print $2}')
	xbytes=$(stat -c %s "$T/w.xprof")
	if [ "${xsamples:-0}" -gt 0 ]; then
		bps=$(per "$xbytes" "$xsamples")
		say "bytes per sample .xprof (--stack-size 8192): $bps ($(ratio "$bps" "$(per "$pbytes" "$psamples")")x perf.data; goal <= 0.5x; $((xbytes / 1024)) KiB for $xsamples samples)"
		read -r logical stored < <("$X" info "$T/w.xprof" 2>/dev/null |
			sed -n 's/^stack bytes: \([0-9]*\) (\([0-9]*\) stored)$/\1 \2/p')
		[ -n "${stored:-}" ] &&
			say "stack bytes per sample .xprof: $(per "$stored" "$xsamples") stored of $(per "$logical" "$xsamples") copied"
	fi
	wb=$build/bench/write_bench
	if [ -x "$wb" ] && "$wb" "$T/w.xprof" 11 /dev/null >"$T/wb.txt" 2>&1; then
		ws=$(awk '$2 == "shared" {print $3}' "$T/wb.txt")
		wf=$(awk '$2 == "full" {print $3}' "$T/wb.txt")
		say "recorder write cost per sample, .xprof of $workload: $ws ns with stack sharing, $wf ns writing stacks in full ($(ratio "$ws" "$wf")x; into /dev/null, median of 11)"
	fi
	if [ $report_ok = 1 ]; then
		"$X" report -i "$T/w.xprof" -o "$T/ownw.folded" --cache-dir "$T/cache" 2>/dev/null
		for i in $(seq "$reps"); do
			timed own "$X" report -i "$T/w.xprof" -o "$T/own.folded" --no-cache 2>"$T/own.err"
			timed ownwarm "$X" report -i "$T/w.xprof" -o "$T/ownw.folded" --cache-dir "$T/cache" 2>/dev/null
		done
		if [ -s "$T/t.own" ] && [ "${xsamples:-0}" -gt 0 ]; then
			read -r _ of < <(folded_frames "$T/own.folded")
			for m in own ownwarm; do
				c=$(cpu $m)
				sps=$(per "$xsamples" "$c")
				how="no caches"
				[ $m = ownwarm ] && how="warm caches"
				say "offline xprof report on its own .xprof of $workload, $how: $sps samples/s, $(per "$of" "$c") frames/s ($(ratio "$sps" "$psps")x perf script samples/s on perf.data; $c s CPU, $(wall $m) s wall)"
			done
			say "stacks unwound to the entry point, .xprof at 8 KiB: $(xcomplete "$T/own.err")% (perf.data, xprof: $(xcomplete "$T/x.err")%)"
		fi
	fi
fi

# ---- peak RSS on a ~100k-sample recording ------------------------------------------
if [ $report_ok = 0 ]; then
	say "peak RSS xprof report on a big recording: unavailable: 'xprof report' does not run yet"
	exit 0
fi
# One busy process per CPU sampled at 10 kHz, BENCH_RSS_SAMPLES (100000) in
# all: fixed work (perf_work -i), so the count does not depend on the load.
rss_samples=${BENCH_RSS_SAMPLES:-100000}
big=""
if [ $record_ok = 1 ]; then
	big=$T/big.xprof
	"$X" record -F 10000 --stack-size 8192 -o "$big" -- \
		bash -c 'for i in $(seq "$1"); do "$2" -i "$3" & done; wait' _ "$(nproc)" "$P/perf_work" \
		$((rss_samples / 10 * 12 / 10 / $(nproc))) \
		>/dev/null 2>"$T/big.err"
fi
bigs=$([ -n "$big" ] && "$X" info "$big" 2>/dev/null | awk -F': ' '$1 == "samples" {print $2}')
if [ "${bigs:-0}" -gt 0 ]; then
	timed big "$X" report -i "$big" -o "$T/big.folded" --no-cache 2>"$T/bigrep.err"
	if [ -s "$T/t.big" ]; then
		mib=$(rss_mib big)
		fmib=$(awk -v b="$(stat -c %s "$big")" 'BEGIN {printf "%.0f", b / 1048576}')
		say "peak RSS xprof report on a $bigs-sample .xprof: $mib MiB ($(ratio "$mib" "$fmib")x the $fmib MiB recording; $(per "$bigs" "$(cpu big)") samples/s)"
	else
		say "peak RSS xprof report on a big recording: unavailable: $(tail -n 1 "$T/bigrep.err")"
	fi
else
	say "peak RSS xprof report on a big recording: unavailable: could not record it: $(tail -n 1 "$T/big.err" 2>/dev/null)"
fi
