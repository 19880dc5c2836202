/* SPDX-License-Identifier: MIT */
/*
 * symbolize/ internals (libdwflP.h pattern): the session, the per-file symbol
 * table and DWARF index, the kernel and perf-map tables, and the helpers the
 * files of this folder share. Tests may include this header; other folders
 * may not.
 *
 * Memory: everything handed to callers (names, file names, frame arrays)
 * lives in the session arena, which only grows and never moves, so pointers
 * stay valid until sym_session_free().
 */
#ifndef XPROF_SYMBOLIZE_INT_H
#define XPROF_SYMBOLIZE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/symbolize.h"

struct Elf;
struct Dwarf;
struct debuginfod_client;

/* ---- arena: bump allocator in chunks that never move ---------------------- */

struct sym_arena_chunk;

struct sym_arena {
	struct sym_arena_chunk *head;
	size_t used, cap; /* in head */
};

void *sym_arena_alloc(struct sym_arena *a, size_t size);
char *sym_arena_strdup(struct sym_arena *a, const char *str);
char *sym_arena_printf(struct sym_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sym_arena_release(struct sym_arena *a);

/* A whole (small or /proc) file in a malloc'ed buffer; NULL with errno. */
char *sym_read_file(const char *path, size_t *lenp);

/* ---- string blob: grows while a table is built, then frozen ---------------- */

struct sym_blob {
	char *buf;
	size_t len, cap;
};

/* Offset of a copy of str in the blob, or -ENOMEM. */
int64_t sym_blob_add(struct sym_blob *b, const char *str, size_t len);

/* ---- address cache: vaddr -> frames, open addressing ----------------------- */

struct sym_cache_slot {
	uint64_t key;	 /* address + 1, 0 = empty */
	const void *val; /* frames, or a name for the demangle cache */
	int n;
};

struct sym_cache {
	struct sym_cache_slot *slots;
	size_t mask, used;
	struct sym_cache_slot top; /* key UINT64_MAX, which would wrap to 0 */
};

/* The n stored for key (0: absent, val untouched). */
int sym_cache_get(const struct sym_cache *c, uint64_t key, const void **val);
/* Stores (key, val, n), n > 0; 0 or -ENOMEM. */
int sym_cache_put(struct sym_cache *c, uint64_t key, const void *val, int n);
void sym_cache_release(struct sym_cache *c);

/* ---- ELF symbol tables ------------------------------------------------------ */

/*
 * One function: [start, start + size). Aliases (same start) are merged into
 * one entry named by sym_alias_better(). Zero-size symbols get the distance
 * to the next symbol, capped at the end of their section.
 */
struct sym_elf_sym {
	uint64_t start;
	uint32_t size;
	uint32_t name_off; /* into sym_symtab.blob */
};

struct sym_symtab {
	struct sym_elf_sym *syms; /* sorted by start, starts unique */
	size_t n;
	char *blob;
	size_t blob_len;
};

/* Symbols collected from several ELF files (debug symtab + main dynsym). */
struct sym_symtab_builder {
	struct sym_symtab_raw *raw;
	size_t n, cap;
	struct sym_blob blob;
};

/* Adds FUNC/IFUNC symbols of .symtab (want_dynsym false) or .dynsym. */
int sym_symtab_add_elf(struct sym_symtab_builder *b, struct Elf *elf, bool want_dynsym);
/* Sorts, merges aliases, sizes zero-size symbols; frees the builder. */
int sym_symtab_finish(struct sym_symtab_builder *b, struct sym_symtab *out);
void sym_symtab_builder_release(struct sym_symtab_builder *b);
void sym_symtab_release(struct sym_symtab *t);
/* Index of the symbol holding vaddr, or -1. */
long sym_symtab_find(const struct sym_symtab *t, uint64_t vaddr);
/* True if a should name an alias group rather than b. */
bool sym_alias_better(const char *a, int bind_a, const char *b, int bind_b);
bool sym_elf_has_section(struct Elf *elf, const char *name, int type);

/* ---- DWARF inline index ----------------------------------------------------- */

struct sym_dwarf;

/*
 * NULL if the Elf has no usable DWARF (errno set). elf stays owned by the
 * caller and must be writable in memory (ELF_C_READ_MMAP_PRIVATE or an
 * image): sections lookups never read are hidden from libdw. Without lines,
 * line tables are hidden too.
 */
struct sym_dwarf *sym_dwarf_new(struct Elf *elf, bool lines);
void sym_dwarf_free(struct sym_dwarf *d);

/* One frame of an inline chain, innermost first. */
struct sym_dwarf_frame {
	const char *name; /* raw (linkage name preferred), owned by the DWARF data */
	const char *file;
	uint32_t line;
	bool inlined;
};

/*
 * The chain of subprogram/inlined_subroutine scopes holding vaddr, innermost
 * first, at most max frames; the last one is the subprogram. With lines, the
 * file:line of each frame (the call site for outer frames). Returns the count,
 * 0 if no DWARF function covers vaddr, or -errno.
 */
int sym_dwarf_lookup(struct sym_dwarf *d, uint64_t vaddr, bool lines, struct sym_dwarf_frame *out,
		     int max);

/* The line-table entry for vaddr alone (code no DWARF function covers). */
int sym_dwarf_line(struct sym_dwarf *d, uint64_t vaddr, const char **file, uint32_t *line);

/* ---- demangling ------------------------------------------------------------- */

/* Demangled copy in the arena, or NULL when name is not a C++/Rust symbol. */
const char *sym_demangle(struct sym_arena *a, const char *name);

/* ---- kernel and perf maps ------------------------------------------------- */

struct sym_krange {
	uint64_t lo, hi;
};

/* Text symbols with no sizes: each covers up to the next one. */
struct sym_ksyms {
	uint64_t *addr;		  /* sorted */
	uint32_t *name_off;	  /* "name" or "name [mod]" in blob */
	struct sym_frame *frames; /* filled lazily, one per symbol */
	size_t n;
	char *blob;
	size_t blob_len;
	bool hidden;		 /* every address read as 0 (kptr_restrict) */
	uint64_t text_lo, text_hi; /* [_stext, _etext); 0 if not listed */

	/* Loaded from the cache file, mapped: addr, name_off and blob point
	 * into it. It covers the kernel text and the modules below only. */
	void *map;
	size_t map_len;
	struct sym_krange *mods; /* modules loaded when it was written */
	size_t nmods;
};

int sym_ksyms_load(struct sym_ksyms *k, const char *path);
/*
 * /proc/kallsyms through the cache in cache_dir, valid for one boot and one
 * set of loaded modules (boot_id and /proc/modules are its key): mapped if
 * the cache file matches, else read and written to the cache. 0 or -errno.
 */
int sym_ksyms_load_cached(struct sym_ksyms *k, const char *cache_dir);
/*
 * Checks a cache file's bytes (map, from mmap: the table takes it over and
 * munmaps it on release) against the key; -ESTALE if they do not match or
 * do not hold together. boot_id has 40 bytes, NUL-padded. For the fuzzer.
 */
int sym_ksyms_from_cache(struct sym_ksyms *k, void *map, size_t len, const char *boot_id,
			 uint64_t modules_hash);
/* False for an address a cached table cannot vouch for (BPF JIT, ftrace
 * trampolines): outside the kernel text and the modules of its key. */
bool sym_ksyms_covers(const struct sym_ksyms *k, uint64_t addr);
void sym_ksyms_release(struct sym_ksyms *k);
long sym_ksyms_find(const struct sym_ksyms *k, uint64_t addr);

struct sym_perfmap {
	uint32_t pid;
	bool loaded;	 /* false: no map file */
	uint64_t *start; /* sorted, unique */
	uint64_t *size;
	uint32_t *name_off;
	struct sym_frame *frames;
	size_t n;
	char *blob;
};

/* Parses a perf map from memory: "START SIZE name" per line, hex. */
int sym_perfmap_parse(struct sym_perfmap *m, const char *text, size_t len);
void sym_perfmap_release(struct sym_perfmap *m);
long sym_perfmap_find(const struct sym_perfmap *m, uint64_t addr);

/* ---- files and the session ------------------------------------------------- */

struct sym_file {
	struct sym_file *next; /* session's hash chain */
	char *key;	       /* "b:<hex build-id>" or "p:<path>" */
	const char *path;
	const char *base; /* basename, for unknowns */
	uint8_t build_id[64];
	size_t build_id_len;
	const char *debug_source; /* "" if none */

	struct sym_symtab symtab;
	const char **dname; /* per symbol: display name, lazily */

	/* Open ELF handles: main file, separate debug file (either may be NULL). */
	int fd, dbg_fd;
	struct Elf *elf, *dbg_elf;
	void *image; /* owned copy of an in-memory image (vDSO, MiniDebugInfo) */
	void *dbg_image;
	struct Elf *dwarf_elf; /* the one holding .debug_info, or NULL */
	struct sym_dwarf *dwarf;
	bool dwarf_tried;

	struct sym_cache cache;
};

struct sym_session {
	struct sym_opts opts;
	struct sym_arena arena;

	struct sym_file **files; /* hash buckets */
	size_t nbuckets, nfiles;

	struct sym_ksyms ksyms;
	struct sym_ksyms ksyms_live; /* read when a cached ksyms does not cover an address */
	bool ksyms_tried, ksyms_live_tried;
	struct sym_cache kcache;

	struct sym_perfmap *perfmaps; /* small array, searched linearly by pid */
	size_t nperfmaps, perfmaps_cap;

	/* DWARF name string (by address, libdw keeps them) -> display name. */
	struct sym_cache names;

	struct debuginfod_client *dbgd;
	void *dbgd_lib; /* dlopen()ed on first use; NULL if never needed */
	struct debuginfod_client *(*dbgd_begin)(void);
	int (*dbgd_find)(struct debuginfod_client *, const unsigned char *, int, char **);
	void (*dbgd_end)(struct debuginfod_client *);
	bool dbgd_tried;
	bool dbgd_down; /* unreachable once: not asked again */

	struct sym_frame unknown; /* "[unknown]" */
	struct sym_frame kunknown;
};

/* Opens path as ELF; *fdp is the descriptor still held (-1 if none). NULL with errno. */
struct Elf *sym_elf_open(const char *path, int *fdp);

/* debuginfo.c: finds and opens the separate debuginfo of f (sets dbg_*). */
void sym_debuginfo_find(struct sym_session *s, struct sym_file *f);
/* CRC32 of a file as .gnu_debuglink computes it; -errno on error. */
int sym_file_crc32(int fd, uint32_t *crc);
/* Decompresses .gnu_debugdata (xz) into a malloc'ed buffer. */
int sym_xz_decompress(const void *in, size_t in_len, void **out, size_t *out_len);

#endif /* XPROF_SYMBOLIZE_INT_H */
