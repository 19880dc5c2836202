// SPDX-License-Identifier: MIT
/*
 * Unit tests of the offline unwinder unw_walk(): synthetic processes (three
 * modules, tables built with unw_table_from_rows(), one or two stack
 * segments) and a table of cases, each a register set, the stack words that
 * matter, and the frames, flags and status the walk must give.
 *
 * The modules mimic real code: an executable with rsp-based, rbp-based,
 * rbx-based, PLT, outermost and "return address undefined" rules and a gap
 * without CFI; a libc with the __restore_rt signal-frame FDE at its real
 * place (it starts one byte before the trampoline); a mapping with no table
 * at all (assembly without CFI).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/types.h>

#include "bpf/sample.h"
#include "unwind/unwind.h"

/* ---- the synthetic process ------------------------------------------------ */

#define EXE_BIAS    0x555555554000ull
#define EXE(off)    (EXE_BIAS + (off))
#define LIBC_BIAS   0x7ffff7a00000ull
#define LIBC(off)   (LIBC_BIAS + (off))
#define NOCFI_START 0x7ffff7e00000ull
#define NOCFI(off)  (NOCFI_START + (off))
/* anonymous executable memory within reach of the executable's direct calls */
#define JIT_START (EXE_BIAS + 0x100000)
#define JIT(off)  (JIT_START + (off))

/* Segment 0 (sp of the sample) and segment 1 (lower: the interrupted stack of an altstack handler).
 */
#define S0_START 0x7ffffffde000ull
#define S0(off)	 (S0_START + (off))
#define S1_START 0x7ffff0010000ull
#define S1(off)	 (S1_START + (off))
#define SEG_LEN	 4096u

#define RESTORE_RT LIBC(0x3c050) /* __restore_rt, as the handler's return address */

/* Executable functions (vaddr) and their rules. */
enum {
	F_RSP8 = 0x1000,    /* leaf: CFA = rsp + 8 */
	F_RSP24 = 0x1100,   /* CFA = rsp + 24 */
	F_RBP = 0x1200,	    /* CFA = rbp + 16, rbp saved at CFA - 16 */
	F_OUTER = 0x1300,   /* _start: outermost */
	F_RBX = 0x1400,	    /* CFA = rbx + 16 (a stack realign) */
	F_PLT = 0x1500,	    /* .plt, 4 entries */
	F_RSP16BP = 0x1540, /* CFA = rsp + 16, rbp at CFA - 16 */
	F_EPI = 0x1580,	    /* after pop %rbp: CFA = rsp + 8, rbp "at CFA - 16" */
	F_BPUNDEF = 0x15c0, /* CFA = rsp + 8, rbp undefined */
	F_RAUNDEF = 0x1600, /* clone child: return address undefined */
	F_NOCFI = 0x1700,   /* a gap in the table */
	F_BADSP = 0x1800,   /* CFA = rsp + 0 (corrupt) */
	F_VFORK = 0x1900,   /* CFA = rsp + 0, return address in rdi */
	F_SAVEBX = 0x1a00,  /* CFA = rsp + 24, rbx saved at CFA - 16, r12 at CFA - 24 */
	F_BXUNDEF = 0x1a40, /* CFA = rsp + 8, rbx undefined (longjmp-like CFI) */
	F_SYNTH = 0x1a80,   /* CFA = rsp + 16, synthesized from machine code */
	F_END = 0x1b00,
};

#define CFA_RULE(reg, off, bploc, bpoff)                                                           \
	{                                                                                          \
		.type = UNW_RULE_CFA, .cfa_reg = (reg), .cfa_off = (off),                          \
		.ra_loc = UNW_LOC_CFA_OFF, .ra_off = -8, .bp_loc = (bploc), .bp_off = (bpoff)      \
	}

