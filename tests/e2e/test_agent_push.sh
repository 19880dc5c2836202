#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The agent's sink path end to end, without BPF: ag_push (tests/progs) puts
# synthetic pprof windows into a spool bound for the Pyroscope push sink,
# and a local receiver on 127.0.0.1 (ag_receiver.py) plays Pyroscope.
#  1. outage: the receiver takes 3 windows, then answers 503 once and holds
#     every request for 5 s, then takes again: all 10 windows arrive, each
#     once, the retries are logged, every payload decodes with
#     `go tool pprof -raw` and holds its own window's stack, and every query
#     carries name/from/until/format with the tenant and token headers;
#  2. spool bound: nothing listens, the spool holds ~3 windows: the oldest
#     are dropped and counted, the newest stay on disk within the bound;
#  3. restart: the driver is killed while nothing listens; a new one started
#     once the receiver is back sends every spooled window.
set -u -o pipefail
P=$XPROF_BUILD/progs
T=$XPROF_TOP/tests/e2e
out="$XPROF_BUILD/test-output/agent_push"
rm -rf "$out"; mkdir -p "$out/tmp"
export HOME="$out" PPROF_TMPDIR="$out/tmp"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
[ -x "$P/ag_push" ] || fail "no $P/ag_push: run make unit-bins"
command -v python3 >/dev/null || fail "python3 not found (make deps)"
command -v go >/dev/null || fail "go not found (make deps)"
rpid=
cleanup() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

start_receiver() { # dir, receiver options...
	local d=$1; shift
	mkdir -p "$d"; rm -f "$d/port"
	python3 "$T/ag_receiver.py" "$d" "$d/port" --life-s 120 "$@" 2>"$d/receiver.log" &
	rpid=$!
	for _ in $(seq 50); do [ -s "$d/port" ] && break; sleep 0.1; done
	[ -s "$d/port" ] || fail "receiver did not start: $(cat "$d/receiver.log")"
	port=$(cat "$d/port")
}
stop_receiver() { kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null; rpid=; }

# check_arrived DIR "0 1 2 …": exactly these windows arrived, each once, and decode
check_arrived() {
	python3 - "$1" "$2" <<'PY' || exit 1
import glob, json, os, subprocess, sys, urllib.parse
d, want = sys.argv[1], sorted(int(x) for x in sys.argv[2].split())
T0 = 1765062600
got = []
for meta in sorted(glob.glob(d + "/*.meta")):
    m = json.load(open(meta))
    q = urllib.parse.parse_qs(m["query"], strict_parsing=True)
    if m["path"] != "/ingest": sys.exit("FAIL: path %r" % m["path"])
    for k in ("name", "from", "until", "format"):
        if k not in q: sys.exit("FAIL: %s: no %s in %r" % (meta, k, m["query"]))
    if q["format"] != ["pprof"]: sys.exit("FAIL: format %r" % q["format"])
    if q["name"] != ["agwin.cpu{host=testhost,service=agwin.service}"]:
        sys.exit("FAIL: name %r" % q["name"])
    h = {k.lower(): v for k, v in m["headers"].items()}
    if h.get("x-scope-orgid") != "tenant-1": sys.exit("FAIL: X-Scope-OrgID %r" % h.get("x-scope-orgid"))
    if h.get("authorization") != "Bearer s3cret": sys.exit("FAIL: Authorization %r" % h.get("authorization"))
    start, until = int(q["from"][0]), int(q["until"][0])
    i = (start - T0) // 10
    if start != T0 + 10 * i or until != start + 10: sys.exit("FAIL: from/until %d/%d" % (start, until))
    raw = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", meta[:-5] + ".body"],
                         capture_output=True, text=True)
    if raw.returncode: sys.exit("FAIL: pprof -raw %s: %s" % (meta, raw.stderr))
    # -raw: "Samples:" then "count nanoseconds: loc-ids"; "Locations" with function names
    if "window_%d " % i not in raw.stdout + " " or "main" not in raw.stdout:
        sys.exit("FAIL: %s (window %d) lacks its stack:\n%s" % (meta, i, raw.stdout))
    counts = [l.split()[0] for l in raw.stdout.split("Samples:")[1].split("Locations")[0].splitlines()
              if l.strip() and l.strip()[0].isdigit()]
    if counts != [str(i + 1)]: sys.exit("FAIL: window %d has samples %r, want [%d]" % (i, counts, i + 1))
    got.append(i)
if sorted(got) != want:
    sys.exit("FAIL: arrived windows %r, want %r (each once)" % (sorted(got), want))
print("arrived and decoded: %s" % " ".join(map(str, sorted(got))))
PY
}

