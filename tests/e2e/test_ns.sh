#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Containers and namespaces (issue 12): ns_busy runs from a tmpfs mounted only
# in its own mount namespace, and the host has another file (/bin/true) at
# the same path (lib_ns.sh). Profiled system-wide (-a) and by pid (-p), at
# least 95% of its samples are the exact chain main;ns_outer;ns_inner with
# names: the session reads its file through /proc/PID (map_files or root),
# matched by the build-id the kernel gave, never the host's decoy. Before
# that, every frame of it was a raw "[ns_busy+0x...]" (0% named). A
# recording reported after the process is gone cannot reach the file: its
# frames stay raw, and the summary counts the file. Processes of 50 ms, each
# in a namespace that leaves with it, keep their names too (the capture holds
# their files open at the mmap, before the session gets to it).
set -u
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_ns.sh"
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF, mount namespaces)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
command -v unshare >/dev/null || e2e_skip "no unshare(1)"
T=$(mktemp -d)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
export XDG_CACHE_HOME=$T/cache
mkdir -p "$T/cache"
chmod 700 "$T/cache"

pid=$(ns_start "$T/ns" 20) || fail "could not start ns_busy in a mount namespace"
pids="$pid"
# the premise: the host's file at that path is another one
cmp -s "$T/ns/ns_busy" /bin/true || fail "the host's $T/ns/ns_busy is not the decoy"
[ "$(readlink /proc/$pid/exe)" = "$T/ns/ns_busy" ] || fail "pid $pid does not run $T/ns/ns_busy"

check() { # name folded stderr
	local n pct
	n=$(awk '/^ns_busy;/ { s += $NF } END { print s + 0 }' "$2")
	pct=$(ns_chain_pct "$2")
	echo "  $1: $n samples of ns_busy, $pct% main;ns_outer;ns_inner"
	[ "$n" -ge 100 ] || fail "$1: only $n samples of ns_busy: $(grep '^ns_busy' "$2" | head -3)"
	awk -v p="$pct" 'BEGIN { exit !(p >= 95) }' ||
		fail "$1: $pct% of ns_busy's samples have its chain (want >= 95%): $(grep '^ns_busy' "$2" | sort -t' ' -k2 -nr | head -3)"
	grep -q "files read in their process's mount namespace" "$3" ||
		fail "$1: the summary does not count the file read through /proc: $(cat "$3")"
}

timeout 60 "$XPROF" record -a -F 499 -d 3 -o "$T/a.folded" >/dev/null 2>"$T/a.err" ||
	fail "record -a: $(cat "$T/a.err")"
check "record -a" "$T/a.folded" "$T/a.err"

timeout 60 "$XPROF" record -p "$pid" -F 499 -d 2 -o "$T/p.folded" -o "$T/p.xprof" >/dev/null \
	2>"$T/p.err" || fail "record -p: $(cat "$T/p.err")"
check "record -p" "$T/p.folded" "$T/p.err"

# Gone: the recording names a file that neither the host nor /proc/PID has any more.
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
timeout 60 "$XPROF" report -i "$T/p.xprof" -o "$T/g.folded" 2>"$T/g.err" ||
	fail "report after exit: $(cat "$T/g.err")"
grep -q "1 files changed since recording or gone" "$T/g.err" ||
	fail "report after exit does not count the file it could not reach: $(cat "$T/g.err")"
grep -q '^ns_busy;.*\[ns_busy+0x[0-9a-f]*\]' "$T/g.folded" ||
	fail "report after exit: ns_busy's frames are not raw addresses: $(head -3 "$T/g.folded")"
grep -q 'ns_inner' "$T/g.folded" && fail "report after exit named ns_inner from the decoy or a stale cache"
# Short-lived: ten ns_busy of 50 ms each, every one in a namespace of its own that
# leaves with it, while the session is seconds behind at times (tables of every
# library on the machine). The capture holds each file open as soon as the kernel
# reports the mmap; before that, none of their samples had names (0 of 45).
(sleep 1.5; for i in 1 2 3 4 5 6 7 8 9 10; do ns_run "$T/ns" 0.05; sleep 0.1; done) &
loop=$!
pids="$pids $loop"
timeout 60 "$XPROF" record -a -F 499 -d 4 -o "$T/s.folded" >/dev/null 2>"$T/s.err" ||
	fail "record -a (short-lived): $(cat "$T/s.err")"
wait "$loop"
n=$(awk '/^ns_busy;/ { s += $NF } END { print s + 0 }' "$T/s.folded")
pct=$(ns_chain_pct "$T/s.folded")
echo "  short-lived: $n samples of ten 50 ms ns_busy, $pct% main;ns_outer;ns_inner"
[ "$n" -ge 20 ] || fail "short-lived: only $n samples of ns_busy"
awk -v p="$pct" 'BEGIN { exit !(p >= 90) }' ||
	fail "short-lived: $pct% of ns_busy's samples have its chain (want >= 90%): $(grep '^ns_busy' "$T/s.folded" | sort -t' ' -k2 -nr | head -3)"
echo "ok: ns"
