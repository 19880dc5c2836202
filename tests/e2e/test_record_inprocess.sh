#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `record -o x.folded -o x.svg` runs the report pipeline in process on the
# live event stream (issue 11): under strace the run creates no file but its
# outputs (each written beside itself under a temporary name and renamed) and
# cache entries, and removes none, so no temporary .xprof exists at any moment; the outputs
# hold the target's stacks and are byte-identical to a report of an .xprof
# recorded in the same run; only .xprof outputs make a recording.
set -u
. "$(dirname "$0")/lib_e2e.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { e2e_skip "$@"; }
[ "$(id -u)" = 0 ] || skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF"
command -v strace >/dev/null || skip "no strace"
SPIN=$XPROF_BUILD/progs/rec_spin
[ -x "$SPIN" ] || fail "no $SPIN: run make unit-bins"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir "$T/out" "$T/tmp"
export XDG_CACHE_HOME=$T/cache TMPDIR=$T/tmp

# Warm the caches (unwind tables, symbol indexes), so the traced run below mostly reads them.
timeout 60 "$XPROF" record -F 499 -o "$T/warm.folded" -- "$SPIN" 1 0.3 4 >/dev/null 2>"$T/err" ||
	fail "warm-up record: $(cat "$T/err")"

timeout 120 strace -f -qq -e trace=openat,open,creat,rename,renameat,renameat2,unlink,unlinkat \
	-o "$T/trace" "$XPROF" record -F 499 -o "$T/out/x.folded" -o "$T/out/x.svg" -- \
	"$SPIN" 2 1 6 >"$T/spin.out" 2>"$T/err" || fail "record under strace: $(cat "$T/err")"
grep -q "recurse;recurse;recurse;recurse;recurse;recurse;burn" "$T/out/x.folded" ||
	fail "x.folded lacks the 6-deep recursion: $(head -3 "$T/out/x.folded")"
grep -q "<svg" "$T/out/x.svg" && grep -q "burn" "$T/out/x.svg" || fail "x.svg lacks burn()"

# Every file created is an output or a temporary name beside one, renamed over it.
created=$(grep -E 'open(at)?\(.*O_CREAT' "$T/trace" | grep -v ' = -1 ' |
	sed -E 's/.*"([^"]*)".*/\1/' | sort -u)
[ -n "$created" ] || fail "strace saw no file created (did it trace openat?): $(head -5 "$T/trace")"
renamed=$(grep -E 'rename(at2?)?\(' "$T/trace" | grep -v ' = -1 ')
for f in $created; do
	case "$f" in
	"$T/out/x.folded" | "$T/out/x.svg") ;;
	"$T/cache/"*) ;; # the unwind table and symbol caches, written atomically
	"$T/out/"*)
		echo "$renamed" | grep -q "\"$f\".*\"$T/out/x\.\(folded\|svg\)\"" ||
			fail "created '$f' beside the outputs and never renamed over one" ;;
	*) fail "created '$f', not an output: a temporary file?" ;;
	esac
done
removed=$(grep -E 'unlink(at)?\(' "$T/trace" | grep -v ' = -1 ' || true)
[ -z "$removed" ] || fail "files removed during the run: $removed"
grep -q '\.xprof"' "$T/trace" && fail "an .xprof was opened: $(grep '\.xprof"' "$T/trace" | head -3)"
[ -z "$(ls -A "$T/tmp")" ] || fail "left in TMPDIR: $(ls -A "$T/tmp")"
echo "ok: no temporary file: created only $(echo $created | wc -w) output files, removed none"

# The live profile equals the offline one of the same events.
timeout 60 "$XPROF" record -F 499 -o "$T/r.xprof" -o "$T/r.folded" -o "$T/r.svg" -- \
	"$SPIN" 2 0.5 5 >/dev/null 2>"$T/err" || fail "record with .xprof: $(cat "$T/err")"
grep -q "^xprof: [0-9]* samples, 0 lost, 1 processes, .* complete.*; wrote $T/r.xprof, $T/r.folded, $T/r.svg$" \
	"$T/err" || fail "summary line: $(cat "$T/err")"
"$XPROF" report -q -i "$T/r.xprof" -o "$T/o.folded" -o "$T/o.svg" || fail "report"
cmp -s "$T/r.folded" "$T/o.folded" || fail "live .folded differs from the report's: $(diff "$T/r.folded" "$T/o.folded" | head -5)"
cmp -s "$T/r.svg" "$T/o.svg" || fail "live .svg differs from the report's"
echo "ok: live folded and SVG byte-identical to a report of the same recording"
echo "all in-process checks passed"
