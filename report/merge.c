// SPDX-License-Identifier: MIT
/*
 * Copying stacks between profiles: the diff's pprof writer puts AFTER and
 * BEFORE in one profile's tables, and rep_profile_merge() takes the stacks
 * of one service out of an agent's window. Ids are per profile, so each
 * location (with its mapping and functions) and label set is re-interned
 * in dst, once per source id through a cache.
 */
#include <errno.h>
#include <stdlib.h>

#include "report/report_int.h"

/* src location l in dst, through the cache map[] (REP_NONE: not copied yet). */
int rep_import_loc(struct rep_profile *dst, const struct rep_profile *src, uint32_t l,
		   uint32_t *map, uint32_t *out)
{
	const struct rep_loc_int *sl = &src->locs.v[l];
	struct rep_line lines[64], *lp = lines;
	uint32_t mapping = REP_NONE;
	int err = 0;

	if (map[l] != REP_NONE) {
		*out = map[l];
		return 0;
	}
	if (sl->mapping != REP_NONE) {
		const struct rep_map_int *m = &src->maps.v[sl->mapping];
		struct rep_mapping rm = {m->start, m->limit, m->offset, rep_str(src, m->file),
					 m->build_id ? rep_str(src, m->build_id) : NULL};

		err = rep_profile_mapping(dst, &rm, &mapping);
		if (err)
			return err;
	}
	if (sl->nreal > sizeof(lines) / sizeof(lines[0])) {
		lp = calloc(sl->nreal, sizeof(*lp));
		if (!lp)
			return -ENOMEM;
	}
	/* A location without lines (nreal 0) gets its synthetic name again in dst. */
	for (uint32_t j = 0; j < sl->nreal && !err; j++) {
		const struct rep_line_int *ln = &src->lines.v[sl->line0 + j];
		const struct rep_func_int *f = &src->funcs.v[ln->function];

		lp[j] = (struct rep_line){.line = ln->line, .inlined = ln->inlined};
		err = rep_profile_function(dst, rep_str(src, f->name), rep_str(src, f->file),
					   (enum rep_kind)f->kind, &lp[j].function);
	}
	if (!err)
		err = rep_profile_location(dst, mapping, sl->addr, lp, sl->nreal, out);
	if (lp != lines)
		free(lp);
	if (!err)
		map[l] = *out;
	return err;
}

int rep_import_labels(struct rep_profile *dst, const struct rep_profile *src, uint32_t id,
		      uint32_t *out)
{
	struct rep_label l[REP_LABELS_MAX];
	unsigned n;
	int err;

	if (!id) {
		*out = 0;
		return 0;
	}
	err = rep_profile_labels(src, id, l, REP_LABELS_MAX, &n);
	return err ? err : rep_profile_labelset(dst, l, n, out);
}

int rep_profile_merge(struct rep_profile *dst, const struct rep_profile *src, rep_keep_fn keep,
		      void *ctx)
{
	uint32_t *map = malloc((src->locs.n ? src->locs.n : 1) * sizeof(*map));
	uint32_t *locs = malloc((src->stack_locs.n ? src->stack_locs.n : 1) * sizeof(*locs));
	int err = 0;

	if (!map || !locs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < src->locs.n; i++)
		map[i] = REP_NONE;
	for (size_t i = 0; i < src->stacks.n && !err; i++) {
		const struct rep_stack_int *s = &src->stacks.v[i];
		struct rep_sample_key key = {.pid = s->pid,
					     .tid = s->tid,
					     .comm = rep_str(src, s->comm),
					     .labels = s->labels};

		if (keep && !keep(ctx, src, &key))
			continue;
		for (uint32_t j = 0; j < s->nlocs && !err; j++)
			err =
			    rep_import_loc(dst, src, src->stack_locs.v[s->loc0 + j], map, &locs[j]);
		if (!err)
			err = rep_import_labels(dst, src, s->labels, &key.labels);
		/* key.comm points into src, which dst's interning does not move */
		if (!err)
			err = rep_profile_add(dst, &key, locs, s->nlocs, s->count);
	}
out:
	free(locs);
	free(map);
	return err;
}
