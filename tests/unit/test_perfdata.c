// SPDX-License-Identifier: MIT
/*
 * Tests of the perf.data reader (profiler/perfdata.c).
 *
 * A synthetic file built here covers what perf writes and the edges real
 * recordings rarely show: two attrs told apart by IDENTIFIER or by ID,
 * sample_id_all trailers, records out of time order, kernel mmaps and data
 * mmaps (skipped), build-ids from the record and from the feature section,
 * every record type we yield and some we skip. Corruptions of it must each
 * give -EINVAL and a reason. A real recording (tests/fixtures/perf/) is
 * checked against what `perf script` and `perf report -D` print for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/types.h>

#include "bpf/sample.h"
#include "recording/recording_int.h"

/* ---- a growable byte buffer and a perf.data writer on top of it ---------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static size_t put(struct buf *b, const void *d, size_t n)
{
	size_t at = b->len;

	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (d)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
	return at;
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void set64(struct buf *b, size_t at, uint64_t v)
{
	memcpy(b->p + at, &v, 8);
}

static void set32(struct buf *b, size_t at, uint32_t v)
{
	memcpy(b->p + at, &v, 4);
}

static void set16(struct buf *b, size_t at, uint16_t v)
{
	memcpy(b->p + at, &v, 2);
}

static size_t rec_begin(struct buf *b, uint32_t type, uint16_t misc)
{
	size_t at = put(b, NULL, 8);

	set32(b, at, type);
	set16(b, at + 4, misc);
	return at;
}

static void rec_end(struct buf *b, size_t at)
{
	set16(b, at + 6, (uint16_t)(b->len - at));
}

/* A NUL-terminated string padded to 8 bytes, as perf writes them. */
static void put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s) + 1;

	put(b, s, n);
	put(b, NULL, (8 - n % 8) % 8);
}

#define ST_IP	      (1u << 0)
#define ST_TID	      (1u << 1)
#define ST_TIME	      (1u << 2)
#define ST_CALLCHAIN  (1u << 5)
#define ST_ID	      (1u << 6)
#define ST_CPU	      (1u << 7)
#define ST_PERIOD     (1u << 8)
#define ST_REGS_USER  (1u << 12)
#define ST_STACK_USER (1u << 13)
#define ST_IDENTIFIER (1u << 16)
#define REGS_MASK     0xff0fffull /* perf's default for --call-graph dwarf on x86-64 */
#define CTX_KERNEL    ((uint64_t)-128)
#define CTX_USER      ((uint64_t)-512)
#define STACK	      64

/* Where the synthetic file keeps the bytes the corruption tests patch. */
struct layout {
	size_t attrs, sample1, sample1_dyn, sample1_chain, mmap_prog, round, sample2;
};

struct synth {
	uint64_t st; /* sample_type of both attrs */
	struct buf b;
	struct layout at;
};

static void put_trailer(struct synth *s, uint32_t pid, uint32_t tid, uint64_t time, uint64_t id)
{
	put32(&s->b, pid);
	put32(&s->b, tid);
	put64(&s->b, time);
	if (s->st & ST_ID)
		put64(&s->b, id);
	put64(&s->b, 1); /* cpu */
	if (s->st & ST_IDENTIFIER)
		put64(&s->b, id);
}

/* perf register i holds 0x1000 + i, so the DWARF order can be checked. */
static size_t put_sample(struct synth *s, uint16_t misc, uint64_t id, uint32_t pid, uint32_t tid,
			 uint64_t time, uint64_t period, const uint64_t *kips, int nk, uint64_t dyn)
{
	struct buf *b = &s->b;
	size_t at = rec_begin(b, 9, misc);

	if (s->st & ST_IDENTIFIER)
		put64(b, id);
	put64(b, 0x1000 + 8); /* ip = perf's IP register */
	put32(b, pid);
	put32(b, tid);
	put64(b, time);
	if (s->st & ST_ID)
		put64(b, id);
	put64(b, 1); /* cpu 1, res */
	put64(b, period);
	if (!s->at.sample1_chain)
		s->at.sample1_chain = b->len;
	put64(b, (uint64_t)nk + 3);
	put64(b, CTX_KERNEL);
	for (int i = 0; i < nk; i++)
		put64(b, kips[i]);
	put64(b, CTX_USER);
	put64(b, 0x400123); /* a user IP: xprof unwinds itself and ignores these */
	put64(b, 2);	    /* PERF_SAMPLE_REGS_ABI_64 */
	for (int bit = 0; bit < 24; bit++)
		if (REGS_MASK & (1ull << bit))
			put64(b, 0x1000 + (uint64_t)bit);
	put64(b, STACK);
	for (int i = 0; i < STACK; i++)
		put(b, &(uint8_t){(uint8_t)i}, 1);
	if (!s->at.sample1_dyn)
		s->at.sample1_dyn = b->len;
	put64(b, dyn);
	rec_end(b, at);
	return at;
}

static size_t put_mmap2(struct synth *s, uint32_t pid, uint64_t start, uint32_t prot,
			const uint8_t *bid, const char *path, uint64_t time)
{
	struct buf *b = &s->b;
	size_t at = rec_begin(b, 10, 2 | (bid ? 1u << 14 : 0));

	put32(b, pid);
	put32(b, pid);
	put64(b, start);
	put64(b, 0x2000);
	put64(b, 0x1000);
	if (bid) {
		uint8_t u[24] = {20};
		memcpy(u + 4, bid, 20);
		put(b, u, 24);
	} else {
		put(b, NULL, 24);
	}
	put32(b, prot);
	put32(b, 2); /* MAP_PRIVATE */
	put_str(b, path);
	put_trailer(s, pid, pid, time, 11);
	rec_end(b, at);
	return at;
}

