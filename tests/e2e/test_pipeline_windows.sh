#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Windows on a real recording: six short-lived children (rec_fork running
# perf_work 0.6 s each, one after another) recorded under real BPF, fed
# through one pipeline session in 1 s windows (pipe_windows). The windows'
# folded stacks, summed, must equal `xprof report` of the whole recording
# stack for stack; at least three windows hold samples, and at the end the
# session holds only what exited within the last second (not all seven
# processes).
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
[ -x "$P/pipe_windows" ] || { echo "FAIL: missing $P/pipe_windows (make unit-bins)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export DEBUGINFOD_URLS=

timeout 60 "$XPROF" record -F 499 -o "$T/fork.xprof" -- "$P/rec_fork" 6 "$P/perf_work" 0.6 \
	>/dev/null 2>"$T/rec.err" || fail "record: $(cat "$T/rec.err")"
"$XPROF" report -q --no-debuginfod -i "$T/fork.xprof" -o "$T/whole.folded" 2>"$T/rep.err" ||
	fail "report: $(cat "$T/rep.err")"
"$P/pipe_windows" "$T/fork.xprof" 1 >"$T/win.out" 2>"$T/win.err" || fail "pipe_windows: $(cat "$T/win.err")"
grep '^#' "$T/win.out"

# Sum each stack over the windows; LC_ALL=C sort as the folded writer does.
grep -v '^#' "$T/win.out" |
	awk '{ n = $NF; sub(/ [0-9]+$/, ""); c[$0] += n } END { for (s in c) print s " " c[s] }' |
	LC_ALL=C sort >"$T/sum.folded"
[ -s "$T/whole.folded" ] || fail "empty whole-run profile"
if ! cmp -s "$T/whole.folded" "$T/sum.folded"; then
	diff "$T/whole.folded" "$T/sum.folded" | head -20
	fail "the windows do not add up to the whole run"
fi
total=$(awk '{ s += $NF } END { print s }' "$T/whole.folded")
nwin=$(awk '/^# window/ && $4 > 0' "$T/win.out" | wc -l)
[ "$nwin" -ge 3 ] || fail "only $nwin windows with samples"
grep -q 'perf_work;_start;__libc_start_main.*;main;run' "$T/whole.folded" || fail "no perf_work stacks"
held=$(awk '/^# held:/ { print $3 }' "$T/win.out")
[ -n "$held" ] && [ "$held" -le 4 ] || fail "the session still holds $held processes of 7"
echo "ok: $nwin windows with samples add up to the whole run ($total samples, $(wc -l <"$T/whole.folded") stacks); $held processes held at the end"
