/* SPDX-License-Identifier: MIT */
/*
 * unwind/: compact ORC-like unwind tables generated from DWARF CFI, their
 * on-disk cache, and the offline unwinder that walks a copied user stack
 * with them.
 *
 * Addresses given to a table are ELF virtual addresses of the file the table
 * was built from ("vaddr"); the caller subtracts the load bias.
 *
 * The stored table format is private (unwind_int.h). What a lookup returns
 * is the decoded struct unw_rule below: "at this IP, where is the CFA, where
 * is the return address, where is the caller's rbp".
 */
#ifndef XPROF_UNWIND_H
#define XPROF_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/sample.h"

/* ---- rules ---------------------------------------------------------------- */

enum unw_rule_type {
	UNW_RULE_NONE = 0,  /* no CFI covers this IP (gap, terminator, unknown code) */
	UNW_RULE_CFA,	    /* CFA = cfa_reg + cfa_off; RA and rbp as ra_* / bp_* say */
	UNW_RULE_PLT,	    /* PLT entry: CFA = rsp + 8, + 8 more once (ip & 15) >= 11 */
	UNW_RULE_SIGNAL,    /* sigreturn trampoline: every register from the ucontext at rsp */
	UNW_RULE_OUTERMOST, /* return address undefined: the stack ends here, complete */
	UNW_RULE_FALLBACK,  /* CFI exists but cannot be represented: use frame pointers */
};

enum unw_loc {
	UNW_LOC_SAME = 0, /* register keeps its value in the caller (rbp not saved) */
	UNW_LOC_CFA_OFF,  /* saved at memory CFA + off */
	UNW_LOC_REG,	  /* held in register number off (DWARF numbering) */
	UNW_LOC_UNDEF,	  /* undefined */
};

/*
 * The callee-saved registers besides rbp whose places a rule records, in
 * this order (DWARF numbers): rbx, r12, r13, r14, r15.
 */
#define UNW_NSAVED 5
#define UNW_SAVED_REGS                                                                             \
	{                                                                                          \
		3, 12, 13, 14, 15                                                                  \
	}

/* unw_rule.flags */
#define UNW_RULE_F_SYNTH (1u << 0) /* synthesized from machine code, not from CFI */

struct unw_rule {
	uint8_t type;	 /* enum unw_rule_type */
	uint8_t cfa_reg; /* DWARF register number, for UNW_RULE_CFA */
	uint8_t ra_loc;	 /* enum unw_loc; UNW_LOC_CFA_OFF with ra_off -8 is the common case */
	uint8_t bp_loc;	 /* enum unw_loc */
	int32_t cfa_off;
	int32_t ra_off;
	int32_t bp_off;
	uint8_t flags; /* UNW_RULE_F_* */
	/*
	 * Where the caller's rbx, r12..r15 are (UNW_SAVED_REGS order), as for
	 * rbp: UNW_LOC_SAME (zero) is "not saved, unchanged"; UNW_LOC_UNDEF is
	 * also what CFI the record cannot hold becomes (the walker then
	 * forgets that register, and only a rule that needs it fails).
	 */
	uint8_t reg_loc[UNW_NSAVED];
	int32_t reg_off[UNW_NSAVED];
};

/* ---- tables --------------------------------------------------------------- */

struct unw_table;

/* What generation saw; rows it could not represent are counted by kind. */
enum unw_unrep {
	UNW_UNREP_CFA_EXPR, /* CFA given by a DWARF expression other than the PLT one */
	UNW_UNREP_REG_EXPR, /* a register rule given by an expression (outside signal frames) */
	UNW_UNREP_RA_LOC,   /* return address somewhere the rule record cannot say */
	UNW_UNREP_BP_LOC,   /* rbp somewhere the rule record cannot say */
	UNW_UNREP_BAD_FDE,  /* truncated, overlapping or cyclic FDE: skipped */
	UNW_UNREP_NR
};

