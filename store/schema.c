// SPDX-License-Identifier: MIT
/*
 * The store's schema: creating it, checking its version, and dropping old
 * days of samples.
 *
 * Only what ClickHouse 18.16 (Debian 12) and current servers both accept:
 * the "ENGINE = MergeTree() PARTITION BY ... ORDER BY ..." form, UInt64
 * nanosecond times (no DateTime64), no TTL, no codecs, no LowCardinality.
 * Retention is by dropping whole day partitions (st_prune).
 *
 * The version lives in a view, xprof_schema, that selects constants: a view
 * can be made ON CLUSTER (an INSERT cannot), needs no storage, and a
 * migration replaces it last, so a store is at version N only once every
 * step to N is done.
 *
 * On a cluster, rows are sharded by stack hash, not host: all rows of a
 * stack then live on one shard, so each shard's sum by stack is already
 * final and the top-N of the whole cluster is exact; the stacks table is
 * sharded the same way, so a stack's frames sit next to its samples; and a
 * busy host does not load one shard more than the others. The cost, a
 * one-host query touching every shard, is what a fleet-wide flamegraph
 * does anyway.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Columns, shared by the single-node tables and the cluster's local ones. */
static const char stacks_cols[] = "(stack_hash UInt64, comm String, names Array(String), "
				  "files Array(String), lines Array(UInt32), flags Array(UInt8))";
static const char stacks_engine[] = "ENGINE = ReplacingMergeTree() ORDER BY stack_hash";
static const char samples_cols[] =
    "(window_start UInt64, duration_ns UInt64, host String, service String, container String, "
    "comm String, pid UInt32, build_id String, stack_hash UInt64, count UInt32)";
/*
 * Day partitions in the server's time zone (toDate of a DateTime); the
 * order serves one-service and one-host queries first, then time ranges,
 * and keeps a window's stacks together, which LZ4 compresses well.
 */
static const char samples_engine[] =
    "ENGINE = MergeTree() PARTITION BY toDate(toDateTime(intDiv(window_start, 1000000000))) "
    "ORDER BY (service, host, window_start, stack_hash)";

/* A name xprof puts in a statement unquoted-safe: letters, digits, '_' (and '.', '-' for clusters).
 */
static bool ident_ok(const char *s, bool cluster)
{
	if (!*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '_' &&
		    !(cluster && (*s == '.' || *s == '-')))
			return false;
	return true;
}

/* The first column of the first row of a RowBinary answer, as a string (max len - 1 bytes). */
static int select_str(struct st_conn *c, const char *sql, char *out, size_t len)
{
	struct st_buf b = {0};
	struct st_rd r;
	const char *s;
	size_t n;
	int err = st_conn_request(c, sql, NULL, NULL, &b);

	if (err)
		return err;
	r = (struct st_rd){b.v, b.v + b.n};
	if (st_get_str(&r, &s, &n) || n >= len) {
		st_buf_release(&b);
		return st_conn_fail(c, -EBADMSG, "%s: unexpected answer to '%.60s'", st_conn_url(c),
				    sql);
	}
	memcpy(out, s, n);
	out[n] = 0;
	st_buf_release(&b);
	return 0;
}

static int select_u64(struct st_conn *c, const char *sql, uint64_t *v)
{
	struct st_buf b = {0};
	struct st_rd r;
	int err = st_conn_request(c, sql, NULL, NULL, &b);

	if (err)
		return err;
	r = (struct st_rd){b.v, b.v + b.n};
	if (st_get_u64(&r, v))
		err = st_conn_fail(c, -EBADMSG, "%s: unexpected answer to '%.60s'", st_conn_url(c),
				   sql);
	st_buf_release(&b);
	return err;
}

static int current_db(struct st_conn *c, char *db, size_t len)
{
	int err = select_str(c, "SELECT currentDatabase() FORMAT RowBinary", db, len);

	if (!err && !ident_ok(db, false))
		err = st_conn_fail(c, -EINVAL,
				   "database '%s' at %s: xprof needs a name of letters, digits "
				   "and '_'; pass ?database=NAME in the URL",
				   db, st_conn_url(c));
	return err;
}

