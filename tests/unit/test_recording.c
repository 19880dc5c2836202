// SPDX-License-Identifier: MIT
/*
 * The .xprof format: a write/read round trip of every event type, a file cut
 * at every length (a killed record) reads back as its prefix, and corrupt or
 * foreign input is refused with -EINVAL and a reason, never a crash.
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
#include <linux/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bpf/sample.h"
#include "profiler/profiler_int.h"
#include "profiler/xprof_file.h"

struct fixture {
	char path[64];
	bool vary_top; /* write_file: sample i ends segment 1 with the word i (so nothing is shared) */
	uint8_t stack1[300], stack2[64];
	uint64_t kstack[3];
	uint8_t vdso[100];
};

struct seen {
	int n[XP_EV_LOST + 1];
	struct xp_event last[XP_EV_LOST + 1];
	uint8_t s1[300], s2[64];
	uint64_t k[3];
	char path[64];
	uint8_t vdso[100];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/test_recording_XXXXXX");
	fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	close(fd);
	for (size_t i = 0; i < sizeof(f->stack1); i++)
		f->stack1[i] = i * 7;
	for (size_t i = 0; i < sizeof(f->stack2); i++)
		f->stack2[i] = 0xa0 + i;
	f->kstack[0] = 0xffffffff81000010ull;
	f->kstack[1] = 0xffffffff81000020ull;
	f->kstack[2] = 0xffffffff81000030ull;
	memcpy(f->vdso, "\177ELF", 4);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	free(f);
	return 0;
}

static void write_file(struct fixture *f, int nsamples)
{
	struct xp_rec_info info = {.frequency = 999,
				   .stack_size = 16384,
				   .flags = XP_REC_F_INHERIT,
				   .start_time_ns = 1000};
	struct xpf_writer *w;
	struct xp_event ev;

	snprintf(info.event, sizeof(info.event), "cpu-clock");
	snprintf(info.target, sizeof(info.target), "-- ./prog arg");
	w = xpf_writer_open(f->path, &info, 2);
	assert_non_null(w);

	ev = (struct xp_event){.type = XP_EV_VDSO};
	ev.vdso.start = 0x7fff0000;
	ev.vdso.image = f->vdso;
	ev.vdso.len = sizeof(f->vdso);
	assert_int_equal(xpf_writer_event(w, &ev), 0);

	ev = (struct xp_event){.type = XP_EV_COMM};
	ev.comm.time_ns = 1001;
	ev.comm.pid = ev.comm.tid = 42;
	ev.comm.exec = true;
	snprintf(ev.comm.comm, sizeof(ev.comm.comm), "prog");
	assert_int_equal(xpf_writer_event(w, &ev), 0);

	ev = (struct xp_event){.type = XP_EV_MMAP};
	ev.mmap.time_ns = 1002;
	ev.mmap.pid = ev.mmap.tid = 42;
	ev.mmap.start = 0x400000;
	ev.mmap.len = 0x1000;
	ev.mmap.pgoff = 0x2000;
	ev.mmap.prot = 5;
	ev.mmap.build_id_len = 20;
	for (int i = 0; i < 20; i++)
		ev.mmap.build_id[i] = i + 1;
	ev.mmap.path = "/usr/bin/prog";
	assert_int_equal(xpf_writer_event(w, &ev), 0);

	ev = (struct xp_event){.type = XP_EV_FORK};
	ev.task =
	    (struct xp_ev_task){.time_ns = 1003, .pid = 43, .tid = 43, .ppid = 42, .ptid = 42};
	assert_int_equal(xpf_writer_event(w, &ev), 0);

	for (int i = 0; i < nsamples; i++) {
		uint8_t s1[sizeof(f->stack1)];

		memcpy(s1, f->stack1, sizeof(s1));
		if (f->vary_top)
			memcpy(s1 + sizeof(s1) - 8, &(uint64_t){i}, 8);
		ev = (struct xp_event){.type = XP_EV_SAMPLE};
		ev.sample.time_ns = 2000 + i;
		ev.sample.pid = i % 2 ? 43 : 42;
		ev.sample.tid = 44;
		ev.sample.cpu = 1;
		ev.sample.flags = XP_SAMPLE_F_ALTSTACK | XP_SAMPLE_F_STACK2 | XP_SAMPLE_F_KSTACK;
		for (int r = 0; r < XP_EV_NREGS; r++)
			ev.sample.regs[r] = 0x1000 * r + i;
		ev.sample.regs[XP_REG_SP] = 0x7ffd0000;
		ev.sample.nsegs = 2;
		ev.sample.segs[0] = (struct xp_ev_stack_seg){0x7ffd0000, s1, sizeof(s1)};
		ev.sample.segs[1] =
		    (struct xp_ev_stack_seg){0x7ffe0000, f->stack2, sizeof(f->stack2)};
		ev.sample.nkstack = 3;
		ev.sample.kstack = f->kstack;
		assert_int_equal(xpf_writer_event(w, &ev), 0);
	}

	ev = (struct xp_event){.type = XP_EV_LOST};
	ev.lost.time_ns = 3000;
	ev.lost.count = 5;
	assert_int_equal(xpf_writer_event(w, &ev), 0);

	ev = (struct xp_event){.type = XP_EV_EXIT};
	ev.task = (struct xp_ev_task){.time_ns = 3001, .pid = 43, .tid = 43};
	assert_int_equal(xpf_writer_event(w, &ev), 0);
	assert_int_equal(xpf_writer_close(w, 4000, nsamples, 5, 0), 0);
}