static const uint64_t exe_addr[] = {
    F_RSP8,    F_RSP24, F_RBP,	 F_OUTER, F_RBX,    F_PLT,     F_RSP16BP, F_EPI, F_BPUNDEF,
    F_RAUNDEF, F_NOCFI, F_BADSP, F_VFORK, F_SAVEBX, F_BXUNDEF, F_SYNTH,	  F_END,
};
static const struct unw_rule exe_rule[] = {
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_SAME, 0),
    CFA_RULE(XP_REG_SP, 24, UNW_LOC_SAME, 0),
    CFA_RULE(XP_REG_BP, 16, UNW_LOC_CFA_OFF, -16),
    {.type = UNW_RULE_OUTERMOST},
    CFA_RULE(XP_REG_BX, 16, UNW_LOC_SAME, 0),
    {.type = UNW_RULE_PLT},
    CFA_RULE(XP_REG_SP, 16, UNW_LOC_CFA_OFF, -16),
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_CFA_OFF, -16),
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_UNDEF, 0),
    {.type = UNW_RULE_CFA, .cfa_reg = XP_REG_SP, .cfa_off = 8, .ra_loc = UNW_LOC_UNDEF},
    {.type = UNW_RULE_NONE},
    CFA_RULE(XP_REG_SP, 0, UNW_LOC_SAME, 0),
    {.type = UNW_RULE_CFA,
     .cfa_reg = XP_REG_SP,
     .cfa_off = 0,
     .ra_loc = UNW_LOC_REG,
     .ra_off = XP_REG_DI},
    {.type = UNW_RULE_CFA,
     .cfa_reg = XP_REG_SP,
     .cfa_off = 24,
     .ra_loc = UNW_LOC_CFA_OFF,
     .ra_off = -8,
     .reg_loc = {UNW_LOC_CFA_OFF, UNW_LOC_CFA_OFF},
     .reg_off = {-16, -24}},
    {.type = UNW_RULE_CFA,
     .cfa_reg = XP_REG_SP,
     .cfa_off = 8,
     .ra_loc = UNW_LOC_CFA_OFF,
     .ra_off = -8,
     .reg_loc = {UNW_LOC_UNDEF}},
    {.type = UNW_RULE_CFA,
     .cfa_reg = XP_REG_SP,
     .cfa_off = 16,
     .ra_loc = UNW_LOC_CFA_OFF,
     .ra_off = -8,
     .flags = UNW_RULE_F_SYNTH},
    {.type = UNW_RULE_NONE},
};

/*
 * libc: rsp-based code around the __restore_rt FDE at 0x3c04f..0x3c059 (a
 * gap after it), and
 * a Go-style trampoline (runtime.sigreturn__sigaction) at 0x3c080: its row
 * starts at its first byte, and the byte before belongs to the previous
 * function (rsp-based), as Go's pcsp rows give it.
 */
static const uint64_t libc_addr[] = {0x3c000, 0x3c04f, 0x3c059, 0x3c060, 0x3c080, 0x3c090, 0x3c100};
static const struct unw_rule libc_rule[] = {
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_SAME, 0),
    {.type = UNW_RULE_SIGNAL},
    {.type = UNW_RULE_NONE}, /* padding after the syscall, as in glibc 2.36 */
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_SAME, 0),
    {.type = UNW_RULE_SIGNAL},
    CFA_RULE(XP_REG_SP, 8, UNW_LOC_SAME, 0),
    {.type = UNW_RULE_NONE},
};
#define GO_SIGRETURN LIBC(0x3c080)

struct world {
	struct unw_table *exe_tab, *libc_tab;
	struct unw_module mods[4];
	uint8_t exe_code[0x1000]; /* the executable's bytes from EXE(0x1000) */
};

/*
 * The executable's code, for stack scanning: zeros ("add %al,(%rax)", not a
 * call) but for a direct call to JIT(0) that returns to F_RSP24 + 0x10 and
 * indirect "call *%rax" that return to F_RSP24 + 0x30, F_RBX + 0x10 and
 * F_RSP8 + 0x30 (the return addresses the frame-pointer cases use).
 */
static void exe_code_init(uint8_t *code)
{
	int32_t rel = (int32_t)(JIT(0) - EXE(F_RSP24 + 0x10));

	memset(code, 0, 0x1000);
	code[F_RSP24 + 0x0b - 0x1000] = 0xe8;
	memcpy(&code[F_RSP24 + 0x0c - 0x1000], &rel, 4);
	code[F_RSP24 + 0x2e - 0x1000] = 0xff;
	code[F_RSP24 + 0x2f - 0x1000] = 0xd0;
	code[F_RBX + 0x0e - 0x1000] = 0xff;
	code[F_RBX + 0x0f - 0x1000] = 0xd0;
	code[F_RSP8 + 0x2e - 0x1000] = 0xff;
	code[F_RSP8 + 0x2f - 0x1000] = 0xd0;
}

