/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record contract between the BPF sampler (bpf/xprof.bpf.c) and user
 * space: what one sample in the ring buffer looks like.
 *
 * This header includes nothing. The includer provides __u8.. __u64
 * (vmlinux.h on the BPF side, <linux/types.h> in user space).
 *
 * Rules: fixed-width fields only, largest first, padding named, every size
 * a macro, a version first so a reader can refuse a mismatch.
 *
 * Registers are stored in DWARF register order (x86-64 psABI), so the
 * unwinder can index them with the register numbers CFI uses.
 */
#ifndef XPROF_BPF_SAMPLE_H
#define XPROF_BPF_SAMPLE_H

#define XP_SAMPLE_VERSION 1

/* DWARF register numbers, x86-64 psABI figure 3.36. */
#define XP_REG_AX  0
#define XP_REG_DX  1
#define XP_REG_CX  2
#define XP_REG_BX  3
#define XP_REG_SI  4
#define XP_REG_DI  5
#define XP_REG_BP  6
#define XP_REG_SP  7
#define XP_REG_R8  8
#define XP_REG_R9  9
#define XP_REG_R10 10
#define XP_REG_R11 11
#define XP_REG_R12 12
#define XP_REG_R13 13
#define XP_REG_R14 14
#define XP_REG_R15 15
#define XP_REG_IP  16 /* the return-address column */
#define XP_NREGS   17

#define XP_COMM_LEN   16
#define XP_KSTACK_MAX 127 /* kernel IPs kept with -g kernel */

/*
 * Bounds of the user stack copy (--stack-max, or --stack-size). A sample
 * copies its stack from sp to the stack's end, at most this many bytes; 8 MiB
 * is the usual stack rlimit. When the end is unknown (the stack's mapping
 * could not be looked up), it copies as far as it is mapped, up to
 * XP_STACK_FALLBACK. When the end is only the end of a mapping, which can be
 * far larger than the stack (Go's heap arena), the sample's record is first
 * XP_STACK_FALLBACK long and is made again at full length only when the copy
 * fills it (a thread whose last sample did so gets full length at once).
 */
#define XP_STACK_MIN	  1024u
#define XP_STACK_DEFAULT  (1u << 20)
#define XP_STACK_MAX	  (8u << 20)
#define XP_STACK_FALLBACK 65536u

/* xp_sample.flags */
#define XP_SAMPLE_F_IN_KERNEL	(1u << 0) /* the sample interrupted the task in the kernel */
#define XP_SAMPLE_F_KSTACK	(1u << 1) /* kstack[] holds kstack_len kernel IPs */
#define XP_SAMPLE_F_ALTSTACK	(1u << 2) /* sp was on the task's sigaltstack */
#define XP_SAMPLE_F_STACK2	(1u << 3) /* a second segment follows (see stack2_*) */
#define XP_SAMPLE_F_STACK_SHORT (1u << 4) /* the copy stopped early: a page could not be read */
#define XP_SAMPLE_F_STACK_CUT	(1u << 5) /* the stack is longer than the copy's bound (below) */
#define XP_SAMPLE_F_EXITING	(1u << 6) /* the task is exiting and has no user memory left */
/*
 * STACK_CUT's bound is stack_max, or XP_STACK_FALLBACK for a copy that filled
 * its first record when the ring buffer had no room for the full-length one.
 */

/*
 * One sample. It is followed, in the same ring-buffer record, by
 * stack_len bytes copied from user memory at regs[XP_REG_SP] upward and then
 * stack2_len bytes copied from user memory at stack2_sp upward. stack2 is the
 * interrupted stack of a signal handler that runs on a sigaltstack: the copy
 * from the handler's sp upward never reaches it.
 */
struct xp_sample {
	__u64 time_ns;		     /* CLOCK_MONOTONIC, bpf_ktime_get_ns() */
	__u64 regs[XP_NREGS];	     /* user registers, DWARF order */
	__u64 stack2_sp;	     /* user address of stack2's first byte */
	__u64 kstack[XP_KSTACK_MAX]; /* kernel IPs, innermost first */
	__u32 version;		     /* XP_SAMPLE_VERSION */
	__u32 flags;		     /* XP_SAMPLE_F_* */
	__u32 pid;		     /* tgid */
	__u32 tid;
	__u32 cpu;
	__u32 stack_len;  /* valid bytes of the copy at regs[SP] */
	__u32 stack2_len; /* valid bytes of the copy at stack2_sp */
	__u32 kstack_len; /* entries used in kstack[] */
	char comm[XP_COMM_LEN];
};

#define XP_SAMPLE_HDR_SIZE 1216 /* sizeof(struct xp_sample) */

/*
 * A ring-buffer record is XP_SAMPLE_HDR_SIZE + the bytes the sampler meant
 * to copy (from sp to the stack's end, at most stack_max, or first
 * XP_STACK_FALLBACK when that end is a mapping's) + XP_SAMPLE_SLACK: the
 * page-by-page copy writes through whole-page windows of the record.
 * Only stack_len + stack2_len of the bytes after the header are valid.
 */
#define XP_SAMPLE_SLACK 4096u

/* Counters the BPF program keeps in a per-CPU array (map "stats"). */
#define XP_STAT_SAMPLES	    0 /* samples of target tasks written */
#define XP_STAT_DROP_RB	    1 /* ring buffer full: sample dropped */
#define XP_STAT_READ_FAIL   2 /* no byte of the user stack could be read */
#define XP_STAT_NO_SIGFRAME 3 /* on a sigaltstack, but no signal frame found in the copy */
#define XP_STAT_SAMPLE_NS   4 /* time spent filling samples, ns (bpf_ktime_get_ns deltas) */
#define XP_STAT_VMA_FIND    5 /* stack mappings looked up (bpf_find_vma), once per thread stack */
#define XP_STAT_VMA_FAIL    6 /* ... that failed (mmap lock busy): the copy went as far as mapped */
#define XP_STAT_DROP_STACK2 7 /* ring buffer full for the second segment: sent without it */
#define XP_STAT_RB_BYTES    8 /* ring-buffer bytes reserved (records submitted or discarded) */
#define XP_STAT_NR	    9

#endif /* XPROF_BPF_SAMPLE_H */
