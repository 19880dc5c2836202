// SPDX-License-Identifier: MIT
/*
 * The symbol index on disk ("symcache"), in the spirit of Breakpad .sym
 * files and of unwind/cache.c: per build-id, the DWARF CU range table and,
 * for each CU indexed so far, its inline intervals, scope nodes, line rows
 * and strings, exactly as dwarf.c keeps them in memory. A second session
 * answers from it without libdw, which for Debian's compressed debug files
 * saves the decompression of every debug section and the DIE walks.
 *
 * Layout (native x86-64 little-endian, every part 8-aligned):
 *   header   magic, version, file size, source id, counts, CRC of header+dir
 *   ranges   struct sym_cu_range[nranges], sorted by lo
 *   cus      struct sym_index_cu[ncus]: offset, length and CRC of a record
 *   records  struct rec_hdr, sym_iv[niv], sym_row[nrows], sym_node[nnodes],
 *            strs[strs_len]
 *
 * The file is untrusted: load checks the header and directory, and a record
 * is checked (CRC, counts, every offset, order) on its first use, so a big
 * library whose profile touches ten CUs pays for ten (the file is mapped). Writes go through
 * lib's xl_write_file() (a temporary file and rename()): a reader never sees half a file, and of
 * two writers the last rename wins, which is fine for a cache. Files are opened without following
 * links (lib's xl_open_regular()).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"
#include "symbolize/symbolize_int.h"

#define INDEX_MAGIC "XPSYMIX1"
#define INDEX_MAX   ((size_t)1 << 30) /* larger is not one of ours */

#define REC_F_LINES (1u << 0)

struct index_hdr {
	char magic[8];
	uint32_t version; /* SYM_INDEX_VERSION */
	uint32_t hdr_size;
	uint64_t file_size;
	uint64_t src_id;
	uint32_t ncus, nranges;
	uint32_t pad;
	uint32_t crc; /* of the header up to here, then ranges and cus */
};

struct sym_index_cu {
	uint64_t off; /* 0: CU not indexed */
	uint32_t len;
	uint32_t crc; /* of the record */
};

struct rec_hdr {
	uint32_t nnodes, niv, nrows, strs_len;
	uint32_t flags; /* REC_F_* */
	uint32_t pad;
};

_Static_assert(sizeof(struct index_hdr) == 48, "index header layout");
_Static_assert(sizeof(struct sym_cu_range) == 24, "range layout");
_Static_assert(sizeof(struct sym_index_cu) == 16, "directory layout");
_Static_assert(sizeof(struct rec_hdr) == 24, "record header layout");
_Static_assert(sizeof(struct sym_iv) == 24, "interval layout");
_Static_assert(sizeof(struct sym_row) == 16, "row layout");
_Static_assert(sizeof(struct sym_node) == 20, "node layout");

/*
 * CRC-32C (Castagnoli): the SSE4.2 instruction checks libc's 3 MB index in
 * a fraction of a millisecond, where zlib's crc32 took a tenth of a cached
 * session. The bitwise fallback is for CPUs older than 2008.
 */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							    size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len; p++, len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return (uint32_t)c;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	for (; len; p++, len--) {
		crc ^= *p;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return crc;
}

static uint32_t crc_of(uint32_t crc, const void *p, size_t len)
{
	crc = ~crc;
	if (__builtin_cpu_supports("sse4.2"))
		crc = crc32c_hw(crc, p, len);
	else
		crc = crc32c_sw(crc, p, len);
	return ~crc;
}

/*
 * A fuzzer cannot forge CRCs, so in its build a mismatch is ignored and the
 * checks behind it (counts, offsets, order) get the coverage; they alone
 * must make any input safe to use.
 */
