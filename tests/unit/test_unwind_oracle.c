// SPDX-License-Identifier: MIT
/*
 * Correctness oracle for the unwind tables: libdw interprets the same CFI
 * independently (dwarf_cfi_addrframe, dwarf_frame_cfa, dwarf_frame_register
 * for rip and rbp), and the table must give the same answer everywhere.
 *
 * Coverage: the executable sections of libc.so.6, ld.so, libm, libstdc++,
 * this process's vDSO and the purpose-built programs in $XPROF_BUILD/progs
 * (tests/progs/cfi_*). For each file the test walks libdw's rows from the
 * first executable byte to the last: at every row it checks the table at the
 * row's first and last byte and at every table boundary inside the row, so
 * every byte is covered (the table is constant between its boundaries);
 * addresses without an FDE must be terminators. Small files are also
 * checked byte by byte. Rows whose CFI the record cannot hold must be the
 * table's FALLBACK rule; the test prints the agreement counts and fails on
 * any disagreement.
 *
 * The SFrame test compares the table with the .sframe section gas emits for
 * the programs built with -Wa,--gsframe, wherever SFrame can state the row
 * (CFA = rsp/rbp + N, rbp saved at CFA + N or not, RA at CFA - 8, the PLT).
 */
#include <elf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cmocka.h>

#include "unwind/unwind_int.h"

/* What libdw says, mapped to the record independently of cfi.c. */
enum verdict {
	V_RULE,	 /* expected rule below */
	V_UNREP, /* CFI exists but the record cannot hold it: the table must say FALLBACK */
};

struct counts {
	uint64_t rows, checks, agree, unrep, none, disagree;
};

static void rule_fmt(char *buf, size_t len, const struct unw_rule *r)
{
	int n = snprintf(buf, len, "type %u cfa r%u%+d ra %u/%d bp %u/%d saved", r->type,
			 r->cfa_reg, r->cfa_off, r->ra_loc, r->ra_off, r->bp_loc, r->bp_off);

	for (int i = 0; i < UNW_NSAVED && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, " %u/%d", r->reg_loc[i], r->reg_off[i]);
}

static bool op_is(const Dwarf_Op *op, uint8_t atom, Dwarf_Word n)
{
	return op->atom == atom && op->number == n;
}

/* DW_OP_breg7 8; breg16 0; lit15; and; lit11; ge; lit3; shl; plus */
static bool ops_are_plt(const Dwarf_Op *ops, size_t n)
{
	return n == 9 && op_is(&ops[0], DW_OP_breg7, 8) && op_is(&ops[1], DW_OP_breg16, 0) &&
	       ops[2].atom == DW_OP_lit15 && ops[3].atom == DW_OP_and &&
	       ops[4].atom == DW_OP_lit11 && ops[5].atom == DW_OP_ge && ops[6].atom == DW_OP_lit3 &&
	       ops[7].atom == DW_OP_shl && ops[8].atom == DW_OP_plus;
}

static bool ops_are_breg7(const Dwarf_Op *ops, size_t n, int64_t off)
{
	return n == 1 && ops[0].atom == DW_OP_breg7 && (int64_t)ops[0].number == off;
}

/* Where a register is, in the record's terms. Returns false if the record cannot say. */
static bool reg_loc(Dwarf_Frame *fr, int regno, uint8_t *loc, int32_t *off, bool *expr_breg7,
		    int64_t breg7_off)
{
	Dwarf_Op mem[3], *ops = NULL;
	size_t n = 0;

	*expr_breg7 = false;
	if (dwarf_frame_register(fr, regno, mem, &ops, &n) != 0)
		return false;
	if (n == 0) {
		*loc = ops ? UNW_LOC_UNDEF : UNW_LOC_SAME;
		*off = 0;
		return true;
	}
	/* DW_CFA_expression: libdw shows the CFA libdw pushes first as DW_OP_call_frame_cfa */
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops_are_breg7(ops + 1, 1, breg7_off))
		*expr_breg7 = true;
	if (ops[n - 1].atom == DW_OP_stack_value)
		return false; /* a value (val_offset, val_expression), not a location */
	if (ops[0].atom == DW_OP_call_frame_cfa) {
		int64_t o = 0;

		if (n == 2 && ops[1].atom == DW_OP_plus_uconst)
			o = (int64_t)ops[1].number;
		else if (n != 1)
			return false;
		if (o % 8 || o < -1024 || o > 1016)
			return false;
		*loc = UNW_LOC_CFA_OFF;
		*off = (int32_t)o;
		return true;
	}
	if (n == 1 && ops[0].atom == DW_OP_regx && ops[0].number <= 127) {
		*loc = UNW_LOC_REG;
		*off = (int32_t)ops[0].number;
		return true;
	}
	if (n == 1 && ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) {
		*loc = UNW_LOC_REG;
		*off = ops[0].atom - DW_OP_reg0;
		return true;
	}
	return false;
}

