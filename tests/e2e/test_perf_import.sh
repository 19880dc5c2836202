#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf.data import, end to end: test programs recorded by
# `perf record --call-graph dwarf`; `xprof report -i perf.data` must agree with
# `perf script` on that same file, collapsed to folded stacks (comm;root..leaf,
# user frames only):
#  - every stack perf unwinds completely (to _start or a thread's entry) is in
#    xprof's output, identical, as many times;
#  - every stack perf leaves incomplete is matched by an xprof stack that
#    ends with the same frames perf got (xprof at least as complete);
#  - both count the same samples.
# Function names are compared modulo aliases (two names of one address, e.g.
# perf's __GI___qsort_r and xprof's qsort_r) and symbol versions (@@GLIBC_x).
# Also: `xprof info` on the perf.data gives perf's sample count, and malformed
# files get a one-line error, not a crash.
# Env: XPROF, XPROF_BUILD (test programs in $XPROF_BUILD/progs); PERF_KEEP=1
# keeps the work directory.
set -u
: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
P=$XPROF_BUILD/progs
skip() { echo "skip: $*"; exit 77; }
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
# programs are not ours to describe.
record() { # name, program, args...
	local name=$1
	shift
	perf record -q --buildid-mmap --no-bpf-event -e cpu-clock -F 999 --call-graph dwarf \
		-o "$W/$name.data" -- "$@" >"$W/$name.out" 2>"$W/$name.rec.err" ||
		{ cat "$W/$name.rec.err"; fail "perf record of $* failed"; }
}

