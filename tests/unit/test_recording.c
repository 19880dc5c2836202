// SPDX-License-Identifier: MIT
/*
 * The .xprof format: a write/read round trip of every event type, a file cut
 * at every length (a killed record) reads back as its prefix, and corrupt or
 * foreign input is refused with -EINVAL and a reason, never a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bpf/sample.h"
#include "recording/recording_int.h"
#include "recording/xprof_file.h"

struct fixture {
	char path[64];
	bool vary_top; /* write_file: every word of sample i's segment 1 differs from sample i - 1's
			  (vary_words(), so nothing is shared) */
	uint8_t stack1[300], stack2[64];
	uint64_t kstack[3];
	uint8_t vdso[100];
};

struct seen {
	int n[XP_EV_UID + 1];
	struct xp_event last[XP_EV_UID + 1];
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

/*
 * Sample i's segment 1 when nothing may be shared: every whole 8-byte word
 * counted from the top XORed with a value that differs for every i, so no
 * word equals the same address in any other sample (not even with holes).
 */
static void vary_words(uint8_t *s1, size_t len, uint64_t i)
{
	for (size_t k = 8; k <= len; k += 8) {
		uint64_t w;

		memcpy(&w, s1 + len - k, 8);
		w ^= (i + 1) * 0x9e3779b97f4a7c15ull;
		memcpy(s1 + len - k, &w, 8);
	}
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
			vary_words(s1, sizeof(s1), i);
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

	ev = (struct xp_event){.type = XP_EV_UID};
	ev.uid = (struct xp_ev_uid){.time_ns = 3002, .pid = 42, .uid = 1234};
	assert_int_equal(xpf_writer_event(w, &ev), 0);
	assert_int_equal(xpf_writer_close(w, 4000, nsamples, 5, 0), 0);
}

static int collect(void *ctx, const struct xp_event *ev)
{
	struct seen *s = ctx;

	assert_true(ev->type >= XP_EV_SAMPLE && ev->type <= XP_EV_UID);
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
	struct timespec t0, t1;

	clock_gettime(CLOCK_REALTIME, &t0);
	write_file(f, 3);
	clock_gettime(CLOCK_REALTIME, &t1);
	assert_int_equal(xp_recording_read(f->path, collect, &s, &info, &why), 0);
	assert_null(why);
	/* The header's wall-clock start: when the writer opened the file. */
	assert_in_range(info.start_real_ns, t0.tv_sec * 1000000000ull + t0.tv_nsec,
			t1.tv_sec * 1000000000ull + t1.tv_nsec);
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
	assert_int_equal(s.n[XP_EV_UID], 1);
	assert_int_equal(s.last[XP_EV_UID].uid.time_ns, 3002);
	assert_int_equal(s.last[XP_EV_UID].uid.pid, 42);
	assert_int_equal(s.last[XP_EV_UID].uid.uid, 1234);

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
		/* A cut, not damage: no reason, and what is skipped runs to the cut. */
		assert_null(info.skip_why);
		if (info.skip_bytes)
			assert_int_equal(info.skip_offset + info.skip_bytes, cut);
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
	size_t rec;	 /* 0: the header, the file is refused; else the bad record's offset */
};

static void test_corrupt(void **state)
{
	static const struct corrupt_case cases[] = {
	    {"magic", 0, 0x46524550, "bad magic", 0},
	    {"version", 8, 99, "version", 0},
	    {"header size", 12, 13, "header size", 0},
	    {"header size past end", 12, 1u << 30, "header size", 0},
	    {"sample version", 44, 77, "sample version", 0},
	    /* the first record (the vDSO): nothing before it, the header still read */
	    {"record size 0", XPF_HEADER_SIZE + 4, 0, "record size", XPF_HEADER_SIZE},
	    {"record size odd", XPF_HEADER_SIZE + 4, 12, "record size", XPF_HEADER_SIZE},
	    {"vdso len", XPF_HEADER_SIZE + 16, 1000000, "sizes do not fit", XPF_HEADER_SIZE},
	    {"vdso len one word short", XPF_HEADER_SIZE + 16, 100 - 8, "sizes do not fit",
	     XPF_HEADER_SIZE},
	    /* the second record (COMM, 48 bytes) shrunk below its fixed part, or grown: it
	     * would swallow the next record */
	    {"comm size", XPF_HEADER_SIZE + 128 + 4, 16, "sizes do not fit", XPF_HEADER_SIZE + 128},
	    {"comm size grown", XPF_HEADER_SIZE + 128 + 4, 48 + 32, "sizes do not fit",
	     XPF_HEADER_SIZE + 128},
	};
	struct fixture *f = *state;
	struct xp_rec_info info;
	struct seen seen;
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
		memset(&seen, 0, sizeof(seen));
		err = xpf_read_mem(copy, len, collect, &seen, &info, &why, NULL);
		if (!cases[i].rec) {
			if (err != -EINVAL || !why || !strstr(why, cases[i].why))
				fail_msg("case '%s': err %d, why '%s'", cases[i].name, err,
					 why ? why : "");
		} else if (err || !info.skip_why || !strstr(info.skip_why, cases[i].why) ||
			   info.skip_offset != cases[i].rec ||
			   info.skip_bytes != len - cases[i].rec ||
			   seen.n[XP_EV_VDSO] != (cases[i].rec > XPF_HEADER_SIZE) ||
			   seen.n[XP_EV_SAMPLE]) {
			fail_msg("case '%s': err %d, skipped %" PRIu64 " bytes at %" PRIu64
				 " '%s', %d vdso",
				 cases[i].name, err, info.skip_bytes, info.skip_offset,
				 info.skip_why ? info.skip_why : "", seen.n[XP_EV_VDSO]);
		}
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
	uint8_t want[sizeof(f->stack1)];

	if (ev->type != XP_EV_SAMPLE)
		return 0;
	memcpy(want, f->stack1, sizeof(want));
	if (f->vary_top)
		vary_words(want, sizeof(want), c->samples);
	c->bad += ev->sample.segs[0].len != sizeof(f->stack1);
	c->bad += memcmp(ev->sample.segs[0].data, want, sizeof(want)) != 0;
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

/* ---- version 2: stack bytes shared with the thread's previous sample ---- */

#define SH_MEM	 16384
#define SH_TOP	 0x7ff000004000ull /* the top of every thread's stack memory below */
#define SH_EVICT 3000		   /* threads that push the first ones out of the writer's table */
#define SH_ANY	 UINT32_MAX	   /* whatever the writer's table still holds */

/*
 * One step of a thread's life: a sample of [SH_TOP - below_sp, SH_TOP -
 * below_top) after its lowest `mutate` bytes changed, and the stack_shared
 * the writer must choose for it; shared -1 is an EXIT of tid instead.
 */
struct share_step {
	uint32_t tid, below_sp, below_top, mutate;
	int shared;
};

static const struct share_step share_steps[] = {
    {1, 1000, 0, 1000, 0},  /* first sample of tid 1: whole */
    {1, 1200, 0, 304, 896}, /* deeper, the top 896 bytes unchanged */
    {2, 500, 0, 500, 0},    /* another thread, same addresses: its own history */
    {1, 800, 0, 96, 704},   /* shallower, still the same top */
    {2, 600, 0, 200, 400},
    {1, 2000, 100, 1200, 696}, /* a lower top (a truncated copy): what the last one covers,
				  in whole words from the top */
    {1, 1900, 100, 8, 1792},   /* the same lower top again */
    {1, 900, 0, 8, 0},	       /* a higher top than the last sample had: nothing to share */
    {2, 0, 0, 0, -1},	       /* EXIT: tid 2's stack is forgotten ... */
    {2, 600, 0, 0, 0},	       /* ... so an identical stack is written whole */
    {2, 600, 0, 0, 600},       /* all of it shared: nothing stored */
    {3, 0, 0, 0, 0},	       /* an empty segment */
    {3, 64, 0, 64, 0},	       /* after an empty one: nothing to share */
    {3, 64, 0, 8, 56},
};

struct share_expect {
	uint32_t tid, len;
	uint64_t sp;
	uint32_t shared;
	uint8_t *bytes;
};

struct share_log {
	struct share_expect *e;
	size_t n, cap, seen;
	uint8_t stack2[64];
	uint64_t kstack[2];
	uint64_t bad, shared_seen;
	char first_bad[160];
};

static uint8_t sh_mem[4][SH_MEM];

static void share_sample(struct xpf_writer *w, struct share_log *log, uint32_t tid, uint64_t sp,
			 uint32_t len, const uint8_t *bytes, uint32_t expect_shared)
{
	struct xp_event ev = {.type = XP_EV_SAMPLE};
	struct share_expect *x;

	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 64;
		log->e = realloc(log->e, log->cap * sizeof(*log->e));
		assert_non_null(log->e);
	}
	x = &log->e[log->n++];
	*x = (struct share_expect){.tid = tid, .len = len, .sp = sp, .shared = expect_shared};
	x->bytes = malloc(len ? len : 1);
	assert_non_null(x->bytes);
	memcpy(x->bytes, bytes, len);

	ev.sample.time_ns = 5000 + log->n;
	ev.sample.pid = 100;
	ev.sample.tid = tid;
	ev.sample.flags = XP_SAMPLE_F_STACK2 | XP_SAMPLE_F_KSTACK;
	ev.sample.regs[XP_REG_SP] = sp;
	ev.sample.nsegs = 2;
	ev.sample.segs[0] = (struct xp_ev_stack_seg){sp, bytes, len};
	ev.sample.segs[1] = (struct xp_ev_stack_seg){0x10000, log->stack2, sizeof(log->stack2)};
	ev.sample.nkstack = 2;
	ev.sample.kstack = log->kstack;
	assert_int_equal(xpf_writer_event(w, &ev), 0);
}

static int share_check(void *ctx, const struct xp_event *ev)
{
	struct share_log *log = ctx;
	const struct xp_ev_sample *s = &ev->sample;
	const struct share_expect *x;
	bool ok;

	if (ev->type != XP_EV_SAMPLE)
		return 0;
	if (log->seen >= log->n) {
		log->bad++;
		return 0;
	}
	x = &log->e[log->seen++];
	log->shared_seen += s->stack_shared;
	ok = s->tid == x->tid && s->nsegs == 2 && s->segs[0].start == x->sp &&
	     s->segs[0].len == x->len && !memcmp(s->segs[0].data, x->bytes, x->len) &&
	     (s->stack_shared == x->shared || x->shared == SH_ANY) &&
	     s->segs[1].len == sizeof(log->stack2) &&
	     !memcmp(s->segs[1].data, log->stack2, sizeof(log->stack2)) && s->nkstack == 2 &&
	     !memcmp(s->kstack, log->kstack, sizeof(log->kstack));
	if (!ok && !log->bad++)
		snprintf(log->first_bad, sizeof(log->first_bad),
			 "sample %zu (tid %u): len %u/%u, stack_shared %u, want %u", log->seen - 1,
			 s->tid, s->segs[0].len, x->len, s->stack_shared, x->shared);
	return 0;
}

static void share_log_free(struct share_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->e[i].bytes);
	free(log->e);
}