/*
 * libdw's answer at addr. Returns false when no FDE covers addr (then *end
 * is unknown). *start and *end are the bounds of libdw's row.
 */
static bool libdw_rule(Dwarf_CFI *cfi, uint64_t addr, struct unw_rule *r, enum verdict *v,
		       uint64_t *start, uint64_t *end)
{
	Dwarf_Frame *fr = NULL;
	Dwarf_Op *cops = NULL;
	size_t cn = 0;
	bool signal = false, ra_b, bp_b, ra_ok, bp_ok;
	Dwarf_Addr s, e;
	uint8_t ra_loc = 0, bp_loc = 0;
	int32_t ra_off = 0, bp_off = 0;

	if (!cfi || dwarf_cfi_addrframe(cfi, addr, &fr) != 0)
		return false;
	/* the return-address column: 16 (rip) in every x86-64 CIE */
	assert_int_equal(dwarf_frame_info(fr, &s, &e, &signal), 16);
	*start = s;
	*end = e;
	memset(r, 0, sizeof(*r));
	*v = V_RULE;
	assert_int_equal(dwarf_frame_cfa(fr, &cops, &cn), 0);
	ra_ok = reg_loc(fr, 16, &ra_loc, &ra_off, &ra_b, 168);
	bp_ok = reg_loc(fr, 6, &bp_loc, &bp_off, &bp_b, 120);
	uint8_t sp_loc;
	int32_t sp_off;
	bool sp_b;

	(void)reg_loc(fr, 7, &sp_loc, &sp_off, &sp_b, 160);
	if (signal && cn == 2 && op_is(&cops[0], DW_OP_breg7, 160) && cops[1].atom == DW_OP_deref &&
	    ra_b && bp_b && sp_b) {
		r->type = UNW_RULE_SIGNAL;
	} else if (ra_ok && ra_loc == UNW_LOC_UNDEF) {
		r->type = UNW_RULE_OUTERMOST;
	} else if (ops_are_plt(cops, cn) && ra_ok && ra_loc == UNW_LOC_CFA_OFF && ra_off == -8) {
		r->type = UNW_RULE_PLT;
	} else if (cn == 1 && cops[0].atom == DW_OP_bregx && cops[0].number <= 31 &&
		   (int64_t)cops[0].number2 == (int32_t)cops[0].number2 && ra_ok && bp_ok &&
		   ra_loc != UNW_LOC_SAME && ra_loc != UNW_LOC_UNDEF) {
		r->type = UNW_RULE_CFA;
		r->cfa_reg = (uint8_t)cops[0].number;
		r->cfa_off = (int32_t)cops[0].number2;
		r->ra_loc = ra_loc;
		r->ra_off = ra_off;
		r->bp_loc = bp_loc;
		r->bp_off = bp_off;
		/* rbx, r12-r15: what the record cannot hold is "undefined" (unknown to the walker)
		 */
		static const uint8_t saved[UNW_NSAVED] = UNW_SAVED_REGS;

		for (int i = 0; i < UNW_NSAVED; i++) {
			bool b;

			if (!reg_loc(fr, saved[i], &r->reg_loc[i], &r->reg_off[i], &b, 0)) {
				r->reg_loc[i] = UNW_LOC_UNDEF;
				r->reg_off[i] = 0;
			}
			/*
			 * libdw's x86-64 ABI defaults (measured: every FDE start
			 * of libc) call an rbx the CFI never mentions undefined,
			 * r12-r15 "same value"; the psABI makes rbx callee-saved
			 * like them, and no CFI here says DW_CFA_undefined rbx.
			 */
			if (i == 0 && r->reg_loc[0] == UNW_LOC_UNDEF)
				r->reg_loc[0] = UNW_LOC_SAME;
		}
	} else {
		*v = V_UNREP;
	}
	free(fr);
	return true;
}

