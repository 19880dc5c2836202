// SPDX-License-Identifier: MIT
/*
 * A CPU-bound, multi-threaded target with known stacks: each thread recurses
 * DEPTH levels, each level keeping a volatile local that holds
 * REC_MARKER | depth, then burns SECONDS of its own CPU time at the bottom.
 * Prints "pid N", one "tid N" per thread, and at the end "cpu S" (the
 * process's CPU seconds), so the e2e tests can compare sample counts and ids.
 * With "leader-exit", the main thread leaves with pthread_exit() half a
 * second after starting the others, which go on (no "cpu" line then).
 *   rec_spin THREADS SECONDS DEPTH [leader-exit]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_common.h"

static double seconds;
static int depth;
static pthread_barrier_t ready;

static __attribute__((noinline)) uint64_t burn(void)
{
	volatile uint64_t x = 0;
	double until = rec_thread_cpu() + seconds;

	while (rec_thread_cpu() < until)
		for (int i = 0; i < 100000; i++)
			x += i;
	return x;
}

static __attribute__((noinline)) uint64_t recurse(int d)
{
	volatile uint64_t marker = REC_MARKER | (uint64_t)d;
	uint64_t r;

	r = d < depth ? recurse(d + 1) : burn();
	return r + marker;
}

static void *thread_main(void *arg)
{
	(void)arg;
	printf("tid %ld\n", (long)syscall(SYS_gettid));
	fflush(stdout);
	pthread_barrier_wait(&ready);
	return (void *)(uintptr_t)recurse(1);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	pthread_t t[64];

	seconds = argc > 2 ? atof(argv[2]) : 1.0;
	depth = argc > 3 ? atoi(argv[3]) : 8;
	if (n < 1 || n > 64 || depth < 1 || depth > 200)
		return 2;
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	pthread_barrier_init(&ready, NULL, n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	if (argc > 4 && !strcmp(argv[4], "leader-exit")) {
		usleep(500000);
		pthread_exit(NULL);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("cpu %.6f\n", rec_process_cpu());
	return 0;
}
