#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pprof output read back by the real `go tool pprof` (Debian's golang-go):
# the stacks and counts of `-raw` must be those of the folded output, and
# `-top` must agree with xprof's top table, function by function. Input:
# a hand-written profile (kernel, JIT, inlined and unsymbolized frames,
# several threads) and a generated one with a few hundred random stacks.
. "$(dirname "$0")/lib_e2e.sh"
set -eu -o pipefail
gen="$XPROF_BUILD/progs/rep_gen"
out="$XPROF_BUILD/test-output/report_pprof"
rm -rf "$out"; mkdir -p "$out"
[ -x "$gen" ] || { echo "no $gen: run make unit-bins"; exit 1; }
if ! command -v go >/dev/null || ! go tool -n pprof >/dev/null 2>&1; then
	e2e_skip "go tool pprof not found: install golang-go (make deps)"
fi
# pprof keeps state under $HOME/pprof; keep it in the output directory.
export HOME="$out" PPROF_TMPDIR="$out/tmp"

cat >"$out/hand.folded" <<'EOF'
demo-100/101;_start;__libc_start_main;main;compute;hash_[i];mix_[i] 50
demo-100/101;_start;__libc_start_main;main;compute 20
demo-100/102;_start;__libc_start_main;main;io;write;entry_SYSCALL_64_[k];do_syscall_64_[k];ksys_write_[k] 30
demo-100/102;_start;__libc_start_main;main;[libfoo.so+0x1a2b] 5
demo-100/102;_start;__libc_start_main;main;recurse;recurse;recurse;leaf 12
java-200/200;Interpreter;LambdaForm$MH::invoke_[j] 7
a b-7/7;main 3
EOF

# Random but reproducible stacks: 300 lines, depth 1-30, a few inlined frames.
python3 - "$out/random.folded" <<'EOF'
import random, sys
r = random.Random(42)
names = ["fn_%d" % i for i in range(60)] + ["std::vector<int>::push_back(int const&)",
         "operator new(unsigned long)", "(anonymous namespace)::worker"]
with open(sys.argv[1], "w") as f:
    for i in range(300):
        comm = r.choice(["alpha", "beta"])
        pid = r.choice([10, 20]); tid = pid + r.randint(0, 2)
        frames, kernel = ["main"], False
        for d in range(r.randint(0, 29)):
            # kernel functions have names of their own, and so do those inlined into them
            n = r.choice(names)
            if r.random() < 0.15 and frames[-1] != "main":
                n = ("k" if kernel else "") + n + "_[i]"
            elif r.random() < 0.05:
                n, kernel = "k" + n + "_[k]", True
            else:
                kernel = False
            frames.append(n)
        f.write("%s-%d/%d;%s %d\n" % (comm, pid, tid, ";".join(frames), r.randint(1, 1000)))
EOF

