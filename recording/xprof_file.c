// SPDX-License-Identifier: MIT
/*
 * The .xprof format's encoder, writer and in-memory reader (layout in
 * xprof_file.h, prose in docs/FORMAT.md). The writer streams records through
 * a large stdio buffer that the recorder flushes periodically, so a killed
 * record leaves a readable prefix. The reader trusts nothing: every size is
 * checked against the bytes that remain before anything is dereferenced, and
 * records are copied into aligned locals with memcpy.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#include "bpf/sample.h"
#include "lib/lib.h"
#include "recording/xprof_file.h"

_Static_assert(sizeof(struct xpf_header) == XPF_HEADER_SIZE, "xpf_header size");
_Static_assert(sizeof(struct xpf_sample) == XPF_SAMPLE_SIZE, "xpf_sample size");
_Static_assert(sizeof(struct xpf_mmap) == XPF_MMAP_SIZE, "xpf_mmap size");
_Static_assert(sizeof(struct xpf_comm) == XPF_COMM_SIZE, "xpf_comm size");
_Static_assert(sizeof(struct xpf_task) == XPF_TASK_SIZE, "xpf_task size");
_Static_assert(sizeof(struct xpf_vdso) == XPF_VDSO_SIZE, "xpf_vdso size");
_Static_assert(sizeof(struct xpf_lost) == XPF_LOST_SIZE, "xpf_lost size");
_Static_assert(sizeof(struct xpf_end) == XPF_END_SIZE, "xpf_end size");
_Static_assert(sizeof(struct xpf_uid) == XPF_UID_SIZE, "xpf_uid size");

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put_tail(uint8_t *p, size_t *at, const void *src, size_t len)
{
	if (len)
		memcpy(p + *at, src, len);
	*at += len;
}

size_t xpf_encode(const struct xp_event *ev, void *buf, size_t cap)
{
	uint8_t *p = buf;
	size_t need, at;

	switch (ev->type) {
	case XP_EV_SAMPLE: {
		const struct xp_ev_sample *s = &ev->sample;
		struct xpf_sample r = {0};
		uint32_t l1 = s->nsegs > 0 ? s->segs[0].len : 0;
		uint32_t l2 = s->nsegs > 1 ? s->segs[1].len : 0;

		need = pad8(sizeof(r) + 8 * (size_t)s->nkstack + l1 + l2);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_SAMPLE;
		r.hdr.size = need;
		r.time_ns = s->time_ns;
		memcpy(r.regs, s->regs, sizeof(r.regs));
		r.stack2_sp = l2 ? s->segs[1].start : 0;
		r.pid = s->pid;
		r.tid = s->tid;
		r.cpu = s->cpu;
		r.flags = s->flags;
		r.stack_len = l1;
		r.stack2_len = l2;
		r.nkstack = s->nkstack;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		put_tail(p, &at, s->kstack, 8 * (size_t)s->nkstack);
		put_tail(p, &at, l1 ? s->segs[0].data : NULL, l1);
		put_tail(p, &at, l2 ? s->segs[1].data : NULL, l2);
		break;
	}
	case XP_EV_MMAP: {
		const struct xp_ev_mmap *m = &ev->mmap;
		struct xpf_mmap r = {0};
		size_t plen = strlen(m->path ? m->path : "") + 1;

		need = pad8(sizeof(r) + plen);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_MMAP;
		r.hdr.size = need;
		r.time_ns = m->time_ns;
		r.start = m->start;
		r.len = m->len;
		r.pgoff = m->pgoff;
		r.pid = m->pid;
		r.tid = m->tid;
		r.prot = m->prot;
		r.build_id_len =
		    m->build_id_len > XP_BUILD_ID_MAX ? XP_BUILD_ID_MAX : m->build_id_len;
		memcpy(r.build_id, m->build_id, r.build_id_len);
		r.path_len = plen;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		put_tail(p, &at, m->path ? m->path : "", plen);
		break;
	}
	case XP_EV_COMM: {
		struct xpf_comm r = {0};

		need = sizeof(r);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_COMM;
		r.hdr.size = need;
		r.time_ns = ev->comm.time_ns;
		r.pid = ev->comm.pid;
		r.tid = ev->comm.tid;
		r.exec = ev->comm.exec;
		memcpy(r.comm, ev->comm.comm, sizeof(r.comm));
		r.comm[sizeof(r.comm) - 1] = 0;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		break;
	}
	case XP_EV_FORK:
	case XP_EV_EXIT: {
		struct xpf_task r = {0};

		need = sizeof(r);
		if (need > cap)
			return need;
		r.hdr.type = ev->type == XP_EV_FORK ? XPF_REC_FORK : XPF_REC_EXIT;
		r.hdr.size = need;
		r.time_ns = ev->task.time_ns;
		r.pid = ev->task.pid;
		r.tid = ev->task.tid;
		r.ppid = ev->task.ppid;
		r.ptid = ev->task.ptid;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		break;
	}
	case XP_EV_VDSO: {
		struct xpf_vdso r = {0};

		need = pad8(sizeof(r) + ev->vdso.len);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_VDSO;
		r.hdr.size = need;
		r.start = ev->vdso.start;
		r.len = ev->vdso.len;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		put_tail(p, &at, ev->vdso.image, ev->vdso.len);
		break;
	}
	case XP_EV_UID: {
		struct xpf_uid r = {0};

		need = sizeof(r);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_UID;
		r.hdr.size = need;
		r.time_ns = ev->uid.time_ns;
		r.pid = ev->uid.pid;
		r.uid = ev->uid.uid;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		break;
	}
	case XP_EV_LOST: {
		struct xpf_lost r = {0};

		need = sizeof(r);
		if (need > cap)
			return need;
		r.hdr.type = XPF_REC_LOST;
		r.hdr.size = need;
		r.time_ns = ev->lost.time_ns;
		r.count = ev->lost.count;
		at = 0;
		put_tail(p, &at, &r, sizeof(r));
		break;
	}
	default:
		return 0;
	}
	memset(p + at, 0, need - at);
	return need;
}

/*
 * The writer's memory of a thread's last segment 1, for stack sharing. The
 * bytes sit top-aligned in buf (cap bytes): address a is at
 * buf + cap - (top - a), so a stack that keeps its top (the common case: the
 * same thread, its outer frames still there) keeps its offsets and only its
 * changed low part is copied. Buffers grow with the stacks they hold, so
 * many threads with small stacks and a few with deep ones both fit.
 */
