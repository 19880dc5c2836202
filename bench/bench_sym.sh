#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Symbolization speed: N unique addresses inside functions of libc (with
# libc6-dbg: names, inline chains, lines), libstdc++ (.dynsym) and the sym_cxx
# and sym_target test binaries, symbolized cold by symbolize/ and by
# `addr2line -C -f -i -e` (one process per file, all its addresses on stdin)
# in the same run; then warm lookups per second. Two cold cases:
#   first:  a new session with an empty cache dir (first use): DWARF is read
#           with libdw and the symbol index is built and written (the write,
#           at the session's end, is in the total, not in the per-file times);
#   cached: a new process per repeat whose session reads the index the first
#           case left on disk (second use): libdw is not opened.
# Each cold number is the median of REPEATS runs.
#   bench/bench_sym.sh [BUILD_DIR]   env: N (20000), REPEATS (5)
set -eu
build=${1:-build}
N=${N:-20000}
REPEATS=${REPEATS:-5}
bench=$build/progs/sym_bench
[ -x "$bench" ] || { echo "bench: missing $bench (make unit-bins)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DEBUGINFOD_URLS=

libc=$(ldd "$build/progs/sym_cxx" | awk '/libc.so/{print $3}')
cxxlib=$(ldd "$build/progs/sym_cxx" | awk '/libstdc\+\+/{print $3}')
lid=$(readelf -n "$libc" | awk '/Build ID/{print $3}')
ldbg=/usr/lib/debug/.build-id/${lid:0:2}/${lid:2}.debug
[ -r "$ldbg" ] || { echo "bench: no $ldbg (libc6-dbg)" >&2; exit 1; }

# Unique addresses inside function symbols, shuffled: N/2 libc, 3N/10
# libstdc++, the rest split between the test binaries.
python3 - "$tmp" "$N" "$libc=$ldbg" "$cxxlib=-D" "$build/progs/sym_cxx=" "$build/progs/sym_target=" <<'PY'
import random, re, subprocess, sys
tmp, n = sys.argv[1], int(sys.argv[2])
shares = [0.5, 0.3, 0.1, 0.1]
rng = random.Random(7)
for i, spec in enumerate(sys.argv[3:]):
    path, src = spec.split("=", 1)
    args = ["nm", "-S", "--defined-only"] + (["-D", path] if src == "-D" else [src or path])
    syms = []
    for l in subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) [TtWi] ", l)
        if m and int(m[2], 16):
            syms.append((int(m[1], 16), int(m[2], 16)))
    want = int(n * shares[i])
    if sum(sz for _, sz in syms) < 4 * want:
        # Small binary: sample from every function byte (aliases overlap).
        every = sorted({a + k for a, sz in syms for k in range(sz)})
        addrs = rng.sample(every, min(want, len(every)))
    else:
        addrs = set()
        while len(addrs) < want:
            a, sz = rng.choice(syms)
            addrs.add(a + rng.randrange(sz))
        addrs = list(addrs)
    rng.shuffle(addrs)
    with open("%s/addrs.%d" % (tmp, i), "w") as f:
        f.write("".join("0x%x\n" % a for a in addrs))
    with open("%s/files" % tmp, "a") as f:
        f.write("%s %s/addrs.%d\n" % (path, tmp, i))
PY

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# addr2line: one process per file and repeat (the page cache is warm for both).
: > "$tmp/a2l"
for r in $(seq "$REPEATS"); do
	while read -r path addrs; do
		t0=$(now)
		addr2line -C -f -i -e "$path" < "$addrs" > /dev/null
		t1=$(now)
		echo "$path $(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) * 1000}')" >> "$tmp/a2l"
	done < "$tmp/files"
done

args=$(awk '{printf "%s=%s ", $1, $2}' "$tmp/files")
# shellcheck disable=SC2086
"$bench" -r "$REPEATS" -w 20 -c "$tmp/cache" -F $args > "$tmp/first"
# shellcheck disable=SC2086
for r in $(seq "$REPEATS"); do
	"$bench" -r 1 -w 1 -c "$tmp/cache" $args > "$tmp/cached.$r"
done
# shellcheck disable=SC2086
"$bench" -r "$REPEATS" -w 1 -n $args > "$tmp/first_nolines"
val() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }
a2l_total=0
while read -r path addrs; do
	a2l=$(awk -v p="$path" '$1 == p {print $2}' "$tmp/a2l" | median)
	a2l_total=$(awk -v a="$a2l_total" -v b="$a2l" 'BEGIN {print a + b}')
	read -r n first < <(awk -v p="$path" '$1 == "file" && $2 == p {print $3, $4}' "$tmp/first")
	cached=$(cat "$tmp"/cached.* | awk -v p="$path" '$1 == "file" && $2 == p {print $4}' | median)
	printf 'bench: sym_first_%s_%s_addrs_ms: %.1f (%sx faster than addr2line: %.1f ms)\n' \
		"${path##*/}" "$n" "$first" "$(ratio "$a2l" "$first")" "$a2l"
	printf 'bench: sym_cached_%s_%s_addrs_ms: %.1f (%sx faster than addr2line: %.1f ms)\n' \
		"${path##*/}" "$n" "$cached" "$(ratio "$a2l" "$cached")" "$a2l"
done < "$tmp/files"
addrs=$(val addresses "$tmp/first")
first=$(val cold_ms "$tmp/first")
write=$(val teardown_ms "$tmp/first")
cached=$(cat "$tmp"/cached.* | awk '$1 == "cold_ms" {print $2}' | median)
first_nl=$(val cold_ms "$tmp/first_nolines")
warm=$(val warm_lookups_per_s "$tmp/first")
index_kb=$(du -sk "$tmp/cache" | awk '{print $1}')
printf 'bench: sym_first_%s_addrs_ms: %.1f (%sx faster than addr2line: %.1f ms; %.1f ms of it writing the index)\n' \
	"$addrs" "$first" "$(ratio "$a2l_total" "$first")" "$a2l_total" "$write"
printf 'bench: sym_cached_%s_addrs_ms: %.1f (%sx faster than addr2line: %.1f ms; index %s KB)\n' \
	"$addrs" "$cached" "$(ratio "$a2l_total" "$cached")" "$a2l_total" "$index_kb"
printf 'bench: sym_first_nolines_%s_addrs_ms: %.1f (%sx faster than addr2line, no index)\n' "$addrs" \
	"$first_nl" "$(ratio "$a2l_total" "$first_nl")"
printf 'bench: sym_warm_lookups_per_s: %.0f (%sx the 1M/s goal)\n' "$warm" "$(ratio "$warm" 1000000)"
