// SPDX-License-Identifier: MIT
/*
 * Unwind rows synthesized from machine code, for functions that have no
 * FDE (hand-written assembly, -fno-asynchronous-unwind-tables builds, the
 * CRT's _init and frame_dummy): decode the function with Zydis and follow
 * the stack pointer along every path from the entry, as objtool does to
 * generate the kernel's ORC, to a CFA rule at every instruction.
 *
 * The state at an instruction boundary is where the CFA is (rsp + n, or
 * rbp + n once "mov %rsp, %rbp" made rbp the frame pointer, as gcc's CFI
 * says it) and where the caller's rbp, rbx and r12-r15 are saved (the first
 * push, or mov to the stack, of a register not yet changed since the entry).
 * Instructions that move rsp: push, pop, sub/add/lea with a constant,
 * leave, mov %rbp, %rsp, call of the next instruction (the PIC thunk).
 * Paths end at ret, at a jump out of the function with the stack as at the
 * entry (a tail call), and at ud2/hlt/int3.
 *
 * What it cannot follow it refuses, for the whole function, rather than
 * guess: an undecodable byte, an indirect jump while a frame is set up (a
 * jump table), rsp changed by anything else, a stack realignment while the
 * CFA is on rsp, a ret or a jump out of the function with the stack not as
 * at the entry, two paths that reach one instruction with different stacks,
 * rsp above the return address (vfork pops it into a register).
 * test_unwind_synth.c runs it on every function that has an FDE in libc,
 * libstdc++ and ld.so and compares it with the CFI row by row; the shapes it
 * accepts are those where it agrees.
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_int.h"

#define MAX_FUNC_BYTES (1u << 20) /* bigger "functions" are data or a symbol gone wrong */

/* Saved-register slots of the state, in struct unw_rule order: rbp, then UNW_SAVED_REGS. */
#define NSLOT	  (1 + UNW_NSAVED)
#define NOT_SAVED INT32_MIN

struct sstate {
	int32_t sp_off;	     /* CFA - rsp, when sp_ok */
	int32_t bp_off;	     /* CFA - rbp, when bp_ok */
	bool sp_ok;	     /* rsp is known relative to the CFA */
	bool bp_ok;	     /* rbp is known relative to the CFA (it was set from rsp) */
	bool cfa_bp;	     /* the CFA is rbp + bp_off (rbp is the frame pointer); implies bp_ok */
	uint8_t dirty;	     /* bit per slot: changed since the entry and not saved first */
	uint8_t written;     /* bit per slot: not the entry value now (saved first or not) */
	int32_t save[NSLOT]; /* CFA offset of the caller's value, or NOT_SAVED */
};

struct insn {
	uint64_t addr;
	uint8_t len;
	bool reached;
	bool weak;	  /* reached only past calls presumed to return (see reach()) */
	uint8_t fail;	  /* a refusal met on a weak path, pending (see follow()) */
	struct sstate st; /* before the instruction, when reached */
};

struct unw_synth {
	ZydisDecoder dec;
	struct insn *insn;
	/* each instruction decoded once, by the sweep: its operands on demand */
	ZydisDecodedInstruction *dins;
	ZydisDecoderContext *dctx;
	size_t n, cap;
	int32_t *at; /* byte offset -> instruction index, -1 inside one */
	size_t cap_at;
	uint64_t vaddr, len;
	uint32_t *work;
	size_t nwork, cap_work;
};

static const char *const refuse_names[UNW_SYNTH_NR] = {
    [UNW_SYNTH_OK] = "ok",
    [UNW_SYNTH_BAD_INSN] = "undecodable",
    [UNW_SYNTH_JUMP_TABLE] = "indirect-jump",
    [UNW_SYNTH_REALIGN] = "realign",
    [UNW_SYNTH_SP_LOST] = "sp-lost",
    [UNW_SYNTH_CONFLICT] = "conflict",
    [UNW_SYNTH_BAD_RET] = "bad-ret",
    [UNW_SYNTH_FAR_JUMP] = "far-jump",
    [UNW_SYNTH_TOO_BIG] = "too-big",
    [UNW_SYNTH_RA_MOVED] = "ra-moved",
};

const char *unw_synth_refuse_name(int why)
{
	return why >= 0 && why < UNW_SYNTH_NR ? refuse_names[why] : "unknown";
}

