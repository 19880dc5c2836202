// SPDX-License-Identifier: MIT
/*
 * Unit tests of the compact unwind table (unwind/table.c): building from
 * rows, lookups at the edges (first and last row, gaps, terminators, 64 KiB
 * block boundaries, empty blocks, an empty table), merging, rule records that
 * do and do not fit, and validation of stored blobs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/auxv.h>

#include <cmocka.h>

#include "unwind/unwind_int.h"

static struct unw_rule cfa(uint8_t reg, int32_t off, int32_t bp_off)
{
	struct unw_rule r = {.type = UNW_RULE_CFA,
			     .cfa_reg = reg,
			     .cfa_off = off,
			     .ra_loc = UNW_LOC_CFA_OFF,
			     .ra_off = -8};

	if (bp_off) {
		r.bp_loc = UNW_LOC_CFA_OFF;
		r.bp_off = bp_off;
	}
	return r;
}

static const struct unw_rule none = {.type = UNW_RULE_NONE};

static void assert_rule_eq(const struct unw_rule *a, const struct unw_rule *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->cfa_reg, b->cfa_reg);
	assert_int_equal(a->cfa_off, b->cfa_off);
	assert_int_equal(a->ra_loc, b->ra_loc);
	assert_int_equal(a->ra_off, b->ra_off);
	assert_int_equal(a->bp_loc, b->bp_loc);
	assert_int_equal(a->bp_off, b->bp_off);
	assert_int_equal(a->flags, b->flags);
	for (int i = 0; i < UNW_NSAVED; i++) {
		assert_int_equal(a->reg_loc[i], b->reg_loc[i]);
		assert_int_equal(a->reg_off[i], b->reg_off[i]);
	}
}

static void test_empty(void **state)
{
	struct unw_table *t = unw_table_from_rows(NULL, NULL, 0);
	struct unw_rule r = {.type = UNW_RULE_CFA};

	(void)state;
	assert_non_null(t);
	assert_int_equal(unw_table_count(t), 0);
	assert_int_equal(unw_table_lookup(t, 0, &r), -ENOENT);
	assert_int_equal(r.type, UNW_RULE_NONE);
	assert_int_equal(unw_table_lookup(t, 0x1234, &r), -ENOENT);
	assert_int_equal(unw_table_lookup(NULL, 0x1234, &r), -ENOENT);
	assert_int_equal(unw_table_count(NULL), 0);
	unw_table_free(t);
	unw_table_free(NULL);
}

/* Two functions with a padding gap between them, each closed by a terminator. */
static void test_edges(void **state)
{
	const uint64_t addr[] = {0x1000, 0x1001, 0x1004, 0x1010, 0x1020, 0x1021, 0x1024, 0x1030};
	const struct unw_rule rule[] = {
	    cfa(7, 8, 0), cfa(7, 16, -16), cfa(6, 16, -16), none,
	    cfa(7, 8, 0), cfa(7, 16, -16), cfa(6, 16, -16), none,
	};
	const struct {
		uint64_t vaddr;
		int ret;
		int row; /* index into rule[] */
	} cases[] = {
	    {0, -ENOENT, -1},	      {0xfff, -ENOENT, -1}, {0x1000, 0, 0},
	    {0x1001, 0, 1},	      {0x1003, 0, 1},	    {0x1004, 0, 2},
	    {0x100f, 0, 2},	      {0x1010, -ENOENT, 3}, {0x101f, -ENOENT, 3},
	    {0x1020, 0, 4},	      {0x102f, 0, 6},	    {0x1030, -ENOENT, 7},
	    {0x1031, -ENOENT, 7},     {0xffff, -ENOENT, 7}, {0x10000, -ENOENT, 7},
	    {UINT64_MAX, -ENOENT, 7},
	};
	struct unw_table *t = unw_table_from_rows(addr, rule, 8);

	(void)state;
	assert_non_null(t);
	/* rows 0/4 and 1/5 are equal but not neighbours: nothing merges */
	assert_int_equal(unw_table_count(t), 8);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unw_rule r;

		memset(&r, 0xa5, sizeof(r));
		assert_int_equal(unw_table_lookup(t, cases[i].vaddr, &r), cases[i].ret);
		assert_rule_eq(&r, cases[i].row < 0 ? &none : &rule[cases[i].row]);
	}
	for (size_t i = 0; i < 8; i++) {
		uint64_t a;
		struct unw_rule r;

		unw_table_row(t, i, &a, &r);
		assert_int_equal(a, addr[i]);
		assert_rule_eq(&r, &rule[i]);
	}
	unw_table_free(t);
}

