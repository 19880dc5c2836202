// SPDX-License-Identifier: MIT
/*
 * Reading the store: --where, --from/--to and --group-by into statements,
 * the answers (RowBinary) decoded, and a report profile built from them.
 *
 * The server does the aggregation: one statement sums samples by stack hash
 * (and group) and returns the top stacks only, a second fetches the comm and
 * frames of those stacks alone. Raw sample rows never leave the server.
 * Every user-given value reaches SQL hex-encoded (st_sql_str); column names
 * come from a fixed table, never from the user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

#define MAX_STACKS_DEFAULT 10000u
#define STACKS_PER_REQUEST 2000u
/*
 * What one sample stands for in the profile built from the store: the store
 * keeps counts, not periods, and xprof record samples at 99 Hz by default.
 * Only pprof's cpu nanoseconds use it; counts are exact whatever it is.
 */
#define QUERY_PERIOD_NS 10101010u

static const struct {
	const char *name, *expr;
} labels[ST_L_NR] = {
    [ST_L_HOST] = {"host", "host"},
    [ST_L_SERVICE] = {"service", "service"},
    [ST_L_CONTAINER] = {"container", "container"},
    [ST_L_COMM] = {"comm", "comm"},
    [ST_L_BUILD_ID] = {"build_id", "build_id"},
    [ST_L_PID] = {"pid", "toString(pid)"},
};

int st_label_parse(const char *name, size_t len)
{
	for (int i = 0; i < ST_L_NR; i++)
		if (strlen(labels[i].name) == len && !memcmp(labels[i].name, name, len))
			return i;
	return -1;
}

const char *st_label_name(enum st_label l)
{
	return (unsigned)l < ST_L_NR ? labels[l].name : "?";
}

