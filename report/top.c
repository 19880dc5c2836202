// SPDX-License-Identifier: MIT
/*
 * The top-N table: per function, self (samples whose innermost frame, inlined
 * frames included, is the function) and total (samples with the function
 * anywhere on the stack, counted once per stack so recursion cannot push it
 * past 100%), as `perf report --no-children` and `pprof -top` show them.
 * Sorted by self, then total, then name, so the order is deterministic.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

struct trow {
	uint64_t self, total;
	uint32_t fn;
};

static int cmp_row(const void *pa, const void *pb, void *ctx)
{
	const struct trow *a = pa, *b = pb;
	const struct rep_profile *p = ctx;

	if (a->self != b->self)
		return a->self < b->self ? 1 : -1;
	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	if (a->fn == b->fn)
		return 0;
	return strcmp(rep_str(p, p->funcs.v[a->fn].name), rep_str(p, p->funcs.v[b->fn].name))
		   ?: (a->fn < b->fn ? -1 : 1);
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

int rep_write_top(const struct rep_profile *p, const struct rep_opts *o, FILE *out)
{
	struct rep_names names;
	struct trow *rows = NULL;
	uint32_t *stamp = NULL, *frames = NULL;
	size_t nfn = p->funcs.n, nrows = 0, shown;
	uint64_t total = p->total;
	unsigned limit = o && o->top ? o->top : 20;
	int err;

	err = rep_names_init(&names, p);
	if (err)
		return err;
	rows = calloc(nfn ? nfn : 1, sizeof(*rows));
	stamp = calloc(nfn ? nfn : 1, sizeof(*stamp));
	frames = rep_frames_buf_new(p);
	if (!rows || !stamp || !frames) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t f = 0; f < nfn; f++)
		rows[f].fn = (uint32_t)f;
	for (size_t i = 0; i < p->stacks.n; i++) {
		const struct rep_stack_int *s = &p->stacks.v[i];
		size_t nf = rep_stack_nframes(p, s);

		if (!nf || !s->count)
			continue;
		rep_stack_frames(p, s, frames);
		rows[frames[nf - 1] >> 1].self += s->count;
		/* stamp[f] == i + 1: f already counted for this stack. */
		for (size_t j = 0; j < nf; j++) {
			uint32_t f = frames[j] >> 1;

			if (stamp[f] != i + 1) {
				stamp[f] = (uint32_t)(i + 1);
				rows[f].total += s->count;
			}
		}
	}
	for (size_t f = 0; f < nfn; f++)
		if (rows[f].total)
			rows[nrows++] = rows[f];
	qsort_r(rows, nrows, sizeof(*rows), cmp_row, (void *)p);
	shown = nrows < limit ? nrows : limit;

	errno = 0;
	fprintf(out, "Showing top %zu of %zu functions, %" PRIu64 " samples", shown, nrows, total);
	if (p->period_ns)
		fprintf(out, " (%.3f s of CPU)", (double)total * (double)p->period_ns / 1e9);
	fprintf(out, "\n%7s %7s %10s %10s  %s\n", "self%", "total%", "self", "total", "function");
	for (size_t i = 0; i < shown; i++) {
		uint32_t len;
		const char *nm = rep_names_get(&names, rows[i].fn << 1, &len);

		fprintf(out, "%6.2f%% %6.2f%% %10" PRIu64 " %10" PRIu64 "  %.*s\n",
			pct(rows[i].self, total), pct(rows[i].total, total), rows[i].self,
			rows[i].total, (int)len, nm);
	}
	err = rep_stream_error(out);
out:
	free(rows);
	free(stamp);
	free(frames);
	rep_names_release(&names);
	return err;
}