struct unw_synth *unw_synth_new(void)
{
	struct unw_synth *sy = calloc(1, sizeof(*sy));

	if (!sy)
		return NULL;
	if (!ZYAN_SUCCESS(
		ZydisDecoderInit(&sy->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
		free(sy);
		errno = EINVAL;
		return NULL;
	}
	return sy;
}

void unw_synth_free(struct unw_synth *sy)
{
	if (!sy)
		return;
	free(sy->insn);
	free(sy->dins);
	free(sy->dctx);
	free(sy->at);
	free(sy->work);
	free(sy);
}

/* Slot of a callee-saved register (Zydis 64-bit register), or -1. */
static int slot_of(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_RBP:
		return 0;
	case ZYDIS_REGISTER_RBX:
		return 1;
	case ZYDIS_REGISTER_R12:
		return 2;
	case ZYDIS_REGISTER_R13:
		return 3;
	case ZYDIS_REGISTER_R14:
		return 4;
	case ZYDIS_REGISTER_R15:
		return 5;
	default:
		return -1;
	}
}

static ZydisRegister reg64(ZydisRegister r)
{
	ZydisRegister w = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);

	return w == ZYDIS_REGISTER_NONE ? r : w;
}

static int find_insn(const struct unw_synth *sy, uint64_t addr)
{
	if (addr < sy->vaddr || addr - sy->vaddr >= sy->len)
		return -1;
	return sy->at[addr - sy->vaddr];
}

/* Equal stacks; dirty and written may differ (they are merged). */
static bool state_eq(const struct sstate *a, const struct sstate *b)
{
	if (a->cfa_bp != b->cfa_bp || a->sp_ok != b->sp_ok || a->bp_ok != b->bp_ok)
		return false;
	if (a->sp_ok && a->sp_off != b->sp_off)
		return false;
	if (a->bp_ok && a->bp_off != b->bp_off)
		return false;
	return !memcmp(a->save, b->save, sizeof(a->save));
}

