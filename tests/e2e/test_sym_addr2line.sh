#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# symbolize/ against binutils: for thousands of random addresses inside the
# functions of purpose-built targets and of libc, the frames sym_lookup prints
# must agree with `addr2line -f -i` (inline chain names and order, call-site
# lines) and the function name with `nm` (the same symbol or an alias of it,
# or, where addr2line names a clone's DWARF origin, that origin). Variants:
# embedded DWARF, stripped + .gnu_debuglink (also in .debug/, and a copy with
# a bad CRC that must be refused), a build-id directory, MiniDebugInfo, and
# a stripped binary with nothing but .dynsym; libc also from the on-disk symbol index.
. "$(dirname "$0")/lib_e2e.sh"
set -eu
build=${XPROF_BUILD:?}
progs=$build/progs
for t in sym_lookup sym_target sym_cxx; do
	[ -x "$progs/$t" ] || { echo "missing $progs/$t (make unit-bins)"; exit 1; }
done
for t in addr2line nm objcopy strip xz python3; do
	command -v $t >/dev/null || e2e_skip "missing $t"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DEBUGINFOD_URLS= # never the network here

# compare.py NMFILE NMFLAGS TARGET A2LFILE DEMANGLE(0/1) LINES(0/1) N MODE [sym_lookup args]
# MODE: full (DWARF), names (symbols only), dynsym (stripped: .dynsym, else the
# function whose FDE covers the address as base+0xSTART, else unknown)
cat > "$tmp/compare.py" <<'PY'
import random, re, subprocess, sys
nmfile, nmflags, target, a2lfile, demangle, lines, n, mode = sys.argv[1:9]
extra = sys.argv[9:]
demangle, lines, n = demangle == "1", lines == "1", int(n)
lookup = sys.argv[0].rsplit("/", 1)[0] + "/sym_lookup"

def nm(path, flags):
    out = subprocess.run(["nm", "-S", "--defined-only"] + flags + [path],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for l in out.splitlines():
        m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) ([TtWi]) (.*)$", l)
        if m:
            syms.append((int(m[1], 16), int(m[2], 16), m[4].split("@")[0]))
    return syms

flags = nmflags.split() if nmflags != "-" else []
syms = nm(nmfile, flags + (["-C"] if demangle else []))
raw = nm(nmfile, flags)  # same order: addresses to sample without demangling noise
rng = random.Random(20260101)
funcs = [s for s in raw if s[1] > 0]
if not funcs:
    sys.exit("no function symbols in %s" % nmfile)
pick = rng.sample(funcs, n) if len(funcs) >= n else [rng.choice(funcs) for _ in range(n)]
addrs = sorted({a + rng.randrange(sz) for a, sz, _ in pick})
inp = "".join("0x%x\n" % a for a in addrs)
dynsyms = nm(target, ["-D"] + (["-C"] if demangle else [])) if mode == "dynsym" else []
fdes = []
if mode == "dynsym":  # binutils' reading of .eh_frame: each FDE's [start, end)
    out = subprocess.run(["readelf", "--debug-dump=frames", target],
                         capture_output=True, text=True, check=True).stdout
    fdes = [(int(m[1], 16), int(m[2], 16)) for m in re.finditer(r" FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", out)]

def covering(a):
    return {name for s, sz, name in syms if s <= a < s + sz}

CLONE = re.compile(r"(\.(cold|constprop|isra|part|lto_priv|localalias)(\.\d+)?)+$| \[clone [^]]*\]$")
def base(name):
    prev = None
    while prev != name:
        prev, name = name, CLONE.sub("", name)
    return name

def parse_ours(text):
    res, cur = {}, None
    for l in text.splitlines():
        if l.startswith("0x"):
            cur = int(l, 16); res[cur] = []
        elif l.startswith("\t"):
            _, name, loc, fl = l.split("\t")
            res[cur].append((name, loc, fl))
    return res

def parse_a2l(text):
    res, cur, ls = {}, None, text.splitlines()
    i = 0
    while i < len(ls):
        if ls[i].startswith("0x"):
            cur = int(ls[i], 16); res[cur] = []; i += 1
        else:
            loc = re.sub(r" \(discriminator \d+\)$", "", ls[i + 1])
            res[cur].append((ls[i], loc)); i += 2
    return res

args = [lookup, "-D"] + (["-l"] if lines else []) + ([] if demangle else ["-N"]) + extra + ["-e", target]
ours = parse_ours(subprocess.run(args, input=inp, capture_output=True, text=True, check=True).stdout)
a2l = parse_a2l(subprocess.run(["addr2line", "-f", "-i", "-a"] + (["-C"] if demangle else []) + ["-e", a2lfile],
                               input=inp, capture_output=True, text=True, check=True).stdout)
