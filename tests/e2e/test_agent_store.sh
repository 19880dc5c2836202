#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The agent's fleet-store sink against real ClickHouse servers: two
# clickhouse-server processes on loopback ports form the 2-shard cluster
# xprof_test (lib_clickhouse.sh), made with `xprof store init --cluster`.
#
# 1. The sink without the capture: ag_push puts windows of a real pprof (a
#    recording of rec_spin) in a spool bound for the clickhouse sink, one
#    driver per host, each writing to its own shard. `xprof query` over the
#    Distributed tables gives back exactly the windows' samples, with
#    rec_spin's chain; --where host= and --group-by host select right.
# 2. The same while shard 2's server is stopped for 5 s and started again on
#    its data: both drivers log retries (their Distributed inserts cannot
#    reach shard 2, or their server is gone) and every sample arrives
#    exactly once, though a failed Distributed insert commits the shard that
#    answered (without the writer's resume, this part counts 1.5x).
# 3. Two `xprof agent`s (--host hostA/hostB, --clickhouse shard 1 /
#    shard 2, -F 99 --interval 2s, their own --spool-dir) over a busy
#    rec_spin: the store holds exactly the samples of their `window ...: N
#    samples` lines, rec_spin's chain, and --where/--group-by host select
#    right; then the same across a 5 s outage of shard 2.
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
command -v clickhouse-server >/dev/null || e2e_skip "no clickhouse-server (make deps)"
. "$(dirname "$0")/lib_clickhouse.sh"
P=$XPROF_BUILD/progs
scaled() { awk -v k="$2" '{c = $NF; sub(/ [0-9]+$/, ""); print $0 " " c * k}' "$1" | sort; }
rooted() { awk -v r="$2" '{c = $NF; sub(/ [0-9]+$/, ""); sub(/^[^;]*/, r); print $0 " " c}' "$1" | sort; }
same() { # got-file, expected-text, what
	diff <(sort "$1") <(printf '%s\n' "$2") >"$T/diff" || fail "$3 differs:\n$(head -20 "$T/diff")"
}
CHAIN='^rec_spin;.*;thread_main;recurse;recurse;recurse;recurse;burn '

B1=$(pick_base) || fail "no free ports"
B2=$((B1 + 3))
U1=http://127.0.0.1:$B1
U2=http://127.0.0.1:$B2
start_server 1 $B1
start_server 2 $B2
"$XPROF" store init --clickhouse $U1 --cluster xprof_test --shard $U1 --shard $U2 2>"$T/e" ||
	fail "cluster init: $(cat "$T/e")"
ok "two clickhouse-server $(ch $U1 'SELECT version()'), cluster store made"

# --- 1. the sink through the spool, a real pprof per window ------------------------
# Three programs, so that the window has stacks of both hash parities: rows on both shards.
timeout 120 "$XPROF" record -F 199 -o "$T/w.xprof" -- sh -c \
	"$P/rec_spin 1 1 4; $P/rec_phases a 0.5; $P/rec_phases b 0.5" >/dev/null 2>"$T/e" ||
	fail "record: $(cat "$T/e")"
"$XPROF" report -q -i "$T/w.xprof" -o "$T/w.pb.gz" -o "$T/ref.folded" || fail "report"
total=$(awk '{s += $NF} END {print s}' "$T/ref.folded")
grep -q "$CHAIN" "$T/ref.folded" || fail "the reference lacks rec_spin's chain: $(cat "$T/ref.folded")"

# Windows two hours ahead, so they are apart from the agents' and not taken for an earlier run's.
t0=$(($(date +%s) / 10 * 10 + 7200))
drive() { # host URL first-window-time windows gap-ms log
	"$P/ag_push" --spool "$T/spool-$1" --clickhouse "$2" --host "$1" --pprof "$T/w.pb.gz" \
		--t0 "$3" --windows "$4" --gap-ms "$5" --wait-s 90 2>"$6" &
	others+=($!)
}
drive hostA $U1 $t0 3 100 "$T/d1A"
drive hostB $U2 $t0 3 100 "$T/d1B"
wait "${others[@]}" || fail "drivers: $(cat "$T/d1A" "$T/d1B")"
others=()
grep -q "put 3 sent 3 dropped 0 rejected 0" "$T/d1A" || fail "driver A: $(cat "$T/d1A")"
q() { "$XPROF" query --clickhouse "$U1" --from "$1" --to "$2" "${@:3}"; }
q $t0 $((t0 + 30)) -o "$T/q1.folded" 2>"$T/e" || fail "query: $(cat "$T/e")"
same "$T/q1.folded" "$(scaled "$T/ref.folded" 6)" "3 windows x 2 hosts"
grep -q "^xprof: $((6 * total)) samples from" "$T/e" || fail "query summary: $(cat "$T/e")"
q $t0 $((t0 + 30)) --where host=hostA -o "$T/qa.folded" -q || fail "--where host=hostA"
same "$T/qa.folded" "$(scaled "$T/ref.folded" 3)" "--where host=hostA"
q $t0 $((t0 + 30)) --group-by host -o "$T/qg.folded" -q || fail "--group-by host"
same "$T/qg.folded" "$( (rooted "$T/ref.folded" hostA | scaled /dev/stdin 3
	rooted "$T/ref.folded" hostB | scaled /dev/stdin 3) | sort)" "--group-by host"
