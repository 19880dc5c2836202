# SPDX-License-Identifier: MIT
# Sourced by end-to-end tests that need a program whose binary exists only in
# another mount namespace (a container's file, issue 12). Needs root and
# unshare(1); set NS_BUSY to the ns_busy binary (default
# $XPROF_BUILD/progs/ns_busy).
#
# ns_start DIR [SECONDS]: puts a decoy at DIR/ns_busy on the host (a copy of
# /bin/true: a profiler that opens the host's path reads the wrong file),
# starts ns_busy SECONDS (default 10) in a new mount namespace where DIR is
# a private tmpfs holding the only copy of ns_busy, waits until it runs, and
# prints its pid (a host pid). Its chain is main;ns_outer;ns_inner.
ns_start() {
	local dir=$1 secs=${2:-10} pid i
	ns_exec_ "$dir" "$secs" &
	pid=$!
	# unshare(1) without --fork execs in place: the pid is ns_busy's once it has exec'ed
	for i in $(seq 100); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$dir/ns_busy" ] && { echo "$pid"; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "ns_start: ns_busy did not start in its namespace (pid $pid)" >&2
	kill "$pid" 2>/dev/null
	return 1
}

# ns_run DIR SECONDS: the same in the foreground, for short-lived runs
# (ns_run "$T/ns" 0.05: a process of 50 ms whose file leaves with it).
ns_run() {
	(ns_exec_ "$@")
}

# Replaces the calling (sub)shell with ns_busy in its namespace.
ns_exec_() {
	local dir=$1 secs=$2 bin=${NS_BUSY:-$XPROF_BUILD/progs/ns_busy}
	[ -x "$bin" ] || { echo "ns_busy: no '$bin': run make unit-bins" >&2; exit 1; }
	mkdir -p "$dir" && cp /bin/true "$dir/ns_busy" || exit 1
	exec unshare -m --propagation private sh -c \
		'mount -t tmpfs -o size=16m none "$1" && cp "$2" "$1/ns_busy" && exec "$1/ns_busy" "$3"' \
		ns_busy "$dir" "$bin" "$secs" </dev/null >/dev/null 2>&1
}

# ns_chain_pct FOLDED: the percentage of ns_busy's samples in FOLDED whose
# stack is exactly ns_busy;...;main;ns_outer;ns_inner (kernel frames below
# ns_inner allowed: a tick may land in an interrupt).
ns_chain_pct() {
	awk '/^ns_busy;/ {
		n = $NF; all += n
		if ($0 ~ /;main;ns_outer;ns_inner(;[^; ]+_\[k\])* [0-9]+$/) ok += n
	}
	END { printf "%.1f\n", all ? 100 * ok / all : 0 }' "$1"
}
