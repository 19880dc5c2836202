// SPDX-License-Identifier: MIT
/*
 * Code with neither CFI nor a frame pointer between two normal functions:
 * main -> synth_outer -> synth_mid (unw_synth_mid.c, built with
 * -fno-asynchronous-unwind-tables -fomit-frame-pointer, so it has no FDE,
 * only its symbol) -> synth_leaf. Unwinding out of synth_mid needs the rows
 * xprof synthesizes from its machine code.
 *
 * usage: unw_synth [SECONDS]   prints the chains.
 */
#include "unw_common.h"

uint64_t synth_mid(uint64_t count, uint64_t (*leaf)(uint64_t));

static volatile uint64_t sink;

FRAME uint64_t synth_leaf(uint64_t n)
{
	return unw_burn(200000, n);
}

FRAME uint64_t synth_outer(uint64_t count)
{
	uint64_t r = synth_mid(count, synth_leaf);

	NO_TAIL();
	return r + 1;
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);

	printf("chain: main;synth_outer;synth_mid;synth_leaf and main;synth_outer;synth_mid\n");
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += synth_outer(10);
	return 0;
}