l1=$(ch $U1 "SELECT count() FROM xprof_samples_local")
l2=$(ch $U2 "SELECT count() FROM xprof_samples_local")
[ "$l1" -gt 0 ] && [ "$l2" -gt 0 ] || fail "rows on one shard only ($l1, $l2): the outage would not split an insert"
ok "driver: 3 windows x 2 hosts of $total samples each, exact; --where and --group-by host; rows on both shards ($l1, $l2)"

# --- 2. the same across an outage of shard 2 ----------------------------------------
t1=$((t0 + 600))
drive hostA $U1 $t1 8 1000 "$T/d2A"
drive hostB $U2 $t1 8 1000 "$T/d2B"
sleep 2.5
stop_server 2
sleep 5
start_server 2 $B2
wait "${others[@]}" || fail "drivers across the outage: $(cat "$T/d2A" "$T/d2B")"
others=()
for h in A B; do
	grep -q "put 8 sent 8 dropped 0 rejected 0" "$T/d2$h" || fail "driver $h: $(cat "$T/d2$h")"
	grep -q "clickhouse: retry" "$T/d2$h" || fail "driver $h logged no retry: $(cat "$T/d2$h")"
done
q $t1 $((t1 + 80)) -o "$T/q2.folded" 2>"$T/e" || fail "query after the outage: $(cat "$T/e")"
same "$T/q2.folded" "$(scaled "$T/ref.folded" 16)" "8 windows x 2 hosts across the outage"
ok "driver: 5 s outage of shard 2, retries logged ($(grep -c retry "$T/d2A") and $(grep -c retry "$T/d2B")), 16 windows exact"

# --- 3. two agents over a busy program --------------------------------------------
# agent NAME URL LOG: an agent as a host runs it, in the background.
agent() {
	"$XPROF" agent -F 99 --interval 2s --host "$1" --clickhouse "$2" --spool-dir "$T/aspool-$1" \
		--log "$T/$3" &
	others+=($!)
}
# samples LOG: the sum of the agent's window lines.
samples() { sed -n 's/^window .*: \([0-9]*\) samples.*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'; }
# run_agents TAG OUTAGE: both agents over rec_spin for ~9 s (or ~25 s with a 5 s outage of
# shard 2), stopped with SIGTERM; checks the store against their log lines and sets counted.
run_agents() {
	local tag=$1 outage=$2 from to pa pb
	from=$(date +%s)
	"$P/rec_spin" 2 60 4 >/dev/null 2>&1 &
	local spin=$!
	others+=($spin)
	agent hostA $U1 "agA-$tag.log"
	pa=$!
	agent hostB $U2 "agB-$tag.log"
	pb=$!
	if [ "$outage" = 1 ]; then
		sleep 3
		stop_server 2
		sleep 5
		start_server 2 $B2
		sleep 17 # past the backoff of the failed sends (1, 2, 4, 8 s)
	else
		sleep 9
	fi
	kill -TERM $pa $pb
	for p in $pa $pb; do
		timeout 30 tail --pid=$p -f /dev/null || fail "agent $p did not exit 30 s after SIGTERM"
		wait $p || fail "agent $p exit status $? ($(tail -3 "$T/agA-$tag.log" "$T/agB-$tag.log"))"
	done
	kill $spin 2>/dev/null
	wait $spin 2>/dev/null
	others=()
	to=$(($(date +%s) + 1))
	local na nb
	na=$(samples "$T/agA-$tag.log")
	nb=$(samples "$T/agB-$tag.log")
	[ "$(grep -c '^window ' "$T/agA-$tag.log")" -ge 3 ] || fail "agent A: fewer than 3 windows: $(cat "$T/agA-$tag.log")"
	[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "agents counted $na and $nb samples"
	q $from $to -o "$T/ag-$tag.folded" 2>"$T/e" || fail "query: $(cat "$T/e")"
	grep -q "^xprof: $((na + nb)) samples from" "$T/e" ||
		fail "$tag: the store has $(head -1 "$T/e"), the agents counted $na + $nb"
	grep -q "$CHAIN" "$T/ag-$tag.folded" || fail "$tag: no rec_spin chain: $(grep rec_spin "$T/ag-$tag.folded" | head -5)"
	q $from $to --where host=hostA -o "$T/aga-$tag.folded" 2>"$T/e" || fail "--where host=hostA"
	grep -q "^xprof: $na samples from" "$T/e" || fail "$tag: --where host=hostA: $(head -1 "$T/e"), agent A counted $na"
	q $from $to --group-by host -o "$T/agg-$tag.folded" -q || fail "--group-by host"
	[ "$(cut -d';' -f1 "$T/agg-$tag.folded" | sort -u | tr '\n' ' ')" = "hostA hostB " ] ||
		fail "$tag: --group-by host roots: $(cut -d';' -f1 "$T/agg-$tag.folded" | sort -u)"
	[ "$(awk '/^hostB;/ {s += $NF} END {print s + 0}' "$T/agg-$tag.folded")" = "$nb" ] ||
		fail "$tag: hostB's tower is not agent B's $nb samples"
	counted="$na + $nb"
}
run_agents clean 0
ok "agents: the store holds exactly their $counted samples, rec_spin's chain, --where and --group-by host"
sleep 2 # the next run's windows start after this one's
run_agents outage 1
grep -q "clickhouse: retry" "$T/agB-outage.log" || fail "agent B logged no retry: $(cat "$T/agB-outage.log")"
ok "agents across a 5 s outage of shard 2: exactly their $counted samples, retries logged"
echo "PASS"
