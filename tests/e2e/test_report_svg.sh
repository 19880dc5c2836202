#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The flamegraph SVG in a real browser (headless Chromium), checked as a
# person would: it renders (screenshot kept in the test output), a search
# highlights exactly the frames whose names match and shows the matched
# share, a click on a frame zooms into it and "Reset Zoom" undoes it, hover
# shows name, samples and share, and a 300-deep graph opens with its root row
# on the first screen. The view in the URL fragment
# (#search=...&zoom=...) is read with --dump-dom; clicks, hover and the
# search prompt go through the DevTools protocol (a small python3 client).
. "$(dirname "$0")/lib_e2e.sh"
set -eu -o pipefail
gen="$XPROF_BUILD/progs/rep_gen"
out="$XPROF_BUILD/test-output/report_svg"
rm -rf "$out"; mkdir -p "$out"
[ -x "$gen" ] || { echo "no $gen: run make unit-bins"; exit 1; }
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
	e2e_skip "chromium not found: install it (make deps)"
fi
profile_dir=$(mktemp -d)
trap 'rm -rf "$profile_dir"' EXIT
CHROME_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync
	--disable-dev-shm-usage --window-size=1280,800)

cat >"$out/in.folded" <<'EOF'
demo-100/101;_start;main;compute;hash_[i];mix_[i] 50
demo-100/101;_start;main;compute 20
demo-100/102;_start;main;io;write;entry_SYSCALL_64_[k];do_syscall_64_[k];ksys_write_[k] 30
demo-100/102;_start;main;[libfoo.so+0x1a2b] 5
demo-100/102;_start;main;recurse;recurse;recurse;hash 12
java-200/200;Interpreter;LambdaForm$MH::invoke_[j] 7
odd-1/1;main;a<b>&"c" 3
EOF
"$gen" --title 'xprof e2e <test>' -o "$out/flame.svg" -o "$out/flame.folded" <"$out/in.folded"
"$gen" --inverted -o "$out/icicle.svg" <"$out/in.folded"

dom() { # fragment, output file
	timeout 60 "$chrome" "${CHROME_FLAGS[@]}" --user-data-dir="$profile_dir/dom$RANDOM" \
		--virtual-time-budget=2000 --dump-dom "file://$out/${svg:-flame.svg}$1" >"$2" 2>"$2.err" || {
		tail -5 "$2.err"; echo "chromium --dump-dom failed"; exit 1; }
}
dom '' "$out/dom-plain.xml"
dom '#search=hash' "$out/dom-search.xml"
dom '#search=%5E(mix%7Cksys_)' "$out/dom-regex.xml"
dom '#search=a%3Cb' "$out/dom-text.xml"
dom '#search=(' "$out/dom-badre.xml"
dom '#zoom=demo%3B_start%3Bmain%3Bcompute' "$out/dom-zoom.xml"
dom '#zoom=demo%3Bnope&search=mix' "$out/dom-badzoom.xml"
svg=icicle.svg dom '#zoom=demo%3B_start%3Bmain%3Bio' "$out/dom-icicle.xml"

python3 - "$out" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
NS = {"s": "http://www.w3.org/2000/svg"}
FG = "{http://github.com/jonhoo/inferno}"

folded = []
for line in open(out + "/flame.folded"):
    stack, n = line.rstrip("\n").rsplit(" ", 1)
    folded.append((stack.split(";"), int(n)))
total = sum(n for _, n in folded)

def load(name):
    root = ET.parse(out + "/" + name).getroot()
    frames = []
    for g in root.find("s:g[@id='frames']", NS):
        title = g.find("s:title", NS).text
        r = g.find("s:rect", NS)
        frames.append(dict(name=re.sub(r" \([^(]*\)$", "", title), title=title, g=g, r=r,
                           cls=g.get("class") or "", fill=r.get("fill"),
                           x=float(r.get("x")), w=float(r.get("width"))))
    return root, frames

def fail(msg):
    sys.exit("svg: " + msg)

# Rendered: every frame of the folded output is drawn, with the right widths.
root, frames = load("dom-plain.xml")
if root.find("s:text[@id='title']", NS).text != "xprof e2e <test>":
    fail("title not shown")
names = {f["name"] for f in frames}
for stack, _ in folded:
    for fr in stack:
        if fr not in names:
            fail("frame %r missing" % fr)
allf = [f for f in frames if f["name"] == "all"][0]
if abs(allf["w"] - 1180) > 0.1 or "samples, 100.00%" not in allf["title"]:
    fail("root frame 'all' is not full width: %r" % allf)
comp = [f for f in frames if f["name"] == "compute"][0]
if comp["title"] != "compute (70 samples, %.2f%%)" % (7000 / total):
    fail("compute title %r" % comp["title"])
