// SPDX-License-Identifier: MIT
/*
 * The machine-code analyser (unwind/synth.c) against real CFI: every
 * function that HAS an FDE in libc, libstdc++, ld.so and the test programs
 * is analysed as if it had none, from the FDE's bounds, and the rule it
 * gives before each instruction is compared with the CFI's row there:
 * CFA register and offset, return address, and where rbp, rbx and r12-r15
 * are. A save slot already popped (below rsp) counts as "unchanged" on both
 * sides, as the walker reads it.
 *
 * Reported per file: functions analysed and refused (by reason),
 * instructions and CFI rows compared, agreeing and not (bench/bench_synth.sh
 * puts these in make bench's table, with the analyser's cost). The test
 * fails on any disagreement in a function the analyser accepts: what it
 * does not refuse it must get right.
 */
#include <elf.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "unwind/unwind_int.h"

struct tally {
	uint64_t funcs, refused[UNW_SYNTH_NR], bad_funcs, fragments, empty_fdes;
	uint64_t insns, compared, agree, disagree, unreached, cfi_other;
	uint64_t rows, rows_agree, rows_disagree;
};

/* A saved-register place as the walker reads it: a slot below rsp holds nothing. */
static void norm(uint8_t *loc, int32_t *off, int32_t cfa_minus_sp)
{
	if (*loc == UNW_LOC_CFA_OFF && cfa_minus_sp != INT32_MIN && *off < -cfa_minus_sp) {
		*loc = UNW_LOC_SAME;
		*off = 0;
	}
}

/*
 * The same caller values for the walker: the same CFA and return address,
 * and each callee-saved register the same place, or one side "unchanged"
 * and the other its save slot while the register still holds the entry
 * value (bit set in unch).
 */
static bool same_rule(const struct unw_rule *c, const struct unw_rule *s, int32_t spo, uint8_t unch)
{
	if (c->type != UNW_RULE_CFA || s->type != UNW_RULE_CFA || c->cfa_reg != s->cfa_reg ||
	    c->cfa_off != s->cfa_off || c->ra_loc != s->ra_loc || c->ra_off != s->ra_off)
		return false;
	for (int i = -1; i < UNW_NSAVED; i++) {
		uint8_t cl = i < 0 ? c->bp_loc : c->reg_loc[i],
			sl = i < 0 ? s->bp_loc : s->reg_loc[i];
		int32_t co = i < 0 ? c->bp_off : c->reg_off[i],
			so = i < 0 ? s->bp_off : s->reg_off[i];

		norm(&cl, &co, spo);
		norm(&sl, &so, spo);
		if (cl == sl && co == so)
			continue;
		if ((unch & (1u << (i + 1))) && ((cl == UNW_LOC_SAME && sl == UNW_LOC_CFA_OFF) ||
						 (sl == UNW_LOC_SAME && cl == UNW_LOC_CFA_OFF)))
			continue;
		return false;
	}
	return true;
}

static void rule_str(char *b, size_t n, const struct unw_rule *r)
{
	snprintf(b, n, "t%u r%u%+d bp %u/%d bx %u/%d r12-15 %u/%d %u/%d %u/%d %u/%d", r->type,
		 r->cfa_reg, r->cfa_off, r->bp_loc, r->bp_off, r->reg_loc[0], r->reg_off[0],
		 r->reg_loc[1], r->reg_off[1], r->reg_loc[2], r->reg_off[2], r->reg_loc[3],
		 r->reg_off[3], r->reg_loc[4], r->reg_off[4]);
}

/* The bytes of [start, end) from the executable section holding them, or NULL. */
static const uint8_t *code_of(Elf *elf, uint64_t start, uint64_t end)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || start < sh.sh_addr ||
		    end > sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < sh.sh_size)
			return NULL;
		return (const uint8_t *)d->d_buf + (start - sh.sh_addr);
	}
	return NULL;
}

