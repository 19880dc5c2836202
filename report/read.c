// SPDX-License-Identifier: MIT
/*
 * Reading a finished profile from a file: the bytes come in whole (at most
 * REP_READ_MAX), through a descriptor opened without following a link, and
 * go to the folded or pprof parser, which check everything else.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"
#include "report/report_int.h"

void rep_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int slurp(int fd, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *b;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size > REP_READ_MAX)
		return -EFBIG;
	/* The size may change under us: read to EOF, but never past the bound. */
	cap = (size_t)st.st_size + 1;
	b = malloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > REP_READ_MAX) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(b);
			return err;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (n > REP_READ_MAX) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

struct rep_profile *rep_profile_read_file(const char *path, enum rep_format fmt, char *why,
					  size_t whylen)
{
	struct rep_profile *p = NULL;
	char *buf = NULL;
	size_t len = 0;
	int fd, err;

	fd = xl_open_regular(path);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	err = slurp(fd, &buf, &len);
	close(fd);
	if (err)
		goto out;
	/* A folded file has no period; pprof says its own. */
	p = rep_profile_new(0);
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	if (fmt == REP_FMT_PPROF)
		err = rep_read_pprof(p, buf, len, why, whylen);
	else
		err = rep_read_folded(p, buf, len, why, whylen);
out:
	free(buf);
	if (err) {
		rep_profile_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}
