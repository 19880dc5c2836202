// SPDX-License-Identifier: MIT
/*
 * DWARF CFI reader: walks the CIEs and FDEs of one .eh_frame or .debug_frame
 * section, interprets each FDE's CFA program (CIE initial instructions, then
 * the FDE's) into rows, and maps every row to the decoded struct unw_rule
 * the compact table stores. libdw reads CFI too, but hands out one row per
 * address query; a table needs every row of every FDE, so the interpreter is
 * ours and libdw is the oracle that checks it (tests/unit/test_unwind_oracle.c).
 *
 * Only the columns a rule record holds are tracked: the CFA, rbp (6), the
 * return-address column (16 on x86-64), the other callee-saved registers
 * (rbx, r12-r15) and rsp (7, to recognize the signal frame). Every other
 * column's instructions are parsed and ignored.
 *
 * Bad input is never fatal for the section: a truncated, overlapping or
 * malformed CIE/FDE, an unknown opcode, a location that goes backwards or a
 * remember_state stack deeper than UNW_CFI_MAX_STATES skips that FDE and
 * counts it as UNW_UNREP_BAD_FDE. A length that runs past the section ends
 * the walk, since nothing after it can be found again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_int.h"

#define UNW_CFI_MAX_STATES 64 /* remember_state depth; gcc never nests more than a few */
#define REG_RBP		   6
#define REG_RSP		   7

/* ---- a bounds-checked byte reader ------------------------------------------ */

struct rd {
	const uint8_t *p, *end;
	bool bad; /* a read ran past end: every later read returns 0 */
};

static uint64_t rd_bytes(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		if (r->p >= r->end) {
			r->bad = true;
			break;
		}
		uint8_t b = *r->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	return 0;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		if (r->p >= r->end) {
			r->bad = true;
			break;
		}
		uint8_t b = *r->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	return 0;
}

/* DW_EH_PE_* */
#define PE_OMIT	    0xff
#define PE_ABSPTR   0x00
#define PE_ULEB128  0x01
#define PE_UDATA2   0x02
#define PE_UDATA4   0x03
#define PE_UDATA8   0x04
#define PE_SLEB128  0x09
#define PE_SDATA2   0x0a
#define PE_SDATA4   0x0b
#define PE_SDATA8   0x0c
#define PE_PCREL    0x10
#define PE_ALIGNED  0x50
#define PE_INDIRECT 0x80

/*
 * Read a pointer in encoding enc. base is the vaddr of the section's byte 0,
 * for pc-relative values; with_app false reads the value format only (an
 * FDE's address range). Returns false for encodings that need more than the
 * section (text/data/func-relative, indirect) or a bad read.
 */
static bool rd_ptr(struct rd *r, uint8_t enc, const uint8_t *sec, uint64_t base, bool with_app,
		   uint64_t *out)
{
	uint64_t here = base + (uint64_t)(r->p - sec);
	uint64_t v;

	if (enc == PE_OMIT)
		return false;
	if (with_app && (enc & 0x70) == PE_ALIGNED) {
		size_t mis = (size_t)(r->p - sec) & 7;

		if (mis)
			rd_bytes(r, 8 - (unsigned)mis);
		enc = PE_ABSPTR;
		here = 0;
	}
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		v = rd_bytes(r, 8);
		break;
	case PE_ULEB128:
		v = rd_uleb(r);
		break;
	case PE_UDATA2:
		v = rd_bytes(r, 2);
		break;
	case PE_UDATA4:
		v = rd_bytes(r, 4);
		break;
	case PE_SLEB128:
		v = (uint64_t)rd_sleb(r);
		break;
	case PE_SDATA2:
		v = (uint64_t)(int64_t)(int16_t)rd_bytes(r, 2);
		break;
	case PE_SDATA4:
		v = (uint64_t)(int64_t)(int32_t)rd_bytes(r, 4);
		break;
	default:
		return false;
	}
	if (r->bad)
		return false;
	if (!with_app) {
		*out = v;
		return true;
	}
	if (enc & PE_INDIRECT)
		return false;
	switch (enc & 0x70) {
	case 0:
		break;
	case PE_PCREL:
		v += here;
		break;
	default:
		return false;
	}
	*out = v;
	return true;
}

