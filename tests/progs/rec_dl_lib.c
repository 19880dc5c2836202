// SPDX-License-Identifier: MIT
/* The library rec_dl dlopens: the CPU time spent in it must map to this file. */
#include <time.h>

double rec_dl_burn(double seconds);

double rec_dl_burn(double seconds)
{
	struct timespec ts;
	volatile double x = 0;
	double now, until;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	until = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
	do {
		for (int i = 0; i < 100000; i++)
			x += i * 0.5;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		now = ts.tv_sec + ts.tv_nsec / 1e9;
	} while (now < until);
	return x;
}
