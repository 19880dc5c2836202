/* SPDX-License-Identifier: MIT */
/*
 * Internals of unwind/: the stored table format, shared by the generator
 * (table*.c, cfi*.c), the cache (cache*.c) and the walker, as ORC shares
 * orc_types.h between objtool and the kernel. Tests may include this header;
 * other folders may not.
 *
 * A table is one contiguous blob, the same bytes in memory and in the cache:
 *
 *   struct unw_tab_hdr                       40 bytes
 *   uint32_t blk[nblocks + 1]                first entry index of each 64 KiB block
 *   uint16_t sub[nblocks * 64]               first entry of each 1 KiB of a block, - blk[b]
 *   (0-6 bytes of padding to 8)
 *   struct unw_row rules[nrules]             distinct rules, 16 bytes each
 *   uint16_t ip[nentries]                    entry address - (base + 64 KiB * block)
 *   uint8_t or uint16_t rid[nentries]        index into rules[]: 1 byte when nrules <= 256
 *
 * Entry i covers [addr(i), addr(i + 1)); addresses strictly increase and
 * neighbouring entries never have the same rule (runs are merged). Entries
 * of block b are blk[b] .. blk[b + 1] - 1; those of its 1 KiB sub-block k
 * start at blk[b] + sub[64 b + k]. A lookup is two array loads and a binary
 * search over one sub-block's u16 addresses (libc: 20 on average, within one
 * or two cache lines; a search over a whole 64 KiB block measured 114 ns per
 * random lookup, this 2.6 KiB index brings it to the numbers in the README).
 * An address before the first entry of its sub-block belongs to the entry
 * before it. The last entry should be a terminator (a rule of type
 * UNW_RULE_NONE).
 *
 * Invariants checked on load (unw_table_from_blob): magic, version, sizes,
 * blk[] non-decreasing from 0 to nentries, ip[] increasing within a block,
 * every entry inside the sub-block sub[] puts it in,
 * rid[] < nrules, rule fields in range, and the CRC-32 of the whole blob
 * (crc field as 0).
 */
#ifndef XPROF_UNWIND_INT_H
#define XPROF_UNWIND_INT_H

#include <stddef.h>
#include <stdint.h>

#include "unwind/unwind.h"

#define UNW_TAB_MAGIC	    0x58505554u /* "TUPX" little-endian: xprof unwind table */
#define UNW_TAB_VERSION	    5 /* 4: 16-byte rules with rbx, r12-r15 and flags; 5: synthesized rows */
#define UNW_TAB_BLOCK_SHIFT 16 /* 64 KiB blocks: the u16 ip[] is an offset inside one */
#define UNW_TAB_SUB_SHIFT   10 /* 1 KiB sub-blocks: the search range of a lookup */
#define UNW_TAB_SUBS	    (1u << (UNW_TAB_BLOCK_SHIFT - UNW_TAB_SUB_SHIFT))
#define UNW_TAB_MAX_RULES   65536 /* rid[] is u16 at most */
/* Bytes per rule id: libc has 304 rules, ld.so, libm and libstdc++ 94-133. */
#define UNW_TAB_RID_SIZE(nrules) ((nrules) <= 256 ? 1u : 2u)

/*
 * The stored rule record: 16 bytes, no padding, no bitfields. Rules are
 * deduplicated, so their size hardly matters (libc: a few thousand rules
 * against 23,000 entries of 3-4 bytes each).
 *   kind    = type (enum unw_rule_type, bits 0-2) | cfa_reg << 3 (DWARF number, 0-31)
 *   flags   = UNW_RULE_F_* (synthesized from machine code)
 *   locs    = 2 bits (enum unw_loc) per saved register: ra (bits 0-1),
 *             rbp (2-3), then rbx, r12, r13, r14, r15 (4-13); bits 14-15 zero
 *   off[i]  = offset from the CFA divided by 8 for UNW_LOC_CFA_OFF (every
 *             real offset is a multiple of 8 within +-1 KiB), or the DWARF
 *             register number for UNW_LOC_REG; 0 otherwise. Same order.
 *   cfa_off = unscaled byte offset (libc has rsp+33,360; python3 rsp+65,600)
 *   pad     = zero
 */
#define UNW_ROW_NLOCS (2 + UNW_NSAVED) /* ra, rbp, then the UNW_SAVED_REGS */

struct unw_row {
	int32_t cfa_off;
	uint8_t kind;
	uint8_t flags;
	uint16_t locs;
	int8_t off[UNW_ROW_NLOCS];
	uint8_t pad;
};
_Static_assert(sizeof(struct unw_row) == 16, "unw_row is stored: 16 bytes, no padding");

