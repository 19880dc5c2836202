// SPDX-License-Identifier: MIT
/*
 * xprof diff: compare two profiles of the same program, BEFORE and AFTER, as
 * a differential flamegraph (widths from AFTER, red grew, blue shrank), a
 * difffolded.pl-style folded file, a pprof profile with BEFORE as the
 * -diff_base, or a table of the functions that changed most.
 *
 * Each side may be a recording (.xprof or perf.data, unwound and symbolized
 * as `xprof report` does) or a finished profile (.folded, pprof .pb.gz); the
 * kind is told by the file's first bytes, then by its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"
#include "profiler/profiler_int.h"
#include "recording/xprof_file.h"

static void diff_usage(FILE *f)
{
	fprintf(
	    f, "usage: xprof diff BEFORE AFTER [-o OUT]... [--top N] [options]\n"
	       "\n"
	       "Compares two profiles of the same program. BEFORE and AFTER may each be a\n"
	       "recording (.xprof, perf.data) or a profile (.folded, pprof .pb.gz). Frames are\n"
	       "matched by their folded path; each frame's change is its share of AFTER's\n"
	       "samples minus its share of BEFORE's, so recordings of different lengths\n"
	       "compare fairly. Outputs, chosen by extension:\n"
	       "  .svg     flamegraph with AFTER's widths: red grew, blue shrank, white held;\n"
	       "           hover shows both counts and the change; paths only in BEFORE are\n"
	       "           listed under the title\n"
	       "  .folded  'stack BEFORE AFTER' lines (difffolded.pl's format, raw counts)\n"
	       "  .pb.gz   pprof: AFTER plus BEFORE negated with label pprof::base=true, as\n"
	       "           'go tool pprof -diff_base BEFORE AFTER' builds it\n"
	       "  .txt     the functions whose self share changed most\n"
	       "Without -o and --top, writes diff.svg.\n"
	       "\n"
	       "  -o, --output FILE       output file (repeatable)\n"
	       "      --top N             print the N functions that changed most to stdout\n"
	       "      --pid, --tid        keep PID (and TID) in the root frame: comm-PID/TID\n"
	       "                          (then only the same process matches itself)\n"
	       "      --min-count N       drop folded/SVG stacks seen fewer than N times per side\n"
	       "      --title TEXT        flamegraph title\n"
	       "      --inverted          icicle graph (roots at the top)\n"
	       "      --no-debuginfod     recordings: do not fetch debuginfo\n"
	       "      --cache-dir DIR     recordings: cache of tables and symbols (see report)\n"
	       "      --no-cache          recordings: build them in memory only\n"
	       "  -q, --quiet             no summary line\n");
}

/* One side of the diff and whatever owns its profile. */
struct side {
	const char *path;
	struct xp_session *s;	 /* a recording's session, owns prof */
	struct rep_profile *own; /* a profile read from a file */
	struct rep_profile *prof;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

enum kind { K_RECORDING, K_FOLDED, K_PPROF };

/* The kind of file path holds: its magic first, then its name. 0 or -errno. */
static int sniff(const char *path, enum kind *k)
{
	unsigned char head[8] = {0};
	ssize_t n;
	int fd = xl_open_regular(path);

	if (fd < 0)
		return fd;
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 0)
		return -errno;
	if (n == 8 && (!memcmp(head, XPF_MAGIC, XPF_MAGIC_LEN) || !memcmp(head, "PERFILE2", 8)))
		*k = K_RECORDING;
	else if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		*k = K_PPROF;
	else if (ends_with(path, ".pb") || ends_with(path, ".pprof") || ends_with(path, ".pb.gz"))
		*k = K_PPROF;
	else
		*k = K_FOLDED;
	return 0;
}

static const char *read_error(int err)
{
	switch (err) {
	case -ELOOP:
		return "a symbolic link; name the file it points to";
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "larger than the 1 GiB a profile may be";
	default:
		return xl_strerror(err);
	}
}

