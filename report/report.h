/* SPDX-License-Identifier: MIT */
/*
 * report/: a profile (samples aggregated by unique stack) and its writers:
 * folded stacks, flamegraph SVG, pprof (.pb.gz) and a top-N text table,
 * and the file writer that picks one by the output's extension.
 *
 * The model follows pprof's: mappings, functions, locations (an address in
 * a mapping, with one line per inlined frame) and samples (a stack of
 * location ids plus counts). Every id is an index, and every string is
 * interned in the profile, so callers may pass temporaries. Build the
 * profile, then write it as many times and formats as needed.
 */
#ifndef XPROF_REPORT_H
#define XPROF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum rep_kind {
	REP_KIND_USER = 0,
	REP_KIND_KERNEL,  /* folded suffix _[k] */
	REP_KIND_JIT,	  /* folded suffix _[j] */
	REP_KIND_UNKNOWN, /* "[unknown]", "[libfoo.so+0x1a2b]" */
	REP_KIND_NR
};

struct rep_mapping {
	uint64_t start, limit; /* runtime range */
	uint64_t offset;       /* file offset of start */
	const char *file;
	const char *build_id; /* hex, or NULL */
};

struct rep_line {
	uint32_t function; /* id from rep_profile_function() */
	uint32_t line;	   /* 0: unknown */
	bool inlined;	   /* folded suffix _[i] */
};

/* A sample's identity beyond its stack: the folded root and the filters use it. */
struct rep_sample_key {
	uint32_t pid, tid;
	const char *comm;
	/*
	 * A label set of the profile (rep_profile_labelset()), 0 for none: the
	 * agent's host, service, container, exe. Part of the stack's identity;
	 * pprof writes the pairs as string labels, the other writers ignore them.
	 */
	uint32_t labels;
};

/* One string label of a sample, e.g. service=nginx. */
struct rep_label {
	const char *key, *value;
};

#define REP_LABELS_MAX 16 /* pairs in one label set */

struct rep_profile;

/* period_ns: what one sample stands for (cpu/nanoseconds = count * period_ns). NULL/ENOMEM. */
struct rep_profile *rep_profile_new(uint64_t period_ns);
void rep_profile_free(struct rep_profile *p);

/* Each returns 0 and an id in *id, or -ENOMEM. Equal inputs give equal ids. */
int rep_profile_mapping(struct rep_profile *p, const struct rep_mapping *m, uint32_t *id);
int rep_profile_function(struct rep_profile *p, const char *name, const char *file,
			 enum rep_kind kind, uint32_t *id);
/*
 * An address in a mapping (mapping UINT32_MAX: none, e.g. kernel) with its
 * frames: lines[0] the innermost (inlined) one, lines[nlines - 1] the
 * function the address is in.
 */
int rep_profile_location(struct rep_profile *p, uint32_t mapping, uint64_t addr,
			 const struct rep_line *lines, unsigned nlines, uint32_t *id);

/*
 * Add count samples of one stack: locs[0] the leaf, locs[nlocs - 1] the
 * root. Stacks are deduplicated per key. 0 or -ENOMEM.
 */
int rep_profile_add(struct rep_profile *p, const struct rep_sample_key *key, const uint32_t *locs,
		    unsigned nlocs, uint64_t count);

uint64_t rep_profile_total(const struct rep_profile *p); /* samples added */

/*
 * Intern a label set: n (at most REP_LABELS_MAX) key=value pairs with
 * distinct keys, kept in the order given. Equal sets give equal ids; the
 * empty set is id 0. 0, -EINVAL (too many pairs, a NULL string), -ENOMEM.
 */
int rep_profile_labelset(struct rep_profile *p, const struct rep_label *l, unsigned n,
			 uint32_t *id);

/*
 * The pairs of set id into l (at most max of them; strings owned by p, valid
 * until it changes) and their number in *n. 0, -ENOENT (no such set).
 */
