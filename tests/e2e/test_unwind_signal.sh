#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: samples inside a SIGPROF handler unwind through the
# sigreturn trampoline into the interrupted function (rbp-based CFA, looked
# up as a trap frame) and on to main; samples outside the handler too.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="$UNW_ROOT;sig_outer;sig_spin;__restore_rt;sig_handler;sig_handler_leaf"
PCHAIN="$UNW_ROOT;sig_outer;sig_spin;(__restore_rt|\[unknown\]);sig_handler;sig_handler_leaf"
unw_xprof sig "$PROGS/unw_signal" "$UNW_SECONDS"
unw_chain "$W/sig.folded" sig_handler_leaf "$CHAIN"
unw_chain "$W/sig.folded" sig_spin "$UNW_ROOT;sig_outer;sig_spin"
unw_perf sig "$PROGS/unw_signal" "$UNW_SECONDS"
# perf names the trampoline "[unknown]" (it looks up ip - 1): compare unwinding, not names.
unw_vs_perf sig sig_handler_leaf "$PCHAIN" ge
echo "ok: signal"
