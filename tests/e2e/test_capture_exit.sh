#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Samples of exiting processes (issue 15, item 5): cap_exit's children tear
# down tens of thousands of mappings and 256 MiB in exit_mmap(), after
# exit_mm() has taken their address space away. Those samples have no user
# stack: the summary must count them as "exiting", not as "truncated" (a
# stack deeper than the copy), which is what they were counted as before
# (truncated 12.2%, exiting 0%).
. "$(dirname "$0")/lib_unwind.sh"
unw_init

unw_xprof exit "$PROGS/cap_exit" 4
e=$(unw_summary_pct exit exiting)
t=$(unw_summary_pct exit truncated)
echo "  exiting: $e%, truncated: $t%"
awk -v e="$e" 'BEGIN { exit !(e >= 1) }' || unw_fail "only $e% of the samples counted as exiting (want >= 1%)"
# (not 0: a tick that lands in the fault of a new stack page has no stack either)
awk -v t="$t" 'BEGIN { exit !(t < 1) }' || unw_fail "$t% of the samples counted as truncated (want < 1%)"
echo "ok: capture exit"
