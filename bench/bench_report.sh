#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of report/: 1M samples over 10k unique stacks (depth 20-40),
# added one by one, then written as folded, SVG and pprof, each 5 times
# (median, min, max, CPU time, file size) and the peak RSS. The goal is all
# three formats in under 1 s. As same-run references on the same data:
# gzip -6 of the folded text (one plain pass over the same bytes) and
# `go tool pprof -top` reading the pprof file (the consumer's cost).
#   bench/bench_report.sh          (make bench-report builds and runs it)
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
bin="$top/$O/bench/report_bench"
[ -x "$bin" ] || { echo "bench_report: no $bin: run 'make bench-report'" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" --stacks 10000 --samples 1000000 --repeat 5 --dir "$work" | tee "$work/out.txt"

ref() { # name, what the ratio compares, command...
	local name=$1 ours=$2; shift 2
	local t0 t1 s
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || { echo "bench: $name: failed"; return 0; }
	t1=$(date +%s.%N)
	s=$(echo "$t1 - $t0" | bc -l 2>/dev/null || python3 -c "print($t1 - $t0)")
	ours_s=$(sed -n "s/^bench: report_write_$ours: \([0-9.]*\) s.*/\1/p" "$work/out.txt")
	python3 -c "import sys; s=float(sys.argv[1]); o=float(sys.argv[2]); \
print('bench: %s: %.3f s (report_write_%s takes %.2fx of it)' % (sys.argv[3], s, sys.argv[4], o / s))" \
		"$s" "$ours_s" "$name" "$ours"
}
ref report_ref_gzip_folded folded gzip -6 -c "$work/bench.folded"
if command -v go >/dev/null && go tool -n pprof >/dev/null 2>&1; then
	HOME="$work" ref report_ref_go_pprof_top pprof go tool pprof -top -symbolize=none \
		"$work/bench.pb.gz"
fi
