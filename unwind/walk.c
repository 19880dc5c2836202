// SPDX-License-Identifier: MIT
/*
 * The offline unwinder: walks one sample's copied user stack with the
 * per-module unwind tables and returns its frames, innermost first.
 *
 * Per frame: find the module of the ip, look up the rule at the ip's vaddr
 * (ip - 1 for a return address, so a call that ends a function is looked
 * up inside it), compute the CFA and the caller's rip, rsp (= CFA) and rbp.
 * Memory is read only from the sample's stack segments; a read anywhere
 * else means the copy was too short (truncated), never a guess.
 *
 * Which registers are known is tracked: the sample gives all of them, a
 * normal frame restores rip, rsp and the callee-saved registers the rule
 * places (rbp, rbx, r12-r15: saved on the stack, in another register, or
 * unchanged), a signal frame restores every register of the ucontext.
 * Caller-saved registers are never known above the first frame. A rule
 * that needs an unknown register stops the walk (bad rule) instead of
 * using a stale value: ld.so's lazy-binding trampoline has CFA = rbx + 32,
 * and its callee _dl_fixup saved rbx.
 *
 * Rules synthesized from machine code (code without CFI, synth.c) are used
 * like CFI rules; the frames they reach are marked, as are those of the
 * frame-pointer fallback.
 *
 * Where a module has no CFI for an ip, the frame-pointer chain is followed
 * only when it is plausible (rbp inside the copy, aligned, above rsp, the
 * return address inside a module, the stack pointer going up); such frames
 * are marked so a report can say they are less certain. Code without CFI
 * and with rbp 0 is the outermost frame (the psABI's end-of-chain mark;
 * ld.so's _start). A return address outside every module is not reported.
 *
 * The last resort is verified stack scanning (JIT code without CFI or
 * frame pointer): the words from the frame's rsp upward are tried as
 * return addresses; one is taken only if it points into a known module
 * right after a call instruction (decoded from the module's code), and,
 * for a direct call, if the call's target is the function the frame is in
 * (or a PLT-like stub that jumps on). Frames found so are marked. The
 * frame-pointer fallback asks for the "right after a call" part too, where
 * the code is known.
 *
 * Like the kernel's ORC unwinder it tells a clean end (an outermost frame)
 * from every kind of error and refuses a stack pointer that does not go up.
 * It never allocates and never loops: every step either adds a frame or
 * stops, and the frame array is bounded.
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <string.h>

#include "unwind/unwind.h"

#define NREGS  XP_NREGS
#define REG_BP 6
#define REG_SP 7
#define REG_IP 16

#define KNOWN_ALL    ((1u << NREGS) - 1)
#define KNOWN_CALLER ((1u << REG_SP) | (1u << REG_IP) | (1u << REG_BP))
/* rbx, r12-r15: carried unchanged through a rule that does not place them */
#define KNOWN_SAVED ((1u << 3) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 15))

static const uint8_t saved_regs[UNW_NSAVED] = UNW_SAVED_REGS;

/*
 * Offsets of the registers in the ucontext that rsp points at inside the
 * sigreturn trampoline (__restore_rt): the kernel's rt_sigframe minus the
 * pretcode the handler's ret popped. offsetof(ucontext_t,
 * uc_mcontext.gregs[REG_x]) = 40 + 8 * REG_x; indexed by DWARF number.
 * These are the offsets glibc's own CFI for __restore_rt gives.
 */
static const uint8_t sigframe_off[NREGS] = {
    [0] = 144,	/* rax */
    [1] = 136,	/* rdx */
    [2] = 152,	/* rcx */
    [3] = 128,	/* rbx */
    [4] = 112,	/* rsi */
    [5] = 104,	/* rdi */
    [6] = 120,	/* rbp */
    [7] = 160,	/* rsp */
    [8] = 40,	/* r8 */
    [9] = 48,	/* r9 */
    [10] = 56,	/* r10 */
    [11] = 64,	/* r11 */
    [12] = 72,	/* r12 */
    [13] = 80,	/* r13 */
    [14] = 88,	/* r14 */
    [15] = 96,	/* r15 */
    [16] = 168, /* rip */
};