static int collect(void *ctx, const struct xp_event *ev)
{
	struct seen *s = ctx;

	assert_true(ev->type >= XP_EV_SAMPLE && ev->type <= XP_EV_LOST);
	s->n[ev->type]++;
	s->last[ev->type] = *ev;
	/* Event memory lives only during the callback: copy what the test checks. */
	if (ev->type == XP_EV_SAMPLE) {
		assert_int_equal(ev->sample.nsegs, 2);
		assert_int_equal(ev->sample.segs[0].len, sizeof(s->s1));
		assert_int_equal(ev->sample.segs[1].len, sizeof(s->s2));
		assert_int_equal(ev->sample.nkstack, 3);
		memcpy(s->s1, ev->sample.segs[0].data, sizeof(s->s1));
		memcpy(s->s2, ev->sample.segs[1].data, sizeof(s->s2));
		memcpy(s->k, ev->sample.kstack, sizeof(s->k));
	} else if (ev->type == XP_EV_MMAP) {
		snprintf(s->path, sizeof(s->path), "%s", ev->mmap.path);
	} else if (ev->type == XP_EV_VDSO) {
		assert_int_equal(ev->vdso.len, sizeof(s->vdso));
		memcpy(s->vdso, ev->vdso.image, sizeof(s->vdso));
	}
	return 0;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	struct xp_rec_info info;
	const char *why = "unset";

	write_file(f, 3);
	assert_int_equal(xp_recording_read(f->path, collect, &s, &info, &why), 0);
	assert_null(why);
	assert_int_equal(info.version, XPF_VERSION);
	assert_int_equal(info.frequency, 999);
	assert_int_equal(info.stack_size, 16384);
	assert_int_equal(info.flags, XP_REC_F_INHERIT);
	assert_int_equal(info.start_time_ns, 1000);
	assert_int_equal(info.end_time_ns, 4000);
	assert_string_equal(info.event, "cpu-clock");
	assert_string_equal(info.target, "-- ./prog arg");
	assert_int_equal(info.samples, 3);
	assert_int_equal(info.lost, 5);
	assert_int_equal(info.processes, 2);
	assert_int_equal(info.mappings, 1);
	assert_int_equal(info.stack_bytes, 3 * (300 + 64));

	assert_int_equal(s.n[XP_EV_SAMPLE], 3);
	assert_int_equal(s.n[XP_EV_MMAP], 1);
	assert_int_equal(s.n[XP_EV_COMM], 1);
	assert_int_equal(s.n[XP_EV_FORK], 1);
	assert_int_equal(s.n[XP_EV_EXIT], 1);
	assert_int_equal(s.n[XP_EV_VDSO], 1);
	assert_int_equal(s.n[XP_EV_LOST], 1);

	{
		const struct xp_ev_sample *sm = &s.last[XP_EV_SAMPLE].sample;

		assert_int_equal(sm->time_ns, 2002);
		assert_int_equal(sm->pid, 42);
		assert_int_equal(sm->tid, 44);
		assert_int_equal(sm->cpu, 1);
		assert_int_equal(sm->flags,
				 XP_SAMPLE_F_ALTSTACK | XP_SAMPLE_F_STACK2 | XP_SAMPLE_F_KSTACK);
		for (int r = 0; r < XP_EV_NREGS; r++)
			if (r != XP_REG_SP)
				assert_int_equal(sm->regs[r], 0x1000 * r + 2);
		assert_int_equal(sm->segs[0].start, 0x7ffd0000);
		assert_int_equal(sm->segs[1].start, 0x7ffe0000);
		assert_int_equal(sm->period_ns, 1000000000ull / 999);
		assert_memory_equal(s.s1, f->stack1, sizeof(s.s1));
		assert_memory_equal(s.s2, f->stack2, sizeof(s.s2));
		assert_memory_equal(s.k, f->kstack, sizeof(s.k));
	}
	{
		const struct xp_ev_mmap *m = &s.last[XP_EV_MMAP].mmap;

		assert_int_equal(m->time_ns, 1002);
		assert_int_equal(m->start, 0x400000);
		assert_int_equal(m->len, 0x1000);
		assert_int_equal(m->pgoff, 0x2000);
		assert_int_equal(m->prot, 5);
		assert_int_equal(m->build_id_len, 20);
		assert_int_equal(m->build_id[19], 20);
		assert_string_equal(s.path, "/usr/bin/prog");
	}
	assert_true(s.last[XP_EV_COMM].comm.exec);
	assert_string_equal(s.last[XP_EV_COMM].comm.comm, "prog");
	assert_int_equal(s.last[XP_EV_FORK].task.ppid, 42);
	assert_int_equal(s.last[XP_EV_LOST].lost.count, 5);
	assert_memory_equal(s.vdso, f->vdso, sizeof(f->vdso));
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, fp), (size_t)n);
	fclose(fp);
	*len = n;
	return buf;
}