# binutils 2.40 misreads some DWARF 5 file indices and some abstract origins;
# llvm-symbolizer, where installed, is the second opinion.
llvm = {}
for tool in ("llvm-symbolizer", "llvm-symbolizer-14"):
    try:
        out = subprocess.run([tool, "--output-style=GNU", "-f", "-i", "-a"] +
                             ([] if demangle else ["--no-demangle"]) + ["--obj=" + a2lfile],
                             input=inp, capture_output=True, text=True, check=True).stdout
        llvm = parse_a2l("\n".join(l for l in out.splitlines() if l))
        break
    except (OSError, subprocess.CalledProcessError):
        pass
bad = names_ok = chains_ok = lines_ok = lines_n = noinfo = by_llvm = 0
def fail(a, why):
    global bad
    bad += 1
    if bad <= 12:
        print("MISMATCH 0x%x: %s\n  ours: %s\n  a2l:  %s" % (a, why, ours.get(a), a2l.get(a)))

for a in addrs:
    o, r = ours.get(a), a2l.get(a)
    if not o:
        fail(a, "no output"); continue
    cov = covering(a)
    last = o[-1]
    if any("i" in f[2] for f in o[:-1]) != (len(o) > 1) or "i" in last[2]:
        fail(a, "inline flags"); continue
    if mode == "dynsym":
        # Only .dynsym: the covering exported symbol, else the function its
        # FDE bounds (base+0xSTART), else [base+0xoff].
        dyn = {name for s, sz, name in dynsyms if s <= a < s + sz}
        fde = [lo for lo, hi in fdes if lo <= a < hi]
        tbase = target.rsplit("/", 1)[-1]
        if last[0] in dyn or (not dyn and fde and last[2] == "" and
                              last[0] == "%s+0x%x" % (tbase, fde[0])) or \
                (not dyn and not fde and last[2] == "u" and last[0] == "[%s+0x%x]" % (tbase, a)):
            names_ok += 1
        else:
            fail(a, "dynsym name")
        continue
    if last[0] not in cov:
        fail(a, "name %r is not a symbol covering the address (nm: %s)" % (last[0], sorted(cov))); continue
    if all(f[0] == "??" for f in r):
        noinfo += 1; names_ok += 1; continue
    refs = [r] + ([llvm[a]] if a in llvm else [])
    def name_ok(ref):
        n = ref[-1][0]
        return n == last[0] or n in cov or n in {base(c) for c in cov}
    if not any(name_ok(ref) for ref in refs):
        fail(a, "function name differs from addr2line's"); continue
    names_ok += 1
    if mode == "names":
        continue
    def chain_ok(ref):
        return len(ref) == len(o) and [f[0] for f in ref[:-1]] == [f[0] for f in o[:-1]]
    if not any(chain_ok(ref) for ref in refs):
        fail(a, "inline chain differs"); continue
    chains_ok += 1
    by_llvm += not chain_ok(r)
    if lines:
        def lines_match(ref):
            return all(rl.startswith("??") or ol == rl for (_, ol, _), (_, rl) in zip(o, ref))
        known = sum(not rl.startswith("??") for _, rl in r)
        lines_n += known
        if any(chain_ok(ref) and lines_match(ref) for ref in refs):
            lines_ok += known
        else:
            fail(a, "file:line differs")

total = len(addrs)
print("agreement %s%s: names %d/%d, inline chains %d/%d, lines %d/%d "
      "(addr2line without info: %d, chains that only llvm-symbolizer agrees on: %d)" % (
    target.rsplit("/", 1)[-1], " (%s)" % mode if mode != "full" else "",
    names_ok, total, chains_ok, total if mode == "full" else 0, lines_ok, lines_n, noinfo, by_llvm))
sys.exit(1 if bad else 0)
PY
cp "$progs/sym_lookup" "$tmp/"
cmp() { python3 "$tmp/compare.py" "$@"; }

T=$tmp/sym_target C=$tmp/sym_cxx
cp "$progs/sym_target" "$T"; cp "$progs/sym_cxx" "$C"
fail=0
# 1. Embedded DWARF.
cmp "$T" - "$T" "$T" 0 1 600 full || fail=1
cmp "$C" - "$C" "$C" 0 1 600 full || fail=1
cmp "$C" - "$C" "$C" 1 0 600 full || fail=1