static bool rule_eq(const struct unw_rule *a, const struct unw_rule *b)
{
	return a->type == b->type && a->cfa_reg == b->cfa_reg && a->cfa_off == b->cfa_off &&
	       a->ra_loc == b->ra_loc && a->ra_off == b->ra_off && a->bp_loc == b->bp_loc &&
	       a->bp_off == b->bp_off && a->flags == b->flags &&
	       !memcmp(a->reg_loc, b->reg_loc, sizeof(a->reg_loc)) &&
	       !memcmp(a->reg_off, b->reg_off, sizeof(a->reg_off));
}

struct oracle {
	const char *label;
	const struct unw_table *tab;
	Dwarf_CFI *eh, *dbg; /* .eh_frame first, as the generator prefers it */
	struct counts c;
	int reported;
};

/* One expected answer against the table at addr. */
static void check_one(struct oracle *o, uint64_t addr, bool have, const struct unw_rule *want,
		      enum verdict v)
{
	struct unw_rule got;
	int ret = unw_table_lookup(o->tab, addr, &got);
	bool ok;

	o->c.checks++;
	if (!have) {
		ok = ret == -ENOENT && got.type == UNW_RULE_NONE;
		o->c.none += ok;
	} else if (v == V_UNREP) {
		ok = ret == 0 && got.type == UNW_RULE_FALLBACK;
		o->c.unrep += ok;
	} else {
		ok = ret == 0 && rule_eq(&got, want);
		o->c.agree += ok;
	}
	if (!ok) {
		char a[96], b[96];

		o->c.disagree++;
		rule_fmt(a, sizeof(a), &got);
		if (have && v == V_RULE)
			rule_fmt(b, sizeof(b), want);
		else
			snprintf(b, sizeof(b), "%s", have ? "fallback (unrepresentable)" : "none");
		if (o->reported++ < 20)
			print_message("oracle: %s: %#" PRIx64 ": table %s, libdw %s\n", o->label,
				      addr, a, b);
	}
}

static bool expect_at(struct oracle *o, uint64_t addr, struct unw_rule *r, enum verdict *v,
		      uint64_t *s, uint64_t *e)
{
	return libdw_rule(o->eh, addr, r, v, s, e) || libdw_rule(o->dbg, addr, r, v, s, e);
}

/* Walk libdw's rows over [lo, hi), checking every table boundary inside each. */
static void walk_range(struct oracle *o, uint64_t lo, uint64_t hi, bool every_byte)
{
	size_t n = unw_table_count(o->tab), j = 0;
	uint64_t addr = lo;

	while (addr < hi) {
		struct unw_rule want;
		enum verdict v;
		uint64_t s, e;
		bool have = expect_at(o, addr, &want, &v, &s, &e);

		if (!have || e <= addr)
			e = addr + 1;
		if (e > hi)
			e = hi;
		o->c.rows += have;
		check_one(o, addr, have, &want, v);
		if (e - 1 != addr)
			check_one(o, e - 1, have, &want, v);
		/* the table's own boundaries inside (addr, e) */
		for (;; j++) {
			uint64_t ta;
			struct unw_rule tr;

			if (j >= n)
				break;
			unw_table_row(o->tab, j, &ta, &tr);
			if (ta >= e)
				break;
			if (ta > addr)
				check_one(o, ta, have, &want, v);
		}
		/* every byte, each asked of libdw again: no trust in its row bounds either */
		if (every_byte) {
			for (uint64_t x = addr + 1; x + 1 < e; x++) {
				struct unw_rule w2;
				enum verdict v2;
				uint64_t s2, e2;
				bool h2 = expect_at(o, x, &w2, &v2, &s2, &e2);

				check_one(o, x, h2, &w2, v2);
			}
		}
		addr = e;
	}
}

/* Every executable section of elf. */
static void walk_elf(struct oracle *o, Elf *elf, bool every_byte)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		walk_range(o, sh.sh_addr, sh.sh_addr + sh.sh_size, every_byte);
	}
}

static Dwarf *debug_frame_of(Elf *elf, Dwarf_CFI **cfi)
{
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);

	*cfi = dw ? dwarf_getcfi(dw) : NULL;
	return dw;
}

static void report(const struct oracle *o, const struct unw_gen_stats *st)
{
	print_message("oracle: %-22s libdw rows %7" PRIu64 ", checks %8" PRIu64 ": agree %8" PRIu64
		      ", unrepresentable %5" PRIu64 ", no-cfi %7" PRIu64 ", disagree %" PRIu64
		      "; table %" PRIu64 " entries, %" PRIu64 " bytes (%.2fx .eh_frame+hdr)\n",
		      o->label, o->c.rows, o->c.checks, o->c.agree, o->c.unrep, o->c.none,
		      o->c.disagree, st->entries, st->bytes,
		      st->eh_frame_bytes ? (double)st->bytes / (double)st->eh_frame_bytes : 0.0);
}

