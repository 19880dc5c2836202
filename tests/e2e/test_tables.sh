#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# xprof tables: the dump of a committed fixture matches its golden file; the
# rules at known addresses of libc (the signal trampoline, the PLT, the clone
# child) are the right kinds; the summary of libc is complete and compact;
# bad input gets one clear line and a non-zero exit.
set -u
: "${XPROF:?}" "${XPROF_TOP:?}" "${XPROF_BUILD:?}"
cd "$XPROF_TOP" || exit 1
fail() { echo "test_tables: $*" >&2; exit 1; }
LIBC=/lib/x86_64-linux-gnu/libc.so.6

# 1. golden dump of the fixture (tests/fixtures/cfi/README.md)
out=$("$XPROF" tables tests/fixtures/cfi/odd.elf) || fail "tables odd.elf failed"
diff -u tests/fixtures/cfi/odd.tables.txt <(printf '%s\n' "$out") || fail "odd.elf dump differs from the golden file"

# 2. known addresses in libc, found independently with readelf
sig=$(readelf --debug-dump=frames "$LIBC" | awk '
	$4 == "CIE" { cie=$1 } /Augmentation: *"zRS"/ { s[cie]=1 }
	/ FDE cie=/ { split($5, a, "="); split($6, p, "[=.]"); if (s[a[2]]) { print p[2]; exit } }')
[ -n "$sig" ] || fail "no zRS FDE in $LIBC"
"$XPROF" tables "$LIBC" --addr "$sig" | grep -q ': signal ' || fail "signal frame at $sig not recognized"
"$XPROF" tables "$LIBC" --addr "$(printf '%x' $((0x$sig + 1)))" | grep -q ': signal ' ||
	fail "signal frame at $sig+1 not recognized"
plt=$(readelf -SW "$LIBC" | awk '$2 == ".plt" { print $4 }')
[ -n "$plt" ] || fail "no .plt in $LIBC"
"$XPROF" tables "$LIBC" --addr "$(printf '%x' $((0x$plt + 16 + 11)))" | grep -q ': plt ' ||
	fail "PLT entry at .plt+27 not recognized"
# the clone child: RA undefined after the syscall
clone=$("$XPROF" tables "$LIBC" | grep -c 'outermost')
[ "$clone" -ge 2 ] || fail "expected the clone and clone3 children as outermost rows, got $clone"

# labels: libc6-dbg's .symtab names the trampoline of the signal row
bid=$(readelf -n "$LIBC" | sed -n 's/.*Build ID: //p')
dbg=/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
if [ -r "$dbg" ]; then
	"$XPROF" tables "$LIBC" --debug-file "$dbg" | grep -A1 '^__restore_rt' | grep -q ' signal ' ||
		fail "no __restore_rt label before the signal row"
else
	echo "test_tables: $dbg missing (libc6-dbg): label check skipped"
fi

# 3. summary
sum=$("$XPROF" tables --summary "$LIBC") || fail "summary failed"
echo "$sum"
echo "$sum" | grep -q 'bad-fde 0' || fail "libc has bad FDEs"
echo "$sum" | grep -q 'cfa-expression 0, register-expression 0, ra-location 0, rbp-location 0' ||
	fail "libc has unrepresentable rows"
ratio=$(echo "$sum" | sed -n 's/.*ratio \([0-9.]*\)$/\1/p')
awk -v r="$ratio" 'BEGIN { exit !(r > 0 && r < 1) }' || fail "table not smaller than .eh_frame+hdr: ratio '$ratio'"
[ "$(echo "$sum" | grep -c '^entries: ')" = 1 ] || fail "no entries line"

# 4. a separate debug file adds the program's .debug_frame to the crt's .eh_frame
fdes() { "$XPROF" tables --summary "$@" | sed -n 's/^fdes: \([0-9]*\),.*/\1/p'; }
n0=$(fdes "$XPROF_BUILD/progs/cfi_dbg.stripped")
n1=$(fdes "$XPROF_BUILD/progs/cfi_dbg.stripped" --debug-file "$XPROF_BUILD/progs/cfi_dbg.debug")
[ -n "$n0" ] && [ -n "$n1" ] && [ "$n1" -gt "$n0" ] || fail "debug file added no FDEs ($n0 -> $n1)"

# 5. bad input: one line, naming the file, exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# No CFI and no symbols: nothing to read rows from, nor function bounds for
# rows synthesized from machine code (with symbols, those would be a table).
objcopy --strip-all --remove-section .eh_frame --remove-section .eh_frame_hdr \
	"$XPROF_BUILD/progs/cfi_dbg.stripped" "$tmp/nocfi" || fail "objcopy"
expect_error() { # pattern, args...
	local pat=$1; shift
	local err rc
	err=$("$XPROF" tables "$@" 2>&1 >/dev/null); rc=$?
	[ $rc = 1 ] || fail "'xprof tables $*' exited $rc, expected 1"
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "'xprof tables $*': more than one line: $err"
	printf '%s\n' "$err" | grep -q "$pat" || fail "'xprof tables $*': '$err' does not match '$pat'"
}
expect_error "xprof: cannot read '$tmp/missing': No such file or directory" "$tmp/missing"
expect_error "xprof: '/etc/passwd' is not an x86-64 ELF" /etc/passwd
expect_error "xprof: '$tmp/nocfi' has no unwind information" "$tmp/nocfi"
# cut short (a copy that did not finish): said so, not blamed on missing unwind information
head -c 4096 "$XPROF_BUILD/progs/cfi_dbg.stripped" >"$tmp/cut"
expect_error "xprof: '$tmp/cut' is truncated: 4096 bytes, but its ELF headers describe [0-9]*; copy the whole file again" "$tmp/cut"
head -c $(($(stat -c %s "$LIBC") - 100)) "$LIBC" >"$tmp/libc-cut"
expect_error "xprof: '$tmp/libc-cut' is truncated" "$tmp/libc-cut"
expect_error "xprof: '$tmp/cut' is truncated" "$LIBC" --debug-file "$tmp/cut"
"$XPROF" tables --addr zz "$LIBC" >/dev/null 2>&1 && fail "bad --addr accepted"
echo "test_tables: ok"
