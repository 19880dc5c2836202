// SPDX-License-Identifier: MIT
/*
 * The shared library unw_plt links against: a function so short that a
 * loop calling it spends a good part of its time in the caller's PLT stub.
 */
#include <stdint.h>

uint64_t pltlib_tiny(uint64_t x);

uint64_t pltlib_tiny(uint64_t x)
{
	return x + 1;
}
