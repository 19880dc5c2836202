#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A CPU-burning signal handler on a sigaltstack: samples taken in it carry
# XP_SAMPLE_F_ALTSTACK and a second stack segment, the interrupted stack,
# which holds the marker the interrupted function keeps at the address it
# printed, and starts below it, off the altstack.
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
P=$XPROF_BUILD/progs
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

timeout 60 "$XPROF" record -F 999 -o "$T/alt.xprof" -- "$P/rec_alt" 1.5 >"$T/alt.out" 2>"$T/err" || fail "record: $(cat "$T/err")"
read -r _ addr val < <(grep '^mark' "$T/alt.out")
read -r _ alt altsz < <(grep '^altstack' "$T/alt.out")
"$P/rec_check" -w "$addr" "$T/alt.xprof" >"$T/chk" || fail "rec_check"
total=$(grep -c '^S ' "$T/chk")
onalt=$(grep -c '^S .* alt=1 ' "$T/chk")
withs2=$(grep -c '^S .* alt=1 s2=1 ' "$T/chk")
good=$(grep -c "^S .* word=$val alt=1 s2=1 " "$T/chk")
echo "samples $total, on the altstack $onalt, with stack2 $withs2, stack2 holding the marker $good"
[ "$onalt" -ge $((total / 5)) ] || fail "only $onalt of $total samples on the altstack"
[ "$withs2" -ge $((onalt * 95 / 100)) ] || fail "only $withs2 of $onalt altstack samples have a second segment"
[ "$good" -ge $((withs2 * 95 / 100)) ] || fail "only $good of $withs2 second segments hold $val at $addr"
# The second segment starts at the interrupted sp: below the marker, not on the altstack.
a=$(printf '%d' "$addr") lo=$(printf '%d' "$alt")
awk -v a="$a" -v lo="$lo" -v sz="$altsz" '$1=="S" && / s2=1 / {
	for (i = 1; i <= NF; i++) if ($i ~ /^s2sp=/) split($i, s, "="); st = s[2] + 0;
	if (st > a + 0 || (st >= lo + 0 && st < lo + sz)) bad++ } END {exit bad+0}' "$T/chk" ||
	fail "a second segment starts above the marker or on the altstack"
echo "ok"
