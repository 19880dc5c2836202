// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sampler. xp_sample runs on every per-CPU cpu-clock (or -e) perf event
 * tick; for a target task it reserves a ring-buffer record, fills in the
 * task's user registers, a copy of the user stack from sp to the stack's end
 * (page by page, at most stack_max bytes, the record sized to fit what can
 * be copied), the interrupted stack when the handler runs on a sigaltstack,
 * and optionally the kernel stack, then submits it. xp_fork
 * adds the children of target processes to the target map (perf's
 * inheritance). The record layout is bpf/sample.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "bpf/sample.h"

#define PAGE_SZ	     4096u
#define PF_EXITING   0x00000004u
#define PF_KTHREAD   0x00200000u
#define PF_IO_WORKER 0x00000010u

/*
 * Knobs, set through the skeleton before load. stack_max bounds the user
 * stack bytes copied per sample (--stack-max).
 */
const volatile __u32 stack_max = XP_STACK_DEFAULT;
const volatile __u8 all_tasks = 0;   /* -a: every user task but our own */
const volatile __u8 want_kstack = 0; /* -g kernel */
const volatile __u32 self_tgid = 0;
/* Wake the reader only past this much queued data; it polls every few ms anyway. */
const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space before load */
} samples SEC(".maps");

/* tgid -> 1 for every target process; user space seeds it, xp_fork extends it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XP_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

/*
 * Where a copy of the user stack lands: a ring-buffer record reserved as a
 * dynptr, so its size can follow the live stack instead of a constant the
 * verifier knows.
 */
struct copy_ctx {
	struct bpf_dynptr *dp;
	__u64 base;  /* user address that lands at record offset 0 */
	__u32 off;   /* next record offset to fill */
	__u32 end;   /* record offset to stop at */
	__u32 pages; /* 1: copy page by page (a large read failed) */
};

#define COPY_BIG (16u * PAGE_SZ)

/*
 * One page of the copy, through bpf_loop(): [off, next page boundary or end).
 * A single large read fails as a whole when any page of it is missing (no
 * page faults in this context), which is why the copy goes page by page and
 * keeps what it got up to the first page that cannot be read.
 *
 * bpf_dynptr_data() hands out windows of a constant size only, so every
 * window is a whole page: the record has XP_SAMPLE_SLACK bytes of room after
 * its last stack byte for the window of the last, partial page.
 */
static long copy_step(__u32 i, struct copy_ctx *c)
{
	__u32 off = c->off, len;
	__u64 at = c->base + off;
	void *dst;

	if (off >= c->end)
		return 1;
	/*
	 * Deep stacks: one read of COPY_BIG bytes costs far less than 16 page
	 * reads; if any page of it is missing it fails whole, and the copy goes
	 * on page by page from there.
	 */
	if (!c->pages && c->end - off >= COPY_BIG) {
		dst = bpf_dynptr_data(c->dp, off, COPY_BIG);
		if (dst && !bpf_probe_read_user(dst, COPY_BIG, (const void *)at)) {
			c->off = off + COPY_BIG;
			return 0;
		}
		c->pages = 1;
	}
	len = PAGE_SZ - (__u32)(at & (PAGE_SZ - 1));
	if (len > c->end - off)
		len = c->end - off;
	dst = bpf_dynptr_data(c->dp, off, PAGE_SZ);
	if (!dst)
		return 1;
	/* Re-bound len where the verifier can see it (clang may widen the math above). */
	asm volatile("" : "+r"(len));
	len &= 2 * PAGE_SZ - 1;
	if (len > PAGE_SZ)
		return 1;
	if (bpf_probe_read_user(dst, len, (const void *)at))
		return 1;
	c->off = off + len;
	return 0;
}

/*
 * Copy user memory [src, src + (end - off)) into record offsets [off, end).
 * Returns the record offset where it stopped (< end when a page could not be
 * read).
 */
static __always_inline __u32 copy_user(struct bpf_dynptr *dp, __u32 off, __u32 end, __u64 src)
{
	struct copy_ctx c = {.dp = dp, .base = src - off, .off = off, .end = end};

	if (end > off)
		bpf_loop((end - off) / PAGE_SZ + 2, copy_step, &c, 0);
	return c.off;
}

/*
 * A thread's stack mapping, remembered so bpf_find_vma() runs once per stack,
 * not per sample; and whether the thread's last sample filled its first
 * record (probe_len()): a deep stack tends to stay deep, and its next sample
 * then skips the first record and its copy.
 */
struct stack_vma {
	__u64 lo, hi;
	__u32 deep;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct stack_vma);
} stack_vmas SEC(".maps");

