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
