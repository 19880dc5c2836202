// SPDX-License-Identifier: MIT
/*
 * Unit tests for the agent's own logic that runs without BPF: its
 * command-line durations and sizes, the wall-clock window boundaries, and
 * the process label table (what a forked, exec'ed, exited, reused pid gets,
 * and that the table stays within its bound).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_int.h"

#define S  1000000000ull
#define MS 1000000ull

static void test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		int err;
		uint64_t ns;
	} cases[] = {
	    {"500ms", 0, 500 * MS},
	    {"2s", 0, 2 * S},
	    {"10s", 0, 10 * S},
	    {"5m", 0, 300 * S},
	    {"1h", 0, 3600 * S},
	    {"8784h", 0, 8784 * 3600 * S}, /* 366 days, the limit */
	    {"8785h", -ERANGE, 0},
	    {"0s", -ERANGE, 0},
	    {"10", -EINVAL, 0}, /* seconds or milliseconds? refused */
	    {"", -EINVAL, 0},
	    {"s", -EINVAL, 0},
	    {"2 s", -EINVAL, 0},
	    {"2sec", -EINVAL, 0},
	    {"-2s", -EINVAL, 0},
	    {"1.5s", -EINVAL, 0},
	    {"99999999999999999999999s", -ERANGE, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;
		int err = ag_parse_duration(cases[i].in, &ns);

		if (err != cases[i].err)
			fail_msg("'%s': %d, want %d", cases[i].in, err, cases[i].err);
		assert_int_equal(ns, cases[i].err ? 12345 : cases[i].ns);
	}
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *in;
		int err;
		uint64_t b;
	} cases[] = {
	    {"1600", 0, 1600},	     {"64K", 0, 64 << 10},  {"64k", 0, 64 << 10},
	    {"64M", 0, 64ull << 20}, {"1G", 0, 1ull << 30}, {"1024G", 0, 1ull << 40},
	    {"1025G", -ERANGE, 0},   {"0", -ERANGE, 0},	    {"0M", -ERANGE, 0},
	    {"", -EINVAL, 0},	     {"M", -EINVAL, 0},	    {"64MB", -EINVAL, 0},
	    {"64T", -EINVAL, 0},     {"-1", -EINVAL, 0},    {"1e6", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 7;
		int err = ag_parse_size(cases[i].in, &b);

		if (err != cases[i].err)
			fail_msg("'%s': %d, want %d", cases[i].in, err, cases[i].err);
		assert_int_equal(b, cases[i].err ? 7 : cases[i].b);
	}
}

static void test_window_next(void **state)
{
	const uint64_t t0 = 1765062600ull * S; /* 2025-12-06T23:10:00Z, a multiple of 10 s */

	(void)state;
	/* Strictly after: a moment on a boundary belongs to the window it starts. */
	assert_int_equal(ag_window_next(t0, 10 * S), t0 + 10 * S);
	assert_int_equal(ag_window_next(t0 - 1, 10 * S), t0);
	assert_int_equal(ag_window_next(t0 + 3 * S + 7, 10 * S), t0 + 10 * S);
	assert_int_equal(ag_window_next(t0 + 1, 2 * S), t0 + 2 * S);
	assert_int_equal(ag_window_next(t0 + 250 * MS, 500 * MS), t0 + 500 * MS);
	/* An hour aligns to the hour (epoch-based): 23:10 → 00:00. */
	assert_int_equal(ag_window_next(t0, 3600 * S), (1765062600ull / 3600 + 1) * 3600 * S);
	/* Every boundary is a multiple of the interval. */
	for (uint64_t t = t0; t < t0 + 30 * S; t += 333 * MS) {
		uint64_t b = ag_window_next(t, 2 * S);

		assert_true(b % (2 * S) == 0 && b > t && b - t <= 2 * S);
	}
}

