/* SPDX-License-Identifier: MIT */
/*
 * Internals of recording/, shared by its files and its tests only: the two
 * readers xp_recording_read() chooses between.
 */
#ifndef XPROF_RECORDING_INT_H
#define XPROF_RECORDING_INT_H

#include "recording/recording.h"

/* perf.data reader (perfdata.c); xp_recording_read() hands it files with perf's magic. */
int xp_perfdata_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		     const char **why);

/* The .xprof reader (recording.c), for files with the xprof magic. */
int xp_xprof_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		  const char **why);

#endif /* XPROF_RECORDING_INT_H */
