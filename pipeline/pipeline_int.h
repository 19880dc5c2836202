/* SPDX-License-Identifier: MIT */
/*
 * pipeline/ internals, for the session and its unit tests: how a mapped file
 * is found as the process that maps it sees it (mapped.c).
 */
#ifndef XPROF_PIPELINE_INT_H
#define XPROF_PIPELINE_INT_H

#include <stddef.h>
#include <stdint.h>

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

#endif /* XPROF_PIPELINE_INT_H */
