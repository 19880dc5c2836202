// SPDX-License-Identifier: MIT
/*
 * JIT symbol maps, /tmp/perf-PID.map: one "START SIZE name" line per code
 * blob, START and SIZE in hex with or without 0x, the name running to the end
 * of the line (it may hold spaces). V8, the JVM agents, LuaJIT, .NET and
 * Python 3.12's -X perf write them. Code can be re-emitted at an address
 * already listed: the later line wins. Lines that do not parse are skipped.
 *
 * /tmp is writable by everyone, so the file at that name proves nothing:
 * another user can plant a map that names a root process's frames, a FIFO
 * that blocks the reader forever, or a symlink to /dev/zero. A map is read
 * only from a regular file that root, the process's user or the reader's
 * user owns (perf's check, plus the recorded owner of the process), and only
 * up to a size limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/symbolize_int.h"

struct praw {
	uint64_t start, size;
	uint32_t name_off, line;
};

static int praw_cmp(const void *pa, const void *pb)
{
	const struct praw *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Parses a hex number; false if there is none. */
static bool parse_hex(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int digits = 0;

	if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (++digits > 16)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits)
		return false;
	*pp = p;
	*out = v;
	return true;
}

int sym_perfmap_parse(struct sym_perfmap *m, const char *text, size_t len)
{
	struct sym_blob blob = {0};
	struct praw *raw = NULL;
	size_t n = 0, cap = 0;
	uint32_t lineno = 0;
	int err = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		const char *q = p;
		uint64_t start, size;

		lineno++;
		if (!parse_hex(&q, eol, &start) || q == eol || (*q != ' ' && *q != '\t'))
			goto next;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (!parse_hex(&q, eol, &size) || q == eol || (*q != ' ' && *q != '\t'))
			goto next;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		const char *ne = eol;

		while (ne > q && (ne[-1] == '\r' || ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		if (ne == q || size == 0 || start + size < start)
			goto next;
		size_t nlen = (size_t)(ne - q);

		if (nlen > 4096)
			nlen = 4096;
		if (memchr(q, '\0', nlen))
			goto next;
		int64_t off = sym_blob_add(&blob, q, nlen);

		if (off < 0) {
			err = (int)off;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct praw *r = realloc(raw, ncap * sizeof(*r));

			if (!r) {
				err = -ENOMEM;
				goto out;
			}
			raw = r;
			cap = ncap;
		}
		raw[n++] = (struct praw){start, size, (uint32_t)off, lineno};
	next:
		p = eol + 1;
	}
	if (n)
		qsort(raw, n, sizeof(*raw), praw_cmp);
	m->start = malloc((n ? n : 1) * sizeof(*m->start));
	m->size = malloc((n ? n : 1) * sizeof(*m->size));
	m->name_off = malloc((n ? n : 1) * sizeof(*m->name_off));
	m->frames = calloc(n ? n : 1, sizeof(*m->frames));
	if (!m->start || !m->size || !m->name_off || !m->frames) {
		err = -ENOMEM;
		goto out;
	}
	m->n = 0;
	for (size_t i = 0; i < n; i++) {
		/* Same start: the later line (sorted last) replaces the earlier. */
		if (m->n && m->start[m->n - 1] == raw[i].start)
			m->n--;
		m->start[m->n] = raw[i].start;
		m->size[m->n] = raw[i].size;
		m->name_off[m->n] = raw[i].name_off;
		m->n++;
	}
	m->blob = blob.buf;
	blob.buf = NULL;
	m->loaded = true;
out:
	if (err)
		sym_perfmap_release(m);
	free(blob.buf);
	free(raw);
	return err;
}

/* Sets m->refused to "ignoring JIT map 'path': " and the reason; -EPERM, or -ENOMEM. */
__attribute__((format(printf, 3, 4))) static int refuse(struct sym_perfmap *m, const char *path,
							const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (asprintf(&m->refused, "ignoring JIT map '%s': %s", path, why) < 0) {
		m->refused = NULL;
		return -ENOMEM;
	}
	return -EPERM;
}

int sym_perfmap_load(struct sym_perfmap *m, const char *path, uint32_t uid, uint64_t max)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: no symlink. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	uid_t me = geteuid();
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* no JIT map: the usual case */
		if (errno == ELOOP)
			return refuse(m, path,
				      "a symbolic link (maps are read only from regular files)");
		return refuse(m, path, "%s", strerror(errno));
	}
	if (fstat(fd, &st)) {
		err = refuse(m, path, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = refuse(m, path, "not a regular file");
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != me && st.st_uid != uid) {
		if (uid == SYM_UID_UNKNOWN)
			err = refuse(
			    m, path,
			    "owned by uid %u, not by root or you (uid %u), and the recording "
			    "does not say who ran the process",
			    (unsigned)st.st_uid, (unsigned)me);
		else
			err = refuse(m, path,
				     "owned by uid %u, not by root or uid %u that ran the process "
				     "(another user could have written it)",
				     (unsigned)st.st_uid, (unsigned)uid);
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		err = refuse(m, path, "writable by every user (chmod o-w it)");
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = refuse(m, path,
			     "%" PRIu64 " bytes, above the limit of %" PRIu64
			     " (raise it with XPROF_PERF_MAP_MAX=BYTES)",
			     (uint64_t)st.st_size, max);
		goto out;
	}
	/* The JIT may still append: read what fstat saw, so the limit holds. */
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, text + len, (size_t)st.st_size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = refuse(m, path, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	err = sym_perfmap_parse(m, text, len);
out:
	free(text);
	close(fd);
	return err;
}

void sym_perfmap_release(struct sym_perfmap *m)
{
	sym_arena_release(&m->arena);
	free(m->refused);
	m->refused = NULL;
	free(m->start);
	free(m->size);
	free(m->name_off);
	free(m->frames);
	free(m->blob);
	m->start = m->size = NULL;
	m->name_off = NULL;
	m->frames = NULL;
	m->blob = NULL;
	m->n = 0;
	m->loaded = false;
}

long sym_perfmap_find(const struct sym_perfmap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->start[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* An older, longer blob may still hold addr past a newer short one. */
	for (size_t k = 0; k < 8 && lo > k; k++) {
		size_t i = lo - 1 - k;

		if (addr - m->start[i] < m->size[i])
			return (long)i;
	}
	return -1;
}
