// SPDX-License-Identifier: MIT
/*
 * Unit tests of the .gopclntab reader (symbolize/gopclntab.c) on synthetic
 * tables built here byte by byte, in the go1.18 and the go1.20 layouts:
 * function lookup at the first and last byte of each function and outside
 * them, names, file:line, the inline tree (an inlined call with its call
 * site), pcsp runs as the unwinder gets them (with the flags of goexit,
 * an SPWRITE function and the signal trampoline), and the same table inside
 * a minimal ELF file without section headers, where it is found by
 * scanning, with moduledata and the trampoline's code. Then every prefix
 * and many single-byte corruptions of the table: never a crash (ASan), and
 * a truncated table is refused.
 *
 * XPROF_GOPCLN_SEEDS=DIR writes the tables and the ELF image to DIR: that is
 * how tests/fuzz/corpus/gopclntab/ was made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

#define TEXT	   0x402000ull /* textStart */
#define TAB_VADDR  0x401000ull
#define DATA_VADDR 0x403000ull
#define GOFUNC_OFF 0xc00 /* gofunc region: inside the read-only segment, after the table */
#define MAX_TAB	   0xc00

/* A growing byte buffer. */
struct buf {
	uint8_t b[MAX_TAB];
	size_t n;
};

static size_t put(struct buf *b, const void *p, size_t len)
{
	size_t at = b->n;

	assert_true(b->n + len <= sizeof(b->b));
	memcpy(b->b + b->n, p, len);
	b->n += len;
	return at;
}

static void put32_at(struct buf *b, size_t at, uint32_t v)
{
	memcpy(b->b + at, &v, 4);
}

static void put64_at(struct buf *b, size_t at, uint64_t v)
{
	memcpy(b->b + at, &v, 8);
}

static size_t put32(struct buf *b, uint32_t v)
{
	return put(b, &v, 4);
}

static void varint(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		uint8_t c = (uint8_t)(v | 0x80);

		put(b, &c, 1);
		v >>= 7;
	}
	uint8_t c = (uint8_t)v;
	put(b, &c, 1);
}

/* A pc-value table: runs of (value, length), from value -1 at the entry. */
struct run {
	int32_t val;
	uint32_t len;
};

static uint32_t pctable(struct buf *pc, const struct run *r, size_t n)
{
	size_t at = pc->n;
	int32_t prev = -1;

	for (size_t i = 0; i < n; i++) {
		int32_t d = r[i].val - prev;

		varint(pc, ((uint32_t)d << 1) ^ (uint32_t)(d >> 31));
		varint(pc, r[i].len);
		prev = r[i].val;
	}
	uint8_t z = 0;
	put(pc, &z, 1);
	return (uint32_t)at;
}

/*
 * The functions: main.f [0, 0x40) with an inlined main.inl over
 * [0x10, 0x20) called from 0x08; runtime.goexit [0x40, 0x60) TOPFRAME;
 * runtime.mstart_spw [0x60, 0x80) SPWRITE; runtime.sigreturn [0x80, 0xa0).
 */
enum { F_F, F_GOEXIT, F_SPW, F_SIGRET, NFUNC };
static const uint32_t fstart[NFUNC + 1] = {0, 0x40, 0x60, 0x80, 0xa0};

struct built {
	struct buf tab;
	uint8_t gofunc[32];
	size_t gofunc_len;
	size_t names_off; /* of funcnametab, from the header */
};

