// SPDX-License-Identifier: MIT
/*
 * The symbolize/ API: a session holds every file it has opened (keyed by
 * build-id, else path), the kernel table and the perf maps, and answers
 * lookups with frames in session memory. Each (file, address) is resolved
 * once; later lookups of it are one hash probe. A file that cannot be read
 * still answers, with "[basename+0xoff]", so callers need no special case.
 */
#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"
#include "symbolize/symbolize_int.h"

#define MAX_INLINE 64

struct sym_session *sym_session_new(const struct sym_opts *opts)
{
	struct sym_session *s = calloc(1, sizeof(*s));

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	elf_version(EV_CURRENT);
	if (opts)
		s->opts = *opts;
	/* Option strings are copied: the caller's may not outlive us. */
	const char **strs[] = {&s->opts.debug_root, &s->opts.kallsyms, &s->opts.perfmap_dir,
			       &s->opts.cache_dir};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (*strs[i] && !(*strs[i] = sym_arena_strdup(&s->arena, *strs[i])))
			goto fail;
	}
	s->nbuckets = 256;
	s->files = calloc(s->nbuckets, sizeof(*s->files));
	if (!s->files)
		goto fail;
	s->unknown = (struct sym_frame){.name = "[unknown]", .flags = SYM_F_UNKNOWN};
	s->kunknown =
	    (struct sym_frame){.name = "[kernel.kallsyms]", .flags = SYM_F_UNKNOWN | SYM_F_KERNEL};
	return s;
fail:
	sym_session_free(s);
	errno = ENOMEM;
	return NULL;
}

static void file_free(struct sym_file *f)
{
	sym_dwarf_free(f->dwarf); /* writes its index back first */
	if (f->dbg_elf)
		elf_end(f->dbg_elf);
	if (f->elf)
		elf_end(f->elf);
	if (f->dbg_fd >= 0)
		close(f->dbg_fd);
	if (f->fd >= 0)
		close(f->fd);
	free(f->image);
	free(f->dbg_image);
	free(f->dname);
	sym_symtab_release(&f->symtab);
	if (f->fdes_ok)
		sym_fdes_release(&f->fdes);
	sym_cache_release(&f->fde_names);
	sym_cache_release(&f->cache);
	sym_cache_release(&f->names);
	sym_arena_release(&f->arena);
	free(f);
}

void sym_session_free(struct sym_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->files && i < s->nbuckets; i++) {
		struct sym_file *f = s->files[i];

		while (f) {
			struct sym_file *next = f->next;

			file_free(f);
			f = next;
		}
	}
	free(s->files);
	sym_ksyms_release(&s->ksyms);
	sym_ksyms_release(&s->ksyms_live);
	sym_cache_release(&s->kcache);
	for (size_t i = 0; i < s->nperfmaps; i++)
		sym_perfmap_release(&s->perfmaps[i]);
	free(s->perfmaps);
	if (s->dbgd)
		s->dbgd_end(s->dbgd);
	if (s->dbgd_null_open)
		close(s->dbgd_null_fd);
	if (s->dbgd_lib)
		dlclose(s->dbgd_lib);
	sym_arena_release(&s->arena);
	free(s);
}

static size_t str_hash(const char *str)
{
	return (size_t)xl_fnv1a(str, strlen(str), XL_FNV_SEED);
}

static struct sym_file *file_find(struct sym_session *s, const char *key)
{
	for (struct sym_file *f = s->files[str_hash(key) % s->nbuckets]; f; f = f->next)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

static void file_unlink(struct sym_session *s, struct sym_file *f)
{
	for (struct sym_file **pp = &s->files[str_hash(f->key) % s->nbuckets]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			s->nfiles--;
			return;
		}
	}
}

