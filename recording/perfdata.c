// SPDX-License-Identifier: MIT
/*
 * perf.data reader: turns a `perf record --call-graph dwarf` file into
 * xprof's event model (recording.h), so the report pipeline unwinds perf's
 * register and stack copies with xprof's own tables. A file without stack
 * copies (`perf record -g`, or no -g) yields perf's own callchain, or the
 * sampled ip alone, marked XP_EV_SAMPLE_F_CALLCHAIN.
 *
 * The file is mapped read-only and parsed in memory; every size read from it
 * is checked against the bytes that are really there, so a corrupt or hostile
 * file gets -EINVAL and a one-line reason, never a read out of bounds.
 *
 * Layout (tools/perf/Documentation/perf.data-file-format.txt): a header with
 * the attrs, data and feature sections; attrs are perf_event_attr + a list of
 * sample ids; the data section is a stream of perf_event_header records as
 * the kernel and perf wrote them, one per-CPU buffer chunk after the other.
 * Chunks from different CPUs interleave in time, so like perf's ordered
 * events we first index the records we yield by (time, offset), sort that
 * index, then decode them in time order: a sample never comes before the
 * MMAP it depends on just because its CPU's buffer was flushed first. Records
 * with equal times keep their file order.
 *
 * Not supported, with a clear error: pipe mode (header written to a pipe),
 * PERFILE v1, files of the other byte order, compressed records (-z).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/types.h>

#include "bpf/sample.h"
#include "lib/lib.h"

#include "lib/lib.h"
#include "recording/recording_int.h"

#define PD_MAGIC	 0x32454c4946524550ull /* "PERFILE2" read little-endian */
#define PD_MAGIC_SWAPPED 0x50455246494c4532ull /* the same, big-endian file */
#define PD_MAGIC_V1	 0x454c494652455050ull /* "PERFFILE" (v1), little-endian */
#define PD_HDR_SIZE	 104		       /* struct perf_file_header */
#define PD_PIPE_HDR_SIZE 16		       /* struct perf_pipe_file_header */
#define PD_ATTR_VER0	 64		       /* PERF_ATTR_SIZE_VER0 */

/* perf_event_attr.sample_type */
#define S_IP		 (1ull << 0)
#define S_TID		 (1ull << 1)
#define S_TIME		 (1ull << 2)
#define S_ADDR		 (1ull << 3)
#define S_READ		 (1ull << 4)
#define S_CALLCHAIN	 (1ull << 5)
#define S_ID		 (1ull << 6)
#define S_CPU		 (1ull << 7)
#define S_PERIOD	 (1ull << 8)
#define S_STREAM_ID	 (1ull << 9)
#define S_RAW		 (1ull << 10)
#define S_BRANCH_STACK	 (1ull << 11)
#define S_REGS_USER	 (1ull << 12)
#define S_STACK_USER	 (1ull << 13)
#define S_WEIGHT	 (1ull << 14)
#define S_DATA_SRC	 (1ull << 15)
#define S_IDENTIFIER	 (1ull << 16)
#define S_TRANSACTION	 (1ull << 17)
#define S_REGS_INTR	 (1ull << 18)
#define S_PHYS_ADDR	 (1ull << 19)
#define S_AUX		 (1ull << 20)
#define S_CGROUP	 (1ull << 21)
#define S_DATA_PAGE_SIZE (1ull << 22)
#define S_CODE_PAGE_SIZE (1ull << 23)
#define S_WEIGHT_STRUCT	 (1ull << 24)

/* perf_event_attr.read_format */
#define RF_TOTAL_TIME_ENABLED (1ull << 0)
#define RF_TOTAL_TIME_RUNNING (1ull << 1)
#define RF_ID		      (1ull << 2)
#define RF_GROUP	      (1ull << 3)
#define RF_LOST		      (1ull << 4)

/* perf_event_attr flag bits (the bitfield word at offset 40) */
#define AF_INHERIT		    (1ull << 1)
#define AF_FREQ			    (1ull << 10)
#define AF_SAMPLE_ID_ALL	    (1ull << 18)
#define AF_EXCLUDE_CALLCHAIN_KERNEL (1ull << 21)
#define AF_BUILD_ID		    (1ull << 34) /* MMAP2 records carry build-ids (perf record --buildid-mmap) */

#define BRANCH_HW_INDEX (1ull << 17) /* PERF_SAMPLE_BRANCH_HW_INDEX in branch_sample_type */

/* Record types: the kernel's, then perf's own (>= 64). */
enum {
	R_MMAP = 1,
	R_LOST = 2,
	R_COMM = 3,
	R_EXIT = 4,
	R_FORK = 7,
	R_SAMPLE = 9,
	R_MMAP2 = 10,
	R_LOST_SAMPLES = 13,
	R_AUXTRACE = 71,
	R_COMPRESSED = 81,
};

#define MISC_CPUMODE_MASK  7u
#define MISC_KERNEL	   1u
#define MISC_USER	   2u
#define MISC_GUEST_KERNEL  4u
#define MISC_MMAP_DATA	   (1u << 13)
#define MISC_COMM_EXEC	   (1u << 13)
#define MISC_BUILD_ID_SIZE (1u << 15) /* build-id feature entry: size byte valid */

/* Callchain context markers (PERF_CONTEXT_*), as unsigned 64-bit values. */
#define CTX_MAX	   ((uint64_t)-4095)
#define CTX_KERNEL ((uint64_t)-128)
#define CTX_USER   ((uint64_t)-512)

/* Feature bits (HEADER_*) we read. */
#define FEAT_BUILD_ID	2
#define FEAT_CMDLINE	11
#define FEAT_EVENT_DESC 12
#define FEAT_CLOCK_DATA 29 /* perf record -k: the sample clock against CLOCK_REALTIME */
#define FEAT_BITS	256

#define PD_KSTACK_MAX	512 /* kernel IPs kept per sample; PERF_MAX_STACK_DEPTH is 127 */
#define PD_USTACK_MAX	512 /* user IPs of a callchain kept per sample */
#define PD_WINDOW_SHIFT 24  /* 16 MiB windows of the data section, see window_release() */
#define PD_PAGE		4096
#define PD_PROT_EXEC	4 /* PROT_EXEC, spelled out so no header is needed for one bit */

/*
 * perf's x86 register numbers (arch/x86/include/uapi/asm/perf_regs.h) to the
 * DWARF numbers of bpf/sample.h: AX BX CX DX SI DI BP SP IP FLAGS CS SS DS ES
 * FS GS R8..R15. -1: a register the unwinder has no column for.
 */
static const int8_t perf_to_dwarf[24] = {
    0, 3, 2, 1, 4, 5, 6, 7, 16, -1, -1, -1, -1, -1, -1, -1, 8, 9, 10, 11, 12, 13, 14, 15,
};