/* Function bounds: two JIT functions named in a "perf map"; nothing else is known. */
static bool world_bounds(void *ctx, uint64_t addr, uint64_t *start, uint64_t *end)
{
	(void)ctx;
	if (addr >= JIT(0) && addr < JIT(0x100)) {
		*start = JIT(0);
		*end = JIT(0x100);
		return true;
	}
	if (addr >= JIT(0x200) && addr < JIT(0x300)) {
		*start = JIT(0x200);
		*end = JIT(0x300);
		return true;
	}
	return false;
}

static const struct unw_module *world_find(void *ctx, uint64_t addr)
{
	struct world *w = ctx;

	for (unsigned i = 0; i < 4; i++)
		if (addr >= w->mods[i].start && addr < w->mods[i].end)
			return &w->mods[i];
	return NULL;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->exe_tab =
	    unw_table_from_rows(exe_addr, exe_rule, sizeof(exe_addr) / sizeof(exe_addr[0]));
	w->libc_tab =
	    unw_table_from_rows(libc_addr, libc_rule, sizeof(libc_addr) / sizeof(libc_addr[0]));
	if (!w->exe_tab || !w->libc_tab)
		return -1;
	exe_code_init(w->exe_code);
	w->mods[0] = (struct unw_module){.start = EXE(0x1000),
					 .end = EXE(0x2000),
					 .bias = EXE_BIAS,
					 .table = w->exe_tab,
					 .code = w->exe_code,
					 .code_len = sizeof(w->exe_code)};
	w->mods[1] = (struct unw_module){
	    .start = LIBC(0x3c000), .end = LIBC(0x3d000), .bias = LIBC_BIAS, .table = w->libc_tab};
	w->mods[2] =
	    (struct unw_module){.start = NOCFI(0), .end = NOCFI(0x1000), .bias = NOCFI_START};
	w->mods[3] = (struct unw_module){
	    .start = JIT(0), .end = JIT(0x1000), .bias = JIT_START, .flags = UNW_MOD_F_ANON};
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	unw_table_free(w->exe_tab);
	unw_table_free(w->libc_tab);
	free(w);
	return 0;
}

/* ---- the cases ------------------------------------------------------------ */

#define MAXW 24
#define MAXF 12

/* Offsets of the registers in the ucontext at rsp inside __restore_rt. */
#define UC_RBP 120
#define UC_RBX 128
#define UC_RSP 160
#define UC_RIP 168

struct tcase {
	const char *name;
	uint64_t regs[XP_NREGS];
	struct {
		uint64_t addr, val;
	} words[MAXW];	     /* stack contents; addr 0 ends the list */
	uint32_t seg0_len;   /* 0: SEG_LEN */
	uint64_t seg0_start; /* 0: S0_START */
	bool two_segs;
	unsigned max_frames; /* 0: MAXF */
	struct unw_frame want[MAXF];
	enum unw_status status;
	uint32_t res_flags;
};

#define REGS(ip, sp, bp) .regs = {[XP_REG_IP] = (ip), [XP_REG_SP] = (sp), [XP_REG_BP] = (bp)}
#define T		 UNW_FRAME_F_TRAP
#define SIG		 UNW_FRAME_F_SIGNAL
#define FP		 UNW_FRAME_F_FP
#define SCAN		 UNW_FRAME_F_SCAN

