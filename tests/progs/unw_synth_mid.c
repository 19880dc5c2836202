// SPDX-License-Identifier: MIT
/*
 * The middle function of unw_synth, built without CFI and without a frame
 * pointer (see unwind/walk.mk): it saves callee-saved registers, keeps a
 * stack frame with locals, spins a little and calls the leaf through a
 * pointer, as optimized C does.
 */
#include <stdint.h>

uint64_t synth_mid(uint64_t count, uint64_t (*leaf)(uint64_t));

__attribute__((noinline, noipa)) uint64_t synth_mid(uint64_t count, uint64_t (*leaf)(uint64_t))
{
	volatile uint64_t buf[16];
	uint64_t acc = 0;

	for (uint64_t i = 0; i < count; i++) {
		buf[i & 15] = leaf(i + acc);
		acc += buf[i & 15] * 3;
		for (uint64_t k = 0; k < 100000; k++) {
			acc = acc * 31 + k;
			__asm__ volatile("" : "+r"(acc));
		}
	}
	return acc + buf[0];
}