#define UNW_ROW_TYPE(r)	   ((r)->kind & 7u)
#define UNW_ROW_CFA_REG(r) ((r)->kind >> 3)
#define UNW_ROW_LOC(r, i)  (((unsigned)(r)->locs >> (2 * (i))) & 3u)
#define UNW_ROW_RA_LOC(r)  UNW_ROW_LOC(r, 0)
#define UNW_ROW_BP_LOC(r)  UNW_ROW_LOC(r, 1)

struct unw_tab_hdr {
	uint32_t magic;	   /* UNW_TAB_MAGIC */
	uint16_t version;  /* UNW_TAB_VERSION */
	uint16_t row_size; /* sizeof(struct unw_row) */
	uint32_t nentries;
	uint32_t nrules;
	uint32_t nblocks; /* 64 KiB blocks from base up to the last entry */
	uint32_t crc;	  /* CRC-32 (zlib) of the whole blob, this field as 0 */
	uint64_t base;	  /* vaddr of block 0: the first entry's address, 64 KiB aligned */
	uint64_t size;	  /* bytes of the whole blob, header included */
};
_Static_assert(sizeof(struct unw_tab_hdr) == 40, "unw_tab_hdr is stored: no padding");

/* The in-memory table: the blob plus pointers into it. */
struct unw_table {
	void *blob; /* owned, malloc'ed */
	size_t size;
	uint64_t base;
	uint32_t n, nrules, nblocks;
	const uint32_t *blk;
	const uint16_t *sub;
	const struct unw_row *rules;
	const uint16_t *ip;
	const uint8_t *rid8;	    /* rid[] when nrules <= 256, else NULL */
	const uint16_t *rid16;	    /* rid[] when nrules > 256, else NULL */
	struct unw_gen_stats stats; /* generation stats; zero when loaded from the cache */
};

/* Encode a decoded rule; false when it does not fit the stored record. */
bool unw_rule_encode(const struct unw_rule *in, struct unw_row *out);
void unw_rule_decode(const struct unw_row *in, struct unw_rule *out);

/*
 * The cache file format (cache.c): a header naming the build-id or path key
 * the table was built for, then the blob. A new version is a new
 * subdirectory, unwind-v<UNW_TAB_VERSION>-c<UNW_CACHE_VERSION>.
 */
#define UNW_CACHE_VERSION 2

/*
 * Take ownership of blob (malloc'ed, size bytes) and validate it as above.
 * On error the blob is freed and NULL returned with errno EINVAL (bad or
 * corrupt table) or ENOMEM.
 */
struct unw_table *unw_table_from_blob(void *blob, size_t size);

/* The table's stored bytes, for the cache; valid until unw_table_free(). */
const void *unw_table_blob(const struct unw_table *tab, size_t *size);

/* The generation stats of a table built in this process (zero if loaded). */
const struct unw_gen_stats *unw_table_stats(const struct unw_table *tab);

/* ---- CFI reader (cfi.c) ---------------------------------------------------- */

/* One CFI row as interpreted for the compact form: [start, end) -> rule. */
/*
 * A table built row by row (table.c), rows in address order (-EINVAL
 * otherwise): what unw_table_from_rows() does without holding every row's
 * rule. _add returns 0 or -errno (-EINVAL, -E2BIG, -ENOMEM) and leaves the
 * builder to _free; _finish frees it and returns the table, or NULL with
 * errno.
 */
struct unw_tab_build;
struct unw_tab_build *unw_tab_build_new(size_t hint);
int unw_tab_build_add(struct unw_tab_build *b, uint64_t addr, const struct unw_rule *rule);
struct unw_table *unw_tab_build_finish(struct unw_tab_build *b);
void unw_tab_build_free(struct unw_tab_build *b);

struct unw_cfi_row {
	uint64_t start, end;
	struct unw_rule rule;
};

/* One FDE's rows, in address order, before gaps and overlaps are resolved. */
struct unw_cfi_fde {
	uint64_t start, end;
	uint32_t first_row, nrows; /* into unw_cfi.rows */
	uint8_t prio;		   /* 0: .eh_frame, 1: .debug_frame, 2: separate debug file, */
				   /* UNW_PRIO_SYNTH and up: a row source (synthesized) */
};

#define UNW_PRIO_SYNTH 3

struct unw_cfi {
	struct unw_cfi_row *rows;
	size_t nrows, cap_rows;
	struct unw_cfi_fde *fdes;
	size_t nfdes, cap_fdes;
	struct unw_gen_stats *stats; /* counts fdes, rows, unrep[] */
	size_t used;		     /* bytes the last unw_cfi_read() walked, terminator included */
};

enum unw_cfi_kind {
	UNW_CFI_EH_FRAME,    /* .eh_frame: CIE id 0, CIE pointers relative, 'z' augmentation */
	UNW_CFI_DEBUG_FRAME, /* .debug_frame: CIE id ~0, CIE pointers from section start */
};