static int push_work(struct unw_synth *sy, uint32_t i)
{
	if (sy->nwork == sy->cap_work) {
		size_t cap = sy->cap_work ? 2 * sy->cap_work : 256;
		uint32_t *w = realloc(sy->work, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		sy->work = w;
		sy->cap_work = cap;
	}
	sy->work[sy->nwork++] = i;
	return 0;
}

/*
 * Reach instruction at addr with state st. weak: the state came through the
 * fall-through of a call (at any distance), which is wrong when the call
 * does not return (abort, __stack_chk_fail, a cold error path): the next
 * bytes then belong to another block, entered by a jump with its own stack.
 * Where the two meet with different stacks, the state that did not pass a
 * call wins and the other path ends; two such states that differ, or two
 * weak ones, make the function refused. Jumps out of the function end the
 * path. Returns 0, a refusal, or -ENOMEM.
 */
static int reach(struct unw_synth *sy, uint64_t addr, const struct sstate *st, bool weak)
{
	int i = find_insn(sy, addr);

	if (i < 0) {
		uint64_t lo = sy->insn[0].addr;
		uint64_t hi = sy->insn[sy->n - 1].addr + sy->insn[sy->n - 1].len;

		if (addr >= lo && addr < hi)
			return UNW_SYNTH_FAR_JUMP; /* into the middle of an instruction */
		/*
		 * Out of the function: a fall-through past the end (after a
		 * call that does not return), a tail call (the stack as at the
		 * entry), or a jump with a frame set up to code split off the
		 * function (gcc's .cold parts). The path ends here either way;
		 * the split-off code is not described from this function.
		 */
		return 0;
	}
	/* the return address popped or overwritten (vfork's pop %rdi): not followed */
	if (st->sp_ok && st->sp_off < 8)
		return UNW_SYNTH_RA_MOVED;
	struct insn *I = &sy->insn[i];

	if (!I->reached) {
		I->reached = true;
		I->weak = weak;
		I->st = *st;
		return push_work(sy, (uint32_t)i);
	}
	if (!state_eq(&I->st, st)) {
		if (I->weak && !weak) {
			I->weak = false; /* the call before it did not return */
			I->st = *st;
			return push_work(sy, (uint32_t)i);
		}
		if (!I->weak && weak)
			return 0; /* this path passed a call that does not return */
		return UNW_SYNTH_CONFLICT;
	}
	/* a register changed on any path is changed: merge, and go on if that is news */
	if ((I->st.dirty | st->dirty) == I->st.dirty &&
	    (I->st.written | st->written) == I->st.written && (weak || !I->weak))
		return 0;
	I->st.dirty |= st->dirty;
	I->st.written |= st->written;
	I->weak = I->weak && weak;
	return push_work(sy, (uint32_t)i);
}

/* The saved register slot of a push or a store at CFA - off, if it is a save. */
static void note_save(struct sstate *st, ZydisRegister r, int32_t cfa_off)
{
	int s = slot_of(reg64(r));

	if (s >= 0 && st->save[s] == NOT_SAVED && !(st->dirty & (1u << s)))
		st->save[s] = cfa_off;
}

/* Mark every callee-saved register the instruction writes as changed. */
static void note_writes(struct sstate *st, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *op)
{
	for (unsigned k = 0; k < in->operand_count; k++) {
		int s;

		if (op[k].type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    !(op[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			continue;
		s = slot_of(reg64(op[k].reg.value));
		if (s < 0)
			continue;
		st->written |= (uint8_t)(1u << s);
		if (st->save[s] == NOT_SAVED)
			st->dirty |= (uint8_t)(1u << s);
	}
}

static bool writes_reg(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
		       ZydisRegister r)
{
	for (unsigned k = 0; k < in->operand_count; k++)
		if (op[k].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (op[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
		    reg64(op[k].reg.value) == r)
			return true;
	return false;
}

static bool is_reg(const ZydisDecodedOperand *op, ZydisRegister r)
{
	return op->type == ZYDIS_OPERAND_TYPE_REGISTER && op->reg.value == r;
}

static bool is_imm(const ZydisDecodedOperand *op)
{
	return op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
}

/* Frames beyond this are not real code (a 16 MiB stack frame): refused, never wrapped. */
#define MAX_FRAME (1 << 24)

/* CFA - rsp becomes v; refused when v is not a plausible frame. */
static int sp_set(struct sstate *st, int64_t v)
{
	if (v < -MAX_FRAME || v > MAX_FRAME)
		return UNW_SYNTH_SP_LOST;
	st->sp_off = (int32_t)v;
	return 0;
}

/* rsp moved down by n bytes (n < 0: up). */
static int sp_move(struct sstate *st, int64_t n)
{
	if (!st->sp_ok)
		return 0;
	if (n < -MAX_FRAME || n > MAX_FRAME)
		return UNW_SYNTH_SP_LOST;
	return sp_set(st, (int64_t)st->sp_off + n);
}

/*
 * rsp changed in a way not followed: fine when rbp holds a known copy of an
 * earlier rsp (the CFA moves onto it, as gcc's CFI does for alloca), else
 * refused.
 */
static int sp_lost(struct sstate *st, int why)
{
	if (!st->bp_ok)
		return why;
	st->cfa_bp = true;
	st->sp_ok = false;
	return 0;
}

/* rbp no longer holds a known copy of rsp. */
static int bp_lost(struct sstate *st)
{
	if (st->cfa_bp)
		return UNW_SYNTH_SP_LOST; /* the CFA's base register changed */
	st->bp_ok = false;
	return 0;
}

/*
 * The state after instruction in at addr (not a branch, call or ret).
 * Returns 0 or a refusal.
 */
static int step(struct sstate *st, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op)
{
	const ZydisDecodedOperand *o0 = &op[0], *o1 = &op[1];
	unsigned nv = in->operand_count_visible;

	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_PUSH:
	case ZYDIS_MNEMONIC_PUSHFQ:
		if (sp_move(st, in->operand_width == 16 ? 2 : 8))
			return UNW_SYNTH_SP_LOST;
		if (in->mnemonic == ZYDIS_MNEMONIC_PUSH &&
		    o0->type == ZYDIS_OPERAND_TYPE_REGISTER && st->sp_ok)
			note_save(st, o0->reg.value, -st->sp_off);
		return 0;
	case ZYDIS_MNEMONIC_POP:
	case ZYDIS_MNEMONIC_POPFQ:
		if (sp_move(st, in->operand_width == 16 ? -2 : -8))
			return UNW_SYNTH_SP_LOST;
		if (in->mnemonic == ZYDIS_MNEMONIC_POP && is_reg(o0, ZYDIS_REGISTER_RBP)) {
			/* the epilogue's pop %rbp: the frame pointer is gone */
			if (!st->sp_ok)
				return UNW_SYNTH_SP_LOST;
			st->cfa_bp = false;
			st->bp_ok = false;
		}
		if (in->mnemonic == ZYDIS_MNEMONIC_POP && o0->type == ZYDIS_OPERAND_TYPE_REGISTER) {
			int s = slot_of(reg64(o0->reg.value));

			if (reg64(o0->reg.value) == ZYDIS_REGISTER_RSP)
				return sp_lost(st, UNW_SYNTH_SP_LOST);
			/* restoring the caller's value from its slot: not a change */
			if (s >= 0 && st->save[s] == NOT_SAVED)
				st->dirty |= (uint8_t)(1u << s);
			if (s >= 0 && st->save[s] != NOT_SAVED && st->sp_ok &&
			    st->save[s] == -(st->sp_off + 8))
				st->written &= (uint8_t) ~(1u << s);
			else if (s >= 0)
				st->written |= (uint8_t)(1u << s);
		}
		return 0;
	case ZYDIS_MNEMONIC_LEAVE:
		if (!st->bp_ok)
			return UNW_SYNTH_SP_LOST; /* rbp is not known to be the frame */
		st->sp_ok = true;
		st->sp_off = st->bp_off - 8;
		st->cfa_bp = false;
		st->bp_ok = false;
		if (st->save[0] != NOT_SAVED && st->save[0] == -(st->sp_off + 8))
			st->written &= (uint8_t)~1u; /* rbp reloaded from its save slot */
		else
			st->written |= 1u;
		return 0;
	case ZYDIS_MNEMONIC_ENTER:
		return UNW_SYNTH_SP_LOST;
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_ADD:
		if (nv == 2 && is_reg(o0, ZYDIS_REGISTER_RSP)) {
			if (!is_imm(o1))
				return sp_lost(st, UNW_SYNTH_SP_LOST);
			return sp_move(st, in->mnemonic == ZYDIS_MNEMONIC_SUB ? o1->imm.value.s
									      : -o1->imm.value.s);
		}
		break;
	case ZYDIS_MNEMONIC_AND:
		if (nv == 2 && is_reg(o0, ZYDIS_REGISTER_RSP))
			return sp_lost(st, UNW_SYNTH_REALIGN);
		break;
	case ZYDIS_MNEMONIC_LEA:
		if (nv == 2 && is_reg(o0, ZYDIS_REGISTER_RSP)) {
			const ZydisDecodedOperandMem *m = &o1->mem;

			if (m->index != ZYDIS_REGISTER_NONE)
				return sp_lost(st, UNW_SYNTH_SP_LOST);
			if (m->base == ZYDIS_REGISTER_RSP && st->sp_ok)
				return sp_move(st, -m->disp.value);
			if (m->base == ZYDIS_REGISTER_RBP && st->bp_ok) {
				st->sp_ok = true;
				return sp_set(st, (int64_t)st->bp_off - m->disp.value);
			}
			return sp_lost(st, UNW_SYNTH_SP_LOST);
		}
		break;
	case ZYDIS_MNEMONIC_MOV:
		if (nv == 2 && is_reg(o0, ZYDIS_REGISTER_RBP) && is_reg(o1, ZYDIS_REGISTER_RSP)) {
			if (!st->sp_ok)
				return bp_lost(st);
			/*
			 * The frame-pointer prologue (push %rbp with nothing pushed
			 * since): gcc's CFI follows rbp from here on, so do we.
			 * Elsewhere rbp is just a copy of rsp (-fomit-frame-pointer
			 * code using it as a register): the CFA stays on rsp.
			 */
			st->bp_ok = true;
			st->bp_off = st->sp_off;
			st->cfa_bp = st->save[0] != NOT_SAVED && st->save[0] == -st->sp_off;
			st->dirty |= st->save[0] == NOT_SAVED ? 1u : 0u;
			st->written |= 1u;
			return 0;
		}
		if (nv == 2 && is_reg(o0, ZYDIS_REGISTER_RSP) && is_reg(o1, ZYDIS_REGISTER_RBP)) {
			if (!st->bp_ok)
				return sp_lost(st, UNW_SYNTH_SP_LOST);
			st->sp_ok = true;
			st->sp_off = st->bp_off;
			return 0;
		}
		/* a save to the stack: mov %rbx, 8(%rsp) */
		if (nv == 2 && o0->type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    o0->mem.base == ZYDIS_REGISTER_RSP && o0->mem.index == ZYDIS_REGISTER_NONE &&
		    o1->type == ZYDIS_OPERAND_TYPE_REGISTER && o1->size == 64 && st->sp_ok) {
			int64_t at = o0->mem.disp.value - st->sp_off;

			if (at >= -MAX_FRAME && at <= MAX_FRAME)
				note_save(st, o1->reg.value, (int32_t)at);
			return 0;
		}
		break;
	default:
		break;
	}
	if (writes_reg(in, op, ZYDIS_REGISTER_RSP))
		return sp_lost(st, UNW_SYNTH_SP_LOST);
	if (writes_reg(in, op, ZYDIS_REGISTER_RBP)) {
		int err = bp_lost(st);

		if (err)
			return err;
	}
	note_writes(st, in, op);
	return 0;
}

/* One instruction of a path: its successors reached. 0, a refusal or -ENOMEM. */
static int visit(struct unw_synth *sy, uint32_t i)
{
	const struct insn *I = &sy->insn[i];
	const ZydisDecodedInstruction *in = &sy->dins[i];
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	struct sstate st = I->st;
	uint64_t next = I->addr + I->len, target;
	int err;

	if (!ZYAN_SUCCESS(
		ZydisDecoderDecodeOperands(&sy->dec, &sy->dctx[i], in, op, in->operand_count)))
		return UNW_SYNTH_BAD_INSN;
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_RET:
		return !st.sp_ok || st.sp_off != 8 || st.cfa_bp ? UNW_SYNTH_BAD_RET : 0;
	case ZYDIS_CATEGORY_UNCOND_BR:
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, &op[0], I->addr, &target)))
				return UNW_SYNTH_BAD_INSN;
			return reach(sy, target, &st, I->weak);
		}
		/* indirect: a tail call if nothing is on the stack, else a jump table */
		return !st.sp_ok || st.sp_off != 8 || st.cfa_bp ? UNW_SYNTH_JUMP_TABLE : 0;
	case ZYDIS_CATEGORY_COND_BR:
		if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, &op[0], I->addr, &target)))
			return UNW_SYNTH_BAD_INSN;
		err = reach(sy, target, &st, I->weak);
		return err ? err : reach(sy, next, &st, I->weak);
	case ZYDIS_CATEGORY_CALL:
		/* call of the next instruction: the PIC idiom that pushes its address */
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(in, &op[0], I->addr, &target)) &&
		    target == next)
			if (sp_move(&st, 8))
				return UNW_SYNTH_SP_LOST;
		return reach(sy, next, &st, true);
	default:
		break;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_UD2 || in->mnemonic == ZYDIS_MNEMONIC_HLT ||
	    in->mnemonic == ZYDIS_MNEMONIC_INT3)
		return 0;
	err = step(&st, in, op);
	return err ? err : reach(sy, next, &st, I->weak);
}

