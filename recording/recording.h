/* SPDX-License-Identifier: MIT */
/*
 * recording/: the event model every source yields (a live capture, a .xprof
 * file, a perf.data file); the .xprof format (xprof_file.h: writer, decoder) and both readers.
 *
 * The event model below is what every recording reader yields and what the
 * report pipeline consumes, whatever the file it came from. Readers own the
 * memory an event points to; it stays valid only during the callback.
 */
#ifndef XPROF_RECORDING_H
#define XPROF_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "bpf/sample.h"

#define XP_BUILD_ID_MAX 20
#define XP_EV_NREGS	XP_NREGS /* DWARF register order */
#define XP_EV_COMM_LEN	16

enum xp_ev_type {
	XP_EV_SAMPLE = 1,
	XP_EV_MMAP, /* an executable file mapping appeared */
	XP_EV_COMM, /* a thread's name; exec = true when it came from execve */
	XP_EV_FORK, /* a process or thread was created */
	XP_EV_EXIT, /* a process or thread ended */
	XP_EV_VDSO, /* the vDSO's image, once per distinct image */
	XP_EV_LOST, /* samples dropped before they reached the file */
	XP_EV_UID,  /* the user a process runs as, read from /proc by the recorder */
};

struct xp_ev_stack_seg {
	uint64_t start; /* user address of data[0] */
	const uint8_t *data;
	uint32_t len;
};

/*
 * xp_ev_sample.flags: the XP_SAMPLE_F_* bits of bpf/sample.h (bits 0..15), and
 * these, which readers set (bits 16..31).
 *
 * XP_EV_SAMPLE_F_CALLCHAIN: the sample carries no stack copy to unwind; the
 * recorder's own frame-pointer callchain (ustack, kstack) is its stack (perf
 * record -g; without -g, ustack holds the sampled ip alone).
 */
#define XP_EV_SAMPLE_F_CALLCHAIN (1u << 31)

struct xp_ev_sample {
	uint64_t time_ns;
	uint32_t pid, tid, cpu;
	uint32_t flags; /* XP_SAMPLE_F_* from bpf/sample.h, XP_EV_SAMPLE_F_* */
	uint64_t regs[XP_EV_NREGS];
	uint32_t nsegs; /* 0..2: [0] at regs[SP], [1] the interrupted stack */
	struct xp_ev_stack_seg segs[2];
	uint32_t nkstack;
	const uint64_t *kstack; /* kernel IPs, innermost first */
	uint32_t nuser;		/* XP_EV_SAMPLE_F_CALLCHAIN only: entries of ustack */
	const uint64_t *ustack; /* user IPs, innermost first: [0] the interrupted ip (exact),
				   then return addresses as the recorder's frame-pointer walk
				   found them (unchecked: a frame without a frame pointer is
				   skipped or ends the chain) */
	uint64_t period_ns;	/* time this sample stands for (1e9 / frequency) */
	uint32_t stack_shared;	/* for display only: top bytes of segs[0] the file took from the
				   thread's previous sample (.xprof v2); segs[0] is always whole */
};

struct xp_ev_mmap {
	uint64_t time_ns;
	uint32_t pid, tid;
	uint64_t start, len;   /* runtime address range */
	uint64_t pgoff;	       /* file offset of start */
	uint32_t prot;	       /* PROT_* */
	uint32_t build_id_len; /* 0: unknown */
	uint8_t build_id[XP_BUILD_ID_MAX];
	const char *path; /* "[vdso]", "//anon", or an absolute path */
};

struct xp_ev_comm {
	uint64_t time_ns;
	uint32_t pid, tid;
	bool exec;
	char comm[XP_EV_COMM_LEN];
};

struct xp_ev_task { /* XP_EV_FORK and XP_EV_EXIT */
	uint64_t time_ns;
	uint32_t pid, tid;
	uint32_t ppid, ptid; /* FORK only */
};

struct xp_ev_vdso {
	uint64_t start; /* address it was mapped at in the recording process */
	const uint8_t *image;
	uint32_t len;
};

struct xp_ev_lost {
	uint64_t time_ns;
	uint64_t count;
};

/* Whose process pid is, from time_ns on (its effective uid): a JIT map it wrote is owned by it. */
struct xp_ev_uid {
	uint64_t time_ns;
	uint32_t pid;
	uint32_t uid;
};

struct xp_event {
	enum xp_ev_type type;
	union {
		struct xp_ev_sample sample;
		struct xp_ev_mmap mmap;
		struct xp_ev_comm comm;
		struct xp_ev_task task;
		struct xp_ev_vdso vdso;
		struct xp_ev_lost lost;
		struct xp_ev_uid uid;
	};
};