if abs(comp["w"] - 1180 * 70 / total) > 0.1:
    fail("compute width %s" % comp["w"])
if any("hide" in f["cls"] for f in frames):
    fail("frames hidden without zoom")

def check_search(name, pattern, expect_names):
    root, frames = load(name)
    want = {f["name"] for f in frames if re.search(pattern, f["name"])}
    if want != set(expect_names):
        fail("test bug: %s matches %s" % (pattern, want))
    lit = {f["name"] for f in frames if f["fill"] == "rgb(230,0,230)"}
    if lit != want:
        fail("search %r highlighted %s, expected %s" % (pattern, sorted(lit), sorted(want)))
    hit = sum(n for stack, n in folded if any(re.search(pattern, fr) for fr in stack))
    pct = 100.0 * hit / total
    if abs(float(root.get("data-matched")) - pct) > 0.01:
        fail("search %r: data-matched %s, expected %.2f" % (pattern, root.get("data-matched"), pct))
    text = root.find("s:text[@id='matched']", NS).text
    if text != "Matched: %.1f%%" % pct:
        fail("search %r: shows %r, expected %.1f%%" % (pattern, text, pct))
    print("search %r: %d frames, matched %.1f%%" % (pattern, len(lit), pct))

check_search("dom-search.xml", "hash", ["hash", "hash_[i]"])
check_search("dom-regex.xml", "^(mix|ksys_)", ["mix_[i]", "ksys_write_[k]"])
check_search("dom-text.xml", "a<b", ['a<b>&"c"'])
check_search("dom-badre.xml", r"\(", [])  # not a regex: searched as text, matches nothing

# Zoom from the fragment: compute fills the width, its callees scale, others hide.
root, frames = load("dom-zoom.xml")
if root.get("data-zoom") != "demo;_start;main;compute":
    fail("zoom: data-zoom %r" % root.get("data-zoom"))
by = {}
for f in frames:
    by.setdefault(f["name"], []).append(f)
c = by["compute"][0]
if abs(c["x"] - 10) > 0.1 or abs(c["w"] - 1180) > 0.1 or "hide" in c["cls"]:
    fail("zoom: compute at x=%s w=%s" % (c["x"], c["w"]))
if abs(by["hash_[i]"][0]["w"] - 1180 * 50 / 70) > 0.2:
    fail("zoom: hash_[i] width %s" % by["hash_[i]"][0]["w"])
for n in ("main", "_start", "demo", "all"):
    if "parent" not in by[n][0]["cls"] or abs(by[n][0]["w"] - 1180) > 0.1:
        fail("zoom: ancestor %s not full width and faded" % n)
for n in ("io", "write", "Interpreter", "java"):
    if "hide" not in by[n][0]["cls"]:
        fail("zoom: %s still shown" % n)
if "hide" in root.find("s:text[@id='unzoom']", NS).get("class"):
    fail("zoom: no Reset Zoom button")
print("zoom: ok")

# Icicle: the root on top, callees below; zoom works the same way down.
root, frames = load("dom-icicle.xml")
by = {f["name"]: f for f in frames}
ys = {n: float(by[n]["r"].get("y")) for n in ("all", "demo", "main", "io", "ksys_write_[k]")}
if not ys["all"] < ys["demo"] < ys["main"] < ys["io"] < ys["ksys_write_[k]"]:
    fail("icicle: frames not top-down: %s" % ys)
if root.get("data-zoom") != "demo;_start;main;io" or abs(by["io"]["w"] - 1180) > 0.1 \
        or "hide" not in by["compute"]["cls"] or abs(by["write"]["w"] - 1180) > 0.1:
    fail("icicle: zoom into io failed")
print("icicle: ok")

# A zoom path that does not exist leaves the view whole; the search still applies.
root, frames = load("dom-badzoom.xml")
if root.get("data-zoom") or any("hide" in f["cls"] for f in frames) or not root.get("data-matched"):
    fail("bad zoom path changed the view")
EOF

# Clicks, hover and the search prompt through the DevTools protocol, with a
# minimal WebSocket client on python3's standard library (RFC 6455: masked
# client frames, 16/64-bit lengths, fragments, ping).
cat >"$out/cdp.py" <<'EOF'
import base64, json, os, socket, struct, sys, time, urllib.request

port, shot = sys.argv[1], sys.argv[2]

