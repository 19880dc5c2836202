// SPDX-License-Identifier: MIT
/*
 * The report session's view of mappings over time: mmap over mmap, exec,
 * fork, threads, load biases computed from real ELF files, the name of a
 * frame in a vDSO that is not this machine's; windows (the profiles of
 * consecutive windows add up to the whole run's) and expiry (an exited
 * process's state goes, its late samples still count).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline/pipeline.h"

static int setup(void **state)
{
	struct xp_session_opts o = {.sym.no_debuginfod = true, .no_cache = true};

	*state = xp_session_new(&o);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	xp_session_free(*state);
	return 0;
}

static void ev_mmap(struct xp_session *s, uint32_t pid, uint64_t t, uint64_t start, uint64_t len,
		    uint64_t pgoff, const char *path)
{
	struct xp_event ev = {.type = XP_EV_MMAP};

	ev.mmap.time_ns = t;
	ev.mmap.pid = ev.mmap.tid = pid;
	ev.mmap.start = start;
	ev.mmap.len = len;
	ev.mmap.pgoff = pgoff;
	ev.mmap.prot = PROT_READ | PROT_EXEC;
	ev.mmap.path = path;
	assert_int_equal(xp_session_event(s, &ev), 0);
}

static void expect_map(struct xp_session *s, uint32_t pid, uint64_t addr, const char *path)
{
	const char *got;
	uint64_t bias;
	int err = xp_session_lookup(s, pid, addr, &got, &bias);

	if (!path) {
		assert_int_equal(err, -ENOENT);
		return;
	}
	assert_int_equal(err, 0);
	assert_string_equal(got, path);
}

/* A later mmap over the middle of an earlier one splits it in three. */
static void test_mmap_overlap_splits(void **state)
{
	struct xp_session *s = *state;

	ev_mmap(s, 10, 1, 0x10000, 0x10000, 0, "//anon");
	ev_mmap(s, 10, 2, 0x14000, 0x2000, 0, "/nonexistent/b.so");
	expect_map(s, 10, 0x10000, "[anon]");
	expect_map(s, 10, 0x13fff, "[anon]");
	expect_map(s, 10, 0x14000, "/nonexistent/b.so");
	expect_map(s, 10, 0x15fff, "/nonexistent/b.so");
	expect_map(s, 10, 0x16000, "[anon]");
	expect_map(s, 10, 0x1ffff, "[anon]");
	expect_map(s, 10, 0x20000, NULL);
	expect_map(s, 10, 0xffff, NULL);
	expect_map(s, 11, 0x10000, NULL);
}

/* exec drops mappings made before it; a forked child inherits; a thread shares. */
static void test_exec_fork_thread(void **state)
{
	struct xp_session *s = *state;
	struct xp_event ev = {.type = XP_EV_FORK};

	ev_mmap(s, 20, 5, 0x400000, 0x1000, 0, "/nonexistent/old");
	ev.task = (struct xp_ev_task){.time_ns = 6, .pid = 21, .tid = 21, .ppid = 20, .ptid = 20};
	assert_int_equal(xp_session_event(s, &ev), 0);
	expect_map(s, 21, 0x400000, "/nonexistent/old");

	ev.type = XP_EV_COMM;
	ev.comm = (struct xp_ev_comm){.time_ns = 7, .pid = 20, .tid = 20, .exec = true};
	strcpy(ev.comm.comm, "new");
	assert_int_equal(xp_session_event(s, &ev), 0);
	expect_map(s, 20, 0x400000, NULL);
	expect_map(s, 21, 0x400000, "/nonexistent/old"); /* the child did not exec */
	ev_mmap(s, 20, 7, 0x500000, 0x1000, 0, "/nonexistent/new");
	expect_map(s, 20, 0x500000, "/nonexistent/new");
}