int st_schema_check(struct st_conn *c, char *cluster, size_t cluster_len)
{
	char sql[256];
	uint64_t n = 0;
	struct st_buf b = {0};
	struct st_rd r;
	const char *cl;
	size_t cllen;
	uint32_t version;
	int err;

	err = select_u64(c,
			 "SELECT count() FROM system.tables WHERE database = currentDatabase() AND "
			 "name = '" ST_T_SCHEMA "' FORMAT RowBinary",
			 &n);
	if (err)
		return err;
	if (!n)
		return st_conn_fail(c, -ENOENT,
				    "no xprof store at %s: run 'xprof store init --clickhouse %s'",
				    st_conn_url(c), st_conn_url(c));
	snprintf(sql, sizeof(sql), "SELECT version, cluster FROM " ST_T_SCHEMA " FORMAT RowBinary");
	err = st_conn_request(c, sql, NULL, NULL, &b);
	if (err)
		return err;
	r = (struct st_rd){b.v, b.v + b.n};
	if (st_get_u32(&r, &version) || st_get_str(&r, &cl, &cllen)) {
		err = st_conn_fail(c, -EBADMSG, "%s: " ST_T_SCHEMA " does not hold a version",
				   st_conn_url(c));
		goto out;
	}
	if (cluster)
		snprintf(cluster, cluster_len, "%.*s", (int)cllen, cl);
	if (version > ST_SCHEMA_VERSION)
		err = st_conn_fail(c, -EPROTO,
				   "the store at %s has schema version %u, newer than this xprof's "
				   "%u: use a newer xprof",
				   st_conn_url(c), version, ST_SCHEMA_VERSION);
	else if (version < ST_SCHEMA_VERSION)
		err =
		    st_conn_fail(c, -EPROTO,
				 "the store at %s has schema version %u, older than this xprof's "
				 "%u, and no migration from it exists: use the xprof that made it",
				 st_conn_url(c), version, ST_SCHEMA_VERSION);
out:
	st_buf_release(&b);
	return err;
}

