// SPDX-License-Identifier: MIT
/*
 * perf_work: a CPU-bound target with known call chains, for comparing
 * xprof's reading of a perf.data with `perf script` and for the benchmarks.
 *   perf_work [SECONDS]      run for SECONDS of wall time (default 1)
 *   perf_work -i ITERATIONS  do a fixed amount of work and print how long it
 *                            took (the benchmark's slowdown measure)
 * Chains: main;run;mid;leaf  main;run;rec x DEPTH;leaf  main;run;qsort;..;cmp
 * Every function is noinline so each has a frame of its own to unwind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPTH 12
#define NSORT 4096

static volatile uint64_t sink;

__attribute__((noinline)) static void leaf(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sink += i * i;
}

__attribute__((noinline)) static void mid(uint64_t n)
{
	leaf(n);
	sink++;
}

__attribute__((noinline)) static int rec(int depth, uint64_t n)
{
	if (!depth) {
		leaf(n);
		return 0;
	}
	int r = rec(depth - 1, n) + 1;
	sink += (uint64_t)r;
	return r;
}

__attribute__((noinline)) static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	for (int i = 0; i < 8; i++)
		sink += x ^ (uint32_t)i;
	return x < y ? -1 : x > y;
}

__attribute__((noinline)) static void sorter(uint32_t *v, uint32_t seed)
{
	for (int i = 0; i < NSORT; i++) {
		seed = seed * 1103515245u + 12345u;
		v[i] = seed;
	}
	qsort(v, NSORT, sizeof(*v), cmp);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Either for `seconds` or for `iterations` rounds, whichever is set. */
__attribute__((noinline)) static void run(double seconds, long iterations)
{
	static uint32_t v[NSORT];
	double end = now() + seconds;
	uint32_t seed = 1;

	for (long i = 0; iterations ? i < iterations : now() < end; i++) {
		mid(200000);
		rec(DEPTH, 200000);
		sorter(v, seed++);
	}
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "-i")) {
		long n = atol(argv[2]);
		double t0 = now();

		run(0, n > 0 ? n : 1);
		printf("work: %ld iterations in %.6f s\n", n, now() - t0);
		return (int)(sink & 0); /* keeps sink live */
	}
	run(argc > 1 ? atof(argv[1]) : 1.0, 0);
	printf("%llu\n", (unsigned long long)(sink & 1));
	return 0;
}