static const uint8_t bid_prog[20] = {0xaa, 1,  2,  3,  4,  5,  6,  7,  8,  9,
				     10,   11, 12, 13, 14, 15, 16, 17, 18, 0xbb};
static const uint8_t bid_liby[20] = {0xcc, 9, 8, 7, 6, 5, 4, 3, 2, 1,
				     0,	   1, 2, 3, 4, 5, 6, 7, 8, 0xdd};
static const uint64_t kips[2] = {0xffffffff81000010ull, 0xffffffff81000020ull};

static void put_attr(struct buf *b, uint64_t st, uint32_t type, uint64_t config, bool freq,
		     uint64_t period_or_freq)
{
	size_t at = put(b, NULL, 128);

	set32(b, at, type);
	set32(b, at + 4, 128);
	set64(b, at + 8, config);
	set64(b, at + 16, period_or_freq);
	set64(b, at + 24, st);
	/* freq, sample_id_all, build_id (MMAP2 records carry build-ids) */
	set64(b, at + 40, (freq ? 1ull << 10 : 0) | 1ull << 18 | 1ull << 34);
	set64(b, at + 80, REGS_MASK);
	set32(b, at + 88, STACK);
	put(b, NULL, 16); /* ids section, filled in later */
}

static void put_header_string(struct buf *b, const char *s)
{
	size_t n = strlen(s) + 1, padded = (n + 7) / 8 * 8;

	put32(b, (uint32_t)padded);
	put(b, s, n);
	put(b, NULL, padded - n);
}

/*
 * The synthetic recording. File order differs from time order on purpose;
 * the expected yield (by time) is listed in test_synthetic_events.
 */
static void synth_build(struct synth *s, uint64_t st)
{
	struct buf *b = &s->b;
	size_t at, ids, data, feat;

	memset(s, 0, sizeof(*s));
	s->st = st;
	put(b, "PERFILE2", 8);
	put64(b, 104);
	put64(b, 128 + 16);
	put(b, NULL, 104 - 24);
	s->at.attrs = b->len;
	put_attr(b, st, 1, 0, true, 999);      /* cpu-clock -F 999 */
	put_attr(b, st, 1, 1, false, 2000000); /* task-clock -c 2000000 */
	ids = b->len;
	put64(b, 11);
	put64(b, 12);
	put64(b, 21);
	set64(b, s->at.attrs + 128, ids);
	set64(b, s->at.attrs + 136, 16);
	set64(b, s->at.attrs + 144 + 128, ids + 16);
	set64(b, s->at.attrs + 144 + 136, 8);
	set64(b, 24, s->at.attrs);
	set64(b, 32, 2 * 144);

	data = b->len;
	at = rec_begin(b, 3, 1u << 13); /* COMM exec */
	put32(b, 100);
	put32(b, 100);
	put_str(b, "prog");
	put_trailer(s, 100, 100, 5, 12);
	rec_end(b, at);
	s->at.sample1 = put_sample(s, 2, 11, 100, 101, 30, 1001001, NULL, 0, 40);
	s->at.mmap_prog = put_mmap2(s, 100, 0x400000, 5, NULL, "/bin/prog", 10);
	put_mmap2(s, 100, 0x600000, 3, NULL, "/lib/libdata.so", 11); /* not code: skipped */
	put_mmap2(s, 100, 0x7f0000000000, 5, bid_liby, "/lib/liby.so", 12);
	at = rec_begin(b, 1, 1); /* the kernel's MMAP, pid -1: skipped */
	put32(b, UINT32_MAX);
	put32(b, 0);
	put64(b, 0xffffffff81000000ull);
	put64(b, 0x1000000);
	put64(b, 0);
	put_str(b, "[kernel.kallsyms]_text");
	put_trailer(s, UINT32_MAX, 0, 1, 11);
	rec_end(b, at);
	s->at.round = rec_begin(b, 68, 0); /* FINISHED_ROUND */
	rec_end(b, s->at.round);
	s->at.sample2 = put_sample(s, 1, 21, 100, 102, 40, 2000000, kips, 2, STACK);
	at = rec_begin(b, 7, 0); /* FORK */
	put32(b, 100);
	put32(b, 100);
	put32(b, 102);
	put32(b, 101);
	put64(b, 35);
	put_trailer(s, 100, 102, 35, 11);
	rec_end(b, at);
	at = rec_begin(b, 4, 0); /* EXIT */
	put32(b, 100);
	put32(b, 100);
	put32(b, 102);
	put32(b, 102);
	put64(b, 45);
	put_trailer(s, 100, 102, 45, 11);
	rec_end(b, at);
	at = rec_begin(b, 2, 0); /* LOST */
	put64(b, 11);
	put64(b, 7);
	put_trailer(s, 100, 100, 50, 11);
	rec_end(b, at);
	at = rec_begin(b, 13, 0); /* LOST_SAMPLES */
	put64(b, 3);
	put_trailer(s, 100, 100, 55, 11);
	rec_end(b, at);
	at = rec_begin(b, 99, 0); /* a type this reader does not know: skipped */
	put64(b, 0);
	rec_end(b, at);
	put_sample(s, 2, 999, 100, 101, 60, 1, NULL, 0, 8); /* an id of no attr: skipped */
	set64(b, 40, data);
	set64(b, 48, b->len - data);

	/* Features: BUILD_ID (2), CMDLINE (11), EVENT_DESC (12). */
	b->p[72 + 0] |= 1u << 2;
	b->p[72 + 1] |= 1u << 3 | 1u << 4;
	feat = put(b, NULL, 3 * 16);
	at = b->len;
	size_t e = rec_begin(b, 67, 2 | 1u << 15);
	put32(b, UINT32_MAX);
	uint8_t u[24] = {0};
	memcpy(u, bid_prog, 20);
	u[20] = 20;
	put(b, u, 24);
	put_str(b, "/bin/prog");
	rec_end(b, e);
	set64(b, feat, at);
	set64(b, feat + 8, b->len - at);
	at = b->len;
	put32(b, 4);
	put_header_string(b, "/usr/bin/perf");
	put_header_string(b, "record");
	put_header_string(b, "--");
	put_header_string(b, "./prog");
	set64(b, feat + 16, at);
	set64(b, feat + 24, b->len - at);
	at = b->len;
	put32(b, 2);
	put32(b, 128);
	/* listed in the other order than the attrs: the ids say which is which */
	put(b, b->p + s->at.attrs + 144, 128);
	put32(b, 1);
	put_header_string(b, "task-clock:u");
	put64(b, 21);
	put(b, b->p + s->at.attrs, 128);
	put32(b, 2);
	put_header_string(b, "cpu-clock:ppp");
	put64(b, 11);
	put64(b, 12);
	set64(b, feat + 32, at);
	set64(b, feat + 40, b->len - at);
}

