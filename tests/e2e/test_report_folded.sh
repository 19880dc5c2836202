#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Folded output against the tools people feed it to: lines in exactly the
# order `LC_ALL=C sort` gives, one line per stack with counts merged as
# `awk '{sum[$1]+=$2}'`-style tools merge them, the stackcollapse shape
# (";" between frames, one space before the count, no trailing space),
# --pid/--tid roots and --min-count, on a thousand random stacks that mix
# kernel, JIT, inlined and unsymbolized frames. rep_gen reads folded text,
# so writing it back must give the input merged and sorted.
set -eu -o pipefail
gen="$XPROF_BUILD/progs/rep_gen"
out="$XPROF_BUILD/test-output/report_folded"
rm -rf "$out"; mkdir -p "$out"
[ -x "$gen" ] || { echo "no $gen: run make unit-bins"; exit 1; }

python3 - "$out/in.folded" <<'EOF'
import random, sys
r = random.Random(7)
user = ["main", "worker_loop", "std::map<int, int>::find(int const&)", "operator delete(void*)",
        "Foo::bar() const", "[libc.so.6+0x9a2b0]", "zlib_inflate", "a", "b", "B", "b c"]
kern = ["entry_SYSCALL_64", "do_syscall_64", "__x64_sys_read", "vfs_read"]
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        comm = r.choice(["app", "app", "my worker", "java"])
        pid = r.choice([100, 200]); tid = pid + r.randint(0, 3)
        frames = []
        for d in range(r.randint(0, 12)):
            x = r.random()
            if x < 0.1 and frames and not frames[-1].endswith("_[k]") and "[" not in frames[-1]:
                frames.append(r.choice(user[1:5]) + "_[i]")
            elif x < 0.15:
                frames.append("Interpreted::run_[j]")
            else:
                frames.append(r.choice(user))
        if r.random() < 0.3:
            frames += [k + "_[k]" for k in kern[:r.randint(1, 4)]]
        f.write("%s-%d/%d;%s %d\n" % (comm, pid, tid, ";".join(frames), r.randint(1, 50)) if frames
                else "%s-%d/%d %d\n" % (comm, pid, tid, r.randint(1, 50)))
EOF

# The expected output: roots rewritten as the option asks, counts summed, sort(1) order.
expect() { # mode (tid|pid|none), min count
	python3 - "$out/in.folded" "$1" "$2" <<'EOF' | LC_ALL=C sort
import re, sys
mode, minc = sys.argv[2], int(sys.argv[3])
acc = {}
for line in open(sys.argv[1]):
    stack, n = line.rstrip("\n").rsplit(" ", 1)
    root, _, rest = stack.partition(";")
    m = re.match(r"(.*)-(\d+)/(\d+)$", root)
    comm = m.group(1).replace(" ", "_")
    root = {"tid": "%s-%s/%s" % (comm, m.group(2), m.group(3)),
            "pid": "%s-%s" % (comm, m.group(2)), "none": comm}[mode]
    key = root + (";" + rest if rest else "")
    acc[key] = acc.get(key, 0) + int(n)
for k, v in acc.items():
    if v >= minc:
        print("%s %d" % (k, v))
EOF
}

check() { # name, expected file, rep_gen options...
	local name=$1 want=$2; shift 2
	"$gen" -f folded "$@" <"$out/in.folded" >"$out/$name.folded"
	if ! cmp -s "$want" "$out/$name.folded"; then
		diff "$want" "$out/$name.folded" | head -20
		echo "folded $name: differs from the merged, sorted input"; exit 1
	fi
	# stackcollapse shape: no empty frame, one space before the count, nothing after it
	if LC_ALL=C grep -nvE '^[^; ]([^;]*[^; ])?(;[^;]*[^; ])* [1-9][0-9]*$' "$out/$name.folded" | head -5 | grep .; then
		echo "folded $name: lines not in stackcollapse shape"; exit 1
	fi
	echo "folded $name: $(wc -l <"$out/$name.folded") lines ok"
}
expect tid 0 >"$out/want-tid"
expect pid 0 >"$out/want-pid"
expect none 0 >"$out/want-none"
expect none 40 >"$out/want-min"
check tid "$out/want-tid" --tid
check pid "$out/want-pid" --pid
check none "$out/want-none"
check min "$out/want-min" --min-count 40
[ "$(wc -l <"$out/want-min")" -lt "$(wc -l <"$out/want-none")" ] || { echo "min-count test drops nothing"; exit 1; }

# Two runs give the same bytes.
"$gen" -f folded <"$out/in.folded" | cmp -s - "$out/none.folded" || { echo "folded output not deterministic"; exit 1; }
echo "folded: ok"
