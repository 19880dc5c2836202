#!/usr/bin/env bash
# Runs xprof's tests and prints one closing line: "check: N passed, N failed".
#   tests/run-all.sh [--unit-only|--e2e-only] BUILD_DIR [ASAN_BUILD_DIR]
# Unit tests: every $BUILD/tests/test_* (cmocka), also from the sanitized
# build. End-to-end tests: tests/e2e/test_*.sh, each under timeout, given the
# xprof binary in $XPROF. Fuzz: every build-fuzz/fuzz_* for $FUZZ_SECONDS
# (default 10) on its seed corpus. An e2e test exits 77 to skip; under
# CI=true a skip counts as a failure, because CI must run them.
set -u
mode=all
case "${1:-}" in --unit-only) mode=unit; shift;; --e2e-only) mode=e2e; shift;; esac
build=${1:-build}
asan=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
export XPROF="$top/$build/xprof" XPROF_BUILD="$top/$build" XPROF_TOP="$top"
pass=0 fail=0 skip=0 failed=()

run() { # name, command...
	local name=$1; shift
	local log; log=$(mktemp)
	local t0=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); printf 'PASS %s (%ds)\n' "$name" $((SECONDS - t0))
	elif [ $rc = 77 ] && [ "${CI:-}" != true ]; then
		skip=$((skip + 1)); printf 'SKIP %s: %s\n' "$name" "$(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL %s (exit %d)\n' "$name" $rc
		sed 's/^/    /' "$log" | tail -n 60
	fi
	rm -f "$log"
}

if [ $mode != e2e ]; then
	for dir in "$build" $asan; do
		for t in "$top/$dir"/tests/test_*; do
			[ -x "$t" ] || continue
			run "unit:$dir/$(basename "$t")" "$t"
		done
	done
fi
if [ $mode = all ] || [ $mode = e2e ]; then
	for t in "$top"/tests/e2e/test_*.sh; do
		[ -f "$t" ] || continue
		run "e2e:$(basename "$t" .sh)" timeout --kill-after=10 "${E2E_TIMEOUT:-600}" bash "$t"
	done
fi
if [ $mode = all ]; then
	# Layout drift is cheap to stop here and costly to review later.
	run "style:clang-format" make -C "$top" --no-print-directory style
	run "style:hdr-check" make -C "$top" --no-print-directory hdr-check
	for f in "$top"/build-fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		corpus="$top/tests/fuzz/corpus/${n#fuzz_}"
		work=$(mktemp -d)
		run "fuzz:$n" "$f" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=1024 -timeout=5 \
			-artifact_prefix="$work/" "$work" $( [ -d "$corpus" ] && echo "$corpus")
		rm -rf "$work"
	done
fi
[ ${#failed[@]} = 0 ] || printf 'failed: %s\n' "${failed[*]}"
printf 'check: %d passed, %d failed, %d skipped\n' $pass $fail $skip
[ $fail = 0 ]