/* Run one printf-made statement. */
static int exec_fmt(struct st_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int exec_fmt(struct st_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	int err;

	va_start(ap, fmt);
	err = vasprintf(&sql, fmt, ap);
	va_end(ap);
	if (err < 0)
		return st_conn_fail(c, -ENOMEM, "out of memory");
	err = st_conn_exec(c, sql);
	free(sql);
	return err;
}

/* The DDL of one server: its tables (local ones on a cluster) and the Distributed ones. */
static int create_on(struct st_conn *c, const char *db, const char *cluster, bool on_cluster)
{
	const char *loc = cluster ? ST_LOCAL : "";
	char oc[256] = "";
	int err;

	if (cluster && on_cluster)
		snprintf(oc, sizeof(oc), " ON CLUSTER %s", cluster);
	err = exec_fmt(c, "CREATE TABLE IF NOT EXISTS `%s`." ST_T_STACKS "%s%s %s %s", db, loc, oc,
		       stacks_cols, stacks_engine);
	if (!err)
		err = exec_fmt(c, "CREATE TABLE IF NOT EXISTS `%s`." ST_T_SAMPLES "%s%s %s %s", db,
			       loc, oc, samples_cols, samples_engine);
	for (int i = 0; cluster && i < 2 && !err; i++) {
		const char *t = i ? ST_T_SAMPLES : ST_T_STACKS;

		err = exec_fmt(c,
			       "CREATE TABLE IF NOT EXISTS `%s`.%s%s AS `%s`.%s" ST_LOCAL
			       " ENGINE = Distributed(%s, %s, %s" ST_LOCAL ", stack_hash)",
			       db, t, oc, db, t, cluster, db, t);
	}
	/* Last: the store is at this version only once every table exists. */
	if (!err)
		err = exec_fmt(c,
			       "CREATE VIEW IF NOT EXISTS `%s`." ST_T_SCHEMA
			       "%s AS SELECT toUInt32(%u) AS version, '%s' AS cluster",
			       db, oc, ST_SCHEMA_VERSION, cluster ? cluster : "");
	return err;
}

static int check_cluster(struct st_conn *c, const char *cluster, unsigned nshards)
{
	char sql[512];
	uint64_t n;
	int err;

	snprintf(sql, sizeof(sql),
		 "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = '%s' FORMAT "
		 "RowBinary",
		 cluster);
	err = select_u64(c, sql, &n);
	if (err)
		return err;
	if (!n)
		return st_conn_fail(c, -EINVAL,
				    "%s has no cluster '%s' in its remote_servers configuration",
				    st_conn_url(c), cluster);
	if (nshards && n != nshards)
		return st_conn_fail(c, -EINVAL,
				    "cluster '%s' has %llu shards at %s but %u --shard URLs were "
				    "given: give one per shard",
				    cluster, (unsigned long long)n, st_conn_url(c), nshards);
	return 0;
}

/* Whether c already holds a store; 0 and *have, or the check's error (a refused version). */
static int existing(struct st_conn *c, const char *cluster, bool *have)
{
	char had[256] = "";
	int err = st_schema_check(c, had, sizeof(had));

	*have = false;
	if (err == -ENOENT)
		return 0;
	/*
	 * Version 1 is the first schema, so an older store cannot exist yet and
	 * st_schema_check's refusal stands. A version 2 adds its steps here,
	 * applied in order before the view is replaced with the new version.
	 */
	if (err)
		return err;
	if (strcmp(had, cluster ? cluster : ""))
		return st_conn_fail(c, -EPROTO,
				    "the store at %s was made %s%s%s, not %s%s%s: use the same "
				    "--cluster as at init",
				    st_conn_url(c), *had ? "for cluster '" : "on a single node",
				    had, *had ? "'" : "",
				    cluster ? "for cluster '" : "on a single node",
				    cluster ? cluster : "", cluster ? "'" : "");
	*have = true;
	return 0;
}

int st_schema_init(struct st_conn *c, const struct st_schema_opts *o)
{
	const char *cluster = o && o->cluster ? o->cluster : NULL;
	char db[256];
	bool have;
	int err;

	if (cluster && !ident_ok(cluster, true))
		return st_conn_fail(c, -EINVAL,
				    "cluster name '%s': use letters, digits, '_', '.' and '-'",
				    cluster);
	err = current_db(c, db, sizeof(db));
	if (err)
		return err;
	err = existing(c, cluster, &have);
	if (err || have)
		return err;
	if (!cluster)
		return create_on(c, db, NULL, false);
	err = check_cluster(c, cluster, o->nshards);
	if (err)
		return err;
	if (!o->nshards) {
		err = create_on(c, db, cluster, true);
		if (err == -EPROTO && strstr(st_conn_error(c), "DDL"))
			return st_conn_fail(c, -EPROTO,
					    "%s runs no distributed DDL (ON CLUSTER needs "
					    "ZooKeeper or Keeper): give each shard's HTTP URL with "
					    "--shard URL",
					    st_conn_url(c));
		return err;
	}
	for (unsigned i = 0; i < o->nshards; i++) {
		char sdb[256];

		err = current_db(o->shards[i], sdb, sizeof(sdb));
		if (!err && strcmp(sdb, db))
			err = st_conn_fail(o->shards[i], -EINVAL,
					   "shard %s uses database '%s', not '%s': give the same "
					   "?database= on every URL",
					   st_conn_url(o->shards[i]), sdb, db);
		if (!err)
			err = create_on(o->shards[i], db, cluster, false);
		if (err)
			return st_conn_fail(c, err, "%s", st_conn_error(o->shards[i]));
	}
	/* The entry URL may be a query node that is not one of the shards: it needs the tables too.
	 */
	return create_on(c, db, cluster, false);
}

/* Drop c's partitions of table older than the cutoff day. */
static int prune_on(struct st_conn *c, const char *db, const char *table, const char *oc,
		    uint64_t cutoff_ns, unsigned *dropped)
{
	struct st_buf b = {0}, q = {0};
	struct st_rd r;
	char *sql;
	int err;

	st_buf_printf(&q,
		      "SELECT DISTINCT partition_id FROM system.parts WHERE database = '%s' AND "
		      "table = '%s' AND active AND toUInt32(partition_id) < "
		      "toYYYYMMDD(toDateTime(intDiv(%llu, 1000000000))) FORMAT RowBinary",
		      db, table, (unsigned long long)cutoff_ns);
	sql = st_buf_detach_str(&q);
	if (!sql)
		return st_conn_fail(c, -ENOMEM, "out of memory");
	err = st_conn_request(c, sql, NULL, NULL, &b);
	free(sql);
	if (err)
		return err;
	r = (struct st_rd){b.v, b.v + b.n};
	while (r.p < r.end && !err) {
		const char *id;
		size_t len;
		char stmt[512];

		if (st_get_str(&r, &id, &len) || !len || len > 16 ||
		    strspn(id, "0123456789") < len) {
			err = st_conn_fail(c, -EBADMSG, "%s: unexpected partition id",
					   st_conn_url(c));
			break;
		}
		snprintf(stmt, sizeof(stmt), "ALTER TABLE `%s`.%s%s DROP PARTITION ID '%.*s'", db,
			 table, oc, (int)len, id);
		err = st_conn_exec(c, stmt);
		if (!err)
			(*dropped)++;
	}
	st_buf_release(&b);
	return err;
}

int st_prune(struct st_conn *c, const struct st_schema_opts *o, uint64_t cutoff_ns,
	     unsigned *dropped)
{
	char cluster[256], db[256], oc[300] = "";
	int err;

	*dropped = 0;
	err = st_schema_check(c, cluster, sizeof(cluster));
	if (!err)
		err = current_db(c, db, sizeof(db));
	if (err)
		return err;
	if (!*cluster)
		return prune_on(c, db, ST_T_SAMPLES, "", cutoff_ns, dropped);
	if (!o || !o->nshards) {
		snprintf(oc, sizeof(oc), " ON CLUSTER %s", cluster);
		return prune_on(c, db, ST_T_SAMPLES ST_LOCAL, oc, cutoff_ns, dropped);
	}
	for (unsigned i = 0; i < o->nshards; i++) {
		err = prune_on(o->shards[i], db, ST_T_SAMPLES ST_LOCAL, "", cutoff_ns, dropped);
		if (err)
			return st_conn_fail(c, err, "%s", st_conn_error(o->shards[i]));
	}
	return 0;
}
