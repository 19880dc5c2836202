// SPDX-License-Identifier: MIT
/*
 * The dlopen'ed library of unw_dlopen: dllib_entry -> dllib_mid ->
 * dllib_leaf, the leaf burning CPU. Built -O2 -fomit-frame-pointer -fPIC.
 */
#include "unw_common.h"

uint64_t dllib_entry(uint64_t n);

FRAME uint64_t dllib_leaf(uint64_t n)
{
	return unw_burn(n, n);
}

FRAME uint64_t dllib_mid(uint64_t n)
{
	volatile char buf[88];
	uint64_t r;

	buf[0] = 1;
	r = dllib_leaf(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

FRAME uint64_t dllib_entry(uint64_t n)
{
	volatile char buf[24];
	uint64_t r;

	buf[0] = 1;
	r = dllib_mid(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}