static const char *const status_names[UNW_STATUS_NR] = {
    [UNW_OK_COMPLETE] = "complete",	[UNW_STOP_TRUNCATED] = "truncated",
    [UNW_STOP_NO_MODULE] = "no-module", [UNW_STOP_NO_TABLE] = "no-table",
    [UNW_STOP_SP_NOT_UP] = "sp-not-up", [UNW_STOP_MAX_FRAMES] = "max-frames",
    [UNW_STOP_BAD_RULE] = "bad-rule",	[UNW_STOP_EXITING] = "exiting",
};

const char *unw_status_name(enum unw_status s)
{
	if ((unsigned)s >= UNW_STATUS_NR)
		return "unknown";
	return status_names[s];
}

struct walk {
	const struct unw_input *in;
	unw_find_fn find;
	unw_bounds_fn bounds;
	void *ctx;
	ZydisDecoder dec;
	bool dec_ready;
	const struct unw_module *mod; /* last module found: consecutive frames often share it */
	/* Segment 0 for the fast path of read8(): addr - s0_start <= s0_span; NULL data: none. */
	const uint8_t *s0_data;
	uint64_t s0_start, s0_span;
	/* The last lookup: recursion repeats the same return address frame after frame. */
	const struct unw_module *memo_mod;
	uint64_t memo_at;
	struct unw_rule memo_rule;
	uint64_t regs[NREGS];
	uint32_t known; /* bit r: regs[r] holds the real value */
	uint32_t res_flags;
};

/* Index of the segment holding [addr, addr + 8), or -1. */
static int seg_of(const struct unw_input *in, uint64_t addr)
{
	for (unsigned i = 0; i < in->nsegs; i++) {
		const struct unw_stack_seg *s = &in->segs[i];

		/* Written so that no sum can wrap: len >= 8 and addr - start <= len - 8. */
		if (addr >= s->start && s->len >= 8 && addr - s->start <= s->len - 8u)
			return (int)i;
	}
	return -1;
}

static bool read8_slow(struct walk *w, uint64_t addr, uint64_t *val)
{
	int i = seg_of(w->in, addr);

	if (i < 0)
		return false;
	if (i > 0)
		w->res_flags |= UNW_RES_F_STACK2;
	memcpy(val, w->in->segs[i].data + (addr - w->in->segs[i].start), 8);
	return true;
}

/* The 8 bytes at user address addr from whichever segment holds them all. */
static inline bool read8(struct walk *w, uint64_t addr, uint64_t *val)
{
	/* One compare: below s0_start the difference wraps to a huge value. */
	if (w->s0_data && addr - w->s0_start <= w->s0_span) {
		memcpy(val, w->s0_data + (addr - w->s0_start), 8);
		return true;
	}
	return read8_slow(w, addr, val);
}

static const struct unw_module *find_module(struct walk *w, uint64_t addr)
{
	if (w->mod && addr >= w->mod->start && addr < w->mod->end)
		return w->mod;
	const struct unw_module *m = w->find(w->ctx, addr);

	if (m && addr >= m->start && addr < m->end)
		w->mod = m;
	return m;
}

static bool reg_known(const struct walk *w, unsigned r)
{
	return r < NREGS && (w->known & (1u << r));
}

/*
 * The caller's registers from a signal frame: every register of the
 * interrupted context, all known again.
 */
static enum unw_status step_signal(struct walk *w)
{
	uint64_t base = w->regs[REG_SP];
	uint64_t regs[NREGS];