/* Write the steps, then SH_EVICT other threads, then tid 1 twice. */
static void write_share_file(const char *path, struct share_log *log,
			     const struct share_step *steps, size_t nsteps, bool evict)
{
	struct xp_rec_info info = {.frequency = 99, .stack_size = SH_MEM};
	struct xpf_writer *w = xpf_writer_open(path, &info, 1);

	assert_non_null(w);
	for (size_t i = 0; i < sizeof(log->stack2); i++)
		log->stack2[i] = 0xc0 + i;
	log->kstack[0] = 0xffffffff81000100ull;
	log->kstack[1] = 0xffffffff81000200ull;
	for (int t = 0; t < 4; t++)
		for (int k = 0; k < SH_MEM; k++)
			sh_mem[t][k] = (k * 31 + t * 7) & 0x7f;
	for (size_t i = 0; i < nsteps; i++) {
		const struct share_step *st = &steps[i];
		uint8_t *m;

		if (st->shared < 0) {
			struct xp_event ev = {.type = XP_EV_EXIT};

			ev.task = (struct xp_ev_task){.time_ns = 5000, .pid = 100, .tid = st->tid};
			assert_int_equal(xpf_writer_event(w, &ev), 0);
			continue;
		}
		/* 0x80 | step: differs from the seed and from every other step's bytes */
		m = sh_mem[st->tid];
		memset(m + SH_MEM - st->below_sp, 0x80 | i, st->mutate);
		share_sample(w, log, st->tid, SH_TOP - st->below_sp, st->below_sp - st->below_top,
			     m + SH_MEM - st->below_sp, st->shared);
	}
	if (evict) {
		for (uint32_t t = 0; t < SH_EVICT; t++)
			share_sample(w, log, 1000 + t, SH_TOP - 64, 64, sh_mem[0] + SH_MEM - 64, 0);
		share_sample(w, log, 1, SH_TOP - 900, 900, sh_mem[1] + SH_MEM - 900, 0);
		/* whole words from the top: 896 of 900 */
		share_sample(w, log, 1, SH_TOP - 900, 900, sh_mem[1] + SH_MEM - 900, 896);
		/* Many threads end: the reader must still find the others' stacks. */
		for (uint32_t t = 0; t < SH_EVICT; t += 2) {
			struct xp_event ev = {.type = XP_EV_EXIT};

			ev.task = (struct xp_ev_task){.time_ns = 8000, .pid = 100, .tid = 1000 + t};
			assert_int_equal(xpf_writer_event(w, &ev), 0);
		}
		/* Newest first, so a thread the writer misses evicts only ones already seen. */
		for (uint32_t t = SH_EVICT - 1; t < SH_EVICT; t -= 2)
			share_sample(w, log, 1000 + t, SH_TOP - 64, 64, sh_mem[0] + SH_MEM - 64,
				     SH_ANY);
		/* The same again with tids that collide in both hash tables (equal low bits). */
		for (uint32_t k = 0; k < 200; k++)
			share_sample(w, log, 100000 + (k << 16), SH_TOP - 64, 64,
				     sh_mem[0] + SH_MEM - 64, SH_ANY);
		for (uint32_t k = 0; k < 200; k += 2) {
			struct xp_event ev = {.type = XP_EV_EXIT};

			ev.task = (struct xp_ev_task){
			    .time_ns = 8500, .pid = 100, .tid = 100000 + (k << 16)};
			assert_int_equal(xpf_writer_event(w, &ev), 0);
		}
		for (uint32_t k = 199; k < 200; k -= 2)
			share_sample(w, log, 100000 + (k << 16), SH_TOP - 64, 64,
				     sh_mem[0] + SH_MEM - 64, k >= 193 ? 64 : SH_ANY);
	}
	assert_int_equal(xpf_writer_close(w, 9000, log->n, 0, 0), 0);
}