check() { # name
	local n=$1
	"$gen" --tid -o "$out/$n.out.folded" -o "$out/$n.pb.gz" -o "$out/$n.top" --top 1000 \
		<"$out/$n.folded"
	go tool pprof -raw -symbolize=none "$out/$n.pb.gz" >"$out/$n.raw" 2>"$out/$n.raw.err" || {
		cat "$out/$n.raw.err"; echo "go tool pprof -raw rejected $n.pb.gz"; exit 1; }
	go tool pprof -top -nodecount=100000 -nodefraction=0 -edgefraction=0 -sample_index=samples -symbolize=none \
		"$out/$n.pb.gz" >"$out/$n.pprof-top" 2>"$out/$n.top.err" || {
		cat "$out/$n.top.err"; echo "go tool pprof -top rejected $n.pb.gz"; exit 1; }
	python3 - "$out/$n" <<'EOF'
import re, sys
base = sys.argv[1]

# Folded written with --tid: "comm-PID/TID;frames COUNT". Kernel and JIT suffixes
# are not in pprof (a name is a name there); inlined ones are (lines of one location).
def strip(f):
    return re.sub(r"_\[[kj]\]$", "", f)
want = {}
for line in open(base + ".out.folded"):
    stack, count = line.rstrip("\n").rsplit(" ", 1)
    frames = stack.split(";")
    key = ";".join([frames[0]] + [strip(f) for f in frames[1:]])
    want[key] = want.get(key, 0) + int(count)

# go tool pprof -raw: samples (values: location ids, leaf first), labels, then
# locations ("ID: 0xADDR M=n func file:line s=0", inlined callers on the next lines).
text = open(base + ".raw").read()
samples_txt = text.split("Samples:")[1].split("Locations")[0]
locs_txt = text.split("Locations")[1].split("Mappings")[0]
locs, cur = {}, None
for line in locs_txt.splitlines():
    m = re.match(r"\s+(\d+): 0x[0-9a-f]+(?: M=\d+)? (.*?) \S*:\d+ s=\d+$", line)
    if m:
        cur = int(m.group(1)); locs[cur] = [m.group(2)]; continue
    m = re.match(r"\s+(.*?) \S*:\d+ s=\d+$", line)
    if m and cur is not None:
        locs[cur].append(m.group(1))
got, sample = {}, None
def flush():
    if sample is None: return
    count, ids, labels = sample
    frames = []
    for i in reversed(ids):
        lines = locs[i]
        # lines are innermost first; root-to-leaf order wants the outer function first
        frames += [lines[-1]] + [l + "_[i]" for l in reversed(lines[:-1])]
    # folded roots turn spaces into '_', as stackcollapse-perf does
    root = "%s-%s/%s" % (labels["comm"].replace(" ", "_"), labels["pid"], labels["tid"])
    key = ";".join([root] + frames)
    got[key] = got.get(key, 0) + count
for line in samples_txt.splitlines()[2:]:
    m = re.match(r"\s+(\d+)\s+(\d+): ([\d ]*)$", line)
    if m:
        flush()
        sample = (int(m.group(1)), [int(x) for x in m.group(3).split()], {})
        continue
    for k, v in re.findall(r"(\w+):\[([^\]]*)\]", line):
        sample[2][k] = v
flush()
if got != want:
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            print("stack %r: pprof %s, folded %s" % (k, got.get(k), want.get(k)))
    sys.exit("pprof -raw and folded disagree")
print("%s: %d stacks, %d samples agree" % (base, len(got), sum(got.values())))

# pprof -top (flat, cum per function) against xprof's top (self, total).
ours = {}
for line in open(base + ".top").read().splitlines()[2:]:
    m = re.match(r"\s*[\d.]+% +[\d.]+% +(\d+) +(\d+)  (.*)$", line)
    name = re.sub(r"_\[[kj]\]$", "", m.group(3))
    ours[name] = (int(m.group(1)), int(m.group(2)))
theirs = {}
for line in open(base + ".pprof-top"):
    m = re.match(r"\s+(\d+)\s+[\d.]+%\s+[\d.]+%\s+(\d+)\s+[\d.]+%\s+(.*?)( \((partial-)?inline\))?$", line)
    if m:
        theirs[m.group(3)] = (int(m.group(1)), int(m.group(2)))
if not ours or ours != theirs:
    for k in sorted(set(ours) | set(theirs)):
        if ours.get(k) != theirs.get(k):
            print("function %r: xprof top %s, pprof -top %s" % (k, ours.get(k), theirs.get(k)))
    sys.exit("top and pprof -top disagree")
print("%s: top agrees with pprof -top on %d functions" % (base, len(ours)))
EOF
}
check hand
check random

# The hand-made profile: a known pprof view as a person would read it.
grep -q '^File: demo$' "$out/hand.pprof-top"
grep -Eq '^ +50 +39\.37% .* mix \(inline\)$' "$out/hand.pprof-top"
grep -q 'Build ID: 0123456789abcdef' "$out/hand.pprof-top"
echo "pprof: ok"
