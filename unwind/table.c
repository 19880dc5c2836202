// SPDX-License-Identifier: MIT
/*
 * The compact table: building it from decoded rows (merge, deduplicate,
 * lay out the blob of unwind_int.h), validating a stored blob, and the
 * lookup the walker does once per frame. A lookup is an index into blk[]
 * plus a binary search over one block's u16 addresses; it never allocates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "unwind/unwind_int.h"

#define BLOCK_SIZE (1ull << UNW_TAB_BLOCK_SHIFT)

/* Encode one saved-register place into its 2-bit loc and 1-byte off. */
static bool loc_encode(uint8_t loc, int32_t off, unsigned *loc_out, int8_t *off_out)
{
	if (loc > UNW_LOC_UNDEF)
		return false;
	*loc_out = loc;
	*off_out = 0;
	switch (loc) {
	case UNW_LOC_CFA_OFF:
		if (off % 8 || off < -1024 || off > 1016)
			return false;
		*off_out = (int8_t)(off / 8);
		break;
	case UNW_LOC_REG:
		if (off < 0 || off > 127)
			return false;
		*off_out = (int8_t)off;
		break;
	default:
		break;
	}
	return true;
}

bool unw_rule_encode(const struct unw_rule *in, struct unw_row *out)
{
	uint8_t loc[UNW_ROW_NLOCS];
	int32_t off[UNW_ROW_NLOCS];
	unsigned locs = 0;

	memset(out, 0, sizeof(*out));
	if (in->type > UNW_RULE_FALLBACK || in->flags & ~UNW_RULE_F_SYNTH)
		return false;
	out->kind = in->type;
	out->flags = in->flags;
	if (in->type != UNW_RULE_CFA)
		return true; /* the other types carry no fields: equal rules stay equal */
	if (in->cfa_reg > 31)
		return false;
	out->kind |= (uint8_t)(in->cfa_reg << 3);
	out->cfa_off = in->cfa_off;
	loc[0] = in->ra_loc;
	off[0] = in->ra_off;
	loc[1] = in->bp_loc;
	off[1] = in->bp_off;
	for (int i = 0; i < UNW_NSAVED; i++) {
		loc[2 + i] = in->reg_loc[i];
		off[2 + i] = in->reg_off[i];
	}
	for (int i = 0; i < UNW_ROW_NLOCS; i++) {
		unsigned l;

		if (!loc_encode(loc[i], off[i], &l, &out->off[i]))
			return false;
		locs |= l << (2 * i);
	}
	out->locs = (uint16_t)locs;
	return true;
}

static inline int32_t loc_decode(const struct unw_row *in, int i)
{
	switch (UNW_ROW_LOC(in, i)) {
	case UNW_LOC_CFA_OFF:
		return in->off[i] * 8;
	case UNW_LOC_REG:
		return in->off[i];
	default:
		return 0;
	}
}

/* Inlined into the lookup: it runs once per unwound frame. */
static inline void decode(const struct unw_row *in, struct unw_rule *out)
{
	memset(out, 0, sizeof(*out));
	out->type = UNW_ROW_TYPE(in);
	out->flags = in->flags;
	if (out->type != UNW_RULE_CFA)
		return;
	out->cfa_reg = UNW_ROW_CFA_REG(in);
	out->cfa_off = in->cfa_off;
	out->ra_loc = UNW_ROW_RA_LOC(in);
	out->bp_loc = UNW_ROW_BP_LOC(in);
	out->ra_off = loc_decode(in, 0);
	out->bp_off = loc_decode(in, 1);
	for (int i = 0; i < UNW_NSAVED; i++) {
		out->reg_loc[i] = (uint8_t)UNW_ROW_LOC(in, 2 + i);
		out->reg_off[i] = loc_decode(in, 2 + i);
	}
}

void unw_rule_decode(const struct unw_row *in, struct unw_rule *out)
{
	decode(in, out);
}

/* A rule record as two words: equal records have equal keys (no padding bytes). */
struct row_key {
	uint64_t a, b;
};

static struct row_key row_key(const struct unw_row *r)
{
	struct row_key k;

	memcpy(&k, r, sizeof(k));
	return k;
}

static bool key_eq(struct row_key x, struct row_key y)
{
	return x.a == y.a && x.b == y.b;
}

