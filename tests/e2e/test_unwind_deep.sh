#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: recursion 200 deep (~12.5 KiB of stack: more than perf's
# 8 KiB copy, less than xprof's 16 KiB) must be complete and exact, and far
# more often than perf; recursion 2000 deep (~125 KiB, more than any copy)
# must be reported truncated, every reported frame a real frame of the chain.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

unw_xprof d200 "$PROGS/unw_deep" "$UNW_SECONDS" 200
unw_chain "$W/d200.folded" deep_leaf "$UNW_ROOT;deep_loop;(deep_recurse;){200}deep_leaf"
unw_perf d200 "$PROGS/unw_deep" "$UNW_SECONDS" 200
unw_vs_perf d200 deep_leaf "$UNW_ROOT;deep_loop;(deep_recurse;){200}deep_leaf" gt

unw_xprof d2000 "$PROGS/unw_deep" "$UNW_SECONDS" 2000
# No root, no garbage: only deep_recurse frames above the leaf, and many of them.
unw_chain "$W/d2000.folded" deep_leaf "(deep_recurse;){100,}deep_leaf"
t=$(unw_summary_pct d2000 truncated)
echo "  truncated: $t%"
awk -v t="$t" "BEGIN { exit !(t >= 90) }" || unw_fail "only $t% of the 2000-deep samples reported truncated"
echo "ok: deep"