int rep_profile_labels(const struct rep_profile *p, uint32_t id, struct rep_label *l, unsigned max,
		       unsigned *n);

/* Whether a stack of src goes into rep_profile_merge()'s dst. */
typedef bool (*rep_keep_fn)(void *ctx, const struct rep_profile *src,
			    const struct rep_sample_key *key);

/*
 * Add every stack of src that keep accepts (keep NULL: all) to dst, with its
 * mappings, functions, locations and label set re-interned in dst: one
 * profile per service out of a window's. Times and period stay dst's.
 * 0 or -ENOMEM (dst then holds part of src).
 */
int rep_profile_merge(struct rep_profile *dst, const struct rep_profile *src, rep_keep_fn keep,
		      void *ctx);

/*
 * When the profile was taken: time_ns the wall-clock (CLOCK_REALTIME) start
 * in ns since the epoch, duration_ns its length (the recording's or the
 * window's). pprof writes them as time_nanos and duration_nanos; 0 means
 * unknown and is left out.
 */
void rep_profile_set_time(struct rep_profile *p, uint64_t time_ns, uint64_t duration_ns);
/* The time set by rep_profile_set_time() (0, 0 if none). */
void rep_profile_get_time(const struct rep_profile *p, uint64_t *time_ns, uint64_t *duration_ns);

/* One frame of a stack as rep_profile_walk() hands it out. Strings are the profile's. */
struct rep_walk_frame {
	const char *name;
	const char *file;     /* "" when unknown */
	const char *build_id; /* hex of the frame's mapping, "" when unknown or none */
	uint32_t line;	      /* 0: unknown */
	enum rep_kind kind;
	bool inlined;
};

/* Called once per unique stack: frames[0] the root, frames[n - 1] the leaf. Non-zero stops. */
typedef int (*rep_walk_fn)(void *ctx, const struct rep_sample_key *key,
			   const struct rep_walk_frame *frames, unsigned n, uint64_t count);

/*
 * Hand every unique stack of p to fn, frames expanded as folded shows them
 * (one per location line, inlined ones included), so a consumer such as the
 * fleet store can rebuild the same folded output. Strings and frames are
 * valid during the call only. 0, -ENOMEM, or fn's non-zero value.
 */
int rep_profile_walk(const struct rep_profile *p, rep_walk_fn fn, void *ctx);

struct rep_opts {
	bool with_pid;	    /* folded root "comm-PID" (perf's stackcollapse --pid) */
	bool with_tid;	    /* folded root "comm-PID/TID" */
	uint64_t min_count; /* drop folded/SVG stacks seen fewer times */
	const char *title;  /* SVG title; NULL: "xprof" */
	bool inverted;	    /* SVG: icicle graph */
	unsigned top;	    /* top: rows (0: 20) */
};

/* Writers. 0, or -errno of the failed write (-EIO if the stream does not say). */
int rep_write_folded(const struct rep_profile *p, const struct rep_opts *o, FILE *out);
int rep_write_svg(const struct rep_profile *p, const struct rep_opts *o, FILE *out);
int rep_write_pprof(const struct rep_profile *p, const struct rep_opts *o, FILE *out); /* gzipped */
int rep_write_top(const struct rep_profile *p, const struct rep_opts *o, FILE *out);

/*
 * Whether path names a format xprof writes, by its extension: .folded, .svg,
 * .pb.gz (pprof), .txt (top). 0, or -EINVAL with *why a static message
 * naming the formats.
 */
int rep_output_check(const char *path, const char **why);

/*
 * Write p to path in the format of its extension, through a temporary file
 * renamed over path when whole (lib/lib.h): on failure path is left as it
 * was. 0 or -errno: -EINVAL with *why (format), -ELOOP (a link of another
 * user at path), -ENOSPC and other write errors.
 */
int rep_output_write(const struct rep_profile *p, const struct rep_opts *o, const char *path,
		     const char **why);