# --- 1. an outage of 5 s in the middle ------------------------------------------------
start_receiver "$out/r1" --outage-after 3 --outage-s 5
timeout 90 "$P/ag_push" --spool "$out/spool1" --url "http://127.0.0.1:$port" --windows 10 \
	--gap-ms 300 --wait-s 60 2>"$out/push1.log" || fail "ag_push: $(cat "$out/push1.log")"
stop_receiver
grep -q "outage starts" "$out/r1/receiver.log" || fail "the receiver never went down"
grep -q "push: retry 1 in .* s: http 503: busy" "$out/push1.log" || fail "no 503 retry logged: $(cat "$out/push1.log")"
grep -q "push: retry [0-9]* in .* s: Timeout was reached" "$out/push1.log" ||
	fail "no timeout retry logged: $(cat "$out/push1.log")"
grep -q "put 10 sent 10 dropped 0 rejected 0 " "$out/push1.log" || fail "counters: $(tail -n 1 "$out/push1.log")"
check_arrived "$out/r1" "0 1 2 3 4 5 6 7 8 9"
[ -z "$(ls -A "$out/spool1")" ] || fail "spool not empty: $(ls -A "$out/spool1")"
[ "$(stat -c %a "$out/spool1")" = 700 ] || fail "spool mode $(stat -c %a "$out/spool1")"
ok "5 s outage: 10 of 10 windows arrived once, retries logged ($(grep -c retry "$out/push1.log"))"

# --- 2. the spool bound drops the oldest ------------------------------------------------
# A port nothing listens on: bind one, note it, let it go.
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
budget=1600
timeout 60 "$P/ag_push" --spool "$out/spool2" --url "http://127.0.0.1:$dead" --windows 10 \
	--gap-ms 0 --wait-s 1 --spool-size $budget 2>"$out/push2.log"
[ $? = 1 ] || fail "ag_push should end with windows left: $(cat "$out/push2.log")"
line=$(grep "ag_push: put" "$out/push2.log")
dropped=$(sed -n 's/.* dropped \([0-9]*\) .*/\1/p' <<<"$line")
kept=$(sed -n 's/.* spooled \([0-9]*\)$/\1/p' <<<"$line")
[ -n "$dropped" ] && [ -n "$kept" ] || fail "no counters: $line"
[ "$dropped" -ge 1 ] && [ $((dropped + kept)) = 10 ] || fail "dropped $dropped + kept $kept != 10: $line"
grep -q "Couldn't connect to server" "$out/push2.log" || fail "refused connection not retried: $(cat "$out/push2.log")"
bytes=$(find "$out/spool2" -name '*.win' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
[ "$bytes" -le $budget ] || fail "spool holds $bytes bytes > $budget"
[ "$(find "$out/spool2" -name '*.win' | wc -l)" = "$kept" ] || fail "files != $kept"
ok "spool bound $budget: $dropped oldest dropped and counted, $kept newest kept ($bytes bytes)"
# The kept ones are the newest: send them now.
start_receiver "$out/r2"
timeout 60 "$P/ag_push" --spool "$out/spool2" --url "http://127.0.0.1:$port" --windows 0 \
	--wait-s 20 2>"$out/push2b.log" || fail "resend: $(cat "$out/push2b.log")"
stop_receiver
check_arrived "$out/r2" "$(seq -s ' ' $((10 - kept)) 9)"
ok "the $kept newest windows arrived after the receiver came back"

# --- 3. restart: killed mid-outage, the next run sends the spool -------------------------
"$P/ag_push" --spool "$out/spool3" --url "http://127.0.0.1:$dead" --windows 10 --gap-ms 50 \
	--wait-s 60 2>"$out/push3.log" &
apid=$!
for _ in $(seq 100); do grep -q "spooled window 9" "$out/push3.log" && break; sleep 0.1; done
grep -q "spooled window 9" "$out/push3.log" || { kill -9 $apid; fail "driver never spooled 10 windows"; }
kill -9 $apid; wait $apid 2>/dev/null
[ "$(find "$out/spool3" -name '*.win' | wc -l)" = 10 ] || fail "spool3 holds $(ls "$out/spool3")"
start_receiver "$out/r3"
timeout 60 "$P/ag_push" --spool "$out/spool3" --url "http://127.0.0.1:$port" --windows 0 \
	--wait-s 20 2>"$out/push3b.log" || fail "restart: $(cat "$out/push3b.log")"
stop_receiver
grep -q "put 0 sent 10 dropped 0 rejected 0 retries 0 recovered 10 spooled 0" "$out/push3b.log" ||
	fail "restart counters: $(tail -n 1 "$out/push3b.log")"
check_arrived "$out/r3" "0 1 2 3 4 5 6 7 8 9"
ok "killed mid-outage, restarted: all 10 spooled windows arrived"