/* ---- reading a buffer through a temporary file --------------------------- */

#define MAX_EVENTS 64

struct got {
	int n;
	struct xp_event ev[MAX_EVENTS];
	char paths[MAX_EVENTS][64];
	uint64_t kstack[MAX_EVENTS][2];
	uint8_t stack0[MAX_EVENTS];
	int stop_after; /* return 42 after this many events; 0: never */
};

static int collect(void *ctx, const struct xp_event *ev)
{
	struct got *g = ctx;

	if (g->n < MAX_EVENTS) {
		g->ev[g->n] = *ev;
		if (ev->type == XP_EV_MMAP)
			snprintf(g->paths[g->n], sizeof(g->paths[0]), "%s", ev->mmap.path);
		if (ev->type == XP_EV_SAMPLE) {
			for (uint32_t i = 0; i < ev->sample.nkstack && i < 2; i++)
				g->kstack[g->n][i] = ev->sample.kstack[i];
			if (ev->sample.nsegs)
				g->stack0[g->n] =
				    ev->sample.segs[0].data[ev->sample.segs[0].len - 1];
		}
	}
	g->n++;
	return g->stop_after && g->n == g->stop_after ? 42 : 0;
}

static int read_buf(const uint8_t *p, size_t len, struct got *g, struct xp_rec_info *info,
		    const char **why)
{
	char path[] = "/tmp/test_perfdata.XXXXXX";
	int fd = mkstemp(path);
	int err;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
	*why = NULL;
	err = xp_perfdata_read(path, collect, g, info, why);
	unlink(path);
	return err;
}

/* ---- synthetic file ------------------------------------------------------ */