static bool crc_bad(uint32_t want, uint32_t got)
{
#ifdef XP_FUZZING
	(void)want;
	(void)got;
	return false;
#else
	return want != got;
#endif
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* ---- CU lookups (shared by fresh and loaded CUs) ---------------------------- */

long sym_cu_find_iv(const struct sym_cu_data *cu, uint64_t vaddr)
{
	size_t lo = 0, hi = cu->niv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->iv[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	long i = (long)lo - 1;

	/* cparent < i always (checked on load), so this ends. */
	while (i >= 0 && !(vaddr >= cu->iv[i].lo && vaddr < cu->iv[i].hi))
		i = cu->iv[i].cparent;
	return i;
}

const struct sym_row *sym_cu_find_row(const struct sym_cu_data *cu, uint64_t vaddr)
{
	size_t lo = 0, hi = cu->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->rows[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || cu->rows[lo - 1].file == SYM_END_SEQ)
		return NULL;
	return &cu->rows[lo - 1];
}

/* ---- loading ----------------------------------------------------------------- */

void sym_index_release(struct sym_index *ix)
{
	if (ix->mapped)
		munmap(ix->buf, ix->len);
	else
		free(ix->buf);
	memset(ix, 0, sizeof(*ix));
}

/* Checks the header and directory of buf; on success ix takes it. */
static int index_check(struct sym_index *ix, void *buf, size_t len, uint64_t src_id)
{
	const struct index_hdr *h = buf;

	memset(ix, 0, sizeof(*ix));
	if (len < sizeof(*h) || memcmp(h->magic, INDEX_MAGIC, 8) ||
	    h->version != SYM_INDEX_VERSION || h->hdr_size != sizeof(*h) || h->file_size != len ||
	    h->src_id != src_id)
		return -EINVAL;
	size_t ranges_off = sizeof(*h);
	size_t cus_off = ranges_off + (size_t)h->nranges * sizeof(struct sym_cu_range);
	size_t dir_end = cus_off + (size_t)h->ncus * sizeof(struct sym_index_cu);

	if (dir_end > len)
		return -EINVAL;
	uint32_t crc = crc_of(0, h, offsetof(struct index_hdr, crc));

	crc = crc_of(crc, (const char *)buf + ranges_off, dir_end - ranges_off);
	if (crc_bad(h->crc, crc))
		return -EINVAL;
	const struct sym_cu_range *r = (const void *)((const char *)buf + ranges_off);
	const struct sym_index_cu *c = (const void *)((const char *)buf + cus_off);

	for (size_t i = 0; i < h->nranges; i++) {
		if (r[i].lo >= r[i].hi || r[i].cu >= h->ncus || (i && r[i].lo < r[i - 1].lo))
			return -EINVAL;
	}
	for (size_t i = 0; i < h->ncus; i++) {
		if (!c[i].off) {
			if (c[i].len || c[i].crc)
				return -EINVAL;
			continue;
		}
		if (c[i].off % 8 || c[i].off < dir_end || c[i].len < sizeof(struct rec_hdr) ||
		    c[i].off > len || c[i].len > len - c[i].off)
			return -EINVAL;
	}
	ix->buf = buf;
	ix->len = len;
	ix->src_id = src_id;
	ix->ranges = r;
	ix->nranges = h->nranges;
	ix->cus = c;
	ix->ncus = h->ncus;
	return 0;
}

int sym_index_from_buf(struct sym_index *ix, const void *buf, size_t len, uint64_t src_id)
{
	/* a copy: malloc's alignment is what the records need */
	void *copy = malloc(len ? len : 1);
	int err;

	memset(ix, 0, sizeof(*ix));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	err = index_check(ix, copy, len, src_id);
	if (err)
		free(copy);
	return err;
}

int sym_index_load(struct sym_index *ix, const char *path, uint64_t src_id)
{
	int fd = xl_open_regular(path);
	struct stat st;
	void *map;
	int err;

	memset(ix, 0, sizeof(*ix));
	if (fd < 0)
		return fd == -ENOENT ? -ENOENT : -EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > INDEX_MAX) {
		close(fd);
		return -EINVAL;
	}
	/*
	 * Mapped, not read: a session touches the pages of the CUs it needs,
	 * where a read copies all of them into fresh memory. Writers replace
	 * the file by rename() and never truncate it, so the mapped inode
	 * stays whole (a file truncated under a mapping would fault).
	 */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	err = index_check(ix, map, (size_t)st.st_size, src_id);
	if (err) {
		munmap(map, (size_t)st.st_size);
		return err;
	}
	ix->mapped = true;
	return 0;
}

static bool str_ok(uint32_t off, uint32_t strs_len)
{
	return off == SYM_NO_STR || off < strs_len;
}

int sym_index_cu(const struct sym_index *ix, size_t cu, struct sym_cu_data *out)
{
	if (!ix->buf || cu >= ix->ncus || !ix->cus[cu].off)
		return -ENOENT;
	const struct sym_index_cu *c = &ix->cus[cu];
	const char *p = (const char *)ix->buf + c->off;
	const struct rec_hdr *h = (const void *)p;

	if (crc_bad(c->crc, crc_of(0, p, c->len)) || (h->flags & ~REC_F_LINES))
		return -EINVAL;
	uint64_t need = sizeof(*h) + (uint64_t)h->niv * sizeof(struct sym_iv) +
			(uint64_t)h->nrows * sizeof(struct sym_row) +
			(uint64_t)h->nnodes * sizeof(struct sym_node) + h->strs_len;

	if (need != c->len)
		return -EINVAL;
	struct sym_cu_data d = {
	    .iv = (const void *)(p + sizeof(*h)),
	    .niv = h->niv,
	    .nrows = h->nrows,
	    .nnodes = h->nnodes,
	    .strs_len = h->strs_len,
	    .lines = h->flags & REC_F_LINES,
	};

	d.rows = (const void *)((const char *)d.iv + (size_t)d.niv * sizeof(*d.iv));
	d.nodes = (const void *)((const char *)d.rows + (size_t)d.nrows * sizeof(*d.rows));
	d.strs = (const char *)d.nodes + (size_t)d.nnodes * sizeof(*d.nodes);
	/* With the last byte a NUL, any offset inside is a terminated string. */
	if (d.strs_len && d.strs[d.strs_len - 1])
		return -EINVAL;
	for (uint32_t i = 0; i < d.niv; i++) {
		const struct sym_iv *v = &d.iv[i];

		if (v->lo >= v->hi || v->node >= d.nnodes || (i && v->lo < d.iv[i - 1].lo) ||
		    v->cparent < -1 || v->cparent >= (int64_t)i)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < d.nrows; i++) {
		const struct sym_row *r = &d.rows[i];

		if ((i && r->addr <= d.rows[i - 1].addr) ||
		    (r->file != SYM_END_SEQ && !str_ok(r->file, d.strs_len)))
			return -EINVAL;
	}
	for (uint32_t i = 0; i < d.nnodes; i++) {
		const struct sym_node *n = &d.nodes[i];

		if (!str_ok(n->name, d.strs_len) || !str_ok(n->call_file, d.strs_len) ||
		    n->parent < -1 || n->parent >= (int64_t)d.nnodes ||
		    (n->flags & ~SYM_NODE_INLINED))
			return -EINVAL;
	}
	*out = d;
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

static bool cu_present(const struct sym_cu_data *cu)
{
	return cu && (cu->niv || cu->nrows || cu->nnodes || cu->strs);
}

static size_t rec_len(const struct sym_cu_data *cu)
{
	return sizeof(struct rec_hdr) + (size_t)cu->niv * sizeof(struct sym_iv) +
	       (size_t)cu->nrows * sizeof(struct sym_row) +
	       (size_t)cu->nnodes * sizeof(struct sym_node) + cu->strs_len;
}

int sym_index_serialize(uint64_t src_id, const struct sym_cu_range *ranges, size_t nranges,
			const struct sym_cu_data *const *cus, size_t ncus, void **bufp,
			size_t *lenp)
{
	size_t dir_end = sizeof(struct index_hdr) + nranges * sizeof(*ranges) +
			 ncus * sizeof(struct sym_index_cu);
	size_t len = align8(dir_end);

	if (nranges > UINT32_MAX || ncus > UINT32_MAX)
		return -EOVERFLOW;
	for (size_t i = 0; i < ncus; i++) {
		if (!cu_present(cus[i]))
			continue;
		if (rec_len(cus[i]) > UINT32_MAX)
			return -EOVERFLOW;
		len = align8(len + rec_len(cus[i]));
	}
	if (len > INDEX_MAX)
		return -EOVERFLOW;
	char *buf = calloc(1, len);

	if (!buf)
		return -ENOMEM;
	struct index_hdr *h = (void *)buf;
	struct sym_index_cu *dir = (void *)(buf + sizeof(*h) + nranges * sizeof(*ranges));
	size_t off = align8(dir_end);

	memcpy(h->magic, INDEX_MAGIC, 8);
	h->version = SYM_INDEX_VERSION;
	h->hdr_size = sizeof(*h);
	h->file_size = len;
	h->src_id = src_id;
	h->ncus = (uint32_t)ncus;
	h->nranges = (uint32_t)nranges;
	if (nranges)
		memcpy(buf + sizeof(*h), ranges, nranges * sizeof(*ranges));
	for (size_t i = 0; i < ncus; i++) {
		const struct sym_cu_data *cu = cus[i];

		if (!cu_present(cu))
			continue;
		char *p = buf + off;
		struct rec_hdr rh = {
		    .nnodes = cu->nnodes,
		    .niv = cu->niv,
		    .nrows = cu->nrows,
		    .strs_len = cu->strs_len,
		    .flags = cu->lines ? REC_F_LINES : 0,
		};

		memcpy(p, &rh, sizeof(rh));
		p += sizeof(rh);
		if (cu->niv)
			memcpy(p, cu->iv, (size_t)cu->niv * sizeof(*cu->iv));
		p += (size_t)cu->niv * sizeof(*cu->iv);
		if (cu->nrows)
			memcpy(p, cu->rows, (size_t)cu->nrows * sizeof(*cu->rows));
		p += (size_t)cu->nrows * sizeof(*cu->rows);
		if (cu->nnodes)
			memcpy(p, cu->nodes, (size_t)cu->nnodes * sizeof(*cu->nodes));
		p += (size_t)cu->nnodes * sizeof(*cu->nodes);
		if (cu->strs_len)
			memcpy(p, cu->strs, cu->strs_len);
		dir[i].off = off;
		dir[i].len = (uint32_t)rec_len(cu);
		dir[i].crc = crc_of(0, buf + off, dir[i].len);
		off = align8(off + dir[i].len);
	}
	h->crc = crc_of(0, h, offsetof(struct index_hdr, crc));
	h->crc = crc_of(h->crc, buf + sizeof(*h), dir_end - sizeof(*h));
	*bufp = buf;
	*lenp = len;
	return 0;
}

int sym_write_atomic(const char *path, const void *buf, size_t len)
{
	char *dir = strdup(path), *slash;
	int err;

	if (!dir)
		return -ENOMEM;
	/*
	 * The directory (sym-v<N>/ under a root the table cache has checked)
	 * is created 0700, following no link of another user: it tells which
	 * libraries a user runs, and a planted link would send root's writes
	 * elsewhere.
	 */
	slash = strrchr(dir, '/');
	err = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		err = xl_mkdirs(dir, 0700, NULL);
		if (!err)
			err = xl_dir_private(dir);
	}
	free(dir);
	return err ? err : xl_write_file(path, buf, len);
}

int sym_index_write(const char *path, uint64_t src_id, const struct sym_cu_range *ranges,
		    size_t nranges, const struct sym_cu_data *const *cus, size_t ncus)
{
	void *buf = NULL;
	size_t len = 0;
	int err = sym_index_serialize(src_id, ranges, nranges, cus, ncus, &buf, &len);

	if (err)
		return err;
	err = sym_write_atomic(path, buf, len);
	free(buf);
	return err;
}

/* ---- the ELF symbol table ------------------------------------------------------ */

/*
 * <build-id hex>.symtab beside the DWARF index: struct sym_symtab as built
 * (sorted symbols, then the name blob), so that a cached session does not
 * read, sort and merge libc's 13k symbols again.
 */
/* 2: untyped labels in code (ld.so's _start) became functions; tables
 * written by version 1 lack them and are rebuilt. */
#define SYMTAB_MAGIC "XPSYMTB2"

struct symtab_hdr {
	char magic[8];
	uint32_t version; /* SYM_INDEX_VERSION */
	uint32_t hdr_size;
	uint64_t file_size;
	uint64_t src_id;
	uint64_t nsyms, blob_len;
	uint32_t pad;
	uint32_t crc; /* of the header up to here, the symbols and the blob */
};

_Static_assert(sizeof(struct symtab_hdr) == 56, "symtab header layout");
_Static_assert(sizeof(struct sym_elf_sym) == 16, "symbol layout");

uint64_t sym_symtab_src_id(Elf *elf, Elf *dbg)
{
	/* The section headers of both files: which symbol tables there are,
	 * their sizes, and the section ends that size zero-size symbols. */
	Elf *files[2] = {elf, dbg};
	uint64_t h = XL_FNV_SEED;

	for (int i = 0; i < 2; i++) {
		Elf_Scn *scn = NULL;

		h = xl_fnv1a(&i, sizeof(i), h);
		while (files[i] && (scn = elf_nextscn(files[i], scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh))
				continue;
			h = xl_fnv1a(&sh.sh_type, sizeof(sh.sh_type), h);
			h = xl_fnv1a(&sh.sh_addr, sizeof(sh.sh_addr), h);
			h = xl_fnv1a(&sh.sh_size, sizeof(sh.sh_size), h);
			h = xl_fnv1a(&sh.sh_flags, sizeof(sh.sh_flags), h);
		}
	}
	return h;
}

/* Checks a symbol table read from disk: it is searched by binary search and
 * its names are read as strings. */
static bool symtab_ok(const struct sym_symtab *t)
{
	if (t->blob_len && t->blob[t->blob_len - 1])
		return false;
	for (size_t i = 0; i < t->n; i++) {
		if (t->syms[i].name_off >= t->blob_len ||
		    (i && t->syms[i].start <= t->syms[i - 1].start))
			return false;
	}
	return true;
}

static int read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EINVAL;
		got += (size_t)r;
	}
	return 0;
}

