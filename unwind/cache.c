// SPDX-License-Identifier: MIT
/*
 * The table cache: tables in memory for the session, and on disk under
 * $XDG_CACHE_HOME/xprof/unwind-v<N>/ (or ~/.cache/xprof/...), one file per
 * ELF file, named by its build-id (hex) or, without one, by a hash of its
 * path, size, mtime and inode. A file is the table blob of unwind_int.h, so
 * loading is one read plus unw_table_from_blob()'s validation (magic,
 * version, sizes, monotonic addresses, CRC); an entry that fails it is
 * regenerated and rewritten, never used. Each file starts with a header that
 * names what the table was built for (the build-id, or the path key), and a
 * table whose header names another file is rejected the same way: a cache
 * file copied over another's name must not unwind the wrong library. Writes
 * go through lib's xl_write_file() (a temporary file renamed into place), so
 * a reader never sees half a table.
 *
 * The directory is trusted only when the caller owns it and no group or
 * other may write it (lib's xl_dir_private()); it is created 0700 without
 * following another user's link. Otherwise unw_cache_open() refuses it with
 * one line naming the directory and the fix.
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

#include "lib/lib.h"
#include "unwind/unwind_int.h"

/* A new table or cache version gets a new directory; old files are never even read. */
#define STR2(x)	     #x
#define STR(x)	     STR2(x)
#define CACHE_SUBDIR "unwind-v" STR(UNW_TAB_VERSION) "-c" STR(UNW_CACHE_VERSION)
#define BUILD_ID_MAX 64
#define CACHE_MAGIC  "XPUNWC02"

/* Before the table blob in every cache file: what the table was built for. */
struct cache_hdr {
	char magic[8];
	uint32_t version;      /* UNW_CACHE_VERSION */
	uint32_t build_id_len; /* 0: keyed by path (key) */
	uint8_t build_id[BUILD_ID_MAX];
	uint64_t key;	   /* without a build-id: hash of path, size, mtime, inode; else 0 */
	uint64_t blob_len; /* bytes of table blob after this header */
};
_Static_assert(sizeof(struct cache_hdr) == 96, "cache header layout: 16-byte multiple");

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
	char *dir;  /* .../xprof/unwind-v3-c2, or NULL: in memory only */
	char *root; /* .../xprof: other caches (symbols) live beside this one; NULL in memory */
	struct cache_entry *e;
	size_t n, cap;
	uint64_t tick;
	struct unw_cache_stats st;
};

/* One line on why dir cannot hold the cache, and the fix; malloc'ed, NULL if out of memory. */
static char *refusal(const char *dir, int err)
{
	char *why = NULL;
	struct stat st;
	int n;

	switch (-err) {
	case ELOOP:
		n = asprintf(
		    &why,
		    "cache directory '%s' is a symbolic link; remove it or give --cache-dir DIR",
		    dir);
		break;
	case EPERM:
		n = asprintf(
		    &why,
		    "cache directory '%s' belongs to uid %u, not to you; remove it or give "
		    "--cache-dir DIR",
		    dir, lstat(dir, &st) ? 0u : (unsigned)st.st_uid);
		break;
	case EACCES:
		n = asprintf(
		    &why,
		    "cache directory '%s' is writable by group or others; run 'chmod go-w %s' "
		    "or give --cache-dir DIR",
		    dir, dir);
		break;
	default:
		n = asprintf(&why, "cannot create cache directory '%s': %s; give --cache-dir DIR",
			     dir, strerror(-err));
		break;
	}
	return n < 0 ? NULL : why;
}

struct unw_cache *unw_cache_open(const char *dir, char **why)
{
	struct unw_cache *c = calloc(1, sizeof(*c));
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *bad = NULL;
	int err;

	if (why)
		*why = NULL;
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
	c->root = strdup(c->dir);
	if (!c->root) {
		err = -ENOMEM;
		goto fail;
	}
	*strrchr(c->root, '/') = '\0';
	/*
	 * The root and the subdirectory must both be the caller's alone: in a
	 * directory another user can write, they could swap tables or plant a
	 * link that makes root write elsewhere.
	 */
	err = xl_mkdirs(c->root, 0700, &bad);
	if (!err) {
		/* checked before anything is created in it */
		err = xl_dir_private(c->root);
		bad = err ? strdup(c->root) : NULL;
	}
	if (!err) {
		err = xl_mkdirs(c->dir, 0700, &bad);
		if (!err) {
			err = xl_dir_private(c->dir);
			bad = err ? strdup(c->dir) : NULL;
		}
	}
	if (err) {
		if (why && bad)
			*why = refusal(bad, err);
		free(bad);
		goto fail;
	}
	free(bad);
	return c;
fail:
	free(c->dir);
	free(c->root);
	free(c);
	errno = -err;
	return NULL;
}

struct unw_cache *unw_cache_new(const char *dir)
{
	return unw_cache_open(dir, NULL);
}

