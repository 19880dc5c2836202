// SPDX-License-Identifier: MIT
/*
 * perf_dump: print what xprof's perf.data reader yields, one line per event,
 * then the recording's info. A debugging aid and the probe the perf.data
 * tests compare with `perf script`:
 *   perf_dump [-s] FILE     (-s: the summary only)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/types.h>

#include "bpf/sample.h"
#include "recording/recording_int.h"

struct dump {
	bool summary_only;
	uint64_t n[XP_EV_LOST + 1];
};

static void hex(const uint8_t *p, uint32_t n)
{
	if (!n)
		putchar('-');
	for (uint32_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int on_event(void *ctx, const struct xp_event *ev)
{
	struct dump *d = ctx;

	d->n[ev->type]++;
	if (d->summary_only)
		return 0;
	switch (ev->type) {
	case XP_EV_SAMPLE: {
		const struct xp_ev_sample *s = &ev->sample;
		printf("sample %" PRIu64 " pid %u tid %u cpu %u flags %#x ip %#" PRIx64
		       " sp %#" PRIx64 " bp %#" PRIx64 " stack %u kstack %u period %" PRIu64 "\n",
		       s->time_ns, s->pid, s->tid, s->cpu, s->flags, s->regs[XP_REG_IP],
		       s->regs[XP_REG_SP], s->regs[XP_REG_BP], s->nsegs ? s->segs[0].len : 0,
		       s->nkstack, s->period_ns);
		break;
	}
	case XP_EV_MMAP: {
		const struct xp_ev_mmap *m = &ev->mmap;
		printf("mmap %" PRIu64 " pid %u %#" PRIx64 "-%#" PRIx64 " pgoff %#" PRIx64
		       " prot %u build-id ",
		       m->time_ns, m->pid, m->start, m->start + m->len, m->pgoff, m->prot);
		hex(m->build_id, m->build_id_len);
		printf(" %s\n", m->path);
		break;
	}
	case XP_EV_COMM:
		printf("comm %" PRIu64 " pid %u tid %u%s %s\n", ev->comm.time_ns, ev->comm.pid,
		       ev->comm.tid, ev->comm.exec ? " exec" : "", ev->comm.comm);
		break;
	case XP_EV_FORK:
	case XP_EV_EXIT:
		printf("%s %" PRIu64 " pid %u tid %u ppid %u ptid %u\n",
		       ev->type == XP_EV_FORK ? "fork" : "exit", ev->task.time_ns, ev->task.pid,
		       ev->task.tid, ev->task.ppid, ev->task.ptid);
		break;
	case XP_EV_VDSO:
		printf("vdso %#" PRIx64 " %u bytes\n", ev->vdso.start, ev->vdso.len);
		break;
	case XP_EV_LOST:
		printf("lost %" PRIu64 " %" PRIu64 "\n", ev->lost.time_ns, ev->lost.count);
		break;
	case XP_EV_UID:
		printf("uid %" PRIu64 " %u %u\n", ev->uid.time_ns, ev->uid.pid, ev->uid.uid);
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct dump d = {0};
	struct xp_rec_info info;
	const char *why = NULL;
	int err;

	if (argc > 1 && !strcmp(argv[1], "-s")) {
		d.summary_only = true;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: perf_dump [-s] FILE\n");
		return 2;
	}
	err = xp_perfdata_read(argv[1], on_event, &d, &info, &why);
	if (err) {
		fprintf(stderr, "perf_dump: cannot read '%s': %s\n", argv[1],
			why ? why : strerror(-err));
		return 1;
	}
	printf("info event %s frequency %u stack_size %u target '%s' samples %" PRIu64
	       " lost %" PRIu64 " processes %" PRIu64 " mappings %" PRIu64 " stack_bytes %" PRIu64
	       " start %" PRIu64 " end %" PRIu64 "\n",
	       info.event, info.frequency, info.stack_size, info.target, info.samples, info.lost,
	       info.processes, info.mappings, info.stack_bytes, info.start_time_ns,
	       info.end_time_ns);
	printf("events sample %" PRIu64 " mmap %" PRIu64 " comm %" PRIu64 " fork %" PRIu64
	       " exit %" PRIu64 " vdso %" PRIu64 " lost %" PRIu64 "\n",
	       d.n[XP_EV_SAMPLE], d.n[XP_EV_MMAP], d.n[XP_EV_COMM], d.n[XP_EV_FORK],
	       d.n[XP_EV_EXIT], d.n[XP_EV_VDSO], d.n[XP_EV_LOST]);
	return 0;
}
