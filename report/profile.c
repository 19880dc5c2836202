// SPDX-License-Identifier: MIT
/*
 * The profile model: interned strings, mappings, functions, locations and
 * samples aggregated by (pid, tid, comm, stack), each table deduplicated by
 * an open-addressing hash index of ids (see report_int.h). Adding a sample
 * whose stack was seen before costs one hash and one compare, no
 * allocation, so 1M samples over 10k unique stacks stay cheap in time and
 * memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

int rep_vec_grow(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		ncap *= 2;
	}
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* FNV-1a, then a final mix so the low bits the index uses depend on every byte. */
uint32_t rep_hash_bytes(uint32_t h, const void *data, size_t len)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t hash_final(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

#define HASH_SEED 2166136261u

/* One multiply per 64-bit word: the per-sample stack hash must be cheap. */
static uint32_t hash_u64(uint32_t h, uint64_t v)
{
	uint64_t x = ((uint64_t)h << 32 ^ h ^ v) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(x >> 32) ^ (uint32_t)x;
}

static uint32_t hash_u32s(uint32_t h, const uint32_t *v, size_t n)
{
	size_t i = 0;

	for (; i + 2 <= n; i += 2)
		h = hash_u64(h, (uint64_t)v[i] << 32 | v[i + 1]);
	if (i < n)
		h = hash_u64(h, v[i] | 1ull << 63);
	return h;
}

/* Hash-index operations. eq(ctx, id) says whether id is the key being looked up. */
typedef bool (*rep_eq_fn)(const struct rep_profile *p, const void *key, uint32_t id);

static uint32_t hidx_find(const struct rep_hidx *x, const struct rep_profile *p, uint32_t hash,
			  rep_eq_fn eq, const void *key, uint32_t *slot)
{
	uint32_t i;

	if (!x->mask) {
		*slot = 0;
		return REP_NONE;
	}
	for (i = hash & x->mask;; i = (i + 1) & x->mask) {
		uint32_t v = x->slots[i];

		if (!v)
			break;
		if (eq(p, key, v - 1))
			return v - 1;
	}
	*slot = i;
	return REP_NONE;
}

/* Rehash into twice the space; hashes come from the tables through get_hash. */
static int hidx_grow(struct rep_hidx *x, const struct rep_profile *p,
		     uint32_t (*get_hash)(const struct rep_profile *p, uint32_t id))
{
	uint32_t ncap = x->mask ? (x->mask + 1) * 2 : 64;
	uint32_t *ns;

	if (!ncap)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; x->mask && i <= x->mask; i++) {
		uint32_t v = x->slots[i], j;

		if (!v)
			continue;
		for (j = get_hash(p, v - 1) & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = v;
	}
	free(x->slots);
	x->slots = ns;
	x->mask = ncap - 1;
	return 0;
}

/*
 * Make room for one more id (load factor at most 1/2), then find the free
 * slot for key again since growing moves everything.
 */
static int hidx_prepare(struct rep_hidx *x, const struct rep_profile *p, uint32_t hash,
			rep_eq_fn eq, const void *key,
			uint32_t (*get_hash)(const struct rep_profile *p, uint32_t id),
			uint32_t *slot)
{
	if (x->n + 1 > (x->mask + 1) / 2) {
		int err = hidx_grow(x, p, get_hash);

		if (err)
			return err;
		hidx_find(x, p, hash, eq, key, slot);
	}
	return 0;
}

static void hidx_release(struct rep_hidx *x)
{
	free(x->slots);
	x->slots = NULL;
	x->mask = x->n = 0;
}

/* ---- strings ---------------------------------------------------------------- */

struct str_key {
	const char *s;
	size_t len;
};

static bool str_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct str_key *k = key;
	const struct rep_str *s = &p->strs.v[id];

	return s->len == k->len && !memcmp(p->blob.v + s->off, k->s, k->len);
}

static uint32_t str_hash(const struct rep_profile *p, uint32_t id)
{
	return p->strs.v[id].hash;
}

