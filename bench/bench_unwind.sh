#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinding speed alone (tables warm, one core), on real recordings:
#   bench/bench_unwind.sh XPROF UNWIND_BENCH PROGS_DIR
# records (as root, real BPF) a Python interpreter running recursive code (a
# realistic workload: ~30-60 frames through a large stripped binary and
# libc) and the 200-deep recursion test program, then walks every sample of
# each recording 20 times with unwind_bench. Prints "bench: ..." lines:
# frames/s against the 5M frames/s goal, samples/s and ns/frame.
set -u
xprof=${1:?usage: bench_unwind.sh XPROF UNWIND_BENCH PROGS_DIR}
ub=${2:?usage: bench_unwind.sh XPROF UNWIND_BENCH PROGS_DIR}
progs=${3:?usage: bench_unwind.sh XPROF UNWIND_BENCH PROGS_DIR}
rounds=${BENCH_ROUNDS:-20}
secs=${BENCH_SECONDS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "bench: unwind: skipped (needs root to record)"
	exit 0
fi
w=$(mktemp -d /tmp/xprof-bench-unwind.XXXXXX)
trap 'rm -rf "$w"' EXIT

run() { # name, command...
	local name=$1; shift
	if ! "$xprof" record -F 999 -o "$w/$name.xprof" -- "$@" >/dev/null 2>"$w/$name.err"; then
		echo "bench: unwind $name: skipped (record failed: $(tail -n 1 "$w/$name.err"))"
		return
	fi
	taskset -c 0 "$ub" "$w/$name.xprof" "$rounds" "$name" 2>&1 || true
}

if command -v python3 >/dev/null; then
	run python3 python3 -c "
import time
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
end = time.time() + $secs
while time.time() < end: fib(22)"
fi
run deep200 "$progs/unw_deep" "$secs" 200