static void check_synthetic(uint64_t st)
{
	struct synth s;
	struct got *g = calloc(1, sizeof(*g));
	struct xp_rec_info info;
	const char *why;
	const struct xp_event *e;

	assert_non_null(g);
	synth_build(&s, st);
	assert_int_equal(read_buf(s.b.p, s.b.len, g, &info, &why), 0);
	/* time order: COMM 5, MMAP 10, MMAP 12, SAMPLE 30, FORK 35, SAMPLE 40, EXIT 45, LOST 50, 55
	 */
	assert_int_equal(g->n, 9);

	e = &g->ev[0];
	assert_int_equal(e->type, XP_EV_COMM);
	assert_true(e->comm.exec);
	assert_string_equal(e->comm.comm, "prog");
	assert_int_equal(e->comm.time_ns, 5);

	e = &g->ev[1];
	assert_int_equal(e->type, XP_EV_MMAP);
	assert_string_equal(g->paths[1], "/bin/prog");
	assert_int_equal(e->mmap.start, 0x400000);
	assert_int_equal(e->mmap.len, 0x2000);
	assert_int_equal(e->mmap.pgoff, 0x1000);
	assert_int_equal(e->mmap.time_ns, 10);
	assert_int_equal(e->mmap.build_id_len, 20); /* from the BUILD_ID feature */
	assert_memory_equal(e->mmap.build_id, bid_prog, 20);

	e = &g->ev[2];
	assert_int_equal(e->type, XP_EV_MMAP);
	assert_string_equal(g->paths[2], "/lib/liby.so");
	assert_int_equal(e->mmap.build_id_len, 20); /* from the MMAP2 record */
	assert_memory_equal(e->mmap.build_id, bid_liby, 20);

	e = &g->ev[3];
	assert_int_equal(e->type, XP_EV_SAMPLE);
	assert_int_equal(e->sample.time_ns, 30);
	assert_int_equal(e->sample.pid, 100);
	assert_int_equal(e->sample.tid, 101);
	assert_int_equal(e->sample.cpu, 1);
	assert_int_equal(e->sample.period_ns, 1001001);
	assert_int_equal(e->sample.flags & XP_SAMPLE_F_IN_KERNEL, 0);
	assert_int_equal(e->sample.nkstack, 0);
	/* perf's x86 numbering (AX 0 BX 1 CX 2 DX 3 SI DI BP SP IP 8 .. R8 16) to DWARF */
	assert_int_equal(e->sample.regs[XP_REG_AX], 0x1000);
	assert_int_equal(e->sample.regs[XP_REG_BX], 0x1001);
	assert_int_equal(e->sample.regs[XP_REG_CX], 0x1002);
	assert_int_equal(e->sample.regs[XP_REG_DX], 0x1003);
	assert_int_equal(e->sample.regs[XP_REG_SI], 0x1004);
	assert_int_equal(e->sample.regs[XP_REG_DI], 0x1005);
	assert_int_equal(e->sample.regs[XP_REG_BP], 0x1006);
	assert_int_equal(e->sample.regs[XP_REG_SP], 0x1007);
	assert_int_equal(e->sample.regs[XP_REG_IP], 0x1008);
	assert_int_equal(e->sample.regs[XP_REG_R8], 0x1010);
	assert_int_equal(e->sample.regs[XP_REG_R15], 0x1017);
	assert_int_equal(e->sample.nsegs, 1);
	assert_int_equal(e->sample.segs[0].start, 0x1007);
	assert_int_equal(e->sample.segs[0].len, 40); /* dyn_size, not size */
	assert_int_equal(g->stack0[3], 39);
	assert_true(e->sample.flags & XP_SAMPLE_F_STACK_SHORT);
	/* a stack copy is unwound: perf's user callchain (0x400123) is not passed on */
	assert_false(e->sample.flags & XP_EV_SAMPLE_F_CALLCHAIN);
	assert_int_equal(e->sample.nuser, 0);

	assert_int_equal(g->ev[4].type, XP_EV_FORK);
	assert_int_equal(g->ev[4].task.pid, 100);
	assert_int_equal(g->ev[4].task.tid, 102);
	assert_int_equal(g->ev[4].task.ppid, 100);
	assert_int_equal(g->ev[4].task.ptid, 101);
	assert_int_equal(g->ev[4].task.time_ns, 35);

	e = &g->ev[5];
	assert_int_equal(e->type, XP_EV_SAMPLE);
	assert_int_equal(e->sample.time_ns, 40);
	assert_int_equal(e->sample.tid, 102);
	assert_int_equal(e->sample.period_ns, 2000000); /* task-clock: ns */
	assert_true(e->sample.flags & XP_SAMPLE_F_IN_KERNEL);
	assert_true(e->sample.flags & XP_SAMPLE_F_KSTACK);
	assert_false(e->sample.flags & XP_SAMPLE_F_STACK_SHORT);
	assert_int_equal(e->sample.nkstack, 2); /* the user part after CTX_USER is dropped */
	assert_int_equal(g->kstack[5][0], kips[0]);
	assert_int_equal(g->kstack[5][1], kips[1]);
	assert_int_equal(e->sample.segs[0].len, STACK);

	assert_int_equal(g->ev[6].type, XP_EV_EXIT);
	assert_int_equal(g->ev[6].task.tid, 102);
	assert_int_equal(g->ev[7].type, XP_EV_LOST);
	assert_int_equal(g->ev[7].lost.count, 7);
	assert_int_equal(g->ev[7].lost.time_ns, 50);
	assert_int_equal(g->ev[8].type, XP_EV_LOST);
	assert_int_equal(g->ev[8].lost.count, 3);

	assert_string_equal(info.event, "cpu-clock");
	assert_int_equal(info.frequency, 999);
	assert_int_equal(info.stack_size, STACK);
	assert_string_equal(info.target, "-- ./prog");
	assert_int_equal(info.samples, 2);
	assert_int_equal(info.lost, 10);
	assert_int_equal(info.processes, 1);
	assert_int_equal(info.mappings, 2);
	assert_int_equal(info.stack_bytes, 40 + STACK);
	assert_int_equal(info.start_time_ns, 30);
	assert_int_equal(info.end_time_ns, 40);
	/* callchains not excluding the kernel, no inherit, no -a on the command line */
	assert_int_equal(info.flags, XP_REC_F_KERNEL_STACK);
	free(s.b.p);
	free(g);
}

/* Attrs told apart by PERF_SAMPLE_IDENTIFIER (first/last u64), as perf writes them. */
static void test_synthetic_identifier(void **state)
{
	(void)state;
	check_synthetic(ST_IDENTIFIER | ST_IP | ST_TID | ST_TIME | ST_CPU | ST_PERIOD |
			ST_CALLCHAIN | ST_REGS_USER | ST_STACK_USER);
}

/* Attrs told apart by PERF_SAMPLE_ID, found at perf's id_pos / is_pos. */
static void test_synthetic_id(void **state)
{
	(void)state;
	check_synthetic(ST_IP | ST_TID | ST_TIME | ST_ID | ST_CPU | ST_PERIOD | ST_CALLCHAIN |
			ST_REGS_USER | ST_STACK_USER);
}

#define ST_DEFAULT                                                                                 \
	(ST_IDENTIFIER | ST_IP | ST_TID | ST_TIME | ST_CPU | ST_PERIOD | ST_CALLCHAIN |            \
	 ST_REGS_USER | ST_STACK_USER)

