#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: callee-saved registers carried across frames. With
# LD_BIND_NOT=1 every PLT call of python3 goes through ld.so's lazy-binding
# trampoline, whose CFA is rbx + 32; its callee _dl_fixup saved rbx. Unwinding
# that needs rbx restored from _dl_fixup's frame: bad-rule must stay below
# 0.1% (it was 42% when only rip, rsp and rbp were carried), and the
# trampoline must never be where a walk ends.
. "$(dirname "$0")/lib_unwind.sh"
unw_init
command -v python3 >/dev/null || unw_fail "python3 is not installed"
PY=$(readlink -f "$(command -v python3)")

LD_BIND_NOT=1 unw_xprof py "$PY" "$XPROF_TOP/tests/progs/unw_pybusy.py" "$UNW_SECONDS"
bad=$(unw_summary_pct py bad-rule)
echo "  bad-rule: $bad%"
awk -v t="$bad" 'BEGIN { exit !(t < 0.1) }' || unw_fail "bad-rule $bad%, want < 0.1%"
# Samples with the trampoline on the stack: it must have a caller (the walk
# went on past it) in all of them. The folded root is the comm, so the
# trampoline as outermost frame reads "python3;_dl_runtime_resolve...".
awk '/_dl_runtime_resolve/ { n += $NF; if ($0 ~ /^[^;]*;_dl_runtime_resolve/) end += $NF }
     END { printf "  samples through the lazy-binding trampoline: %d, walks that end in it: %d\n", n, end
	   exit !(n >= 100 && end == 0) }' "$W/py.folded" ||
	unw_fail "too few samples in the trampoline, or walks that end there"
echo "ok: ldbind"
