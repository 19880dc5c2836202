// SPDX-License-Identifier: MIT
/*
 * One recording session: load the BPF sampler, attach it to a per-CPU
 * sampling perf event, open per-CPU dummy perf events for the side band
 * (mmap2 with build-ids, comm, fork, exit), synthesize what existed before
 * the start from /proc, and deliver everything to a sink (capture.h) in
 * time order: the .xprof writer, the report pipeline, or both.
 *
 * Ordering. Samples arrive through the BPF ring buffer, side-band events
 * through the per-CPU perf rings; both carry CLOCK_MONOTONIC times. A reader
 * replays the file in order, so an mmap must be written before the samples
 * that need it, and an exit after the samples before it. Each round takes
 * t0 = now, drains both sources into a staging arena (records encoded as
 * in an .xprof file), sorts the staged records by time and delivers those at
 * or before t0: everything stamped before t0 is visible in the rings by then.
 * Later ones wait for the next round. The arena is allocated once; the per-sample
 * path is one memcpy of the valid stack bytes.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/xprof.skel.h"
#include "bpf/sample.h"
#include "capture/capture.h"
#include "lib/lib.h"
#include "recording/xprof_file.h"

_Static_assert(sizeof(struct xp_sample) == XP_SAMPLE_HDR_SIZE, "XP_SAMPLE_HDR_SIZE is stale");

#define SB_PAGES 128 /* side-band ring per CPU: 512 KiB */

struct sb_ring {
	int fd;
	void *base;
	size_t size; /* data area */
};

struct stage_ent {
	uint64_t time;
	uint32_t off, len;
	uint32_t seq;
	uint32_t is_sample; /* at equal times, side-band first */
};

struct session {
	const struct capture_opts *o;
	struct xprof_bpf *skel;
	struct ring_buffer *rb;
	int ncpus;
	int *ev_fds; /* sampling events, one per CPU (-1: none) */
	struct bpf_link **links;
	struct sb_ring *sb;
	int targets_fd;
	long page;
	bool sb_build_id;		/* the kernel fills in build-ids (attr.build_id, 5.12+) */
	uint64_t t_start, t_start_real; /* CLOCK_MONOTONIC and CLOCK_REALTIME at the start */

	struct capture_sink sink;
	int sink_err;		 /* the sink's non-zero return, which stopped the capture */
	uint8_t *arena, *arena2; /* staged records; arena2 is for compaction */
	size_t arena_cap, arena_len;
	struct stage_ent *ent;
	size_t ent_cap, nent;
	uint32_t seq;
	uint8_t *sbtmp;	  /* a side-band record that wraps the ring */
	uint64_t *percpu; /* one per-CPU stats value per possible CPU */

	struct xp_buildid_cache bids;
	uint64_t lost_written;
	struct capture_stats *res;
	int err;
};

/* The library's handle: the session and what it points to. */
struct capture {
	struct session s;
	struct capture_opts opts;
	struct capture_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct stage_ent *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->is_sample != y->is_sample)
		return x->is_sample < y->is_sample ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* An event to the sink; its non-zero return stops the capture. */
static int deliver(struct session *s, const struct xp_event *ev)
{
	int err = s->sink.event(s->sink.ctx, ev);

	if (err)
		s->sink_err = err;
	return err;
}

/*
 * A staged record to the sink, decoded as a reader of the file would see it
 * (the records are xpf_encode's, which share no stack bytes).
 */
static int deliver_record(struct session *s, const uint8_t *rec, uint32_t len)
{
	struct xp_event ev;
	int n = xpf_decode(rec, len, XPF_VERSION, s->o->frequency, &ev);

	if (n < 0)
		return n; /* cannot be: the records were encoded here */
	return n ? deliver(s, &ev) : 0;
}

/* Deliver staged records with time <= upto in time order; keep the rest. */
static int stage_flush(struct session *s, uint64_t upto)
{
	size_t keep = 0, len2 = 0;
	int err;

	qsort(s->ent, s->nent, sizeof(*s->ent), cmp_ent);
	for (size_t i = 0; i < s->nent; i++) {
		struct stage_ent *e = &s->ent[i];

		if (e->time <= upto) {
			err = deliver_record(s, s->arena + e->off, e->len);
			if (err)
				return err;
			continue;
		}
		memcpy(s->arena2 + len2, s->arena + e->off, e->len);
		e->off = len2;
		len2 += e->len;
		s->ent[keep++] = *e;
	}
	s->nent = keep;
	s->arena_len = len2;
	{
		uint8_t *t = s->arena;

		s->arena = s->arena2;
		s->arena2 = t;
	}
	return 0;
}

