#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: a qsort comparator: our frame, libc frames, our frame.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="$UNW_ROOT;qsort_run(;[^;]*(qsort|msort)[^;]*)+;qsort_cmp"
unw_xprof qs "$PROGS/unw_qsort" "$UNW_SECONDS"
unw_chain "$W/qs.folded" qsort_cmp "$CHAIN"
unw_perf qs "$PROGS/unw_qsort" "$UNW_SECONDS"
unw_vs_perf qs qsort_cmp "$CHAIN" ge
echo "ok: qsort"
