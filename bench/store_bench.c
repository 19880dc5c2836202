// SPDX-License-Identifier: MIT
/*
 * The store benchmark's loader: a synthetic fleet written through the
 * store's insert path (st_writer), as agents would write it.
 *
 *   store_bench URL HOSTS WINDOWS STACKS SERVICES
 *
 * STACKS distinct stacks (8 to 31 frames from a pool of 500 functions) are
 * shared by every host; in each 10 s window every host has every stack,
 * with Zipf counts (the stack of rank r gets about STACKS / r samples,
 * ranks shuffled per host). Host h belongs to service h % SERVICES. Each
 * window is one st_writer window carrying every host's rows (a relay's
 * batch: st_writer_set_labels between hosts), so it is one insert per
 * table per window; stacks go in the first window only, after that the
 * known set answers. Windows end now.
 *
 * Prints "rows N wall S cpu C bytes B stacks K": rows inserted, the wall
 * and CPU seconds of the whole load (generation, encoding, sending and
 * the server's insert), and the request bytes sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "store/store.h"

#define WINDOW_NS 10000000000ull
#define NFUNCS	  500

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	unsigned hosts, windows, nstacks, services;
	char names[NFUNCS][32], files[16][32], hostname[32], service[32];
	struct st_frame *frames;
	unsigned *depth, *rank;
	uint64_t *hash, seed = 0x9e3779b97f4a7c15ull, rows = 0;
	struct st_conn *c;
	struct st_writer *w;
	double w0, c0;
	int err;

	if (argc != 6) {
		fprintf(stderr, "usage: store_bench URL HOSTS WINDOWS STACKS SERVICES\n");
		return 2;
	}
	hosts = (unsigned)atoi(argv[2]);
	windows = (unsigned)atoi(argv[3]);
	nstacks = (unsigned)atoi(argv[4]);
	services = (unsigned)atoi(argv[5]);
	if (!hosts || !windows || !nstacks || !services) {
		fprintf(stderr, "store_bench: every count must be positive\n");
		return 2;
	}
	c = st_conn_new(argv[1], 600);
	w = c ? st_writer_new(c, NULL) : NULL;
	frames = calloc((size_t)nstacks * 32, sizeof(*frames));
	depth = calloc(nstacks, sizeof(*depth));
	hash = calloc(nstacks, sizeof(*hash));
	rank = calloc((size_t)hosts * nstacks, sizeof(*rank));
	if (!w || !frames || !depth || !hash || !rank) {
		fprintf(stderr, "store_bench: %s\n", c ? "out of memory" : "bad URL");
		return 1;
	}
	for (unsigned i = 0; i < NFUNCS; i++)
		snprintf(names[i], sizeof(names[i]), "ns::module%u::function_%u", i % 37, i);
	for (unsigned i = 0; i < 16; i++)
		snprintf(files[i], sizeof(files[i]), "src/component%u.cc", i);
	for (unsigned s = 0; s < nstacks; s++) {
		struct st_frame *f = &frames[(size_t)s * 32];

		depth[s] = 8 + (unsigned)(rng(&seed) % 24);
		f[0] = (struct st_frame){.name = "main", .file = "src/main.cc", .line = 10};
		for (unsigned d = 1; d < depth[s]; d++) {
			unsigned fn = (unsigned)(rng(&seed) % NFUNCS);

			f[d] = (struct st_frame){.name = names[fn],
						 .file = files[fn % 16],
						 .line = 1 + (unsigned)(rng(&seed) % 900)};
		}
		hash[s] = st_stack_hash("worker", f, depth[s]);
	}
	/* Ranks 1..nstacks, shuffled per host (Fisher-Yates). */
	for (unsigned h = 0; h < hosts; h++) {
		unsigned *r = &rank[(size_t)h * nstacks];

		for (unsigned s = 0; s < nstacks; s++)
			r[s] = s + 1;
		for (unsigned s = nstacks - 1; s > 0; s--) {
			unsigned j = (unsigned)(rng(&seed) % (s + 1)), t = r[s];

			r[s] = r[j];
			r[j] = t;
		}
	}

	uint64_t start = (uint64_t)(now_s(CLOCK_REALTIME) * 1e9) / WINDOW_NS * WINDOW_NS -
			 (uint64_t)windows * WINDOW_NS;

	w0 = now_s(CLOCK_MONOTONIC);
	c0 = cpu_s();
	for (unsigned win = 0; win < windows; win++) {
		err = st_writer_begin(w, NULL, start + (uint64_t)win * WINDOW_NS, WINDOW_NS);
		for (unsigned h = 0; h < hosts && !err; h++) {
			struct st_labels l = {.host = hostname, .service = service};
			const unsigned *r = &rank[(size_t)h * nstacks];

			snprintf(hostname, sizeof(hostname), "host-%03u", h);
			snprintf(service, sizeof(service), "service-%u", h % services);
			err = st_writer_set_labels(w, &l);
			for (unsigned s = 0; s < nstacks && !err; s++) {
				struct st_sample smp = {.comm = "worker",
							.pid = 1000 + h,
							.build_id = "3f2a9c0d5e7b11aa",
							.stack_hash = hash[s],
							.count = nstacks / r[s] + 1};

				err = st_writer_stack_hashed(w, hash[s], "worker",
							     &frames[(size_t)s * 32], depth[s]);
				if (!err)
					err = st_writer_sample(w, &smp);
				rows++;
			}
		}
		if (!err)
			err = st_writer_flush(w);
		if (err) {
			fprintf(stderr, "store_bench: window %u: %s\n", win, st_conn_error(c));
			return 1;
		}
	}
	printf("rows %llu wall %.3f cpu %.3f bytes %llu stacks %llu\n", (unsigned long long)rows,
	       now_s(CLOCK_MONOTONIC) - w0, cpu_s() - c0, (unsigned long long)st_conn_bytes_sent(c),
	       (unsigned long long)st_writer_stats(w)->stacks_sent);
	st_writer_free(w);
	st_conn_free(c);
	free(frames);
	free(depth);
	free(hash);
	free(rank);
	return 0;
}