static void lru_remove(struct sym_session *s, struct sym_file *f)
{
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		s->lru_head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		s->lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

/* A found file is held again: off the eviction list. */
static struct sym_file *file_hold(struct sym_session *s, struct sym_file *f)
{
	if (!f->refs++)
		lru_remove(s, f);
	return f;
}

static void file_insert(struct sym_session *s, struct sym_file *f)
{
	if (s->nfiles >= s->nbuckets * 2) {
		size_t nb = s->nbuckets * 4;
		struct sym_file **b = calloc(nb, sizeof(*b));

		/* Without memory, chains just get longer. */
		if (b) {
			for (size_t i = 0; i < s->nbuckets; i++) {
				while (s->files[i]) {
					struct sym_file *x = s->files[i];

					s->files[i] = x->next;
					x->next = b[str_hash(x->key) % nb];
					b[str_hash(x->key) % nb] = x;
				}
			}
			free(s->files);
			s->files = b;
			s->nbuckets = nb;
		}
	}
	size_t h = str_hash(f->key) % s->nbuckets;

	f->next = s->files[h];
	s->files[h] = f;
	s->nfiles++;
}

static char *hex(char *out, const uint8_t *id, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

/* The hash key of a file, malloc'ed (the caller frees it); NULL with ENOMEM. */
static char *make_key(char kind, const char *path, const uint8_t *id, size_t len)
{
	char buf[2 * 64 + 1], *key;
	int n;

	if (id && len)
		n = asprintf(&key, "%c:b:%s", kind, hex(buf, id, len));
	else
		n = asprintf(&key, "%c:p:%s", kind, path);
	return n < 0 ? NULL : key;
}

/* A new file, held once; its strings live in its own arena. */
static struct sym_file *file_new(const char *key, const char *path)
{
	struct sym_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = f->dbg_fd = -1;
	f->refs = 1;
	f->key = sym_arena_strdup(&f->arena, key);
	f->path = sym_arena_strdup(&f->arena, path ? path : "");
	f->debug_source = "";
	if (!f->key || !f->path) {
		sym_arena_release(&f->arena);
		free(f);
		return NULL;
	}
	const char *slash = strrchr(f->path, '/');
	size_t len;

	f->base = slash && slash[1] ? slash + 1 : f->path;
	if (!f->base[0])
		f->base = "unknown";
	/* A pseudo-file ("[vdso]") already wears brackets: unknowns in it read
	 * "[vdso+0x7bd]", not "[[vdso]+0x7bd]". */
	len = strlen(f->base);
	if (len > 2 && f->base[0] == '[' && f->base[len - 1] == ']') {
		const char *inner =
		    sym_arena_printf(&f->arena, "%.*s", (int)(len - 2), f->base + 1);

		if (!inner) {
			sym_arena_release(&f->arena);
			free(f);
			return NULL;
		}
		f->base = inner;
	}
	return f;
}

/*
 * <cache_dir>/sym-v<N>/<build-id hex><suffix>, malloc'ed; NULL without a
 * cache dir or a build-id (a path says nothing about the content).
 */
static char *cache_path(const struct sym_session *s, const struct sym_file *f, const char *suffix)
{
	char id[2 * 64 + 1], *path;

	if (!s->opts.cache_dir || !f->build_id_len)
		return NULL;
	if (asprintf(&path, "%s/sym-v%d/%s%s", s->opts.cache_dir, SYM_INDEX_VERSION,
		     hex(id, f->build_id, f->build_id_len), suffix) < 0)
		return NULL;
	return path;
}

/*
 * Builds the symbol table from the debug file (or the main file) and the
 * main .dynsym, or reads it from the cache. A cache that cannot be read or
 * written only costs speed.
 */
static int file_index(struct sym_session *s, struct sym_file *f)
{
	struct sym_symtab_builder b = {0};
	char *cache;
	uint64_t src_id = 0;
	int err = 0;

	sym_debuginfo_find(s, f);
	cache = cache_path(s, f, ".symtab");
	if (cache) {
		src_id = sym_symtab_src_id(f->elf, f->dbg_elf);
		err = sym_symtab_load(&f->symtab, cache, src_id);
		f->st.symtab_loaded += !err;
		f->st.symtab_rejected += err == -EINVAL;
		if (err == -ENOMEM)
			goto out;
	}
	if (!cache || err) {
		if (f->dbg_elf && sym_elf_has_section(f->dbg_elf, ".symtab", SHT_SYMTAB))
			err = sym_symtab_add_elf(&b, f->dbg_elf, false);
		else if (f->elf)
			err = sym_symtab_add_elf(&b, f->elf, false);
		else
			err = 0;
		if (!err && f->elf)
			err = sym_symtab_add_elf(&b, f->elf, true);
		if (err) {
			sym_symtab_builder_release(&b);
			goto out;
		}
		err = sym_symtab_finish(&b, &f->symtab);
		if (err)
			goto out;
		if (cache && sym_symtab_save(&f->symtab, cache, src_id) == 0)
			f->st.symtab_written++;
	}
	err = -ENOMEM;
	f->dname = calloc(f->symtab.n ? f->symtab.n : 1, sizeof(*f->dname));
	if (!f->dname)
		goto out;
	/* Not a Go binary (or a malformed table, which is then not used): go stays empty. */
	if (f->elf && !sym_gopcln_from_elf(&f->go, f->elf) && !*f->debug_source) {
		/* a stripped Go binary: its names come from there */
		f->debug_source = sym_arena_printf(&s->arena, "%s [.gopclntab]", f->path);
		if (!f->debug_source)
			f->debug_source = "";
	}
	if (f->dbg_elf && sym_elf_has_section(f->dbg_elf, ".debug_info", -1))
		f->dwarf_elf = f->dbg_elf;
	else if (f->elf && sym_elf_has_section(f->elf, ".debug_info", -1))
		f->dwarf_elf = f->elf;
	err = 0;
out:
	free(cache);
	return err;
}

/* Reads the build-id note; 0 if none. */
static size_t elf_build_id(Elf *elf, uint8_t *out, size_t cap)
{
	const void *id;
	ssize_t len = dwelf_elf_gnu_build_id(elf, &id);

	if (len <= 0 || (size_t)len > cap)
		return 0;
	memcpy(out, id, (size_t)len);
	return (size_t)len;
}

/*
 * Opens an ELF file for reading through a private mapping; the descriptor
 * is closed once libelf holds the whole file, so a profile with hundreds
 * of libraries does not run out of descriptors.
 */
Elf *sym_elf_open(const char *path, int *fdp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*fdp = -1;
	if (fd < 0)
		return NULL;
	/* Private: dwarf.c edits section headers in memory (never the file). */
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);

	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getclass(elf)) {
		if (elf)
			elf_end(elf);
		close(fd);
		errno = ENOEXEC;
		return NULL;
	}
	if (elf_cntl(elf, ELF_C_FDREAD) == 0 && elf_cntl(elf, ELF_C_FDDONE) == 0) {
		close(fd);
		fd = -1;
	}
	*fdp = fd;
	return elf;
}

