// SPDX-License-Identifier: MIT
/*
 * Safe files (lib.h): the one place that creates outputs and cache files.
 * The rules are in lib.h; this file says why each step is there.
 *
 * The threat is a root `xprof` writing into a directory other users can
 * write (/tmp, a shared cache): a link planted at the output path, a file
 * pre-created there by someone else, or two recorders racing for one path.
 * lstat() then O_NOFOLLOW/O_EXCL close the first two; flock() the third.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"

const char *xl_strerror(int err)
{
	switch (-err) {
	case ENOSPC:
		return "no space left on device";
	case EDQUOT:
		return "disk quota exceeded";
	case ELOOP:
		return "a symbolic link owned by another user";
	case EBUSY:
		return "being written by another process";
	case EPERM:
		return "a file owned by another user";
	case EINVAL:
		return "not a regular file";
	case EISDIR:
		return "a directory";
	case ENOENT:
		return "no such directory";
	case EACCES:
		return "permission denied";
	default:
		return strerror(-err);
	}
}

int xl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * The path to write for path: itself, or the target of a link the caller
 * owns (resolved in full, so the result is no link). A link of another user
 * gives -ELOOP. *out is malloc'ed.
 */
static int resolve_out(const char *path, char **out)
{
	struct stat st;

	*out = NULL;
	if (!*path)
		return -ENOENT;
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			return -errno;
	} else if (S_ISLNK(st.st_mode)) {
		char buf[PATH_MAX];

		if (st.st_uid != geteuid())
			return -ELOOP;
		/* The caller's own link: write where it points, as any editor would. */
		if (!realpath(path, buf)) {
			if (errno != ENOENT)
				return -errno;
			/* a dangling link: its target's directory must exist */
			ssize_t n = readlink(path, buf, sizeof(buf) - 1);

			if (n < 0)
				return -errno;
			buf[n] = 0;
			if (buf[0] != '/') {
				/* relative to the link's directory */
				const char *slash = strrchr(path, '/');
				int len = slash ? (int)(slash - path) + 1 : 0;

				if (asprintf(out, "%.*s%s", len, path, buf) < 0) {
					*out = NULL;
					return -ENOMEM;
				}
			} else if (!(*out = strdup(buf))) {
				return -ENOMEM;
			}
			if (!lstat(*out, &st) && S_ISLNK(st.st_mode)) {
				free(*out); /* a dangling chain of links: not worth the ambiguity */
				*out = NULL;
				return -ELOOP;
			}
			return 0;
		}
		*out = strdup(buf);
		return *out ? 0 : -ENOMEM;
	} else if (S_ISDIR(st.st_mode)) {
		return -EISDIR;
	}
	*out = strdup(path);
	return *out ? 0 : -ENOMEM;
}