int rep_profile_intern(struct rep_profile *p, const char *s, size_t len, uint32_t *id)
{
	struct str_key key = {s, len};
	uint32_t hash = hash_final(rep_hash_bytes(HASH_SEED, s, len)), slot, found;
	size_t inner = SIZE_MAX;
	int err;

	found = hidx_find(&p->str_idx, p, hash, str_eq, &key, &slot);
	if (found != REP_NONE) {
		*id = found;
		return 0;
	}
	if (len > UINT32_MAX - 1 || p->blob.n + len + 1 > UINT32_MAX || p->strs.n >= REP_NONE - 1)
		return -ENOMEM;
	/* s may point into the blob (a caller passing a string it got back): it may move. */
	if (p->blob.v && (uintptr_t)s >= (uintptr_t)p->blob.v &&
	    (uintptr_t)s < (uintptr_t)(p->blob.v + p->blob.n))
		inner = (size_t)((uintptr_t)s - (uintptr_t)p->blob.v);
	err = rep_vec_reserve(&p->blob, p->blob.n + len + 1);
	if (err)
		return err;
	if (inner != SIZE_MAX)
		s = key.s = p->blob.v + inner;
	err = rep_vec_reserve(&p->strs, p->strs.n + 1);
	if (!err)
		err = hidx_prepare(&p->str_idx, p, hash, str_eq, &key, str_hash, &slot);
	if (err)
		return err;
	memmove(p->blob.v + p->blob.n, s, len);
	p->blob.v[p->blob.n + len] = '\0';
	p->strs.v[p->strs.n] = (struct rep_str){(uint32_t)p->blob.n, (uint32_t)len, hash};
	p->blob.n += len + 1;
	*id = (uint32_t)p->strs.n++;
	p->str_idx.slots[slot] = *id + 1;
	p->str_idx.n++;
	return 0;
}

static int intern_cstr(struct rep_profile *p, const char *s, uint32_t *id)
{
	if (!s) {
		*id = 0;
		return 0;
	}
	return rep_profile_intern(p, s, strlen(s), id);
}

/* ---- lifecycle -------------------------------------------------------------- */

struct rep_profile *rep_profile_new(uint64_t period_ns)
{
	struct rep_profile *p = calloc(1, sizeof(*p));
	uint32_t empty;

	if (!p)
		return NULL;
	p->period_ns = period_ns;
	/* String 0 is "", label set 0 the empty set. */
	if (rep_profile_intern(p, "", 0, &empty) || rep_profile_labelset(p, NULL, 0, &empty)) {
		rep_profile_free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void rep_profile_free(struct rep_profile *p)
{
	if (!p)
		return;
	free(p->blob.v);
	free(p->strs.v);
	hidx_release(&p->str_idx);
	free(p->maps.v);
	hidx_release(&p->map_idx);
	free(p->funcs.v);
	hidx_release(&p->func_idx);
	free(p->lines.v);
	free(p->locs.v);
	hidx_release(&p->loc_idx);
	free(p->lset_strs.v);
	free(p->lsets.v);
	hidx_release(&p->lset_idx);
	free(p->stack_locs.v);
	free(p->stacks.v);
	hidx_release(&p->stack_idx);
	free(p);
}

uint64_t rep_profile_total(const struct rep_profile *p)
{
	return p->total;
}

void rep_profile_set_time(struct rep_profile *p, uint64_t time_ns, uint64_t duration_ns)
{
	p->time_ns = time_ns;
	p->duration_ns = duration_ns;
}

void rep_profile_get_time(const struct rep_profile *p, uint64_t *time_ns, uint64_t *duration_ns)
{
	*time_ns = p->time_ns;
	*duration_ns = p->duration_ns;
}

/* ---- mappings --------------------------------------------------------------- */

static bool map_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct rep_map_int *a = key, *b = &p->maps.v[id];

	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       a->file == b->file && a->build_id == b->build_id;
}

static uint32_t map_hash(const struct rep_profile *p, uint32_t id)
{
	return p->maps.v[id].hash;
}

int rep_profile_mapping(struct rep_profile *p, const struct rep_mapping *m, uint32_t *id)
{
	struct rep_map_int k = {.start = m->start, .limit = m->limit, .offset = m->offset};
	uint32_t h, slot, found;
	int err;

	err = intern_cstr(p, m->file, &k.file);
	if (!err)
		err = intern_cstr(p, m->build_id, &k.build_id);
	if (err)
		return err;
	h = hash_u64(HASH_SEED, k.start);
	h = hash_u64(h, k.limit);
	h = hash_u64(h, k.offset);
	h = hash_u64(h, (uint64_t)k.file << 32 | k.build_id);
	k.hash = hash_final(h);
	found = hidx_find(&p->map_idx, p, k.hash, map_eq, &k, &slot);
	if (found != REP_NONE) {
		*id = found;
		return 0;
	}
	if (p->maps.n >= REP_NONE - 1)
		return -ENOMEM;
	err = rep_vec_reserve(&p->maps, p->maps.n + 1);
	if (!err)
		err = hidx_prepare(&p->map_idx, p, k.hash, map_eq, &k, map_hash, &slot);
	if (err)
		return err;
	p->maps.v[p->maps.n] = k;
	*id = (uint32_t)p->maps.n++;
	p->map_idx.slots[slot] = *id + 1;
	p->map_idx.n++;
	return 0;
}

/* ---- functions -------------------------------------------------------------- */

static bool func_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct rep_func_int *a = key, *b = &p->funcs.v[id];

