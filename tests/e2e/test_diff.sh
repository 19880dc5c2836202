#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# xprof diff end to end, under real BPF: two recordings of rec_phases, whose
# hot function moves from phase_a (60% of its CPU) to phase_b (60%) while
# common_work holds at 20%. The differential flamegraph must draw phase_b
# red and phase_a blue with the counts of the folded diff in their hover
# titles, render in headless Chromium without a script error and answer a
# search; the same diff from the .folded and .pb.gz reports of the two
# recordings must give the same folded diff; the .pb.gz diff must read in
# `go tool pprof` as -diff_base builds it (negative base samples labelled
# pprof::base, the same -top as pprof's own -diff_base); bad inputs get a
# one-line error naming the file.
set -u -o pipefail
. "$(dirname "$0")/lib_e2e.sh"
[ "$(id -u)" = 0 ] || e2e_skip "needs root (BPF)"
[ -r /sys/kernel/btf/vmlinux ] || e2e_skip "no kernel BTF"
P=$XPROF_BUILD/progs
out="$XPROF_BUILD/test-output/diff"
rm -rf "$out"; mkdir -p "$out/tmp"
# pprof keeps state under $HOME/pprof; keep it in the output directory.
export HOME="$out" PPROF_TMPDIR="$out/tmp"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
[ -x "$P/rec_phases" ] || fail "no $P/rec_phases: run make unit-bins"

# --- 1. two recordings, two phases ------------------------------------------------
for m in a b; do
	timeout 60 "$XPROF" record -F 499 -o "$out/$m.xprof" -- "$P/rec_phases" $m 1.5 \
		>/dev/null 2>"$out/$m.err" || fail "record rec_phases $m: $(cat "$out/$m.err")"
	"$XPROF" report -q -i "$out/$m.xprof" -o "$out/$m.folded" -o "$out/$m.pb.gz" \
		2>"$out/$m.rep.err" || fail "report $m: $(cat "$out/$m.rep.err")"
done
"$XPROF" diff "$out/a.xprof" "$out/b.xprof" --title 'phase a -> phase b' -o "$out/d.svg" \
	-o "$out/d.folded" -o "$out/d.pb.gz" -o "$out/d.txt" 2>"$out/diff.err" ||
	fail "diff: $(cat "$out/diff.err")"
grep -q "samples after, .* before; wrote .*d.svg" "$out/diff.err" || fail "no summary: $(cat "$out/diff.err")"
ok "recorded both phases and diffed them"

# --- 2. the SVG: phase_b red, phase_a blue, counts from the folded diff -------------
python3 - "$out" <<'EOF' || exit 1
import re, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
NS = {"s": "http://www.w3.org/2000/svg"}
FG = "{http://github.com/jonhoo/inferno}"
def fail(m): sys.exit("FAIL: svg: " + m)

# Counts per function from the folded diff (stack BEFORE AFTER), once per line.
cnt, tot = {}, [0, 0]
for line in open(out + "/d.folded"):
    stack, b, a = line.rsplit(" ", 2)
    b, a = int(b), int(a)
    tot[0] += b; tot[1] += a
    for fn in set(stack.split(";")):
        c = cnt.setdefault(fn, [0, 0]); c[0] += b; c[1] += a
for fn in ("phase_a", "phase_b", "common_work"):
    if fn not in cnt: fail("%s not in the folded diff" % fn)
share = {fn: (100.0 * c[0] / tot[0], 100.0 * c[1] / tot[1]) for fn, c in cnt.items()}
print("shares before -> after: " + ", ".join("%s %.1f%% -> %.1f%%" % (f, *share[f])
      for f in ("phase_a", "phase_b", "common_work")))
# The program splits its CPU time 3:1:1 and 1:3:1; sampling noise is a few points.
for fn, (b, a) in (("phase_a", (60, 20)), ("phase_b", (20, 60)), ("common_work", (20, 20))):
    if abs(share[fn][0] - b) > 8 or abs(share[fn][1] - a) > 8:
        fail("%s shares %.1f%% -> %.1f%%, the program makes %d%% -> %d%%" % (fn, *share[fn], b, a))

root = ET.parse(out + "/d.svg").getroot()
if root.find("s:text[@id='title']", NS).text != "phase a -> phase b":
    fail("title")
frames = {}
for g in root.find("s:g[@id='frames']", NS):
    title = g.find("s:title", NS).text
    name = re.sub(r" \([^(]*\)$", "", title)
    frames.setdefault(name, []).append((title, g.find("s:rect", NS)))
