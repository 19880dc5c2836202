// SPDX-License-Identifier: MIT
/*
 * sym_reexec N: executes itself N more times, doing nothing else, so that
 * most of its user time is the dynamic loader starting a process (ld.so's
 * _start, _dl_start, relocation, _dl_start_user, _dl_init). The target of
 * test_sym_ldso_start.sh, which checks that those samples root at _start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;
	char next[32];

	if (n <= 0)
		return 0;
	snprintf(next, sizeof(next), "%ld", n - 1);
	execl("/proc/self/exe", argv[0], next, (char *)NULL);
	perror("sym_reexec: execl /proc/self/exe");
	return 1;
}
