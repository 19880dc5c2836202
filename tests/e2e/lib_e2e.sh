# SPDX-License-Identifier: MIT
# Sourced by the end-to-end tests. e2e_skip: a test that cannot run on this
# machine is skipped (exit 77) on a developer's machine, but fails under
# CI=true, where every test must run (make deps installs what they need).
e2e_skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: cannot run under CI=true: $*"
		exit 1
	fi
	echo "skip: $*"
	exit 77
}