/* Index a new file and make it findable; on failure it is freed and errno is ENOMEM. */
static struct sym_file *file_publish(struct sym_session *s, struct sym_file *f)
{
	if (file_index(s, f) == -ENOMEM) {
		file_free(f);
		errno = ENOMEM;
		return NULL;
	}
	file_insert(s, f);
	return f;
}

struct sym_file *sym_file_get(struct sym_session *s, const char *path, const uint8_t *build_id,
			      size_t build_id_len)
{
	if (build_id_len > 64)
		build_id_len = 64;
	char *key = make_key('f', path ? path : "", build_id, build_id_len);

	if (!key)
		goto nomem;
	struct sym_file *f = file_find(s, key);

	if (f) {
		free(key);
		return file_hold(s, f);
	}
	f = file_new(key, path);
	free(key);
	if (!f)
		goto nomem;
	if (build_id && build_id_len) {
		memcpy(f->build_id, build_id, build_id_len);
		f->build_id_len = build_id_len;
	}
	if (path && path[0])
		f->elf = sym_elf_open(path, &f->fd);
	if (f->elf) {
		uint8_t id[64];
		size_t len = elf_build_id(f->elf, id, sizeof(id));

		if (f->build_id_len &&
		    (len != f->build_id_len || memcmp(id, f->build_id, len) != 0)) {
			/* The file changed since it was mapped: its symbols would
			 * be wrong. Debuginfo by build-id may still be found. */
			elf_end(f->elf);
			f->elf = NULL;
			if (f->fd >= 0)
				close(f->fd);
			f->fd = -1;
		} else if (!f->build_id_len) {
			memcpy(f->build_id, id, len);
			f->build_id_len = len;
		}
	}
	return file_publish(s, f);
nomem:
	errno = ENOMEM;
	return NULL;
}

