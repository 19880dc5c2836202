/* SPDX-License-Identifier: MIT */
/*
 * What every bench/..._bench.c program needs to time itself: a monotonic
 * clock and a comparator for sorting repeated timings to take a median.
 */
#ifndef XPROF_BENCH_H
#define XPROF_BENCH_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bench_now_ns(void)
{
	return bench_now_s() * 1e9;
}

/* qsort() comparator for doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif /* XPROF_BENCH_H */
