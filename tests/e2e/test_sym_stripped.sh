#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A stripped release build (sym_strip: -O2, strip --strip-all) names each of
# its functions once: no symbol names main, work, hot_mix or hot_sum, so
# each is "sym_strip+0xSTART", the function whose FDE (.eh_frame) starts at
# START, and a flamegraph has one box per function instead of one per
# sampled address. Checked on two recordings under real BPF:
#   - the hot chains are exactly ...;main;work;hot_mix and ...;main;work;hot_sum
#     with those names, START taken from the unstripped build (nm);
#   - no frame in sym_strip's FDE-covered code is an unnamed
#     "[sym_strip+0x...]" address (crtstuff's __do_global_dtors_aux has no
#     FDE: an exit-time sample there stays a raw address, as in perf);
#   - the names of the two recordings are the same;
#   - `go tool pprof -raw` keeps the exact addresses: many distinct sampled
#     addresses per hot function, each inside that function.
set -u
. "$(dirname "$0")/lib_e2e.sh"
: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
prog=$XPROF_BUILD/progs/sym_strip
full=$XPROF_BUILD/progs/sym_strip.full
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || e2e_skip "needs root for BPF"
[ -x "$prog" ] && [ -x "$full" ] || fail "no $prog or $full (make unit-bins)"
if ! command -v go >/dev/null || ! go tool -n pprof >/dev/null 2>&1; then
	e2e_skip "go tool pprof not found: install golang-go (make deps)"
fi
W=$(mktemp -d /tmp/xprof-stripped.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HOME=$W PPROF_TMPDIR=$W/pprof # pprof keeps state under $HOME

nm -S "$full" >"$W/nm.txt" || fail "nm $full"
readelf -lW "$full" >"$W/phdrs.txt" || fail "readelf $full"
readelf --debug-dump=frames "$prog" >"$W/frames.txt" 2>/dev/null || fail "readelf --debug-dump=frames $prog"
for run in 1 2; do
	timeout 60 "$XPROF" record -F 999 -o "$W/$run.xprof" -- "$prog" 1200 >/dev/null 2>"$W/$run.rec" ||
		{ cat "$W/$run.rec"; fail "xprof record failed"; }
	timeout 60 "$XPROF" report -i "$W/$run.xprof" --filter-comm sym_strip \
		-o "$W/$run.folded" -o "$W/$run.pb.gz" 2>"$W/$run.rep" ||
		{ cat "$W/$run.rep"; fail "xprof report failed"; }
	tail -n 1 "$W/$run.rep"
	go tool pprof -raw -symbolize=none "$W/$run.pb.gz" >"$W/$run.raw" 2>"$W/$run.raw.err" ||
		{ cat "$W/$run.raw.err"; fail "go tool pprof -raw rejected $run.pb.gz"; }
done

python3 - "$W" <<'EOF2'
import re, sys
W = sys.argv[1]
def fail(msg):
    sys.exit("FAIL: " + msg)

# Where each function is, from the unstripped build: nm gives clone names
# (hot_mix.constprop.0) and sizes; every name below is "sym_strip+0xSTART".
funcs = {}
for line in open(W + "/nm.txt"):
    m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) [tT] (\w+)", line)
    if m:
        funcs[m[3].split(".")[0]] = (int(m[1], 16), int(m[2], 16))
for f in ("main", "work", "hot_mix", "hot_sum"):
    if f not in funcs:
        fail("%s not in nm output of sym_strip.full" % f)
name = {f: "sym_strip+0x%x" % funcs[f][0] for f in funcs}
print("expected: " + ", ".join("%s=%s" % (f, name[f]) for f in ("main", "work", "hot_mix", "hot_sum")))

# Code with an FDE must be named; code without one (crtstuff) has nothing
# to name it by and may appear, rarely, as a raw address.
fdes = [(int(m[1], 16), int(m[2], 16)) for m in
        re.finditer(r"FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", open(W + "/frames.txt").read())]
if len(fdes) < 4:
    fail("readelf found %d FDEs in sym_strip, want >= 4" % len(fdes))
