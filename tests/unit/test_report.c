// SPDX-License-Identifier: MIT
/*
 * Unit tests for report/: the profile model (deduplication, ids) and the
 * folded and top writers, checked byte for byte against what
 * stackcollapse-perf and `pprof -top` users expect to read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/report.h"
#include "report/report_int.h"

struct fx {
	struct rep_profile *p;
	uint32_t map;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct rep_mapping m = {.start = 0x400000,
				.limit = 0x500000,
				.offset = 0,
				.file = "/usr/bin/demo",
				.build_id = "abcd"};

	assert_non_null(f);
	f->p = rep_profile_new(10000000);
	assert_non_null(f->p);
	assert_int_equal(rep_profile_mapping(f->p, &m, &f->map), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rep_profile_free(f->p);
	free(f);
	return 0;
}

/* A location of one plain frame of a user function, at a made-up address per name. */
static uint32_t loc_kind(struct fx *f, const char *name, enum rep_kind kind)
{
	uint32_t fn, id;
	struct rep_line l = {0};

	assert_int_equal(rep_profile_function(f->p, name, "demo.c", kind, &fn), 0);
	l.function = fn;
	assert_int_equal(rep_profile_location(f->p, kind == REP_KIND_KERNEL ? UINT32_MAX : f->map,
					      0x401000 + 16 * fn, &l, 1, &id),
			 0);
	return id;
}

static uint32_t loc(struct fx *f, const char *name)
{
	return loc_kind(f, name, REP_KIND_USER);
}

/* Add a stack given root first (easier to read), as the API wants it leaf first. */
static void add(struct fx *f, const char *comm, uint32_t pid, uint32_t tid, uint64_t count,
		unsigned n, ...)
{
	struct rep_sample_key k = {pid, tid, comm};
	uint32_t locs[64];
	va_list ap;

	assert_true(n <= 64);
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		locs[n - 1 - i] = va_arg(ap, uint32_t);
	va_end(ap);
	assert_int_equal(rep_profile_add(f->p, &k, locs, n, count), 0);
}

/* Run a writer into a string the caller frees. */
static char *run(int (*w)(const struct rep_profile *, const struct rep_opts *, FILE *),
		 const struct rep_profile *p, const struct rep_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(w(p, o, m), 0);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void test_ids_dedup(void **state)
{
	struct fx *f = *state;
	struct rep_mapping m = {0x400000, 0x500000, 0, "/usr/bin/demo", "abcd"};
	struct rep_mapping m2 = {0x400000, 0x500000, 0, "/usr/bin/demo", NULL};
	uint32_t a, b, c, map;
	char tmp[16];

	assert_int_equal(rep_profile_mapping(f->p, &m, &map), 0);
	assert_int_equal(map, f->map);
	assert_int_equal(rep_profile_mapping(f->p, &m2, &map), 0);
	assert_int_not_equal(map, f->map);

	/* Strings are interned: a temporary buffer reused gives the same id. */
	strcpy(tmp, "main");
	assert_int_equal(rep_profile_function(f->p, tmp, "a.c", REP_KIND_USER, &a), 0);
	strcpy(tmp, "XXXX");
	assert_int_equal(rep_profile_function(f->p, "main", "a.c", REP_KIND_USER, &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(rep_profile_function(f->p, "main", "a.c", REP_KIND_KERNEL, &c), 0);
	assert_int_not_equal(a, c);

	/* Same stack and key: one entry, counts summed. */
	a = loc(f, "main");
	b = loc(f, "work");
	assert_int_equal(loc(f, "work"), b);
	add(f, "demo", 1, 1, 2, 2, a, b);
	add(f, "demo", 1, 1, 3, 2, a, b);
	add(f, "demo", 1, 2, 1, 2, a, b);
	assert_int_equal(f->p->stacks.n, 2);
	assert_int_equal(rep_profile_total(f->p), 6);

	/* Bad ids are refused, not stored. */
	{
		struct rep_line l = {.function = 999};
		uint32_t bad = 12345, id;

		assert_int_equal(rep_profile_location(f->p, f->map, 1, &l, 1, &id), -EINVAL);
		assert_int_equal(rep_profile_add(f->p, NULL, &bad, 1, 1), -EINVAL);
	}
}

/* Many distinct entries: the hash indexes grow and still find everything. */
static void test_many(void **state)
{
	struct fx *f = *state;
	uint32_t ids[3000];
	char name[32];

	for (unsigned i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "fn%u", i);
		ids[i] = loc(f, name);
	}
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "fn%u", i);
		assert_int_equal(loc(f, name), ids[i]);
		add(f, "x", 1, 1, 1, 2, ids[0], ids[i]);
		add(f, "x", 1, 1, 1, 2, ids[0], ids[i]);
	}
	assert_int_equal(f->p->stacks.n, 3000);
	assert_int_equal(rep_profile_total(f->p), 6000);
}

