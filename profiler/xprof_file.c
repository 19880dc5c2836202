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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>

#include "bpf/sample.h"
#include "profiler/xprof_file.h"

_Static_assert(sizeof(struct xpf_header) == XPF_HEADER_SIZE, "xpf_header size");
_Static_assert(sizeof(struct xpf_sample) == XPF_SAMPLE_SIZE, "xpf_sample size");
_Static_assert(sizeof(struct xpf_mmap) == XPF_MMAP_SIZE, "xpf_mmap size");
_Static_assert(sizeof(struct xpf_comm) == XPF_COMM_SIZE, "xpf_comm size");
_Static_assert(sizeof(struct xpf_task) == XPF_TASK_SIZE, "xpf_task size");
_Static_assert(sizeof(struct xpf_vdso) == XPF_VDSO_SIZE, "xpf_vdso size");
_Static_assert(sizeof(struct xpf_lost) == XPF_LOST_SIZE, "xpf_lost size");
_Static_assert(sizeof(struct xpf_end) == XPF_END_SIZE, "xpf_end size");
_Static_assert(XP_EV_NREGS == XP_NREGS, "event and sample register counts differ");

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

struct xpf_writer {
	FILE *f;
	uint8_t *buf; /* encode scratch for xpf_writer_event() */
	size_t cap;
	uint64_t lost;
	bool failed;
};

#define XPF_STDIO_BUF (1u << 20)

struct xpf_writer *xpf_writer_open(const char *path, const struct xp_rec_info *info, uint32_t ncpus)
{
	struct xpf_header h = {0};
	struct xpf_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->f = fopen(path, "wb");
	if (!w->f)
		goto fail;
	setvbuf(w->f, NULL, _IOFBF, XPF_STDIO_BUF);
	memcpy(h.magic, XPF_MAGIC, XPF_MAGIC_LEN);
	h.version = XPF_VERSION;
	h.hdr_size = sizeof(h);
	h.start_time_ns = info->start_time_ns;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		h.start_real_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
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
	if (fwrite(&h, sizeof(h), 1, w->f) != 1 || fflush(w->f)) {
		errno = EIO;
		goto fail;
	}
	return w;
fail:
	err = errno;
	xpf_writer_free(w);
	errno = err;
	return NULL;
}

int xpf_writer_append(struct xpf_writer *w, const void *rec, size_t len)
{
	if (w->failed)
		return -EIO;
	if (len && fwrite(rec, len, 1, w->f) != 1) {
		w->failed = true;
		return -EIO;
	}
	return 0;
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
	if (w->failed || fflush(w->f)) {
		w->failed = true;
		return -EIO;
	}
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
	err = xpf_writer_append(w, &e, sizeof(e));
	if (!err)
		err = xpf_writer_flush(w);
	if (fclose(w->f) && !err)
		err = -EIO;
	w->f = NULL;
	xpf_writer_free(w);
	return err;
}

