// SPDX-License-Identifier: MIT
/*
 * A JIT in miniature: copies a spin loop into anonymous executable memory,
 * names it in /tmp/perf-PID.map ("jit_spin", as V8 or a JVM agent would)
 * before anything records it, prints "pid N" and "ready", then runs it for
 * SECONDS. The map exists before `xprof record -p` starts, which is the case
 * the e2e test checks: the JIT region must come from /proc at the start.
 *   rec_jit SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* jit_spin(n): push %rbp; mov %rsp,%rbp; mov %rdi,%rcx; 1: dec %rcx; jnz 1b; pop %rbp; ret.
 * It keeps a frame pointer, so an unwinder without CFI for it can still leave it. */
static const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0xf9,
			       0x48, 0xff, 0xc9, 0x75, 0xfb, 0x5d, 0xc3};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) void call_jit(void (*fn)(uint64_t))
{
	fn(1000000);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5, until;
	char path[64];
	uint8_t *mem;
	FILE *f;

	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, code, sizeof(code));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC))
		return 1;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%lx %zx jit_spin\n", (unsigned long)(uintptr_t)mem, sizeof(code));
	fclose(f);
	printf("pid %d\nready\n", (int)getpid());
	fflush(stdout);
	void (*fn)(uint64_t) = (void (*)(uint64_t))(uintptr_t)mem;

	for (until = now() + seconds; now() < until;)
		call_jit(fn);
	return 0;
}