# 2. Stripped + .gnu_debuglink, beside the file and in .debug/.
mkdir -p "$tmp/dl/.debug" "$tmp/dl2"
objcopy --only-keep-debug "$T" "$tmp/dl/sym_target.debug"
strip --strip-all -o "$tmp/dl/sym_target" "$T"
objcopy --add-gnu-debuglink="$tmp/dl/sym_target.debug" "$tmp/dl/sym_target"
cmp "$T" - "$tmp/dl/sym_target" "$T" 0 1 600 full || fail=1
mv "$tmp/dl/sym_target.debug" "$tmp/dl/.debug/"
cmp "$T" - "$tmp/dl/sym_target" "$T" 0 1 300 full || fail=1
src=$("$tmp/sym_lookup" -D -s -e "$tmp/dl/sym_target" </dev/null | sed -n 's/^source: //p')
[ "$src" = "$tmp/dl/.debug/sym_target.debug" ] || { echo "debuglink source: '$src'"; fail=1; }
# A debug file whose CRC does not match is refused: .dynsym only.
cp "$tmp/dl/sym_target" "$tmp/dl2/sym_target"
cp "$tmp/dl/.debug/sym_target.debug" "$tmp/dl2/sym_target.debug"
printf 'x' >> "$tmp/dl2/sym_target.debug"
src=$("$tmp/sym_lookup" -D -s -e "$tmp/dl2/sym_target" </dev/null | sed -n 's/^source: //p')
[ -z "$src" ] || { echo "bad-CRC debug file was used: '$src'"; fail=1; }
cmp "$T" - "$tmp/dl2/sym_target" "$T" 0 0 300 dynsym || fail=1

# 3. Build-id directory under a private debug root.
id=$(readelf -n "$T" | awk '/Build ID/{print $3}')
mkdir -p "$tmp/root/.build-id/${id:0:2}" "$tmp/bid"
objcopy --only-keep-debug "$C" "$tmp/root/.build-id/${id:0:2}/x"
cid=$(readelf -n "$C" | awk '/Build ID/{print $3}')
mkdir -p "$tmp/root/.build-id/${cid:0:2}"
mv "$tmp/root/.build-id/${id:0:2}/x" "$tmp/root/.build-id/${cid:0:2}/${cid:2}.debug"
objcopy --only-keep-debug "$T" "$tmp/root/.build-id/${id:0:2}/${id:2}.debug"
strip --strip-all -o "$tmp/bid/sym_target" "$T"
strip --strip-all -o "$tmp/bid/sym_cxx" "$C"
cmp "$T" - "$tmp/bid/sym_target" "$T" 0 1 600 full -r "$tmp/root" || fail=1
cmp "$C" - "$tmp/bid/sym_cxx" "$C" 1 1 600 full -r "$tmp/root" || fail=1

# 4. MiniDebugInfo, made as Fedora's find-debuginfo does.
mkdir -p "$tmp/mini"
nm -D "$T" --format=posix --defined-only | awk '{print $1}' | sort > "$tmp/mini/dynsyms"
nm "$T" --format=posix --defined-only | awk '$2 ~ /^[TtD]$/ {print $1}' | sort > "$tmp/mini/funcsyms"
comm -13 "$tmp/mini/dynsyms" "$tmp/mini/funcsyms" > "$tmp/mini/keep"
objcopy --only-keep-debug "$T" "$tmp/mini/dbg"
objcopy -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols="$tmp/mini/keep" "$tmp/mini/dbg" "$tmp/mini/mini"
xz -f "$tmp/mini/mini"
strip --strip-all -R .comment -o "$tmp/mini/sym_target" "$T"
objcopy --add-section .gnu_debugdata="$tmp/mini/mini.xz" "$tmp/mini/sym_target"
cmp "$T" - "$tmp/mini/sym_target" "$T" 0 0 600 names -r "$tmp/root-none" || fail=1
src=$("$tmp/sym_lookup" -D -s -r "$tmp/root-none" -e "$tmp/mini/sym_target" </dev/null | sed -n 's/^source: //p')
case $src in *gnu_debugdata*) ;; *) echo "MiniDebugInfo source: '$src'"; fail=1;; esac

# 5. libc with Debian's libc6-dbg (build-id directory), names and inlines.
libc=$(ldd "$T" | awk '/libc.so/{print $3}')
lid=$(readelf -n "$libc" | awk '/Build ID/{print $3}')
ldbg=/usr/lib/debug/.build-id/${lid:0:2}/${lid:2}.debug
if [ -r "$ldbg" ]; then
	cmp "$ldbg" - "$libc" "$libc" 0 1 3000 full || fail=1
	# The same from the symbol index: a first run builds it, a second answers from it.
	cmp "$ldbg" - "$libc" "$libc" 0 1 3000 full -c "$tmp/cache" || fail=1
	cmp "$ldbg" - "$libc" "$libc" 0 1 3000 full -c "$tmp/cache" || fail=1
	[ -s "$tmp/cache/sym-v1/$lid" ] || { echo "no symbol index for libc in $tmp/cache"; fail=1; }
else
	echo "no libc debug file $ldbg (libc6-dbg)"; [ "${CI:-}" = true ] && fail=1
fi
# libstdc++ without debuginfo: .dynsym names.
cxxlib=$(ldd "$C" | awk '/libstdc\+\+/{print $3}')
cmp "$cxxlib" "-D" "$cxxlib" "$cxxlib" 1 0 2000 names -r "$tmp/root-none" || fail=1
exit $fail
