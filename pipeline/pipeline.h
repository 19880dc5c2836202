/* SPDX-License-Identifier: MIT */
/*
 * pipeline/: events in, profile out. A session keeps processes and their
 * mappings over time, unwinds (unwind/), symbolizes (symbolize/) and
 * aggregates (report/) every sample of a recording or a live capture.
 */
#ifndef XPROF_PIPELINE_H
#define XPROF_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "recording/recording.h"
#include "report/report.h"
#include "symbolize/symbolize.h"
#include "unwind/unwind.h"

/*
 * A session consumes the events of one recording in file order: it keeps each
 * process's executable mappings as they were at every moment (mmap, exec,
 * fork, exit), opens every mapped file once (load bias, unwind table,
 * symbols, keyed by build-id), unwinds every sample, symbolizes every unique
 * address once, and adds the stack to a report profile.
 */

/*
 * Frames kept per sample. The sampler copies whole stacks (up to 1 MiB by
 * default): a recursion 2,500 deep must fit, and 16 Ki frames of at least
 * 16 bytes each are 256 KiB of stack.
 */
#define XP_MAX_FRAMES 16384

struct xp_filter {
	const uint32_t *pids; /* keep only these processes (NULL: all) */
	unsigned npids;
	const uint32_t *tids;
	unsigned ntids;
	const char *comm; /* keep only this thread name (NULL: all) */
};

struct xp_session_opts {
	struct sym_opts sym;
	struct xp_filter filter;
	const char *cache_dir; /* NULL: default cache root ($XDG_CACHE_HOME/xprof) */
	bool no_cache;	       /* no on-disk caches: tables and symbols in memory only */
};

struct xp_session_stats {
	uint64_t samples; /* samples read */
	uint64_t kept;	  /* samples that passed the filters */
	uint64_t lost;	  /* samples the recorder lost */
	uint64_t frames;  /* user frames unwound */
	uint64_t status[UNW_STATUS_NR];
	uint64_t fp_used; /* samples with frame-pointer fallback frames */
	uint64_t
	    synth_used;	    /* samples with frames reached by rules synthesized from machine code */
	uint64_t scan_used; /* samples with frames found by verified stack scanning */
	uint64_t stack2;    /* samples that continued on a second stack segment */
	uint64_t no_process;  /* samples of a process with no known mapping */
	uint64_t processes;   /* distinct processes sampled */
	uint64_t stale_files; /* mapped files whose build-id no longer matches */
	uint64_t callchain;   /* samples without a stack copy: the recorder's frame-pointer
				 callchain taken as is, not unwound (in no status[]) */
};

struct xp_session;

/* NULL with errno ENOMEM. period_ns: what one sample stands for, until the recording says. */
struct xp_session *xp_session_new(const struct xp_session_opts *opts);
void xp_session_free(struct xp_session *s);

/* An xp_event_fn: feed it every event of a recording, in order. */
int xp_session_event(void *session, const struct xp_event *ev);

/*
 * What the session knows of address addr in process pid right now: the
 * mapped file's path (or "[anon]") and the load bias. 0, or -ENOENT.
 */
int xp_session_lookup(struct xp_session *s, uint32_t pid, uint64_t addr, const char **path,
		      uint64_t *bias);

/* One "xprof: ..." line per input the session refused to trust (a JIT map another user wrote). */
void xp_session_warnings(const struct xp_session *s, FILE *out);

/* One line per mapped file: path, build-id, unwind table size, debuginfo source. */
void xp_session_describe(const struct xp_session *s, FILE *out);

/*
 * Why the on-disk cache was refused (a directory another user owns or may
 * write, a planted link), naming the directory and the fix; NULL if it is in
 * use or was not asked for. The session then runs without it. Owned by s.
 */
const char *xp_session_cache_refused(const struct xp_session *s);

/* The profile built so far (owned by the session) and the counts. */
struct rep_profile *xp_session_profile(struct xp_session *s);
const struct xp_session_stats *xp_session_stats(const struct xp_session *s);

/*
 * The unwind table of a Go binary as a session uses it: the pcsp runs of
 * sym's .gopclntab (Go's frame convention, goexit and friends outermost,
 * the signal trampoline) laid over base, the file's CFI (may be NULL). The
 * caller owns the result. NULL with errno ENOENT (not a Go binary, or no
 * rows), ENOMEM, or as unw_table_overlay().
 */
struct unw_table *xp_go_table(const struct sym_file *sym, const struct unw_table *base);

/* Whether path names a format xprof writes: 0, or -EINVAL with *why. */
int xp_report_check(const char *path, const char **why);

/*
 * Write a profile to path, the format chosen by its extension, through a
 * temporary file renamed over path when whole (lib.h): on failure path is
 * left as it was. 0 or -errno: -EINVAL with *why (format), -ELOOP (a link
 * of another user at path), -ENOSPC and other write errors.
 */
int xp_report_write(const struct rep_profile *p, const struct rep_opts *o, const char *path,
		    const char **why);

#endif /* XPROF_PIPELINE_H */
