#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# JIT maps end to end, under real BPF: `record -p` on a process whose
# /tmp/perf-PID.map existed before the recording names its JIT frames (the
# anonymous code region comes from /proc at the start), and `report` refuses a
# map it must not trust, in one line each and without hanging: one another
# user owns (the recording says the process ran as root), a FIFO, a symlink,
# one above the size limit.
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
T=$(mktemp -d)
map=
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"; [ -n "$map" ] && rm -f "$map"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

"$P/rec_jit" 30 >"$T/jit.out" &
jp=$!
for _ in $(seq 50); do grep -q '^ready' "$T/jit.out" && break; sleep 0.1; done
grep -q '^ready' "$T/jit.out" || fail "rec_jit did not start"
map=/tmp/perf-$jp.map
[ -f "$map" ] || fail "rec_jit wrote no $map"

# --- 1. -p on a running JIT: the map that was there first is used ------------
timeout 60 "$XPROF" record -p $jp -d 2 -F 499 -o "$T/jit.xprof" -o "$T/jit.folded" \
	2>"$T/rec.err" || fail "record -p: $(cat "$T/rec.err")"
total=$(awk '{n += $NF} END {print n + 0}' "$T/jit.folded")
jit=$(awk '/;jit_spin_\[j\]( |;)/ {n += $NF} END {print n + 0}' "$T/jit.folded")
[ "$total" -ge 50 ] || fail "only $total samples (the machine is busy: 2 s at 499 Hz)"
[ $((jit * 100)) -ge $((total * 90)) ] ||
	fail "jit_spin_[j] in $jit of $total samples: $(sort -k2 -n -r "$T/jit.folded" | head -3)"
"$XPROF" info --dump "$T/jit.xprof" | grep -q "^uid .* pid=$jp uid=0$" || fail "no uid record for $jp"
ok "-p $jp: jit_spin_[j] in $jit of $total samples; the recording says it ran as uid 0"

report() { # report the recording again with the map as it is now; stderr in $T/rep.err
	timeout 20 "$XPROF" report -q -i "$T/jit.xprof" -o "$T/rep.folded" 2>"$T/rep.err"
}
cp "$map" "$T/good.map"

# --- 2. another user's map does not name a root process's frames -------------
chown 65534:65534 "$map"
report || fail "report (other owner): $(cat "$T/rep.err")"
grep -q 'jit_spin' "$T/rep.folded" && fail "a map owned by uid 65534 named frames of a root process"
grep -qx "xprof: ignoring JIT map '$map': owned by uid 65534, not by root or uid 0 that ran the process (another user could have written it)" "$T/rep.err" ||
	fail "other owner: $(cat "$T/rep.err")"
ok "a map owned by another user is refused: $(cat "$T/rep.err")"

# --- 3. a FIFO does not hang report ------------------------------------------
rm -f "$map"
mkfifo "$map"
report; rc=$?
[ $rc = 0 ] || fail "report with a FIFO map: exit $rc (124: it hung) $(cat "$T/rep.err")"
grep -q "ignoring JIT map '$map': not a regular file" "$T/rep.err" || fail "fifo: $(cat "$T/rep.err")"
ok "a FIFO is refused at once"

# --- 4. a symlink (to /dev/zero, or even to a good map) is not followed ------
rm -f "$map"
ln -s /dev/zero "$map"
s0=$(date +%s.%N)
report || fail "report (symlink): $(cat "$T/rep.err")"
s1=$(date +%s.%N)
grep -q "ignoring JIT map '$map': a symbolic link" "$T/rep.err" || fail "symlink: $(cat "$T/rep.err")"
awk -v a="$s0" -v b="$s1" 'BEGIN{exit !(b - a < 10)}' || fail "the symlink to /dev/zero took $(awk -v a="$s0" -v b="$s1" 'BEGIN{print b - a}') s"
ok "a symlink to /dev/zero is refused"

# --- 5. a map above the size limit; the limit can be raised -------------------
rm -f "$map"
cp "$T/good.map" "$map"
XPROF_PERF_MAP_MAX=8 report || fail "report (oversized): $(cat "$T/rep.err")"
grep -q "ignoring JIT map '$map': [0-9]* bytes, above the limit of 8 (raise it with XPROF_PERF_MAP_MAX=BYTES)" "$T/rep.err" ||
	fail "oversized: $(cat "$T/rep.err")"
grep -q 'jit_spin' "$T/rep.folded" && fail "an oversized map was read"
report || fail "report (good map): $(cat "$T/rep.err")"
grep -q 'jit_spin_\[j\]' "$T/rep.folded" || fail "the good map was not read again"
[ -s "$T/rep.err" ] && fail "a good map gave: $(cat "$T/rep.err")"
ok "an oversized map is refused, under the default limit it is read"
