// SPDX-License-Identifier: MIT
/*
 * Threads: three threads each run thread_main -> thread_work ->
 * thread_leaf, burning CPU. Their stacks must be rooted at the clone child
 * (glibc: clone3 -> start_thread), whose CFI says "return address
 * undefined": complete without reaching main.
 *
 * usage: unw_threads [SECONDS]   prints the chain.
 */
#include <pthread.h>

#include "unw_common.h"

#define NTHREADS 3

static volatile uint64_t sink;
static uint64_t end_ns;

FRAME uint64_t thread_leaf(uint64_t n)
{
	return unw_burn(n, n);
}

FRAME uint64_t thread_work(uint64_t n)
{
	volatile char buf[48];
	uint64_t r;

	buf[0] = 1;
	r = thread_leaf(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

FRAME void *thread_main(void *arg)
{
	uint64_t r = 0;

	(void)arg;
	while (unw_now_ns() < end_ns)
		r += thread_work(1000000);
	sink += r;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NTHREADS];

	end_ns = unw_deadline(argc, argv);
	printf("chain: clone3;start_thread;thread_main;thread_work;thread_leaf (x%d threads)\n",
	       NTHREADS);
	fflush(stdout);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL)) {
			perror("unw_threads: pthread_create");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
