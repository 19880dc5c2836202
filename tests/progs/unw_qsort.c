// SPDX-License-Identifier: MIT
/*
 * Callbacks through libc: main -> qsort_run -> qsort (libc frames) ->
 * qsort_cmp, the comparator burning CPU: our frame, libc frames, our frame.
 *
 * usage: unw_qsort [SECONDS]   prints the chain.
 */
#include "unw_common.h"

#define N 4096

static volatile uint64_t sink;
static uint64_t arr[N];

FRAME int qsort_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	sink += unw_burn(200, x);
	return (x > y) - (x < y);
}

FRAME uint64_t qsort_run(uint64_t seed)
{
	volatile char buf[16];

	buf[0] = 1;
	for (int i = 0; i < N; i++) {
		seed = seed * 6364136223846793005ull + 1;
		arr[i] = seed >> 16;
	}
	qsort(arr, N, sizeof(arr[0]), qsort_cmp);
	NO_TAIL();
	return arr[0] + (uint64_t)buf[0];
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv), seed = 1;

	printf("chain: main;qsort_run;qsort;...libc...;qsort_cmp\n");
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += qsort_run(seed++);
	return 0;
}
