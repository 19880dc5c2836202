/* SPDX-License-Identifier: MIT */
/*
 * capture/: the BPF recorder as a library (record.c: capture_new, _poll,
 * _stop, _free) delivering events to a sink, and the /proc readers (procfs.c).
 */
#ifndef XPROF_CAPTURE_H
#define XPROF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recording/recording.h"

/* ---- procfs.c ------------------------------------------------------------ */

/*
 * Build-ids by path, so a system-wide start reads each library's notes once.
 * Entries are never removed; xp_buildid_cache_release() frees them.
 */
struct xp_buildid_cache {
	struct xp_buildid_ent *ent;
	size_t n, cap;
};

void xp_buildid_cache_release(struct xp_buildid_cache *c);

/*
 * The GNU build-id of the ELF file at path (xl_build_id_file(), remembered
 * by path in c, which may be NULL). Fills id (XP_BUILD_ID_MAX bytes) and
 * *len. 0, -ENOENT (no build-id note), -EINVAL (not ELF), or -errno from open.
 */
int xp_build_id_read(struct xp_buildid_cache *c, const char *path, uint8_t *id, uint32_t *len);

/*
 * Call fn for every executable mapping in /proc/PID/maps, in address order,
 * with time_ns as its time and the build-id read from the file (through
 * /proc/PID/map_files when the path is not reachable, e.g. deleted). The
 * [vdso] mapping comes with path "[vdso]", anonymous executable memory (JIT
 * code) with perf's "//anon", a named one ("[anon:...]") with its name.
 * 0, fn's non-zero value, or -errno (-ENOENT: the process is gone).
 */
int xp_procfs_maps(pid_t pid, uint64_t time_ns, struct xp_buildid_cache *c,
		   int (*fn)(void *ctx, const struct xp_ev_mmap *m), void *ctx);

/* The effective uid of pid (the owner of /proc/PID). 0 or -errno (-ENOENT: gone). */
int xp_procfs_uid(pid_t pid, uint32_t *uid);

/* /proc/PID/task/TID/comm into comm (NUL-terminated). 0 or -errno. */
int xp_procfs_comm(pid_t pid, pid_t tid, char comm[XP_EV_COMM_LEN]);

/* Call fn for every thread of pid (/proc/PID/task). 0, fn's value, or -errno. */
int xp_procfs_threads(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx);

/* Call fn for every process in /proc. 0, fn's value, or -errno. */
int xp_procfs_processes(int (*fn)(void *ctx, pid_t pid), void *ctx);

/*
 * Does process pid still run code: some thread of it that is not a zombie?
 * A group leader that called pthread_exit() is a zombie while its other
 * threads run; an exited, unreaped process is nothing but zombies.
 */
bool xp_procfs_alive(pid_t pid);

/* ---- record.c ------------------------------------------------------------ */

/*
 * The BPF recorder as a library. capture_new() loads and attaches the
 * sampler and reads what already runs from /proc; each capture_poll()
 * delivers the events complete so far to the sink, in time order, in the
 * event model of recording.h (as a reader of the .xprof file would yield
 * them); capture_stop() stops sampling and delivers the rest. When to poll,
 * flush and stop is the caller's (xprof record's loop).
 */
struct capture_opts {
	uint32_t frequency;  /* Hz */
	uint32_t stack_size; /* bytes, XP_STACK_MIN..XP_STACK_MAX */
	uint32_t ev_type;    /* perf_event_attr.type of the sampling event */
	uint64_t ev_config;
	const char *ev_name; /* "cpu-clock" */
	bool all;	     /* -a */
	bool kstack;	     /* -g kernel */
	const pid_t *pids;   /* -p, npids of them; borrowed until capture_free() */
	size_t npids;
	pid_t child;	    /* -- CMD: held child, already forked; 0 if none */
	const char *target; /* for the header: "-p 12", "-a", "-- ./prog" */
	/*
	 * Called on the capturing thread with each executable mapping of a
	 * target as soon as it is read (the side band, or /proc at the start),
	 * before the event waits its turn to be delivered: a report session
	 * holds a container's file open then (xp_session_pin). NULL: none.
	 */
	void (*mmap_seen)(void *ctx, const struct xp_ev_mmap *mm);
	void *mmap_seen_ctx;
};

struct capture_stats {
	uint64_t samples;	/* delivered */
	uint64_t lost;		/* samples dropped (ring buffer full) */
	uint64_t lost_sideband; /* mmap/comm/task events the kernel dropped */
	uint64_t misordered;	/* records delivered out of time order (staging overflow) */
	uint64_t maps_late;	/* processes whose mappings came from /proc at their first sample */
	uint64_t unmapped;	/* samples of processes whose mappings nothing told (gone before
				   /proc could be read, their events lost) */
	uint64_t bpf_samples;	/* the sampler's own counters (XP_STAT_*), after capture_stop() */
	uint64_t bpf_sample_ns;
	uint64_t read_fail;
	uint64_t no_sigframe;
	uint64_t vma_find;     /* stack mappings looked up (once per thread stack) */
	uint64_t vma_fail;     /* ... that failed: those samples copied as far as mapped */
	uint64_t drop_stack2;  /* interrupted stacks left out: no ring-buffer room */
	uint64_t rb_bytes;     /* ring-buffer bytes the sampler reserved (all records) */
	uint64_t prog_run_ns;  /* bpf_prog_info run_time_ns/run_cnt of the sampler (every */
	uint64_t prog_run_cnt; /* tick, targets or not; 0 unless kernel.bpf_stats_enabled) */
};

/*
 * Where the events go. begin() (may be NULL) is called once from
 * capture_new(), before any event, with the recording's settings and the
 * number of CPUs: a file sink writes its header then. event() gets every
 * event in time order; what an event points to is valid during the call
 * only. A non-zero return of either stops the capture and is returned by
 * the call that delivered it (capture_new() then fails with errno = -it and
 * leaves err empty: the sink knows what failed).
 */
struct capture_sink {
	int (*begin)(void *ctx, const struct xp_rec_info *info, uint32_t ncpus);
	xp_event_fn event;
	void *ctx;
};

struct capture;

/*
 * Load the sampler, attach it to every CPU, deliver the vDSO image and what
 * already runs (the pids, or every process with -a): sampling is armed when
 * it returns, so a held child may be released. NULL with errno set and one
 * line for the user in err (without the "xprof: " prefix).
 */
struct capture *capture_new(const struct capture_opts *o, const struct capture_sink *sink,
			    char *err, size_t errlen);

/*
 * Wait up to timeout_ms for samples, then deliver every event stamped before
 * now. 0, the sink's non-zero value, or -errno of the ring buffer.
 */
int capture_poll(struct capture *c, int timeout_ms);

/* -p: does any target process (given or followed) still run? */
bool capture_targets_alive(struct capture *c);

/* Stop sampling and deliver everything left. 0 or as capture_poll(). Call it once. */
int capture_stop(struct capture *c);

/* The counts so far; the sampler's own counters once stopped. Valid until capture_free(). */
const struct capture_stats *capture_stats(const struct capture *c);

/* Detach and free. Accepts NULL. */
void capture_free(struct capture *c);

#endif /* XPROF_CAPTURE_H */