/* ---- CIEs -------------------------------------------------------------------- */

struct cie {
	uint64_t key; /* 1 + offset of the CIE's length field in the section; 0: empty slot */
	bool ok;
	bool signal;	 /* 'S' augmentation */
	bool has_z;	 /* augmentation data follows in FDEs */
	uint8_t fde_enc; /* DW_EH_PE_* of FDE addresses */
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	const uint8_t *insn, *insn_end;
};

/* A map from section offset to parsed CIE; gcc emits a handful, fuzzers many. */
struct cie_map {
	struct cie *slot;
	size_t mask, n;
};

static size_t cie_hash(uint64_t key, size_t mask)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 40) & mask;
}

/* The slot of the CIE at off: found (key == off + 1) or a new empty one (key 0). */
static struct cie *cie_map_slot(struct cie_map *m, uint64_t off, int *err)
{
	*err = 0;
	if (!m->slot || 2 * (m->n + 1) > m->mask + 1) {
		size_t sz = m->slot ? 2 * (m->mask + 1) : 16;
		struct cie *ns = calloc(sz, sizeof(*ns));

		if (!ns) {
			*err = -ENOMEM;
			return NULL;
		}
		for (size_t i = 0; m->slot && i <= m->mask; i++) {
			if (!m->slot[i].key)
				continue;
			size_t j = cie_hash(m->slot[i].key, sz - 1);

			while (ns[j].key)
				j = (j + 1) & (sz - 1);
			ns[j] = m->slot[i];
		}
		free(m->slot);
		m->slot = ns;
		m->mask = sz - 1;
	}
	for (size_t h = cie_hash(off + 1, m->mask);; h = (h + 1) & m->mask)
		if (!m->slot[h].key || m->slot[h].key == off + 1)
			return &m->slot[h];
}

/*
 * Parse the CIE at section offset off. kind decides the CIE id and the
 * default address encoding. Returns false for anything malformed.
 */
static bool cie_parse(struct cie *c, enum unw_cfi_kind kind, const uint8_t *sec, size_t len,
		      uint64_t off)
{
	struct rd r = {sec + off, sec + len, false};
	uint64_t length, id;
	bool dwarf64 = false;

	memset(c, 0, sizeof(*c));
	if (off >= len)
		return false;
	length = rd_bytes(&r, 4);
	if (length == 0xffffffff) {
		length = rd_bytes(&r, 8);
		dwarf64 = true;
	}
	if (r.bad || length > (uint64_t)(r.end - r.p) || length < (dwarf64 ? 8u : 4u))
		return false;
	r.end = r.p + length;
	id = rd_bytes(&r, dwarf64 ? 8 : 4);
	if (kind == UNW_CFI_EH_FRAME ? id != 0 : id != (dwarf64 ? ~0ull : 0xffffffffull))
		return false;

	uint8_t version = (uint8_t)rd_bytes(&r, 1);
	const char *aug = (const char *)r.p;
	const uint8_t *nul = memchr(r.p, 0, (size_t)(r.end - r.p));

	if (!nul || (version != 1 && version != 3 && version != 4))
		return false;
	r.p = nul + 1;
	c->fde_enc = kind == UNW_CFI_EH_FRAME ? PE_ABSPTR : PE_UDATA8;
	if (version == 4) {
		uint8_t asz = (uint8_t)rd_bytes(&r, 1), ssz = (uint8_t)rd_bytes(&r, 1);

		if (asz != 8 || ssz != 0)
			return false;
	}
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	c->ra_reg = version == 1 ? rd_bytes(&r, 1) : rd_uleb(&r);
	if (aug[0] == 'z') {
		uint64_t alen = rd_uleb(&r);

		if (r.bad || alen > (uint64_t)(r.end - r.p))
			return false;
		struct rd a = {r.p, r.p + alen, false};

		c->has_z = true;
		for (const char *s = aug + 1; *s; s++) {
			if (*s == 'R') {
				c->fde_enc = (uint8_t)rd_bytes(&a, 1);
			} else if (*s == 'P') {
				uint8_t penc = (uint8_t)rd_bytes(&a, 1);
				uint64_t pers;

				/* The personality routine is not needed; skip it (may be indirect).
				 */
				if (!rd_ptr(&a, penc & 0x7f, sec, 0, false, &pers))
					return false;
			} else if (*s == 'L') {
				rd_bytes(&a,
					 1); /* the LSDA pointer itself is in each FDE's aug data */
			} else if (*s == 'S') {
				c->signal = true;
			} else if (*s == 'B' || *s == 'G') {
				continue; /* aarch64 BTI / MTE markers: no data */
			} else {
				break; /* unknown: 'z' tells us where the data ends anyway */
			}
		}
		if (a.bad)
			return false;
		r.p += alen;
	} else if (aug[0]) {
		return false; /* "eh" and other pre-'z' forms: length unknown */
	}
	if (r.bad || c->code_align == 0)
		return false;
	c->insn = r.p;
	c->insn_end = r.end;
	c->ok = true;
	return true;
}