struct pd_attr {
	uint64_t sample_type, read_format, regs_mask, branch_type;
	uint64_t period_or_freq;
	uint64_t config;
	uint32_t type;
	uint32_t stack_user;
	bool freq, sample_id_all, time_event, build_id, inherit, kstack;
	uint32_t nregs;		  /* popcount(regs_mask) */
	int8_t slot[XP_EV_NREGS]; /* index in the sample's regs[] of each DWARF register, or -1 */
	uint32_t trailer;	  /* bytes of the sample_id trailer on non-sample records */
	char name[32];
};

struct pd_id {
	uint64_t id;
	uint32_t attr;
};

struct pd_bid {
	const char *name; /* NUL-terminated inside the mapping */
	uint32_t name_len;
	uint8_t len;
	uint8_t id[XP_BUILD_ID_MAX];
};

struct pd_rec {
	uint64_t time;
	uint64_t off;
};

struct pd_reader {
	const uint8_t *buf;
	size_t len;
	struct pd_attr *attrs;
	uint32_t nattrs;
	struct pd_id *ids;
	size_t nids;
	struct pd_bid *bids;
	size_t nbids;
	struct pd_rec *recs;
	size_t nrecs, recs_cap;
	/* Where the event id sits for picking the attr of a record (perf's id_pos/is_pos). */
	bool identifier;
	int id_pos; /* u64 index of ID in a sample, -1 none */
	int is_pos; /* u64 index of ID counted from a trailer's end (1 = last), -1 none */
	uint64_t data_off, data_end;
	bool truncated;
	uint64_t kstack[PD_KSTACK_MAX];
	uint64_t ustack[PD_USTACK_MAX];
	/* vDSO images already yielded, by build-id, and the buffers that hold them */
	struct {
		uint8_t id[XP_BUILD_ID_MAX];
		uint8_t len;
		uint8_t *image;
	} vdso[4];
	uint32_t nvdso;
	struct xl_hmap pids; /* distinct pids (+ 1) for info->processes */
	uint64_t unknown_id; /* records whose sample id matched no attr */
	bool has_clock; /* HEADER_CLOCK_DATA: at clock_ns on the sample clock, real was real_ns */
	uint64_t clock_ns, real_ns;
	bool windowed;	       /* release the data section window by window */
	uint32_t *window_left; /* per window: indexed records not yet yielded */
	bool *window_mapped;   /* per window: populated since its last release */
	xp_event_fn fn;
	void *ctx;
	struct xp_rec_info *info;
};

/* Unaligned-safe loads: nothing in a corrupt file promises alignment. */
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* A bounds-checked reading position inside one record. */
struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static inline uint64_t cur_u64(struct cur *c)
{
	if (c->end - c->p < 8) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	uint64_t v = ld64(c->p);
	c->p += 8;
	return v;
}

static inline const uint8_t *cur_skip(struct cur *c, uint64_t n)
{
	const uint8_t *p = c->p;
	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	c->p += n;
	return p;
}

/* Is [off, off + size) inside the file? */
static bool in_file(const struct pd_reader *r, uint64_t off, uint64_t size)
{
	return off <= r->len && size <= r->len - off;
}

/* ---- attrs ------------------------------------------------------------- */

static void attr_name_default(struct pd_attr *a)
{
	static const char *const sw[] = {"cpu-clock", "task-clock", "page-faults",
					 "context-switches", "cpu-migrations"};
	static const char *const hw[] = {"cycles",	 "instructions", "cache-references",
					 "cache-misses", "branches",	 "branch-misses"};
	const char *n = NULL;

	if (a->type == 1 && a->config < sizeof(sw) / sizeof(sw[0]))
		n = sw[a->config];
	else if (a->type == 0 && a->config < sizeof(hw) / sizeof(hw[0]))
		n = hw[a->config];
	if (n)
		snprintf(a->name, sizeof(a->name), "%s", n);
	else
		snprintf(a->name, sizeof(a->name), "event-%u:%llu", a->type,
			 (unsigned long long)a->config);
}

static int attr_parse(struct pd_attr *a, const uint8_t *p, uint64_t avail, const char **why)
{
	uint32_t size = ld32(p + 4);
	uint64_t flags;

	if (!size)
		size = PD_ATTR_VER0;
	if (size < PD_ATTR_VER0 || size > avail) {
		*why = "perf.data: an attr's size is out of range";
		return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	a->type = ld32(p);
	a->config = ld64(p + 8);
	a->period_or_freq = ld64(p + 16);
	a->sample_type = ld64(p + 24);
	a->read_format = ld64(p + 32);
	flags = ld64(p + 40);
	a->freq = flags & AF_FREQ;
	a->sample_id_all = flags & AF_SAMPLE_ID_ALL;
	a->build_id = flags & AF_BUILD_ID;
	a->inherit = flags & AF_INHERIT;
	if (size >= 80)
		a->branch_type = ld64(p + 72);
	if (size >= 96) {
		a->regs_mask = ld64(p + 80);
		a->stack_user = ld32(p + 88);
	}
	if (!(a->sample_type & S_REGS_USER))
		a->regs_mask = 0;
	a->kstack = (a->sample_type & S_CALLCHAIN) && !(flags & AF_EXCLUDE_CALLCHAIN_KERNEL);
	a->nregs = (uint32_t)__builtin_popcountll(a->regs_mask);
	for (int i = 0; i < XP_EV_NREGS; i++)
		a->slot[i] = -1;
	int slot = 0;
	for (int b = 0; b < 64; b++) {
		if (!(a->regs_mask & (1ull << b)))
			continue;
		if (b < 24 && perf_to_dwarf[b] >= 0)
			a->slot[perf_to_dwarf[b]] = (int8_t)slot;
		slot++;
	}
	/* cpu-clock and task-clock count nanoseconds: their period is time. */
	a->time_event = a->type == 1 && a->config <= 1;
	a->trailer = 0;
	if (a->sample_id_all) {
		uint64_t t = a->sample_type;
		a->trailer = 8 * (!!(t & S_TID) + !!(t & S_TIME) + !!(t & S_ID) +
				  !!(t & S_STREAM_ID) + !!(t & S_CPU) + !!(t & S_IDENTIFIER));
	}
	attr_name_default(a);
	return 0;
}

static int cmp_id(const void *x, const void *y)
{
	const struct pd_id *a = x, *b = y;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int attrs_read(struct pd_reader *r, uint64_t attr_size, uint64_t off, uint64_t size,
		      const char **why)
{
	uint64_t n, total_ids = 0;

	if (attr_size < PD_ATTR_VER0 + 16 || attr_size > 4096 || !in_file(r, off, size) ||
	    size % attr_size) {
		*why = "perf.data: corrupt attr section in the header";
		return -EINVAL;
	}
	n = size / attr_size;
	if (!n) {
		*why = "perf.data: no event attrs in the header";
		return -EINVAL;
	}
	if (n > 4096) {
		*why = "perf.data: too many event attrs";
		return -EINVAL;
	}
	r->attrs = calloc(n, sizeof(*r->attrs));
	if (!r->attrs)
		return -ENOMEM;
	r->nattrs = (uint32_t)n;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *p = r->buf + off + i * attr_size;
		uint64_t ids_off = ld64(p + attr_size - 16), ids_size = ld64(p + attr_size - 8);
		int err = attr_parse(&r->attrs[i], p, attr_size - 16, why);

		if (err)
			return err;
		if (!in_file(r, ids_off, ids_size) || ids_size % 8) {
			*why = "perf.data: an attr's id list lies outside the file";
			return -EINVAL;
		}
		total_ids += ids_size / 8;
	}
	r->ids = calloc(total_ids ? total_ids : 1, sizeof(*r->ids));
	if (!r->ids)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *p = r->buf + off + i * attr_size;
		uint64_t ids_off = ld64(p + attr_size - 16), ids_size = ld64(p + attr_size - 8);

		for (uint64_t j = 0; j < ids_size / 8; j++) {
			r->ids[r->nids].id = ld64(r->buf + ids_off + 8 * j);
			r->ids[r->nids].attr = (uint32_t)i;
			r->nids++;
		}
	}
	qsort(r->ids, r->nids, sizeof(*r->ids), cmp_id);

	/*
	 * perf requires every attr to put the id at the same place (perf_evlist
	 * valid_sample_type); take the places from the first attr.
	 */
	uint64_t t = r->attrs[0].sample_type;
	r->identifier = t & S_IDENTIFIER;
	r->id_pos = -1;
	r->is_pos = -1;
	if (t & S_ID) {
		r->id_pos = !!(t & S_IDENTIFIER) + !!(t & S_IP) + !!(t & S_TID) + !!(t & S_TIME) +
			    !!(t & S_ADDR);
		r->is_pos = 1 + !!(t & S_IDENTIFIER) + !!(t & S_CPU) + !!(t & S_STREAM_ID);
	}
	return 0;
}

