#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: JIT code (an anonymous executable page, no frame
# pointer, no CFI, named in a perf map) called from C. Verified stack
# scanning finds jit_caller's return address past a decoy word and stale
# ones, so >= 99% of the samples in jit_spin have the chain
# main;jit_caller;jit_spin, and the report counts them as "via stack scan".
# perf --call-graph dwarf stops at the JIT frame.
. "$(dirname "$0")/lib_unwind.sh"
unw_init
# the perf maps the runs leave in /tmp: removed at the end
export UNW_JIT_MAPLIST=$W/maps
jit_cleanup() {
	local m
	[ -f "$UNW_JIT_MAPLIST" ] && while read -r m; do
		case $m in /tmp/perf-[0-9]*.map) rm -f "$m" ;; esac
	done <"$UNW_JIT_MAPLIST"
	[ "${UNW_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap jit_cleanup EXIT

unw_xprof jit "$PROGS/unw_jit" "$UNW_SECONDS"
unw_chain "$W/jit.folded" 'jit_spin_\[j\]' "$UNW_ROOT;jit_caller;jit_spin_\[j\]"
scan=$(sed -n 's/.*[ <>]\([0-9.]*\)% via stack scan.*/\1/p' "$W/jit.summary" | tail -n 1)
echo "  via stack scan: ${scan:-0}%"
awk -v t="${scan:-0}" 'BEGIN { exit !(t >= 90) }' ||
	unw_fail "only ${scan:-0}% of the samples marked as found by stack scanning"
unw_perf jit "$PROGS/unw_jit" "$UNW_SECONDS"
unw_vs_perf jit 'jit_spin(_\[j\])?|\[unknown\]' "$UNW_ROOT;jit_caller;(jit_spin(_\[j\])?|\[unknown\])" gt
echo "ok: jit"
