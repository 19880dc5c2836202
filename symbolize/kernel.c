// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from /proc/kallsyms: "ADDR TYPE NAME [MODULE]" lines. Only
 * text symbols (t, T, w, W) are kept; kallsyms has no sizes, so each symbol
 * covers up to the next one. When every address reads as zero (not root, or
 * kptr_restrict) the table is marked hidden and lookups yield the unknown
 * kernel frame rather than a wrong name.
 *
 * Reading /proc/kallsyms costs ~50 ms of kernel time (every line is
 * formatted on read), more than the rest of a small report. So the parsed
 * table is kept in one cache file, keyed by the boot (boot_id: KASLR moves
 * everything at each boot) and the loaded modules (/proc/modules), and
 * mapped in place on later runs. Symbols that come and go without either
 * changing (BPF programs, ftrace trampolines) live outside the kernel text
 * and the modules, so a cached table answers only inside those and the
 * caller reads kallsyms live for anything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"
#include "symbolize/symbolize_int.h"

struct kraw {
	uint64_t addr;
	uint32_t name_off;
	uint32_t line; /* input order, keeps the sort stable */
};

static int kraw_cmp(const void *pa, const void *pb)
{
	const struct kraw *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

int sym_ksyms_load(struct sym_ksyms *k, const char *path)
{
	struct sym_blob blob = {0};
	struct kraw *raw = NULL;
	size_t n = 0, cap = 0, nzero = 0, nlines = 0;
	char *line = NULL;
	size_t linecap = 0;
	int err = 0;
	FILE *fp = fopen(path, "re");

	memset(k, 0, sizeof(*k));
	if (!fp)
		return -errno;
	while (getline(&line, &linecap, fp) > 0) {
		char *end;
		uint64_t addr = strtoull(line, &end, 16);

		if (end == line || (*end != ' ' && *end != '\t'))
			continue;
		char *p = end + strspn(end, " \t");
		char type = *p;

		if (!type || (p[1] != ' ' && p[1] != '\t'))
			continue;
		nlines++;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		p += 1 + strspn(p + 1, " \t");
		size_t nlen = strcspn(p, " \t\n");

		if (!nlen)
			continue;
		if (!addr) {
			nzero++;
			continue;
		}
		if (nlen == 6 && !memcmp(p, "_stext", 6))
			k->text_lo = addr;
		else if (nlen == 6 && !memcmp(p, "_etext", 6))
			k->text_hi = addr;
		char *mod = p + nlen + strspn(p + nlen, " \t");
		size_t mlen = 0;
		char buf[512];

		if (*mod == '[') {
			mlen = strcspn(mod, "]\n");
			if (mod[mlen] == ']')
				mlen++;
		}
		int len = snprintf(buf, sizeof(buf), "%.*s%s%.*s", (int)nlen, p, mlen ? " " : "",
				   (int)mlen, mod);

		if (len < 0)
			continue;
		if ((size_t)len >= sizeof(buf))
			len = sizeof(buf) - 1;
		int64_t off = sym_blob_add(&blob, buf, (size_t)len);

		if (off < 0) {
			err = (int)off;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct kraw *r = realloc(raw, ncap * sizeof(*r));

			if (!r) {
				err = -ENOMEM;
				goto out;
			}
			raw = r;
			cap = ncap;
		}
		raw[n++] = (struct kraw){addr, (uint32_t)off, (uint32_t)nlines};
	}
	if (n)
		qsort(raw, n, sizeof(*raw), kraw_cmp);
	k->addr = malloc((n ? n : 1) * sizeof(*k->addr));
	k->name_off = malloc((n ? n : 1) * sizeof(*k->name_off));
	k->frames = calloc(n ? n : 1, sizeof(*k->frames));
	if (!k->addr || !k->name_off || !k->frames) {
		err = -ENOMEM;
		goto out;
	}
	/* Aliases at one address: the first listed wins (kallsyms lists the
	 * canonical name first). */
	for (size_t i = 0; i < n; i++) {
		if (k->n && k->addr[k->n - 1] == raw[i].addr)
			continue;
		k->addr[k->n] = raw[i].addr;
		k->name_off[k->n] = raw[i].name_off;
		k->n++;
	}
	k->blob = blob.buf;
	k->blob_len = blob.len;
	blob.buf = NULL;
	k->hidden = k->n == 0 && nzero > 0;
out:
	if (err)
		sym_ksyms_release(k);
	free(blob.buf);
	free(raw);
	free(line);
	fclose(fp);
	return err;
}

void sym_ksyms_release(struct sym_ksyms *k)
{
	if (k->map) {
		munmap(k->map, k->map_len);
	} else {
		free(k->addr);
		free(k->name_off);
		free(k->blob);
	}
	free(k->frames);
	free(k->mods);
	memset(k, 0, sizeof(*k));
}

/* ---- the cache file ------------------------------------------------------- */

#define KCACHE_MAGIC   "XPKSYMS1"
#define KCACHE_VERSION 1

/*
 * Followed by addr[n] (u64), name_off[n] (u32), zero padding to 8 bytes, and
 * blob_len bytes of NUL-terminated names. No checksum: the file is written
 * atomically, and every offset and the sort order are checked on load, so a
 * damaged file can give wrong names but never a crash.
 */
struct kcache_hdr {
	char magic[8];
	uint32_t version;
	uint32_t reserved;
	char boot_id[40]; /* /proc/sys/kernel/random/boot_id, NUL-padded */
	uint64_t modules_hash;
	uint64_t n, blob_len;
	uint64_t text_lo, text_hi;
};

struct kcache_key {
	char boot_id[40];
	uint64_t modules_hash;
	struct sym_krange *mods;
	size_t nmods;
};

/*
 * "name size refcount deps state address" per line; name, size and address
 * identify a module's text (refcounts change while it is loaded). A kernel
 * without modules has no /proc/modules: the hash of nothing.
 */
static int kcache_key_read(struct kcache_key *key)
{
	size_t len = 0, cap = 0;
	char *bid = sym_read_file("/proc/sys/kernel/random/boot_id", &len);
	char *mods;

	memset(key, 0, sizeof(*key));
	if (!bid)
		return -errno;
	while (len && (bid[len - 1] == '\n' || bid[len - 1] == '\0'))
		len--;
	if (!len || len >= sizeof(key->boot_id)) {
		free(bid);
		return -EINVAL;
	}
	memcpy(key->boot_id, bid, len);
	free(bid);
	key->modules_hash = XL_FNV_SEED;
	mods = sym_read_file("/proc/modules", &len);
	if (!mods)
		return errno == ENOENT ? 0 : -errno;
	for (char *line = mods, *end = mods + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char name[128];
		unsigned long size;
		unsigned long long addr;

		if (!nl)
			nl = end;
		*nl = '\0';
		if (sscanf(line, "%127s %lu %*s %*s %*s %llx", name, &size, &addr) == 3 && addr) {
			if (key->nmods == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct sym_krange *r = realloc(key->mods, ncap * sizeof(*r));

				if (!r) {
					free(mods);
					free(key->mods);
					key->mods = NULL;
					return -ENOMEM;
				}
				key->mods = r;
				cap = ncap;
			}
			key->mods[key->nmods++] = (struct sym_krange){addr, addr + size};
			key->modules_hash = xl_fnv1a(line, strlen(name), key->modules_hash);
			key->modules_hash = xl_fnv1a(&size, sizeof(size), key->modules_hash);
			key->modules_hash = xl_fnv1a(&addr, sizeof(addr), key->modules_hash);
		}
		line = nl + 1;
	}
	free(mods);
	return 0;
}

static size_t kcache_names_at(uint64_t n)
{
	return sizeof(struct kcache_hdr) + (size_t)n * 8 + (((size_t)n * 4 + 7) & ~(size_t)7);
}

int sym_ksyms_from_cache(struct sym_ksyms *k, void *map, size_t len, const char *boot_id,
			 uint64_t modules_hash)
{
	const struct kcache_hdr *h = map;

	memset(k, 0, sizeof(*k));
	if (len < sizeof(*h) || memcmp(h->magic, KCACHE_MAGIC, 8) || h->version != KCACHE_VERSION ||
	    memcmp(h->boot_id, boot_id, sizeof(h->boot_id)) || h->modules_hash != modules_hash ||
	    !h->n || h->n > len / 12 || !h->blob_len || h->blob_len > len ||
	    kcache_names_at(h->n) + h->blob_len != len)
		return -ESTALE;
	const uint64_t *addr = (const uint64_t *)(h + 1);
	const uint32_t *name_off = (const uint32_t *)(addr + h->n);
	const char *blob = (const char *)map + kcache_names_at(h->n);

	if (blob[h->blob_len - 1])
		return -ESTALE;
	for (size_t i = 0; i < h->n; i++) {
		if (name_off[i] >= h->blob_len || (i && addr[i] <= addr[i - 1]))
			return -ESTALE;
	}
	k->frames = calloc(h->n, sizeof(*k->frames));
	if (!k->frames)
		return -ENOMEM;
	k->addr = (uint64_t *)addr;
	k->name_off = (uint32_t *)name_off;
	k->blob = (char *)blob;
	k->blob_len = h->blob_len;
	k->n = h->n;
	k->text_lo = h->text_lo;
	k->text_hi = h->text_hi;
	k->map = map;
	k->map_len = len;
	return 0;
}

/* Maps and checks the cache file; 0, or -errno when it is missing or stale. */
static int kcache_load(struct sym_ksyms *k, const char *path, const struct kcache_key *key)
{
	int fd = xl_open_regular(path); /* no link, no FIFO */
	struct stat st;
	void *map;
	int err = -ESTALE;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(struct kcache_hdr))
		goto out;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	err = sym_ksyms_from_cache(k, map, (size_t)st.st_size, key->boot_id, key->modules_hash);
	if (err)
		munmap(map, (size_t)st.st_size);
out:
	close(fd);
	return err;
}

