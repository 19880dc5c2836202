#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench, store part: a synthetic fleet written into a one-node
# ClickHouse store through xprof's insert path (bench/store_bench.c, one
# insert per table per window), then the queries xprof query runs.
#   bench/bench_store.sh XPROF STORE_BENCH
# Figures, each against a reference measured in the same run:
#   insert rows/s      vs the server's own INSERT ... SELECT of the same rows
#                      (its write path without HTTP or RowBinary parsing)
#   bytes per row      on disk (system.parts, after OPTIMIZE FINAL), vs the
#                      rows' uncompressed size
#   query seconds      whole fleet and one service (xprof query to .svg), wall
#                      medians of BENCH_REPEAT interleaved runs, vs a
#                      sum(count) scan of the same rows (the floor of any query)
# Knobs: BENCH_STORE_HOSTS (100), BENCH_STORE_WINDOWS (36; the size is
# 360), BENCH_STORE_STACKS (2000), BENCH_STORE_SERVICES (10), BENCH_STORE_JOBS
# (1: writers inserting at once; on this 2-core machine 2 and 3 were slower,
# the server already uses both cores), BENCH_REPEAT (5).
# Times here are wall times: the work is the server's, in another process.
set -u
XPROF=${1:?usage: bench_store.sh XPROF STORE_BENCH}
LOADER=${2:?usage: bench_store.sh XPROF STORE_BENCH}
HOSTS=${BENCH_STORE_HOSTS:-100}
WINDOWS=${BENCH_STORE_WINDOWS:-36}
STACKS=${BENCH_STORE_STACKS:-2000}
SERVICES=${BENCH_STORE_SERVICES:-10}
JOBS=${BENCH_STORE_JOBS:-1}
REPEAT=${BENCH_REPEAT:-5}
command -v clickhouse-server >/dev/null || { echo "bench_store: no clickhouse-server (make deps)" >&2; exit 1; }
T=$(mktemp -d /tmp/xprof-bench-store.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill $pid; for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done; kill -9 $pid 2>/dev/null; }; rm -rf "$T"' EXIT

port_free() { ! ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }
for _ in $(seq 50); do
	B=$((20000 + RANDOM % 20000))
	port_free $B && port_free $((B + 1)) && port_free $((B + 2)) && break
done
mkdir -p "$T/data" "$T/tmp"
clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- --path="$T/data/" --tmp_path="$T/tmp/" \
	--http_port=$B --tcp_port=$((B + 1)) --interserver_http_port=$((B + 2)) \
	--logger.log="$T/log" --logger.errorlog="$T/err.log" >"$T/out" 2>&1 &
pid=$!
U=http://127.0.0.1:$B
ch() { curl -sS --max-time 600 "$U/" --data-binary "$1"; }
for _ in $(seq 120); do [ "$(ch 'SELECT 1' 2>/dev/null)" = 1 ] && break; sleep 0.25; done
[ "$(ch 'SELECT 1')" = 1 ] || { echo "bench_store: clickhouse-server did not start" >&2; exit 1; }
"$XPROF" store init --clickhouse $U 2>/dev/null || exit 1

# ---- insert -------------------------------------------------------------------------
read -r _ rows _ wall _ cpu _ bytes _ < <("$LOADER" $U "$HOSTS" "$WINDOWS" "$STACKS" "$SERVICES" "$JOBS") || exit 1
echo "bench_store: $rows rows ($HOSTS hosts x $WINDOWS windows x $STACKS stacks) in $wall s, loader CPU $cpu s, $bytes bytes sent"
ch "CREATE TABLE ref AS xprof_samples"
t0=$(date +%s.%N)
ch "INSERT INTO ref SELECT * FROM xprof_samples"
t1=$(date +%s.%N)
ch "DROP TABLE ref"
awk -v r="$rows" -v w="$wall" -v a="$t0" -v b="$t1" 'BEGIN {
	x = r / w; y = r / (b - a)
	printf "bench: store insert rows/s: %.0f (%.2fx the server'"'"'s INSERT SELECT of the same rows, %.0f rows/s; goal >= 1000000)\n", x, x / y, y }'
awk -v r="$rows" -v c="$cpu" -v w="$wall" 'BEGIN {
	printf "bench: store loader CPU per row: %.0f ns (%.1f%% of the wall time per row: the rest is the server)\n", 1e9 * c / r, 100 * c / w }'

# ---- bytes on disk --------------------------------------------------------------------
ch "OPTIMIZE TABLE xprof_samples FINAL"
read -r disk prow unc < <(ch "SELECT sum(bytes_on_disk), sum(rows), sum(data_uncompressed_bytes) FROM system.parts WHERE database = currentDatabase() AND table = 'xprof_samples' AND active FORMAT TSV")
awk -v d="$disk" -v r="$prow" -v u="$unc" 'BEGIN {
	printf "bench: store bytes on disk per sample row: %.2f (%.1fx smaller than the %.1f uncompressed bytes per row; goal <= 16)\n", d / r, u / d, u / r }'

# ---- queries ----------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { local a b; a=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo "bench_store: failed: $*" >&2; b=$(date +%s.%N); echo "$b - $a" | bc -l; }
: >"$T/fleet"
: >"$T/svc"
: >"$T/scan"
for _ in $(seq "$REPEAT"); do
	wall "$XPROF" query --clickhouse $U --from -30d -o "$T/fleet.svg" >>"$T/fleet"
	wall "$XPROF" query --clickhouse $U --from -30d --where service=service-1 -o "$T/svc.svg" >>"$T/svc"
	wall ch "SELECT sum(count) FROM xprof_samples" >>"$T/scan"
done
"$XPROF" query --clickhouse $U --from -30d -o "$T/fleet.folded" 2>"$T/q.err" || { cat "$T/q.err" >&2; exit 1; }
grep -q "^xprof: [0-9]* samples from" "$T/q.err" || { cat "$T/q.err" >&2; exit 1; }
scan=$(median <"$T/scan")
for k in fleet svc; do
	m=$(median <"$T/$k")
	name="whole-fleet flamegraph query"
	[ $k = svc ] && name="one-service flamegraph query"
	awk -v m="$m" -v s="$scan" -v n="$name" -v r="$rows" 'BEGIN {
		printf "bench: store %s: %.3f s (%.1fx a sum(count) scan of the %d rows, %.3f s; goal <= 2 s)\n", n, m, m / s, r, s }'
done
