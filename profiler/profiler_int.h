/* SPDX-License-Identifier: MIT */
/*
 * Internals of profiler/, shared by its files and its tests only.
 *
 * Each subcommand lives in its own file (cmd_<name>.c) and is reached from
 * main.c's table. Each takes argv after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status.
 */
#ifndef XPROF_PROFILER_INT_H
#define XPROF_PROFILER_INT_H

#include "profiler/profiler.h"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tables(int argc, char **argv);

/* perf.data reader (perfdata.c); xp_recording_read() hands it files with perf's magic. */
int xp_perfdata_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		     const char **why);

/* The .xprof reader (recording.c), for files with the xprof magic. */
int xp_xprof_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		  const char **why);

#endif /* XPROF_PROFILER_INT_H */
