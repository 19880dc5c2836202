#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: samples on a PLT stub (plt_loop calls a one-line
# library function in a tight loop through the executable's lazy PLT) unwind
# with the PLT rule and stay rooted at main, as do those in the function.
# Then with LD_BIND_NOT=1 every call goes through the second half of the
# stub, PLT0 and ld.so's _dl_runtime_resolve (CFA = rbx + 32 after its
# stack realignment): samples there must be rooted too. (Samples deeper, in
# _dl_fixup, stop as bad-rule: the tables do not say where callees saved
# rbx; printed, not asserted.)
. "$(dirname "$0")/lib_unwind.sh"
unw_init
# The stub has no symbol of its own: perf says "_init", others "name@plt" or "[unw_plt+0x...]".
STUB='_init|pltlib_tiny@plt|\[unw_plt\+0x[0-9a-f]+\]'
unw_xprof plt "$PROGS/unw_plt" "$UNW_SECONDS"
unw_chain "$W/plt.folded" "$STUB" "$UNW_ROOT;plt_loop;($STUB)" 99 50
unw_chain "$W/plt.folded" pltlib_tiny "$UNW_ROOT;plt_loop;pltlib_tiny"
unw_perf plt "$PROGS/unw_plt" "$UNW_SECONDS"
unw_vs_perf plt "$STUB" "$UNW_ROOT;plt_loop;($STUB)" ge

RESOLVE='_dl_runtime_resolve[^;]*|\[unw_plt\+0x[0-9a-f]+\]'
(export LD_BIND_NOT=1; unw_xprof lazy "$PROGS/unw_plt" "$UNW_SECONDS") || exit 1
unw_chain "$W/lazy.folded" "$RESOLVE" "$UNW_ROOT;plt_loop;($RESOLVE)"
echo "  lazy binding: bad-rule $(unw_summary_pct lazy bad-rule)% (samples below _dl_runtime_resolve)"
echo "ok: plt"
