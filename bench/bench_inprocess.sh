#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record's folded and SVG outputs made in process from the live stream
# (issue 11) against the old way (a temporary .xprof, then the report read
# back from it): CPU seconds of `xprof record -F 999 -p PID -d 2 -o x.folded
# -o x.svg` (user + system of the xprof process, from wait4()), this build
# vs a reference build of BENCH_REF_REV (default f90d30f, main before the
# change), interleaved, BENCH_REPEAT times (default 5), medians. The target
# is a steady rec_spin running beside, so its CPU is not counted.
# BENCH_REF_XPROF may name an existing reference binary instead of building one.
#   bench/bench_inprocess.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
X=$build/xprof
P=$build/progs
reps=${BENCH_REPEAT:-5}
rev=${BENCH_REF_REV:-f90d30f}
say() { echo "bench: $*"; }
[ "$(id -u)" = 0 ] || { say "inprocess: unavailable: needs root to record"; exit 0; }
[ -x "$X" ] && [ -x "$P/rec_spin" ] || { say "inprocess: unavailable: no $X or $P/rec_spin (make all unit-bins)"; exit 0; }
T=$(mktemp -d /tmp/xprof-bench-inprocess.XXXXXX)
trap 'kill $spin 2>/dev/null; rm -rf "$T"' EXIT
spin=

ref=${BENCH_REF_XPROF:-}
if [ -z "$ref" ]; then
	mkdir "$T/ref"
	(cd "$top" && git archive "$rev") | tar -x -C "$T/ref" &&
		make -C "$T/ref" -j2 >"$T/ref.log" 2>&1 ||
		{ say "inprocess: unavailable: cannot build $rev: $(tail -1 "$T/ref.log")"; exit 0; }
	ref=$T/ref/build/xprof
fi

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
timed() { # tag, command...: appends "wall_s cpu_s" to $T/t.<tag>
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
    f.write("%.4f %.4f\n" % (time.monotonic() - t0, ru.ru_utime + ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(st))' "$T/t.$tag" "$@"
}

"$P/rec_spin" 2 100000 12 >/dev/null &
spin=$!
sleep 0.2
# One untimed run each warms the caches (unwind tables, symbol indexes) both use.
for x in "$ref" "$X"; do
	"$x" record -F 999 -p $spin -d 1 -o "$T/w.folded" -o "$T/w.svg" 2>/dev/null
done
for i in $(seq "$reps"); do
	for tag in ref new; do
		x=$X
		[ $tag = ref ] && x=$ref
		timed $tag "$x" record -F 999 -p $spin -d 2 -o "$T/$tag.folded" -o "$T/$tag.svg" \
			2>>"$T/err.$tag" || { say "inprocess: record failed: $(tail -1 "$T/err.$tag")"; exit 0; }
	done
done
cr=$(awk '{print $2}' "$T/t.ref" | median) cn=$(awk '{print $2}' "$T/t.new" | median)
wr=$(awk '{print $1}' "$T/t.ref" | median) wn=$(awk '{print $1}' "$T/t.new" | median)
sr=$(awk '/samples,/{print $2}' "$T/err.ref" | median) sn=$(awk '/samples,/{print $2}' "$T/err.new" | median)
awk -v cr="$cr" -v cn="$cn" -v wr="$wr" -v wn="$wn" -v r="$reps" -v rev="$rev" -v sr="$sr" -v sn="$sn" 'BEGIN {
	printf "bench: record -F 999 -d 2 -o x.folded -o x.svg, CPU s in process vs %s (median of %d): %.3f vs %.3f (%.2fx)\n", rev, r, cn, cr, (cr > 0 ? cn / cr : 0)
	printf "bench: record -F 999 -d 2 -o x.folded -o x.svg, wall s in process vs %s (median of %d): %.3f vs %.3f (%.2fx)\n", rev, r, wn, wr, (wr > 0 ? wn / wr : 0)
	printf "bench: record -F 999 -d 2, samples per run in process vs %s (median): %d vs %d\n", rev, sn, sr }'