struct sym_file *sym_file_from_image(struct sym_session *s, const char *name, const void *image,
				     size_t len)
{
	void *copy = malloc(len ? len : 1);

	if (!copy)
		goto nomem;
	memcpy(copy, image, len);
	Elf *elf = elf_memory(copy, len);

	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		elf = NULL;
	}
	uint8_t id[64];
	size_t idlen = elf ? elf_build_id(elf, id, sizeof(id)) : 0;
	char *key = make_key('i', name ? name : "", id, idlen);
	struct sym_file *f = key ? file_find(s, key) : NULL;

	if (f || !key) {
		if (elf)
			elf_end(elf);
		free(copy);
		free(key);
		if (!key)
			goto nomem;
		return file_hold(s, f);
	}
	f = file_new(key, name);
	free(key);
	if (!f) {
		if (elf)
			elf_end(elf);
		free(copy);
		goto nomem;
	}
	f->elf = elf;
	f->image = copy;
	memcpy(f->build_id, id, idlen);
	f->build_id_len = idlen;
	return file_publish(s, f);
nomem:
	errno = ENOMEM;
	return NULL;
}

/*
 * The name to show for a raw DWARF name of f, demangled unless asked not to.
 * Keyed by the raw string's address, which f's DWARF data owns: the cache
 * goes with f.
 */
static const char *display_name(struct sym_session *s, struct sym_file *f, const char *raw)
{
	if (s->opts.no_demangle)
		return raw;
	const void *val;

	if (sym_cache_get(&f->names, (uint64_t)(uintptr_t)raw, &val))
		return val;
	const char *d = sym_demangle(&f->arena, raw);

	if (!d)
		d = raw;
	if (sym_cache_put(&f->names, (uint64_t)(uintptr_t)raw, d, 1))
		return NULL;
	return d;
}

static const char *sym_name(struct sym_session *s, struct sym_file *f, long i)
{
	if (!f->dname[i]) {
		const char *raw = f->symtab.blob + f->symtab.syms[i].name_off;
		const char *d = s->opts.no_demangle ? raw : sym_demangle(&f->arena, raw);

		f->dname[i] = d ? d : raw;
	}
	return f->dname[i];
}

/*
 * The DWARF index of f, with its on-disk copy under the cache root when f
 * has a build-id (a path says nothing about the content). A cache that
 * cannot be read or written only costs speed.
 */
static struct sym_dwarf *file_dwarf(struct sym_session *s, struct sym_file *f)
{
	if (!f->dwarf_tried) {
		char *index_path = cache_path(s, f, "");

		f->dwarf_tried = true;
		if (f->dwarf_elf)
			f->dwarf = sym_dwarf_new(f->dwarf_elf, s->opts.lines, index_path);
		free(index_path);
	}
	return f->dwarf;
}

/*
 * The name of the unnamed function holding vaddr, from the FDE that covers
 * it: "base+0xSTART", one stable name per function (START is the FDE's, an
 * ELF virtual address like the one in "[base+0xADDR]"). NULL with *err 0 if
 * no FDE covers vaddr; -ENOMEM in *err.
 */
static const char *fde_function(struct sym_file *f, uint64_t vaddr, int *err)
{
	uint64_t start, end;
	const void *val;

	*err = 0;
	if (!f->fdes_tried) {
		f->fdes_tried = true;
		*err = sym_fdes_init(&f->fdes, f->elf);
		f->fdes_ok = *err == 0;
		if (*err != -ENOMEM)
			*err = 0;
	}
	if (!f->fdes_ok || !sym_fdes_find(&f->fdes, vaddr, &start, &end))
		return NULL;
	if (sym_cache_get(&f->fde_names, start, &val))
		return val;
	char *name = sym_arena_printf(&f->arena, "%s+0x%" PRIx64, f->base, start);

	if (!name || sym_cache_put(&f->fde_names, start, name, 1)) {
		*err = -ENOMEM;
		return NULL;
	}
	return name;
}