static void build(struct built *out, bool v120)
{
	static const char names[] =
	    "main.f\0runtime.goexit\0runtime.mstart_spw\0runtime.sigreturn\0"
	    "main.inl";
	static const uint32_t nameoff[] = {0, 7, 22, 41, 59};
	static const char files[] = "/src/a.go\0/src/b.go";
	struct buf pc = {.n = 0}, *t = &out->tab;
	uint32_t pcsp[NFUNC] = {0}, pcfile[NFUNC] = {0}, pcln[NFUNC] = {0}, inl = 0;
	size_t fixed = v120 ? 44 : 40, off[5], functab;

	memset(out, 0, sizeof(*out));
	put(&pc, "\0", 1); /* offset 0 means "no table" */
	for (int i = 0; i < NFUNC; i++) {
		uint32_t len = fstart[i + 1] - fstart[i];
		const struct run sp_f[] = {{0, 4}, {24, 0x38}, {0, 4}};
		const struct run sp_other[] = {{0, len}};
		const struct run file0[] = {{0, len}};
		const struct run ln_f[] = {{10, 0x10}, {12, 0x10}, {13, 0x20}};
		const struct run ln_other[] = {{100 + i, len}};

		pcsp[i] = i == F_F ? pctable(&pc, sp_f, 3) : pctable(&pc, sp_other, 1);
		pcfile[i] = pctable(&pc, file0, 1);
		pcln[i] = i == F_F ? pctable(&pc, ln_f, 3) : pctable(&pc, ln_other, 1);
	}
	{
		const struct run idx[] = {{-1, 0x10}, {0, 0x10}, {-1, 0x20}};

		inl = pctable(&pc, idx, 3);
	}

	t->n = 72; /* header, filled in at the end */
	off[0] = put(t, names, sizeof(names));
	off[1] = put32(t, 0); /* cutab: CU 0, file 0 -> a.go, file 1 -> b.go */
	put32(t, 10);
	off[2] = put(t, files, sizeof(files));
	off[3] = put(t, pc.b, pc.n);
	while (t->n % 8)
		put(t, "\0", 1);
	off[4] = t->n;
	functab = t->n;
	t->n += 8 * (NFUNC + 1);
	for (int i = 0; i < NFUNC; i++) {
		uint8_t rec[64] = {0};
		uint32_t npcdata = i == F_F ? 3 : 0, nfuncdata = i == F_F ? 4 : 0;
		size_t at;

		memcpy(rec + 0, &fstart[i], 4);
		memcpy(rec + 4, &nameoff[i], 4);
		memcpy(rec + 16, &pcsp[i], 4);
		memcpy(rec + 20, &pcfile[i], 4);
		memcpy(rec + 24, &pcln[i], 4);
		memcpy(rec + 28, &npcdata, 4);
		rec[fixed - 3] = i == F_GOEXIT ? 0x1 : i == F_SPW ? 0x2 : 0; /* flag */
		rec[fixed - 1] = (uint8_t)nfuncdata;
		at = put(t, rec, fixed);
		put32_at(t, functab + 8 * i, fstart[i]);
		put32_at(t, functab + 8 * i + 4, (uint32_t)(at - off[4]));
		if (i == F_F) {
			put32(t, 0); /* pcdata 0, 1: none */
			put32(t, 0);
			put32(t, inl); /* pcdata 2: inline tree index */
			put32(t, ~0u); /* funcdata 0-2: none */
			put32(t, ~0u);
			put32(t, ~0u);
			put32(t, 0); /* funcdata 3: inline tree at gofunc + 0 */
		}
	}
	put32_at(t, functab + 8 * NFUNC, fstart[NFUNC]);

	/* one inlinedCall: main.inl called from pc 0x08 of main.f */
	if (v120) {
		uint32_t e[4] = {0, nameoff[4], 0x08, 30};

		memcpy(out->gofunc, e, 16);
		out->gofunc_len = 16;
	} else {
		uint32_t e[5] = {0xffff, 1, 99, nameoff[4], 0x08}; /* parent -1, file, line */

		memcpy(out->gofunc, e, 20);
		out->gofunc_len = 20;
	}

	put32_at(t, 0, v120 ? 0xfffffff1u : 0xfffffff0u);
	t->b[6] = 1;
	t->b[7] = 8;
	put64_at(t, 8, NFUNC);
	put64_at(t, 16, 2);
	put64_at(t, 24, TEXT);
	for (int i = 0; i < 5; i++)
		put64_at(t, 32 + 8 * i, off[i]);
	out->names_off = off[0];
}

