#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fleet store against real ClickHouse servers: two clickhouse-server
# processes on loopback ports (config, data and logs under a temp dir,
# stopped at the end) forming the 2-shard cluster xprof_test. A recording of
# a busy program goes in through `xprof store load` (the agent's insert path)
# as two hosts, in 1 s windows; `xprof query` must give back exactly the
# samples `xprof report` counts for the same recording, with the program's
# exact chain, on one node and over the Distributed tables; --where
# (=, !=, glob, an injection attempt) and --group-by select right; prune
# drops old days only; a newer schema and a dead server are refused with a
# message.
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
command -v clickhouse-server >/dev/null || e2e_skip "no clickhouse-server (make deps)"
. "$(dirname "$0")/lib_clickhouse.sh"
P=$XPROF_BUILD/progs

B1=$(pick_base) || fail "no free ports"
B2=$((B1 + 3))
U1=http://127.0.0.1:$B1
U2=http://127.0.0.1:$B2

# --- a recording of a busy program, and what xprof report makes of it ----------
timeout 120 "$XPROF" record -F 199 -o "$T/w.xprof" -- "$P/rec_spin" 1 3 4 >/dev/null 2>"$T/rec.err" ||
	fail "record: $(cat "$T/rec.err")"
"$XPROF" report -q -i "$T/w.xprof" -o "$T/ref.folded" || fail "report"
total=$(awk '{s += $NF} END {print s}' "$T/ref.folded")
grep -q '^rec_spin;.*;thread_main;recurse;recurse;recurse;recurse;burn ' "$T/ref.folded" ||
	fail "the reference lacks rec_spin's chain: $(cat "$T/ref.folded")"
# Folded lines with counts times k / the root renamed, sorted, for comparisons.
scaled() { awk -v k="$2" '{c = $NF; sub(/ [0-9]+$/, ""); print $0 " " c * k}' "$1" | sort; }
rooted() { awk -v r="$2" '{c = $NF; sub(/ [0-9]+$/, ""); sub(/^[^;]*/, r); print $0 " " c}' "$1" | sort; }
same() { # got-file, expected-text, what
	diff <(sort "$1") <(printf '%s\n' "$2") >"$T/diff" || fail "$3 differs:\n$(cat "$T/diff")"
}

start_server 1 $B1
start_server 2 $B2
AT=$(($(date +%s) - 600)) # where the loads put their first window: inside the default --from -1h
ok "two clickhouse-server $(ch $U1 'SELECT version()') on ports $B1 and $B2"

# --- 1. one node -----------------------------------------------------------------
ch $U1 "CREATE DATABASE single" || fail "create database"
S=$U1/?database=single
"$XPROF" store init --clickhouse "$S" 2>"$T/e" || fail "init: $(cat "$T/e")"
"$XPROF" store init --clickhouse "$S" 2>"$T/e" || fail "second init: $(cat "$T/e")"
for h in h1 h2; do
	"$XPROF" store load --clickhouse "$S" --host $h --service svc-$h --window 1s --at $AT "$T/w.xprof" \
		2>"$T/load.$h" || fail "load $h: $(cat "$T/load.$h")"
done
grep -q "loaded $total samples" "$T/load.h1" || fail "load summary: $(cat "$T/load.h1"), expected $total"
grep -q " 0 stacks sent" "$T/load.h2" && fail "second host sent no stacks"
nwin=$(ch "$S" "SELECT uniqExact(window_start) FROM xprof_samples WHERE host = 'h1'")
[ "$nwin" -ge 3 ] || fail "only $nwin windows"
"$XPROF" query --clickhouse "$S" -o "$T/all.folded" -o "$T/all.svg" -o "$T/all.pb.gz" 2>"$T/e" ||
	fail "query: $(cat "$T/e")"