/*
 * The writer shares exactly the unchanged top of each thread's stack (what
 * the previous sample of the same tid covers, forgotten at EXIT and when
 * evicted), and the reader rebuilds every byte.
 */
static void test_share_round_trip(void **state)
{
	struct fixture *f = *state;
	struct share_log log = {0};
	struct xp_rec_info info;
	const char *why = NULL;
	uint64_t logical = 0;

	write_share_file(f->path, &log, share_steps, sizeof(share_steps) / sizeof(share_steps[0]),
			 true);
	assert_int_equal(xp_recording_read(f->path, share_check, &log, &info, &why), 0);
	if (log.bad)
		fail_msg("%" PRIu64 " bad samples; first: %s", log.bad, log.first_bad);
	assert_int_equal(log.seen, log.n);
	assert_int_equal(info.version, XPF_VERSION);
	for (size_t i = 0; i < log.n; i++)
		logical += log.e[i].len + sizeof(log.stack2);
	assert_int_equal(info.stack_bytes, logical);
	assert_int_equal(info.stack_stored, logical - log.shared_seen);
	assert_true(log.shared_seen > 10000); /* the later odd threads did share */
	share_log_free(&log);
}

/* Set the word `idx` words below the top of buf[0..len) to a value no other sample holds. */
static void poke_word(uint8_t *buf, size_t len, size_t idx, uint64_t v)
{
	memcpy(buf + len - 8 * (idx + 1), &v, 8);
}