struct big_check {
	const struct fixture *f;
	uint64_t samples, bad;
};

static int check_bytes(void *ctx, const struct xp_event *ev);

/*
 * A killed record: every cut yields the records before it, never an error
 * past the header. The samples share their stacks (version 2), and every
 * one delivered before a cut is whole.
 */
static void test_truncated(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len;
	uint64_t prev = 0;
	struct xp_rec_info full;
	const char *why0 = NULL;

	write_file(f, 4);
	buf = slurp(f->path, &len);
	assert_int_equal(xpf_read_mem(buf, len, NULL, NULL, &full, &why0, NULL), 0);
	assert_int_equal(full.stack_bytes, 4 * (300 + 64));
	assert_true(full.stack_stored < full.stack_bytes - 3 * 256);
	for (size_t cut = 0; cut <= len; cut++) {
		struct xp_rec_info info;
		struct big_check c = {.f = f};
		const char *why = NULL;
		int err = xpf_read_mem(buf, cut, check_bytes, &c, &info, &why, NULL);

		if (cut < XPF_HEADER_SIZE) {
			assert_int_equal(err, -EINVAL);
			assert_non_null(why);
			continue;
		}
		assert_int_equal(err, 0);
		assert_int_equal(c.bad, 0);
		assert_int_equal(c.samples, info.samples);
		assert_true(info.samples >= prev);
		assert_true(info.samples <= 4);
		assert_true(info.end_time_ns == 0 || cut == len);
		prev = info.samples;
	}
	assert_int_equal(prev, 4);
	free(buf);
}

struct corrupt_case {
	const char *name;
	size_t off;	 /* byte to overwrite */
	uint32_t val;	 /* with this 32-bit value */
	const char *why; /* substring of the reason */
};

