#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: runs every bench/bench_*.sh in name order, collects the lines
# they print as
#     bench: <name>: <value> (<ratio against a reference measured in the same run>)
# into one table, prints it and keeps a copy in bench/results/<UTC time>.txt.
#   bench/run.sh [BUILD_DIR] [PART...]     (PART: offline, record, sym, ...; default all)
# A part that has a make target bench-<part> runs through it (so the target
# builds what the part needs and passes its arguments); otherwise the script
# runs as bench/bench_<part>.sh BUILD_DIR. A part that fails, times out or
# prints no figure gets a line saying so; the others still run.
# Env: BENCH_PART_TIMEOUT (seconds per part, default 900); parts read their own
# knobs (BENCH_SECONDS, BENCH_REPEAT, ...; see bench/README.md). A part whose
# script takes --budget (bench_agent.sh: its contenders run for minutes each)
# prints its own limit, from its own knobs, and gets that instead.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=${1:-build}
shift $(($# > 0 ? 1 : 0))
only=("$@")
export XPROF="$top/$build/xprof" XPROF_BUILD="$top/$build" XPROF_TOP="$top"
mkdir -p bench/results
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=bench/results/$stamp.txt
logdir=$(mktemp -d /tmp/xprof-bench.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

rows=()
add_row() { # part, name, value, ratio
	rows+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
}

# "bench: <name>: <value> (<ratio>)" -> part/name/value/ratio; other lines are logs.
collect() { # part, log
	local part=$1 log=$2 n=0 line name rest value ratio
	while IFS= read -r line; do
		case $line in "bench: "*) ;; *) continue ;; esac
		rest=${line#bench: }
		if [[ $rest == *": "* ]]; then
			name=${rest%%: *}
			rest=${rest#*: }
		else
			name=$rest
			rest=""
		fi
		value=$rest ratio=""
		if [[ $rest =~ ^(.*[^ ])\ \(([^()]*(\([^()]*\)[^()]*)*)\)$ ]]; then
			value=${BASH_REMATCH[1]}
			ratio=${BASH_REMATCH[2]}
		fi
		add_row "$part" "$name" "$value" "$ratio"
		n=$((n + 1))
	done <"$log"
	collected=$n
}

parts=()
for s in bench/bench_*.sh; do
	[ -f "$s" ] || continue
	p=${s#bench/bench_}
	p=${p%.sh}
	if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $p "* ]]; then
		continue
	fi
	parts+=("$p")
done

part_timeout() { # part
	local t
	if grep -q -e '--budget' "bench/bench_$1.sh" && t=$(bash "bench/bench_$1.sh" --budget 2>/dev/null) &&
		[[ $t =~ ^[0-9]+$ ]]; then
		echo "$t"
	else
		echo "${BENCH_PART_TIMEOUT:-900}"
	fi
}

t_start=$SECONDS
for p in "${parts[@]}"; do
	log=$logdir/$p.log
	t0=$SECONDS
	tmo=$(part_timeout "$p")
	printf 'bench: running %s ...\n' "$p" >&2
	if make -n "bench-$p" >/dev/null 2>&1; then
		how="make bench-$p"
		timeout --kill-after=10 "$tmo" \
			make --no-print-directory -s "bench-$p" O="$build" >"$log" 2>&1
	else
		how="bench/bench_$p.sh $build"
		timeout --kill-after=10 "$tmo" \
			bash "bench/bench_$p.sh" "$build" >"$log" 2>&1
	fi
	rc=$?
	collect "$p" "$log"
	n=$collected
	dt=$((SECONDS - t0))
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		add_row "$p" "(part)" "timed out after $tmo s" "$how"
	elif [ $rc != 0 ]; then
		add_row "$p" "(part)" "failed (exit $rc): $(grep -v '^bench: ' "$log" | tail -n 1)" "$how"
	elif [ "$n" = 0 ]; then
		add_row "$p" "(part)" "no figures: $(tail -n 1 "$log")" "$how"
	fi
	printf 'bench: %s done in %d s (exit %d, %d figures)\n' "$p" "$dt" "$rc" "$n" >&2
done

{
	echo "xprof make bench, $stamp"
	echo "commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')," \
		"kernel $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))," \
		"$(perf version 2>/dev/null || echo 'no perf')"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: ratios come from interleaved runs, medians)"
	echo "parts: ${parts[*]:-none} in $((SECONDS - t_start)) s"
	echo
	printf '%s\n' "${rows[@]}" | awk -F'\t' '
		{ part[NR] = $1; name[NR] = $2; value[NR] = $3; ratio[NR] = $4
		  if (length($2) > wn) wn = length($2); if (length($3) > wv) wv = length($3) }
		END {
			if (wn > 60) wn = 60; if (wv > 40) wv = 40
			printf "%-9s  %-" wn "s  %-" wv "s  %s\n", "part", "figure", "value", "ratio / reference"
			for (i = 1; i <= NR; i++) {
				if (part[i] == "") continue
				printf "%-9s  %-" wn "s  %-" wv "s  %s\n", (part[i] == part[i-1] ? "" : part[i]), name[i], value[i], ratio[i]
			}
		}'
} | tee "$out"
echo "bench: table saved to $out" >&2