static long vma_found(struct task_struct *task, struct vm_area_struct *vma, struct stack_vma *r)
{
	r->lo = vma->vm_start;
	r->hi = vma->vm_end;
	return 0;
}

/*
 * The user address where the stack that sp is on ends (its outermost frame
 * lies below it), or 0 when it is unknown. The main thread's frames end at
 * argc, where the kernel left sp at exec (mm->start_stack): no lookup at all,
 * and *kind is END_EXACT. MAIN_STACK_SLACK above it covers ld.so run as a command,
 * which moves _start's sp up past its own arguments; the envp and aux vectors
 * and up to 8 KiB of random padding above them hold no frames. Any other
 * stack ends at the end of its mapping at the latest: the mapping may be far
 * larger than the stack (a goroutine stack inside Go's 64 MiB heap arena, a
 * stack carved out of a custom allocator's or a JIT runtime's region), so
 * *kind is END_MAPPING (or END_DEEP) and the caller sizes its record by what
 * can be copied (see probe_len()). bpf_find_vma() takes the mmap lock with a trylock and, from
 * the interrupt a sample runs in, releases it through an irq_work (a
 * self-IPI, several microseconds on a VM), so its answer is kept per thread
 * and reused while sp stays inside that mapping.
 */
#define MAIN_STACK_SPAN	 (1ull << 30) /* sp this far below start_stack: still the main stack */
#define MAIN_STACK_SLACK 512u

#define END_MAPPING 0 /* the end of sp's mapping: an upper bound */
#define END_EXACT   1 /* where the stack ends (the main thread's, an altstack's top) */
#define END_DEEP    2 /* END_MAPPING, and the thread's last sample filled its first record */

static __always_inline __u64 stack_end(struct task_struct *task, struct mm_struct *mm, __u32 tgid,
				       __u32 tid, __u64 sp, __u32 *kind)
{
	struct stack_vma r = {}, *c;
	__u64 top;

	*kind = END_MAPPING;
	if (tid == tgid) {
		top = mm->start_stack + MAIN_STACK_SLACK;
		if (top > mm->arg_start)
			top = mm->arg_start;
		if (sp < top && top - sp <= MAIN_STACK_SPAN) {
			*kind = END_EXACT;
			return top;
		}
	}
	c = bpf_map_lookup_elem(&stack_vmas, &tid);
	if (c && sp >= c->lo && sp < c->hi) {
		if (c->deep)
			*kind = END_DEEP;
		return c->hi;
	}
	stat_inc(XP_STAT_VMA_FIND);
	if (bpf_find_vma(task, sp, vma_found, &r, 0) || r.hi <= sp) {
		stat_inc(XP_STAT_VMA_FAIL);
		return 0;
	}
	bpf_map_update_elem(&stack_vmas, &tid, &r, BPF_ANY);
	return r.hi;
}

/*
 * Bytes to copy from sp up to end (0: unknown end), at most stack_max. Sets
 * XP_SAMPLE_F_STACK_CUT in *flags when the stack is longer than that.
 */
static __always_inline __u32 stack_want(__u64 sp, __u64 end, __u32 *flags)
{
	if (!end)
		return stack_max < XP_STACK_FALLBACK ? stack_max : XP_STACK_FALLBACK;
	if (end - sp > stack_max) {
		*flags |= XP_SAMPLE_F_STACK_CUT;
		return stack_max;
	}
	return end - sp;
}

/*
 * The size of the first record for a copy of want bytes whose end is only an
 * upper bound (END_MAPPING): XP_STACK_FALLBACK when want is larger. A record
 * holds its reserved size of the ring until the reader has passed it, however
 * few bytes the copy filled. Reserving want up front held stack_max per
 * sample while the copy stopped at the first unreadable page (a Go sample:
 * 1 MiB reserved, 6-35 KiB copied), the ring filled up, samples were
 * dropped, and so were the second records of sigaltstack samples. A copy that
 * fills the probe record is done again in a record of want bytes
 * (submit_grown(), and the same for segment 2 in submit_with_stack2()). The
 * next samples of that thread (END_DEEP) reserve want bytes at once, until
 * one copies less than the first record would have held (note_depth()).
 */
static __always_inline __u32 probe_len(__u32 want, __u32 kind)
{
	return kind == END_MAPPING && want > XP_STACK_FALLBACK ? XP_STACK_FALLBACK : want;
}

/* Remember whether a thread's stack was deeper than a first record (see probe_len()). */
static __always_inline void note_depth(__u32 tid, __u32 deep)
{
	struct stack_vma *c = bpf_map_lookup_elem(&stack_vmas, &tid);

	if (c)
		c->deep = deep;
}