same "$T/all.folded" "$(scaled "$T/ref.folded" 2)" "one node, both hosts"
grep -q "^xprof: $((2 * total)) samples from" "$T/e" || fail "query summary: $(cat "$T/e")"
grep -q '<svg' "$T/all.svg" && gzip -t "$T/all.pb.gz" || fail "svg/pprof outputs"
ok "one node: $nwin windows x 2 hosts, $((2 * total)) samples, the chains of xprof report"
# Each row names its executable: rec_spin's build-id, from the recording's mappings.
bid=$(readelf -n "$P/rec_spin" | awk '/Build ID/{print $3}')
[ -n "$bid" ] || fail "rec_spin has no build-id"
got=$(ch "$S" "SELECT DISTINCT build_id FROM xprof_samples WHERE comm = 'rec_spin'")
[ "$got" = "$bid" ] || fail "build_id of rec_spin rows: '$got', expected $bid"
"$XPROF" query --clickhouse "$S" --where "build_id=$bid" -o "$T/bid.folded" -q || fail "--where build_id"
# Every sample of the recording is of rec_spin's process, before its comm was known ([unknown]) too.
same "$T/bid.folded" "$(scaled "$T/ref.folded" 2)" "--where build_id"
ok "rows carry rec_spin's build-id $bid"

"$XPROF" query --clickhouse "$S" --where host=h1 -o "$T/h1.folded" -q || fail "query --where host=h1"
same "$T/h1.folded" "$(scaled "$T/ref.folded" 1)" "--where host=h1"
"$XPROF" query --clickhouse "$S" --where 'host!=h1' -o "$T/n1.folded" -q || fail "query --where host!=h1"
same "$T/n1.folded" "$(scaled "$T/ref.folded" 1)" "--where host!=h1"
"$XPROF" query --clickhouse "$S" --where 'service=svc-*,host=?2' -o "$T/g.folded" -q || fail "glob"
same "$T/g.folded" "$(scaled "$T/ref.folded" 1)" "--where service=svc-*,host=?2"
"$XPROF" query --clickhouse "$S" --where host=h1 --where service=svc-h2 -o "$T/none.folded" -q ||
	fail "query with no match"
[ ! -s "$T/none.folded" ] || fail "two --where must both hold: $(cat "$T/none.folded")"
"$XPROF" query --clickhouse "$S" --group-by host -o "$T/gb.folded" -q || fail "--group-by host"
same "$T/gb.folded" "$( (rooted "$T/ref.folded" h1; rooted "$T/ref.folded" h2) | sort)" "--group-by host"
ok "--where =, !=, glob, two --where; --group-by host: one tower per host"
# --max-stacks 1: the hottest stack alone, and the summary still counts every sample.
"$XPROF" query --clickhouse "$S" --max-stacks 1 -o "$T/top1.folded" 2>"$T/e" || fail "--max-stacks 1"
same "$T/top1.folded" "$(scaled "$T/ref.folded" 2 | sort -k2 -t' ' | awk '{print $NF, $0}' | sort -n | tail -1 | cut -d' ' -f2-)" "--max-stacks 1"
if [ "$(wc -l <"$T/ref.folded")" -gt 1 ]; then
	grep -q "^xprof: $((2 * total)) samples from .*, [0-9]* in the top 1 stacks shown" "$T/e" || fail "cut summary: $(cat "$T/e")"
else
	grep -q "^xprof: $((2 * total)) samples from [^,]*; wrote" "$T/e" || fail "one-stack summary: $(cat "$T/e")"
fi
ok "--max-stacks 1 keeps the hottest stack and the whole total"

# Injection: values are data, whatever they hold.
for v in "h1' OR 1=1 OR host='x" "h1\\' OR 1=1 --" "x') OR (1=1" "h1%" "h1.*"; do
	"$XPROF" query --clickhouse "$S" --where "host=$v" -o "$T/inj.folded" 2>"$T/e" || fail "query '$v': $(cat "$T/e")"
	[ ! -s "$T/inj.folded" ] && grep -q "^xprof: 0 samples" "$T/e" || fail "--where host=$v matched: $(cat "$T/e")"
done
"$XPROF" query --clickhouse "$S" --where "host=h1'; DROP TABLE xprof_samples; --" -o "$T/inj.folded" -q || fail "drop attempt"
[ "$(ch "$S" "SELECT sum(count) FROM xprof_samples")" = $((2 * total)) ] || fail "the table changed"
ok "injection through --where matches nothing and changes nothing"

