#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The on-disk caches are trusted only when they are the caller's alone
# (issue 14, item 5):
#  - a cache directory writable by group or others, or owned by another user,
#    is refused with one line naming it and the fix; the report goes on
#    without the cache, gives the same stacks, and writes nothing there (nor,
#    as with --no-cache, into a throw-away directory);
#  - links planted by another user for the cache's subdirectories are not
#    followed: nothing is written where they point;
#  - an unwind table file swapped with another build-id's table is rejected
#    and rebuilt: the stacks stay those of a fresh run.
set -u
. "$(dirname "$0")/lib_e2e.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { e2e_skip "$@"; }
[ "$(id -u)" = 0 ] || skip "needs root (BPF, chown)"
SPIN=$XPROF_BUILD/progs/rec_spin
[ -x "$SPIN" ] || fail "no $SPIN: run make unit-bins"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"

"$XPROF" record -F 499 -o "$T/rec.xprof" -- "$SPIN" 1 0.5 3 >/dev/null 2>"$T/err" ||
	fail "record: $(cat "$T/err")"
"$XPROF" report -q --no-cache -i "$T/rec.xprof" -o "$T/ref.folded" || fail "report --no-cache"
grep -q "recurse" "$T/ref.folded" || fail "reference lacks the test's frames: $(head -3 "$T/ref.folded")"
same() { # folded files with the same stacks and counts
	cmp -s <(sort "$1") <(sort "$2")
}

# ---- shared directories --------------------------------------------------------
mkdir "$T/shared"
chmod 1777 "$T/shared"
"$XPROF" report -q --cache-dir "$T/shared" -i "$T/rec.xprof" -o "$T/a.folded" 2>"$T/err" ||
	fail "report with a shared cache dir: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "shared dir: not one line: $(cat "$T/err")"
grep -q "^xprof: cache directory '$T/shared' is writable by group or others; run 'chmod go-w $T/shared' or give --cache-dir DIR; going on without the cache$" "$T/err" ||
	fail "shared dir: $(cat "$T/err")"
same "$T/a.folded" "$T/ref.folded" || fail "shared dir: other stacks than without a cache"
[ -z "$(ls -A "$T/shared")" ] || fail "shared dir: written into: $(ls -A "$T/shared")"

# Without a cache (refused, or --no-cache) nothing goes to disk: no throw-away /tmp directory per run.
if command -v strace >/dev/null; then
	for opt in "--cache-dir $T/shared" --no-cache; do
		strace -f -e trace=mkdir,mkdirat,openat -o "$T/trace" \
			"$XPROF" report -q $opt -i "$T/rec.xprof" -o "$T/a.folded" 2>/dev/null ||
			fail "report $opt under strace"
		grep -E 'mkdir|\.tab' "$T/trace" | grep -v ENOENT | grep -q . &&
			fail "report $opt made directories or table files: $(grep -E 'mkdir|\.tab' "$T/trace" | head -3)"
	done
	echo "ok: without a cache, no directory or table file is created"
fi

chmod 700 "$T/shared"
chown 65534:65534 "$T/shared"
"$XPROF" report -q --cache-dir "$T/shared" -i "$T/rec.xprof" -o "$T/a.folded" 2>"$T/err" ||
	fail "report with another user's cache dir: $(cat "$T/err")"
grep -q "^xprof: cache directory '$T/shared' belongs to uid 65534, not to you; .*going on without the cache$" "$T/err" ||
	fail "another user's dir: $(cat "$T/err")"
[ -z "$(ls -A "$T/shared")" ] || fail "another user's dir: written into"
echo "ok: shared cache directories refused, one line each, same stacks"

# ---- links planted for the subdirectories ------------------------------------------
# The subdirectory names, from a cache made in a fresh directory.
"$XPROF" report -q --cache-dir "$T/probe" -i "$T/rec.xprof" -o "$T/p.folded" || fail "report --cache-dir probe"
subs=$(ls "$T/probe")
[ -n "$subs" ] || fail "the probe cache is empty"
mkdir -m 700 "$T/mine" "$T/elsewhere"
for s in $subs; do
	ln -s "$T/elsewhere" "$T/mine/$s"
	chown -h 65534:65534 "$T/mine/$s"
done
"$XPROF" report -q --cache-dir "$T/mine" -i "$T/rec.xprof" -o "$T/m.folded" 2>"$T/err" ||
	fail "report with planted links: $(cat "$T/err")"
grep -q "^xprof: cache directory '$T/mine/.*' is a symbolic link; .*going on without the cache$" "$T/err" ||
	fail "planted links: $(cat "$T/err")"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "wrote through a planted link: $(ls -A "$T/elsewhere")"
same "$T/m.folded" "$T/ref.folded" || fail "planted links: other stacks"
echo "ok: links planted for $(echo $subs) not followed"

# ---- a swapped table -----------------------------------------------------------------
bid() { readelf -n "$1" 2>/dev/null | awk '/Build ID/ { print $3; exit }'; }
spin_bid=$(bid "$SPIN")
libc=$(ldd "$SPIN" | awk '/libc.so/ { print $3 }')
libc_bid=$(bid "$libc")
[ -n "$spin_bid" ] && [ -n "$libc_bid" ] || fail "no build-id for $SPIN or $libc"
"$XPROF" report -q --cache-dir "$T/c" -i "$T/rec.xprof" -o "$T/b1.folded" || fail "report to fill the cache"
same "$T/b1.folded" "$T/ref.folded" || fail "cached run: other stacks than without a cache"
spin_tab=$(find "$T/c" -name "$spin_bid.tab")
libc_tab=$(find "$T/c" -name "$libc_bid.tab")
[ -f "$spin_tab" ] && [ -f "$libc_tab" ] || fail "no cached tables: $(find "$T/c" -name '*.tab')"
cp "$libc_tab" "$spin_tab"
"$XPROF" report -q --cache-dir "$T/c" -i "$T/rec.xprof" -o "$T/b2.folded" || fail "report with a swapped table"
same "$T/b2.folded" "$T/ref.folded" || {
	diff <(sort "$T/ref.folded") <(sort "$T/b2.folded") | head -5
	fail "a table swapped with libc's changed the stacks"
}
cmp -s "$spin_tab" "$libc_tab" && fail "the swapped table was not rewritten"
echo "ok: a table swapped with libc's was rejected and rebuilt"
echo "all cache trust checks passed"
