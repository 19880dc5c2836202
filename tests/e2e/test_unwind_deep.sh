#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: recursion 200 deep (~12.5 KiB of stack: more than perf's
# 8 KiB copy) must be complete and exact, and far more often than perf;
# recursion 2000 deep (~125 KiB, more than perf's largest copy) too, since
# xprof copies whole stacks. Truncation above --stack-max: test_capture_deep.sh.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

unw_xprof d200 "$PROGS/unw_deep" "$UNW_SECONDS" 200
unw_chain "$W/d200.folded" deep_leaf "$UNW_ROOT;deep_loop;(deep_recurse;){200}deep_leaf"
unw_perf d200 "$PROGS/unw_deep" "$UNW_SECONDS" 200
unw_vs_perf d200 deep_leaf "$UNW_ROOT;deep_loop;(deep_recurse;){200}deep_leaf" gt

unw_xprof d2000 "$PROGS/unw_deep" "$UNW_SECONDS" 2000
unw_chain "$W/d2000.folded" deep_leaf "$UNW_ROOT;deep_loop;(deep_recurse;){2000}deep_leaf"
echo "ok: deep"
