// SPDX-License-Identifier: MIT
/*
 * The vDSO: main -> vdso_loop calls clock_gettime() in a loop, so most
 * samples land in the vDSO (__vdso_clock_gettime and its helpers), whose
 * unwind table is built from the image the recorder captured.
 *
 * usage: unw_vdso [SECONDS]   prints the chain.
 */
#include "unw_common.h"

static volatile uint64_t sink;

FRAME uint64_t vdso_loop(uint64_t n)
{
	struct timespec ts;
	uint64_t x = 0;

	for (uint64_t i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x += (uint64_t)ts.tv_nsec;
	}
	return x;
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);

	printf("chain: main;vdso_loop;clock_gettime;__vdso_clock_gettime...\n");
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += vdso_loop(100000);
	return 0;
}