void sym_session_index_stats(const struct sym_session *s, struct sym_index_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < s->nbuckets; i++)
		for (const struct sym_file *f = s->files[i]; f; f = f->next) {
			out->symtab_loaded += f->st.symtab_loaded;
			out->symtab_rejected += f->st.symtab_rejected;
			out->symtab_written += f->st.symtab_written;
			if (f->dwarf)
				sym_dwarf_add_stats(f->dwarf, out);
		}
}

bool sym_file_is_go(const struct sym_file *f)
{
	return f && f->go.tab;
}

int sym_file_go_spans(const struct sym_file *f, sym_gopcln_span_fn fn, void *ctx)
{
	return sym_file_is_go(f) ? sym_gopcln_frame_spans(&f->go, fn, ctx) : 0;
}

/*
 * Frames of a Go function from .gopclntab: the runtime's own names (the
 * same with or without .symtab and DWARF, so a stripped build reads like a
 * default one), its inline tree and lines. 0 when no Go function holds vaddr.
 */
static int go_lookup(struct sym_session *s, struct sym_file *f, uint64_t vaddr,
		     struct sym_frame **out)
{
	struct sym_goframe gf[MAX_INLINE];
	struct sym_gofunc fn;
	int n, first;

	if (sym_gopcln_find(&f->go, vaddr, &fn))
		return 0;
	n = sym_gopcln_frames(&f->go, &fn, vaddr, s->opts.lines, gf, MAX_INLINE);
	first = s->opts.no_inline ? n - 1 : 0;
	*out = sym_arena_alloc(&s->arena, (size_t)(n - first) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = first; i < n; i++) {
		struct sym_frame *o = &(*out)[i - first];

		o->name = gf[i].name;
		o->flags = gf[i].inlined ? SYM_F_INLINED : 0;
		if (!o->name) {
			o->name = sym_arena_printf(&s->arena, "[%s+0x%" PRIx64 "]", f->base, vaddr);
			o->flags = SYM_F_UNKNOWN;
			if (!o->name)
				return -ENOMEM;
		}
		o->file = gf[i].file;
		o->line = gf[i].line > 0 ? (uint32_t)gf[i].line : 0;
	}
	return n - first;
}

