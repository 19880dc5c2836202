// SPDX-License-Identifier: MIT
/*
 * Profiles to files: the writer is chosen by the output's extension, so the
 * front ends (report, record) and a long-running agent's file sink name an
 * output once and get the same format rules.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/lib.h"
#include "report/report.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

typedef int (*writer_fn)(const struct rep_profile *, const struct rep_opts *, FILE *);

static writer_fn writer_for(const char *path, const char **why)
{
	if (ends_with(path, ".folded"))
		return rep_write_folded;
	if (ends_with(path, ".svg"))
		return rep_write_svg;
	if (ends_with(path, ".pb.gz"))
		return rep_write_pprof;
	if (ends_with(path, ".txt"))
		return rep_write_top;
	*why = "unknown output format: use .folded, .svg, .pb.gz or .txt (top)";
	return NULL;
}

int rep_output_check(const char *path, const char **why)
{
	return writer_for(path, why) ? 0 : -EINVAL;
}

int rep_output_write(const struct rep_profile *p, const struct rep_opts *o, const char *path,
		     const char **why)
{
	writer_fn writer = writer_for(path, why);
	struct xl_out out;
	FILE *f;
	int err;

	if (!writer)
		return -EINVAL;
	/*
	 * Through a temporary file renamed when whole: a full disk or a failed
	 * writer leaves the old file (or none), never a 0-byte or half output,
	 * and a link planted at path by another user is refused. No fsync: the
	 * output can be made again from the recording, and fsync cost 8 ms per
	 * output here (report of 4k samples to .folded and .svg: 1.5x the wall
	 * time).
	 */
	err = xl_out_open(&out, path, 0, 0644);
	if (err)
		return err;
	f = xl_out_stdio(&out);
	if (!f) {
		err = -errno;
		xl_out_abort(&out);
		return err;
	}
	err = writer(p, o, f);
	if (err) {
		xl_out_abort(&out);
		return err;
	}
	return xl_out_commit(&out);
}