	return a->name == b->name && a->file == b->file && a->kind == b->kind;
}

static uint32_t func_hash(const struct rep_profile *p, uint32_t id)
{
	return p->funcs.v[id].hash;
}

int rep_profile_function(struct rep_profile *p, const char *name, const char *file,
			 enum rep_kind kind, uint32_t *id)
{
	struct rep_func_int k = {.kind = (uint32_t)kind};
	uint32_t slot, found;
	int err;

	if ((unsigned)kind >= REP_KIND_NR)
		k.kind = REP_KIND_UNKNOWN;
	err = intern_cstr(p, name && *name ? name : "[unknown]", &k.name);
	if (!err)
		err = intern_cstr(p, file, &k.file);
	if (err)
		return err;
	k.hash = hash_final(hash_u64(HASH_SEED, (uint64_t)k.name << 32 | k.file) ^ k.kind);
	found = hidx_find(&p->func_idx, p, k.hash, func_eq, &k, &slot);
	if (found != REP_NONE) {
		*id = found;
		return 0;
	}
	/* Frame ids are function << 1 | inlined: keep the shift in range. */
	if (p->funcs.n >= (REP_NONE >> 1) - 1)
		return -ENOMEM;
	err = rep_vec_reserve(&p->funcs, p->funcs.n + 1);
	if (!err)
		err = hidx_prepare(&p->func_idx, p, k.hash, func_eq, &k, func_hash, &slot);
	if (err)
		return err;
	p->funcs.v[p->funcs.n] = k;
	*id = (uint32_t)p->funcs.n++;
	p->func_idx.slots[slot] = *id + 1;
	p->func_idx.n++;
	return 0;
}

/* ---- locations -------------------------------------------------------------- */

struct loc_key {
	uint64_t addr;
	uint32_t mapping;
	const struct rep_line_int *lines; /* may point into p->lines (the synthetic one) */
	uint32_t nlines;
	uint32_t nreal;
};

static bool loc_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct loc_key *k = key;
	const struct rep_loc_int *l = &p->locs.v[id];

	return l->addr == k->addr && l->mapping == k->mapping && l->nlines == k->nlines &&
	       l->nreal == k->nreal &&
	       !memcmp(&p->lines.v[l->line0], k->lines, k->nlines * sizeof(*k->lines));
}

static uint32_t loc_hash(const struct rep_profile *p, uint32_t id)
{
	return p->locs.v[id].hash;
}

/* The function a location without lines shows as: "[file+0xoffset]", or "[unknown]". */
static int synthetic_function(struct rep_profile *p, uint32_t mapping, uint64_t addr, uint32_t *fn)
{
	char buf[320];

	if (mapping != REP_NONE && mapping < p->maps.n && rep_str_len(p, p->maps.v[mapping].file)) {
		const struct rep_map_int *m = &p->maps.v[mapping];
		const char *file = rep_str(p, m->file), *base = strrchr(file, '/');
		int len;

		base = base ? base + 1 : file;
		len = (int)strnlen(base, 280);
		/* A pseudo-file ("[vdso]") keeps one pair of brackets: "[vdso+0x7bd]". */
		if (len > 2 && base[0] == '[' && base[len - 1] == ']')
			base++, len -= 2;
		snprintf(buf, sizeof(buf), "[%.*s+0x%" PRIx64 "]", len, base,
			 addr - m->start + m->offset);
	} else {
		snprintf(buf, sizeof(buf), "[unknown]");
	}
	return rep_profile_function(p, buf, NULL, REP_KIND_UNKNOWN, fn);
}

