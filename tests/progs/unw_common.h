/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the unwinder's end-to-end test programs (tests/progs/unw_*):
 * a CPU burner the compiler cannot remove, a deadline, and the noinline/noipa
 * attribute that keeps every function of a known chain a real frame with its
 * own name (no inlining, no cloning into .isra/.constprop, no sibling call).
 */
#ifndef UNW_COMMON_H
#define UNW_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define FRAME __attribute__((noinline, noipa, used))

/* Keeps a call from being a tail call: work after it that cannot be dropped. */
#define NO_TAIL() __asm__ volatile("" ::: "memory")

static inline uint64_t unw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Seconds to run from argv[1] (default 2), as a deadline in ns. */
static inline uint64_t unw_deadline(int argc, char **argv)
{
	double s = argc > 1 ? atof(argv[1]) : 2.0;

	if (s <= 0)
		s = 2.0;
	return unw_now_ns() + (uint64_t)(s * 1e9);
}

/* About n * 1 ns of pure register work the optimizer cannot fold. */
static inline uint64_t unw_burn(uint64_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

#endif /* UNW_COMMON_H */
