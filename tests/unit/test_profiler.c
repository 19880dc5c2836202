// SPDX-License-Identifier: MIT
/*
 * The report session's view of mappings over time: mmap over mmap, exec,
 * fork, threads, load biases computed from real ELF files, and the name of
 * a frame in a vDSO that is not this machine's.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
