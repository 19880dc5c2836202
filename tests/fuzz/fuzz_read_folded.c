// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the folded reader (report/read_folded.c): any bytes are
 * either refused with a reason or read into a profile whose folded output
 * reads back to the same bytes (the writer's output is a fixed point), and
 * whose diff against itself shows no change on any line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_int.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_read_folded: %s\n", what);
		abort();
	}
}

static char *folded_of(const struct rep_profile *p, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	check(m != NULL, "memstream");
	check(rep_write_folded(p, NULL, m) == 0, "folded writer failed");
	fclose(m);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rep_profile *p = rep_profile_new(0), *q = rep_profile_new(0);
	char why[256] = "", *w1, *w2 = NULL, *d = NULL;
	size_t l1, l2, dl;
	FILE *m;
	int err;

	check(p && q, "alloc");
	err = rep_read_folded(p, (const char *)data, size, why, sizeof(why));
	if (err) {
		check(err == -EINVAL && why[0] && !strchr(why, '\n'),
		      "error without a one-line reason");
		goto out;
	}
	w1 = folded_of(p, &l1);
	err = rep_read_folded(q, w1, l1, why, sizeof(why));
	if (err)
		fprintf(stderr, "reread: %s\n", why);
	check(!err, "the writer's output does not read back");
	w2 = folded_of(q, &l2);
	check(l1 == l2 && !memcmp(w1, w2, l1), "folded output is not a fixed point");
	check(rep_profile_total(p) == rep_profile_total(q), "total changed");

	/* Against itself: every line "stack N N". */
	m = open_memstream(&d, &dl);
	check(m && rep_write_diff_folded(p, q, NULL, m) == 0, "diff writer failed");
	fclose(m);
	for (char *line = d, *nl; line < d + dl; line = nl + 1) {
		char *sp2, *sp1;

		nl = memchr(line, '\n', (size_t)(d + dl - line));
		check(nl != NULL, "diff line without newline");
		*nl = '\0';
		sp2 = strrchr(line, ' ');
		check(sp2 != NULL, "diff line without counts");
		*sp2 = '\0';
		sp1 = strrchr(line, ' ');
		check(sp1 != NULL && !strcmp(sp1 + 1, sp2 + 1), "a profile differs from itself");
	}
	free(d);
	d = NULL;
	m = open_memstream(&d, &dl);
	check(m && rep_write_diff_svg(p, q, NULL, m) == 0, "diff svg failed");
	fclose(m);
	check(dl > 6 && !memcmp(d + dl - 7, "</svg>\n", 7), "diff svg incomplete");
	free(d);
	d = NULL;
	m = open_memstream(&d, &dl);
	check(m && rep_write_diff_top(p, q, NULL, m) == 0, "diff top failed");
	fclose(m);
	/* against itself, no function changed: every change column reads 0 */
	for (char *line = d, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		double b, a, c, sb, sa, sc;

		*nl = '\0';
		if (sscanf(line, "%lf%% %lf%% %lf %lf%% %lf%% %lf", &b, &a, &c, &sb, &sa, &sc) == 6)
			check(c == 0 && sc == 0 && a == b && sa == sb, "diff top shows a change");
	}
	free(w1);
out:
	free(w2);
	free(d);
	rep_profile_free(p);
	rep_profile_free(q);
	return 0;
}
