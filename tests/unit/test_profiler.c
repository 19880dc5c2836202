// SPDX-License-Identifier: MIT
/*
 * The report session's view of mappings over time: mmap over mmap, exec,
 * fork, threads, load biases computed from real ELF files, and the name of
 * a frame in a vDSO that is not this machine's.
 */
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
	    cmocka_unit_test_setup_teardown(test_stale_vdso_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
