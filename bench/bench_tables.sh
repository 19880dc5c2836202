#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwind-table benchmark (make bench): table generation for a file (default
# libc.so.6) cold and warm (from the cache), and ns per lookup, next to
# readelf --debug-dump=frames-interp on the same file and libdw's per-address
# dwarf_cfi_addrframe, in the same run; medians of $RUNS repetitions.
# Prints "bench: <name>: <value> (<ratio>)". Goals: < 20 ms, < 50 ns.
#   bench/bench_tables.sh BUILD_DIR [FILE]
set -eu
build=${1:-build}
file=${2:-/lib/x86_64-linux-gnu/libc.so.6}
runs=${RUNS:-11}
tb="$build/bench/tables_bench"
name=$(basename "$file")

ms_now() { date +%s%N; }
readelf_ms() { # median wall time of readelf --debug-dump=frames-interp
	local t=() i t0
	for ((i = 0; i < 5; i++)); do
		t0=$(ms_now)
		readelf --debug-dump=frames-interp "$file" >/dev/null 2>&1
		t+=($(( ($(ms_now) - t0) / 1000 )))
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 3p | awk '{ printf "%.1f", $1 / 1000 }'
}
val() { "$tb" "$1" "$file" "$runs" | awk '{ print $2 }'; }

gen=$(val gen)
warm=$(val warm)
rd=$(readelf_ms)
lk=$("$tb" lookup "$file" "$runs")
look=$(echo "$lk" | awk '{ print $2 }')
lookmin=$(echo "$lk" | awk '{ sub(/\)/, "", $5); print $5 }')
dw=$(val libdw)
size=$("$build/xprof" tables --summary "$file" | sed -n 's/^entries: \([0-9]*\), distinct rules: \([0-9]*\), bytes: \([0-9]*\)$/\3 bytes, \1 entries, \2 rules/p')
ratio=$("$build/xprof" tables --summary "$file" | sed -n 's/.*ratio \([0-9.]*\)$/\1/p')

awk -v g="$gen" -v r="$rd" -v n="$name" 'BEGIN {
	printf "bench: tables %s cold: %.2f ms (readelf --debug-dump=frames-interp %.1f ms: %.0fx faster; goal < 20 ms)\n", n, g, r, r / g }'
awk -v w="$warm" -v g="$gen" -v n="$name" 'BEGIN {
	printf "bench: tables %s warm (cache): %.2f ms (%.1fx faster than cold)\n", n, w, g / w }'
awk -v l="$look" -v m="$lookmin" -v d="$dw" 'BEGIN {
	printf "bench: lookup: %.1f ns (libdw dwarf_cfi_addrframe %.0f ns: %.0fx faster; min of the runs %.1f ns; goal < 50 ns)\n", l, d, d / l, m }'
echo "bench: table size $name: $size (${ratio}x .eh_frame+.eh_frame_hdr)"
echo "bench: (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs during the run: medians include the noise)"
