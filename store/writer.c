// SPDX-License-Identifier: MIT
/*
 * The insert path: a window's rows batched in RowBinary, sent as one insert
 * per table, stacks only when the store does not have them yet.
 *
 * A window is open from st_writer_begin() until a flush succeeds or it is
 * dropped. Its buffers are never touched by a failed flush, so the caller
 * (the agent, with its spool and backoff) retries by calling flush again;
 * a stacks insert that went through is not repeated. Samples go to a
 * Distributed table synchronously (insert_distributed_sync=1), so "flushed"
 * means on the shards, not in a local queue the server may lose.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define KNOWN_DEFAULT (1u << 18)
#define BATCH_DEFAULT ((size_t)256 << 20)

/*
 * A set of stack hashes (0 never stored: st_stack_hash never returns it).
 * Open addressing, at most half full.
 */
struct hset {
	uint64_t *slots;
	size_t cap, n;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static bool hset_has(const struct hset *s, uint64_t h)
{
	if (!s->cap)
		return false;
	for (size_t i = mix64(h) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == h)
			return true;
		if (!s->slots[i])
			return false;
	}
}

static int hset_add(struct hset *s, uint64_t h)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		uint64_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = mix64(s->slots[i]) & (ncap - 1);

			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = ns;
		s->cap = ncap;
	}
	for (size_t i = mix64(h) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == h)
			return 0;
		if (!s->slots[i]) {
			s->slots[i] = h;
			s->n++;
			return 0;
		}
	}
}

static void hset_clear(struct hset *s)
{
	if (s->slots)
		memset(s->slots, 0, s->cap * sizeof(*s->slots));
	s->n = 0;
}

static void hset_release(struct hset *s)
{
	free(s->slots);
	*s = (struct hset){0};
}

struct st_writer {
	struct st_conn *c;
	size_t known_max, batch_max;
	/*
	 * Hashes the store has, in two generations, at most known_max each
	 * (16 bytes per hash with the index at most half full: 2 * known_max *
	 * 16 bytes in all). When cur fills, prev is forgotten and cur becomes
	 * prev; a hash found in prev moves back to cur. A stack still in use
	 * is therefore never forgotten, one unused for a generation is, and a
	 * forgotten one that comes back costs a resend the
	 * ReplacingMergeTree folds away.
	 */
	struct hset cur, prev;
	struct hset pending; /* new in this window: known once its stacks insert succeeds */
	uint64_t *pend_v;    /* the same, in order, to move into cur */
	size_t pend_n, pend_cap;

	bool open, stacks_sent;
	/*
	 * The store may hold part of this window's samples: a samples insert
	 * failed after reaching the server (a Distributed insert commits the
	 * shards that answered; a timeout may hide a commit), or the caller
	 * said so (st_writer_resume). The next flush sends only the rows whose
	 * stack the store lacks for this window: see samples_trim().
	 */
	bool resume;
	uint64_t win_rows; /* sample rows queued in this window */
	uint64_t start_ns, duration_ns;
	char *host, *service, *container;
	struct st_buf stacks, samples;
	struct st_frame *scratch; /* st_writer_add_profile's frames */
	size_t scratch_cap;
	struct st_writer_stats stats;
};

uint64_t st_stack_hash(const char *comm, const struct st_frame *f, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	/* FNV-1a over each field with a terminator, so "ab"+"c" and "a"+"bc" differ. */
#define FNV(byte) (h = (h ^ (uint8_t)(byte)) * 0x100000001b3ULL)
	for (const char *s = comm ? comm : ""; *s; s++)
		FNV(*s);
	FNV(0);
	for (unsigned i = 0; i < n; i++) {
		for (const char *s = f[i].name ? f[i].name : ""; *s; s++)
			FNV(*s);
		FNV(0);
		for (const char *s = f[i].file ? f[i].file : ""; *s; s++)
			FNV(*s);
		FNV(0);
		for (int k = 0; k < 4; k++)
			FNV(f[i].line >> (8 * k));
		FNV(f[i].flags);
	}
#undef FNV
	h = mix64(h ^ n);
	return h ? h : 1;
}

