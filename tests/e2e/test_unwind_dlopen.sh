#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: a library opened with dlopen() after the process
# started; its frames unwind with its own table and lead back to main.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="$UNW_ROOT;dl_caller;dllib_entry;dllib_mid;dllib_leaf"
unw_xprof dl "$PROGS/unw_dlopen" "$UNW_SECONDS"
unw_chain "$W/dl.folded" dllib_leaf "$CHAIN"
unw_perf dl "$PROGS/unw_dlopen" "$UNW_SECONDS"
unw_vs_perf dl dllib_leaf "$CHAIN" ge
echo "ok: dlopen"