int rep_profile_location(struct rep_profile *p, uint32_t mapping, uint64_t addr,
			 const struct rep_line *lines, unsigned nlines, uint32_t *id)
{
	struct rep_line_int synth;
	struct loc_key k = {.addr = addr, .mapping = mapping, .nlines = nlines, .nreal = nlines};
	uint32_t h, slot, found;
	size_t base = p->lines.n;
	int err;

	if (mapping != REP_NONE && mapping >= p->maps.n)
		return -EINVAL;
	if (nlines > UINT32_MAX / 2)
		return -EINVAL;
	/* Stage the lines at the end of p->lines; they stay only if the location is new. */
	if (!nlines) {
		err = synthetic_function(p, mapping, addr, &synth.function);
		if (err)
			return err;
		synth.line = 0;
		synth.inlined = 0;
		k.nlines = 1;
	}
	err = rep_vec_reserve(&p->lines, base + k.nlines);
	if (err)
		return err;
	if (!nlines) {
		p->lines.v[base] = synth;
	} else {
		for (unsigned i = 0; i < nlines; i++) {
			if (lines[i].function >= p->funcs.n)
				return -EINVAL;
			p->lines.v[base + i] = (struct rep_line_int){
			    lines[i].function, lines[i].line, lines[i].inlined ? 1u : 0u};
		}
	}
	k.lines = &p->lines.v[base];
	h = hash_u64(HASH_SEED, addr);
	h = hash_u64(h, (uint64_t)mapping << 32 | k.nreal);
	h = hash_u32s(h, (const uint32_t *)k.lines, k.nlines * 3);
	h = hash_final(h);
	found = hidx_find(&p->loc_idx, p, h, loc_eq, &k, &slot);
	if (found != REP_NONE) {
		*id = found;
		return 0;
	}
	if (p->locs.n >= REP_NONE - 1 || base + k.nlines > UINT32_MAX)
		return -ENOMEM;
	err = rep_vec_reserve(&p->locs, p->locs.n + 1);
	if (!err)
		err = hidx_prepare(&p->loc_idx, p, h, loc_eq, &k, loc_hash, &slot);
	if (err)
		return err;
	p->locs.v[p->locs.n] = (struct rep_loc_int){.addr = addr,
						    .mapping = mapping,
						    .line0 = (uint32_t)base,
						    .nlines = k.nlines,
						    .nreal = k.nreal,
						    .hash = h};
	p->lines.n = base + k.nlines;
	*id = (uint32_t)p->locs.n++;
	p->loc_idx.slots[slot] = *id + 1;
	p->loc_idx.n++;
	return 0;
}

/* ---- label sets --------------------------------------------------------------- */

struct lset_key {
	const uint32_t *strs; /* key, value string ids */
	uint32_t n, hash;
};

static bool lset_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct lset_key *k = key;
	const struct rep_lset_int *l = &p->lsets.v[id];

	return l->hash == k->hash && l->n == k->n &&
	       (!k->n || !memcmp(&p->lset_strs.v[l->s0], k->strs, 2 * k->n * sizeof(*k->strs)));
}

static uint32_t lset_hash(const struct rep_profile *p, uint32_t id)
{
	return p->lsets.v[id].hash;
}

int rep_profile_labelset(struct rep_profile *p, const struct rep_label *l, unsigned n, uint32_t *id)
{
	uint32_t strs[2 * REP_LABELS_MAX], slot, found;
	struct lset_key k = {.strs = strs, .n = n};
	size_t base = p->lset_strs.n;
	int err = 0;

	if (n > REP_LABELS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n && !err; i++) {
		if (!l[i].key || !l[i].value)
			return -EINVAL;
		err = intern_cstr(p, l[i].key, &strs[2 * i]);
		if (!err)
			err = intern_cstr(p, l[i].value, &strs[2 * i + 1]);
	}
	if (err)
		return err;
	k.hash = hash_final(hash_u32s(HASH_SEED, strs, 2 * n));
	found = hidx_find(&p->lset_idx, p, k.hash, lset_eq, &k, &slot);
	if (found != REP_NONE) {
		*id = found;
		return 0;
	}
	if (p->lsets.n >= REP_NONE - 1 || base + 2 * n > UINT32_MAX)
		return -ENOMEM;
	err = rep_vec_reserve(&p->lset_strs, base + 2 * n);
	if (!err)
		err = rep_vec_reserve(&p->lsets, p->lsets.n + 1);
	if (!err)
		err = hidx_prepare(&p->lset_idx, p, k.hash, lset_eq, &k, lset_hash, &slot);
	if (err)
		return err;
	if (n)
		memcpy(&p->lset_strs.v[base], strs, 2 * n * sizeof(*strs));
	p->lset_strs.n = base + 2 * n;
	p->lsets.v[p->lsets.n] = (struct rep_lset_int){(uint32_t)base, n, k.hash};
	*id = (uint32_t)p->lsets.n++;
	p->lset_idx.slots[slot] = *id + 1;
	p->lset_idx.n++;
	return 0;
}

