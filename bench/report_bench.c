// SPDX-License-Identifier: MIT
/*
 * report_bench: how fast report/ builds and writes a big profile. It makes
 * a synthetic profile shaped like a real one (stacks sharing prefixes as a
 * call tree does, depth 20-40, C++-length names, some inlined locations,
 * a Zipf-like sample distribution over 8 threads), adds the samples one at
 * a time as the recorder does, then writes folded, SVG and pprof to files
 * several times each and prints the median of each and the peak RSS:
 *
 *	bench: report_<what>: <value> (<ratio to the 1 s goal>)
 *
 *	report_bench [--stacks N] [--samples N] [--repeat N] [--seed N] [--dir DIR]
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "report/report.h"

#define NFUNCS	 3000
#define MAXDEPTH 40

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time is what a user waits; CPU time is steadier on a shared machine. Both are printed. */
static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "report_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned nstacks = 10000, repeat = 5;
	unsigned long nsamples = 1000000;
	const char *dir = "/tmp";
	static uint32_t stacks[20000 * 4][MAXDEPTH]; /* root first */
	static unsigned depth[20000 * 4];
	uint32_t locs[NFUNCS + 600], map, kmap = UINT32_MAX;
	struct rep_profile *p;
	double *cum, t0, c0, t_add, c_add;
	int err;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--stacks"))
			nstacks = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--samples"))
			nsamples = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--repeat"))
			repeat = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			rng_state ^= strtoull(argv[i + 1], NULL, 10) * 0x9e3779b97f4a7c15ull;
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else
			break;
	}
	if (!nstacks || nstacks > 20000 * 4 || !repeat || repeat > 100) {
		fprintf(stderr, "usage: report_bench [--stacks 1..80000] [--samples N] "
				"[--repeat 1..100] [--seed N] [--dir DIR]\n");
		return 2;
	}

	p = rep_profile_new(10000000);
	if (!p)
		die("rep_profile_new", errno);
	{
		struct rep_mapping m = {0x555555554000, 0x555555a00000, 0, "/usr/bin/bench-app",
					"5f0c2d8a9e1b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"};

		err = rep_profile_mapping(p, &m, &map);
		if (err)
			die("mapping", err);
	}
	/* Functions: C++-ish names of 15-70 bytes; 1 in 10 is kernel. */
	for (unsigned i = 0; i < NFUNCS; i++) {
		static const char *const ns[] = {"app", "net::http", "std", "db::query", "render"};
		char name[128];
		uint32_t fn;
		bool kernel = i % 10 == 9;
		struct rep_line l = {0};

		if (kernel)
			snprintf(name, sizeof(name), "__x64_sys_op_%u", i);
		else
			snprintf(name, sizeof(name), "%s::Component%u::handle_%s_event(int, %s)",
				 ns[i % 5], i, i % 3 ? "input" : "timer",
				 i % 2 ? "std::string const&" : "void*");
		err = rep_profile_function(p, name, kernel ? NULL : "src/app.cc",
					   kernel ? REP_KIND_KERNEL : REP_KIND_USER, &fn);
		if (err)
			die("function", err);
		l.function = fn;
		l.line = 100 + i;
		err = rep_profile_location(p, kernel ? kmap : map,
					   (kernel ? 0xffffffff81000000ull : 0x555555560000ull) +
					       16ull * i,
					   &l, 1, &locs[i]);
		if (err)
			die("location", err);
	}
	/* 600 locations with 2-3 lines: inlined callees. */
	for (unsigned i = 0; i < 600; i++) {
		struct rep_line l[3];
		unsigned n = 2 + i % 2;

		for (unsigned k = 0; k < n; k++) {
			l[k].function = (uint32_t)((i * 7 + k * 131) % NFUNCS);
			if (l[k].function % 10 == 9)
				l[k].function--;
			l[k].line = 10 + k;
			l[k].inlined = k + 1 < n;
		}
		err = rep_profile_location(p, map, 0x555555600000ull + 16ull * i, l, n,
					   &locs[NFUNCS + i]);
		if (err)
			die("location", err);
	}

	/*
	 * Stacks grow from a random earlier stack's prefix, so they share roots
	 * and callers as a real call tree does; kernel frames only at the leaf end.
	 */
	for (unsigned s = 0; s < nstacks; s++) {
		unsigned d = 20 + rnd_below(MAXDEPTH - 20 + 1), keep = 0;

		if (s) {
			unsigned from = rnd_below(s);

			keep = 3 + rnd_below(depth[from] - 3);
			if (keep > d - 1)
				keep = d - 1;
			memcpy(stacks[s], stacks[from], keep * sizeof(uint32_t));
		} else {
			stacks[0][0] = locs[0];
			keep = 1;
		}
		for (unsigned k = keep; k < d; k++) {
			unsigned f = rnd_below(NFUNCS + 600);

			if (f < NFUNCS && f % 10 == 9 && k + 3 < d)
				f--; /* user code above the last frames */
			stacks[s][k] = locs[f];
		}
		depth[s] = d;
	}

	/* Zipf-like weights (s = 0.9): a few hot stacks and a long tail. */
	cum = malloc(nstacks * sizeof(*cum));
	if (!cum)
		die("malloc", ENOMEM);
	for (unsigned s = 0; s < nstacks; s++)
		cum[s] = (s ? cum[s - 1] : 0) + 1.0 / pow(s + 1, 0.9);

	t0 = now();
	c0 = cpu();
	for (unsigned long i = 0; i < nsamples; i++) {
		double u = (double)(rnd() >> 11) / 9007199254740992.0 * cum[nstacks - 1];
		unsigned lo = 0, hi = nstacks - 1;
		uint32_t leaf_first[MAXDEPTH];
		struct rep_sample_key key = {4242, 0, "bench-app", 0};

		while (lo < hi) {
			unsigned mid = (lo + hi) / 2;

			if (cum[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* Every stack gets one of 8 threads for good: unique stacks stay nstacks. */
		key.tid = 4242 + lo % 8;
		for (unsigned k = 0; k < depth[lo]; k++)
			leaf_first[k] = stacks[lo][depth[lo] - 1 - k];
		err = rep_profile_add(p, &key, leaf_first, depth[lo], 1);
		if (err)
			die("add", err);
	}
	t_add = now() - t0;
	c_add = cpu() - c0;
	printf("bench: report_add_%lu_samples: %.3f s (%.0f ns per sample; cpu %.3f s)\n", nsamples,
	       t_add, t_add / (double)nsamples * 1e9, c_add);
	printf("bench: report_build_peak_rss: %.1f MiB\n", (double)peak_rss_kib() / 1024);

	{
		static const struct {
			const char *name, *file;
			int (*write)(const struct rep_profile *, const struct rep_opts *, FILE *);
		} fmts[] = {{"folded", "bench.folded", rep_write_folded},
			    {"svg", "bench.svg", rep_write_svg},
			    {"pprof", "bench.pb.gz", rep_write_pprof}};
		struct rep_opts o = {.title = "report_bench"};
		double sum = 0, csum = 0, times[100], ctimes[100];

		for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
			char path[4096];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", dir, fmts[f].file);
			for (unsigned r = 0; r < repeat; r++) {
				FILE *out = fopen(path, "w");

				if (!out)
					die(path, errno);
				t0 = now();
				c0 = cpu();
				err = fmts[f].write(p, &o, out);
				if (!err && fclose(out))
					err = -errno;
				times[r] = now() - t0;
				ctimes[r] = cpu() - c0;
				if (err)
					die(path, err);
			}
			qsort(times, repeat, sizeof(times[0]), bench_cmp_double);
			qsort(ctimes, repeat, sizeof(ctimes[0]), bench_cmp_double);
			stat(path, &st);
			printf(
			    "bench: report_write_%s: %.3f s (%.2f of the 1 s goal; median of %u, "
			    "min %.3f, max %.3f, cpu %.3f; %.1f MiB)\n",
			    fmts[f].name, times[repeat / 2], times[repeat / 2], repeat, times[0],
			    times[repeat - 1], ctimes[repeat / 2], (double)st.st_size / 1048576);
			sum += times[repeat / 2];
			csum += ctimes[repeat / 2];
		}
		printf(
		    "bench: report_write_all_formats: %.3f s (%.2f of the 1 s goal; cpu %.3f s)\n",
		    sum, sum, csum);
	}
	printf("bench: report_peak_rss: %.1f MiB\n", (double)peak_rss_kib() / 1024);
	free(cum);
	rep_profile_free(p);
	return 0;
}