def rgb(r): return tuple(int(v) for v in re.match(r"rgb\((\d+),(\d+),(\d+)\)", r.get("fill")).groups())
for fn in ("phase_a", "phase_b", "common_work"):
    if len(frames.get(fn, [])) != 1: fail("%s drawn %d times" % (fn, len(frames.get(fn, []))))
    title, r = frames[fn][0]
    b, a = cnt[fn]
    want = "%s (before %s, after %s samples; %.2f%% -> %.2f%%, %+.2f pts," % (
        fn, format(b, ","), format(a, ","), share[fn][0], share[fn][1], share[fn][1] - share[fn][0])
    if not title.startswith(want): fail("%s title %r, expected %r..." % (fn, title, want))
    if int(r.get(FG + "w")) != a or int(r.get(FG + "before")) != b:
        fail("%s rect counts %s/%s" % (fn, r.get(FG + "w"), r.get(FG + "before")))
    print("%s: %s %s" % (fn, r.get("fill"), title))
R, G, B = rgb(frames["phase_b"][0][1])
if not (R == 255 and G == B and G < 100): fail("phase_b is not red: %s" % ((R, G, B),))
R, G, B = rgb(frames["phase_a"][0][1])
if not (B == 255 and R == G and R < 130): fail("phase_a is not blue: %s" % ((R, G, B),))
# common_work held its share: pale at most (a light tint, far from the saturated ends)
c = rgb(frames["common_work"][0][1])
if min(c) < 170: fail("common_work is not pale: %s" % (c,))
# widths are AFTER's: phase_b is about three times phase_a
wa, wb = (float(frames[f][0][1].get("width")) for f in ("phase_a", "phase_b"))
if not 2 < wb / wa < 4.5: fail("widths %s %s are not AFTER's" % (wa, wb))
EOF
ok "phase_b red, phase_a blue, common_work pale, counts in the titles match the folded diff"

# --- 3. the same diff from the reports' .folded and .pb.gz --------------------------
"$XPROF" diff -q "$out/a.folded" "$out/b.folded" -o "$out/f.folded" 2>"$out/f.err" || fail "diff of .folded: $(cat "$out/f.err")"
"$XPROF" diff -q "$out/a.pb.gz" "$out/b.pb.gz" -o "$out/p.folded" 2>"$out/p.err" || fail "diff of .pb.gz: $(cat "$out/p.err")"
cmp -s "$out/d.folded" "$out/f.folded" || { diff "$out/d.folded" "$out/f.folded" | head; fail "folded inputs give another diff"; }
cmp -s "$out/d.folded" "$out/p.folded" || { diff "$out/d.folded" "$out/p.folded" | head; fail "pprof inputs give another diff"; }
ok "the recordings, their .folded and their .pb.gz give the same folded diff ($(wc -l <"$out/d.folded") lines)"
# The two phases changed most (by about 40 points each, in either order): rows 1 and 2.
sed -n 4,5p "$out/d.txt" | awk '$NF == "phase_b" && $3 > 30 {b = 1} $NF == "phase_a" && $3 < -30 {a = 1}
	END {exit !(a && b)}' || fail "top table does not lead with the phases: $(cat "$out/d.txt")"
ok "the top table leads with phase_b (up) and phase_a (down)"

# --- 4. pprof: the diff as -diff_base builds it --------------------------------------
if command -v go >/dev/null; then
	go tool pprof -raw -symbolize=none "$out/d.pb.gz" >"$out/d.raw" 2>"$out/d.raw.err" || fail "pprof -raw: $(cat "$out/d.raw.err")"
	grep -q "pprof::base:\[true\]" "$out/d.raw" || fail "no pprof::base samples in -raw"
	grep -qE "^ +-[0-9]+ +-[0-9]+: " "$out/d.raw" || fail "no negative base values in -raw"
	top() { go tool pprof -top -nodecount=1000 -symbolize=none "$@" 2>"$out/top.err" |
		grep -E ' (phase_a|phase_b)$' | sed 's/  */ /g'; }
	top "$out/d.pb.gz" >"$out/d.top"
	top -diff_base="$out/a.pb.gz" "$out/b.pb.gz" >"$out/pprof.top"
	cat "$out/d.top"
	[ "$(wc -l <"$out/d.top")" = 2 ] || fail "pprof -top of the diff lacks the phases: $(cat "$out/top.err")"
	cmp -s "$out/d.top" "$out/pprof.top" || { cat "$out/pprof.top"; fail "pprof's own -diff_base differs"; }
	awk '$NF == "phase_b" && $4 !~ /^-/ {b = 1} $NF == "phase_a" && $4 ~ /^-/ {a = 1} END {exit !(a && b)}' \
		"$out/d.top" || fail "pprof -top: phase_b should gain, phase_a lose (cum column)"
	ok "go tool pprof reads the diff as its own -diff_base: phase_b up, phase_a down"
