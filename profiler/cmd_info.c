// SPDX-License-Identifier: MIT
/* xprof info: placeholder until its issue lands. */
#include <stdio.h>

#include "profiler/profiler_int.h"

int cmd_info(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xprof: 'info' is not supported yet\n");
	return 1;
}
