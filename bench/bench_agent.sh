#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The agent's own cost (issue 12), side by side with perf in the same run over
# the same workload:
#   agent  xprof agent -F 19 --interval 10s --output-dir D --spool-dir S
#   dwarf  perf record -a -F 19 -e cpu-clock --call-graph dwarf -o F
#   fp     perf record -a -F 19 -e cpu-clock -g -o F
# (perf with --buildid-mmap --no-bpf-event, see bench/README.md; -e cpu-clock is
# the agent's event, and perf's default on a machine without a PMU.)
# The workload runs from start to end of the part: BENCH_AGENT_IDLE (190)
# sleeping processes, two busy multi-threaded programs at nice 10 (unw_threads:
# 3 threads; rec_spin 2 threads depth 40, restarted after 5 s of CPU each) and a
# shell loop starting short processes (/bin/true, every 8th a 20 ms perf_work,
# and its sleep: ~40 processes/s). Every process of it ends at the end of the
# part, or on its own a minute after the part's budget if this script is killed.
# Each contender runs BENCH_AGENT_SECS in all (300; the soak, BENCH_AGENT_SOAK=1,
# 3600 in one round), as BENCH_AGENT_ROUNDS runs (3; the soak 1) interleaved,
# the order rotating each round: 3 x 3 x 100 s, ~17 minutes by default.
# Per run: CPU (user + system of the process and its children, from wait4()'s
# rusage via /usr/bin/time) as % of one core over the run's wall time; also
# from /proc/PID/stat between the first RSS sample (5 s) and the stop, without
# start-up and exit; VmRSS every 5 s and the peak (rusage maxrss); samples (the
# agent's window log lines; the SAMPLE records of perf's file). Figures: medians of
# the rounds for CPU, sums for the cost per sample, the maximum for the peak,
# and the RSS curve (min/median/max, the last round's series, "flat": median of
# the last third of a run over the median of its first third, worst round).
# Goals (the issue): agent <= 0.25% of one core, <= 64 MiB, flat (<= 1.10x).
# Root only: the agent's BPF sampler's kernel time (bpf_stats run_time_ns; it
# is charged to the sampled tasks, not to the agent's rusage) and perf -a.
# When the agent misses its CPU goal (or BENCH_AGENT_PROFILE=1) one more agent
# run (of at most 120 s) is recorded by `xprof record -F 499 -p PID`: its top
# 10 functions by self samples (and the top 15 inclusive, in the log).
# The part fails when a contender fails to run or counts no samples; a missed
# goal is reported, not failed.
#   bench/bench_agent.sh [BUILD_DIR]      bench/bench_agent.sh --budget
# (--budget prints the seconds the part may take; bench/run.sh uses it as the
# part's time limit.)
# Env: BENCH_AGENT_SECS, BENCH_AGENT_ROUNDS, BENCH_AGENT_SOAK, BENCH_AGENT_IDLE,
#      BENCH_AGENT_CONTENDERS ("agent dwarf fp"), BENCH_AGENT_PROFILE.
set -u
export LC_ALL=C
top=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "bench: $*"; }
die() {
	echo "bench_agent: $*" >&2
	exit 1
}
uint() { # name value: a whole number or a one-line error
	[[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a whole number of seconds or a count, not '$2'"
}

if [ "${BENCH_AGENT_SOAK:-0}" = 1 ]; then
	secs=${BENCH_AGENT_SECS:-3600} rounds=${BENCH_AGENT_ROUNDS:-1}
else
	secs=${BENCH_AGENT_SECS:-300} rounds=${BENCH_AGENT_ROUNDS:-3}
fi
nidle=${BENCH_AGENT_IDLE:-190}
read -ra contenders <<<"${BENCH_AGENT_CONTENDERS:-agent dwarf fp}"
uint BENCH_AGENT_SECS "$secs"
uint BENCH_AGENT_ROUNDS "$rounds"
uint BENCH_AGENT_IDLE "$nidle"
[ "$rounds" -ge 1 ] || die "BENCH_AGENT_ROUNDS must be at least 1"
for c in "${contenders[@]}"; do
	case $c in agent | dwarf | fp) ;; *) die "BENCH_AGENT_CONTENDERS: unknown contender '$c' (agent, dwarf, fp)" ;; esac
