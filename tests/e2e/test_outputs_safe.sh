#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Outputs are created safely (issue 14, items 3, 6 and 7's writer half):
#  - a symbolic link of another user at an -o path is refused (record and
#    report, every format) and its target left alone; the caller's own link is
#    written through;
#  - a second `record` to the same .xprof fails at once, the first one's file
#    stays whole;
#  - a full disk (a 64 KiB tmpfs) says "no space left on device: PATH", the
#    other outputs are still written, the .xprof keeps its prefix and `info`
#    says why it ends early, and .folded/.svg outputs leave no 0-byte files.
set -u
. "$(dirname "$0")/lib_e2e.sh"
fail() { echo "FAIL: $*"; exit 1; }
skip() { e2e_skip "$@"; }
[ "$(id -u)" = 0 ] || skip "needs root (BPF, lchown, mount)"
SPIN=$XPROF_BUILD/progs/rec_spin
[ -x "$SPIN" ] || fail "no $SPIN: run make unit-bins"
T=$(mktemp -d)
MNT=$T/small
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"

# A recording to report from.
"$XPROF" record -F 499 -o "$T/rec.xprof" -- "$SPIN" 1 0.5 3 >/dev/null 2>"$T/err" ||
	fail "record: $(cat "$T/err")"

# ---- another user's link ----------------------------------------------------
echo "precious" >"$T/victim"
for out in x.folded x.svg x.pb.gz x.xprof; do
	ln -s "$T/victim" "$T/$out"
	chown -h 65534:65534 "$T/$out"
	"$XPROF" record -o "$T/$out" -- true >/dev/null 2>"$T/err" && fail "record -o $out through another user's link succeeded"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "record -o $out: not one line: $(cat "$T/err")"
	grep -q "^xprof: cannot write '$T/$out': a symbolic link owned by another user" "$T/err" ||
		fail "record -o $out: $(cat "$T/err")"
	if [ "$out" != x.xprof ]; then
		"$XPROF" report -i "$T/rec.xprof" -o "$T/$out" 2>"$T/err" && fail "report -o $out through another user's link succeeded"
		grep -q "a symbolic link owned by another user" "$T/err" || fail "report -o $out: $(cat "$T/err")"
	fi
	[ "$(cat "$T/victim")" = precious ] || fail "-o $out wrote through another user's link"
	[ -L "$T/$out" ] || fail "-o $out: the link was replaced"
	rm -f "$T/$out"
done
echo "ok: another user's links refused, targets untouched"

# The caller's own link: written through, the link stays.
ln -s "$T/mine.target" "$T/mine.folded"
"$XPROF" report -q -i "$T/rec.xprof" -o "$T/mine.folded" || fail "report through the caller's own link"
[ -L "$T/mine.folded" ] || fail "own link replaced by a file"
grep -q "recurse" "$T/mine.target" || fail "own link: target lacks the stacks: $(head -3 "$T/mine.target")"
echo "ok: the caller's own link is written through"

# ---- two writers, one .xprof --------------------------------------------------
"$XPROF" record -d 3 -o "$T/same.xprof" -- "$SPIN" 1 3 3 >/dev/null 2>"$T/err1" &
first=$!
for _ in $(seq 50); do [ -s "$T/same.xprof" ] && break; sleep 0.1; done
"$XPROF" record -d 1 -o "$T/same.xprof" -- "$SPIN" 1 1 3 >/dev/null 2>"$T/err2" &&
	fail "a second record to the same .xprof succeeded"
[ "$(wc -l <"$T/err2")" = 1 ] || fail "second writer: not one line: $(cat "$T/err2")"
grep -q "^xprof: cannot write '$T/same.xprof': being written by another process" "$T/err2" ||
	fail "second writer: $(cat "$T/err2")"
wait $first || fail "first writer: $(cat "$T/err1")"
"$XPROF" info "$T/same.xprof" >"$T/info" 2>&1 || fail "info after two writers: $(cat "$T/info")"
grep -q "^complete: yes" "$T/info" || fail "two writers: $(cat "$T/info")"
echo "ok: a second writer is refused, the first file is whole"

# ---- full disk -----------------------------------------------------------------
mkdir -p "$MNT" "$T/other"
mount -t tmpfs -o size=64k tmpfs "$MNT" || skip "cannot mount a tmpfs"

# The .xprof fills the disk: the other output is still made from its prefix.
"$XPROF" record -F 999 -d 2 -o "$MNT/full.xprof" -o "$T/other/x.folded" -- "$SPIN" 1 2 3 \
	>/dev/null 2>"$T/err" && fail "record on a full disk exited 0"
grep -q "^xprof: no space left on device: $MNT/full.xprof$" "$T/err" || fail "full .xprof: $(cat "$T/err")"
grep -qi "input/output error" "$T/err" && fail "full .xprof: EIO instead of ENOSPC: $(cat "$T/err")"
grep -q "recurse" "$T/other/x.folded" || fail "the other output lacks the stacks: $(cat "$T/err")"
"$XPROF" info "$MNT/full.xprof" >"$T/info" 2>&1 || fail "info on the prefix: $(cat "$T/info")"
grep -q "^complete: no (truncated: writing stopped: no space left on device)" "$T/info" ||
	fail "info on the prefix: $(cat "$T/info")"
grep -q "^samples: [1-9]" "$T/info" || fail "the prefix kept no sample: $(cat "$T/info")"
echo "ok: full .xprof: $(grep -c . "$T/other/x.folded") stacks in the other output, prefix marked"
rm -f "$MNT/full.xprof"

# Folded/SVG outputs on the full disk: no 0-byte files, the output elsewhere written.
dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
"$XPROF" record -o "$MNT/a.folded" -o "$MNT/b.svg" -o "$T/other/c.folded" -- "$SPIN" 1 0.3 3 \
	>/dev/null 2>"$T/err" && fail "record of outputs on a full disk exited 0"
grep -q "^xprof: no space left on device: $MNT/a.folded$" "$T/err" || fail "full .folded: $(cat "$T/err")"
grep -q "^xprof: no space left on device: $MNT/b.svg$" "$T/err" || fail "full .svg: $(cat "$T/err")"
grep -q "recurse" "$T/other/c.folded" || fail "output beside full ones: $(cat "$T/err")"
left=$(ls -A "$MNT" | grep -v '^filler$')
[ -z "$left" ] || fail "files left on the full disk: $left"
"$XPROF" report -i "$T/rec.xprof" -o "$MNT/d.folded" -o "$T/other/e.folded" 2>"$T/err" &&
	fail "report on a full disk exited 0"
grep -q "^xprof: no space left on device: $MNT/d.folded$" "$T/err" || fail "report full: $(cat "$T/err")"
grep -q "recurse" "$T/other/e.folded" || fail "report: output beside the full one: $(cat "$T/err")"
[ -z "$(ls -A "$MNT" | grep -v '^filler$')" ] || fail "report left files on the full disk"
echo "ok: full .folded/.svg: one line each, no file left, other outputs written"
echo "all output checks passed"