static size_t find_rec(const uint8_t *buf, size_t len, uint32_t type, int nth);

/*
 * Version 3: words that changed inside an unchanged outer stack (a loop
 * counter, a timestamp in a caller's frame) become patches, and the rest of
 * the range is still shared; at most XPF_PATCH_MAX of them. The reader
 * rebuilds every byte, and refuses a patch outside the shared range.
 */
static void test_share_patches(void **state)
{
	struct fixture *f = *state;
	struct xp_rec_info info = {.frequency = 99, .stack_size = 8192};
	struct share_log log = {0};
	static uint8_t a[8192];
	struct xpf_writer *w = xpf_writer_open(f->path, &info, 1);
	uint64_t logical = 0;
	const char *why = NULL;
	uint8_t *buf;
	size_t len, at, rec;
	uint32_t v;

	assert_non_null(w);
	for (size_t k = 0; k < sizeof(a); k++)
		a[k] = (k * 13) & 0xff;
	/* 4 KiB; then two changed words in the middle and the low 100 bytes */
	share_sample(w, &log, 7, SH_TOP - 4096, 4096, a + 8192 - 4096, 0);
	poke_word(a, 8192, 100, 0x1111);
	poke_word(a, 8192, 200, 0x2222);
	poke_word(a, 8192, 201, 0x3333);
	memset(a + 8192 - 4096, 0x55, 100);
	share_sample(w, &log, 7, SH_TOP - 4096, 4096, a + 8192 - 4096, 4096 - 104);
	/* deeper: the top 4 KiB as they were; then 300 isolated changed words: patches stop at
	 * the 257th */
	share_sample(w, &log, 7, SH_TOP - 8192, 8192, a, 4096);
	for (size_t j = 0; j < 300; j++)
		poke_word(a, 8192, 2 * j + 1, 0x4000 + j);
	share_sample(w, &log, 7, SH_TOP - 8192, 8192, a, 8 * (2 * XPF_PATCH_MAX + 1));
	/* the same bytes again: all shared, no patch */
	share_sample(w, &log, 7, SH_TOP - 8192, 8192, a, 8192);
	assert_int_equal(xpf_writer_close(w, 9000, log.n, 0, 0), 0);

	assert_int_equal(xp_recording_read(f->path, share_check, &log, &info, &why), 0);
	if (log.bad)
		fail_msg("%" PRIu64 " bad samples; first: %s", log.bad, log.first_bad);
	assert_int_equal(log.seen, log.n);
	for (size_t i = 0; i < log.n; i++)
		logical += log.e[i].len + sizeof(log.stack2);
	/* stored: the unshared parts and the patched words, 3 in sample 2, 256 in sample 4 */
	assert_int_equal(info.stack_stored, logical - log.shared_seen + 8 * 3 + 8 * XPF_PATCH_MAX);

	/* A patch reaching above the shared range is corrupt: the read keeps the sample before
	 * it and says where it stopped. */
	buf = slurp(f->path, &len);
	rec = find_rec(buf, len, XPF_REC_SAMPLE, 1);
	at = rec + sizeof(struct xpf_sample) + 2 * 8 + sizeof(struct xpf_patches);
	v = 4096;
	memcpy(buf + at + offsetof(struct xpf_patch, off), &v, 4);
	why = NULL;
	log.seen = 0;
	memset(&info, 0, sizeof(info));
	assert_int_equal(xpf_read_mem(buf, len, share_check, &log, &info, &why, NULL), 0);
	assert_non_null(info.skip_why);
	assert_non_null(strstr(info.skip_why, "patch outside"));
	assert_int_equal(info.skip_offset, rec);
	assert_int_equal(log.seen, 1);
	free(buf);
	share_log_free(&log);
}

