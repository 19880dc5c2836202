#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# debuginfod: a real `debuginfod` server on loopback serves the debug file of
# a stripped sym_target; with DEBUGINFOD_URLS pointing at it, symbolize/ must
# fetch it (through libdebuginfod, into DEBUGINFOD_CACHE_PATH) and give the
# same frames as the unstripped binary: static function names from the debug
# .symtab and inline chains from its DWARF. Without debuginfod (-D) those
# names must be missing (each unnamed function one "sym_target+0xSTART"), and
# after the server stops the cache must serve.
set -u
build=${XPROF_BUILD:?}
lookup=$build/progs/sym_lookup
target=$build/progs/sym_target
[ -x "$lookup" ] && [ -x "$target" ] || { echo "missing $lookup or $target (make unit-bins)"; exit 1; }
command -v debuginfod >/dev/null || { echo "debuginfod not installed (Debian package debuginfod)"; exit 77; }
tmp=$(mktemp -d)
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$tmp/serve" "$tmp/bin" "$tmp/cache"
cp "$target" "$tmp/serve/sym_target"
objcopy --only-keep-debug "$target" "$tmp/serve/sym_target.debug"
strip --strip-all -o "$tmp/bin/sym_target" "$target"
id=$(readelf -n "$target" | awk '/Build ID/{print $3}')
[ -n "$id" ] || fail "no build-id in $target"

# A free port: ask the kernel, then start the server on it (retry on a race).
for try in 1 2 3; do
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	debuginfod -p "$port" -F -t 0 -g 0 -c 1 --disable-source-scan -d "$tmp/db.sqlite" \
		"$tmp/serve" >"$tmp/server.log" 2>&1 &
	srv=$!
	ok=
	for _ in $(seq 1 150); do
		kill -0 "$srv" 2>/dev/null || break
		python3 - "http://127.0.0.1:$port/buildid/$id/debuginfo" <<'PY' 2>/dev/null && { ok=1; break; }
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
PY
		sleep 0.2
	done
	[ -n "$ok" ] && break
	kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=
	rm -f "$tmp/db.sqlite"*
done
[ -n "$ok" ] || { tail -n 20 "$tmp/server.log"; fail "debuginfod did not serve $id"; }
echo "debuginfod on port $port serves $id"

# Every address of chain_entry (three inlined levels) and local_worker (static).
addrs=$(nm -S "$target" | while read -r a n _ name; do
	case $name in chain_entry|local_worker)
		for ((i = 0; i < 16#$n; i++)); do printf '%x\n' $((16#$a + i)); done;;
	esac
done)
[ -n "$addrs" ] || fail "no chain_entry/local_worker in nm output"

export DEBUGINFOD_URLS="http://127.0.0.1:$port" DEBUGINFOD_CACHE_PATH="$tmp/cache"
want=$(echo "$addrs" | DEBUGINFOD_URLS= "$lookup" -l -e "$target")
got=$(echo "$addrs" | "$lookup" -l -s -e "$tmp/bin/sym_target")
src=$(echo "$got" | sed -n 's/^source: //p')
case $src in "debuginfod: $tmp/cache/"*) ;; *) fail "debug source '$src', want debuginfod: $tmp/cache/...";; esac
[ "$(echo "$got" | sed 1d)" = "$want" ] || {
	diff <(echo "$want") <(echo "$got" | sed 1d) | head -20; fail "frames differ from the unstripped binary"; }
ninl=$(echo "$got" | grep -c $'\ti$')
nlocal=$(echo "$got" | grep -c $'^\tlocal_worker\t')
echo "$got" | grep -q $'^\tleaf_mix\t.*sym_target.c:[0-9]*\ti$' || fail "no inlined leaf_mix frame"
echo "$got" | grep -q $'^\touter_mix\t.*\ti$' || fail "no inlined outer_mix frame"
[ "$nlocal" -gt 0 ] || fail "local_worker not named"
echo "debuginfod: $(echo "$addrs" | wc -l) addresses as unstripped, $ninl inlined frames, local_worker named $nlocal times"

# Without debuginfod the static function has no name: all its addresses are
# the one function its FDE bounds, sym_target+0xSTART, which the real name
# replaces when debuginfod serves the debug file.
nod=$(echo "$addrs" | "$lookup" -D -e "$tmp/bin/sym_target")
echo "$nod" | grep -q $'^\tlocal_worker\t' && fail "local_worker named without debuginfod"
echo "$nod" | grep -q $'\ti$' && fail "inlined frames without debuginfod"
lw=$(nm "$target" | awk '$3 == "local_worker" {print $1}' | sed 's/^0*//')
nlw=$(echo "$nod" | grep -c $'^\tsym_target+0x'"$lw"$'\t')
[ "$nlw" = "$(echo "$got" | grep -c $'^\tlocal_worker\t')" ] ||
	fail "local_worker's addresses: $nlw named sym_target+0x$lw without debuginfod, want $nlocal"
echo "without debuginfod: local_worker's $nlw addresses are one function, sym_target+0x$lw"

# The server gone, libdebuginfod's cache answers.
kill "$srv"; wait "$srv" 2>/dev/null; srv=
again=$(echo "$addrs" | "$lookup" -l -e "$tmp/bin/sym_target")
[ "$again" = "$want" ] || fail "cached debuginfo gave different frames"
echo "debuginfod: cache serves after the server stopped"