static int load(struct side *sd, const struct xp_session_opts *so)
{
	char why[256] = "";
	const char *rwhy = NULL;
	struct xp_rec_info info;
	char skipped[512];
	enum kind k = K_FOLDED;
	int err;

	err = sniff(sd->path, &k);
	if (err) {
		fprintf(stderr, "xprof: cannot read '%s': %s\n", sd->path, read_error(err));
		return -1;
	}
	if (k != K_RECORDING) {
		sd->own = rep_profile_read_file(
		    sd->path, k == K_PPROF ? REP_FMT_PPROF : REP_FMT_FOLDED, why, sizeof(why));
		if (!sd->own) {
			if (errno == EINVAL && *why)
				fprintf(stderr, "xprof: '%s': %s\n", sd->path, why);
			else if (errno == EFBIG && *why)
				fprintf(stderr, "xprof: '%s': %s\n", sd->path, why);
			else
				fprintf(stderr, "xprof: cannot read '%s': %s\n", sd->path,
					read_error(-errno));
			return -1;
		}
		sd->prof = sd->own;
		return 0;
	}
	sd->s = xp_session_new(so);
	if (!sd->s) {
		fprintf(stderr, "xprof: cannot start reading '%s': %s\n", sd->path,
			strerror(errno));
		return -1;
	}
	if (xp_session_cache_refused(sd->s))
		fprintf(stderr, "xprof: %s; going on without the cache\n",
			xp_session_cache_refused(sd->s));
	err = xp_recording_read(sd->path, xp_session_event, sd->s, &info, &rwhy);
	if (err) {
		if (err == -EINVAL && rwhy)
			fprintf(stderr, "xprof: '%s': %s\n", sd->path, rwhy);
		else
			fprintf(stderr, "xprof: cannot read '%s': %s\n", sd->path, strerror(-err));
		return -1;
	}
	if (xp_rec_info_skipped(&info, sd->path, skipped, sizeof(skipped)))
		fprintf(stderr, "xprof: %s\n", skipped);
	xp_session_warnings(sd->s, stderr);
	sd->prof = xp_session_profile(sd->s);
	if (!sd->prof) {
		fprintf(stderr, "xprof: out of memory\n");
		return -1;
	}
	return 0;
}

static void side_release(struct side *sd)
{
	xp_session_free(sd->s);
	rep_profile_free(sd->own);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    OUT_LONG_OPTS,
	    OUT_LONG_OPTS_PID,
	    SYM_LONG_OPTS,
	    {0},
	};
	const char *done[MAX_OUTPUTS];
	unsigned ndone = 0;
	struct out_args oa = {0};
	struct side before = {0}, after = {0};
	struct xp_session_opts so = {0};
	bool quiet = false, failed = false;
	int c, err, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", lopts, NULL)) != -1) {
		if (!sym_args_parse(&so, c, optarg))
			continue;
		err = out_args_parse(&oa, c, optarg);
		if (err >= 0) {
			if (err)
				return err;
			continue;
		}
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			diff_usage(stdout);
			return 0;
		default:
			diff_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "xprof: diff takes two profiles, BEFORE and AFTER; see 'xprof diff "
				"--help'\n");
		return 2;
	}
	before.path = argv[optind];
	after.path = argv[optind + 1];
	err = out_args_check(&oa, "diff.svg", true);
	if (err)
		return err;

	if (load(&before, &so) || load(&after, &so))
		goto out;
	for (struct side *sd = &before; sd; sd = sd == &before ? &after : NULL)
		if (!rep_profile_total(sd->prof)) {
			fprintf(stderr, "xprof: '%s' has no samples: nothing to compare\n",
				sd->path);
			goto out;
		}
	for (unsigned i = 0; i < oa.nouts; i++) {
		err = rep_write_diff(after.prof, before.prof, &oa.ro, oa.outs[i]);
		if (!err) {
			done[ndone++] = oa.outs[i];
			continue;
		}
		failed = true;
		fprintf(stderr, "xprof: cannot write '%s': %s\n", oa.outs[i], xl_strerror(err));
	}
	if (oa.top) {
		oa.ro.top = oa.top;
		err = rep_write_diff_top(after.prof, before.prof, &oa.ro, stdout);
		if (err) {
			fprintf(stderr, "xprof: cannot write the top table: %s\n",
				xl_strerror(err));
			goto out;
		}
	}
	if (!quiet) {
		fprintf(stderr, "xprof: %llu samples after, %llu before",
			(unsigned long long)rep_profile_total(after.prof),
			(unsigned long long)rep_profile_total(before.prof));
		for (unsigned i = 0; i < ndone; i++)
			fprintf(stderr, "%s%s", i ? ", " : "; wrote ", done[i]);
		fputc('\n', stderr);
	}
	ret = failed;
out:
	side_release(&before);
	side_release(&after);
	return ret;
}
