// SPDX-License-Identifier: MIT
/*
 * xprof info FILE: a recording's settings and counts, one `key: value` per
 * line, for people and scripts. "stack bytes" is what the samples carry and,
 * in parentheses, what the file stores of it (an .xprof v2 stores a stack's
 * unchanged top only once per thread). --dump also prints every event, one line
 * each (samples with their registers, stack segments and the first stack
 * words), which the end-to-end tests use to check what the sampler copied.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "bpf/sample.h"
#include "profiler/profiler_int.h"

struct dump {
	unsigned words; /* stack words printed per segment */
};

static void print_hex(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int dump_event(void *ctx, const struct xp_event *ev)
{
	const struct dump *d = ctx;

	switch (ev->type) {
	case XP_EV_SAMPLE: {
		const struct xp_ev_sample *s = &ev->sample;

		printf("sample time=%" PRIu64 " pid=%u tid=%u cpu=%u flags=%#x ip=%#" PRIx64
		       " sp=%#" PRIx64 " bp=%#" PRIx64 " nkstack=%u",
		       s->time_ns, s->pid, s->tid, s->cpu, s->flags, s->regs[XP_REG_IP],
		       s->regs[XP_REG_SP], s->regs[XP_REG_BP], s->nkstack);
		for (uint32_t i = 0; i < s->nsegs; i++) {
			uint32_t n = s->segs[i].len / 8;

			printf(" seg%u=%#" PRIx64 "+%u", i, s->segs[i].start, s->segs[i].len);
			if (i == 0 && s->stack_shared)
				printf(" stack_shared=%u", s->stack_shared);
			if (d->words && n > d->words)
				n = d->words;
			if (!d->words)
				continue;
			printf(" words%u=", i);
			for (uint32_t k = 0; k < n; k++) {
				uint64_t w;

				memcpy(&w, s->segs[i].data + 8 * k, 8);
				printf("%s%" PRIx64, k ? "," : "", w);
			}
		}
		printf("\n");
		break;
	}
	case XP_EV_MMAP:
		printf("mmap time=%" PRIu64 " pid=%u tid=%u start=%#" PRIx64 " len=%#" PRIx64
		       " pgoff=%#" PRIx64 " prot=%#x build_id=",
		       ev->mmap.time_ns, ev->mmap.pid, ev->mmap.tid, ev->mmap.start, ev->mmap.len,
		       ev->mmap.pgoff, ev->mmap.prot);
		print_hex(ev->mmap.build_id, ev->mmap.build_id_len);
		printf(" path=%s\n", ev->mmap.path);
		break;
	case XP_EV_COMM:
		printf("comm time=%" PRIu64 " pid=%u tid=%u exec=%d comm=%s\n", ev->comm.time_ns,
		       ev->comm.pid, ev->comm.tid, ev->comm.exec, ev->comm.comm);
		break;
	case XP_EV_FORK:
	case XP_EV_EXIT:
		printf("%s time=%" PRIu64 " pid=%u tid=%u ppid=%u ptid=%u\n",
		       ev->type == XP_EV_FORK ? "fork" : "exit", ev->task.time_ns, ev->task.pid,
		       ev->task.tid, ev->task.ppid, ev->task.ptid);
		break;
	case XP_EV_VDSO:
		printf("vdso start=%#" PRIx64 " len=%u elf=%d\n", ev->vdso.start, ev->vdso.len,
		       ev->vdso.len >= 4 && !memcmp(ev->vdso.image, "\177ELF", 4));
		break;
	case XP_EV_LOST:
		printf("lost time=%" PRIu64 " count=%" PRIu64 "\n", ev->lost.time_ns,
		       ev->lost.count);
		break;
	case XP_EV_UID:
		printf("uid time=%" PRIu64 " pid=%u uid=%u\n", ev->uid.time_ns, ev->uid.pid,
		       ev->uid.uid);
		break;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xprof info [--dump[=WORDS]] FILE\n"
		"  prints a recording's settings and counts, one 'key: value' per line\n"
		"  --dump[=WORDS]  also print every event (and WORDS stack words per segment)\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"dump", optional_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dump d = {0};
	struct xp_rec_info info;
	bool dump = false;
	const char *why = NULL;
	char skipped[512];
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'D':
			dump = true;
			d.words = optarg ? (unsigned)strtoul(optarg, NULL, 10) : 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	err = xp_recording_read(argv[optind], dump ? dump_event : NULL, &d, &info, &why);
	if (err) {
		if (why)
			fprintf(stderr, "xprof: cannot read '%s': %s\n", argv[optind], why);
		else
			fprintf(stderr, "xprof: cannot read '%s': %s\n", argv[optind],
				strerror(-err));
		return 1;
	}
	if (xp_rec_info_skipped(&info, argv[optind], skipped, sizeof(skipped)))
		fprintf(stderr, "xprof: %s\n", skipped);
	printf("file: %s\n", argv[optind]);
	printf("version: %u\n", info.version);
	printf("event: %s\n", info.event);
	printf("frequency: %u\n", info.frequency);
	printf("stack size: %u\n", info.stack_size);
	printf("target: %s\n", info.target);
	printf("system wide: %s\n", info.flags & XP_REC_F_SYSTEM_WIDE ? "yes" : "no");
	printf("kernel stacks: %s\n", info.flags & XP_REC_F_KERNEL_STACK ? "yes" : "no");
	if (info.skip_why)
		printf("complete: no (corrupt record at offset %" PRIu64 ", %" PRIu64
		       " bytes skipped)\n",
		       info.skip_offset, info.skip_bytes);
	else if (info.end_time_ns)
		printf("complete: yes\n");
	else if (info.flags & XP_REC_F_WRITE_ERROR)
		printf("complete: no (truncated: writing stopped: %s)\n",
		       info.write_errno == ENOSPC ? "no space left on device"
						  : strerror((int)info.write_errno));
	else
		printf("complete: no (truncated: record was killed)\n");
	if (info.end_time_ns && info.end_time_ns >= info.start_time_ns)
		printf("duration: %.3f s\n", (info.end_time_ns - info.start_time_ns) / 1e9);
	printf("samples: %" PRIu64 "\n", info.samples);
	printf("lost: %" PRIu64 "\n", info.lost);
	printf("processes: %" PRIu64 "\n", info.processes);
	printf("mappings: %" PRIu64 "\n", info.mappings);
	/* The logical count first, so scripts that read the number keep working. */
	printf("stack bytes: %" PRIu64 " (%" PRIu64 " stored)\n", info.stack_bytes,
	       info.stack_stored);
	return 0;
}