/*
 * Read every FDE of one CFI section (data of len bytes loaded at vaddr
 * sh_addr) into cfi. A bad CIE or FDE is counted as UNW_UNREP_BAD_FDE and
 * skipped; only an allocation failure fails the section (-ENOMEM).
 */
int unw_cfi_read(struct unw_cfi *cfi, enum unw_cfi_kind kind, const uint8_t *data, size_t len,
		 uint64_t sh_addr, uint8_t prio);
void unw_cfi_release(struct unw_cfi *cfi);

/*
 * Append one row [start, end) -> rule, and close the rows appended since
 * row index first as one FDE [start, end). For row sources. 0 or -ENOMEM.
 */
int unw_cfi_push_row(struct unw_cfi *cfi, uint64_t start, uint64_t end,
		     const struct unw_rule *rule);
int unw_cfi_push_fde(struct unw_cfi *cfi, uint64_t start, uint64_t end, size_t first, uint8_t prio);

/* ---- row sources besides CFI (synth.c; the Go pclntab reader can sit beside) ---- */

struct Elf; /* libelf's Elf */

/*
 * A source of rows for code the CFI does not cover: called with the ELF
 * file after its CFI sections were read into cfi, it appends FDEs (with
 * prio UNW_PRIO_SYNTH or above, rules flagged UNW_RULE_F_SYNTH) only for
 * ranges no FDE in cfi overlaps. Returns 0 or -ENOMEM; what it cannot
 * describe it leaves out (and counts in cfi->stats).
 */
typedef int (*unw_rows_source_fn)(struct Elf *elf, struct unw_cfi *cfi);

/* Machine code: every sized STT_FUNC symbol that no FDE covers, analysed below. */
int unw_synth_source(struct Elf *elf, struct unw_cfi *cfi);

/* ---- the machine-code analyser (synth.c) ------------------------------------ */

/* Why a function was refused (unw_synth_analyse() > 0). */
enum unw_synth_refuse {
	UNW_SYNTH_OK = 0,
	UNW_SYNTH_BAD_INSN,   /* a byte sequence that does not decode */
	UNW_SYNTH_JUMP_TABLE, /* an indirect jump while a frame is set up */
	UNW_SYNTH_REALIGN,    /* and $-N, %rsp with the CFA on rsp */
	UNW_SYNTH_SP_LOST,    /* rsp (or the frame pointer) changed in a way not followed */
	UNW_SYNTH_CONFLICT,   /* two paths reach an instruction with different stacks */
	UNW_SYNTH_BAD_RET,    /* ret with the stack not as at the entry */
	UNW_SYNTH_FAR_JUMP,   /* a jump out with a frame, or into an instruction */
	UNW_SYNTH_TOO_BIG,    /* over 1 MiB */
	UNW_SYNTH_RA_MOVED,   /* rsp above the return address: popped into a register */
	UNW_SYNTH_NR
};

struct unw_synth;

/* The analyser's scratch state, reused across functions. NULL with errno ENOMEM. */
struct unw_synth *unw_synth_new(void);
void unw_synth_free(struct unw_synth *sy);

/*
 * Analyse the function whose len bytes of code are at code, loaded at
 * vaddr, from its entry at vaddr. Returns 0, an enum unw_synth_refuse
 * (> 0), or -ENOMEM. After 0 the instructions are unw_synth_count() many.
 */
int unw_synth_analyse(struct unw_synth *sy, const uint8_t *code, size_t len, uint64_t vaddr);
size_t unw_synth_count(const struct unw_synth *sy);

/*
 * Instruction i: its address and the rule before it executes (flagged
 * UNW_RULE_F_SYNTH; UNW_RULE_NONE where no path from the entry leads).
 * *cfa_minus_sp is CFA - rsp there, INT32_MIN when not known; bit s of
 * *unchanged (s = 0 for rbp, 1 + i for UNW_SAVED_REGS[i]) is set when that
 * register still holds its value from the entry on every path, so "same"
 * and its save slot say the same thing (CFI marks a save at the push or
 * later, as the compiler schedules it).
 */
void unw_synth_insn(const struct unw_synth *sy, size_t i, uint64_t *addr, struct unw_rule *rule,
		    int32_t *cfa_minus_sp, uint8_t *unchanged);

/* A short name for a refusal ("indirect-jump", ...). */
const char *unw_synth_refuse_name(int why);

/*
 * Turn the FDEs of cfi into a table: sort them, drop overlapping ones
 * (counted as bad unless a lower-priority copy of a covered range), add a
 * terminator after each FDE not followed directly by another, merge equal
 * neighbours, deduplicate rules. NULL with errno ENOMEM, ENODATA (no rows),
 * E2BIG (more than UNW_TAB_MAX_RULES rules or a span over 4 GiB).
 */
struct unw_table *unw_table_from_cfi(struct unw_cfi *cfi, struct unw_gen_stats *stats);

#endif /* XPROF_UNWIND_INT_H */
