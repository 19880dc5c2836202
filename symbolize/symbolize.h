/* SPDX-License-Identifier: MIT */
/*
 * symbolize/: addresses to frames a person can read. ELF symbols (.symtab,
 * else .dynsym), DWARF inline chains and lines (libdw), separate debuginfo
 * (build-id directory, .gnu_debuglink, MiniDebugInfo, debuginfod), kernel
 * symbols (/proc/kallsyms) and JIT maps (/tmp/perf-PID.map).
 *
 * Files are keyed by build-id (path when there is none) and loaded once while
 * they are held or cached; lookups are binary searches in arrays built once
 * per file. Strings and frames returned for a file stay valid while the
 * caller holds the file (sym_file_get() to sym_file_put()) and, after that,
 * until the next sym_session_trim(), which may evict it; JIT names until
 * sym_jit_forget() of their pid; kernel names until sym_session_free().
 * A long-running caller trims at its window boundaries, after it copied what
 * it keeps. Nothing here knows about BPF or recordings: callers pass ELF
 * virtual addresses (vaddr).
 */
#ifndef XPROF_SYMBOLIZE_H
#define XPROF_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sym_opts {
	bool no_demangle;	 /* keep raw (mangled) names */
	bool lines;		 /* fill in file:line (costs DWARF line tables) */
	bool no_inline;		 /* do not expand DWARF inline chains */
	bool no_debuginfod;	 /* ignore DEBUGINFOD_URLS */
	const char *debug_root;	 /* NULL: /usr/lib/debug */
	const char *kallsyms;	 /* NULL: /proc/kallsyms */
	const char *perfmap_dir; /* NULL: /tmp */
	uint64_t perfmap_max;  /* largest perf map read, bytes; 0: $XPROF_PERF_MAP_MAX or 256 MiB */
	const char *cache_dir; /* on-disk caches under it; NULL: none */
};

/* sym_frame.flags */
#define SYM_F_INLINED (1u << 0) /* an inlined frame (not the last of a chain) */
#define SYM_F_KERNEL  (1u << 1)
#define SYM_F_JIT     (1u << 2) /* from a perf map */
#define SYM_F_UNKNOWN (1u << 3) /* no function: name is "[module+0xoff]" or "[unknown]" */

struct sym_frame {
	const char *name; /* function, demangled unless no_demangle */
	const char *file; /* source file, or NULL */
	uint32_t line;	  /* 0: unknown */
	uint32_t flags;	  /* SYM_F_* */
};

struct sym_session;
struct sym_file;

/* NULL with errno ENOMEM. opts may be NULL (defaults). */
struct sym_session *sym_session_new(const struct sym_opts *opts);
void sym_session_free(struct sym_session *s);

/*
 * The file for (path, build-id): opened and indexed on first use, with its
 * separate debuginfo if one is found. build_id may be NULL. A file that
 * cannot be opened still gets a sym_file, whose lookups yield
 * "[basename+0xoff]", so callers need no special case. Each call takes a
 * reference, released by sym_file_put(); a held file is never evicted.
 * NULL only with errno ENOMEM.
 */
struct sym_file *sym_file_get(struct sym_session *s, const char *path, const uint8_t *build_id,
			      size_t build_id_len);

/* The same for an ELF image in memory (the vDSO); name is used for unknowns. */
struct sym_file *sym_file_from_image(struct sym_session *s, const char *name, const void *image,
				     size_t len);

/*
 * Release a reference from sym_file_get() or sym_file_from_image(). The file
 * stays cached (its strings valid) until sym_session_trim() evicts it.
 * f may be NULL.
 */
void sym_file_put(struct sym_session *s, struct sym_file *f);

/*
 * Write back every symbol index that gained entries (cache_dir only), then
 * evict files nobody holds, least recently released first, until the files'
 * memory (heap and mapped ELF bytes) is at most budget bytes (0: evict every
 * unheld file). Strings of evicted files become invalid.
 */
void sym_session_trim(struct sym_session *s, size_t budget);

/*
 * Let the pages of the ELF files the session holds mapped leave its resident
 * memory: a file's symbol table, strings and debug sections are read once to
 * index it, then seldom, and come back from the page cache when read again.
 * Pages the session changed in memory (section headers) stay. For a
 * long-running session, now and then (an agent: once per window).
 */
void sym_session_pageout(struct sym_session *s);
/* The same for one file (NULL: nothing), e.g. right after sym_file_get() indexed it. */
void sym_file_pageout(struct sym_file *f);

/* Memory and eviction counts, for summaries and benchmarks. */
struct sym_session_stats {
	uint64_t files;	   /* files loaded now */
	uint64_t bytes;	   /* their heap and mapped bytes */
	uint64_t evicted;  /* files evicted so far */
	uint64_t perfmaps; /* JIT maps loaded now */
};

void sym_session_get_stats(const struct sym_session *s, struct sym_session_stats *out);

/*
 * Frames for vaddr in file, innermost first: inlined frames (SYM_F_INLINED)
 * then the function that holds them. *frames points into session memory.
 * Returns the number of frames (>= 1) or -ENOMEM.
 *
 * The function is named by its ELF symbol as nm shows it (one stable name
 * per alias group: global before weak before local, then no leading
 * underscore, then shortest, then lexicographic), else by its DWARF
 * subprogram, else, when an FDE of .eh_frame covers vaddr, as the unnamed
 * function "base+0xSTART" (START: the FDE's first address; flags 0), else
 * "[base+0xVADDR]" (SYM_F_UNKNOWN). Inlined frames are named by DWARF
 * (linkage name, as addr2line). With lines, the innermost frame has the
 * address's line and each outer frame the call site of the frame inside it.
 * Each (file, vaddr) is resolved once per session; repeats are a hash probe.
 */