/* Byte offset of the nth (from 0) record of a type. */
static size_t find_rec(const uint8_t *buf, size_t len, uint32_t type, int nth)
{
	for (size_t at = XPF_HEADER_SIZE; at + sizeof(struct xpf_rec) <= len;) {
		struct xpf_rec h;

		memcpy(&h, buf + at, sizeof(h));
		assert_true(h.size >= sizeof(h));
		if (h.type == type && nth-- == 0)
			return at;
		at += h.size;
	}
	fail_msg("no record of type %u", type);
	return 0;
}

struct share_corrupt_case {
	const char *name;
	uint32_t type;	 /* the first record of this type after the first sample */
	size_t field;	 /* offset in that record */
	int64_t add;	 /* added to that u32 (u64 for sp) */
	const char *why; /* substring of the reason */
};

/*
 * A shared range without a previous sample, or one it does not cover, is a
 * corrupt record: the samples before it are delivered, the rest is skipped.
 */
static void test_share_corrupt(void **state)
{
	static const struct share_step steps[] = {
	    {1, 1000, 0, 1000, 0},
	    {9, 0, 0, 0, -1}, /* an EXIT of another thread */
	    {1, 1200, 0, 304, 896},
	};
	static const struct share_corrupt_case cases[] = {
	    {"other tid", XPF_REC_SAMPLE, offsetof(struct xpf_sample, tid), 7, "no previous stack"},
	    {"after its thread's exit", XPF_REC_EXIT, offsetof(struct xpf_task, tid), -8,
	     "no previous stack"},
	    /* sharing more leaves fewer bytes stored than the record holds */
	    {"more than the last covers", XPF_REC_SAMPLE, offsetof(struct xpf_sample, stack_shared),
	     200, "sizes do not fit"},
	    {"top above the last one", XPF_REC_SAMPLE, offsetof(struct xpf_sample, regs[XP_REG_SP]),
	     8, "does not cover"},
	    {"more than the segment", XPF_REC_SAMPLE, offsetof(struct xpf_sample, stack_shared),
	     1200 - 896 + 8, "sizes do not fit"},
	};
	struct fixture *f = *state;
	struct share_log log = {0};
	struct xp_rec_info info;
	uint8_t *buf;
	size_t len;

	write_share_file(f->path, &log, steps, 3, false);
	buf = slurp(f->path, &len);
	{
		struct xpf_sample s;

		memcpy(&s, buf + find_rec(buf, len, XPF_REC_SAMPLE, 1), sizeof(s));
		assert_int_equal(s.stack_shared, 896);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct share_corrupt_case *c = &cases[i];
		size_t at = find_rec(buf, len, c->type, c->type == XPF_REC_SAMPLE);
		uint8_t *copy = malloc(len);
		const char *why = NULL;
		int err;

		assert_non_null(copy);
		memcpy(copy, buf, len);
		if (c->field == offsetof(struct xpf_sample, regs[XP_REG_SP])) {
			uint64_t v;

			memcpy(&v, copy + at + c->field, 8);
			v += c->add;
			memcpy(copy + at + c->field, &v, 8);
		} else {
			uint32_t v;

			memcpy(&v, copy + at + c->field, 4);
			v += c->add;
			memcpy(copy + at + c->field, &v, 4);
		}
		log.seen = 0;
		log.bad = 0;
		err = xpf_read_mem(copy, len, share_check, &log, &info, &why, NULL);
		if (err || !info.skip_why || !strstr(info.skip_why, c->why) ||
		    info.skip_offset != find_rec(buf, len, XPF_REC_SAMPLE, 1) ||
		    info.skip_type != XPF_REC_SAMPLE)
			fail_msg("case '%s': err %d, skipped at %" PRIu64 " '%s'", c->name, err,
				 info.skip_offset, info.skip_why ? info.skip_why : "");
		if (log.seen != 1 || log.bad)
			fail_msg("case '%s': %zu samples before the corrupt one, %" PRIu64 " bad",
				 c->name, log.seen, log.bad);
		free(copy);
	}
	free(buf);
	share_log_free(&log);
}