/* The callback's non-zero value stops the read and is returned. */
static void test_callback_stops(void **state)
{
	struct synth s;
	struct got *g = calloc(1, sizeof(*g));
	const char *why;

	(void)state;
	synth_build(&s, ST_DEFAULT);
	g->stop_after = 3;
	assert_int_equal(read_buf(s.b.p, s.b.len, g, NULL, &why), 42);
	assert_int_equal(g->n, 3);
	free(s.b.p);
	free(g);
}

/* A killed perf record: data size 0 in the header, last record cut. */
static void test_killed_recording(void **state)
{
	struct synth s;
	struct got *g = calloc(1, sizeof(*g));
	struct xp_rec_info info;
	const char *why;

	(void)state;
	synth_build(&s, ST_DEFAULT);
	set64(&s.b, 48, 0);
	/* cut inside the second sample: COMM, 2 MMAPs and the first sample remain */
	assert_int_equal(read_buf(s.b.p, s.at.sample2 + 100, g, &info, &why), 0);
	assert_int_equal(info.samples, 1);
	assert_int_equal(info.end_time_ns, 0); /* tells `xprof info` the record was cut short */
	assert_int_equal(g->n, 4);
	assert_int_equal(g->ev[3].type, XP_EV_SAMPLE);
	/* without the feature section, /bin/prog's build-id is unknown */
	assert_int_equal(g->ev[1].mmap.build_id_len, 0);
	free(s.b.p);
	free(g);
}

/*
 * ---- corruptions: a bad header is -EINVAL with a reason; a bad record ends the read there, the
 * events before it kept and info->skip_* saying where and why ----
 */

enum patch { P64, P64X2, P32, P16, CUT };

static const struct corruption {
	const char *what;
	int field; /* 0: absolute offset; else a struct layout member below */
	size_t off;
	enum patch kind;
	uint64_t value;
	const char *why; /* a substring of the reason */
	int kept;	 /* -1: the file is refused; else events delivered before the bad record */
} corruptions[] = {
    {"bad magic", 0, 0, P32, 0x12345678, "bad magic", -1},
    {"pipe-mode header", 0, 8, P64, 16, "pipe mode", -1},
    {"big-endian magic", 0, 0, P64, 0x50455246494c4532ull, "big-endian", -1},
    {"header size too small", 0, 8, P64, 40, "header", -1},
    {"attr_size too small", 0, 16, P64, 8, "attr", -1},
    {"attrs past the end", 0, 24, P64, 1ull << 40, "attr", -1},
    {"attr section not a multiple of attr_size", 0, 32, P64, 144 + 8, "attr", -1},
    {"no attrs", 0, 32, P64, 0, "no event attrs", -1},
    {"attr size field huge", 1, 4, P32, 4096, "attr", -1},
    {"ids past the end", 1, 128, P64, 1ull << 50, "id list", -1},
    {"data past the end", 0, 40, P64, 1ull << 50, "data section", -1},
    {"record size below its header", 2, 6, P16, 4, "smaller than its header", 1},
    {"callchain longer than the record", 4, 0, P64, 1ull << 40, "shorter", 3},
    {"stack dyn_size above size", 3, 0, P64, STACK + 8, "dyn_size", 3},
    {"mmap file name unterminated", 5, 72, P64X2, 0x4141414141414141ull, "not terminated", 1},
    {"compressed records", 6, 0, P32, 81, "compressed", -1},
    {"file shorter than a header", 0, 12, CUT, 0, "too short", -1},
    {"file cut inside the header", 0, 60, CUT, 0, "header", -1},
};

static void test_corruptions(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		const struct corruption *c = &corruptions[i];
		struct synth s;
		struct got *g = calloc(1, sizeof(*g));
		struct xp_rec_info info;
		const char *why;
		size_t len, base = 0;
		int err;

		synth_build(&s, ST_DEFAULT);
		switch (c->field) {
		case 1:
			base = s.at.attrs;
			break;
		case 2:
			base = s.at.sample1;
			break;
		case 3:
			base = s.at.sample1_dyn;
			break;
		case 4:
			base = s.at.sample1_chain;
			break;
		case 5:
			base = s.at.mmap_prog;
			break;
		case 6:
			base = s.at.round;
			break;
		}
		len = s.b.len;
		switch (c->kind) {
		case P64:
			set64(&s.b, base + c->off, c->value);
			break;
		case P64X2:
			set64(&s.b, base + c->off, c->value);
			set64(&s.b, base + c->off + 8, c->value);
			break;
		case P32:
			set32(&s.b, base + c->off, (uint32_t)c->value);
			break;
		case P16:
			set16(&s.b, base + c->off, (uint16_t)c->value);
			break;
		case CUT:
			len = c->off;
			break;
		}
		err = read_buf(s.b.p, len, g, &info, &why);
		if (c->kept < 0) {
			if (err != -EINVAL || !why || !strstr(why, c->why))
				fail_msg("%s: got %d '%s', want -EINVAL '%s'", c->what, err,
					 why ? why : "(null)", c->why);
		} else {
			size_t rec = c->field == 5 ? s.at.mmap_prog : s.at.sample1;
			uint64_t data_end, data_size;

			/* perf.data: what is skipped is the rest of the data section */
			memcpy(&data_end, s.b.p + 40, 8);
			memcpy(&data_size, s.b.p + 48, 8);
			data_end += data_size;

			if (err || !info.skip_why || !strstr(info.skip_why, c->why) ||
			    g->n != c->kept || info.skip_offset != rec ||
			    info.skip_bytes != data_end - rec)
				fail_msg(
				    "%s: got %d, %d events, skipped %" PRIu64 " bytes at %" PRIu64
				    " '%s'; want 0, %d events, the rest from %zu skipped '%s'",
				    c->what, err, g->n, info.skip_bytes, info.skip_offset,
				    info.skip_why ? info.skip_why : "(null)", c->kept, rec, c->why);
		}
		free(s.b.p);
		free(g);
	}
}

