// SPDX-License-Identifier: MIT
/*
 * Fuzz target for store/'s decoders: the input is a ClickHouse answer as
 * the server (or anything posing as one at the URL) sends it. The first byte
 * picks the split: the aggregation answer (group, hash, count rows), then
 * the stacks answer (hash, comm, names, files, lines, flags). Both decode or
 * are refused; when both decode, the profile is built and folded, as
 * xprof query does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_agg_row *rows = NULL;
	struct st_stack_set set = {0};
	struct st_query_stats qs = {0};
	struct rep_profile *p = NULL;
	size_t nrows = 0, split;

	if (!size)
		return 0;
	split = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;
	if (st_agg_decode(data, split, &rows, &nrows))
		return 0;
	if (!st_stacks_decode(data + split, size - split, &set)) {
		/* As query.c: grouped when the first byte says so. */
		if (!(split & 1))
			for (size_t i = 0; i < nrows; i++)
				rows[i].group = NULL;
		if (!st_profile_build(rows, nrows, &set, &p, &qs)) {
			struct rep_opts o = {0};
			FILE *f = fopen("/dev/null", "w");

			if (f) {
				rep_write_folded(p, &o, f);
				fclose(f);
			}
			rep_profile_free(p);
		}
		st_stacks_release(&set);
	}
	free(rows);
	return 0;
}
