#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Full-depth capture (issue 15) in make bench:
#  - the BPF sampler's cost per sample (its own timing, record -v: from the
#    tick's acceptance to the record's submission) at 2 KiB, 16 KiB and
#    256 KiB live stacks: cap_deep at three depths, interleaved, REPS runs,
#    medians; each figure next to the 16 KiB one of the same run (the goal:
#    cost follows the live depth, no fixed price for the deep case);
#  - bytes stored per sample for the 2,500-deep recursion (~240 KiB of
#    stack): .xprof with default options vs perf.data with
#    `--call-graph dwarf,65528` (perf's largest copy), with the share of
#    samples each unwinds to main;
#  - a 256 KiB live stack in a thread (its end only its mapping's: a 64 KiB
#    first record, then the full one), and the ring-buffer bytes reserved per
#    sample for a Go program (goroutine stacks in the heap arena) against the
#    stack bytes it copied.
# XPROF_REF=another/xprof runs every cost case under it too, interleaved.
# The target slowdown at 999 Hz next to perf --call-graph dwarf is in
# bench_record.sh.
#   bench/bench_capture.sh XPROF PROGS_DIR [REPS]
set -u
X=$1 P=$2 REPS=${3:-3} REF=${XPROF_REF:-}
say() { echo "bench: $*"; }
[ "$(id -u)" = 0 ] || { say "capture: unavailable: needs root (BPF)"; exit 0; }
[ -x "$P/cap_deep" ] || { say "capture: unavailable: no $P/cap_deep"; exit 0; }
T=$(mktemp -d /tmp/xprof-bench-capture.XXXXXX)
trap 'rm -rf "$T"' EXIT
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# ---- BPF cost per sample by live stack size -------------------------------------
# cap_deep frames are 96 bytes; the rest of the stack (main and above) ~0.5 KiB.
# Two figures per size: the program's own timing (record -v: from accepting
# the tick to submitting the record), and the kernel's run-time stats
# (kernel.bpf_stats_enabled: run_time_ns of every run, over the samples: it
# also charges the filter-only runs of other tasks' ticks, ~the same in every
# setup).
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -q kernel.bpf_stats_enabled="$old_stats"; rm -rf "$T"' EXIT
sysctl -q kernel.bpf_stats_enabled=1
# 256t: the 256 KiB recursion in a second thread, whose stack's end is only
# its mapping's: a 64 KiB first record, filled, then the full-length one.
# With XPROF_REF (a reference build, e.g. main's), each case runs under both,
# interleaved, and each figure is also given against the reference's.
declare -A depth=([2]=16 [16]=165 [256]=2725 [256t]=2725)
declare -A how=([2]="" [16]="" [256]="" [256t]=thread)
bins=(x)
[ -n "$REF" ] && bins+=(ref)
for _ in $(seq "$REPS"); do
	for k in 2 16 256 256t; do
		for b in "${bins[@]}"; do
			bin=$X
			[ "$b" = ref ] && bin=$REF
			# shellcheck disable=SC2086 # how[] is empty or one word
			"$bin" record -v -F 999 -o "$T/c$k.xprof" -- "$P/cap_deep" 1.5 "${depth[$k]}" ${how[$k]} \
				>/dev/null 2>"$T/c$k.err" || continue
			awk '/sampler: [0-9]+ samples/ { s = $3; print $5 >>"'"$T/ns.$b.$k"'" }
				/sampler runs:/ { gsub(",", "", $4); t = $5 }
				/sampler ring:/ { print $4 >>"'"$T/ring.$b.$k"'" }
				END { if (s && t) printf "%.0f\n", t / s >>"'"$T/run.$b.$k"'" }' "$T/c$k.err"
			"$X" info "$T/c$k.xprof" | awk -F': ' '$1=="samples"{n=$2} $1=="stack bytes"{split($2,a," "); b=a[1]}
				END {if (n) printf "%.0f\n", b / n}' >>"$T/bytes.$b.$k"
		done
	done
done
sysctl -q kernel.bpf_stats_enabled="$old_stats"
ref=$(median <"$T/ns.x.16" 2>/dev/null)
rref=$(median <"$T/run.x.16" 2>/dev/null)
bref=$(median <"$T/bytes.x.16" 2>/dev/null)
vs_ref() { # FILE-STEM KEY VALUE: " (Nx XPROF_REF's: M)", or nothing
	local m
	[ -n "$REF" ] && [ -s "$T/$1.ref.$2" ] || return 0
	m=$(median <"$T/$1.ref.$2")
	[ -n "$m" ] && awk -v a="$3" -v m="$m" 'BEGIN {printf "; %.2fx XPROF_REF'"'"'s %s", a / m, m}'
}
for k in 2 16 256 256t; do
	ns=$(median <"$T/ns.x.$k" 2>/dev/null)
	run=$(median <"$T/run.x.$k" 2>/dev/null)
	b=$(median <"$T/bytes.x.$k" 2>/dev/null)
	ring=$(median <"$T/ring.x.$k" 2>/dev/null)
	name="${k%t} KiB live stack"
	[ "$k" = 256t ] && name="256 KiB live stack in a thread"
	if [ -z "$ns" ] || [ -z "$ref" ]; then
		say "bpf ns per sample, $name: unavailable: $(tail -n 1 "$T/c$k.err")"
		continue
	fi
	say "bpf ns per sample, $name, own timing: $ns ($(awk -v a="$ns" -v r="$ref" -v b="$b" -v rb="$bref" 'BEGIN {printf "%.2fx the 16 KiB case, for %.2fx its bytes", a / r, b / rb}'): $b copied, ${ring:-?} ring bytes reserved$(vs_ref ns "$k" "$ns"); median of $REPS)"
	[ -n "$run" ] && [ -n "$rref" ] &&
		say "bpf ns per sample, $name, kernel run_time: $run ($(awk -v a="$run" -v r="$rref" 'BEGIN {printf "%.2fx", a / r}') the 16 KiB case$(vs_ref run "$k" "$run"); median of $REPS)"