/*
 * A boundary on the stream's clock: ahead of now it is ahead, and one the
 * loop reaches 3 s late is still the moment it was (mapping it to "now"
 * moved windows' ends when the agent fell behind).
 */
static void test_window_stream_time(void **state)
{
	const uint64_t mono = 5000 * S, real = 1765062603ull * S; /* 3 s past a 10 s boundary */

	(void)state;
	assert_int_equal(ag_window_stream_time(mono, real, real + 7 * S), mono + 7 * S);
	assert_int_equal(ag_window_stream_time(mono, real, real - 3 * S), mono - 3 * S);
	assert_int_equal(ag_window_stream_time(mono, real, real), mono);
}

/* ---- the process label table ------------------------------------------- */

/* A stand-in for /proc: pids 100..199 live in "web.service", 200+ in a container. */
struct fake_proc {
	unsigned reads;
	uint32_t gone_from; /* pids >= this are gone (-ENOENT), 0: none */
};

static int fake_read(void *ctx, uint32_t pid, struct ag_pid_info *out)
{
	struct fake_proc *fp = ctx;

	fp->reads++;
	memset(out, 0, sizeof(*out));
	if (fp->gone_from && pid >= fp->gone_from)
		return -ENOENT;
	snprintf(out->service, sizeof(out->service), "%s", pid < 200 ? "web.service" : "db");
	if (pid >= 200)
		snprintf(out->container, sizeof(out->container), "%s", "0123456789ab");
	snprintf(out->exe, sizeof(out->exe), "/usr/bin/prog%u", pid);
	return 0;
}

static struct xp_event ev_sample(uint32_t pid, uint64_t t)
{
	struct xp_event ev = {.type = XP_EV_SAMPLE};

	ev.sample.pid = pid;
	ev.sample.tid = pid;
	ev.sample.time_ns = t;
	return ev;
}

static struct xp_event ev_fork(uint32_t parent, uint32_t child, uint64_t t)
{
	struct xp_event ev = {.type = XP_EV_FORK};

	ev.task = (struct xp_ev_task){
	    .time_ns = t, .pid = child, .tid = child, .ppid = parent, .ptid = parent};
	return ev;
}

static struct xp_event ev_exit(uint32_t pid, uint32_t tid, uint64_t t)
{
	struct xp_event ev = {.type = XP_EV_EXIT};

	ev.task = (struct xp_ev_task){.time_ns = t, .pid = pid, .tid = tid};
	return ev;
}

static struct xp_event ev_exec(uint32_t pid, uint64_t t)
{
	struct xp_event ev = {.type = XP_EV_COMM};

	ev.comm = (struct xp_ev_comm){.time_ns = t, .pid = pid, .tid = pid, .exec = true};
	snprintf(ev.comm.comm, sizeof(ev.comm.comm), "short");
	return ev;
}

static struct xp_event ev_mmap(uint32_t pid, const char *path, uint8_t id0, uint64_t t)
{
	struct xp_event ev = {.type = XP_EV_MMAP};

	ev.mmap = (struct xp_ev_mmap){.time_ns = t, .pid = pid, .tid = pid, .path = path};
	if (id0) {
		ev.mmap.build_id_len = 4;
		ev.mmap.build_id[0] = id0;
		ev.mmap.build_id[3] = 0xff;
	}
	return ev;
}

static void feed(struct ag_pidtab *t, struct xp_event ev)
{
	assert_int_equal(ag_pidtab_event(t, &ev), 0);
}

/*
 * The fork loop of a shell: the child inherits the parent's labels without
 * any read of its own (it is gone by then), exec takes the next file mmap
 * as its program with that mmap's build-id, and a vDSO or anonymous mapping
 * is not a program.
 */
