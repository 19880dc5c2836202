// SPDX-License-Identifier: MIT
/*
 * Code without CFI: main -> nocfi_caller -> asm_fp_spin (assembly, no
 * FDE, keeps rbp) -> nocfi_leaf. Samples in asm_fp_spin and in nocfi_leaf
 * both need the frame-pointer fallback for the asm frame, and must come out
 * marked as such.
 *
 * usage: unw_nocfi [SECONDS]   prints the chains.
 */
#include "unw_common.h"

uint64_t asm_fp_spin(uint64_t count, uint64_t n);

static volatile uint64_t sink;

FRAME uint64_t nocfi_leaf(uint64_t n)
{
	return unw_burn(n, n);
}

FRAME uint64_t nocfi_caller(uint64_t count)
{
	volatile char buf[40];
	uint64_t r;

	buf[0] = 1;
	r = asm_fp_spin(count, 300000);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);

	printf(
	    "chain: main;nocfi_caller;asm_fp_spin;nocfi_leaf and main;nocfi_caller;asm_fp_spin\n");
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += nocfi_caller(10);
	return 0;
}
