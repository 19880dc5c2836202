// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the perf.data reader: the input becomes a file (a
 * memfd, so the reader maps it exactly as it maps a real perf.data) and every
 * yielded event's memory is touched, so ASan sees any read past what the file
 * holds. The reader must return 0 or -EINVAL with a reason, never crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/types.h>

#include "bpf/sample.h"
#include "recording/recording_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(void *ctx, const struct xp_event *ev)
{
	uint64_t *sum = ctx;

	switch (ev->type) {
	case XP_EV_SAMPLE:
		for (uint32_t i = 0; i < ev->sample.nsegs; i++)
			for (uint32_t j = 0; j < ev->sample.segs[i].len; j++)
				*sum += ev->sample.segs[i].data[j];
		for (uint32_t i = 0; i < ev->sample.nkstack; i++)
			*sum += ev->sample.kstack[i];
		for (uint32_t i = 0; i < ev->sample.nuser; i++)
			*sum += ev->sample.ustack[i];
		break;
	case XP_EV_MMAP:
		*sum += strlen(ev->mmap.path);
		break;
	case XP_EV_VDSO:
		for (uint32_t j = 0; j < ev->vdso.len; j++)
			*sum += ev->vdso.image[j];
		break;
	default:
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct xp_rec_info info;
	const char *why = NULL;
	uint64_t sum = 0;
	int err;

	if (fd < 0) {
		fd = memfd_create("fuzz_perfdata", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* Odd sizes read without info: the reader must not need it. */
	err = xp_perfdata_read(path, touch, &sum, size % 2 ? NULL : &info, &why);
	if (err && err != -EINVAL && err != -ENOMEM)
		abort();
	if (err == -EINVAL && (!why || !*why))
		abort(); /* every refusal says why */
	/* a damaged record ends the read with the skipped part inside the file */
	if (!err && size % 2 == 0 && info.skip_bytes &&
	    (info.skip_offset > size || info.skip_bytes > size - info.skip_offset))
		abort();
	return 0;
}
