#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# xprof agent end to end under real BPF: the agent at -F 99 --interval 2s
# for ~8 s with --output-dir, over a workload in a cgroup v2 group named
# like a systemd unit (xprof-e2e-PID.service):
#  (a) a shell loop forking ag_short (~5 ms of CPU, then exit) back to back,
#      ~100 processes a second;
#  (b) unw_threads: three threads in clone3;start_thread;thread_main;
#      thread_work;thread_leaf, -O2 without frame pointers.
#  (c) ns_busy in a mount namespace of its own (lib_ns.sh): its binary
#      exists only there, and the host's file at its path is a decoy.
# Read back with `go tool pprof -raw` (and the pprof's own time fields):
# the busy program's exact chain with symbols, ns_busy's exact chain with
# its symbols (main;ns_outer;ns_inner, read through /proc/PID), ag_short by comm with its
# symbols (ag_short_spin <- main) and its own exe label although it lived
# 5 ms, the labels host, service, exe (and build_id) on every sample of the
# workload, windows named and timed on multiples of 2 s (all but the first
# and the last, which are partial), and the samples of all windows equal to
# the sum of the agent's window log lines.
set -u -o pipefail
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_ns.sh"
P=$XPROF_BUILD/progs
out="$XPROF_BUILD/test-output/agent"
rm -rf "$out"; mkdir -p "$out/tmp"
export HOME="$out" PPROF_TMPDIR="$out/tmp"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || e2e_skip "needs root for BPF"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "the kernel has no BTF"
command -v go >/dev/null || e2e_skip "go not found (make deps)"
command -v python3 >/dev/null || e2e_skip "python3 not found (make deps)"
command -v unshare >/dev/null || e2e_skip "unshare not found (util-linux)"
for p in ag_short unw_threads ns_busy; do
	[ -x "$P/$p" ] || fail "no $P/$p: run make unit-bins"
done
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || e2e_skip "no cgroup v2 hierarchy mounted (the service label comes from it)"
svc="xprof-e2e-$$.service"
cg="$cg2/$svc"
mkdir "$cg" || e2e_skip "cannot create the cgroup $cg"

apid= wpid= lpid= ns_pid=
cleanup() {
	for p in $apid $wpid $lpid $ns_pid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
}
trap cleanup EXIT

mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$XPROF" agent -F 99 --interval 2s --host e2ehost --output-dir "$out/win" --folded \
	--spool-dir "$out/spool" --metrics "127.0.0.1:$mport" 2>"$out/agent.log" &
apid=$!
for _ in $(seq 300); do
	grep -q "sampling every CPU" "$out/agent.log" && break
	kill -0 $apid 2>/dev/null || fail "agent exited: $(cat "$out/agent.log")"
	sleep 0.1
done
grep -q "xprof agent: sampling every CPU at 99 Hz, windows of 2s, sinks: dir ($out/win)" \
	"$out/agent.log" || fail "no start-up line: $(cat "$out/agent.log")"