int sym_file_lookup(struct sym_session *s, struct sym_file *f, uint64_t vaddr,
		    const struct sym_frame **frames);

/*
 * A kernel address; names ("func" or "func [module]") get SYM_F_KERNEL. When
 * kallsyms is unreadable or hides addresses (kptr_restrict), the frame is
 * "[kernel.kallsyms]" with SYM_F_KERNEL | SYM_F_UNKNOWN. Same return
 * convention.
 */
int sym_kernel_lookup(struct sym_session *s, uint64_t addr, const struct sym_frame **frames);

/* sym_jit_lookup()'s uid when the recording does not say who ran the process. */
#define SYM_UID_UNKNOWN UINT32_MAX

/*
 * An address in anonymous executable memory of process pid: looked up in
 * perf-PID.map (JIT code). Same return convention; "[unknown]" if no map
 * covers it.
 *
 * The map names frames of a process, so it is read only if whoever wrote it
 * could have run that code: it must be a regular file (opened with
 * O_NOFOLLOW | O_NONBLOCK: no symlink, FIFO or device), owned by root, by
 * uid (the user the process ran as, from the recording) or by the user
 * running this (perf's rule, and the only one left when uid is
 * SYM_UID_UNKNOWN), not writable by every user, and at most perfmap_max
 * bytes. A refused map is as good as none; sym_session_refused() says why.
 * The map of a pid is read once, with the uid of the first lookup.
 */
int sym_jit_lookup(struct sym_session *s, uint32_t pid, uint32_t uid, uint64_t addr,
		   const struct sym_frame **frames);

/* ---- Go binaries ------------------------------------------------------------ */

/*
 * Go functions come from the file's .gopclntab (found by section name, or
 * in the data segments when sections are gone): names, inline chains
 * and lines, also in binaries built with -ldflags='-s -w'. Its pcsp table is
 * the frame layout of Go code, which has no .eh_frame; sym_file_go_spans()
 * hands it out for the unwinder.
 */
#define SYM_GO_ASM	 (1u << 0) /* written in assembly: no Go frame-pointer convention */
#define SYM_GO_TOPFRAME	 (1u << 1) /* the outermost frame of a stack (goexit, mstart, rt0_go) */
#define SYM_GO_SPWRITE	 (1u << 2) /* writes rsp arbitrarily (stack switches): sp unknown */
#define SYM_GO_SIGRETURN (1u << 3) /* the signal trampoline (rt_sigreturn) */

/*
 * Called for each run [lo, hi) (vaddr) of a Go function with the bytes its
 * frame holds below the return address there (sp), or with sp 0 and
 * SYM_GO_TOPFRAME, SYM_GO_SPWRITE or SYM_GO_SIGRETURN for a whole function.
 * Runs come in address order. A nonzero return stops the walk.
 */
typedef int (*sym_gopcln_span_fn)(void *ctx, uint64_t lo, uint64_t hi, int32_t sp, uint32_t flags);

/* Whether f is a Go binary (has a readable .gopclntab). */
bool sym_file_is_go(const struct sym_file *f);

/*
 * Walk the pcsp runs of every function of f's .gopclntab. Returns 0 (also
 * when f is not a Go binary: no calls), or what fn returned.
 */
int sym_file_go_spans(const struct sym_file *f, sym_gopcln_span_fn fn, void *ctx);

/*
 * Drop what is known of process pid's JIT map (the process is gone); its names
 * go too. A refused map keeps its message for sym_session_refused().
 */
void sym_jit_forget(struct sym_session *s, uint32_t pid);

/*
 * The i-th JIT map the session refused to read (from 0), as one line for the
 * user without a "xprof: " prefix ("ignoring JIT map '/tmp/perf-12.map':
 * owned by uid 1001, ..."), or NULL past the last. Valid until
 * sym_session_free().
 */
const char *sym_session_refused(const struct sym_session *s, size_t i);

/*
 * The bounds [*start, *end) of the function symbol holding vaddr in f
 * (vaddr), or of the perf-map entry of pid holding runtime address addr
 * (the map trusted as for sym_jit_lookup()): for the unwinder's check of a return address found by
 * stack scanning. 0, -ENOENT (no symbol or entry holds it) or -ENOMEM (the perf map).
 */
int sym_file_bounds(const struct sym_file *f, uint64_t vaddr, uint64_t *start, uint64_t *end);
int sym_jit_bounds(struct sym_session *s, uint32_t pid, uint32_t uid, uint64_t addr,
		   uint64_t *start, uint64_t *end);

/*
 * Where the debuginfo of f came from, for `xprof report -v`: the file's own
 * path (it has .symtab/DWARF), a debug file path (build-id directory or
 * .gnu_debuglink), "debuginfod: <cache path>", "<path> [.gnu_debugdata]"
 * (MiniDebugInfo), "<path> [.gopclntab]" (a Go binary without other
 * debuginfo: Go's own function table), or "" if none (then .dynsym only).
 */
const char *sym_file_debug_source(const struct sym_file *f);

#endif /* XPROF_SYMBOLIZE_H */
