// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sampler. xp_sample runs on every per-CPU cpu-clock (or -e) perf event
 * tick; for a target task it reserves one ring-buffer record, fills in the
 * task's user registers, a copy of the user stack from sp upward (as much as
 * is mapped, page by page), the interrupted stack when the handler runs on a
 * sigaltstack, and optionally the kernel stack, then submits it. xp_fork
 * adds the children of target processes to the target map (perf's
 * inheritance). The record layout is bpf/sample.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "bpf/sample.h"

#define PAGE_SZ	     4096u
#define PF_KTHREAD   0x00200000u
#define PF_IO_WORKER 0x00000010u

/*
 * Knobs, set through the skeleton before load. stack_size is read from the
 * frozen rodata map, so the verifier sees it as a constant and accepts it as
 * bpf_ringbuf_reserve()'s size.
 */
const volatile __u32 stack_size = XP_STACK_DEFAULT;
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
 * Copy user memory [src, src + limit - off) into dst[off..limit), page by
 * page, stopping at the first page that cannot be read (unmapped, or not
 * present: no page faults in this context). A single large read fails as a
 * whole when any page of it is missing, which is why the copy goes page by
 * page. Returns the new off (< limit when it stopped early).
 *
 * The reservation has XP_SAMPLE_SLACK bytes beyond stack_size: the verifier
 * bounds off and len separately (off < limit <= stack_size, len <= 4096), so
 * it needs room for off + len without knowing off + len <= limit.
 */
static __always_inline __u32 copy_pages(__u8 *dst, __u32 off, __u32 limit, __u64 src)
{
	__u64 base = src - off; /* user address that lands at dst[0] */

	for (int i = 0; i < XP_STACK_MAX / PAGE_SZ + 1; i++) {
		__u64 at = base + off;
		__u32 len, rem;

		if (off >= limit || off >= stack_size)
			break;
		rem = limit - off;
		len = PAGE_SZ - (__u32)(at & (PAGE_SZ - 1));
		if (len > rem)
			len = rem;
		/* Re-bound len where the verifier can see it (clang may widen the math above). */
		asm volatile("" : "+r"(len));
		len &= 2 * PAGE_SZ - 1;
		if (len > PAGE_SZ)
			break;
		if (bpf_probe_read_user(dst + off, len, (const void *)at))
			break;
		off += len;
	}
	return off;
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

struct scan_ctx {
	const __u8 *stack;
	__u64 ss_sp, ss_size;
	__u64 found;
	__u32 nw;
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

	if (i + 19 > c->nw)
		return 1;
	k = c->nw - 19 - i;
	k &= XP_STACK_MAX / 8 - 1;
	if (k > stack_size / 8 - 19)
		return 1;
	w = (const __u64 *)(c->stack + k * 8);
	if (w[0] != c->ss_sp || w[2] != c->ss_size)
		return 0;
	rsp = w[18];
	if (rsp >= c->ss_sp && rsp < c->ss_sp + c->ss_size)
		return 0; /* a nested frame: interrupted code was on the altstack too */
	c->found = rsp;
	return 1;
}

static __always_inline __u64 find_sigframe_sp(const __u8 *stack, __u32 len, __u64 ss_sp,
					      __u64 ss_size)
{
	struct scan_ctx c = {.stack = stack, .ss_sp = ss_sp, .ss_size = ss_size, .nw = len / 8};

	if (c.nw < 19)
		return 0;
	bpf_loop(ALT_SCAN_WORDS, scan_step, &c, 0);
	return c.found;
}

SEC("perf_event")
int xp_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct task_struct *task;
	struct pt_regs *regs;
	struct xp_sample *s;
	__u8 *stack;
	__u32 limit, off;
	__u64 sp, ss_sp, ss_size, t0;

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

	s = bpf_ringbuf_reserve(&samples, XP_SAMPLE_HDR_SIZE + stack_size + XP_SAMPLE_SLACK, 0);
	if (!s) {
		stat_inc(XP_STAT_DROP_RB);
		return 0;
	}
	s->version = XP_SAMPLE_VERSION;
	s->flags = 0;
	t0 = bpf_ktime_get_ns();
	s->time_ns = t0;
	s->pid = tgid;
	s->tid = tid;
	s->cpu = bpf_get_smp_processor_id();
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

	sp = s->regs[XP_REG_SP];
	stack = (__u8 *)(s + 1);
	limit = stack_size;
	ss_sp = task->sas_ss_sp;
	ss_size = task->sas_ss_size;
	if (ss_size && sp >= ss_sp && sp < ss_sp + ss_size) {
		/* Bound the first copy by the altstack's top: memory above it is unrelated. */
		s->flags |= XP_SAMPLE_F_ALTSTACK;
		if (ss_sp + ss_size - sp < limit)
			limit = ss_sp + ss_size - sp;
	}
	off = copy_pages(stack, 0, limit, sp);
	s->stack_len = off;
	if (off < limit)
		s->flags |= XP_SAMPLE_F_STACK_SHORT;
	if (off == 0)
		stat_inc(XP_STAT_READ_FAIL);

	if ((s->flags & XP_SAMPLE_F_ALTSTACK) && !(sp & 7) && off < stack_size) {
		__u64 sp2 = find_sigframe_sp(stack, off, ss_sp, ss_size);

		if (sp2) {
			__u32 end = copy_pages(stack, off, stack_size, sp2);

			s->stack2_sp = sp2;
			s->stack2_len = end - off;
			if (end > off)
				s->flags |= XP_SAMPLE_F_STACK2;
		} else {
			stat_inc(XP_STAT_NO_SIGFRAME);
		}
	}
	stat_inc(XP_STAT_SAMPLES);
	stat_add(XP_STAT_SAMPLE_NS, bpf_ktime_get_ns() - t0);
	/*
	 * A wakeup per sample costs an irq_work self-IPI (a VM exit on virtual
	 * machines, ~8 us measured): user space polls on a timer and is woken
	 * only when the buffer fills up.
	 */
	if (bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		bpf_ringbuf_submit(s, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
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
