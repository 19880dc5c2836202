/* SPDX-License-Identifier: MIT */
/*
 * report/ internals: the profile's tables and the helpers the writers share.
 *
 * Every table is a growable array indexed by id, deduplicated through an
 * open-addressing hash index that stores id + 1 (0: empty slot). Strings live
 * in one blob and are referred to by offset; string 0 is "". Location lines
 * and sample stacks live in shared arrays, referred to by (start, count), so
 * a profile of 10k unique stacks is a handful of allocations whatever its
 * sample count.
 *
 * Writers see a frozen profile (const) and build their own views: a "frame"
 * is what a flamegraph box or a folded segment shows, one per location line,
 * root first.
 */
#ifndef XPROF_REPORT_INT_H
#define XPROF_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report/report.h"

#define REP_NONE UINT32_MAX

/* An index of ids by hash: slots hold id + 1, 0 is free. Capacity is a power of two. */
struct rep_hidx {
	uint32_t *slots;
	uint32_t mask; /* capacity - 1, or 0 when no slots */
	uint32_t n;
};

struct rep_str {
	uint32_t off; /* into blob */
	uint32_t len;
	uint32_t hash;
};

struct rep_map_int {
	uint64_t start, limit, offset;
	uint32_t file;	   /* string id */
	uint32_t build_id; /* string id, 0: none */
	uint32_t hash;
};

struct rep_func_int {
	uint32_t name, file; /* string ids */
	uint32_t kind;	     /* enum rep_kind */
	uint32_t hash;
};

/* Three words, no padding: hashed as uint32_t[3]. */
struct rep_line_int {
	uint32_t function;
	uint32_t line;
	uint32_t inlined; /* 0/1, a full word keeps the struct free of padding */
};
_Static_assert(sizeof(struct rep_line_int) == 3 * sizeof(uint32_t), "hashed as words");

struct rep_loc_int {
	uint64_t addr;
	uint32_t mapping; /* REP_NONE: none */
	uint32_t line0;	  /* first of nlines in p->lines */
	uint32_t nlines;  /* >= 1: a location without lines gets a synthetic "[file+0x...]" one */
	uint32_t nreal;	  /* lines the caller gave; 0 for the synthetic one (pprof omits it) */
	uint32_t hash;
};

struct rep_stack_int {
	uint64_t count;
	uint32_t pid, tid;
	uint32_t comm;	 /* string id */
	uint32_t labels; /* label set id, 0: none */
	uint32_t loc0;	 /* first of nlocs in p->stack_locs, leaf first */
	uint32_t nlocs;
	uint32_t hash;
};

/* A label set: n (key, value) string id pairs at p->lset_strs.v[s0]. */
struct rep_lset_int {
	uint32_t s0, n;
	uint32_t hash;
};

/* A growable array: data, used and allocated element counts. */
#define REP_VEC(type)                                                                              \
	struct {                                                                                   \
		type *v;                                                                           \
		size_t n, cap;                                                                     \
	}

struct rep_profile {
	uint64_t period_ns;
	uint64_t total;
	uint64_t time_ns;     /* wall-clock start, ns since the epoch; 0: unknown */
	uint64_t duration_ns; /* what the profile covers; 0: unknown */

	REP_VEC(char) blob;
	REP_VEC(struct rep_str) strs;
	struct rep_hidx str_idx;

	REP_VEC(struct rep_map_int) maps;
	struct rep_hidx map_idx;

	REP_VEC(struct rep_func_int) funcs;
	struct rep_hidx func_idx;

	REP_VEC(struct rep_line_int) lines;
	REP_VEC(struct rep_loc_int) locs;
	struct rep_hidx loc_idx;

	REP_VEC(uint32_t) lset_strs; /* key, value, key, value, ... */
	REP_VEC(struct rep_lset_int) lsets;
	struct rep_hidx lset_idx;

	REP_VEC(uint32_t) stack_locs;
	REP_VEC(struct rep_stack_int) stacks;
	struct rep_hidx stack_idx;
};

/* Grow a REP_VEC to hold at least need elements. 0 or -ENOMEM. */
int rep_vec_grow(void **v, size_t *cap, size_t need, size_t elem);
#define rep_vec_reserve(vec, need)                                                                 \
	rep_vec_grow((void **)&(vec)->v, &(vec)->cap, (need), sizeof(*(vec)->v))

uint32_t rep_hash_bytes(uint32_t h, const void *data, size_t len);

/* The string with id s; valid until the profile changes. */
static inline const char *rep_str(const struct rep_profile *p, uint32_t s)
{
	return p->blob.v + p->strs.v[s].off;
}

static inline uint32_t rep_str_len(const struct rep_profile *p, uint32_t s)
{
	return p->strs.v[s].len;
}

/* Intern a string of len bytes (may hold NULs; they are kept). 0 or -ENOMEM. */
int rep_profile_intern(struct rep_profile *p, const char *s, size_t len, uint32_t *id);

/* ---- copying between profiles (merge.c) ------------------------------------ */

/*
 * Location l of src as a location of dst (mapping, functions and lines
 * re-interned), through map[] (one slot per src location, REP_NONE: not
 * copied yet), which it fills. 0 or -ENOMEM.
 */
int rep_import_loc(struct rep_profile *dst, const struct rep_profile *src, uint32_t l,
		   uint32_t *map, uint32_t *out);