done
# A run shorter than 15 s would hold hardly one whole window of the agent:
# fewer rounds then (BENCH_AGENT_SECS=20 is one run of 20 s).
[ "$secs" -ge 15 ] || die "BENCH_AGENT_SECS must be at least 15 (the agent's windows are 10 s)"
[ $((secs / rounds)) -ge 15 ] || rounds=$((secs / 15))
run_secs=$((secs / rounds))
# Each run: start-up, up to 30 s to stop (the agent sends for at most 5 s), and
# counting perf's samples afterwards; then the workload's start and the profile.
prof_secs=$((run_secs < 120 ? run_secs : 120))
budget=$((${#contenders[@]} * rounds * (run_secs + 45) + prof_secs + 180))
if [ "${1:-}" = --budget ]; then
	echo "$budget"
	exit 0
fi

build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
X=$build/xprof
P=$build/progs
for f in "$P/unw_threads" "$P/rec_spin" "$P/perf_work"; do
	[ -x "$f" ] || die "no $f (make bench-agent builds it)"
done
[ "$(id -u)" = 0 ] || { say "agent: unavailable: needs root (BPF, perf record -a)"; exit 0; }
[ -x /usr/bin/time ] || { say "agent: unavailable: /usr/bin/time is missing"; exit 0; }
command -v perf >/dev/null || die "perf is not installed (make deps)"
hz=$(getconf CLK_TCK)

[ ${#contenders[@]} -gt 0 ] || exit 0

T=$(mktemp -d /tmp/xprof-bench-agent.XXXXXX)
workload=() # pids to end: the idle sleepers, busy programs, loops
current=""  # the /usr/bin/time of the contender running now
old_stats=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo "")

# A process and its descendants: stopped first so that a loop starts nothing new.
kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null
}
# (Quiet: bash would print a "Killed" line for each process of the workload.)
cleanup() {
	{
		[ -n "$current" ] && kill_tree "$current"
		for p in "${workload[@]}"; do
			kill_tree "$p"
		done
		wait
	} 2>/dev/null
	[ -n "$old_stats" ] && sysctl -q kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A sleep the traps interrupt (a foreground sleep would hold them back).
nap() {
	sleep "$1" &
	wait $!
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# ---- the workload ----------------------------------------------------------------
life=$((budget + 60))
wl_start=$(now_ms)
for _ in $(seq "$nidle"); do
	sleep "$life" &
	workload+=($!)
done
nice -n 10 "$P/unw_threads" "$life" >/dev/null &
workload+=($!)
(
	end=$((SECONDS + life))
	while [ $SECONDS -lt $end ]; do
		nice -n 10 "$P/rec_spin" 2 5 40 >/dev/null
	done
) &
workload+=($!)
# The loop counts what it started (2 processes a turn, the sleep included) into
# a file, so the count survives the loop's end.
(
	end=$((SECONDS + life))
	n=0
	while [ $SECONDS -lt $end ]; do
		if [ $((n % 16)) = 0 ]; then
			"$P/perf_work" 0.02 >/dev/null
		else
			/bin/true
		fi
		sleep 0.04
		n=$((n + 2))
		echo "$n" >"$T/forks"
	done
) &
workload+=($!)
echo "workload: $nidle idle, unw_threads (3 threads) + rec_spin (2 threads) at nice 10, fork loop"

# ---- one run of one contender ------------------------------------------------------
# Leaves in $T/<c>.<r>.*: time (wall user sys maxrss_kb), rss (t_ms rss_kb ticks),
# log (its output), samples (count), bpf (run_time_ns run_cnt, the agent's).
bpf_prog_stats() { # pid: "run_time_ns run_cnt" of the xp_sample program it holds
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		grep -q '^prog_type:[[:space:]]*7$' "$f" 2>/dev/null || continue
		id=$(awk '$1 == "prog_id:" {print $2}' "$f")
		bpftool prog show id "$id" 2>/dev/null | grep -q ' name xp_sample ' || continue
		bpftool prog show id "$id" -j 2>/dev/null |
			python3 -c 'import json, sys; p = json.load(sys.stdin); print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
		return
	done
}
# perf's samples, forks and mmaps (the last two say how busy the machine was),
# counted from the records' headers in the file's data section. perf's own
# readers are no help here: perf report -D takes minutes on a file of a busy
# machine (~10k MMAP2 records a second), and both it and --stats stop short
# or print nothing on some of these files (the build-id flag of other
# sessions' MMAP2 records, see bench/README.md).
perf_counts() { # perf.data
	python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(56)
    if len(h) < 56 or h[:8] != b"PERFILE2":
        sys.exit("bench_agent: %s: not a perf.data file" % sys.argv[1])
    off, size = struct.unpack_from("<QQ", h, 40)  # the data section
    f.seek(off)
    data = f.read(size)
n = {}
i = 0
while i + 8 <= len(data):
    t, misc, sz = struct.unpack_from("<IHH", data, i)  # struct perf_event_header
    if sz < 8:
        break
    n[t] = n.get(t, 0) + 1
    i += sz
# PERF_RECORD_SAMPLE 9, FORK 7, MMAP 1, MMAP2 10
print(n.get(9, 0), n.get(7, 0), n.get(1, 0) + n.get(10, 0))
EOF
}
run_one() { # contender round seconds [profile]
	local c=$1 r=$2 s=$3 o=$T/$1.$2 cmd stop pid="" i t0 t k due st ticks rss rec="" f
	case $c in
	agent)
		mkdir -p "$o.dir" "$o.spool"
		cmd=("$X" agent -F 19 --interval 10s --output-dir "$o.dir" --spool-dir "$o.spool")
		stop=TERM
		[ -n "$old_stats" ] && sysctl -q kernel.bpf_stats_enabled=1
		;;
	dwarf)
		cmd=(perf record -a -F 19 -e cpu-clock --call-graph dwarf --buildid-mmap --no-bpf-event -o "$o.data")
		stop=INT
		;;
	fp)
		cmd=(perf record -a -F 19 -e cpu-clock -g --buildid-mmap --no-bpf-event -o "$o.data")
		stop=INT
		;;
	esac
	/usr/bin/time -f '%e %U %S %M' -o "$o.time" "${cmd[@]}" >"$o.log" 2>&1 &
	current=$!
	for i in $(seq 100); do
		pid=$(cat /proc/$current/task/$current/children 2>/dev/null)
		[ -n "$pid" ] && break
		kill -0 $current 2>/dev/null || break
		nap 0.05
	done
	pid=${pid%% *}
	if [ -z "$pid" ]; then
		wait $current
		current=""
		echo "$c round $r: did not start: $(tail -n 2 "$o.log" | tr '\n' ' ')"
		return 1
	fi
	if [ "${4:-}" = profile ]; then
		"$X" record -F 499 -p "$pid" -o "$T/agent.profile.folded" >"$T/profile.log" 2>&1 &
		rec=$!
	fi
	t0=$(now_ms)
	k=1
	while :; do
		# The next sample: every 5 s, the last one at the run's end.
		due=$((k * 5 < s ? k * 5000 : s * 1000))
		t=$(($(now_ms) - t0))
		[ $t -lt $due ] && nap "$(awk -v ms=$((due - t)) 'BEGIN {printf "%.3f", ms / 1000}')"
		kill -0 "$pid" 2>/dev/null || break
		st=$(cat /proc/"$pid"/stat 2>/dev/null) || break
		read -ra f <<<"${st##*) }"
		ticks=$((f[11] + f[12] + f[13] + f[14]))
		rss=$(awk '$1 == "VmRSS:" {print $2}' /proc/"$pid"/status 2>/dev/null)
		echo "$(($(now_ms) - t0)) ${rss:-0} $ticks" >>"$o.rss"
		[ $((k * 5)) -ge "$s" ] && break
		k=$((k + 1))
	done
	[ "$c" = agent ] && bpf_prog_stats "$pid" >"$o.bpf"
	if [ -n "$rec" ]; then
		kill -INT $rec 2>/dev/null
		wait $rec
	fi
	kill -"$stop" "$pid" 2>/dev/null
	# A watchdog: the agent sends for at most 5 s after SIGTERM.
	(
		sleep 30
		kill -KILL "$pid" 2>/dev/null
	) &
	i=$!
	wait $current
	kill_tree $i
	wait $i 2>/dev/null
	current=""
	[ "$c" = agent ] && [ -n "$old_stats" ] && sysctl -q kernel.bpf_stats_enabled="$old_stats"
	# /usr/bin/time starts its file with "Command exited with non-zero status N"
	# or "Command terminated by signal N" when the command did not exit 0; perf
	# ends by raising the SIGINT it caught once its file is complete.
	if [ "$c" != agent ] && [ "$(head -n 1 "$o.time")" = "Command terminated by signal 2" ]; then
		sed -i 1d "$o.time"
	fi
	if [ "$(wc -l <"$o.time")" != 1 ] || [ ! -s "$o.rss" ]; then
		echo "$c round $r: failed: $(head -n 1 "$o.time"); $(grep -v '^window ' "$o.log" | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	case $c in
	agent) awk '/^window / {for (i = 2; i < NF; i++) if ($(i + 1) ~ /^samples,?$/) n += $i} END {print n + 0}' "$o.log" >"$o.samples" ;;
	*)
		perf_counts "$o.data" >"$o.samples"
		rm -f "$o.data"
		;;
	esac
	[ "$(cut -d' ' -f1 "$o.samples")" -gt 0 ] || {
		echo "$c round $r: counted no samples"
		return 1
	}
	awk -v c="$c" -v r="$r" '{printf "%s round %s: %.1f s, cpu %.2f s (%.3f%% of one core), peak %.1f MiB, ",
		c, r, $1, $2 + $3, 100 * ($2 + $3) / $1, $4 / 1024}' "$o.time"
	echo "$(cut -d' ' -f1 "$o.samples") samples"
}