/*
 * The kernel leaves PERF_RECORD_MISC_MMAP_BUILD_ID set on MMAP2 records of
 * events that did not ask for build-ids, over maj/min/ino: ignore it there.
 */
static void test_leaked_build_id_flag(void **state)
{
	struct synth s;
	struct got *g = calloc(1, sizeof(*g));
	const char *why;

	(void)state;
	synth_build(&s, ST_DEFAULT);
	for (int i = 0; i < 2; i++)
		s.b.p[s.at.attrs + 144 * i + 40 + 4] &= (uint8_t) ~(1u << 2); /* clear bit 34 */
	assert_int_equal(read_buf(s.b.p, s.b.len, g, NULL, &why), 0);
	assert_string_equal(g->paths[2], "/lib/liby.so");
	assert_int_equal(g->ev[2].mmap.build_id_len, 0);
	/* the feature section's build-ids still apply */
	assert_int_equal(g->ev[1].mmap.build_id_len, 20);
	free(s.b.p);
	free(g);
}

/* ---- files without stack copies (perf record -g, or no -g) --------------- */

/*
 * One cpu-clock attr of sample_type st (no REGS_USER, no STACK_USER), and
 * samples of pid 7: what perf record -g (CALLCHAIN) and plain perf record
 * (IP only) write.
 */
static void nostack_begin(struct buf *b, uint64_t st)
{
	size_t attr;

	memset(b, 0, sizeof(*b));
	put(b, "PERFILE2", 8);
	put64(b, 104);
	put64(b, 128 + 16);
	put(b, NULL, 104 - 24);
	attr = b->len;
	put(b, NULL, 128 + 16);
	set32(b, attr, 1); /* PERF_TYPE_SOFTWARE, cpu-clock */
	set32(b, attr + 4, 128);
	set64(b, attr + 16, 999);
	set64(b, attr + 24, st);
	set64(b, attr + 40, 1ull << 10); /* freq */
	set64(b, attr + 128, b->len);	 /* no ids: one attr needs none */
	set64(b, 24, attr);
	set64(b, 32, 128 + 16);
	set64(b, 40, b->len);
}

static void nostack_sample(struct buf *b, uint64_t st, uint16_t misc, uint64_t ip, uint64_t time,
			   const uint64_t *chain, int n)
{
	size_t at = rec_begin(b, 9, misc);

	put64(b, ip);
	put32(b, 7);
	put32(b, 8);
	put64(b, time);
	put64(b, 1001001);
	if (st & ST_CALLCHAIN) {
		put64(b, (uint64_t)n);
		for (int i = 0; i < n; i++)
			put64(b, chain[i]);
	}
	rec_end(b, at);
}

static void nostack_end(struct buf *b)
{
	uint64_t data;

	memcpy(&data, b->p + 40, 8);
	set64(b, 48, b->len - data);
}

struct chains {
	int n;
	uint32_t flags[4], nuser[4], nkstack[4];
	uint64_t ip[4], ustack[4][4], kstack[4][4];
};

static int chains_collect(void *ctx, const struct xp_event *ev)
{
	struct chains *c = ctx;
	const struct xp_ev_sample *s = &ev->sample;

	if (ev->type != XP_EV_SAMPLE || c->n == 4)
		return 0;
	c->flags[c->n] = s->flags;
	c->nuser[c->n] = s->nuser;
	c->nkstack[c->n] = s->nkstack;
	c->ip[c->n] = s->regs[XP_REG_IP];
	for (uint32_t i = 0; i < s->nuser && i < 4; i++)
		c->ustack[c->n][i] = s->ustack[i];
	for (uint32_t i = 0; i < s->nkstack && i < 4; i++)
		c->kstack[c->n][i] = s->kstack[i];
	c->n++;
	return 0;
}

static void read_chains(const struct buf *b, struct chains *c)
{
	char path[] = "/tmp/test_perfdata.XXXXXX";
	int fd = mkstemp(path);
	const char *why = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->p, b->len), (ssize_t)b->len);
	close(fd);
	memset(c, 0, sizeof(*c));
	assert_int_equal(xp_perfdata_read(path, chains_collect, c, NULL, &why), 0);
	unlink(path);
}

