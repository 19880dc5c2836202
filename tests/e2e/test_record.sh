#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# xprof record end to end, under real BPF: sample counts against the target's
# own CPU time, pids and tids, marker values at known stack depths, a
# dlopen'ed library's mapping with its build-id, short-lived children's
# mappings, -p on a running process with -d, SIGINT, a killed record, exit
# status propagation and kernel stacks.
set -u
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

# --- 1. two threads, 1.5 s of CPU each, at 499 Hz ----------------------------
HZ=499
timeout 60 "$XPROF" record -F $HZ -o "$T/spin.xprof" -- "$P/rec_spin" 2 1.5 8 >"$T/spin.out" 2>"$T/spin.err" ||
	fail "record rec_spin: $(cat "$T/spin.err")"
grep -q "samples, 0 lost" "$T/spin.err" || fail "summary line: $(cat "$T/spin.err")"
pid=$(awk '$1=="pid"{print $2}' "$T/spin.out")
cpu=$(awk '$1=="cpu"{print $2}' "$T/spin.out")
tids=$(awk '$1=="tid"{print $2}' "$T/spin.out" | sort -n | tr '\n' ' ')
"$P/rec_check" "$T/spin.xprof" >"$T/spin.chk" || fail "rec_check"
n=$(grep -c '^S ' "$T/spin.chk")
exp=$(awk -v c="$cpu" -v h=$HZ 'BEGIN{printf "%d", c*h}')
awk -v n="$n" -v e="$exp" 'BEGIN{exit !(n >= 0.7*e && n <= 1.3*e)}' ||
	fail "samples $n, expected $exp +-30% ($cpu CPU-s at $HZ Hz)"
ok "samples $n for $cpu CPU-s at $HZ Hz (expected $exp)"
[ "$("$XPROF" info "$T/spin.xprof" | awk -F': ' '$1=="samples"{print $2}')" = "$n" ] || fail "info samples"
"$XPROF" info "$T/spin.xprof" | grep -qx "processes: 1" || fail "info processes"
bad=$(awk -v p="$pid" '$1=="S" && $2!=p' "$T/spin.chk" | wc -l)
[ "$bad" = 0 ] || fail "$bad samples of another pid than $pid"
for t in $tids; do
	c=$(awk -v p="$pid" -v t="$t" '$1=="S" && $2==p && $3==t' "$T/spin.chk" | wc -l)
	[ "$c" -ge $((exp / 4)) ] || fail "thread $t has only $c samples"
done
other=$(awk -v t=" $tids" -v p="$pid" '$1=="S" && $3!=p && index(t, " "$3" ")==0' "$T/spin.chk" | wc -l)
[ "$other" = 0 ] || fail "$other samples with unknown tids (threads: $tids)"
ok "pid $pid, threads $tids"
# Thread samples taken in rec_spin itself sit in burn(): all 8 markers, deepest lowest.
thr=$(awk -v p="$pid" '$1=="S" && $3!=p && $5 ~ /rec_spin$/' "$T/spin.chk" | wc -l)
good=$(awk -v p="$pid" '$1=="S" && $3!=p && $5 ~ /rec_spin$/ && / markers=8 mind=1 maxd=8 order=ok /' "$T/spin.chk" | wc -l)
[ "$thr" -gt 0 ] && [ "$good" -ge $((thr * 95 / 100)) ] || fail "markers: $good of $thr samples hold depths 1..8 in order"
ok "markers 1..8 in order in $good of $thr samples"
# A steady loop keeps its outer frames: the file stores each thread's stack
# top once and the samples only their changed low part (format version 2),
# and the markers above were read from the rebuilt stacks.
read -r logical stored < <("$XPROF" info "$T/spin.xprof" |
	sed -n 's/^stack bytes: \([0-9]*\) (\([0-9]*\) stored)$/\1 \2/p')
[ "${logical:-0}" -gt 0 ] && [ $((stored * 4)) -lt "$logical" ] ||
	fail "stack bytes stored: ${stored:-?} of ${logical:-?}, expected under a quarter"
ok "stack bytes per sample: $((stored / n)) stored of $((logical / n))"

# --- 2. a dlopen'ed library ---------------------------------------------------
lib=$P/librec_dl.so
timeout 60 "$XPROF" record -F 999 -o "$T/dl.xprof" -- "$P/rec_dl" "$lib" 0.5 >/dev/null 2>"$T/dl.err" || fail "record rec_dl: $(cat "$T/dl.err")"
"$P/rec_check" "$T/dl.xprof" >"$T/dl.chk" || fail "rec_check dl"
bid=$(readelf -n "$lib" | awk '/Build ID/{print $3}')
inlib=$(grep -c "map=$lib bid=$bid " "$T/dl.chk")
[ "$inlib" -ge 250 ] || fail "only $inlib samples in $lib with build-id $bid"
ok "$inlib samples in the dlopen'ed library, build-id $bid"

