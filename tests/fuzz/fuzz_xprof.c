// SPDX-License-Identifier: MIT
/*
 * Fuzz the .xprof reader: any bytes must give 0 (a damaged record only ends
 * the read, reported as the skipped tail) or -EINVAL with a reason, never a
 * crash, an out-of-bounds read or a leak. The callback touches every
 * byte an event points to, so a length the reader let through that reaches
 * past the input shows up under ASan.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recording/xprof_file.h"

static int touch(void *ctx, const struct xp_event *ev)
{
	volatile uint64_t *sum = ctx;

	switch (ev->type) {
	case XP_EV_SAMPLE:
		for (uint32_t i = 0; i < ev->sample.nsegs; i++)
			for (uint32_t k = 0; k < ev->sample.segs[i].len; k++)
				*sum += ev->sample.segs[i].data[k];
		for (uint32_t k = 0; k < ev->sample.nkstack; k++)
			*sum += ev->sample.kstack[k];
		break;
	case XP_EV_MMAP:
		*sum += strlen(ev->mmap.path);
		break;
	case XP_EV_VDSO:
		for (uint32_t k = 0; k < ev->vdso.len; k++)
			*sum += ev->vdso.image[k];
		break;
	default:
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The reader wants 8-byte alignment, as an mmap'ed file has; exact size so ASan sees
	 * overruns. */
	uint8_t *buf = malloc(size ? size : 1);
	struct xp_rec_info info;
	const char *why = NULL;
	uint64_t sum = 0;
	int err;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	err = xpf_read_mem(buf, size, touch, &sum, &info, &why, NULL);
	if (err && (err != -EINVAL || !why) && err != -ENOMEM)
		abort();
	/* A bad or cut record ends the read: what is skipped runs from a record to the end. */
	if (!err && info.skip_bytes &&
	    (info.skip_offset < XPF_HEADER_SIZE || info.skip_offset + info.skip_bytes != size))
		abort();
	free(buf);
	return 0;
}
