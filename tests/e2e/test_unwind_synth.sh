#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: a function with neither CFI nor a frame pointer
# (synth_mid, built -fno-asynchronous-unwind-tables -fomit-frame-pointer)
# between two normal ones. Its rows come from its machine code: the exact
# chain to main in >= 99% of the samples taken in it and in its callee, and
# the report counts them as "via synthesized rows". perf --call-graph dwarf
# stops at synth_mid.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

"$XPROF" tables "$PROGS/unw_synth" | grep -A2 '^synth_mid:' | grep -q '\[synthesized\]' ||
	unw_fail "xprof tables shows no synthesized rows for synth_mid"
unw_xprof sy "$PROGS/unw_synth" "$UNW_SECONDS"
unw_chain "$W/sy.folded" synth_leaf "$UNW_ROOT;synth_outer;synth_mid;synth_leaf"
unw_chain "$W/sy.folded" synth_mid "$UNW_ROOT;synth_outer;synth_mid" 99 20
syn=$(sed -n 's/.*[ <>]\([0-9.]*\)% via synthesized rows.*/\1/p' "$W/sy.summary" | tail -n 1)
echo "  via synthesized rows: ${syn:-0}%"
awk -v t="${syn:-0}" 'BEGIN { exit !(t >= 90) }' || unw_fail "only ${syn:-0}% of the samples marked as unwound by synthesized rows"
unw_perf sy "$PROGS/unw_synth" "$UNW_SECONDS"
unw_vs_perf sy synth_leaf "$UNW_ROOT;synth_outer;synth_mid;synth_leaf" gt
echo "ok: synth"