# The workload, each part moved into the group before it execs.
in_cg() { echo $BASHPID >"$cg/cgroup.procs"; }
(in_cg && exec "$P/unw_threads" 8) >"$out/threads.out" &
wpid=$!
thr_pid=$wpid
# The loop runs in a shell exec'ed after the move, as systemd starts a unit
# (fork, move, exec): the agent reads a process's cgroup when it appears and
# when it execs, and a forked child inherits it.
(in_cg && exec bash -c '
	# One started every 10 ms without waiting for it (one after another, a
	# loaded machine manages far fewer); the pause is a read timeout, no fork.
	exec {pause}<> <(:)
	end=$((SECONDS + 8)); n=0
	while [ $SECONDS -lt $end ]; do
		"$1" 5000 &
		n=$((n + 1))
		read -r -t 0.01 -u $pause
	done
	wait
	echo "$n" >"$2"' loop "$P/ag_short" "$out/forks") &
lpid=$!
# (c) A container's program: its binary only in its own mount namespace.
ns_pid=$(in_cg && ns_start "$out/nsdir" 7) || fail "ns_busy did not start in its namespace"
wait $wpid $lpid
wpid= lpid=
sleep 0.5
# The metrics as Prometheus reads them, while it runs: a window's counters.
python3 - "$mport" "$out/agent.log" <<'PY' || exit 1
import re, sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
log = open(sys.argv[2]).read()
def val(name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % name, text, re.M)
    if not m: sys.exit("FAIL: no %s in the metrics:\n%s" % (name, text))
    return float(m.group(1))
for name, typ in (("xprof_agent_samples_total", "counter"), ("xprof_agent_resident_memory_bytes", "gauge")):
    if "# TYPE %s %s" % (name, typ) not in text: sys.exit("FAIL: no TYPE line for " + name)
windows = val("xprof_agent_windows_total")
logged = re.findall(r"^window \S+: (\d+) samples", log, re.M)
# The log line is written just before the metrics of its window: the log may be one ahead.
if windows < 2 or len(logged) not in (windows, windows + 1):
    sys.exit("FAIL: xprof_agent_windows_total %g, %d window lines" % (windows, len(logged)))
if val("xprof_agent_samples_total") != sum(int(x) for x in logged[:int(windows)]):
    sys.exit("FAIL: xprof_agent_samples_total %g != the log's" % val("xprof_agent_samples_total"))
if not 1 << 20 < val("xprof_agent_resident_memory_bytes") < 4 << 30 or val("xprof_agent_cpu_seconds_total") <= 0:
    sys.exit("FAIL: rss/cpu metrics:\n" + text)
val('xprof_agent_sent_bytes_total')
print("ok: metrics: %d windows, samples_total equal to the log lines" % windows)
PY
kill -INT $apid
for _ in $(seq 200); do kill -0 $apid 2>/dev/null || break; sleep 0.05; done
kill -0 $apid 2>/dev/null && fail "agent still runs 10 s after SIGINT"
wait $apid; rc=$?
apid=
[ $rc = 0 ] || fail "agent exit status $rc: $(tail -n 5 "$out/agent.log")"
grep -q "xprof agent: stopped" "$out/agent.log" || fail "no stop line: $(tail -n 3 "$out/agent.log")"
forks=$(cat "$out/forks")
[ "$forks" -ge 200 ] || fail "the fork loop started only $forks processes in 8 s (aims at 800)"
ok "agent ran and stopped on SIGINT; the loop forked $forks processes in 8 s"

# Other tests may run the same programs meanwhile: ours are told by pid and by service.
python3 - "$out" "$svc" "$(readlink -f "$P/unw_threads")" "$(readlink -f "$P/ag_short")" "$thr_pid" "$ns_pid" <<'PY'
import glob, gzip, os, re, subprocess, sys
out, svc, thr_exe, short_exe, thr_pid, ns_pid = sys.argv[1:]
NS_CHAIN = ["main", "ns_outer", "ns_inner"]
CHAIN = ["clone3", "start_thread", "thread_main", "thread_work", "thread_leaf"]
IV = 2 * 10**9

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i

def times(path):
    """time_nanos (field 9) and duration_nanos (field 10) of a gzipped profile.proto."""
    b = gzip.open(path).read(); i = 0; t = d = 0
    while i < len(b):
        key, i = varint(b, i); f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
            if f == 9: t = v
            if f == 10: d = v
        elif wt == 2:
            n, i = varint(b, i); i += n
        elif wt == 1: i += 8
        elif wt == 5: i += 4
        else: sys.exit("FAIL: %s: wire type %d" % (path, wt))
    return t, d

def raw(path):
    """Samples of `go tool pprof -raw`: (count, [functions leaf first], {label: value})."""
    r = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", path],
                       capture_output=True, text=True)
    if r.returncode: sys.exit("FAIL: pprof -raw %s: %s" % (path, r.stderr))
    text = r.stdout
    locs, cur = {}, None
    for l in text.split("\nLocations\n")[1].split("\nMappings\n")[0].splitlines():
        # "  12: 0xADDR [M=2] NAME FILE:LINE s=0", kernel frames without M=
        m = re.match(r"\s+(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*) \S*:\d+ s=\d+$", l)
        if m:
            cur = int(m.group(1)); locs[cur] = [m.group(2)]; continue
        m = re.match(r"\s+(.*) \S*:\d+ s=\d+$", l)  # an inlined frame's caller
        if m and cur is not None: locs[cur].append(m.group(1))
    samples = []
    for l in text.split("\nSamples:\n")[1].split("\nLocations\n")[0].splitlines()[1:]:
        m = re.match(r"\s+(\d+)\s+\d+: ([\d ]+)$", l)
        if m:
            fr = [f for x in m.group(2).split() for f in locs[int(x)]]
            samples.append([int(m.group(1)), fr, {}]); continue
        for k, v in re.findall(r"(\w+):\[([^\]]*)\]", l):
            samples[-1][2][k] = v
    return samples

files = sorted(glob.glob(out + "/win/*.pb.gz"))
logged = [int(x) for x in re.findall(r"^window \S+: (\d+) samples", open(out + "/agent.log").read(), re.M)]
if len(files) < 4: sys.exit("FAIL: %d window files, want >= 4: %r" % (len(files), files))
if len(files) != len(logged): sys.exit("FAIL: %d window files, %d window log lines" % (len(files), len(logged)))