# ---- the rounds ----------------------------------------------------------------------
failed=0
n=${#contenders[@]}
echo "runs: ${contenders[*]}, $rounds round(s) of $run_secs s each, the order rotating"
for r in $(seq "$rounds"); do
	for i in $(seq 0 $((n - 1))); do
		c=${contenders[$(((i + r - 1) % n))]}
		run_one "$c" "$r" "$run_secs" || failed=1
	done
done
forks=$(cat "$T/forks" 2>/dev/null || echo 0)
fork_rate=$(awk -v n="$forks" -v ms=$(($(now_ms) - wl_start)) 'BEGIN {printf "%.0f", n / (ms / 1000)}')

# ---- figures ------------------------------------------------------------------------
label() {
	case $1 in
	agent) echo "agent" ;;
	dwarf) echo "perf dwarf" ;;
	fp) echo "perf -g" ;;
	esac
}
# Per contender, over its rounds: cpu% median, steady cpu% median, us per sample,
# peak MiB, rss min/median/max MiB, worst flat ratio, samples; perf's file:
# forks and mmaps.
summarize() { # contender
	local c=$1 r
	for r in $(seq "$rounds"); do
		[ -s "$T/$c.$r.samples" ] || continue
		read -r wall u s kb <"$T/$c.$r.time"
		read -r n forks mmaps <"$T/$c.$r.samples"
		awk -v w="$wall" -v u="$u" -v s="$s" -v kb="$kb" -v n="$n" -v f="${forks:-0}" -v m="${mmaps:-0}" -v hz="$hz" '
			{t[NR] = $1; rss[NR] = $2; tk[NR] = $3}
			END {
				steady = (NR > 1 && t[NR] > t[1]) ? 100 * (tk[NR] - tk[1]) / hz / ((t[NR] - t[1]) / 1000) : -1
				# flat: median of the last third of the curve over the median of its first third
				k = int(NR / 3); if (k < 1) k = 1
				for (i = 1; i <= k; i++) a[i] = rss[i]; fm = med(a, k)
				for (i = 1; i <= k; i++) b[i] = rss[NR - k + i]; lm = med(b, k)
				printf "%s %s %s %s %s %s %s %s %s\n", w, u + s, 100 * (u + s) / w, steady, kb, lm / fm, n, f, m
			}
			function med(v, m,   i, j, x) {
				for (i = 2; i <= m; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
				return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
			}' "$T/$c.$r.rss"
	done >"$T/$c.runs"
	[ -s "$T/$c.runs" ] || return 1
	cpu[$c]=$(awk '{print $3}' "$T/$c.runs" | median | awk '{printf "%.3f", $1}')
	steady[$c]=$(awk '$4 >= 0 {print $4}' "$T/$c.runs" | median | awk '{printf "%.3f", $1}')
	per[$c]=$(awk '{c += $2; n += $7} END {printf "%.1f", n ? 1e6 * c / n : 0}' "$T/$c.runs")
	# The peak: rusage's maxrss, or the highest VmRSS seen if that is higher.
	peak[$c]=$({
		awk '{print $5}' "$T/$c.runs"
		cat "$T"/"$c".*.rss | awk '{print $2}'
	} | awk '$1 > m {m = $1} END {printf "%.1f", m / 1024}')
	flat[$c]=$(awk '$6 > m {m = $6} END {printf "%.3f", m}' "$T/$c.runs")
	samples[$c]=$(awk '{n += $7} END {print n}' "$T/$c.runs")
	# The machine's forks and mmaps per second while perf recorded it.
	activity[$c]=$(awk '{f += $8; m += $9; w += $1} END {printf "%.0f forks/s, %.0f mmaps/s", f / w, m / w}' "$T/$c.runs")
	curve[$c]=$(cat "$T"/"$c".*.rss | awk '{print $2 / 1024}' | sort -g |
		awk '{a[NR] = $1} END {printf "%.1f / %.1f / %.1f", a[1], (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2, a[NR]}')
	# The series of the last round that ran, at most 24 points.
	for r in $(seq "$rounds" -1 1); do
		[ -s "$T/$c.$r.rss" ] && break
	done
	series[$c]=$(awk '{v[NR] = $2 / 1024} END {
		step = int((NR + 23) / 24); if (step < 1) step = 1
		for (i = step; i <= NR; i += step) printf "%s%.1f", (i > step ? " " : ""), v[i]
		printf " (every %d s, round %d)", 5 * step, '"$r"' }' "$T/$c.$r.rss")
}
declare -A cpu steady per peak flat samples curve series activity
ran=()
for c in "${contenders[@]}"; do
	summarize "$c" && ran+=("$c")
done
vs() { # figure-array-name contender unit: "0.52x perf dwarf 0.60%, ..." for the perf contenders
	local -n v=$1
	local c out=""
	for c in dwarf fp; do
		[[ " ${ran[*]} " == *" $c "* ]] || continue
		out+="${out:+, }$(awk -v a="${v[$2]}" -v b="${v[$c]}" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else printf "n/a:"}') $(label $c) ${v[$c]}$3"
	done
	echo "$out"
}
paren() { # part...: " (part; part)" of the parts not empty, or nothing
	local a out=""
	for a in "$@"; do
		[ -n "$a" ] && out+="${out:+; }$a"
	done
	[ -z "$out" ] || echo " ($out)"
}
goal() { # value op bound: met / missed
	awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {print ((op == "<=" ? v <= b : v >= b) ? "met" : "MISSED")}'
}

say "agent workload: $nidle idle processes, 5 busy threads at nice 10, fork loop $fork_rate processes/s"
say "agent runs: $rounds x $run_secs s per contender, interleaved"
for c in "${ran[@]}"; do
	sn=${samples[$c]}
	if [ "$c" = agent ]; then
		say "agent CPU, % of one core (rusage, median of $rounds): ${cpu[agent]}%$(paren "goal <= 0.25%: $(goal "${cpu[agent]}" "<=" 0.25)" "$(vs cpu agent %)")"
		say "agent CPU after start-up, % of one core (/proc stat): ${steady[agent]}%$(paren "$(vs steady agent %)")"
		say "agent CPU per sample, us: ${per[agent]}$(paren "$(vs per agent " us")")"
		say "agent peak RSS, MiB (max of $rounds): ${peak[agent]}$(paren "goal <= 64: $(goal "${peak[agent]}" "<=" 64)" "$(vs peak agent " MiB")")"
		say "agent RSS every 5 s, min / median / max MiB: ${curve[agent]}"
		say "agent RSS series, MiB: ${series[agent]}"
		say "agent RSS flat, last third / first third (worst run): ${flat[agent]}x (goal <= 1.10x: $(goal "${flat[agent]}" "<=" 1.10))"
		say "agent samples counted (sum of $rounds runs): $sn$(paren "$(for p in dwarf fp; do
			[[ " ${ran[*]} " == *" $p "* ]] && printf '%s %s, ' "$(label $p)" "${samples[$p]}"
		done | sed 's/, $//')")"
		awk '$2 > 0 {ns += $1; n += $2} END {if (n) printf "%.0f %d\n", ns / n, n}' "$T"/agent.*.bpf 2>/dev/null >"$T/bpf.sum"
		if [ -s "$T/bpf.sum" ]; then
			read -r ns runs <"$T/bpf.sum"
			ms=$(cat "$T"/agent.*.time | awk '{s += $1} END {print s * 1000}')
			say "agent BPF sampler, kernel ns per run (bpf_stats, all ticks): $ns ($runs runs; charged to the sampled tasks, not in the CPU above)"
			say "agent BPF sampler, kernel time % of one core: $(awk -v ns="$ns" -v n="$runs" -v ms="$ms" 'BEGIN {printf "%.4f", 100 * ns * n / 1e6 / ms}')%"
		fi
		agent_files=$(find "$T" -path "$T/agent.*.dir/*" -name '*.pb.gz' | wc -l)
		say "agent windows written (.pb.gz): $agent_files"
		# What its window lines say: "window T: N samples, L lost, P processes, S stacks, C% complete, ..."
		say "agent windows, from its log lines: $(cat "$T"/agent.[0-9]*.log | awk '/^window / {
			for (i = 2; i < NF; i++) {
				if ($(i + 1) ~ /^samples,?$/) { n += $i; s = $i }
				if ($(i + 1) ~ /^lost,?$/) l += $i
				if ($(i + 1) ~ /^processes,?$/ && $i > p) p = $i
				if ($(i + 1) == "complete," || $(i + 1) == "complete") { sub(/%$/, "", $i); c += $i * s / 100 }
			}
		} END {printf "%d lost, %.1f%% of samples complete, up to %d processes a window", l, n ? 100 * c / n : 0, p}')"
	else
		say "$(label "$c") CPU, % of one core (rusage, median of $rounds): ${cpu[$c]}% (reference)"
		say "$(label "$c") CPU after start-up, % of one core (/proc stat): ${steady[$c]}%"
		say "$(label "$c") CPU per sample, us: ${per[$c]}"
		say "$(label "$c") peak RSS, MiB (max of $rounds): ${peak[$c]}"
		say "$(label "$c") RSS every 5 s, min / median / max MiB: ${curve[$c]} (flat: ${flat[$c]}x)"
		say "$(label "$c") samples: $sn (sum of $rounds runs)"
		say "$(label "$c") run, the machine (perf's FORK and MMAP events): ${activity[$c]}"
	fi