COMPARE=$(cat <<'PYEOF'
import collections, os, re, subprocess, sys

perf_txt, xprof_folded, comm = sys.argv[1], sys.argv[2], sys.argv[3]
ENTRY = {'_start', 'clone', 'clone3', '__clone', '__clone3', 'start_thread'}

def strip_version(n):
    return re.sub(r'@@?[A-Za-z0-9_.]+$', '', n)

# perf script: "comm tid" headers, then "\t addr sym (dso)" frames, leaf first.
samples, dsos = [], set()
cur = None
frame_re = re.compile(r'^\s+([0-9a-f]+) (.*) \((.*)\)$')
with open(perf_txt) as f:
    for line in f:
        line = line.rstrip('\n')
        if not line:
            cur = None
            continue
        if not line[0].isspace():
            cur = [line.split()[0], []]
            samples.append(cur)
            continue
        m = frame_re.match(line)
        if not m or cur is None:
            continue
        addr, sym, dso = int(m.group(1), 16), m.group(2), m.group(3)
        if dso.startswith('[kernel') or addr >= 0xffff800000000000:
            continue
        cur[1].append(strip_version(sym))
        if dso.startswith('/'):
            dsos.add(dso)

# Alias classes: names sharing an address in one file's symbol tables (and
# its debug file's, found by build-id) share the smallest name of the class.
canon, seen_in = {}, collections.defaultdict(set)
def add_file(path, groups):
    for args in (['nm', '--defined-only'], ['nm', '-D', '--defined-only']):
        out = subprocess.run(args + [path], capture_output=True, text=True).stdout
        for l in out.splitlines():
            p = l.split()
            if len(p) == 3 and p[1] in 'TtWwiV':
                groups[int(p[0], 16)].add(strip_version(p[2]))
for d in sorted(dsos):
    if not os.path.exists(d):
        continue
    groups = collections.defaultdict(set)   # address -> names, over the file and its debug file
    add_file(d, groups)
    notes = subprocess.run(['readelf', '-n', d], capture_output=True, text=True).stdout
    m = re.search(r'Build ID: ([0-9a-f]+)', notes)
    if m:
        dbg = '/usr/lib/debug/.build-id/%s/%s.debug' % (m.group(1)[:2], m.group(1)[2:])
        if os.path.exists(dbg):
            add_file(dbg, groups)
    for names in groups.values():
        c = min(names)
        for n in names:
            seen_in[n].add((d, c))
for n, s in seen_in.items():
    cs = {c for _, c in s}
    if len(cs) == 1:   # the same name in two files with different aliases: keep it
        canon[n] = cs.pop()

def norm(n):
    if n.startswith('['):          # [unknown], [file+0x...]: no name
        return '?'
    return canon.get(n, n)

perf = collections.Counter()
for c, fr in samples:
    if c != comm:
        continue
    perf[(c,) + tuple(norm(x) for x in reversed(fr))] += 1

xprof = collections.Counter()
with open(xprof_folded) as f:
    for line in f:
        stack, _, cnt = line.rstrip('\n').rpartition(' ')
        if not cnt.isdigit():
            continue
        fr = stack.split(';')
        if fr[0] != comm:
            continue
        user = [norm(strip_version(x)) for x in fr[1:] if not x.endswith(('_[k]', '_[i]'))]
        xprof[(fr[0],) + tuple(user)] += int(cnt)

np, nx = sum(perf.values()), sum(xprof.values())
entry = {norm(x) for x in ENTRY}
complete = {s: c for s, c in perf.items() if len(s) > 1 and s[1] in entry and '?' not in s}
incomplete = {s: c for s, c in perf.items() if s not in complete}
bad = []
left = collections.Counter(xprof)
for s, c in complete.items():
    if left[s] < c:
        bad.append('perf complete %dx, xprof %dx: %s' % (c, left[s], ';'.join(s)))
    left[s] -= min(c, left[s])
def tail(s):
    """The frames of an incomplete perf stack that must end xprof's: up from the leaf to the first unknown."""
    t = []
    for x in reversed(s[1:]):
        if x == '?':
            break
        t.append(x)
    return tuple(reversed(t))
for s, c in sorted(incomplete.items(), key=lambda kv: -len(tail(kv[0]))):
    t = tail(s)
    need = c
    for x in sorted(left, key=lambda k: -left[k]):
        if need == 0:
            break
        if left[x] <= 0 or x[0] != s[0] or len(x) - 1 < len(t) or (t and x[len(x) - len(t):] != t):
            continue
        take = min(need, left[x])
        left[x] -= take
        need -= take
    if need:
        bad.append('perf incomplete %dx, %d not matched by a longer xprof stack: %s' % (c, need, ';'.join(s)))
ncomp = sum(complete.values())
print('  %s: %d samples (perf %d, xprof %d); perf complete %.1f%%; %d distinct stacks checked'
      % (comm, np, np, nx, 100.0 * ncomp / max(np, 1), len(perf)))
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

check() { # name, comm: report the recording both ways and compare
	local name=$1 comm=$2
	"$XPROF" report -i "$W/$name.data" -o "$W/$name.folded" --no-inline 2>"$W/$name.rep.err" ||
		{ cat "$W/$name.rep.err"; fail "xprof report -i $name.data failed"; }
	tail -n 1 "$W/$name.rep.err" | sed 's/^/  /'
	perf script -i "$W/$name.data" -F comm,tid,ip,sym,dso --no-inline >"$W/$name.txt" 2>"$W/$name.script.err" ||
		{ tail -n 3 "$W/$name.script.err"; fail "perf script of $name failed"; }
	/usr/bin/python3 -c "$COMPARE" "$W/$name.txt" "$W/$name.folded" "$comm" ||
		fail "$name: xprof and perf script disagree on the same perf.data"
}

# 1. perf_work: a libc callback chain (qsort -> msort -> cmp), 13-deep recursion.
record work "$P/perf_work" 1.5
check work perf_work

# 2. The unwinder's test programs, when they are built: threads, a signal
#    handler, dlopen'ed code, deep recursion.
n=1
for t in "unw_threads 1.5" "unw_signal 1.5" "unw_dlopen 1.5" "unw_deep 1.5 200" "unw_qsort 1.5"; do
	set -- $t
	[ -x "$P/$1" ] || continue
	record "$1" "$P/$@"
	check "$1" "$1"
	n=$((n + 1))
done
echo "  $n programs agree with perf script"

# 3. xprof info reads perf's counts.
s=$("$XPROF" info "$W/work.data" | awk -F': ' '$1 == "samples" {print $2}')
ps=$(grep -c '^perf_work ' "$W/work.txt")
[ "$s" = "$ps" ] || fail "xprof info says $s samples, perf script shows $ps"

# 4. Malformed files: a clear one-line error naming the file, exit status 1, no crash.
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