/* ---- lookups ---------------------------------------------------------------- */

static void check_lookups(const struct sym_gopcln *g)
{
	struct sym_gofunc f;
	struct sym_goframe fr[8];
	int n;

	assert_int_equal(sym_gopcln_find(g, TEXT - 1, &f), -ENOENT);
	assert_int_equal(sym_gopcln_find(g, TEXT + 0xa0, &f), -ENOENT);
	for (int i = 0; i < NFUNC; i++) {
		const char *want[] = {"main.f", "runtime.goexit", "runtime.mstart_spw",
				      "runtime.sigreturn"};

		for (uint64_t pc = TEXT + fstart[i]; pc < TEXT + fstart[i + 1];
		     pc += fstart[i + 1] - fstart[i] - 1) {
			assert_int_equal(sym_gopcln_find(g, pc, &f), 0);
			assert_int_equal(f.entry, TEXT + fstart[i]);
			assert_int_equal(f.end, TEXT + fstart[i + 1]);
			n = sym_gopcln_frames(g, &f, pc, true, fr, 8);
			assert_int_equal(n, 1);
			assert_string_equal(fr[0].name, want[i]);
			assert_string_equal(fr[0].file, "/src/a.go");
			if (i)
				assert_int_equal(fr[0].line, 100 + i);
		}
	}
	/* main.f: line 10, then 12 with main.inl inlined, then 13 */
	assert_int_equal(sym_gopcln_find(g, TEXT + 0x0f, &f), 0);
	n = sym_gopcln_frames(g, &f, TEXT + 0x0f, true, fr, 8);
	assert_int_equal(n, 1);
	assert_int_equal(fr[0].line, 10);
	n = sym_gopcln_frames(g, &f, TEXT + 0x10, true, fr, 8);
	if (g->gofunc) {
		assert_int_equal(n, 2);
		assert_string_equal(fr[0].name, "main.inl");
		assert_true(fr[0].inlined);
		assert_int_equal(fr[0].line, 12);
		assert_string_equal(fr[1].name, "main.f");
		assert_false(fr[1].inlined);
		assert_int_equal(fr[1].line, 10); /* the call site: pc 0x08 */
		/* max 1: only the function itself */
		assert_int_equal(sym_gopcln_frames(g, &f, TEXT + 0x10, false, fr, 1), 1);
		assert_string_equal(fr[0].name, "main.f");
	} else {
		assert_int_equal(n, 1);
		assert_string_equal(fr[0].name, "main.f");
		assert_int_equal(fr[0].line, 12);
	}
	n = sym_gopcln_frames(g, &f, TEXT + 0x20, true, fr, 8);
	assert_int_equal(n, 1);
	assert_int_equal(fr[0].line, 13);
}

struct span_log {
	uint64_t lo[16], hi[16];
	int32_t sp[16];
	uint32_t flags[16];
	int n;
};

static int log_span(void *ctx, uint64_t lo, uint64_t hi, int32_t sp, uint32_t flags)
{
	struct span_log *l = ctx;

	assert_true(l->n < 16);
	l->lo[l->n] = lo;
	l->hi[l->n] = hi;
	l->sp[l->n] = sp;
	l->flags[l->n++] = flags;
	return 0;
}

