#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# debuginfod: a real `debuginfod` server on loopback serves the debug file of
# a stripped sym_target; with DEBUGINFOD_URLS pointing at it, symbolize/ must
# fetch it (through libdebuginfod, into DEBUGINFOD_CACHE_PATH) and give the
# same frames as the unstripped binary: static function names from the debug
# .symtab and inline chains from its DWARF. Without debuginfod (-D) those
# names must be missing (each unnamed function one "sym_target+0xSTART"), and
# after the server stops the cache must serve.
# Then, as root (a recording of the stripped program): `xprof report` through
# debuginfod under ASan (build-asan/xprof: no leak, no error), xprof's
# default limits reaching libdebuginfod unless the user set them, a server
# that drips one byte a second given up after DEBUGINFOD_TIMEOUT, and huge
# replies (with and without Content-Length) refused by the size cap.
set -u
. "$(dirname "$0")/lib_e2e.sh"
build=${XPROF_BUILD:?}
lookup=$build/progs/sym_lookup
target=$build/progs/sym_target
[ -x "$lookup" ] && [ -x "$target" ] || { echo "missing $lookup or $target (make unit-bins)"; exit 1; }
command -v debuginfod >/dev/null || e2e_skip "debuginfod not installed (Debian package debuginfod)"
tmp=$(mktemp -d)
srv=
bad=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	[ -n "$bad" ] && kill "$bad" 2>/dev/null && wait "$bad" 2>/dev/null
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

# ---- report through debuginfod: ASan, limits -------------------------------
# The rest reports a recording of the stripped sym_target: xprof record needs root.
if [ "$(id -u)" != 0 ]; then
	kill "$srv"; wait "$srv" 2>/dev/null; srv=
	e2e_skip "the report checks need root (xprof record)"
fi
: "${XPROF:?}" "${XPROF_TOP:?}"
asan=$XPROF_TOP/build-asan/xprof
"$XPROF" record -o "$tmp/st.xprof" -- "$tmp/bin/sym_target" 2000000 >/dev/null 2>"$tmp/rec.err" ||
	{ cat "$tmp/rec.err"; fail "xprof record of the stripped sym_target failed"; }
unset DEBUGINFOD_TIMEOUT DEBUGINFOD_MAXTIME DEBUGINFOD_MAXSIZE DEBUGINFOD_RETRY_LIMIT

# 1. ASan: the fetch and the failure paths, leak checking on. make check
#    builds build-asan/xprof; without it this part is skipped (exit 77 at the end).
[ -x "$asan" ] || echo "no $asan (make SANITIZE=1 unit-bins): ASan part skipped"
[ -x "$asan" ] && for url in "http://127.0.0.1:$port" "http://127.0.0.1:9"; do
	rm -rf "$tmp/acache"
	DEBUGINFOD_URLS=$url DEBUGINFOD_CACHE_PATH=$tmp/acache ASAN_OPTIONS=detect_leaks=1 \
		"$asan" report -v -i "$tmp/st.xprof" -o "$tmp/asan.folded" --no-cache 2>"$tmp/asan.err" ||
		{ tail -n 30 "$tmp/asan.err"; fail "build-asan/xprof report with DEBUGINFOD_URLS=$url failed"; }
	grep -q 'Sanitizer' "$tmp/asan.err" && { head -n 30 "$tmp/asan.err"; fail "a sanitizer report with DEBUGINFOD_URLS=$url"; }
	if [ "$url" != "http://127.0.0.1:9" ]; then
		grep -q "sym_target build-id $id: .* debuginfo debuginfod: $tmp/acache/" "$tmp/asan.err" ||
			{ cat "$tmp/asan.err"; fail "build-asan/xprof did not fetch sym_target's debuginfo"; }
	fi
	echo "asan: report through $url: no leak, no error"
done

# The server gone, libdebuginfod's cache answers.
kill "$srv"; wait "$srv" 2>/dev/null; srv=
again=$(echo "$addrs" | "$lookup" -l -e "$tmp/bin/sym_target")
[ "$again" = "$want" ] || fail "cached debuginfo gave different frames"
echo "debuginfod: cache serves after the server stopped"

