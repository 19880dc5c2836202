// SPDX-License-Identifier: MIT
/*
 * A target whose hot function changes between runs, for `xprof diff`: it
 * burns SECONDS of CPU time in slices, each slice split between phase_a()
 * and phase_b() (and a fixed share in common_work()) by the mode:
 *   rec_phases a SECONDS   3 parts phase_a, 1 part phase_b, 1 part common_work
 *   rec_phases b SECONDS   1 part phase_a, 3 parts phase_b, 1 part common_work
 * So from a to b, phase_b's share grows from 20% to 60%, phase_a's shrinks
 * from 60% to 20%, and common_work holds at 20%. Each burner measures its
 * own CPU time, so the split holds whatever the machine's load.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec_common.h"

#define SLICE 0.005 /* seconds of CPU per part */

static __attribute__((noinline)) uint64_t spin_for(double cpu)
{
	volatile uint64_t x = 0;
	double until = rec_thread_cpu() + cpu;

	while (rec_thread_cpu() < until)
		for (int i = 0; i < 10000; i++)
			x += i;
	return x;
}

static __attribute__((noinline)) uint64_t phase_a(int parts)
{
	return spin_for(parts * SLICE);
}

static __attribute__((noinline)) uint64_t phase_b(int parts)
{
	return spin_for(parts * SLICE);
}

static __attribute__((noinline)) uint64_t common_work(void)
{
	return spin_for(SLICE);
}

int main(int argc, char **argv)
{
	double seconds, until;
	int a, b;
	uint64_t r = 0;

	if (argc != 3 || (strcmp(argv[1], "a") && strcmp(argv[1], "b"))) {
		fprintf(stderr, "usage: rec_phases a|b SECONDS\n");
		return 2;
	}
	a = argv[1][0] == 'a' ? 3 : 1;
	b = 4 - a;
	seconds = atof(argv[2]);
	until = rec_thread_cpu() + seconds;
	while (rec_thread_cpu() < until) {
		r += phase_a(a);
		r += phase_b(b);
		r += common_work();
	}
	printf("done %d\n", (int)(r & 1));
	return 0;
}
