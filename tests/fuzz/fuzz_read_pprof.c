// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the pprof reader (report/read_pprof.c): any bytes,
 * gzipped or not, are either refused with a one-line reason or read into a
 * profile that survives the pprof writer: written and read again, it gives
 * the same folded stacks (threads included) and the same total.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_int.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_read_pprof: %s\n", what);
		abort();
	}
}

static char *write_with(int (*w)(const struct rep_profile *, const struct rep_opts *, FILE *),
			const struct rep_profile *p, size_t *len)
{
	static const struct rep_opts tid = {.with_pid = true, .with_tid = true};
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	check(m != NULL, "memstream");
	check(w(p, &tid, m) == 0, "writer failed");
	fclose(m);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rep_profile *p = rep_profile_new(0), *q = rep_profile_new(0);
	char why[256] = "", *pb = NULL, *f1 = NULL, *f2 = NULL;
	size_t pl, l1, l2;
	int err;

	check(p && q, "alloc");
	err = rep_read_pprof(p, data, size, why, sizeof(why));
	if (err) {
		check((err == -EINVAL || err == -EFBIG) && why[0] && !strchr(why, '\n'),
		      "error without a one-line reason");
		goto out;
	}
	pb = write_with(rep_write_pprof, p, &pl);
	err = rep_read_pprof(q, pb, pl, why, sizeof(why));
	if (err)
		fprintf(stderr, "reread: %s\n", why);
	check(!err, "the writer's output does not read back");
	f1 = write_with(rep_write_folded, p, &l1);
	f2 = write_with(rep_write_folded, q, &l2);
	check(l1 == l2 && !memcmp(f1, f2, l1), "stacks changed through the pprof writer");
	check(rep_profile_total(p) == rep_profile_total(q), "total changed");
	check(p->period_ns == q->period_ns, "period changed");
out:
	free(pb);
	free(f1);
	free(f2);
	rep_profile_free(p);
	rep_profile_free(q);
	return 0;
}