/*
 * Find the outermost rt_sigframe in the copy of a sigaltstack: its ucontext's
 * uc_stack is {ss_sp = sas_ss_sp, ss_flags, ss_size = sas_ss_size} (at uc+16)
 * and its uc_mcontext.gregs[REG_RSP] (at uc+160, 18 words after ss_sp) is the
 * interrupted sp, which must lie outside the alternate stack. The outermost
 * frame is the one nearest the top, so the scan goes top down. Returns the
 * interrupted sp or 0.
 */
#define ALT_SCAN_WORDS 2048 /* 16 KiB below the top: covers the xsave area of any CPU */
#define SIGFRAME_WORDS 19   /* uc_stack.ss_sp .. uc_mcontext.gregs[REG_RSP] */

struct scan_ctx {
	struct bpf_dynptr *dp;
	__u64 ss_sp, ss_size;
	__u64 found;
	__u32 nw; /* words of the copy, which starts at record offset XP_SAMPLE_HDR_SIZE */
};

/*
 * One step of the scan, through bpf_loop(): an open-coded loop of 2048 steps
 * with three branches each leaves the verifier too many pending states.
 */
static long scan_step(__u32 i, struct scan_ctx *c)
{
	const __u64 *w;
	__u32 k;
	__u64 rsp;

	if (i + SIGFRAME_WORDS > c->nw)
		return 1;
	k = c->nw - SIGFRAME_WORDS - i;
	w = bpf_dynptr_data(c->dp, XP_SAMPLE_HDR_SIZE + k * 8, SIGFRAME_WORDS * 8);
	if (!w)
		return 1;
	if (w[0] != c->ss_sp || w[2] != c->ss_size)
		return 0;
	rsp = w[18];
	if (rsp >= c->ss_sp && rsp < c->ss_sp + c->ss_size)
		return 0; /* a nested frame: interrupted code was on the altstack too */
	c->found = rsp;
	return 1;
}

static __always_inline __u64 find_sigframe_sp(struct bpf_dynptr *dp, __u32 len, __u64 ss_sp,
					      __u64 ss_size)
{
	struct scan_ctx c = {.dp = dp, .ss_sp = ss_sp, .ss_size = ss_size, .nw = len / 8};

	if (c.nw < SIGFRAME_WORDS)
		return 0;
	bpf_loop(ALT_SCAN_WORDS, scan_step, &c, 0);
	return c.found;
}

/* Everything of a sample but its stack bytes. */
static __always_inline void fill_header(struct xp_sample *s, struct bpf_perf_event_data *ctx,
					struct pt_regs *regs, __u32 tgid, __u32 tid, __u64 t0)
{
	s->version = XP_SAMPLE_VERSION;
	s->flags = 0;
	s->time_ns = t0;
	s->pid = tgid;
	s->tid = tid;
	s->cpu = bpf_get_smp_processor_id();
	s->stack_len = 0;
	s->stack2_sp = 0;
	s->stack2_len = 0;
	s->kstack_len = 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	s->regs[XP_REG_AX] = regs->ax;
	s->regs[XP_REG_DX] = regs->dx;
	s->regs[XP_REG_CX] = regs->cx;
	s->regs[XP_REG_BX] = regs->bx;
	s->regs[XP_REG_SI] = regs->si;
	s->regs[XP_REG_DI] = regs->di;
	s->regs[XP_REG_BP] = regs->bp;
	s->regs[XP_REG_SP] = regs->sp;
	s->regs[XP_REG_R8] = regs->r8;
	s->regs[XP_REG_R9] = regs->r9;
	s->regs[XP_REG_R10] = regs->r10;
	s->regs[XP_REG_R11] = regs->r11;
	s->regs[XP_REG_R12] = regs->r12;
	s->regs[XP_REG_R13] = regs->r13;
	s->regs[XP_REG_R14] = regs->r14;
	s->regs[XP_REG_R15] = regs->r15;
	s->regs[XP_REG_IP] = regs->ip;

	/*
	 * The perf event's own regs tell where the tick landed; kernel text is in
	 * the upper half of the address space (the context only allows 8-byte
	 * reads, so cs's low bits are not at hand).
	 */
	if ((long)ctx->regs.ip < 0) {
		s->flags |= XP_SAMPLE_F_IN_KERNEL;
		if (want_kstack) {
			long n = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);

			if (n > 0) {
				s->kstack_len = n / 8;
				s->flags |= XP_SAMPLE_F_KSTACK;
			}
		}
	}
}

