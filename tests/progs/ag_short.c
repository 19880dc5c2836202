// SPDX-License-Identifier: MIT
/*
 * ag_short: a process that lives ~5 ms, spinning in ag_short_spin() called
 * from main(), then exits. tests/e2e/test_agent.sh runs it ~100 times a
 * second from a shell loop: the agent must show its samples by comm, with
 * its symbols and labels, although it is gone long before its window ends.
 *
 * usage: ag_short [MICROSECONDS]   (default 5000)
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) uint64_t ag_short_spin(uint64_t until)
{
	uint64_t n = 0;

	while (now_ns() < until)
		for (int i = 0; i < 1000; i++)
			n += (uint64_t)i * 2654435761u;
	return n;
}

int main(int argc, char **argv)
{
	uint64_t us = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000;

	sink = ag_short_spin(now_ns() + us * 1000);
	return 0;
}