done

# A table for the reader of this log (the "bench:" lines above are the figures).
{
	printf '\n%-12s %10s %10s %10s %10s %8s %9s\n' contender "CPU %" "steady %" "us/sample" "peak MiB" flat samples
	for c in "${ran[@]}"; do
		printf '%-12s %10s %10s %10s %10s %8s %9s\n' "$(label "$c")" "${cpu[$c]}" "${steady[$c]}" "${per[$c]}" \
			"${peak[$c]}" "${flat[$c]}" "${samples[$c]%% *}"
	done
	printf '%-12s %10s %10s %10s %10s %8s\n' "agent goal" "<= 0.25" "" "" "<= 64" "<= 1.10"
} >&2

# ---- where the agent's time goes, when it misses its CPU goal ---------------------------
if [[ " ${ran[*]} " == *" agent "* ]] &&
	{ [ "${BENCH_AGENT_PROFILE:-0}" = 1 ] || [ "$(goal "${cpu[agent]}" "<=" 0.25)" = MISSED ]; }; then
	echo "profiling the agent: one more run of $prof_secs s under xprof record -F 499 -p PID"
	if run_one agent profile "$prof_secs" profile && [ -s "$T/agent.profile.folded" ]; then
		# Folded lines: "comm;outermost;...;leaf COUNT"; the comm is no function.
		awk '{n = $NF; $NF = ""; sub(/ $/, ""); k = split($0, f, ";"); self[f[k]] += n; t += n
			delete seen; for (i = 2; i <= k; i++) if (!seen[f[i]]++) incl[f[i]] += n}
			END {
				for (s in self) printf "self %d %.1f %s\n", self[s], 100 * self[s] / t, s
				for (s in incl) printf "incl %d %.1f %s\n", incl[s], 100 * incl[s] / t, s
			}' "$T/agent.profile.folded" >"$T/profile.top"
		total=$(awk '{n += $NF} END {print n}' "$T/agent.profile.folded")
		echo "the agent's profile: $total samples"
		sort -k2,2nr <(grep '^self ' "$T/profile.top") | head -n 10 | while read -r _ n pct fn; do
			say "agent profile, self: $fn: $pct% ($n of $total samples)"
		done
		sort -k2,2nr <(grep '^incl ' "$T/profile.top") | head -n 15 | while read -r _ n pct fn; do
			echo "agent profile, inclusive: $fn: $pct%"
		done
	else
		echo "agent profile: no profile ($(tail -n 1 "$T/profile.log" 2>/dev/null))"
	fi
fi
exit $failed