int sym_symtab_load(struct sym_symtab *t, const char *path, uint64_t src_id)
{
	int fd = xl_open_regular(path);
	struct symtab_hdr h;
	struct stat st;
	struct sym_symtab n = {0};
	int err = -EINVAL;

	if (fd < 0)
		return fd == -ENOENT ? -ENOENT : -EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > INDEX_MAX ||
	    (size_t)st.st_size < sizeof(h) || read_at(fd, &h, sizeof(h), 0))
		goto out;
	if (memcmp(h.magic, SYMTAB_MAGIC, 8) || h.version != SYM_INDEX_VERSION ||
	    h.hdr_size != sizeof(h) || h.file_size != (uint64_t)st.st_size || h.src_id != src_id ||
	    h.nsyms > INDEX_MAX / sizeof(*n.syms) || h.blob_len > INDEX_MAX ||
	    sizeof(h) + h.nsyms * sizeof(*n.syms) + h.blob_len != h.file_size)
		goto out;
	n.n = h.nsyms;
	n.blob_len = h.blob_len;
	n.syms = malloc(n.n ? n.n * sizeof(*n.syms) : 1);
	n.blob = malloc(n.blob_len ? n.blob_len : 1);
	if (!n.syms || !n.blob) {
		err = -ENOMEM;
		goto out;
	}
	if (read_at(fd, n.syms, n.n * sizeof(*n.syms), sizeof(h)) ||
	    read_at(fd, n.blob, n.blob_len, (off_t)(sizeof(h) + n.n * sizeof(*n.syms))))
		goto out;
	uint32_t crc = crc_of(0, &h, offsetof(struct symtab_hdr, crc));

	crc = crc_of(crc, n.syms, n.n * sizeof(*n.syms));
	crc = crc_of(crc, n.blob, n.blob_len);
	if (crc_bad(h.crc, crc) || !symtab_ok(&n))
		goto out;
	*t = n;
	memset(&n, 0, sizeof(n));
	err = 0;