static void test_folded_basic(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), a = loc(f, "alpha"), b = loc(f, "beta");
	char *s;

	add(f, "demo", 10, 11, 5, 3, m, a, b);
	add(f, "demo", 10, 12, 2, 2, m, b);
	add(f, "demo", 10, 11, 7, 2, m, a);
	add(f, "demo", 20, 21, 1, 2, m, a); /* merges with pid 10's line without --pid */
	add(f, "zz top", 30, 30, 4, 1, m);
	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "demo;main;alpha 8\n"
			       "demo;main;alpha;beta 5\n"
			       "demo;main;beta 2\n"
			       "zz_top;main 4\n");
	free(s);
}

static void test_folded_pid_tid(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), a = loc(f, "alpha");
	struct rep_opts o = {.with_pid = true};
	char *s;

	add(f, "demo", 10, 11, 7, 2, m, a);
	add(f, "demo", 10, 12, 3, 2, m, a);
	add(f, "demo", 9, 9, 1, 2, m, a);
	s = run(rep_write_folded, f->p, &o);
	assert_string_equal(s, "demo-10;main;alpha 10\n"
			       "demo-9;main;alpha 1\n");
	free(s);
	o.with_tid = true;
	s = run(rep_write_folded, f->p, &o);
	assert_string_equal(s, "demo-10/11;main;alpha 7\n"
			       "demo-10/12;main;alpha 3\n"
			       "demo-9/9;main;alpha 1\n");
	free(s);
}

static void test_folded_min_count(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), a = loc(f, "alpha"), b = loc(f, "beta");
	struct rep_opts o = {.min_count = 3};
	char *s;

	/* min_count applies to merged lines: 2 + 2 from two threads pass, 2 alone does not. */
	add(f, "demo", 1, 1, 2, 2, m, a);
	add(f, "demo", 1, 2, 2, 2, m, a);
	add(f, "demo", 1, 1, 2, 2, m, b);
	add(f, "demo", 1, 1, 3, 1, m);
	s = run(rep_write_folded, f->p, &o);
	assert_string_equal(s, "demo;main 3\n"
			       "demo;main;alpha 4\n");
	free(s);
	o.with_tid = true;
	s = run(rep_write_folded, f->p, &o);
	assert_string_equal(s, "demo-1/1;main 3\n");
	free(s);
}