struct unw_gen_stats {
	uint64_t fdes;		 /* FDEs read (.eh_frame + .debug_frame) */
	uint64_t rows;		 /* CFI rows interpreted */
	uint64_t entries;	 /* table entries after merging, terminators included */
	uint64_t rules;		 /* distinct rule records */
	uint64_t bytes;		 /* size of the compact table */
	uint64_t eh_frame_bytes; /* .eh_frame + .eh_frame_hdr of the file, for the ratio */
	uint64_t unrep[UNW_UNREP_NR];
	uint64_t synth_funcs;	/* functions without an FDE given to the machine-code analyser */
	uint64_t synth_refused; /* of those, refused (no rows: frame pointers or scanning) */
};

/*
 * Build the table of an ELF file from its .eh_frame and .debug_frame; also
 * reads .debug_frame from debug_path (its separate debug file) if not NULL.
 * stats may be NULL. Returns NULL with errno: ENOENT/EACCES, ENOEXEC (not an
 * x86-64 ELF file), ENODATA (no CFI at all), ENOMEM.
 */
struct unw_table *unw_table_from_elf(const char *path, const char *debug_path,
				     struct unw_gen_stats *stats);

/* The same for an ELF image in memory (the vDSO captured by the recorder). */
struct unw_table *unw_table_from_image(const void *image, size_t len, struct unw_gen_stats *stats);

/*
 * Build a table from decoded rows: addr[i] sorted ascending, rule[i] applies
 * from addr[i] up to addr[i + 1]; the last row should be a UNW_RULE_NONE
 * terminator. Rows at the same address: the last wins; neighbours with
 * equal rules are merged (so unw_table_count() may be below n); n == 0
 * gives an empty table. Used by the generator and by tests. NULL with errno
 * EINVAL (unsorted, or a rule the stored record cannot hold: CFA register
 * above 31, an ra/bp offset not a multiple of 8 within -1024..1016),
 * E2BIG (rows spanning 4 GiB or more than 65,536 distinct rules) or ENOMEM.
 */
struct unw_table *unw_table_from_rows(const uint64_t *addr, const struct unw_rule *rule, size_t n);

void unw_table_free(struct unw_table *tab);

/*
 * Rule at vaddr: one binary search, no allocation. Returns 0, or -ENOENT
 * when vaddr is outside every row: before the first row, or in a row whose
 * rule is UNW_RULE_NONE (a terminator or gap); *out is then zeroed, i.e.
 * type UNW_RULE_NONE. Addresses after the last row get the last row's rule
 * (normally the terminator). A NULL tab behaves as an empty table.
 */
int unw_table_lookup(const struct unw_table *tab, uint64_t vaddr, struct unw_rule *out);

/* Row i (0 <= i < count) as decoded address and rule, for dumps and tests. */
size_t unw_table_count(const struct unw_table *tab);
void unw_table_row(const struct unw_table *tab, size_t i, uint64_t *addr, struct unw_rule *out);

/*
 * Code whose frames another source than CFI describes: Go's pcsp table
 * (symbolize/ reads it), rows synthesized from machine code. A span's rule
 * holds over [start, end) (vaddr).
 */
struct unw_span {
	uint64_t start, end;
	struct unw_rule rule;
};

/*
 * A new table that answers with the spans' rules inside the spans and with
 * base's everywhere else (base may be NULL: an empty table). spans must be
 * sorted by start and must not overlap; empty spans are ignored. The
 * caller owns the result (unw_table_free). NULL with errno EINVAL
 * (unsorted or overlapping spans, or a rule unw_table_from_rows() rejects),
 * E2BIG or ENOMEM.
 */
struct unw_table *unw_table_overlay(const struct unw_table *base, const struct unw_span *spans,
				    size_t n);

/* ---- cache ---------------------------------------------------------------- */

struct unw_cache;