static void check_spans(const struct sym_gopcln *g, bool sigreturn_known)
{
	struct span_log l = {.n = 0};

	assert_int_equal(sym_gopcln_frame_spans(g, log_span, &l), 0);
	assert_int_equal(l.n, 6);
	/* main.f: three pcsp runs */
	assert_int_equal(l.lo[0], TEXT);
	assert_int_equal(l.hi[0], TEXT + 4);
	assert_int_equal(l.sp[0], 0);
	assert_int_equal(l.lo[1], TEXT + 4);
	assert_int_equal(l.sp[1], 24);
	assert_int_equal(l.hi[2], TEXT + 0x40);
	assert_int_equal(l.flags[1], 0);
	/* goexit: outermost, whole function; SPWRITE; the trampoline */
	assert_int_equal(l.lo[3], TEXT + 0x40);
	assert_int_equal(l.hi[3], TEXT + 0x60);
	assert_int_equal(l.flags[3], SYM_GO_TOPFRAME);
	assert_int_equal(l.flags[4], SYM_GO_SPWRITE);
	assert_int_equal(l.lo[5], TEXT + 0x80);
	assert_int_equal(l.flags[5], sigreturn_known ? SYM_GO_SIGRETURN : 0);
}

static void test_tables(void **state)
{
	static struct built b;

	(void)state;
	for (int v120 = 0; v120 < 2; v120++) {
		struct sym_gopcln g;

		build(&b, v120);
		assert_int_equal(sym_gopcln_parse(&g, b.tab.b, b.tab.n, TAB_VADDR), 0);
		assert_int_equal(g.v120, v120);
		assert_int_equal(g.nfunc, NFUNC);
		check_lookups(&g); /* no gofunc: no inline tree */
		g.gofunc = b.gofunc;
		g.gofunc_len = b.gofunc_len;
		check_lookups(&g);
		check_spans(&g, false); /* sigreturn is only trusted with its code (ELF) */
	}
}

/* ---- in an ELF file without section headers ---------------------------------- */

/*
 * Three PT_LOADs: R at TAB_VADDR (the table, then gofunc at GOFUNC_OFF),
 * RX at TEXT (the trampoline's code at 0x80), RW at DATA_VADDR (moduledata).
 */
static size_t make_elf(uint8_t *img, size_t cap, const struct built *b, bool v120)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	static const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05, 0xcd, 0x03};
	uint8_t *md = img + 0x3000 + 0x40; /* not at the segment start: the scan must find it */
	size_t gofunc_at = v120 ? 320 : 304;

	assert_true(cap >= 0x4000);
	memset(img, 0, 0x4000);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = TEXT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 3;
	for (int i = 0; i < 3; i++) {
		ph[i].p_type = PT_LOAD;
		ph[i].p_offset = 0x1000 * (i + 1);
		ph[i].p_vaddr = ph[i].p_paddr = TAB_VADDR + 0x1000 * i;
		ph[i].p_filesz = ph[i].p_memsz = 0x1000;
		ph[i].p_align = 0x1000;
	}
	ph[0].p_flags = PF_R;
	ph[1].p_flags = PF_R | PF_X;
	ph[2].p_flags = PF_R | PF_W;
	memcpy(img + 0x1000, b->tab.b, b->tab.n);
	memcpy(img + 0x1000 + GOFUNC_OFF, b->gofunc, b->gofunc_len);
	memcpy(img + 0x2000 + fstart[F_SIGRET], code, sizeof(code));
	uint64_t v[] = {TAB_VADDR, TAB_VADDR + b->names_off};

	memcpy(md, v, sizeof(v));
	memcpy(md + 176, &(uint64_t){TEXT}, 8);
	memcpy(md + gofunc_at, &(uint64_t){TAB_VADDR + GOFUNC_OFF}, 8);
	return 0x4000;
}