def in_fde(frame):
    pc = int(frame[len("[sym_strip+"):-1], 16)
    return any(lo <= pc < hi for lo, hi in fdes)

def folded(run):
    out = []
    for line in open("%s/%s.folded" % (W, run)):
        stack, n = line.rstrip("\n").rsplit(" ", 1)
        out.append(([f for f in stack.split(";")[1:] if not f.endswith("_[k]")], int(n)))
    return out

seen = {}
for run in (1, 2):
    stacks = folded(run)
    total = sum(n for _, n in stacks)
    ours = {f for fr, _ in stacks for f in fr if f.startswith(("sym_strip+", "[sym_strip+"))}
    unnamed = sorted(f for f in ours if f.startswith("[") and in_fde(f))
    if unnamed:
        fail("run %d: unnamed addresses in sym_strip's FDEs: %s" % (run, unnamed[:5]))
    nofde = sum(n for fr, n in stacks if any(f.startswith("[sym_strip+") for f in fr))
    if nofde > 0.01 * total:
        fail("run %d: %d of %d samples through sym_strip code without an FDE" % (run, nofde, total))
    for hot in ("hot_mix", "hot_sum"):
        tail = [name["main"], name["work"], name[hot]]
        leaf = sum(n for fr, n in stacks if fr and fr[-1] == name[hot])
        chain = sum(n for fr, n in stacks if fr[-3:] == tail)
        if leaf < 50:
            fail("run %d: %d samples in %s (%s), want >= 50" % (run, leaf, hot, name[hot]))
        if chain < 0.99 * leaf:
            fail("run %d: %s: %d of %d samples with the chain %s" % (run, hot, chain, leaf, ";".join(tail)))
        print("run %d: %s: %d samples, %d with ...;%s" % (run, hot, leaf, chain, ";".join(tail)))
    seen[run] = {f for f in ours if f in (name["main"], name["work"], name["hot_mix"], name["hot_sum"])}
    print("run %d: %d samples, %d distinct sym_strip frames: %s" % (run, total, len(ours), sorted(ours)))
if seen[1] != seen[2] or len(seen[1]) != 4:
    fail("names differ between recordings: %s vs %s" % (sorted(seen[1]), sorted(seen[2])))

# pprof keeps each sampled address: locations of one function are many
# addresses, all inside it. Mapping lines: "N: START/LIMIT/OFFSET FILE ...";
# a file offset is a virtual address through sym_strip's PT_LOADs.
loads = []
for line in open(W + "/phdrs.txt"):
    p = line.split()
    if p and p[0] == "LOAD":
        loads.append((int(p[1], 16), int(p[2], 16), int(p[4], 16)))  # offset, vaddr, filesz
def vaddr_of(off):
    for o, v, sz in loads:
        if o <= off < o + sz:
            return off - o + v
    return None
raw = open(W + "/1.raw").read()
maps = {}
for m in re.finditer(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S+)", raw, re.M):
    maps[m[1]] = (int(m[2], 16), int(m[4], 16), m[5])
addrs = {}
for m in re.finditer(r"^\s+\d+: 0x([0-9a-f]+) M=(\d+) (\S+) ", raw, re.M):
    start, off, path = maps[m[2]]
    if path.endswith("/sym_strip"):
        addrs.setdefault(m[3], set()).add(vaddr_of(int(m[1], 16) - start + off))
for hot in ("hot_mix", "hot_sum"):
    a, sz = funcs[hot]
    got = addrs.get(name[hot], set())
    outside = [hex(x) for x in got if x is None or not a <= x < a + sz]
    if outside:
        fail("pprof: %s locations outside [0x%x, 0x%x): %s" % (name[hot], a, a + sz, outside))
    if len(got) < 4:
        fail("pprof: %s has %d distinct addresses, want several" % (name[hot], len(got)))
    print("pprof: %s: %d distinct addresses, all in [0x%x, 0x%x)" % (name[hot], len(got), a, a + sz))
print("ok: one frame per function in a stripped program")
EOF2