int sym_file_lookup(struct sym_session *s, struct sym_file *f, uint64_t vaddr,
		    const struct sym_frame **frames)
{
	const void *val;
	int n = sym_cache_get(&f->cache, vaddr, &val);

	if (n) {
		*frames = val;
		return n;
	}
	if (f->go.tab) {
		struct sym_frame *out;

		n = go_lookup(s, f, vaddr, &out);
		if (n < 0)
			return n;
		if (n > 0) {
			if (sym_cache_put(&f->cache, vaddr, out, n))
				return -ENOMEM;
			*frames = out;
			return n;
		}
	}
	struct sym_dwarf_frame df[MAX_INLINE];
	int nd = 0;
	bool want_dwarf = !s->opts.no_inline || s->opts.lines;

	if (want_dwarf && file_dwarf(s, f)) {
		nd = sym_dwarf_lookup(f->dwarf, vaddr, s->opts.lines, df, MAX_INLINE);
		if (nd < 0)
			nd = 0;
	}
	/* Without inlines, only the outermost (the function) is kept. */
	int first = (nd > 0 && s->opts.no_inline) ? nd - 1 : 0;

	n = nd > 0 ? nd - first : 1;
	struct sym_frame *out = sym_arena_alloc(&f->arena, (size_t)n * sizeof(*out));

	if (!out)
		return -ENOMEM;
	for (int i = 0; i < n - 1; i++) {
		const struct sym_dwarf_frame *d = &df[first + i];

		out[i].name = d->name ? display_name(s, f, d->name) : "[inlined]";
		if (!out[i].name)
			return -ENOMEM;
		out[i].file = d->file;
		out[i].line = d->line;
		out[i].flags = SYM_F_INLINED;
	}
	/* The function itself: the ELF symbol (stable, what nm shows), else
	 * the DWARF subprogram, else the unnamed function its FDE bounds, else
	 * the module and offset. */
	struct sym_frame *last = &out[n - 1];
	long si = sym_symtab_find(&f->symtab, vaddr);
	int err;

	memset(last, 0, sizeof(*last));
	if (si >= 0)
		last->name = sym_name(s, f, si);
	else if (nd > 0 && df[nd - 1].name)
		last->name = display_name(s, f, df[nd - 1].name);
	else if (!(last->name = fde_function(f, vaddr, &err)) && !err) {
		last->name = sym_arena_printf(&f->arena, "[%s+0x%" PRIx64 "]", f->base, vaddr);
		last->flags = SYM_F_UNKNOWN;
	}
	if (!last->name)
		return -ENOMEM;
	if (nd > 0) {
		last->file = df[nd - 1].file;
		last->line = df[nd - 1].line;
	} else if (s->opts.lines && f->dwarf) {
		sym_dwarf_line(f->dwarf, vaddr, &last->file, &last->line);
	}
	if (sym_cache_put(&f->cache, vaddr, out, n))
		return -ENOMEM;
	*frames = out;
	return n;
}

/* A kernel or JIT symbol's frame, demangled the first time it is asked for. */
static const struct sym_frame *name_once(struct sym_session *s, struct sym_arena *arena,
					 struct sym_frame *fr, const char *raw, uint32_t flags)
{
	if (!fr->name) {
		const char *d = s->opts.no_demangle ? NULL : sym_demangle(arena, raw);

		fr->name = d ? d : raw;
		fr->flags = flags;
	}
	return fr;
}

int sym_kernel_lookup(struct sym_session *s, uint64_t addr, const struct sym_frame **frames)
{
	struct sym_ksyms *k = &s->ksyms;
	int err = 0;

	if (!s->ksyms_tried) {
		s->ksyms_tried = true;
		if (!s->opts.kallsyms && s->opts.cache_dir)
			err = sym_ksyms_load_cached(k, s->opts.cache_dir);
		else
			err = sym_ksyms_load(k, s->opts.kallsyms ? s->opts.kallsyms
								 : "/proc/kallsyms");
		if (err == -ENOMEM)
			return err;
	}
	if (!sym_ksyms_covers(k, addr)) {
		/* Not the kernel text or a module the cache knows: BPF or ftrace
		 * code, which only the live kallsyms lists. */
		k = &s->ksyms_live;
		if (!s->ksyms_live_tried) {
			s->ksyms_live_tried = true;
			err = sym_ksyms_load(k, "/proc/kallsyms");
			if (err == -ENOMEM)
				return err;
		}
	}
	long i = sym_ksyms_find(k, addr);

	if (i < 0) {
		*frames = &s->kunknown;
		return 1;
	}
	*frames = name_once(s, &s->arena, &k->frames[i], k->blob + k->name_off[i], SYM_F_KERNEL);
	return 1;
}

/* 256 MiB: the map of a large, long-running JVM or node process, with room to spare. */
#define PERFMAP_MAX_DEFAULT (256ull << 20)

static uint64_t perfmap_max(const struct sym_session *s)
{
	const char *env = getenv("XPROF_PERF_MAP_MAX");
	char *end;
	unsigned long long v;

	if (s->opts.perfmap_max)
		return s->opts.perfmap_max;
	if (env && *env) {
		errno = 0;
		v = strtoull(env, &end, 10);
		if (!errno && !*end && v)
			return v;
	}
	return PERFMAP_MAX_DEFAULT;
}

