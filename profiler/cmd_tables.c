// SPDX-License-Identifier: MIT
/* xprof tables: placeholder until its issue lands. */
#include <stdio.h>

#include "profiler/profiler_int.h"

int cmd_tables(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xprof: 'tables' is not supported yet\n");
	return 1;
}