/*
 * A table cache keyed by build-id, in dir (NULL: $XDG_CACHE_HOME/xprof or
 * ~/.cache/xprof; files go to a versioned subdirectory). Entries are
 * versioned, checksummed and name what they were built for; a corrupt,
 * stale or swapped one is regenerated. dir must belong to the caller and be
 * writable by no one else (created 0700 if missing). NULL with errno on
 * failure. Not thread-safe.
 */
struct unw_cache *unw_cache_new(const char *dir);
/*
 * unw_cache_new(), and on failure *why (if why is not NULL) gets one
 * malloc'ed line naming the directory at fault and the fix, for a directory
 * that is not the caller's alone (another owner, group or world writable, a
 * link) or cannot be created; NULL if out of memory. errno: EPERM, EACCES,
 * ELOOP, ENOTDIR or mkdir's.
 */
struct unw_cache *unw_cache_open(const char *dir, char **why);
/* A cache in memory only, for --no-cache and a refused directory: nothing touches the disk. */
struct unw_cache *unw_cache_new_memory(void);
void unw_cache_free(struct unw_cache *c);
/* The directory holding the cache's versioned subdirectory, for other caches; NULL in memory. */
const char *unw_cache_root(const struct unw_cache *c);

/*
 * The table for an ELF file, from memory, the cache or built now. The table
 * stays owned by the cache; each successful call takes a reference, and a
 * held table is never freed before unw_cache_free(). Give it back with
 * unw_cache_put(). A file that could not be read is remembered so it is not
 * retried (until trimmed). build_id may be NULL (len 0): the file's own
 * build-id note is used, or else its path, size and mtime. NULL with errno
 * as unw_table_from_elf(), or ESTALE: the file at path no longer has
 * build_id (and no cached table for it exists), or EINVAL.
 */
const struct unw_table *unw_cache_get(struct unw_cache *c, const char *path,
				      const uint8_t *build_id, size_t build_id_len);

/* Return a reference taken by unw_cache_get(); tab stays cached until trimmed. NULL: no-op. */
void unw_cache_put(struct unw_cache *c, const struct unw_table *tab);

/*
 * Free tables nobody holds (and remembered failures), least recently used
 * first, until the cache's memory is at most budget bytes (0: every unheld
 * entry). A trimmed table is reloaded from disk or rebuilt when asked again.
 */
void unw_cache_trim(struct unw_cache *c, size_t budget);

/* What a cache did so far, for summaries and benchmarks. */
struct unw_cache_stats {
	uint64_t mem_hits;  /* answered from memory (tables and remembered failures) */
	uint64_t disk_hits; /* loaded from the cache directory */
	uint64_t built;	    /* generated from the ELF file */
	uint64_t rejected;  /* cache files that failed validation (then rebuilt) */
	uint64_t failed;    /* files that could not be read (remembered) */
	uint64_t evicted;   /* entries dropped by unw_cache_trim() */
	uint64_t entries;   /* entries now (tables and remembered failures) */
	uint64_t bytes;	    /* their memory now */
};

void unw_cache_get_stats(const struct unw_cache *c, struct unw_cache_stats *out);

/* ---- the unwinder --------------------------------------------------------- */

/* unw_module.flags */
#define UNW_MOD_F_ANON (1u << 0) /* anonymous memory (JIT code): no file, no CFI */

/* One executable mapping, as the unwinder sees it. */
struct unw_module {
	uint64_t start, end;	       /* runtime address range [start, end) */
	uint64_t bias;		       /* runtime address - vaddr */
	const struct unw_table *table; /* NULL: no CFI for this mapping */
	/*
	 * The mapping's bytes as its file holds them, from start on (code_len
	 * of them), or NULL: what stack scanning decodes to tell a return
	 * address (right after a call) from any other word. Borrowed.
	 */
	const uint8_t *code;
	uint64_t code_len;
	uint32_t flags; /* UNW_MOD_F_* */
};

/* The module containing runtime address addr, or NULL. */
typedef const struct unw_module *(*unw_find_fn)(void *ctx, uint64_t addr);