/* Label set id of src as a label set of dst. 0, -ENOENT, -ENOMEM. */
int rep_import_labels(struct rep_profile *dst, const struct rep_profile *src, uint32_t id,
		      uint32_t *out);

/* ---- frames: what the folded, SVG and top writers show -------------------- */

/*
 * A frame names one location line: function id << 1 | inlined. Frames of a
 * stack are produced root first; the sample key's root frame (comm) is not
 * one of them.
 */
static inline uint32_t rep_frame(uint32_t function, bool inlined)
{
	return function << 1 | (inlined ? 1u : 0u);
}

/* Number of frames of a stack (sum of its locations' lines). */
size_t rep_stack_nframes(const struct rep_profile *p, const struct rep_stack_int *s);

/* Fill out[0..nframes) root first. */
void rep_stack_frames(const struct rep_profile *p, const struct rep_stack_int *s, uint32_t *out);

/* A buffer for rep_stack_frames() of any stack of p, which the caller frees. NULL: ENOMEM. */
uint32_t *rep_frames_buf_new(const struct rep_profile *p);

/*
 * Display names for frames as folded and flamegraphs show them: ';' and
 * control characters replaced, kind suffixes appended (_[k], _[j], _[i]).
 */
struct rep_names {
	char *blob;
	uint32_t *off; /* per frame id (2 per function): offset into blob */
	uint32_t *len;
	size_t nframes;
};

int rep_names_init(struct rep_names *n, const struct rep_profile *p);
void rep_names_release(struct rep_names *n);

static inline const char *rep_names_get(const struct rep_names *n, uint32_t frame, uint32_t *len)
{
	*len = n->len[frame];
	return n->blob + n->off[frame];
}

/*
 * The root segment of a stack: "comm", "comm-PID" or "comm-PID/TID", spaces
 * turned into '_' as stackcollapse-perf does; comm is cut at 255 bytes.
 * Writes a NUL-terminated string to buf and returns its length.
 */
#define REP_ROOT_MAX 300
size_t rep_root_name(const struct rep_profile *p, const struct rep_stack_int *s,
		     const struct rep_opts *o, char buf[REP_ROOT_MAX]);

/* How a flamegraph colours a frame: its function's kind, or inlined. */
enum rep_frame_class {
	REP_CLASS_USER = 0,
	REP_CLASS_KERNEL,
	REP_CLASS_JIT,
	REP_CLASS_UNKNOWN,
	REP_CLASS_INLINED,
	REP_CLASS_ROOT, /* "all" and the comm frames */
	REP_CLASS_NR
};

enum rep_frame_class rep_frame_class(const struct rep_profile *p, uint32_t frame);

/* printf into why[0..whylen) if why is not NULL: a reader's one-line reason. */
void rep_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- call trees: the flamegraph's and the diff's merged stacks (ctree.c) --- */

/*
 * The links every call-tree node starts with. Node 0 is the root (parent
 * REP_NONE, depth 0); a child always has a larger id than its parent, so a
 * pass from the last id down visits children before parents.
 */
struct rep_ctree_node {
	uint32_t parent;
	uint32_t key; /* the caller's: a frame or name id */
	uint32_t depth;
	uint32_t hash; /* of (parent, key), kept so the index can grow without rehashing keys */
};

/*
 * A call tree is a REP_VEC of the caller's node type, whose first member is
 * a struct rep_ctree_node named "c", plus a struct rep_hidx of (parent, key)
 * -> id + 1. The macros take a struct with both, named "nodes" and "idx".
 * New nodes are zeroed but for their links; the caller frees nodes.v and
 * idx.slots.
 *
 * rep_ctree_root() makes the tree hold only the root: 0 or -ENOMEM.
 * rep_ctree_child() sets *out to the child of parent with key, created if
 * new: 0 or -ENOMEM (also when the tree reaches 2^32 - 2 nodes). Either may
 * move nodes.v.
 */
int rep_ctree_root_vec(void **v, size_t *n, size_t *cap, size_t elem);
int rep_ctree_child_vec(struct rep_hidx *idx, void **v, size_t *n, size_t *cap, size_t elem,
			uint32_t parent, uint32_t key, uint32_t *out);
#define rep_ctree_root(t)                                                                          \
	rep_ctree_root_vec((void **)&(t)->nodes.v, &(t)->nodes.n, &(t)->nodes.cap,                 \
			   sizeof(*(t)->nodes.v))
#define rep_ctree_child(t, parent, key, out)                                                       \
	rep_ctree_child_vec(&(t)->idx, (void **)&(t)->nodes.v, &(t)->nodes.n, &(t)->nodes.cap,     \
			    sizeof(*(t)->nodes.v), (parent), (key), (out))

/* What the diff SVG shares with the flamegraph (svg.c): style, script and text helpers. */
extern const char *const rep_svg_css;
extern const char *const rep_svg_js;
size_t rep_svg_put_xml(FILE *out, const char *s, size_t n, size_t max_chars);
size_t rep_svg_utf8_chars(const char *s, size_t n);
const char *rep_svg_commas(uint64_t v, char buf[32]);
/* Buttons, status lines and the opening <g id="frames">, for a graph height px tall. */
void rep_svg_put_controls(FILE *out, int height);

/* Map a stdio failure to -errno (-EIO when errno says nothing). */
int rep_stream_error(FILE *out);

#endif /* XPROF_REPORT_INT_H */