static const struct pd_attr *attr_by_id(struct pd_reader *r, uint64_t id)
{
	size_t lo = 0, hi = r->nids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->ids[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nids && r->ids[lo].id == id)
		return &r->attrs[r->ids[lo].attr];
	return NULL;
}

/* The attr a record belongs to; NULL when its id matches none. */
static const struct pd_attr *rec_attr(struct pd_reader *r, uint32_t type, const uint8_t *rec,
				      uint32_t size)
{
	uint64_t id;

	if (r->nattrs == 1)
		return &r->attrs[0];
	if (type == R_SAMPLE) {
		if (r->identifier)
			id = 8 + 8 <= size ? ld64(rec + 8) : 0;
		else if (r->id_pos >= 0 && 8 + 8 * (uint64_t)r->id_pos + 8 <= size)
			id = ld64(rec + 8 + 8 * r->id_pos);
		else
			return &r->attrs[0];
	} else {
		if (!r->attrs[0].sample_id_all)
			return &r->attrs[0];
		if (r->is_pos >= 0 && 8 + 8 * (uint64_t)r->is_pos <= size)
			id = ld64(rec + size - 8 * r->is_pos);
		else
			return &r->attrs[0];
	}
	/* perf synthesizes records (for tasks that existed before it started) with id 0. */
	if (!id || id == UINT64_MAX)
		return &r->attrs[0];
	return attr_by_id(r, id);
}

/* ---- features ---------------------------------------------------------- */

static int cmp_bid(const void *x, const void *y)
{
	const struct pd_bid *a = x, *b = y;
	int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);
	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* HEADER_BUILD_ID: a run of build_id_event records, one per DSO that had samples. */
static int feat_build_ids(struct pd_reader *r, uint64_t off, uint64_t size)
{
	uint64_t end = off + size, p, n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (p = off; end - p >= 8 + 4 + 24;) {
			const uint8_t *e = r->buf + p;
			uint16_t misc = ld16(e + 4), rsize = ld16(e + 6);
			const char *name = (const char *)e + 36;
			const void *nul;

			if (rsize < 8 + 4 + 24 || rsize > end - p)
				break;
			nul = memchr(name, 0, rsize - 36u);
			if (pass && nul) {
				struct pd_bid *b = &r->bids[r->nbids++];
				uint8_t len = (misc & MISC_BUILD_ID_SIZE) ? e[12 + 20] : 20;

				b->name = name;
				b->name_len = (uint32_t)((const char *)nul - name);
				b->len = len > XP_BUILD_ID_MAX ? XP_BUILD_ID_MAX : len;
				memcpy(b->id, e + 12, b->len);
			} else if (nul) {
				n++;
			}
			p += rsize;
		}
		if (!pass) {
			if (!n)
				return 0;
			r->bids = calloc(n, sizeof(*r->bids));
			if (!r->bids)
				return -ENOMEM;
		}
	}
	qsort(r->bids, r->nbids, sizeof(*r->bids), cmp_bid);
	return 0;
}