	for (unsigned r = 0; r < NREGS; r++)
		if (!read8(w, base + sigframe_off[r], &regs[r]))
			return UNW_STOP_TRUNCATED;
	/*
	 * The interrupted stack pointer may lie below the handler's when the
	 * handler ran on a sigaltstack; that is legitimate only if it is on
	 * another segment than the handler's frame. On the same stack the
	 * kernel always builds the frame below the interrupted sp.
	 */
	if (regs[REG_SP] <= base) {
		int from = seg_of(w->in, base);

		if (from >= 0 && seg_of(w->in, regs[REG_SP]) == from)
			return UNW_STOP_SP_NOT_UP;
	}
	memcpy(w->regs, regs, sizeof(regs));
	w->known = KNOWN_ALL;
	return UNW_OK_COMPLETE;
}

/* ---- return addresses: right after a call ---------------------------------- */

#define SCAN_WORDS 512 /* how far up stack scanning looks: 4 KiB */

/* The code bytes [addr, addr + len) of a module, or NULL. */
static const uint8_t *code_at(const struct unw_module *m, uint64_t addr, uint64_t len)
{
	if (!m || !m->code || addr < m->start || addr - m->start > m->code_len ||
	    len > m->code_len - (addr - m->start))
		return NULL;
	return m->code + (addr - m->start);
}

static bool decode(struct walk *w, const uint8_t *p, size_t len, ZydisDecodedInstruction *in,
		   ZydisDecodedOperand *op)
{
	if (!w->dec_ready) {
		if (!ZYAN_SUCCESS(ZydisDecoderInit(&w->dec, ZYDIS_MACHINE_MODE_LONG_64,
						   ZYDIS_STACK_WIDTH_64)))
			return false;
		w->dec_ready = true;
	}
	return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&w->dec, p, len, in, op));
}

/*
 * Whether a direct call to target can have entered the function holding
 * cur: target lies in that function, or is a stub (a PLT entry) that jumps
 * on through memory, or jumps directly to such a place.
 */
static bool target_ok(struct walk *w, uint64_t target, uint64_t cur)
{
	for (int hop = 0; hop < 2; hop++) {
		uint64_t fs, fe;
		const struct unw_module *m;
		const uint8_t *p;
		ZydisDecodedInstruction in;
		ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];

		if (w->bounds && w->bounds(w->ctx, cur, &fs, &fe)) {
			if (target >= fs && target < fe)
				return true;
		} else {
			/* no bounds: the same module, at or before the frame's ip */
			m = w->find(w->ctx, cur);
			if (m && target >= m->start && target <= cur)
				return true;
		}
		m = w->find(w->ctx, target);
		if (!(p = code_at(m, target, 16)))
			return false;
		if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) {
			p += 4; /* endbr64 */
			target += 4;
		}
		if (!decode(w, p, 12, &in, op) || in.mnemonic != ZYDIS_MNEMONIC_JMP)
			return false;
		if (op[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
			return true; /* jmp *GOT(%rip): a PLT entry, its target unknown here */
		if (op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &op[0], target, &target)))
			return false;
	}
	return false;
}

enum ra_kind {
	RA_NO = 0,
	RA_INDIRECT, /* after an indirect call: its target cannot be checked */
	RA_DIRECT,   /* after a direct call (whose target was checked, if asked) */
};

/*
 * Whether ra is a return address: inside a module whose code is known,
 * right after a call instruction; with check_target, a direct call's
 * target must be the function holding cur (the frame being left).
 */
static enum ra_kind is_return_addr(struct walk *w, uint64_t ra, uint64_t cur, bool check_target)
{
	/* call rel32 first, then the FF /2 forms: *%reg, *(%reg), *d8(%reg), *d32(%rip) ... */
	static const uint8_t lens[] = {5, 2, 3, 6, 7, 4};
	const struct unw_module *m;