/* ---- the CFA program ---------------------------------------------------------- */

enum reg_how {
	R_UNSPEC = 0, /* no rule yet: the ABI default (callee-saved: same value) */
	R_UNDEF,
	R_SAME,
	R_OFF,	   /* saved at CFA + off */
	R_VAL_OFF, /* value is CFA + off */
	R_REG,	   /* in register off */
	R_EXPR,
	R_VAL_EXPR,
};

struct reg_rule {
	uint8_t how;
	int64_t off;
	const uint8_t *expr;
	uint64_t elen;
};

/* COL_SAVED + i: UNW_SAVED_REGS[i] */
enum { COL_RBP, COL_RA, COL_RSP, COL_SAVED, NCOLS = COL_SAVED + UNW_NSAVED };

struct cfa_state {
	bool cfa_is_expr;
	uint64_t cfa_reg;
	int64_t cfa_off;
	const uint8_t *cfa_expr;
	uint64_t cfa_elen;
	struct reg_rule col[NCOLS];
};

struct interp {
	const struct cie *cie;
	const uint8_t *sec;
	uint64_t sec_addr;
	uint64_t loc, end; /* current location, FDE end */
	struct cfa_state st, init;
	struct cfa_state stack[UNW_CFI_MAX_STATES];
	unsigned depth;
	bool in_cie; /* running the CIE's initial instructions */
	struct unw_cfi *cfi;
};

/*
 * A factored offset. Real ones are small; on overflow (fuzzed CFI) saturate,
 * which every later range check rejects as unrepresentable.
 */
static int64_t mul(uint64_t factored, int64_t align)
{
	int64_t v;

	if (__builtin_mul_overflow((int64_t)factored, align, &v))
		return INT64_MAX;
	return v;
}

static int col_of(const struct interp *it, uint64_t reg)
{
	if (reg == it->cie->ra_reg)
		return COL_RA;
	if (reg == REG_RBP)
		return COL_RBP;
	if (reg == REG_RSP)
		return COL_RSP;
	switch (reg) {
	case 3: /* rbx */
		return COL_SAVED;
	case 12: /* r12 .. r15 */
	case 13:
	case 14:
	case 15:
		return COL_SAVED + 1 + (int)(reg - 12);
	}
	return -1;
}