static struct sym_perfmap *perfmap_get(struct sym_session *s, uint32_t pid, uint32_t uid)
{
	for (size_t i = 0; i < s->nperfmaps; i++)
		if (s->perfmaps[i].pid == pid)
			return &s->perfmaps[i];
	if (s->nperfmaps == s->perfmaps_cap) {
		size_t cap = s->perfmaps_cap ? s->perfmaps_cap * 2 : 8;
		struct sym_perfmap *m = realloc(s->perfmaps, cap * sizeof(*m));

		if (!m)
			return NULL;
		s->perfmaps = m;
		s->perfmaps_cap = cap;
	}
	struct sym_perfmap *m = &s->perfmaps[s->nperfmaps];
	char path[4096];

	memset(m, 0, sizeof(*m));
	m->pid = pid;
	m->uid = uid;
	snprintf(path, sizeof(path), "%s/perf-%u.map",
		 s->opts.perfmap_dir ? s->opts.perfmap_dir : "/tmp", pid);
	if (sym_perfmap_load(m, path, uid, perfmap_max(s)) == -ENOMEM) {
		sym_perfmap_release(m);
		return NULL;
	}
	s->nperfmaps++;
	return m;
}

const char *sym_session_refused(const struct sym_session *s, size_t i)
{
	for (size_t k = 0; k < s->nperfmaps; k++)
		if (s->perfmaps[k].refused && i-- == 0)
			return s->perfmaps[k].refused;
	return NULL;
}

int sym_jit_lookup(struct sym_session *s, uint32_t pid, uint32_t uid, uint64_t addr,
		   const struct sym_frame **frames)
{
	struct sym_perfmap *m = perfmap_get(s, pid, uid);

	if (!m)
		return -ENOMEM;
	long i = sym_perfmap_find(m, addr);

	if (i < 0) {
		*frames = &s->unknown;
		return 1;
	}
	*frames = name_once(s, &m->arena, &m->frames[i], m->blob + m->name_off[i], SYM_F_JIT);
	return 1;
}

void sym_jit_forget(struct sym_session *s, uint32_t pid)
{
	for (size_t i = 0; i < s->nperfmaps; i++) {
		if (s->perfmaps[i].pid != pid)
			continue;
		/* A refused map holds only its message, kept for sym_session_refused(). */
		if (s->perfmaps[i].refused)
			return;
		sym_perfmap_release(&s->perfmaps[i]);
		s->perfmaps[i] = s->perfmaps[--s->nperfmaps];
		return;
	}
}

void sym_file_put(struct sym_session *s, struct sym_file *f)
{
	if (!f || !f->refs)
		return;
	if (--f->refs)
		return;
	f->lru_prev = s->lru_tail;
	f->lru_next = NULL;
	if (s->lru_tail)
		s->lru_tail->lru_next = f;
	else
		s->lru_head = f;
	s->lru_tail = f;
}

/* The bytes of an ELF file libelf maps (or of the image it reads), 0 for none. */
static size_t elf_bytes(Elf *elf)
{
	size_t n = 0;

	if (elf && !elf_rawfile(elf, &n))
		n = 0;
	return n;
}

/*
 * What f holds: heap (arena, tables, caches, DWARF index) and the ELF bytes
 * mapped (counted whole: pages read once stay resident until unmapped).
 */
static size_t file_bytes(const struct sym_file *f)
{
	size_t n = sizeof(*f) + f->arena.bytes + elf_bytes(f->elf) + elf_bytes(f->dbg_elf);

	n += f->symtab.n * (sizeof(*f->symtab.syms) + sizeof(*f->dname)) + f->symtab.blob_len;
	n += (f->cache.slots ? f->cache.mask + 1 : 0) * sizeof(*f->cache.slots);
	n += (f->names.slots ? f->names.mask + 1 : 0) * sizeof(*f->names.slots);
	n += (f->fde_names.slots ? f->fde_names.mask + 1 : 0) * sizeof(*f->fde_names.slots);
	return n + sym_dwarf_bytes(f->dwarf);
}

