// SPDX-License-Identifier: MIT
/*
 * Opening a recording: xp_recording_read() tells an .xprof file from a
 * perf.data file by its magic and hands it to the matching reader. The .xprof
 * reader maps the file read-only and parses it in place (xpf_read_mem), so a
 * large recording costs no copy and a sample's stack bytes point into the
 * mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiler/profiler_int.h"
#include "profiler/xprof_file.h"

#define PERF_MAGIC "PERFILE2"

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
	err = xpf_read_mem(map, st.st_size, fn, ctx, info, why);
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