/* Writes k under path (0600: kernel addresses are what KASLR hides from others). */
static int kcache_store(const struct sym_ksyms *k, const char *path, const struct kcache_key *key)
{
	struct kcache_hdr h = {.version = KCACHE_VERSION};
	size_t names_at = kcache_names_at(k->n), len = names_at + k->blob_len;
	uint8_t *buf = calloc(1, len);
	int err;

	if (!buf)
		return -ENOMEM;
	memcpy(h.magic, KCACHE_MAGIC, 8);
	memcpy(h.boot_id, key->boot_id, sizeof(h.boot_id));
	h.modules_hash = key->modules_hash;
	h.n = k->n;
	h.blob_len = k->blob_len;
	h.text_lo = k->text_lo;
	h.text_hi = k->text_hi;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), k->addr, k->n * 8);
	memcpy(buf + sizeof(h) + k->n * 8, k->name_off, k->n * 4);
	memcpy(buf + names_at, k->blob, k->blob_len);
	err = sym_write_atomic(path, buf, len);
	free(buf);
	return err;
}

int sym_ksyms_load_cached(struct sym_ksyms *k, const char *cache_dir)
{
	struct kcache_key key;
	char *path = NULL;
	int err = kcache_key_read(&key);

	memset(k, 0, sizeof(*k));
	if (err == -ENOMEM)
		return err;
	/* Without a key (no /proc?) there is nothing to validate a cache with. */
	if (err || asprintf(&path, "%s/kallsyms-v%d", cache_dir, KCACHE_VERSION) < 0) {
		free(key.mods);
		return sym_ksyms_load(k, "/proc/kallsyms");
	}
	err = kcache_load(k, path, &key);
	if (err) {
		err = sym_ksyms_load(k, "/proc/kallsyms");
		/* Hidden addresses are not worth keeping; a failed write only
		 * costs the next run the same read. */
		if (!err && k->n && !k->hidden && k->blob_len)
			kcache_store(k, path, &key);
	}
	if (!err) {
		k->mods = key.mods;
		k->nmods = key.nmods;
		key.mods = NULL;
	}
	free(key.mods);
	free(path);
	return err;
}

bool sym_ksyms_covers(const struct sym_ksyms *k, uint64_t addr)
{
	if (!k->map || !k->text_hi || (addr >= k->text_lo && addr < k->text_hi))
		return true;
	for (size_t i = 0; i < k->nmods; i++) {
		if (addr >= k->mods[i].lo && addr < k->mods[i].hi)
			return true;
	}
	return false;
}

long sym_ksyms_find(const struct sym_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->addr[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (long)lo - 1 : -1;
}
