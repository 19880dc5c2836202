// SPDX-License-Identifier: MIT
/*
 * capture/procfs.c's readers against processes whose answer is known: the
 * uid a UID record carries (this process, a child that became nobody, a
 * child that also made itself non-dumpable, a pid that is gone), as
 * /proc/PID/status says it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"

/* A child that becomes uid 65534 (and non-dumpable if asked) and waits to be killed. */
static pid_t child_as_nobody(bool nodump, int *ready)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(1);
		if (nodump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
			_exit(1);
		/* gone with the test, even one a failed assert ends (after setresuid: it clears
		 * this) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() == 1)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	*ready = fds[0];
	return pid;
}

static void reap(pid_t pid, int fd)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);
}

static void test_uid(void **state)
{
	(void)state;
	uint32_t uid = 12345;
	char c;
	int fd;
	pid_t pid;

	assert_int_equal(xp_procfs_uid(getpid(), &uid), 0);
	assert_int_equal(uid, (uint32_t)geteuid());
	/* pid_max is at most 2^22: this one never exists */
	assert_int_equal(xp_procfs_uid(0x7ffffff0, &uid), -ENOENT);
	if (geteuid() != 0) {
		print_message("not root: the setuid children are skipped\n");
		return;
	}
	pid = child_as_nobody(false, &fd);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(xp_procfs_uid(pid, &uid), 0);
	assert_int_equal(uid, 65534);
	reap(pid, fd);
	/* Not dumpable: its /proc files turn root's, /proc/PID itself stays its own. */
	pid = child_as_nobody(true, &fd);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(xp_procfs_uid(pid, &uid), 0);
	assert_int_equal(uid, 65534);
	reap(pid, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