/* The directory part of path, malloc'ed ("." for a bare name). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int xl_out_check(const char *path)
{
	char *real = NULL, *dir = NULL;
	struct stat st;
	int err = resolve_out(path, &real);

	if (err)
		return err;
	if (strlen(real) >= PATH_MAX - 16) {
		err = -ENAMETOOLONG;
		goto out;
	}
	dir = dir_of(real);
	if (!dir) {
		err = -ENOMEM;
		goto out;
	}
	if (stat(dir, &st))
		err = -errno;
	else if (!S_ISDIR(st.st_mode))
		err = -ENOTDIR;
	else if (access(dir, W_OK | X_OK))
		err = -errno;
out:
	free(dir);
	free(real);
	return err;
}

/* A fresh temporary name beside path: ".<name>.XXXXXXXX" in its directory. */
static int tmp_open(const char *path, int mode, char **tmpp)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;

	for (int tries = 0; tries < 100; tries++) {
		uint32_t r;
		char *tmp;
		int fd;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
		if (asprintf(&tmp, "%.*s.%s.%08x", (int)dlen, path, path + dlen, r) < 0)
			return -ENOMEM;
		/* O_EXCL with O_CREAT never follows a link: a planted name fails with EEXIST. */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0) {
			*tmpp = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int stream_open(const char *path, int mode)
{
	struct stat st;
	int fd, err;

	/* O_NONBLOCK: a FIFO planted at the path must not hang the recorder. */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (S_ISCHR(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid())) {
		/*
		 * /dev/null (benchmarks): a device of root or the caller is
		 * nothing another user planted; there is nothing to lock or
		 * truncate.
		 */
		if (fcntl(fd, F_SETFL, 0)) {
			err = -errno;
			goto fail;
		}
		return fd;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto fail;
	}
	/*
	 * Another user's file would let them read what root recorded (stack
	 * memory) and change it later; a file we create is ours.
	 */
	if (st.st_uid != geteuid()) {
		err = -EPERM;
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	/* Truncate only under the lock: the other writer's file stays whole. */
	if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0)) {
		err = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int xl_out_open(struct xl_out *o, const char *path, unsigned flags, int mode)
{
	int err;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->flags = flags;
	err = resolve_out(path, &o->path);
	if (err)
		goto fail;
	if (flags & XL_OUT_STREAM)
		err = stream_open(o->path, mode);
	else
		err = tmp_open(o->path, mode, &o->tmp);
	if (err < 0)
		goto fail;
	o->fd = err;
	return 0;
fail:
	free(o->path);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	return err;
}

FILE *xl_out_stdio(struct xl_out *o)
{
	if (!o->f)
		o->f = fdopen(o->fd, "w");
	return o->f;
}

static void out_release(struct xl_out *o)
{
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

int xl_out_commit(struct xl_out *o)
{
	int err = 0;

	if (o->fd < 0)
		return -EBADF;
	if (o->f && fflush(o->f))
		err = -errno;
	/* EINVAL: a device such as /dev/null, which has nothing to sync */
	if (!err && (o->flags & XL_OUT_SYNC) && fsync(o->fd) && errno != EINVAL)
		err = -errno;
	if (o->f) {
		if (fclose(o->f) && !err)
			err = -errno;
	} else if (close(o->fd) && !err) {
		err = -errno;
	}
	o->f = NULL;
	o->fd = -1;
	if (o->tmp) {
		if (!err && rename(o->tmp, o->path))
			err = -errno;
		if (err)
			unlink(o->tmp);
	}
	out_release(o);
	return err;
}

void xl_out_abort(struct xl_out *o)
{
	if (o->f)
		fclose(o->f);
	else if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	out_release(o);
}

int xl_write_file(const char *path, const void *buf, size_t len)
{
	struct xl_out o;
	int err = xl_out_open(&o, path, 0, 0600);

	if (err)
		return err;
	err = xl_write_all(o.fd, buf, len);
	if (err) {
		xl_out_abort(&o);
		return err;
	}
	return xl_out_commit(&o);
}

/* ---- directories ------------------------------------------------------------ */

int xl_mkdirs(const char *path, int mode, char **bad)
{
	char *p = strdup(path), *c;
	int err = 0;

	if (bad)
		*bad = NULL;
	if (!p)
		return -ENOMEM;
	if (!*p) {
		free(p);
		return -ENOENT;
	}
	/* Each prefix in turn, the whole path last. */
	for (c = p + 1;; c++) {
		bool last = !*c;
		struct stat st;

		if (!last && *c != '/')
			continue;
		*c = '\0';
		if (!lstat(p, &st)) {
			if (S_ISLNK(st.st_mode)) {
				/*
				 * A link of root or the caller (/home -> /usr/home) is
				 * trusted as those users are; another user's could point
				 * anywhere.
				 */
				if (st.st_uid != 0 && st.st_uid != geteuid())
					err = -ELOOP;
				else if (stat(p, &st))
					err = -errno;
			}
			if (!err && !S_ISDIR(st.st_mode))
				err = -ENOTDIR;
		} else if (errno != ENOENT) {
			err = -errno;
		} else if (mkdir(p, mode) && errno != EEXIST) {
			err = -errno;
		} else if (lstat(p, &st) || !S_ISDIR(st.st_mode)) {
			/* EEXIST from a racing creator: what is there now must be a directory */
			err = -ENOTDIR;
		}
		if (err) {
			if (bad)
				*bad = strdup(p);
			break;
		}
		if (last)
			break;
		*c = '/';
	}
	free(p);
	return err;
}

int xl_dir_private(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return -EACCES;
	return 0;
}

int xl_open_regular(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}