/*
 * Follow every path from the entry. A refusal on a weak path (past a call)
 * waits: the call may not return, and a jump may still bring the
 * instruction a stack that works. Returns 0, a refusal or -ENOMEM.
 */
static int follow(struct unw_synth *sy, uint64_t vaddr)
{
	struct sstate st0 = {.sp_off = 8, .sp_ok = true};
	int err;

	for (int s = 0; s < NSLOT; s++)
		st0.save[s] = NOT_SAVED;
	sy->nwork = 0;
	err = reach(sy, vaddr, &st0, false);
	while (!err && sy->nwork) {
		uint32_t i = sy->work[--sy->nwork];

		sy->insn[i].fail = 0;
		err = visit(sy, i);
		if (err > 0 && sy->insn[i].weak) {
			sy->insn[i].fail = (uint8_t)err;
			err = 0;
		}
	}
	for (size_t i = 0; !err && i < sy->n; i++)
		if (sy->insn[i].reached && sy->insn[i].weak && sy->insn[i].fail)
			err = sy->insn[i].fail;
	return err;
}

int unw_synth_analyse(struct unw_synth *sy, const uint8_t *code, size_t len, uint64_t vaddr)
{
	size_t off = 0;

	sy->n = 0;
	if (!len)
		return UNW_SYNTH_BAD_INSN;
	if (len > MAX_FUNC_BYTES)
		return UNW_SYNTH_TOO_BIG;
	if (len > sy->cap_at) {
		int32_t *at = realloc(sy->at, len * sizeof(*at));

		if (!at)
			return -ENOMEM;
		sy->at = at;
		sy->cap_at = len;
	}
	memset(sy->at, 0xff, len * sizeof(*sy->at));
	sy->vaddr = vaddr;
	sy->len = len;
	/* Linear sweep: compilers and assemblers put no data inside x86-64 functions. */
	while (off < len) {
		if (sy->n == sy->cap) {
			size_t cap = sy->cap ? 2 * sy->cap : 256;
			struct insn *ni = realloc(sy->insn, cap * sizeof(*ni));
			ZydisDecodedInstruction *nd;
			ZydisDecoderContext *nc;

			if (!ni)
				return -ENOMEM;
			sy->insn = ni;
			nd = realloc(sy->dins, cap * sizeof(*nd));
			if (!nd)
				return -ENOMEM;
			sy->dins = nd;
			nc = realloc(sy->dctx, cap * sizeof(*nc));
			if (!nc)
				return -ENOMEM;
			sy->dctx = nc;
			sy->cap = cap;
		}
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
			&sy->dec, &sy->dctx[sy->n], code + off, len - off, &sy->dins[sy->n])))
			return UNW_SYNTH_BAD_INSN;
		sy->at[off] = (int32_t)sy->n;
		sy->insn[sy->n] = (struct insn){.addr = vaddr + off, .len = sy->dins[sy->n].length};
		off += sy->insn[sy->n++].len;
	}
	return follow(sy, vaddr);
}

