// SPDX-License-Identifier: MIT
/*
 * Opening a recording: xp_recording_read() tells an .xprof file from a
 * perf.data file by its magic and hands it to the matching reader. The .xprof
 * reader maps the file read-only and parses it in place (xpf_read_mem), so a
 * large recording costs no copy beyond the stack bytes a version 2 sample
 * shares with its thread's previous one. Pages behind the read cursor are
 * given back as it goes, so memory does not grow with the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recording/recording_int.h"
#include "recording/xprof_file.h"

#define PERF_MAGIC   "PERFILE2"
#define RELEASE_STEP (16u << 20) /* give back consumed pages 16 MiB at a time */

/* Wraps the caller's callback to release the mapping behind the read cursor. */
struct releaser {
	xp_event_fn fn;
	void *ctx;
	uint8_t *map;
	size_t len, released; /* bytes [0, released) were given back */
	size_t pos;	      /* offset of the record being delivered (xpf_read_mem sets it) */
};

static int release_behind(void *ctx, const struct xp_event *ev)
{
	struct releaser *r = ctx;
	int ret = r->fn ? r->fn(r->ctx, ev) : 0; /* NULL: the caller only counts */

	/*
	 * Events are parsed in file order, and callbacks copy what they keep
	 * (the event's pointers are valid only during the call), so every page
	 * before this record is done with (the reader keeps its own copy of
	 * the stack bytes later samples may share). MADV_DONTNEED on a private
	 * read-only file mapping only drops pages: touching one again reads it
	 * back from the file, so a mistake here costs time, never data.
	 */
	if (r->pos < r->len && r->pos >= r->released + 2 * RELEASE_STEP) {
		size_t upto = (r->pos - RELEASE_STEP) & ~(size_t)0xfff;

		madvise(r->map + r->released, upto - r->released, MADV_DONTNEED);
		r->released = upto;
	}
	return ret;
}

int xp_xprof_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		  const char **why)
{
	struct stat st;
	void *map;
	int fd, err;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EINVAL;
	}
	if (st.st_size == 0) {
		close(fd);
		*why = "empty file";
		return -EINVAL;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return err;
	struct releaser rel = {.fn = fn, .ctx = ctx, .map = map, .len = st.st_size};

	madvise(map, st.st_size, MADV_SEQUENTIAL);
	err = xpf_read_mem(map, st.st_size, release_behind, &rel, info, why, &rel.pos);
	munmap(map, st.st_size);
	return err;
}

int xp_recording_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		      const char **why)
{
	char magic[8];
	ssize_t n;
	int fd;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n < 0)
		return -errno;
	if (n == sizeof(magic) && !memcmp(magic, XPF_MAGIC, XPF_MAGIC_LEN))
		return xp_xprof_read(path, fn, ctx, info, why);
	if (n == sizeof(magic) && !memcmp(magic, PERF_MAGIC, 8))
		return xp_perfdata_read(path, fn, ctx, info, why);
	*why = "not a recording (neither .xprof nor perf.data)";
	return -EINVAL;
}

bool xp_rec_info_skipped(const struct xp_rec_info *info, const char *path, char *buf, size_t cap)
{
	if (cap)
		buf[0] = 0;
	if (!info->skip_bytes)
		return false;
	snprintf(buf, cap,
		 "%s: %s record at offset %" PRIu64 " (type %" PRIu32 "): skipped the last %" PRIu64
		 " bytes%s%s%s",
		 path, info->skip_why ? "corrupt" : "truncated", info->skip_offset, info->skip_type,
		 info->skip_bytes, info->skip_why ? " (" : "", info->skip_why ? info->skip_why : "",
		 info->skip_why ? ")" : "");
	return true;
}