/* Encode ev into the arena. When the arena is full, deliver everything staged first. */
static int stage_event(struct session *s, const struct xp_event *ev, uint64_t time, bool is_sample)
{
	size_t need = xpf_encode(ev, NULL, 0);
	int err;

	if (s->arena_len + need > s->arena_cap || s->nent == s->ent_cap) {
		s->res->misordered += s->nent;
		err = stage_flush(s, UINT64_MAX);
		if (err)
			return err;
	}
	if (need > s->arena_cap) {
		/* Larger than the whole arena (a vDSO image would not be): deliver it directly. */
		return deliver(s, ev);
	}
	xpf_encode(ev, s->arena + s->arena_len, need);
	s->ent[s->nent++] = (struct stage_ent){.time = time,
					       .off = s->arena_len,
					       .len = need,
					       .seq = s->seq++,
					       .is_sample = is_sample};
	s->arena_len += need;
	return 0;
}

/*
 * Whom pid runs as, staged at time: a report trusts the process's JIT map
 * (/tmp/perf-PID.map) only if root or this user owns it. A process already
 * gone is left out, and the report falls back to perf's rule.
 */
static int stage_uid(struct session *s, uint32_t pid, uint64_t time)
{
	struct xp_event ev = {.type = XP_EV_UID};

	if (xp_procfs_uid((pid_t)pid, &ev.uid.uid))
		return 0;
	ev.uid.time_ns = time;
	ev.uid.pid = pid;
	return stage_event(s, &ev, time, false);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	const struct xp_sample *smp = data;
	struct xp_event ev;
	uint32_t avail;
	int err;

	if (size < sizeof(*smp) || smp->version != XP_SAMPLE_VERSION)
		return 0;
	avail = size - sizeof(*smp);
	memset(&ev, 0, sizeof(ev));
	ev.type = XP_EV_SAMPLE;
	ev.sample.time_ns = smp->time_ns;
	ev.sample.pid = smp->pid;
	ev.sample.tid = smp->tid;
	ev.sample.cpu = smp->cpu;
	ev.sample.flags = smp->flags;
	memcpy(ev.sample.regs, smp->regs, sizeof(ev.sample.regs));
	ev.sample.nsegs = 1;
	ev.sample.segs[0].start = smp->regs[XP_REG_SP];
	ev.sample.segs[0].data = (const uint8_t *)(smp + 1);
	ev.sample.segs[0].len = smp->stack_len <= avail ? smp->stack_len : 0;
	if ((smp->flags & XP_SAMPLE_F_STACK2) && smp->stack2_len <= avail - ev.sample.segs[0].len) {
		ev.sample.nsegs = 2;
		ev.sample.segs[1].start = smp->stack2_sp;
		ev.sample.segs[1].data = ev.sample.segs[0].data + ev.sample.segs[0].len;
		ev.sample.segs[1].len = smp->stack2_len;
	}
	ev.sample.nkstack = smp->kstack_len <= XP_KSTACK_MAX ? smp->kstack_len : 0;
	ev.sample.kstack = (const uint64_t *)smp->kstack;
	err = stage_event(s, &ev, smp->time_ns, true);
	if (err) {
		s->err = err;
		return err;
	}
	s->res->samples++;
	return 0;
}

static bool is_target(struct session *s, uint32_t pid)
{
	uint8_t v;

	if (s->o->all)
		return pid != (uint32_t)getpid() && pid != 0;
	return bpf_map_lookup_elem(s->targets_fd, &pid, &v) == 0;
}

/* ---- side band ----------------------------------------------------------- */