static const struct tcase cases[] = {
    {
	/*
	 * Sampled while the kernel runs rt_sigreturn: the ip is right after
	 * __restore_rt's syscall, the first byte past its FDE, and the
	 * ucontext is still at rsp.
	 */
	.name = "sampled in the rt_sigreturn syscall: ip just past the trampoline",
	REGS(RESTORE_RT + 9, S0(0), 0x1111),
	.words = {{S0(UC_RBP), S0(0x300)},
		  {S0(UC_RSP), S0(0x200)},
		  {S0(UC_RIP), EXE(F_RBP)},
		  {S0(0x300), 0},
		  {S0(0x308), EXE(F_RSP24 + 0x10)},
		  {S0(0x320), EXE(F_OUTER + 0x10)}},
	.want = {{RESTORE_RT + 9, SIG | T},
		 {EXE(F_RBP), T},
		 {EXE(F_RSP24 + 0x10), 0},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	/*
	 * The handler returns to the trampoline's first byte, which the
	 * kernel pushed; ip - 1 is the previous function's last byte, whose
	 * rsp-based rule would read the ucontext as a frame.
	 */
	.name = "Go signal frame: trampoline row starts at its first byte",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0x1111),
	.words = {{S0(0), GO_SIGRETURN},
		  {S0(8), EXE(F_RSP24 + 0x10)},
		  {S0(8 + UC_RBP), S0(0x300)},
		  {S0(8 + UC_RSP), S0(0x200)},
		  {S0(8 + UC_RIP), EXE(F_RBP)},
		  {S0(0x300), 0},
		  {S0(0x308), EXE(F_RSP24 + 0x10)},
		  {S0(0x320), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T},
		 {GO_SIGRETURN, SIG | T},
		 {EXE(F_RBP), T},
		 {EXE(F_RSP24 + 0x10), 0},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "rsp-based chain to an outermost frame",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}, {S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "rbp-based frames, rbp restored through an rsp-based one",
	REGS(EXE(F_RBP + 0x10), S0(0), S0(0x40)),
	.words = {{S0(0x40), S0(0x80)},
		  {S0(0x48), EXE(F_RSP24 + 0x10)},
		  {S0(0x60), EXE(F_RBP + 0x20)},
		  {S0(0x80), 0},
		  {S0(0x88), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RBP + 0x10), T},
		 {EXE(F_RSP24 + 0x10), 0},
		 {EXE(F_RBP + 0x20), 0},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "rbx-based CFA in the sampled frame (all registers known)",
	.regs = {[XP_REG_IP] = EXE(F_RBX + 0x10), [XP_REG_SP] = S0(0), [XP_REG_BX] = S0(0x20)},
	.words = {{S0(0x28), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RBX + 0x10), T}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "rbx-based CFA in a caller whose callee left rbx alone",
	.regs = {[XP_REG_IP] = EXE(F_RSP8), [XP_REG_SP] = S0(0), [XP_REG_BX] = S0(0x20)},
	.words = {{S0(0), EXE(F_RBX + 0x10)}, {S0(0x28), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8), T}, {EXE(F_RBX + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	/* ld.so's _dl_fixup saves rbx; its caller, the lazy-binding trampoline, has CFA = rbx + 32
	 */
	.name = "rbx-based CFA in a caller, rbx restored from the callee's save slot",
	.regs = {[XP_REG_IP] = EXE(F_SAVEBX + 4), [XP_REG_SP] = S0(0), [XP_REG_BX] = 0xbad},
	.words = {{S0(0x0), 0x12},
		  {S0(0x8), S0(0x40)},
		  {S0(0x10), EXE(F_RBX + 0x10)},
		  {S0(0x48), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_SAVEBX + 4), T}, {EXE(F_RBX + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "rbx-based CFA in a caller, rbx undefined by the callee's rule",
	.regs = {[XP_REG_IP] = EXE(F_BXUNDEF), [XP_REG_SP] = S0(0), [XP_REG_BX] = S0(0x20)},
	.words = {{S0(0), EXE(F_RBX + 0x10)}, {S0(0x28), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_BXUNDEF), T}, {EXE(F_RBX + 0x10), 0}},
	.status = UNW_STOP_BAD_RULE,
    },
    {
	.name = "rbx-based CFA after a frame-pointer step: rbx unknown",
	REGS(NOCFI(0x10), S0(0), S0(0x10)),
	.words = {{S0(0x10), 0}, {S0(0x18), EXE(F_RBX + 0x10)}},
	.want = {{NOCFI(0x10), T}, {EXE(F_RBX + 0x10), FP}},
	.status = UNW_STOP_BAD_RULE,
	.res_flags = UNW_RES_F_FP_USED,
    },
    {
	.name = "PLT entry before its push: CFA = rsp + 8",
	REGS(EXE(F_PLT + 0x10), S0(0), 0),
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}, {S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_PLT + 0x10), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "PLT entry after its push: CFA = rsp + 16",
	REGS(EXE(F_PLT + 0x1b), S0(0), 0),
	.words = {{S0(0), 3}, {S0(8), EXE(F_RSP24 + 0x10)}, {S0(0x20), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_PLT + 0x1b), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "PLT entry, last byte of the first half",
	REGS(EXE(F_PLT + 0x2a), S0(0), 0),
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}, {S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_PLT + 0x2a), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	/*
	 * The interrupted function is rbp-based and its ip is the
	 * first byte of the function: looked up as ip - 1 it would
	 * get F_RSP24's rule and a wrong caller.
	 */
	.name = "signal frame into an rbp-based function, trap lookup",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0x1111),
	.words = {{S0(0), RESTORE_RT},
		  {S0(8 + UC_RBP), S0(0x300)},
		  {S0(8 + UC_RSP), S0(0x200)},
		  {S0(8 + UC_RIP), EXE(F_RBP)},
		  {S0(0x300), 0},
		  {S0(0x308), EXE(F_RSP24 + 0x10)},
		  {S0(0x320), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T},
		 {RESTORE_RT, SIG | T},
		 {EXE(F_RBP), T},
		 {EXE(F_RSP24 + 0x10), 0},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "signal frame restores every register (rbx-based CFA after it)",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), RESTORE_RT},
		  {S0(8 + UC_RBX), S0(0x400)},
		  {S0(8 + UC_RSP), S0(0x200)},
		  {S0(8 + UC_RIP), EXE(F_RBX + 0x8)},
		  {S0(0x408), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T},
		 {RESTORE_RT, SIG | T},
		 {EXE(F_RBX + 0x8), T},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "signal frame whose sp goes down on the same stack",
	REGS(EXE(F_RSP8 + 0x10), S0(0x100), 0),
	.words = {{S0(0x100), RESTORE_RT},
		  {S0(0x108 + UC_RSP), S0(0x10)},
		  {S0(0x108 + UC_RIP), EXE(F_RSP8)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {RESTORE_RT, SIG | T}},
	.status = UNW_STOP_SP_NOT_UP,
    },
    {
	/* The handler ran on a sigaltstack above the interrupted stack's copy. */
	.name = "sigaltstack: continue on the second segment, lower",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.two_segs = true,
	.words = {{S0(0), RESTORE_RT},
		  {S0(8 + UC_RSP), S1(0)},
		  {S0(8 + UC_RIP), EXE(F_RSP8 + 4)},
		  {S1(0), EXE(F_RSP24 + 0x10)},
		  {S1(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T},
		 {RESTORE_RT, SIG | T},
		 {EXE(F_RSP8 + 4), T},
		 {EXE(F_RSP24 + 0x10), 0},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_STACK2,
    },
    {
	.name = "sigaltstack without the second segment: truncated",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), RESTORE_RT}, {S0(8 + UC_RSP), S1(0)}, {S0(8 + UC_RIP), EXE(F_RSP8 + 4)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {RESTORE_RT, SIG | T}, {EXE(F_RSP8 + 4), T}},
	.status = UNW_STOP_TRUNCATED,
    },
    {
	.name = "sampled in an outermost frame",
	REGS(EXE(F_OUTER + 0x10), S0(0), 0),
	.want = {{EXE(F_OUTER + 0x10), T}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "return address undefined: complete",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), EXE(F_RAUNDEF + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_RAUNDEF + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "return address 0 without an outermost rule: not complete",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), 0}},
	.want = {{EXE(F_RSP8 + 0x10), T}},
	.status = UNW_STOP_NO_MODULE,
    },
    {
	.name = "return address outside every module: not reported",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), 0xdead0000}},
	.want = {{EXE(F_RSP8 + 0x10), T}},
	.status = UNW_STOP_NO_MODULE,
    },
    {
	.name = "sampled ip outside every module",
	REGS(0x1000, S0(0), 0),
	.want = {{0x1000, T}},
	.status = UNW_STOP_NO_MODULE,
    },
    {
	.name = "copy ends before the return address: truncated",
	REGS(EXE(F_RSP24 + 0x10), S0(0), 0),
	.seg0_len = 16,
	.want = {{EXE(F_RSP24 + 0x10), T}},
	.status = UNW_STOP_TRUNCATED,
    },
    {
	.name = "copy ends after some frames: truncated, only real frames",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.seg0_len = 0x20,
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}, {S0(0x18), EXE(F_RSP24 + 0x20)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_RSP24 + 0x20), 0}},
	.status = UNW_STOP_TRUNCATED,
    },
    {
	.name = "CFA = rsp + 0: sp not up",
	REGS(EXE(F_BADSP + 0x10), S0(0x10), 0),
	.words = {{S0(8), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_BADSP + 0x10), T}},
	.status = UNW_STOP_SP_NOT_UP,
    },
    {
	.name = "rbp-based CFA below rsp: sp not up",
	REGS(EXE(F_RBP + 0x10), S0(0x100), S0(0x10)),
	.words = {{S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RBP + 0x10), T}},
	.status = UNW_STOP_SP_NOT_UP,
    },
    {
	.name = "CFA wraps around the address space: sp not up",
	REGS(EXE(F_RSP24 + 0x10), 0xfffffffffffffff0ull, 0),
	.seg0_start = 0xfffffffffffffff0ull,
	.seg0_len = 16,
	.want = {{EXE(F_RSP24 + 0x10), T}},
	.status = UNW_STOP_SP_NOT_UP,
    },
    {
	.name = "return address in a register (vfork): sp may stay",
	.regs = {[XP_REG_IP] = EXE(F_VFORK + 0x10),
		 [XP_REG_SP] = S0(0),
		 [XP_REG_DI] = EXE(F_RSP24 + 0x10)},
	.words = {{S0(0x10), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_VFORK + 0x10), T}, {EXE(F_RSP24 + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	/* The call ends F_RSP24, so the return address is F_RBP's first byte. */
	.name = "return address right after a function: looked up as ip - 1",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0xbad),
	.words = {{S0(0), EXE(F_RBP)}, {S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_RBP), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "no table: frame-pointer chain accepted and marked",
	REGS(NOCFI(0x10), S0(0), S0(0x20)),
	.words = {{S0(0x20), S0(0x40)},
		  {S0(0x28), NOCFI(0x50)},
		  {S0(0x40), 0},
		  {S0(0x48), EXE(F_RSP24 + 0x10)},
		  {S0(0x60), EXE(F_OUTER + 0x10)}},
	.want = {{NOCFI(0x10), T},
		 {NOCFI(0x50), FP},
		 {EXE(F_RSP24 + 0x10), FP},
		 {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_FP_USED,
    },
    {
	.name = "gap in a table: frame-pointer chain accepted",
	REGS(EXE(F_NOCFI + 0x10), S0(0), S0(0x10)),
	.words = {{S0(0x18), EXE(F_RSP8 + 0x30)}, {S0(0x20), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_NOCFI + 0x10), T}, {EXE(F_RSP8 + 0x30), FP}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_FP_USED,
    },
    {
	/* ld.so's _start: no CFI, rbp still 0 from the kernel. */
	.name = "no CFI and rbp 0: the outermost frame",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.words = {{S0(0), EXE(F_NOCFI + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_NOCFI + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "no table, sampled with rbp 0: complete, one frame",
	REGS(NOCFI(0x10), S0(0), 0),
	.want = {{NOCFI(0x10), T}},
	.status = UNW_OK_COMPLETE,
    },
    {
	/* rbp 0 but unknown (not restored by the caller's rule): not an end. */
	.name = "rbp unknown in code without CFI: no table",
	REGS(EXE(F_BPUNDEF + 0x10), S0(0), 0),
	.words = {{S0(0), EXE(F_NOCFI + 0x10)}},
	.want = {{EXE(F_BPUNDEF + 0x10), T}, {EXE(F_NOCFI + 0x10), 0}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	/*
	 * At the ret after pop %rbp gcc's CFI still says "rbp at
	 * CFA - 16", a slot below sp that the copy lacks: rbp is
	 * already the caller's.
	 */
	.name = "rbp slot below sp (epilogue): rbp kept, not truncated",
	REGS(EXE(F_EPI + 0x10), S0(0), S0(0x80)),
	.words = {{S0(0), EXE(F_RBP + 0x10)}, {S0(0x80), 0}, {S0(0x88), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_EPI + 0x10), T}, {EXE(F_RBP + 0x10), 0}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
    },
    {
	.name = "no table: misaligned rbp refused",
	REGS(NOCFI(0x10), S0(0), S0(0x21)),
	.words = {{S0(0x28), NOCFI(0x50)}, {S0(0x30), NOCFI(0x50)}},
	.want = {{NOCFI(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "no table: rbp below rsp refused",
	REGS(NOCFI(0x10), S0(0x100), S0(0x20)),
	.words = {{S0(0x28), NOCFI(0x50)}},
	.want = {{NOCFI(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "no table: rbp outside the copy refused",
	REGS(NOCFI(0x10), S0(0), S0(0x2000)),
	.want = {{NOCFI(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "no table: saved return address outside every module refused",
	REGS(NOCFI(0x10), S0(0), S0(0x20)),
	.words = {{S0(0x28), 0x12345678}},
	.want = {{NOCFI(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "a synthesized rule: the frame it reaches is marked",
	REGS(EXE(F_SYNTH + 4), S0(0), 0),
	.words = {{S0(8), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_SYNTH + 4), T}, {EXE(F_OUTER + 0x10), UNW_FRAME_F_SYNTH}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_SYNTH,
    },
    {
	.name = "JIT frame: the caller found by scanning, a direct call to it",
	REGS(JIT(0x10), S0(0), 0),
	.words = {{S0(0), 0x1234},
		  {S0(8), EXE(F_RSP8 + 3)},
		  {S0(0x10), EXE(F_RSP24 + 0x10)},
		  {S0(0x28), EXE(F_OUTER + 0x10)}},
	.want = {{JIT(0x10), T}, {EXE(F_RSP24 + 0x10), SCAN}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_SCAN,
    },
    {
	.name = "JIT frame: a direct call to another function is no return address",
	REGS(JIT(0x210), S0(0), 0),
	.words = {{S0(0), EXE(F_RSP24 + 0x10)},
		  {S0(8), EXE(F_RSP24 + 0x30)},
		  {S0(0x20), EXE(F_OUTER + 0x10)}},
	.want = {{JIT(0x210), T}, {EXE(F_RSP24 + 0x30), SCAN}, {EXE(F_OUTER + 0x10), 0}},
	.status = UNW_OK_COMPLETE,
	.res_flags = UNW_RES_F_SCAN,
    },
    {
	.name = "JIT frame: no return address within reach",
	REGS(JIT(0x10), S0(0), 0),
	.words = {{S0(0), 0x1234}, {S0(8), EXE(F_RSP8 + 3)}},
	.want = {{JIT(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "frame-pointer chain to a word that does not follow a call: refused",
	REGS(NOCFI(0x10), S0(0), S0(0x10)),
	.words = {{S0(0x10), 0}, {S0(0x18), EXE(F_RSP24 + 0x20)}},
	.want = {{NOCFI(0x10), T}},
	.status = UNW_STOP_NO_TABLE,
    },
    {
	.name = "frame array full: max frames",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.max_frames = 2,
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}, {S0(0x18), EXE(F_OUTER + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}, {EXE(F_RSP24 + 0x10), 0}},
	.status = UNW_STOP_MAX_FRAMES,
    },
    {
	.name = "frame array of one",
	REGS(EXE(F_RSP8 + 0x10), S0(0), 0),
	.max_frames = 1,
	.words = {{S0(0), EXE(F_RSP24 + 0x10)}},
	.want = {{EXE(F_RSP8 + 0x10), T}},
	.status = UNW_STOP_MAX_FRAMES,
    },
};

static void put(uint8_t *seg, uint64_t seg_start, uint32_t len, uint64_t addr, uint64_t val)
{
	if (addr >= seg_start && addr - seg_start + 8 <= len)
		memcpy(seg + (addr - seg_start), &val, 8);
}

static void run_case(struct world *w, const struct tcase *c)
{
	static uint8_t seg0[SEG_LEN], seg1[SEG_LEN];
	struct unw_frame frames[MAXF];
	struct unw_input in = {.nsegs = c->two_segs ? 2 : 1};
	struct unw_result res;
	unsigned nwant = 0;

	memset(seg0, 0xcc, sizeof(seg0));
	memset(seg1, 0xcc, sizeof(seg1));
	memcpy(in.regs, c->regs, sizeof(in.regs));
	in.segs[0].start = c->seg0_start ? c->seg0_start : S0_START;
	in.segs[0].len = c->seg0_len ? c->seg0_len : SEG_LEN;
	in.segs[0].data = seg0;
	in.segs[1] = (struct unw_stack_seg){S1_START, seg1, SEG_LEN};
	for (unsigned i = 0; i < MAXW && c->words[i].addr; i++) {
		put(seg0, in.segs[0].start, in.segs[0].len, c->words[i].addr, c->words[i].val);
		put(seg1, S1_START, SEG_LEN, c->words[i].addr, c->words[i].val);
	}
	while (nwant < MAXF && c->want[nwant].ip)
		nwant++;

	memset(frames, 0, sizeof(frames));
	struct unw_env env = {.find = world_find, .bounds = world_bounds, .ctx = w};

	assert_int_equal(
	    unw_walk_env(&in, &env, frames, c->max_frames ? c->max_frames : MAXF, &res), 0);
	if (res.status != c->status || res.nframes != nwant || res.flags != c->res_flags) {
		print_error("case '%s': status %s, %u frames, flags %#x; want %s, %u, %#x\n",
			    c->name, unw_status_name(res.status), res.nframes, res.flags,
			    unw_status_name(c->status), nwant, c->res_flags);
		for (unsigned i = 0; i < res.nframes; i++)
			print_error("  #%u %#llx flags %#x\n", i, (unsigned long long)frames[i].ip,
				    frames[i].flags);
		fail();
	}
	for (unsigned i = 0; i < nwant; i++) {
		if (frames[i].ip != c->want[i].ip || frames[i].flags != c->want[i].flags) {
			print_error("case '%s': frame %u is %#llx/%#x, want %#llx/%#x\n", c->name,
				    i, (unsigned long long)frames[i].ip, frames[i].flags,
				    (unsigned long long)c->want[i].ip, c->want[i].flags);
			fail();
		}
	}
}

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(*state, &cases[i]);
}

/* The same sample walked twice gives the same answer: no state is kept between walks. */
static void test_repeatable(void **state)
{
	run_case(*state, &cases[7]);
	run_case(*state, &cases[7]);
	run_case(*state, &cases[0]);
}

static void test_bad_args(void **state)
{
	struct unw_input in = {.nsegs = 1};
	struct unw_frame f[2];
	struct unw_result res;

	assert_int_equal(unw_walk(NULL, world_find, *state, f, 2, &res), -EINVAL);
	assert_int_equal(unw_walk(&in, NULL, *state, f, 2, &res), -EINVAL);
	assert_int_equal(unw_walk(&in, world_find, *state, NULL, 2, &res), -EINVAL);
	assert_int_equal(unw_walk(&in, world_find, *state, f, 0, &res), -EINVAL);
	assert_int_equal(unw_walk(&in, world_find, *state, f, 2, NULL), -EINVAL);
	in.nsegs = 3;
	assert_int_equal(unw_walk(&in, world_find, *state, f, 2, &res), -EINVAL);
}

/* A stack whose return addresses loop back to the same frame cannot loop the walker. */
static void test_cycle(void **state)
{
	static uint8_t seg[64];
	struct unw_input in = {.nsegs = 1};
	struct unw_frame f[MAXF];
	struct unw_result res;
	uint64_t ra = EXE(F_RBP + 0x10), bp = S0_START;

	/* rbp-based frame whose saved rbp points at itself: CFA stays, sp not up. */
	memcpy(seg, &bp, 8);
	memcpy(seg + 8, &ra, 8);
	in.regs[XP_REG_IP] = ra;
	in.regs[XP_REG_SP] = S0_START;
	in.regs[XP_REG_BP] = S0_START;
	in.segs[0] = (struct unw_stack_seg){S0_START, seg, sizeof(seg)};
	assert_int_equal(unw_walk(&in, world_find, *state, f, MAXF, &res), 0);
	assert_int_equal(res.status, UNW_STOP_SP_NOT_UP);
	assert_int_equal(res.nframes, 2);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(unw_status_name(UNW_OK_COMPLETE), "complete");
	assert_string_equal(unw_status_name(UNW_STOP_TRUNCATED), "truncated");
	assert_string_equal(unw_status_name(UNW_STOP_NO_MODULE), "no-module");
	assert_string_equal(unw_status_name(UNW_STOP_NO_TABLE), "no-table");
	assert_string_equal(unw_status_name(UNW_STOP_SP_NOT_UP), "sp-not-up");
	assert_string_equal(unw_status_name(UNW_STOP_MAX_FRAMES), "max-frames");
	assert_string_equal(unw_status_name(UNW_STOP_BAD_RULE), "bad-rule");
	assert_string_equal(unw_status_name(UNW_STATUS_NR), "unknown");
	assert_string_equal(unw_status_name((enum unw_status) - 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),	 cmocka_unit_test(test_repeatable),
	    cmocka_unit_test(test_bad_args),	 cmocka_unit_test(test_cycle),
	    cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