size_t unw_synth_count(const struct unw_synth *sy)
{
	return sy->n;
}

void unw_synth_insn(const struct unw_synth *sy, size_t i, uint64_t *addr, struct unw_rule *rule,
		    int32_t *cfa_minus_sp, uint8_t *unchanged)
{
	const struct insn *I = &sy->insn[i];
	const struct sstate *st = &I->st;

	*addr = I->addr;
	*unchanged = I->reached ? (uint8_t)(~st->written & ((1u << NSLOT) - 1)) : 0;
	memset(rule, 0, sizeof(*rule));
	rule->flags = UNW_RULE_F_SYNTH;
	*cfa_minus_sp = I->reached && st->sp_ok ? st->sp_off : INT32_MIN;
	if (!I->reached)
		return; /* UNW_RULE_NONE: no path from the entry gets here */
	rule->type = UNW_RULE_CFA;
	rule->cfa_reg = st->cfa_bp ? 6 : 7;
	rule->cfa_off = st->cfa_bp ? st->bp_off : st->sp_off;
	rule->ra_loc = UNW_LOC_CFA_OFF;
	rule->ra_off = -8;
	for (int s = 0; s < NSLOT; s++) {
		uint8_t loc = st->save[s] != NOT_SAVED ? UNW_LOC_CFA_OFF
			      : st->dirty & (1u << s)  ? UNW_LOC_UNDEF
						       : UNW_LOC_SAME;
		int32_t off = st->save[s] != NOT_SAVED ? st->save[s] : 0;

		if (loc == UNW_LOC_CFA_OFF && (off % 8 || off < -1024 || off > 1016)) {
			loc = UNW_LOC_UNDEF; /* the record cannot hold it: the caller's value is
						lost */
			off = 0;
		}
		if (s == 0) {
			rule->bp_loc = loc;
			rule->bp_off = off;
		} else {
			rule->reg_loc[s - 1] = loc;
			rule->reg_off[s - 1] = off;
		}
	}
}

