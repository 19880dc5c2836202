// SPDX-License-Identifier: MIT
/*
 * Process churn: W worker threads (named "churnw0".."churnwN") each fork
 * RATE short-lived children per second for SECONDS. A child inherits its
 * worker's name, burns about BURN_US microseconds of CPU in child_work() so
 * the sampler catches some of them, and exits; the worker reaps it at once.
 * Prints "pid PID" first and "children N" when done.
 *   rec_churn WORKERS RATE SECONDS [BURN_US]
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rec_common.h"

static int rate;
static double seconds, burn_s;
static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void child_work(void)
{
	double t0 = rec_process_cpu();

	while (rec_process_cpu() - t0 < burn_s)
		for (int i = 0; i < 1000; i++)
			sink += i;
}

static void *worker(void *arg)
{
	long id = (long)arg, n = 0;
	char name[16];
	double t0 = now(), period = 1.0 / rate;

	snprintf(name, sizeof(name), "churnw%ld", id);
	pthread_setname_np(pthread_self(), name);
	for (double next = t0; next < t0 + seconds; next += period) {
		pid_t p;
		int st;
		double d = next - now();

		if (d > 0) {
			struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};

			nanosleep(&ts, NULL);
		}
		p = fork();
		if (p < 0)
			continue;
		if (p == 0) {
			child_work();
			_exit(0);
		}
		waitpid(p, &st, 0);
		n++;
	}
	return (void *)n;
}

int main(int argc, char **argv)
{
	int workers = argc > 3 ? atoi(argv[1]) : 0;
	long total = 0;
	pthread_t *th;

	if (workers < 1 || workers > 64)
		return 2;
	rate = atoi(argv[2]);
	seconds = atof(argv[3]);
	burn_s = (argc > 4 ? atof(argv[4]) : 300) / 1e6;
	if (rate < 1 || seconds <= 0)
		return 2;
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	th = calloc(workers, sizeof(*th));
	if (!th)
		return 1;
	for (long i = 0; i < workers; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			return 1;
	for (int i = 0; i < workers; i++) {
		void *n;

		pthread_join(th[i], &n);
		total += (long)n;
	}
	printf("children %ld\n", total);
	free(th);
	return 0;
}
