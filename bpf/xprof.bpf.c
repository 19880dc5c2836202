// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sampler: placeholder program until the recording issue lands. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/sample.h"

SEC("perf_event")
int xp_sample(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