/* A record of size bytes; its size counts in XP_STAT_RB_BYTES. 0 or -errno. */
static __always_inline long reserve(__u32 size, struct bpf_dynptr *dp)
{
	long err = bpf_ringbuf_reserve_dynptr(&samples, size, 0, dp);

	if (!err)
		stat_add(XP_STAT_RB_BYTES, size);
	return err;
}

static __always_inline void submit(struct bpf_dynptr *dp)
{
	/*
	 * A wakeup per sample costs an irq_work self-IPI (a VM exit on virtual
	 * machines, ~8 us measured): user space polls on a timer and is woken
	 * only when the buffer fills up.
	 */
	if (bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		bpf_ringbuf_submit_dynptr(dp, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit_dynptr(dp, BPF_RB_NO_WAKEUP);
}

/*
 * Move a sample into a larger record: reserve one for len1 bytes of segment 1
 * and len2 of segment 2 (at sp2), copy src's header into it, drop src and
 * copy both segments again from user memory (the task is stopped: its memory
 * has not changed since src was filled). Returns 0 with *dst to be
 * submitted, or -1 when the ring buffer has no room: src is left as it was,
 * and *dst must still be discarded.
 */
static __always_inline int rerecord(struct bpf_dynptr *dst, struct bpf_dynptr *src, __u32 len1,
				    __u64 sp2, __u32 len2)
{
	struct xp_sample *s;
	__u32 end;

	if (reserve(XP_SAMPLE_HDR_SIZE + len1 + len2 + XP_SAMPLE_SLACK, dst))
		return -1;
	s = bpf_dynptr_data(dst, 0, XP_SAMPLE_HDR_SIZE);
	if (!s)
		return -1;
	bpf_dynptr_read(s, XP_SAMPLE_HDR_SIZE, src, 0, 0);
	bpf_ringbuf_discard_dynptr(src, 0);
	len1 = copy_user(dst, XP_SAMPLE_HDR_SIZE, XP_SAMPLE_HDR_SIZE + len1, s->regs[XP_REG_SP]) -
	       XP_SAMPLE_HDR_SIZE;
	s->stack_len = len1;
	s->stack2_sp = 0;
	s->stack2_len = 0;
	if (len2) {
		end = copy_user(dst, XP_SAMPLE_HDR_SIZE + len1, XP_SAMPLE_HDR_SIZE + len1 + len2,
				sp2);
		s->stack2_sp = sp2;
		s->stack2_len = end - (XP_SAMPLE_HDR_SIZE + len1);
	}
	return 0;
}

/*
 * A sample whose copy filled its probe record (probe_len()): the stack goes
 * on, so copy it again into a record of want bytes. Without room for that,
 * the probe record goes out, marked cut.
 */
static __always_inline void submit_grown(struct bpf_dynptr *dp, struct xp_sample *s, __u32 want)
{
	struct bpf_dynptr big;
	struct xp_sample *b;

	if (rerecord(&big, dp, want, 0, 0)) {
		bpf_ringbuf_discard_dynptr(&big, 0);
		s->flags |= XP_SAMPLE_F_STACK_CUT;
		submit(dp);
		return;
	}
	b = bpf_dynptr_data(&big, 0, XP_SAMPLE_HDR_SIZE);
	if (b && b->stack_len < want)
		b->flags |= XP_SAMPLE_F_STACK_SHORT;
	submit(&big);
}

/*
 * A sample of a handler on a sigaltstack whose interrupted stack was found at
 * sp2: the record dp holds segment 1 (len1 bytes) but has no room for
 * segment 2, whose length was unknown until the scan. Move it into a record
 * that fits both (rerecord()); segment 2's length follows probe_len() as the
 * first segment's does, and grows the same way. Without room, the first
 * record goes out alone.
 */
static __always_inline void submit_with_stack2(struct bpf_dynptr *dp, struct xp_sample *s,
					       struct task_struct *task, struct mm_struct *mm,
					       __u64 sp2)
{
	struct bpf_dynptr dp2, dp3;
	struct xp_sample *s2;
	__u32 len1 = s->stack_len, flags = 0, kind, len2, probe2;
	__u64 end;

	end = stack_end(task, mm, s->pid, s->tid, sp2, &kind);
	len2 = stack_want(sp2, end, &flags);
	if (len2 > stack_max - len1)
		len2 = stack_max - len1;
	probe2 = probe_len(len2, kind);
	if (rerecord(&dp2, dp, len1, sp2, probe2)) {
		bpf_ringbuf_discard_dynptr(&dp2, 0);
		stat_inc(XP_STAT_DROP_STACK2);
		submit(dp);
		return;
	}
	s2 = bpf_dynptr_data(&dp2, 0, XP_SAMPLE_HDR_SIZE);
	if (!s2 || !s2->stack2_len) {
		submit(&dp2);
		return;
	}
	s2->flags |= XP_SAMPLE_F_STACK2 | flags;
	if (s2->stack2_len < probe2 || probe2 == len2) {
		submit(&dp2);
		return;
	}
	/* Segment 2 filled its probe size: copy it whole. */
	len1 = s2->stack_len;
	if (rerecord(&dp3, &dp2, len1, sp2, len2)) {
		bpf_ringbuf_discard_dynptr(&dp3, 0);
		s2->flags |= XP_SAMPLE_F_STACK_CUT;
		submit(&dp2);
		return;
	}
	submit(&dp3);
}

SEC("perf_event")
int xp_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct task_struct *task;
	struct mm_struct *mm;
	struct pt_regs *regs;
	struct bpf_dynptr dp;
	struct xp_sample *s;
	__u32 want, len, flags = 0, kind = END_EXACT, off;
	__u64 sp, end, sp2 = 0, ss_sp, ss_size, t0;

	if (tid == 0)
		return 0;
	if (all_tasks) {
		if (tgid == self_tgid)
			return 0;
	} else if (!bpf_map_lookup_elem(&targets, &tgid)) {
		return 0;
	}
	task = bpf_get_current_task_btf();
	if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
		return 0; /* no user context to unwind */
	/* A BTF pointer: its fields are plain loads, not a probe-read helper call each. */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	t0 = bpf_ktime_get_ns();

	/*
	 * How much to copy, decided before the record is reserved: from sp to the
	 * end of its stack, so a shallow stack costs what it holds and a deep one
	 * is whole up to stack_max. When that end is only an upper bound, the
	 * record starts at the probe size and grows once the copy fills it
	 * (probe_len()). A task past exit_mm() (do_exit's exit_mmap path) has no
	 * user memory left: its sample carries registers only.
	 */
	sp = regs->sp;
	mm = task->mm;
	ss_sp = task->sas_ss_sp;
	ss_size = task->sas_ss_size;
	if (!mm) {
		want = 0;
	} else if (ss_size && sp >= ss_sp && sp < ss_sp + ss_size) {
		/* On a sigaltstack: the first copy ends at its top, memory above is unrelated. */
		flags |= XP_SAMPLE_F_ALTSTACK;
		want = stack_want(sp, ss_sp + ss_size, &flags);
	} else {
		end = stack_end(task, mm, tgid, tid, sp, &kind);
		want = stack_want(sp, end, &flags);
	}
	len = probe_len(want, kind);

	if (reserve(XP_SAMPLE_HDR_SIZE + len + XP_SAMPLE_SLACK, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		stat_inc(XP_STAT_DROP_RB);
		return 0;
	}
	s = bpf_dynptr_data(&dp, 0, XP_SAMPLE_HDR_SIZE);
	if (!s) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return 0;
	}
	fill_header(s, ctx, regs, tgid, tid, t0);
	off = copy_user(&dp, XP_SAMPLE_HDR_SIZE, XP_SAMPLE_HDR_SIZE + len, sp) - XP_SAMPLE_HDR_SIZE;
	s->stack_len = off;
	s->flags |= flags;
	if (off < len)
		s->flags |= XP_SAMPLE_F_STACK_SHORT;
	if (off == 0 && len)
		stat_inc(XP_STAT_READ_FAIL);
	if ((task->flags & PF_EXITING) && off == 0)
		s->flags |= XP_SAMPLE_F_EXITING;
	if ((flags & XP_SAMPLE_F_ALTSTACK) && !(sp & 7) && off < stack_max) {
		sp2 = find_sigframe_sp(&dp, off, ss_sp, ss_size);
		if (!sp2)
			stat_inc(XP_STAT_NO_SIGFRAME);
	}
	stat_inc(XP_STAT_SAMPLES);
	if (sp2)
		submit_with_stack2(&dp, s, task, mm, sp2);
	else if (off == len && len < want)
		submit_grown(&dp, s, want);
	else
		submit(&dp);
	if (kind == END_MAPPING && len < want && off == len)
		note_depth(tid, 1);
	else if (kind == END_DEEP && off < XP_STACK_FALLBACK)
		note_depth(tid, 0);
	stat_add(XP_STAT_SAMPLE_NS, bpf_ktime_get_ns() - t0);
	return 0;
}

/* perf's inheritance: a process forked by a target is a target too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(xp_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (all_tasks || ptgid == ctgid)
		return 0;
	if (bpf_map_lookup_elem(&targets, &ptgid))
		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
