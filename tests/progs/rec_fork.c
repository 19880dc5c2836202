// SPDX-License-Identifier: MIT
/*
 * Forks short-lived children that exec PROG ARGS..., burn a little CPU and
 * exit at once: their samples must still find their mappings. The parent
 * itself only waits.
 *   rec_fork N PROG ARGS...
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;

	if (n < 1)
		return 2;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		int st;

		if (p < 0)
			return 1;
		if (p == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		printf("child %d\n", (int)p);
		fflush(stdout);
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
			return 1;
	}
	return 0;
}
