// SPDX-License-Identifier: MIT
/*
 * Test-only reader for the end-to-end tests: reads a recording through
 * xp_recording_read(), replays its mapping events the way a consumer must
 * (a fork copies the parent's mappings, an exec drops them, a later mmap
 * replaces what it overlaps) and prints one line per sample:
 *   S pid tid flags=F map=PATH bid=HEX seg0=START+LEN seg1=START+LEN
 *     markers=N mind=D maxd=D order=ok|bad word=VALUE|- alt=0|1 s2=0|1 s2sp=DECIMAL known=0|1
 * markers are rec_common.h's REC_MARKER|depth values found in the first
 * segment; order says whether deeper frames sit at lower addresses. word is
 * the 8 bytes at -w ADDR if a segment holds that address; alt says the
 * sample was on a sigaltstack, s2 that it has a second segment (at s2sp);
 * known=0 that the recording holds no mapping at all of the sample's process.
 *   rec_check [-w ADDR] FILE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recording/recording.h"
#include "rec_common.h"

struct map {
	uint32_t pid;
	uint64_t start, end;
	char *path;
	char bid[2 * XP_BUILD_ID_MAX + 1];
};

struct state {
	struct map *m;
	size_t n, cap;
	uint64_t word_addr;
};

static void drop(struct state *st, size_t i)
{
	free(st->m[i].path);
	st->m[i] = st->m[--st->n];
}

static int add(struct state *st, uint32_t pid, uint64_t start, uint64_t end, const char *path,
	       const char *bid)
{
	if (st->n == st->cap) {
		size_t nc = st->cap ? 2 * st->cap : 256;
		struct map *nm = realloc(st->m, nc * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		st->m = nm;
		st->cap = nc;
	}
	st->m[st->n] = (struct map){.pid = pid, .start = start, .end = end, .path = strdup(path)};
	if (!st->m[st->n].path)
		return -ENOMEM;
	snprintf(st->m[st->n].bid, sizeof(st->m[st->n].bid), "%s", bid);
	st->n++;
	return 0;
}

static int on_event(void *ctx, const struct xp_event *ev)
{
	struct state *st = ctx;

	switch (ev->type) {
	case XP_EV_MMAP: {
		char bid[2 * XP_BUILD_ID_MAX + 1] = "-";
		uint64_t s = ev->mmap.start, e = s + ev->mmap.len;

		for (uint32_t i = 0; i < ev->mmap.build_id_len; i++)
			sprintf(bid + 2 * i, "%02x", ev->mmap.build_id[i]);
		for (size_t i = 0; i < st->n;) {
			if (st->m[i].pid == ev->mmap.pid && st->m[i].start < e && s < st->m[i].end)
				drop(st, i);
			else
				i++;
		}
		return add(st, ev->mmap.pid, s, e, ev->mmap.path, bid);
	}
	case XP_EV_COMM:
		if (!ev->comm.exec)
			return 0;
		for (size_t i = 0; i < st->n;) {
			if (st->m[i].pid == ev->comm.pid)
				drop(st, i);
			else
				i++;
		}
		return 0;
	case XP_EV_FORK:
		if (ev->task.pid == ev->task.ppid)
			return 0;
		for (size_t i = 0, n = st->n; i < n; i++)
			if (st->m[i].pid == ev->task.ppid) {
				struct map m = st->m[i];
				int err = add(st, ev->task.pid, m.start, m.end, m.path, m.bid);

				if (err)
					return err;
			}
		return 0;
	case XP_EV_SAMPLE: {
		const struct xp_ev_sample *s = &ev->sample;
		uint64_t ip = s->regs[16];
		const struct map *hit = NULL;
		bool known = false;
		int nmark = 0, mind = 1000, maxd = -1, last = 1000;
		bool ok = true;
		char word[32] = "-";

		for (size_t i = 0; i < st->n; i++) {
			known |= st->m[i].pid == s->pid;
			if (st->m[i].pid == s->pid && ip >= st->m[i].start && ip < st->m[i].end)
				hit = &st->m[i];
		}
		for (uint32_t k = 0; s->nsegs && k + 8 <= s->segs[0].len; k += 8) {
			uint64_t w;

			memcpy(&w, s->segs[0].data + k, 8);
			if ((w & ~0xffull) != REC_MARKER)
				continue;
			nmark++;
			mind = (int)(w & 0xff) < mind ? (int)(w & 0xff) : mind;
			maxd = (int)(w & 0xff) > maxd ? (int)(w & 0xff) : maxd;
			if ((int)(w & 0xff) >= last)
				ok = false;
			last = w & 0xff;
		}
		for (uint32_t i = 0; i < s->nsegs && st->word_addr; i++) {
			uint64_t a = st->word_addr;

			if (a >= s->segs[i].start && a + 8 <= s->segs[i].start + s->segs[i].len) {
				uint64_t w;

				memcpy(&w, s->segs[i].data + (a - s->segs[i].start), 8);
				snprintf(word, sizeof(word), "%#" PRIx64, w);
			}
		}
		printf("S %u %u flags=%#x map=%s bid=%s seg0=%#" PRIx64 "+%u seg1=%#" PRIx64
		       "+%u markers=%d mind=%d maxd=%d order=%s word=%s alt=%d s2=%d s2sp=%" PRIu64
		       " known=%d\n",
		       s->pid, s->tid, s->flags, hit ? hit->path : "?", hit ? hit->bid : "-",
		       s->nsegs > 0 ? s->segs[0].start : 0, s->nsegs > 0 ? s->segs[0].len : 0,
		       s->nsegs > 1 ? s->segs[1].start : 0, s->nsegs > 1 ? s->segs[1].len : 0,
		       nmark, nmark ? mind : -1, maxd, ok ? "ok" : "bad", word, !!(s->flags & 4),
		       s->nsegs > 1, s->nsegs > 1 ? s->segs[1].start : 0, known);
		return 0;
	}
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	struct state st = {0};
	struct xp_rec_info info;
	const char *why = NULL;
	int opt, err;

	while ((opt = getopt(argc, argv, "w:")) != -1) {
		if (opt != 'w')
			return 2;
		st.word_addr = strtoull(optarg, NULL, 0);
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: rec_check [-w ADDR] FILE\n");
		return 2;
	}
	err = xp_recording_read(argv[optind], on_event, &st, &info, &why);
	if (err) {
		fprintf(stderr, "rec_check: %s: %s\n", argv[optind], why ? why : strerror(-err));
		return 1;
	}
	printf("T samples=%" PRIu64 " lost=%" PRIu64 " processes=%" PRIu64 "\n", info.samples,
	       info.lost, info.processes);
	while (st.n)
		drop(&st, 0);
	free(st.m);
	return 0;
}
