# SPDX-License-Identifier: MIT
# Helpers of the unwinder's end-to-end tests (tests/e2e/test_unwind_*.sh),
# sourced, not run. Each test runs a program of tests/progs with a known
# call chain under `xprof record`, reports it to folded stacks, and checks
# that the samples taken in the known leaf show the exact chain; then runs
# the same program under `perf record --call-graph dwarf` and checks that
# xprof gets the chain at least as often as perf does.
#
# Environment: XPROF, XPROF_BUILD (test programs in $XPROF_BUILD/progs).
# UNW_SECONDS (default 2) is how long each program runs; UNW_KEEP=1 keeps
# the work directory. Exit 77 (skip) without root or perf; under CI=true the
# runner counts a skip as a failure.

set -u

: "${XPROF:?XPROF must name the xprof binary}"
: "${XPROF_BUILD:?XPROF_BUILD must name the build directory}"
PROGS=$XPROF_BUILD/progs
UNW_SECONDS=${UNW_SECONDS:-2}
UNW_FREQ=999

. "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"
unw_skip() { e2e_skip "$@"; }
unw_fail() { echo "FAIL: $*"; exit 1; }

# Work directory, removed at exit unless UNW_KEEP=1.
unw_init() {
	[ "$(id -u)" = 0 ] || unw_skip "needs root for BPF and perf events"
	[ -x "$XPROF" ] || unw_fail "no xprof binary at $XPROF"
	[ -d "$PROGS" ] || unw_fail "no test programs in $PROGS (make unit-bins builds them)"
	W=$(mktemp -d /tmp/xprof-unwind.XXXXXX)
	if [ "${UNW_KEEP:-0}" = 1 ]; then
		echo "work directory: $W"
	else
		trap 'rm -rf "$W"' EXIT
	fi
}

# unw_xprof NAME PROG [ARGS...]: record PROG to $W/NAME.xprof and report its
# samples (only PROG's, by process name) to $W/NAME.folded; the report's
# summary line goes to $W/NAME.summary.
unw_xprof() {
	local name=$1 prog=$2; shift 2
	local comm; comm=$(basename "$prog" | cut -c1-15)

	"$XPROF" record -F "$UNW_FREQ" -o "$W/$name.xprof" -- "$prog" "$@" >"$W/$name.out" 2>"$W/$name.rec.err" ||
		{ cat "$W/$name.rec.err"; unw_fail "xprof record of $prog failed"; }
	"$XPROF" report -i "$W/$name.xprof" -o "$W/$name.folded" --filter-comm "$comm" \
		2>"$W/$name.summary" ||
		{ cat "$W/$name.summary"; unw_fail "xprof report of $name failed"; }
	sed 's/^/  xprof: /' "$W/$name.out"
	tail -n 1 "$W/$name.summary" | sed 's/^/  /'
}

# unw_perf NAME PROG [ARGS...]: the same under perf's DWARF unwinding, its
# user stacks converted to folded form in $W/NAME.perf.folded.
# --buildid-mmap: while any other perf event on the machine asks for build-ids
# (xprof record does), the kernel can leave the build-id bit set in the MMAP2
# records of events that did not ask, and perf 6.1 then aborts in
# build_id__init(); asking for build-ids too keeps the records consistent.
unw_perf() {
	local name=$1 prog=$2; shift 2
	local comm; comm=$(basename "$prog" | cut -c1-15)

	command -v perf >/dev/null || unw_skip "perf is not installed (linux-perf)"
	perf record -q --buildid-mmap -e cpu-clock -F "$UNW_FREQ" --call-graph dwarf -o "$W/$name.perf.data" \
		-- "$prog" "$@" >/dev/null 2>"$W/$name.perf.err" ||
		{ cat "$W/$name.perf.err"; unw_fail "perf record of $prog failed"; }
	perf script -i "$W/$name.perf.data" --comm "$comm" -F comm,tid,ip,sym --no-inline \
		2>/dev/null | unw_py perf2folded >"$W/$name.perf.folded" ||
		unw_fail "perf script of $name failed"
}

# unw_chain FOLDED LEAF_RE CHAIN_RE [MIN_PCT] [MIN_SAMPLES]: of the samples
# whose leaf (innermost user frame) fully matches LEAF_RE, at least MIN_PCT
# (99) percent must fully match CHAIN_RE (frames joined by ';', root first,
# without the comm root, kernel and inlined frames), and there must be at
# least MIN_SAMPLES (50) of them. Prints the share.
unw_chain() {
	unw_py chain "$@" || unw_fail "$(basename "$1"): chain check failed"
}

# unw_vs_perf NAME LEAF_RE CHAIN_RE ge|gt: the share of leaf samples with the
# exact chain, xprof (NAME.folded) against perf (NAME.perf.folded). ge: xprof
# at least as often as perf (0.5 points of sampling noise allowed); gt:
# strictly more often, by at least 20 points.
unw_vs_perf() {
	unw_py vsperf "$W/$1.folded" "$W/$1.perf.folded" "$2" "$3" "$4" ||
		unw_fail "$1: xprof against perf failed"
}