/* The load bias of a real PIE mapping: runtime address minus ELF vaddr. */
static void test_bias_of_real_file(void **state)
{
	struct xp_session *s = *state;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *got;
	uint64_t bias;
	unsigned long lo, hi, off;
	char line[4200], perm[8], path[4096];
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	assert_true(n > 0);
	exe[n] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &lo, &hi, perm, &off, path) ==
			5 &&
		    perm[2] == 'x' && !strcmp(path, exe)) {
			found = true;
			break;
		}
	}
	fclose(f);
	assert_true(found);
	ev_mmap(s, 30, 1, lo, hi - lo, off, exe);
	assert_int_equal(
	    xp_session_lookup(s, 30, (uint64_t)(uintptr_t)test_bias_of_real_file, &got, &bias), 0);
	/* Our own code's runtime address minus the bias is its link-time address. */
	uint64_t vaddr = (uint64_t)(uintptr_t)test_bias_of_real_file - bias;
	assert_true(vaddr < hi - lo + off + 0x200000);
	extern char __executable_start[];
	assert_int_equal(bias, (uint64_t)(uintptr_t)__executable_start);
}

static void ev_comm(struct xp_session *s, uint32_t pid, uint32_t tid, uint64_t t, const char *name)
{
	struct xp_event ev = {.type = XP_EV_COMM};

	ev.comm.time_ns = t;
	ev.comm.pid = pid;
	ev.comm.tid = tid;
	snprintf(ev.comm.comm, sizeof(ev.comm.comm), "%s", name);
	assert_int_equal(xp_session_event(s, &ev), 0);
}

static void ev_task(struct xp_session *s, enum xp_ev_type type, uint64_t t, uint32_t pid,
		    uint32_t tid, uint32_t ppid, uint32_t ptid)
{
	struct xp_event ev = {.type = type};

	ev.task =
	    (struct xp_ev_task){.time_ns = t, .pid = pid, .tid = tid, .ppid = ppid, .ptid = ptid};
	assert_int_equal(xp_session_event(s, &ev), 0);
}

static void ev_sample(struct xp_session *s, uint64_t t, uint32_t pid, uint32_t tid)
{
	struct xp_event ev = {.type = XP_EV_SAMPLE};

	ev.sample.time_ns = t;
	ev.sample.pid = pid;
	ev.sample.tid = tid;
	ev.sample.period_ns = 1000000;
	assert_int_equal(xp_session_event(s, &ev), 0);
}

/* The folded output of the session's profile, with "comm-PID/TID" roots. */
static char *folded_of(struct xp_session *s)
{
	struct rep_opts o = {.with_pid = true, .with_tid = true};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(rep_write_folded(xp_session_profile(s), &o, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * Names outlive the growth of the name table. 100 processes are named, each
 * forks a child and starts a thread; a child and a thread take their
 * parent's name while the table grows past 64 and 128 entries (a fork used to
 * copy the name from the old, freed table: garbage, or an ASan report).
 * Every sample's root frame must carry its own lineage's name.
 */
static void test_names_survive_table_growth(void **state)
{
	struct xp_session *s = *state;
	enum { N = 100 };
	char name[XP_EV_COMM_LEN], want[96], *folded;
	uint64_t t = 1;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "proc%03u", i);
		ev_comm(s, 1000 + i, 1000 + i, t++, name);
	}
	for (uint32_t i = 0; i < N; i++) {
		ev_task(s, XP_EV_FORK, t++, 2000 + i, 2000 + i, 1000 + i, 1000 + i);
		ev_task(s, XP_EV_FORK, t++, 1000 + i, 3000 + i, 1000 + i, 1000 + i);
	}
	for (uint32_t i = 0; i < N; i++) {
		ev_sample(s, t++, 2000 + i, 2000 + i);
		ev_sample(s, t++, 1000 + i, 3000 + i);
		ev_task(s, XP_EV_EXIT, t++, 2000 + i, 2000 + i, 0, 0);
	}
	folded = folded_of(s);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "proc%03u-%u/%u;", i, 2000 + i, 2000 + i);
		assert_non_null(strstr(folded, want));
		snprintf(want, sizeof(want), "proc%03u-%u/%u;", i, 1000 + i, 3000 + i);
		assert_non_null(strstr(folded, want));
	}
	/* Exactly the 2N sampled threads, nothing else. */
	unsigned lines = 0;
	for (const char *c = folded; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 2 * N);
	free(folded);
}