/* Build the table of path (+ debug), and compare it with libdw everywhere. */
static void oracle_file(const char *label, const char *path, const char *debug, bool every_byte,
			bool expect_unrep)
{
	struct oracle o = {.label = label};
	struct unw_gen_stats st;
	struct unw_table *tab;
	int fd, dfd = -1;
	Elf *elf, *delf = NULL;
	Dwarf *dw = NULL;

	if (access(path, R_OK)) {
		print_message("oracle: %s: '%s' missing (build the progs: make unit-bins)\n", label,
			      path);
		fail();
	}
	tab = unw_table_from_elf(path, debug, &st);
	if (!tab)
		fail_msg("%s: unw_table_from_elf: %s", path, strerror(errno));
	o.tab = tab;
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	o.eh = dwarf_getcfi_elf(elf);
	if (debug) {
		dfd = open(debug, O_RDONLY);
		assert_true(dfd >= 0);
		delf = elf_begin(dfd, ELF_C_READ_MMAP, NULL);
		assert_non_null(delf);
		dw = debug_frame_of(delf, &o.dbg);
		assert_non_null(o.dbg);
	} else {
		dw = debug_frame_of(elf, &o.dbg);
	}
	walk_elf(&o, elf, every_byte);
	report(&o, &st);
	assert_int_equal(o.c.disagree, 0);
	assert_true(o.c.rows > 0);
	assert_int_equal(st.unrep[UNW_UNREP_BAD_FDE], 0);
	if (!expect_unrep)
		assert_int_equal(o.c.unrep, 0);
	dwarf_cfi_end(o.eh); /* dwarf_getcfi_elf's CFI is the caller's; dwarf_getcfi's is dw's */
	dwarf_end(dw);
	elf_end(delf);
	elf_end(elf);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	unw_table_free(tab);
}

static const char *progs_dir(void)
{
	const char *b = getenv("XPROF_BUILD");
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/progs", b && *b ? b : "build");
	return buf;
}

static void prog(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", progs_dir(), name);
}

static void test_libc(void **state)
{
	(void)state;
	elf_version(EV_CURRENT);
	oracle_file("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", NULL, true, false);
}

static void test_ldso(void **state)
{
	(void)state;
	oracle_file("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", NULL, true, false);
}

static void test_libm(void **state)
{
	(void)state;
	oracle_file("libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6", NULL, true, false);
}

static void test_libstdcxx(void **state)
{
	(void)state;
	oracle_file("libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", NULL, true,
		    false);
}

static void test_progs(void **state)
{
	char p[4200], d[4200];

	(void)state;
	prog("cfi_omitfp", p, sizeof(p));
	oracle_file("cfi_omitfp", p, NULL, true, true);
	prog("cfi_cxx", p, sizeof(p));
	oracle_file("cfi_cxx", p, NULL, true, false);
	prog("cfi_odd", p, sizeof(p));
	oracle_file("cfi_odd", p, NULL, true, true);
	/* the same source, committed: independent of the host toolchain */
	const char *top = getenv("XPROF_TOP");
	snprintf(p, sizeof(p), "%s/tests/fixtures/cfi/odd.elf", top && *top ? top : ".");
	oracle_file("fixtures/cfi/odd.elf", p, NULL, true, true);
	/* .debug_frame for the program's code, .eh_frame for the crt parts */
	prog("cfi_dbg", p, sizeof(p));
	oracle_file("cfi_dbg (.debug_frame)", p, NULL, true, true);
	prog("cfi_dbgz", p, sizeof(p));
	oracle_file("cfi_dbgz (compressed)", p, NULL, true, true);
	/* .debug_frame only in the separate debug file */
	prog("cfi_dbg.stripped", p, sizeof(p));
	prog("cfi_dbg.debug", d, sizeof(d));
	oracle_file("cfi_dbg (debug file)", p, d, true, true);
}

