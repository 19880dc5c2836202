// SPDX-License-Identifier: MIT
/*
 * A deep C recursion for full-depth capture: main -> deep_loop ->
 * deep_recurse x DEPTH -> deep_leaf, the leaf burning CPU. Each deep_recurse
 * frame is about 96 bytes, so the default DEPTH 2500 is about 240 KiB of
 * stack: four times the largest copy xprof could make before it copied whole
 * stacks (64 KiB), and perf's too. Built twice, with and without frame
 * pointers (cap_deep_fp, cap_deep). With "thread" the recursion runs in a
 * second thread (clone3 -> start_thread -> thread_main -> deep_loop): its
 * stack's end is known only as the end of its mapping, which the sampler
 * treats as an upper bound (a first record of 64 KiB, made again at full
 * length when the copy fills it; while the thread stays deep, full length at
 * once). With "thread-alt" each deep call alternates with as long a shallow
 * one (thread_main -> deep_loop -> shallow_leaf), so that many deep samples
 * follow a shallow one and take the first-record path.
 *
 * usage: cap_deep [SECONDS] [DEPTH] [thread|thread-alt]   prints the stack
 * size from the leaf to main (or to thread_main).
 */
#include "unw_common.h"

#include <pthread.h>
#include <string.h>

static volatile uint64_t sink;
static uintptr_t leaf_sp;

FRAME uint64_t deep_leaf(uint64_t n)
{
	volatile char here = 0;

	leaf_sp = (uintptr_t)&here;
	return unw_burn(n, n + (uint64_t)here);
}

FRAME uint64_t deep_recurse(unsigned depth, uint64_t n)
{
	volatile char buf[72];
	uint64_t r;

	buf[0] = (char)depth;
	r = depth > 1 ? deep_recurse(depth - 1, n) : deep_leaf(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

FRAME uint64_t shallow_leaf(uint64_t n)
{
	return unw_burn(n, n);
}

static int alternate;

FRAME uint64_t deep_loop(unsigned depth, uint64_t end)
{
	volatile char buf[8];
	uint64_t r = 0;

	buf[0] = 0;
	while (unw_now_ns() < end) {
		r += deep_recurse(depth, 1000000);
		if (alternate)
			r += shallow_leaf(1000000);
	}
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

struct deep_args {
	unsigned depth;
	uint64_t end;
	uintptr_t top; /* an address in the outermost frame of the recursion's thread */
};

FRAME void *thread_main(void *arg)
{
	struct deep_args *a = arg;
	char here;

	a->top = (uintptr_t)&here;
	sink += deep_loop(a->depth, a->end);
	NO_TAIL();
	return NULL;
}

int main(int argc, char **argv)
{
	struct deep_args a = {.end = unw_deadline(argc, argv)};
	pthread_t t;
	int err;
	char here;

	a.depth = argc > 2 ? (unsigned)atoi(argv[2]) : 2500;
	a.top = (uintptr_t)&here;
	if (a.depth < 1)
		a.depth = 1;
	sink += deep_recurse(1, 1);
	alternate = argc > 3 && !strcmp(argv[3], "thread-alt");
	if (argc > 3 && (alternate || !strcmp(argv[3], "thread"))) {
		err = pthread_create(&t, NULL, thread_main, &a);
		if (err) {
			fprintf(stderr, "cap_deep: cannot create a thread: %s\n", strerror(err));
			return 1;
		}
		pthread_join(t, NULL);
	} else {
		sink += deep_loop(a.depth, a.end);
	}
	printf("stack from the leaf to %s: %lu bytes\n", argc > 3 ? "thread_main" : "main",
	       (unsigned long)(a.top - leaf_sp));
	return 0;
}
