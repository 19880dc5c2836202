/* SPDX-License-Identifier: MIT */
/*
 * pipeline/: events in, profiles out. A session keeps processes, mappings
 * and symbols alive across windows, and hands over each window's profile.
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
 *
 * It can run for days: xp_session_window_take() hands over the profile of the
 * window so far and starts the next one, and state goes once nothing alive
 * needs it (see XP_EXIT_GRACE_NS, xp_session_opts.memory_limit). Without
 * windows, the one profile covers the whole recording.
 */

/*
 * Frames kept per sample. The sampler copies whole stacks (up to 1 MiB by
 * default): a recursion 2,500 deep must fit, and 16 Ki frames of at least
 * 16 bytes each are 256 KiB of stack.
 */
#define XP_MAX_FRAMES 16384

/*
 * A process's mappings and a thread's name are forgotten this long (stream
 * time) after its EXIT, and after the last sample of the process: events are
 * merged in time order, but a sample may be read just after its process's
 * EXIT, and a leader that called pthread_exit() leaves live threads behind.
 * A process known from samples alone (no mmap, fork or uid) goes the same
 * way, this long after its last sample.
 */
#define XP_EXIT_GRACE_NS 1000000000ull

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
	/*
	 * Bytes the unwind tables (an eighth) and symbol data (the rest) of
	 * files no live mapping uses may keep; least recently used go first,
	 * at window boundaries and once a second of stream time. A session with
	 * a limit also lets go of the pages of the files it read (symbols once a
	 * file is indexed, images and symbols at every window boundary): they
	 * are read again from the page cache when needed. 0: keep all.
	 */
	size_t memory_limit;
	/*
	 * Keep a line for every file ever mapped, for xp_session_describe()
	 * after its mappings are gone (report -v); grows with the distinct
	 * files of the run, so off in a long-running session.
	 */
	bool describe_all;
	/*
	 * The labels of a sample of process pid (the agent's host, service,
	 * container, exe): a label set of p, the profile of the current
	 * window (rep_profile_labelset()), 0 for none. Called once per sample
	 * kept; NULL: no labels.
	 */
	uint32_t (*labels)(void *ctx, struct rep_profile *p, uint32_t pid);
	void *labels_ctx;
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
	uint64_t stale_files; /* mapped files found nowhere with their build-id (changed since,
				 or in the mount namespace of a process gone) */
	uint64_t ns_files;    /* mapped files read through /proc/PID: the host's path was
				 missing or another file (a container's) */
	uint64_t callchain;   /* samples without a stack copy: the recorder's frame-pointer
				 callchain taken as is, not unwound (in no status[]) */
};

/* What the session holds now, for long runs and the soak benchmark. */
struct xp_session_mem {
	uint64_t processes;	       /* processes with state */
	uint64_t threads;	       /* thread names */
	uint64_t modules;	       /* mapped files in use */
	uint64_t exits_pending;	       /* EXITs waiting for their grace time */
	uint64_t tables, table_bytes;  /* unwind cache entries and their bytes */
	uint64_t sym_files, sym_bytes; /* symbolizer files and their bytes */
};

struct xp_session;

/* NULL with errno ENOMEM. period_ns: what one sample stands for, until the recording says. */
struct xp_session *xp_session_new(const struct xp_session_opts *opts);
void xp_session_free(struct xp_session *s);

/* An xp_event_fn: feed it every event of a recording, in order. */
int xp_session_event(void *session, const struct xp_event *ev);

/*
 * A live capture's early word of a new mapping, from its own thread, as soon
 * as the kernel reports it (capture_opts.mmap_seen): when the host's path is
 * not the mapping's file (a container's), the file is held open until the
 * session reads that mmap event, which may be seconds later, after a
 * short-lived process and its mount namespace are gone. Costs one build-id
 * check per new (path, build-id); holds at most 64 descriptors. Safe to call
 * while another thread feeds the session events. A capture_opts.mmap_seen.
 */
void xp_session_pin(void *session, const struct xp_ev_mmap *mm);

/*
 * What the session knows of address addr in process pid right now: the
 * mapped file's path (or "[anon]") and the load bias. 0, or -ENOENT.
 */
int xp_session_lookup(struct xp_session *s, uint32_t pid, uint64_t addr, const char **path,
		      uint64_t *bias);

/* One "xprof: ..." line per input the session refused to trust (a JIT map another user wrote). */
void xp_session_warnings(const struct xp_session *s, FILE *out);

/*
 * One line per mapped file: path, build-id, unwind table size, debuginfo
 * source; the files still mapped, then (opts.describe_all) those no longer.
 */
void xp_session_describe(const struct xp_session *s, FILE *out);

/*
 * Why the on-disk cache was refused (a directory another user owns or may
 * write, a planted link), naming the directory and the fix; NULL if it is in
 * use or was not asked for. The session then runs without it. Owned by s.
 */
const char *xp_session_cache_refused(const struct xp_session *s);

/*
 * The profile built so far (owned by the session), its time set from the
 * clock if one was given (xp_session_set_clock): the window's start, and the
 * stream time up to the latest event. NULL with errno ENOMEM.
 */
struct rep_profile *xp_session_profile(struct xp_session *s);
/* Counts since the session began (every window together). */
const struct xp_session_stats *xp_session_stats(const struct xp_session *s);

/*
 * The time of an event on the recording's clock (what windows are cut on);
 * 0 for an event without one (the vDSO image).
 */
uint64_t xp_event_time(const struct xp_event *ev);

/*
 * The unwind table of a Go binary as a session uses it: the pcsp runs of
 * sym's .gopclntab (Go's frame convention, goexit and friends outermost,
 * the signal trampoline) laid over base, the file's CFI (may be NULL). The
 * caller owns the result. NULL with errno ENOENT (not a Go binary, or no
 * rows), ENOMEM, or as unw_table_overlay().
 */
struct unw_table *xp_go_table(const struct sym_file *sym, const struct unw_table *base);

/*
 * End the current window at end_ns (stream time; 0: the latest event's) and
 * hand over its profile, which the caller owns (rep_profile_free()); it is
 * empty if no sample came. The next window starts at end_ns with no samples
 * and the same processes, mappings and symbols; what exited
 * XP_EXIT_GRACE_NS before end_ns is gone, caches are trimmed to
 * opts.memory_limit and symbol indexes written back. With
 * xp_session_set_clock(), the profile's time is its window's wall-clock
 * start and length. NULL with errno ENOMEM.
 */
struct rep_profile *xp_session_window_take(struct xp_session *s, uint64_t end_ns);

/* The counts of the last window taken (processes: those sampled in it). */
const struct xp_session_stats *xp_session_window_stats(const struct xp_session *s);

/* Tie the recording's clock to CLOCK_REALTIME: time_ns on it was real_ns. */
void xp_session_set_clock(struct xp_session *s, uint64_t time_ns, uint64_t real_ns);

/* What the session holds now: processes, names, modules and the caches' bytes. */
void xp_session_memory(const struct xp_session *s, struct xp_session_mem *out);

#endif /* XPROF_PIPELINE_H */
