/* SPDX-License-Identifier: MIT */
/*
 * pipeline/ internals, for the session and its unit tests: how a mapped file
 * is found as the process that maps it sees it (mapped.c).
 */
#ifndef XPROF_PIPELINE_INT_H
#define XPROF_PIPELINE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording/recording.h"

/* Where xp_mapped_open() found the file. */
enum xp_mapped_via {
	XP_MAPPED_HOST,	     /* the path as it is on this machine */
	XP_MAPPED_MAP_FILES, /* PROCFS/PID/map_files/START-END: the mapping's own file */
	XP_MAPPED_ROOT,	     /* PROCFS/PID/root/PATH: the path in the process's mount namespace */
};

/*
 * Open the file process pid maps at [start, end) from path (as the process
 * names it), if one with GNU build-id bid (bid_len bytes, 1..XP_BUILD_ID_MAX)
 * can be found: the host's path first (most processes share the host's
 * files), then procfs/PID/map_files/START-END (the very file mapped, even
 * if deleted or replaced since), then procfs/PID/root/PATH (resolved inside
 * the process's root, no symbolic link followed). A candidate is accepted
 * only if its build-id is bid: a container may hold another file at a host
 * path, and a pid may have been reused since the recording. procfs is
 * "/proc" but for tests.
 *
 * On success returns a read-only descriptor of a regular file, which the
 * caller closes, with *via saying which candidate it is, and writes to out
 * (outlen bytes) a path that names the same file, for code that opens by
 * path (the unwind table cache, the symbolizer): for map_files, the root
 * path if it is the same file (its name and directory are what symbols and
 * .gnu_debuglink lookups expect), else the map_files link itself.
 * -ESTALE: some candidate could be read but none has bid (the host's file
 * changed, the process is gone); -ENOENT: none could be read; -EINVAL: no
 * bid, or out too small for the path.
 */
int xp_mapped_open(const char *procfs, uint32_t pid, uint64_t start, uint64_t end, const char *path,
		   const uint8_t *bid, size_t bid_len, char *out, size_t outlen,
		   enum xp_mapped_via *via);

/*
 * Files of new mappings held open until the session reads the mapping
 * (xp_session_pin()): a capture notes each mapping on its own thread as soon
 * as the kernel reports it, while the session may be seconds behind (the
 * first mmap of a library builds its tables), and a short-lived process in
 * a container takes its mount namespace with it. Only files the host's path
 * does not hold are kept: the session finds those by path anyway.
 *
 * Bounds: at most XP_PINS_MAX descriptors, the oldest closed first when a
 * new one comes (a file the session never asks for: its module already
 * existed); a direct-mapped memo of XP_PINS_MEMO (path, build-id) hashes
 * whose host file matched, so a library every process maps is checked once.
 * Thread-safe: one lock around the table, none held while files are opened.
 */
#define XP_PINS_MAX  64
#define XP_PINS_MEMO 1024

struct xp_pin {
	uint8_t bid[XP_BUILD_ID_MAX];
	uint32_t bid_len;
	int fd;
	uint64_t seq; /* order of arrival: the eviction order */
};

struct xp_pins {
	pthread_mutex_t lock;
	const char *procfs; /* "/proc" but for tests; borrowed */
	struct xp_pin v[XP_PINS_MAX];
	unsigned n;
	uint64_t seq;
	uint64_t host[XP_PINS_MEMO]; /* hashes of (path, build-id) the host holds */
	uint64_t pinned, evicted;    /* descriptors kept, and closed unused to make room */
};

void xp_pins_init(struct xp_pins *p, const char *procfs);
/* Close every descriptor still held. */
void xp_pins_release(struct xp_pins *p);
/* Keep mm's file open if it has a build-id and the host's path is not that file. */
void xp_pins_note(struct xp_pins *p, const struct xp_ev_mmap *mm);
/* Is a descriptor of build-id bid held? */
bool xp_pins_held(struct xp_pins *p, const uint8_t *bid, size_t bid_len);
/* The held descriptor of build-id bid, which the caller now owns; -ENOENT if none. */
int xp_pins_take(struct xp_pins *p, const uint8_t *bid, size_t bid_len);

#endif /* XPROF_PIPELINE_INT_H */