struct st_writer *st_writer_new(struct st_conn *c, const struct st_writer_opts *o)
{
	struct st_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->c = c;
	w->known_max = o && o->known_max ? o->known_max : KNOWN_DEFAULT;
	w->batch_max = o && o->batch_max ? o->batch_max : BATCH_DEFAULT;
	return w;
}

static void window_reset(struct st_writer *w)
{
	w->open = w->stacks_sent = w->resume = false;
	w->win_rows = 0;
	w->stacks.n = w->samples.n = 0;
	w->stacks.err = w->samples.err = 0;
	hset_clear(&w->pending);
	w->pend_n = 0;
	free(w->host);
	free(w->service);
	free(w->container);
	w->host = w->service = w->container = NULL;
}

void st_writer_free(struct st_writer *w)
{
	if (!w)
		return;
	window_reset(w);
	hset_release(&w->cur);
	hset_release(&w->prev);
	hset_release(&w->pending);
	free(w->pend_v);
	st_buf_release(&w->stacks);
	st_buf_release(&w->samples);
	free(w->scratch);
	free(w);
}

static int set_labels(struct st_writer *w, const struct st_labels *l)
{
	char *h = strdup(l && l->host ? l->host : ""),
	     *s = strdup(l && l->service ? l->service : "");
	char *c = strdup(l && l->container ? l->container : "");

	if (!h || !s || !c) {
		free(h);
		free(s);
		free(c);
		return st_conn_fail(w->c, -ENOMEM, "out of memory");
	}
	free(w->host);
	free(w->service);
	free(w->container);
	w->host = h;
	w->service = s;
	w->container = c;
	return 0;
}

int st_writer_set_labels(struct st_writer *w, const struct st_labels *l)
{
	if (!w->open)
		return st_conn_fail(w->c, -EINVAL, "no window open: call st_writer_begin first");
	return set_labels(w, l);
}

int st_writer_begin(struct st_writer *w, const struct st_labels *l, uint64_t start_ns,
		    uint64_t duration_ns)
{
	int err;

	if (w->open)
		return st_conn_fail(w->c, -EBUSY,
				    "a window is still open: flush or drop it before the next");
	err = set_labels(w, l);
	if (err)
		return err;
	w->open = true;
	w->start_ns = start_ns;
	w->duration_ns = duration_ns;
	return 0;
}

static bool known(struct st_writer *w, uint64_t h)
{
	if (hset_has(&w->cur, h))
		return true;
	if (!hset_has(&w->prev, h))
		return false;
	/* Still in use: carry it into the current generation (an allocation failure only forgets).
	 */
	if (w->cur.n < w->known_max)
		hset_add(&w->cur, h);
	return true;
}

static int remember(struct st_writer *w, uint64_t h)
{
	if (w->cur.n >= w->known_max) {
		struct hset t = w->prev;

		w->stats.known_forgot += w->prev.n;
		w->prev = w->cur;
		w->cur = t;
		hset_clear(&w->cur);
	}
	return hset_add(&w->cur, h);
}

int st_writer_stack(struct st_writer *w, const char *comm, const struct st_frame *f, unsigned n,
		    uint64_t *hash)
{
	*hash = st_stack_hash(comm, f, n);
	return st_writer_stack_hashed(w, *hash, comm, f, n);
}

int st_writer_stack_hashed(struct st_writer *w, uint64_t h, const char *comm,
			   const struct st_frame *f, unsigned n)
{
	int err;

	if (!w->open)
		return st_conn_fail(w->c, -EINVAL, "no window open: call st_writer_begin first");
	if (known(w, h)) {
		w->stats.stacks_known++;
		return 0;
	}
	if (hset_has(&w->pending, h))
		return 0;
	if (w->stacks.n > w->batch_max)
		return st_conn_fail(w->c, -E2BIG, "a window's stacks exceed %zu bytes",
				    w->batch_max);
	if (w->pend_n == w->pend_cap) {
		size_t ncap = w->pend_cap ? 2 * w->pend_cap : 256;
		uint64_t *nv = realloc(w->pend_v, ncap * sizeof(*nv));

		if (!nv)
			return st_conn_fail(w->c, -ENOMEM, "out of memory");
		w->pend_v = nv;
		w->pend_cap = ncap;
	}
	err = hset_add(&w->pending, h);
	if (err)
		return st_conn_fail(w->c, err, "out of memory");
	w->pend_v[w->pend_n++] = h;

	st_put_stack(&w->stacks, h, comm, f, n);
	return w->stacks.err ? st_conn_fail(w->c, w->stacks.err, "out of memory") : 0;
}