/* ---- damage: single-byte flips ---------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Everything a consumer can see of an event, hashed: its fields and every byte it points to. */
static uint64_t ev_digest(const struct xp_event *ev)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, &ev->type, sizeof(ev->type));

	switch (ev->type) {
	case XP_EV_SAMPLE: {
		const struct xp_ev_sample *sm = &ev->sample;

		h = fnv(h, &sm->time_ns, sizeof(sm->time_ns));
		h = fnv(h, &sm->pid, 4 * 4);
		h = fnv(h, sm->regs, sizeof(sm->regs));
		h = fnv(h, &sm->nsegs, sizeof(sm->nsegs));
		for (uint32_t i = 0; i < sm->nsegs; i++) {
			h = fnv(h, &sm->segs[i].start, 8);
			h = fnv(h, &sm->segs[i].len, 4);
			h = fnv(h, sm->segs[i].data, sm->segs[i].len);
		}
		h = fnv(h, sm->kstack, 8 * (size_t)sm->nkstack);
		h = fnv(h, &sm->period_ns, 8);
		break;
	}
	case XP_EV_MMAP:
		h = fnv(h, &ev->mmap, offsetof(struct xp_ev_mmap, path));
		h = fnv(h, ev->mmap.path, strlen(ev->mmap.path));
		break;
	case XP_EV_VDSO:
		h = fnv(h, &ev->vdso.start, 8);
		h = fnv(h, ev->vdso.image, ev->vdso.len);
		break;
	case XP_EV_COMM:
		h = fnv(h, &ev->comm, sizeof(ev->comm));
		break;
	case XP_EV_FORK:
	case XP_EV_EXIT:
		h = fnv(h, &ev->task, sizeof(ev->task));
		break;
	case XP_EV_LOST:
		h = fnv(h, &ev->lost, sizeof(ev->lost));
		break;
	case XP_EV_UID:
		h = fnv(h, &ev->uid, sizeof(ev->uid));
		break;
	}
	return h;
}

#define FLIP_MAX_EV 64

struct flip_log {
	size_t pos; /* xpf_read_mem sets it to each record's offset */
	size_t n;
	uint64_t digest[FLIP_MAX_EV];
	size_t off[FLIP_MAX_EV]; /* the record each event came from */
	uint64_t touched;
};

static int flip_collect(void *ctx, const struct xp_event *ev)
{
	struct flip_log *l = ctx;

	if (l->n < FLIP_MAX_EV) {
		l->digest[l->n] = ev_digest(ev);
		l->off[l->n] = l->pos;
	}
	l->n++;
	return 0;
}

/*
 * One flipped byte anywhere in the records must never cost the records
 * before it: the read returns 0, every event whose record lies wholly before
 * the flipped byte arrives unchanged and in order, and a stop is reported as
 * running to the end of the file. Every byte, three ways each; under ASan a
 * length the reader trusted too far shows up as well.
 */
