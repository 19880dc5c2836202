// SPDX-License-Identifier: MIT
/*
 * Fuzz the report session: random bytes decode into an event stream (fork,
 * exit, comm, mmap, sample, vdso, lost, in any order, with pids and tids
 * from a small range so they are reused, threads and processes mixed up,
 * times going backwards, odd lengths) that goes through xp_session_event()
 * as a recording reader would feed it, then the profile is written as
 * folded stacks. Nothing may crash, leak or touch freed or foreign memory
 * (ASan): the name table, the per-process mapping arrays and the location
 * hash all grow while pointers into them are in use. Opcode bit 0x40 also
 * jumps time forward by up to 5 s (past EXITs' grace: processes, names and
 * modules expire), and 0x60 together first ends a window (its profile is
 * written and freed, the ids cached for it dropped, the caches trimmed to a
 * 64 KiB memory_limit).
 *
 * Input: a sequence of records, each one opcode byte and its fields, read
 * little-endian; a short input reads zeros. Mapped paths come from a fixed
 * table (small ELF files of the repository, names that do not exist, anonymous
 * and special names) so a run never opens an arbitrary file such as a FIFO.
 * The vDSO image and the stack bytes come from the input.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

#define MAX_EVENTS 256
#define MAX_SEG	   2048
#define BASE	   0x400000ull /* every mapping and sampled address lands near here */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

