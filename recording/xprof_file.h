/* SPDX-License-Identifier: MIT */
/*
 * The .xprof raw recording format, shared by its writer (xprof_file.c, used
 * by xprof record) and its reader (recording.c): the one definition of the
 * on-disk layout, as orc_types.h is for ORC. docs/FORMAT.md describes it in
 * prose; keep the two in step.
 *
 * A file is one struct xpf_header, then records until the end of the file.
 * Every record starts with struct xpf_rec {type, size}; size counts the
 * whole record, header included, and is a multiple of 8, so records stay
 * 8-byte aligned. A reader skips record types it does not know. All
 * integers are little-endian (the recording machine's order, x86-64).
 */
#ifndef XPROF_XPROF_FILE_H
#define XPROF_XPROF_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "recording/recording.h"

#define XPF_MAGIC	"XPROFREC"
#define XPF_MAGIC_LEN	8
#define XPF_VERSION	3 /* written; readers accept 1, 2 and 3 */
#define XPF_VERSION_MIN 1

struct xpf_header {
	char magic[XPF_MAGIC_LEN]; /* XPF_MAGIC, no NUL */
	uint32_t version;	   /* XPF_VERSION */
	uint32_t hdr_size;	   /* bytes before the first record, multiple of 8 */
	uint64_t start_time_ns;	   /* CLOCK_MONOTONIC, the clock of every event */
	uint64_t start_real_ns;	   /* CLOCK_REALTIME at start_time_ns */
	uint32_t frequency;	   /* Hz */
	uint32_t stack_size;	   /* bytes of user stack requested per sample */
	uint32_t flags;		   /* XP_REC_F_* */
	uint32_t sample_version;   /* XP_SAMPLE_VERSION of the sampler */
	uint32_t ncpus;
	uint32_t write_errno; /* with XP_REC_F_WRITE_ERROR: the errno that stopped the writer */
	char event[32];	      /* NUL-terminated */
	char target[256];     /* NUL-terminated */
	char kernel[64];      /* uname -r, NUL-terminated */
};
#define XPF_HEADER_SIZE 408

enum xpf_rec_type {
	XPF_REC_SAMPLE = 1,
	XPF_REC_MMAP = 2,
	XPF_REC_COMM = 3,
	XPF_REC_FORK = 4,
	XPF_REC_EXIT = 5,
	XPF_REC_VDSO = 6,
	XPF_REC_LOST = 7,
	XPF_REC_END = 8,
	XPF_REC_UID = 9,
};

struct xpf_rec {
	uint32_t type; /* enum xpf_rec_type */
	uint32_t size; /* whole record in bytes, >= 8, multiple of 8 */
};

/*
 * Followed by kstack[nkstack] (u64), stack_len - stack_shared bytes (the low
 * part of segment 1), stack2_len bytes, padding.
 *
 * Segment 1 is user memory [sp, top) with sp = regs[7] and top = sp +
 * stack_len. Version 2 lets a sample leave out its top stack_shared bytes,
 * [top - stack_shared, top), because they equal the same addresses in the
 * previous sample of the same thread (the outer frames of callers that are
 * still suspended do not change between samples):
 *
 *  - "previous sample" P of a SAMPLE S: the last SAMPLE record before S in
 *    file order with the same tid, with no EXIT record of that tid between P
 *    and S. P's segment 1 is its full (reconstructed) segment 1.
 *  - stack_shared <= stack_len, and the shared range lies inside P's segment
 *    1: P.sp <= top - stack_shared and top <= P.top. Writers only share when
 *    the bytes are equal; they may always write a sample in full (0).
 *  - A reader keeps, per tid, the last segment 1 it reconstructed, drops it at
 *    the tid's EXIT record, and treats stack_shared > 0 without such a P, or
 *    with a range P does not cover, as a corrupt file.
 *  - Segment 2 is always stored in full.
 *
 * In version 1 the field is reserved (0) and every segment is stored in full.
 *
 * Version 3 lets the shared range have holes: with XPF_SAMPLE_F_PATCHES in
 * flags, a struct xpf_patches and its npatch struct xpf_patch follow the
 * kernel IPs, then the patches' bytes (their lens added up, patch_bytes),
 * then the stored low part. Patch i overwrites [top - off, top - off + len)
 * of the rebuilt segment 1: 0 < len <= off <= stack_shared. A deep stack
 * whose outer frames changed in a few words (a loop counter, a timestamp)
 * still shares the rest.
 */
#define XPF_SAMPLE_F_PATCHES (1u << 31) /* file only: never an XP_SAMPLE_F_* of the sampler */
#define XPF_PATCH_MAX	     256	/* patches per sample, at most */

struct xpf_patches {
	uint32_t npatch, patch_bytes;
};

struct xpf_patch {
	uint32_t off, len;
};
struct xpf_sample {
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint64_t regs[XP_EV_NREGS]; /* DWARF order; regs[7] is sp = segment 1's address */
	uint64_t stack2_sp;
	uint32_t pid, tid, cpu, flags; /* flags: XP_SAMPLE_F_* */
	/* stack_len: segment 1's length in memory, the shared part included;
	 * stack_shared: its top bytes that are not stored (version 2) */
	uint32_t stack_len, stack2_len, nkstack, stack_shared;
};
#define XPF_SAMPLE_SIZE 192

/* Followed by path_len bytes of path (NUL included), padding. */
struct xpf_mmap {
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint64_t start, len, pgoff;
	uint32_t pid, tid;
	uint32_t prot;
	uint32_t build_id_len;
	uint8_t build_id[XP_BUILD_ID_MAX];
	uint32_t path_len;
};
#define XPF_MMAP_SIZE 80