static const struct pd_bid *bid_find(const struct pd_reader *r, const char *name, size_t len)
{
	size_t lo = 0, hi = r->nbids;
	struct pd_bid key = {.name = name, .name_len = (uint32_t)len};

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_bid(&r->bids[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nbids && !cmp_bid(&r->bids[lo], &key))
		return &r->bids[lo];
	return NULL;
}

/* A perf_header_string: u32 len, then len bytes holding a NUL-terminated string. */
static const char *feat_string(const struct pd_reader *r, uint64_t *p, uint64_t end)
{
	uint32_t len;
	const char *s;

	if (end - *p < 4)
		return NULL;
	len = ld32(r->buf + *p);
	if (len > end - *p - 4)
		return NULL;
	s = (const char *)r->buf + *p + 4;
	*p += 4 + (uint64_t)len;
	return len && memchr(s, 0, len) ? s : NULL;
}

/* HEADER_CMDLINE: "perf record ARGS"; the target is what follows "record". */
static void feat_cmdline(struct pd_reader *r, uint64_t off, uint64_t size)
{
	uint64_t p = off + 4, end = off + size;
	uint32_t nr;
	size_t used = 0;
	bool after_record = false;
	char *t = r->info->target;

	if (size < 4)
		return;
	nr = ld32(r->buf + off);
	for (uint32_t i = 0; i < nr && i < 4096; i++) {
		const char *s = feat_string(r, &p, end);

		if (!s)
			break;
		if (!after_record) {
			after_record = !strcmp(s, "record");
			continue;
		}
		if (!strcmp(s, "-a") || !strcmp(s, "--all-cpus"))
			r->info->flags |= XP_REC_F_SYSTEM_WIDE;
		int n =
		    snprintf(t + used, sizeof(r->info->target) - used, "%s%s", used ? " " : "", s);
		if (n < 0 || (size_t)n >= sizeof(r->info->target) - used)
			break;
		used += (size_t)n;
	}
}

/* HEADER_EVENT_DESC: the names perf gave its events ("cpu-clock:ppp"). */
static void feat_event_desc(struct pd_reader *r, uint64_t off, uint64_t size)
{
	uint64_t p = off + 8, end = off + size;
	uint32_t nr, asz;

	if (size < 8)
		return;
	nr = ld32(r->buf + off);
	asz = ld32(r->buf + off + 4);
	for (uint32_t i = 0; i < nr && i < r->nattrs; i++) {
		uint32_t nids;
		const char *name;

		if (end - p < (uint64_t)asz + 4)
			return;
		p += asz;
		nids = ld32(r->buf + p);
		p += 4;
		name = feat_string(r, &p, end);
		if (!name || (end - p) / 8 < nids)
			return;
		/* The ids tell which attr this is; fall back to position. */
		const struct pd_attr *a = nids ? attr_by_id(r, ld64(r->buf + p)) : NULL;
		struct pd_attr *w = a ? &r->attrs[a - r->attrs] : &r->attrs[i];
		size_t n = strcspn(name, ":"); /* drop modifiers such as ":ppp" */

		if (n >= sizeof(w->name))
			n = sizeof(w->name) - 1;
		memcpy(w->name, name, n);
		w->name[n] = 0;
		p += 8 * (uint64_t)nids;
	}
}

static int features_read(struct pd_reader *r, const uint8_t *bitmap, uint64_t table)
{
	uint32_t k = 0;

	for (uint32_t bit = 0; bit < FEAT_BITS; bit++) {
		if (!(bitmap[bit / 8] & (1u << (bit % 8))))
			continue;
		uint64_t at = table + 16 * (uint64_t)k++;
		if (!in_file(r, at, 16))
			return 0; /* a killed record has no feature table: not an error */
		uint64_t off = ld64(r->buf + at), size = ld64(r->buf + at + 8);
		if (!in_file(r, off, size))
			continue;
		if (bit == FEAT_BUILD_ID) {
			int err = feat_build_ids(r, off, size);
			if (err)
				return err;
		} else if (bit == FEAT_CMDLINE && r->info) {
			feat_cmdline(r, off, size);
		} else if (bit == FEAT_EVENT_DESC) {
			feat_event_desc(r, off, size);
		} else if (bit == FEAT_CLOCK_DATA && size >= 24 && ld32(r->buf + off) >= 1) {
			/* u32 version, u32 clockid, u64 wall-clock ns, u64 clockid ns */
			r->has_clock = true;
			r->real_ns = ld64(r->buf + off + 8);
			r->clock_ns = ld64(r->buf + off + 16);
		}
	}
	return 0;
}

/* ---- records ----------------------------------------------------------- */

/* The sample_id trailer of a non-sample record: its time, or 0. */
static uint64_t trailer_time(const struct pd_attr *a, const uint8_t *rec, uint32_t size,
			     uint32_t body)
{
	if (!a->trailer || !(a->sample_type & S_TIME) || size < body + a->trailer)
		return 0;
	return ld64(rec + size - a->trailer + 8 * !!(a->sample_type & S_TID));
}

/* Fixed body sizes (after the 8-byte header), before strings and trailers. */
static uint32_t body_min(uint32_t type)
{
	switch (type) {
	case R_MMAP:
		return 8 + 8 + 24;
	case R_MMAP2:
		return 8 + 8 + 24 + 24 + 8;
	case R_COMM:
		return 8 + 8;
	case R_FORK:
	case R_EXIT:
		return 8 + 24;
	case R_LOST:
		return 8 + 16;
	case R_LOST_SAMPLES:
		return 8 + 8;
	}
	return 8;
}

static uint64_t rec_time(const struct pd_attr *a, uint32_t type, const uint8_t *rec, uint32_t size)
{
	if (type == R_SAMPLE) {
		uint64_t t = a->sample_type;
		uint64_t at =
		    8 + 8 * ((uint64_t) !!(t & S_IDENTIFIER) + !!(t & S_IP) + !!(t & S_TID));

		if (!(t & S_TIME) || at + 8 > size)
			return 0;
		return ld64(rec + at);
	}
	if (type == R_FORK || type == R_EXIT)
		return size >= 32 ? ld64(rec + 24) : 0;
	return trailer_time(a, rec, size, body_min(type));
}

/*
 * Mapped file pages count in the resident set. On a big file, drop each
 * window of the data section from our page tables once no record in it is
 * left to read (the page cache keeps it): peak RSS stays a few windows, not
 * the file. Dropping a page a later record still needs only costs a refault.
 */
static void window_release(struct pd_reader *r, uint64_t w)
{
	uint64_t lo = r->data_off + (w << PD_WINDOW_SHIFT);
	uint64_t hi = lo + (1ull << PD_WINDOW_SHIFT);

	if (hi > r->data_end)
		hi = r->data_end;
	lo &= ~(uint64_t)(PD_PAGE - 1);
	if (lo < hi)
		madvise((void *)(r->buf + lo), hi - lo, MADV_DONTNEED);
}

/*
 * Faulting a window in page by page costs more than everything else the
 * reader does (one trap per 64 KiB of fault-around, then per-page work):
 * MADV_POPULATE_READ maps a whole window in one call. Older kernels refuse
 * it (EINVAL) and the pages fault in as before.
 */
static void window_populate(struct pd_reader *r, uint64_t lo, uint64_t hi)
{
	if (hi > r->data_end)
		hi = r->data_end;
	lo &= ~(uint64_t)(PD_PAGE - 1);
	if (lo < hi)
		madvise((void *)(r->buf + lo), hi - lo, MADV_POPULATE_READ);
}

static void window_enter(struct pd_reader *r, uint64_t w)
{
	if (r->window_mapped[w])
		return;
	r->window_mapped[w] = true;
	window_populate(r, r->data_off + (w << PD_WINDOW_SHIFT),
			r->data_off + ((w + 1) << PD_WINDOW_SHIFT));
}

static int rec_push(struct pd_reader *r, uint64_t time, uint64_t off)
{
	if (r->nrecs == r->recs_cap) {
		size_t cap = r->recs_cap ? 2 * r->recs_cap : 4096;
		struct pd_rec *n = realloc(r->recs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->recs = n;
		r->recs_cap = cap;
	}
	r->recs[r->nrecs].time = time;
	r->recs[r->nrecs].off = off;
	r->nrecs++;
	return 0;
}

static int cmp_rec(const void *x, const void *y)
{
	const struct pd_rec *a = x, *b = y;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;
}

/* Everything from file offset off on is not read: a cut (why NULL) or a bad record. */
static void skip_from(struct pd_reader *r, uint64_t off, const char *why)
{
	if (!r->info || off >= r->data_end)
		return;
	if (why && !strncmp(why, "perf.data: ", 11))
		why += 11;
	r->info->skip_offset = off;
	r->info->skip_bytes = r->data_end - off;
	r->info->skip_type = r->data_end - off >= 8 ? ld32(r->buf + off) : 0;
	r->info->skip_why = why;
}

/*
 * Pass 1: walk the data section, check every record's size, and index the
 * ones we yield. A record cut by the end of the file ends the walk (a killed
 * perf record), and so does one with an impossible size: the records before
 * it are kept. Nothing after a bad size can be trusted to start a record.
 */
static int records_index(struct pd_reader *r, const char **why)
{
	uint64_t p = r->data_off, prev_time = 0, released = 0;
	bool sorted = true;

	/* Pass 1 reads every record's header, so every page: map them all
	 * (a small file) or window by window ahead of the walk. */
	if (!r->windowed)
		window_populate(r, r->data_off, r->data_end);
	else
		window_populate(r, r->data_off, r->data_off + (1ull << PD_WINDOW_SHIFT));
	while (r->data_end - p >= 8) {
		const uint8_t *rec = r->buf + p;
		uint32_t type = ld32(rec);
		uint16_t size = ld16(rec + 6);

		if (r->windowed && p - r->data_off >= (released + 1) << PD_WINDOW_SHIFT) {
			window_release(r, released++);
			window_populate(r, r->data_off + (released << PD_WINDOW_SHIFT),
					r->data_off + ((released + 1) << PD_WINDOW_SHIFT));
		}
		uint64_t step = size;

		if (size < 8) {
			/* A killed perf record may leave zeros where its next record was due. */
			skip_from(r, p,
				  r->truncated ? NULL : "a record is smaller than its header");
			break;
		}
		if (size > r->data_end - p) {
			skip_from(r, p, NULL);
			break;
		}
		if (type == R_COMPRESSED) {
			*why = "perf.data holds compressed records (perf record -z): "
			       "decompress with 'perf inject -i IN -o OUT' first";
			return -EINVAL;
		}
		if (type == R_AUXTRACE) {
			/* its trace data follows the record, outside header.size */
			if (size < 16) {
				skip_from(r, p, "a short AUXTRACE record");
				break;
			}
			uint64_t extra = ld64(rec + 8);
			if (extra > r->data_end - p - size) {
				skip_from(r, p, NULL);
				break;
			}
			step += extra;
		}
		switch (type) {
		case R_SAMPLE:
		case R_MMAP:
		case R_MMAP2:
		case R_COMM:
		case R_FORK:
		case R_EXIT:
		case R_LOST:
		case R_LOST_SAMPLES: {
			const struct pd_attr *a = rec_attr(r, type, rec, size);
			uint64_t t = a ? rec_time(a, type, rec, size) : prev_time;
			int err;

			/* A record without a time keeps its place after the one before it. */
			if (!t)
				t = prev_time;
			if (t < prev_time)
				sorted = false;
			prev_time = t;
			err = rec_push(r, t, p);
			if (err)
				return err;
			break;
		}
		default:
			break;
		}
		p += step;
	}
	if (p < r->data_end && r->info && !r->info->skip_bytes)
		skip_from(r, p, NULL); /* a tail shorter than a record header */
	if (!sorted)
		qsort(r->recs, r->nrecs, sizeof(*r->recs), cmp_rec);
	if (r->windowed) {
		uint64_t n = ((r->data_end - r->data_off) >> PD_WINDOW_SHIFT) + 1;

		r->window_left = calloc(n, sizeof(*r->window_left));
		r->window_mapped = calloc(n, sizeof(*r->window_mapped));
		if (!r->window_left || !r->window_mapped)
			return -ENOMEM;
		for (size_t i = 0; i < r->nrecs; i++)
			r->window_left[(r->recs[i].off - r->data_off) >> PD_WINDOW_SHIFT]++;
	}
	return 0;
}

static void pid_seen(struct pd_reader *r, uint32_t pid)
{
	/* pid -1 (kernel) is never added; without memory the count is only lower (informative). */
	if (pid != UINT32_MAX)
		xl_hmap_put(&r->pids, (uint64_t)pid + 1, 0);
}

static int emit(struct pd_reader *r, const struct xp_event *ev)
{
	return r->fn ? r->fn(r->ctx, ev) : 0;
}

static int do_sample(struct pd_reader *r, const struct pd_attr *a, const uint8_t *rec,
		     uint32_t size, const char **why)
{
	struct cur c = {rec + 8, rec + size, false};
	uint64_t t = a->sample_type, period = 0, ip = 0;
	uint16_t misc = ld16(rec + 4);
	struct xp_event ev;
	struct xp_ev_sample *s = &ev.sample;

	memset(&ev, 0, sizeof(ev));
	ev.type = XP_EV_SAMPLE;
	if (t & S_IDENTIFIER)
		cur_u64(&c);
	if (t & S_IP)
		ip = cur_u64(&c);
	if (t & S_TID) {
		uint64_t v = cur_u64(&c);
		s->pid = (uint32_t)v;
		s->tid = (uint32_t)(v >> 32);
	}
	if (t & S_TIME)
		s->time_ns = cur_u64(&c);
	if (t & S_ADDR)
		cur_u64(&c);
	if (t & S_ID)
		cur_u64(&c);
	if (t & S_STREAM_ID)
		cur_u64(&c);
	if (t & S_CPU)
		s->cpu = (uint32_t)cur_u64(&c);
	if (t & S_PERIOD)
		period = cur_u64(&c);
	if (t & S_READ) {
		uint64_t rf = a->read_format;
		uint64_t per = 1 + !!(rf & RF_ID) + !!(rf & RF_LOST);
		uint64_t times = !!(rf & RF_TOTAL_TIME_ENABLED) + !!(rf & RF_TOTAL_TIME_RUNNING);

		if (rf & RF_GROUP) {
			uint64_t nr = cur_u64(&c);
			if (nr > (uint64_t)(c.end - c.p) / 8 / per)
				c.bad = true;
			else
				cur_skip(&c, 8 * (times + nr * per));
		} else {
			cur_skip(&c, 8 * (times + per));
		}
	}
	if (t & S_CALLCHAIN) {
		uint64_t nr = cur_u64(&c);
		const uint8_t *ips =
		    nr <= (uint64_t)(c.end - c.p) / 8 ? cur_skip(&c, 8 * nr) : NULL;
		uint64_t ctx = 0; /* the PERF_CONTEXT_* marker the entries follow */

		if (!ips)
			c.bad = true;
		for (uint64_t i = 0; ips && i < nr; i++) {
			uint64_t e = ld64(ips + 8 * i);
			if (e >= CTX_MAX) {
				ctx = e;
				continue;
			}
			if (ctx == CTX_KERNEL && s->nkstack < PD_KSTACK_MAX)
				r->kstack[s->nkstack++] = e;
			else if (ctx == CTX_USER && s->nuser < PD_USTACK_MAX)
				r->ustack[s->nuser++] = e;
		}
	}
	if (t & S_RAW) {
		const uint8_t *p = cur_skip(&c, 4);
		if (p)
			cur_skip(&c, ld32(p));
	}
	if (t & S_BRANCH_STACK) {
		uint64_t nr = cur_u64(&c);
		if (a->branch_type & BRANCH_HW_INDEX)
			cur_u64(&c);
		if (nr > (uint64_t)(c.end - c.p) / 24)
			c.bad = true;
		else
			cur_skip(&c, 24 * nr);
	}
	const uint8_t *regs = NULL;
	if (t & S_REGS_USER) {
		uint64_t abi = cur_u64(&c);
		if (abi)
			regs = cur_skip(&c, 8 * (uint64_t)a->nregs);
	}
	const uint8_t *stack = NULL;
	uint64_t dyn = 0;
	if (t & S_STACK_USER) {
		uint64_t sz = cur_u64(&c);
		if (sz) {
			stack = cur_skip(&c, sz);
			dyn = cur_u64(&c);
			if (!c.bad && dyn > sz) {
				*why = "perf.data: a sample's stack dyn_size exceeds its size";
				return -EINVAL;
			}
			if (!c.bad && dyn < sz && dyn < a->stack_user)
				s->flags |= XP_SAMPLE_F_STACK_SHORT;
		}
	}
	/* The rest (weight, data_src, ...) is not needed. */
	if (c.bad) {
		*why = "perf.data: a sample is shorter than its attr's sample_type says";
		return -EINVAL;
	}
	if (regs) {
		for (int i = 0; i < XP_EV_NREGS; i++)
			if (a->slot[i] >= 0)
				s->regs[i] = ld64(regs + 8 * a->slot[i]);
		if (stack && dyn && a->slot[XP_REG_SP] >= 0) {
			s->nsegs = 1;
			s->segs[0].start = s->regs[XP_REG_SP];
			s->segs[0].data = stack;
			s->segs[0].len = (uint32_t)dyn;
		}
	}
	uint32_t mode = misc & MISC_CPUMODE_MASK;
	bool in_kernel = mode == MISC_KERNEL || mode == MISC_GUEST_KERNEL;
	if (in_kernel)
		s->flags |= XP_SAMPLE_F_IN_KERNEL;
	if (!s->nsegs) {
		/*
		 * No stack copy (perf record -g, or no -g at all): what perf
		 * walked itself is all there is. Without a callchain the
		 * sampled ip is the one frame known, in the kernel or in user
		 * space by the record's cpumode.
		 */
		s->flags |= XP_EV_SAMPLE_F_CALLCHAIN;
		if (!(t & S_CALLCHAIN) && ip && in_kernel)
			r->kstack[s->nkstack++] = ip;
		else if (!(t & S_CALLCHAIN) && ip && mode == MISC_USER)
			r->ustack[s->nuser++] = ip;
		if (s->nuser) {
			s->ustack = r->ustack;
			if (a->slot[XP_REG_IP] < 0 || !regs)
				s->regs[XP_REG_IP] = r->ustack[0];
		}
	} else {
		s->nuser = 0; /* the stack copy is unwound; perf's user chain is not needed */
	}
	if (s->nkstack) {
		s->flags |= XP_SAMPLE_F_KSTACK;
		s->kstack = r->kstack;
	}
	if (a->time_event && period)
		s->period_ns = period;
	else if (a->freq && a->period_or_freq)
		s->period_ns = 1000000000ull / a->period_or_freq;
	else if (a->time_event)
		s->period_ns = a->period_or_freq;
	else
		s->period_ns = period ? period : a->period_or_freq; /* events, not ns */

	if (r->info) {
		struct xp_rec_info *in = r->info;
		if (!in->samples || s->time_ns < in->start_time_ns)
			in->start_time_ns = s->time_ns;
		if (s->time_ns > in->end_time_ns)
			in->end_time_ns = s->time_ns;
		in->samples++;
		in->stack_bytes += s->nsegs ? s->segs[0].len : 0;
		in->stack_stored += s->nsegs ? s->segs[0].len : 0;
		pid_seen(r, s->pid);
	}
	return emit(r, &ev);
}

/* A NUL-terminated string filling [p, end), as perf pads them to 8 bytes. */
static const char *rec_string(const uint8_t *p, const uint8_t *end)
{
	if (p >= end || !memchr(p, 0, (size_t)(end - p)))
		return NULL;
	return (const char *)p;
}

/* The bytes of an ELF file's note-held build-id, for the vDSO image check. */
static int elf_build_id(const uint8_t *img, size_t len, uint8_t *id)
{
	/* ELF64 little-endian only: the vDSO of an x86-64 kernel. */
	if (len < 64 || memcmp(img, "\177ELF\2\1", 6))
		return 0;
	uint64_t phoff = ld64(img + 32);
	uint16_t phentsize = ld16(img + 54), phnum = ld16(img + 56);
	if (phentsize < 56 || phoff > len || (uint64_t)phnum * phentsize > len - phoff)
		return 0;
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		if (ld32(ph) != 4) /* PT_NOTE */
			continue;
		uint64_t off = ld64(ph + 8), sz = ld64(ph + 32);
		if (off > len || sz > len - off)
			continue;
		for (uint64_t q = off; off + sz - q >= 12;) {
			uint32_t nsz = ld32(img + q), dsz = ld32(img + q + 4),
				 ty = ld32(img + q + 8);
			uint64_t n4 = ((uint64_t)nsz + 3) & ~3ull, d4 = ((uint64_t)dsz + 3) & ~3ull;
			if (n4 + d4 > off + sz - q - 12)
				break;
			if (ty == 3 && nsz == 4 && !memcmp(img + q + 12, "GNU", 4)) {
				uint32_t l = dsz > XP_BUILD_ID_MAX ? XP_BUILD_ID_MAX : dsz;
				memcpy(id, img + q + 12 + n4, l);
				return (int)l;
			}
			q += 12 + n4 + d4;
		}
	}
	return 0;
}

/*
 * perf.data does not hold the vDSO's code, which the unwinder needs for its
 * CFI. Find an image with the recorded build-id: perf's build-id cache
 * (~/.debug/[vdso]/<id>/vdso, filled by perf record), else our own vDSO when
 * the recording was made under the same kernel: same build-id or, when the
 * file has none, the same size.
 */
static uint8_t *vdso_image(const uint8_t *id, uint32_t id_len, uint64_t map_len, uint32_t *len)
{
	uint8_t got[XP_BUILD_ID_MAX];
	uint8_t *img = NULL;

#ifndef XP_FUZZING
	const char *home = getenv("HOME");
	char path[PATH_MAX], *q;
	int fd;
	struct stat st;

	if (home && id_len) {
		int n = snprintf(path, sizeof(path), "%s/.debug/[vdso]/", home);
		q = path + n;
		for (uint32_t i = 0; i < id_len && n > 0 && (size_t)(q - path) + 3 < sizeof(path);
		     i++)
			q += sprintf(q, "%02x", id[i]);
		if (n > 0 && (size_t)(q - path) + 6 < sizeof(path)) {
			strcpy(q, "/vdso");
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && !fstat(fd, &st) && st.st_size > 0 &&
			    st.st_size < (1 << 24)) {
				img = malloc((size_t)st.st_size);
				if (img && read(fd, img, (size_t)st.st_size) == st.st_size &&
				    elf_build_id(img, (size_t)st.st_size, got) == (int)id_len &&
				    !memcmp(got, id, id_len)) {
					*len = (uint32_t)st.st_size;
					close(fd);
					return img;
				}
				free(img);
				img = NULL;
			}
			if (fd >= 0)
				close(fd);
		}
	}
#endif
	/* Our own vDSO: its size is the extent of its section headers' file image. */
	const uint8_t *self;
	size_t self_len;
	if (xl_vdso_self(&self, &self_len))
		return NULL;
	uint64_t shoff = ld64(self + 40);
	uint16_t shentsize = ld16(self + 58), shnum = ld16(self + 60);
	uint64_t size = shoff + (uint64_t)shentsize * shnum;
	if (size < 64 || size > self_len)
		return NULL;
	if (id_len) {
		if (elf_build_id(self, size, got) != (int)id_len || memcmp(got, id, id_len))
			return NULL;
	} else if (((size + 4095) & ~4095ull) != map_len) {
		/* No build-id (a killed record has no feature section): trust a same-size image. */
		return NULL;
	}
	img = malloc(size);
	if (!img)
		return NULL;
	memcpy(img, self, size);
	*len = (uint32_t)size;
	return img;
}

