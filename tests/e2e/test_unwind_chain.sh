#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: an -O2 -fomit-frame-pointer call chain (only the unwind
# tables can walk it) and the same program built with frame pointers as the
# control; the exact chain main..chain_leaf rooted at _start in >= 99% of the
# leaf's samples, and at least as often as perf --call-graph dwarf.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="$UNW_ROOT;chain_a;chain_b;chain_c;chain_leaf"
unw_xprof nofp "$PROGS/unw_chain" "$UNW_SECONDS"
unw_chain "$W/nofp.folded" chain_leaf "$CHAIN"
unw_xprof fp "$PROGS/unw_chain_fp" "$UNW_SECONDS"
unw_chain "$W/fp.folded" chain_leaf "$CHAIN"
unw_perf nofp "$PROGS/unw_chain" "$UNW_SECONDS"
unw_vs_perf nofp chain_leaf "$CHAIN" ge
echo "ok: chain"