static int sb_open(struct session *s, int cpu, struct sb_ring *r)
{
	struct perf_event_attr a = {0};

	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	a.sample_id_all = 1;
	a.mmap = 1;
	a.mmap2 = 1;
	a.comm = 1;
	a.comm_exec = 1;
	a.task = 1;
	a.build_id = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	a.watermark = 1;
	a.wakeup_watermark = SB_PAGES * s->page / 2;
	r->fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	s->sb_build_id = r->fd >= 0;
	if (r->fd < 0 && errno == EINVAL) {
		/* Kernels before 5.12 have no build_id: read build-ids from the files instead. */
		a.build_id = 0;
		r->fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	}
	if (r->fd < 0)
		return -errno;
	r->size = SB_PAGES * s->page;
	r->base = mmap(NULL, r->size + s->page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -errno;
	}
	return 0;
}

static int sb_record(struct session *s, const struct perf_event_header *h)
{
	const uint8_t *p = (const uint8_t *)(h + 1);
	size_t body = h->size - sizeof(*h);
	struct xp_event ev;
	uint64_t time;
	uint32_t pid;

	if (h->size < sizeof(*h) + 16)
		return 0;
	/* sample_id_all with TID|TIME: {u32 pid, tid; u64 time} ends every record. */
	memcpy(&time, (const uint8_t *)h + h->size - 8, 8);
	memset(&ev, 0, sizeof(ev));
	switch (h->type) {
	case PERF_RECORD_MMAP2: {
		struct xl_mmap2 m;

		/*
		 * With attr.build_id the id block is always the build-id form; its size
		 * is 0 when the kernel could not read the id (pages not in memory): then
		 * read it from the file.
		 */
		if (xl_perf_mmap2(h, h->size, 16, s->sb_build_id, &m))
			return 0;
		if (!(m.prot & PROT_EXEC) || !is_target(s, m.pid))
			return 0;
		ev.type = XP_EV_MMAP;
		ev.mmap.time_ns = time;
		ev.mmap.pid = m.pid;
		ev.mmap.tid = m.tid;
		ev.mmap.start = m.addr;
		ev.mmap.len = m.len;
		ev.mmap.pgoff = m.pgoff;
		ev.mmap.prot = m.prot;
		ev.mmap.path = m.path;
		ev.mmap.build_id_len = m.build_id_len;
		memcpy(ev.mmap.build_id, m.build_id, m.build_id_len);
		if (!ev.mmap.build_id_len && ev.mmap.path[0] == '/') {
			char rp[4200];

			snprintf(rp, sizeof(rp), "/proc/%u/root%s", m.pid, ev.mmap.path);
			if (xp_build_id_read(&s->bids, rp, ev.mmap.build_id, &ev.mmap.build_id_len))
				xp_build_id_read(&s->bids, ev.mmap.path, ev.mmap.build_id,
						 &ev.mmap.build_id_len);
		}
		break;
	}
	case PERF_RECORD_COMM: {
		uint32_t ids[2];
		size_t n;

		if (body < 8 + 16)
			return 0;
		memcpy(ids, p, 8);
		if (!is_target(s, ids[0]))
			return 0;
		ev.type = XP_EV_COMM;
		ev.comm.time_ns = time;
		ev.comm.pid = ids[0];
		ev.comm.tid = ids[1];
		ev.comm.exec = !!(h->misc & PERF_RECORD_MISC_COMM_EXEC);
		n = strnlen((const char *)p + 8, body - 8 - 16);
		if (n >= XP_EV_COMM_LEN)
			n = XP_EV_COMM_LEN - 1;
		memcpy(ev.comm.comm, p + 8, n);
		if (ev.comm.exec) {
			/* An exec can change the user (setuid): read it again. */
			int err = stage_event(s, &ev, time, false);

			return err ? err : stage_uid(s, ids[0], time);
		}
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		uint32_t t[4];

		if (body < 16 + 8 + 16)
			return 0;
		memcpy(t, p, 16);
		pid = t[0];
		if (!is_target(s, pid))
			return 0;
		ev.type = h->type == PERF_RECORD_FORK ? XP_EV_FORK : XP_EV_EXIT;
		ev.task.time_ns = time;
		ev.task.pid = t[0];
		ev.task.ppid = t[1];
		ev.task.tid = t[2];
		ev.task.ptid = t[3];
		break;
	}
	case PERF_RECORD_LOST: {
		uint64_t v[2];

		if (body < 16)
			return 0;
		memcpy(v, p, 16);
		s->res->lost_sideband += v[1];
		return 0;
	}
	default:
		return 0;
	}
	return stage_event(s, &ev, time, false);
}