# --- 3. short-lived children (fork + exec, exit right after their samples) -----
timeout 60 "$XPROF" record -F 999 -o "$T/fork.xprof" -- "$P/rec_fork" 3 "$P/rec_spin" 1 0.2 4 >"$T/fork.out" 2>"$T/fork.err" ||
	fail "record rec_fork: $(cat "$T/fork.err")"
"$P/rec_check" "$T/fork.xprof" >"$T/fork.chk" || fail "rec_check fork"
for c in $(awk '$1=="child"{print $2}' "$T/fork.out"); do
	all=$(awk -v p="$c" '$1=="S" && $2==p' "$T/fork.chk" | wc -l)
	mapped=$(awk -v p="$c" '$1=="S" && $2==p && $5!="map=?"' "$T/fork.chk" | wc -l)
	[ "$all" -ge 100 ] || fail "child $c: only $all samples"
	[ "$mapped" -ge $((all * 98 / 100)) ] || fail "child $c: $mapped of $all samples have a mapping"
	grep -q "^S $c .*map=$P/rec_spin bid=[0-9a-f]" "$T/fork.chk" || fail "child $c: no samples in rec_spin"
done
ok "children followed, their samples mapped"

# --- 4. -p on a running process, -d -------------------------------------------
"$P/rec_spin" 1 60 6 >"$T/bg.out" &
bg=$!
sleep 0.3
cputicks() { awk '{print $14 + $15}' /proc/$1/stat; }
c0=$(cputicks $bg) w0=$(date +%s.%N)
timeout 30 "$XPROF" record -p $bg -d 1 -F 199 -o "$T/p.xprof" 2>"$T/p.err" || fail "record -p: $(cat "$T/p.err")"
c1=$(cputicks $bg) w1=$(date +%s.%N)
"$XPROF" info "$T/p.xprof" >"$T/p.info"
dur=$(awk -F': ' '$1=="duration"{print $2+0}' "$T/p.info")
awk -v d="$dur" 'BEGIN{exit !(d >= 0.9 && d <= 1.6)}' || fail "-d 1 lasted $dur s"
n=$(awk -F': ' '$1=="samples"{print $2}' "$T/p.info")
# The machine may be busy: compare with the CPU time the target got meanwhile (clock ticks).
# Only the recording's own duration of the command's wall time was sampled.
exp=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v dur="$dur" -v w0="$w0" -v w1="$w1" \
	'BEGIN{printf "%d", d / hz * 199 * dur / (w1 - w0)}')
awk -v n="$n" -v e="$exp" 'BEGIN{exit !(n >= 0.7*e - 5 && n <= 1.3*e + 5)}' ||
	fail "-p: $n samples, expected $exp +-30% (199 Hz x the target's CPU time)"
grep -qx "mappings: [1-9][0-9]*" "$T/p.info" || fail "-p: no mappings synthesized"
"$P/rec_check" "$T/p.xprof" | awk -v p=$bg '$1=="S" && $2!=p {b=1} END{exit b}' || fail "-p: samples of other pids"
"$P/rec_check" "$T/p.xprof" | grep -q "^S $bg .*map=$P/rec_spin bid=[0-9a-f]" || fail "-p: existing mappings not synthesized"
ok "-p $bg -d 1: $n samples, $dur s"

# --- 4b. the leader thread exits (pthread_exit) mid-recording, the others go on --
"$P/rec_spin" 2 20 6 leader-exit >/dev/null &
le=$!
sleep 0.1
c0=$(cputicks $le) w0=$(date +%s.%N)
timeout 30 "$XPROF" record -p $le -d 1.5 -F 199 -o "$T/le.xprof" 2>"$T/le.err" || fail "record -p (leader exit): $(cat "$T/le.err")"
c1=$(cputicks $le) w1=$(date +%s.%N)
dur=$("$XPROF" info "$T/le.xprof" | awk -F': ' '$1=="duration"{print $2+0}')
n=$("$XPROF" info "$T/le.xprof" | awk -F': ' '$1=="samples"{print $2}')
exp=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v dur="$dur" -v w0="$w0" -v w1="$w1" \
	'BEGIN{printf "%d", d / hz * 199 * dur / (w1 - w0)}')
awk -v n="$n" -v e="$exp" 'BEGIN{exit !(n >= 0.7*e - 5 && n <= 1.3*e + 5)}' ||
	fail "leader exit: $n samples, expected $exp (threads must stay targets)"
kill $le 2>/dev/null
wait $le 2>/dev/null
ok "the group leader's pthread_exit keeps the process a target ($n samples)"

