// SPDX-License-Identifier: MIT
/*
 * perf_event records the recorder's side band and perf.data files share:
 * PERF_RECORD_MMAP2, decoded once (layout in linux/perf_event.h).
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>

#include "lib/lib.h"

/* The fixed part of an MMAP2 body; the file name follows, then the sample_id trailer. */
struct mmap2_body {
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	union {
		struct {
			uint32_t maj, min;
			uint64_t ino, ino_generation;
		};
		struct {
			uint8_t build_id_size, r1;
			uint16_t r2;
			uint8_t build_id[20];
		};
	};
	uint32_t prot, flags;
};
_Static_assert(sizeof(struct mmap2_body) == 64, "PERF_RECORD_MMAP2 body layout");

int xl_perf_mmap2(const void *rec, size_t size, size_t trailer, bool build_id, struct xl_mmap2 *m)
{
	const uint8_t *p = rec;
	struct perf_event_header h;
	struct mmap2_body b;
	size_t room, plen;

	if (size < sizeof(h) + sizeof(b) + trailer)
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	memcpy(&b, p + sizeof(h), sizeof(b));
	room = size - sizeof(h) - sizeof(b) - trailer;
	plen = strnlen((const char *)p + sizeof(h) + sizeof(b), room);
	if (plen == room)
		return -EINVAL; /* the file name is not terminated */
	memset(m, 0, sizeof(*m));
	m->pid = b.pid;
	m->tid = b.tid;
	m->addr = b.addr;
	m->len = b.len;
	m->pgoff = b.pgoff;
	m->prot = b.prot;
	m->flags = b.flags;
	m->path = (const char *)p + sizeof(h) + sizeof(b);
	/*
	 * The id block is a build-id only with the misc flag, and only the caller
	 * knows whether its event asked for one (kernels leave the flag set on
	 * records of events that did not, over maj/min/ino). Size 0: the kernel
	 * could not read it.
	 */
	if (build_id && (h.misc & PERF_RECORD_MISC_MMAP_BUILD_ID) && b.build_id_size &&
	    b.build_id_size <= sizeof(m->build_id)) {
		m->build_id_len = b.build_id_size;
		memcpy(m->build_id, b.build_id, b.build_id_size);
	}
	return 0;
}
