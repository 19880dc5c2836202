// SPDX-License-Identifier: MIT
/*
 * sym_target: a C program whose symbols exercise symbolize/: a three-deep
 * inline chain, static (local) functions, aliases (global, weak, local), an
 * IFUNC, a zero-size assembly function, untyped assembly labels (as ld.so's
 * _start and _dl_start_user), and a hot/cold split. Built -O2 -g.
 * Run with a count, it spins through all of them (a profiling target).
 */
#include <stdio.h>
#include <stdlib.h>

volatile unsigned long sink;

static inline __attribute__((always_inline)) unsigned long leaf_mix(unsigned long x)
{
	for (int i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		sink += x;
	}
	return x;
}

static inline __attribute__((always_inline)) unsigned long middle_mix(unsigned long x)
{
	x = leaf_mix(x + 1);
	sink ^= x;
	return leaf_mix(x * 3);
}

static inline __attribute__((always_inline)) unsigned long outer_mix(unsigned long x)
{
	x = middle_mix(x);
	sink -= x;
	return middle_mix(x ^ 0x55);
}

__attribute__((noinline)) unsigned long chain_entry(unsigned long x)
{
	return outer_mix(x) + 7;
}

static __attribute__((noinline)) unsigned long local_worker(unsigned long x)
{
	for (int i = 0; i < 100; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink = x;
	return x;
}

__attribute__((noinline)) unsigned long real_impl(unsigned long x)
{
	return local_worker(x) ^ 0xabc;
}

/* Aliases: one address, three names; the global one without underscores wins. */
unsigned long alias_pub(unsigned long x) __attribute__((alias("real_impl")));
unsigned long __alias_weak(unsigned long x) __attribute__((weak, alias("real_impl")));

static unsigned long impl_a(unsigned long x)
{
	return x + 1;
}

static unsigned long impl_b(unsigned long x)
{
	return x + 2;
}

static unsigned long (*resolve_picked(void))(unsigned long)
{
	return getenv("SYM_TARGET_B") ? impl_b : impl_a;
}

unsigned long picked(unsigned long x) __attribute__((ifunc("resolve_picked")));

/* Zero-size: an assembly function without .size. */
__asm__(".text\n"
	".globl asm_nosize\n"
	".type asm_nosize, @function\n"
	"asm_nosize:\n"
	"\tlea 1(%rdi), %rax\n"
	"\tnop\n\tnop\n\tnop\n"
	"\tret\n");
unsigned long asm_nosize(unsigned long x);

/*
 * ld.so's entry in miniature: labels without .type or .size (STT_NOTYPE,
 * size 0), one global and one local, each a function of its own; and a
 * label inside a sized function, which is part of that function.
 */
__asm__(".text\n"
	".globl asm_label_entry\n"
	"asm_label_entry:\n"
	"\tlea 2(%rdi), %rax\n"
	"\tnop\n"
	"asm_label_user:\n"
	"\tnop\n\tnop\n"
	"\tret\n"
	".globl asm_sized\n"
	".type asm_sized, @function\n"
	"asm_sized:\n"
	"\tlea 3(%rdi), %rax\n"
	"asm_sized_inner:\n"
	"\tnop\n\tnop\n"
	"\tret\n"
	".size asm_sized, .-asm_sized\n");
unsigned long asm_label_entry(unsigned long x);
unsigned long asm_sized(unsigned long x);

__attribute__((noinline, cold)) static void cold_report(unsigned long x)
{
	fprintf(stderr, "odd %lu\n", x);
}

__attribute__((noinline)) unsigned long hot_path(unsigned long x)
{
	if (__builtin_expect(x == 12345678901ULL, 0)) {
		cold_report(x);
		abort();
	}
	return x * 2;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	unsigned long x = 1;

	for (long i = 0; i < n; i++) {
		x = chain_entry(x);
		x = alias_pub(x);
		x = picked(x);
		x = asm_nosize(x);
		x = asm_label_entry(x);
		x = asm_sized(x);
		x = hot_path(x);
	}
	printf("%lu\n", x & 1);
	return 0;
}