# --from/--to select windows: the loads start at $AT, 10 minutes before the test began.
"$XPROF" query --clickhouse "$S" --from $((AT + 300)) -o "$T/late.folded" 2>"$T/e" || fail "--from AT+5m"
grep -q "^xprof: 0 samples" "$T/e" || fail "--from AT+5m found samples: $(cat "$T/e")"
"$XPROF" query --clickhouse "$S" --from $((AT - 60)) --to "$(date -u -d @$((AT + 120)) +%Y-%m-%dT%H:%M:%S)" \
	-o "$T/win.folded" -q || fail "--from/--to"
same "$T/win.folded" "$(scaled "$T/ref.folded" 2)" "--from AT-1m --to AT+2m"
ok "--from/--to"

# Prune: a day long gone is dropped, today stays.
"$XPROF" store load --clickhouse "$S" --host old --window 1s --at 2020-01-01T00:00:00 "$T/w.xprof" 2>/dev/null || fail "old load"
"$XPROF" store prune --clickhouse "$S" --older-than 7d 2>"$T/e" || fail "prune: $(cat "$T/e")"
grep -q "dropped 1 day partitions" "$T/e" || fail "prune: $(cat "$T/e")"
[ "$(ch "$S" "SELECT count() FROM xprof_samples WHERE host = 'old'")" = 0 ] || fail "old rows kept"
[ "$(ch "$S" "SELECT sum(count) FROM xprof_samples")" = $((2 * total)) ] || fail "prune took recent rows"
ok "prune drops 2020-01-01 and keeps today"

# --- 1b. differential: two phases of rec_phases through the store ------------------
# Phase a (hot phase_a) and phase b (hot phase_b) loaded as one host at two times and as two
# hosts at one time: --base-from/--base-to and --base-where must give exactly the diff
# `xprof diff` makes of the two recordings, phase_b red and phase_a blue.
for m in a b; do
	timeout 60 "$XPROF" record -F 499 -o "$T/$m.xprof" -- "$P/rec_phases" $m 1.5 >/dev/null 2>"$T/e" ||
		fail "record rec_phases $m: $(cat "$T/e")"
done
"$XPROF" diff -q "$T/a.xprof" "$T/b.xprof" -o "$T/ref_d.folded" || fail "xprof diff"
ch $U1 "CREATE DATABASE phases" || fail "create database phases"
D=$U1/?database=phases
"$XPROF" store init --clickhouse "$D" 2>/dev/null || fail "init phases"
for spec in "a old $AT" "b old $((AT + 120))" "a before $AT" "b after $AT"; do
	set -- $spec
	"$XPROF" store load --clickhouse "$D" --host $2 --window 10s --at $3 "$T/$1.xprof" 2>"$T/e" ||
		fail "load phase $1 as $2: $(cat "$T/e")"
done
"$XPROF" query --clickhouse "$D" --where host=old --from $((AT + 100)) --to $((AT + 200)) \
	--base-from $((AT - 10)) --base-to $((AT + 100)) -o "$T/t_d.folded" -o "$T/t_d.svg" 2>"$T/e" ||
	fail "query --base-from/--base-to: $(cat "$T/e")"
grep -q " before (--base-\*)" "$T/e" || fail "diff summary: $(cat "$T/e")"
cmp -s "$T/ref_d.folded" "$T/t_d.folded" ||
	fail "--base-from/--base-to diff differs: $(diff "$T/ref_d.folded" "$T/t_d.folded" | head -5)"
"$XPROF" query --clickhouse "$D" --where host=after --base-where host=before --from $((AT - 10)) \
	--to $((AT + 100)) -o "$T/w_d.folded" -q || fail "query --base-where"
cmp -s "$T/ref_d.folded" "$T/w_d.folded" ||
	fail "--base-where diff differs: $(diff "$T/ref_d.folded" "$T/w_d.folded" | head -5)"
python3 - "$T/t_d.svg" <<'EOF' || fail "diff colours"
import re, sys, xml.etree.ElementTree as ET
NS = {"s": "http://www.w3.org/2000/svg"}
fill = {}
for g in ET.parse(sys.argv[1]).getroot().find("s:g[@id='frames']", NS):
    name = re.sub(r" \([^(]*\)$", "", g.find("s:title", NS).text)
    m = re.match(r"rgb\((\d+),(\d+),(\d+)\)", g.find("s:rect", NS).get("fill"))
    fill[name] = tuple(int(v) for v in m.groups())