static void test_pidtab_fork_exec(void **state)
{
	struct fake_proc fp = {.gone_from = 1000};
	struct ag_pidtab *t = ag_pidtab_new(64, fake_read, &fp);
	struct ag_pid_ent *e;

	(void)state;
	assert_non_null(t);
	feed(t, ev_sample(100, 1 * S));
	assert_int_equal(fp.reads, 1);
	e = ag_pidtab_get(t, 100);
	assert_non_null(e);
	assert_string_equal(e->service, "web.service");
	assert_null(e->container);
	assert_string_equal(e->exe, "/usr/bin/prog100");

	feed(t, ev_fork(100, 1001, 2 * S)); /* 1001 is already gone from /proc */
	assert_int_equal(fp.reads, 1);
	e = ag_pidtab_get(t, 1001);
	assert_non_null(e);
	assert_string_equal(e->service, "web.service");
	assert_string_equal(e->exe, "/usr/bin/prog100");

	ag_pidtab_get(t, 1001)->gen = 7; /* the agent's cached label set ... */
	feed(t, ev_exec(1001, 2 * S + 1));
	assert_int_equal(ag_pidtab_get(t, 1001)->gen, 0); /* ... is stale after the exec */
	assert_int_equal(fp.reads, 2); /* exec re-reads the cgroup: gone, the inherited stay */
	e = ag_pidtab_get(t, 1001);
	assert_null(e->exe); /* the old program is not claimed for the new image */
	assert_string_equal(e->service, "web.service");
	feed(t, ev_mmap(1001, "[vdso]", 0, 2 * S + 2));
	feed(t, ev_mmap(1001, "//anon", 0, 2 * S + 3));
	assert_null(ag_pidtab_get(t, 1001)->exe);
	feed(t, ev_mmap(1001, "/opt/t/ag_short", 0xab, 2 * S + 4));
	feed(t, ev_mmap(1001, "/lib/x86_64-linux-gnu/libc.so.6", 0xcd, 2 * S + 5));
	e = ag_pidtab_get(t, 1001);
	assert_string_equal(e->exe, "/opt/t/ag_short");
	assert_string_equal(e->build_id, "ab0000ff");
	assert_int_equal(e->gen, 0);
	/* A fork record delivered after the child's own later events changes nothing. */
	feed(t, ev_fork(200, 1001, 2 * S));
	assert_string_equal(ag_pidtab_get(t, 1001)->exe, "/opt/t/ag_short");
	assert_string_equal(ag_pidtab_get(t, 1001)->service, "web.service");
	/* A thread of the child: same entry, nothing read. */
	feed(t, ev_fork(1001, 1001, 2 * S + 6));
	assert_string_equal(ag_pidtab_get(t, 1001)->exe, "/opt/t/ag_short");
	assert_int_equal(fp.reads, 2);

	/* A process met through its mappings at the start gets its build-id from them. */
	feed(t, ev_mmap(200, "/lib/x86_64-linux-gnu/libc.so.6", 0x11, 3 * S));
	feed(t, ev_mmap(200, "/usr/bin/prog200", 0x22, 3 * S));
	e = ag_pidtab_get(t, 200);
	assert_string_equal(e->container, "0123456789ab");
	assert_string_equal(e->service, "db");
	assert_string_equal(e->build_id, "220000ff");
	ag_pidtab_free(t);
}

/*
 * Exit: the entry stays for the window that may still need it (grace after
 * the exit or the last sample, whichever is later), a thread's exit drops
 * nothing, and a reused pid starts afresh.
 */