/* perf record -g: the user part of the callchain is the stack, marked as such. */
static void test_fp_callchain(void **state)
{
	const uint64_t st = ST_IP | ST_TID | ST_TIME | ST_PERIOD | ST_CALLCHAIN;
	const uint64_t user[] = {CTX_USER, 0x401010, 0x402020, 0x403030};
	const uint64_t both[] = {
	    CTX_KERNEL, 0xffffffff81000010ull, 0xffffffff81000020ull, CTX_USER, 0x401111, 0x402222};
	struct buf b;
	struct chains c;

	(void)state;
	nostack_begin(&b, st);
	nostack_sample(&b, st, 2, 0x401010, 10, user, 4);	       /* in user space */
	nostack_sample(&b, st, 1, 0xffffffff81000010ull, 20, both, 6); /* in a syscall */
	nostack_end(&b);
	read_chains(&b, &c);
	assert_int_equal(c.n, 2);

	assert_true(c.flags[0] & XP_EV_SAMPLE_F_CALLCHAIN);
	assert_int_equal(c.nuser[0], 3);
	assert_int_equal(c.ustack[0][0], 0x401010);
	assert_int_equal(c.ustack[0][1], 0x402020);
	assert_int_equal(c.ustack[0][2], 0x403030);
	assert_int_equal(c.ip[0], 0x401010); /* ip is the sampled one, not 0 */
	assert_int_equal(c.nkstack[0], 0);

	assert_true(c.flags[1] & XP_EV_SAMPLE_F_CALLCHAIN);
	assert_true(c.flags[1] & XP_SAMPLE_F_IN_KERNEL);
	assert_true(c.flags[1] & XP_SAMPLE_F_KSTACK);
	assert_int_equal(c.nkstack[1], 2); /* split at the markers */
	assert_int_equal(c.kstack[1][0], 0xffffffff81000010ull);
	assert_int_equal(c.kstack[1][1], 0xffffffff81000020ull);
	assert_int_equal(c.nuser[1], 2);
	assert_int_equal(c.ustack[1][0], 0x401111);
	assert_int_equal(c.ustack[1][1], 0x402222);
	assert_int_equal(c.ip[1], 0x401111); /* the user ip, not the kernel's */
	free(b.p);
}

/* Plain perf record: the sampled ip is the one frame, user or kernel by cpumode. */
static void test_ip_only(void **state)
{
	const uint64_t st = ST_IP | ST_TID | ST_TIME | ST_PERIOD;
	struct buf b;
	struct chains c;

	(void)state;
	nostack_begin(&b, st);
	nostack_sample(&b, st, 2, 0x401234, 10, NULL, 0);
	nostack_sample(&b, st, 1, 0xffffffff81000040ull, 20, NULL, 0);
	nostack_end(&b);
	read_chains(&b, &c);
	assert_int_equal(c.n, 2);
	assert_true(c.flags[0] & XP_EV_SAMPLE_F_CALLCHAIN);
	assert_int_equal(c.nuser[0], 1);
	assert_int_equal(c.ustack[0][0], 0x401234);
	assert_int_equal(c.ip[0], 0x401234);
	assert_int_equal(c.nkstack[0], 0);
	assert_true(c.flags[1] & XP_EV_SAMPLE_F_CALLCHAIN);
	assert_int_equal(c.nuser[1], 0);
	assert_int_equal(c.nkstack[1], 1);
	assert_int_equal(c.kstack[1][0], 0xffffffff81000040ull);
	assert_true(c.flags[1] & XP_SAMPLE_F_KSTACK);
	free(b.p);
}

static void test_open_errors(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(xp_perfdata_read("/nonexistent/perf.data", NULL, NULL, NULL, &why),
			 -ENOENT);
	assert_int_equal(xp_perfdata_read("/proc/self", NULL, NULL, NULL, &why), -EINVAL);
	assert_non_null(why);
}

/* ---- a real recording, checked against perf's own tools ------------------ */

static char fixture[4096];

static const char *fixture_path(void)
{
	const char *top = getenv("XPROF_TOP");

	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/perf/work-dwarf1024.data",
		 top ? top : ".");
	return fixture;
}

static bool have_perf(void)
{
	return !system("perf version >/dev/null 2>&1");
}

struct real {
	uint64_t nsamples, nmmaps;
	uint64_t time[64], ip[64], sp[64], bp[64], r15[64], stack[64];
	uint32_t pid[64], tid[64];
	char path[16][128];
	uint64_t start[16], len[16];
	uint8_t bid[16][20];
	uint32_t bid_len[16];
};