struct xpf_wstack {
	uint64_t top;  /* segment 1 was [top - len, top) */
	uint64_t used; /* w->clock at its last sample; 0: the slot is free */
	uint32_t tid, len;
	uint32_t cap; /* bytes of buf */
	uint8_t *buf; /* allocated when the slot first holds bytes */
};

/* Slots are grouped in sets of XPF_WAYS: a tid may sit in any way of its set, the least recently
 * used one is evicted. */
#define XPF_WAYS       8
#define XPF_SHARE_SETS 128 /* 1024 threads remembered */

struct xpf_writer {
	struct xl_out out; /* the file, locked for the writer's whole life */
	FILE *f;	   /* out's stdio stream */
	int err;	   /* the first write error (-errno); the file is marked with it */
	uint32_t hdr_flags;
	uint8_t *buf; /* encode scratch for xpf_writer_event() */
	size_t cap;
	uint64_t lost;
	bool failed;
	struct xpf_wstack *wst; /* XPF_SHARE_SETS * XPF_WAYS slots; NULL: no sharing */
	uint32_t nsets;		/* a power of two */
	uint32_t share_max;	/* the longest segment 1 that is remembered */
	uint64_t share_bytes;	/* the slots' buffers, at most XPF_SHARE_MEM */
	uint64_t clock;
	/* the holes of the last writer_share()'s shared range (version 3) */
	struct xpf_patches ph;
	struct xpf_patch patch[XPF_PATCH_MAX];
};

#define XPF_STDIO_BUF (1u << 20)

/* Sharing is on when the recording copies stacks (stack_size > 0). */
static int writer_share_init(struct xpf_writer *w, uint32_t stack_size)
{
	if (!stack_size)
		return 0;
	w->share_max = stack_size < XPF_SHARE_MEM ? pad8(stack_size) : XPF_SHARE_MEM;
	w->nsets = XPF_SHARE_SETS;
	w->wst = calloc((size_t)w->nsets * XPF_WAYS, sizeof(*w->wst));
	return w->wst ? 0 : -ENOMEM;
}

/* tid's slot, or (hit false) the slot to give it: a free one, else the least recently used. */
static struct xpf_wstack *writer_slot(struct xpf_writer *w, uint32_t tid, bool *hit)
{
	struct xpf_wstack *set, *victim;