static size_t key_hash(struct row_key k, size_t mask)
{
	return (size_t)(((k.a ^ (k.b * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull) >> 32) &
	       mask;
}

/* Offsets of the blob's arrays, from the counts alone. */
struct layout {
	size_t blk, sub, rules, ip, rid, size;
};

static int layout_of(uint64_t n, uint64_t nrules, uint64_t nblocks, struct layout *l)
{
	/* Counts come from untrusted files too: keep every product far from overflow. */
	if (n > UINT32_MAX / 8 || nrules > UNW_TAB_MAX_RULES || nblocks > (1u << 16))
		return -EINVAL;
	l->blk = sizeof(struct unw_tab_hdr);
	l->sub = l->blk + 4 * (nblocks + 1);
	l->rules = l->sub + 2 * UNW_TAB_SUBS * nblocks;
	l->rules = (l->rules + 7) & ~(size_t)7;
	l->ip = l->rules + sizeof(struct unw_row) * nrules;
	l->rid = l->ip + 2 * n;
	l->size = l->rid + UNW_TAB_RID_SIZE(nrules) * n;
	return 0;
}

static void table_point(struct unw_table *tab)
{
	const struct unw_tab_hdr *h = tab->blob;
	struct layout l = {0};

	layout_of(h->nentries, h->nrules, h->nblocks, &l);
	tab->size = l.size;
	tab->base = h->base;
	tab->n = h->nentries;
	tab->nrules = h->nrules;
	tab->nblocks = h->nblocks;
	tab->blk = (const uint32_t *)((const char *)tab->blob + l.blk);
	tab->sub = (const uint16_t *)((const char *)tab->blob + l.sub);
	tab->rules = (const struct unw_row *)((const char *)tab->blob + l.rules);
	tab->ip = (const uint16_t *)((const char *)tab->blob + l.ip);
	if (UNW_TAB_RID_SIZE(h->nrules) == 1)
		tab->rid8 = (const uint8_t *)tab->blob + l.rid;
	else
		tab->rid16 = (const uint16_t *)((const char *)tab->blob + l.rid);
}

/* CRC-32 of the whole blob with the crc field taken as 0. */
static uint32_t blob_crc(const void *blob, size_t size)
{
	struct unw_tab_hdr h;
	const unsigned char *p = (const unsigned char *)blob + sizeof(h);
	size_t left = size - sizeof(h);
	uLong crc = crc32(0L, Z_NULL, 0);

	memcpy(&h, blob, sizeof(h));
	h.crc = 0;
	crc = crc32(crc, (const unsigned char *)&h, sizeof(h));
	while (left) {
		uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;

		crc = crc32(crc, p, chunk);
		p += chunk;
		left -= chunk;
	}
	return (uint32_t)crc;
}

/* Open-addressing map from a stored rule to its id, for deduplication. */
struct rule_map {
	uint32_t *slot; /* id + 1, 0 = empty */
	size_t mask;
	struct unw_row *rules;
	size_t n, cap;
};

static int rule_map_init(struct rule_map *m, size_t hint)
{
	size_t sz = 64;

	while (sz < 2 * hint && sz < 2 * UNW_TAB_MAX_RULES)
		sz <<= 1;
	memset(m, 0, sizeof(*m));
	m->slot = calloc(sz, sizeof(*m->slot));
	m->mask = sz - 1;
	return m->slot ? 0 : -ENOMEM;
}

static void rule_map_release(struct rule_map *m)
{
	free(m->slot);
	free(m->rules);
}

static int rule_map_id(struct rule_map *m, const struct unw_row *r)
{
	struct row_key k = row_key(r);
	size_t h = key_hash(k, m->mask);

	for (;; h = (h + 1) & m->mask) {
		uint32_t s = m->slot[h];

		if (!s)
			break;
		if (key_eq(row_key(&m->rules[s - 1]), k))
			return (int)(s - 1);
	}
	if (m->n == UNW_TAB_MAX_RULES)
		return -E2BIG;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct unw_row *nr = realloc(m->rules, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		m->rules = nr;
		m->cap = cap;
	}
	m->rules[m->n] = *r;
	m->slot[h] = (uint32_t)++m->n;
	/* Keep the load under 1/2; the map never needs more than 2 * 65536 slots. */
	if (2 * m->n > m->mask + 1) {
		size_t sz = 2 * (m->mask + 1);
		uint32_t *ns = calloc(sz, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < m->n; i++) {
			size_t j = key_hash(row_key(&m->rules[i]), sz - 1);

			while (ns[j])
				j = (j + 1) & (sz - 1);
			ns[j] = (uint32_t)(i + 1);
		}
		free(m->slot);
		m->slot = ns;
		m->mask = sz - 1;
	}
	return (int)(m->n - 1);
}

/*
 * A table built row by row in address order: each rule is encoded and
 * deduplicated as it comes, so what is held while building is 10 bytes a
 * row (address, rule id) and the distinct rules, not every row's rule. The
 * rows of a large library (550k in an 82 MB one) are the peak of a
 * long-running agent's memory.
 */
struct unw_tab_build {
	struct rule_map map;
	uint64_t *eaddr;
	uint16_t *erid;
	size_t ne, cap;
	uint64_t first, last; /* addresses of the first and the latest row */
	bool any;
};

struct unw_tab_build *unw_tab_build_new(size_t hint)
{
	struct unw_tab_build *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cap = hint ? hint : 16;
	b->eaddr = malloc(b->cap * sizeof(*b->eaddr));
	b->erid = malloc(b->cap * sizeof(*b->erid));
	if (!b->eaddr || !b->erid || rule_map_init(&b->map, hint < 4096 ? hint : 4096)) {
		unw_tab_build_free(b);
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

void unw_tab_build_free(struct unw_tab_build *b)
{
	if (!b)
		return;
	rule_map_release(&b->map);
	free(b->eaddr);
	free(b->erid);
	free(b);
}

int unw_tab_build_add(struct unw_tab_build *b, uint64_t addr, const struct unw_rule *rule)
{
	struct unw_row r;
	int id;

	if (b->any && addr < b->last)
		return -EINVAL;
	if (!b->any) {
		b->first = addr;
		b->any = true;
	}
	b->last = addr;
	if (addr - b->first > UINT32_MAX - BLOCK_SIZE)
		return -E2BIG;
	if (!unw_rule_encode(rule, &r))
		return -EINVAL;
	id = rule_map_id(&b->map, &r);
	if (id < 0)
		return id;
	/* Of rows at the same address the last wins (an empty range), and a row
	 * with its predecessor's rule adds nothing. */
	if (b->ne && b->eaddr[b->ne - 1] == addr)
		b->ne--;
	if (b->ne && b->erid[b->ne - 1] == id)
		return 0;
	if (b->ne == b->cap) {
		size_t cap = 2 * b->cap;
		uint64_t *na = realloc(b->eaddr, cap * sizeof(*na));
		uint16_t *nr;

		if (!na)
			return -ENOMEM;
		b->eaddr = na;
		nr = realloc(b->erid, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		b->erid = nr;
		b->cap = cap;
	}
	b->eaddr[b->ne] = addr;
	b->erid[b->ne++] = (uint16_t)id;
	return 0;
}

struct unw_table *unw_tab_build_finish(struct unw_tab_build *bld)
{
	struct unw_table *tab = NULL;
	struct rule_map map = bld->map;
	uint64_t *eaddr = bld->eaddr;
	uint16_t *erid = bld->erid;
	size_t ne = bld->ne;
	int err;

	/* Dropped rows may leave rules no entry uses; renumbering is not worth it. */
	uint64_t base = ne ? eaddr[0] & ~(BLOCK_SIZE - 1) : 0;
	uint32_t nblocks = ne ? (uint32_t)(((eaddr[ne - 1] - base) >> UNW_TAB_BLOCK_SHIFT) + 1) : 0;
	struct layout l;

	err = layout_of(ne, map.n, nblocks, &l);
	if (err) {
		err = -E2BIG;
		goto out;
	}
	err = -ENOMEM;
	tab = calloc(1, sizeof(*tab));
	if (!tab)
		goto out;
	tab->blob = calloc(1, l.size);
	if (!tab->blob)
		goto out;

	struct unw_tab_hdr *h = tab->blob;
	uint32_t *blk = (uint32_t *)((char *)tab->blob + l.blk);
	uint16_t *sub = (uint16_t *)((char *)tab->blob + l.sub);
	uint16_t *ip = (uint16_t *)((char *)tab->blob + l.ip);
	uint8_t *rid = (uint8_t *)tab->blob + l.rid;
	unsigned rw = UNW_TAB_RID_SIZE(map.n);
	size_t e = 0;

	if (map.n)
		memcpy((char *)tab->blob + l.rules, map.rules, map.n * sizeof(struct unw_row));
	for (uint32_t b = 0; b <= nblocks; b++) {
		while (e < ne && eaddr[e] - base < (uint64_t)b << UNW_TAB_BLOCK_SHIFT)
			e++;
		blk[b] = (uint32_t)e;
	}
	/* sub-blocks: entry index of each 1 KiB step, relative to its block's first */
	e = 0;
	for (uint32_t b = 0; b < nblocks; b++) {
		for (uint32_t k = 0; k < UNW_TAB_SUBS; k++) {
			uint64_t at = ((uint64_t)b << UNW_TAB_BLOCK_SHIFT) +
				      ((uint64_t)k << UNW_TAB_SUB_SHIFT);

			while (e < ne && eaddr[e] - base < at)
				e++;
			sub[b * UNW_TAB_SUBS + k] = (uint16_t)(e - blk[b]);
		}
	}
	for (e = 0; e < ne; e++) {
		ip[e] = (uint16_t)((eaddr[e] - base) & (BLOCK_SIZE - 1));
		if (rw == 1)
			rid[e] = (uint8_t)erid[e];
		else
			memcpy(rid + 2 * e, &erid[e], 2); /* little-endian u16, as rid16 reads it */
	}
	h->magic = UNW_TAB_MAGIC;
	h->version = UNW_TAB_VERSION;
	h->row_size = sizeof(struct unw_row);
	h->nentries = (uint32_t)ne;
	h->nrules = (uint32_t)map.n;
	h->nblocks = nblocks;
	h->base = base;
	h->size = l.size;
	h->crc = blob_crc(tab->blob, l.size);
	table_point(tab);
	tab->stats.entries = ne;
	tab->stats.rules = map.n;
	tab->stats.bytes = l.size;
	err = 0;
out:
	unw_tab_build_free(bld);
	if (err) {
		if (tab)
			free(tab->blob);
		free(tab);
		errno = -err;
		return NULL;
	}
	return tab;
}

struct unw_table *unw_table_from_rows(const uint64_t *addr, const struct unw_rule *rule, size_t n)
{
	struct unw_tab_build *b;
	int err = 0;

	if (n && (!addr || !rule)) {
		errno = EINVAL;
		return NULL;
	}
	b = unw_tab_build_new(n);
	if (!b)
		return NULL;
	for (size_t i = 0; i < n && !err; i++)
		err = unw_tab_build_add(b, addr[i], &rule[i]);
	if (err) {
		unw_tab_build_free(b);
		errno = -err;
		return NULL;
	}
	return unw_tab_build_finish(b);
}

struct unw_table *unw_table_from_blob(void *blob, size_t size)
{
	const struct unw_tab_hdr *h = blob;
	struct unw_table *tab = NULL;
	struct layout l;
	int err = -EINVAL;

	if (!blob || size < sizeof(*h) || h->magic != UNW_TAB_MAGIC ||
	    h->version != UNW_TAB_VERSION || h->row_size != sizeof(struct unw_row) ||
	    h->size != size || layout_of(h->nentries, h->nrules, h->nblocks, &l) ||
	    l.size != size || (h->base & (BLOCK_SIZE - 1)) || (h->nentries && !h->nblocks) ||
	    (!h->nentries && h->nblocks) || blob_crc(blob, size) != h->crc)
		goto out;
	if (h->nblocks && (h->base + ((uint64_t)h->nblocks << UNW_TAB_BLOCK_SHIFT) < h->base))
		goto out;

	const uint32_t *blk = (const uint32_t *)((const char *)blob + l.blk);
	const uint16_t *sub = (const uint16_t *)((const char *)blob + l.sub);
	const struct unw_row *rules = (const struct unw_row *)((const char *)blob + l.rules);
	const uint16_t *ip = (const uint16_t *)((const char *)blob + l.ip);
	const uint8_t *rid = (const uint8_t *)blob + l.rid;
	unsigned rw = UNW_TAB_RID_SIZE(h->nrules);

	if (h->nblocks && (blk[0] != 0 || blk[h->nblocks] != h->nentries || blk[1] == 0 ||
			   blk[h->nblocks - 1] == h->nentries))
		goto out; /* the first and the last block hold entries by construction */
	for (uint32_t b = 0; b < h->nblocks; b++) {
		if (blk[b + 1] < blk[b])
			goto out;
		for (uint32_t e = blk[b] + 1; e < blk[b + 1]; e++)
			if (ip[e] <= ip[e - 1])
				goto out;
		/* every entry lies in the sub-block that sub[] says: lookups trust it */
		const uint16_t *sb = sub + (size_t)b * UNW_TAB_SUBS;

		if (sb[0] != 0)
			goto out;
		for (uint32_t k = 0; k < UNW_TAB_SUBS; k++) {
			uint32_t lo = blk[b] + sb[k];
			uint32_t hi = k + 1 < UNW_TAB_SUBS ? blk[b] + sb[k + 1] : blk[b + 1];

			if (hi < lo || hi > blk[b + 1])
				goto out;
			for (uint32_t e = lo; e < hi; e++)
				if (ip[e] >> UNW_TAB_SUB_SHIFT != k)
					goto out;
		}
	}
	for (uint32_t e = 0, prev = 0; e < h->nentries; e++) {
		uint32_t id =
		    rw == 1 ? rid[e] : (uint32_t)rid[2 * e] | (uint32_t)rid[2 * e + 1] << 8;

		if (id >= h->nrules || (e && id == prev))
			goto out;
		prev = id;
	}
	for (uint32_t r = 0; r < h->nrules; r++) {
		struct unw_rule d;
		struct unw_row back;

		/* Only records the encoder can produce: decode + encode is the identity. */
		unw_rule_decode(&rules[r], &d);
		if (!unw_rule_encode(&d, &back) || !key_eq(row_key(&back), row_key(&rules[r])))
			goto out;
	}
	err = -ENOMEM;
	tab = calloc(1, sizeof(*tab));
	if (!tab)
		goto out;
	tab->blob = blob;
	table_point(tab);
	tab->stats.entries = tab->n;
	tab->stats.rules = tab->nrules;
	tab->stats.bytes = size;
	return tab;
out:
	free(blob);
	errno = -err;
	return NULL;
}

const void *unw_table_blob(const struct unw_table *tab, size_t *size)
{
	*size = tab->size;
	return tab->blob;
}

const struct unw_gen_stats *unw_table_stats(const struct unw_table *tab)
{
	return &tab->stats;
}

void unw_table_free(struct unw_table *tab)
{
	if (!tab)
		return;
	free(tab->blob);
	free(tab);
}

size_t unw_table_count(const struct unw_table *tab)
{
	return tab ? tab->n : 0;
}

static inline uint32_t rule_id(const struct unw_table *tab, size_t i)
{
	return tab->rid8 ? tab->rid8[i] : tab->rid16[i];
}

/* Index of the entry covering vaddr, or -1 when vaddr is before the first one. */
static inline long table_find(const struct unw_table *tab, uint64_t vaddr)
{
	uint64_t off;
	uint32_t lo, hi, b, s;
	uint16_t key;
	const uint16_t *sb;

	if (!tab->n || vaddr < tab->base)
		return -1;
	off = vaddr - tab->base;
	b = (uint32_t)(off >> UNW_TAB_BLOCK_SHIFT);
	if ((off >> UNW_TAB_BLOCK_SHIFT) >= tab->nblocks)
		return (long)tab->n - 1;
	key = (uint16_t)off;
	s = key >> UNW_TAB_SUB_SHIFT;
	sb = tab->sub + (size_t)b * UNW_TAB_SUBS;
	lo = tab->blk[b] + sb[s];
	hi = s + 1 < UNW_TAB_SUBS ? tab->blk[b] + sb[s + 1] : tab->blk[b + 1];
	/*
	 * How many of ip[lo, hi) are <= key, branch-free (Khuong and Morin's
	 * layout paper): random lookups mispredict every step of a branchy
	 * binary search.
	 */
	if (lo == hi)
		return (long)lo - 1;
	const uint16_t *base = tab->ip + lo;
	uint32_t n = hi - lo;

	while (n > 1) {
		uint32_t half = n / 2;

		base += (base[half] <= key) * half; /* a cmov, not a branch */
		n -= half;
	}
	lo = (uint32_t)(base - tab->ip) + (*base <= key);
	return (long)lo - 1;
}

int unw_table_lookup(const struct unw_table *tab, uint64_t vaddr, struct unw_rule *out)
{
	long i = tab ? table_find(tab, vaddr) : -1;

	if (i < 0) {
		memset(out, 0, sizeof(*out));
		return -ENOENT;
	}
	decode(&tab->rules[rule_id(tab, (size_t)i)], out);
	return out->type == UNW_RULE_NONE ? -ENOENT : 0;
}

void unw_table_row(const struct unw_table *tab, size_t i, uint64_t *addr, struct unw_rule *out)
{
	uint32_t lo = 0, hi = tab->nblocks;

	/* The block of entry i: the last b with blk[b] <= i (blocks may be empty). */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (tab->blk[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	*addr = tab->base + ((uint64_t)lo << UNW_TAB_BLOCK_SHIFT) + tab->ip[i];
	unw_rule_decode(&tab->rules[rule_id(tab, i)], out);
}
