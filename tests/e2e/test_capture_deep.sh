#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Full-depth capture (issue 15, item 1), with default options:
#  - a C recursion 2,500 deep (~240 KiB of stack), without and with frame
#    pointers: >= 99% of the samples complete, the exact chain to main;
#  - the same in a second thread, whose stack's end the sampler knows only as
#    the end of its mapping, alternating with shallow calls: a deep sample
#    after a shallow one fills its 64 KiB first record and is made again at
#    full length, one after a deep one is full length at once (the exact
#    chain to clone3 either way);
#  - CPython recursing 300 deep through map() (each level nests C frames of
#    the interpreter): >= 99% complete, and most samples carry all 300 levels;
#  - --stack-max below the stack's size still reports truncation, with only
#    real frames.
# Before whole stacks were copied, the default 16 KiB copy truncated all of
# these.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

# pct_at_least WHAT VALUE MIN
pct_at_least() {
	awk -v v="$2" -v m="$3" 'BEGIN { exit !(v >= m) }' || unw_fail "$1: $2% (want >= $3%)"
	echo "  $1: $2% (want >= $3%)"
}

chain="$UNW_ROOT;deep_loop;(deep_recurse;){2500}deep_leaf"
for p in cap_deep cap_deep_fp; do
	unw_xprof "$p" "$PROGS/$p" "$UNW_SECONDS" 2500
	bytes=$(sed -n 's/^stack from the leaf to main: \([0-9]*\) bytes$/\1/p' "$W/$p.out")
	[ "${bytes:-0}" -ge 200000 ] || unw_fail "$p: the stack is only ${bytes:-?} bytes deep"
	unw_chain "$W/$p.folded" deep_leaf "$chain"
	pct_at_least "$p complete" "$(unw_summary_pct "$p" complete)" 99
done
unw_xprof cap_deep_thr "$PROGS/cap_deep" "$UNW_SECONDS" 2500 thread-alt
unw_chain "$W/cap_deep_thr.folded" deep_leaf "clone3;start_thread;thread_main;deep_loop;(deep_recurse;){2500}deep_leaf"
pct_at_least "cap_deep thread complete" "$(unw_summary_pct cap_deep_thr complete)" 99

# CPython 3 through map(): rec -> sum -> map_next -> rec, 300 levels. The
# interpreter's static functions have no names, so count the levels by the
# exported eval loop: one _PyEval_EvalFrameDefault per Python call.
py=$(command -v python3) || unw_skip "python3 is not installed"
py=$(readlink -f "$py")
unw_xprof py "$py" "${XPROF_TOP:?XPROF_TOP must name the source tree}/tests/progs/cap_pymap.py" "$UNW_SECONDS" 300
pct_at_least "python3 map() 300 deep complete" "$(unw_summary_pct py complete)" 99
deep=$(awk '{ n = $NF; total += n; if (gsub(/;_PyEval_EvalFrameDefault/, "&") >= 300) d += n }
	END { printf "%.1f", total ? 100 * d / total : 0 }' "$W/py.folded")
pct_at_least "python3 samples with >= 300 eval frames" "$deep" 50

# A bound below the stack's size: truncated, and no frame that is not real.
"$XPROF" record -F "$UNW_FREQ" --stack-max 64K -o "$W/cut.xprof" -- "$PROGS/cap_deep" "$UNW_SECONDS" 2500 \
	>/dev/null 2>"$W/cut.rec.err" || { cat "$W/cut.rec.err"; unw_fail "xprof record --stack-max 64K failed"; }
"$XPROF" report -i "$W/cut.xprof" -o "$W/cut.folded" --filter-comm cap_deep 2>"$W/cut.summary" ||
	{ cat "$W/cut.summary"; unw_fail "xprof report of cut failed"; }
tail -n 1 "$W/cut.summary" | sed 's/^/  /'
unw_chain "$W/cut.folded" deep_leaf "(deep_recurse;){100,}deep_leaf"
pct_at_least "--stack-max 64K truncated" "$(unw_summary_pct cut truncated)" 90
echo "ok: capture deep"
