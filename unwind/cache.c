// SPDX-License-Identifier: MIT
/*
 * The table cache: tables in memory for the session, and on disk under
 * $XDG_CACHE_HOME/xprof/unwind-v<N>/ (or ~/.cache/xprof/...), one file per
 * ELF file, named by its build-id (hex) or, without one, by a hash of its
 * path, size, mtime and inode. A file is the table blob of unwind_int.h, so
 * loading is one read plus unw_table_from_blob()'s validation (magic,
 * version, sizes, monotonic addresses, CRC); an entry that fails it is
 * regenerated and rewritten, never used. Writes go to a temporary file that
 * is renamed into place, so a reader never sees half a table.
 *
 * A build-id given by the caller (from the recording) must match the file
 * on disk before a table is generated from it: a rebuilt library under the
 * same path would otherwise be cached under the old build-id. A cached table
 * for that build-id is still used, which is the point of keying by content.
 *
 * A file that could not be read is remembered with its errno and not
 * retried while the entry lives. Not thread-safe: one cache per thread.
 *
 * Memory: every entry counts the bytes of its table (the blob) plus its own;
 * unw_cache_trim() drops entries nobody holds (unw_cache_get() takes a
 * reference, unw_cache_put() returns it), least recently used first, until
 * the total is within the budget. Remembered failures are dropped the same
 * way, so a file fixed since gets another try.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unwind/unwind_int.h"

/* A new table version gets a new directory; old files are never even read. */
#define STR2(x)	     #x
#define STR(x)	     STR2(x)
#define CACHE_SUBDIR "unwind-v" STR(UNW_TAB_VERSION)
#define BUILD_ID_MAX 64

struct cache_entry {
	char *path;
	uint8_t build_id[BUILD_ID_MAX];
	size_t build_id_len;
	struct unw_table *tab; /* NULL: failed with err */
	int err;
	unsigned refs;	   /* unw_cache_get()s not yet put back */
	uint64_t last_use; /* c->tick at the last get or put: the eviction order */
};

struct unw_cache {
	char *dir;  /* .../xprof/unwind-v1, or NULL when it could not be created */
	char *root; /* .../xprof: other caches (symbols) live beside this one */
	struct cache_entry *e;
	size_t n, cap;
	uint64_t tick;
	struct unw_cache_stats st;
};

/* mkdir -p, mode 0700: the cache describes which libraries a user runs. */
static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

struct unw_cache *unw_cache_new(const char *dir)
{
	struct unw_cache *c = calloc(1, sizeof(*c));
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int err;

	if (!c)
		return NULL;
	if (dir)
		err = asprintf(&c->dir, "%s/%s", dir, CACHE_SUBDIR);
	else if (xdg && xdg[0] == '/')
		err = asprintf(&c->dir, "%s/xprof/%s", xdg, CACHE_SUBDIR);
	else if (home && home[0] == '/')
		err = asprintf(&c->dir, "%s/.cache/xprof/%s", home, CACHE_SUBDIR);
	else
		err = asprintf(&c->dir, "/tmp/xprof-%u/%s", (unsigned)getuid(), CACHE_SUBDIR);
	if (err < 0) {
		c->dir = NULL;
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	err = mkdirs(c->dir);
	if (!err) {
		c->root = strdup(c->dir);
		if (c->root)
			*strrchr(c->root, '/') = '\0';
		else
			err = -ENOMEM;
	}
	if (err) {
		free(c->dir);
		free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

const char *unw_cache_root(const struct unw_cache *c)
{
	return c->root;
}

void unw_cache_free(struct unw_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].path);
		unw_table_free(c->e[i].tab);
	}
	free(c->e);
	free(c->dir);
	free(c->root);
	free(c);
}

static size_t entry_bytes(const struct cache_entry *e)
{
	size_t len = 0;

	if (e->tab)
		unw_table_blob(e->tab, &len);
	return sizeof(*e) + strlen(e->path) + 1 + len;
}

