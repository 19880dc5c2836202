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
 *
 * Every sample needs its process's mappings before it in the file. They come
 * from the /proc scan at the start, from mmap records, or from the parent's
 * through a fork record; pid_state[] follows which pids a reader will know
 * that way. A sample of a pid it does not know (its records were lost, or
 * are still in another CPU's ring) makes the recorder read /proc/PID/maps
 * right then, while the process still lives. What a reader will still not
 * know is counted as the records are written, in file order, the way a
 * reader replays them (file_maps[]): res->unmapped samples of a process that
 * has no mapping at that point.
 *
 * Exits. In -p mode an exited process is removed from the target map so its
 * pid can be reused by a non-target, but only after one more full round: the
 * rings are drained one CPU after another, and another CPU's ring may still
 * hold the process's fork, comm or mmap records, which the target filter
 * would then drop.
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

#define SB_PAGES  128	     /* side-band ring per CPU: 512 KiB */
#define PID_LIMIT 4194304u   /* PID_MAX_LIMIT on 64-bit: pid_state[] covers every pid */
#define LATE_NS	  1000000ull /* late /proc mappings sort this much before the first sample */

struct sb_ring {
	int fd;
	void *base;
	size_t size; /* data area */
};

/* What a reader of the file will know of a process's mappings (pid_state[]). */
enum pid_state {
	PID_UNSEEN = 0, /* nothing yet */
	PID_MAPPED, /* mappings precede its samples: /proc scan, mmap, or a known parent's fork */
	PID_GONE,   /* sampled while unknown, and /proc had nothing any more */
};

/* A process exit seen in the side band, applied one round later. */
struct exited {
	uint32_t pid;
	uint32_t round;
};

struct stage_ent {
	uint64_t time;
	uint32_t off, len;
	uint32_t seq;
	uint32_t is_sample; /* at equal times, side-band first */
	uint32_t pid, ppid; /* for file_note(): the event's pid, and a fork's parent */
	uint8_t type;	    /* enum xp_ev_type */
	uint8_t exec;	    /* a COMM from execve */
};

struct session {
	const struct capture_opts *o;
	uint32_t self; /* our pid: getpid() is a system call, and is_target() runs per record */
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
	uint8_t *pid_state; /* enum pid_state, by pid (PID_LIMIT bytes, pages touched on use) */
	uint8_t *file_maps; /* by pid: the records written so far give it a mapping */
	struct exited *exited;
	size_t nexited, exited_cap;
	uint32_t round;	    /* rounds drained so far */
	uint64_t last_upto; /* the last round's time bound: everything before it is written */
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

/*
 * A record is written: follow what a reader replaying the file will know of
 * its process's mappings (as the report session does: a fork copies the
 * parent's, an exec drops them, an mmap adds one) and count the samples it
 * cannot place.
 */
static void file_note(struct session *s, const struct stage_ent *e)
{
	uint8_t *fm = s->file_maps;

	if (e->pid >= PID_LIMIT)
		return;
	switch (e->type) {
	case XP_EV_MMAP:
		fm[e->pid] = 1;
		break;
	case XP_EV_FORK:
		if (e->pid != e->ppid)
			fm[e->pid] = e->ppid < PID_LIMIT && fm[e->ppid];
		break;
	case XP_EV_COMM:
		if (e->exec)
			fm[e->pid] = 0;
		break;
	case XP_EV_SAMPLE:
		s->res->unmapped += !fm[e->pid];
		break;
	default:
		break;
	}
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
			file_note(s, e);
			continue;
		}
		memcpy(s->arena2 + len2, s->arena + e->off, e->len);
		e->off = len2;
		len2 += e->len;
		s->ent[keep++] = *e;
	}
	s->nent = keep;
	s->arena_len = len2;
	if (upto != UINT64_MAX)
		s->last_upto = upto;
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
	s->ent[s->nent] = (struct stage_ent){.time = time,
					     .off = s->arena_len,
					     .len = need,
					     .seq = s->seq++,
					     .is_sample = is_sample,
					     .type = ev->type};
	switch (ev->type) {
	case XP_EV_SAMPLE:
		s->ent[s->nent].pid = ev->sample.pid;
		break;
	case XP_EV_MMAP:
		s->ent[s->nent].pid = ev->mmap.pid;
		break;
	case XP_EV_COMM:
		s->ent[s->nent].pid = ev->comm.pid;
		s->ent[s->nent].exec = ev->comm.exec;
		break;
	case XP_EV_FORK:
	case XP_EV_EXIT:
		s->ent[s->nent].pid = ev->task.pid;
		s->ent[s->nent].ppid = ev->task.ppid;
		break;
	default:
		s->ent[s->nent].pid = UINT32_MAX;
		break;
	}
	s->nent++;
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

static void pid_resolve(struct session *s, uint32_t pid, uint64_t time);

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
	/* Before the sample is staged: mappings read now must sort before it. */
	pid_resolve(s, smp->pid, smp->time_ns);
	if (s->err)
		return s->err;
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
		return pid != s->self && pid != 0;
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

/* What an event staged for the file tells a reader about its process's mappings. */
static void pid_note(struct session *s, const struct xp_event *ev)
{
	uint8_t *st = s->pid_state;

	switch (ev->type) {
	case XP_EV_MMAP:
		if (ev->mmap.pid < PID_LIMIT)
			st[ev->mmap.pid] = PID_MAPPED;
		break;
	case XP_EV_FORK:
		/*
		 * Only ever upgrade: the child's first sample may have been read
		 * (and its mappings from /proc) before this record, which sat in
		 * another CPU's ring.
		 */
		if (ev->task.pid != ev->task.ppid && ev->task.pid < PID_LIMIT &&
		    ev->task.ppid < PID_LIMIT && st[ev->task.ppid] == PID_MAPPED)
			st[ev->task.pid] = PID_MAPPED;
		break;
	default:
		break;
	}
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
		if (s->o->mmap_seen)
			s->o->mmap_seen(s->o->mmap_seen_ctx, &ev.mmap);
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
		/*
		 * The kernel writes a fork record before the fork tracepoint adds the
		 * child to the targets: a target parent makes it a target's fork too.
		 */
		if (!is_target(s, pid) && !(h->type == PERF_RECORD_FORK && is_target(s, t[1])))
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
	pid_note(s, &ev);
	return stage_event(s, &ev, time, false);
}

/* A leader's exit: forget the process one full round later (see the top of the file). */
static int exit_note(struct session *s, uint32_t pid)
{
	if (s->nexited == s->exited_cap) {
		size_t ncap = s->exited_cap ? 2 * s->exited_cap : 256;
		struct exited *ne = realloc(s->exited, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->exited = ne;
		s->exited_cap = ncap;
	}
	s->exited[s->nexited++] = (struct exited){.pid = pid, .round = s->round};
	return 0;
}

/*
 * Apply the exits seen before this round, now that every ring has been
 * drained once since: no record of those processes is left in the rings.
 */
static void exits_apply(struct session *s)
{
	size_t keep = 0;

	for (size_t i = 0; i < s->nexited; i++) {
		struct exited e = s->exited[i];

		if (e.round == s->round) {
			s->exited[keep++] = e;
			continue;
		}
		/* A new process with this pid starts unknown, whatever the old one was. */
		if (e.pid < PID_LIMIT)
			s->pid_state[e.pid] = PID_UNSEEN;
		/*
		 * Off the target map, so a non-target reusing the pid is not
		 * sampled. The leader's exit alone is not the process's (it may
		 * have called pthread_exit()), hence the check.
		 */
		if (!s->o->all && (pid_t)e.pid != s->o->child && !xp_procfs_alive(e.pid))
			bpf_map_delete_elem(s->targets_fd, &e.pid);
	}
	s->nexited = keep;
	s->round++;
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
		if (h.type == PERF_RECORD_EXIT) {
			uint32_t t[4];

			memcpy(t, hp + 1, 16);
			if (t[0] == t[2]) {
				err = exit_note(s, t[0]);
				if (err)
					break;
			}
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

	if (sy->s->o->mmap_seen)
		sy->s->o->mmap_seen(sy->s->o->mmap_seen_ctx, m);
	pid_note(sy->s, &ev);
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

static int sb_drain_all(struct session *s)
{
	for (int c = 0; c < s->ncpus; c++) {
		int err = sb_drain(s, &s->sb[c]);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Make sure a reader will know the mappings of pid for a sample at time. If
 * nothing told them yet, the side band may hold its fork or mmap records
 * already; failing that, read /proc/PID now, stamped to sort before the
 * sample (and its process's other samples of this round), but after what is
 * written. A process gone by then is not tried again.
 */
static void pid_resolve(struct session *s, uint32_t pid, uint64_t time)
{
	struct synth sy = {.s = s};
	int err;

	if (pid >= PID_LIMIT || s->pid_state[pid] != PID_UNSEEN)
		return;
	err = sb_drain_all(s);
	if (!err && s->pid_state[pid] == PID_UNSEEN) {
		sy.time = time > s->last_upto + LATE_NS ? time - LATE_NS : s->last_upto + 1;
		err = synth_process(&sy, (pid_t)pid);
		if (s->pid_state[pid] == PID_MAPPED)
			s->res->maps_late++;
		else
			s->pid_state[pid] = PID_GONE;
	}
	if (err && !s->err)
		s->err = err;
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

	/* Side band first: a sample's fork and mmap records are then mostly in already. */
	err = sb_drain_all(s);
	if (err)
		return err;
	err = ring_buffer__consume(s->rb);
	if (err < 0)
		return s->err ? s->err : err;
	if (s->err)
		return s->err;
	exits_apply(s);
	err = note_drops(s, upto == UINT64_MAX ? now_ns() : upto);
	if (err)
		return err;
	return stage_flush(s, upto);
}

/*
 * ~100 ms of samples at the sampling frequency on every CPU (at least 10
 * per CPU), records sized for stacks of up to 128 KiB live (deeper ones are
 * rare, and a sample's record is only as long as its stack), and room for 4
 * records of the largest size: at least 8 MiB, a power of two. A burst
 * beyond that is counted as lost. The reader touches every page of the ring
 * as it wraps, so the size is resident memory: 32 MiB at 1 kHz on 2 CPUs,
 * the 8 MiB floor for an agent at 19 Hz.
 */
#define RB_TYPICAL_STACK (128u << 10)

static size_t ringbuf_size(int ncpus, uint32_t freq, uint32_t stack_max)
{
	size_t typ = stack_max < RB_TYPICAL_STACK ? stack_max : RB_TYPICAL_STACK;
	size_t per_cpu = freq / 10 > 10 ? freq / 10 : 10;
	size_t want = (size_t)ncpus * per_cpu * (XP_SAMPLE_HDR_SIZE + typ + XP_SAMPLE_SLACK);
	size_t big = 4 * ((size_t)XP_SAMPLE_HDR_SIZE + stack_max + XP_SAMPLE_SLACK);
	size_t sz = 8u << 20;

	if (want < big)
		want = big;
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
	free(s->exited);
	free(s->pid_state);
	free(s->file_maps);
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
	s->self = (uint32_t)getpid();
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
	s->pid_state = calloc(PID_LIMIT, 1);
	s->file_maps = calloc(PID_LIMIT, 1);
	if (!s->arena || !s->arena2 || !s->ent || !s->sbtmp || !s->ev_fds || !s->links || !s->sb ||
	    !s->percpu || !s->pid_state || !s->file_maps)
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
	s->skel->rodata->stack_max = o->stack_size;
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

/*
 * The side band, the ring buffer, what already runs (from /proc), then the
 * sampling events with the sampler attached.
 */
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
	/*
	 * What existed before the start, stamped t_start so it sorts before every
	 * sample. The side band is armed already, the sampler not yet: a process
	 * that starts after this scan has its fork and exec records, and one that
	 * is sampled lived past the scan, so the scan saw it (only a process
	 * already exiting, its memory gone, can slip through; it is counted).
	 */
	{
		struct synth sy = {.s = s, .time = s->t_start};

		err = 0;
		if (o->all)
			err = xp_procfs_processes(synth_process, &sy);
		for (size_t i = 0; !err && i < o->npids; i++)
			err = synth_process(&sy, o->pids[i]);
		/*
		 * The held child: its name ("xprof-exec" until its exec) for the few
		 * samples before the exec, but not its mappings, which are xprof's own:
		 * a report would open (and ask debuginfod about) every library of xprof.
		 */
		if (!err && o->child > 0) {
			sy.pid = o->child;
			err = xp_procfs_threads(o->child, synth_thread, &sy);
		}
		if (err) {
			if (!s->sink_err) /* else the sink's error: its caller says which */
				snprintf(errbuf, errlen, "cannot read /proc: %s", strerror(-err));
			return err;
		}
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

	rbsz = ringbuf_size(s->ncpus, o->frequency, o->stack_size);
	err = session_alloc(s, rbsz);
	if (err) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	err = session_load(s, rbsz, errbuf, errlen);
	if (err)
		goto fail;
	s->t_start = now_ns();
	s->last_upto = s->t_start;
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
	res->vma_find = bpf_stat(s, XP_STAT_VMA_FIND);
	res->vma_fail = bpf_stat(s, XP_STAT_VMA_FAIL);
	res->drop_stack2 = bpf_stat(s, XP_STAT_DROP_STACK2);
	res->rb_bytes = bpf_stat(s, XP_STAT_RB_BYTES);
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