struct xpf_comm {
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint32_t pid, tid;
	uint32_t exec;
	uint32_t reserved;
	char comm[XP_EV_COMM_LEN]; /* NUL-terminated */
};
#define XPF_COMM_SIZE 48

struct xpf_task { /* XPF_REC_FORK and XPF_REC_EXIT */
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint32_t pid, tid, ppid, ptid;
};
#define XPF_TASK_SIZE 32

/* Followed by len bytes of the vDSO image, padding. */
struct xpf_vdso {
	struct xpf_rec hdr;
	uint64_t start;
	uint32_t len;
	uint32_t reserved;
};
#define XPF_VDSO_SIZE 24

struct xpf_lost {
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint64_t count;
};
#define XPF_LOST_SIZE 24

/*
 * The effective uid of process pid from time_ns on, read from /proc/PID/status when the
 * recorder first saw the process and after each exec. Older readers skip it.
 */
struct xpf_uid {
	struct xpf_rec hdr;
	uint64_t time_ns;
	uint32_t pid;
	uint32_t uid;
};
#define XPF_UID_SIZE 24

/* The last record of a complete file; a killed record has none. */
struct xpf_end {
	struct xpf_rec hdr;
	uint64_t end_time_ns;
	uint64_t samples;	/* sample records written */
	uint64_t lost;		/* sum of the LOST records */
	uint64_t lost_sideband; /* mmap/comm/task events the kernel dropped */
};
#define XPF_END_SIZE 40

/*
 * Encode ev as one record into buf (cap bytes). Returns the record's size,
 * or the size it needs if that is larger than cap (nothing written then).
 * An XP_EV_SAMPLE's segs[0].start is not stored: it is regs[SP]. A SAMPLE is
 * encoded in full (stack_shared 0); the writer shares stack bytes as it
 * appends, since only it knows the file order.
 */
size_t xpf_encode(const struct xp_event *ev, void *buf, size_t cap);

/*
 * The writer: a header, then records appended through stdio, flushed on
 * demand. It remembers the last segment 1 written for a bounded number of
 * tids (1024, and at most XPF_SHARE_MEM bytes in all, allocated as the tids'
 * stacks need) and
 * writes each SAMPLE with the top bytes it shares with that segment left
 * out; a tid it does not remember is written in full.
 */
struct xpf_writer;
#define XPF_SHARE_MEM (64u << 20)

/*
 * Create or open path in place and hold an exclusive lock on it for the
 * writer's life (lib.h, XL_OUT_STREAM), truncate it, and write the header
 * from info's settings (version, frequency, stack_size, flags,
 * start_time_ns, event, target). Returns NULL with errno set: EBUSY (another
 * writer holds path), ELOOP (another user's link), EPERM (another user's
 * file), or the error of the create or the first write.
 *
 * The first failed write (ENOSPC) is final: later calls return it again,
 * and it is recorded in the header (XP_REC_F_WRITE_ERROR, write_errno) so
 * the prefix on disk reads as cut short by that error.
 */
struct xpf_writer *xpf_writer_open(const char *path, const struct xp_rec_info *info,
				   uint32_t ncpus);
/*
 * Append len bytes of already encoded records (whole records, as
 * xpf_encode makes them: SAMPLEs in full). 0 or -errno of the write.
 */
int xpf_writer_append(struct xpf_writer *w, const void *rec, size_t len);
/* Encode and append one event. 0, -ENOMEM or -errno of the write. */
int xpf_writer_event(struct xpf_writer *w, const struct xp_event *ev);
/* Make everything appended so far readable by others. 0 or -errno (-ENOSPC). */
int xpf_writer_flush(struct xpf_writer *w);
/*
 * Write the END record with these counts, fsync, close and unlock. 0 or
 * -errno (-ENOSPC); frees w either way.
 */
int xpf_writer_close(struct xpf_writer *w, uint64_t end_time_ns, uint64_t samples, uint64_t lost,
		     uint64_t lost_sideband);
/* Close without an END record (error path). Accepts NULL. */
void xpf_writer_free(struct xpf_writer *w);

/*
 * Decode one record (rec, size bytes as its header says, 8-byte aligned)
 * of a file of this version recorded at frequency Hz into ev, which points
 * into rec. A SAMPLE's segs[0].data holds only its stored low part, len -
 * stack_shared bytes: a reader of a version 2 file rebuilds the shared top
 * from the thread's previous sample (xpf_read_mem does); xpf_encode's
 * records share nothing. A version 3 sample with patches is refused: only
 * xpf_read_mem, which rebuilds stacks, applies them. Returns 1 for an event,
 * 0 for a record that is none (END, a type this reader does not know),
 * -EINVAL if sizes do not fit.
 */
int xpf_decode(const void *rec, size_t size, uint32_t version, uint32_t frequency,
	       struct xp_event *ev);

/*
 * Parse an .xprof image in memory (8-byte aligned), calling fn per event.
 * Same contract as xp_recording_read(): a truncated tail or a corrupt
 * record yields the records before it and 0, with info->skip_* set; a
 * foreign image or a bad header gives -EINVAL and *why. Records of the
 * known types must be exactly as long as their contents padded to 8 bytes
 * (every writer makes them so), which catches most damage to a size field
 * at the record it hits. A SAMPLE's segment 1 is always whole: shared bytes
 * are filled in from the reader's own copy of the thread's previous stack
 * (so it may not point into buf). pos, if not NULL, is set to the offset of
 * each record before fn sees its event: everything before it is done with,
 * so a caller that mapped the file may give those pages back.
 */
int xpf_read_mem(const void *buf, size_t len, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		 const char **why, size_t *pos);

#endif /* XPROF_XPROF_FILE_H */