/* Rows 64 KiB and more apart: empty blocks, entries at block starts and ends. */
static void test_blocks(void **state)
{
	const uint64_t addr[] = {0x7fff0, 0x80000, 0x8fffe, 0xaffff, 0xd0000, 0xd0001};
	const struct unw_rule rule[] = {
	    cfa(7, 8, 0), cfa(7, 16, 0), cfa(7, 24, 0), cfa(7, 32, 0), cfa(7, 40, 0), none,
	};
	const struct {
		uint64_t vaddr;
		int row;
	} cases[] = {
	    {0x7ffef, -1}, {0x70000, -1}, {0x7fff0, 0}, {0x7ffff, 0}, {0x80000, 1}, {0x8fffd, 1},
	    {0x8fffe, 2},  {0x8ffff, 2},  {0x90000, 2}, {0xa0000, 2}, {0xafffe, 2}, {0xaffff, 3},
	    {0xb0000, 3},  {0xcffff, 3},  {0xd0000, 4}, {0xd0001, 5}, {0xe0000, 5},
	};
	struct unw_table *t = unw_table_from_rows(addr, rule, 6);

	(void)state;
	assert_non_null(t);
	assert_int_equal(unw_table_count(t), 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unw_rule r;
		int want = cases[i].row;
		int ret = unw_table_lookup(t, cases[i].vaddr, &r);

		assert_int_equal(ret, want < 0 || rule[want].type == UNW_RULE_NONE ? -ENOENT : 0);
		assert_rule_eq(&r, want < 0 ? &none : &rule[want]);
	}
	for (size_t i = 0; i < 6; i++) {
		uint64_t a;
		struct unw_rule r;

		unw_table_row(t, i, &a, &r);
		assert_int_equal(a, addr[i]);
	}
	unw_table_free(t);
}

/* Equal neighbours merge; of rows at one address the last wins. */
static void test_merge(void **state)
{
	const uint64_t addr[] = {0x100, 0x104, 0x108, 0x108, 0x110, 0x110, 0x120};
	const struct unw_rule rule[] = {
	    cfa(7, 8, 0),  cfa(7, 8, 0),  cfa(7, 32, 0), cfa(7, 16, 0),
	    cfa(7, 24, 0), cfa(7, 16, 0), none,
	};
	const uint64_t want_addr[] = {0x100, 0x108, 0x120};
	const struct unw_rule want_rule[] = {cfa(7, 8, 0), cfa(7, 16, 0), none};
	struct unw_table *t = unw_table_from_rows(addr, rule, 7);

	(void)state;
	assert_non_null(t);
	assert_int_equal(unw_table_count(t), 3);
	for (size_t i = 0; i < 3; i++) {
		uint64_t a;
		struct unw_rule r;

		unw_table_row(t, i, &a, &r);
		assert_int_equal(a, want_addr[i]);
		assert_rule_eq(&r, &want_rule[i]);
	}
	unw_table_free(t);
}