/* A file without section headers: .eh_frame is found through PT_GNU_EH_FRAME. */
static void test_no_section_headers(void **state)
{
	char src[4200], dst[] = "/tmp/xprof-nosh.XXXXXX";
	struct unw_gen_stats st;

	(void)state;
	prog("cfi_omitfp", src, sizeof(src));
	int in = open(src, O_RDONLY), out = mkstemp(dst);
	assert_true(in >= 0 && out >= 0);
	char buf[65536];
	ssize_t n;
	Elf64_Ehdr eh;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(pread(out, &eh, sizeof(eh), 0), sizeof(eh));
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = 0;
	assert_int_equal(pwrite(out, &eh, sizeof(eh), 0), sizeof(eh));
	close(in);
	close(out);

	struct unw_table *a = unw_table_from_elf(src, NULL, NULL);
	struct unw_table *b = unw_table_from_elf(dst, NULL, &st);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(unw_table_count(a), unw_table_count(b));
	for (size_t i = 0; i < unw_table_count(a); i++) {
		uint64_t x, y;
		struct unw_rule r, q;

		unw_table_row(a, i, &x, &r);
		unw_table_row(b, i, &y, &q);
		assert_int_equal(x, y);
		assert_true(rule_eq(&r, &q));
	}
	unw_table_free(a);
	unw_table_free(b);
	unlink(dst);
}

static void test_vdso(void **state)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	struct oracle o = {.label = "vdso"};
	struct unw_gen_stats st;
	struct unw_table *tab;
	Elf *elf;

	(void)state;
	if (!eh)
		skip();
	size_t len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	/* A copy, as the recorder captures it. */
	void *img = malloc(len);

	assert_non_null(img);
	memcpy(img, eh, len);
	tab = unw_table_from_image(img, len, &st);
	assert_non_null(tab);
	o.tab = tab;
	elf = elf_memory(img, len);
	assert_non_null(elf);
	o.eh = dwarf_getcfi_elf(elf);
	assert_non_null(o.eh);
	walk_elf(&o, elf, true);
	report(&o, &st);
	assert_int_equal(o.c.disagree, 0);
	assert_true(o.c.rows > 0);
	dwarf_cfi_end(o.eh);
	elf_end(elf);
	unw_table_free(tab);
	free(img);
}

/* ---- SFrame ------------------------------------------------------------------- */

/*
 * SFrame version 1 (binutils 2.40), little-endian AMD64:
 *   header: u16 magic 0xdee2, u8 version, u8 flags, u8 abi, i8 cfa_fixed_fp,
 *           i8 cfa_fixed_ra, u8 auxhdr_len, u32 num_fdes, num_fres, fre_len,
 *           fdeoff, freoff (28 bytes, then auxhdr_len bytes)
 *   FDE (17 bytes, packed): i32 func_start (relative to the section start),
 *           u32 size, u32 fre_off, u32 num_fres, u8 info (bits 0-3 FRE type:
 *           start address in 1/2/4 bytes; bit 4: PCMASK)
 *   FRE: start (1/2/4 bytes), u8 info (bit 0: CFA base is sp, bits 1-4:
 *           offset count, bits 5-6: offset size 1/2/4), then offsets: CFA,
 *           [RA unless fixed], [FP]
 */
static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int64_t sle(const uint8_t *p, unsigned n)
{
	uint64_t v = le(p, n);
	unsigned sh = 64 - 8 * n;

	return (int64_t)(v << sh) >> sh;
}

struct sf_counts {
	uint64_t checks, agree, not_representable, disagree;
};