/* Called once per event, in file order. Return 0 to go on, non-zero to stop (that value is
 * returned). */
typedef int (*xp_event_fn)(void *ctx, const struct xp_event *ev);

/* xp_rec_info.flags */
#define XP_REC_F_SYSTEM_WIDE  (1u << 0) /* -a: every process */
#define XP_REC_F_KERNEL_STACK (1u << 1) /* samples in the kernel carry kernel IPs */
#define XP_REC_F_INHERIT      (1u << 2) /* processes forked by targets were followed */
#define XP_REC_F_WRITE_ERROR  (1u << 3) /* the writer stopped at a write error (a full disk) */

/* Settings and counts of a recording, as `xprof info` prints them. */
struct xp_rec_info {
	uint32_t version;
	uint32_t frequency;   /* Hz */
	uint32_t stack_size;  /* bytes requested per sample */
	uint32_t flags;	      /* XP_REC_F_* */
	uint32_t write_errno; /* with XP_REC_F_WRITE_ERROR: why the file ends early (ENOSPC) */
	uint64_t start_time_ns, end_time_ns;
	uint64_t
	    start_real_ns; /* CLOCK_REALTIME at start_time_ns; 0: unknown (perf.data without -k) */
	char event[32];	   /* "cpu-clock" */
	char target[256];  /* "-p 1234", "-a", "-- ./prog arg" */
	/* counts, filled in by the reader as it reads */
	uint64_t samples, lost, processes, mappings;
	uint64_t stack_bytes;  /* user stack bytes the samples carry (both segments) */
	uint64_t stack_stored; /* of which stored in the file (.xprof v2 shares the rest) */
	/*
	 * Where the reader stopped before the end of the file (skip_bytes 0 if it did not): a
	 * record cut short (a killed record) or a corrupt one. Everything before it was
	 * delivered; nothing after it is read, because a bad record's size cannot be trusted
	 * and records carry no marker to resynchronise on.
	 */
	uint64_t skip_offset; /* file offset of the first record not delivered */
	uint64_t skip_bytes;  /* bytes from there to the end of the file */
	uint32_t skip_type;   /* that record's type as stored (0: its header was cut) */
	const char *skip_why; /* static: why it was rejected; NULL: the file was cut there */
};

/*
 * One line for the user about what a reader skipped, without a "xprof: " prefix or newline:
 * "PATH: corrupt record at offset N (type T): skipped the last M bytes (WHY)", or "truncated
 * record ..." for a cut. Writes "" and returns false when nothing was skipped.
 */
bool xp_rec_info_skipped(const struct xp_rec_info *info, const char *path, char *buf, size_t cap);

/*
 * Read a recording, .xprof or perf.data (told apart by their magic), calling
 * fn for every event (fn NULL: only count, into info). info, if not NULL, receives the settings and
 * counts. A truncated file (a killed record) or one with a corrupt record yields the records
 * before the cut or the bad record and returns 0; info->skip_* say where it stopped. Errors:
 * -ENOENT, -EACCES (open), -EINVAL with *why set to a static message for a foreign file or a
 * corrupt header (nothing readable), -ENOMEM, or fn's non-zero value.
 */
int xp_recording_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		      const char **why);

/*
 * queue.c: a sink that runs fn on a thread of its own, behind a bounded
 * queue of events (encoded as .xprof records, so fn sees what a reader of the
 * file would; sample periods from frequency). A slow consumer then never
 * stalls the producer (a live capture draining its rings) unless max_bytes
 * are queued. fn's first non-zero value is returned by later
 * xp_queue_event() calls and by xp_queue_finish(); the events after it are
 * dropped.
 */
struct xp_queue;

/* NULL with errno set (ENOMEM, or pthread_create's). */
struct xp_queue *xp_queue_new(xp_event_fn fn, void *ctx, uint32_t frequency, size_t max_bytes);
/* An xp_event_fn (queue as ctx): copy ev into the queue. 0, -ENOMEM, or fn's error. */
int xp_queue_event(void *queue, const struct xp_event *ev);
/* Wait until fn has seen every event queued. 0 or fn's first non-zero value. */
int xp_queue_finish(struct xp_queue *q);
/* How often the producer waited for room. */
uint64_t xp_queue_stalls(const struct xp_queue *q);
/* Stop (dropping what fn has not seen) and free. Accepts NULL. */
void xp_queue_free(struct xp_queue *q);

#endif /* XPROF_RECORDING_H */
