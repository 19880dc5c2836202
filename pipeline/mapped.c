// SPDX-License-Identifier: MIT
/*
 * Mapped files as their process sees them. A process in a container maps
 * files of its own mount namespace: the same path on the host may not
 * exist, or be another file (another build of a library, /bin/true where
 * the container has its program). perf and Parca read such files through
 * /proc/PID/root; /proc/PID/map_files/START-END is the mapping's own file,
 * even deleted. Either is trusted only with the build-id the kernel gave
 * for the mapping, so a reused pid or a planted file never stands in for
 * it; the caches key what they build by that build-id, as for host files.
 *
 * Samples are unwound shortly after they are taken (capture_poll), so the
 * process is usually alive; when it is not and the host's file differs,
 * nothing matches and the caller shows raw addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "lib/lib.h"
#include "pipeline/pipeline_int.h"
#include "recording/recording.h"

/* fd's ELF build-id is bid: 0, -ESTALE (another or none), -EINVAL (not a regular file). */
static int fd_has_build_id(int fd, const uint8_t *bid, size_t bid_len)
{
	uint8_t id[XP_BUILD_ID_MAX];
	size_t n = 0;
	struct stat st;
	void *img;
	bool same;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size < 64)
		return -ESTALE; /* no ELF header: cannot be the file */
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		return -errno;
	same = !xl_elf_build_id(img, (size_t)st.st_size, id, sizeof(id), &n) && n == bid_len &&
	       !memcmp(id, bid, n);
	munmap(img, (size_t)st.st_size);
	return same ? 0 : -ESTALE;
}

/*
 * PATH inside procfs/PID/root, no symbolic link followed: the kernel names
 * a mapping by its real path, so a link on the way is something the
 * container's owner put there, pointing anywhere on the host (an absolute
 * link resolves against our root). openat2() is Linux 5.6; before it, the
 * last component at least is not followed, and the build-id check decides.
 */
static int open_in_root(const char *root, const char *path)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char full[4352];
	int dfd, fd;

	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full)) {
			close(dfd);
			return -ENAMETOOLONG;
		}
		fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	}
	if (fd < 0)
		fd = -errno;
	close(dfd);
	return fd;
}

/* Keep fd if its file has bid: 0; else close it, -ESTALE or -errno. */
static int keep_if_match(int fd, const uint8_t *bid, size_t bid_len)
{
	int err;

	if (fd < 0)
		return fd;
	err = fd_has_build_id(fd, bid, bid_len);
	if (err)
		close(fd);
	return err;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The worse outcome of two tries: a file that was there but wrong says more than none. */
static int worse(int a, int b)
{
	return a == -ESTALE || b == -ESTALE ? -ESTALE : -ENOENT;
}

int xp_mapped_open(const char *procfs, uint32_t pid, uint64_t start, uint64_t end, const char *path,
		   const uint8_t *bid, size_t bid_len, char *out, size_t outlen,
		   enum xp_mapped_via *via)
{
	char mf[256], root[256];
	int fd, fd2, err, res = -ENOENT;
	bool named;

	if (!bid_len || bid_len > XP_BUILD_ID_MAX || !path || path[0] != '/' ||
	    strlen(path) >= outlen)
		return -EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	err = keep_if_match(fd < 0 ? -errno : fd, bid, bid_len);
	if (!err) {
		snprintf(out, outlen, "%s", path);
		*via = XP_MAPPED_HOST;
		return fd;
	}
	res = worse(res, err);

	if (snprintf(root, sizeof(root), "%s/%" PRIu32 "/root", procfs, pid) >= (int)sizeof(root) ||
	    snprintf(mf, sizeof(mf), "%s/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, procfs, pid,
		     start, end) >= (int)sizeof(mf))
		return -EINVAL;

	/* The magic link of the mapping itself: following it is the point. */
	fd = open(mf, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	err = keep_if_match(fd < 0 ? -errno : fd, bid, bid_len);
	if (!err) {
		*via = XP_MAPPED_MAP_FILES;
		/* the same file by a name that says what it is, if it has one */
		fd2 = open_in_root(root, path);
		named = fd2 >= 0 && same_file(fd, fd2) &&
			snprintf(out, outlen, "%s%s", root, path) < (int)outlen;
		if (fd2 >= 0)
			close(fd2);
		if (named || snprintf(out, outlen, "%s", mf) < (int)outlen)
			return fd;
		close(fd);
		return -EINVAL;
	}
	res = worse(res, err);

	fd = open_in_root(root, path);
	err = keep_if_match(fd, bid, bid_len);
	if (!err) {
		if (snprintf(out, outlen, "%s%s", root, path) >= (int)outlen) {
			close(fd);
			return -EINVAL;
		}
		*via = XP_MAPPED_ROOT;
		return fd;
	}
	return worse(res, err);
}

/* ---- files held for the session ------------------------------------------ */

void xp_pins_init(struct xp_pins *p, const char *procfs)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->procfs = procfs;
}

void xp_pins_release(struct xp_pins *p)
{
	for (unsigned i = 0; i < p->n; i++)
		close(p->v[i].fd);
	p->n = 0;
	pthread_mutex_destroy(&p->lock);
}

/* The slot holding bid, or -1. Under the lock. */
static int pin_find(const struct xp_pins *p, const uint8_t *bid, size_t bid_len)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->v[i].bid_len == bid_len && !memcmp(p->v[i].bid, bid, bid_len))
			return (int)i;
	return -1;
}