R, G, B = fill["phase_b"]
if not (R == 255 and G == B and G < 100): sys.exit("phase_b is not red: %s" % ((R, G, B),))
R, G, B = fill["phase_a"]
if not (B == 255 and R == G and R < 130): sys.exit("phase_a is not blue: %s" % ((R, G, B),))
EOF
ok "query --base-from/--base-to and --base-where: the diff of xprof diff, phase_b red, phase_a blue"

# --- 2. the 2-shard cluster ------------------------------------------------------
"$XPROF" store init --clickhouse $U1 --cluster xprof_test 2>"$T/e" && fail "ON CLUSTER without ZooKeeper worked?"
grep -q -- "--shard URL" "$T/e" || fail "no hint to --shard: $(cat "$T/e")"
"$XPROF" store init --clickhouse $U1 --cluster xprof_test --shard $U1 2>"$T/e" && fail "one --shard for 2 shards"
grep -q "has 2 shards" "$T/e" || fail "shard count message: $(cat "$T/e")"
"$XPROF" store init --clickhouse $U1 --cluster xprof_test --shard $U1 --shard $U2 2>"$T/e" ||
	fail "cluster init: $(cat "$T/e")"
"$XPROF" store load --clickhouse $U1 --host h1 --service web --window 1s --at $AT "$T/w.xprof" 2>/dev/null || fail "load h1"
"$XPROF" store load --clickhouse $U2 --host h2 --service db --window 1s --at $AT "$T/w.xprof" 2>/dev/null || fail "load h2"
# Sharded by stack hash: shard 1 holds the even hashes, shard 2 the odd ones, and nothing is lost.
l1=$(ch $U1 "SELECT count() FROM xprof_samples_local")
l2=$(ch $U2 "SELECT count() FROM xprof_samples_local")
all=$(ch $U1 "SELECT count() FROM xprof_samples")
[ "$all" -gt 0 ] && [ $((l1 + l2)) = "$all" ] || fail "rows on shards: $l1 + $l2, Distributed $all"
[ "$(ch $U1 "SELECT count() FROM xprof_samples_local WHERE stack_hash % 2 != 0")" = 0 ] &&
	[ "$(ch $U2 "SELECT count() FROM xprof_samples_local WHERE stack_hash % 2 != 1")" = 0 ] &&
	[ "$(ch $U1 "SELECT count() FROM xprof_stacks_local WHERE stack_hash % 2 != 0")" = 0 ] ||
	fail "rows on the wrong shard for their stack hash"
for u in $U1 $U2; do
	"$XPROF" query --clickhouse $u -o "$T/c.folded" -q || fail "cluster query at $u"
	same "$T/c.folded" "$(scaled "$T/ref.folded" 2)" "cluster query at $u"
done
"$XPROF" query --clickhouse $U2 --where service=db -o "$T/c2.folded" -q || fail "cluster --where"
same "$T/c2.folded" "$(scaled "$T/ref.folded" 1)" "cluster --where service=db"
"$XPROF" query --clickhouse $U1 --group-by service -o "$T/cg.folded" -q || fail "cluster --group-by"
same "$T/cg.folded" "$( (rooted "$T/ref.folded" web; rooted "$T/ref.folded" db) | sort)" "cluster --group-by service"
ok "cluster: rows on the shard of their stack hash ($l1, $l2), queries at either shard exact, --where and --group-by"
# Many stacks, so both shards get some, and more than one statement's worth of hashes
# (ClickHouse refuses statements over 256 KiB): the synthetic fleet loader, 2 hosts x 1 window x
# 15000 stacks.
"$XPROF_BUILD/bench/store_bench" $U2 2 1 15000 1 >"$T/sb" 2>&1 || fail "store_bench: $(cat "$T/sb")"
grep -q "^rows 30000 " "$T/sb" || fail "store_bench: $(cat "$T/sb")"
l1=$(ch $U1 "SELECT count() FROM xprof_samples_local WHERE host LIKE 'host-%'")
l2=$(ch $U2 "SELECT count() FROM xprof_samples_local WHERE host LIKE 'host-%'")
[ "$l1" -gt 0 ] && [ "$l2" -gt 0 ] && [ $((l1 + l2)) = 30000 ] || fail "synthetic rows on shards: $l1 + $l2 of 30000"
[ "$(ch $U1 "SELECT count() FROM xprof_samples_local WHERE stack_hash % 2 != 0")" = 0 ] &&
	[ "$(ch $U2 "SELECT count() FROM xprof_samples_local WHERE stack_hash % 2 != 1")" = 0 ] ||
	fail "synthetic rows on the wrong shard"
