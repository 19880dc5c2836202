// SPDX-License-Identifier: MIT
/* perf.data import: a placeholder until its issue lands (another helper replaces this file). */
#include <errno.h>

#include "profiler/profiler_int.h"

int xp_perfdata_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		     const char **why)
{
	(void)path;
	(void)fn;
	(void)ctx;
	(void)info;
	*why = "perf.data import is not supported yet";
	return -ENOTSUP;
}