	*hit = false;
	if (!w->wst)
		return NULL;
	set = w->wst + (size_t)((tid * 2654435761u) & (w->nsets - 1)) * XPF_WAYS;
	victim = set;
	for (int i = 0; i < XPF_WAYS; i++) {
		if (set[i].used && set[i].tid == tid) {
			*hit = true;
			return &set[i];
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	return victim;
}

/*
 * How many bytes below the common top end a and b agree, in whole 8-byte
 * words, looking at n bytes at most. Blocks of 1 KiB, then 64 bytes, then
 * words: the shared part is usually most of the stack, and libc's memcmp
 * goes through a large block several times faster than a word loop.
 */
static uint32_t common_top(const uint8_t *a_end, const uint8_t *b_end, uint64_t n)
{
	uint64_t k = 0;

	while (n - k >= 1024 && !memcmp(a_end - k - 1024, b_end - k - 1024, 1024))
		k += 1024;
	while (n - k >= 64 && !memcmp(a_end - k - 64, b_end - k - 64, 64))
		k += 64;
	while (n - k >= 8 && !memcmp(a_end - k - 8, b_end - k - 8, 8))
		k += 8;
	return k;
}

/*
 * Sample of tid with segment 1 = seg[0..len) at sp: returns how many of its
 * top bytes can be taken from the thread's previous segment 1 at the same
 * addresses (0 when it has none the writer remembers), with the words that
 * differ inside that range as patches (w->ph, w->patch), and remembers this
 * one instead.
 */
static uint32_t writer_share(struct xpf_writer *w, uint32_t tid, uint64_t sp, const uint8_t *seg,
			     uint32_t len)
{
	uint64_t top = sp + len;
	struct xpf_wstack *e;
	uint32_t shared = 0;
	bool hit, in_place;

	e = writer_slot(w, tid, &hit);
	if (!e)
		return 0;
	if (len > w->share_max || top < sp) {
		/* Too long to remember: the next sample of tid is written in full. */
		if (hit)
			e->used = 0;
		return 0;
	}
	/*
	 * Share only what the previous segment covers: top <= its top, down to
	 * max(sp, its sp). A run of differing words becomes a patch when equal
	 * words follow it; the range ends at a run that reaches the bottom, or
	 * when the patches run out.
	 */
	w->ph.npatch = w->ph.patch_bytes = 0;
	if (hit && len && e->len && top <= e->top && top > e->top - e->len) {
		uint64_t lo = sp > e->top - e->len ? sp : e->top - e->len, n = top - lo;
		const uint8_t *a = seg + len, *b = e->buf + e->cap - (e->top - top);
		uint32_t m;

		for (;;) {
			shared += common_top(a - shared, b - shared, n - shared);
			if (n - shared < 8 || w->ph.npatch == XPF_PATCH_MAX)
				break;
			for (m = 8; n - shared - m >= 8 &&
				    memcmp(a - shared - m - 8, b - shared - m - 8, 8);)
				m += 8;
			if (n - shared - m < 8)
				break; /* differs down to the bottom: stored anyway */
			w->patch[w->ph.npatch++] = (struct xpf_patch){.off = shared + m, .len = m};
			w->ph.patch_bytes += m;
			shared += m;
		}
	}
	/* The shared top bytes are already in place when the top is the same. */
	in_place = hit && top == e->top && e->cap >= len;
	if (len > e->cap) {
		/* Grow by a quarter at least, in 4 KiB steps, so a deepening stack rarely moves. */
		uint64_t want = (uint64_t)len + len / 4;
		uint32_t ncap =
		    (uint32_t)((want < w->share_max ? want : w->share_max) + 4095) & ~4095u;
		uint8_t *nb = NULL;

		if (ncap < len)
			ncap = len;
		if (w->share_bytes - e->cap + ncap <= XPF_SHARE_MEM)
			nb = malloc(ncap);
		if (!nb) {
			/* Over the budget or out of memory: forgotten, never referred to. */
			e->used = 0;
			return shared;
		}
		free(e->buf);
		w->share_bytes = w->share_bytes - e->cap + ncap;
		e->buf = nb;
		e->cap = ncap;
	}
	if (len)
		memcpy(e->buf + e->cap - len, seg, in_place ? len - shared : len);
	for (uint32_t i = 0; in_place && i < w->ph.npatch; i++)
		memcpy(e->buf + e->cap - w->patch[i].off, seg + len - w->patch[i].off,
		       w->patch[i].len);
	e->tid = tid;
	e->top = top;
	e->len = len;
	e->used = ++w->clock;
	return shared;
}

/* A thread's EXIT: the reader forgets its stack there, so the writer must too. */
static void writer_forget(struct xpf_writer *w, uint32_t tid)
{
	bool hit;
	struct xpf_wstack *e = writer_slot(w, tid, &hit);

	if (hit)
		e->used = 0;
}

struct xpf_writer *xpf_writer_open(const char *path, const struct xp_rec_info *info, uint32_t ncpus)
{
	struct xpf_header h = {0};
	struct xpf_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->out.fd = -1;
	err = writer_share_init(w, info->stack_size);
	if (err) {
		errno = -err;
		goto fail;
	}
	/*
	 * In place, not through a temporary name: a record killed by SIGKILL or
	 * a crash must leave its prefix at the path the user gave. The lock
	 * makes a second record to the same path fail at once (-EBUSY) instead
	 * of interleaving its records into this file.
	 */
	err = xl_out_open(&w->out, path, XL_OUT_STREAM | XL_OUT_SYNC, 0644);
	if (err) {
		errno = -err;
		goto fail;
	}
	w->f = xl_out_stdio(&w->out);
	if (!w->f)
		goto fail_unlink;
	setvbuf(w->f, NULL, _IOFBF, XPF_STDIO_BUF);
	memcpy(h.magic, XPF_MAGIC, XPF_MAGIC_LEN);
	h.version = XPF_VERSION;
	h.hdr_size = sizeof(h);
	h.start_time_ns = info->start_time_ns;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		h.start_real_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
		/* The capture's own reading, so that every .xprof output of a run is the same. */
		if (info->start_real_ns)
			h.start_real_ns = info->start_real_ns;
	}
	h.frequency = info->frequency;
	h.stack_size = info->stack_size;
	h.flags = info->flags;
	h.sample_version = XP_SAMPLE_VERSION;
	h.ncpus = ncpus;
	snprintf(h.event, sizeof(h.event), "%s", info->event);
	snprintf(h.target, sizeof(h.target), "%s", info->target);
	{
		FILE *k = fopen("/proc/sys/kernel/osrelease", "r");

		if (k) {
			if (fgets(h.kernel, sizeof(h.kernel), k))
				h.kernel[strcspn(h.kernel, "\n")] = 0;
			fclose(k);
		}
	}
	w->hdr_flags = h.flags;
	if (fwrite(&h, sizeof(h), 1, w->f) != 1 || fflush(w->f)) {
		if (!errno)
			errno = EIO;
		goto fail_unlink;
	}
	return w;
fail_unlink:
	/* Not even a header: no recording, and a 0-byte file would only mislead. */
	unlink(w->out.path);
fail:
	err = errno;
	xpf_writer_free(w);
	errno = err;
	return NULL;
}

/*
 * The first write error: remembered, and written into the header's flags
 * (XP_REC_F_WRITE_ERROR) and write_errno so that readers can tell a file cut
 * short by a full disk from one whose recorder was killed. Overwriting the
 * header needs no new blocks, so this works on a full disk too.
 */
static int writer_fail(struct xpf_writer *w, int err)
{
	uint32_t flags = w->hdr_flags | XP_REC_F_WRITE_ERROR, e = (uint32_t)-err;

	if (w->failed)
		return w->err;
	w->failed = true;
	w->err = err;
	ssize_t r = pwrite(w->out.fd, &flags, sizeof(flags), offsetof(struct xpf_header, flags));

	if (r == sizeof(flags))
		r = pwrite(w->out.fd, &e, sizeof(e), offsetof(struct xpf_header, write_errno));
	(void)r; /* if even this fails, the prefix reads as a killed record: nothing better to do */
	return err;
}

static int writer_put(struct xpf_writer *w, const void *p, size_t len)
{
	if (w->failed)
		return w->err;
	errno = 0;
	if (len && fwrite(p, len, 1, w->f) != 1)
		return writer_fail(w, errno ? -errno : -EIO);
	return 0;
}

/* One full SAMPLE record r (size bytes): written with its shared top bytes left out. */
static int writer_sample(struct xpf_writer *w, const uint8_t *r, size_t size)
{
	static const uint8_t zeros[8];
	struct xpf_sample s;
	const uint8_t *seg;
	size_t kbytes, body;
	uint32_t shared;
	int err;

	memcpy(&s, r, sizeof(s));
	kbytes = 8 * (size_t)s.nkstack;
	if (s.stack_shared || sizeof(s) + kbytes + s.stack_len + (size_t)s.stack2_len > size)
		return writer_put(w, r, size); /* not an xpf_encode record: pass it through */
	seg = r + sizeof(s) + kbytes;
	shared = writer_share(w, s.tid, s.regs[XP_REG_SP], seg, s.stack_len);
	if (!shared)
		return writer_put(w, r, size);
	/* kernel IPs, [patches,] the stored low part, segment 2 */
	body = kbytes + s.stack_len - shared + s.stack2_len;
	if (w->ph.npatch) {
		s.flags |= XPF_SAMPLE_F_PATCHES;
		body += sizeof(w->ph) + w->ph.npatch * sizeof(w->patch[0]) + w->ph.patch_bytes;
	}
	s.stack_shared = shared;
	s.hdr.size = pad8(sizeof(s) + body);
	err = writer_put(w, &s, sizeof(s));
	if (!err)
		err = writer_put(w, r + sizeof(s), kbytes);
	if (!err && w->ph.npatch) {
		err = writer_put(w, &w->ph, sizeof(w->ph));
		if (!err)
			err = writer_put(w, w->patch, w->ph.npatch * sizeof(w->patch[0]));
		for (uint32_t i = 0; !err && i < w->ph.npatch; i++)
			err = writer_put(w, seg + s.stack_len - w->patch[i].off, w->patch[i].len);
	}
	if (!err)
		err = writer_put(w, seg, s.stack_len - shared);
	if (!err)
		err = writer_put(w, seg + s.stack_len, s.stack2_len);
	if (!err)
		err = writer_put(w, zeros, s.hdr.size - (sizeof(s) + body));
	return err;
}

int xpf_writer_append(struct xpf_writer *w, const void *rec, size_t len)
{
	const uint8_t *p = rec;
	size_t at = 0;
	int err = 0;

	while (!err && len - at >= sizeof(struct xpf_rec)) {
		struct xpf_rec h;

		memcpy(&h, p + at, sizeof(h));
		if (h.size < sizeof(h) || h.size > len - at)
			break; /* not whole records: written as they are below */
		if (h.type == XPF_REC_SAMPLE && h.size >= sizeof(struct xpf_sample)) {
			err = writer_sample(w, p + at, h.size);
		} else {
			if (h.type == XPF_REC_EXIT && h.size >= sizeof(struct xpf_task)) {
				struct xpf_task t;

				memcpy(&t, p + at, sizeof(t));
				writer_forget(w, t.tid);
			}
			err = writer_put(w, p + at, h.size);
		}
		at += h.size;
	}
	if (!err && at < len)
		err = writer_put(w, p + at, len - at);
	return err;
}

int xpf_writer_event(struct xpf_writer *w, const struct xp_event *ev)
{
	size_t n = xpf_encode(ev, w->buf, w->cap);

	if (n > w->cap) {
		uint8_t *nb = realloc(w->buf, n);

		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = n;
		n = xpf_encode(ev, w->buf, w->cap);
	}
	if (!n)
		return 0;
	return xpf_writer_append(w, w->buf, n);
}

int xpf_writer_flush(struct xpf_writer *w)
{
	if (w->failed)
		return w->err;
	errno = 0;
	if (fflush(w->f))
		return writer_fail(w, errno ? -errno : -EIO);
	return 0;
}

int xpf_writer_close(struct xpf_writer *w, uint64_t end_time_ns, uint64_t samples, uint64_t lost,
		     uint64_t lost_sideband)
{
	struct xpf_end e = {0};
	int err;

	e.hdr.type = XPF_REC_END;
	e.hdr.size = sizeof(e);
	e.end_time_ns = end_time_ns;
	e.samples = samples;
	e.lost = lost;
	e.lost_sideband = lost_sideband;
	err = writer_put(w, &e, sizeof(e));
	if (!err)
		err = xpf_writer_flush(w);
	if (err) {
		xpf_writer_free(w);
		return err;
	}
	/* fsync: the recording is the one output that cannot be made again */
	err = xl_out_commit(&w->out);
	w->f = NULL;
	if (err)
		err = writer_fail(w, err);
	xpf_writer_free(w);
	return err;
}

void xpf_writer_free(struct xpf_writer *w)
{
	if (!w)
		return;
	/* a streamed file is kept: its prefix is readable */
	if (w->out.fd >= 0 || w->out.f)
		xl_out_abort(&w->out);
	for (size_t i = 0; w->wst && i < (size_t)w->nsets * XPF_WAYS; i++)
		free(w->wst[i].buf);
	free(w->wst);
	free(w->buf);
	free(w);
}

/* ---- reader ------------------------------------------------------------ */

/* Distinct pids of samples, for xp_rec_info.processes: open addressing, grown at half full. */
struct pidset {
	uint32_t *slot; /* 0 = empty; pid 0 never has samples */
	size_t cap, n;
};

static int pidset_add(struct pidset *ps, uint32_t pid)
{
	size_t i;

	if (!pid)
		return 0;
	if (2 * (ps->n + 1) > ps->cap) {
		size_t ncap = ps->cap ? 2 * ps->cap : 64;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t j = 0; j < ps->cap; j++) {
			if (!ps->slot[j])
				continue;
			for (i = (ps->slot[j] * 2654435761u) & (ncap - 1); ns[i];
			     i = (i + 1) & (ncap - 1))
				;
			ns[i] = ps->slot[j];
		}
		free(ps->slot);
		ps->slot = ns;
		ps->cap = ncap;
	}
	for (i = (pid * 2654435761u) & (ps->cap - 1); ps->slot[i]; i = (i + 1) & (ps->cap - 1))
		if (ps->slot[i] == pid)
			return 0;
	ps->slot[i] = pid;
	ps->n++;
	return 0;
}

