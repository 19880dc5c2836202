#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Samples of exiting processes (issue 15, item 5): cap_exit's children tear
# down tens of thousands of mappings and 256 MiB in exit_mmap(), after
# exit_mm() has taken their address space away. Those samples have no user
# stack: the summary must count them as "exiting", never as "truncated" (a
# stack deeper than the copy), which is what they were counted as before.
. "$(dirname "$0")/lib_unwind.sh"
unw_init

unw_xprof exit "$PROGS/cap_exit" 4
e=$(unw_summary_pct exit exiting)
t=$(unw_summary_pct exit truncated)
echo "  exiting: $e%, truncated: $t%"
awk -v e="$e" 'BEGIN { exit !(e >= 1) }' || unw_fail "only $e% of the samples counted as exiting (want >= 1%)"
awk -v t="$t" 'BEGIN { exit !(t == 0) }' || unw_fail "$t% of the samples counted as truncated (want 0)"
echo "ok: capture exit"
