// SPDX-License-Identifier: MIT
/*
 * xprof's entry point: the subcommand table and the top-level help.
 */
#include <stdio.h>
#include <string.h>

#include "profiler/profiler_int.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
    {"record", cmd_record, "sample a process, a command or the whole system"},
    {"report", cmd_report, "unwind and symbolize a recording into folded, SVG, pprof or top"},
    {"diff", cmd_diff, "compare two profiles or recordings: differential flamegraph, pprof"},
    {"info", cmd_info, "print a recording's settings and counts"},
    {"tables", cmd_tables, "dump the unwind table xprof builds for an ELF file"},
    {"store", cmd_store, "create, load and prune a fleet store (ClickHouse)"},
    {"query", cmd_query, "draw a fleet flamegraph from a ClickHouse store"},
    {"agent", cmd_agent, "profile every process continuously, window by window, into sinks"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xprof <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'xprof <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "xprof: unknown command '%s'; see 'xprof --help'\n", argv[1]);
	return 2;
}
