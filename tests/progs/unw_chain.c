// SPDX-License-Identifier: MIT
/*
 * Known call chain for the unwinder's end-to-end tests: main -> chain_a ->
 * chain_b -> chain_c -> chain_leaf, the leaf burning CPU. Built twice: with
 * -fomit-frame-pointer (only the unwind tables can walk it; each function has
 * its own rsp-based CFA because of a different-sized local buffer) and with
 * -fno-omit-frame-pointer as the control.
 *
 * usage: unw_chain [SECONDS]   prints the chain it runs.
 */
#include <string.h>

#include "unw_common.h"

static volatile uint64_t sink;

FRAME uint64_t chain_leaf(uint64_t n)
{
	volatile char buf[24];

	buf[0] = (char)n;
	return unw_burn(n, (uint64_t)buf[0]);
}

FRAME uint64_t chain_c(uint64_t n)
{
	volatile char buf[40];
	uint64_t r;

	buf[1] = 1;
	r = chain_leaf(n);
	NO_TAIL();
	return r + buf[1];
}

FRAME uint64_t chain_b(uint64_t n)
{
	volatile char buf[72];
	uint64_t r;

	buf[2] = 2;
	r = chain_c(n);
	NO_TAIL();
	return r + buf[2];
}

FRAME uint64_t chain_a(uint64_t n)
{
	volatile char buf[136];
	uint64_t r;

	buf[3] = 3;
	r = chain_b(n);
	NO_TAIL();
	return r + buf[3];
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv), calls = 0;

	printf("chain: main;chain_a;chain_b;chain_c;chain_leaf\n");
	fflush(stdout);
	while (unw_now_ns() < end) {
		sink += chain_a(1000000);
		calls++;
	}
	printf("calls: %llu\n", (unsigned long long)calls);
	return 0;
}