static void compare_fde(struct unw_synth *sy, const struct unw_cfi *cfi,
			const struct unw_cfi_fde *f, const uint8_t *code, struct tally *t,
			const char *label, int *shown)
{
	const struct unw_rule *r0 = f->nrows ? &cfi->rows[f->first_row].rule : NULL;

	/*
	 * Only function entries: an FDE that starts elsewhere (a .cold part, a
	 * fragment gcc split off) does not start with CFA = rsp + 8 or is not
	 * 16-byte aligned as gcc places functions (a landing pad's nop then
	 * rsp + 48), and without an FDE its code would not be a function of
	 * its own either.
	 */
	if (!r0 || r0->type != UNW_RULE_CFA || r0->cfa_reg != 7 || r0->cfa_off != 8 ||
	    r0->ra_loc != UNW_LOC_CFA_OFF || r0->ra_off != -8 || f->start % 16) {
		t->fragments++;
		return;
	}
	int why = unw_synth_analyse(sy, code, (size_t)(f->end - f->start), f->start);

	assert_true(why >= 0);
	t->funcs++;
	if (why > 0) {
		t->refused[why]++;
		return;
	}
	bool bad = false;
	uint64_t n_bad = 0;
	uint32_t r = 0;
	size_t n = unw_synth_count(sy);
	/* per CFI row: 0 none compared yet, 1 all agree so far, 2 a disagreement */
	uint8_t *row_state = calloc(f->nrows ? f->nrows : 1, 1);

	assert_non_null(row_state);
	for (size_t k = 0; k < n; k++) {
		struct unw_rule s;
		uint64_t a;
		int32_t spo;
		uint8_t unch;

		unw_synth_insn(sy, k, &a, &s, &spo, &unch);
		t->insns++;
		while (r + 1 < f->nrows && cfi->rows[f->first_row + r].end <= a)
			r++;
		const struct unw_cfi_row *row = &cfi->rows[f->first_row + r];

		if (!f->nrows || a < row->start || a >= row->end ||
		    row->rule.type != UNW_RULE_CFA) {
			t->cfi_other++;
			continue;
		}
		if (s.type == UNW_RULE_NONE) {
			t->unreached++;
			continue;
		}
		t->compared++;
		if (same_rule(&row->rule, &s, spo, unch)) {
			t->agree++;
			if (!row_state[r])
				row_state[r] = 1;
			continue;
		}
		t->disagree++;
		n_bad++;
		row_state[r] = 2;
		bool bad_first = !bad;

		bad = true;
		if ((*shown)++ < 8 || bad_first) {
			char x[128], y[128];

			rule_str(x, sizeof(x), &row->rule);
			rule_str(y, sizeof(y), &s);
			print_message("synth: %s: fde %#" PRIx64 " at %#" PRIx64
				      ": cfi %s, synth %s\n",
				      label, f->start, a, x, y);
		}
	}
	for (uint32_t i = 0; i < f->nrows; i++) {
		t->rows++;
		t->rows_agree += row_state[i] == 1;
		t->rows_disagree += row_state[i] == 2;
	}
	/*
	 * An FDE that is one row, CFA = rsp + 8 for the whole function, where
	 * the code pushes: hand-written assembly whose CFI describes nothing
	 * (libc's mpn routines). The CFI is wrong there, not the analyser.
	 */
	if (bad && f->nrows == 1) {
		t->disagree -= n_bad;
		t->empty_fdes++;
		bad = false;
	}
	t->bad_funcs += bad;
	free(row_state);
}