int rep_profile_labels(const struct rep_profile *p, uint32_t id, struct rep_label *l, unsigned max,
		       unsigned *n)
{
	const struct rep_lset_int *s;

	if (id >= p->lsets.n)
		return -ENOENT;
	s = &p->lsets.v[id];
	for (uint32_t i = 0; i < s->n && i < max; i++)
		l[i] = (struct rep_label){rep_str(p, p->lset_strs.v[s->s0 + 2 * i]),
					  rep_str(p, p->lset_strs.v[s->s0 + 2 * i + 1])};
	*n = s->n;
	return 0;
}

/* ---- samples ---------------------------------------------------------------- */

struct stack_key {
	uint32_t pid, tid, comm, labels, hash;
	const uint32_t *locs;
	uint32_t nlocs;
};

static bool stack_eq(const struct rep_profile *p, const void *key, uint32_t id)
{
	const struct stack_key *k = key;
	const struct rep_stack_int *s = &p->stacks.v[id];

	/* The hash first: a probe passes over other stacks before it finds its own. */
	return s->hash == k->hash && s->pid == k->pid && s->tid == k->tid && s->comm == k->comm &&
	       s->labels == k->labels && s->nlocs == k->nlocs &&
	       (!k->nlocs ||
		!memcmp(&p->stack_locs.v[s->loc0], k->locs, k->nlocs * sizeof(*k->locs)));
}

static uint32_t stack_hash(const struct rep_profile *p, uint32_t id)
{
	return p->stacks.v[id].hash;
}

int rep_profile_add(struct rep_profile *p, const struct rep_sample_key *key, const uint32_t *locs,
		    unsigned nlocs, uint64_t count)
{
	struct stack_key k = {.locs = locs, .nlocs = nlocs};
	uint32_t h, slot, found;
	size_t base;
	int err;

	if (key) {
		k.pid = key->pid;
		k.tid = key->tid;
		k.labels = key->labels;
	}
	if (k.labels >= p->lsets.n)
		return -EINVAL;
	err = intern_cstr(p, key && key->comm && *key->comm ? key->comm : "[unknown]", &k.comm);
	if (err)
		return err;
	for (unsigned i = 0; i < nlocs; i++)
		if (locs[i] >= p->locs.n)
			return -EINVAL;
	h = hash_u64(HASH_SEED, (uint64_t)k.pid << 32 | k.tid);
	h = hash_u64(h, (uint64_t)k.comm << 32 | nlocs);
	h = hash_u64(h, k.labels);
	h = hash_final(hash_u32s(h, locs, nlocs));
	k.hash = h;
	found = hidx_find(&p->stack_idx, p, h, stack_eq, &k, &slot);
	if (found != REP_NONE) {
		p->stacks.v[found].count += count;
		p->total += count;
		return 0;
	}
	base = p->stack_locs.n;
	if (p->stacks.n >= REP_NONE - 1 || base + nlocs > UINT32_MAX)
		return -ENOMEM;
	err = rep_vec_reserve(&p->stack_locs, base + nlocs);
	if (!err)
		err = rep_vec_reserve(&p->stacks, p->stacks.n + 1);
	if (!err)
		err = hidx_prepare(&p->stack_idx, p, h, stack_eq, &k, stack_hash, &slot);
	if (err)
		return err;
	if (nlocs)
		memcpy(&p->stack_locs.v[base], locs, nlocs * sizeof(*locs));
	p->stack_locs.n = base + nlocs;
	p->stacks.v[p->stacks.n] = (struct rep_stack_int){.count = count,
							  .pid = k.pid,
							  .tid = k.tid,
							  .comm = k.comm,
							  .labels = k.labels,
							  .loc0 = (uint32_t)base,
							  .nlocs = nlocs,
							  .hash = h};
	p->stack_idx.slots[slot] = (uint32_t)p->stacks.n + 1;
	p->stacks.n++;
	p->stack_idx.n++;
	p->total += count;
	return 0;
}