/*
 * The reader's per-thread last segment 1, for version 2's shared stack
 * bytes: open addressing on tid (linear probing, grown at half full, removal
 * by backward shift so no tombstones pile up as threads come and go). Bytes
 * are top-aligned in buf as in the writer, so a sample with the same top
 * only copies its stored low part.
 */
struct tstack {
	uint64_t top; /* segment 1 was [top - len, top) */
	uint32_t tid, len, cap;
	bool used;
	uint8_t *buf; /* cap bytes */
};

struct tstacks {
	struct tstack *slot;
	size_t cap, n;	/* cap: a power of two, or 0 */
	uint8_t *spare; /* a buffer to build a segment in when its top moved */
	uint32_t spare_cap;
};

static size_t tstacks_home(const struct tstacks *t, uint32_t tid)
{
	return (tid * 2654435761u) & (t->cap - 1);
}

static struct tstack *tstacks_find(struct tstacks *t, uint32_t tid)
{
	if (!t->cap)
		return NULL;
	for (size_t i = tstacks_home(t, tid);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slot[i].used)
			return NULL;
		if (t->slot[i].tid == tid)
			return &t->slot[i];
	}
}

/* tid's entry, created empty if it has none. NULL: out of memory. */
static struct tstack *tstacks_get(struct tstacks *t, uint32_t tid)
{
	struct tstack *e = tstacks_find(t, tid);
	size_t i;