/* A name that fills all 16 bytes without a NUL is cut to 15, never read past its array. */
static void test_name_without_nul(void **state)
{
	struct xp_session *s = *state;
	struct xp_event ev;
	char *folded;

	memset(&ev, 'A', sizeof(ev)); /* no NUL anywhere: a read past comm[] runs off the end */
	ev.type = XP_EV_COMM;
	ev.comm.time_ns = 1;
	ev.comm.pid = ev.comm.tid = 7;
	ev.comm.exec = false;
	memset(ev.comm.comm, 'B', sizeof(ev.comm.comm));
	assert_int_equal(xp_session_event(s, &ev), 0);
	ev_sample(s, 2, 7, 7);
	folded = folded_of(s);
	assert_non_null(strstr(folded, "BBBBBBBBBBBBBBB-7/7;"));
	assert_null(strstr(folded, "BBBBBBBBBBBBBBBB"));
	free(folded);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * Without a cache, a session keeps its tables in memory and leaves nothing
 * behind (it used to leave a /tmp/xprof-tables-* per run).
 */
static void test_no_cache_leaves_nothing(void **state)
{
	struct xp_session_opts o = {.sym.no_debuginfod = true, .no_cache = true};
	char tmp[] = "/tmp/xprof-test-tmpdir-XXXXXX", exe[4096];
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct xp_session *s;

	(void)state;
	assert_true(n > 0);
	exe[n] = 0;
	assert_non_null(mkdtemp(tmp));
	setenv("TMPDIR", tmp, 1);
	s = xp_session_new(&o);
	assert_non_null(s);
	/* --no-cache keeps tables in memory: no directory, not even a temporary one. */
	assert_int_equal(count_entries(tmp), 0);
	ev_mmap(s, 40, 1, 0x400000, 0x1000, 0, exe); /* builds a table */
	assert_int_equal(count_entries(tmp), 0);
	xp_session_free(s);
	assert_int_equal(count_entries(tmp), 0);
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	assert_int_equal(rmdir(tmp), 0);
}

/*
 * A recorded vDSO whose build-id is not this machine's (a perf.data from
 * another kernel) has no symbols here: its frames are "[vdso+0xOFF]", one
 * pair of brackets.
 */
static void test_stale_vdso_name(void **state)
{
	struct xp_session *s = *state;
	struct xp_event ev = {.type = XP_EV_MMAP};
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	ev.mmap = (struct xp_ev_mmap){.time_ns = 1,
				      .pid = 7,
				      .tid = 7,
				      .start = 0x7fff0000,
				      .len = 0x2000,
				      .prot = PROT_READ | PROT_EXEC,
				      .build_id_len = 20,
				      .path = "[vdso]"};
	memset(ev.mmap.build_id, 0xab, 20);
	assert_int_equal(xp_session_event(s, &ev), 0);
	ev = (struct xp_event){.type = XP_EV_SAMPLE};
	ev.sample.time_ns = 2;
	ev.sample.pid = ev.sample.tid = 7;
	ev.sample.period_ns = 1000000;
	ev.sample.regs[16] = 0x7fff07bd; /* ip */
	ev.sample.regs[7] = 0x7ffe0000;	 /* sp */
	assert_int_equal(xp_session_event(s, &ev), 0);
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	assert_int_equal(rep_write_folded(xp_session_profile(s), NULL, m), 0);
	fclose(m);
	assert_non_null(strstr(buf, ";[vdso+0x7bd] 1"));
	assert_null(strstr(buf, "[[vdso]"));
	free(buf);
}

/* ---- windows and expiry ----------------------------------------------------- */

#define NS 1000000000ull

/* Functions of this test binary whose addresses the synthetic stacks use. */
__attribute__((noinline)) void win_leaf_a(void);
__attribute__((noinline)) void win_leaf_b(void);
__attribute__((noinline)) void win_mid(void);
__attribute__((noinline)) void win_root(void);
void win_leaf_a(void)
{
	__asm__ volatile("nop; nop; nop; nop");
}
void win_leaf_b(void)
{
	__asm__ volatile("nop; nop; nop; nop");
}
void win_mid(void)
{
	win_leaf_a();
	win_leaf_b();
	__asm__ volatile("nop");
}
void win_root(void)
{
	win_mid();
	__asm__ volatile("nop");
}

/* The executable mapping of this test binary, as /proc/self/maps has it. */
static void self_exe_map(char *exe, size_t len, uint64_t *lo, uint64_t *hi, uint64_t *off)
{
	ssize_t n = readlink("/proc/self/exe", exe, len - 1);
	char line[4200], perm[8], path[4096];
	unsigned long a, b, o;
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	assert_true(n > 0);
	exe[n] = 0;
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &a, &b, perm, &o, path) == 5 &&
		    perm[2] == 'x' && !strcmp(path, exe)) {
			*lo = a;
			*hi = b;
			*off = o;
			found = true;
		}
	}
	fclose(f);
	assert_true(found);
}

