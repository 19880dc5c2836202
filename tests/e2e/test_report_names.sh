#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Thread and process names survive the report's name table growing (issue 14,
# item 1): a program forks 200 short-lived children per second for 2 s, each
# inheriting its worker thread's name; the sanitized xprof reports the
# recording three times. Every root frame must be one of the program's own
# names, every child_work sample must sit under its worker's name, and the
# three outputs must be identical byte for byte (a use-after-free in the name
# table gave garbage names that changed from run to run, or an ASan report).
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
ASAN_XPROF=${XPROF_ASAN:-$XPROF_TOP/build-asan/xprof}
[ -x "$ASAN_XPROF" ] || e2e_skip "no sanitized xprof at $ASAN_XPROF (make SANITIZE=1 unit-bins)"
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
unset DEBUGINFOD_URLS

timeout 60 "$XPROF" record -F 999 -o "$T/names.xprof" -- "$P/rec_churn" 2 100 2 1000 \
	>"$T/churn.out" 2>"$T/rec.err" || fail "record rec_churn: $(cat "$T/rec.err")"
pid=$(awk '$1=="pid"{print $2}' "$T/churn.out")
kids=$(awk '$1=="children"{print $2}' "$T/churn.out")
[ "${kids:-0}" -ge 300 ] || fail "only ${kids:-0} children forked"
forks=$("$XPROF" info --dump "$T/names.xprof" | grep -c '^fork ')
[ "$forks" -ge 300 ] || fail "only $forks fork records for $kids children"
ok "$kids children, $forks fork records"

for i in 1 2 3; do
	timeout 120 "$ASAN_XPROF" report --no-debuginfod --no-cache --pid -i "$T/names.xprof" \
		-o "$T/r$i.folded" 2>"$T/r$i.err" || fail "sanitized report $i: $(head -20 "$T/r$i.err")"
	grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/r$i.err" && fail "sanitizer: $(head -20 "$T/r$i.err")"
done
cmp -s "$T/r1.folded" "$T/r2.folded" && cmp -s "$T/r1.folded" "$T/r3.folded" ||
	fail "three reports of one file differ"
ok "three reports identical"

# Roots are "comm-PID": the program's main thread is rec_churn, its workers and
# their children churnw0 and churnw1, and xprof's launcher before the exec
# xprof-exec; nothing else was recorded.
bad=$(awk '{ split($1, f, ";"); r = f[1]; sub(/-[0-9]+$/, "", r);
	if (r != "rec_churn" && r != "churnw0" && r != "churnw1" && r != "xprof-exec") print r }' \
	"$T/r1.folded" | sort | uniq -c)
[ -z "$bad" ] || fail "unexpected root names: $bad"
children=$(awk -v p="$pid" '{ split($1, f, ";"); n = split(f[1], r, "-"); if (r[n] != p) print r[n] }' \
	"$T/r1.folded" | sort -u | wc -l)
[ "$children" -ge 64 ] || fail "samples of only $children child processes: too few to grow the name table"
work=$(awk '/;child_work( |;)/ { s += $NF } END { print s + 0 }' "$T/r1.folded")
under=$(awk '/^churnw[01]-[0-9]+;.*;child_work( |;)/ { s += $NF } END { print s + 0 }' "$T/r1.folded")
[ "$work" -gt 0 ] && [ "$under" = "$work" ] ||
	fail "$under of $work child_work samples under a worker's name"
ok "$children child processes sampled, all $work child_work samples under churnw0/churnw1"
