#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: samples on a PLT stub (plt_loop calls a one-line
# library function in a tight loop through the executable's lazy PLT) unwind
# with the PLT rule and stay rooted at main, as do those in the function.
. "$(dirname "$0")/lib_unwind.sh"
unw_init
# The stub has no symbol of its own: perf says "_init", others "name@plt" or "[unw_plt+0x...]".
STUB='_init|pltlib_tiny@plt|\[unw_plt\+0x[0-9a-f]+\]'
unw_xprof plt "$PROGS/unw_plt" "$UNW_SECONDS"
unw_chain "$W/plt.folded" "$STUB" "$UNW_ROOT;plt_loop;($STUB)" 99 50
unw_chain "$W/plt.folded" pltlib_tiny "$UNW_ROOT;plt_loop;pltlib_tiny"
unw_perf plt "$PROGS/unw_plt" "$UNW_SECONDS"
unw_vs_perf plt "$STUB" "$UNW_ROOT;plt_loop;($STUB)" ge
echo "ok: plt"