struct stream {
	struct xp_event *ev;
	size_t n, cap;
	uint64_t ustack[8][4]; /* the stacks samples point to */
};

static struct xp_event *stream_add(struct stream *st, enum xp_ev_type type)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 256;
		st->ev = realloc(st->ev, st->cap * sizeof(*st->ev));
		assert_non_null(st->ev);
	}
	memset(&st->ev[st->n], 0, sizeof(st->ev[0]));
	st->ev[st->n].type = type;
	return &st->ev[st->n++];
}

static void stream_sample(struct stream *st, uint64_t t, uint32_t pid, uint32_t tid, unsigned stack)
{
	struct xp_event *e = stream_add(st, XP_EV_SAMPLE);
	unsigned n = 0;

	while (n < 4 && st->ustack[stack][n])
		n++;
	e->sample =
	    (struct xp_ev_sample){.time_ns = t, .pid = pid, .tid = tid, .period_ns = 1000000};
	e->sample.flags = XP_EV_SAMPLE_F_CALLCHAIN;
	e->sample.nuser = n;
	e->sample.ustack = st->ustack[stack];
}

static void stream_task(struct stream *st, enum xp_ev_type type, uint64_t t, uint32_t pid,
			uint32_t tid, uint32_t ppid)
{
	struct xp_event *e = stream_add(st, type);

	e->task =
	    (struct xp_ev_task){.time_ns = t, .pid = pid, .tid = tid, .ppid = ppid, .ptid = ppid};
}

static void stream_comm(struct stream *st, uint64_t t, uint32_t pid, uint32_t tid, const char *name)
{
	struct xp_event *e = stream_add(st, XP_EV_COMM);

	e->comm = (struct xp_ev_comm){.time_ns = t, .pid = pid, .tid = tid};
	snprintf(e->comm.comm, sizeof(e->comm.comm), "%s", name);
}

static void stream_mmap(struct stream *st, uint64_t t, uint32_t pid, uint64_t start, uint64_t len,
			uint64_t pgoff, const char *path)
{
	struct xp_event *e = stream_add(st, XP_EV_MMAP);

	e->mmap = (struct xp_ev_mmap){.time_ns = t,
				      .pid = pid,
				      .tid = pid,
				      .start = start,
				      .len = len,
				      .pgoff = pgoff,
				      .prot = PROT_READ | PROT_EXEC,
				      .path = path};
}

/*
 * A parent (pid 1) that forks 40 children over 5 s; each child is sampled in
 * one of four stacks of this binary, also from a second thread, maps libc of
 * its own, and exits; each has one sample read 5 ms after its EXIT.
 */
