// SPDX-License-Identifier: MIT
/*
 * The recorder's cost of writing a sample, run by bench/bench_offline.sh:
 *   write_bench FILE.xprof RUNS [OUT]
 * loads the samples of a recording, then writes them RUNS times through an
 * xpf_writer into a file under /tmp (page cache included), with stack sharing (format version 2:
 * compare with the thread's previous stack, write the changed part) and without it (every stack in
 * full, as version 1 did). OUT /dev/null leaves out the file system, which shows the compare
 * itself. Prints the medians: "write shared <ns> ns/sample <bytes> bytes/sample" "write full <ns>
 * ns/sample <bytes> bytes/sample" The difference is what sharing costs (or saves) the daemon per
 * sample; the stdio copy of the bytes that are no longer written is part of it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bench/bench.h"
#include "recording/xprof_file.h"

struct samples {
	struct xp_event *ev;
	size_t n, cap;
	uint64_t stack_size;
};

static int keep(void *ctx, const struct xp_event *ev)
{
	struct samples *s = ctx;
	struct xp_ev_sample *c;
	uint8_t *copy;
	size_t len;

	if (ev->type != XP_EV_SAMPLE)
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		struct xp_event *ne = realloc(s->ev, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->ev = ne;
		s->cap = ncap;
	}
	/* The event's memory lives only during the callback: copy segments and kernel IPs. */
	len = 8 * (size_t)ev->sample.nkstack;
	for (uint32_t i = 0; i < ev->sample.nsegs; i++)
		len += ev->sample.segs[i].len;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	s->ev[s->n] = *ev;
	c = &s->ev[s->n++].sample;
	memcpy(copy, ev->sample.kstack, 8 * (size_t)ev->sample.nkstack);
	c->kstack = (const uint64_t *)copy;
	len = 8 * (size_t)ev->sample.nkstack;
	for (uint32_t i = 0; i < ev->sample.nsegs; i++) {
		memcpy(copy + len, ev->sample.segs[i].data, ev->sample.segs[i].len);
		c->segs[i].data = copy + len;
		len += ev->sample.segs[i].len;
	}
	return 0;
}

/* One pass into path: ns per sample; *bytes gets the file's bytes per sample. */
static double pass(const struct samples *s, const char *path, uint32_t stack_size, double *bytes)
{
	struct xp_rec_info info = {.stack_size = stack_size};
	struct xpf_writer *w;
	struct stat st;
	double t0, t1;

	w = xpf_writer_open(path, &info, 1);
	if (!w) {
		fprintf(stderr, "write_bench: cannot create '%s': %s\n", path, strerror(errno));
		exit(1);
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < s->n; i++)
		if (xpf_writer_event(w, &s->ev[i])) {
			fprintf(stderr, "write_bench: write failed\n");
			exit(1);
		}
	if (xpf_writer_close(w, 0, s->n, 0, 0)) {
		fprintf(stderr, "write_bench: write failed\n");
		exit(1);
	}
	t1 = bench_now_ns();
	*bytes = stat(path, &st) ? 0 : (double)st.st_size / (double)s->n;
	return (t1 - t0) / (double)s->n;
}

int main(int argc, char **argv)
{
	struct samples s = {0};
	struct xp_rec_info info;
	const char *why = NULL;
	char path[64] = "/tmp/write_bench.XXXXXX";
	int runs, err, fd;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: write_bench FILE.xprof RUNS [OUT]\n");
		return 2;
	}
	runs = atoi(argv[2]);
	if (runs < 1)
		runs = 1;
	err = xp_recording_read(argv[1], keep, &s, &info, &why);
	if (err || !s.n) {
		fprintf(stderr, "write_bench: cannot read '%s': %s\n", argv[1],
			why   ? why
			: err ? strerror(-err)
			      : "no samples");
		return 1;
	}
	if (argc == 4) {
		snprintf(path, sizeof(path), "%s", argv[3]);
	} else {
		fd = mkstemp(path);
		if (fd < 0) {
			perror("write_bench: mkstemp");
			return 1;
		}
		close(fd);
	}
	for (int mode = 0; mode < 2; mode++) {
		double *t = calloc(runs, sizeof(*t)), bytes = 0;

		if (!t)
			return 1;
		/* stack_size 0 gives the writer no table: every stack in full. */
		for (int r = 0; r < runs; r++)
			t[r] = pass(&s, path, mode == 0 ? info.stack_size : 0, &bytes);
		qsort(t, runs, sizeof(*t), bench_cmp_double);
		printf("write %s %.0f ns/sample %.0f bytes/sample\n", mode == 0 ? "shared" : "full",
		       t[runs / 2], bytes);
		free(t);
	}
	if (argc == 3)
		unlink(path);
	for (size_t i = 0; i < s.n; i++)
		free((void *)s.ev[i].sample.kstack);
	free(s.ev);
	return 0;
}