/* Analyse every .eh_frame FDE of path and compare; the tally is printed and returned. */
static void synth_file(const char *label, const char *path, struct tally *t)
{
	struct unw_gen_stats st = {0};
	struct unw_cfi cfi = {.stats = &st};
	struct unw_synth *sy = unw_synth_new();
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int fd = open(path, O_RDONLY), shown = 0;
	Elf *elf;

	memset(t, 0, sizeof(*t));
	if (fd < 0) {
		print_message("synth: %s: %s not readable, skipped\n", label, path);
		unw_synth_free(sy);
		return;
	}
	assert_non_null(sy);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".eh_frame"))
			continue;
		d = elf_getdata(scn, NULL);
		assert_non_null(d);
		assert_int_equal(
		    unw_cfi_read(&cfi, UNW_CFI_EH_FRAME, d->d_buf, d->d_size, sh.sh_addr, 0), 0);
	}
	for (size_t i = 0; i < cfi.nfdes; i++) {
		const struct unw_cfi_fde *f = &cfi.fdes[i];
		const uint8_t *code = code_of(elf, f->start, f->end);

		if (code)
			compare_fde(sy, &cfi, f, code, t, label, &shown);
	}
	uint64_t refused = 0;
	char why[256] = "";
	size_t len = 0;

	for (int k = 1; k < UNW_SYNTH_NR; k++) {
		refused += t->refused[k];
		if (t->refused[k] && len < sizeof(why))
			len += (size_t)snprintf(why + len, sizeof(why) - len, " %s %" PRIu64,
						unw_synth_refuse_name(k), t->refused[k]);
	}
	print_message("synth: %-22s functions %6" PRIu64 ", accepted %6" PRIu64
		      " (refused%s); FDEs not at a function entry %" PRIu64 "\n",
		      label, t->funcs, t->funcs - refused, why, t->fragments);
	print_message("synth: %-22s instructions compared %7" PRIu64 ": agree %7" PRIu64
		      " (%.2f%%), disagree %" PRIu64 " in %" PRIu64 " functions; unreached %" PRIu64
		      ", cfi not a CFA rule %" PRIu64
		      "; empty FDEs of code that pushes (the CFI is wrong) %" PRIu64 "\n",
		      label, t->compared, t->agree,
		      t->compared ? 100.0 * (double)t->agree / (double)t->compared : 0.0,
		      t->disagree, t->bad_funcs, t->unreached, t->cfi_other, t->empty_fdes);
	print_message("synth: %-22s cfi rows %6" PRIu64 ": agree %6" PRIu64 ", disagree %" PRIu64
		      "\n",
		      label, t->rows, t->rows_agree, t->rows_disagree);
	unw_cfi_release(&cfi);
	unw_synth_free(sy);
	elf_end(elf);
	close(fd);
}

static void check(const char *label, const char *path, uint64_t min_funcs)
{
	struct tally t;

	synth_file(label, path, &t);
	if (!t.funcs && !min_funcs)
		return;
	assert_true(t.funcs >= min_funcs);
	/* most functions are of the shapes it follows */
	assert_true(t.compared > 0);
	assert_int_equal(t.disagree, 0);
}

static void test_libc(void **state)
{
	(void)state;
	check("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", 1000);
}

static void test_ldso(void **state)
{
	(void)state;
	check("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", 100);
}

static void test_libstdcxx(void **state)
{
	(void)state;
	check("libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", 1000);
}

static void test_progs(void **state)
{
	static const char *const progs[] = {"cfi_omitfp",   "cfi_cxx",	"unw_chain",
					    "unw_chain_fp", "unw_deep", "unw_signal",
					    "unw_threads"};
	const char *b = getenv("XPROF_BUILD");
	char p[4200];

	(void)state;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(p, sizeof(p), "%s/progs/%s", b && *b ? b : "build", progs[i]);
		assert_int_equal(access(p, R_OK), 0);
		check(progs[i], p, 5);
	}
}