static void make_stream(struct stream *st, const char *exe, uint64_t lo, uint64_t hi, uint64_t off,
			const char *libc)
{
	uint64_t a = (uint64_t)(uintptr_t)win_leaf_a, b = (uint64_t)(uintptr_t)win_leaf_b;
	uint64_t m = (uint64_t)(uintptr_t)win_mid, r = (uint64_t)(uintptr_t)win_root;
	uint64_t stacks[4][4] = {{a + 1, m + 6, r + 6, 0},
				 {b + 1, m + 11, r + 6, 0},
				 {m + 11, r + 6, 0, 0},
				 {r + 6, 0, 0, 0}};

	memset(st, 0, sizeof(*st));
	memcpy(st->ustack, stacks, sizeof(stacks));
	stream_comm(st, 1, 1, 1, "parent");
	stream_mmap(st, 2, 1, lo, hi - lo, off, exe);
	for (uint32_t i = 0; i < 40; i++) {
		uint32_t pid = 100 + i, tid = 1000 + i;
		uint64_t t0 = NS / 10 + i * (NS / 8); /* 0.1 s .. 5 s */
		char name[16];

		stream_task(st, XP_EV_FORK, t0, pid, pid, 1);
		snprintf(name, sizeof(name), "child%u", i);
		stream_comm(st, t0 + 1, pid, pid, name);
		stream_mmap(st, t0 + 2, pid, 0x7f0000000000ull, 0x100000, 0, libc);
		stream_task(st, XP_EV_FORK, t0 + 3, pid, tid, pid); /* a thread */
		for (uint32_t k = 0; k < 12; k++)
			stream_sample(st, t0 + 10 + k * 10000000ull, pid, k & 1 ? tid : pid,
				      (i + k) % 4);
		stream_task(st, XP_EV_EXIT, t0 + 130000000ull, pid, tid, pid);
		stream_task(st, XP_EV_EXIT, t0 + 130000001ull, pid, pid, 1);
		stream_sample(st, t0 + 135000000ull, pid, pid, i % 4); /* read after its EXIT */
	}
	for (uint32_t k = 0; k < 30; k++)
		stream_sample(st, 100 + k * (NS / 6), 1, 1, k % 4);
	/* Time order, as recordings are; ties keep their order. */
	for (size_t i = 1; i < st->n; i++) {
		struct xp_event e = st->ev[i];
		size_t j = i;

		while (j > 0 && xp_event_time(&st->ev[j - 1]) > xp_event_time(&e)) {
			st->ev[j] = st->ev[j - 1];
			j--;
		}
		st->ev[j] = e;
	}
}

/* Folded lines of a profile ("comm-PID;frames count"), appended to a text buffer. */
static void window_folded(const struct rep_profile *p, char **text, size_t *len)
{
	struct rep_opts o = {.with_pid = true};
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(rep_write_folded(p, &o, f), 0);
	fclose(f);
	*text = realloc(*text, *len + n + 1);
	assert_non_null(*text);
	memcpy(*text + *len, buf, n + 1);
	*len += n;
	free(buf);
}

struct line {
	char *stack;
	unsigned long long count;
};

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->stack, ((const struct line *)b)->stack);
}

/* Parse folded text into stacks with their counts, equal stacks summed, sorted. */
static struct line *folded_sum(char *text, size_t *nout)
{
	struct line *v = NULL;
	size_t n = 0, j = 0;

	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		char *sp = strrchr(l, ' ');

		assert_non_null(sp);
		*sp = 0;
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n].stack = l;
		v[n++].count = strtoull(sp + 1, NULL, 10);
	}
	if (n)
		qsort(v, n, sizeof(*v), line_cmp);
	for (size_t i = 0; i < n; i++) {
		if (j && !strcmp(v[j - 1].stack, v[i].stack))
			v[j - 1].count += v[i].count;
		else
			v[j++] = v[i];
	}
	*nout = j;
	return v;
}

