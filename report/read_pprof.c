// SPDX-License-Identifier: MIT
/*
 * The pprof reader: a perftools.profiles.Profile message (profile.proto),
 * gzipped as `go tool pprof`, xprof and the Go runtime write it or plain,
 * into a profile the writers and the diff can use.
 *
 * The input is untrusted, so the decoder is small and bounded: it unpacks at
 * most REP_READ_MAX bytes, reads only the fields it needs (skipping the
 * others by wire type), checks every length against what is left and every
 * id and string index against the tables, and never recurses. Strings,
 * mappings, functions and locations may come in any order, so one pass
 * collects them and a second reads the samples.
 *
 * Which value a sample counts: the "samples" type if there is one (xprof's
 * and Go's CPU profiles), else default_sample_type, else the last type, as
 * pprof picks. The sample's comm is its "comm" label (xprof writes it), else
 * the base name of the first mapping (a Go binary), so the folded root names
 * the program; "pid" and "tid" number labels are kept. A location in the
 * kernel half of the address space (xprof writes kernel frames there, with
 * no mapping) or in a mapping named "[kernel..." (perf_to_profile) holds
 * kernel code, which the folded output marks _[k].
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report/report_int.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct pbr {
	const uint8_t *p, *end;
};

static int pbr_varint(struct pbr *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end)
			return -EINVAL;
		b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EINVAL; /* more than 10 bytes */
}

/*
 * Next field: its number, wire type, and its value (varint) or contents
 * (length-delimited, in *sub). Fixed-size fields are skipped over. 0, 1 at
 * the end, -EINVAL on a malformed field.
 */
