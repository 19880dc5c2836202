// SPDX-License-Identifier: MIT
/*
 * A busy program with one known call chain, main -> ns_outer -> ns_inner,
 * spinning in ns_inner for SECONDS of wall-clock time (default 10). The
 * namespace tests (tests/e2e/test_ns.sh, lib_ns.sh) run it from a tmpfs that
 * exists only in its own mount namespace, so its symbols can be read only
 * through /proc/PID: every sample must still come out as that chain, named.
 *   ns_busy [SECONDS]
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The clock is read once per 2^20 iterations: nearly every sample lands in the loop itself. */
static __attribute__((noinline)) uint64_t ns_inner(double until)
{
	volatile uint64_t x = 0;

	do
		for (uint32_t i = 0; i < (1u << 20); i++)
			x += i;
	while (now() < until);
	return x;
}

static __attribute__((noinline)) uint64_t ns_outer(double until)
{
	volatile uint64_t r = ns_inner(until);

	return r + 1;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10.0;

	return (int)(ns_outer(now() + secs) & 1);
}