static int sb_drain(struct session *s, struct sb_ring *r)
{
	struct perf_event_mmap_page *mp = r->base;
	uint8_t *data = (uint8_t *)r->base + s->page;
	uint64_t head, tail;
	int err = 0;

	if (!mp)
		return 0;
	head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	tail = mp->data_tail;
	while (tail < head) {
		size_t off = tail % r->size;
		struct perf_event_header h;
		const struct perf_event_header *hp;

		memcpy(&h, data + off, sizeof(h)); /* headers never straddle: 8-aligned */
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (off + h.size > r->size) {
			size_t first = r->size - off;

			memcpy(s->sbtmp, data + off, first);
			memcpy(s->sbtmp + first, data, h.size - first);
			hp = (const struct perf_event_header *)s->sbtmp;
		} else {
			hp = (const struct perf_event_header *)(data + off);
		}
		err = sb_record(s, hp);
		if (err)
			break;
		if (h.type == PERF_RECORD_EXIT && !s->o->all) {
			uint32_t t[4];

			memcpy(t, hp + 1, 16);
			/*
			 * A process is gone: forget it, so its pid can be reused by a
			 * non-target. The leader's exit alone is not the process's (it may
			 * have called pthread_exit()), hence the check.
			 */
			if (t[0] == t[2] && (pid_t)t[0] != s->o->child && !xp_procfs_alive(t[0]))
				bpf_map_delete_elem(s->targets_fd, &t[0]);
		}
		tail += h.size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
	return err;
}

/* ---- synthesized events ---------------------------------------------------- */

struct synth {
	struct session *s;
	pid_t pid;
	uint64_t time;
};

static int synth_mmap(void *ctx, const struct xp_ev_mmap *m)
{
	struct synth *sy = ctx;
	struct xp_event ev = {.type = XP_EV_MMAP, .mmap = *m};

	return stage_event(sy->s, &ev, sy->time, false);
}

static int synth_thread(void *ctx, pid_t tid)
{
	struct synth *sy = ctx;
	struct xp_event ev = {.type = XP_EV_COMM};

	if (xp_procfs_comm(sy->pid, tid, ev.comm.comm))
		return 0;
	ev.comm.time_ns = sy->time;
	ev.comm.pid = sy->pid;
	ev.comm.tid = tid;
	return stage_event(sy->s, &ev, sy->time, false);
}

static int synth_process(void *ctx, pid_t pid)
{
	struct synth *sy = ctx;
	int err;

	if (pid == getpid())
		return 0;
	sy->pid = pid;
	err = stage_uid(sy->s, pid, sy->time);
	if (err)
		return err;
	err = xp_procfs_threads(pid, synth_thread, sy);
	if (err && err != -ENOENT && err != -ESRCH)
		return err;
	err = xp_procfs_maps(pid, sy->time, &sy->s->bids, synth_mmap, sy);
	if (err == -ENOENT || err == -ESRCH || err == -EACCES)
		err = 0; /* gone meanwhile */
	return err;
}

/* The vDSO image: every 64-bit process of this kernel maps the same one, ours included. */
static int write_vdso(struct session *s)
{
	struct xp_event ev = {.type = XP_EV_VDSO};
	size_t len;

	if (xl_vdso_self(&ev.vdso.image, &len))
		return 0;
	ev.vdso.start = (uintptr_t)ev.vdso.image;
	ev.vdso.len = len;
	return deliver(s, &ev);
}

/* ---- the session ------------------------------------------------------------ */

/* One XP_STAT_* counter of the sampler, summed over CPUs. */
static uint64_t bpf_stat(struct session *s, uint32_t key)
{
	uint64_t sum = 0;

	if (!bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.stats), &key, s->percpu))
		for (int i = 0; i < s->ncpus; i++)
			sum += s->percpu[i];
	return sum;
}

