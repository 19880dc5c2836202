/* SPDX-License-Identifier: MIT */
/*
 * symbolize/ internals (libdwflP.h pattern): the session, the per-file symbol
 * table and DWARF index, the kernel and perf-map tables, and the helpers the
 * files of this folder share. Tests may include this header; other folders
 * may not.
 *
 * Memory: everything handed to callers (names, file names, frame arrays)
 * lives in an arena that only grows and never moves: the file's for file
 * lookups (freed when sym_session_trim() evicts the file, which it does only
 * to files nobody holds), the perf map's for JIT names (freed by
 * sym_jit_forget()), the session's for the kernel's.
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
	size_t bytes;	  /* every chunk, for memory budgets */
};

void *sym_arena_alloc(struct sym_arena *a, size_t size);
char *sym_arena_strdup(struct sym_arena *a, const char *str);
char *sym_arena_printf(struct sym_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sym_arena_release(struct sym_arena *a);

/*
 * Writes buf to path (mode 0600) through a temporary file and rename()
 * (lib's xl_write_file()): readers see all or nothing. Its directory is made
 * 0700 without following another user's link and must be the caller's
 * alone. 0 or -errno (-ELOOP, -EPERM, -EACCES for a directory refused).
 */
int sym_write_atomic(const char *path, const void *buf, size_t len);

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

/* ---- function bounds from .eh_frame (ehframe.c) ------------------------------ */

struct sym_fde_load {
	uint64_t vaddr, offset, filesz; /* a PT_LOAD's file bytes */
};

/*
 * The FDE table of a file's .eh_frame_hdr (PT_GNU_EH_FRAME), read in place:
 * table and img point into the bytes of the Elf given to sym_fdes_init,
 * which must outlive it. Each FDE's [pc_begin, pc_begin + pc_range) is one
 * function's code, which names code that no symbol covers (stripped files).
 */
struct sym_fdes {
	const uint8_t *img;	    /* the whole file (elf_rawfile) */
	const uint8_t *table;	    /* n pairs of int32: initial location, FDE address */
	size_t n;		    /* both relative to hdr_vaddr, sorted by the linker */
	uint64_t hdr_vaddr;	    /* start of .eh_frame_hdr */
	struct sym_fde_load *loads; /* PT_LOADs, to read an FDE at its address */
	size_t nloads;
	uint64_t plt_lo[4], plt_hi[4]; /* .plt* sections: stubs, not functions */
	size_t nplt;
};

/*
 * Finds the table of elf (x86-64 only). 0, -ENOENT (no PT_GNU_EH_FRAME, no
 * sorted table, or one that does not fit the file) or -ENOMEM. t needs
 * sym_fdes_release() only after 0.
 */
int sym_fdes_init(struct sym_fdes *t, struct Elf *elf);
void sym_fdes_release(struct sym_fdes *t);
/*
 * The FDE covering vaddr: true with its code in [*start, *end). False when
 * no FDE covers it, the FDE is a PLT's (one FDE for every stub of a section,
 * which is no function), or the FDE does not hold together (bad length,
 * unknown CIE augmentation, a start other than the table's).
 */
bool sym_fdes_find(const struct sym_fdes *t, uint64_t vaddr, uint64_t *start, uint64_t *end);

/* ---- DWARF inline index ----------------------------------------------------- */

/*
 * One compilation unit, indexed: what dwarf.c builds from libdw on the first
 * address in the CU, and what symcache.c stores on disk and maps back, in the
 * same layout, so one lookup path serves both. Strings are offsets into
 * strs (SYM_NO_STR: none); every string is NUL-terminated inside strs.
 *
 *   iv:    every address range of a subprogram/inlined_subroutine, sorted by
 *          (lo, -hi, depth); cparent is the enclosing interval, always an
 *          earlier index (or -1), so walks towards the root terminate.
 *   nodes: the scope of each interval: raw name (linkage name preferred),
 *          parent node, and for inlined ones the call site (absolute file).
 *   rows:  the line table as dwarf_getsrc_die() answers it: the answer for
 *          an address is the last row at or below it, none if that row ends
 *          a sequence (file SYM_END_SEQ). Addresses strictly increase; rows
 *          that would not change any answer are dropped.
 */
#define SYM_NO_STR  UINT32_MAX
#define SYM_END_SEQ (UINT32_MAX - 1)

struct sym_iv {
	uint64_t lo, hi;
	uint32_t node;
	int32_t cparent;
};

struct sym_row {
	uint64_t addr;
	uint32_t file; /* string offset, SYM_NO_STR or SYM_END_SEQ */
	int32_t line;
};

#define SYM_NODE_INLINED (1u << 0)

struct sym_node {
	uint32_t name, call_file; /* string offsets or SYM_NO_STR */
	uint32_t call_line;
	int32_t parent; /* node index, -1 for none */
	uint32_t flags; /* SYM_NODE_* */
};

struct sym_cu_data {
	const struct sym_iv *iv;
	const struct sym_row *rows;
	const struct sym_node *nodes;
	const char *strs;
	uint32_t niv, nrows, nnodes, strs_len;
	bool lines; /* rows were recorded (a session without lines skips them) */
};

/* The string at off, or NULL for SYM_NO_STR (off already validated). */
static inline const char *sym_cu_str(const struct sym_cu_data *cu, uint32_t off)
{
	return off < cu->strs_len ? cu->strs + off : NULL;
}

/* The innermost interval holding vaddr, or -1. */
long sym_cu_find_iv(const struct sym_cu_data *cu, uint64_t vaddr);
/* The line row answering vaddr, or NULL (none, or the end of a sequence). */
const struct sym_row *sym_cu_find_row(const struct sym_cu_data *cu, uint64_t vaddr);

/* A CU's address range: CU indices count CUs with code, in .debug_info order. */
struct sym_cu_range {
	uint64_t lo, hi;
	uint32_t cu;
	uint32_t pad;
};

/* ---- symbol index on disk (symcache.c) --------------------------------------- */

/*
 * <cache_dir>/sym-v<SYM_INDEX_VERSION>/<build-id hex>: the CU range table of
 * a file's DWARF and each CU indexed so far (struct sym_cu_data, as is).
 * Untrusted input: the header and directory are checked on load (magic,
 * version, sizes, bounds, CRC), each CU record on first use (CRC, counts,
 * every offset and index, order). A bad file or record is rebuilt from DWARF.
 */
#define SYM_INDEX_VERSION 1

struct sym_index_cu; /* directory entry, on disk */

struct sym_index {
	void *buf; /* the whole file */
	size_t len;
	bool mapped; /* buf is an mmap of it, else malloc'ed */
	uint64_t src_id;
	const struct sym_cu_range *ranges; /* sorted by lo */
	size_t nranges;
	const struct sym_index_cu *cus;
	size_t ncus;
};

/*
 * Reads and checks path. src_id identifies the DWARF it was built from (a
 * file with another is stale). Returns 0, -ENOENT (no file), -EINVAL
 * (rejected: corrupt, truncated, another version or source) or -ENOMEM.
 */
int sym_index_load(struct sym_index *ix, const char *path, uint64_t src_id);
/* The same from memory (copied). */
int sym_index_from_buf(struct sym_index *ix, const void *buf, size_t len, uint64_t src_id);
/* CU cu's record, checked; out points into ix. 0, -ENOENT (not indexed) or -EINVAL. */
int sym_index_cu(const struct sym_index *ix, size_t cu, struct sym_cu_data *out);
void sym_index_release(struct sym_index *ix);

/*
 * Writes an index atomically (temporary file, rename), creating its
 * directory. cus[i] with niv == 0 && nrows == 0 && !strs is left out (not
 * indexed). 0 or -errno; a failure only costs speed next time.
 */
int sym_index_write(const char *path, uint64_t src_id, const struct sym_cu_range *ranges,
		    size_t nranges, const struct sym_cu_data *const *cus, size_t ncus);

/* A serialized index in a malloc'ed buffer (for sym_index_write and tests). */
int sym_index_serialize(uint64_t src_id, const struct sym_cu_range *ranges, size_t nranges,
			const struct sym_cu_data *const *cus, size_t ncus, void **buf, size_t *len);

/*
 * The finished ELF symbol table of a file, in <build-id hex>.symtab beside
 * its DWARF index. src_id (sym_symtab_src_id) names the files it was built
 * from. Load: 0, -ENOENT, -EINVAL (rejected) or -ENOMEM; t is set only on
 * success. Save: 0 or -errno, atomically.
 */
uint64_t sym_symtab_src_id(struct Elf *elf, struct Elf *dbg);
int sym_symtab_load(struct sym_symtab *t, const char *path, uint64_t src_id);
int sym_symtab_save(const struct sym_symtab *t, const char *path, uint64_t src_id);

struct sym_dwarf;

/* What the index saved: counters for tests and `report -v`. */
struct sym_index_stats {
	uint32_t index_loaded;	  /* files whose index was read and accepted */
	uint32_t index_rejected;  /* files whose index was corrupt or stale */
	uint32_t cus_from_index;  /* CUs answered from an index */
	uint32_t cus_rejected;	  /* CU records that failed their checks */
	uint32_t cus_built;	  /* CUs indexed from DWARF (libdw) */
	uint32_t dwarf_opened;	  /* dwarf_begin_elf calls */
	uint32_t index_written;	  /* index files written */
	uint32_t symtab_loaded;	  /* symbol tables read from the cache */
	uint32_t symtab_rejected; /* symbol table files that were corrupt or stale */
	uint32_t symtab_written;
};

/*
 * NULL if the Elf has no usable DWARF (errno set). elf stays owned by the
 * caller and must be writable in memory (ELF_C_READ_MMAP_PRIVATE or an
 * image): sections lookups never read are hidden from libdw. Without lines,
 * line tables are hidden too. index_path (may be NULL): the on-disk index
 * to answer from and to update when d is freed; with a valid one, libdw is
 * opened only for a CU the index does not hold.
 */
struct sym_dwarf *sym_dwarf_new(struct Elf *elf, bool lines, const char *index_path);
/* Writes the index back if CUs were added, then frees. */
void sym_dwarf_free(struct sym_dwarf *d);
/* Writes the index back now if CUs were added since it was read or last written. */
void sym_dwarf_flush(struct sym_dwarf *d);
/* Heap and mapped bytes d holds (index, CUs built), for memory budgets. */
size_t sym_dwarf_bytes(const struct sym_dwarf *d);
/* Adds d's counters to *st. */
void sym_dwarf_add_stats(const struct sym_dwarf *d, struct sym_index_stats *st);
/* Identifies the DWARF of elf (sizes of its .debug_* sections) for the index. */
uint64_t sym_dwarf_src_id(struct Elf *elf);

/* One frame of an inline chain, innermost first. */
struct sym_dwarf_frame {
	const char *name; /* raw (linkage name preferred), owned by d */
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

/* ---- Go's function table (gopclntab.c) ------------------------------------ */

/*
 * A parsed .gopclntab (go1.18+): pointers into the file's bytes, which the
 * caller keeps mapped. Region fields are byte offsets into tab, each region
 * ending where the next begins; all are checked by sym_gopcln_parse(), and
 * every read through them is bounds-checked again, since the file is
 * untrusted. A zeroed struct is an empty table.
 */
struct sym_gopcln {
	const uint8_t *tab; /* the header; NULL: no table */
	size_t len;	    /* bytes from tab to the end of its section or segment */
	uint64_t vaddr;	    /* vaddr of tab */
	bool v120;	    /* go1.20+ layout (magic 0xfffffff1) */
	uint64_t nfunc, text;
	uint64_t names, names_end, cutab, cutab_end, files, files_end, pctab, pctab_end, pcln;
	const uint8_t *gofunc; /* moduledata.gofunc's bytes (inline trees), or NULL */
	size_t gofunc_len;
	uint64_t sigreturn; /* entry of runtime.sigreturn(__sigaction), checked by code; 0: none */
};

/* One function's record, as read (and checked) from the table. */
struct sym_gofunc {
	uint64_t idx, entry, end; /* [entry, end): up to the next function */
	uint32_t nameoff, pcsp, pcfile, pcln, npcdata, cu;
	uint8_t flag, nfuncdata;
	const uint8_t *rec; /* the _func record */
	uint32_t fixed;	    /* its size before the pcdata offsets */
};

struct sym_goframe {
	const char *name; /* NULL if the table has no valid name */
	const char *file;
	int32_t line; /* -1: unknown */
	bool inlined;
};

/* Parse the table at data (len bytes, loaded at vaddr). 0 or -EINVAL. */
int sym_gopcln_parse(struct sym_gopcln *g, const uint8_t *data, size_t len, uint64_t vaddr);
/*
 * Find and parse the table of an ELF file (by section, else by scanning its
 * data segments), then moduledata's gofunc and the signal trampoline.
 * 0, -ENOENT (not a Go binary) or -EINVAL (a malformed table).
 */
int sym_gopcln_from_elf(struct sym_gopcln *g, struct Elf *elf);
/* Function i (< nfunc), or the one holding pc. 0 or -ENOENT / -EINVAL. */
int sym_gopcln_func(const struct sym_gopcln *g, uint64_t i, struct sym_gofunc *f);
int sym_gopcln_find(const struct sym_gopcln *g, uint64_t pc, struct sym_gofunc *f);
/* The name at nameoff of funcnametab, or NULL. */
const char *sym_gopcln_name(const struct sym_gopcln *g, uint32_t nameoff);
/*
 * Frames for pc in f, innermost first: inlined calls (inline tree), then f;
 * with lines, file:line of each (the call site for outer frames). At most
 * max (>= 1) frames. Returns the count.
 */
int sym_gopcln_frames(const struct sym_gopcln *g, const struct sym_gofunc *f, uint64_t pc,
		      bool lines, struct sym_goframe *out, int max);

/* Called per run [lo, hi) of a pc-value table with its value; nonzero stops. */
typedef int (*sym_gopcln_run_fn)(void *ctx, uint64_t lo, uint64_t hi, int32_t val);
/*
 * Decode table (an offset into pctab: f->pcsp, f->pcfile, ...) of f run by
 * run. 0 at its end, what fn returned if nonzero, -ENOENT (no table) or
 * -EINVAL (malformed: runs off the table or past the function).
 */
int sym_gopcln_runs(const struct sym_gopcln *g, const struct sym_gofunc *f, uint32_t table,
		    sym_gopcln_run_fn fn, void *ctx);
/* Every function's pcsp runs, as sym_file_go_spans() describes. */
int sym_gopcln_frame_spans(const struct sym_gopcln *g, sym_gopcln_span_fn fn, void *ctx);

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
	bool hidden;		   /* every address read as 0 (kptr_restrict) */
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
	struct sym_arena arena; /* demangled names */
	uint32_t pid, uid;	/* uid: whom the process ran as (SYM_UID_UNKNOWN) */
	bool loaded;		/* false: no map file, or refused */
	char *refused;		/* why it was not read, for sym_session_refused(); NULL if it was */
	uint64_t *start;	/* sorted, unique */
	uint64_t *size;
	uint32_t *name_off;
	struct sym_frame *frames;
	size_t n;
	char *blob;
};

/* Parses a perf map from memory: "START SIZE name" per line, hex. */
int sym_perfmap_parse(struct sym_perfmap *m, const char *text, size_t len);
/*
 * Reads and parses the perf map at path if it may be trusted for a process
 * of uid (see sym_jit_lookup()) and holds at most max bytes. 0 (read, or no
 * file: m->loaded says which), -EPERM with m->refused set (not trusted, too
 * large, unreadable), or -ENOMEM.
 */
int sym_perfmap_load(struct sym_perfmap *m, const char *path, uint32_t uid, uint64_t max);
void sym_perfmap_release(struct sym_perfmap *m);
long sym_perfmap_find(const struct sym_perfmap *m, uint64_t addr);

/* ---- files and the session ------------------------------------------------- */

struct sym_file {
	struct sym_file *next; /* session's hash chain */
	/*
	 * The session's list of files nobody holds (refs == 0), least
	 * recently released first: sym_session_trim() evicts from its head.
	 */
	struct sym_file *lru_prev, *lru_next;
	unsigned refs;		/* sym_file_get/from_image minus sym_file_put */
	struct sym_arena arena; /* names, frames and paths handed out for this file */
	struct sym_cache names; /* DWARF name string (by address) -> display name */
	char *key;		/* "b:<hex build-id>" or "p:<path>" */
	const char *path;
	const char *base; /* basename, for unknowns */
	uint8_t build_id[64];
	size_t build_id_len;
	const char *debug_source; /* "" if none */

	struct sym_symtab symtab;
	const char **dname;	   /* per symbol: display name, lazily */
	struct sym_index_stats st; /* the symtab_* counters */

	/* Open ELF handles: main file, separate debug file (either may be NULL). */
	int fd, dbg_fd;
	struct Elf *elf, *dbg_elf;
	void *image; /* owned copy of an in-memory image (vDSO, MiniDebugInfo) */
	void *dbg_image;
	struct Elf *dwarf_elf; /* the one holding .debug_info, or NULL */
	struct sym_dwarf *dwarf;
	bool dwarf_tried;
	struct sym_gopcln go; /* Go's function table; go.tab NULL: not a Go binary */

	/* Functions no symbol names, from the FDEs (read on the first miss). */
	struct sym_fdes fdes;
	bool fdes_tried, fdes_ok;
	struct sym_cache fde_names; /* FDE start -> "base+0xstart" */

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

	/* Files with refs == 0, least recently released first (sym_file.lru_*). */
	struct sym_file *lru_head, *lru_tail;
	struct sym_session_stats st;

	struct debuginfod_client *dbgd;
	void *dbgd_lib; /* dlopen()ed on first use; NULL if never needed */
	struct debuginfod_client *(*dbgd_begin)(void);
	int (*dbgd_find)(struct debuginfod_client *, const unsigned char *, int, char **);
	void (*dbgd_end)(struct debuginfod_client *);
	void (*dbgd_set_progressfn)(struct debuginfod_client *,
				    int (*)(struct debuginfod_client *, long, long));
	void (*dbgd_set_user_data)(struct debuginfod_client *, void *);
	void *(*dbgd_get_user_data)(struct debuginfod_client *);
	void (*dbgd_set_verbose_fd)(struct debuginfod_client *, int);
	int dbgd_null_fd; /* /dev/null as the client's verbose fd (debuginfo.c), if opened */
	bool dbgd_null_open;
	bool dbgd_tried;
	bool dbgd_down; /* unreachable once: not asked again */
	/* Limits of one query (debuginfo.c), from DEBUGINFOD_* or xprof's defaults; 0: none. */
	long dbgd_timeout, dbgd_maxtime; /* seconds */
	long dbgd_maxsize;		 /* bytes */
	uint64_t dbgd_start_ns;		 /* CLOCK_MONOTONIC when the current query began */
	int dbgd_cancel;		 /* why the progress callback stopped it: -ETIME, -EFBIG */

	struct sym_frame unknown; /* "[unknown]" */
	struct sym_frame kunknown;
};

/* Counters of every file's symbol index, summed. */
void sym_session_index_stats(const struct sym_session *s, struct sym_index_stats *out);

/* Opens path as ELF; *fdp is the descriptor still held (-1 if none). NULL with errno. */
struct Elf *sym_elf_open(const char *path, int *fdp);

/* debuginfo.c: finds and opens the separate debuginfo of f (sets dbg_*). */
void sym_debuginfo_find(struct sym_session *s, struct sym_file *f);
/* CRC32 of a file as .gnu_debuglink computes it; -errno on error. */
int sym_file_crc32(int fd, uint32_t *crc);
/* Decompresses .gnu_debugdata (xz) into a malloc'ed buffer. */
int sym_xz_decompress(const void *in, size_t in_len, void **out, size_t *out_len);

#endif /* XPROF_SYMBOLIZE_INT_H */
