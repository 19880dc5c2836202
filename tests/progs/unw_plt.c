// SPDX-License-Identifier: MIT
/*
 * PLT stubs: main -> plt_loop calls pltlib_tiny() of libunw_pltlib.so in a
 * tight loop, through the executable's lazy-binding PLT, so many samples
 * land on the stub itself (pltlib_tiny@plt: CFA = rsp + 8 by the PLT rule)
 * and others in pltlib_tiny. Every sample must still be rooted at main.
 *
 * usage: unw_plt [SECONDS]   prints the chain.
 */
#include "unw_common.h"

uint64_t pltlib_tiny(uint64_t x);

static volatile uint64_t sink;

FRAME uint64_t plt_loop(uint64_t n)
{
	uint64_t x = 0;

	for (uint64_t i = 0; i < n; i++)
		x = pltlib_tiny(x);
	return x;
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);

	printf("chain: main;plt_loop;pltlib_tiny@plt and main;plt_loop;pltlib_tiny\n");
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += plt_loop(1000000);
	return 0;
}