static int do_vdso(struct pd_reader *r, const struct xp_ev_mmap *m)
{
	struct xp_event ev;
	uint32_t len = 0;
	uint8_t *img;

	for (uint32_t i = 0; i < r->nvdso; i++)
		if (r->vdso[i].len == m->build_id_len &&
		    !memcmp(r->vdso[i].id, m->build_id, m->build_id_len))
			return 0;
	if (r->nvdso == sizeof(r->vdso) / sizeof(r->vdso[0]))
		return 0;
	img = vdso_image(m->build_id, m->build_id_len, m->len, &len);
	r->vdso[r->nvdso].len = (uint8_t)m->build_id_len;
	memcpy(r->vdso[r->nvdso].id, m->build_id, m->build_id_len);
	r->vdso[r->nvdso].image = img;
	r->nvdso++;
	if (!img)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.type = XP_EV_VDSO;
	ev.vdso.start = m->start;
	ev.vdso.image = img;
	ev.vdso.len = len;
	return emit(r, &ev);
}

static int do_mmap(struct pd_reader *r, const struct pd_attr *a, uint32_t type, const uint8_t *rec,
		   uint32_t size, const char **why)
{
	uint16_t misc = ld16(rec + 4);
	uint32_t body = body_min(type);
	struct xp_event ev;
	struct xp_ev_mmap *m = &ev.mmap;
	const char *path;

	if (size < body + a->trailer) {
		*why = "perf.data: a short MMAP record";
		return -EINVAL;
	}
	path = rec_string(rec + body, rec + size - a->trailer);
	if (!path) {
		*why = "perf.data: an MMAP record's file name is not terminated";
		return -EINVAL;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = XP_EV_MMAP;
	m->time_ns = trailer_time(a, rec, size, body);
	if (type == R_MMAP2) {
		struct xl_mmap2 x;

		/*
		 * Trust the build-id flag only from an attr that asked for build-ids:
		 * the kernel (seen on 6.18) leaves it set on the records it writes to
		 * other events after one that asked, over their maj/min/ino. perf
		 * 6.1 then takes the major number for the size and aborts.
		 */
		if (xl_perf_mmap2(rec, size, a->trailer, a->build_id, &x)) {
			*why = "perf.data: a short MMAP record";
			return -EINVAL;
		}
		m->pid = x.pid;
		m->tid = x.tid;
		m->start = x.addr;
		m->len = x.len;
		m->pgoff = x.pgoff;
		m->prot = x.prot;
		m->build_id_len = x.build_id_len;
		memcpy(m->build_id, x.build_id, x.build_id_len);
	} else {
		m->pid = ld32(rec + 8);
		m->tid = ld32(rec + 12);
		m->start = ld64(rec + 16);
		m->len = ld64(rec + 24);
		m->pgoff = ld64(rec + 32);
		m->prot = (misc & MISC_MMAP_DATA) ? 1 : 1 | PD_PROT_EXEC;
	}
	m->path = path;
	/* Only user-space code mappings matter to the unwinder; pid -1 is the kernel. */
	uint32_t mode = misc & MISC_CPUMODE_MASK;
	if (!(m->prot & PD_PROT_EXEC) || m->pid == UINT32_MAX || mode == MISC_KERNEL ||
	    mode == MISC_GUEST_KERNEL)
		return 0;
	if (!m->build_id_len) {
		const struct pd_bid *b = bid_find(r, path, strlen(path));
		if (b) {
			m->build_id_len = b->len;
			memcpy(m->build_id, b->id, b->len);
		}
	}
	if (r->info)
		r->info->mappings++;
	pid_seen(r, m->pid);
	if (!strcmp(path, "[vdso]")) {
		int ret = do_vdso(r, m);
		if (ret)
			return ret;
	}
	return emit(r, &ev);
}

static int do_record(struct pd_reader *r, const uint8_t *rec, const char **why)
{
	uint32_t type = ld32(rec);
	uint16_t size = ld16(rec + 6);
	const struct pd_attr *a = rec_attr(r, type, rec, size);
	struct xp_event ev;

	if (!a) {
		r->unknown_id++;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	switch (type) {
	case R_SAMPLE:
		return do_sample(r, a, rec, size, why);
	case R_MMAP:
	case R_MMAP2:
		return do_mmap(r, a, type, rec, size, why);
	case R_COMM: {
		const char *comm;
		if (size < body_min(type) + a->trailer) {
			*why = "perf.data: a short COMM record";
			return -EINVAL;
		}
		comm = rec_string(rec + 16, rec + size - a->trailer);
		if (!comm) {
			*why = "perf.data: a COMM record's name is not terminated";
			return -EINVAL;
		}
		ev.type = XP_EV_COMM;
		ev.comm.pid = ld32(rec + 8);
		ev.comm.tid = ld32(rec + 12);
		ev.comm.time_ns = trailer_time(a, rec, size, 16);
		ev.comm.exec = ld16(rec + 4) & MISC_COMM_EXEC;
		snprintf(ev.comm.comm, sizeof(ev.comm.comm), "%s", comm);
		pid_seen(r, ev.comm.pid);
		return emit(r, &ev);
	}
	case R_FORK:
	case R_EXIT:
		if (size < body_min(type)) {
			*why = "perf.data: a short FORK or EXIT record";
			return -EINVAL;
		}
		ev.type = type == R_FORK ? XP_EV_FORK : XP_EV_EXIT;
		ev.task.pid = ld32(rec + 8);
		ev.task.ppid = ld32(rec + 12);
		ev.task.tid = ld32(rec + 16);
		ev.task.ptid = ld32(rec + 20);
		ev.task.time_ns = ld64(rec + 24);
		if (type == R_EXIT)
			ev.task.ppid = ev.task.ptid = 0;
		else
			pid_seen(r, ev.task.pid);
		return emit(r, &ev);
	case R_LOST:
	case R_LOST_SAMPLES:
		if (size < body_min(type)) {
			*why = "perf.data: a short LOST record";
			return -EINVAL;
		}
		ev.type = XP_EV_LOST;
		ev.lost.count = type == R_LOST ? ld64(rec + 16) : ld64(rec + 8);
		ev.lost.time_ns = trailer_time(a, rec, size, body_min(type));
		if (r->info)
			r->info->lost += ev.lost.count;
		return emit(r, &ev);
	}
	return 0;
}

/* ---- top level --------------------------------------------------------- */

static int header_read(struct pd_reader *r, const char **why)
{
	const uint8_t *h = r->buf;
	uint64_t magic, hsize, data_off, data_size;
	int err;

	if (r->len < 16) {
		*why = "not a perf.data file: too short for a header";
		return -EINVAL;
	}
	magic = ld64(h);
	hsize = ld64(h + 8);
	if (magic == PD_MAGIC_SWAPPED) {
		*why = "perf.data from a big-endian machine is not supported";
		return -EINVAL;
	}
	if (magic == PD_MAGIC_V1) {
		*why =
		    "perf.data version 1 (PERFFILE) is not supported: re-record with a newer perf";
		return -EINVAL;
	}
	if (magic != PD_MAGIC) {
		*why = "not a perf.data file: bad magic";
		return -EINVAL;
	}
	if (hsize == PD_PIPE_HDR_SIZE) {
		*why = "perf.data in pipe mode is not supported: record with 'perf record -o FILE' "
		       "or convert with 'perf inject -i - -o FILE'";
		return -EINVAL;
	}
	if (hsize < PD_HDR_SIZE || r->len < PD_HDR_SIZE) {
		*why = "perf.data: truncated or corrupt file header";
		return -EINVAL;
	}
	err = attrs_read(r, ld64(h + 16), ld64(h + 24), ld64(h + 32), why);
	if (err)
		return err;
	data_off = ld64(h + 40);
	data_size = ld64(h + 48);
	if (data_off > r->len) {
		*why = "perf.data: the data section starts past the end of the file";
		return -EINVAL;
	}
	/*
	 * perf record writes data_size last: 0 means it was killed. Read what
	 * is there; likewise when the file was cut short.
	 */
	if (!data_size || data_size > r->len - data_off) {
		r->truncated = true;
		data_size = r->len - data_off;
	} else {
		err = features_read(r, h + 72, data_off + data_size);
		if (err)
			return err;
	}
	r->data_off = data_off;
	r->data_end = data_off + data_size;
	r->windowed = data_size >> PD_WINDOW_SHIFT >= 4;
	return 0;
}

static int info_fill(struct pd_reader *r)
{
	struct xp_rec_info *in = r->info;
	const struct pd_attr *a = &r->attrs[0];

	in->version = 2; /* PERFILE2 */
	if (a->freq)
		in->frequency = (uint32_t)a->period_or_freq;
	else if (a->time_event && a->period_or_freq)
		in->frequency = (uint32_t)(1000000000ull / a->period_or_freq);
	in->stack_size = a->stack_user;
	if (a->inherit)
		in->flags |= XP_REC_F_INHERIT;
	if (a->kstack)
		in->flags |= XP_REC_F_KERNEL_STACK;
	snprintf(in->event, sizeof(in->event), "%s", a->name);
	return 0;
}

static int pd_parse(struct pd_reader *r, const char **why)
{
	int err = header_read(r, why);

	if (err)
		return err;
	if (r->info)
		info_fill(r);
	err = records_index(r, why);
	if (err)
		return err;
	for (size_t i = 0; i < r->nrecs; i++) {
		if (r->windowed)
			window_enter(r, (r->recs[i].off - r->data_off) >> PD_WINDOW_SHIFT);
		err = do_record(r, r->buf + r->recs[i].off, why);
		if (err == -EINVAL && *why) {
			/*
			 * A record whose contents do not fit its (walkable) size: the events
			 * before it in time order were delivered, the rest is skipped, as a
			 * cut file would be.
			 */
			if (r->info &&
			    (!r->info->skip_bytes || r->recs[i].off < r->info->skip_offset))
				skip_from(r, r->recs[i].off, *why);
			*why = NULL;
			err = 0;
			break;
		}
		if (err)
			return err;
		if (r->windowed) {
			uint64_t w = (r->recs[i].off - r->data_off) >> PD_WINDOW_SHIFT;
			if (!--r->window_left[w])
				window_release(r, w);
		}
	}
	if (r->info) {
		r->info->processes = r->pids.n;
		if (r->has_clock && r->info->start_time_ns)
			r->info->start_real_ns =
			    r->real_ns + (r->info->start_time_ns - r->clock_ns);
		/* as for .xprof: no end time tells a recording that was cut short */
		if (r->truncated)
			r->info->end_time_ns = 0;
	}
	return 0;
}

int xp_perfdata_read(const char *path, xp_event_fn fn, void *ctx, struct xp_rec_info *info,
		     const char **why)
{
	struct pd_reader r;
	static const char *unused;
	struct stat st;
	void *map = MAP_FAILED;
	int fd, err;

	if (!why)
		why = &unused;
	*why = NULL;
	memset(&r, 0, sizeof(r));
	r.fn = fn;
	r.ctx = ctx;
	r.info = info;
	if (info)
		memset(info, 0, sizeof(*info));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		*why = "perf.data: not a regular file (pipe mode is not supported: record with -o "
		       "FILE)";
		err = -EINVAL;
		goto out;
	}
	if (st.st_size < 16) {
		*why = "not a perf.data file: too short for a header";
		err = -EINVAL;
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	madvise(map, (size_t)st.st_size, MADV_WILLNEED);
	r.buf = map;
	r.len = (size_t)st.st_size;
	err = pd_parse(&r, why);
	if (err == -ENOMEM && !*why)
		*why = "out of memory";
out:
	for (uint32_t i = 0; i < r.nvdso; i++)
		free(r.vdso[i].image);
	free(r.window_left);
	free(r.window_mapped);
	xl_hmap_release(&r.pids);
	free(r.recs);
	free(r.bids);
	free(r.ids);
	free(r.attrs);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	close(fd);
	return err;
}
