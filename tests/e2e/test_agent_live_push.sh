#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# xprof agent --push under real BPF, against a local Pyroscope stand-in
# (ag_receiver.py) that stops answering for 5 s mid-run (one 503, then
# requests held without an answer). The agent samples at -F 99 in 2 s
# windows for ~18 s while unw_threads runs in a cgroup named like a unit,
# then gets SIGTERM. Asserted:
#  - nothing is lost within the spool bound: every window the agent logged
#    arrived, its samples (the payloads' counts, read with go tool pprof
#    -raw) summing to the log line's count, each window exactly once;
#  - one request per service per window (the workload's unit, and one
#    without a service for the rest), the name carrying host and service;
#  - the outage's retries are logged ("xprof agent: push: retry ...");
#  - SIGHUP after the log was moved away reopens --log FILE;
#  - every payload decodes, and the unit's ones hold unw_threads' chain.
# Then SIGTERM while nothing listens: the agent stops within the 5 s bound,
# says how many windows stay spooled, and a restart sends them.
set -u -o pipefail
. "$(dirname "$0")/lib_e2e.sh"
P=$XPROF_BUILD/progs
T=$XPROF_TOP/tests/e2e
out="$XPROF_BUILD/test-output/agent_live_push"
rm -rf "$out"; mkdir -p "$out/tmp" "$out/r"
export HOME="$out" PPROF_TMPDIR="$out/tmp"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

[ "$(id -u)" = 0 ] || e2e_skip "needs root for BPF"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "the kernel has no BTF"
command -v go >/dev/null || e2e_skip "go not found (make deps)"
command -v python3 >/dev/null || e2e_skip "python3 not found (make deps)"
[ -x "$P/unw_threads" ] || fail "no $P/unw_threads: run make unit-bins"
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || e2e_skip "no cgroup v2 hierarchy mounted (the service label comes from it)"
svc="xprof-push-$$.service"
cg="$cg2/$svc"
mkdir "$cg" || e2e_skip "cannot create the cgroup $cg"

apid= rpid= wpid=
cleanup() {
	for p in $apid $rpid $wpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
}
trap cleanup EXIT

# The receiver goes down after 4 accepted requests (about the second window).
python3 "$T/ag_receiver.py" "$out/r" "$out/port" --life-s 90 --outage-after 4 --outage-s 5 \
	2>"$out/receiver.log" &
rpid=$!
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || fail "receiver did not start: $(cat "$out/receiver.log")"
port=$(cat "$out/port")

(echo $BASHPID >"$cg/cgroup.procs" && exec "$P/unw_threads" 30) >/dev/null &
wpid=$!
"$XPROF" agent -F 99 --interval 2s --host e2ehost --push "http://127.0.0.1:$port" \
	--spool-dir "$out/spool" --log "$out/agent.log" 2>"$out/agent.err" &
apid=$!
for _ in $(seq 300); do
	grep -q "sampling every CPU" "$out/agent.log" 2>/dev/null && break
	kill -0 $apid 2>/dev/null || fail "agent exited: $(cat "$out/agent.err")"
	sleep 0.1
done
grep -q "sinks: push (http://127.0.0.1:$port)" "$out/agent.log" || fail "no start-up line"
sleep 9
# logrotate's way: move the log away, SIGHUP; the next lines go to a new file.
mv "$out/agent.log" "$out/agent.log.1"
kill -HUP $apid
sleep 9
grep -q "outage starts" "$out/receiver.log" || fail "the receiver never went down: $(cat "$out/receiver.log")"
kill -TERM $apid
for _ in $(seq 200); do kill -0 $apid 2>/dev/null || break; sleep 0.05; done
kill -0 $apid 2>/dev/null && fail "agent still runs 10 s after SIGTERM"
wait $apid; rc=$?
apid=
[ $rc = 0 ] || fail "agent exit status $rc: $(tail -n 5 "$out/agent.log") $(cat "$out/agent.err")"
[ "$(grep -c '^window' "$out/agent.log")" -ge 3 ] ||
	fail "SIGHUP: the new log has no window lines: $(cat "$out/agent.log")"
ok "SIGHUP reopened the log: $(grep -c '^window' "$out/agent.log.1") window lines before, $(grep -c '^window' "$out/agent.log") after"
cat "$out/agent.log.1" "$out/agent.log" >"$out/agent.all"
grep -q "xprof agent: stopped" "$out/agent.log" ||
	fail "the agent did not send everything before it stopped: $(tail -n 3 "$out/agent.log")"
grep -q "^xprof agent: push: retry [0-9]* in .* s: http 503" "$out/agent.all" ||
	fail "no 503 retry logged: $(grep -v '^window' "$out/agent.all")"
ok "receiver down 5 s; retries logged: $(grep -c 'push: retry' "$out/agent.all")"

python3 - "$out" "$svc" "$wpid" <<'PY'
import calendar, glob, json, re, subprocess, sys, time, urllib.parse
out, svc, wpid = sys.argv[1:]
log = open(out + "/agent.all").read()
windows = {}  # start (Unix s) -> samples logged
for stamp, n in re.findall(r"^window (\S+): (\d+) samples", log, re.M):
    windows[calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))] = int(n)
if len(windows) < 7: sys.exit("FAIL: only %d windows logged" % len(windows))

