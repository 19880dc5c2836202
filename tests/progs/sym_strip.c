// SPDX-License-Identifier: MIT
/*
 * sym_strip ROUNDS: a release-style C program for test_sym_stripped.sh,
 * built -O2 and stripped (strip --strip-all leaves no symbol for any of its
 * functions). main calls work, which spends its time in two hot functions
 * with loops of many instructions, so that samples land on many different
 * addresses of each; none of them is exported. The work is fixed (about
 * 1.3 ms of CPU per round), not the time, so a busy machine does not thin
 * out the samples. sym_strip.full is the same build before strip, from
 * which the test learns where each function is.
 */
#include <stdlib.h>

volatile unsigned long sink;

__attribute__((noinline)) static unsigned long hot_mix(unsigned long x, int n)
{
	for (int i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x += (unsigned long)i * 0x9e3779b97f4a7c15ull;
	}
	return x;
}

__attribute__((noinline)) static unsigned long hot_sum(const unsigned *v, int n)
{
	unsigned long s = 0;

	for (int i = 0; i < n; i++)
		s += v[i] * (unsigned long)(i | 1) + (s >> 3);
	return s;
}

__attribute__((noinline)) static void work(unsigned *v, int n)
{
	unsigned long x = sink | 1;

	for (int r = 0; r < 64; r++) {
		x = hot_mix(x, 4096);
		v[r % n] = (unsigned)x;
		sink += hot_sum(v, n);
	}
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1;
	static unsigned v[8192];

	for (int i = 0; i < 8192; i++)
		v[i] = (unsigned)i * 2654435761u;
	for (long r = 0; r < rounds; r++)
		work(v, 8192);
	return (int)(sink & 1) * 0;
}
