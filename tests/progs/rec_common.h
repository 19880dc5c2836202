/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the record test programs: CPU-time measurement and the
 * stack marker values the end-to-end tests look for in the stack copies.
 */
#ifndef REC_COMMON_H
#define REC_COMMON_H

#include <stdint.h>
#include <time.h>

/* "XPROF" in the high bytes, the recursion depth in the low byte. */
#define REC_MARKER 0x5850524f46000000ull

static inline double rec_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double rec_process_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
