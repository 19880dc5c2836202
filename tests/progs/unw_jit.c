// SPDX-License-Identifier: MIT
/*
 * JIT code without frame pointer or CFI, called from C and named in a perf
 * map: main -> jit_caller -> jit_spin (machine code copied to an anonymous
 * executable page at run time, named in /tmp/perf-PID.map). jit_spin pushes
 * rbx, reserves 40 bytes and parks a decoy on its stack, the address of
 * main (in a module but not after a call), then spins: unwinding out of it
 * takes verified stack scanning, which must skip the decoy and find
 * jit_caller's return address.
 *
 * usage: unw_jit [SECONDS]   prints the chain and the perf map's path (the
 * map stays for the report; the caller removes it). With UNW_JIT_MAPLIST
 * set, the path is also appended to that file, for runs whose output is
 * not kept.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unw_common.h"

/*
 * uint64_t jit_spin(uint64_t n, uint64_t decoy):
 *   push %rbx; sub $40, %rsp; mov %rsi, (%rsp); mov %rsi, 8(%rsp)
 *   mov %rdi, %rbx; mov $1, %eax
 * 1: imul %rbx, %rax; add $7, %rax; dec %rbx; jnz 1b
 *   add $40, %rsp; pop %rbx; ret
 */
static const uint8_t jit_code[] = {
    0x53,			  /* push %rbx */
    0x48, 0x83, 0xec, 0x28,	  /* sub $0x28, %rsp */
    0x48, 0x89, 0x34, 0x24,	  /* mov %rsi, (%rsp) */
    0x48, 0x89, 0x74, 0x24, 0x08, /* mov %rsi, 0x8(%rsp) */
    0x48, 0x89, 0xfb,		  /* mov %rdi, %rbx */
    0xb8, 0x01, 0x00, 0x00, 0x00, /* mov $1, %eax */
    0x48, 0x0f, 0xaf, 0xc3,	  /* 1: imul %rbx, %rax */
    0x48, 0x83, 0xc0, 0x07,	  /* add $7, %rax */
    0x48, 0xff, 0xcb,		  /* dec %rbx */
    0x75, 0xf3,			  /* jnz 1b */
    0x48, 0x83, 0xc4, 0x28,	  /* add $0x28, %rsp */
    0x5b,			  /* pop %rbx */
    0xc3,			  /* ret */
};

typedef uint64_t (*jit_fn)(uint64_t n, uint64_t decoy);

static volatile uint64_t sink;

int main(int argc, char **argv);

FRAME uint64_t jit_caller(jit_fn f, uint64_t n)
{
	uint64_t r = f(n, (uint64_t)(uintptr_t)&main);

	NO_TAIL();
	return r + 1;
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);
	char path[64];
	FILE *map;
	uint8_t *page =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED) {
		perror("unw_jit: mmap");
		return 1;
	}
	/* somewhere inside the page, as a JIT places code */
	memcpy(page + 0x100, jit_code, sizeof(jit_code));
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC)) {
		perror("unw_jit: mprotect");
		return 1;
	}
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	map = fopen(path, "w");
	if (!map) {
		perror(path);
		return 1;
	}
	fprintf(map, "%lx %zx jit_spin\n", (unsigned long)(uintptr_t)(page + 0x100),
		sizeof(jit_code));
	fclose(map);
	const char *list = getenv("UNW_JIT_MAPLIST");

	if (list && *list && (map = fopen(list, "a"))) {
		fprintf(map, "%s\n", path);
		fclose(map);
	}
	printf("chain: main;jit_caller;jit_spin\nperfmap: %s\n", path);
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += jit_caller((jit_fn)(uintptr_t)(page + 0x100), 2000000);
	return 0;
}