static int real_collect(void *ctx, const struct xp_event *ev)
{
	struct real *r = ctx;

	if (ev->type == XP_EV_SAMPLE && r->nsamples < 64) {
		uint64_t i = r->nsamples++;
		r->time[i] = ev->sample.time_ns;
		r->pid[i] = ev->sample.pid;
		r->tid[i] = ev->sample.tid;
		r->ip[i] = ev->sample.regs[XP_REG_IP];
		r->sp[i] = ev->sample.regs[XP_REG_SP];
		r->bp[i] = ev->sample.regs[XP_REG_BP];
		r->r15[i] = ev->sample.regs[XP_REG_R15];
		r->stack[i] = ev->sample.nsegs ? ev->sample.segs[0].len : 0;
	} else if (ev->type == XP_EV_MMAP && r->nmmaps < 16) {
		uint64_t i = r->nmmaps++;
		snprintf(r->path[i], sizeof(r->path[i]), "%s", ev->mmap.path);
		r->start[i] = ev->mmap.start;
		r->len[i] = ev->mmap.len;
		r->bid_len[i] = ev->mmap.build_id_len;
		memcpy(r->bid[i], ev->mmap.build_id, 20);
	}
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static uint64_t reg_of(const char *line, const char *name)
{
	const char *p = strstr(line, name);

	assert_non_null(p);
	return strtoull(p + strlen(name), NULL, 16);
}

/*
 * perf record -k writes HEADER_CLOCK_DATA: the start becomes wall-clock time
 * (pprof's time_nanos). perf report --header-only shows the reference pair
 * (microseconds on the wall clock). Without the feature it stays unknown.
 */
static void test_clock_data(void **state)
{
	struct xp_rec_info info;
	const char *why = NULL, *top = getenv("XPROF_TOP");
	char path[4096];
	int64_t offset;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/fixtures/perf/clock-k.data", top ? top : ".");
	assert_int_equal(xp_perfdata_read(path, NULL, NULL, &info, &why), 0);
	assert_true(info.samples > 0);
	assert_true(info.start_time_ns > 0);
	offset = (int64_t)(info.start_real_ns - info.start_time_ns);
	assert_true(llabs(offset - (int64_t)(1796595670279567000ull - 2370565111247ull)) < 1000);
	assert_int_equal(xp_perfdata_read(fixture_path(), NULL, NULL, &info, &why), 0);
	assert_int_equal(info.start_real_ns, 0);
}

static void test_real_recording(void **state)
{
	struct real *r = calloc(1, sizeof(*r));
	struct xp_rec_info info;
	const char *why = NULL, *path = fixture_path();
	char cmd[8192], line[4096];
	FILE *f;
	uint64_t n = 0;

	(void)state;
	assert_non_null(r);
	assert_int_equal(xp_perfdata_read(path, real_collect, r, &info, &why), 0);
	assert_int_equal(info.samples, r->nsamples);
	assert_int_equal(info.frequency, 99);
	assert_int_equal(info.stack_size, 1024);
	assert_string_equal(info.event, "cpu-clock");
	assert_true(r->nsamples >= 5);
	if (!have_perf()) {
		free(r);
		skip();
	}

	/* Every sample, in the same order, with the same registers as perf script. */
	snprintf(cmd, sizeof(cmd),
		 "perf script -i '%s' -F pid,tid,time,ip,uregs --ns -G 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned pid, tid;
		unsigned long long sec, nsec, ip;

		if (sscanf(line, " %u/%u %llu.%llu: %llx", &pid, &tid, &sec, &nsec, &ip) != 5)
			continue;
		assert_true(n < r->nsamples);
		assert_int_equal(r->pid[n], pid);
		assert_int_equal(r->tid[n], tid);
		assert_int_equal(r->time[n], sec * 1000000000ull + nsec);
		assert_int_equal(r->ip[n], ip);
		assert_int_equal(r->ip[n], reg_of(line, " IP:"));
		assert_int_equal(r->sp[n], reg_of(line, " SP:"));
		assert_int_equal(r->bp[n], reg_of(line, " BP:"));
		assert_int_equal(r->r15[n], reg_of(line, " R15:"));
		n++;
	}
	pclose(f);
	assert_int_equal(n, r->nsamples);

	/* Stack bytes per sample: perf report -D prints each one's dyn_size (file order). */
	uint64_t sizes[64], m = 0;
	snprintf(cmd, sizeof(cmd), "perf report -D -i '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long sz;
		if (m < 64 && sscanf(line, "... ustack: size %llu", &sz) == 1)
			sizes[m++] = sz;
	}
	pclose(f);
	assert_int_equal(m, r->nsamples);
	qsort(sizes, m, sizeof(sizes[0]), cmp_u64);
	qsort(r->stack, m, sizeof(r->stack[0]), cmp_u64);
	assert_memory_equal(sizes, r->stack, m * sizeof(sizes[0]));

	/* Every executable user mapping perf shows, and the build-ids perf lists. */
	uint64_t found = 0;
	snprintf(cmd, sizeof(cmd), "perf script -i '%s' --show-mmap-events -F pid 2>/dev/null",
		 path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, len;
		char prot[8], p[256];
		const char *q = strstr(line, "PERF_RECORD_MMAP2");

		if (!q || !(q = strchr(q, '[')) ||
		    sscanf(q, "[%llx(%llx) @ %*[^]]]: %7s %255s", &start, &len, prot, p) != 4 ||
		    prot[2] != 'x')
			continue;
		bool ok = false;
		for (uint64_t i = 0; i < r->nmmaps; i++)
			ok |= r->start[i] == start && r->len[i] == len && !strcmp(r->path[i], p);
		if (!ok)
			fail_msg("mapping %s at %#llx not yielded", p, start);
		found++;
	}
	pclose(f);
	assert_int_equal(found, r->nmmaps);

	snprintf(cmd, sizeof(cmd), "perf buildid-list -i '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	found = 0;
	while (fgets(line, sizeof(line), f)) {
		char hex[64], p[256];
		if (sscanf(line, "%63s %255s", hex, p) != 2)
			continue;
		for (uint64_t i = 0; i < r->nmmaps; i++) {
			char got[41] = "";
			if (strcmp(r->path[i], p))
				continue;
			for (uint32_t k = 0; k < r->bid_len[i]; k++)
				snprintf(got + 2 * k, 3, "%02x", r->bid[i][k]);
			assert_string_equal(got, hex);
			found++;
		}
	}
	pclose(f);
	assert_true(found >= 2); /* perf_work and libc had samples */
	free(r);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_identifier),
		cmocka_unit_test(test_synthetic_id),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_killed_recording),
		cmocka_unit_test(test_corruptions),
		cmocka_unit_test(test_leaked_build_id_flag),
		cmocka_unit_test(test_fp_callchain),
		cmocka_unit_test(test_ip_only),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_real_recording),
	    cmocka_unit_test(test_clock_data),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
