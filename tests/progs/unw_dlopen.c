// SPDX-License-Identifier: MIT
/*
 * A dlopen'ed library: main -> dl_caller -> dllib_entry -> dllib_mid ->
 * dllib_leaf, the last three in libunw_dllib.so, opened with dlopen() after
 * the process started (its mapping appears mid-recording).
 *
 * usage: unw_dlopen [SECONDS] [LIBRARY]   (default: libunw_dllib.so next to
 * the program) prints the chain.
 */
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "unw_common.h"

static volatile uint64_t sink;

FRAME uint64_t dl_caller(uint64_t (*fn)(uint64_t), uint64_t n)
{
	volatile char buf[32];
	uint64_t r;

	buf[0] = 1;
	r = fn(n);
	NO_TAIL();
	return r + (uint64_t)buf[0];
}

int main(int argc, char **argv)
{
	uint64_t end = unw_deadline(argc, argv);
	char path[PATH_MAX];
	uint64_t (*fn)(uint64_t);
	void *h;

	if (argc > 2) {
		snprintf(path, sizeof(path), "%s", argv[2]);
	} else {
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
		char *slash;

		if (n < 0) {
			perror("unw_dlopen: /proc/self/exe");
			return 1;
		}
		path[n] = 0;
		slash = strrchr(path, '/');
		strcpy(slash ? slash + 1 : path, "libunw_dllib.so");
	}
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "unw_dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&fn = dlsym(h, "dllib_entry");
	if (!fn) {
		fprintf(stderr, "unw_dlopen: %s\n", dlerror());
		return 1;
	}
	printf("chain: main;dl_caller;dllib_entry;dllib_mid;dllib_leaf (%s)\n", path);
	fflush(stdout);
	while (unw_now_ns() < end)
		sink += dl_caller(fn, 1000000);
	return 0;
}