/* One sample row with these labels. */
static int sample_row(struct st_writer *w, const struct st_sample *s, const char *host,
		      const char *service, const char *container)
{
	struct st_buf *b = &w->samples;

	if (!w->open)
		return st_conn_fail(w->c, -EINVAL, "no window open: call st_writer_begin first");
	if (b->n > w->batch_max)
		return st_conn_fail(w->c, -E2BIG, "a window's samples exceed %zu bytes",
				    w->batch_max);
	st_put_u64(b, w->start_ns);
	st_put_u64(b, w->duration_ns);
	st_put_str(b, host);
	st_put_str(b, service);
	st_put_str(b, container);
	st_put_str(b, s->comm);
	st_put_u32(b, s->pid);
	st_put_str(b, s->build_id);
	st_put_u64(b, s->stack_hash);
	st_put_u32(b, s->count);
	w->win_rows++;
	return b->err ? st_conn_fail(w->c, b->err, "out of memory") : 0;
}

int st_writer_sample(struct st_writer *w, const struct st_sample *s)
{
	return sample_row(w, s, w->host, w->service, w->container);
}

struct add_ctx {
	struct st_writer *w;
	const struct rep_profile *p;
	st_build_id_fn build_id;
	void *ctx;
	uint64_t rows;
	/* The labels of the last label set seen: consecutive stacks mostly share one. */
	uint32_t set;
	const char *host, *service, *container, *set_build_id;
};

/*
 * The row labels of label set id: its host, service, container and
 * build_id pairs over the window's own (an empty host is the window's:
 * every row names a host). Other keys (exe, ...) are not columns.
 */
static int add_labels(struct add_ctx *a, uint32_t id)
{
	struct st_writer *w = a->w;

	a->set = id;
	a->host = w->host;
	a->service = w->service;
	a->container = w->container;
	a->set_build_id = NULL;
	if (!id)
		return 0;
	struct rep_label l[REP_LABELS_MAX];
	unsigned n = 0;

	if (rep_profile_labels(a->p, id, l, REP_LABELS_MAX, &n))
		return st_conn_fail(w->c, -EINVAL, "a stack names label set %u, which is not there",
				    id);
	for (unsigned i = 0; i < n && i < REP_LABELS_MAX; i++) {
		if (!strcmp(l[i].key, "host") && *l[i].value)
			a->host = l[i].value;
		else if (!strcmp(l[i].key, "service"))
			a->service = l[i].value;
		else if (!strcmp(l[i].key, "container"))
			a->container = l[i].value;
		else if (!strcmp(l[i].key, "build_id"))
			a->set_build_id = l[i].value;
	}
	return 0;
}

static int add_stack(void *ctx, const struct rep_sample_key *key,
		     const struct rep_walk_frame *frames, unsigned n, uint64_t count)
{
	struct add_ctx *a = ctx;
	struct st_writer *w = a->w;
	struct st_sample s = {.comm = key->comm, .pid = key->pid};
	int err;

	if (key->labels != a->set) {
		err = add_labels(a, key->labels);
		if (err)
			return err;
	}
	s.build_id = a->set_build_id ? a->set_build_id
		     : a->build_id   ? a->build_id(a->ctx, key->pid)
				     : NULL;

	if (n > w->scratch_cap) {
		struct st_frame *nf = realloc(w->scratch, n * sizeof(*nf));

		if (!nf)
			return st_conn_fail(w->c, -ENOMEM, "out of memory");
		w->scratch = nf;
		w->scratch_cap = n;
	}
	for (unsigned i = 0; i < n; i++)
		w->scratch[i] = (struct st_frame){
		    .name = frames[i].name,
		    .file = frames[i].file,
		    .line = frames[i].line,
		    .flags = (uint8_t)((frames[i].kind & ST_FRAME_KIND_MASK) |
				       (frames[i].inlined ? ST_FRAME_INLINED : 0)),
		};
	err = st_writer_stack(w, key->comm, w->scratch, n, &s.stack_hash);
	/* count is UInt32 in the table: a larger one (never within a window) takes several rows. */
	while (!err && count) {
		s.count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
		count -= s.count;
		err = sample_row(w, &s, a->host, a->service, a->container);
		a->rows++;
	}
	return err;
}