/* Drops since the last call become one LOST record, staged in time order. */
static int note_drops(struct session *s, uint64_t t)
{
	uint64_t d = bpf_stat(s, XP_STAT_DROP_RB);
	struct xp_event ev = {.type = XP_EV_LOST};

	if (d <= s->lost_written)
		return 0;
	ev.lost.time_ns = t;
	ev.lost.count = d - s->lost_written;
	s->lost_written = d;
	s->res->lost = d;
	return stage_event(s, &ev, t, false);
}

/* -p: is any target process (given or followed) still there? */
static bool targets_alive(struct session *s)
{
	uint32_t key, next;
	uint32_t *prev = NULL;

	for (size_t i = 0; i < s->o->npids; i++)
		if (xp_procfs_alive(s->o->pids[i]))
			return true;
	while (bpf_map_get_next_key(s->targets_fd, prev, &next) == 0) {
		if (xp_procfs_alive(next))
			return true;
		key = next;
		prev = &key;
	}
	return false;
}

static int round_drain(struct session *s, uint64_t upto)
{
	int err;

	err = ring_buffer__consume(s->rb);
	if (err < 0)
		return s->err ? s->err : err;
	for (int c = 0; c < s->ncpus; c++) {
		err = sb_drain(s, &s->sb[c]);
		if (err)
			return err;
	}
	err = note_drops(s, upto == UINT64_MAX ? now_ns() : upto);
	if (err)
		return err;
	return stage_flush(s, upto);
}

static size_t ringbuf_size(int ncpus, uint32_t stack_size)
{
	/* ~100 ms of samples at 1 kHz per CPU, at least 8 MiB, a power of two. */
	size_t want = (size_t)ncpus * 100 * (XP_SAMPLE_HDR_SIZE + stack_size + XP_SAMPLE_SLACK);
	size_t sz = 8u << 20;

	while (sz < want && sz < (512u << 20))
		sz <<= 1;
	return sz;
}

static void session_free(struct session *s)
{
	if (s->links)
		for (int c = 0; c < s->ncpus; c++)
			bpf_link__destroy(s->links[c]);
	if (s->ev_fds)
		for (int c = 0; c < s->ncpus; c++)
			if (s->ev_fds[c] >= 0)
				close(s->ev_fds[c]);
	if (s->sb)
		for (int c = 0; c < s->ncpus; c++) {
			if (s->sb[c].base)
				munmap(s->sb[c].base, s->sb[c].size + s->page);
			if (s->sb[c].fd >= 0)
				close(s->sb[c].fd);
		}
	ring_buffer__free(s->rb);
	xprof_bpf__destroy(s->skel);
	xp_buildid_cache_release(&s->bids);
	free(s->links);
	free(s->ev_fds);
	free(s->sb);
	free(s->arena);
	free(s->arena2);
	free(s->ent);
	free(s->sbtmp);
	free(s->percpu);
}