	if (ra < 8)
		return RA_NO;
	m = w->find(w->ctx, ra - 1);
	for (unsigned i = 0; i < sizeof(lens); i++) {
		const uint8_t *p = code_at(m, ra - lens[i], lens[i]);
		ZydisDecodedInstruction in;
		ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t target;

		if (!p || !decode(w, p, lens[i], &in, op) || in.length != lens[i] ||
		    in.mnemonic != ZYDIS_MNEMONIC_CALL)
			continue;
		if (op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
			return RA_INDIRECT;
		if (!check_target)
			return RA_DIRECT;
		return ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &op[0], ra - lens[i], &target)) &&
			       target_ok(w, target, cur)
			   ? RA_DIRECT
			   : RA_NO;
	}
	return RA_NO;
}

/*
 * A word after an indirect call may be a stale return address left in the
 * frame being left (its locals are not all written). Taken only if the
 * caller's own frame, as its rule puts it above the slot, holds no other
 * return address: a stale one's frame would reach over the live return
 * address that lies above it. Callers without an rsp-based rule are taken.
 */
static bool caller_frame_clean(struct walk *w, uint64_t ra, uint64_t slot)
{
	const struct unw_module *m = w->find(w->ctx, ra - 1);
	struct unw_rule r;

	if (!m || !m->table || unw_table_lookup(m->table, ra - 1 - m->bias, &r) < 0 ||
	    r.type != UNW_RULE_CFA || r.cfa_reg != REG_SP || r.cfa_off < 8 || r.cfa_off > 4096)
		return true;
	for (uint64_t a = slot + 8; a + 8 < slot + 8 + (uint64_t)r.cfa_off; a += 8) {
		uint64_t v;

		if (!read8(w, a, &v))
			break;
		if (is_return_addr(w, v, 0, false) != RA_NO)
			return false;
	}
	return true;
}

/*
 * The caller by stack scanning: the first word from rsp up that is a
 * verified return address (is_return_addr with the target check, and
 * caller_frame_clean after an indirect call) becomes the caller's ip, the
 * word above it its rsp. Only rip and rsp are known afterwards. cur is the
 * frame's own code address (ip, or ip - 1).
 */
static enum unw_status step_scan(struct walk *w, uint64_t cur)
{
	uint64_t sp = w->regs[REG_SP];

	if (!reg_known(w, REG_SP))
		return UNW_STOP_NO_TABLE;
	for (unsigned i = 0; i < SCAN_WORDS; i++) {
		uint64_t a = sp + 8ull * i, v;
		enum ra_kind k;

		if (!read8(w, a, &v))
			break;
		k = is_return_addr(w, v, cur, true);
		if (k == RA_NO || (k == RA_INDIRECT && !caller_frame_clean(w, v, a)))
			continue;
		w->regs[REG_IP] = v;
		w->regs[REG_SP] = a + 8;
		w->known = (1u << REG_IP) | (1u << REG_SP);
		w->res_flags |= UNW_RES_F_SCAN;
		return UNW_OK_COMPLETE;
	}
	return UNW_STOP_NO_TABLE;
}

/*
 * The caller's registers by the frame-pointer chain, only when it looks
 * like one: rbp known, aligned, at or above rsp and inside the copy, the
 * saved return address inside a module, and rsp going up.
 */
static enum unw_status step_fp(struct walk *w, enum unw_status fail)
{
	uint64_t bp = w->regs[REG_BP], sp = w->regs[REG_SP];
	uint64_t saved_bp, ra;

	if (!reg_known(w, REG_BP) || (bp & 7) || bp < sp || bp > UINT64_MAX - 16)
		return fail;
	if (!read8(w, bp, &saved_bp))
		return fail;
	if (!read8(w, bp + 8, &ra))
		return UNW_STOP_TRUNCATED; /* rbp at the very end of the copy */
	if (ra == 0 || !find_module(w, ra - 1))
		return fail;
	/* where the caller's code is known, the word must follow a call */
	if (code_at(w->find(w->ctx, ra - 1), ra - 1, 1) && is_return_addr(w, ra, 0, false) == RA_NO)
		return fail;
	w->regs[REG_IP] = ra;
	w->regs[REG_SP] = bp + 16;
	w->regs[REG_BP] = saved_bp;
	w->known = KNOWN_CALLER;
	w->res_flags |= UNW_RES_F_FP_USED;
	return UNW_OK_COMPLETE;
}

