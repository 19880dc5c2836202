// SPDX-License-Identifier: MIT
/*
 * A fixed amount of CPU work for the record bench: THREADS threads each run
 * MILLIONS million iterations of a small loop at recursion depth DEPTH. Prints
 * "elapsed S cpu C": the wall time of the work alone and the process's CPU
 * time (which includes the sampling interrupts it absorbed), so the bench
 * can compare a bare run with runs under a profiler.
 *   rec_work THREADS MILLIONS DEPTH
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iters;
static int depth;

static __attribute__((noinline)) unsigned long work(int d)
{
	volatile unsigned long x = d;

	if (d < depth)
		return work(d + 1) + x;
	for (long i = 0; i < iters; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return x;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(unsigned long)work(1);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	struct timespec a, b, c;
	pthread_t t[64];

	iters = (argc > 2 ? atol(argv[2]) : 300) * 1000000l;
	depth = argc > 3 ? atoi(argv[3]) : 16;
	if (n < 1 || n > 64 || depth < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	printf("elapsed %.6f cpu %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
	       c.tv_sec + c.tv_nsec / 1e9);
	return 0;
}