/* A function with a jump table while its frame is set up is refused, not guessed. */
static void test_refusals(void **state)
{
	static const struct {
		const char *name;
		uint8_t code[32];
		size_t len;
		int why;
	} cases[] = {
	    /* push %rbx; jmp *%rax */
	    {"jump table", {0x53, 0xff, 0xe0}, 3, UNW_SYNTH_JUMP_TABLE},
	    /* jmp *%rax: a tail call */
	    {"indirect tail call", {0xff, 0xe0}, 2, UNW_SYNTH_OK},
	    /* and $-16, %rsp; ret */
	    {"realign on rsp", {0x48, 0x83, 0xe4, 0xf0, 0xc3}, 5, UNW_SYNTH_REALIGN},
	    /* push %rbp; mov %rsp,%rbp; and $-16,%rsp; leave; ret */
	    {"realign under a frame pointer",
	     {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xe4, 0xf0, 0xc9, 0xc3},
	     10,
	     UNW_SYNTH_OK},
	    /* push %rbx; ret */
	    {"ret with a push left", {0x53, 0xc3}, 2, UNW_SYNTH_BAD_RET},
	    /* sub %rax, %rsp; ret */
	    {"variable rsp", {0x48, 0x29, 0xc4, 0xc3}, 4, UNW_SYNTH_SP_LOST},
	    /* test %eax,%eax; je +1; push %rbx; (je target:) ret: paths differ */
	    {"conflict", {0x85, 0xc0, 0x74, 0x01, 0x53, 0xc3}, 6, UNW_SYNTH_CONFLICT},
	    /* 0x06 is invalid in 64-bit mode */
	    {"undecodable", {0x06}, 1, UNW_SYNTH_BAD_INSN},
	};
	struct unw_synth *sy = unw_synth_new();

	(void)state;
	assert_non_null(sy);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int why = unw_synth_analyse(sy, cases[i].code, cases[i].len, 0x1000);

		if (why != cases[i].why)
			print_message("case '%s': got %s, want %s\n", cases[i].name,
				      unw_synth_refuse_name(why),
				      unw_synth_refuse_name(cases[i].why));
		assert_int_equal(why, cases[i].why);
	}
	unw_synth_free(sy);
}

/*
 * A call that does not return (fail(), abort()) right before a block the
 * function jumps to with another stack: the jump's stack wins, whichever
 * path the analyser follows first.
 */
static void test_noreturn_call(void **state)
{
	static const struct {
		const char *name;
		uint8_t code[24];
		size_t len;
		uint64_t join; /* the block after the call */
	} cases[] = {
	    /* test %rsi,%rsi; jle L; sub $8,%rsp; call +0x100; L: xor %ecx,%ecx; ret */
	    {"jump first",
	     {0x48, 0x85, 0xf6, 0x7e, 0x09, 0x48, 0x83, 0xec, 0x08, 0xe8, 0x00, 0x01, 0x00, 0x00,
	      0x31, 0xc9, 0xc3},
	     17,
	     0x100e},
	    /* test; jle J; sub $8,%rsp; call +0x100; L: xor; ret; J: jmp L */
	    {"call first",
	     {0x48, 0x85, 0xf6, 0x7e, 0x0c, 0x48, 0x83, 0xec, 0x08, 0xe8, 0x00, 0x01, 0x00, 0x00,
	      0x31, 0xc9, 0xc3, 0xeb, 0xfb},
	     19,
	     0x100e},
	};
	struct unw_synth *sy = unw_synth_new();

	(void)state;
	assert_non_null(sy);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		bool seen = false;

		assert_int_equal(unw_synth_analyse(sy, cases[c].code, cases[c].len, 0x1000), 0);
		for (size_t i = 0; i < unw_synth_count(sy); i++) {
			struct unw_rule r;
			uint64_t a;
			int32_t spo;
			uint8_t unch;

			unw_synth_insn(sy, i, &a, &r, &spo, &unch);
			if (a != cases[c].join)
				continue;
			seen = true;
			if (r.cfa_off != 8)
				print_message("case '%s': CFA = rsp%+d at the join\n",
					      cases[c].name, r.cfa_off);
			assert_int_equal(r.type, UNW_RULE_CFA);
			assert_int_equal(r.cfa_reg, 7);
			assert_int_equal(r.cfa_off, 8);
		}
		assert_true(seen);
	}
	unw_synth_free(sy);
}

/*
 * cfi_cxx with its .eh_frame removed: every function is analysed from its
 * symbol, but gcc's split-off "f.cold" parts are not (they are entered by a
 * jump with f's frame set up, so "CFA = rsp + 8" at their start would be
 * wrong); the functions around them get synthesized rows.
 */