void unw_cache_get_stats(const struct unw_cache *c, struct unw_cache_stats *out)
{
	*out = c->st;
	out->entries = c->n;
	out->bytes = 0;
	for (size_t i = 0; i < c->n; i++)
		out->bytes += entry_bytes(&c->e[i]);
}

void unw_cache_put(struct unw_cache *c, const struct unw_table *tab)
{
	if (!c || !tab)
		return;
	for (size_t i = c->n; i-- > 0;) {
		if (c->e[i].tab == tab && c->e[i].refs) {
			c->e[i].refs--;
			c->e[i].last_use = ++c->tick;
			return;
		}
	}
}

static int by_last_use(const void *a, const void *b)
{
	const struct cache_entry *x = *(const struct cache_entry *const *)a;
	const struct cache_entry *y = *(const struct cache_entry *const *)b;

	return (x->last_use > y->last_use) - (x->last_use < y->last_use);
}

void unw_cache_trim(struct unw_cache *c, size_t budget)
{
	struct cache_entry **idle;
	size_t total = 0, nidle = 0, j = 0;

	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		total += entry_bytes(&c->e[i]);
	if (total <= budget)
		return;
	idle = malloc((c->n ? c->n : 1) * sizeof(*idle));
	if (!idle)
		return; /* no memory to sort: keep everything until the next trim */
	for (size_t i = 0; i < c->n; i++)
		if (!c->e[i].refs)
			idle[nidle++] = &c->e[i];
	qsort(idle, nidle, sizeof(*idle), by_last_use);
	for (size_t i = 0; i < nidle && total > budget; i++) {
		struct cache_entry *e = idle[i];

		total -= entry_bytes(e);
		free(e->path);
		unw_table_free(e->tab);
		e->path = NULL; /* marked for compaction below */
		c->st.evicted++;
	}
	free(idle);
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].path)
			c->e[j++] = c->e[i];
	c->n = j;
}