static void test_pidtab_expire(void **state)
{
	struct fake_proc fp = {0};
	struct ag_pidtab *t = ag_pidtab_new(64, fake_read, &fp);
	struct ag_pidtab_stats st;

	(void)state;
	feed(t, ev_sample(100, 1 * S));
	feed(t, ev_sample(101, 1 * S));
	feed(t, ev_sample(102, 1 * S));
	feed(t, ev_exit(100, 100, 2 * S));
	feed(t, ev_exit(101, 150, 2 * S)); /* a thread of 101 */
	feed(t, ev_exit(102, 102, 2 * S));
	feed(t, ev_sample(102, 4 * S)); /* its leader left with pthread_exit(); threads run on */

	ag_pidtab_expire(t, 2 * S + S / 2, S);
	assert_non_null(ag_pidtab_get(t, 100)); /* exited 0.5 s ago: still within the grace */
	ag_pidtab_expire(t, 3 * S, S);
	assert_null(ag_pidtab_get(t, 100));
	assert_non_null(ag_pidtab_get(t, 101));
	assert_non_null(ag_pidtab_get(t, 102)); /* sampled at 4 s */
	ag_pidtab_expire(t, 5 * S, S);
	assert_null(ag_pidtab_get(t, 102));
	ag_pidtab_expire(t, 100 * S, S);
	assert_non_null(ag_pidtab_get(t, 101)); /* alive: never expires */
	ag_pidtab_get_stats(t, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.expired, 2);

	/* The pid comes back as another process: read again, not the old labels. */
	feed(t, ev_sample(101, 101 * S));
	feed(t, ev_exec(101, 102 * S));
	feed(t, ev_mmap(101, "/usr/bin/other", 0x33, 102 * S));
	feed(t, ev_fork(1, 101, 103 * S)); /* pid reuse after an exit we missed */
	assert_string_equal(ag_pidtab_get(t, 101)->exe, "/usr/bin/prog1");
	assert_string_equal(ag_pidtab_get(t, 101)->build_id, "");
	ag_pidtab_free(t);
}

/*
 * The bound: a churn of 10000 processes through a table of 32 never holds
 * more than 32; exited entries go before live ones, and of live ones the
 * one seen longest ago.
 */
static void test_pidtab_bound(void **state)
{
	struct fake_proc fp = {0};
	struct ag_pidtab *t = ag_pidtab_new(32, fake_read, &fp);
	struct ag_pidtab_stats st;

	(void)state;
	feed(t, ev_sample(100, 1));
	for (uint32_t i = 0; i < 10000; i++) {
		uint64_t now = 10 + i;

		feed(t, ev_fork(100, 1000 + i, now));
		feed(t, ev_sample(100, now)); /* the parent stays the most recently seen */
		if (i % 2)
			feed(t, ev_exit(1000 + i, 1000 + i, now));
		ag_pidtab_get_stats(t, &st);
		assert_true(st.entries <= 32);
	}
	assert_non_null(ag_pidtab_get(t, 100)); /* never evicted: always the latest seen */
	/* The survivors: the live children seen last; every exited one went first. */
	for (uint32_t i = 10000 - 20; i < 10000; i++)
		if (!(i % 2))
			assert_non_null(ag_pidtab_get(t, 1000 + i));
	assert_null(ag_pidtab_get(t, 1000 + 9997)); /* exited: evicted before live ones */
	ag_pidtab_get_stats(t, &st);
	assert_int_equal(st.entries, 32);
	assert_int_equal(st.added, 10001);
	assert_int_equal(st.evicted, 10001 - 32);
	ag_pidtab_free(t);
}

/* No memory leaks when entries are replaced, evicted and freed with strings (ASan build). */
static void test_pidtab_free_nonempty(void **state)
{
	struct fake_proc fp = {0};
	struct ag_pidtab *t = ag_pidtab_new(0, fake_read, &fp);

	(void)state;
	for (uint32_t pid = 100; pid < 300; pid++)
		feed(t, ev_sample(pid, pid));
	feed(t, ev_exec(150, 400));
	feed(t, ev_mmap(150, "/x", 1, 401));
	ag_pidtab_free(t);
	ag_pidtab_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_duration),   cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_window_next),	     cmocka_unit_test(test_window_stream_time),
	    cmocka_unit_test(test_pidtab_fork_exec), cmocka_unit_test(test_pidtab_expire),
	    cmocka_unit_test(test_pidtab_bound),     cmocka_unit_test(test_pidtab_free_nonempty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