/* Every rule type and location the record holds survives the round trip. */
static void test_rule_kinds(void **state)
{
	struct unw_rule rules[] = {
	    {.type = UNW_RULE_PLT},
	    {.type = UNW_RULE_SIGNAL},
	    {.type = UNW_RULE_OUTERMOST},
	    {.type = UNW_RULE_FALLBACK},
	    cfa(7, 65600, 0),
	    cfa(7, 33360, -48),
	    cfa(6, 16, -16),
	    /* vfork: CFA = rsp + 0, RA in rdi */
	    {.type = UNW_RULE_CFA, .cfa_reg = 7, .ra_loc = UNW_LOC_REG, .ra_off = 5},
	    /* longjmp: CFA = rdi, RA in rdx, rbp in r9 */
	    {.type = UNW_RULE_CFA,
	     .cfa_reg = 5,
	     .ra_loc = UNW_LOC_REG,
	     .ra_off = 1,
	     .bp_loc = UNW_LOC_REG,
	     .bp_off = 9},
	    /* setcontext: CFA = rdx, RA at CFA + 168, rbp at CFA + 120 */
	    {.type = UNW_RULE_CFA,
	     .cfa_reg = 1,
	     .ra_loc = UNW_LOC_CFA_OFF,
	     .ra_off = 168,
	     .bp_loc = UNW_LOC_CFA_OFF,
	     .bp_off = 120},
	    {.type = UNW_RULE_CFA,
	     .cfa_reg = 7,
	     .cfa_off = -8,
	     .ra_loc = UNW_LOC_CFA_OFF,
	     .ra_off = -1024,
	     .bp_loc = UNW_LOC_UNDEF},
	    /* rbx, r12..r15 each in every kind of place, synthesized */
	    {.type = UNW_RULE_CFA,
	     .cfa_reg = 7,
	     .cfa_off = 56,
	     .ra_loc = UNW_LOC_CFA_OFF,
	     .ra_off = -8,
	     .flags = UNW_RULE_F_SYNTH,
	     .reg_loc = {UNW_LOC_CFA_OFF, UNW_LOC_REG, UNW_LOC_UNDEF, UNW_LOC_SAME,
			 UNW_LOC_CFA_OFF},
	     .reg_off = {-16, 3, 0, 0, -1024}},
	    {.type = UNW_RULE_OUTERMOST, .flags = UNW_RULE_F_SYNTH},
	    none,
	};
	size_t n = sizeof(rules) / sizeof(rules[0]);
	uint64_t addr[sizeof(rules) / sizeof(rules[0])];

	(void)state;
	for (size_t i = 0; i < n; i++)
		addr[i] = 0x400000 + 16 * i;
	struct unw_table *t = unw_table_from_rows(addr, rules, n);
	assert_non_null(t);
	assert_int_equal(unw_table_count(t), n);
	for (size_t i = 0; i + 1 < n; i++) {
		struct unw_rule r;

		assert_int_equal(unw_table_lookup(t, addr[i] + 15, &r), 0);
		assert_rule_eq(&r, &rules[i]);
	}
	unw_table_free(t);
}