/* Up to max bytes of the input, as they are (the callee gets exactly those). */
static const uint8_t *take_bytes(struct in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

static char top[PATH_MAX];
static char cache_dir[] = "/tmp/xprof-fuzz-session-XXXXXX";
static const char *paths[8];
static char path_buf[3][PATH_MAX + 64];
static char kallsyms[PATH_MAX + 64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(cache_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ssize_t n = readlink("/proc/self/exe", top, sizeof(top) - 1);
	char *slash;

	(void)argc;
	(void)argv;
	/* build-fuzz/fuzz_session: the repository is two levels up. */
	if (n <= 0)
		abort();
	top[n] = 0;
	for (int i = 0; i < 2; i++) {
		slash = strrchr(top, '/');
		if (!slash)
			abort();
		*slash = 0;
	}
	snprintf(path_buf[0], sizeof(path_buf[0]), "%s/tests/fuzz/corpus/cfi/cfi_omitfp.elf", top);
	snprintf(path_buf[1], sizeof(path_buf[1]), "%s/tests/fuzz/corpus/cfi/cfi_cxx.elf", top);
	snprintf(path_buf[2], sizeof(path_buf[2]), "%s/tests/fixtures/cfi/odd.elf", top);
	paths[0] = path_buf[0];
	paths[1] = path_buf[1];
	paths[2] = path_buf[2];
	paths[3] = "/nonexistent/libgone.so";
	paths[4] = "//anon";
	paths[5] = "[vdso]";
	paths[6] = "[anon:jit]";
	paths[7] = "";
	/* A small kallsyms of the repository: the machine's would cost each run ~5 ms. */
	snprintf(kallsyms, sizeof(kallsyms), "%s/tests/fuzz/corpus/sym/kallsyms", top);
	if (!mkdtemp(cache_dir))
		abort();
	atexit(cleanup);
	{
		/* A JIT map for pid 1 in a directory of our own, not whatever /tmp holds. */
		char pm[sizeof(cache_dir) + 32];
		FILE *f;

		snprintf(pm, sizeof(pm), "%s/perf-1.map", cache_dir);
		f = fopen(pm, "w");
		if (!f)
			abort();
		fprintf(f, "400000 100 jit_first\n401000 80 jit second\n3ff000 2000 jit_wide\n");
		fclose(f);
	}
	return 0;
}

static uint32_t take_pid(struct in *in)
{
	return (uint32_t)(take(in, 1) % 6) + 1;
}

static uint32_t take_tid(struct in *in)
{
	uint64_t v = take(in, 1);

	return (uint32_t)(v % 12) + 1; /* overlaps the pids: threads and leaders mix */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xp_session_opts o = {
	    .sym = {.no_debuginfod = true, .kallsyms = kallsyms, .perfmap_dir = cache_dir},
	    .cache_dir = cache_dir,
	    .memory_limit = 64 * 1024,
	};
	struct in in = {data, size};
	struct xp_session *s;
	uint64_t t = 1;
	int err = 0;

	s = xp_session_new(&o);
	if (!s)
		return 0;
	for (int k = 0; k < MAX_EVENTS && in.n && !err; k++) {
		struct xp_event ev;
		uint8_t op = (uint8_t)take(&in, 1);
		/* Own heap copies of exactly their length, so ASan sees a stray read. */
		uint8_t *seg[2] = {NULL, NULL}, *image = NULL;
		uint64_t kstack[8];
		size_t got;
		const uint8_t *p;

		memset(&ev, 0, sizeof(ev));
		/* Mostly forward in time, sometimes back: readers of damaged files do that. */
		if (op & 0x80)
			t -= take(&in, 1);
		else
			t += take(&in, 1);
		if (op & 0x40)
			t += take(&in, 1) * 20000000ull;
		if ((op & 0x60) == 0x60) {
			struct rep_opts ro = {.with_pid = true};
			struct rep_profile *w = xp_session_window_take(s, t);
			FILE *f = fopen("/dev/null", "w");

			if (!w)
				break;
			if (f) {
				rep_write_folded(w, &ro, f);
				fclose(f);
			}
			rep_profile_free(w);
		}
		switch (op % 7) {
		case 0:
			ev.type = XP_EV_SAMPLE;
			ev.sample.time_ns = t;
			ev.sample.pid = take_pid(&in);
			ev.sample.tid = take_tid(&in);
			ev.sample.cpu = (uint32_t)take(&in, 1);
			ev.sample.flags = (uint32_t)take(&in, 1);
			ev.sample.period_ns = take(&in, 2);
			for (int r = 0; r < XP_EV_NREGS; r++)
				ev.sample.regs[r] = BASE + take(&in, 3) - 0x1000;
			ev.sample.nsegs = (uint32_t)take(&in, 1) % 3;
			for (uint32_t i = 0; i < ev.sample.nsegs; i++) {
				ev.sample.segs[i].start =
				    i ? BASE + take(&in, 3) : ev.sample.regs[7];
				p = take_bytes(&in, take(&in, 2) % MAX_SEG, &got);
				seg[i] = malloc(got ? got : 1);
				if (!seg[i])
					goto next;
				memcpy(seg[i], p, got);
				ev.sample.segs[i].data = seg[i];
				ev.sample.segs[i].len = (uint32_t)got;
			}
			ev.sample.nkstack = (uint32_t)take(&in, 1) % 9;
			for (uint32_t i = 0; i < ev.sample.nkstack; i++)
				kstack[i] = 0xffffffff81000000ull + take(&in, 3);
			ev.sample.kstack = kstack;
			ev.sample.stack_shared = (uint32_t)take(&in, 2);
			break;
		case 1:
			ev.type = XP_EV_MMAP;
			ev.mmap.time_ns = t;
			ev.mmap.pid = take_pid(&in);
			ev.mmap.tid = take_tid(&in);
			ev.mmap.start = BASE + (take(&in, 2) << 12) - 0x100000;
			ev.mmap.len = take(&in, 1) << 12 | take(&in, 1);
			ev.mmap.pgoff = take(&in, 1) << 12;
			ev.mmap.prot =
			    (uint32_t)take(&in, 1) & (PROT_READ | PROT_WRITE | PROT_EXEC);
			ev.mmap.build_id_len = (uint32_t)take(&in, 1) % (XP_BUILD_ID_MAX + 1);
			for (uint32_t i = 0; i < ev.mmap.build_id_len; i++)
				ev.mmap.build_id[i] = (uint8_t)take(&in, 1);
			ev.mmap.path = paths[take(&in, 1) % 8];
			break;
		case 2:
			ev.type = XP_EV_COMM;
			ev.comm.time_ns = t;
			ev.comm.pid = take_pid(&in);
			ev.comm.tid = take_tid(&in);
			ev.comm.exec = take(&in, 1) & 1;
			/* All 16 bytes from the input: a name need not end in a NUL. */
			for (int i = 0; i < XP_EV_COMM_LEN; i++)
				ev.comm.comm[i] = (char)take(&in, 1);
			break;
		case 3:
		case 4:
			ev.type = op % 7 == 3 ? XP_EV_FORK : XP_EV_EXIT;
			ev.task.time_ns = t;
			ev.task.pid = take_pid(&in);
			ev.task.tid = take_tid(&in);
			ev.task.ppid = take_pid(&in);
			ev.task.ptid = take_tid(&in);
			break;
		case 5:
			ev.type = XP_EV_VDSO;
			ev.vdso.start = BASE + take(&in, 3);
			p = take_bytes(&in, take(&in, 2), &got);
			image = malloc(got ? got : 1);
			if (!image)
				goto next;
			memcpy(image, p, got);
			ev.vdso.image = image;
			ev.vdso.len = (uint32_t)got;
			break;
		default:
			ev.type = XP_EV_LOST;
			ev.lost.time_ns = t;
			ev.lost.count = take(&in, 2);
			break;
		}
		/* A reader stops at the first error; so do we. Only ENOMEM is an expected one. */
		err = xp_session_event(s, &ev);
		if (err && err != -ENOMEM)
			abort();
	next:
		free(seg[0]);
		free(seg[1]);
		free(image);
	}
	{
		struct rep_opts ro = {.with_pid = true, .with_tid = true};
		FILE *f = fopen("/dev/null", "w");

		if (f) {
			rep_write_folded(xp_session_profile(s), &ro, f);
			fclose(f);
		}
		(void)xp_session_stats(s);
	}
	xp_session_free(s);
	return 0;
}
