// SPDX-License-Identifier: MIT
/*
 * rep_profile_walk(): a profile's unique stacks as plain frames, for
 * consumers outside report/ (the fleet store turns them into rows). The
 * frames come out in the order rep_stack_frames() gives the folded writer,
 * so whoever rebuilds a profile from them gets the same folded lines.
 */
#include <errno.h>
#include <stdlib.h>

#include "report/report_int.h"

int rep_profile_walk(const struct rep_profile *p, rep_walk_fn fn, void *ctx)
{
	struct rep_walk_frame *frames = NULL;
	size_t cap = 0;
	int ret = 0;

	for (size_t i = 0; i < p->stacks.n && !ret; i++) {
		const struct rep_stack_int *s = &p->stacks.v[i];
		struct rep_sample_key key = {
		    .pid = s->pid, .tid = s->tid, .comm = rep_str(p, s->comm), .labels = s->labels};
		size_t k = 0, n = rep_stack_nframes(p, s);

		if (n > cap) {
			struct rep_walk_frame *nf = realloc(frames, n * sizeof(*nf));

			if (!nf) {
				ret = -ENOMEM;
				break;
			}
			frames = nf;
			cap = n;
		}
		/* As rep_stack_frames(): locations leaf first, lines innermost first. */
		for (uint32_t j = s->nlocs; j-- > 0;) {
			const struct rep_loc_int *l = &p->locs.v[p->stack_locs.v[s->loc0 + j]];
			const char *bid = "";

			if (l->mapping != REP_NONE && p->maps.v[l->mapping].build_id)
				bid = rep_str(p, p->maps.v[l->mapping].build_id);
			for (uint32_t m = l->nlines; m-- > 0;) {
				const struct rep_line_int *ln = &p->lines.v[l->line0 + m];
				const struct rep_func_int *f = &p->funcs.v[ln->function];

				frames[k++] = (struct rep_walk_frame){
				    .name = rep_str(p, f->name),
				    .file = rep_str(p, f->file),
				    .build_id = bid,
				    .line = ln->line,
				    .kind = (enum rep_kind)f->kind,
				    .inlined = ln->inlined != 0,
				};
			}
		}
		ret = fn(ctx, &key, frames, (unsigned)k, s->count);
	}
	free(frames);
	return ret;
}
