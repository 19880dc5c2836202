// SPDX-License-Identifier: MIT
/*
 * The store benchmark's loader: a synthetic fleet written through the
 * store's insert path (st_writer), as agents would write it.
 *
 *   store_bench URL HOSTS WINDOWS STACKS SERVICES [JOBS]
 *
 * STACKS distinct stacks (8 to 31 frames from a pool of 500 functions) are
 * shared by every host; in each 10 s window every host has every stack,
 * with Zipf counts (the stack of rank r gets about STACKS / r samples,
 * ranks shuffled per host). Host h belongs to service h % SERVICES. Each
 * window is one st_writer window carrying every host's rows (a relay's
 * batch: st_writer_set_labels between hosts), so it is one insert per
 * table per window; stacks go in the first window only, after that the
 * known set answers. Windows end now. JOBS writers (default 1), each with
 * its own connection and known set, send every JOBS-th window at once, as
 * a fleet's agents insert concurrently.
 *
 * Prints "rows N wall S cpu C bytes B stacks K": rows inserted, the wall
 * and CPU seconds of the whole load (generation, encoding, sending and
 * the server's insert), and the request bytes sent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "store/store.h"

#define WINDOW_NS 10000000000ull
#define NFUNCS	  500

/* The synthetic fleet, read-only once built. */
struct fleet {
	unsigned hosts, windows, nstacks, services, jobs;
	const struct st_frame *frames; /* 32 per stack */
	const unsigned *depth, *rank;
	const uint64_t *hash;
	uint64_t start;
};

/* One writer: windows index, index + jobs, ... */
struct job {
	const struct fleet *f;
	unsigned index;
	struct st_conn *c;
	struct st_writer *w;
	pthread_t thread;
	uint64_t rows;
	int err;
};

static void *job_main(void *arg)
{
	struct job *j = arg;
	const struct fleet *f = j->f;
	char hostname[32], service[32];
	int err = 0;

	for (unsigned win = j->index; win < f->windows && !err; win += f->jobs) {
		err = st_writer_begin(j->w, NULL, f->start + (uint64_t)win * WINDOW_NS, WINDOW_NS);
		for (unsigned h = 0; h < f->hosts && !err; h++) {
			struct st_labels l = {.host = hostname, .service = service};
			const unsigned *r = &f->rank[(size_t)h * f->nstacks];

			snprintf(hostname, sizeof(hostname), "host-%03u", h);
			snprintf(service, sizeof(service), "service-%u", h % f->services);
			err = st_writer_set_labels(j->w, &l);
			for (unsigned s = 0; s < f->nstacks && !err; s++) {
				struct st_sample smp = {.comm = "worker",
							.pid = 1000 + h,
							.build_id = "3f2a9c0d5e7b11aa",
							.stack_hash = f->hash[s],
							.count = f->nstacks / r[s] + 1};

				err =
				    st_writer_stack_hashed(j->w, f->hash[s], "worker",
							   &f->frames[(size_t)s * 32], f->depth[s]);
				if (!err)
					err = st_writer_sample(j->w, &smp);
				j->rows++;
			}
		}
		if (!err)
			err = st_writer_flush(j->w);
		if (err)
			fprintf(stderr, "store_bench: window %u: %s\n", win, st_conn_error(j->c));
	}
	j->err = err;
	return NULL;
}

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
	unsigned hosts, windows, nstacks, services, jobs = 1;
	char names[NFUNCS][32], files[16][32];
	struct st_frame *frames;
	unsigned *depth, *rank;
	uint64_t *hash, seed = 0x9e3779b97f4a7c15ull, rows = 0, bytes = 0, stacks = 0;
	struct job job[16];
	double w0, c0;
	int err = 0;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: store_bench URL HOSTS WINDOWS STACKS SERVICES [JOBS]\n");
		return 2;
	}
	if (argc == 7)
		jobs = (unsigned)atoi(argv[6]);
	if (!jobs || jobs > 16) {
		fprintf(stderr, "store_bench: JOBS is 1 to 16\n");
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
	/* Connections first, from this thread: the first one initialises libcurl. */
	for (unsigned i = 0; i < jobs; i++) {
		job[i] = (struct job){.index = i, .c = st_conn_new(argv[1], 600)};
		job[i].w = job[i].c ? st_writer_new(job[i].c, NULL) : NULL;
		if (!job[i].w) {
			fprintf(stderr, "store_bench: %s\n",
				job[i].c ? "out of memory" : "bad URL");
			return 1;
		}
	}
	frames = calloc((size_t)nstacks * 32, sizeof(*frames));
	depth = calloc(nstacks, sizeof(*depth));
	hash = calloc(nstacks, sizeof(*hash));
	rank = calloc((size_t)hosts * nstacks, sizeof(*rank));
	if (!frames || !depth || !hash || !rank) {
		fprintf(stderr, "store_bench: out of memory\n");
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

	struct fleet fl = {
	    .hosts = hosts,
	    .windows = windows,
	    .nstacks = nstacks,
	    .services = services,
	    .jobs = jobs,
	    .frames = frames,
	    .depth = depth,
	    .rank = rank,
	    .hash = hash,
	    .start = (uint64_t)(now_s(CLOCK_REALTIME) * 1e9) / WINDOW_NS * WINDOW_NS -
		     (uint64_t)windows * WINDOW_NS,
	};

	w0 = now_s(CLOCK_MONOTONIC);
	c0 = cpu_s();
	for (unsigned i = 0; i < jobs; i++) {
		job[i].f = &fl;
		if (pthread_create(&job[i].thread, NULL, job_main, &job[i])) {
			fprintf(stderr, "store_bench: cannot start a thread\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < jobs; i++) {
		pthread_join(job[i].thread, NULL);
		err = err ? err : job[i].err;
		rows += job[i].rows;
		bytes += st_conn_bytes_sent(job[i].c);
		stacks += st_writer_stats(job[i].w)->stacks_sent;
	}
	if (err)
		return 1;
	printf("rows %llu wall %.3f cpu %.3f bytes %llu stacks %llu\n", (unsigned long long)rows,
	       now_s(CLOCK_MONOTONIC) - w0, cpu_s() - c0, (unsigned long long)bytes,
	       (unsigned long long)stacks);
	for (unsigned i = 0; i < jobs; i++) {
		st_writer_free(job[i].w);
		st_conn_free(job[i].c);
	}
	free(frames);
	free(depth);
	free(hash);
	free(rank);
	return 0;
}
