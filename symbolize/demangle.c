// SPDX-License-Identifier: MIT
/*
 * C++ (Itanium) and Rust (legacy and v0) demangling through libiberty's
 * cplus_demangle, the demangler binutils and gdb use, so names match what
 * `addr2line -C` and `nm -C` print. Nothing is demangled by hand here.
 */
#include <libiberty/demangle.h>
#include <stdlib.h>

#include "symbolize/symbolize_int.h"

const char *sym_demangle(struct sym_arena *a, const char *name)
{
	/* Only mangled-looking names: saves libiberty's work on C names. */
	if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	char *d = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);

	if (!d)
		return NULL;
	const char *copy = sym_arena_strdup(a, d);

	free(d);
	return copy;
}