"$XPROF" query --clickhouse $U1 --where 'host=host-*' --max-stacks 20000 -o "$T/sb.folded" 2>"$T/e" ||
	fail "query synthetic: $(cat "$T/e")"
[ "$(wc -l <"$T/sb.folded")" = 15000 ] || fail "synthetic stacks: $(wc -l <"$T/sb.folded") of 15000"
! grep -q "stack not in store" "$T/sb.folded" || fail "synthetic stacks without frames"
ok "15000 synthetic stacks over both shards ($l1 and $l2 rows), all back with their frames"
# Prune on every shard: an old day goes from both, today stays.
"$XPROF" store load --clickhouse $U1 --host old --window 1s --at 2020-01-01T00:00:00 "$T/w.xprof" 2>/dev/null || fail "old load"
before=$(ch $U1 "SELECT sum(count) FROM xprof_samples WHERE host != 'old'")
[ "$(ch $U1 "SELECT count() FROM xprof_samples WHERE host = 'old'")" -gt 0 ] || fail "old rows not loaded"
"$XPROF" store prune --clickhouse $U1 --older-than 7d --shard $U1 --shard $U2 2>"$T/e" || fail "cluster prune: $(cat "$T/e")"
[ "$(ch $U1 "SELECT count() FROM xprof_samples WHERE host = 'old'")" = 0 ] || fail "old rows kept on a shard"
[ "$(ch $U1 "SELECT sum(count) FROM xprof_samples")" = "$before" ] || fail "cluster prune took recent rows"
ok "cluster prune: $(sed 's/^xprof: //' "$T/e")"
"$XPROF" store init --clickhouse $U1 2>"$T/e" && fail "single-node init over a cluster store"
grep -q "cluster 'xprof_test'" "$T/e" || fail "layout message: $(cat "$T/e")"

# --- 3. refusals -------------------------------------------------------------------
ch $U2 "CREATE DATABASE future" && ch "$U2/?database=future" "CREATE VIEW xprof_schema AS SELECT toUInt32(99) AS version, '' AS cluster" ||
	fail "future schema"
"$XPROF" query --clickhouse "$U2/?database=future" -o "$T/f.folded" 2>"$T/e" && fail "query of a newer schema"
grep -q "schema version 99, newer than this xprof" "$T/e" || fail "newer schema: $(cat "$T/e")"
"$XPROF" store init --clickhouse "$U2/?database=future" 2>"$T/e" && fail "init over a newer schema"
grep -q "newer than this xprof" "$T/e" || fail "init over newer: $(cat "$T/e")"
ch $U2 "CREATE DATABASE empty"
"$XPROF" query --clickhouse "$U2/?database=empty" -o "$T/f.folded" 2>"$T/e" && fail "query of no store"
grep -q "no xprof store at .*: run 'xprof store init" "$T/e" || fail "no store: $(cat "$T/e")"
dead=$(pick_base)
"$XPROF" query --clickhouse http://127.0.0.1:$dead -o "$T/f.folded" 2>"$T/e" && fail "query of a dead server"
[ "$(wc -l <"$T/e")" = 1 ] && grep -q "cannot reach http://127.0.0.1:$dead" "$T/e" || fail "dead server: $(cat "$T/e")"
"$XPROF" query --clickhouse file:///etc/passwd 2>"$T/e" && fail "file URL"
grep -q "http:// or https://" "$T/e" || fail "file URL message: $(cat "$T/e")"
ok "newer schema, no store, a dead server and a file:// URL refused in one line"
echo "PASS"
