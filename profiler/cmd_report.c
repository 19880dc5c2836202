// SPDX-License-Identifier: MIT
/*
 * xprof report: read a recording (.xprof or perf.data), unwind and symbolize
 * every sample, and write any mix of folded, SVG, pprof and top outputs from
 * the same profile. The last line on stderr sums up what happened, with the
 * share of complete stacks and why the others stopped.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "profiler/profiler_int.h"

#define MAX_IDS 256

static void report_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: xprof report -i FILE [-o OUT]... [options]\n"
	    "\n"
	    "Unwinds and symbolizes a recording (.xprof, or perf.data from\n"
	    "'perf record --call-graph dwarf'; from 'perf record -g' or without -g, perf's\n"
	    "own callchains as they are) and writes outputs chosen by extension:\n"
	    "  .folded  folded stacks   .svg  flamegraph   .pb.gz  pprof   .txt  top table\n"
	    "Without -o and --top, writes xprof.folded.\n"
	    "\n"
	    "  -i, --input FILE        recording to read\n"
	    "  -o, --output FILE       output file (repeatable)\n"
	    "      --top N             print the N functions with most samples to stdout\n"
	    "      --pid, --tid        put PID (and TID) in the folded root frame: comm-PID/TID\n"
	    "      --filter-pid LIST   keep samples of these processes (comma-separated)\n"
	    "      --filter-tid LIST   keep samples of these threads\n"
	    "      --filter-comm NAME  keep samples of threads with this name\n"
	    "      --min-count N       drop folded/SVG stacks seen fewer than N times\n"
	    "      --title TEXT        flamegraph title\n"
	    "      --inverted          flamegraph as an icicle graph (roots at the top)\n"
	    "      --lines             add file:line to frames (pprof, top)\n"
	    "      --no-inline         do not expand inlined frames\n"
	    "      --no-demangle       keep mangled C++/Rust names\n"
	    "      --no-debuginfod     do not fetch debuginfo even if DEBUGINFOD_URLS is set\n"
	    "      --cache-dir DIR     cache of unwind tables, symbol indexes and kernel symbols\n"
	    "                          (default $XDG_CACHE_HOME/xprof; used only if it is yours\n"
	    "                          and not writable by group or others)\n"
	    "      --no-cache          build them in memory only\n"
	    "  -v, --verbose           list every mapped file: build-id, unwind table, debuginfo\n"
	    "  -q, --quiet             no summary line\n"
	    "\n"
	    "JIT frames come from /tmp/perf-PID.map, read only if it is a regular file owned by\n"
	    "root, the process's user or you and at most XPROF_PERF_MAP_MAX bytes (256 MiB).\n");
}

/* "1,2,3" into ids; 0 or -EINVAL. */
static int parse_ids(const char *arg, uint32_t *ids, unsigned *n)
{
	char *end;

	*n = 0;
	while (*arg) {
		unsigned long v = strtoul(arg, &end, 10);

		if (end == arg || v > UINT32_MAX || *n == MAX_IDS || (*end && *end != ','))
			return -EINVAL;
		ids[(*n)++] = (uint32_t)v;
		arg = *end ? end + 1 : end;
	}
	return *n ? 0 : -EINVAL;
}

/* a of b as a percentage for people: a rare case never reads 0.0%, nor a near-total 100.0%. */
static const char *pct(char *buf, size_t len, uint64_t a, uint64_t b)
{
	double p = b ? 100.0 * (double)a / (double)b : 0.0;

	if (a && p < 0.1)
		snprintf(buf, len, "<0.1%%");
	else if (a < b && p > 99.9)
		snprintf(buf, len, ">99.9%%");
	else
		snprintf(buf, len, "%.1f%%", p);
	return buf;
}