/* ---- differential profiles: BEFORE and AFTER -------------------------------------- */

/*
 * A diff shows AFTER (the widths, the counts pprof adds up) against BEFORE.
 * Frames are matched by their folded path (root;...;frame), and each one's
 * change is its share of AFTER's samples minus its share of BEFORE's, so two
 * recordings of different lengths compare fairly:
 *  - SVG: AFTER's flamegraph, red where the share grew, blue where it shrank,
 *    white where it held, the colour saturating at the largest change (at
 *    least 1 percentage point, so noise stays pale); the hover title gives
 *    both counts, both shares, the change in points and in percent. A path
 *    only in BEFORE has no width to draw: its parent turns blue and the
 *    largest such paths are listed under the title ("only in BEFORE").
 *  - folded: difffolded.pl's "stack BEFORE AFTER" lines, raw counts, a
 *    stack missing on one side counted 0 (flamegraph.pl draws them).
 *  - pprof: AFTER as is plus BEFORE negated and labelled pprof::base=true,
 *    what `go tool pprof -diff_base BEFORE AFTER` builds in memory.
 *  - top (.txt): functions by the change of their self share.
 * Each returns 0, -ENOMEM or -errno of the failed write.
 */
int rep_write_diff_svg(const struct rep_profile *after, const struct rep_profile *before,
		       const struct rep_opts *o, FILE *out);
int rep_write_diff_folded(const struct rep_profile *after, const struct rep_profile *before,
			  const struct rep_opts *o, FILE *out);
int rep_write_diff_pprof(const struct rep_profile *after, const struct rep_profile *before,
			 FILE *out);
int rep_write_diff_top(const struct rep_profile *after, const struct rep_profile *before,
		       const struct rep_opts *o, FILE *out);

/*
 * Write the diff to path, the format chosen by its extension (.svg,
 * .folded, .pb.gz, .txt), through a temporary file renamed over path when
 * whole (lib.h): on failure path is left as it was. 0, -EINVAL (unknown
 * extension), -ELOOP (another user's link at path), -ENOSPC and other
 * write errors.
 */
int rep_write_diff(const struct rep_profile *after, const struct rep_profile *before,
		   const struct rep_opts *o, const char *path);

/* Whether path has an extension rep_write_diff() knows. */
bool rep_diff_format_ok(const char *path);

/* ---- readers of finished profiles --------------------------------------------------- */

/* Input bounds: what a reader unpacks at most, and the deepest stack it takes. */
#define REP_READ_MAX	    (1 << 30)
#define REP_READ_MAX_FRAMES 65536

/*
 * Add the samples of a folded file (buf, len bytes: "root;frame;... COUNT"
 * lines, the first segment the root/comm, _[k] _[j] _[i] suffixes as the
 * folded writer adds them) or of a pprof profile (gzipped or not) to p.
 * Both take untrusted input. 0; -EINVAL with a one-line reason in why
 * ("line 3: no sample count at the end; ..."), -EFBIG (pprof unpacking past
 * REP_READ_MAX) or -ENOMEM. On error p holds the samples read before it.
 */
int rep_read_folded(struct rep_profile *p, const char *buf, size_t len, char *why, size_t whylen);
int rep_read_pprof(struct rep_profile *p, const void *buf, size_t len, char *why, size_t whylen);

enum rep_format { REP_FMT_FOLDED, REP_FMT_PPROF };

/*
 * Read a profile file: opened without following a link at path (lib.h's
 * xl_open_regular), at most REP_READ_MAX bytes. A new profile, or NULL with
 * errno: EINVAL (why says what is wrong), EFBIG (too large), ELOOP (a
 * link), ENOMEM, or open(2)'s. period_ns of a folded file is 0 (unknown).
 */
struct rep_profile *rep_profile_read_file(const char *path, enum rep_format fmt, char *why,
					  size_t whylen);

#endif /* XPROF_REPORT_H */