struct unw_cache *unw_cache_new_memory(void)
{
	return calloc(1, sizeof(struct unw_cache)); /* dir NULL: nothing is read or written */
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

/*
 * The cache file of (path, build-id), and *key, the path key it is named by
 * when there is no build-id (0 otherwise); false if there is none to use.
 */
static bool entry_file(const struct unw_cache *c, const char *path, const uint8_t *bid, size_t blen,
		       char *out, size_t outlen, uint64_t *key)
{
	char name[2 * BUILD_ID_MAX + 32];

	*key = 0;
	if (blen) {
		for (size_t i = 0; i < blen; i++)
			snprintf(name + 2 * i, 3, "%02x", bid[i]);
		snprintf(name + 2 * blen, sizeof(name) - 2 * blen, ".tab");
	} else {
		struct stat st;
		uint64_t h = XL_FNV_SEED;

		/* Without a build-id, any change of the file changes the key. */
		if (stat(path, &st))
			return false;
		h = xl_fnv1a(path, strlen(path), h);
		h = xl_fnv1a(&st.st_size, sizeof(st.st_size), h);
		h = xl_fnv1a(&st.st_mtim, sizeof(st.st_mtim), h);
		h = xl_fnv1a(&st.st_ino, sizeof(st.st_ino), h);
		h = xl_fnv1a(&st.st_dev, sizeof(st.st_dev), h);
		snprintf(name, sizeof(name), "path-%016llx.tab", (unsigned long long)h);
		*key = h;
	}
	return snprintf(out, outlen, "%s/%s", c->dir, name) < (int)outlen;
}

/*
 * A cache file: its header into *h, the rest (the table blob) into a
 * malloc'ed buffer, as unw_table_from_blob() takes it; NULL if absent,
 * unreadable or too short.
 */
static void *read_entry(const char *file, struct cache_hdr *h, size_t *len)
{
	int fd = xl_open_regular(file); /* no link, no FIFO: the directory is ours, but be sure */
	struct stat st;
	void *buf = NULL;
	size_t got = 0, want;

	if (fd < 0)
		return NULL;
	/* a table larger than 1 GiB is not one of ours */
	if (fstat(fd, &st) || (size_t)st.st_size <= sizeof(*h) || st.st_size > (1 << 30))
		goto out;
	want = (size_t)st.st_size - sizeof(*h);
	if (read(fd, h, sizeof(*h)) != (ssize_t)sizeof(*h))
		goto out;
	buf = malloc(want);
	if (!buf)
		goto out;
	while (got < want) {
		ssize_t r = read(fd, (char *)buf + got, want - got);

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

/* The header that says what a table was built for. */
static void entry_hdr(struct cache_hdr *h, const uint8_t *bid, size_t blen, uint64_t key,
		      size_t blob_len)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CACHE_MAGIC, sizeof(h->magic));
	h->version = UNW_CACHE_VERSION;
	h->build_id_len = (uint32_t)blen;
	memcpy(h->build_id, bid, blen);
	h->key = key;
	h->blob_len = blob_len;
}

/*
 * The table of a cache file, if its header names this build-id (or path
 * key) and the blob passes unw_table_from_blob(); NULL otherwise. Takes blob.
 */
static struct unw_table *entry_table(const struct cache_hdr *got, void *blob, size_t len,
				     const uint8_t *bid, size_t blen, uint64_t key)
{
	struct cache_hdr want;

	entry_hdr(&want, bid, blen, key, len);
	if (memcmp(&want, got, sizeof(want))) {
		free(blob);
		return NULL; /* another version, or a table built for another file */
	}
	return unw_table_from_blob(blob, len);
}

/* Write tab to file, header first, atomically (lib.h). Failures only cost speed. */
static void write_entry(const struct unw_table *tab, const char *file, const uint8_t *bid,
			size_t blen, uint64_t key)
{
	size_t len;
	const char *blob = unw_table_blob(tab, &len);
	struct cache_hdr h;
	struct xl_out out;

	entry_hdr(&h, bid, blen, key, len);
	if (xl_out_open(&out, file, 0, 0600))
		return;
	if (xl_write_all(out.fd, &h, sizeof(h)) || xl_write_all(out.fd, blob, len)) {
		xl_out_abort(&out);
		return;
	}
	xl_out_commit(&out);
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
	uint64_t key;
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
		xl_build_id_file(path, own, sizeof(own), &build_id_len);
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

	have_file = c->dir && entry_file(c, path, build_id, build_id_len, file, sizeof(file), &key);
	if (have_file) {
		struct cache_hdr h;
		size_t len;
		void *blob = read_entry(file, &h, &len);

		if (blob) {
			tab = entry_table(&h, blob, len, build_id, build_id_len, key);
			if (tab) {
				c->st.disk_hits++;
				e->tab = tab;
				e->refs = 1;
				return tab;
			}
			c->st.rejected++; /* corrupt, truncated, another version or file: rebuild */
		}
	}
	if (build_id_len && build_id != own) {
		xl_build_id_file(path, own, sizeof(own), &own_len);
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
		write_entry(tab, file, build_id, build_id_len, key);
	return tab;
fail:
	c->st.failed++;
	errno = e->err;
	return NULL;
}
