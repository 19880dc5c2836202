#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf.data without stack copies: `perf record -g` (perf's own frame-pointer
# callchain) and plain `perf record` (the sampled ip alone) of unw_chain_fp,
# a program built with frame pointers whose CPU time is all in
# main -> chain_a -> chain_b -> chain_c -> chain_leaf. `xprof report` must
# give that chain (-g) or that leaf (no -g) with real names, never ip 0 and
# "[unknown]", and say once that --call-graph dwarf gives complete stacks;
# a --call-graph dwarf recording gets no such line.
# Env: XPROF, XPROF_BUILD (test programs in $XPROF_BUILD/progs).
set -u
. "$(dirname "$0")/lib_e2e.sh"
: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
prog=$XPROF_BUILD/progs/unw_chain_fp
skip() { e2e_skip "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root for perf record"
command -v perf >/dev/null || skip "perf is not installed (linux-perf)"
[ -x "$prog" ] || fail "no $prog (make unit-bins builds it)"
W=$(mktemp -d /tmp/xprof-perf-callchain.XXXXXX)
trap 'rm -rf "$W"' EXIT

# The flags of test_perf_import.sh (--buildid-mmap works around perf 6.1 on
# kernel 6.18; --no-bpf-event leaves other sessions' BPF programs out).
record() { # name, perf options...
	local name=$1
	shift
	perf record -q --buildid-mmap --no-bpf-event -e cpu-clock -F 999 "$@" -o "$W/$name.data" \
		-- "$prog" 1 >/dev/null 2>"$W/$name.rec.err" ||
		{ cat "$W/$name.rec.err"; fail "perf record $* failed"; }
}
report() { # name: report to $W/name.folded, stderr in $W/name.err
	"$XPROF" report -i "$W/$1.data" -o "$W/$1.folded" 2>"$W/$1.err" ||
		{ cat "$W/$1.err"; fail "xprof report -i $1.data failed"; }
	sed 's/^/  /' "$W/$1.err"
}
# share NAME REGEX: samples of unw_chain_fp whose user frames (inlined and kernel
# frames dropped) match REGEX, as "matching total".
share() {
	awk -v re="$2" '{
		n = $NF; sub(/ [0-9]+$/, "")
		if ($0 !~ /^unw_chain_fp;/) next
		k = split($0, f, ";"); s = ""
		for (i = 2; i <= k; i++) if (f[i] !~ /_\[[ik]\]$/) s = s ";" f[i]
		tot += n; if (s ~ re) hit += n
	} END { print hit + 0, tot + 0 }' "$W/$1.folded"
}
at_least() { # name, regex, what, percent
	read -r hit tot < <(share "$1" "$2")
	echo "  $1: $hit of $tot samples $3"
	[ "$tot" -ge 100 ] || fail "$1: only $tot samples of unw_chain_fp"
	[ $((100 * hit)) -ge $(($4 * tot)) ] || { sort -t' ' -k2 -nr "$W/$1.folded" | head -5; fail "$1: fewer than $4% $3"; }
}
hint() { grep -c -- "--call-graph dwarf' gives complete stacks" "$W/$1.err"; }

# 1. perf record -g: the whole chain, innermost last, from perf's callchain.
record fp -g
report fp
at_least fp ';main;chain_a;chain_b;chain_c;chain_leaf$' "end in main;chain_a;chain_b;chain_c;chain_leaf" 90
[ "$(hint fp)" = 1 ] || fail "fp: the --call-graph dwarf hint is not there exactly once"
grep -q 'perf callchains (not unwound)' "$W/fp.err" || fail "fp: the summary does not say the stacks are perf's callchains"

# 2. plain perf record: the sampled function, named.
record plain
report plain
at_least plain '^;chain_leaf$' "are chain_leaf alone" 90
[ "$(hint plain)" = 1 ] || fail "plain: the --call-graph dwarf hint is not there exactly once"

# 3. --call-graph dwarf: unwound by xprof, no hint.
record dwarf --call-graph dwarf
report dwarf
at_least dwarf ';main;chain_a;chain_b;chain_c;chain_leaf$' "end in main;chain_a;chain_b;chain_c;chain_leaf" 90
[ "$(hint dwarf)" = 0 ] || fail "dwarf: a hint for a recording that has stack copies"
echo "ok"