/* ---- the table source: functions of an ELF file that no FDE covers ---------- */

struct func {
	uint64_t start, end;
	size_t shndx;
};

static int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? 1 : x->end > y->end ? -1 : 0; /* the longest first */
}

struct range {
	uint64_t start, end;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Whether [start, end) overlaps one of the sorted ranges r[0..n). */
static bool overlaps(const struct range *r, size_t n, uint64_t start, uint64_t end)
{
	size_t lo = 0, hi = n;

	/* the first range that starts at or after end; the one before it may reach in */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;) {
		if (r[i].end > start)
			return true;
		if (i + 8 < lo)
			break; /* FDEs do not nest: a few back is enough */
	}
	return false;
}

/* The STT_FUNC symbols with a size in executable sections, from .symtab and .dynsym. */
static int collect_funcs(Elf *elf, struct func **out, size_t *nout)
{
	Elf_Scn *scn = NULL;
	struct func *f = NULL;
	size_t n = 0, cap = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			Elf_Scn *ts;
			GElf_Shdr tsh;

			if (!gelf_getsym(d, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size ||
			    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE)
				continue;
			/*
			 * gcc's split-off cold parts ("f.cold") are entered by a
			 * jump with f's frame set up, not called: analysed from
			 * their start as a function they would get rsp + 8.
			 */
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);

			if (name && strstr(name, ".cold"))
				continue;
			ts = elf_getscn(elf, sym.st_shndx);
			if (!ts || !gelf_getshdr(ts, &tsh) || !(tsh.sh_flags & SHF_EXECINSTR) ||
			    tsh.sh_type != SHT_PROGBITS || sym.st_value < tsh.sh_addr ||
			    sym.st_value - tsh.sh_addr > tsh.sh_size ||
			    sym.st_size > tsh.sh_size - (sym.st_value - tsh.sh_addr))
				continue;
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 1024;
				struct func *nf = realloc(f, nc * sizeof(*nf));

				if (!nf) {
					free(f);
					return -ENOMEM;
				}
				f = nf;
				cap = nc;
			}
			f[n++] =
			    (struct func){sym.st_value, sym.st_value + sym.st_size, sym.st_shndx};
		}
	}
	*out = f;
	*nout = n;
	return 0;
}