static void sframe_file(const char *label, const char *path)
{
	struct sf_counts c = {0};
	struct unw_table *tab = unw_table_from_elf(path, NULL, NULL);
	int fd = open(path, O_RDONLY);
	Elf *elf;
	Elf_Scn *scn = NULL;
	const uint8_t *sf = NULL;
	size_t sflen = 0, shstrndx;
	uint64_t sfaddr = 0;
	int reported = 0;

	assert_non_null(tab);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		gelf_getshdr(scn, &sh);
		if (strcmp(elf_strptr(elf, shstrndx, sh.sh_name), ".sframe"))
			continue;
		d = elf_getdata(scn, NULL);
		sf = d->d_buf;
		sflen = d->d_size;
		sfaddr = sh.sh_addr;
	}
	if (!sf) {
		print_message("sframe: %s has no .sframe (gas without --gsframe?)\n", path);
		fail();
	}
	assert_true(sflen >= 28);
	assert_int_equal(le(sf, 2), 0xdee2);
	assert_int_equal(sf[2], 1);
	int8_t fixed_ra = (int8_t)sf[6];
	size_t hdr = 28 + sf[7];
	uint32_t nfdes = (uint32_t)le(sf + 8, 4);
	uint32_t fdeoff = (uint32_t)le(sf + 20, 4), freoff = (uint32_t)le(sf + 24, 4);

	assert_int_equal(fixed_ra, -8);
	for (uint32_t i = 0; i < nfdes; i++) {
		const uint8_t *f = sf + hdr + fdeoff + 17 * i;

		assert_true(f + 17 <= sf + sflen);
		uint64_t start = sfaddr + (uint64_t)(int64_t)sle(f, 4);
		uint32_t size = (uint32_t)le(f + 4, 4), fre_off = (uint32_t)le(f + 8, 4);
		uint32_t nfres = (uint32_t)le(f + 12, 4);
		uint8_t info = f[16];
		unsigned asz = (info & 15) == 0 ? 1 : (info & 15) == 1 ? 2 : 4;
		bool pcmask = info & 0x10;

		for (uint64_t pc = start; pc < start + size; pc++) {
			const uint8_t *p = sf + hdr + freoff + fre_off;
			uint64_t key = pcmask ? (pc & 15) : pc - start;
			int64_t cfa = 0, fp = 0;
			bool found = false, sp_base = false, fp_saved = false;

			for (uint32_t k = 0; k < nfres; k++) {
				uint64_t fs = le(p, asz);
				uint8_t fi = p[asz];
				unsigned cnt = (fi >> 1) & 15, osz = 1u << ((fi >> 5) & 3);
				const uint8_t *offs = p + asz + 1;

				assert_true(offs + cnt * osz <= sf + sflen);
				if (fs <= key) {
					found = true;
					sp_base = fi & 1;
					cfa = sle(offs, osz);
					fp_saved = cnt >= 2;
					fp = fp_saved ? sle(offs + osz, osz) : 0;
				}
				p = offs + cnt * osz;
			}
			if (!found)
				continue;

			struct unw_rule r;
			int ret = unw_table_lookup(tab, pc, &r);

			c.checks++;
			if (ret || r.type == UNW_RULE_PLT || r.type != UNW_RULE_CFA ||
			    (r.cfa_reg != 6 && r.cfa_reg != 7) || r.ra_loc != UNW_LOC_CFA_OFF ||
			    r.ra_off != -8 ||
			    (r.bp_loc != UNW_LOC_SAME && r.bp_loc != UNW_LOC_CFA_OFF)) {
				/* PLT: SFrame's PCMASK rows are checked as rsp+8/16 below */
				if (!ret && r.type == UNW_RULE_PLT && pcmask && sp_base &&
				    cfa == ((pc & 15) >= 11 ? 16 : 8)) {
					c.agree++;
					continue;
				}
				c.not_representable++;
				continue;
			}
			bool ok = (r.cfa_reg == 7) == sp_base && r.cfa_off == cfa &&
				  (r.bp_loc == UNW_LOC_CFA_OFF) == fp_saved &&
				  (!fp_saved || r.bp_off == fp);

			if (ok) {
				c.agree++;
			} else {
				c.disagree++;
				if (reported++ < 10)
					print_message(
					    "sframe: %s: %#" PRIx64 ": table cfa r%u%+d bp %u/%d, "
					    "sframe %s%+" PRId64 " fp %s%+" PRId64 "\n",
					    label, pc, r.cfa_reg, r.cfa_off, r.bp_loc, r.bp_off,
					    sp_base ? "sp" : "fp", cfa, fp_saved ? "c" : "u", fp);
			}
		}
	}
	print_message("sframe: %-12s %u FDEs, addresses %" PRIu64 ": agree %" PRIu64
		      ", not representable in SFrame %" PRIu64 ", disagree %" PRIu64 "\n",
		      label, nfdes, c.checks, c.agree, c.not_representable, c.disagree);
	assert_true(c.agree > 0);
	assert_int_equal(c.disagree, 0);
	elf_end(elf);
	close(fd);
	unw_table_free(tab);
}

static void test_sframe(void **state)
{
	char p[4200];

	(void)state;
	prog("cfi_omitfp", p, sizeof(p));
	sframe_file("cfi_omitfp", p);
	prog("cfi_cxx", p, sizeof(p));
	sframe_file("cfi_cxx", p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_libc),   cmocka_unit_test(test_ldso),
	    cmocka_unit_test(test_libm),   cmocka_unit_test(test_libstdcxx),
	    cmocka_unit_test(test_vdso),   cmocka_unit_test(test_progs),
	    cmocka_unit_test(test_sframe), cmocka_unit_test(test_no_section_headers),
	};

	elf_version(EV_CURRENT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
