#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf.data import, end to end: test programs recorded by
# `perf record --call-graph dwarf`; `xprof report -i perf.data` must agree with
# `perf script` on that same file, collapsed to folded stacks (process;root..leaf,
# user frames only):
#  - every stack perf unwinds completely (to _start or a thread's entry) is in
#    xprof's output, identical, as many times;
#  - every stack perf leaves incomplete is matched by an xprof stack with the
#    same leaf and at least as many frames (xprof at least as complete);
#  - both count the same samples.
# Function names are compared modulo aliases (two names of one address, e.g.
# perf's __GI___qsort_r and xprof's qsort_r) and symbol versions (@@GLIBC_x);
# a frame one side cannot name (perf's "@plt" stubs, labels of hand-written
# assembly such as ld.so's _start, which xprof leaves unnamed) matches any
# one frame.
# Also: `xprof info` on the perf.data gives perf's sample count, and malformed
# files get a one-line error, not a crash.
# Env: XPROF, XPROF_BUILD (test programs in $XPROF_BUILD/progs); PERF_KEEP=1
# keeps the work directory.
set -u
. "$(dirname "$0")/lib_e2e.sh"
: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
P=$XPROF_BUILD/progs
skip() { e2e_skip "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root for perf record"
command -v perf >/dev/null || skip "perf is not installed (linux-perf)"
[ -x /usr/bin/python3 ] || skip "python3 is not installed"
[ -x "$P/perf_work" ] || fail "no $P/perf_work (make unit-bins builds it)"
W=$(mktemp -d /tmp/xprof-perf-import.XXXXXX)
if [ "${PERF_KEEP:-0}" = 1 ]; then echo "work directory: $W"; else trap 'rm -rf "$W"' EXIT; fi

# --buildid-mmap: kernel 6.18 leaves PERF_RECORD_MISC_MMAP_BUILD_ID set on the
# MMAP2 records of events that did not ask for build-ids when another session
# (an xprof record) did, and perf 6.1 then aborts in util/build-id.c; asking
# for build-ids makes the flag true. --no-bpf-event: other sessions' BPF
# programs are not ours to describe. LD_BIND_NOW=1: no lazy binding, because
# xprof's tables cannot express the CFA of ld.so's _dl_runtime_resolve_xsavec
# (in rbx), so a sample there stops at it while perf unwinds on; that is an
# unwinder limit, not an import one, and otherwise makes this test flaky.
record() { # name, [perf options...] --, program, args...
	local name=$1 opts=()
	shift
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	LD_BIND_NOW=1 perf record -q --buildid-mmap --no-bpf-event -e cpu-clock -F 999 \
		--call-graph dwarf "${opts[@]}" -o "$W/$name.data" -- "$@" >"$W/$name.out" 2>"$W/$name.rec.err" ||
		{ cat "$W/$name.rec.err"; fail "perf record of $* failed"; }
}

COMPARE=$(cat <<'PYEOF'
import collections, os, re, subprocess, sys

perf_txt, xprof_folded, comm = sys.argv[1], sys.argv[2], sys.argv[3]
ENTRY = {'_start', 'clone', 'clone3', '__clone', '__clone3', 'start_thread'}

def strip_version(n):
    return re.sub(r'(?<=.)@@?[A-Za-z0-9_.]+$', '', n) if not n.endswith('@plt') else n

# perf script -F comm,pid,tid,ip,sym,dso: "comm pid/tid" headers, then
# "\t addr sym (dso)" frames, leaf first. Samples are told apart by process:
# a process's name changes at exec, and perf and xprof need not agree on
# which name a sample taken during the exec gets.
samples, dsos, pids = [], set(), set()
cur = None
frame_re = re.compile(r'^\s+([0-9a-f]+) (.*) \((.*)\)$')
head_re = re.compile(r'^\s*(.*\S)\s+(\d+)/(\d+)\s*$')
with open(perf_txt) as f:
    for line in f:
        line = line.rstrip('\n')
        m = frame_re.match(line) if cur is not None else None
        if not m:
            h = head_re.match(line)
            cur = [h.group(2), [], h.group(1)] if h else None
            if h:
                samples.append(cur)
                if h.group(1) == comm:
                    pids.add(h.group(2))
            continue
        addr, sym, dso = int(m.group(1), 16), m.group(2), m.group(3)
        if dso.startswith('[kernel') or addr >= 0xffff800000000000:
            continue
        cur[1].append((strip_version(sym), dso))
        if dso.startswith('/'):
            dsos.add(dso)

# Aliases: names sharing an address in one file's symbol tables (and its
# debug file's, found by build-id) compare equal.
# Labels: untyped symbols of hand-written assembly (ld.so's _start). perf
# names code after them; xprof names typed functions only. A frame perf names
# by a label counts as unknown (so its stack as incomplete).
# Alias classes over all files (union-find), named by their smallest name.
parent = {}
def find(n):
    parent.setdefault(n, n)
    while parent[n] != n:
        parent[n] = parent[parent[n]]
        n = parent[n]
    return n
def union(a, b):
    ra, rb = find(a), find(b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
labels, typed = collections.defaultdict(set), collections.defaultdict(set)
def add_file(path, groups, dso):
    for args in (['nm', '--defined-only'], ['nm', '-D', '--defined-only']):
        out = subprocess.run(args + [path], capture_output=True, text=True).stdout
        for l in out.splitlines():
            p = l.split()
            if len(p) == 3 and p[1] in 'TtWwiV':
                groups[int(p[0], 16)].add(strip_version(p[2]))
    for l in subprocess.run(['readelf', '-sW', path], capture_output=True, text=True).stdout.splitlines():
        p = l.split()
        if len(p) >= 8 and p[0].endswith(':') and p[6].isdigit():
            if p[3] == 'NOTYPE':
                labels[dso].add(strip_version(p[7]))
            elif p[3] in ('FUNC', 'IFUNC'):
                typed[dso].add(strip_version(p[7]))
for d in sorted(dsos):
    if not os.path.exists(d):
        continue
    groups = collections.defaultdict(set)   # address -> names, over the file and its debug file
    add_file(d, groups, d)
    notes = subprocess.run(['readelf', '-n', d], capture_output=True, text=True).stdout
    m = re.search(r'Build ID: ([0-9a-f]+)', notes)
    if m:
        dbg = '/usr/lib/debug/.build-id/%s/%s.debug' % (m.group(1)[:2], m.group(1)[2:])
        if os.path.exists(dbg):
            add_file(dbg, groups, d)
    for names in groups.values():
        names = sorted(names)
        for n in names[1:]:
            union(names[0], n)
for d in labels:
    labels[d] -= typed[d]
canon = {n: find(n) for n in list(parent)}

def norm(n):
    if n.startswith('[') or n.endswith('@plt'):   # [unknown], [file+0x...], PLT stubs: no name
        return '?'
    return canon.get(n, n)

# A sample taken while the process was still the program that exec'ed it
# (perf's own "perf-exec", a shell) counts, but its stack is not compared:
# the two tools see that instant of exec differently.
perf = collections.Counter()
for pid, fr, c in samples:
    if pid in pids and c != comm:
        perf[(pid,)] += 1
    elif pid in pids:
        perf[(pid,) + tuple('?' if n in labels[d] else norm(n) for n, d in reversed(fr))] += 1

xprof = collections.Counter()
with open(xprof_folded) as f:
    for line in f:
        stack, _, cnt = line.rstrip('\n').rpartition(' ')
        if not cnt.isdigit():
            continue
        fr = stack.split(';')
        pid = fr[0].rpartition('-')[2]     # --pid: the root frame is comm-PID
        if pid not in pids:
            continue
        user = [norm(strip_version(x)) for x in fr[1:] if not x.endswith(('_[k]', '_[i]'))]
        xprof[(pid,) + tuple(user)] += int(cnt)

np, nx = sum(perf.values()), sum(xprof.values())
entry = {norm(x) for x in ENTRY}
# perf's stacks that reach an entry point must be in xprof's output as they
# are; '?' (a frame neither names: a PLT stub, a label) matches any one frame.
# For a stack perf could not unwind to an entry point, xprof must have one
# with the same leaf and at least as many frames (at least as complete; perf's
# partial stacks are not always right: seen skipping the caller of a leaf).
def rooted(s):
    return len(s) > 1 and s[1] in entry
def named_leaf(s):
    """The innermost frame with a name: an unnamed leaf (a PLT stub) one side may not show."""
    named = [f for f in s[1:] if f != '?']
    return named[-1] if named else None
def fits(p, x):
    if x[0] != p[0]:
        return False
    if not rooted(p):
        return len(x) >= len(p) and (named_leaf(p) is None or named_leaf(p) == named_leaf(x))
    return len(x) == len(p) and all(a == '?' or a == b for a, b in zip(p[1:], x[1:]))
complete = {s: c for s, c in perf.items() if rooted(s)}
bad = []
left = collections.Counter(xprof)
# The most constrained first: rooted stacks (exact, then with wildcards), then
# incomplete ones, longest first; (pid,) alone, which fits anything, last.
order = sorted(perf.items(), key=lambda kv: (0, '?' in kv[0], -len(kv[0])) if rooted(kv[0])
               else (1, False, -len(kv[0])))
for s, c in order:
    need = c
    if left[s] > 0:                # the same stack: always a match
        take = min(need, left[s])
        left[s] -= take
        need -= take
    if need and ('?' in s or not rooted(s)):
        for x in sorted(left, key=lambda k: -left[k]):
            if need == 0:
                break
            if left[x] > 0 and fits(s, x):
                take = min(need, left[x])
                left[x] -= take
                need -= take
    if need:
        bad.append('perf %s %dx, %d not found in xprof: %s'
                   % ('complete' if rooted(s) else 'incomplete', c, need, ';'.join(s)))
ncomp = sum(complete.values())
print('  %s (%d processes): %d samples (perf %d, xprof %d); perf complete %.1f%%; %d distinct stacks checked'
      % (comm, len(pids), np, np, nx, 100.0 * ncomp / max(np, 1), len(perf)))
if np != nx:
    bad.append('sample counts differ: perf %d, xprof %d' % (np, nx))
if np < 50:
    bad.append('only %d samples of %s' % (np, comm))
if bad:
    for b in bad[:10]:
        print('  ' + b)
    extra = [(k, v) for k, v in left.items() if v > 0]
    for k, v in sorted(extra, key=lambda kv: -kv[1])[:5]:
        print('  xprof left over %dx: %s' % (v, ';'.join(k)))
    sys.exit(1)
PYEOF
)

checks=0
check() { # name, comm: report the recording both ways and compare
	local name=$1 comm=$2
	checks=$((checks + 1))
	"$XPROF" report -i "$W/$name.data" -o "$W/$name.folded" --no-inline --pid 2>"$W/$name.rep.err" ||
		{ cat "$W/$name.rep.err"; fail "xprof report -i $name.data failed"; }
	tail -n 1 "$W/$name.rep.err" | sed 's/^/  /'
	perf script -i "$W/$name.data" -F comm,pid,tid,ip,sym,dso --no-inline >"$W/$name.txt" 2>"$W/$name.script.err" ||
		{ tail -n 3 "$W/$name.script.err"; fail "perf script of $name failed"; }
	/usr/bin/python3 -c "$COMPARE" "$W/$name.txt" "$W/$name.folded" "$comm" ||
		fail "$name: xprof and perf script disagree on the same perf.data"
}

# 1. perf_work: a libc callback chain (qsort -> msort -> cmp), 13-deep recursion.
record work -- "$P/perf_work" 1.5
check work perf_work

# 2. Many processes: the whole system while perf_work runs (other comms,
#    kernel mmaps, synthesized records of running tasks), and short-lived
#    children that exec perf_work (fork, exec comm, mmaps per process).
record system -a -- "$P/perf_work" 1
check system perf_work
if [ -x "$P/rec_fork" ]; then
	record forks -- "$P/rec_fork" 6 "$P/perf_work" 0.2
	check forks perf_work
fi

# 3. The unwinder's test programs, when they are built: threads, a signal
#    handler, dlopen'ed code, deep recursion.
for t in "unw_threads 1.5" "unw_signal 1.5" "unw_dlopen 1.5" "unw_deep 1.5 200" "unw_qsort 1.5"; do
	set -- $t
	[ -x "$P/$1" ] || continue
	name=$1
	shift
	record "$name" -- "$P/$name" "$@"
	check "$name" "$name"
done
echo "  $checks recordings: xprof agrees with perf script"

# 4. xprof info reads perf's counts.
s=$("$XPROF" info "$W/work.data" | awk -F': ' '$1 == "samples" {print $2}')
ps=$(grep -c '^perf_work ' "$W/work.txt")
[ "$ps" -gt 0 ] || fail "no perf_work sample in perf script's output"
[ "$s" = "$ps" ] || fail "xprof info says $s samples, perf script shows $ps"

# 5. Malformed files: a clear one-line error naming the file, exit status 1, no crash.
head -c 200 "$W/work.data" >"$W/cut.data"
printf 'PERFILE2\x10\0\0\0\0\0\0\0' >"$W/pipe.data"
for f in cut pipe; do
	"$XPROF" report -i "$W/$f.data" -o "$W/$f.folded" >"$W/$f.out" 2>&1
	rc=$?
	[ $rc = 1 ] || { cat "$W/$f.out"; fail "xprof report of a malformed $f.data exited $rc, not 1"; }
	[ "$(wc -l <"$W/$f.out")" = 1 ] && grep -q "$f.data" "$W/$f.out" ||
		{ cat "$W/$f.out"; fail "no one-line error naming $f.data"; }
	sed 's/^/  /' "$W/$f.out"
done
echo "ok"