void xpf_writer_free(struct xpf_writer *w)
{
	if (!w)
		return;
	if (w->f)
		fclose(w->f);
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

static void copy_str(char *dst, size_t cap, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < cap ? srclen : cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

int xpf_read_mem(const void *buf, size_t len, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		 const char **why)
{
	const uint8_t *p = buf;
	struct xp_rec_info local;
	struct xpf_header h;
	struct pidset ps = {0};
	size_t at;
	int err = 0;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	*why = NULL;
	if (len < XPF_MAGIC_LEN || memcmp(p, XPF_MAGIC, XPF_MAGIC_LEN)) {
		*why = "not an .xprof recording (bad magic)";
		return -EINVAL;
	}
	if (len < sizeof(h)) {
		*why = "truncated .xprof header";
		return -EINVAL;
	}
	memcpy(&h, p, sizeof(h));
	if (h.version != XPF_VERSION) {
		*why = "unsupported .xprof version (written by a different xprof)";
		return -EINVAL;
	}
	if (h.hdr_size < sizeof(h) || h.hdr_size % 8 || h.hdr_size > len) {
		*why = "corrupt .xprof header size";
		return -EINVAL;
	}
	if (h.sample_version != XP_SAMPLE_VERSION) {
		*why = "unsupported sample version in .xprof header";
		return -EINVAL;
	}
	info->version = h.version;
	info->frequency = h.frequency;
	info->stack_size = h.stack_size;
	info->flags = h.flags;
	info->start_time_ns = h.start_time_ns;
	copy_str(info->event, sizeof(info->event), h.event, sizeof(h.event));
	copy_str(info->target, sizeof(info->target), h.target, sizeof(h.target));

	for (at = h.hdr_size; len - at >= sizeof(struct xpf_rec);) {
		struct xpf_rec rh;
		const uint8_t *r = p + at;
		struct xp_event ev;
		bool emit = true;

		memcpy(&rh, r, sizeof(rh));
		if (rh.size < sizeof(rh) || rh.size % 8) {
			*why = "corrupt record size in .xprof";
			err = -EINVAL;
			goto out;
		}
		if (rh.size > len - at)
			break; /* a truncated tail: a killed record */
		memset(&ev, 0, sizeof(ev));
		switch (rh.type) {
		case XPF_REC_SAMPLE: {
			struct xpf_sample s;
			size_t need;

			if (rh.size < sizeof(s))
				goto short_rec;
			memcpy(&s, r, sizeof(s));
			need =
			    sizeof(s) + 8 * (size_t)s.nkstack + s.stack_len + (size_t)s.stack2_len;
			if (s.nkstack > XP_KSTACK_MAX || s.stack_len > rh.size ||
			    s.stack2_len > rh.size || need > rh.size)
				goto short_rec;
			ev.type = XP_EV_SAMPLE;
			ev.sample.time_ns = s.time_ns;
			ev.sample.pid = s.pid;
			ev.sample.tid = s.tid;
			ev.sample.cpu = s.cpu;
			ev.sample.flags = s.flags;
			memcpy(ev.sample.regs, s.regs, sizeof(s.regs));
			ev.sample.nkstack = s.nkstack;
			ev.sample.kstack = (const uint64_t *)(r + sizeof(s));
			ev.sample.nsegs = 1;
			ev.sample.segs[0].start = s.regs[XP_REG_SP];
			ev.sample.segs[0].data = r + sizeof(s) + 8 * (size_t)s.nkstack;
			ev.sample.segs[0].len = s.stack_len;
			if (s.stack2_len) {
				ev.sample.nsegs = 2;
				ev.sample.segs[1].start = s.stack2_sp;
				ev.sample.segs[1].data = ev.sample.segs[0].data + s.stack_len;
				ev.sample.segs[1].len = s.stack2_len;
			}
			ev.sample.period_ns = h.frequency ? 1000000000ull / h.frequency : 0;
			info->samples++;
			info->stack_bytes += (uint64_t)s.stack_len + s.stack2_len;
			err = pidset_add(&ps, s.pid);
			if (err)
				goto out;
			break;
		}
		case XPF_REC_MMAP: {
			struct xpf_mmap m;

			if (rh.size < sizeof(m))
				goto short_rec;
			memcpy(&m, r, sizeof(m));
			if (m.path_len < 1 || m.path_len > rh.size - sizeof(m) ||
			    r[sizeof(m) + m.path_len - 1] != 0 || m.build_id_len > XP_BUILD_ID_MAX)
				goto short_rec;
			ev.type = XP_EV_MMAP;
			ev.mmap.time_ns = m.time_ns;
			ev.mmap.pid = m.pid;
			ev.mmap.tid = m.tid;
			ev.mmap.start = m.start;
			ev.mmap.len = m.len;
			ev.mmap.pgoff = m.pgoff;
			ev.mmap.prot = m.prot;
			ev.mmap.build_id_len = m.build_id_len;
			memcpy(ev.mmap.build_id, m.build_id, sizeof(m.build_id));
			ev.mmap.path = (const char *)r + sizeof(m);
			info->mappings++;
			break;
		}
		case XPF_REC_COMM: {
			struct xpf_comm c;

			if (rh.size < sizeof(c))
				goto short_rec;
			memcpy(&c, r, sizeof(c));
			ev.type = XP_EV_COMM;
			ev.comm.time_ns = c.time_ns;
			ev.comm.pid = c.pid;
			ev.comm.tid = c.tid;
			ev.comm.exec = c.exec != 0;
			copy_str(ev.comm.comm, sizeof(ev.comm.comm), c.comm, sizeof(c.comm));
			break;
		}
		case XPF_REC_FORK:
		case XPF_REC_EXIT: {
			struct xpf_task t;

			if (rh.size < sizeof(t))
				goto short_rec;
			memcpy(&t, r, sizeof(t));
			ev.type = rh.type == XPF_REC_FORK ? XP_EV_FORK : XP_EV_EXIT;
			ev.task.time_ns = t.time_ns;
			ev.task.pid = t.pid;
			ev.task.tid = t.tid;
			ev.task.ppid = t.ppid;
			ev.task.ptid = t.ptid;
			break;
		}
		case XPF_REC_VDSO: {
			struct xpf_vdso v;

			if (rh.size < sizeof(v))
				goto short_rec;
			memcpy(&v, r, sizeof(v));
			if (v.len > rh.size - sizeof(v))
				goto short_rec;
			ev.type = XP_EV_VDSO;
			ev.vdso.start = v.start;
			ev.vdso.image = r + sizeof(v);
			ev.vdso.len = v.len;
			break;
		}
		case XPF_REC_LOST: {
			struct xpf_lost l;

			if (rh.size < sizeof(l))
				goto short_rec;
			memcpy(&l, r, sizeof(l));
			ev.type = XP_EV_LOST;
			ev.lost.time_ns = l.time_ns;
			ev.lost.count = l.count;
			info->lost += l.count;
			break;
		}
		case XPF_REC_END: {
			struct xpf_end e;

			if (rh.size < sizeof(e))
				goto short_rec;
			memcpy(&e, r, sizeof(e));
			info->end_time_ns = e.end_time_ns;
			emit = false;
			break;
		}
		default:
			emit = false; /* a newer record type: skip it */
			break;
		}
		info->processes = ps.n;
		if (emit && fn) {
			err = fn(ctx, &ev);
			if (err)
				goto out;
		}
		at += rh.size;
	}
	goto out;
short_rec:
	*why = "corrupt record in .xprof (sizes do not fit)";
	err = -EINVAL;
out:
	info->processes = ps.n;
	free(ps.slot);
	return err;
}