static void test_corrupt(void **state)
{
	static const struct corrupt_case cases[] = {
	    {"magic", 0, 0x46524550, "bad magic"},
	    {"version", 8, 99, "version"},
	    {"header size", 12, 13, "header size"},
	    {"header size past end", 12, 1u << 30, "header size"},
	    {"sample version", 44, 77, "sample version"},
	    /* the first record (the vDSO) */
	    {"record size 0", XPF_HEADER_SIZE + 4, 0, "record size"},
	    {"record size odd", XPF_HEADER_SIZE + 4, 12, "record size"},
	    {"vdso len", XPF_HEADER_SIZE + 16, 1000000, "sizes do not fit"},
	    /* the second record (COMM, 48 bytes) shrunk below its fixed part */
	    {"comm size", XPF_HEADER_SIZE + 128 + 4, 16, "sizes do not fit"},
	};
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len;

	write_file(f, 1);
	buf = slurp(f->path, &len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *copy = malloc(len);
		const char *why = NULL;
		int err;

		assert_non_null(copy);
		memcpy(copy, buf, len);
		memcpy(copy + cases[i].off, &cases[i].val, 4);
		err = xpf_read_mem(copy, len, NULL, NULL, NULL, &why, NULL);
		if (err != -EINVAL || !why || !strstr(why, cases[i].why))
			fail_msg("case '%s': err %d, why '%s'", cases[i].name, err, why ? why : "");
		free(copy);
	}
	free(buf);
}

static void test_foreign(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;
	FILE *fp = fopen(f->path, "wb");

	assert_non_null(fp);
	fputs("hello, this is not a recording at all", fp);
	fclose(fp);
	assert_int_equal(xp_recording_read(f->path, NULL, NULL, NULL, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(xp_recording_read("/nonexistent/x.xprof", NULL, NULL, NULL, &why),
			 -ENOENT);
}

/* A non-zero callback value stops the reader and is returned. */
static int stop_at_sample(void *ctx, const struct xp_event *ev)
{
	(void)ctx;
	return ev->type == XP_EV_SAMPLE ? 7 : 0;
}

static void test_callback_stops(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;

	write_file(f, 2);
	assert_int_equal(xp_recording_read(f->path, stop_at_sample, NULL, NULL, &why), 7);
}

/* fn NULL only counts: record's summary reads its own file that way. */
static void test_count_only(void **state)
{
	struct fixture *f = *state;
	struct xp_rec_info info;
	const char *why = NULL;

	write_file(f, 4);
	assert_int_equal(xp_recording_read(f->path, NULL, NULL, &info, &why), 0);
	assert_int_equal(info.samples, 4);
}

/* Every sample's bytes are exactly what write_file() gave the writer. */
static int check_bytes(void *ctx, const struct xp_event *ev)
{
	struct big_check *c = ctx;
	const struct fixture *f = c->f;
	uint64_t top;

	if (ev->type != XP_EV_SAMPLE)
		return 0;
	c->bad += ev->sample.segs[0].len != sizeof(f->stack1);
	c->bad += memcmp(ev->sample.segs[0].data, f->stack1, sizeof(f->stack1) - 8) != 0;
	memcpy(&top, ev->sample.segs[0].data + sizeof(f->stack1) - 8, 8);
	if (f->vary_top)
		c->bad += top != c->samples;
	else
		c->bad += memcmp(&top, f->stack1 + sizeof(f->stack1) - 8, 8) != 0;
	c->bad += memcmp(ev->sample.segs[1].data, f->stack2, sizeof(f->stack2)) != 0;
	c->samples++;
	return 0;
}

/*
 * A recording larger than the reader's release step reads back intact, and
 * the pages behind the cursor are given back: peak RSS grows by far less
 * than the file.
 */
static void test_large_file_released(void **state)
{
	struct fixture *f = *state;
	struct big_check c = {.f = f};
	struct rusage before, after;
	struct stat st;
	const char *why = NULL;
	int n = 150000;

	f->vary_top = true; /* nothing shared: the file stays larger than the release step */
	write_file(f, n);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size > 64 << 20);
	assert_int_equal(getrusage(RUSAGE_SELF, &before), 0);
	assert_int_equal(xp_recording_read(f->path, check_bytes, &c, NULL, &why), 0);
	assert_int_equal(getrusage(RUSAGE_SELF, &after), 0);
	assert_int_equal(c.samples, n);
	assert_int_equal(c.bad, 0);
	/* ru_maxrss is in KiB; without the release it would grow by the whole file. */
	assert_true((after.ru_maxrss - before.ru_maxrss) * 1024 < st.st_size / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_count_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_file_released, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