class WS:
    def __init__(self, url):
        hostport, path = url[len("ws://"):].split("/", 1)
        host, p = hostport.split(":")
        self.s = socket.create_connection((host, int(p)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit("cdp: websocket handshake refused: %r" % head[:200])
        self.buf = b""

    def send(self, text):
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        hdr = struct.pack("!B", 0x81)
        if n < 126:
            hdr += struct.pack("!B", 0x80 | n)
        elif n < 65536:
            hdr += struct.pack("!BH", 0x80 | 126, n)
        else:
            hdr += struct.pack("!BQ", 0x80 | 127, n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("cdp: connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            data = self._read(n)
            op = b0 & 0x0f
            if op == 9:  # ping: answer, keep reading
                self.s.sendall(struct.pack("!BB", 0x8a, 0x80 | len(data)) + b"\0\0\0\0" + data)
                continue
            if op == 8:
                raise SystemExit("cdp: closed by the browser")
            msg += data
            if b0 & 0x80:
                return msg.decode()

targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port, timeout=30))
page = [t for t in targets if t["type"] == "page" and t["url"].endswith(".svg")][0]
ws = WS(page["webSocketDebuggerUrl"])
seq, answer = 0, [""]

def send(method, **params):
    global seq
    seq += 1
    me = seq
    ws.send(json.dumps({"id": me, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == me:
            if "error" in m:
                raise SystemExit("cdp: %s: %s" % (method, m["error"]))
            return m["result"]
        if m.get("method") == "Page.javascriptDialogOpening":
            # answer the search prompt; the reply to it arrives later on its own id
            seq += 1
            ws.send(json.dumps({"id": seq, "method": "Page.handleJavaScriptDialog",
                                "params": {"accept": True, "promptText": answer[0]}}))

def ev(expr):
    r = send("Runtime.evaluate", expression=expr, returnByValue=True)
    if "exceptionDetails" in r:
        raise SystemExit("cdp: %s: %s" % (expr, r["exceptionDetails"]))
    return r["result"].get("value")

send("Page.enable")
for _ in range(100):
    if ev("document.readyState==='complete'&&typeof F!=='undefined'&&F.length>0"):
        break
    time.sleep(0.1)

if len(sys.argv) > 3 and sys.argv[3] == "view":
    # What the first screen shows: where the root row and the process row are.
    time.sleep(0.3)
    print(json.dumps(ev("""(function () {
      var all = F.find(f => f.name === 'all').r.getBoundingClientRect();
      var proc = F.find(f => f.d === 1).r.getBoundingClientRect();
      return {innerHeight: innerHeight, scrollY: scrollY, height: +svg.getAttribute('height'),
              allTop: all.top, allBottom: all.bottom, procTop: proc.top, procBottom: proc.bottom};
    })()""")))
    png = send("Page.captureScreenshot", format="png")
    open(shot, "wb").write(base64.b64decode(png["data"]))
    sys.exit(0)

def center(sel):
    return ev("(function(){var e=%s;var b=e.getBoundingClientRect();"
              "return [b.x+b.width/2,b.y+b.height/2];})()" % sel)

def mouse(kind, at):
    send("Input.dispatchMouseEvent", type=kind, x=at[0], y=at[1], button="left", clickCount=1)

def click(at):
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        mouse(kind, at)
    time.sleep(0.1)

STATE = """({zoom: svg.getAttribute('data-zoom'), hash: location.hash,
  matched: svg.getAttribute('data-matched'),
  matchedText: document.getElementById('matched').textContent,
  details: document.getElementById('details').textContent,
  computeW: +F.find(f => f.name === 'compute').r.getAttribute('width'),
  ioHidden: F.find(f => f.name === 'io').g.classList.contains('hide'),
  unzoomHidden: document.getElementById('unzoom').classList.contains('hide'),
  lit: F.filter(f => f.r.getAttribute('fill') === 'rgb(230,0,230)').map(f => f.name).sort()})"""
res = {}
compute = center("F.find(f => f.name === 'compute').r")
mouse("mouseMoved", compute)
time.sleep(0.1)
res["hover"] = ev(STATE)
click(compute)
res["click"] = ev(STATE)
click(center("document.getElementById('unzoom')"))
res["unzoom"] = ev(STATE)
answer[0] = "ksys|mix"
click(center("document.getElementById('search')"))
res["search"] = ev(STATE)
click(center("F.find(f => f.name === 'io').r"))
res["zoomSearch"] = ev(STATE)
png = send("Page.captureScreenshot", format="png")
open(shot, "wb").write(base64.b64decode(png["data"]))
print(json.dumps(res, indent=1))
EOF

udir="$profile_dir/cdp"
timeout 90 "$chrome" "${CHROME_FLAGS[@]}" --user-data-dir="$udir" --remote-debugging-port=0 \
	"file://$out/flame.svg" 2>"$out/cdp-chrome.err" &
cpid=$!
for _ in $(seq 200); do [ -s "$udir/DevToolsActivePort" ] && break; sleep 0.1; done
port=$(head -n 1 "$udir/DevToolsActivePort" 2>/dev/null || true)
if [ -z "$port" ]; then kill "$cpid" 2>/dev/null; echo "chromium did not open its DevTools port"; exit 1; fi
rc=0
timeout 60 python3 "$out/cdp.py" "$port" "$out/clicked.png" >"$out/cdp.json" || rc=$?
kill "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
[ $rc = 0 ] || { cat "$out/cdp.json"; echo "cdp driver failed"; exit 1; }
python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
r = json.load(open(out + "/cdp.json"))
total = sum(int(l.rsplit(" ", 1)[1]) for l in open(out + "/flame.folded"))
def fail(msg):
    print(json.dumps(r, indent=1)); sys.exit("svg click: " + msg)
if r["hover"]["details"] != "compute (70 samples, %.2f%%)" % (7000 / total):
    fail("hover shows %r" % r["hover"]["details"])
c = r["click"]
if c["zoom"] != "demo;_start;main;compute" or c["computeW"] != 1180 or not c["ioHidden"] \
        or c["unzoomHidden"] or c["hash"] != "#zoom=demo%3B_start%3Bmain%3Bcompute":
    fail("click did not zoom into compute")
u = r["unzoom"]
if u["zoom"] or u["ioHidden"] or not u["unzoomHidden"] or u["hash"] or u["computeW"] >= 1180:
    fail("Reset Zoom did not restore the view")
s = r["search"]
pct = 100.0 * (50 + 30) / total
if s["lit"] != ["ksys_write_[k]", "mix_[i]"] or s["matched"] != "%.2f" % pct \
        or s["matchedText"] != "Matched: %.1f%%" % pct or s["hash"] != "#search=ksys%7Cmix":
    fail("search prompt did not highlight ksys_write and mix")
z = r["zoomSearch"]
if z["zoom"] != "demo;_start;main;io" or z["lit"] != s["lit"] \
        or z["hash"] != "#zoom=demo%3B_start%3Bmain%3Bio&search=ksys%7Cmix":
    fail("zoom after search lost the search or the URL")
print("click, hover, reset, search prompt: ok")
EOF

# A 300-deep stack: the graph is taller than the window (800 px), and the
# first screen must show the root row and the process row above it, not the
# title above a screen of slivers; an icicle shows them at the top.
python3 -c "
print('deep-1/1;' + ';'.join('deep_%d' % i for i in range(300)) + ' 10')
print('deep-1/1;' + ';'.join('deep_%d' % i for i in range(3)) + ';wide 30')
" >"$out/deep.folded"
"$gen" -o "$out/deep.svg" <"$out/deep.folded"
"$gen" --inverted -o "$out/deep-icicle.svg" <"$out/deep.folded"
for v in deep deep-icicle; do
	udir="$profile_dir/view-$v"
	timeout 90 "$chrome" "${CHROME_FLAGS[@]}" --user-data-dir="$udir" --remote-debugging-port=0 \
		"file://$out/$v.svg" 2>"$out/$v-chrome.err" &
	cpid=$!
	for _ in $(seq 200); do [ -s "$udir/DevToolsActivePort" ] && break; sleep 0.1; done
	port=$(head -n 1 "$udir/DevToolsActivePort" 2>/dev/null || true)
	if [ -z "$port" ]; then kill "$cpid" 2>/dev/null; echo "chromium did not open its DevTools port"; exit 1; fi
	rc=0
	timeout 60 python3 "$out/cdp.py" "$port" "$out/$v-first-screen.png" view >"$out/$v.json" || rc=$?
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	[ $rc = 0 ] || { cat "$out/$v.json"; echo "cdp driver failed on $v.svg"; exit 1; }
done
python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
for v in ("deep", "deep-icicle"):
    r = json.load(open("%s/%s.json" % (out, v)))
    if r["height"] <= r["innerHeight"]:
        sys.exit("svg %s: test bug: %d px fits the %d px window" % (v, r["height"], r["innerHeight"]))
    seen = lambda top, bottom: 0 <= top and bottom <= r["innerHeight"]
    if not seen(r["allTop"], r["allBottom"]) or not seen(r["procTop"], r["procBottom"]):
        sys.exit("svg %s: the first screen does not show the root rows: %s" % (v, r))
    print("svg %s: %d px tall in a %d px window, scrolled to %d: root row at %d-%d px" %
          (v, r["height"], r["innerHeight"], r["scrollY"], r["allTop"], r["allBottom"]))
EOF

# Screenshots for a person to look at, normal and icicle, searched.
for v in "flame.svg#search=hash" "icicle.svg"; do
	png="$out/${v%%.svg*}.png"
	timeout 60 "$chrome" "${CHROME_FLAGS[@]}" --user-data-dir="$profile_dir/shot$RANDOM" \
		--screenshot="$png" "file://$out/$v" >/dev/null 2>&1 || true
	[ -s "$png" ] || { echo "no screenshot $png"; exit 1; }
done
echo "svg: ok (screenshots in $out)"