static int pbr_next(struct pbr *r, uint32_t *field, uint32_t *wire, uint64_t *v, struct pbr *sub)
{
	uint64_t tag, len;

	if (r->p == r->end)
		return 1;
	if (pbr_varint(r, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
		return -EINVAL;
	*field = (uint32_t)(tag >> 3);
	*wire = (uint32_t)(tag & 7);
	*v = 0;
	switch (*wire) {
	case WT_VARINT:
		return pbr_varint(r, v);
	case WT_I64:
	case WT_I32:
		len = *wire == WT_I64 ? 8 : 4;
		if ((uint64_t)(r->end - r->p) < len)
			return -EINVAL;
		r->p += len;
		return 0;
	case WT_LEN:
		if (pbr_varint(r, &len) || len > (uint64_t)(r->end - r->p))
			return -EINVAL;
		sub->p = r->p;
		sub->end = r->p + len;
		r->p += len;
		return 0;
	default:
		return -EINVAL; /* groups (3, 4) are not in profile.proto; 6, 7 do not exist */
	}
}

/* A repeated integer field, packed (LEN) or not (one VARINT): call add for each value. */
static int pbr_repeated(uint32_t wire, uint64_t v, struct pbr *sub,
			int (*add)(void *ctx, uint64_t v), void *ctx)
{
	int err;

	if (wire == WT_VARINT)
		return add(ctx, v);
	if (wire != WT_LEN)
		return -EINVAL;
	while (sub->p < sub->end) {
		err = pbr_varint(sub, &v);
		if (!err)
			err = add(ctx, v);
		if (err)
			return err;
	}
	return 0;
}

struct pstr {
	const uint8_t *s;
	uint32_t len;
};

struct pmap {
	uint64_t id, start, limit, offset, file, build_id;
	uint32_t rep; /* our mapping id */
};

struct pfunc {
	uint64_t id, name, file;
};

struct ploc {
	uint64_t id, mapping, addr;
	struct pbr lines;
	uint32_t rep; /* our location id, REP_NONE until a sample uses it */
};
/* cmp_id() and ids_unique() read the id as each table entry's first word. */
_Static_assert(offsetof(struct pmap, id) == 0 && offsetof(struct pfunc, id) == 0 &&
		   offsetof(struct ploc, id) == 0,
	       "id first");

struct prd {
	struct rep_profile *p;
	char *why;
	size_t whylen;
	REP_VEC(struct pstr) strs;
	REP_VEC(struct pmap) maps;
	REP_VEC(struct pfunc) funcs;
	REP_VEC(struct ploc) locs;
	REP_VEC(uint64_t) types; /* sample_type's type string indexes */
	REP_VEC(uint64_t) u64s;	 /* scratch: a sample's location ids or values */
	REP_VEC(uint32_t) ids;	 /* scratch: our location ids of a sample */
	REP_VEC(struct rep_line) lines;
	REP_VEC(char) name, name2, comm, root;
	REP_VEC(char) lbuf; /* scratch: a sample's label strings, NUL-separated */
	uint64_t default_type, period, period_unit;
};

static int add_u64(void *ctx, uint64_t v)
{
	struct prd *r = ctx;
	int err = rep_vec_reserve(&r->u64s, r->u64s.n + 1);

	if (!err)
		r->u64s.v[r->u64s.n++] = v;
	return err;
}

static int bad(struct prd *r, const char *what)
{
	rep_why(r->why, r->whylen, "not a pprof profile: %s", what);
	return -EINVAL;
}

/* The string with index i as a NUL-terminated copy in buf; -EINVAL if i is out of range. */
static int cstr(struct prd *r, uint64_t i, void *vec, const char **out)
{
	REP_VEC(char) *buf = vec;
	int err;

	if (i >= r->strs.n)
		return bad(r, "a string index past the string table");
	err = rep_vec_reserve(buf, (size_t)r->strs.v[i].len + 1);
	if (err)
		return err;
	memcpy(buf->v, r->strs.v[i].s, r->strs.v[i].len);
	buf->v[r->strs.v[i].len] = '\0';
	*out = buf->v;
	return 0;
}

static bool str_is(const struct prd *r, uint64_t i, const char *s)
{
	size_t n = strlen(s);

	return i < r->strs.n && r->strs.v[i].len == n && !memcmp(r->strs.v[i].s, s, n);
}

/* ---- pass 1: the tables ----------------------------------------------------- */

static int read_value_type(struct pbr m, uint64_t *type, uint64_t *unit)
{
	uint32_t f, w;
	uint64_t v;
	struct pbr sub;
	int rc;

	*type = *unit = 0;
	while (!(rc = pbr_next(&m, &f, &w, &v, &sub)))
		if (w == WT_VARINT && f == 1)
			*type = v;
		else if (w == WT_VARINT && f == 2)
			*unit = v;
	return rc < 0 ? rc : 0;
}

/*
 * The varint fields 1..nval-1 of message m into val[] (the last one wins, as
 * protobuf merges a repeated scalar); other fields are skipped. 0 or -EINVAL.
 */
static int read_varints(struct pbr m, uint64_t *val, uint32_t nval)
{
	uint32_t f, w;
	uint64_t v;
	struct pbr sub;
	int rc;

	while (!(rc = pbr_next(&m, &f, &w, &v, &sub)))
		if (w == WT_VARINT && f < nval)
			val[f] = v;
	return rc < 0 ? rc : 0;
}

static int read_mapping(struct prd *r, struct pbr m)
{
	uint64_t x[7] = {0}; /* id, memory_start, memory_limit, file_offset, filename, build_id */
	int rc = read_varints(m, x, 7);

	if (!rc)
		rc = rep_vec_reserve(&r->maps, r->maps.n + 1);
	if (!rc)
		r->maps.v[r->maps.n++] = (struct pmap){.id = x[1],
						       .start = x[2],
						       .limit = x[3],
						       .offset = x[4],
						       .file = x[5],
						       .build_id = x[6],
						       .rep = REP_NONE};
	return rc;
}

static int read_function(struct prd *r, struct pbr m)
{
	uint64_t x[5] = {0}; /* id, name, system_name, filename */
	int rc = read_varints(m, x, 5);

	if (!rc)
		rc = rep_vec_reserve(&r->funcs, r->funcs.n + 1);
	if (!rc)
		r->funcs.v[r->funcs.n++] = (struct pfunc){.id = x[1], .name = x[2], .file = x[4]};
	return rc;
}

static int read_location(struct prd *r, struct pbr m)
{
	uint64_t x[4] = {0}; /* id, mapping_id, address; the lines are read at first use */
	int rc = read_varints(m, x, 4);

	if (!rc)
		rc = rep_vec_reserve(&r->locs, r->locs.n + 1);
	if (!rc)
		r->locs.v[r->locs.n++] = (struct ploc){
		    .id = x[1], .mapping = x[2], .addr = x[3], .lines = m, .rep = REP_NONE};
	return rc;
}

static int pass_tables(struct prd *r, struct pbr m)
{
	uint32_t f, w;
	uint64_t v, unit;
	struct pbr sub;
	int rc, err = 0;

	while (!err && !(rc = pbr_next(&m, &f, &w, &v, &sub))) {
		if (w == WT_LEN) {
			switch (f) {
			case 1: /* sample_type */
				err = rep_vec_reserve(&r->types, r->types.n + 1);
				if (!err)
					err =
					    read_value_type(sub, &r->types.v[r->types.n++], &unit);
				break;
			case 3:
				err = read_mapping(r, sub);
				break;
			case 4:
				err = read_location(r, sub);
				break;
			case 5:
				err = read_function(r, sub);
				break;
			case 6:
				if ((size_t)(sub.end - sub.p) > UINT32_MAX)
					return bad(r, "a string over 4 GiB");
				err = rep_vec_reserve(&r->strs, r->strs.n + 1);
				if (!err)
					r->strs.v[r->strs.n++] =
					    (struct pstr){sub.p, (uint32_t)(sub.end - sub.p)};
				break;
			case 11: /* period_type */
				err = read_value_type(sub, &unit, &r->period_unit);
				break;
			}
		} else if (w == WT_VARINT) {
			if (f == 12)
				r->period = v;
			else if (f == 14)
				r->default_type = v;
		}
	}
	if (err)
		return err == -EINVAL ? bad(r, "a malformed table entry") : err;
	return rc < 0 ? bad(r, "a malformed field") : 0;
}

/* ---- pass 2: samples ---------------------------------------------------------- */

/* Maps, functions and locations sort by their pprof id, each struct's first field. */
static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The entry of sorted table v[0..n) (entries of size bytes) with pprof id, or NULL. */
static void *find_id(void *v, size_t n, size_t size, uint64_t id)
{
	return n ? bsearch(&id, v, n, size, cmp_id) : NULL;
}

#define find_map(r, id) ((struct pmap *)find_id((r)->maps.v, (r)->maps.n, sizeof(struct pmap), id))
#define find_func(r, id)                                                                           \
	((struct pfunc *)find_id((r)->funcs.v, (r)->funcs.n, sizeof(struct pfunc), id))
#define find_loc(r, id) ((struct ploc *)find_id((r)->locs.v, (r)->locs.n, sizeof(struct ploc), id))

/* Ids must be unique, or a lookup would pick one at random. */
static bool ids_unique(const void *v, size_t n, size_t size)
{
	for (size_t i = 1; i < n; i++)
		if (*(const uint64_t *)((const char *)v + i * size) ==
		    *(const uint64_t *)((const char *)v + (i - 1) * size))
			return false;
	return true;
}

static int rep_map_of(struct prd *r, struct pmap *m)
{
	struct rep_mapping rm = {.start = m->start, .limit = m->limit, .offset = m->offset};
	int err;

	if (m->rep != REP_NONE)
		return 0;
	err = cstr(r, m->file, &r->name, &rm.file);
	if (!err && m->build_id)
		err = cstr(r, m->build_id, &r->name2, &rm.build_id);
	if (!err)
		err = rep_profile_mapping(r->p, &rm, &m->rep);
	return err;
}

/* Our location for pprof location l, made at its first use. */
static int rep_loc_of(struct prd *r, struct ploc *l)
{
	struct pmap *m = NULL;
	uint32_t f, w, mapping = REP_NONE;
	uint64_t v;
	struct pbr sub, it = l->lines;
	enum rep_kind kind = REP_KIND_USER;
	int rc, err;

	if (l->rep != REP_NONE)
		return 0;
	if (l->mapping) {
		m = find_map(r, l->mapping);
		if (!m)
			return bad(r, "a location names a mapping that does not exist");
		err = rep_map_of(r, m);
		if (err)
			return err;
		mapping = m->rep;
		if (m->file < r->strs.n && r->strs.v[m->file].len >= 7 &&
		    !memcmp(r->strs.v[m->file].s, "[kernel", 7))
			kind = REP_KIND_KERNEL;
	}
	/* x86-64's kernel half: xprof writes kernel frames there without a mapping. */
	if (l->addr >= 0xffff800000000000ull)
		kind = REP_KIND_KERNEL;
	r->lines.n = 0;
	while (!(rc = pbr_next(&it, &f, &w, &v, &sub))) {
		struct pbr ln = sub;
		uint64_t fid = 0, line = 0;
		struct pfunc *fn;
		const char *name, *file;
		enum rep_kind k = kind;

		if (f != 4 || w != WT_LEN)
			continue;
		while (!(rc = pbr_next(&ln, &f, &w, &v, &sub)))
			if (w == WT_VARINT && f == 1)
				fid = v;
			else if (w == WT_VARINT && f == 2)
				line = v;
		if (rc < 0)
			break;
		fn = find_func(r, fid);
		if (!fn)
			return bad(r, "a line names a function that does not exist");
		err = cstr(r, fn->name, &r->name, &name);
		if (!err)
			err = cstr(r, fn->file, &r->name2, &file);
		if (err)
			return err;
		if (!*name)
			name = "[unknown]"; /* what the model calls a nameless function */
		if (strlen(name) >= 2 && name[0] == '[' && name[strlen(name) - 1] == ']')
			k = REP_KIND_UNKNOWN;
		err = rep_vec_reserve(&r->lines, r->lines.n + 1);
		if (!err)
			err = rep_profile_function(r->p, name, file, k,
						   &r->lines.v[r->lines.n].function);
		if (err)
			return err;
		r->lines.v[r->lines.n].line = line > UINT32_MAX ? 0 : (uint32_t)line;
		r->lines.v[r->lines.n++].inlined = true;
	}
	if (rc < 0)
		return bad(r, "a malformed location");
	/* Innermost first: every line but the last is inlined into the next. */
	if (r->lines.n)
		r->lines.v[r->lines.n - 1].inlined = false;
	if (r->lines.n > UINT32_MAX / 2)
		return bad(r, "a location with too many lines");
	return rep_profile_location(r->p, mapping, l->addr, r->lines.v, (unsigned)r->lines.n,
				    &l->rep);
}

/*
 * The sample's string labels (besides comm and pprof::base) as a label set
 * of r->p: what an agent's window carries (host, service, ...). Keys after
 * the first REP_LABELS_MAX and repeated keys are left out.
 */
static int read_labelset(struct prd *r, const uint64_t (*kv)[2], unsigned n, uint32_t *id)
{
	struct rep_label l[REP_LABELS_MAX];
	size_t off[2 * REP_LABELS_MAX], need = 0;
	unsigned k = 0;
	int err;

	for (unsigned i = 0; i < n; i++)
		need += r->strs.v[kv[i][0]].len + r->strs.v[kv[i][1]].len + 2;
	err = rep_vec_reserve(&r->lbuf, need ? need : 1);
	if (err)
		return err;
	r->lbuf.n = 0;
	for (unsigned i = 0; i < n; i++)
		for (int j = 0; j < 2; j++) {
			const struct pstr *ps = &r->strs.v[kv[i][j]];

			off[2 * i + j] = r->lbuf.n;
			memcpy(r->lbuf.v + r->lbuf.n, ps->s, ps->len);
			r->lbuf.v[r->lbuf.n + ps->len] = '\0';
			r->lbuf.n += ps->len + 1;
		}
	for (unsigned i = 0; i < n; i++) {
		bool dup = false;

		l[k] = (struct rep_label){r->lbuf.v + off[2 * i], r->lbuf.v + off[2 * i + 1]};
		for (unsigned j = 0; j < k && !dup; j++)
			dup = !strcmp(l[j].key, l[k].key);
		if (!dup)
			k++;
	}
	return rep_profile_labelset(r->p, l, k, id);
}

static int read_sample(struct prd *r, struct pbr m, size_t vi, const char *default_comm)
{
	struct rep_sample_key key = {.comm = default_comm};
	uint64_t kv[REP_LABELS_MAX][2];
	unsigned nkv = 0;
	uint32_t f, w;
	uint64_t v, count = 0;
	struct pbr sub;
	size_t nvals = 0;
	int rc, err = 0;

	/* Pass over the sample twice: values and labels first, then locations. */
	r->u64s.n = 0;
	for (struct pbr it = m; !err && !(rc = pbr_next(&it, &f, &w, &v, &sub));) {
		if (f == 2) {
			err = pbr_repeated(w, v, &sub, add_u64, r);
		} else if (f == 3 && w == WT_LEN) {
			uint64_t k = 0, str = 0, num = 0;
			struct pbr lb = sub;

			while (!(rc = pbr_next(&lb, &f, &w, &v, &sub)))
				if (w == WT_VARINT && f == 1)
					k = v;
				else if (w == WT_VARINT && f == 2)
					str = v;
				else if (w == WT_VARINT && f == 3)
					num = v;
			if (rc < 0)
				return bad(r, "a malformed label");
			if (str_is(r, k, "comm") && str)
				err = cstr(r, str, &r->comm, &key.comm);
			else if (str_is(r, k, "pid") && num <= UINT32_MAX)
				key.pid = (uint32_t)num;
			else if (str_is(r, k, "tid") && num <= UINT32_MAX)
				key.tid = (uint32_t)num;
			else if (str && k < r->strs.n && str < r->strs.n && nkv < REP_LABELS_MAX &&
				 !str_is(r, k, "pprof::base")) {
				kv[nkv][0] = k;
				kv[nkv++][1] = str;
			}
		}
	}
	if (err)
		return err == -EINVAL ? bad(r, "a malformed sample") : err;
	if (rc < 0)
		return bad(r, "a malformed sample");
	nvals = r->u64s.n;
	if (nvals != r->types.n)
		return bad(r, "a sample's value count differs from the sample types");
	if ((int64_t)r->u64s.v[vi] < 0) {
		rep_why(r->why, r->whylen,
			"negative sample values: a difference (pprof -diff_base or xprof diff "
			"output), not a profile; give the two profiles instead");
		return -EINVAL;
	}
	count = r->u64s.v[vi];
	if (!count)
		return 0;
	if (count > UINT64_MAX - rep_profile_total(r->p))
		return bad(r, "sample values add up past 2^64");

	r->u64s.n = 0;
	for (struct pbr it = m; !err && !(rc = pbr_next(&it, &f, &w, &v, &sub));)
		if (f == 1)
			err = pbr_repeated(w, v, &sub, add_u64, r);
	if (err)
		return err == -EINVAL ? bad(r, "a malformed sample") : err;
	if (r->u64s.n > REP_READ_MAX_FRAMES)
		return bad(r, "a sample deeper than the frame limit");
	r->ids.n = 0;
	err = rep_vec_reserve(&r->ids, r->u64s.n);
	for (size_t i = 0; i < r->u64s.n && !err; i++) {
		struct ploc *l = find_loc(r, r->u64s.v[i]);

		if (!l)
			return bad(r, "a sample names a location that does not exist");
		err = rep_loc_of(r, l);
		if (!err)
			r->ids.v[r->ids.n++] = l->rep;
	}
	if (!err && nkv)
		err = read_labelset(r, kv, nkv, &key.labels);
	if (!err)
		err = rep_profile_add(r->p, &key, r->ids.v, (unsigned)r->ids.n, count);
	return err;
}

static int pass_samples(struct prd *r, struct pbr m)
{
	const char *default_comm = "[unknown]";
	uint32_t f, w;
	uint64_t v;
	struct pbr sub;
	size_t vi;
	int rc, err = 0;

	if (!r->types.n)
		return bad(r, "no sample types");
	vi = r->types.n - 1;
	for (size_t i = 0; i < r->types.n; i++)
		if (r->default_type && r->types.v[i] == r->default_type)
			vi = i;
	for (size_t i = 0; i < r->types.n; i++)
		if (str_is(r, r->types.v[i], "samples")) {
			vi = i;
			break;
		}
	/* One sample stands for period ns of CPU when the counts are samples of a clock. */
	if (str_is(r, r->types.v[vi], "samples") && str_is(r, r->period_unit, "nanoseconds"))
		r->p->period_ns = r->period;
	/* The first mapping is the main binary: its name roots a profile without comm labels. */
	if (r->maps.n && r->maps.v[0].file) {
		const char *file, *base;

		err = cstr(r, r->maps.v[0].file, &r->name2, &file);
		if (err)
			return err;
		base = strrchr(file, '/');
		base = base ? base + 1 : file;
		if (*base) {
			err = rep_vec_reserve(&r->root, strlen(base) + 1);
			if (err)
				return err;
			memcpy(r->root.v, base, strlen(base) + 1);
			default_comm = r->root.v;
		}
	}
	/* qsort wants a non-NULL base even for 0 elements */
	if (r->maps.n)
		qsort(r->maps.v, r->maps.n, sizeof(*r->maps.v), cmp_id);
	if (r->funcs.n)
		qsort(r->funcs.v, r->funcs.n, sizeof(*r->funcs.v), cmp_id);
	if (r->locs.n)
		qsort(r->locs.v, r->locs.n, sizeof(*r->locs.v), cmp_id);
	if (!ids_unique(r->maps.v, r->maps.n, sizeof(*r->maps.v)) ||
	    !ids_unique(r->funcs.v, r->funcs.n, sizeof(*r->funcs.v)) ||
	    !ids_unique(r->locs.v, r->locs.n, sizeof(*r->locs.v)))
		return bad(r, "two entries with the same id");
	while (!err && !(rc = pbr_next(&m, &f, &w, &v, &sub)))
		if (f == 2 && w == WT_LEN)
			err = read_sample(r, sub, vi, default_comm);
	return err;
}

/* gunzip buf into *out, at most REP_READ_MAX bytes. 0, -EINVAL (corrupt), -EFBIG, -ENOMEM. */
static int gunzip(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream z = {0};
	REP_VEC(uint8_t) o = {0};
	int zr = Z_OK, err = 0;

	if (inflateInit2(&z, 16 + 15) != Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)buf;
	while (zr != Z_STREAM_END) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;

		if (!z.avail_in && chunk) {
			z.avail_in = (uInt)chunk;
			len -= chunk;
		}
		if (o.n == o.cap) {
			if (o.cap >= REP_READ_MAX) {
				err = -EFBIG;
				break;
			}
			err = rep_vec_reserve(&o, o.n + (o.n < (1u << 16) ? (1u << 16) : o.n));
			if (err)
				break;
		}
		z.next_out = o.v + o.n;
		z.avail_out = (uInt)(o.cap - o.n);
		zr = inflate(&z, Z_NO_FLUSH);
		o.n = o.cap - z.avail_out;
		if (zr == Z_BUF_ERROR && !z.avail_in && !len) {
			err = -EINVAL; /* cut short */
			break;
		}
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			err = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	inflateEnd(&z);
	if (!err && o.n > REP_READ_MAX)
		err = -EFBIG;
	if (err) {
		free(o.v);
		return err;
	}
	*out = o.v;
	*outlen = o.n;
	return 0;
}

int rep_read_pprof(struct rep_profile *p, const void *buf, size_t len, char *why, size_t whylen)
{
	struct prd r = {.p = p, .why = why, .whylen = whylen};
	const uint8_t *b = buf;
	uint8_t *unpacked = NULL;
	struct pbr m = {b, b + len};
	int err;

	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		err = gunzip(b, len, &unpacked, &len);
		if (err == -EINVAL)
			rep_why(why, whylen, "corrupt or truncated gzip data");
		else if (err == -EFBIG)
			rep_why(why, whylen, "unpacks to more than %d MiB", REP_READ_MAX >> 20);
		if (err)
			return err;
		m = (struct pbr){unpacked, unpacked + len};
	}
	err = pass_tables(&r, m);
	if (!err)
		err = pass_samples(&r, m);
	if (err == -ENOMEM)
		rep_why(why, whylen, "out of memory");
	free(unpacked);
	free(r.strs.v);
	free(r.maps.v);
	free(r.funcs.v);
	free(r.locs.v);
	free(r.types.v);
	free(r.u64s.v);
	free(r.ids.v);
	free(r.lines.v);
	free(r.name.v);
	free(r.name2.v);
	free(r.comm.v);
	free(r.root.v);
	free(r.lbuf.v);
	return err;
}
