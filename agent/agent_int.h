/* SPDX-License-Identifier: MIT */
/*
 * agent/ internals shared by its files and its unit tests.
 */
#ifndef XPROF_AGENT_INT_H
#define XPROF_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "recording/recording.h"

/* Is name a sink name the spool can put in a file name: 1..31 of [A-Za-z0-9_-]? */
bool ag_sink_name_ok(const char *name);

/*
 * The delay before retry number attempts (1 = the first retry): the base
 * doubled per attempt up to the cap, drawn uniformly in [d/2, d] from *rng
 * (xorshift64*, advanced).
 */
uint64_t ag_backoff_ms(unsigned attempts, uint64_t *rng);

/* "20261206T231000Z" for Unix seconds t (UTC) into buf of at least 17 bytes. */
void ag_time_name(char *buf, uint64_t t);

/*
 * The Pyroscope /ingest URL for window w into a malloc'ed string, or NULL
 * with errno (ENOMEM). Exposed for the unit tests.
 */
struct ag_push_opts;
struct ag_window;
char *ag_push_url(const struct ag_push_opts *o, const struct ag_window *w);

/* ---- pidtab.c: the labels of every process, read when it appears ------- */

#define AG_PIDTAB_DEFAULT 16384 /* processes at once; more evict the longest unseen */
#define AG_EXE_MAX	  512 /* bytes of an executable's path with its NUL; longer: no exe label */

/* What a process's labels are read from: its cgroup and its executable. "" when unknown. */
struct ag_pid_info {
	char service[AG_LABEL_MAX];
	char container[AG_LABEL_MAX];
	char exe[AG_EXE_MAX];
};

/* Fill out for pid from /proc (or a test's stand-in). 0 or -errno (-ENOENT: gone). */
typedef int (*ag_pid_read_fn)(void *ctx, uint32_t pid, struct ag_pid_info *out);

/* The /proc reader: ag_labels_read() and the link /proc/PID/exe. */
int ag_pid_read_proc(void *ctx, uint32_t pid, struct ag_pid_info *out);

/*
 * One process. Strings are owned by the table, NULL when unknown; valid
 * until the next ag_pidtab_event() or ag_pidtab_expire().
 */
struct ag_pid_ent {
	uint32_t pid;
	bool exited;	  /* its EXIT was seen (at exit_ns) */
	bool exe_pending; /* exec'ed: the next file mmap is its executable */
	uint64_t exit_ns, last_ns;
	char *service, *container, *exe;
	char build_id[2 * XP_BUILD_ID_MAX + 1]; /* hex, "" unknown */
	/*
	 * The caller's cache: a label set id valid while gen matches its own
	 * counter; the table sets gen to 0 whenever the labels change.
	 */
	uint32_t labelset;
	uint64_t gen;
};

struct ag_pidtab_stats {
	uint64_t entries; /* now */
	uint64_t added;	  /* processes that got an entry */
	uint64_t expired; /* dropped after their exit */
	uint64_t evicted; /* dropped alive because the table was full (re-read if seen again) */
};

struct ag_pidtab;

/*
 * A table of at most cap processes (0: AG_PIDTAB_DEFAULT), all its memory
 * but the strings allocated here. NULL with errno ENOMEM.
 */
struct ag_pidtab *ag_pidtab_new(size_t cap, ag_pid_read_fn rd, void *ctx);
void ag_pidtab_free(struct ag_pidtab *t); /* NULL does nothing */

/*
 * Follow one event of the capture, in time order: a process met for the
 * first time (sample, mmap, comm, uid) is read with rd while it may still
 * live; FORK copies the parent's labels (a 5 ms child is gone before it could
 * be read, and a forked child shares its parent's cgroup and executable);
 * an exec COMM re-reads the cgroup and takes the next file mmap as the
 * executable (path and build-id from the event itself); EXIT of a process
 * marks it for ag_pidtab_expire(). 0 or -ENOMEM.
 */
int ag_pidtab_event(struct ag_pidtab *t, const struct xp_event *ev);

/* The entry of pid, or NULL. */
struct ag_pid_ent *ag_pidtab_get(struct ag_pidtab *t, uint32_t pid);

/*
 * Drop the processes that exited at least grace_ns before end_ns (stream
 * time) and were not sampled since: call it once the window ending at end_ns
 * is taken, so every sample that needed an entry had it.
 */
void ag_pidtab_expire(struct ag_pidtab *t, uint64_t end_ns, uint64_t grace_ns);

void ag_pidtab_get_stats(const struct ag_pidtab *t, struct ag_pidtab_stats *st);

#endif /* XPROF_AGENT_INT_H */
