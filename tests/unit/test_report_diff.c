// SPDX-License-Identifier: MIT
/*
 * Unit tests for report/'s readers of finished profiles (folded, pprof) and
 * its differential writers: what a user would check, the stacks that come
 * back from a file, the line a bad file is refused at, the colour and the
 * counts of a function that grew or shrank.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "report/report.h"
#include "report/report_int.h"

/* Run a writer into a string the caller frees; *len gets its length. */
static char *run(int (*w)(const struct rep_profile *, const struct rep_opts *, FILE *),
		 const struct rep_profile *p, const struct rep_opts *o, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(w(p, o, m), 0);
	assert_int_equal(fclose(m), 0);
	if (lenp)
		*lenp = len;
	return buf;
}

static char *run_diff(int (*w)(const struct rep_profile *, const struct rep_profile *,
			       const struct rep_opts *, FILE *),
		      const struct rep_profile *after, const struct rep_profile *before,
		      const struct rep_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(w(after, before, o, m), 0);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static struct rep_profile *folded(const char *text)
{
	struct rep_profile *p = rep_profile_new(0);
	char why[200] = "";
	int err;

	assert_non_null(p);
	err = rep_read_folded(p, text, strlen(text), why, sizeof(why));
	if (err)
		fail_msg("rep_read_folded: %d %s", err, why);
	return p;
}

/* ---- folded reader ----------------------------------------------------------------- */

/* What the folded writer wrote comes back byte for byte, kinds and inlined frames included. */
static void test_folded_round_trip(void **state)
{
	/* in sort(1)'s C-locale order, as the writer gives it */
	static const char in[] =
	    "demo-1/2;_start;main;[libfoo.so+0x1a2b] 5\n"
	    "demo-1/2;_start;main;compute;hash_[i];mix_[i] 50\n"
	    "demo-1/2;_start;main;io;write;entry_SYSCALL_64_[k];ksys_write_[k] 30\n"
	    "java;Interpreter;LambdaForm$MH::invoke_[j] 7\n"
	    "odd;operator new(unsigned long);a<b> 3\n"
	    "solo 2\n";
	struct rep_profile *p = folded(in);
	char *s;

	(void)state;
	s = run(rep_write_folded, p, NULL, NULL);
	assert_string_equal(s, in);
	free(s);
	assert_int_equal(rep_profile_total(p), 97);
	/* hash_[i] and mix_[i] are lines of compute's location: one address, three lines */
	{
		bool found = false;

		for (size_t i = 0; i < p->locs.n; i++)
			if (p->locs.v[i].nlines == 3) {
				const struct rep_line_int *l = &p->lines.v[p->locs.v[i].line0];

				assert_string_equal(rep_str(p, p->funcs.v[l[0].function].name),
						    "mix");
				assert_true(l[0].inlined && l[1].inlined && !l[2].inlined);
				assert_string_equal(rep_str(p, p->funcs.v[l[2].function].name),
						    "compute");
				found = true;
			}
		assert_true(found);
	}
	rep_profile_free(p);
}

/* Equal lines add up; blank lines, CRLF, tabs before the count are fine (flamegraph.pl's rules). */
static void test_folded_merge_blank(void **state)
{
	struct rep_profile *p = folded("\n"
				       "a;b 1\r\n"
				       "   \n"
				       "a;b\t2\n"
				       "a;c 0\n"
				       "a;b 3");
	char *s;

	(void)state;
	s = run(rep_write_folded, p, NULL, NULL);
	assert_string_equal(s, "a;b 6\n");
	free(s);
	rep_profile_free(p);
}

/* Bad input: -EINVAL and a reason naming the line, never a guess. */
static void test_folded_errors(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
	    {"a;b\n", "line 1: no sample count at the end"},
	    {"a;b 1\na;b x\n", "line 2: no sample count at the end"},
	    {"a;b 1\n\na;b1\n", "line 3: no sample count at the end"},
	    {"a;b -1\n", "line 1: no sample count at the end"},
	    {"a;b 1.5\n", "line 1: no sample count at the end"},
	    {"   7\n", "line 1: a count without a stack"},
	    {"12\n", "line 1: no sample count at the end"},
	    {"a 18446744073709551616\n", "line 1: sample count too large"},
	    {"a 18446744073709551615\nb 1\n", "line 2: sample counts add up past 2^64"},
	    {"a;b 1\na;c\0d 1\n", "line 2: a NUL byte"},
	};
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rep_profile *p = rep_profile_new(0);
		size_t len = strlen(cases[i].in);

		if (strstr(cases[i].why, "NUL"))
			len += 1 + strlen(cases[i].in + len + 1); /* the bytes after the NUL too */
		why[0] = '\0';
		assert_int_equal(rep_read_folded(p, cases[i].in, len, why, sizeof(why)), -EINVAL);
		if (strncmp(why, cases[i].why, strlen(cases[i].why)))
			fail_msg("case %zu: why '%s', expected '%s'", i, why, cases[i].why);
		rep_profile_free(p);
	}
}

