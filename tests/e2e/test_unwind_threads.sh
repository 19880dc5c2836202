#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: three threads, each stack rooted at the clone child
# (clone3 -> start_thread, return address undefined there), not at main.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

CHAIN="clone3;start_thread;thread_main;thread_work;thread_leaf"
unw_xprof thr "$PROGS/unw_threads" "$UNW_SECONDS"
unw_chain "$W/thr.folded" thread_leaf "$CHAIN"
unw_perf thr "$PROGS/unw_threads" "$UNW_SECONDS"
unw_vs_perf thr thread_leaf "$CHAIN" ge
echo "ok: threads"