int st_writer_add_profile(struct st_writer *w, const struct rep_profile *p, st_build_id_fn build_id,
			  void *ctx)
{
	struct add_ctx a = {.w = w, .p = p, .build_id = build_id, .ctx = ctx};
	int err;

	if (!w->open)
		return st_conn_fail(w->c, -EINVAL, "no window open: call st_writer_begin first");
	add_labels(&a, 0);
	err = rep_profile_walk(p, add_stack, &a);

	if (err == -ENOMEM && !*st_conn_error(w->c))
		st_conn_fail(w->c, err, "out of memory");
	return err;
}

size_t st_writer_pending(const struct st_writer *w)
{
	return w->open ? (w->stacks_sent ? 0 : w->stacks.n) + w->samples.n : 0;
}

const struct st_writer_stats *st_writer_stats(const struct st_writer *w)
{
	return &w->stats;
}

void st_writer_resume(struct st_writer *w)
{
	if (w->open)
		w->resume = true;
}

/* One queued sample row: its host, service and stack hash. */
static int row_next(struct st_rd *r, const char **host, size_t *hostlen, const char **service,
		    size_t *servicelen, uint64_t *hash)
{
	const char *str;
	size_t len;
	uint64_t u64;
	uint32_t u32;

	if (st_get_u64(r, &u64) || st_get_u64(r, &u64) || st_get_str(r, host, hostlen) ||
	    st_get_str(r, service, servicelen) || st_get_str(r, &str, &len) ||
	    st_get_str(r, &str, &len) || st_get_u32(r, &u32) || st_get_str(r, &str, &len) ||
	    st_get_u64(r, hash) || st_get_u32(r, &u32))
		return -EBADMSG;
	return 0;
}

/* Distinct strings borrowed from the queued rows, in first-seen order. */
struct strset {
	struct {
		const char *s;
		size_t len;
	} * v;
	size_t n, cap;
};

static int strset_add(struct strset *set, const char *s, size_t len)
{
	for (size_t i = set->n; i-- > 0;)
		if (set->v[i].len == len && !memcmp(set->v[i].s, s, len))
			return 0;
	if (set->n == set->cap) {
		size_t ncap = set->cap ? 2 * set->cap : 8;
		void *nv = realloc(set->v, ncap * sizeof(*set->v));

		if (!nv)
			return -ENOMEM;
		set->v = nv;
		set->cap = ncap;
	}
	set->v[set->n].s = s;
	set->v[set->n++].len = len;
	return 0;
}

static void put_in(struct st_buf *sql, const char *col, const struct strset *set)
{
	st_buf_printf(sql, " AND %s IN (", col);
	for (size_t i = 0; i < set->n; i++) {
		if (i)
			st_buf_printf(sql, ", ");
		st_sql_str(sql, set->v[i].s, set->v[i].len);
	}
	st_buf_printf(sql, ")");
}

/* Past this many services the condition is left out: the question costs more, the answer is the
 * same. */
#define TRIM_SERVICES_MAX 64

/*
 * Before sending the samples of a window the store may hold in part, ask
 * it which of the window's stacks it has (rows of this window_start,
 * duration and these hosts; the services too, so that the primary key
 * (service, host, window_start, ...) finds them without a scan) and keep
 * only the rows of the others. Sound because every row of a stack hash
 * lands in one shard, in one block of one insert, and a block is committed
 * whole or not at all; and because a host's windows do not share a start
 * (one agent per host name). A retry that finds everything sends nothing.
 */