# unw_summary_pct NAME STATUS: the share the report's summary gives STATUS
# ("complete", "truncated", "via frame pointers"), 0 when absent.
unw_summary_pct() {
	local line; line=$(tail -n 1 "$W/$1.summary")
	case $2 in
	complete) echo "$line" | sed -n 's/.*[ <>]\([0-9.]*\)% complete.*/\1/p' ;;
	via*) echo "$line" | sed -n 's/.*[ <>]\([0-9.]*\)% via frame pointers.*/\1/p' ;;
	*) echo "$line" | sed -n "s/.*[ (]$2 \\([0-9.]*\\)%.*/\\1/p" ;;
	esac | grep . || echo 0
}

# The checks, in Python (run with -c so that stdin stays free for the data).
UNW_PY=$(cat <<'PYEOF'
import re, sys

KERNEL_MIN = 0xffff800000000000

def frames_of(stack):
    """The frames of a folded stack, root first, without kernel or inlined frames."""
    fr = [f for f in stack.split(';') if f and not f.endswith(('_[k]', '_[i]'))]
    return fr

def read_folded(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            stack, _, count = line.rpartition(' ')
            if not count.isdigit():
                continue
            # The root frame is the thread name (xprof's folded and perf2folded alike).
            fr = frames_of(stack)[1:]
            out.append((fr, int(count)))
    return out

def chain_share(samples, leaf_re, chain_re):
    leaf = re.compile(leaf_re)
    chain = re.compile(chain_re)
    n = ok = 0
    for fr, c in samples:
        if not fr or not leaf.fullmatch(fr[-1]):
            continue
        n += c
        if chain.fullmatch(';'.join(fr)):
            ok += c
    return n, ok

def show_bad(samples, leaf_re, chain_re, limit=5):
    leaf = re.compile(leaf_re)
    chain = re.compile(chain_re)
    bad = sorted(((c, ';'.join(fr)) for fr, c in samples
                  if fr and leaf.fullmatch(fr[-1]) and not chain.fullmatch(';'.join(fr))),
                 reverse=True)
    for c, s in bad[:limit]:
        print('    not the chain (%d): %s' % (c, s[-400:]))

def cmd_chain(path, leaf_re, chain_re, min_pct='99', min_n='50'):
    s = read_folded(path)
    n, ok = chain_share(s, leaf_re, chain_re)
    pct = 100.0 * ok / n if n else 0.0
    print('  %s: %d of %d samples in %s have the chain: %.2f%% (want >= %s%%, >= %s samples)'
          % (path.rsplit('/', 1)[-1], ok, n, leaf_re, pct, min_pct, min_n))
    if n < int(min_n) or pct < float(min_pct):
        show_bad(s, leaf_re, chain_re)
        return 1
    return 0

def cmd_vsperf(xpath, ppath, leaf_re, chain_re, mode):
    xn, xok = chain_share(read_folded(xpath), leaf_re, chain_re)
    pn, pok = chain_share(read_folded(ppath), leaf_re, chain_re)
    xp = 100.0 * xok / xn if xn else 0.0
    pp = 100.0 * pok / pn if pn else 0.0
    print('  complete chains: xprof %.2f%% (%d/%d), perf --call-graph dwarf %.2f%% (%d/%d)'
          % (xp, xok, xn, pp, pok, pn))
    print('vsperf: %s: xprof %.2f%% perf %.2f%%' % (xpath.rsplit('/', 1)[-1].split('.')[0], xp, pp))
    if not xn:
        return 1
    if mode == 'gt':
        return 0 if xp >= pp + 20.0 else 1
    return 0 if xp >= pp - 0.5 else 1

def cmd_perf2folded():
    """perf script -F comm,tid,ip,sym output to folded stacks (user frames, root first)."""
    counts = {}
    comm, frames = None, []

    def flush():
        if comm is not None:
            key = ';'.join([comm] + list(reversed(frames)))
            counts[key] = counts.get(key, 0) + 1

    for line in sys.stdin:
        line = line.rstrip('\n')
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        if not line[0].isspace():
            flush()
            comm, frames = line.split()[0], []
            continue
        parts = line.split(None, 1)
        try:
            ip = int(parts[0], 16)
        except ValueError:
            continue
        if ip >= KERNEL_MIN:
            continue
        sym = parts[1].split(' (')[0].strip() if len(parts) > 1 else '[unknown]'
        sym = re.sub(r'\+0x[0-9a-f]+$', '', sym)
        sym = sym.split('@@')[0]
        frames.append(sym or '[unknown]')
    flush()
    for k, v in counts.items():
        print('%s %d' % (k, v))
    return 0

cmd, args = sys.argv[1], sys.argv[2:]
sys.exit({'chain': cmd_chain, 'vsperf': cmd_vsperf, 'perf2folded': cmd_perf2folded}[cmd](*args))
PYEOF
)
unw_py() { python3 -c "$UNW_PY" "$@"; }

# Regex of the process roots glibc 2.36 gives: _start -> __libc_start_main
# (an alias: __libc_start_main_impl / __libc_start_main_alias_2) ->
# __libc_start_call_main -> main.
UNW_ROOT='_start;__libc_start_main[^;]*;__libc_start_call_main;main'