static void test_bad_rows(void **state)
{
	const uint64_t up[] = {0x10, 0x20}, down[] = {0x20, 0x10};
	struct unw_rule ok[] = {cfa(7, 8, 0), none};
	struct unw_rule odd[] = {cfa(7, 8, -12), none};
	struct unw_rule far[] = {cfa(7, 8, -2048), none};
	struct unw_rule reg[] = {cfa(40, 8, 0), none};
	struct unw_rule type[] = {{.type = 9}, none};
	const uint64_t huge[] = {0x1000, 0x1000 + (1ull << 32)};

	(void)state;
	errno = 0;
	assert_null(unw_table_from_rows(down, ok, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_from_rows(up, odd, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_from_rows(up, far, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_from_rows(up, reg, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_from_rows(up, type, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_from_rows(huge, ok, 2));
	assert_int_equal(errno, E2BIG);
}

/* A random table against a linear search; > 256 distinct rules (u16 ids). */
static void test_random(void **state)
{
	enum { N = 20000 };
	uint64_t *addr = malloc(N * sizeof(*addr));
	struct unw_rule *rule = malloc(N * sizeof(*rule));
	uint64_t a = 0x10000000 + 12345;
	unsigned seed = 1;

	(void)state;
	assert_non_null(addr);
	assert_non_null(rule);
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		/* mostly short rows, sometimes a jump over several 64 KiB blocks */
		a += (seed >> 16) % 97 == 0 ? 200000 : 1 + (seed >> 16) % 300;
		addr[i] = a;
		rule[i] = (seed >> 8) % 11 == 0
			      ? none
			      : cfa(7, 8 * (1 + (int32_t)((seed >> 4) % 1000)), 0);
	}
	rule[N - 1] = none;
	struct unw_table *t = unw_table_from_rows(addr, rule, N);
	assert_non_null(t);
	assert_true(unw_table_count(t) > N / 2);
	for (size_t q = 0; q < 50000; q++) {
		struct unw_rule r;
		uint64_t v;
		long lo = 0, hi = N;

		seed = seed * 1103515245u + 12345u;
		v = addr[0] - 10 + ((uint64_t)seed * 2654435761u) % (a - addr[0] + 20);
		while (lo < hi) {
			long mid = (lo + hi) / 2;

			if (addr[mid] <= v)
				lo = mid + 1;
			else
				hi = mid;
		}
		const struct unw_rule *want = lo == 0 ? &none : &rule[lo - 1];
		assert_int_equal(unw_table_lookup(t, v, &r),
				 want->type == UNW_RULE_NONE ? -ENOENT : 0);
		assert_rule_eq(&r, want);
	}
	unw_table_free(t);
	free(addr);
	free(rule);
}

/* A stored blob loads back; any corrupted byte is caught. */
static void test_blob(void **state)
{
	const uint64_t addr[] = {0x1000, 0x1004, 0x21000, 0x21010};
	const struct unw_rule rule[] = {cfa(7, 8, 0), cfa(7, 16, -16), cfa(6, 16, -16), none};
	struct unw_table *t = unw_table_from_rows(addr, rule, 4);
	size_t size;
	const void *blob;

	(void)state;
	assert_non_null(t);
	blob = unw_table_blob(t, &size);
	assert_true(size > sizeof(struct unw_tab_hdr));

	void *copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, blob, size);
	struct unw_table *t2 = unw_table_from_blob(copy, size);
	assert_non_null(t2);
	assert_int_equal(unw_table_count(t2), 4);
	for (uint64_t v = 0xff0; v < 0x21020; v += 7) {
		struct unw_rule r1, r2;

		assert_int_equal(unw_table_lookup(t, v, &r1), unw_table_lookup(t2, v, &r2));
		assert_rule_eq(&r1, &r2);
	}
	unw_table_free(t2);

	for (size_t i = 0; i < size; i++) {
		copy = malloc(size);
		assert_non_null(copy);
		memcpy(copy, blob, size);
		((uint8_t *)copy)[i] ^= 0x40;
		errno = 0;
		t2 = unw_table_from_blob(copy, size);
		if (t2)
			fail_msg("byte %zu corrupted but accepted", i);
		assert_int_equal(errno, EINVAL);
	}
	copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, blob, size);
	assert_null(unw_table_from_blob(copy, size - 2));
	unw_table_free(t);
}

/* The error of each kind of bad file, and a real library end to end. */
static void test_from_elf(void **state)
{
	struct unw_gen_stats st;
	struct unw_table *t;
	struct unw_rule r;

	(void)state;
	errno = 0;
	assert_null(unw_table_from_elf("/nonexistent/libfoo.so", NULL, &st));
	assert_int_equal(errno, ENOENT);
	assert_null(unw_table_from_elf("/etc/passwd", NULL, &st));
	assert_int_equal(errno, ENOEXEC);
	assert_null(unw_table_from_image("\177ELF", 4, &st));
	assert_int_equal(errno, ENOEXEC);

	t = unw_table_from_elf("/lib/x86_64-linux-gnu/libc.so.6", NULL, &st);
	assert_non_null(t);
	/* cfi-survey.md: 3,713 FDEs and 25,212 rows, every one representable */
	assert_true(st.fdes > 1000);
	assert_true(st.rows >= st.fdes);
	assert_int_equal(st.entries, unw_table_count(t));
	assert_true(st.rules > 256); /* the reason for u16 rule ids */
	for (int k = 0; k < UNW_UNREP_NR; k++)
		assert_int_equal(st.unrep[k], 0);
	assert_true(st.bytes < st.eh_frame_bytes);
	/* the last entry closes the last FDE */
	uint64_t a;
	unw_table_row(t, unw_table_count(t) - 1, &a, &r);
	assert_int_equal(r.type, UNW_RULE_NONE);
	assert_int_equal(unw_table_lookup(t, a, &r), -ENOENT);
	unw_table_free(t);
}

/* The vDSO of this process, as the recorder captures it. */
static void test_vdso(void **state)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	struct unw_gen_stats st;
	struct unw_table *t;

	(void)state;
	if (!eh)
		skip();
	/* The section headers are the vDSO's last bytes. */
	size_t len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	t = unw_table_from_image(eh, len, &st);
	assert_non_null(t);
	assert_true(st.fdes > 0);
	assert_true(unw_table_count(t) > st.fdes);
	assert_int_equal(st.unrep[UNW_UNREP_BAD_FDE], 0);
	unw_table_free(t);
}

/*
 * unw_table_overlay(): spans win inside themselves, the base answers
 * elsewhere, including after a span that hid some of its rows; a span at a
 * base row's address and back-to-back spans; no base at all; bad spans.
 */
static void test_overlay(void **state)
{
	/* base: f1 [0x1000, 0x1040) in two rows, f2 [0x1080, 0x10c0), gaps terminated */
	const uint64_t baddr[] = {0x1000, 0x1010, 0x1040, 0x1080, 0x10c0};
	const struct unw_rule brule[] = {cfa(7, 8, 0), cfa(7, 16, 0), none, cfa(6, 16, -16), none};
	const struct unw_rule outer = {.type = UNW_RULE_OUTERMOST};
	const struct unw_rule sig = {.type = UNW_RULE_SIGNAL};
	const struct unw_span spans[] = {
	    {0x1008, 0x1018, cfa(7, 40, -16)}, /* inside f1, over its row change */
	    {0x1040, 0x1050, outer},	       /* in the gap, at the terminator */
	    {0x1050, 0x1060, sig},	       /* back to back with the one before */
	    {0x1070, 0x1070, sig},	       /* empty: ignored */
	    {0x1100, 0x1110, cfa(7, 24, 0)},   /* after every base row */
	};
	const struct {
		uint64_t at;
		struct unw_rule want;
	} cases[] = {
	    {0x0fff, none},
	    {0x1000, cfa(7, 8, 0)},
	    {0x1007, cfa(7, 8, 0)},
	    {0x1008, cfa(7, 40, -16)},
	    {0x1010, cfa(7, 40, -16)},
	    {0x1017, cfa(7, 40, -16)},
	    {0x1018, cfa(7, 16, 0)},
	    {0x103f, cfa(7, 16, 0)},
	    {0x1040, outer},
	    {0x104f, outer},
	    {0x1050, sig},
	    {0x105f, sig},
	    {0x1060, none},
	    {0x1080, cfa(6, 16, -16)},
	    {0x10c0, none},
	    {0x1100, cfa(7, 24, 0)},
	    {0x110f, cfa(7, 24, 0)},
	    {0x1110, none},
	};
	struct unw_table *base = unw_table_from_rows(baddr, brule, 5), *t, *t2;
	struct unw_rule r;

	(void)state;
	assert_non_null(base);
	t = unw_table_overlay(base, spans, sizeof(spans) / sizeof(spans[0]));
	assert_non_null(t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unw_table_lookup(t, cases[i].at, &r);
		assert_rule_eq(&r, &cases[i].want);
	}
	unw_table_free(t);

	/* no base: only the spans, a terminator after each */
	t = unw_table_overlay(NULL, spans, 2);
	assert_non_null(t);
	assert_int_equal(unw_table_lookup(t, 0x1000, &r), -ENOENT);
	unw_table_lookup(t, 0x1008, &r);
	assert_rule_eq(&r, &spans[0].rule);
	assert_int_equal(unw_table_lookup(t, 0x1018, &r), -ENOENT);
	unw_table_lookup(t, 0x1045, &r);
	assert_rule_eq(&r, &outer);
	assert_int_equal(unw_table_lookup(t, 0x1050, &r), -ENOENT);
	/* no spans: the base as it is */
	t2 = unw_table_overlay(base, NULL, 0);
	assert_non_null(t2);
	assert_int_equal(unw_table_count(t2), unw_table_count(base));
	unw_table_free(t2);
	unw_table_free(t);

	/* overlapping or unsorted spans are refused */
	const struct unw_span overlap[] = {{0x1000, 0x1010, outer}, {0x100f, 0x1020, sig}};
	const struct unw_span unsorted[] = {{0x1100, 0x1110, outer}, {0x1000, 0x1010, sig}};

	errno = 0;
	assert_null(unw_table_overlay(base, overlap, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(unw_table_overlay(base, unsorted, 2));
	assert_int_equal(errno, EINVAL);
	unw_table_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),      cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_blocks),     cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_rule_kinds), cmocka_unit_test(test_bad_rows),
	    cmocka_unit_test(test_random),     cmocka_unit_test(test_blob),
	    cmocka_unit_test(test_from_elf),   cmocka_unit_test(test_vdso),
	    cmocka_unit_test(test_overlay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