/* libbpf's messages only with XPROF_DEBUG=1 (the verifier log): users get one line from us. */
__attribute__((format(printf, 2, 0))) static int libbpf_quiet(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("XPROF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* The session's buffers, all allocated once: the per-sample path never calls malloc. */
static int session_alloc(struct session *s, size_t rbsz)
{
	s->arena_cap = rbsz + (4u << 20);
	s->ent_cap = s->arena_cap / 256;
	s->arena = malloc(s->arena_cap);
	s->arena2 = malloc(s->arena_cap);
	s->ent = calloc(s->ent_cap, sizeof(*s->ent));
	s->sbtmp = malloc(65536 + 8);
	s->ev_fds = calloc(s->ncpus, sizeof(*s->ev_fds));
	s->links = calloc(s->ncpus, sizeof(*s->links));
	s->sb = calloc(s->ncpus, sizeof(*s->sb));
	s->percpu = calloc(s->ncpus, sizeof(*s->percpu));
	if (!s->arena || !s->arena2 || !s->ent || !s->sbtmp || !s->ev_fds || !s->links || !s->sb ||
	    !s->percpu)
		return -ENOMEM;
	for (int c = 0; c < s->ncpus; c++)
		s->ev_fds[c] = s->sb[c].fd = -1;
	return 0;
}

/* Open and load the BPF sampler, fill in the targets, follow their forks. */
static int session_load(struct session *s, size_t rbsz, char *errbuf, size_t errlen)
{
	const struct capture_opts *o = s->o;
	int err;

	s->skel = xprof_bpf__open();
	if (!s->skel) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot open the BPF sampler: %s", strerror(errno));
		return err;
	}
	s->skel->rodata->stack_size = o->stack_size;
	s->skel->rodata->all_tasks = o->all;
	s->skel->rodata->want_kstack = o->kstack;
	s->skel->rodata->self_tgid = getpid();
	s->skel->rodata->wakeup_bytes = rbsz / 4;
	bpf_map__set_max_entries(s->skel->maps.samples, rbsz);
	err = xprof_bpf__load(s->skel);
	if (err) {
		snprintf(
		    errbuf, errlen,
		    "the kernel refused the BPF sampler: %s (XPROF_DEBUG=1 shows the verifier log)",
		    strerror(-err));
		return err;
	}
	s->targets_fd = bpf_map__fd(s->skel->maps.targets);
	if (!o->all) {
		uint8_t one = 1;

		for (size_t i = 0; i < o->npids; i++) {
			uint32_t pid = o->pids[i];

			bpf_map_update_elem(s->targets_fd, &pid, &one, BPF_ANY);
		}
		if (o->child > 0) {
			uint32_t pid = o->child;

			bpf_map_update_elem(s->targets_fd, &pid, &one, BPF_ANY);
		}
		s->skel->links.xp_fork = bpf_program__attach(s->skel->progs.xp_fork);
		if (!s->skel->links.xp_fork) {
			err = -errno;
			snprintf(errbuf, errlen, "cannot attach the fork tracepoint: %s",
				 strerror(errno));
			return err;
		}
	}
	return 0;
}

/* The side band, then the ring buffer and the sampling events with the sampler attached. */
static int session_attach(struct session *s, char *errbuf, size_t errlen)
{
	const struct capture_opts *o = s->o;
	int err;

	/* Side band first: from here on no mmap of a target is missed. */
	for (int c = 0; c < s->ncpus; c++) {
		err = sb_open(s, c, &s->sb[c]);
		if (err == -ENODEV || err == -EINVAL)
			continue; /* an offline CPU */
		if (err) {
			snprintf(errbuf, errlen, "cannot open side-band perf events: %s%s",
				 strerror(-err),
				 err == -EACCES || err == -EPERM
				     ? " (needs root or CAP_PERFMON; run it with sudo)"
				     : "");
			return err;
		}
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.samples), on_sample, s, NULL);
	if (!s->rb) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot set up the ring buffer: %s", strerror(errno));
		return err;
	}
	for (int c = 0, opened = 0; c < s->ncpus; c++) {
		struct perf_event_attr a = {0};

		a.size = sizeof(a);
		a.type = o->ev_type;
		a.config = o->ev_config;
		a.freq = 1;
		a.sample_freq = o->frequency;
		s->ev_fds[c] = syscall(SYS_perf_event_open, &a, -1, c, -1, PERF_FLAG_FD_CLOEXEC);
		if (s->ev_fds[c] < 0) {
			err = -errno;
			if ((err == -ENODEV || err == -EINVAL) && (opened || c + 1 < s->ncpus) &&
			    o->ev_type == PERF_TYPE_SOFTWARE)
				continue; /* an offline CPU */
			snprintf(errbuf, errlen, "cannot open the '%s' perf event on CPU %d: %s%s",
				 o->ev_name, c, strerror(-err),
				 err == -ENOENT || err == -EOPNOTSUPP
				     ? " (no such event here; try -e cpu-clock)"
				     : "");
			return err;
		}
		s->links[c] =
		    bpf_program__attach_perf_event(s->skel->progs.xp_sample, s->ev_fds[c]);
		if (!s->links[c]) {
			err = -errno;
			snprintf(errbuf, errlen, "cannot attach the sampler to CPU %d: %s", c,
				 strerror(errno));
			return err;
		}
		opened++;
	}
	return 0;
}

