#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# xprof record's errors: one line naming the problem and the fix, a non-zero
# exit, and no recording started.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # expected-exit-status pattern command...
	local want=$1 pat=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ $rc = "$want" ] || fail "'$*' exited $rc, not $want: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "'$*': not one line: $(cat "$T/err")"
	grep -q "^xprof: .*$pat" "$T/err" || fail "'$*': unexpected message: $(cat "$T/err")"
	echo "ok: $(cat "$T/err")"
}
expect 2 "bad frequency" "$XPROF" record -F 0 -o "$T/x.xprof" -- true
expect 2 "bad frequency" "$XPROF" record -F 1000000 -o "$T/x.xprof" -- true
expect 2 "bad --stack-size" "$XPROF" record --stack-size 100 -o "$T/x.xprof" -- true
expect 2 "bad --stack-max .9M.; give 1024..8388608 bytes" "$XPROF" record --stack-max 9M -o "$T/x.xprof" -- true
expect 2 "bad --stack-max .1Q." "$XPROF" record --stack-max 1Q -o "$T/x.xprof" -- true
expect 2 "unknown output format" "$XPROF" record -o "$T/x.txt" -- true
expect 2 "exactly one target" "$XPROF" record -o "$T/x.xprof"
expect 2 "unknown event" "$XPROF" record -e nosuch -o "$T/x.xprof" -- true
expect 2 "bad duration '1e9'; give -d SECONDS, more than 0 and at most 10000000" "$XPROF" record -d 1e9 -o "$T/x.xprof" -- true
expect 1 "cannot write '/nonexistent/x.xprof'" "$XPROF" record -o /nonexistent/x.xprof -- true
if [ "$(id -u)" = 0 ]; then
	expect 1 "no process with pid" "$XPROF" record -p 2147483 -o "$T/x.xprof"
	expect 127 "command not found: 'no-such-command-xp'" "$XPROF" record -o "$T/x.xprof" -- no-such-command-xp
	expect 126 "'/etc/passwd' is not executable" "$XPROF" record -o "$T/x.xprof" -- /etc/passwd
	expect 126 "'/etc' is a directory, not a program" "$XPROF" record -o "$T/x.xprof" -- /etc
	# Nothing to sample: a kernel thread (kthreadd is always pid 2) and a zombie
	# (a child its parent, exec'ed into sleep, never reaps).
	expect 1 "pid 2 (kthreadd) is a kernel thread" "$XPROF" record -p 2 -o "$T/x.xprof"
	( sleep 0.01 & echo $! >"$T/zpid"; exec sleep 30 ) &
	zparent=$!
	for _ in $(seq 1 100); do
		[ -s "$T/zpid" ] && [ "$(awk '{print $3}' "/proc/$(cat "$T/zpid")/stat" 2>/dev/null)" = Z ] && break
		sleep 0.05
	done
	zpid=$(cat "$T/zpid")
	expect 1 "pid $zpid (sleep) has exited (a zombie" "$XPROF" record -p "$zpid" -o "$T/x.xprof"
	kill "$zparent"; wait "$zparent" 2>/dev/null
	if [ ! -e /sys/bus/event_source/devices/cpu ]; then
		# No hardware PMU (a VM): -e cycles fails once sampling is set up; no file left behind.
		expect 1 "cannot open the 'cycles' perf event.*try -e cpu-clock" "$XPROF" record -e cycles -o "$T/x.xprof" -- true
	fi
	if command -v setpriv >/dev/null; then
		chmod 755 "$T"
		expect 1 "needs root or CAP_BPF and CAP_PERFMON" setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all "$XPROF" record -o "$T/n.xprof" -- true
	fi
fi
[ ! -e "$T/x.xprof" ] || fail "an error left a recording behind"
"$XPROF" info /nonexistent.xprof 2>"$T/err" && fail "info on a missing file succeeded"
grep -q "^xprof: cannot read '/nonexistent.xprof'" "$T/err" || fail "info: $(cat "$T/err")"
printf 'PERFILE2' >"$T/p.data"
"$XPROF" info "$T/p.data" 2>"$T/err" && true
grep -q "^xprof: cannot read" "$T/err" || fail "info on perf.data: $(cat "$T/err")"
head -c 4096 /dev/urandom >"$T/r.xprof"
"$XPROF" info "$T/r.xprof" 2>"$T/err" && fail "info on random bytes succeeded"
grep -q "not a recording" "$T/err" || fail "info on random bytes: $(cat "$T/err")"
echo "all error checks passed"
