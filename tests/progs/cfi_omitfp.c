// SPDX-License-Identifier: MIT
/*
 * Unwind-table test program, built -O2 -fomit-frame-pointer (also with
 * -Wa,--gsframe for the SFrame comparison): leaf and non-leaf functions whose
 * CFA is rsp+N only, a frame of over 64 KiB (CFA offsets an unscaled 16-bit
 * field cannot hold), recursion, many stack arguments, alloca and a VLA
 * (which force CFA = rbp+16 even without frame pointers), a stack-realigning
 * function and a signal handler. Run it to exercise them; the oracle test
 * only reads its CFI.
 */
#include <alloca.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t got;
static volatile long sink;

static void handler(int s)
{
	got = s;
}

__attribute__((noinline)) long leaf(long a, long b)
{
	return a * b + (a ^ b);
}

__attribute__((noinline)) long vla_sum(int n)
{
	long buf[n];

	for (int i = 0; i < n; i++)
		buf[i] = leaf(i, n);
	long s = 0;
	for (int i = 0; i < n; i++)
		s += buf[i];
	return s;
}

__attribute__((noinline)) long alloca_sum(int n)
{
	long *p = alloca(sizeof(long) * (size_t)(n + 1));

	for (int i = 0; i <= n; i++)
		p[i] = leaf(i, 3);
	return p[n / 2] + leaf(p[0], p[n]);
}

__attribute__((noinline)) long many_args(long a, long b, long c, long d, long e, long f, long g,
					 long h, long i, long j)
{
	return a + b + c + d + e + f + g + h + i + j;
}

__attribute__((noinline)) long call_many(long x)
{
	return many_args(x, x + 1, x + 2, x + 3, x + 4, x + 5, x + 6, x + 7, x + 8, x + 9) +
	       leaf(x, 3);
}

__attribute__((noinline)) long fib(long n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* 70,000 bytes of locals: CFA = rsp + 70,0xx in the body. */
__attribute__((noinline)) long huge_frame(int n)
{
	volatile char buf[70000];

	for (int i = 0; i < (int)sizeof(buf); i += 4096)
		buf[i] = (char)(n + i);
	return buf[n % 4096] + leaf(n, buf[4096]);
}

/*
 * Stack realignment with outgoing stack arguments makes gcc use a DRAP: CFA
 * = r10 in the prologue (representable), then rbp saved by an expression and
 * CFA = *(rbp - 8) (unrepresentable: counted, the walker's frame-pointer
 * fallback is exact here).
 */
__attribute__((noinline)) long realign(int n)
{
	volatile char aligned[64] __attribute__((aligned(64)));

	aligned[0] = (char)n;
	return many_args(aligned[0], 1, 2, 3, 4, 5, 6, 7, 8, n) +
	       (long)((unsigned long)aligned & 63);
}

__attribute__((noinline)) long many_saved(long n)
{
	/* enough live values to save every callee-saved register */
	long a = leaf(n, 1), b = leaf(n, 2), c = leaf(n, 3), d = leaf(n, 4), e = leaf(n, 5);
	long f = leaf(n, 6);

	return leaf(a, b) + leaf(c, d) + leaf(e, f) + a + b + c + d + e + f;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20;

	signal(SIGUSR1, handler);
	raise(SIGUSR1);
	sink = vla_sum(n) + alloca_sum(n) + call_many(n) + fib(n) + huge_frame(n) + realign(n) +
	       many_saved(n);
	printf("%ld %d\n", (long)sink, (int)got);
	return 0;
}