out:
	sym_symtab_release(&n);
	close(fd);
	return err;
}

int sym_symtab_save(const struct sym_symtab *t, const char *path, uint64_t src_id)
{
	struct symtab_hdr h = {
	    .version = SYM_INDEX_VERSION,
	    .hdr_size = sizeof(h),
	    .src_id = src_id,
	    .nsyms = t->n,
	    .blob_len = t->blob_len,
	};
	size_t len = sizeof(h) + t->n * sizeof(*t->syms) + t->blob_len;
	char *buf = malloc(len);
	int err;

	if (!buf)
		return -ENOMEM;
	memcpy(h.magic, SYMTAB_MAGIC, 8);
	h.file_size = len;
	h.crc = crc_of(0, &h, offsetof(struct symtab_hdr, crc));
	h.crc = crc_of(h.crc, t->syms, t->n * sizeof(*t->syms));
	h.crc = crc_of(h.crc, t->blob, t->blob_len);
	memcpy(buf, &h, sizeof(h));
	if (t->n)
		memcpy(buf + sizeof(h), t->syms, t->n * sizeof(*t->syms));
	if (t->blob_len)
		memcpy(buf + sizeof(h) + t->n * sizeof(*t->syms), t->blob, t->blob_len);
	err = sym_write_atomic(path, buf, len);
	free(buf);
	return err;
}
