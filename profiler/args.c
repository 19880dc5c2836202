// SPDX-License-Identifier: MIT
/*
 * The options several front ends share: the outputs of report, diff and
 * query (-o, --top, --min-count, --title, --inverted, --pid, --tid) and the
 * symbol cache of report and diff, parsed and checked in one place so the
 * commands take them, and refuse them, the same way.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib/lib.h"
#include "profiler/profiler_int.h"

int out_args_parse(struct out_args *a, int c, const char *arg)
{
	char *end;

	switch (c) {
	case 'o':
		if (a->nouts == MAX_OUTPUTS) {
			fprintf(stderr, "xprof: at most %d outputs\n", MAX_OUTPUTS);
			return 2;
		}
		a->outs[a->nouts++] = arg;
		return 0;
	case OUT_O_TOP:
		a->top = (unsigned)strtoul(arg, &end, 10);
		if (*end || !a->top) {
			fprintf(stderr, "xprof: --top takes a positive number, not '%s'\n", arg);
			return 2;
		}
		return 0;
	case OUT_O_MIN:
		a->ro.min_count = strtoull(arg, &end, 10);
		if (*end || !*arg) {
			fprintf(stderr, "xprof: --min-count takes a number, not '%s'\n", arg);
			return 2;
		}
		return 0;
	case OUT_O_TITLE:
		a->ro.title = arg;
		return 0;
	case OUT_O_INV:
		a->ro.inverted = true;
		return 0;
	case OUT_O_PID:
		a->ro.with_pid = true;
		return 0;
	case OUT_O_TID:
		a->ro.with_pid = a->ro.with_tid = true;
		return 0;
	default:
		return -1;
	}
}

int out_args_check(struct out_args *a, const char *dflt, bool diff)
{
	const char *why;
	int err;

	if (!a->nouts && !a->top)
		a->outs[a->nouts++] = dflt;
	for (unsigned i = 0; i < a->nouts; i++) {
		if (diff && !rep_diff_format_ok(a->outs[i])) {
			fprintf(stderr,
				"xprof: '%s': unknown output format: use .svg, .folded, .pb.gz or "
				".txt (top)\n",
				a->outs[i]);
			return 2;
		}
		if (!diff && rep_output_check(a->outs[i], &why)) {
			fprintf(stderr, "xprof: '%s': %s\n", a->outs[i], why);
			return 2;
		}
		err = xl_out_check(a->outs[i]);
		if (err) {
			fprintf(stderr, "xprof: cannot write '%s': %s; choose another -o path\n",
				a->outs[i], xl_strerror(err));
			return 1;
		}
	}
	return 0;
}

int sym_args_parse(struct xp_session_opts *so, int c, const char *arg)
{
	switch (c) {
	case SYM_O_NODI:
		so->sym.no_debuginfod = true;
		return 0;
	case SYM_O_CACHE:
		so->cache_dir = arg;
		return 0;
	case SYM_O_NOCACHE:
		so->no_cache = true;
		return 0;
	default:
		return -1;
	}
}