/* Kernel, JIT, inlined and unsymbolized frames, and a location with inlined lines. */
static void test_folded_kinds_inline(void **state)
{
	struct fx *f = *state;
	uint32_t fn_main, fn_outer, fn_mid, fn_inner, l_inl, l_raw, l_raw2, l_main, k3;
	uint32_t k1 = loc_kind(f, "entry_SYSCALL_64", REP_KIND_KERNEL);
	uint32_t k2 = loc_kind(f, "do_syscall_64", REP_KIND_KERNEL);
	uint32_t j = loc_kind(f, "LambdaForm$MH::invoke", REP_KIND_JIT);
	struct rep_line lines[3];
	char *s;

	assert_int_equal(rep_profile_function(f->p, "main", "m.c", REP_KIND_USER, &fn_main), 0);
	assert_int_equal(rep_profile_function(f->p, "outer", "o.c", REP_KIND_USER, &fn_outer), 0);
	assert_int_equal(rep_profile_function(f->p, "mid", "o.c", REP_KIND_USER, &fn_mid), 0);
	assert_int_equal(rep_profile_function(f->p, "inner", "o.h", REP_KIND_USER, &fn_inner), 0);
	lines[0] = (struct rep_line){fn_main, 3, false};
	assert_int_equal(rep_profile_location(f->p, f->map, 0x401000, lines, 1, &l_main), 0);
	/* One address: inner inlined into mid inlined into outer; innermost first. */
	lines[0] = (struct rep_line){fn_inner, 7, true};
	lines[1] = (struct rep_line){fn_mid, 20, true};
	lines[2] = (struct rep_line){fn_outer, 30, false};
	assert_int_equal(rep_profile_location(f->p, f->map, 0x402000, lines, 3, &l_inl), 0);
	/* No symbol: shown as [file+offset], offset = addr - start + file offset. */
	assert_int_equal(rep_profile_location(f->p, f->map, 0x401a2b, NULL, 0, &l_raw), 0);
	assert_int_equal(rep_profile_location(f->p, UINT32_MAX, 0xffff1234, NULL, 0, &l_raw2), 0);

	/* A kernel function inlined into a kernel one: _[i] after its _[k] caller. */
	assert_int_equal(rep_profile_function(f->p, "ksys_write", NULL, REP_KIND_KERNEL,
					      &lines[1].function),
			 0);
	assert_int_equal(rep_profile_function(f->p, "fdget_pos", NULL, REP_KIND_KERNEL,
					      &lines[0].function),
			 0);
	lines[0].inlined = true;
	lines[1].inlined = false;
	assert_int_equal(rep_profile_location(f->p, UINT32_MAX, 0xffffffff81000010, lines, 2, &k3),
			 0);

	add(f, "demo", 1, 1, 4, 5, l_main, l_inl, l_raw, k1, k2);
	add(f, "demo", 1, 1, 2, 3, l_main, j, l_raw2);
	add(f, "demo", 1, 1, 1, 3, l_main, k1, k3);
	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "demo;main;LambdaForm$MH::invoke_[j];[unknown] 2\n"
			       "demo;main;entry_SYSCALL_64_[k];ksys_write_[k];fdget_pos_[i] 1\n"
			       "demo;main;outer;mid_[i];inner_[i];[demo+0x1a2b];"
			       "entry_SYSCALL_64_[k];do_syscall_64_[k] 4\n");
	free(s);
}

/* Names that would break the format: ';', line breaks, trailing spaces, empty. */
static void test_folded_sanitize(void **state)
{
	struct fx *f = *state;
	uint32_t a = loc(f, "ns::f(int; char)"), b = loc(f, "bad\nname\t"), c = loc(f, "op ");
	uint32_t d = loc(f, ""), e = loc(f, "operator new(unsigned long)");
	char *s;

	add(f, "my comm;x", 1, 1, 1, 5, a, b, c, d, e);
	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "my_comm:x;ns::f(int: char);bad?name?;op_;[unknown];"
			       "operator new(unsigned long) 1\n");
	free(s);
}

