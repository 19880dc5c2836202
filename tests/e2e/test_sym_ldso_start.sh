#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Process startup is named: ld.so's entry code (_start, _dl_start_user) is
# hand-written assembly whose symbols have no type and no size, and samples
# of the dynamic loader at work (relocating, mapping libraries) used to root
# at "[ld-linux-x86-64.so.2+0x1ab77]". `xprof record -- CMD` holds the child
# until sampling is armed, so its first instructions are sampled; sym_reexec
# executes itself 1000 times, so most of its user time is ld.so starting it.
# Those samples must root at _start;_dl_start, as perf names them, and no
# root frame may be an unnamed ld.so address. The names come from ld.so's
# debug file (libc6-dbg): without it there is nothing to name them with.
set -u
. "$(dirname "$0")/lib_e2e.sh"
: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
prog=$XPROF_BUILD/progs/sym_reexec
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || e2e_skip "needs root for BPF"
[ -x "$prog" ] || fail "no $prog (make unit-bins)"
ldso=$(readlink -f /lib64/ld-linux-x86-64.so.2)
id=$(readelf -n "$ldso" | awk '/Build ID/{print $3}')
[ -r "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ] ||
	e2e_skip "no debug file for $ldso (Debian package libc6-dbg)"
W=$(mktemp -d /tmp/xprof-ldso.XXXXXX)
trap 'rm -rf "$W"' EXIT

timeout 120 "$XPROF" record -F 999 -o "$W/r.xprof" -- "$prog" 1000 >"$W/rec.out" 2>"$W/rec.err" ||
	{ cat "$W/rec.err"; fail "xprof record failed"; }
timeout 120 "$XPROF" report -i "$W/r.xprof" -o "$W/r.folded" \
	2>"$W/rep.err" || { cat "$W/rep.err"; fail "xprof report failed"; }
tail -n 1 "$W/rep.err"

python3 - "$W/r.folded" <<'EOF2'
import re, sys
roots, total = {}, 0
for line in open(sys.argv[1]):
    stack, n = line.rstrip("\n").rsplit(" ", 1)
    fr = [f for f in stack.split(";")[1:] if not f.endswith("_[k]")]
    n = int(n)
    total += n
    if fr:
        key = ";".join(fr[:2])
        roots[key] = roots.get(key, 0) + n
top = sorted(roots.items(), key=lambda kv: -kv[1])[:6]
print("roots: " + ", ".join("%s %d" % kv for kv in top) + " (of %d samples)" % total)
bad = {k: v for k, v in roots.items() if re.match(r"^\[?ld-linux-x86-64\.so\.2\+", k)}
if bad:
    sys.exit("FAIL: samples root at unnamed ld.so addresses: %s" % bad)
ld = roots.get("_start;_dl_start", 0)
if ld < 50:
    sys.exit("FAIL: %d samples root at _start;_dl_start, want >= 50" % ld)
print("ok: %d samples (%.0f%%) root at ld.so's _start;_dl_start" % (ld, 100.0 * ld / total))
EOF2