/*
 * One step with a CFA rule (or a PLT rule already turned into one).
 * Returns UNW_OK_COMPLETE with the caller's registers in w, or why not;
 * *outermost is set when the rule says the stack ends here.
 */
static enum unw_status step_cfa(struct walk *w, const struct unw_rule *r, uint64_t cfa,
				bool *outermost)
{
	uint64_t sp = w->regs[REG_SP];
	uint64_t ra;

	if (r->ra_loc == UNW_LOC_UNDEF) {
		*outermost = true;
		return UNW_OK_COMPLETE;
	}
	/*
	 * The caller's rsp is the CFA and must be above ours. Equal is allowed
	 * only when the return address was in a register (vfork: the return
	 * address already popped); that can happen only while registers are
	 * known, so it cannot repeat.
	 */
	if (cfa < sp || (cfa == sp && r->ra_loc != UNW_LOC_REG))
		return UNW_STOP_SP_NOT_UP;

	switch (r->ra_loc) {
	case UNW_LOC_CFA_OFF:
		if (!read8(w, cfa + (int64_t)r->ra_off, &ra))
			return UNW_STOP_TRUNCATED;
		break;
	case UNW_LOC_REG:
		if (!reg_known(w, (unsigned)r->ra_off))
			return UNW_STOP_BAD_RULE;
		ra = w->regs[r->ra_off];
		break;
	default:
		return UNW_STOP_BAD_RULE;
	}
	/*
	 * The callee-saved registers. rbp first: most rules place it. Then
	 * rbx and r12-r15, only when the rule places one of them (deep
	 * recursion rarely does: the common frame pays one test). "Same"
	 * keeps a register's value and whether it is known.
	 */
	uint64_t regs[NREGS];
	uint32_t known = (1u << REG_IP) | (1u << REG_SP) | (w->known & KNOWN_SAVED);
	bool any = r->reg_loc[0] | r->reg_loc[1] | r->reg_loc[2] | r->reg_loc[3] | r->reg_loc[4];

	for (int i = -1; i < (any ? UNW_NSAVED : 0); i++) {
		unsigned reg = i < 0 ? REG_BP : saved_regs[i];
		uint8_t loc = i < 0 ? r->bp_loc : r->reg_loc[i];
		int32_t off = i < 0 ? r->bp_off : r->reg_off[i];
		bool k = reg_known(w, reg);
		uint64_t v = w->regs[reg];

		switch (loc) {
		case UNW_LOC_SAME:
			break;
		case UNW_LOC_CFA_OFF: {
			uint64_t slot = cfa + (int64_t)off;

			/*
			 * A slot below sp was already popped: in an epilogue after
			 * pop %rbp (or leave), gcc's CFI moves the CFA back to
			 * rsp + 8 but keeps "rbp at CFA - 16". The register holds
			 * the value now, and the copy (which starts at sp) does not.
			 */
			if (slot < sp)
				break;
			if (!read8(w, slot, &v))
				return UNW_STOP_TRUNCATED;
			k = true;
			break;
		}
		case UNW_LOC_REG:
			k = reg_known(w, (unsigned)off);
			v = k ? w->regs[off] : 0;
			break;
		default:
			k = false;
			v = 0;
			break;
		}
		regs[reg] = k ? v : 0;
		known = k ? known | 1u << reg : known & ~(1u << reg);
	}
	/* A zero return address is not an outermost frame unless the rule said so. */
	if (ra == 0)
		return UNW_STOP_NO_MODULE;
	w->regs[REG_IP] = ra;
	w->regs[REG_SP] = cfa;
	w->regs[REG_BP] = regs[REG_BP];
	for (int i = 0; any && i < UNW_NSAVED; i++)
		w->regs[saved_regs[i]] = regs[saved_regs[i]];
	w->known = known;
	return UNW_OK_COMPLETE;
}