/* The GNU build-id note of an ELF file; 0 if it has none or cannot be read. */
static size_t file_build_id(const char *path, uint8_t *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t len = 0;

	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && !len && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((const char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz &&
			    nh.n_descsz <= max) {
				memcpy(out, (const char *)d->d_buf + doff, nh.n_descsz);
				len = nh.n_descsz;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return len;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The cache file of (path, build-id); false if there is none to use. */
static bool entry_file(const struct unw_cache *c, const char *path, const uint8_t *bid, size_t blen,
		       char *out, size_t outlen)
{
	char name[2 * BUILD_ID_MAX + 32];

	if (blen) {
		for (size_t i = 0; i < blen; i++)
			snprintf(name + 2 * i, 3, "%02x", bid[i]);
		snprintf(name + 2 * blen, sizeof(name) - 2 * blen, ".tab");
	} else {
		struct stat st;
		uint64_t h = 0xcbf29ce484222325ull;

		/* Without a build-id, any change of the file changes the key. */
		if (stat(path, &st))
			return false;
		h = fnv1a(path, strlen(path), h);
		h = fnv1a(&st.st_size, sizeof(st.st_size), h);
		h = fnv1a(&st.st_mtim, sizeof(st.st_mtim), h);
		h = fnv1a(&st.st_ino, sizeof(st.st_ino), h);
		h = fnv1a(&st.st_dev, sizeof(st.st_dev), h);
		snprintf(name, sizeof(name), "path-%016llx.tab", (unsigned long long)h);
	}
	return snprintf(out, outlen, "%s/%s", c->dir, name) < (int)outlen;
}

/* The whole file into a malloc'ed buffer; NULL if absent or unreadable. */
static void *read_all(const char *file, size_t *len)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	/* a table larger than 1 GiB is not one of ours */
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size > (1 << 30))
		goto out;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, (char *)buf + got, (size_t)st.st_size - got);

		if (r <= 0) {
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)r;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

/* Write tab to file through a temporary file and rename. Failures only cost speed. */
static void write_entry(const struct unw_table *tab, const char *file)
{
	char tmp[4200];
	size_t len, done = 0;
	const char *blob = unw_table_blob(tab, &len);
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= (int)sizeof(tmp))
		return;
	fd = mkstemp(tmp);
	if (fd < 0)
		return;
	while (done < len) {
		ssize_t w = write(fd, blob + done, len - done);

		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (close(fd) || done != len || rename(tmp, file))
		unlink(tmp);
}

static struct cache_entry *find(struct unw_cache *c, const char *path, const uint8_t *bid,
				size_t blen)
{
	for (size_t i = c->n; i-- > 0;) {
		struct cache_entry *e = &c->e[i];

		if (e->build_id_len == blen && !memcmp(e->build_id, bid, blen) &&
		    (blen || !strcmp(e->path, path)))
			return e;
	}
	return NULL;
}

static struct cache_entry *find_path(struct unw_cache *c, const char *path)
{
	for (size_t i = c->n; i-- > 0;)
		if (!strcmp(c->e[i].path, path))
			return &c->e[i];
	return NULL;
}

static struct cache_entry *add(struct unw_cache *c, const char *path, const uint8_t *bid,
			       size_t blen)
{
	struct cache_entry *e;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 32;
		struct cache_entry *ne = realloc(c->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path)
		return NULL;
	memcpy(e->build_id, bid, blen);
	e->build_id_len = blen;
	e->last_use = ++c->tick;
	c->n++;
	return e;
}

const struct unw_table *unw_cache_get(struct unw_cache *c, const char *path,
				      const uint8_t *build_id, size_t build_id_len)
{
	uint8_t own[BUILD_ID_MAX];
	size_t own_len;
	char file[4200];
	struct cache_entry *e;
	struct unw_table *tab = NULL;
	bool have_file;

	if (!c || !path || build_id_len > BUILD_ID_MAX || (build_id_len && !build_id)) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * Without a build-id from the caller the path decides, before the file
	 * is opened again: that is what makes a failure stick for the session.
	 */
	e = build_id_len ? find(c, path, build_id, build_id_len) : find_path(c, path);
	if (!e && !build_id_len) {
		/* the file's own build-id, if it has one: another path may have it loaded */
		build_id_len = file_build_id(path, own, sizeof(own));
		build_id = own;
		if (build_id_len)
			e = find(c, path, build_id, build_id_len);
	}
	if (e) {
		c->st.mem_hits++;
		e->last_use = ++c->tick;
		if (!e->tab)
			errno = e->err;
		else
			e->refs++;
		return e->tab;
	}
	e = add(c, path, build_id, build_id_len);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}

	have_file = entry_file(c, path, build_id, build_id_len, file, sizeof(file));
	if (have_file) {
		size_t len;
		void *blob = read_all(file, &len);

		if (blob) {
			tab = unw_table_from_blob(blob, len);
			if (tab) {
				c->st.disk_hits++;
				e->tab = tab;
				e->refs = 1;
				return tab;
			}
			c->st.rejected++; /* corrupt, truncated or another version: rebuild it */
		}
	}
	if (build_id_len && build_id != own) {
		own_len = file_build_id(path, own, sizeof(own));
		if (own_len != build_id_len || memcmp(own, build_id, own_len)) {
			/* access() tells a missing file from a replaced one */
			e->err = access(path, R_OK) ? errno : ESTALE;
			goto fail;
		}
	}
	tab = unw_table_from_elf(path, NULL, NULL);
	if (!tab) {
		e->err = errno;
		goto fail;
	}
	c->st.built++;
	e->tab = tab;
	e->refs = 1;
	if (have_file)
		write_entry(tab, file);
	return tab;
fail:
	c->st.failed++;
	errno = e->err;
	return NULL;
}