/* Feed the stream in 1 s windows: the windows' profiles sum to the whole run's, stack for stack. */
static void test_windows_sum_to_whole(void **state)
{
	struct xp_session *whole = *state, *win;
	struct xp_session_opts o = {.sym.no_debuginfod = true, .no_cache = true};
	char exe[4096], *wtext = NULL, *atext = NULL;
	size_t wlen = 0, alen = 0, nw, na;
	uint64_t lo, hi, off, next = NS;
	struct stream st;
	unsigned windows = 0, nonempty = 0;
	uint64_t wsamples = 0;

	self_exe_map(exe, sizeof(exe), &lo, &hi, &off);
	make_stream(&st, exe, lo, hi, off, "/nonexistent/libc.so.6");
	win = xp_session_new(&o);
	assert_non_null(win);
	xp_session_set_clock(win, 0, 1700000000ull * NS);
	for (size_t i = 0; i < st.n; i++) {
		uint64_t t = xp_event_time(&st.ev[i]);

		while (t >= next) {
			struct rep_profile *p = xp_session_window_take(win, next);

			assert_non_null(p);
			windows++;
			nonempty += rep_profile_total(p) > 0;
			/* Each window's wall-clock start and length, from the clock given. */
			uint64_t wt, wd;

			rep_profile_get_time(p, &wt, &wd);
			if (windows > 1) {
				assert_int_equal(wt, 1700000000ull * NS + next - NS);
				assert_int_equal(wd, NS);
			} else {
				assert_int_equal(wt, 1700000000ull * NS + 1); /* the first event */
				assert_int_equal(wd, NS - 1);
			}
			wsamples += xp_session_window_stats(win)->kept;
			window_folded(p, &wtext, &wlen);
			rep_profile_free(p);
			next += NS;
		}
		assert_int_equal(xp_session_event(win, &st.ev[i]), 0);
		assert_int_equal(xp_session_event(whole, &st.ev[i]), 0);
	}
	struct rep_profile *p = xp_session_window_take(win, 0);

	assert_non_null(p);
	windows++;
	wsamples += xp_session_window_stats(win)->kept;
	window_folded(p, &wtext, &wlen);
	rep_profile_free(p);
	window_folded(xp_session_profile(whole), &atext, &alen);

	assert_int_equal(windows, 6); /* events from 0 to 5.2 s */
	assert_true(nonempty >= 5);
	assert_int_equal(wsamples, xp_session_stats(win)->kept);
	assert_int_equal(xp_session_stats(win)->kept, 40 * 13 + 30);

	struct line *w = folded_sum(wtext, &nw), *a = folded_sum(atext, &na);

	assert_int_equal(nw, na);
	for (size_t i = 0; i < na; i++) {
		assert_string_equal(w[i].stack, a[i].stack);
		assert_int_equal(w[i].count, a[i].count);
	}
	/* The stacks are this binary's functions, root first, from every child and the parent. */
	bool seen = false;
	for (size_t i = 0; i < na; i++)
		seen |= !strcmp(a[i].stack, "child7-107;win_root;win_mid;win_leaf_b");
	assert_true(seen);
	free(w);
	free(a);
	free(wtext);
	free(atext);
	free(st.ev);
	xp_session_free(win);
}

/* An exited process's mappings, names and files go after the grace time; late samples count. */
static void test_exit_expires(void **state)
{
	struct xp_session *s = *state;
	struct xp_session_mem mem;
	char exe[4096];
	uint64_t lo, hi, off;
	struct stream st;
	size_t i = 0;

	self_exe_map(exe, sizeof(exe), &lo, &hi, &off);
	make_stream(&st, exe, lo, hi, off, "/nonexistent/libc.so.6");
	/* Up to child 0's late sample, read after its EXIT: still its own stack. */
	for (; i < st.n; i++) {
		assert_int_equal(xp_session_event(s, &st.ev[i]), 0);
		if (st.ev[i].type == XP_EV_SAMPLE && st.ev[i].sample.pid == 100 &&
		    st.ev[i].sample.time_ns == NS / 10 + 135000000ull)
			break;
	}
	assert_true(i < st.n);
	expect_map(s, 100, lo, exe);
	assert_int_equal(xp_session_stats(s)->no_process, 0);
	xp_session_memory(s, &mem);
	assert_int_equal(mem.modules, 2); /* the binary, child 0's libc */

	/* Past every EXIT and its grace: only the parent is left. */
	for (i++; i < st.n; i++)
		assert_int_equal(xp_session_event(s, &st.ev[i]), 0);
	struct rep_profile *p = xp_session_window_take(s, 8 * NS);

	assert_non_null(p);
	assert_int_equal(rep_profile_total(p), 40 * 13 + 30);
	rep_profile_free(p);
	expect_map(s, 100, lo, NULL);
	expect_map(s, 139, 0x7f0000000000ull, NULL);
	expect_map(s, 1, lo, exe);
	xp_session_memory(s, &mem);
	assert_int_equal(mem.processes, 1);
	assert_int_equal(mem.threads, 1); /* "parent" */
	assert_int_equal(mem.modules, 1);
	assert_int_equal(mem.exits_pending, 0);
	/* Nothing was sampled in a window that had no samples. */
	p = xp_session_window_take(s, 9 * NS);
	assert_non_null(p);
	assert_int_equal(rep_profile_total(p), 0);
	assert_int_equal(xp_session_window_stats(s)->kept, 0);
	rep_profile_free(p);
	free(st.ev);
}

