#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of xprof diff on finished profiles: two synthetic folded
# profiles (BENCH_DIFF_STACKS unique stacks each, depth 20-40, 1M samples,
# 80% of the stacks shared, counts shifted between them), also as pprof.
# Each figure is the median CPU time (user + system, wait4's rusage) of
# BENCH_REPEAT interleaved runs, next to a reference run in the same loop:
#  - diff to .svg from the two .folded vs rep_gen drawing AFTER's own
#    flamegraph from its .folded (one profile read, one SVG written);
#  - diff to .folded likewise vs rep_gen writing AFTER's folded;
#  - diff to .pb.gz from the two .pb.gz vs `go tool pprof -proto
#    -diff_base=BEFORE AFTER`, which builds the same merged profile.
#   bench/bench_diff.sh            (make bench-diff builds and runs it)
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
X="$top/$O/xprof"
gen="$top/$O/progs/rep_gen"
N=${BENCH_DIFF_STACKS:-10000}
R=${BENCH_REPEAT:-5}
[ -x "$X" ] && [ -x "$gen" ] || { echo "bench: diff: unavailable: run 'make bench-diff'"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME="$T" PPROF_TMPDIR="$T"

python3 - "$T" "$N" <<'EOF'
import random, sys
T, n = sys.argv[1], int(sys.argv[2])
r = random.Random(13)
names = ["fn_%d_%s" % (i, "x" * r.randint(0, 12)) for i in range(3000)]
stacks = []
for i in range(n * 6 // 5):
    d = r.randint(20, 40)
    stacks.append("app;" + ";".join(r.choice(names) for _ in range(d)))
before, after = stacks[: n], stacks[n // 5 : n // 5 + n]
def write(path, ss, seed):
    g = random.Random(seed)
    w = [g.paretovariate(1.2) for _ in ss]
    tot = sum(w)
    with open(path, "w") as f:
        for s, x in zip(ss, w):
            f.write("%s %d\n" % (s, max(1, int(1e6 * x / tot))))
write(T + "/before.folded", before, 1)
write(T + "/after.folded", after, 2)
EOF
"$gen" --period 10101010 -o "$T/before.pb.gz" <"$T/before.folded"
"$gen" --period 10101010 -o "$T/after.pb.gz" <"$T/after.folded"

timed() { # tag, command...: appends "wall_s cpu_s" to $T/t.<tag>; stdout to /dev/null
	local tag=$1
	shift
	python3 -c '
import os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open("/dev/null", os.O_WRONLY)
    os.dup2(fd, 1)
    os.execvp(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(pid, 0)
with open(sys.argv[1], "a") as f:
    f.write("%.4f %.4f\n" % (time.monotonic() - t0, ru.ru_utime + ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(st))' "$T/t.$tag" "$@"
}
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cpu() { awk '{print $2}' "$T/t.$1" | median; }
wall() { awk '{print $1}' "$T/t.$1" | median; }

have_go=0
command -v go >/dev/null && go tool -n pprof >/dev/null 2>&1 && have_go=1
for _ in $(seq "$R"); do
	timed svg "$X" diff -q "$T/before.folded" "$T/after.folded" -o "$T/d.svg"
	timed ref_svg sh -c '"$0" -o "$1" <"$2"' "$gen" "$T/a.svg" "$T/after.folded"
	timed folded "$X" diff -q "$T/before.folded" "$T/after.folded" -o "$T/d.folded"
	timed ref_folded sh -c '"$0" -o "$1" <"$2"' "$gen" "$T/a.folded" "$T/after.folded"
	timed pprof "$X" diff -q "$T/before.pb.gz" "$T/after.pb.gz" -o "$T/d.pb.gz"
	if [ $have_go = 1 ]; then
		timed ref_pprof go tool pprof -proto -symbolize=none -output="$T/g.pb.gz" \
			-diff_base="$T/before.pb.gz" "$T/after.pb.gz" 2>/dev/null
	fi
done
row() { # name, tag, reference description
	awk -v n="$1" -v c="$(cpu "$2")" -v w="$(wall "$2")" -v r="$(cpu "ref_$2")" -v d="$3" \
		'BEGIN {printf "bench: %s: %.3f s CPU, %.3f s wall (%.2fx %s, %.3f s)\n", n, c, w, (r > 0 ? c / r : 0), d, r}'
}
echo "diff: $N unique stacks per side, $(wc -l <"$T/d.folded") lines in the folded diff, $R runs each"
row diff_svg svg "rep_gen's flamegraph of AFTER alone"
row diff_folded folded "rep_gen's folded of AFTER alone"
if [ $have_go = 1 ]; then
	row diff_pprof pprof "go tool pprof -proto -diff_base"
else
	echo "bench: diff_pprof: $(cpu pprof) s CPU (no go: no reference)"
fi