/* The recording's settings, for the sink's begin() (a file writes them as its header). */
static void session_info(const struct session *s, struct xp_rec_info *info)
{
	const struct capture_opts *o = s->o;

	memset(info, 0, sizeof(*info));
	info->frequency = o->frequency;
	info->stack_size = o->stack_size;
	info->flags = (o->all ? XP_REC_F_SYSTEM_WIDE : XP_REC_F_INHERIT) |
		      (o->kstack ? XP_REC_F_KERNEL_STACK : 0);
	snprintf(info->event, sizeof(info->event), "%s", o->ev_name);
	snprintf(info->target, sizeof(info->target), "%s", o->target ? o->target : "");
	info->start_time_ns = s->t_start;
	info->start_real_ns = s->t_start_real;
}

struct capture *capture_new(const struct capture_opts *o, const struct capture_sink *sink,
			    char *errbuf, size_t errlen)
{
	struct capture *c;
	struct session *s;
	struct xp_rec_info info;
	size_t rbsz;
	int err = 0;

	errbuf[0] = 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	c->opts = *o;
	s = &c->s;
	s->o = &c->opts;
	s->res = &c->stats;
	s->sink = *sink;
	s->page = sysconf(_SC_PAGESIZE);
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		err = s->ncpus;
		s->ncpus = 0;
		snprintf(errbuf, errlen, "cannot count the CPUs: %s", strerror(-err));
		goto fail;
	}
	libbpf_set_print(libbpf_quiet);

	rbsz = ringbuf_size(s->ncpus, o->stack_size);
	err = session_alloc(s, rbsz);
	if (err) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	err = session_load(s, rbsz, errbuf, errlen);
	if (err)
		goto fail;
	s->t_start = now_ns();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		s->t_start_real = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	}
	session_info(s, &info);
	if (s->sink.begin) {
		err = s->sink.begin(s->sink.ctx, &info, s->ncpus);
		if (err)
			goto fail; /* the sink's error: its caller says which */
	}
	err = write_vdso(s);
	if (err)
		goto fail;
	err = session_attach(s, errbuf, errlen);
	if (err)
		goto fail;

	/* What existed before the start, stamped t_start so it sorts before every sample. */
	{
		struct synth sy = {.s = s, .time = s->t_start};

		if (o->all)
			err = xp_procfs_processes(synth_process, &sy);
		for (size_t i = 0; !err && i < o->npids; i++)
			err = synth_process(&sy, o->pids[i]);
		if (err && !s->sink_err) {
			snprintf(errbuf, errlen, "cannot read /proc: %s", strerror(-err));
			goto fail;
		}
		if (err)
			goto fail;
	}
	return c;
fail:
	capture_free(c);
	errno = -err;
	return NULL;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	struct session *s = &c->s;
	int err;

	err = ring_buffer__poll(s->rb, timeout_ms);
	if (err == -EINTR)
		err = 0;
	if (err < 0)
		return s->err ? s->err : err;
	return round_drain(s, now_ns());
}

bool capture_targets_alive(struct capture *c)
{
	return targets_alive(&c->s);
}

int capture_stop(struct capture *c)
{
	struct session *s = &c->s;
	struct capture_stats *res = &c->stats;
	int err;

	{
		/* The kernel's run-time stats of the sampler (kernel.bpf_stats_enabled=1), as
		 * bpftool shows them. */
		struct bpf_prog_info pi;
		uint32_t len = sizeof(pi);

		memset(&pi, 0, sizeof(pi));
		if (!bpf_obj_get_info_by_fd(bpf_program__fd(s->skel->progs.xp_sample), &pi, &len)) {
			res->prog_run_ns = pi.run_time_ns;
			res->prog_run_cnt = pi.run_cnt;
		}
	}
	/* Stop sampling, then drain what is left: every event is stamped before now. */
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		bpf_link__destroy(s->links[cpu]);
		s->links[cpu] = NULL;
	}
	err = round_drain(s, UINT64_MAX);
	res->bpf_samples = bpf_stat(s, XP_STAT_SAMPLES);
	res->bpf_sample_ns = bpf_stat(s, XP_STAT_SAMPLE_NS);
	res->read_fail = bpf_stat(s, XP_STAT_READ_FAIL);
	res->no_sigframe = bpf_stat(s, XP_STAT_NO_SIGFRAME);
	return err;
}

const struct capture_stats *capture_stats(const struct capture *c)
{
	return &c->stats;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	session_free(&c->s);
	free(c);
}