total = 0
thr = thr_exact = short = short_sym = short_exe_ok = short_main = short_main_exact = 0
ns = ns_exact = 0
MAIN = ["_start", "__libc_start_main", "__libc_start_call_main", "main"]
for k, f in enumerate(files):
    name = os.path.basename(f)
    m = re.match(r"(\d{8}T\d{6}Z)-e2ehost\.pb\.gz$", name)
    if not m: sys.exit("FAIL: window file name %r" % name)
    t, d = times(f)
    stamp = subprocess.run(["date", "-u", "-d", "@%d" % (t // 10**9), "+%Y%m%dT%H%M%SZ"],
                           capture_output=True, text=True).stdout.strip()
    if stamp != m.group(1): sys.exit("FAIL: %s: time_nanos %d is %s" % (name, t, stamp))
    if 0 < k < len(files) - 1:
        if t % IV: sys.exit("FAIL: %s: time_nanos %d is not on a 2 s boundary" % (name, t))
        if abs(d - IV) > 5 * 10**6: sys.exit("FAIL: %s: duration_nanos %d, want 2 s" % (name, d))
    smp = raw(f)
    if smp and not os.path.exists(f[:-6] + ".folded"): sys.exit("FAIL: no .folded next to " + f)
    for cnt, fr, lab in smp:
        total += cnt
        if lab.get("host") != "e2ehost": sys.exit("FAIL: %s: a sample without host=e2ehost: %r" % (name, lab))
        comm = lab.get("comm", "")
        if lab.get("pid") == thr_pid and "thread_leaf" in fr:
            thr += cnt
            root_first = fr[::-1]
            if root_first[:len(CHAIN)] == CHAIN: thr_exact += cnt
            want = {"service": svc, "exe": thr_exe}
            for key, v in want.items():
                if lab.get(key) != v: sys.exit("FAIL: %s: unw_threads sample has %s=%r, want %r: %r" % (name, key, lab.get(key), v, lab))
            if not re.fullmatch(r"[0-9a-f]{40}", lab.get("build_id", "")):
                sys.exit("FAIL: %s: unw_threads sample without build_id: %r" % (name, lab))
        # Before its exec the pid is a shell moved into the group without an
        # exec, which keeps the labels it forked with: ns_busy's samples only.
        if lab.get("pid") == ns_pid and comm == "ns_busy":
            ns += cnt
            # ns_inner <- ns_outer <- main, leaf first (kernel frames may come before)
            leaf_first = NS_CHAIN[::-1]
            if any(fr[i:i + 3] == leaf_first for i in range(len(fr))):
                ns_exact += cnt
            if lab.get("service") != svc:
                sys.exit("FAIL: %s: ns_busy sample with service %r, want %r" % (name, lab.get("service"), svc))
        if comm == "ag_short" and lab.get("service") == svc:
            short += cnt
            if "main" in fr:
                short_main += cnt
                if fr[::-1][:4] == MAIN: short_main_exact += cnt
                if fr[::-1][:5] == MAIN + ["ag_short_spin"]: short_sym += cnt
            if lab.get("exe") == short_exe: short_exe_ok += cnt

if total != sum(logged):
    sys.exit("FAIL: the windows hold %d samples, the log lines say %d (%r)" % (total, sum(logged), logged))
print("ok: %d windows, %d samples in the files = the sum of the log lines" % (len(files), total))
print("ok: windows 2..%d start on 2 s boundaries and last 2 s" % (len(files) - 1))
if thr < 100: sys.exit("FAIL: only %d samples of unw_threads in thread_leaf" % thr)
if thr_exact < 0.95 * thr:
    sys.exit("FAIL: %d of %d unw_threads samples have the exact chain %s" % (thr_exact, thr, ";".join(CHAIN)))
print("ok: unw_threads: %d of %d samples in thread_leaf rooted at %s, labels host/service/exe/build_id"
      % (thr_exact, thr, ";".join(CHAIN)))
if ns < 50: sys.exit("FAIL: only %d samples of ns_busy (pid %s)" % (ns, ns_pid))
if ns_exact < 0.95 * ns:
    sys.exit("FAIL: %d of %d ns_busy samples end in %s with its symbols" % (ns_exact, ns, ";".join(NS_CHAIN)))
print("ok: ns_busy (own mount namespace, decoy on the host): %d of %d samples end in %s"
      % (ns_exact, ns, ";".join(NS_CHAIN)))
if short < 20: sys.exit("FAIL: only %d samples of the short-lived ag_short processes" % short)
# The rest of a 5 ms process is ld.so and exit: only main's samples have a known chain.
if short_sym < 10 or short_main_exact < 0.95 * short_main:
    sys.exit("FAIL: ag_short: %d samples in main, %d rooted at %s, %d of them in ag_short_spin"
             % (short_main, short_main_exact, ";".join(MAIN), short_sym))
if short_exe_ok < 0.8 * short:
    sys.exit("FAIL: %d of %d ag_short samples have exe=%s" % (short_exe_ok, short, short_exe))
print("ok: ag_short (5 ms processes): %d samples, %d with their own exe; %d of %d in main rooted at _start, %d in ag_short_spin"
      % (short, short_exe_ok, short_main_exact, short_main, short_sym))
PY
