#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every sample of a process that lived while xprof recorded gets its
# mappings, or is counted (issue 14, item 2):
#  1. -p with process churn (8 worker threads x 200 forks/s, -F 999 -d 6):
#     as many fork records as exits (up to the children in flight at start and
#     end, and what the kernel says it dropped), and no sample without
#     mappings beyond the count the summary line reports. Fork records used
#     to be dropped when another CPU's exit had removed the pid already.
#  2. -a while processes come and go (a `timeout 0.03` loop), 8 times: the
#     samples whose process has no mapping in the file are exactly the ones
#     record reports ("N samples without mappings"), never more; and the
#     samples span the whole -d (the /proc scan comes before it).
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
unset DEBUGINFOD_URLS
# "xprof: ..., N samples without mappings ..." on a summary line, else 0.
unmapped() { sed -n 's/.*, \([0-9]*\) samples without mappings.*/\1/p' "$1" | head -1 | grep . || echo 0; }
# What the kernel said it dropped of the side band.
sbdrop() { sed -n 's/.*the kernel dropped \([0-9]*\) mmap\/comm\/task events.*/\1/p' "$1" | grep . || echo 0; }

# --- 1. -p under churn --------------------------------------------------------
W=8
"$P/rec_churn" $W 200 9 >"$T/churn.out" &
cp=$!
for _ in $(seq 50); do grep -q '^pid ' "$T/churn.out" && break; sleep 0.1; done
pid=$(awk '$1=="pid"{print $2}' "$T/churn.out")
[ -n "$pid" ] || fail "rec_churn did not start"
sleep 0.5
timeout 60 "$XPROF" record -p "$pid" -F 999 -d 6 -o "$T/churn.xprof" -o "$T/churn.folded" \
	2>"$T/churn.err" || fail "record -p: $(cat "$T/churn.err")"
wait $cp || fail "rec_churn failed"
cat "$T/churn.err"
"$XPROF" info --dump "$T/churn.xprof" >"$T/dump"
# Children of the target: forks of a new process, exits of a process's leader.
awk -v p="$pid" '$1=="fork" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["pid"] != f["ppid"] && f["ppid"] == p) print f["pid"] }' "$T/dump" | sort >"$T/forks"
awk -v p="$pid" '$1=="exit" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["pid"] == f["tid"] && f["pid"] != p) print f["pid"] }' "$T/dump" | sort >"$T/exits"
nf=$(wc -l <"$T/forks") ne=$(wc -l <"$T/exits")
drop=$(sbdrop "$T/churn.err")
[ "$nf" -ge 3000 ] || fail "only $nf fork records in 6 s of 1600 forks/s"
# comm -23: forked but never exited (in flight at the end); -13: exited, never forked (at the start).
noexit=$(comm -23 "$T/forks" "$T/exits" | wc -l) nofork=$(comm -13 "$T/forks" "$T/exits" | wc -l)
[ "$noexit" -le $((W + drop)) ] && [ "$nofork" -le $((W + drop)) ] ||
	fail "forks $nf, exits $ne: $nofork exits without a fork, $noexit forks without an exit (kernel dropped $drop)"
ok "forks $nf, exits $ne ($nofork exited without a fork record, $noexit still running; kernel dropped $drop)"

samples=$(awk '{ s += $NF } END { print s + 0 }' "$T/churn.folded")
unknown=$(awk '{ split($1, f, ";"); if (f[2] == "[unknown]" || f[1] == "[unknown]") s += $NF }
	END { print s + 0 }' "$T/churn.folded")
counted=$(unmapped "$T/churn.err")
[ "$unknown" -le "$counted" ] || fail "$unknown samples without a process or mapping, $counted reported"
[ $((counted * 100)) -le "$samples" ] || fail "$counted of $samples samples without mappings: over 1%"
work=$(awk '/^churnw[0-9]+;.*;child_work( |;)/ { s += $NF } END { print s + 0 }' "$T/churn.folded")
[ "$work" -gt 0 ] || fail "no child_work samples under a worker's name"
ok "$samples samples, $unknown unknown (reported $counted), $work in children's child_work"

# --- 2. -a while processes start and end --------------------------------------
(while :; do timeout 0.03 "$P/rec_spin" 1 1 4 >/dev/null 2>&1; done) &
loop=$!
for i in $(seq 8); do
	timeout 60 "$XPROF" record -a -F 999 -d 0.2 -o "$T/a.xprof" 2>"$T/a.err" ||
		fail "record -a: $(cat "$T/a.err")"
	"$P/rec_check" "$T/a.xprof" >"$T/a.chk" || fail "rec_check"
	n=$(grep -c '^S ' "$T/a.chk")
	unknown=$(grep -c '^S .* known=0$' "$T/a.chk")
	counted=$(unmapped "$T/a.err")
	spin=$(grep -c "^S .* map=$P/rec_spin " "$T/a.chk")
	echo "run $i: $n samples, $spin in rec_spin, $unknown of unknown processes, $counted reported"
	[ "$unknown" -le "$counted" ] || fail "run $i: $unknown samples of processes without mappings, $counted reported"
	[ "$n" -gt 0 ] || fail "run $i: no samples"
	# -d is time sampled: the /proc scan before the sampler is armed does not eat into it.
	span=$("$XPROF" info --dump "$T/a.xprof" | awk '$1=="sample" { split($2, kv, "="); t = kv[2] + 0;
		if (!lo || t < lo) lo = t; if (t > hi) hi = t } END { printf "%d", (hi - lo) / 1e6 }')
	echo "span $span ms"; [ "$span" -ge 190 ] || fail "run $i: samples span $span ms of -d 0.2"
done
kill $loop
wait $loop 2>/dev/null
ok "-a under a timeout 0.03 loop: every sample without mappings counted"
