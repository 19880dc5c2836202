// SPDX-License-Identifier: MIT
/* xprof record: placeholder until its issue lands. */
#include <stdio.h>

#include "profiler/profiler_int.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xprof: 'record' is not supported yet\n");
	return 1;
}