done

# ---- ring-buffer bytes per sample: a Go program ---------------------------------
# A goroutine's stack lies inside Go's 64 MiB heap arena: the end of its
# mapping bounds nothing, and a record reserved that far held 1 MiB of the
# ring for a copy of a few KiB. Each record holds its reserved size until the
# reader passes it, so this is what fills the ring; the reference is the
# stack bytes the same samples copied.
gosrc=$(cd "$(dirname "$0")/../tests/progs/gowork" 2>/dev/null && pwd)
if command -v go >/dev/null && [ -n "$gosrc" ]; then
	mkdir -p "$T/go" "$T/gohome"
	cp "$gosrc"/*.go "$gosrc"/go.mod "$T/go/"
	(cd "$T/go" && HOME="$T/gohome" GOCACHE="$T/gocache" GOPATH="$T/gopath" GOFLAGS=-mod=mod \
		GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$T/gowork" .) >/dev/null 2>&1
fi
if [ -x "$T/gowork" ]; then
	for _ in $(seq "$REPS"); do
		for b in "${bins[@]}"; do
			bin=$X
			[ "$b" = ref ] && bin=$REF
			"$bin" record -v -F 2999 -o "$T/g.xprof" -- "$T/gowork" 2 >/dev/null 2>"$T/g.err" || continue
			awk '/^xprof: [0-9]+ samples, [0-9]+ lost/ { print $4 * 100 / ($2 + $4) >>"'"$T/lost.$b.go"'" }
				/sampler ring:/ { print $4 >>"'"$T/ring.$b.go"'" }' "$T/g.err"
			"$X" info "$T/g.xprof" | awk -F': ' '$1=="samples"{n=$2} $1=="stack bytes"{split($2,a," "); b=a[1]}
				END {if (n) printf "%.0f\n", b / n}' >>"$T/bytes.$b.go"
		done
	done
	ring=$(median <"$T/ring.x.go" 2>/dev/null)
	b=$(median <"$T/bytes.x.go" 2>/dev/null)
	lost=$(median <"$T/lost.x.go" 2>/dev/null)
	if [ -n "$ring" ] && [ -n "$b" ]; then
		say "ring bytes per sample, Go (gowork at 2999 Hz): $ring ($(awk -v a="$ring" -v b="$b" 'BEGIN {printf "%.2fx", a / b}') the $b stack bytes each copied; ${lost}% lost$(vs_ref ring go "$ring"); median of $REPS)"
	else
		say "ring bytes per sample, Go: unavailable: $(tail -n 1 "$T/g.err")"
	fi
else
	say "ring bytes per sample, Go: unavailable: no go toolchain (golang-go)"
fi

# ---- bytes stored per sample: the 2,500-deep recursion ----------------------------
unwound() { # folded file: share of samples whose stack holds main
	awk '{n = $NF; t += n; if ($0 ~ /;main;/) m += n} END {printf "%.1f", t ? 100 * m / t : 0}' "$1"
}
"$X" record -F 999 -o "$T/d.xprof" -- "$P/cap_deep" 2 2500 >/dev/null 2>&1 &&
	"$X" report -q -i "$T/d.xprof" -o "$T/d.folded" --filter-comm cap_deep 2>/dev/null
xs=$("$X" info "$T/d.xprof" 2>/dev/null | awk -F': ' '$1=="samples"{print $2}')
xsz=$(stat -c %s "$T/d.xprof" 2>/dev/null)
if command -v perf >/dev/null; then
	perf record -q --buildid-mmap --no-bpf-event -e cpu-clock -F 999 --call-graph dwarf,65528 \
		-o "$T/d.perf.data" -- "$P/cap_deep" 2 2500 >/dev/null 2>"$T/perf.err"
	perf script -i "$T/d.perf.data" -F comm,tid,ip,sym --no-inline 2>/dev/null |
		awk '/^[^ \t]/ {if (s != "") print s " 1"; s = $1; next} NF >= 2 {s = s ";" $2} END {if (s != "") print s " 1"}' >"$T/d.perf.folded"
	ps=$(grep -c . "$T/d.perf.folded")
	psz=$(stat -c %s "$T/d.perf.data" 2>/dev/null)
fi
if [ -n "${xs:-}" ] && [ "${xs:-0}" -gt 0 ]; then
	xb=$((xsz / xs))
	if [ -n "${ps:-}" ] && [ "${ps:-0}" -gt 0 ]; then
		pb=$((psz / ps))
		say "bytes per sample, 2500-deep recursion (~240 KiB), .xprof: $xb ($(awk -v a="$xb" -v b="$pb" 'BEGIN {printf "%.3f", a / b}')x perf.data at --call-graph dwarf,65528: $pb; reaching main: xprof $(unwound "$T/d.folded")%, perf $(unwound "$T/d.perf.folded")%)"
	else
		say "bytes per sample, 2500-deep recursion (~240 KiB), .xprof: $xb (perf: unavailable; reaching main: xprof $(unwound "$T/d.folded")%)"
	fi
else
	say "bytes per sample, 2500-deep recursion: unavailable: xprof record failed"
fi
