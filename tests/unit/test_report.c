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
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

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
	struct rep_sample_key k = {pid, tid, comm, 0};
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
	assert_int_equal(
	    rep_profile_function(f->p, "ksys_write", NULL, REP_KIND_KERNEL, &lines[1].function), 0);
	assert_int_equal(
	    rep_profile_function(f->p, "fdget_pos", NULL, REP_KIND_KERNEL, &lines[0].function), 0);
	lines[0].inlined = true;
	lines[1].inlined = false;
	assert_int_equal(rep_profile_location(f->p, UINT32_MAX, 0xffffffff81000010, lines, 2, &k3),
			 0);

	/* A pseudo-file keeps one pair of brackets: [vdso+0x7bd], not [[vdso]+0x7bd]. */
	struct rep_mapping vm = {.start = 0x7fff0000, .limit = 0x7fff2000, .file = "[vdso]"};
	uint32_t vmap, l_vdso;

	assert_int_equal(rep_profile_mapping(f->p, &vm, &vmap), 0);
	assert_int_equal(rep_profile_location(f->p, vmap, 0x7fff07bd, NULL, 0, &l_vdso), 0);

	add(f, "demo", 1, 1, 4, 5, l_main, l_inl, l_raw, k1, k2);
	add(f, "demo", 1, 1, 2, 3, l_main, j, l_raw2);
	add(f, "demo", 1, 1, 1, 3, l_main, k1, k3);
	add(f, "demo", 1, 1, 3, 2, l_main, l_vdso);
	s = run(rep_write_folded, f->p, NULL);
	assert_string_equal(s, "demo;main;LambdaForm$MH::invoke_[j];[unknown] 2\n"
			       "demo;main;[vdso+0x7bd] 3\n"
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

/* ---- pprof: gunzip and decode the protobuf with a minimal reader ------------ */

struct pbf {
	unsigned field, wire;
	uint64_t v;	  /* varint */
	const uint8_t *p; /* length-delimited */
	size_t len;
};

static bool pb_next(const uint8_t **cur, const uint8_t *end, struct pbf *f)
{
	uint64_t key = 0, v = 0;
	unsigned shift = 0;

	if (*cur >= end)
		return false;
	for (shift = 0; *cur < end; shift += 7) {
		uint8_t b = *(*cur)++;

		key |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	f->field = (unsigned)(key >> 3);
	f->wire = key & 7;
	assert_true(f->wire == 0 || f->wire == 2);
	for (shift = 0; *cur < end; shift += 7) {
		uint8_t b = *(*cur)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	f->v = v;
	if (f->wire == 2) {
		assert_true(v <= (uint64_t)(end - *cur));
		f->p = *cur;
		f->len = v;
		*cur += v;
	}
	return true;
}

/* The idx-th occurrence of field in msg; false if there is none. */
static bool pb_get(const uint8_t *msg, size_t len, unsigned field, unsigned idx, struct pbf *out)
{
	const uint8_t *cur = msg;

	while (pb_next(&cur, msg + len, out))
		if (out->field == field && idx-- == 0)
			return true;
	return false;
}

static uint64_t pb_uint(const struct pbf *m, unsigned field)
{
	struct pbf f;

	return pb_get(m->p, m->len, field, 0, &f) ? f.v : 0;
}

static unsigned pb_count(const uint8_t *msg, size_t len, unsigned field)
{
	struct pbf f;
	unsigned n = 0;

	while (pb_get(msg, len, field, n, &f))
		n++;
	return n;
}

/* Packed repeated varints of field in m into out; returns how many. */
static unsigned pb_packed(const struct pbf *m, unsigned field, uint64_t *out, unsigned max)
{
	struct pbf f;
	const uint8_t *cur;
	unsigned n = 0;

	if (!pb_get(m->p, m->len, field, 0, &f))
		return 0;
	cur = f.p;
	while (cur < f.p + f.len && n < max) {
		uint64_t v = 0;

		for (unsigned shift = 0;; shift += 7) {
			uint8_t b = *cur++;

			v |= (uint64_t)(b & 0x7f) << shift;
			if (!(b & 0x80))
				break;
		}
		out[n++] = v;
	}
	return n;
}

struct pprof {
	uint8_t *buf;
	size_t len;
	const char *strs[256];
	size_t slen[256];
	unsigned nstrs;
};

static void pprof_load(struct pprof *pp, const char *gz, size_t gzlen)
{
	z_stream z = {0};
	size_t cap = 1 << 20;
	struct pbf f;

	pp->buf = malloc(cap);
	assert_non_null(pp->buf);
	assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
	z.next_in = (uint8_t *)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = pp->buf;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	pp->len = cap - z.avail_out;
	inflateEnd(&z);
	pp->nstrs = 0;
	while (pp->nstrs < 256 && pb_get(pp->buf, pp->len, 6, pp->nstrs, &f)) {
		pp->strs[pp->nstrs] = (const char *)f.p;
		pp->slen[pp->nstrs++] = f.len;
	}
}

static void assert_str(const struct pprof *pp, uint64_t id, const char *want)
{
	assert_true(id < pp->nstrs);
	if (pp->slen[id] != strlen(want) || memcmp(pp->strs[id], want, pp->slen[id]))
		fail_msg("string %llu is '%.*s', want '%s'", (unsigned long long)id,
			 (int)pp->slen[id], pp->strs[id], want);
}

static void test_pprof(void **state)
{
	struct fx *f = *state;
	uint32_t fn_outer, fn_inner, l_inl, m = loc(f, "main"),
					    k = loc_kind(f, "sys", REP_KIND_KERNEL);
	struct rep_line lines[2];
	struct pprof pp;
	struct pbf s, l, fn, mp, lab, vt;
	uint64_t v[8];
	char *gz = NULL;
	size_t gzlen = 0;
	FILE *mem;

	assert_int_equal(rep_profile_function(f->p, "outer", "o.c", REP_KIND_USER, &fn_outer), 0);
	assert_int_equal(rep_profile_function(f->p, "inner", "o.h", REP_KIND_USER, &fn_inner), 0);
	lines[0] = (struct rep_line){fn_inner, 7, true};
	lines[1] = (struct rep_line){fn_outer, 30, false};
	assert_int_equal(rep_profile_location(f->p, f->map, 0x402000, lines, 2, &l_inl), 0);
	add(f, "demo", 10, 11, 3, 3, m, l_inl, k);
	add(f, "worker", 10, 12, 2, 1, m);

	mem = open_memstream(&gz, &gzlen);
	assert_non_null(mem);
	assert_int_equal(rep_write_pprof(f->p, NULL, mem), 0);
	assert_int_equal(fclose(mem), 0);
	assert_true(gzlen > 18 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b);
	pprof_load(&pp, gz, gzlen);
	assert_true(pp.nstrs > 0);
	assert_str(&pp, 0, "");

	/* sample_type: [samples/count, cpu/nanoseconds]; period_type cpu/nanoseconds. */
	assert_true(pb_get(pp.buf, pp.len, 1, 0, &vt));
	assert_str(&pp, pb_uint(&vt, 1), "samples");
	assert_str(&pp, pb_uint(&vt, 2), "count");
	assert_true(pb_get(pp.buf, pp.len, 1, 1, &vt));
	assert_str(&pp, pb_uint(&vt, 1), "cpu");
	assert_str(&pp, pb_uint(&vt, 2), "nanoseconds");
	assert_true(pb_get(pp.buf, pp.len, 11, 0, &vt));
	assert_str(&pp, pb_uint(&vt, 1), "cpu");
	assert_str(&pp, pb_uint(&vt, 2), "nanoseconds");
	assert_true(pb_get(pp.buf, pp.len, 12, 0, &vt));
	assert_int_equal(vt.v, 10000000);

	/* First sample: leaf first (sys, the inlined location, main), values, labels. */
	assert_int_equal(pb_count(pp.buf, pp.len, 2), 2);
	assert_true(pb_get(pp.buf, pp.len, 2, 0, &s));
	assert_int_equal(pb_packed(&s, 1, v, 8), 3);
	assert_int_equal(v[0], k + 1);
	assert_int_equal(v[1], l_inl + 1);
	assert_int_equal(v[2], m + 1);
	assert_int_equal(pb_packed(&s, 2, v, 8), 2);
	assert_int_equal(v[0], 3);
	assert_int_equal(v[1], 30000000);
	assert_true(pb_get(s.p, s.len, 3, 0, &lab));
	assert_str(&pp, pb_uint(&lab, 1), "comm");
	assert_str(&pp, pb_uint(&lab, 2), "demo");
	assert_true(pb_get(s.p, s.len, 3, 1, &lab));
	assert_str(&pp, pb_uint(&lab, 1), "pid");
	assert_int_equal(pb_uint(&lab, 3), 10);
	assert_true(pb_get(s.p, s.len, 3, 2, &lab));
	assert_str(&pp, pb_uint(&lab, 1), "tid");
	assert_int_equal(pb_uint(&lab, 3), 11);

	/* The inlined location: its mapping, address, lines innermost first. */
	assert_true(pb_get(pp.buf, pp.len, 4, l_inl, &l));
	assert_int_equal(pb_uint(&l, 1), l_inl + 1);
	assert_int_equal(pb_uint(&l, 2), f->map + 1);
	assert_int_equal(pb_uint(&l, 3), 0x402000);
	{
		struct pbf ln;

		assert_int_equal(pb_count(l.p, l.len, 4), 2);
		assert_true(pb_get(l.p, l.len, 4, 0, &ln));
		assert_int_equal(pb_uint(&ln, 1), fn_inner + 1);
		assert_int_equal(pb_uint(&ln, 2), 7);
		assert_true(pb_get(l.p, l.len, 4, 1, &ln));
		assert_int_equal(pb_uint(&ln, 1), fn_outer + 1);
		assert_int_equal(pb_uint(&ln, 2), 30);
	}
	/* The kernel location has no mapping. */
	assert_true(pb_get(pp.buf, pp.len, 4, k, &l));
	assert_int_equal(pb_uint(&l, 2), 0);

	/* Functions: name, system_name, filename. */
	assert_true(pb_get(pp.buf, pp.len, 5, fn_inner, &fn));
	assert_int_equal(pb_uint(&fn, 1), fn_inner + 1);
	assert_str(&pp, pb_uint(&fn, 2), "inner");
	assert_str(&pp, pb_uint(&fn, 3), "inner");
	assert_str(&pp, pb_uint(&fn, 4), "o.h");

	/* Mapping: range, offset, file, build id and what the symbolizer found. */
	assert_true(pb_get(pp.buf, pp.len, 3, f->map, &mp));
	assert_int_equal(pb_uint(&mp, 1), f->map + 1);
	assert_int_equal(pb_uint(&mp, 2), 0x400000);
	assert_int_equal(pb_uint(&mp, 3), 0x500000);
	assert_int_equal(pb_uint(&mp, 4), 0);
	assert_str(&pp, pb_uint(&mp, 5), "/usr/bin/demo");
	assert_str(&pp, pb_uint(&mp, 6), "abcd");
	assert_int_equal(pb_uint(&mp, 7), 1);
	assert_int_equal(pb_uint(&mp, 8), 1);
	assert_int_equal(pb_uint(&mp, 9), 1);
	assert_int_equal(pb_uint(&mp, 10), 1);

	free(pp.buf);
	free(gz);
}

/* The executable goes first (pprof's main binary) even if ld.so was added before it. */
static void test_pprof_main_mapping(void **state)
{
	struct fx *f = *state;
	struct rep_mapping exe = {0x555555554000, 0x555555560000, 0, "/usr/bin/app", "ee"};
	uint32_t mexe, fn_start, fn_dl, l_start, l_dl, l_ld;
	struct rep_line l = {0};
	struct pprof pp;
	struct pbf mp, loc;
	char *gz = NULL;
	size_t gzlen = 0;
	FILE *mem;

	/* f->map (/usr/bin/demo, id 0) plays ld.so here: added first, holds no root. */
	assert_int_equal(rep_profile_mapping(f->p, &exe, &mexe), 0);
	assert_int_equal(rep_profile_function(f->p, "_start", NULL, REP_KIND_USER, &fn_start), 0);
	assert_int_equal(rep_profile_function(f->p, "_dl_start", NULL, REP_KIND_USER, &fn_dl), 0);
	l.function = fn_start;
	assert_int_equal(rep_profile_location(f->p, mexe, 0x555555555000, &l, 1, &l_start), 0);
	l.function = fn_dl;
	assert_int_equal(rep_profile_location(f->p, f->map, 0x401000, &l, 1, &l_dl), 0);
	assert_int_equal(rep_profile_location(f->p, f->map, 0x401100, &l, 1, &l_ld), 0);
	add(f, "app", 1, 1, 5, 2, l_start, l_dl);
	add(f, "app", 1, 1, 1, 1, l_ld); /* ld.so's own start: fewer samples */

	mem = open_memstream(&gz, &gzlen);
	assert_non_null(mem);
	assert_int_equal(rep_write_pprof(f->p, NULL, mem), 0);
	assert_int_equal(fclose(mem), 0);
	pprof_load(&pp, gz, gzlen);
	assert_true(pb_get(pp.buf, pp.len, 3, 0, &mp));
	assert_int_equal(pb_uint(&mp, 1), 1);
	assert_str(&pp, pb_uint(&mp, 5), "/usr/bin/app");
	assert_true(pb_get(pp.buf, pp.len, 3, 1, &mp));
	assert_int_equal(pb_uint(&mp, 1), 2);
	assert_str(&pp, pb_uint(&mp, 5), "/usr/bin/demo");
	assert_true(pb_get(pp.buf, pp.len, 4, l_dl, &loc));
	assert_int_equal(pb_uint(&loc, 2), 2);
	assert_true(pb_get(pp.buf, pp.len, 4, l_start, &loc));
	assert_int_equal(pb_uint(&loc, 2), 1);
	free(pp.buf);
	free(gz);
}

/* time_nanos (9) and duration_nanos (10): written when known, left out when not. */
static void test_pprof_time(void **state)
{
	struct fx *f = *state;
	struct pprof pp;
	struct pbf v;
	char *gz = NULL;
	size_t gzlen = 0;
	FILE *mem;

	add(f, "app", 1, 1, 3, 1, loc(f, "main"));
	for (int known = 0; known < 2; known++) {
		if (known)
			rep_profile_set_time(f->p, 1765000000123456789ull, 2500000000ull);
		mem = open_memstream(&gz, &gzlen);
		assert_non_null(mem);
		assert_int_equal(rep_write_pprof(f->p, NULL, mem), 0);
		assert_int_equal(fclose(mem), 0);
		pprof_load(&pp, gz, gzlen);
		assert_int_equal(pb_get(pp.buf, pp.len, 9, 0, &v), known);
		if (known)
			assert_int_equal(v.v, 1765000000123456789ull);
		assert_int_equal(pb_get(pp.buf, pp.len, 10, 0, &v), known);
		if (known)
			assert_int_equal(v.v, 2500000000ull);
		free(pp.buf);
		free(gz);
		gz = NULL;
	}
}

/* ---- the writer chosen by extension ----------------------------------------- */

static void test_output_by_extension(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {"a.folded", "dir/b.svg", "c.pb.gz", "d.txt"};
	static const char *const bad[] = {"a.fold", "b.gz", "c", "d.svg.tmp"};
	char path[] = "/tmp/rep_output_XXXXXX", file[64], got[4096];
	const char *why = NULL;
	struct rep_opts o = {0};
	FILE *in;
	size_t n;

	for (size_t i = 0; i < 4; i++)
		assert_int_equal(rep_output_check(good[i], &why), 0);
	for (size_t i = 0; i < 4; i++) {
		why = NULL;
		assert_int_equal(rep_output_check(bad[i], &why), -EINVAL);
		assert_non_null(strstr(why, ".folded"));
	}
	add(f, "app", 1, 1, 3, 2, loc(f, "main"), loc(f, "work"));
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/x.folded", path);
	assert_int_equal(rep_output_write(f->p, &o, file, &why), 0);
	in = fopen(file, "r");
	assert_non_null(in);
	n = fread(got, 1, sizeof(got) - 1, in);
	got[n] = 0;
	fclose(in);
	char *want = run(rep_write_folded, f->p, &o);

	assert_string_equal(got, want);
	free(want);
	assert_int_equal(rep_output_write(f->p, &o, "x.unknown", &why), -EINVAL);
	snprintf(file, sizeof(file), "%s/missing/x.svg", path);
	assert_int_equal(rep_output_write(f->p, &o, file, &why), -ENOENT);
	snprintf(file, sizeof(file), "%s/x.folded", path);
	unlink(file);
	rmdir(path);
}

/* ---- SVG ------------------------------------------------------------------- */

static void test_svg_escape(void **state)
{
	struct fx *f = *state;
	uint32_t a = loc(f, "a<b>&\"c\""), b = loc(f, "bad\xff\xc3(utf8)"),
		 c = loc(f, "caf\xc3\xa9");
	struct rep_opts o = {.title = "t<&>"};
	char *s = NULL;

	add(f, "demo", 1, 1, 5, 3, a, b, c);
	s = run(rep_write_svg, f->p, &o);
	assert_non_null(strstr(s, "<text id=\"title\" x=\"600\" y=\"24\">t&lt;&amp;&gt;</text>"));
	assert_non_null(
	    strstr(s, "<title>a&lt;b&gt;&amp;&quot;c&quot; (5 samples, 100.00%)</title>"));
	assert_non_null(strstr(s, "<title>bad?\?(utf8) (5 samples"));
	assert_non_null(strstr(s, "<title>caf\xc3\xa9 (5 samples"));
	/* Every byte the document holds is valid UTF-8 text: no stray 0xff. */
	assert_null(strchr(s, '\xff'));
	free(s);
}

/* Count "<g><title>NAME (" occurrences: how many frames named NAME are drawn. */
static int frames_named(const char *svg, const char *name)
{
	char pat[128];
	int n = 0;

	snprintf(pat, sizeof(pat), "<g><title>%s (", name);
	for (const char *p = svg; (p = strstr(p, pat)); p++)
		n++;
	return n;
}

static void test_svg_tree(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), a = loc(f, "alpha"), b = loc(f, "beta"),
		 k = loc_kind(f, "sys_read", REP_KIND_KERNEL);
	struct rep_opts o = {.min_count = 3};
	char *s;

	add(f, "demo", 1, 1, 6, 3, m, a, k);
	add(f, "demo", 1, 2, 4, 3, m, a, k); /* another thread: same frames, merged */
	add(f, "demo", 1, 1, 2, 2, m, b);
	s = run(rep_write_svg, f->p, NULL);
	/* Merged into a tree: one main, one alpha; shares of the 12 samples. */
	assert_int_equal(frames_named(s, "main"), 1);
	assert_int_equal(frames_named(s, "alpha"), 1);
	assert_non_null(strstr(s, "<title>all (12 samples, 100.00%)</title>"));
	assert_non_null(strstr(s, "<title>alpha (10 samples, 83.33%)</title>"));
	assert_non_null(strstr(s, "<title>sys_read_[k] (10 samples, 83.33%)</title>"));
	assert_non_null(strstr(s, "<title>beta (2 samples, 16.67%)</title>"));
	/* alpha (x 0) before beta; beta starts after alpha's 10 samples. */
	assert_non_null(strstr(s, "fg:x=\"10\" fg:w=\"2\""));
	/* Two static init()s from different files: one box, as they make one folded line. */
	{
		uint32_t fa, fb, la, lb;
		struct rep_line l = {0};
		char *folded;

		assert_int_equal(rep_profile_function(f->p, "init", "a.c", REP_KIND_USER, &fa), 0);
		assert_int_equal(rep_profile_function(f->p, "init", "b.c", REP_KIND_USER, &fb), 0);
		assert_int_not_equal(fa, fb);
		l.function = fa;
		assert_int_equal(rep_profile_location(f->p, f->map, 0x410000, &l, 1, &la), 0);
		l.function = fb;
		assert_int_equal(rep_profile_location(f->p, f->map, 0x420000, &l, 1, &lb), 0);
		add(f, "demo", 1, 1, 1, 2, m, la);
		add(f, "demo", 1, 1, 2, 2, m, lb);
		free(s);
		s = run(rep_write_svg, f->p, NULL);
		assert_int_equal(frames_named(s, "init"), 1);
		assert_non_null(strstr(s, "<title>init (3 samples, 20.00%)</title>"));
		folded = run(rep_write_folded, f->p, NULL);
		assert_non_null(strstr(folded, "\ndemo;main;init 3\n"));
		free(folded);
	}
	free(s);
	/*
	 * min_count drops beta's 2-sample line as the folded writer does, and
	 * keeps init's, whose 1 + 2 samples make one line of 3.
	 */
	s = run(rep_write_svg, f->p, &o);
	assert_int_equal(frames_named(s, "beta"), 0);
	assert_int_equal(frames_named(s, "init"), 1);
	assert_non_null(strstr(s, "<title>all (13 samples, 100.00%)</title>"));
	free(s);
}

/* Frames under 0.1 px are left out and counted; inverted puts the root on top. */
static void test_svg_prune_inverted(void **state)
{
	struct fx *f = *state;
	uint32_t m = loc(f, "main"), big = loc(f, "big"), tiny = loc(f, "tiny"),
		 tinier = loc(f, "tinier");
	struct rep_opts o = {.inverted = true};
	char *s, *p;

	add(f, "demo", 1, 1, 1000000, 2, m, big);
	add(f, "demo", 1, 1, 1, 3, m, tiny, tinier);
	s = run(rep_write_svg, f->p, NULL);
	assert_int_equal(frames_named(s, "big"), 1);
	assert_int_equal(frames_named(s, "tiny"), 0);
	assert_int_equal(frames_named(s, "tinier"), 0);
	assert_non_null(strstr(s, "2 frames narrower than 0.1 px not drawn"));
	/* Not inverted: "all" is the lowest frame, y = height - 34 - 16. */
	p = strstr(s, "<title>all (");
	assert_non_null(p);
	assert_non_null(strstr(s, "height=\"158\""));
	assert_non_null(strstr(p, "y="));
	assert_memory_equal(strstr(p, "y="), "y=\"108.0\"", 9);
	free(s);
	s = run(rep_write_svg, f->p, &o);
	p = strstr(s, "<title>all (");
	assert_non_null(p);
	assert_non_null(strstr(p, "y="));
	assert_memory_equal(strstr(p, "y="), "y=\"60.0\"", 8);
	assert_non_null(strstr(s, "fg:inverted=\"1\""));
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
	    cmocka_unit_test_setup_teardown(test_pprof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pprof_main_mapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pprof_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_by_extension, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_svg_escape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_svg_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_svg_prune_inverted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
