#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unwinder end to end: samples in the vDSO (clock_gettime in a loop) unwind
# with the table built from the vDSO image the recorder captured, through
# libc's clock_gettime, to main.
. "$(dirname "$0")/lib_unwind.sh"
unw_init
VDSO='__vdso_[a-z_]+|\[vdso[^;]*\]'
CHAIN="$UNW_ROOT;vdso_loop;(__)?clock_gettime[^;]*;($VDSO)"
unw_xprof vd "$PROGS/unw_vdso" "$UNW_SECONDS"
unw_chain "$W/vd.folded" "$VDSO" "$CHAIN"
unw_perf vd "$PROGS/unw_vdso" "$UNW_SECONDS"
unw_vs_perf vd "$VDSO" "$CHAIN" ge
echo "ok: vdso"
