#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak: the pipeline's memory over a long run. soak_bench feeds one session a
# synthetic stream of 20,000 short-lived processes, each mapping its own copy
# of perf_work (a build-id of its own) and libc, through 600 windows of 1 s
# with memory_limit 16 MiB, and prints its RSS curve. The figure is RSS after
# the last window against RSS after window 60, measured in the same run; the
# part fails above 1.10x or 64 MiB.
#   bench/bench_soak.sh [BUILD_DIR]   env: SOAK_PROCESSES (20000), SOAK_WINDOWS (600),
#                                          SOAK_LIMIT_MIB (16)
set -eu
build=${1:-build}
bench=$build/bench/soak_bench
bin=$build/progs/perf_work
[ -x "$bench" ] && [ -x "$bin" ] || { echo "bench: missing $bench or $bin (make bench-soak)" >&2; exit 1; }
libc=$(ldd "$bin" | awk '/libc.so/{print $3}')
[ -r "$libc" ] || { echo "bench: no libc found for $bin" >&2; exit 1; }
tmp=$(mktemp -d /tmp/xprof-soak.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export DEBUGINFOD_URLS=
"$bench" "$bin" "$libc" "$tmp" "${SOAK_PROCESSES:-20000}" "${SOAK_WINDOWS:-600}" "${SOAK_LIMIT_MIB:-16}"