int st_where_parse(const char *arg, struct st_cond *conds, unsigned max, unsigned *n,
		   const char **why)
{
	const char *p = arg;

	for (;;) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct st_cond c = {0};
		int l;

		eq = memchr(p, '=', len);
		if (!eq || eq == p) {
			*why = "expected LABEL=VALUE or LABEL!=VALUE (labels: host, service, "
			       "container, comm, build_id, pid)";
			return -EINVAL;
		}
		c.negate = eq[-1] == '!';
		l = st_label_parse(p, (size_t)(eq - p) - c.negate);
		if (l < 0) {
			*why = "unknown label: use host, service, container, comm, build_id or pid";
			return -EINVAL;
		}
		c.label = (enum st_label)l;
		len -= (size_t)(eq + 1 - p);
		if (len >= sizeof(c.value)) {
			*why = "value longer than 255 bytes";
			return -EINVAL;
		}
		memcpy(c.value, eq + 1, len);
		if (*n == max) {
			*why = "too many conditions";
			return -EINVAL;
		}
		conds[(*n)++] = c;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int unit_ns(char u, uint64_t *ns)
{
	switch (u) {
	case 's':
		*ns = 1000000000ull;
		return 0;
	case 'm':
		*ns = 60000000000ull;
		return 0;
	case 'h':
		*ns = 3600000000000ull;
		return 0;
	case 'd':
		*ns = 86400000000000ull;
		return 0;
	case 'w':
		*ns = 7 * 86400000000000ull;
		return 0;
	default:
		return -EINVAL;
	}
}

int st_duration_parse(const char *arg, uint64_t *ns)
{
	char *end;
	unsigned long long v;
	uint64_t unit;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	v = strtoull(arg, &end, 10);
	if (end[0] == 0 || end[1] != 0 || unit_ns(end[0], &unit) || v > UINT64_MAX / unit)
		return -EINVAL;
	*ns = v * unit;
	return 0;
}

int st_time_parse(const char *arg, uint64_t now_ns, uint64_t *ns)
{
	struct tm tm = {0};
	char *end;
	uint64_t d;
	int n = 0;

	if (!strcmp(arg, "now")) {
		*ns = now_ns;
		return 0;
	}
	if (arg[0] == '-') {
		if (st_duration_parse(arg + 1, &d) || d > now_ns)
			return -EINVAL;
		*ns = now_ns - d;
		return 0;
	}
	if (strspn(arg, "0123456789") == strlen(arg) && *arg) {
		unsigned long long s = strtoull(arg, &end, 10);

		if (s > UINT64_MAX / 1000000000ull)
			return -EINVAL;
		*ns = s * 1000000000ull;
		return 0;
	}
	/* UTC dates: "2026-12-06", "2026-12-06T10:00", "2026-12-06 10:00:30Z". */
	if (sscanf(arg, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
		return -EINVAL;
	arg += n;
	if (*arg == 'T' || *arg == ' ') {
		n = 0;
		if (sscanf(arg + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2)
			return -EINVAL;
		arg += 1 + n;
		if (*arg == ':') {
			n = 0;
			if (sscanf(arg + 1, "%2d%n", &tm.tm_sec, &n) != 1)
				return -EINVAL;
			arg += 1 + n;
		}
	}
	if (*arg == 'Z')
		arg++;
	if (*arg || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*ns = (uint64_t)t * 1000000000ull;
	return 0;
}

/* A glob (* and ?) as an anchored RE2 pattern matching the same strings. */
static void glob_regex(struct st_buf *b, const char *g)
{
	st_buf_printf(b, "^");
	for (; *g; g++) {
		if (*g == '*')
			st_buf_printf(b, ".*");
		else if (*g == '?')
			st_buf_printf(b, ".");
		else if (strchr("\\.+()[]{}|^$", *g))
			st_buf_printf(b, "\\%c", *g);
		else
			st_buf_put(b, g, 1);
	}
	st_buf_printf(b, "$");
}

static void where_sql(struct st_buf *b, const struct st_query *q)
{
	st_buf_printf(b, " WHERE window_start >= %llu AND window_start < %llu",
		      (unsigned long long)q->from_ns, (unsigned long long)q->to_ns);
	for (unsigned i = 0; i < q->nconds; i++) {
		const struct st_cond *c = &q->conds[i];
		const char *col = labels[c->label].expr;

		if (strpbrk(c->value, "*?")) {
			struct st_buf re = {0};

			glob_regex(&re, c->value);
			st_buf_printf(b, " AND %smatch(%s, ", c->negate ? "NOT " : "", col);
			st_sql_str(b, re.err ? "" : (const char *)re.v, re.n);
			st_buf_printf(b, ")");
			b->err = b->err ? b->err : re.err;
			st_buf_release(&re);
		} else {
			st_buf_printf(b, " AND %s %s ", col, c->negate ? "!=" : "=");
			st_sql_str(b, c->value, strlen(c->value));
		}
	}
}

static bool query_ok(const struct st_query *q)
{
	if (q->group_by >= ST_L_NR || q->group_by < -1)
		return false;
	for (unsigned i = 0; i < q->nconds; i++)
		if ((unsigned)q->conds[i].label >= ST_L_NR)
			return false;
	return true;
}

int st_query_sql(const struct st_query *q, char **sql)
{
	struct st_buf b = {0};

	if (!query_ok(q))
		return -EINVAL;
	st_buf_printf(&b, "SELECT %s AS g, stack_hash, sum(count) AS n FROM " ST_T_SAMPLES,
		      q->group_by >= 0 ? labels[q->group_by].expr : "''");
	where_sql(&b, q);
	/*
	 * By the hash alone unless grouped: string keys cost most of the query
	 * (grouping 2M rows by comm and hash took 4x the time of the hash
	 * alone here), and the comm is part of the stack.
	 */
	st_buf_printf(&b, " GROUP BY %sstack_hash ORDER BY n DESC, stack_hash LIMIT %u",
		      q->group_by >= 0 ? "g, " : "",
		      q->max_stacks ? q->max_stacks : MAX_STACKS_DEFAULT);
	st_buf_printf(&b, " FORMAT RowBinary");
	*sql = st_buf_detach_str(&b);
	return *sql ? 0 : -ENOMEM;
}

/* ---- answers ----------------------------------------------------------------- */

int st_agg_decode(const uint8_t *data, size_t len, struct st_agg_row **rows, size_t *nrows)
{
	struct st_rd r = {data, data + len};
	struct st_agg_row *v = NULL;
	size_t n = 0, cap = 0;

	while (r.p < r.end) {
		struct st_agg_row row;

		if (st_get_str(&r, &row.group, &row.group_len) || st_get_u64(&r, &row.hash) ||
		    st_get_u64(&r, &row.count)) {
			free(v);
			return -EBADMSG;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct st_agg_row *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = row;
	}
	*rows = v;
	*nrows = n;
	return 0;
}

void st_stacks_release(struct st_stack_set *set)
{
	free(set->v);
	free(set->strs);
	free(set->frames);
	*set = (struct st_stack_set){0};
}

/*
 * One stack row. With set->frames NULL, only checks and counts (the first
 * pass); otherwise also copies into the set at *fi and *si.
 */
static int stack_row(struct st_rd *r, struct st_stack_set *set, size_t *nframes, size_t *nbytes,
		     struct st_stack_row *out)
{
	uint64_t hash, n, m;
	const char *s;
	size_t len;

	if (st_get_u64(r, &hash) || st_get_str(r, &s, &len))
		return -EBADMSG;
	if (out) {
		char *dst = set->strs + *nbytes;

		memcpy(dst, s, len);
		dst[len] = 0;
		out->comm = dst;
	}
	*nbytes += len + 1;
	if (st_get_uleb(r, &n) || n > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	if (out) {
		out->hash = hash;
		out->nframes = (uint32_t)n;
		out->frames = set->frames + *nframes;
	}
	/* names, then files: parallel arrays of n strings each. */
	for (int a = 0; a < 2; a++) {
		if (a && (st_get_uleb(r, &m) || m != n))
			return -EBADMSG;
		for (uint64_t i = 0; i < n; i++) {
			if (st_get_str(r, &s, &len))
				return -EBADMSG;
			if (out) {
				char *dst = set->strs + *nbytes;

				memcpy(dst, s, len);
				dst[len] = 0;
				if (a)
					out->frames[i].file = dst;
				else
					out->frames[i].name = dst;
			}
			*nbytes += len + 1;
		}
	}
	if (st_get_uleb(r, &m) || m != n)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t line;

		if (st_get_u32(r, &line))
			return -EBADMSG;
		if (out)
			out->frames[i].line = line;
	}
	if (st_get_uleb(r, &m) || m != n)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t f;

		if (st_get_u8(r, &f))
			return -EBADMSG;
		if (out)
			out->frames[i].flags = f;
	}
	*nframes += n;
	return 0;
}

static int cmp_stack(const void *a, const void *b)
{
	uint64_t x = ((const struct st_stack_row *)a)->hash,
		 y = ((const struct st_stack_row *)b)->hash;

	return x < y ? -1 : x > y;
}

int st_stacks_decode(const uint8_t *data, size_t len, struct st_stack_set *set)
{
	struct st_rd r = {data, data + len};
	size_t nstacks = 0, nframes = 0, nbytes = 0;
	int err;

	*set = (struct st_stack_set){0};
	while (r.p < r.end) {
		err = stack_row(&r, set, &nframes, &nbytes, NULL);
		if (err)
			return err;
		nstacks++;
	}
	set->v = calloc(nstacks ? nstacks : 1, sizeof(*set->v));
	set->frames = calloc(nframes ? nframes : 1, sizeof(*set->frames));
	set->strs = malloc(nbytes ? nbytes : 1);
	if (!set->v || !set->frames || !set->strs) {
		st_stacks_release(set);
		return -ENOMEM;
	}
	r = (struct st_rd){data, data + len};
	nframes = nbytes = 0;
	for (size_t i = 0; i < nstacks; i++)
		stack_row(&r, set, &nframes, &nbytes, &set->v[i]); /* checked by the first pass */
	set->n = nstacks;
	qsort(set->v, set->n, sizeof(*set->v), cmp_stack);
	return 0;
}

const struct st_stack_row *st_stacks_find(const struct st_stack_set *set, uint64_t hash)
{
	struct st_stack_row key = {.hash = hash};

	return set->n ? bsearch(&key, set->v, set->n, sizeof(key), cmp_stack) : NULL;
}

/* ---- the profile ------------------------------------------------------------- */

static int stack_locs(struct rep_profile *p, const struct st_stack_row *s, uint32_t *locs)
{
	/* The store holds frames root first; a profile's stack is leaf first. */
	for (uint32_t i = 0; i < s->nframes; i++) {
		const struct st_frame *f = &s->frames[i];
		unsigned kind = f->flags & ST_FRAME_KIND_MASK;
		struct rep_line line = {.line = f->line, .inlined = f->flags & ST_FRAME_INLINED};
		int err = rep_profile_function(
		    p, f->name, f->file,
		    kind < REP_KIND_NR ? (enum rep_kind)kind : REP_KIND_UNKNOWN, &line.function);

		if (!err)
			err = rep_profile_location(p, UINT32_MAX, 0, &line, 1,
						   &locs[s->nframes - 1 - i]);
		if (err)
			return err;
	}
	return 0;
}

int st_profile_build(const struct st_agg_row *rows, size_t nrows, const struct st_stack_set *set,
		     struct rep_profile **out, struct st_query_stats *stats)
{
	static const struct st_frame missing_frame = {.name = "[stack not in store]",
						      .flags = REP_KIND_UNKNOWN};
	const struct st_stack_row missing = {
	    .comm = "[unknown]", .nframes = 1, .frames = (struct st_frame *)&missing_frame};
	struct rep_profile *p = rep_profile_new(QUERY_PERIOD_NS);
	uint32_t *locs = NULL;
	size_t cap = 0;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < nrows && !err; i++) {
		const struct st_agg_row *r = &rows[i];
		const struct st_stack_row *s = st_stacks_find(set, r->hash);
		char root[256];
		const char *name;
		size_t len;

		if (!s) {
			s = &missing;
			stats->missing_stacks++;
		}
		name = r->group ? r->group : s->comm;
		len = r->group ? r->group_len : strlen(s->comm);
		if (s->nframes > cap) {
			uint32_t *nl = realloc(locs, s->nframes * sizeof(*nl));

			if (!nl) {
				err = -ENOMEM;
				break;
			}
			locs = nl;
			cap = s->nframes;
		}
		err = stack_locs(p, s, locs);
		if (err)
			break;
		snprintf(root, sizeof(root), "%.*s", (int)(len < 255 ? len : 255), name);
		struct rep_sample_key key = {.comm = *root ? root : "[none]"};

		err = rep_profile_add(p, &key, locs, s->nframes, r->count);
		stats->rows++;
		stats->shown += r->count;
	}
	free(locs);
	if (err) {
		rep_profile_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int st_query_run(struct st_conn *c, const struct st_query *q, struct rep_profile **out,
		 struct st_query_stats *stats)
{
	struct st_buf ans = {0}, sb = {0}, tb = {0};
	struct st_agg_row *rows = NULL;
	struct st_stack_set set = {0};
	size_t nrows = 0;
	char *sql = NULL;
	int err;

	*stats = (struct st_query_stats){0};
	err = st_schema_check(c, NULL, 0);
	if (err)
		return err;
	err = st_query_sql(q, &sql);
	if (err)
		return st_conn_fail(c, err, "cannot build the query: %s", strerror(-err));
	err = st_conn_request(c, sql, NULL, NULL, &ans);
	if (err)
		goto out;
	err = st_agg_decode(ans.v, ans.n, &rows, &nrows);
	if (err) {
		st_conn_fail(c, err, "%s: the aggregation's answer does not decode",
			     st_conn_url(c));
		goto out;
	}
	/* With groups the label's value is the root; without, the comm. */
	if (q->group_by < 0)
		for (size_t i = 0; i < nrows; i++)
			rows[i].group = NULL;

	/*
	 * Fewer rows than the limit: they are every stack, and their sum is the
	 * total. Only a cut answer costs a second scan of the samples.
	 */
	for (size_t i = 0; i < nrows; i++)
		stats->total += rows[i].count;
	if (nrows >= (q->max_stacks ? q->max_stacks : MAX_STACKS_DEFAULT)) {
		st_buf_printf(&tb, "SELECT sum(count) FROM " ST_T_SAMPLES);
		where_sql(&tb, q);
		st_buf_printf(&tb, " FORMAT RowBinary");
		free(sql);
		sql = st_buf_detach_str(&tb);
		if (!sql) {
			err = st_conn_fail(c, -ENOMEM, "out of memory");
			goto out;
		}
		/* rows borrow their strings from ans: the total gets a buffer of its own. */
		struct st_buf tot = {0};

		err = st_conn_request(c, sql, NULL, NULL, &tot);
		if (!err) {
			struct st_rd r = {tot.v, tot.v + tot.n};

			if (st_get_u64(&r, &stats->total))
				err = st_conn_fail(c, -EBADMSG,
						   "%s: the total's answer does not decode",
						   st_conn_url(c));
		}
		st_buf_release(&tot);
		if (err)
			goto out;
	}

	/*
	 * Frames of the stacks found, STACKS_PER_REQUEST hashes per statement:
	 * the server refuses a statement over max_query_size (256 KiB by
	 * default), and 10000 hashes come close. The answers are concatenated
	 * rows, decoded once.
	 */
	struct st_buf fr = {0};

	for (size_t i0 = 0; i0 < nrows && !err; i0 += STACKS_PER_REQUEST) {
		struct st_buf part = {0};

		st_buf_printf(&sb,
			      "SELECT stack_hash, any(comm), any(names), any(files), any(lines), "
			      "any(flags) FROM " ST_T_STACKS " WHERE stack_hash IN (");
		for (size_t i = i0; i < nrows && i < i0 + STACKS_PER_REQUEST; i++)
			st_buf_printf(&sb, "%s%llu", i > i0 ? "," : "",
				      (unsigned long long)rows[i].hash);
		st_buf_printf(&sb, ") GROUP BY stack_hash FORMAT RowBinary");
		free(sql);
		sql = st_buf_detach_str(&sb);
		if (!sql) {
			err = st_conn_fail(c, -ENOMEM, "out of memory");
			break;
		}
		err = st_conn_request(c, sql, NULL, NULL, &part);
		if (!err) {
			st_buf_put(&fr, part.v, part.n);
			if (fr.err)
				err = st_conn_fail(c, fr.err, "out of memory");
		}
		st_buf_release(&part);
	}
	if (!err && fr.n) {
		err = st_stacks_decode(fr.v, fr.n, &set);
		if (err)
			st_conn_fail(c, err, "%s: the stacks' answer does not decode",
				     st_conn_url(c));
	}
	st_buf_release(&fr);
	if (err)
		goto out;
	err = st_profile_build(rows, nrows, &set, out, stats);
	if (err)
		st_conn_fail(c, err, "cannot build the profile: %s", strerror(-err));
out:
	st_stacks_release(&set);
	free(rows);
	free(sql);
	st_buf_release(&ans);
	st_buf_release(&sb);
	st_buf_release(&tb);
	return err;
}
