// SPDX-License-Identifier: MIT
/*
 * Processes that spend a measurable time exiting: each of CHILDREN children
 * maps many small mappings (every other page read-only, so they do not
 * merge) and touches some anonymous memory, spins a little, and exits. The
 * kernel then tears its address space down in exit_mmap(), after exit_mm()
 * has detached it from the task: samples taken there have registers but no
 * user stack, and must be counted as "exiting", not "truncated".
 *
 * usage: cap_exit [CHILDREN] [VMAS] [MIB]   (defaults 8, 30000, 256)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unw_common.h"

static void child(long vmas, long mib)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)2 * vmas * page, big = (size_t)mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || q == MAP_FAILED) {
		perror("cap_exit: mmap");
		_exit(1);
	}
	/* 4 KiB pages, so that freeing them takes time. */
	madvise(q, big, MADV_NOHUGEPAGE);
	memset(q, 1, big);
	for (long i = 0; i < vmas; i++) {
		p[2 * i * page] = 1;
		if (mprotect(p + (2 * i + 1) * page, page, PROT_READ))
			break;
	}
	unw_burn(20000000, 1);
	_exit(0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 8;
	long vmas = argc > 2 ? atol(argv[2]) : 30000;
	long mib = argc > 3 ? atol(argv[3]) : 256;
	int st;

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("cap_exit: fork");
			return 1;
		}
		if (pid == 0)
			child(vmas, mib);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "cap_exit: child %ld failed\n", i);
			return 1;
		}
	}
	printf("%ld children exited\n", n);
	return 0;
}