/* The PLT's CFA: rsp + 8, + 8 more once (rip & 15) >= 11 (after the push of the index). */
static const uint8_t plt_expr[] = {
    0x77, 0x08, /* DW_OP_breg7 (rsp): 8 */
    0x80, 0x00, /* DW_OP_breg16 (rip): 0 */
    0x3f,	/* DW_OP_lit15 */
    0x1a,	/* DW_OP_and */
    0x3b,	/* DW_OP_lit11 */
    0x2a,	/* DW_OP_ge */
    0x33,	/* DW_OP_lit3 */
    0x24,	/* DW_OP_shl */
    0x22,	/* DW_OP_plus */
};

/* DW_OP_breg7 (rsp): off, and nothing else (plus an optional deref). */
static bool is_breg7(const uint8_t *e, uint64_t len, int64_t off, bool deref)
{
	struct rd r = {e, e + len, false};

	if (len < 2 || rd_bytes(&r, 1) != 0x77 || rd_sleb(&r) != off || r.bad)
		return false;
	if (deref && (r.p >= r.end || *r.p++ != 0x06))
		return false;
	return r.p == r.end;
}

static bool expr_eq(const uint8_t *e, uint64_t len, const uint8_t *want, size_t wlen)
{
	return len == wlen && !memcmp(e, want, wlen);
}

/*
 * Where a saved register (the RA or rbp) is, as a rule record can say it:
 * at CFA + off (8-aligned, within +-1 KiB, as every frame here is) or in
 * another register. Only rbp may also be unchanged or undefined; the RA has
 * to come from somewhere. Returns -1, or the unrepresentable kind (bad_kind,
 * or UNW_UNREP_REG_EXPR for an expression).
 */
static int loc_of(const struct reg_rule *rr, bool is_bp, uint8_t *loc, int32_t *off, int bad_kind)
{
	switch (rr->how) {
	case R_UNSPEC:
	case R_SAME:
		*loc = UNW_LOC_SAME;
		return is_bp ? -1 : bad_kind;
	case R_UNDEF:
		*loc = UNW_LOC_UNDEF;
		return is_bp ? -1 : bad_kind;
	case R_OFF:
		*loc = UNW_LOC_CFA_OFF;
		*off = (int32_t)rr->off;
		return rr->off % 8 || rr->off < -1024 || rr->off > 1016 ? bad_kind : -1;
	case R_REG:
		*loc = UNW_LOC_REG;
		*off = (int32_t)rr->off;
		return rr->off < 0 || rr->off > 127 ? bad_kind : -1;
	case R_EXPR:
	case R_VAL_EXPR:
		return UNW_UNREP_REG_EXPR;
	default: /* val_offset: a value, not a place to load the register from */
		return bad_kind;
	}
}

/*
 * The rule record for the current state. Counts one unrepresentable kind per
 * row in *unrep (-1 when representable).
 */