int unw_walk(const struct unw_input *in, unw_find_fn find, void *ctx, struct unw_frame *frames,
	     unsigned max_frames, struct unw_result *res)
{
	struct unw_env env = {.find = find, .ctx = ctx};

	return unw_walk_env(in, &env, frames, max_frames, res);
}

int unw_walk_env(const struct unw_input *in, const struct unw_env *env, struct unw_frame *frames,
		 unsigned max_frames, struct unw_result *res)
{
	struct walk w = {.in = in};
	enum unw_status st = UNW_OK_COMPLETE;
	unsigned n = 0;
	bool trap = true;

	if (!in || !env || !env->find || !frames || !max_frames || !res || in->nsegs > 2)
		return -EINVAL;
	w.find = env->find;
	w.bounds = env->bounds;
	w.ctx = env->ctx;
	memcpy(w.regs, in->regs, sizeof(w.regs));
	w.known = KNOWN_ALL;
	if (in->nsegs && in->segs[0].len >= 8 && in->segs[0].data) {
		w.s0_data = in->segs[0].data;
		w.s0_start = in->segs[0].start;
		w.s0_span = in->segs[0].len - 8u;
	}
	frames[n++] = (struct unw_frame){.ip = w.regs[REG_IP], .flags = UNW_FRAME_F_TRAP};

	for (;;) {
		uint64_t ip = w.regs[REG_IP];
		/* A return address points after its call: look up the call itself. */
		uint64_t at = trap ? ip : ip - 1;
		const struct unw_module *mod = find_module(&w, at);
		uint32_t next_flags = 0;
		bool outermost = false;

		if (!mod) {
			st = UNW_STOP_NO_MODULE;
			break;
		}
		if (mod != w.memo_mod || at != w.memo_at) {
			if (!mod->table ||
			    unw_table_lookup(mod->table, at - mod->bias, &w.memo_rule) < 0)
				w.memo_rule.type = UNW_RULE_NONE;
			/*
			 * A return address at the very first byte of a sigreturn
			 * trampoline was put there by the kernel (the handler's
			 * ret goes to it), not by a call. glibc's CFI covers the
			 * byte before __restore_rt for this; Go's
			 * runtime.sigreturn__sigaction has nothing before it but
			 * the previous function's padding, so look at the exact
			 * address too. Trampolines start 16-byte aligned, and
			 * 15 in 16 return addresses do not, so this costs little.
			 */
			/*
			 * A sample taken while the kernel runs rt_sigreturn has
			 * its ip right after the trampoline's syscall, the first
			 * byte past glibc's FDE (a gap): the ucontext is still at
			 * rsp. Nothing else can execute there (rt_sigreturn does
			 * not return), so a gap right after a signal row is one.
			 */
			if (trap && n == 1 && w.memo_rule.type == UNW_RULE_NONE && mod->table &&
			    at > mod->start) {
				struct unw_rule prev;

				if (!unw_table_lookup(mod->table, at - 1 - mod->bias, &prev) &&
				    prev.type == UNW_RULE_SIGNAL)
					w.memo_rule = prev;
			}
			if (!trap && !(ip & 15) && w.memo_rule.type != UNW_RULE_SIGNAL &&
			    mod->table && ip < mod->end) {
				struct unw_rule exact;

				if (!unw_table_lookup(mod->table, ip - mod->bias, &exact) &&
				    exact.type == UNW_RULE_SIGNAL)
					w.memo_rule = exact;
			}
			w.memo_mod = mod;
			w.memo_at = at;
		}
		/* the rule stays in the memo: nothing below writes it */
		const struct unw_rule *rule = &w.memo_rule;

		switch (rule->type) {
		case UNW_RULE_CFA:
			if (!reg_known(&w, rule->cfa_reg)) {
				st = UNW_STOP_BAD_RULE;
				break;
			}
			st = step_cfa(&w, rule, w.regs[rule->cfa_reg] + (int64_t)rule->cfa_off,
				      &outermost);
			if (rule->flags & UNW_RULE_F_SYNTH) {
				next_flags = UNW_FRAME_F_SYNTH;
				w.res_flags |= UNW_RES_F_SYNTH;
			}
			break;
		case UNW_RULE_PLT: {
			/*
			 * glibc's PLT CFI: rsp + 8, + 8 more once the entry has
			 * pushed its index ((rip & 15) >= 11). It uses the runtime
			 * rip; the load bias is page-aligned, so the low bits of
			 * ip and vaddr agree. A PLT entry is only ever reached by
			 * jmp, so this frame is always a trap frame and ip exact.
			 */
			static const struct unw_rule plt = {.type = UNW_RULE_CFA,
							    .ra_loc = UNW_LOC_CFA_OFF,
							    .ra_off = -8,
							    .bp_loc = UNW_LOC_SAME};
			uint64_t cfa = w.regs[REG_SP] + 8 + ((ip & 15) >= 11 ? 8 : 0);

			st = step_cfa(&w, &plt, cfa, &outermost);
			break;
		}
		case UNW_RULE_SIGNAL:
			/*
			 * The trampoline's ip was put on the stack by the kernel,
			 * not by a call: it is exact too, and ip - 1 would name
			 * the byte before __restore_rt. (Its lookup used ip - 1,
			 * which glibc's FDE covers for that very reason.)
			 */
			frames[n - 1].flags |= UNW_FRAME_F_SIGNAL | UNW_FRAME_F_TRAP;
			st = step_signal(&w);
			next_flags = UNW_FRAME_F_TRAP;
			break;
		case UNW_RULE_OUTERMOST:
			outermost = true;
			break;
		case UNW_RULE_NONE:
			/*
			 * Code of a file without CFI whose rbp is 0: the psABI
			 * asks the deepest frame to clear rbp, and the kernel
			 * starts a process with it clear (ld.so's _start has no
			 * CFI). JIT code is never a process's first frame.
			 */
			if (reg_known(&w, REG_BP) && !w.regs[REG_BP] &&
			    !(mod->flags & UNW_MOD_F_ANON)) {
				outermost = true;
				break;
			}
			/* fall through */
		case UNW_RULE_FALLBACK:
		default:
			st = step_fp(&w, UNW_STOP_NO_TABLE);
			next_flags = UNW_FRAME_F_FP;
			/*
			 * Scanning is for code nothing describes (JIT code, files
			 * without CFI). A gap in a file that has CFI is deliberate:
			 * clone3 ends its FDE before the syscall because the child
			 * runs on a new stack, whose stale words (a reused thread
			 * stack) can pass every check and invent a caller.
			 */
			if (st == UNW_STOP_NO_TABLE &&
			    (!mod->table || !unw_table_count(mod->table) ||
			     (mod->flags & UNW_MOD_F_ANON))) {
				st = step_scan(&w, at);
				next_flags = UNW_FRAME_F_SCAN;
			}
			break;
		}
		if (st != UNW_OK_COMPLETE || outermost)
			break;
		/*
		 * A return address outside every mapping is not reported: it
		 * is garbage more often than code (a stale or inconsistent
		 * stack). The ip restored from a signal frame is exact and is
		 * kept, like the sampled ip.
		 */
		if (!(next_flags & UNW_FRAME_F_TRAP) && !find_module(&w, w.regs[REG_IP] - 1)) {
			st = UNW_STOP_NO_MODULE;
			break;
		}
		if (n == max_frames) {
			st = UNW_STOP_MAX_FRAMES;
			break;
		}
		frames[n++] = (struct unw_frame){.ip = w.regs[REG_IP], .flags = next_flags};
		trap = next_flags & UNW_FRAME_F_TRAP;
	}
	res->status = st;
	res->flags = w.res_flags;
	res->nframes = n;
	return 0;
}