/*
 * The bounds [*start, *end) (runtime addresses) of the function holding
 * addr, from the symbol table or a perf map; false when unknown.
 */
typedef bool (*unw_bounds_fn)(void *ctx, uint64_t addr, uint64_t *start, uint64_t *end);

struct unw_stack_seg {
	uint64_t start; /* user address of data[0] */
	const uint8_t *data;
	uint32_t len;
};

struct unw_input {
	uint64_t regs[XP_NREGS]; /* DWARF order */
	unsigned nsegs;
	struct unw_stack_seg segs[2]; /* [0] at regs[SP]; [1] the interrupted stack (sigaltstack) */
};

/* unw_frame.flags */
/*
 * ip is exact, not a return address: the sampled frame, the sigreturn
 * trampoline (its ip was pushed by the kernel) and the frame a signal
 * interrupted. Symbolize it as is; others at ip - 1 (the call).
 */
#define UNW_FRAME_F_TRAP   (1u << 0)
#define UNW_FRAME_F_SIGNAL (1u << 1) /* this frame is the sigreturn trampoline */
#define UNW_FRAME_F_FP	   (1u << 2) /* reached by the frame-pointer fallback */
/* reached with a rule synthesized from machine code (its callee has no CFI) */
#define UNW_FRAME_F_SYNTH (1u << 3)
/* found by stack scanning: a verified return address, not a rule (less certain) */
#define UNW_FRAME_F_SCAN (1u << 4)

struct unw_frame {
	uint64_t ip;
	uint32_t flags;
};

enum unw_status {
	UNW_OK_COMPLETE = 0, /* reached an outermost frame */
	UNW_STOP_TRUNCATED,  /* the stack copy ended before the stack did */
	UNW_STOP_NO_MODULE,  /* an ip outside every mapping */
	UNW_STOP_NO_TABLE,  /* an ip in a mapping without usable CFI, and no plausible frame pointer
			     */
	UNW_STOP_SP_NOT_UP, /* the stack pointer did not move up */
	UNW_STOP_MAX_FRAMES, /* more frames than the caller's array holds */
	UNW_STOP_BAD_RULE,   /* a rule asked for a register that is unknown here */
	UNW_STOP_EXITING,    /* the process was exiting: its user stack was already gone */
	UNW_STATUS_NR
};

/* A short lowercase name for a status ("complete", "truncated", ...). */
const char *unw_status_name(enum unw_status s);

/* unw_result.flags */
#define UNW_RES_F_FP_USED (1u << 0) /* at least one frame came from the frame-pointer fallback */
#define UNW_RES_F_STACK2  (1u << 1) /* the walk continued on the second segment */
#define UNW_RES_F_SYNTH	  (1u << 2) /* at least one frame came from a synthesized rule */
#define UNW_RES_F_SCAN	  (1u << 3) /* at least one frame came from stack scanning */

struct unw_result {
	enum unw_status status;
	uint32_t flags;
	unsigned nframes;
};

/*
 * Walk one sample. frames[0] is the sampled ip, outermost last; at most
 * max_frames are written. Never allocates; never reads outside in->segs.
 * Returns 0 (the result says how far it got) or -EINVAL for bad arguments.
 */
int unw_walk(const struct unw_input *in, unw_find_fn find, void *ctx, struct unw_frame *frames,
	     unsigned max_frames, struct unw_result *res);

/*
 * The same with the function-bounds lookup stack scanning uses to check a
 * direct call's target (bounds may be NULL: then a direct call must target
 * an address at or below the frame's ip in the same module). ctx is passed
 * to both callbacks.
 */
struct unw_env {
	unw_find_fn find;
	unw_bounds_fn bounds;
	void *ctx;
};

int unw_walk_env(const struct unw_input *in, const struct unw_env *env, struct unw_frame *frames,
		 unsigned max_frames, struct unw_result *res);

#endif /* XPROF_UNWIND_H */