static void test_elf(void **state)
{
	static uint8_t img[0x4000];
	static struct built b;

	(void)state;
	elf_version(EV_CURRENT);
	for (int v120 = 0; v120 < 2; v120++) {
		struct sym_gopcln g;
		size_t len;
		Elf *elf;

		build(&b, v120);
		len = make_elf(img, sizeof(img), &b, v120);
		elf = elf_memory((char *)img, len);
		assert_non_null(elf);
		assert_int_equal(sym_gopcln_from_elf(&g, elf), 0);
		assert_int_equal(g.vaddr, TAB_VADDR);
		assert_non_null(g.gofunc);
		assert_int_equal(g.sigreturn, TEXT + fstart[F_SIGRET]);
		check_lookups(&g);
		check_spans(&g, true);
		elf_end(elf);

		/* the trampoline's code is what makes it one */
		img[0x2000 + fstart[F_SIGRET] + 3] = 0x3c;
		elf = elf_memory((char *)img, len);
		assert_int_equal(sym_gopcln_from_elf(&g, elf), 0);
		assert_int_equal(g.sigreturn, 0);
		elf_end(elf);

		const char *dir = getenv("XPROF_GOPCLN_SEEDS");

		if (dir) {
			char path[4096];
			FILE *f;

			img[0x2000 + fstart[F_SIGRET] + 3] = 0x0f;
			snprintf(path, sizeof(path), "%s/synth_go%s.tab", dir,
				 v120 ? "120" : "118");
			f = fopen(path, "wb");
			assert_non_null(f);
			fwrite(b.tab.b, 1, b.tab.n, f);
			fclose(f);
			snprintf(path, sizeof(path), "%s/synth_go%s.elf", dir,
				 v120 ? "120" : "118");
			f = fopen(path, "wb");
			assert_non_null(f);
			fwrite(img, 1, len, f);
			fclose(f);
		}
	}
	/* not a Go binary: nothing found */
	memset(img + 0x1000, 0, 0x1000);
	Elf *elf = elf_memory((char *)img, sizeof(img));
	struct sym_gopcln g;

	assert_int_equal(sym_gopcln_from_elf(&g, elf), -ENOENT);
	assert_null(g.tab);
	elf_end(elf);
}

/* ---- malformed tables ---------------------------------------------------------- */

static int count_span(void *ctx, uint64_t lo, uint64_t hi, int32_t sp, uint32_t flags)
{
	(void)lo, (void)hi, (void)sp, (void)flags;
	++*(int *)ctx;
	return 0;
}

/* Everything a lookup or the unwinder would do with a table. */
static void exercise(struct sym_gopcln *g, const uint8_t *gofunc, size_t gofunc_len)
{
	struct sym_goframe fr[8];
	struct sym_gofunc f;
	int n = 0;

	g->gofunc = gofunc;
	g->gofunc_len = gofunc_len;
	for (uint64_t pc = TEXT - 1; pc <= TEXT + 0xa0; pc += 3)
		if (!sym_gopcln_find(g, pc, &f))
			sym_gopcln_frames(g, &f, pc, true, fr, 8);
	sym_gopcln_frame_spans(g, count_span, &n);
}

static void test_malformed(void **state)
{
	static struct built b;
	static uint8_t copy[MAX_TAB];

	(void)state;
	build(&b, false);
	/* every prefix: the regions would end past it, so it is refused or still consistent */
	for (size_t len = 0; len < b.tab.n; len++) {
		struct sym_gopcln g;

		memcpy(copy, b.tab.b, len);
		if (sym_gopcln_parse(&g, copy, len, TAB_VADDR) == 0)
			exercise(&g, b.gofunc, b.gofunc_len);
		else
			assert_null(g.tab); /* a refused table is no table: never half of one */
	}
	/* every byte, replaced by values that break offsets, counts and varints */
	const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

	for (size_t i = 0; i < b.tab.n; i++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			struct sym_gopcln g;

			memcpy(copy, b.tab.b, b.tab.n);
			copy[i] = vals[v];
			if (sym_gopcln_parse(&g, copy, b.tab.n, TAB_VADDR) == 0)
				exercise(&g, b.gofunc, b.gofunc_len);
			else
				assert_null(g.tab);
		}
	}
	/* a bad header magic or pointer size */
	struct sym_gopcln g;

	memcpy(copy, b.tab.b, b.tab.n);
	copy[7] = 4;
	assert_int_equal(sym_gopcln_parse(&g, copy, b.tab.n, TAB_VADDR), -EINVAL);
	assert_int_equal(sym_gopcln_parse(&g, NULL, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_elf),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
