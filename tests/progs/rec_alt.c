// SPDX-License-Identifier: MIT
/*
 * A signal handler on a sigaltstack that burns CPU: most samples land in the
 * handler, on the alternate stack, where a copy from sp upward never reaches
 * the interrupted code. The interrupted function keeps a marker in a local
 * and prints its address ("mark ADDR VALUE"): the sampler's second segment
 * (the interrupted stack) must contain that word at that address.
 *   rec_alt SECONDS
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "rec_common.h"

#define ALT_SIZE 65536

static volatile sig_atomic_t hits;

static void handler(int sig)
{
	volatile uint64_t x = 0;
	double until = rec_thread_cpu() + 0.008;

	(void)sig;
	while (rec_thread_cpu() < until)
		for (int i = 0; i < 10000; i++)
			x += i;
	hits++;
}

static __attribute__((noinline)) void interrupted(double seconds)
{
	volatile uint64_t mark = REC_MARKER | 0xa17;
	volatile uint64_t x = 0;
	double until = rec_thread_cpu() + seconds;

	printf("mark %p %#llx\n", (void *)&mark, (unsigned long long)mark);
	fflush(stdout);
	while (rec_thread_cpu() < until)
		for (int i = 0; i < 1000; i++)
			x += i;
	printf("hits %d\n", (int)hits);
}

int main(int argc, char **argv)
{
	stack_t ss = {0};
	struct sigaction sa;
	struct itimerval it = {{0, 10000}, {0, 10000}};

	ss.ss_sp = malloc(ALT_SIZE);
	ss.ss_size = ALT_SIZE;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		return 1;
	printf("altstack %p %d\n", ss.ss_sp, ALT_SIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGPROF, &sa, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	interrupted(argc > 1 ? atof(argv[1]) : 1.0);
	return 0;
}