/* Lines sort exactly as `LC_ALL=C sort` sorts them, count included. */
static void test_folded_order(void **state)
{
	struct fx *f = *state;
	uint32_t a = loc(f, "a"), b = loc(f, "b"), bx = loc(f, "b !x"), c = loc(f, "c"),
		 up = loc(f, "B"), hi = loc(f, "\xc3\xa9t\xc3\xa9");
	char *s;

	add(f, "p", 1, 1, 10, 2, a, b);
	add(f, "p", 1, 1, 1, 3, a, b, c);
	add(f, "p", 1, 1, 5, 2, a, bx);
	add(f, "p", 1, 1, 5, 2, a, up);
	add(f, "p", 1, 1, 5, 2, a, hi);
	add(f, "p", 1, 1, 9, 0);
	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "p 9\n"
			       "p;a;B 5\n"
			       "p;a;b !x 5\n"
			       "p;a;b 10\n"
			       "p;a;b;c 1\n"
			       "p;a;\xc3\xa9t\xc3\xa9 5\n");
	free(s);
}

static void test_top(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), r = loc(f, "recurse"), w = loc(f, "work"), z = loc(f, "zzz");
	struct rep_opts o = {.top = 3};
	char *s;

	/* recurse appears 3 times in one stack: total counts it once. */
	add(f, "demo", 1, 1, 60, 5, m, r, r, r, w);
	add(f, "demo", 1, 1, 30, 2, m, r);
	add(f, "demo", 1, 1, 10, 2, m, z);
	s = run(rep_write_top, f->p, NULL);
	assert_string_equal(s, "Showing top 4 of 4 functions, 100 samples (1.000 s of CPU)\n"
			       "  self%  total%       self      total  function\n"
			       " 60.00%  60.00%         60         60  work\n"
			       " 30.00%  90.00%         30         90  recurse\n"
			       " 10.00%  10.00%         10         10  zzz\n"
			       "  0.00% 100.00%          0        100  main\n");
	free(s);
	s = run(rep_write_top, f->p, &o);
	assert_non_null(strstr(s, "Showing top 3 of 4 functions"));
	assert_null(strstr(s, "main"));
	free(s);
}

/* Self goes to the innermost inlined frame, as pprof counts it. */
static void test_top_inline(void **state)
{
	struct fx *f = *state;
	uint32_t fn_outer, fn_inner, l, m = loc(f, "main");
	struct rep_line lines[2];
	char *s;

	assert_int_equal(rep_profile_function(f->p, "outer", "o.c", REP_KIND_USER, &fn_outer), 0);
	assert_int_equal(rep_profile_function(f->p, "inner", "o.h", REP_KIND_USER, &fn_inner), 0);
	lines[0] = (struct rep_line){fn_inner, 7, true};
	lines[1] = (struct rep_line){fn_outer, 30, false};
	assert_int_equal(rep_profile_location(f->p, f->map, 0x402000, lines, 2, &l), 0);
	add(f, "demo", 1, 1, 3, 2, m, l);
	add(f, "demo", 1, 1, 1, 1, m);
	s = run(rep_write_top, f->p, NULL);
	assert_string_equal(s, "Showing top 3 of 3 functions, 4 samples (0.040 s of CPU)\n"
			       "  self%  total%       self      total  function\n"
			       " 75.00%  75.00%          3          3  inner\n"
			       " 25.00% 100.00%          1          4  main\n"
			       "  0.00%  75.00%          0          3  outer\n");
	free(s);
}

static void test_empty(void **state)
{
	struct fx *f = *state;
	char *s;

	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "");
	free(s);
	s = run(rep_write_top, f->p, NULL);
	assert_string_equal(s, "Showing top 0 of 0 functions, 0 samples (0.000 s of CPU)\n"
			       "  self%  total%       self      total  function\n");
	free(s);
}

/* A full disk is reported as -ENOSPC, not as success. */
static void test_write_error(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main");
	FILE *full = fopen("/dev/full", "w");

	if (!full)
		skip();
	add(f, "demo", 1, 1, 1, 1, m);
	assert_int_equal(rep_write_folded(f->p, NULL, full), -ENOSPC);
	clearerr(full);
	assert_int_equal(rep_write_top(f->p, NULL, full), -ENOSPC);
	fclose(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ids_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_pid_tid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_min_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_kinds_inline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_sanitize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_folded_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_top, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_top_inline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