else
	e2e_skip "go tool pprof not found (make deps)"
fi

# --- 5. Chromium: renders, no script error, search works ------------------------------
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chrome" ]; then
	udir=$(mktemp -d)
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run --disable-sync \
		--disable-background-networking --disable-component-update --disable-dev-shm-usage \
		--enable-logging=stderr --v=0 --user-data-dir="$udir/a" --virtual-time-budget=2000 \
		--dump-dom "file://$out/d.svg#search=phase_b" >"$out/dom.xml" 2>"$out/chrome.err" ||
		{ rm -rf "$udir"; fail "chromium --dump-dom: $(tail -3 "$out/chrome.err")"; }
	timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage \
		--user-data-dir="$udir/b" --window-size=1280,800 --screenshot="$out/d.png" \
		"file://$out/d.svg" >/dev/null 2>&1
	rm -rf "$udir"
	if grep -E "CONSOLE|Uncaught" "$out/chrome.err" | grep -qiE "error|uncaught"; then
		grep -E "CONSOLE|Uncaught" "$out/chrome.err"; fail "script errors in Chromium"
	fi
	python3 - "$out" <<'EOF' || exit 1
import sys, xml.etree.ElementTree as ET
out = sys.argv[1]
NS = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(out + "/dom.xml").getroot()
m = root.get("data-matched")
if m is None: sys.exit("FAIL: the script did not run (no data-matched)")
b = a = 0
for line in open(out + "/d.folded"):
    stack, _, n = line.rsplit(" ", 2)
    a += int(n); b += int(n) if "phase_b" in stack else 0
want = 100.0 * b / a
if abs(float(m) - want) > 0.01: sys.exit("FAIL: search phase_b matched %s%%, folded says %.2f%%" % (m, want))
lit = [g.find("s:title", NS).text for g in root.find("s:g[@id='frames']", NS)
       if g.find("s:rect", NS).get("fill") == "rgb(230,0,230)"]
if not lit or not all(t.startswith("phase_b") for t in lit): sys.exit("FAIL: highlighted %s" % lit)
print("chromium: search phase_b matched %s%%" % m)
EOF
	[ -s "$out/d.png" ] || fail "no screenshot"
	ok "renders in Chromium without script errors; search highlights phase_b (screenshot $out/d.png)"
else
	e2e_skip "chromium not found (make deps)"
fi

# --- 6. bad input: one line naming the file ------------------------------------------
printf 'app;main 5\napp;main;broken\n' >"$out/bad.folded"
"$XPROF" diff "$out/bad.folded" "$out/b.folded" -o "$out/x.svg" 2>"$out/bad.err"; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$out/bad.err")" = 1 ] &&
	grep -qF "xprof: '$out/bad.folded': line 2: no sample count at the end" "$out/bad.err" ||
	fail "bad folded: rc $rc, $(cat "$out/bad.err")"
head -c 100 "$out/a.pb.gz" >"$out/cut.pb.gz"
"$XPROF" diff "$out/cut.pb.gz" "$out/b.folded" -o "$out/x.svg" 2>"$out/cut.err"; rc=$?
[ $rc = 1 ] && grep -qF "xprof: '$out/cut.pb.gz': corrupt or truncated gzip data" "$out/cut.err" ||
	fail "cut pprof: rc $rc, $(cat "$out/cut.err")"
"$XPROF" diff "$out/d.pb.gz" "$out/b.folded" -o "$out/x.svg" 2>"$out/neg.err"; rc=$?
[ $rc = 1 ] && grep -q "negative sample values" "$out/neg.err" || fail "diff as input: rc $rc, $(cat "$out/neg.err")"
ln -s "$out/a.folded" "$out/link.folded"
"$XPROF" diff "$out/link.folded" "$out/b.folded" -o "$out/x.svg" 2>"$out/link.err"; rc=$?
[ $rc = 1 ] && grep -qF "xprof: cannot read '$out/link.folded': a symbolic link" "$out/link.err" ||
	fail "link: rc $rc, $(cat "$out/link.err")"
"$XPROF" diff "$out/a.folded" -o "$out/x.svg" 2>/dev/null; [ $? = 2 ] || fail "one profile: not a usage error"
"$XPROF" diff "$out/a.folded" "$out/b.folded" -o "$out/x.png" 2>"$out/ext.err"; rc=$?
[ $rc = 2 ] && grep -q "unknown output format" "$out/ext.err" || fail "x.png: rc $rc"
[ ! -e "$out/x.svg" ] && [ ! -e "$out/x.png" ] || fail "a failed diff left an output"
ok "bad inputs: one line naming the file, no output written"
echo "diff: ok"