static void test_byte_flips(void **state)
{
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	struct fixture *f = *state;
	struct flip_log ref = {0};
	struct xp_rec_info info;
	const char *why = NULL;
	uint64_t reads = 0, stopped = 0, lost_before = 0;
	size_t len, hdr_refused = 0;
	uint8_t *buf, *copy;

	write_file(f, 6); /* version 2: samples 2..6 share their stack top with the one before */
	buf = slurp(f->path, &len);
	assert_int_equal(xpf_read_mem(buf, len, flip_collect, &ref, &info, &why, &ref.pos), 0);
	assert_true(ref.n <= FLIP_MAX_EV);
	assert_int_equal(info.skip_bytes, 0);
	copy = malloc(len);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(flips); k++) {
			struct flip_log got = {0};
			size_t before = 0;
			int err;

			memcpy(copy, buf, len);
			copy[i] ^= flips[k];
			why = NULL;
			err = xpf_read_mem(copy, len, flip_collect, &got, &info, &why, &got.pos);
			reads++;
			if (i < XPF_HEADER_SIZE) {
				/* the header: read as is (a name, a time) or refused with a reason
				 */
				if (err) {
					assert_int_equal(err, -EINVAL);
					assert_non_null(why);
					hdr_refused++;
				}
				continue;
			}
			if (err)
				fail_msg("flip 0x%02x at %zu: err %d '%s'", flips[k], i, err,
					 why ? why : "");
			/* events from records wholly before the flip */
			while (before < ref.n) {
				struct xpf_rec h;

				memcpy(&h, buf + ref.off[before], sizeof(h));
				if (ref.off[before] + h.size > i)
					break;
				before++;
			}
			if (got.n < before)
				fail_msg("flip 0x%02x at %zu: %zu events, %zu before the flip",
					 flips[k], i, got.n, before);
			for (size_t e = 0; e < before; e++)
				if (got.digest[e] != ref.digest[e] || got.off[e] != ref.off[e])
					fail_msg("flip 0x%02x at %zu: event %zu differs", flips[k],
						 i, e);
			if (info.skip_bytes) {
				stopped++;
				assert_int_equal(info.skip_offset + info.skip_bytes, len);
				assert_true(info.skip_offset >= XPF_HEADER_SIZE);
			}
			lost_before += got.n < ref.n;
		}
	}
	print_message("byte flips: %" PRIu64 " reads, %zu header flips refused, %" PRIu64
		      " stopped at a bad record, %" PRIu64 " delivered fewer events\n",
		      reads, hdr_refused, stopped, lost_before);
	assert_true(stopped > 0);
	free(copy);
	free(buf);
}

/*
 * Version 1 files still read, and there the stack_shared field is reserved:
 * a non-zero value is ignored, where version 2 would find it does not fit.
 */
static void test_v1_reads(void **state)
{
	struct fixture *f = *state;
	struct big_check c = {.f = f};
	struct xp_rec_info info;
	const char *why = NULL;
	uint32_t v = 1, junk = 12345;
	uint8_t *buf;
	size_t len, at;

	f->vary_top = true; /* no sharing: a file a version 1 writer could have written */
	write_file(f, 3);
	buf = slurp(f->path, &len);
	at = find_rec(buf, len, XPF_REC_SAMPLE, 1);
	memcpy(buf + at + offsetof(struct xpf_sample, stack_shared), &junk, 4);
	why = NULL;
	assert_int_equal(xpf_read_mem(buf, len, NULL, NULL, &info, &why, NULL), 0);
	assert_non_null(strstr(info.skip_why, "sizes do not fit"));
	assert_int_equal(info.skip_offset, at);
	assert_int_equal(info.samples, 1);
	memcpy(buf + offsetof(struct xpf_header, version), &v, 4);
	why = NULL;
	assert_int_equal(xpf_read_mem(buf, len, check_bytes, &c, &info, &why, NULL), 0);
	assert_int_equal(info.version, 1);
	assert_int_equal(c.samples, 3);
	assert_int_equal(c.bad, 0);
	assert_int_equal(info.stack_stored, info.stack_bytes);
	free(buf);
}

/* ---- queue.c ----------------------------------------------------------------- */

