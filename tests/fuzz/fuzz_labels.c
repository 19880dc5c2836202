// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the cgroup label parser (agent/labels.c): any bytes of a
 * /proc/PID/cgroup file are refused or give labels that are NUL-ended
 * inside their arrays, a container id of 12 or 64 lowercase hex digits, a
 * pod uid of hex and dashes, and a service of printable characters. The
 * input is copied to a buffer of exactly its size, so ASan catches any
 * read past the given length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_labels: %s\n", what);
		abort();
	}
}

static size_t bounded(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	check(n < cap, "label not NUL-ended inside its array");
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct ag_labels l;
	size_t n;

	check(buf != NULL, "malloc");
	memcpy(buf, data, size);
	if (ag_labels_parse_cgroup(buf, size, &l) == 0) {
		n = bounded(l.container, sizeof(l.container));
		check(n == 0 || n == 12 || n == 64, "container id length");
		for (size_t i = 0; i < n; i++)
			check((l.container[i] >= '0' && l.container[i] <= '9') ||
				  (l.container[i] >= 'a' && l.container[i] <= 'f'),
			      "container id not hex");
		bounded(l.runtime, sizeof(l.runtime));
		n = bounded(l.pod, sizeof(l.pod));
		for (size_t i = 0; i < n; i++)
			check(strchr("0123456789abcdef-", l.pod[i]) != NULL, "pod uid character");
		n = bounded(l.service, sizeof(l.service));
		for (size_t i = 0; i < n; i++)
			check(l.service[i] > ' ' && l.service[i] < 0x7f, "service character");
	}
	free(buf);
	return 0;
}