# A server gone bad: serves a debuginfo reply per mode, counts the bytes it
# sent. Every reply ends when the client hangs up, after 1 GiB, or after 60 s.
BADSRV=$(cat <<'PYEOF'
import http.server, socketserver, sys, time
mode, portfile, log = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        if mode == 'drip':
            self.send_header('Content-Length', '1000000')
        elif mode == 'huge':
            self.send_header('Content-Length', str(400 << 20))
        self.end_headers()
        sent, t0 = 0, time.monotonic()
        chunk = b'\0' * (1 if mode == 'drip' else 1 << 16)
        try:
            while sent < (1 << 30) and time.monotonic() - t0 < 60:
                self.wfile.write(chunk); self.wfile.flush()
                sent += len(chunk)
                if mode == 'drip':
                    time.sleep(1)
        except OSError:
            pass
        with open(log, 'a') as f:
            f.write('%s %d %.1f\n' % (self.path, sent, time.monotonic() - t0))
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(('127.0.0.1', 0), H)
open(portfile + '.tmp', 'w').write(str(s.server_address[1]))
import os; os.rename(portfile + '.tmp', portfile)
s.serve_forever()
PYEOF
)
start_bad() { # mode
	[ -n "$bad" ] && { kill "$bad" 2>/dev/null; wait "$bad" 2>/dev/null; }
	rm -f "$tmp/bad.port" "$tmp/bad.log"
	python3 -c "$BADSRV" "$1" "$tmp/bad.port" "$tmp/bad.log" &
	bad=$!
	for _ in $(seq 1 100); do [ -s "$tmp/bad.port" ] && break; sleep 0.05; done
	[ -s "$tmp/bad.port" ] || fail "the $1 server did not start"
	badurl="http://127.0.0.1:$(cat "$tmp/bad.port")"
}
sid=$(readelf -n "$tmp/bin/sym_target" | awk '/Build ID/{print $3}')
report() { # name, env assignments...: report st.xprof, time it
	local name=$1
	shift
	local t0=$SECONDS
	env "$@" "$XPROF" report -i "$tmp/st.xprof" -o "$tmp/$name.folded" --no-cache 2>"$tmp/$name.err" ||
		{ cat "$tmp/$name.err"; fail "$name: report failed"; }
	took=$((SECONDS - t0))
}

# 2. The limits libdebuginfod is given: xprof's defaults, or the user's.
report verbose DEBUGINFOD_URLS=http://127.0.0.1:9 DEBUGINFOD_VERBOSE=1 DEBUGINFOD_CACHE_PATH=$tmp/c2
for want in "using timeout 10" "using max time 60s" "using max size 268435456B"; do
	grep -q "^$want\$" "$tmp/verbose.err" || fail "libdebuginfod did not get '$want'"
done
report verbose2 DEBUGINFOD_URLS=http://127.0.0.1:9 DEBUGINFOD_VERBOSE=1 DEBUGINFOD_CACHE_PATH=$tmp/c3 \
	DEBUGINFOD_TIMEOUT=3 DEBUGINFOD_MAXTIME=7 DEBUGINFOD_MAXSIZE=12345
for want in "using timeout 3" "using max time 7s" "using max size 12345B"; do
	grep -q "^$want\$" "$tmp/verbose2.err" || fail "the user's setting did not reach libdebuginfod: '$want'"
done
echo "limits: defaults 10 s / 60 s / 256 MiB, the user's own kept"

# 3. A server that drips a byte a second: given up after DEBUGINFOD_TIMEOUT
#    (libdebuginfod alone retries twice, then asks again for the next file).
start_bad drip
report drip DEBUGINFOD_URLS=$badurl DEBUGINFOD_CACHE_PATH=$tmp/c4 DEBUGINFOD_TIMEOUT=2
# the server notices the hang-up at its next byte or the one after (the first
# write after a reset may still succeed): up to 2 s later, more on a busy machine
# Files are read on their first sample, so the first one asked is whichever
# was sampled first (sym_target, or ld.so at startup): any debuginfo request.
for _ in $(seq 1 100); do grep -q "/buildid/[0-9a-f]*/debuginfo" "$tmp/bad.log" 2>/dev/null && break; sleep 0.1; done
grep -q "/buildid/[0-9a-f]*/debuginfo" "$tmp/bad.log" 2>/dev/null || fail "the drip server was never asked for debuginfo"
echo "drip: report took ${took}s with DEBUGINFOD_TIMEOUT=2 ($(wc -l <"$tmp/bad.log") replies cut)"
[ "$took" -le 5 ] || fail "a dripping server held report ${took}s, DEBUGINFOD_TIMEOUT=2"
sleep 1.2 # a retry already under way is logged too
asked=$(grep -c "/buildid/" "$tmp/bad.log")
[ "$asked" -le 2 ] || fail "the dripping server was asked $asked times (retries, or again for other files)"

# 4. Huge replies: announced (Content-Length 400 MiB, over the 256 MiB default)
#    and unannounced (no length; the user's cap of 4 MB): refused, nothing cached.
for mode in huge stream; do
	start_bad $mode
	lim=
	[ $mode = stream ] && lim=DEBUGINFOD_MAXSIZE=4000000
	rm -rf "$tmp/c5"
	report $mode DEBUGINFOD_URLS=$badurl DEBUGINFOD_CACHE_PATH=$tmp/c5 $lim
	for _ in $(seq 1 50); do [ -s "$tmp/bad.log" ] && break; sleep 0.1; done
	sent=$(awk -v p="/buildid/$sid/debuginfo" '$1 == p {print $2}' "$tmp/bad.log")
	echo "$mode: report took ${took}s, the server sent ${sent:-?} bytes before the client hung up"
	[ -n "$sent" ] && [ "$sent" -lt $((64 << 20)) ] || fail "$mode: ${sent:-no} bytes taken from a huge reply"
	[ -z "$(find "$tmp/c5" -type f -size +1M 2>/dev/null)" ] || fail "$mode: a huge reply was cached"
	[ "$took" -le 10 ] || fail "$mode: report took ${took}s"
done
echo "debuginfod limits: ok"
[ -x "$asan" ] || e2e_skip "no $asan, the ASan part did not run"