	if (e)
		return e;
	if (2 * (t->n + 1) > t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		struct tstack *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return NULL;
		for (size_t j = 0; j < t->cap; j++) {
			if (!t->slot[j].used)
				continue;
			for (i = (t->slot[j].tid * 2654435761u) & (ncap - 1); ns[i].used;
			     i = (i + 1) & (ncap - 1))
				;
			ns[i] = t->slot[j];
		}
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	for (i = tstacks_home(t, tid); t->slot[i].used; i = (i + 1) & (t->cap - 1))
		;
	t->slot[i] = (struct tstack){.tid = tid, .used = true};
	t->n++;
	return &t->slot[i];
}

/* The tid's EXIT: free its stack, and close the gap so later probes still find their entries. */
static void tstacks_drop(struct tstacks *t, uint32_t tid)
{
	struct tstack *e = tstacks_find(t, tid);
	size_t hole, i;

	if (!e)
		return;
	free(e->buf);
	hole = e - t->slot;
	t->slot[hole].used = false;
	t->n--;
	for (i = (hole + 1) & (t->cap - 1); t->slot[i].used; i = (i + 1) & (t->cap - 1)) {
		size_t home = tstacks_home(t, t->slot[i].tid);

		/* Move i into the hole unless its home lies cyclically in (hole, i]. */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			t->slot[hole] = t->slot[i];
			t->slot[i].used = false;
			hole = i;
		}
	}
}

static void tstacks_release(struct tstacks *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i].used)
			free(t->slot[i].buf);
	free(t->slot);
	free(t->spare);
}

/*
 * Buffers grow in 1 KiB steps, so a stack that deepens a little does not
 * reallocate every time, and thousands of threads with small stacks stay small.
 */
static uint32_t round_cap(uint32_t len)
{
	return len > UINT32_MAX - 1023 ? UINT32_MAX : (len + 1023) & ~1023u;
}

/*
 * Rebuild segment 1 of a SAMPLE of tid: len bytes at sp, of which the low
 * len - shared are stored at data and the top shared bytes come from the
 * thread's previous segment 1. Remembers the result and points *out to it.
 * 0, -ENOMEM, or -EINVAL with *why.
 */
