// SPDX-License-Identifier: MIT
/*
 * A deep C recursion for full-depth capture: main -> deep_loop ->
 * deep_recurse x DEPTH -> deep_leaf, the leaf burning CPU. Each deep_recurse
 * frame is about 96 bytes, so the default DEPTH 2500 is about 240 KiB of
 * stack: four times the largest copy xprof could make before it copied whole
 * stacks (64 KiB), and perf's too. Built twice, with and without frame
 * pointers (cap_deep_fp, cap_deep).
 *
 * usage: cap_deep [SECONDS] [DEPTH]   prints the stack size from the leaf to main.
 */
#include "unw_common.h"

static volatile uint64_t sink;
static uintptr_t leaf_sp;

FRAME uint64_t deep_leaf(uint64_t n)
{
	volatile char here = 0;

	leaf_sp = (uintptr_t)&here;
	return unw_burn(n, n + (uint64_t)here);
}

FRAME uint64_t deep_recurse(unsigned depth, uint64_t n)
{
	volatile char buf[72];
	uint64_t r;

	buf[0] = (char)depth;
	r = depth > 1 ? deep_recurse(depth - 1, n) : deep_leaf(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

FRAME uint64_t deep_loop(unsigned depth, uint64_t end)
{
	volatile char buf[8];
	uint64_t r = 0;

	buf[0] = 0;
	while (unw_now_ns() < end)
		r += deep_recurse(depth, 1000000);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);
	unsigned depth = argc > 2 ? (unsigned)atoi(argv[2]) : 2500;
	char here;

	if (depth < 1)
		depth = 1;
	sink += deep_recurse(1, 1);
	sink += deep_loop(depth, end);
	printf("stack from the leaf to main: %lu bytes\n",
	       (unsigned long)((uintptr_t)&here - leaf_sp));
	return 0;
}
