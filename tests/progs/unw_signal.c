// SPDX-License-Identifier: MIT
/*
 * Samples inside a signal handler: a CPU-time interval timer (ITIMER_PROF)
 * delivers SIGPROF while main -> sig_outer -> sig_spin spins; the handler
 * burns CPU in sig_handler -> sig_handler_leaf. A sample in the handler must
 * unwind through the sigreturn trampoline (__restore_rt) into sig_spin,
 * whose CFA is rbp-based (it calls alloca, so even -fomit-frame-pointer
 * code keeps rbp as its frame base), and on to main:
 *   main;sig_outer;sig_spin;__restore_rt;sig_handler;sig_handler_leaf
 * With "alt", the handler runs on a 64 KiB sigaltstack (SA_ONSTACK): the
 * interrupted frames then live on the main stack, which a copy of the
 * stack from the handler's sp upward never reaches.
 *
 * usage: unw_signal [SECONDS] [alt]   prints the chain and the counts.
 */
#include <alloca.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>

#include "unw_common.h"

static volatile sig_atomic_t done;
static volatile uint64_t sink;
static volatile unsigned long nsig;
static uint64_t end_ns;
static uintptr_t alt_lo, alt_hi;
static volatile unsigned long on_alt;

FRAME uint64_t sig_handler_leaf(uint64_t n)
{
	return unw_burn(n, n);
}

FRAME void sig_handler(int sig)
{
	char here;

	(void)sig;
	nsig++;
	if ((uintptr_t)&here >= alt_lo && (uintptr_t)&here < alt_hi)
		on_alt++;
	/* Half of the timer's period, so half of the samples land here. */
	sink += sig_handler_leaf(1500000);
	NO_TAIL();
	/* clock_gettime is async-signal-safe. */
	if (unw_now_ns() >= end_ns)
		done = 1;
}

FRAME uint64_t sig_spin(uint64_t n)
{
	/* alloca makes rbp this function's frame base: CFA = rbp + 16. */
	volatile char *buf = alloca(n);
	uint64_t x = 0;

	buf[0] = 1;
	while (!done)
		x = unw_burn(64, x + buf[0]);
	return x;
}

FRAME uint64_t sig_outer(uint64_t n)
{
	volatile char buf[56];
	uint64_t r;

	buf[0] = 1;
	r = sig_spin(n);
	NO_TAIL();
	return r + buf[0];
}

int main(int argc, char **argv)
{
	bool alt = argc > 2 && !strcmp(argv[2], "alt");
	struct sigaction sa;
	struct itimerval it = {{0, 4000}, {0, 4000}};

	end_ns = unw_deadline(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	if (alt) {
		stack_t ss = {.ss_size = 65536};

		ss.ss_sp = malloc(ss.ss_size);
		if (!ss.ss_sp || sigaltstack(&ss, NULL)) {
			perror("unw_signal: sigaltstack");
			return 1;
		}
		alt_lo = (uintptr_t)ss.ss_sp;
		alt_hi = alt_lo + ss.ss_size;
		sa.sa_flags |= SA_ONSTACK;
	}
	if (sigaction(SIGPROF, &sa, NULL) || setitimer(ITIMER_PROF, &it, NULL)) {
		perror("unw_signal: timer");
		return 1;
	}
	printf("chain: main;sig_outer;sig_spin;__restore_rt;sig_handler;sig_handler_leaf%s\n",
	       alt ? " (sigaltstack)" : "");
	fflush(stdout);
	sink += sig_outer(32);
	printf("signals: %lu, on the alternate stack: %lu\n", nsig, on_alt);
	return alt && on_alt != nsig;
}