static int samples_trim(struct st_writer *w)
{
	struct st_buf sql = {0}, ans = {0}, kept = {0};
	struct strset hosts = {0}, services = {0};
	struct hset found = {0};
	struct st_rd r = {w->samples.v, w->samples.v + w->samples.n};
	const char *host, *service;
	size_t hostlen, servicelen;
	uint64_t h, dropped = 0;
	char *q = NULL;
	int err = 0;

	while (r.p < r.end) {
		if (row_next(&r, &host, &hostlen, &service, &servicelen, &h)) {
			err = st_conn_fail(w->c, -EBADMSG, "a queued sample row does not decode");
			goto out;
		}
		err = strset_add(&hosts, host, hostlen);
		if (!err && services.n <= TRIM_SERVICES_MAX)
			err = strset_add(&services, service, servicelen);
		if (err) {
			st_conn_fail(w->c, err, "out of memory");
			goto out;
		}
	}
	st_buf_printf(&sql,
		      "SELECT DISTINCT stack_hash FROM " ST_T_SAMPLES " WHERE window_start = %llu "
		      "AND duration_ns = %llu",
		      (unsigned long long)w->start_ns, (unsigned long long)w->duration_ns);
	if (services.n <= TRIM_SERVICES_MAX)
		put_in(&sql, "service", &services);
	put_in(&sql, "host", &hosts);
	st_buf_printf(&sql, " FORMAT RowBinary");
	q = st_buf_detach_str(&sql);
	if (!q) {
		err = st_conn_fail(w->c, -ENOMEM, "out of memory");
		goto out;
	}
	err = st_conn_request(w->c, q, NULL, NULL, &ans);
	if (err)
		goto out;
	r = (struct st_rd){ans.v, ans.v + ans.n};
	while (r.p < r.end) {
		if (st_get_u64(&r, &h)) {
			err = st_conn_fail(w->c, -EBADMSG,
					   "%s: a stack hash list that does not decode",
					   st_conn_url(w->c));
			goto out;
		}
		err = h ? hset_add(&found, h) : 0; /* 0: no stack of ours */
		if (err) {
			st_conn_fail(w->c, err, "out of memory");
			goto out;
		}
	}
	w->resume = false;
	if (!found.n)
		goto out;
	r = (struct st_rd){w->samples.v, w->samples.v + w->samples.n};
	while (r.p < r.end) {
		const uint8_t *row = r.p;

		row_next(&r, &host, &hostlen, &service, &servicelen, &h); /* decoded above */
		if (hset_has(&found, h))
			dropped++;
		else
			st_buf_put(&kept, row, (size_t)(r.p - row));
	}
	if (kept.err) {
		err = st_conn_fail(w->c, kept.err, "out of memory");
		goto out;
	}
	st_buf_release(&w->samples);
	w->samples = kept;
	kept = (struct st_buf){0};
	w->win_rows -= dropped;
	w->stats.rows_found += dropped;
out:
	free(q);
	free(hosts.v);
	free(services.v);
	st_buf_release(&sql);
	st_buf_release(&ans);
	st_buf_release(&kept);
	hset_release(&found);
	return err;
}

int st_writer_flush(struct st_writer *w)
{
	int err;

	if (!w->open)
		return 0;
	if (w->stacks.n && !w->stacks_sent) {
		err = st_conn_request(w->c, "INSERT INTO " ST_T_STACKS " FORMAT RowBinary",
				      &w->stacks, "&insert_distributed_sync=1", NULL);
		if (err)
			goto fail;
		w->stacks_sent = true;
		for (size_t i = 0; i < w->pend_n; i++) {
			err = remember(w, w->pend_v[i]);
			if (err) {
				st_conn_fail(w->c, err, "out of memory");
				goto fail;
			}
		}
		w->stats.stacks_sent += w->pend_n;
	}
	if (w->samples.n && w->resume) {
		err = samples_trim(w);
		if (err)
			goto fail;
	}
	if (w->samples.n) {
		err = st_conn_request(w->c, "INSERT INTO " ST_T_SAMPLES " FORMAT RowBinary",
				      &w->samples, "&insert_distributed_sync=1", NULL);
		if (err) {
			/* Refused before the server read it: nothing can be in the store. */
			if (err != -ECONNREFUSED && err != -EHOSTUNREACH)
				w->resume = true;
			goto fail;
		}
	}
	w->stats.windows++;
	w->stats.rows += w->win_rows;
	window_reset(w);
	return 0;
fail:
	w->stats.flush_failures++;
	return err;
}

void st_writer_drop(struct st_writer *w)
{
	window_reset(w);
}
