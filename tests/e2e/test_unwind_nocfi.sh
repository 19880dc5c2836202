#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: an assembly function without any CFI that keeps a frame
# pointer: the walker falls back to the frame-pointer chain for it (and the
# report says so), both when sampled in it and in the C leaf it calls.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

unw_xprof nc "$PROGS/unw_nocfi" "$UNW_SECONDS"
unw_chain "$W/nc.folded" nocfi_leaf "$UNW_ROOT;nocfi_caller;asm_fp_spin;nocfi_leaf"
unw_chain "$W/nc.folded" asm_fp_spin "$UNW_ROOT;nocfi_caller;asm_fp_spin" 99 20
fp=$(unw_summary_pct nc "via frame pointers")
echo "  via frame pointers: $fp%"
awk -v t="$fp" "BEGIN { exit !(t >= 90) }" || unw_fail "only $fp% of the samples marked as frame-pointer unwound"
unw_perf nc "$PROGS/unw_nocfi" "$UNW_SECONDS"
unw_vs_perf nc nocfi_leaf "$UNW_ROOT;nocfi_caller;asm_fp_spin;nocfi_leaf" ge
echo "ok: nocfi"