static void test_cold_parts(void **state)
{
	const char *b = getenv("XPROF_BUILD");
	char src[4200], cmd[9000], dst[] = "/tmp/xprof-synth-cold.XXXXXX";
	struct unw_gen_stats st;
	struct unw_table *t;
	struct unw_rule r;
	int fd = mkstemp(dst);
	unsigned cold = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(src, sizeof(src), "%s/progs/cfi_cxx", b && *b ? b : "build");
	snprintf(cmd, sizeof(cmd),
		 "objcopy --remove-section .eh_frame --remove-section .eh_frame_hdr '%s' '%s'", src,
		 dst);
	assert_int_equal(system(cmd), 0);
	t = unw_table_from_elf(dst, NULL, &st);
	assert_non_null(t);
	assert_true(st.synth_funcs > 0);

	/* the symbols, from the same file */
	Elf *elf;
	Elf_Scn *scn = NULL;

	fd = open(dst, O_RDONLY);
	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size ||
			    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			int got = unw_table_lookup(t, sym.st_value, &r);

			if (strstr(name, ".cold")) {
				cold++;
				if (got == 0)
					print_message("cold part %s got a rule\n", name);
				assert_int_equal(got, -ENOENT);
			} else if (!strcmp(name, "_Z7throweri") || !strcmp(name, "_Z7catcheri")) {
				assert_int_equal(got, 0);
				assert_int_equal(r.flags, UNW_RULE_F_SYNTH);
				assert_int_equal(r.cfa_off, 8);
			}
		}
	}
	assert_true(cold >= 2);
	elf_end(elf);
	close(fd);
	unlink(dst);
	unw_table_free(t);
}

/* The rules of a small frame-pointer function, instruction by instruction. */
static void test_rules(void **state)
{
	/*
	 * push %rbp; mov %rsp,%rbp; push %rbx; sub $8,%rsp; call +0x100;
	 * add $8,%rsp; pop %rbx; pop %rbp; ret
	 */
	static const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x53, 0x48, 0x83,
				       0xec, 0x08, 0xe8, 0x00, 0x01, 0x00, 0x00,
				       0x48, 0x83, 0xc4, 0x08, 0x5b, 0x5d, 0xc3};
	static const struct {
		uint64_t addr;
		uint8_t reg;
		int32_t off;
		int32_t bp, bx; /* 0: not saved */
	} want[] = {
	    {0x1000, 7, 8, 0, 0},      {0x1001, 7, 16, -16, 0},	  {0x1004, 6, 16, -16, 0},
	    {0x1005, 6, 16, -16, -24}, {0x1009, 6, 16, -16, -24}, {0x100e, 6, 16, -16, -24},
	    {0x1012, 6, 16, -16, -24}, {0x1013, 6, 16, -16, -24}, {0x1014, 7, 8, -16, -24},
	};
	struct unw_synth *sy = unw_synth_new();

	(void)state;
	assert_non_null(sy);
	assert_int_equal(unw_synth_analyse(sy, code, sizeof(code), 0x1000), 0);
	assert_int_equal(unw_synth_count(sy), 9);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct unw_rule r;
		uint64_t a;
		int32_t spo;
		uint8_t unch;

		unw_synth_insn(sy, i, &a, &r, &spo, &unch);
		assert_int_equal(a, want[i].addr);
		assert_int_equal(r.type, UNW_RULE_CFA);
		assert_int_equal(r.flags, UNW_RULE_F_SYNTH);
		assert_int_equal(r.cfa_reg, want[i].reg);
		assert_int_equal(r.cfa_off, want[i].off);
		assert_int_equal(r.ra_off, -8);
		assert_int_equal(r.bp_loc, want[i].bp ? UNW_LOC_CFA_OFF : UNW_LOC_SAME);
		assert_int_equal(r.bp_off, want[i].bp);
		assert_int_equal(r.reg_loc[0], want[i].bx ? UNW_LOC_CFA_OFF : UNW_LOC_SAME);
		assert_int_equal(r.reg_off[0], want[i].bx);
	}
	unw_synth_free(sy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),	  cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_noreturn_call), cmocka_unit_test(test_cold_parts),
	    cmocka_unit_test(test_progs),	  cmocka_unit_test(test_libc),
	    cmocka_unit_test(test_ldso),	  cmocka_unit_test(test_libstdcxx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