# --- 5. SIGINT ends a recording cleanly; SIGKILL leaves a readable prefix ------
"$XPROF" record -p $bg -F 199 -o "$T/int.xprof" 2>"$T/int.err" &
rp=$!
sleep 1
kill -INT $rp
wait $rp || fail "record after SIGINT exited $?: $(cat "$T/int.err")"
"$XPROF" info "$T/int.xprof" | grep -qx "complete: yes" || fail "SIGINT: file not complete"
"$XPROF" info "$T/int.xprof" | grep -qx "samples: [1-9][0-9]*" || fail "SIGINT: no samples"
ok "SIGINT writes a complete file"
"$XPROF" record -p $bg -F 199 -o "$T/kill.xprof" 2>/dev/null &
rp=$!
sleep 1.2
kill -KILL $rp
wait $rp 2>/dev/null
"$XPROF" info "$T/kill.xprof" >"$T/kill.info" || fail "killed record: unreadable"
grep -q "^complete: no" "$T/kill.info" || fail "killed record: claims to be complete"
grep -qx "samples: [1-9][0-9]*" "$T/kill.info" || fail "killed record: no samples in the prefix"
ok "a killed record leaves a readable prefix ($(grep '^samples' "$T/kill.info"))"
kill $bg 2>/dev/null
wait $bg 2>/dev/null

# --- 5b. a stalled reader: the ring buffer fills, drops are counted and reported -
# cap_deep's stacks are ~240 KiB, copied whole: the largest records the sampler makes.
"$P/cap_deep" 20 2500 >/dev/null &
bg=$!
"$XPROF" record -p $bg -F 999 -o "$T/drop.xprof" 2>"$T/drop.err" &
rp=$!
sleep 0.5
kill -STOP $rp
sleep 2
kill -CONT $rp
sleep 0.3
kill -INT $rp
wait $rp || fail "record after a stall: $(cat "$T/drop.err")"
lost=$("$XPROF" info "$T/drop.xprof" | awk -F': ' '$1=="lost"{print $2}')
[ "${lost:-0}" -gt 0 ] || fail "a 2 s stall lost nothing? ($(cat "$T/drop.err"))"
grep -q " $lost lost," "$T/drop.err" || fail "summary does not report $lost lost: $(cat "$T/drop.err")"
kill $bg 2>/dev/null
wait $bg 2>/dev/null
ok "stalled reader: $lost samples lost, counted and reported"

# --- 5c. -a: every process but xprof itself ----------------------------------------
"$P/rec_spin" 1 20 6 >/dev/null &
bg=$!
"$XPROF" record -a -d 0.7 -F 199 -o "$T/all.xprof" 2>"$T/all.err" &
rp=$!
wait $rp || fail "record -a: $(cat "$T/all.err")"
"$P/rec_check" "$T/all.xprof" >"$T/all.chk" || fail "rec_check -a"
grep -q "^S $bg .*map=$P/rec_spin bid=[0-9a-f]" "$T/all.chk" || fail "-a: no mapped samples of $bg"
! grep -q "^S $rp " "$T/all.chk" || fail "-a: xprof sampled itself"
"$XPROF" info "$T/all.xprof" | grep -qx "system wide: yes" || fail "-a: header flag"
kill $bg 2>/dev/null
wait $bg 2>/dev/null
ok "-a: $(grep -c '^S ' "$T/all.chk") samples of $(awk '$1=="S"{print $2}' "$T/all.chk" | sort -u | wc -l) processes"

# --- 6. exit status, kernel stacks -----------------------------------------------
"$XPROF" record -o "$T/st.xprof" -- sh -c 'exit 7' 2>/dev/null
[ $? = 7 ] || fail "exit status not propagated"
timeout 60 "$XPROF" record -g kernel -F 999 -o "$T/k.xprof" -- dd if=/dev/zero of=/dev/null bs=1M count=3000 2>/dev/null ||
	fail "record -g kernel"
"$XPROF" info --dump "$T/k.xprof" >"$T/k.dump"
grep -q "^kernel stacks: yes" "$T/k.dump" || fail "-g kernel: header flag"
k=$(awk '$1=="sample" && / nkstack=[1-9]/' "$T/k.dump" | wc -l)
[ "$k" -ge 10 ] || fail "-g kernel: only $k samples with kernel stacks"
ok "exit status 7 propagated; $k samples with kernel stacks"
# --- 7. the default output: xprof.folded in the current directory, via report ------
(cd "$T" && timeout 60 "$XPROF" record -F 499 -- "$P/rec_spin" 1 0.5 4 >/dev/null 2>"$T/def.err") ||
	fail "record with the default output: $(cat "$T/def.err")"
grep -q "wrote xprof.folded" "$T/def.err" || fail "summary: $(cat "$T/def.err")"
[ "$(wc -l <"$T/def.err")" = 1 ] || fail "more than one summary line: $(cat "$T/def.err")"
grep -q "^rec_spin;.*recurse;recurse;recurse;recurse;burn" "$T/xprof.folded" || fail "xprof.folded lacks the burn stack"
ok "default output xprof.folded"
"$XPROF" record -F 99 -o "$T/it's.xprof" -o "$T/copy.xprof" -- "$P/rec_spin" 1 0.2 2 >/dev/null 2>"$T/two.err" ||
	fail "two .xprof outputs: $(cat "$T/two.err")"
cmp -s "$T/it's.xprof" "$T/copy.xprof" || fail "the second .xprof output differs from the first"
ok "two .xprof outputs, identical"
echo "all record checks passed"