static void state_to_rule(const struct interp *it, struct unw_rule *r, int *unrep)
{
	const struct cfa_state *s = &it->st;
	const struct reg_rule *ra = &s->col[COL_RA], *bp = &s->col[COL_RBP];

	memset(r, 0, sizeof(*r));
	*unrep = -1;
	/*
	 * The kernel's rt_sigframe: the trampoline's CFA is the saved rsp in the
	 * ucontext, and every register comes from its gregs. Recognized only in
	 * full, so the walker may assume the ucontext layout.
	 */
	if (it->cie->signal && s->cfa_is_expr && is_breg7(s->cfa_expr, s->cfa_elen, 160, true) &&
	    ra->how == R_EXPR && is_breg7(ra->expr, ra->elen, 168, false) && bp->how == R_EXPR &&
	    is_breg7(bp->expr, bp->elen, 120, false) && s->col[COL_RSP].how == R_EXPR &&
	    is_breg7(s->col[COL_RSP].expr, s->col[COL_RSP].elen, 160, false)) {
		r->type = UNW_RULE_SIGNAL;
		return;
	}
	if (ra->how == R_UNDEF) {
		r->type = UNW_RULE_OUTERMOST;
		return;
	}
	if (s->cfa_is_expr) {
		if (expr_eq(s->cfa_expr, s->cfa_elen, plt_expr, sizeof(plt_expr)) &&
		    ra->how == R_OFF && ra->off == -8) {
			r->type = UNW_RULE_PLT;
			return;
		}
		r->type = UNW_RULE_FALLBACK;
		*unrep = UNW_UNREP_CFA_EXPR;
		return;
	}
	r->type = UNW_RULE_CFA;
	r->cfa_reg = (uint8_t)s->cfa_reg;
	r->cfa_off = (int32_t)s->cfa_off;
	if (s->cfa_reg > 31 || s->cfa_off != r->cfa_off) {
		*unrep = UNW_UNREP_CFA_EXPR;
		goto fallback;
	}
	*unrep = loc_of(ra, false, &r->ra_loc, &r->ra_off, UNW_UNREP_RA_LOC);
	if (*unrep < 0)
		*unrep = loc_of(bp, true, &r->bp_loc, &r->bp_off, UNW_UNREP_BP_LOC);
	if (*unrep >= 0)
		goto fallback;
	/*
	 * rbx and r12-r15: a place the record cannot hold (an expression, as
	 * in longjmp) makes that register unknown in the caller, not the row
	 * unusable: only a later rule that needs the register fails.
	 */
	for (int i = 0; i < UNW_NSAVED; i++) {
		if (loc_of(&s->col[COL_SAVED + i], true, &r->reg_loc[i], &r->reg_off[i], 0) >= 0) {
			r->reg_loc[i] = UNW_LOC_UNDEF;
			r->reg_off[i] = 0;
		}
	}
	return;
fallback:
	memset(r, 0, sizeof(*r));
	r->type = UNW_RULE_FALLBACK;
}