void report_summary(const struct xp_session_stats *st, const char *also, const char *const *outs,
		    unsigned nouts)
{
	uint64_t n = st->kept;
	char why[512] = "";
	size_t len = 0;

	char p[16];

	for (int i = 1; i < UNW_STATUS_NR; i++)
		if (st->status[i] && len < sizeof(why))
			len += snprintf(why + len, sizeof(why) - len, "%s%s %s", len ? ", " : " (",
					unw_status_name(i), pct(p, sizeof(p), st->status[i], n));
	if (len && len < sizeof(why))
		snprintf(why + len, sizeof(why) - len, ")");
	fprintf(stderr, "xprof: %llu samples, %llu lost, %llu processes, %s complete%s",
		(unsigned long long)n, (unsigned long long)st->lost,
		(unsigned long long)st->processes,
		pct(p, sizeof(p), st->status[UNW_OK_COMPLETE], n), why);
	if (st->fp_used)
		fprintf(stderr, ", %s via frame pointers", pct(p, sizeof(p), st->fp_used, n));
	if (st->callchain)
		fprintf(stderr, ", %s perf callchains (not unwound)",
			pct(p, sizeof(p), st->callchain, n));
	if (st->no_process)
		fprintf(stderr, ", %llu samples without mappings",
			(unsigned long long)st->no_process);
	if (st->synth_used)
		fprintf(stderr, ", %s via synthesized rows", pct(p, sizeof(p), st->synth_used, n));
	if (st->scan_used)
		fprintf(stderr, ", %s via stack scan", pct(p, sizeof(p), st->scan_used, n));
	if (st->stale_files)
		fprintf(stderr, ", %llu files changed since recording",
			(unsigned long long)st->stale_files);
	if (also)
		fprintf(stderr, "; wrote %s", also);
	for (unsigned i = 0; i < nouts; i++)
		fprintf(stderr, "%s%s", i || also ? ", " : "; wrote ", outs[i]);
	fputc('\n', stderr);
}

bool report_write_all(const struct rep_profile *prof, const struct rep_opts *ro,
		      const char *const *outs, unsigned nouts, const char **done, unsigned *ndone)
{
	const char *why;
	bool ok = true;

	*ndone = 0;
	/* One output that cannot be written (a full disk) must not cost the others. */
	for (unsigned i = 0; i < nouts; i++) {
		int err = rep_output_write(prof, ro, outs[i], &why);

		if (!err) {
			done[(*ndone)++] = outs[i];
			continue;
		}
		ok = false;
		if (err == -ENOSPC || err == -EDQUOT)
			fprintf(stderr, "xprof: %s: %s\n", xl_strerror(err), outs[i]);
		else
			fprintf(stderr, "xprof: cannot write '%s': %s\n", outs[i],
				err == -EINVAL && why ? why : xl_strerror(err));
	}
	return ok;
}

enum {
	O_FPID = 256,
	O_FTID,
	O_FCOMM,
	O_LINES,
	O_NOINL,
	O_NODEM,
};

/* What the command line asked for. */
struct report_args {
	const char *input;
	struct out_args out;
	uint32_t pids[MAX_IDS], tids[MAX_IDS];
	struct xp_session_opts so;
	bool quiet, verbose;
};

/* An option with a number or a list. 0, or the exit status after a one-line error. */
static int parse_value(struct report_args *a, int c, const char *arg)
{
	switch (c) {
	case O_FPID:
	case O_FTID:
		if (parse_ids(arg, c == O_FPID ? a->pids : a->tids,
			      c == O_FPID ? &a->so.filter.npids : &a->so.filter.ntids)) {
			fprintf(stderr, "xprof: bad id list '%s': give numbers like 12,34\n", arg);
			return 2;
		}
		a->so.filter.pids = a->pids;
		a->so.filter.tids = a->tids;
		return 0;
	default:
		return 2;
	}
}

/* A flag or a string option; false if c is none of them. */
static bool parse_flag(struct report_args *a, int c, const char *arg)
{
	switch (c) {
	case 'i':
		a->input = arg;
		break;
	case 'q':
		a->quiet = true;
		break;
	case 'v':
		a->verbose = true;
		a->so.describe_all = true; /* also the files of processes gone by the end */
		break;
	case O_FCOMM:
		a->so.filter.comm = arg;
		break;
	case O_LINES:
		a->so.sym.lines = true;
		break;
	case O_NOINL:
		a->so.sym.no_inline = true;
		break;
	case O_NODEM:
		a->so.sym.no_demangle = true;
		break;
	default:
		return false;
	}
	return true;
}

