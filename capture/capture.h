/* SPDX-License-Identifier: MIT */
/*
 * capture/: the BPF sampler and its side-band events (record.c) and what
 * /proc says about running processes (procfs.c), for xprof record.
 */
#ifndef XPROF_CAPTURE_H
#define XPROF_CAPTURE_H

#include <signal.h>
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
 * The GNU build-id of the ELF file at path (NT_GNU_BUILD_ID in a PT_NOTE or
 * SHT_NOTE). Fills id (XP_BUILD_ID_MAX bytes) and *len. c may be NULL.
 * 0, -ENOENT (no build-id note), -EINVAL (not ELF), or -errno from open.
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

/* The effective uid of pid (/proc/PID/status "Uid:"). 0, -errno, or -EINVAL if unreadable. */
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

/* The address range of the [vdso] mapping of pid (0 = self). 0 or -ENOENT. */
int xp_procfs_vdso_range(pid_t pid, uint64_t *start, uint64_t *end);

/* ---- record.c ------------------------------------------------------------ */

struct xp_record_opts {
	uint32_t frequency;  /* Hz */
	uint32_t stack_size; /* bytes, XP_STACK_MIN..XP_STACK_MAX */
	uint32_t ev_type;    /* perf_event_attr.type of the sampling event */
	uint64_t ev_config;
	const char *ev_name; /* "cpu-clock" */
	bool all;	     /* -a */
	bool kstack;	     /* -g kernel */
	const pid_t *pids;   /* -p, npids of them */
	size_t npids;
	pid_t child;		     /* -- CMD: held child, already forked; 0 if none */
	double duration;	     /* -d seconds; 0: until stopped */
	const char *target;	     /* for the header: "-p 12", "-a", "-- ./prog" */
	const char *path;	     /* the .xprof file to write */
	volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM */
	/* Called once sampling is armed and the child is a target: release it. */
	int (*armed)(void *ctx);
	void *armed_ctx;
};

struct xp_record_result {
	uint64_t samples;	/* written */
	uint64_t lost;		/* samples dropped (ring buffer full) */
	uint64_t lost_sideband; /* mmap/comm/task events the kernel dropped */
	uint64_t misordered;	/* records written out of time order (staging overflow) */
	uint64_t maps_late;	/* processes whose mappings came from /proc at their first sample */
	uint64_t unmapped;	/* samples of processes whose mappings nothing told (gone before
				   /proc could be read, their events lost) */
	uint64_t bpf_samples;	/* the sampler's own counters (XP_STAT_*) */
	uint64_t bpf_sample_ns;
	uint64_t read_fail;
	uint64_t no_sigframe;
	uint64_t vma_find;     /* stack mappings looked up (once per thread stack) */
	uint64_t vma_fail;     /* ... that failed: those samples copied as far as mapped */
	uint64_t drop_stack2;  /* interrupted stacks left out: no ring-buffer room */
	uint64_t rb_bytes;     /* ring-buffer bytes the sampler reserved (all records) */
	uint64_t prog_run_ns;  /* bpf_prog_info run_time_ns/run_cnt of the sampler (every */
	uint64_t prog_run_cnt; /* tick, targets or not; 0 unless kernel.bpf_stats_enabled) */
	bool child_exited;
	int child_status; /* waitpid status when child_exited */
	int write_err; /* -errno that stopped the recording (full disk); the file keeps its prefix
			*/
};

/*
 * Run one recording session until *stop, the duration, or the child's exit,
 * writing o->path as it goes. On error, err gets one line for the user
 * (without the "xprof: " prefix). 0 or -errno.
 */
int xp_record_run(const struct xp_record_opts *o, struct xp_record_result *res, char *err,
		  size_t errlen);

#endif /* XPROF_CAPTURE_H */
