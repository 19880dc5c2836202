// SPDX-License-Identifier: MIT
/*
 * What /proc says about processes that existed before a recording started:
 * their executable mappings (with build-ids read from the files' ELF notes),
 * thread names, threads and the [vdso] range. xprof record turns these into
 * synthesized MMAP and COMM records, as perf does at start; everything that
 * happens later comes from the kernel's side-band events.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "lib/lib.h"

struct xp_buildid_ent {
	char *path;
	int err; /* 0, or the negative errno the read gave (remembered too) */
	uint32_t len;
	uint8_t id[XP_BUILD_ID_MAX];
};

void xp_buildid_cache_release(struct xp_buildid_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->ent[i].path);
	free(c->ent);
	c->ent = NULL;
	c->n = c->cap = 0;
}

int xp_build_id_read(struct xp_buildid_cache *c, const char *path, uint8_t *id, uint32_t *len)
{
	struct xp_buildid_ent *ent = NULL;
	size_t n;
	int err;

	*len = 0;
	if (c) {
		for (size_t i = 0; i < c->n; i++) {
			if (!strcmp(c->ent[i].path, path)) {
				*len = c->ent[i].len;
				memcpy(id, c->ent[i].id, c->ent[i].len);
				return c->ent[i].err;
			}
		}
	}
	err = xl_build_id_file(path, id, XP_BUILD_ID_MAX, &n);
	*len = n;
	if (c) {
		if (c->n == c->cap) {
			size_t ncap = c->cap ? 2 * c->cap : 64;
			struct xp_buildid_ent *ne = realloc(c->ent, ncap * sizeof(*ne));

			if (!ne)
				return err;
			c->ent = ne;
			c->cap = ncap;
		}
		ent = &c->ent[c->n];
		ent->path = strdup(path);
		if (!ent->path)
			return err;
		ent->err = err;
		ent->len = *len;
		memcpy(ent->id, id, *len);
		c->n++;
	}
	return err;
}

int xp_procfs_maps(pid_t pid, uint64_t time_ns, struct xp_buildid_cache *c,
		   int (*fn)(void *ctx, const struct xp_ev_mmap *m), void *ctx)
{
	char fname[64], line[4096 + 256];
	FILE *f;
	int err = 0;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", (int)pid);
	f = fopen(fname, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct xp_ev_mmap m = {0};
		uint64_t start, end, pgoff;
		char perms[8], *path;
		int n = 0;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s%n", &start, &end,
			   perms, &pgoff, &n) < 4 ||
		    !n)
			continue;
		if (perms[2] != 'x')
			continue;
		path = line + n;
		while (*path == ' ')
			path++;
		/*
		 * Anonymous executable memory is JIT code: without its mapping, samples
		 * there have no process mapping and never reach the perf map (perf names
		 * it "//anon" too). [vsyscall] is the kernel's, the same in every process.
		 */
		if (!*path)
			path = "//anon";
		if (!strcmp(path, "[vsyscall]"))
			continue;
		m.time_ns = time_ns;
		m.pid = m.tid = pid;
		m.start = start;
		m.len = end - start;
		m.pgoff = pgoff;
		m.prot = PROT_EXEC | (perms[0] == 'r' ? PROT_READ : 0) |
			 (perms[1] == 'w' ? PROT_WRITE : 0);
		m.path = path;
		if (*path == '/') {
			size_t pl = strlen(path);
			static const char del[] = " (deleted)";

			if (pl > sizeof(del) - 1 && !strcmp(path + pl - (sizeof(del) - 1), del)) {
				char mf[96];

				snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
					 (int)pid, start, end);
				xp_build_id_read(NULL, mf, m.build_id, &m.build_id_len);
			} else {
				char rp[4096 + 64];

				/* Through the process's root, so a container's files resolve. */
				snprintf(rp, sizeof(rp), "/proc/%d/root%s", (int)pid, path);
				xp_build_id_read(c, rp, m.build_id, &m.build_id_len);
			}
		}
		err = fn(ctx, &m);
		if (err)
			break;
	}
	fclose(f);
	return err;
}

/*
 * The owner of /proc/PID, which the kernel keeps at the process's effective
 * uid even when it is not dumpable (task_dump_owner() makes an exception for
 * this directory: "the only way to read the effective uid" before status
 * existed). A stat() costs a tenth of reading /proc/PID/status, which the
 * kernel renders whole (memory counters, signal masks) to give one line,
 * and this runs at every exec on the host.
 */
int xp_procfs_uid(pid_t pid, uint32_t *uid)
{
	char fname[64];
	struct stat st;

	snprintf(fname, sizeof(fname), "/proc/%d", (int)pid);
	if (stat(fname, &st))
		return -errno;
	*uid = (uint32_t)st.st_uid;
	return 0;
}

int xp_procfs_comm(pid_t pid, pid_t tid, char comm[XP_EV_COMM_LEN])
{
	char fname[64];
	FILE *f;
	int err = 0;

	snprintf(fname, sizeof(fname), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	f = fopen(fname, "re");
	if (!f)
		return -errno;
	if (!fgets(comm, XP_EV_COMM_LEN, f))
		err = -EIO;
	else
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
	return err;
}

static int for_each_num(const char *dir, int (*fn)(void *ctx, pid_t id), void *ctx)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		err = fn(ctx, (pid_t)v);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

int xp_procfs_threads(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	return for_each_num(dir, fn, ctx);
}

int xp_procfs_processes(int (*fn)(void *ctx, pid_t pid), void *ctx)
{
	return for_each_num("/proc", fn, ctx);
}

/* Is a task more than a zombie? /proc/PID/task/TID/stat's state after the ")" of comm. */
static bool task_running(pid_t pid, pid_t tid)
{
	char fname[96], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(fname, sizeof(fname), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	f = fopen(fname, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static int any_running(void *ctx, pid_t tid)
{
	pid_t pid = *(pid_t *)ctx;

	return task_running(pid, tid) ? 1 : 0;
}

bool xp_procfs_alive(pid_t pid)
{
	return xp_procfs_threads(pid, any_running, &pid) == 1;
}