int unw_synth_source(struct Elf *elf, struct unw_cfi *cfi)
{
	struct unw_synth *sy = NULL;
	struct func *f = NULL;
	struct range *cov = NULL;
	size_t nf = 0, ncov = cfi->nfdes;
	uint64_t last_end = 0;
	GElf_Ehdr eh;
	int err;

	if (!gelf_getehdr(elf, &eh))
		return 0;
	err = collect_funcs(elf, &f, &nf);
	if (err || !nf)
		goto out;
	err = -ENOMEM;
	cov = malloc((ncov ? ncov : 1) * sizeof(*cov));
	sy = unw_synth_new();
	if (!cov || !sy)
		goto out;
	for (size_t i = 0; i < ncov; i++)
		cov[i] = (struct range){cfi->fdes[i].start, cfi->fdes[i].end};
	qsort(cov, ncov, sizeof(*cov), range_cmp);
	qsort(f, nf, sizeof(*f), func_cmp);
	err = 0;
	for (size_t i = 0; i < nf && !err; i++) {
		Elf_Scn *ts;
		GElf_Shdr tsh;
		Elf_Data *d;
		int why;

		/* aliases and nested symbols: each byte is analysed once */
		if (f[i].start < last_end || overlaps(cov, ncov, f[i].start, f[i].end))
			continue;
		last_end = f[i].end;
		ts = elf_getscn(elf, f[i].shndx);
		if (!ts || !gelf_getshdr(ts, &tsh) || !(d = elf_getdata(ts, NULL)) || !d->d_buf ||
		    d->d_size < tsh.sh_size)
			continue;
		const uint8_t *code = (const uint8_t *)d->d_buf + (f[i].start - tsh.sh_addr);
		size_t len = (size_t)(f[i].end - f[i].start);
		size_t first = cfi->nrows;

		cfi->stats->synth_funcs++;
		if (eh.e_entry >= f[i].start && eh.e_entry < f[i].end) {
			/* the entry point is not called: its frame is the outermost one */
			struct unw_rule outer = {.type = UNW_RULE_OUTERMOST,
						 .flags = UNW_RULE_F_SYNTH};

			err = unw_cfi_push_row(cfi, f[i].start, f[i].end, &outer);
		} else {
			why = unw_synth_analyse(sy, code, len, f[i].start);
			if (why < 0) {
				err = why;
				break;
			}
			if (why > 0) {
				cfi->stats->synth_refused++;
				continue;
			}
			for (size_t k = 0; k < sy->n && !err; k++) {
				struct unw_rule r;
				uint64_t a;
				int32_t spo;
				uint8_t unch;

				unw_synth_insn(sy, k, &a, &r, &spo, &unch);
				err = unw_cfi_push_row(cfi, a, a + sy->insn[k].len, &r);
			}
		}
		if (!err)
			err = unw_cfi_push_fde(cfi, f[i].start, f[i].end, first, UNW_PRIO_SYNTH);
	}
out:
	unw_synth_free(sy);
	free(cov);
	free(f);
	return err;
}
