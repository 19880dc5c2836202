#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: a SIGPROF handler on a sigaltstack. The interrupted
# frames are on the main stack, which a copy from the handler's sp never
# reaches: xprof continues on the second segment the recorder captured, perf
# cannot, so xprof must be complete far more often.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="$UNW_ROOT;sig_outer;sig_spin;__restore_rt;sig_handler;sig_handler_leaf"
PCHAIN="$UNW_ROOT;sig_outer;sig_spin;(__restore_rt|\[unknown\]);sig_handler;sig_handler_leaf"
unw_xprof alt "$PROGS/unw_signal" "$UNW_SECONDS" alt
unw_chain "$W/alt.folded" sig_handler_leaf "$CHAIN"
unw_chain "$W/alt.folded" sig_spin "$UNW_ROOT;sig_outer;sig_spin"
unw_perf alt "$PROGS/unw_signal" "$UNW_SECONDS" alt
# perf names the trampoline "[unknown]" (it looks up ip - 1): compare unwinding, not names.
unw_vs_perf alt sig_handler_leaf "$PCHAIN" gt
echo "ok: sigaltstack"
