# SPDX-License-Identifier: MIT
# Sourced by the fleet store's end-to-end tests: clickhouse-server
# instances on loopback ports, config, data and logs under the test's temp
# dir $T, forming the 2-shard cluster xprof_test. Sourcing it makes $T and
# the exit trap that stops the servers and whatever the test put in
# others[] (drivers, agents, workloads: TERM, then KILL after 10 s), and
# defines fail (with the servers' last errors) and ok.
pids=()
others=()
declare -A srv_pid
T=$(mktemp -d)
ch_cleanup() {
	local p
	for p in "${others[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${others[@]}" "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap ch_cleanup EXIT
fail() {
	echo "FAIL: $*"
	for d in "$T"/ch*; do [ -f "$d/err.log" ] && tail -5 "$d/err.log"; done
	exit 1
}
ok() { echo "ok: $*"; }

# Six free loopback ports from a random base: three per server.
port_free() { ! ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }
pick_base() {
	local b i
	for _ in $(seq 50); do
		b=$((20000 + RANDOM % 20000))
		for i in 0 1 2 3 4 5; do port_free $((b + i)) || continue 2; done
		echo $b
		return
	done
	return 1
}

# start_server N BASE: clickhouse-server with its own copy of the packaged
# config (so config.d/ is ours) and the cluster of shards B1 and B2 in
# config.d/cluster.xml. Started again with the same N, it reopens its data.
start_server() {
	local n=$1 base=$2 d=$T/ch$1
	mkdir -p "$d/config.d" "$d/data" "$d/tmp"
	cp /etc/clickhouse-server/config.xml /etc/clickhouse-server/users.xml "$d/"
	cat >"$d/config.d/cluster.xml" <<-EOF_XML
		<yandex>
		  <remote_servers>
		    <xprof_test>
		      <shard><replica><host>127.0.0.1</host><port>$((B1 + 1))</port></replica></shard>
		      <shard><replica><host>127.0.0.1</host><port>$((B2 + 1))</port></replica></shard>
		    </xprof_test>
		  </remote_servers>
		</yandex>
	EOF_XML
	clickhouse-server --config-file="$d/config.xml" -- --path="$d/data/" --tmp_path="$d/tmp/" \
		--http_port=$base --tcp_port=$((base + 1)) --interserver_http_port=$((base + 2)) \
		--logger.log="$d/log" --logger.errorlog="$d/err.log" >"$d/out" 2>&1 &
	pids+=($!)
	srv_pid[$n]=$!
	for _ in $(seq 120); do
		[ "$(curl -s --max-time 2 "http://127.0.0.1:$base/" --data-binary 'SELECT 1')" = 1 ] && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.25
	done
	fail "clickhouse-server $n did not answer on port $base in 30 s: $(tail -3 "$d/out")"
}

# stop_server N: stop server N (SIGTERM, then SIGKILL after 10 s) and wait for it.
stop_server() {
	local p=${srv_pid[$1]} i
	kill "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$p" ] && unset 'pids[i]'; done
	pids=("${pids[@]}")
	unset 'srv_pid[$1]'
}

ch() { curl -sS --max-time 30 "$1" --data-binary "$2"; } # URL, SQL