static int tstacks_rebuild(struct tstacks *t, uint32_t tid, uint64_t sp, uint32_t len,
			   uint32_t shared, const uint8_t *data, const uint8_t **out,
			   const char **why)
{
	struct tstack *e = shared ? tstacks_find(t, tid) : tstacks_get(t, tid);
	uint64_t top = sp + len;
	uint32_t stored = len - shared;

	if (!e && !shared)
		return -ENOMEM;
	if (shared && (!e || !e->len)) {
		*why = "a sample shares stack bytes, but its thread has no previous stack";
		return -EINVAL;
	}
	if (top < sp) {
		if (shared)
			goto bad_range;
		/* Wraps the address space: nothing can share with it. */
		e->len = 0;
		*out = data;
		return 0;
	}
	if (shared && (top - shared < e->top - e->len || top > e->top))
		goto bad_range;
	if (shared && top == e->top && e->cap >= len) {
		/* The shared top bytes are already in place. */
		memcpy(e->buf + e->cap - len, data, stored);
	} else if (!shared) {
		if (e->cap < len) {
			uint32_t ncap = round_cap(len);
			uint8_t *nb = malloc(ncap);

			if (!nb)
				return -ENOMEM;
			free(e->buf);
			e->buf = nb;
			e->cap = ncap;
		}
		if (len)
			memcpy(e->buf + e->cap - len, data, len);
	} else {
		/* The top moved or the stack grew: build it in the spare buffer and swap. */
		uint8_t *sb;
		uint32_t scap;

		if (t->spare_cap < len) {
			uint32_t ncap = round_cap(len);
			uint8_t *nb = malloc(ncap);

			if (!nb)
				return -ENOMEM;
			free(t->spare);
			t->spare = nb;
			t->spare_cap = ncap;
		}
		memcpy(t->spare + t->spare_cap - shared,
		       e->buf + e->cap - (e->top - (top - shared)), shared);
		memcpy(t->spare + t->spare_cap - len, data, stored);
		sb = e->buf;
		scap = e->cap;
		e->buf = t->spare;
		e->cap = t->spare_cap;
		t->spare = sb;
		t->spare_cap = scap;
	}
	e->top = top;
	e->len = len;
	*out = len ? e->buf + e->cap - len : data;
	return 0;
bad_range:
	*why = "a sample shares a stack range its thread's previous sample does not cover";
	return -EINVAL;
}

/*
 * Apply a version 3 sample's patches (ph, the table pt, their bytes at data)
 * to the segment 1 of tid that tstacks_rebuild() just made, shared bytes at
 * its top. 0, or -EINVAL with *why when a patch lies outside the shared range
 * or the lengths do not add up.
 */
