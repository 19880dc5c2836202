// SPDX-License-Identifier: MIT
/*
 * The output-directory sink: one DIR/YYYYMMDDTHHMMSSZ-HOST[-SERVICE].pb.gz
 * per window (and .folded beside it when the window has folded text),
 * written atomically through lib/, so a reader never sees half a file. The
 * UTC start time leads the name, so `ls` lists windows in time order and
 * retention can take a window's age from its name rather than from an
 * mtime that a copy or a touch changes.
 *
 * Retention runs after each write over the files of that shape only (a
 * user's other files in DIR are never removed): first every file whose name
 * is older than max_age, then the oldest until the rest fit in max_size.
 * The files of the window just written are never removed, so a window
 * larger than max_size still lands.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_int.h"
#include "lib/lib.h"

struct dirsink {
	struct ag_sink sink;
	char *dir;
	char host[64];
	uint64_t max_age, max_size;
	uint64_t removed;
};

void ag_time_name(char *buf, uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The part of a file name a host or service gives: [A-Za-z0-9._] kept, the rest '_'. */
static void name_part(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++) {
		char c = src[i];

		dst[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_')
			     ? c
			     : '_';
	}
	dst[i] = '\0';
}

/* Unix seconds from a window file's name, or -1 if the name is not one of ours. */
static int64_t name_time(const char *name)
{
	struct tm tm = {0};
	const char *end;
	size_t n = strlen(name);

	if (n < 18 || name[8] != 'T' || name[15] != 'Z' || name[16] != '-')
		return -1;
	if (!(n > 6 && !strcmp(name + n - 6, ".pb.gz")) &&
	    !(n > 7 && !strcmp(name + n - 7, ".folded")))
		return -1;
	end = strptime(name, "%Y%m%dT%H%M%SZ", &tm);
	if (end != name + 16)
		return -1;
	return (int64_t)timegm(&tm);
}

struct wfile {
	char *name;
	int64_t t;
	uint64_t bytes;
};

static int cmp_wfile(const void *a, const void *b)
{
	const struct wfile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void retain(struct dirsink *d, const char *keep_prefix)
{
	struct wfile *f = NULL;
	size_t n = 0, cap = 0, keep_len = strlen(keep_prefix);
	uint64_t total = 0, now = (uint64_t)time(NULL);
	DIR *dir;
	struct dirent *de;
	int dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return;
	}
	while ((de = readdir(dir))) {
		struct stat st;
		int64_t t = name_time(de->d_name);

		if (t < 0 || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (n == cap) {
			struct wfile *nf = realloc(f, (cap = cap ? cap * 2 : 64) * sizeof(*nf));

			if (!nf)
				goto out;
			f = nf;
		}
		f[n].name = strdup(de->d_name);
		if (!f[n].name)
			goto out;
		f[n].t = t;
		f[n].bytes = (uint64_t)st.st_size;
		total += f[n].bytes;
		n++;
	}
	if (n)
		qsort(f, n, sizeof(*f), cmp_wfile);
	for (size_t i = 0; i < n; i++) {
		bool old = d->max_age && (uint64_t)f[i].t + d->max_age < now;
		bool big = d->max_size && total > d->max_size;

		if (!strncmp(f[i].name, keep_prefix, keep_len) && f[i].name[keep_len] == '.')
			continue;
		if ((old || big) && !unlinkat(dfd, f[i].name, 0)) {
			total -= f[i].bytes;
			d->removed++;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(f[i].name);
	free(f);
	closedir(dir);
}

static int write_one(const char *path, const void *data, size_t len)
{
	struct xl_out o;
	int err = xl_out_open(&o, path, 0, 0600);

	if (err)
		return err;
	err = xl_write_all(o.fd, data, len);
	if (err) {
		xl_out_abort(&o);
		return err;
	}
	return xl_out_commit(&o);
}

static enum ag_send dir_send(struct ag_sink *s, const struct ag_window *w, char *why, size_t whylen)
{
	struct dirsink *d = s->ctx;
	char stamp[17], service[64], *base = NULL, *path = NULL;
	int err;

	ag_time_name(stamp, w->start);
	name_part(service, sizeof(service), w->service);
	if (asprintf(&base, "%s-%s%s%s", stamp, d->host, service[0] ? "-" : "", service) < 0) {
		snprintf(why, whylen, "out of memory");
		return AG_SEND_RETRY;
	}
	if (asprintf(&path, "%s/%s.pb.gz", d->dir, base) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto fail;
	}
	err = write_one(path, w->pprof, w->pprof_len);
	if (!err && w->folded) {
		free(path);
		if (asprintf(&path, "%s/%s.folded", d->dir, base) < 0) {
			path = NULL;
			err = -ENOMEM;
		} else {
			err = write_one(path, w->folded, w->folded_len);
		}
	}
	if (err)
		goto fail;
	retain(d, base);
	free(path);
	free(base);
	return AG_SEND_OK;
fail:
	snprintf(why, whylen, "cannot write '%s': %s", path ? path : d->dir, xl_strerror(err));
	free(path);
	free(base);
	/* A full disk or a removed directory may be fixed; the spool bounds the wait. */
	return AG_SEND_RETRY;
}

static void dir_free(struct ag_sink *s)
{
	struct dirsink *d = s->ctx;

	free(d->dir);
	free(d);
}

struct ag_sink *ag_sink_dir_new(const struct ag_dir_opts *o)
{
	struct dirsink *d;
	int err;

	if (!o || !o->dir || !*o->dir) {
		errno = EINVAL;
		return NULL;
	}
	err = xl_mkdirs(o->dir, 0700, NULL);
	if (!err)
		err = xl_dir_private(o->dir);
	if (err) {
		errno = -err;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dir = strdup(o->dir);
	if (!d->dir) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	name_part(d->host, sizeof(d->host), o->host && *o->host ? o->host : "host");
	d->max_age = o->max_age;
	d->max_size = o->max_size;
	d->sink = (struct ag_sink){.name = "dir", .send = dir_send, .free = dir_free, .ctx = d};
	return &d->sink;
}

uint64_t ag_sink_dir_removed(const struct ag_sink *s)
{
	const struct dirsink *d = s->ctx;

	return d->removed;
}