int unw_cfi_push_row(struct unw_cfi *cfi, uint64_t start, uint64_t end, const struct unw_rule *rule)
{
	if (cfi->nrows == cfi->cap_rows) {
		size_t cap = cfi->cap_rows ? 2 * cfi->cap_rows : 1024;
		struct unw_cfi_row *n = realloc(cfi->rows, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		cfi->rows = n;
		cfi->cap_rows = cap;
	}
	cfi->rows[cfi->nrows++] = (struct unw_cfi_row){start, end, *rule};
	return 0;
}

/* Emit the current state as the row [loc, to), then move to to. */
static int advance(struct interp *it, uint64_t to)
{
	struct unw_rule r;
	int unrep;

	if (to < it->loc)
		return -EINVAL;
	if (to > it->end)
		to = it->end; /* instructions past the FDE's end describe nothing */
	if (to == it->loc)
		return 0;
	state_to_rule(it, &r, &unrep);
	if (unrep >= 0)
		it->cfi->stats->unrep[unrep]++;
	it->cfi->stats->rows++;
	int err = unw_cfi_push_row(it->cfi, it->loc, to, &r);

	it->loc = to;
	return err;
}

static void set_rule(struct interp *it, uint64_t reg, uint8_t how, int64_t off, const uint8_t *e,
		     uint64_t elen)
{
	int c = col_of(it, reg);

	if (c >= 0)
		it->st.col[c] = (struct reg_rule){how, off, e, elen};
}

/*
 * Run one instruction stream. Returns 0, -EINVAL for malformed CFI, or
 * -ENOMEM.
 */
static int run(struct interp *it, const uint8_t *p, const uint8_t *end)
{
	const struct cie *c = it->cie;
	struct rd r = {p, end, false};
	int err = 0;

	while (!err && r.p < r.end) {
		uint8_t op = (uint8_t)rd_bytes(&r, 1);
		uint64_t reg, u, len;
		int64_t s;

		switch (op >> 6) {
		case 1: /* DW_CFA_advance_loc */
			err = advance(it, it->loc + (op & 0x3f) * c->code_align);
			continue;
		case 2: /* DW_CFA_offset */
			u = rd_uleb(&r);
			set_rule(it, op & 0x3f, R_OFF, mul(u, c->data_align), NULL, 0);
			continue;
		case 3: /* DW_CFA_restore */
			if (it->in_cie)
				return -EINVAL;
			if (col_of(it, op & 0x3f) >= 0)
				it->st.col[col_of(it, op & 0x3f)] =
				    it->init.col[col_of(it, op & 0x3f)];
			continue;
		}
		switch (op) {
		case 0x00: /* DW_CFA_nop */
			break;
		case 0x01: { /* DW_CFA_set_loc */
			uint64_t to;

			if (!rd_ptr(&r, c->fde_enc, it->sec, it->sec_addr, true, &to))
				return -EINVAL;
			err = advance(it, to);
			break;
		}
		case 0x02:
			err = advance(it, it->loc + rd_bytes(&r, 1) * c->code_align);
			break;
		case 0x03:
			err = advance(it, it->loc + rd_bytes(&r, 2) * c->code_align);
			break;
		case 0x04:
			err = advance(it, it->loc + rd_bytes(&r, 4) * c->code_align);
			break;
		case 0x05: /* DW_CFA_offset_extended */
			reg = rd_uleb(&r);
			u = rd_uleb(&r);
			set_rule(it, reg, R_OFF, mul(u, c->data_align), NULL, 0);
			break;
		case 0x06: /* DW_CFA_restore_extended */
			reg = rd_uleb(&r);
			if (it->in_cie)
				return -EINVAL;
			if (col_of(it, reg) >= 0)
				it->st.col[col_of(it, reg)] = it->init.col[col_of(it, reg)];
			break;
		case 0x07: /* DW_CFA_undefined */
			set_rule(it, rd_uleb(&r), R_UNDEF, 0, NULL, 0);
			break;
		case 0x08: /* DW_CFA_same_value */
			set_rule(it, rd_uleb(&r), R_SAME, 0, NULL, 0);
			break;
		case 0x09: /* DW_CFA_register */
			reg = rd_uleb(&r);
			u = rd_uleb(&r);
			set_rule(it, reg, R_REG, (int64_t)(u > 1000 ? 1000 : u), NULL, 0);
			break;
		case 0x0a: /* DW_CFA_remember_state */
			if (it->depth == UNW_CFI_MAX_STATES)
				return -EINVAL;
			it->stack[it->depth++] = it->st;
			break;
		case 0x0b: /* DW_CFA_restore_state */
			if (!it->depth)
				return -EINVAL;
			it->st = it->stack[--it->depth];
			break;
		case 0x0c: /* DW_CFA_def_cfa */
			it->st.cfa_is_expr = false;
			it->st.cfa_reg = rd_uleb(&r);
			it->st.cfa_off = (int64_t)rd_uleb(&r);
			break;
		case 0x0d: /* DW_CFA_def_cfa_register */
			if (it->st.cfa_is_expr)
				return -EINVAL;
			it->st.cfa_reg = rd_uleb(&r);
			break;
		case 0x0e: /* DW_CFA_def_cfa_offset */
			if (it->st.cfa_is_expr)
				return -EINVAL;
			it->st.cfa_off = (int64_t)rd_uleb(&r);
			break;
		case 0x0f: /* DW_CFA_def_cfa_expression */
			len = rd_uleb(&r);
			if (r.bad || len > (uint64_t)(r.end - r.p))
				return -EINVAL;
			it->st.cfa_is_expr = true;
			it->st.cfa_expr = r.p;
			it->st.cfa_elen = len;
			r.p += len;
			break;
		case 0x10: /* DW_CFA_expression */
		case 0x16: /* DW_CFA_val_expression */
			reg = rd_uleb(&r);
			len = rd_uleb(&r);
			if (r.bad || len > (uint64_t)(r.end - r.p))
				return -EINVAL;
			set_rule(it, reg, op == 0x10 ? R_EXPR : R_VAL_EXPR, 0, r.p, len);
			r.p += len;
			break;
		case 0x11: /* DW_CFA_offset_extended_sf */
			reg = rd_uleb(&r);
			s = rd_sleb(&r);
			set_rule(it, reg, R_OFF, mul((uint64_t)s, c->data_align), NULL, 0);
			break;
		case 0x12: /* DW_CFA_def_cfa_sf */
			it->st.cfa_is_expr = false;
			it->st.cfa_reg = rd_uleb(&r);
			it->st.cfa_off = mul((uint64_t)rd_sleb(&r), c->data_align);
			break;
		case 0x13: /* DW_CFA_def_cfa_offset_sf */
			if (it->st.cfa_is_expr)
				return -EINVAL;
			it->st.cfa_off = mul((uint64_t)rd_sleb(&r), c->data_align);
			break;
		case 0x14: /* DW_CFA_val_offset */
			reg = rd_uleb(&r);
			u = rd_uleb(&r);
			set_rule(it, reg, R_VAL_OFF, mul(u, c->data_align), NULL, 0);
			break;
		case 0x15: /* DW_CFA_val_offset_sf */
			reg = rd_uleb(&r);
			s = rd_sleb(&r);
			set_rule(it, reg, R_VAL_OFF, mul((uint64_t)s, c->data_align), NULL, 0);
			break;
		case 0x2e: /* DW_CFA_GNU_args_size: the CFA does not depend on it */
			rd_uleb(&r);
			break;
		case 0x2f: /* DW_CFA_GNU_negative_offset_extended */
			reg = rd_uleb(&r);
			u = rd_uleb(&r);
			set_rule(it, reg, R_OFF, -mul(u, c->data_align), NULL, 0);
			break;
		default:
			return -EINVAL;
		}
		if (r.bad)
			return -EINVAL;
	}
	return r.bad ? -EINVAL : err;
}

/*
 * Interpret one FDE into rows [start, end). Returns 0, -EINVAL (bad FDE:
 * its rows are dropped) or -ENOMEM.
 */
static int fde_rows(struct interp *it, struct unw_cfi *cfi, const struct cie *c, const uint8_t *sec,
		    uint64_t sec_addr, uint64_t start, uint64_t end, const uint8_t *insn,
		    const uint8_t *insn_end)
{
	size_t first = cfi->nrows;
	int err;

	/* The state stack is left as it is: only entries below depth are ever read. */
	memset(&it->st, 0, sizeof(it->st));
	memset(&it->init, 0, sizeof(it->init));
	it->depth = 0;
	it->cie = c;
	it->sec = sec;
	it->sec_addr = sec_addr;
	it->loc = start;
	it->end = end;
	it->cfi = cfi;
	it->in_cie = true;
	err = run(it, c->insn, c->insn_end);
	if (!err) {
		it->init = it->st;
		it->in_cie = false;
		err = run(it, insn, insn_end);
	}
	if (!err)
		err = advance(it, end);
	if (err)
		cfi->nrows = first;
	return err;
}

/* ---- sections ------------------------------------------------------------------- */

int unw_cfi_push_fde(struct unw_cfi *cfi, uint64_t start, uint64_t end, size_t first, uint8_t prio)
{
	if (cfi->nfdes == cfi->cap_fdes) {
		size_t cap = cfi->cap_fdes ? 2 * cfi->cap_fdes : 256;
		struct unw_cfi_fde *n = realloc(cfi->fdes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		cfi->fdes = n;
		cfi->cap_fdes = cap;
	}
	cfi->fdes[cfi->nfdes++] = (struct unw_cfi_fde){
	    .start = start,
	    .end = end,
	    .first_row = (uint32_t)first,
	    .nrows = (uint32_t)(cfi->nrows - first),
	    .prio = prio,
	};
	return 0;
}

int unw_cfi_read(struct unw_cfi *cfi, enum unw_cfi_kind kind, const uint8_t *data, size_t len,
		 uint64_t sh_addr, uint8_t prio)
{
	struct cie_map cies = {0};
	struct interp *it = malloc(sizeof(*it)); /* 9 KiB with its state stack: once per section */
	uint64_t off = 0;
	int err = it ? 0 : -ENOMEM;

	while (!err && off + 4 <= len) {
		struct rd r = {data + off, data + len, false};
		uint64_t length = rd_bytes(&r, 4), id;
		bool dwarf64 = length == 0xffffffff;

		if (dwarf64)
			length = rd_bytes(&r, 8);
		if (length == 0) {
			if (kind == UNW_CFI_EH_FRAME) {
				off += 4;
				break; /* the .eh_frame terminator (crtend.o) */
			}
			off = (uint64_t)(r.p - data);
			continue;
		}
		if (r.bad || length > (uint64_t)(r.end - r.p)) {
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			break; /* truncated: nothing after it can be found */
		}
		const uint8_t *id_pos = r.p;
		const uint8_t *body_end = r.p + length;
		uint64_t entry = off;

		off = (uint64_t)(body_end - data);
		r.end = body_end;
		id = rd_bytes(&r, dwarf64 ? 8 : 4);
		if (r.bad) {
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}
		if (kind == UNW_CFI_EH_FRAME ? id == 0 : id == (dwarf64 ? ~0ull : 0xffffffffull))
			continue; /* a CIE: parsed when an FDE refers to it */

		/* An FDE. Its CIE: relative to the id field (.eh_frame) or the section. */
		uint64_t cie_off;

		if (kind == UNW_CFI_EH_FRAME) {
			if (id > (uint64_t)(id_pos - data)) {
				cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
				continue;
			}
			cie_off = (uint64_t)(id_pos - data) - id;
		} else {
			cie_off = id;
		}
		struct cie *c = cie_map_slot(&cies, cie_off, &err);

		if (!c)
			break;
		if (!c->key) {
			cie_parse(c, kind, data, len, cie_off);
			c->key = cie_off + 1;
			cies.n++;
		}
		cfi->stats->fdes++;
		if (!c->ok || cie_off == entry) {
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}

		uint64_t start, range;

		if (!rd_ptr(&r, c->fde_enc, data, sh_addr, true, &start) ||
		    !rd_ptr(&r, c->fde_enc & 0x0f, data, sh_addr, false, &range)) {
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}
		if (c->has_z) {
			uint64_t alen = rd_uleb(&r);

			if (r.bad || alen > (uint64_t)(r.end - r.p)) {
				cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
				continue;
			}
			r.p += alen; /* the LSDA pointer: not needed to unwind */
		}
		/*
		 * An empty range, or address 0 in a linked file: FDEs of code the
		 * linker discarded (.debug_frame keeps them). Nothing to describe.
		 */
		if (range == 0 || start == 0)
			continue;
		if (start + range < start) {
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}
		size_t first = cfi->nrows;
		uint64_t rows0 = cfi->stats->rows;
		uint64_t unrep0[UNW_UNREP_NR];

		memcpy(unrep0, cfi->stats->unrep, sizeof(unrep0));
		err = fde_rows(it, cfi, c, data, sh_addr, start, start + range, r.p, body_end);
		if (err == -EINVAL) {
			/* The FDE's rows are gone: so are their counts. */
			cfi->stats->rows = rows0;
			memcpy(cfi->stats->unrep, unrep0, sizeof(unrep0));
			cfi->stats->unrep[UNW_UNREP_BAD_FDE]++;
			err = 0;
			continue;
		}
		if (!err)
			err = unw_cfi_push_fde(cfi, start, start + range, first, prio);
	}
	cfi->used = off < len ? (size_t)off : len;
	free(cies.slot);
	free(it);
	return err;
}

void unw_cfi_release(struct unw_cfi *cfi)
{
	free(cfi->rows);
	free(cfi->fdes);
	memset(cfi, 0, sizeof(*cfi));
}