/* The command line into a. -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option lopts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"filter-pid", required_argument, NULL, O_FPID},
	    {"filter-tid", required_argument, NULL, O_FTID},
	    {"filter-comm", required_argument, NULL, O_FCOMM},
	    {"lines", no_argument, NULL, O_LINES},
	    {"no-inline", no_argument, NULL, O_NOINL},
	    {"no-demangle", no_argument, NULL, O_NODEM},
	    OUT_LONG_OPTS,
	    OUT_LONG_OPTS_PID,
	    SYM_LONG_OPTS,
	    {0},
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "i:o:qvh", lopts, NULL)) != -1) {
		if (parse_flag(a, c, optarg) || !sym_args_parse(&a->so, c, optarg))
			continue;
		rc = out_args_parse(&a->out, c, optarg);
		if (rc >= 0) {
			if (rc)
				return rc;
			continue;
		}
		switch (c) {
		case 'h':
			report_usage(stdout);
			return 0;
		case O_FPID:
		case O_FTID:
			rc = parse_value(a, c, optarg);
			if (rc)
				return rc;
			break;
		default:
			report_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xprof: unexpected argument '%s'; see 'xprof report --help'\n",
			argv[optind]);
		return 2;
	}
	if (!a->input) {
		fprintf(stderr, "xprof: no recording given: use 'xprof report -i FILE'\n");
		return 2;
	}
	return -1;
}

/* Feed the recording to s. false after a one-line error. */
static bool read_input(struct xp_session *s, const char *input)
{
	struct rep_profile *prof;
	struct xp_rec_info info;
	const char *why;
	char skipped[512];
	int err;

	err = xp_recording_read(input, xp_session_event, s, &info, &why);
	if (err) {
		if (err == -EINVAL && why)
			fprintf(stderr, "xprof: '%s': %s\n", input, why);
		else
			fprintf(stderr, "xprof: cannot read '%s': %s\n", input, strerror(-err));
		return false;
	}
	/* A damaged or cut recording still reports its readable prefix; say what was left out. */
	if (xp_rec_info_skipped(&info, input, skipped, sizeof(skipped)))
		fprintf(stderr, "xprof: %s\n", skipped);
	/* pprof's time_nanos and duration_nanos; a cut-short recording has no end. */
	prof = xp_session_profile(s);
	if (prof)
		rep_profile_set_time(prof, info.start_real_ns,
				     info.end_time_ns > info.start_time_ns
					 ? info.end_time_ns - info.start_time_ns
					 : 0);
	return true;
}

/* Read, write every output, say what happened. The exit status. */
static int report_run(struct report_args *a)
{
	const char *done[MAX_OUTPUTS];
	unsigned ndone = 0;
	struct rep_profile *prof;
	struct xp_session *s;
	bool failed;
	int err, ret = 1;

	s = xp_session_new(&a->so);
	if (!s) {
		fprintf(stderr, "xprof: cannot start the report: %s\n", strerror(errno));
		return 1;
	}
	if (xp_session_cache_refused(s))
		fprintf(stderr, "xprof: %s; going on without the cache\n",
			xp_session_cache_refused(s));
	if (!read_input(s, a->input))
		goto out;
	prof = xp_session_profile(s);
	if (!prof) {
		fprintf(stderr, "xprof: out of memory\n");
		goto out;
	}
	failed = !report_write_all(prof, &a->out.ro, a->out.outs, a->out.nouts, done, &ndone);
	if (a->out.top) {
		a->out.ro.top = a->out.top;
		err = rep_write_top(prof, &a->out.ro, stdout);
		if (err) {
			fprintf(stderr, "xprof: cannot write the top table: %s\n", strerror(-err));
			goto out;
		}
	}
	xp_session_warnings(s, stderr);
	if (a->verbose)
		xp_session_describe(s, stderr);
	if (!a->quiet && xp_session_stats(s)->callchain)
		fprintf(stderr,
			"xprof: '%s' has no stack copies: its stacks are perf's frame-pointer "
			"callchains (-g), which lose callers of code built without frame pointers, "
			"or the sampled function alone (no -g); 'perf record --call-graph dwarf' "
			"gives complete stacks\n",
			a->input);
	if (!a->quiet)
		report_summary(xp_session_stats(s), NULL, done, ndone);
	ret = failed;
out:
	xp_session_free(s);
	return ret;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = {0};
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = out_args_check(&a.out, "xprof.folded", false);
	if (rc)
		return rc;
	return report_run(&a);
}