got, per = {}, {}
thr = 0
for meta in sorted(glob.glob(out + "/r/*.meta")):
    m = json.load(open(meta))
    q = urllib.parse.parse_qs(m["query"], strict_parsing=True)
    name, start = q["name"][0], int(q["from"][0])
    mm = re.fullmatch(r"xprof\{host=e2ehost(?:,service=([^}]*))?\}", name)
    if not mm: sys.exit("FAIL: %s: name %r" % (meta, name))
    service = mm.group(1) or ""
    if q["format"] != ["pprof"] or q["sampleRate"] != ["99"]: sys.exit("FAIL: %s: query %r" % (meta, q))
    key = (start, service)
    if key in got: sys.exit("FAIL: window %d service %r arrived twice" % key)
    raw = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", meta[:-5] + ".body"],
                         capture_output=True, text=True)
    if raw.returncode: sys.exit("FAIL: pprof -raw %s: %s" % (meta, raw.stderr))
    samples = raw.stdout.split("\nSamples:\n")[1].split("\nLocations\n")[0]
    n = sum(int(l.split()[0]) for l in samples.splitlines()[1:] if re.match(r"\s+\d+\s+\d+:", l))
    svcs = set(re.findall(r"service:\[([^\]]*)\]", samples))
    if svcs - {service} or (service and not svcs):
        sys.exit("FAIL: %s: request for service %r holds samples of %r" % (meta, service, svcs))
    if service == svc and "pid:[%s]" % wpid in samples and "thread_leaf" in raw.stdout:
        thr += 1
    got[key] = n
    per[start] = per.get(start, 0) + n

# A window without samples has no service to push (a slow start's first, partial one).
missing = sorted(w for w, n in windows.items() if n and w not in per)
if missing: sys.exit("FAIL: windows never arrived: %r (logged %r)" % (missing, sorted(windows)))
extra = sorted(set(per) - set(windows))
if extra: sys.exit("FAIL: windows arrived that the log does not have: %r" % extra)
for start, n in sorted(windows.items()):
    if per.get(start, 0) != n:
        sys.exit("FAIL: window %d: %d samples arrived, the log says %d (%r)"
                 % (start, per.get(start, 0), n, {k: v for k, v in got.items() if k[0] == start}))
with_svc = sum(1 for (s, v) in got if v == svc)
if with_svc < len(windows) - 1:
    sys.exit("FAIL: only %d of %d windows had a request for %s" % (with_svc, len(windows), svc))
if thr < len(windows) - 2:
    sys.exit("FAIL: only %d requests of %s hold unw_threads' thread_leaf" % (thr, svc))
print("ok: %d windows, %d requests (one per service per window), %d samples: each window arrived once, "
      "its samples equal to its log line" % (len(windows), len(got), sum(windows.values())))
PY

# --- 2. SIGTERM while the receiver is unreachable: bounded, and the next start sends the rest ---
kill $rpid; wait $rpid 2>/dev/null; rpid=
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$XPROF" agent -F 99 --interval 2s --host e2ehost --push "http://127.0.0.1:$dead" \
	--spool-dir "$out/spool2" 2>"$out/agent2.log" &
apid=$!
for _ in $(seq 300); do grep -q "sampling every CPU" "$out/agent2.log" && break; sleep 0.1; done
sleep 5
t0=$(date +%s%N)
kill -TERM $apid
wait $apid; rc=$?
apid=
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] || fail "agent with its sink down: exit status $rc: $(tail -n 3 "$out/agent2.log")"
[ $ms -le 7000 ] || fail "agent took $ms ms to stop with its sink down (bound: 5 s of sending)"
grep -q "^xprof agent: push: retry .*Couldn't connect to server" "$out/agent2.log" ||
	fail "no refused-connection retry logged: $(grep -v '^window' "$out/agent2.log")"
left=$(sed -n 's/^xprof agent: \([0-9]*\) windows stay spooled for the next start$/\1/p' "$out/agent2.log")
[ -n "$left" ] && [ "$left" -ge 3 ] || fail "no 'windows stay spooled' line: $(tail -n 3 "$out/agent2.log")"
[ "$(find "$out/spool2" -name '*.win' | wc -l)" = "$left" ] || fail "spool2 holds $(ls "$out/spool2")"
ok "SIGTERM with the sink down: stopped in $ms ms, $left windows left in the spool"

# The next start, receiver up: the windows of the first run arrive, then its own.
mkdir -p "$out/r2"
python3 "$T/ag_receiver.py" "$out/r2" "$out/port2" --life-s 60 2>"$out/receiver2.log" &
rpid=$!
for _ in $(seq 50); do [ -s "$out/port2" ] && break; sleep 0.1; done
port=$(cat "$out/port2")
"$XPROF" agent -F 99 --interval 2s --host e2ehost --push "http://127.0.0.1:$port" \
	--spool-dir "$out/spool2" 2>"$out/agent3.log" &
apid=$!
for _ in $(seq 300); do grep -q "sampling every CPU" "$out/agent3.log" && break; sleep 0.1; done
sleep 3
kill -TERM $apid
wait $apid; rc=$?
apid=
[ $rc = 0 ] || fail "restarted agent: exit status $rc"
python3 - "$out" <<'PY'
import calendar, glob, json, re, sys, time, urllib.parse
out = sys.argv[1]
first = {calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
         for s, n in re.findall(r"^window (\S+): (\d+) samples", open(out + "/agent2.log").read(), re.M)
         if int(n)}
arrived = [int(urllib.parse.parse_qs(json.load(open(m))["query"])["from"][0])
           for m in sorted(glob.glob(out + "/r2/*.meta"))]
lost = sorted(first - set(arrived))
if lost: sys.exit("FAIL: windows of the stopped run never arrived after the restart: %r" % lost)
print("ok: restarted: the %d windows of the stopped run arrived (%d requests in all)" % (len(first), len(arrived)))
PY