/* Remove slot i (its descriptor is the caller's now). Under the lock. */
static void pin_remove(struct xp_pins *p, unsigned i)
{
	p->v[i] = p->v[--p->n];
}

void xp_pins_note(struct xp_pins *p, const struct xp_ev_mmap *mm)
{
	char name[4352];
	enum xp_mapped_via via;
	uint64_t h;
	size_t slot;
	bool known;
	int fd;

	if (!mm->build_id_len || mm->build_id_len > XP_BUILD_ID_MAX || mm->path[0] != '/')
		return;
	h = xl_fnv1a(mm->build_id, mm->build_id_len,
		     xl_fnv1a(mm->path, strlen(mm->path), XL_FNV_SEED));
	h = h ? h : 1; /* 0 marks an empty memo slot */
	slot = (size_t)(xl_mix64(h) % XP_PINS_MEMO);
	pthread_mutex_lock(&p->lock);
	known = p->host[slot] == h || pin_find(p, mm->build_id, mm->build_id_len) >= 0;
	pthread_mutex_unlock(&p->lock);
	if (known)
		return;
	fd = xp_mapped_open(p->procfs, mm->pid, mm->start, mm->start + mm->len, mm->path,
			    mm->build_id, mm->build_id_len, name, sizeof(name), &via);
	if (fd < 0)
		return; /* gone already, or nowhere: the session will count it */
	pthread_mutex_lock(&p->lock);
	if (via == XP_MAPPED_HOST) {
		p->host[slot] = h;
	} else if (pin_find(p, mm->build_id, mm->build_id_len) < 0) {
		if (p->n == XP_PINS_MAX) {
			unsigned old = 0;

			for (unsigned i = 1; i < p->n; i++)
				if (p->v[i].seq < p->v[old].seq)
					old = i;
			close(p->v[old].fd);
			pin_remove(p, old);
			p->evicted++;
		}
		p->v[p->n].fd = fd;
		memcpy(p->v[p->n].bid, mm->build_id, mm->build_id_len);
		p->v[p->n].bid_len = mm->build_id_len;
		p->v[p->n].seq = ++p->seq;
		p->n++;
		p->pinned++;
		fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (fd >= 0)
		close(fd);
}

bool xp_pins_held(struct xp_pins *p, const uint8_t *bid, size_t bid_len)
{
	bool held;

	pthread_mutex_lock(&p->lock);
	held = pin_find(p, bid, bid_len) >= 0;
	pthread_mutex_unlock(&p->lock);
	return held;
}

int xp_pins_take(struct xp_pins *p, const uint8_t *bid, size_t bid_len)
{
	int i, fd = -ENOENT;

	pthread_mutex_lock(&p->lock);
	i = pin_find(p, bid, bid_len);
	if (i >= 0) {
		fd = p->v[i].fd;
		pin_remove(p, (unsigned)i);
	}
	pthread_mutex_unlock(&p->lock);
	return fd;
}