/* A pid that forks again before its grace time ran out is a new process: it stays. */
static void test_exit_then_reuse(void **state)
{
	struct xp_session *s = *state;
	struct xp_event ev = {.type = XP_EV_FORK};

	ev_mmap(s, 50, 1, 0x400000, 0x1000, 0, "/nonexistent/old");
	ev.type = XP_EV_EXIT;
	ev.task = (struct xp_ev_task){.time_ns = 10, .pid = 50, .tid = 50};
	assert_int_equal(xp_session_event(s, &ev), 0);
	ev.type = XP_EV_FORK;
	ev.task = (struct xp_ev_task){.time_ns = 20, .pid = 50, .tid = 50, .ppid = 1, .ptid = 1};
	assert_int_equal(xp_session_event(s, &ev), 0);
	ev_mmap(s, 50, 30, 0x500000, 0x1000, 0, "/nonexistent/new");
	rep_profile_free(xp_session_window_take(s, 5 * NS));
	expect_map(s, 50, 0x500000, "/nonexistent/new");
	expect_map(s, 50, 0x400000, NULL); /* the old process's mapping did not come along */
}

/*
 * Processes known from samples alone (no mmap, fork or EXIT: lost records, a
 * recording started mid-run) are forgotten a grace after their last sample,
 * not kept for the whole run; one still sampled stays.
 */
static void test_sample_only_processes_expire(void **state)
{
	struct xp_session *s = *state;
	struct xp_session_mem mem;
	struct xp_event ev = {.type = XP_EV_SAMPLE};

	for (uint32_t i = 0; i < 200; i++) {
		ev.sample = (struct xp_ev_sample){.time_ns = 1 + i * (NS / 100),
						  .pid = 5000 + i,
						  .tid = 5000 + i,
						  .period_ns = 1};
		assert_int_equal(xp_session_event(s, &ev), 0);
		ev.sample.pid = ev.sample.tid = 42; /* one that goes on being sampled */
		assert_int_equal(xp_session_event(s, &ev), 0);
	}
	assert_int_equal(xp_session_stats(s)->no_process, 400);
	rep_profile_free(xp_session_window_take(s, 2 * NS + NS / 2));
	xp_session_memory(s, &mem);
	/* The last 50 (sampled within the last 1.5 s, some still in grace) and pid 42 at most. */
	assert_true(mem.processes <= 51);
	assert_true(mem.processes >= 1);
	rep_profile_free(xp_session_window_take(s, 3 * NS + NS / 2));
	xp_session_memory(s, &mem);
	assert_int_equal(mem.processes, 0);
}

/* report -v lists every file of the run once, also those whose processes are gone. */
static void test_describe_gone_files(void **state)
{
	(void)state;
	char exe[4096], *text = NULL;
	uint64_t lo, hi, off;
	struct stream st;
	size_t len = 0;

	self_exe_map(exe, sizeof(exe), &lo, &hi, &off);
	make_stream(&st, exe, lo, hi, off, "/nonexistent/libc.so.6");
	for (int all = 0; all < 2; all++) {
		struct xp_session_opts o = {
		    .sym.no_debuginfod = true, .no_cache = true, .describe_all = all};
		struct xp_session *s = xp_session_new(&o);
		FILE *f;

		assert_non_null(s);
		for (size_t i = 0; i < st.n; i++)
			assert_int_equal(xp_session_event(s, &st.ev[i]), 0);
		rep_profile_free(xp_session_window_take(s, 8 * NS));
		f = open_memstream(&text, &len);
		assert_non_null(f);
		xp_session_describe(s, f);
		fclose(f);
		const char *first = strstr(text, "file /nonexistent/libc.so.6 ");

		assert_non_null(strstr(text, exe)); /* the parent's: still mapped */
		if (all) {
			assert_non_null(first);
			assert_null(strstr(first + 1, "file /nonexistent/libc.so.6 "));
		} else {
			assert_null(first); /* gone with the children, and not kept */
		}
		free(text);
		text = NULL;
		xp_session_free(s);
	}
	free(st.ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mmap_overlap_splits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_fork_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bias_of_real_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names_survive_table_growth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_without_nul, setup, teardown),
	    cmocka_unit_test(test_no_cache_leaves_nothing),
	    cmocka_unit_test_setup_teardown(test_stale_vdso_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_windows_sum_to_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_expires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_then_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sample_only_processes_expire, setup, teardown),
	    cmocka_unit_test(test_describe_gone_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
