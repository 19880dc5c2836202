// SPDX-License-Identifier: MIT
/* xprof report: placeholder until its issue lands. */
#include <stdio.h>

#include "profiler/profiler_int.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xprof: 'report' is not supported yet\n");
	return 1;
}