void sym_session_trim(struct sym_session *s, size_t budget)
{
	size_t total = 0;

	/* The index on disk gets this window's work even if the file stays open for days. */
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct sym_file *f = s->files[i]; f; f = f->next) {
			sym_dwarf_flush(f->dwarf);
			total += file_bytes(f);
		}
	while (s->lru_head && total > budget) {
		struct sym_file *f = s->lru_head;
		size_t n = file_bytes(f);

		lru_remove(s, f);
		file_unlink(s, f);
		file_free(f);
		total -= n < total ? n : total;
		s->st.evicted++;
	}
	s->st.bytes = total;
}

/* madvise(MADV_DONTNEED) the whole pages of [lo, hi) inside the mapping at base. */
static void drop_pages(uintptr_t base, uint64_t lo, uint64_t hi, uintptr_t pg)
{
	uintptr_t a = (base + (uintptr_t)lo + pg - 1) & ~(pg - 1);
	uintptr_t b = (base + (uintptr_t)hi) & ~(pg - 1);

	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/*
 * The pages of elf's mapped file out of our resident memory, but for those
 * we may have written: the mapping is private and libelf edits the section
 * headers in place (dwarf.c hides sections, libdw's elf_compress() rewrites
 * a decompressed one's header), which DONTNEED would silently undo. The ELF
 * header's page and the section header table's stay; every other page was
 * only read, and DONTNEED only drops our reference to its page-cache copy.
 */
static void elf_pageout(Elf *elf)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), sh_lo, sh_hi;
	size_t n = 0, shnum = 0;
	char *raw = elf ? elf_rawfile(elf, &n) : NULL;
	GElf_Ehdr eh;

	if (!raw || n < pg || ((uintptr_t)raw & (pg - 1)) || !gelf_getehdr(elf, &eh) ||
	    elf_getshdrnum(elf, &shnum))
		return;
	sh_lo = eh.e_shoff & ~(pg - 1);
	sh_hi = eh.e_shoff + (uint64_t)shnum * eh.e_shentsize;
	if (sh_lo < pg || sh_hi > n || sh_hi < sh_lo) {
		/* the table in the first page, or not in the file: that page stays */
		drop_pages((uintptr_t)raw, pg, n, pg);
		return;
	}
	drop_pages((uintptr_t)raw, pg, sh_lo, pg);
	drop_pages((uintptr_t)raw, (sh_hi + pg - 1) & ~(pg - 1), n, pg);
}

void sym_file_pageout(struct sym_file *f)
{
	if (!f)
		return;
	/* in-memory images (vDSO, MiniDebugInfo) are heap, not a file */
	if (!f->image)
		elf_pageout(f->elf);
	if (!f->dbg_image)
		elf_pageout(f->dbg_elf);
}

void sym_session_pageout(struct sym_session *s)
{
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct sym_file *f = s->files[i]; f; f = f->next)
			sym_file_pageout(f);
}

void sym_session_get_stats(const struct sym_session *s, struct sym_session_stats *out)
{
	size_t total = 0;

	for (size_t i = 0; i < s->nbuckets; i++)
		for (const struct sym_file *f = s->files[i]; f; f = f->next)
			total += file_bytes(f);
	*out = s->st;
	out->files = s->nfiles;
	out->bytes = total;
	out->perfmaps = s->nperfmaps;
}

int sym_file_bounds(const struct sym_file *f, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
	long i = f ? sym_symtab_find(&f->symtab, vaddr) : -1;

	if (i < 0)
		return -ENOENT;
	*start = f->symtab.syms[i].start;
	*end = *start + f->symtab.syms[i].size;
	return 0;
}

int sym_jit_bounds(struct sym_session *s, uint32_t pid, uint32_t uid, uint64_t addr,
		   uint64_t *start, uint64_t *end)
{
	struct sym_perfmap *m = perfmap_get(s, pid, uid);
	long i;

	if (!m)
		return -ENOMEM;
	i = sym_perfmap_find(m, addr);
	if (i < 0)
		return -ENOENT;
	*start = m->start[i];
	*end = m->start[i] + m->size[i];
	return 0;
}

const char *sym_file_debug_source(const struct sym_file *f)
{
	return f && f->debug_source ? f->debug_source : "";
}