static int tstacks_patch(struct tstacks *t, uint32_t tid, uint32_t shared,
			 const struct xpf_patches *ph, const uint8_t *pt, const uint8_t *data,
			 const char **why)
{
	struct tstack *e = tstacks_find(t, tid);
	uint64_t used = 0;

	for (uint32_t i = 0; i < ph->npatch; i++) {
		struct xpf_patch p;

		memcpy(&p, pt + i * sizeof(p), sizeof(p));
		if (!e || !p.len || p.len > p.off || p.off > shared || p.off > e->len ||
		    used + p.len > ph->patch_bytes)
			goto bad;
		memcpy(e->buf + e->cap - p.off, data + used, p.len);
		used += p.len;
	}
	if (used == ph->patch_bytes)
		return 0;
bad:
	*why = "corrupt sample in .xprof (a patch outside its shared stack range)";
	return -EINVAL;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < cap ? srclen : cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- the per-record decoder ---------------------------------------------- */

/* A version 3 sample's patches of its shared range: the header, the table, their bytes. */
struct sample_patches {
	struct xpf_patches ph; /* npatch 0: none */
	const uint8_t *pt;     /* the table; the bytes follow it */
};

/* pp NULL: a sample with patches is refused (only a reader that rebuilds stacks can use them). */
static int decode_sample(const uint8_t *r, size_t size, uint32_t version, uint32_t frequency,
			 struct xp_event *ev, struct sample_patches *pp)
{
	struct xpf_sample s;
	struct xpf_patches ph = {0};
	const uint8_t *seg;
	size_t need, pbytes = 0;
	bool patched;

	if (size < sizeof(s))
		return -EINVAL;
	memcpy(&s, r, sizeof(s));
	if (version < 2)
		s.stack_shared = 0; /* reserved in version 1 */
	patched = version >= 3 && (s.flags & XPF_SAMPLE_F_PATCHES);
	s.flags &= ~XPF_SAMPLE_F_PATCHES;
	if (s.nkstack > XP_KSTACK_MAX || s.stack_shared > s.stack_len || (patched && !pp))
		return -EINVAL;
	/* Only the low stack_len - stack_shared bytes of segment 1 are stored. */
	need = sizeof(s) + 8 * (size_t)s.nkstack + (s.stack_len - s.stack_shared) +
	       (size_t)s.stack2_len;
	if (patched) {
		/* Version 3: patches of the shared range before the low part. */
		if (need + sizeof(ph) > size)
			return -EINVAL;
		memcpy(&ph, r + sizeof(s) + 8 * (size_t)s.nkstack, sizeof(ph));
		if (!ph.npatch || ph.npatch > XPF_PATCH_MAX || ph.patch_bytes > s.stack_shared)
			return -EINVAL;
		pp->ph = ph;
		pp->pt = r + sizeof(s) + 8 * (size_t)s.nkstack + sizeof(ph);
		pbytes = sizeof(ph) + ph.npatch * sizeof(struct xpf_patch) + (size_t)ph.patch_bytes;
	}
	need += pbytes;
	if (pad8(need) != size)
		return -EINVAL;
	seg = r + sizeof(s) + 8 * (size_t)s.nkstack + pbytes;
	ev->type = XP_EV_SAMPLE;
	ev->sample.time_ns = s.time_ns;
	ev->sample.pid = s.pid;
	ev->sample.tid = s.tid;
	ev->sample.cpu = s.cpu;
	ev->sample.flags = s.flags;
	memcpy(ev->sample.regs, s.regs, sizeof(s.regs));
	ev->sample.nkstack = s.nkstack;
	ev->sample.kstack = (const uint64_t *)(r + sizeof(s));
	ev->sample.nsegs = 1;
	ev->sample.segs[0].start = s.regs[XP_REG_SP];
	ev->sample.segs[0].data = seg;
	ev->sample.segs[0].len = s.stack_len;
	if (s.stack2_len) {
		ev->sample.nsegs = 2;
		ev->sample.segs[1].start = s.stack2_sp;
		ev->sample.segs[1].data = seg + (s.stack_len - s.stack_shared);
		ev->sample.segs[1].len = s.stack2_len;
	}
	ev->sample.period_ns = frequency ? 1000000000ull / frequency : 0;
	ev->sample.stack_shared = s.stack_shared;
	return 1;
}

static int decode_mmap(const uint8_t *r, size_t size, struct xp_event *ev)
{
	struct xpf_mmap m;

	if (size < sizeof(m))
		return -EINVAL;
	memcpy(&m, r, sizeof(m));
	if (m.path_len < 1 || pad8(sizeof(m) + (size_t)m.path_len) != size ||
	    r[sizeof(m) + m.path_len - 1] != 0 || m.build_id_len > XP_BUILD_ID_MAX)
		return -EINVAL;
	ev->type = XP_EV_MMAP;
	ev->mmap.time_ns = m.time_ns;
	ev->mmap.pid = m.pid;
	ev->mmap.tid = m.tid;
	ev->mmap.start = m.start;
	ev->mmap.len = m.len;
	ev->mmap.pgoff = m.pgoff;
	ev->mmap.prot = m.prot;
	ev->mmap.build_id_len = m.build_id_len;
	memcpy(ev->mmap.build_id, m.build_id, sizeof(m.build_id));
	ev->mmap.path = (const char *)r + sizeof(m);
	return 1;
}

static int decode_vdso(const uint8_t *r, size_t size, struct xp_event *ev)
{
	struct xpf_vdso v;

	if (size < sizeof(v))
		return -EINVAL;
	memcpy(&v, r, sizeof(v));
	if (pad8(sizeof(v) + (size_t)v.len) != size)
		return -EINVAL;
	ev->type = XP_EV_VDSO;
	ev->vdso.start = v.start;
	ev->vdso.image = r + sizeof(v);
	ev->vdso.len = v.len;
	return 1;
}

/* The fixed-size records: sizes exact, fields copied. */
static int decode_fixed(const uint8_t *r, size_t size, uint32_t type, struct xp_event *ev)
{
	switch (type) {
	case XPF_REC_COMM: {
		struct xpf_comm c;

		if (size != sizeof(c))
			return -EINVAL;
		memcpy(&c, r, sizeof(c));
		ev->type = XP_EV_COMM;
		ev->comm.time_ns = c.time_ns;
		ev->comm.pid = c.pid;
		ev->comm.tid = c.tid;
		ev->comm.exec = c.exec != 0;
		copy_str(ev->comm.comm, sizeof(ev->comm.comm), c.comm, sizeof(c.comm));
		return 1;
	}
	case XPF_REC_FORK:
	case XPF_REC_EXIT: {
		struct xpf_task t;

		if (size != sizeof(t))
			return -EINVAL;
		memcpy(&t, r, sizeof(t));
		ev->type = type == XPF_REC_FORK ? XP_EV_FORK : XP_EV_EXIT;
		ev->task.time_ns = t.time_ns;
		ev->task.pid = t.pid;
		ev->task.tid = t.tid;
		ev->task.ppid = t.ppid;
		ev->task.ptid = t.ptid;
		return 1;
	}
	case XPF_REC_LOST: {
		struct xpf_lost l;

		if (size != sizeof(l))
			return -EINVAL;
		memcpy(&l, r, sizeof(l));
		ev->type = XP_EV_LOST;
		ev->lost.time_ns = l.time_ns;
		ev->lost.count = l.count;
		return 1;
	}
	case XPF_REC_UID: {
		struct xpf_uid u;

		if (size != sizeof(u))
			return -EINVAL;
		memcpy(&u, r, sizeof(u));
		ev->type = XP_EV_UID;
		ev->uid.time_ns = u.time_ns;
		ev->uid.pid = u.pid;
		ev->uid.uid = u.uid;
		return 1;
	}
	case XPF_REC_END: {
		if (size != sizeof(struct xpf_end))
			return -EINVAL;
		return 0;
	}
	default:
		return 0; /* a newer record type: skip it */
	}
}

static int decode_record(const void *rec, size_t size, uint32_t version, uint32_t frequency,
			 struct xp_event *ev, struct sample_patches *pp)
{
	const uint8_t *r = rec;
	struct xpf_rec rh;

	memset(ev, 0, sizeof(*ev));
	if (size < sizeof(rh))
		return -EINVAL;
	memcpy(&rh, r, sizeof(rh));
	if (rh.size != size)
		return -EINVAL;
	switch (rh.type) {
	case XPF_REC_SAMPLE:
		return decode_sample(r, size, version, frequency, ev, pp);
	case XPF_REC_MMAP:
		return decode_mmap(r, size, ev);
	case XPF_REC_VDSO:
		return decode_vdso(r, size, ev);
	default:
		return decode_fixed(r, size, rh.type, ev);
	}
}

int xpf_decode(const void *rec, size_t size, uint32_t version, uint32_t frequency,
	       struct xp_event *ev)
{
	return decode_record(rec, size, version, frequency, ev, NULL);
}

/* ---- the reader -------------------------------------------------------------- */

/* The header of an .xprof image into *h and info's settings: 0, or -EINVAL with *why. */
static int read_header(const uint8_t *p, size_t len, struct xpf_header *h, struct xp_rec_info *info,
		       const char **why)
{
	if (len < XPF_MAGIC_LEN || memcmp(p, XPF_MAGIC, XPF_MAGIC_LEN)) {
		*why = "not an .xprof recording (bad magic)";
		return -EINVAL;
	}
	if (len < sizeof(*h)) {
		*why = "truncated .xprof header";
		return -EINVAL;
	}
	memcpy(h, p, sizeof(*h));
	if (h->version < XPF_VERSION_MIN || h->version > XPF_VERSION) {
		*why = "unsupported .xprof version (written by a different xprof)";
		return -EINVAL;
	}
	if (h->hdr_size < sizeof(*h) || h->hdr_size % 8 || h->hdr_size > len) {
		*why = "corrupt .xprof header size";
		return -EINVAL;
	}
	if (h->sample_version != XP_SAMPLE_VERSION) {
		*why = "unsupported sample version in .xprof header";
		return -EINVAL;
	}
	info->version = h->version;
	info->frequency = h->frequency;
	info->stack_size = h->stack_size;
	info->flags = h->flags;
	info->write_errno = h->flags & XP_REC_F_WRITE_ERROR ? h->write_errno : 0;
	info->start_time_ns = h->start_time_ns;
	info->start_real_ns = h->start_real_ns;
	copy_str(info->event, sizeof(info->event), h->event, sizeof(h->event));
	copy_str(info->target, sizeof(info->target), h->target, sizeof(h->target));
	return 0;
}

/* What xpf_read_mem keeps across records: distinct pids and every thread's last stack. */
struct reader {
	struct xp_rec_info *info;
	uint32_t version;
	struct pidset ps;
	struct tstacks ts;
};

/*
 * A decoded event, in file order: rebuild a version 2 sample's shared stack
 * top, forget an exited thread's stack, count. 0, -ENOMEM, or -EINVAL with
 * *bad (a sample whose shared range its thread cannot supply).
 */
static int reader_event(struct reader *rd, struct xp_event *ev, const struct sample_patches *pp,
			const char **bad)
{
	struct xp_rec_info *info = rd->info;
	int err;

	switch (ev->type) {
	case XP_EV_SAMPLE: {
		struct xp_ev_sample *s = &ev->sample;

		if (rd->version >= 2) {
			/* Every sample's segment 1 is remembered: the next one of its thread may
			 * share it. */
			err = tstacks_rebuild(&rd->ts, s->tid, s->regs[XP_REG_SP], s->segs[0].len,
					      s->stack_shared, s->segs[0].data, &s->segs[0].data,
					      bad);
			if (!err && pp->ph.npatch)
				err = tstacks_patch(
				    &rd->ts, s->tid, s->stack_shared, &pp->ph, pp->pt,
				    pp->pt + pp->ph.npatch * sizeof(struct xpf_patch), bad);
			if (err)
				return err;
		}
		info->samples++;
		info->stack_bytes += (uint64_t)s->segs[0].len + s->segs[1].len;
		info->stack_stored += (uint64_t)(s->segs[0].len - s->stack_shared) +
				      s->segs[1].len + pp->ph.patch_bytes;
		return pidset_add(&rd->ps, s->pid);
	}
	case XP_EV_MMAP:
		info->mappings++;
		return 0;
	case XP_EV_EXIT:
		tstacks_drop(&rd->ts, ev->task.tid);
		return 0;
	case XP_EV_LOST:
		info->lost += ev->lost.count;
		return 0;
	default:
		return 0;
	}
}

int xpf_read_mem(const void *buf, size_t len, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		 const char **why, size_t *pos)
{
	const uint8_t *p = buf;
	struct xp_rec_info local;
	struct xpf_header h;
	struct reader rd = {0};
	const char *bad = NULL; /* why the record at `at` is rejected; NULL: cut short */
	uint32_t rtype = 0;
	size_t at;
	int err = 0;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	*why = NULL;
	err = read_header(p, len, &h, info, why);
	if (err)
		return err;
	rd.info = info;
	rd.version = h.version;

	for (at = h.hdr_size; len - at >= sizeof(struct xpf_rec);) {
		struct xpf_rec rh;
		const uint8_t *r = p + at;
		struct xp_event ev;
		struct sample_patches pp = {0};
		int n;

		memcpy(&rh, r, sizeof(rh));
		rtype = rh.type;
		if (rh.size < sizeof(rh) || rh.size % 8) {
			bad = "corrupt record size";
			goto skip;
		}
		if (rh.size > len - at)
			goto skip; /* a truncated tail: a killed record */
		n = decode_record(r, rh.size, h.version, h.frequency, &ev, &pp);
		if (n < 0)
			goto short_rec;
		if (rh.type == XPF_REC_END) {
			struct xpf_end e;

			memcpy(&e, r, sizeof(e));
			info->end_time_ns = e.end_time_ns;
		}
		if (n > 0) {
			err = reader_event(&rd, &ev, &pp, &bad);
			if (err == -EINVAL)
				goto skip;
			if (err)
				goto out;
		}
		info->processes = rd.ps.n;
		if (pos)
			*pos = at;
		if (n > 0 && fn) {
			err = fn(ctx, &ev);
			if (err)
				goto out;
		}
		at += rh.size;
	}
	if (at == len)
		goto out;
	goto skip; /* a tail shorter than a record header: cut */
short_rec:
	bad = "sizes do not fit";
skip:
	/*
	 * Keep everything before the first bad record and skip the rest. Records carry no
	 * checksum and no sync marker, so once one is bad its size cannot be trusted either,
	 * and whatever follows could be stack bytes read as records: there is no sound place
	 * to resume. A cut tail (a killed record) ends the same way, with no reason.
	 */
	info->skip_offset = at;
	info->skip_bytes = len - at;
	info->skip_type = len - at >= sizeof(struct xpf_rec) ? rtype : 0;
	info->skip_why = bad;
	err = 0;
out:
	info->processes = rd.ps.n;
	free(rd.ps.slot);
	tstacks_release(&rd.ts);
	return err;
}
