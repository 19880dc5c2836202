#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The machine-code analyser (make bench): its agreement with .eh_frame on
# libc, libstdc++ and ld.so (every function entry that has an FDE analysed
# as if it had none, compared instruction by instruction and CFI row by CFI
# row: tests/unit/test_unwind_synth.c), and its cost per function next to
# the CFI interpreter's per FDE on the same file, interleaved, medians of
# $RUNS runs (bench/synth_bench.c).
# Prints "bench: <name>: <value> (<ratio>)".
#   bench/bench_synth.sh BUILD_DIR
set -eu
build=${1:-build}
runs=${RUNS:-7}

XPROF_BUILD=$build "$build/tests/test_unwind_synth" 2>/dev/null |
	awk '{ gsub(/[:,;]/, "") }
	/^synth (libc|ld-linux|libstdc)[^ ]* +functions/ { f = $2; fn[f] = $4; ok[f] = $6 }
	/^synth (libc|ld-linux|libstdc)[^ ]* +instructions/ { f = $2; ins[f] = $5; ag[f] = $7; dis[f] = $10; empty[f] = $NF }
	/^synth (libc|ld-linux|libstdc)[^ ]* +cfi rows/ { f = $2; rows[f] = $5; rag[f] = $7; rdis[f] = $9 }
	END { for (f in fn)
		printf "bench: synth agreement %s: %s of %s instructions agree, %s disagree (%s of %s functions accepted; CFI rows %s agree, %s disagree, the rest of %s not reached; %s one-row FDEs of code that pushes, where the CFI is wrong)\n",
			f, ag[f], ins[f], dis[f], ok[f], fn[f], rag[f], rdis[f], rows[f], empty[f] }'
for file in /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libstdc++.so.6 \
	/lib64/ld-linux-x86-64.so.2; do
	[ -r "$file" ] || continue
	"$build/bench/synth_bench" "$file" "$runs" | awk -v f="$(basename "$file")" '{
		printf "bench: synth cost %s: %.1f us per function (the CFI interpreter: %.2f us per FDE, %.0fx; %d functions)\n",
			f, $2, $4, $2 / $4, $1 }'
done
echo "bench: (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs during the run: medians include the noise)"
