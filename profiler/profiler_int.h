/* SPDX-License-Identifier: MIT */
/*
 * profiler/: the xprof program's front ends, main.c and one cmd_<name>.c per
 * subcommand; they wire capture/, recording/, pipeline/ and report/ together.
 *
 * Each subcommand lives in its own file (cmd_<name>.c) and is reached from
 * main.c's table. Each takes argv after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status.
 */
#ifndef XPROF_PROFILER_INT_H
#define XPROF_PROFILER_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "pipeline/pipeline.h"
#include "recording/recording.h"
#include "report/report.h"
#include "symbolize/symbolize.h"
#include "unwind/unwind.h"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tables(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#define MAX_OUTPUTS 16 /* -o FILE given at most this often */

/*
 * Options shared by several commands (args.c). The output options of
 * report, diff and query: -o FILE (repeated), --top N, --min-count N,
 * --title T, --inverted, and (OUT_LONG_OPTS_PID, where samples have pids)
 * --pid, --tid. The symbol options of report and diff: --no-debuginfod,
 * --cache-dir DIR, --no-cache. Values above any command's own.
 */
enum {
	OUT_O_TOP = 0x1000,
	OUT_O_MIN,
	OUT_O_TITLE,
	OUT_O_INV,
	OUT_O_PID,
	OUT_O_TID,
	SYM_O_NODI,
	SYM_O_CACHE,
	SYM_O_NOCACHE,
};

#define OUT_LONG_OPTS                                                                              \
	{"output", required_argument, NULL, 'o'}, {"top", required_argument, NULL, OUT_O_TOP},     \
	    {"min-count", required_argument, NULL, OUT_O_MIN},                                     \
	    {"title", required_argument, NULL, OUT_O_TITLE},                                       \
	{                                                                                          \
		"inverted", no_argument, NULL, OUT_O_INV                                           \
	}
#define OUT_LONG_OPTS_PID                                                                          \
	{"pid", no_argument, NULL, OUT_O_PID},                                                     \
	{                                                                                          \
		"tid", no_argument, NULL, OUT_O_TID                                                \
	}
#define SYM_LONG_OPTS                                                                              \
	{"no-debuginfod", no_argument, NULL, SYM_O_NODI},                                          \
	    {"cache-dir", required_argument, NULL, SYM_O_CACHE},                                   \
	{                                                                                          \
		"no-cache", no_argument, NULL, SYM_O_NOCACHE                                       \
	}

struct out_args {
	const char *outs[MAX_OUTPUTS];
	unsigned nouts, top; /* top: rows of --top on stdout, 0: none */
	struct rep_opts ro;
};

/* Option c (getopt's value) into a: 0, 2 (the exit status after a one-line error), -1 not one. */
int out_args_parse(struct out_args *a, int c, const char *arg);

/*
 * Before any work: dflt when nothing was asked for, then every output's
 * format (a diff's when diff) and whether it can be written. 0, or the exit
 * status after a one-line error naming the output.
 */
int out_args_check(struct out_args *a, const char *dflt, bool diff);

/* Option c into so: 0, or -1 if it is not a symbol option. */
int sym_args_parse(struct xp_session_opts *so, int c, const char *arg);

/*
 * cmd_report.c, for record too: write prof to each of outs, the format by
 * extension; the ones written go to done (*ndone of them). A failed output
 * gets one line on stderr and does not stop the others. false if one failed.
 */
bool report_write_all(const struct rep_profile *prof, const struct rep_opts *ro,
		      const char *const *outs, unsigned nouts, const char **done, unsigned *ndone);

/*
 * The one summary line of report and record on stderr: samples, lost,
 * processes, how the stacks unwound, and what was written (also, if not
 * NULL, then outs).
 */
void report_summary(const struct xp_session_stats *st, const char *also, const char *const *outs,
		    unsigned nouts);

#endif /* XPROF_PROFILER_INT_H */