struct trace {
	uint64_t h[4096];
	size_t n;
	unsigned delay_us;
	size_t fail_at; /* return -EIO at this event (1-based); 0: never */
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* What a consumer would check of an event: its kind, time, ids, period and bytes. */
static int trace_fn(void *ctx, const struct xp_event *ev)
{
	struct trace *t = ctx;
	uint64_t h = mix(0xcbf29ce484222325ull, &ev->type, sizeof(ev->type));

	switch (ev->type) {
	case XP_EV_SAMPLE:
		h = mix(h, &ev->sample.time_ns, 8);
		h = mix(h, &ev->sample.tid, 4);
		h = mix(h, &ev->sample.period_ns, 8);
		h = mix(h, ev->sample.regs, sizeof(ev->sample.regs));
		h = mix(h, ev->sample.segs[0].data, ev->sample.segs[0].len);
		break;
	case XP_EV_MMAP:
		h = mix(h, ev->mmap.path, strlen(ev->mmap.path));
		h = mix(h, &ev->mmap.start, 8);
		break;
	default:
		h = mix(h, &ev->task, sizeof(ev->task));
		break;
	}
	assert_true(t->n < sizeof(t->h) / sizeof(t->h[0]));
	t->h[t->n++] = h;
	if (t->delay_us)
		usleep(t->delay_us);
	return t->n == t->fail_at ? -EIO : 0;
}

/* 3000 events: an mmap, then samples of 16 KiB stacks that differ, with forks in between. */
static int feed(xp_event_fn fn, void *ctx)
{
	static uint8_t stack[16384];
	struct xp_event ev = {.type = XP_EV_MMAP};
	int err;

	ev.mmap = (struct xp_ev_mmap){
	    .time_ns = 1, .pid = 7, .start = 0x400000, .len = 4096, .prot = 5, .path = "/bin/prog"};
	err = fn(ctx, &ev);
	for (int i = 1; !err && i < 3000; i++) {
		memset(&ev, 0, sizeof(ev));
		if (i % 100 == 0) {
			ev.type = XP_EV_FORK;
			ev.task = (struct xp_ev_task){.time_ns = 10 + i, .pid = 7, .tid = 1000 + i};
		} else {
			memcpy(stack, &i, sizeof(i));
			stack[sizeof(stack) - 1] = (uint8_t)i;
			ev.type = XP_EV_SAMPLE;
			ev.sample.time_ns = 10 + i;
			ev.sample.pid = 7;
			ev.sample.tid = 7 + i % 3;
			ev.sample.regs[XP_REG_SP] = 0x7ff00000;
			ev.sample.regs[XP_REG_IP] = 0x400100 + i;
			ev.sample.nsegs = 1;
			ev.sample.segs[0] =
			    (struct xp_ev_stack_seg){0x7ff00000, stack, sizeof(stack)};
			ev.sample.period_ns = 1000000000ull / 999;
		}
		err = fn(ctx, &ev);
	}
	return err;
}

static void test_queue(void **state)
{
	static struct trace direct, queued, failing;
	struct xp_queue *q;

	(void)state;
	memset(&direct, 0, sizeof(direct));
	memset(&queued, 0, sizeof(queued));
	memset(&failing, 0, sizeof(failing));
	assert_int_equal(feed(trace_fn, &direct), 0);
	assert_int_equal(direct.n, 3000);

	/* A slow consumer behind a small queue: every event arrives, in order, the producer waits.
	 */
	queued.delay_us = 200;
	q = xp_queue_new(trace_fn, &queued, 999, 0);
	assert_non_null(q);
	assert_int_equal(feed(xp_queue_event, q), 0);
	assert_int_equal(xp_queue_finish(q), 0);
	assert_true(xp_queue_stalls(q) > 0);
	xp_queue_free(q);
	assert_int_equal(queued.n, direct.n);
	assert_memory_equal(queued.h, direct.h, direct.n * sizeof(direct.h[0]));

	/* The consumer's error reaches the producer, which stops; nothing after it is seen. */
	failing.fail_at = 100;
	q = xp_queue_new(trace_fn, &failing, 999, 0);
	assert_non_null(q);
	assert_int_equal(feed(xp_queue_event, q), -EIO);
	assert_int_equal(xp_queue_finish(q), -EIO);
	xp_queue_free(q);
	assert_int_equal(failing.n, 100);

	/* Freed before the end: the consumer stops, nothing leaks (ASan). */
	memset(&queued, 0, sizeof(queued));
	q = xp_queue_new(trace_fn, &queued, 999, 0);
	assert_non_null(q);
	assert_int_equal(feed(xp_queue_event, q), 0);
	xp_queue_free(q);
	assert_true(queued.n <= direct.n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_count_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_file_released, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_patches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_byte_flips, setup, teardown),
	    cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