/* A stack deeper than REP_READ_MAX_FRAMES is refused rather than allocated. */
static void test_folded_too_deep(void **state)
{
	size_t n = REP_READ_MAX_FRAMES + 1, len = 1 + 2 * n + 2;
	char *in = malloc(len + 1), why[200] = "";
	struct rep_profile *p = rep_profile_new(0);

	(void)state;
	assert_non_null(in);
	in[0] = 'r';
	for (size_t i = 0; i < n; i++)
		memcpy(in + 1 + 2 * i, ";f", 2);
	memcpy(in + 1 + 2 * n, " 1", 2);
	in[len] = '\0';
	assert_int_equal(rep_read_folded(p, in, len, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 65536 frames"));
	free(in);
	rep_profile_free(p);
}

/* ---- pprof reader ------------------------------------------------------------------- */

/* A profile as the pipeline builds it: mappings, kernel frames, inlined lines, pid/tid. */
static struct rep_profile *pipeline_like(void)
{
	struct rep_profile *p = rep_profile_new(10101010);
	struct rep_mapping exe = {0x400000, 0x500000, 0, "/usr/bin/demo", "abcd"};
	uint32_t m, f_start, f_main, f_outer, f_inner, f_k, l_start, l_main, l_inl, l_k, l_raw;
	struct rep_line ln[2];
	struct rep_sample_key k1 = {100, 101, "demo", 0}, k2 = {100, 102, "demo worker", 0};

	assert_non_null(p);
	assert_int_equal(rep_profile_mapping(p, &exe, &m), 0);
	assert_int_equal(rep_profile_function(p, "_start", NULL, REP_KIND_USER, &f_start), 0);
	assert_int_equal(rep_profile_function(p, "main", "m.c", REP_KIND_USER, &f_main), 0);
	assert_int_equal(rep_profile_function(p, "outer", "o.c", REP_KIND_USER, &f_outer), 0);
	assert_int_equal(rep_profile_function(p, "inner", "o.h", REP_KIND_USER, &f_inner), 0);
	assert_int_equal(rep_profile_function(p, "ksys_write", NULL, REP_KIND_KERNEL, &f_k), 0);
	ln[0] = (struct rep_line){f_start, 0, false};
	assert_int_equal(rep_profile_location(p, m, 0x401000, ln, 1, &l_start), 0);
	ln[0] = (struct rep_line){f_main, 3, false};
	assert_int_equal(rep_profile_location(p, m, 0x401100, ln, 1, &l_main), 0);
	ln[0] = (struct rep_line){f_inner, 7, true};
	ln[1] = (struct rep_line){f_outer, 30, false};
	assert_int_equal(rep_profile_location(p, m, 0x402000, ln, 2, &l_inl), 0);
	ln[0] = (struct rep_line){f_k, 0, false};
	assert_int_equal(rep_profile_location(p, REP_NONE, 0xffffffff81000010ull, ln, 1, &l_k), 0);
	assert_int_equal(rep_profile_location(p, m, 0x403a2b, NULL, 0, &l_raw), 0);
	assert_int_equal(rep_profile_add(p, &k1, (uint32_t[]){l_inl, l_main, l_start}, 3, 40), 0);
	assert_int_equal(rep_profile_add(p, &k2, (uint32_t[]){l_k, l_main, l_start}, 3, 25), 0);
	assert_int_equal(rep_profile_add(p, &k2, (uint32_t[]){l_raw, l_main, l_start}, 3, 5), 0);
	return p;
}

static char *pprof_bytes(const struct rep_profile *p, size_t *len)
{
	return run(rep_write_pprof, p, NULL, len);
}

/* What the pprof writer wrote reads back to the same stacks, kinds, threads and period. */
static void test_pprof_round_trip(void **state)
{
	struct rep_profile *p = pipeline_like(), *q = rep_profile_new(0);
	struct rep_opts tid = {.with_pid = true, .with_tid = true};
	char why[200] = "", *a, *b, *bytes;
	size_t len;

	(void)state;
	bytes = pprof_bytes(p, &len);
	assert_int_equal(rep_read_pprof(q, bytes, len, why, sizeof(why)), 0);
	a = run(rep_write_folded, p, &tid, NULL);
	b = run(rep_write_folded, q, &tid, NULL);
	assert_string_equal(b, a);
	assert_non_null(strstr(b, "demo_worker-100/102;_start;main;ksys_write_[k] 25\n"));
	assert_non_null(strstr(b, "demo-100/101;_start;main;outer;inner_[i] 40\n"));
	assert_non_null(strstr(b, "demo_worker-100/102;_start;main;[demo+0x3a2b] 5\n"));
	assert_int_equal(q->period_ns, 10101010);
	free(a);
	free(b);
	free(bytes);
	rep_profile_free(p);
	rep_profile_free(q);
}

/* A sample's service label, for merge_keep(). */
static const char *label_of(const struct rep_profile *p, uint32_t set, const char *key)
{
	struct rep_label l[REP_LABELS_MAX];
	unsigned n;

	assert_int_equal(rep_profile_labels(p, set, l, REP_LABELS_MAX, &n), 0);
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].value;
	return "";
}

static bool keep_service(void *ctx, const struct rep_profile *src, const struct rep_sample_key *k)
{
	return !strcmp(label_of(src, k->labels, "service"), ctx);
}

/*
 * Label sets: interned (equal sets, equal ids; 0 the empty one), part of a
 * stack's identity, written as pprof string labels and read back; merge
 * with a keep() takes one service's stacks with their frames and labels.
 */
static void test_labels(void **state)
{
	struct rep_profile *p = pipeline_like(), *q = rep_profile_new(0), *web = rep_profile_new(1);
	struct rep_label a[] = {{"host", "h1"}, {"service", "web"}, {"exe", "/usr/bin/demo"}};
	struct rep_label b[] = {{"host", "h1"}, {"service", "db"}};
	struct rep_label got[REP_LABELS_MAX], many[REP_LABELS_MAX + 1];
	uint32_t la, la2, lb, locs[2];
	unsigned n;
	char why[200] = "", *bytes, *f;
	size_t len;

	(void)state;
	assert_non_null(q);
	assert_non_null(web);
	assert_int_equal(rep_profile_labelset(p, a, 3, &la), 0);
	assert_int_equal(rep_profile_labelset(p, b, 2, &lb), 0);
	assert_int_equal(rep_profile_labelset(p, a, 3, &la2), 0);
	assert_int_equal(la, la2);
	assert_int_not_equal(la, lb);
	assert_int_not_equal(la, 0);
	assert_int_equal(rep_profile_labelset(p, NULL, 0, &la2), 0);
	assert_int_equal(la2, 0);
	for (unsigned i = 0; i < REP_LABELS_MAX + 1; i++)
		many[i] = (struct rep_label){"k", "v"};
	assert_int_equal(rep_profile_labelset(p, many, REP_LABELS_MAX + 1, &la2), -EINVAL);
	assert_int_equal(rep_profile_labels(p, la, got, REP_LABELS_MAX, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(got[1].key, "service");
	assert_string_equal(got[1].value, "web");
	assert_int_equal(rep_profile_labels(p, 999, got, REP_LABELS_MAX, &n), -ENOENT);

	/* The same stack under two label sets is two stacks; a bad set id is refused. */
	locs[0] = 1; /* main's location in pipeline_like() */
	locs[1] = 0; /* _start */
	assert_int_equal(rep_profile_add(p, &(struct rep_sample_key){7, 7, "srv", la}, locs, 2, 3),
			 0);
	assert_int_equal(rep_profile_add(p, &(struct rep_sample_key){7, 7, "srv", lb}, locs, 2, 4),
			 0);
	assert_int_equal(rep_profile_add(p, &(struct rep_sample_key){7, 7, "srv", la}, locs, 2, 1),
			 0);
	assert_int_equal(rep_profile_add(p, &(struct rep_sample_key){7, 7, "srv", 999}, locs, 2, 1),
			 -EINVAL);

	/* pprof: the labels go out as string labels and come back as the same sets. */
	bytes = pprof_bytes(p, &len);
	assert_int_equal(rep_read_pprof(q, bytes, len, why, sizeof(why)), 0);
	assert_int_equal(rep_profile_total(q), rep_profile_total(p));
	assert_int_equal(rep_profile_merge(web, q, keep_service, "web"), 0);
	assert_int_equal(rep_profile_total(web), 4);
	f = run(rep_write_folded, web, NULL, NULL);
	assert_string_equal(f, "srv;_start;main 4\n");
	free(f);
	for (size_t i = 0; i < web->stacks.n; i++) {
		assert_string_equal(label_of(web, web->stacks.v[i].labels, "service"), "web");
		assert_string_equal(label_of(web, web->stacks.v[i].labels, "exe"), "/usr/bin/demo");
		assert_string_equal(label_of(web, web->stacks.v[i].labels, "host"), "h1");
	}
	/* merge without keep takes everything, the unlabelled stacks included */
	rep_profile_free(web);
	web = rep_profile_new(1);
	assert_int_equal(rep_profile_merge(web, q, NULL, NULL), 0);
	assert_int_equal(rep_profile_total(web), rep_profile_total(p));
	free(bytes);
	rep_profile_free(web);
	rep_profile_free(p);
	rep_profile_free(q);
}

/* The same message without gzip is read too (pprof accepts both). */
static void test_pprof_plain(void **state)
{
	struct rep_profile *p = pipeline_like(), *q = rep_profile_new(0);
	char why[200] = "", *bytes;
	size_t len;
	unsigned char *raw = malloc(1 << 20);
	z_stream z = {0};

	(void)state;
	assert_non_null(raw);
	bytes = pprof_bytes(p, &len);
	assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
	z.next_in = (unsigned char *)bytes;
	z.avail_in = (uInt)len;
	z.next_out = raw;
	z.avail_out = 1 << 20;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(rep_read_pprof(q, raw, z.total_out, why, sizeof(why)), 0);
	assert_int_equal(rep_profile_total(q), 70);
	inflateEnd(&z);
	free(raw);
	free(bytes);
	rep_profile_free(p);
	rep_profile_free(q);
}

/* Damaged pprof input: -EINVAL with a reason, whatever the damage. */
static void test_pprof_errors(void **state)
{
	struct rep_profile *p = pipeline_like(), *before = folded("demo;main 9\n");
	char why[200], *bytes, *diff;
	size_t len;

	(void)state;
	bytes = pprof_bytes(p, &len);
	/* every truncation of the gzip stream */
	for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 37) {
		struct rep_profile *q = rep_profile_new(0);
		int err;

		why[0] = '\0';
		err = rep_read_pprof(q, bytes, cut, why, sizeof(why));
		if (err != -EINVAL || !why[0])
			fail_msg("cut at %zu: %d '%s'", cut, err, why);
		rep_profile_free(q);
	}
	/* protobuf garbage: a tag of field 0, a length past the end, a group */
	{
		static const unsigned char bad[][4] = {
		    {0x00, 0x01}, {0x12, 0x7f, 0x08}, {0x13, 0x14}};

		for (size_t i = 0; i < 3; i++) {
			struct rep_profile *q = rep_profile_new(0);

			assert_int_equal(rep_read_pprof(q, bad[i], 3, why, sizeof(why)), -EINVAL);
			assert_non_null(strstr(why, "not a pprof profile"));
			rep_profile_free(q);
		}
	}
	/* a diff (negative values) is not a profile */
	{
		char *buf = NULL;
		size_t blen = 0;
		FILE *m = open_memstream(&buf, &blen);
		struct rep_profile *q = rep_profile_new(0);

		assert_int_equal(rep_write_diff_pprof(p, before, m), 0);
		fclose(m);
		diff = buf;
		assert_int_equal(rep_read_pprof(q, diff, blen, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "negative sample values"));
		rep_profile_free(q);
		free(diff);
	}
	free(bytes);
	rep_profile_free(p);
	rep_profile_free(before);
}

/* rep_profile_read_file: the format asked for, a link refused, a missing file's errno. */
static void test_read_file(void **state)
{
	char dir[] = "/tmp/xprof-test-XXXXXX", path[128], link[128], why[200] = "";
	struct rep_profile *p;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.folded", dir);
	snprintf(link, sizeof(link), "%s/l.folded", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x;y 3\nbroken\n", f);
	fclose(f);
	errno = 0;
	assert_null(rep_profile_read_file(path, REP_FMT_FOLDED, why, sizeof(why)));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(why, "line 2: no sample count at the end; expected 'frame;frame;... "
				 "COUNT'");
	f = fopen(path, "w");
	fputs("x;y 3\n", f);
	fclose(f);
	p = rep_profile_read_file(path, REP_FMT_FOLDED, why, sizeof(why));
	assert_non_null(p);
	assert_int_equal(rep_profile_total(p), 3);
	rep_profile_free(p);
	assert_int_equal(symlink(path, link), 0);
	assert_null(rep_profile_read_file(link, REP_FMT_FOLDED, why, sizeof(why)));
	assert_int_equal(errno, ELOOP);
	unlink(link);
	unlink(path);
	assert_null(rep_profile_read_file(path, REP_FMT_FOLDED, why, sizeof(why)));
	assert_int_equal(errno, ENOENT);
	rmdir(dir);
}

/* ---- diff ----------------------------------------------------------------------------- */

static const char before_txt[] = "app;main;phase_a 80\n"
				 "app;main;phase_b 10\n"
				 "app;main;common 10\n"
				 "app;main;old_only 0\n"
				 "app;main;retired;deep 20\n";
/* twice as many samples: common keeps its share */
static const char after_txt[] = "app;main;phase_a 20\n"
				"app;main;phase_b 160\n"
				"app;main;common 20\n";

/* The <g> of frame name: its title and rect, NUL-terminated copy the caller frees. */
static char *frame_of(const char *svg, const char *name)
{
	char key[128];
	const char *s, *e;

	snprintf(key, sizeof(key), "<g><title>%s (", name);
	s = strstr(svg, key);
	if (!s)
		return NULL;
	e = strstr(s, "</g>");
	assert_non_null(e);
	return strndup(s, (size_t)(e - s));
}

static void test_diff_svg(void **state)
{
	struct rep_profile *b = folded(before_txt), *a = folded(after_txt);
	char *svg, *fa, *fb, *fc, *fm;

	(void)state;
	svg = run_diff(rep_write_diff_svg, a, b, NULL);
	fa = frame_of(svg, "phase_a");
	fb = frame_of(svg, "phase_b");
	fc = frame_of(svg, "common");
	fm = frame_of(svg, "main");
	assert_non_null(fa);
	assert_non_null(fb);
	assert_non_null(fc);
	assert_non_null(fm);
	/* phase_b grew from 10/120 to 160/200 of the samples: the largest change, full red */
	assert_non_null(strstr(fb, "phase_b (before 10, after 160 samples; 8.33% -> 80.00%, "
				   "+71.67 pts, +860.0%)</title>"));
	assert_non_null(strstr(fb, "fill=\"rgb(255,40,40)\""));
	assert_non_null(strstr(fb, "fg:w=\"160\" fg:before=\"10\""));
	/* phase_a shrank from 80/120 to 20/200: blue, a little less saturated */
	assert_non_null(strstr(fa, "phase_a (before 80, after 20 samples; 66.67% -> 10.00%, "
				   "-56.67 pts, -85.0%)</title>"));
	assert_non_null(strstr(fa, "fill=\"rgb(79,79,255)\""));
	/* common kept its share (10/120 -> 20/200 is 8.33% -> 10.00%: it grew a little) */
	assert_non_null(strstr(fc, "common (before 10, after 20 samples; 8.33% -> 10.00%"));
	assert_non_null(strstr(fc, "fill=\"rgb(255,"));
	/* main is all of both: white */
	assert_non_null(strstr(fm, "fill=\"rgb(255,255,255)\""));
	/* retired is only in BEFORE: not drawn, listed under the title */
	assert_null(frame_of(svg, "retired"));
	assert_non_null(strstr(svg, "<text id=\"gone\" x=\"600\" y=\"56\">only in BEFORE: "
				    "retired 16.67%</text>"));
	/* the flamegraph's script, so search and zoom work */
	assert_non_null(strstr(svg, "function zoom(z)"));
	free(fa);
	free(fb);
	free(fc);
	free(fm);
	free(svg);
	rep_profile_free(a);
	rep_profile_free(b);
}

/* The same shares in profiles of different sizes: no change anywhere, all white. */
static void test_diff_normalised(void **state)
{
	struct rep_profile *b = folded("p;main;x 10\np;main;y 30\n"),
			   *a = folded("p;main;x 100\np;main;y 300\n");
	char *svg;

	(void)state;
	svg = run_diff(rep_write_diff_svg, a, b, NULL);
	assert_non_null(strstr(svg, "<g><title>x (before 10, after 100 samples; 25.00% -> 25.00%, "
				    "+0.00 pts, +0.0%)</title><rect"));
	for (const char *s = strstr(svg, "<g id=\"frames\">"); (s = strstr(s, "fill=")); s++)
		assert_memory_equal(s, "fill=\"rgb(255,255,255)\"", 23);
	free(svg);
	rep_profile_free(a);
	rep_profile_free(b);
}

static void test_diff_folded_top(void **state)
{
	struct rep_profile *b = folded(before_txt), *a = folded(after_txt);
	struct rep_opts o = {.top = 3};
	char *s;

	(void)state;
	s = run_diff(rep_write_diff_folded, a, b, NULL);
	assert_string_equal(s, "app;main;common 10 20\n"
			       "app;main;phase_a 80 20\n"
			       "app;main;phase_b 10 160\n"
			       "app;main;retired;deep 20 0\n");
	free(s);
	s = run_diff(rep_write_diff_top, a, b, &o);
	assert_string_equal(
	    s, "Showing 3 of 6 functions by change of total share; before 120 samples, "
	       "after 200\n"
	       "  ----- total share -----  ------ self share -----\n"
	       "  before    after   change    before    after   change  function\n"
	       "   8.33%   80.00%   +71.67     8.33%   80.00%   +71.67  phase_b\n"
	       "  66.67%   10.00%   -56.67    66.67%   10.00%   -56.67  phase_a\n"
	       "  16.67%    0.00%   -16.67    16.67%    0.00%   -16.67  deep\n");
	free(s);
	rep_profile_free(a);
	rep_profile_free(b);
	/* recursion counts once per stack in total, every time in self */
	b = folded("p;main;rec;rec;rec 10\np;main;other 10\n");
	a = folded("p;main;rec;rec;rec 30\np;main;other 10\n");
	o.top = 2;
	s = run_diff(rep_write_diff_top, a, b, &o);
	assert_non_null(strstr(s, "  50.00%   75.00%   +25.00    50.00%   75.00%   +25.00  rec\n"));
	free(s);
	rep_profile_free(a);
	rep_profile_free(b);
}

/* rep_write_diff: the format from the extension, an unknown one refused before writing. */
static void test_diff_path(void **state)
{
	struct rep_profile *b = folded(before_txt), *a = folded(after_txt);
	char dir[] = "/tmp/xprof-test-XXXXXX", path[128], buf[256];
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.folded", dir);
	assert_int_equal(rep_write_diff(a, b, NULL, path), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_memory_equal(buf, "app;main;common 10 20\n", 22);
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.png", dir);
	assert_int_equal(rep_write_diff(a, b, NULL, path), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	rmdir(dir);
	rep_profile_free(a);
	rep_profile_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_folded_round_trip),
	    cmocka_unit_test(test_folded_merge_blank),
	    cmocka_unit_test(test_folded_errors),
	    cmocka_unit_test(test_folded_too_deep),
	    cmocka_unit_test(test_pprof_round_trip),
	    cmocka_unit_test(test_pprof_plain),
	    cmocka_unit_test(test_pprof_errors),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_diff_svg),
	    cmocka_unit_test(test_diff_normalised),
	    cmocka_unit_test(test_diff_folded_top),
	    cmocka_unit_test(test_diff_path),
	    cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
