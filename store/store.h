/* SPDX-License-Identifier: MIT */
/*
 * store/: the fleet store, a ClickHouse database spoken to over its HTTP
 * interface (libcurl). Two tables hold a fleet's profiles:
 *
 *   xprof_stacks   one row per distinct stack: its 64-bit hash, the comm it ran
 *                  as and its frames (names, files, lines, flags as parallel
 *                  arrays, root first); ReplacingMergeTree by hash, so a stack
 *                  sent twice is kept once. The comm is part of the stack (and
 *                  its hash) so that the usual query, one tower per comm, groups
 *                  by the hash alone: 4x faster than by comm and hash.
 *   xprof_samples  one row per (window, labels, stack): window start (ns since
 *                  the epoch), duration, host, service, container, comm, pid,
 *                  executable build-id, stack hash, count; MergeTree
 *                  partitioned by day (retention drops whole days) and ordered
 *                  by (service, host, window_start, stack_hash) for the queries.
 *
 * On a cluster these are the names of Distributed tables over <name>_local
 * tables on every shard, sharded by stack hash (see schema.c for why).
 * xprof_schema records the schema version (ST_SCHEMA_VERSION): every entry
 * point checks it and refuses a store written by another version.
 *
 * Errors: functions return 0 or -errno and leave a one-line message naming
 * the server or the table in st_conn_error(): -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, -EIO (transport), -EPROTO (the server refused: its message
 * is quoted), -EBADMSG (an answer that does not decode), -ENOMEM, -EINVAL.
 * Nothing here prints, retries or sleeps: a caller that wants retries (the
 * agent) calls again.
 */
#ifndef XPROF_STORE_H
#define XPROF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/report.h"

#define ST_SCHEMA_VERSION 1

/* ---- connection ------------------------------------------------------------ */

struct st_conn;

/*
 * A connection to the server at url ("http://host:8123", "https://...";
 * "?database=NAME" and "user:password@" are passed on). Nothing is sent yet.
 * timeout_s bounds each request (0: 60 s). NULL with errno EINVAL (not an
 * http(s) URL) or ENOMEM.
 */
struct st_conn *st_conn_new(const char *url, unsigned timeout_s);
void st_conn_free(struct st_conn *c);

/* The last failure's message ("" if none); owned by c, valid until the next call. */
const char *st_conn_error(const struct st_conn *c);

/* The URL without its password, for messages. Owned by c. */
const char *st_conn_url(const struct st_conn *c);

/* Run one statement that returns nothing (DDL). 0 or -errno as above. */
int st_conn_exec(struct st_conn *c, const char *sql);

/*
 * Whether err, the failure of c's last request, may pass if the same
 * request is sent again later: the server or a shard unreachable, a
 * timeout, an HTTP 5xx (or 408, 429) other than a ClickHouse exception that
 * says the request is wrong (a syntax, parse or type error). false for
 * those, other 4xx, and the refusals of xprof's own checks (a schema of
 * another version or layout, -EBADMSG, -E2BIG, -EINVAL).
 */
bool st_conn_transient(const struct st_conn *c, int err);

/* Bytes sent and received over c so far. */
uint64_t st_conn_bytes_sent(const struct st_conn *c);

/* ---- schema ---------------------------------------------------------------- */

struct st_schema_opts {
	const char *cluster; /* NULL: single node; else a remote_servers cluster name */
	/*
	 * With cluster: the HTTP URL of every shard, for servers without
	 * distributed DDL (no ZooKeeper/Keeper). Without them, tables are made
	 * with ON CLUSTER. Every shard gets the local tables, the Distributed
	 * tables and xprof_schema, so any of them can be queried.
	 */
	struct st_conn *const *shards;
	unsigned nshards;
};

/*
 * Create the tables, or accept them if they are at ST_SCHEMA_VERSION.
 * -EPROTO with a message when the store has another version (a newer one:
 * upgrade xprof; an older one with no migration path) or tables of the
 * wrong layout (single node vs cluster).
 */
int st_schema_init(struct st_conn *c, const struct st_schema_opts *o);

/* Check the store c points at is at ST_SCHEMA_VERSION. -ENOENT: no store (run init). */
int st_schema_check(struct st_conn *c, char *cluster, size_t cluster_len);

/*
 * Drop every day partition of the samples table older than cutoff_ns (ns
 * since the epoch): whole days strictly before cutoff's day. Stacks are
 * kept (they are small and shared). On a cluster it runs on every shard (o as
 * for init). *dropped counts partitions dropped (per shard).
 */
int st_prune(struct st_conn *c, const struct st_schema_opts *o, uint64_t cutoff_ns,
	     unsigned *dropped);

/* ---- writing --------------------------------------------------------------- */

/*
 * The insert path, as an agent drives it once per window: st_writer_begin(),
 * then for each stack of the window's profile st_writer_stack() (or
 * st_writer_stack_hashed() with a kept hash) and st_writer_sample(), or
 * st_writer_add_profile() for a whole pipeline profile; then
 * st_writer_flush(). A failed flush leaves the window whole: the caller
 * keeps it (its spool, st_writer_pending() bytes), flushes again after its
 * backoff, or st_writer_drop()s it past its bound. The writer itself never
 * retries, sleeps or spools.
 */

/* st_frame.flags: the frame's enum rep_kind in the low bits, and: */
#define ST_FRAME_KIND_MASK 0x0fu
#define ST_FRAME_INLINED   0x10u

struct st_frame {
	const char *name;
	const char *file; /* NULL or "": unknown */
	uint32_t line;
	uint8_t flags;
};

/* The stack hash: 64 bits over comm and every frame's name, file, line and flags, root first. */
uint64_t st_stack_hash(const char *comm, const struct st_frame *f, unsigned n);

struct st_labels {
	const char *host, *service, *container; /* NULL: "" */
};

struct st_sample {
	const char *comm; /* the same as the stack's */
	uint32_t pid;
	const char *build_id; /* hex of the executable, NULL: "" */
	uint64_t stack_hash;  /* from st_writer_stack() */
	uint32_t count;
};

struct st_writer_opts {
	/*
	 * Stack hashes remembered as already in the store, so their frames are
	 * not sent again: at most 2 * known_max (0: 1 << 18, 4 MiB). See
	 * writer.c for the forget policy.
	 */
	size_t known_max;
	size_t batch_max; /* bytes a window may buffer per table (0: 256 MiB); -E2BIG past it */
};

struct st_writer_stats {
	uint64_t windows;	 /* windows flushed */
	uint64_t rows;		 /* sample rows sent */
	uint64_t stacks_sent;	 /* stack rows sent */
	uint64_t stacks_known;	 /* stacks not sent because the store had them */
	uint64_t known_forgot;	 /* hashes forgotten to keep the known set bounded */
	uint64_t flush_failures; /* st_writer_flush() calls that failed */
	uint64_t rows_found;	 /* sample rows of resumed windows the store already had */
};

struct st_writer;

/* A writer inserting through c (borrowed, must outlive it). NULL/ENOMEM. */
struct st_writer *st_writer_new(struct st_conn *c, const struct st_writer_opts *o);
void st_writer_free(struct st_writer *w);

/*
 * Open a window: start_ns since the epoch, duration_ns. -EBUSY if the last
 * window was neither flushed nor dropped.
 */
int st_writer_begin(struct st_writer *w, const struct st_labels *l, uint64_t start_ns,
		    uint64_t duration_ns);

/* Register a stack for this window: *hash for st_sample; its row is queued if new. */
int st_writer_stack(struct st_writer *w, const char *comm, const struct st_frame *f, unsigned n,
		    uint64_t *hash);

/*
 * The same for a caller that kept the stack's st_stack_hash() from an
 * earlier window (the agent, per stack of its profile): f is read only when
 * the store may not have the stack, so a known one costs a lookup.
 */
int st_writer_stack_hashed(struct st_writer *w, uint64_t hash, const char *comm,
			   const struct st_frame *f, unsigned n);

/*
 * Labels for the rows queued from now on in the open window (a host's
 * containers, or a relay batching several hosts' windows of the same
 * time into one insert). 0, -EINVAL outside a window, -ENOMEM.
 */
int st_writer_set_labels(struct st_writer *w, const struct st_labels *l);

/* Queue one sample row. -E2BIG past batch_max, -EINVAL outside a window. */
int st_writer_sample(struct st_writer *w, const struct st_sample *s);

/* The executable's build-id (hex) of process pid, or NULL if unknown. */
typedef const char *(*st_build_id_fn)(void *ctx, uint32_t pid);

/*
 * Every stack of a profile (from the pipeline, or a window's pprof read
 * back) as rows of this window: the key's comm and pid; from the stack's
 * label set (rep_profile_labels) its host (an empty or absent one: the
 * window's), service, container (absent: the window's) and build_id
 * (absent: build_id(ctx, pid), or "" if build_id is NULL). Other keys are
 * not columns. 0 or -errno.
 */
int st_writer_add_profile(struct st_writer *w, const struct rep_profile *p, st_build_id_fn build_id,
			  void *ctx);

/*
 * Send the window: one insert into xprof_stacks (new stacks only, skipped
 * when there are none), then one into xprof_samples. On success the window
 * is closed and its new stacks become known. On failure the window stays
 * open and whole, and what was sent is remembered (stacks inserted are not
 * sent again): this is the retry hook, call st_writer_flush() again later,
 * or st_writer_drop() to give the window up.
 */
int st_writer_flush(struct st_writer *w);
void st_writer_drop(struct st_writer *w);

/*
 * Say that the store may already hold part of the open window's samples:
 * an earlier attempt at the same window (a dropped one being sent again,
 * a spool's window from before a restart) may have reached the server.
 * The flush then first asks the store which of the window's stacks it has
 * (rows of the same window_start, duration and host) and sends only the
 * others, so a retry never counts a sample twice. A failed samples insert
 * sets this itself. Nothing outside a window.
 */
void st_writer_resume(struct st_writer *w);

/* Bytes the open window would send (both tables): what a spool would hold. */
size_t st_writer_pending(const struct st_writer *w);

const struct st_writer_stats *st_writer_stats(const struct st_writer *w);

/* ---- querying -------------------------------------------------------------- */

enum st_label {
	ST_L_HOST = 0,
	ST_L_SERVICE,
	ST_L_CONTAINER,
	ST_L_COMM,
	ST_L_BUILD_ID,
	ST_L_PID,
	ST_L_NR
};

/* "host" -> ST_L_HOST; -1 if not a label. */
int st_label_parse(const char *name, size_t len);
const char *st_label_name(enum st_label l);

/* One --where condition: label = value, or != with negate; * and ? in value glob. */
struct st_cond {
	enum st_label label;
	bool negate;
	char value[256];
};

/*
 * Parse "host=a,service!=b*" into conds (appended after *n, at most max).
 * -EINVAL with *why naming the bad part.
 */
int st_where_parse(const char *arg, struct st_cond *conds, unsigned max, unsigned *n,
		   const char **why);

/*
 * A time for --from/--to: "now", "-1h" / "-30m" / "-2d" / "-45s" (before
 * now_ns), seconds since the epoch ("1700000000"), or UTC "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS]" (also with ' ' and a trailing 'Z'). 0 or -EINVAL.
 */
int st_time_parse(const char *arg, uint64_t now_ns, uint64_t *ns);

/* "7d", "12h", "30m" as nanoseconds. 0 or -EINVAL. */
int st_duration_parse(const char *arg, uint64_t *ns);

struct st_query {
	uint64_t from_ns, to_ns; /* window_start in [from, to) */
	const struct st_cond *conds;
	unsigned nconds;
	int group_by;	     /* enum st_label, or -1: one tower per comm */
	unsigned max_stacks; /* top stacks fetched (0: 10000) */
};

/*
 * The aggregation statement for q (FORMAT RowBinary): sums by stack in the
 * server, top max_stacks only. Every value is sent hex-encoded through
 * unhex(), so no input can end the string literal. Caller frees *sql.
 * 0, -EINVAL (bad label), -ENOMEM.
 */
int st_query_sql(const struct st_query *q, char **sql);

struct st_query_stats {
	uint64_t total;		 /* samples matching q, all stacks */
	uint64_t shown;		 /* samples in the profile */
	uint64_t rows;		 /* (group, stack) rows fetched */
	uint64_t missing_stacks; /* stacks with samples but no frames in the store */
};

/*
 * Run q against the store and build a profile (root frame per comm, or per
 * value of the group-by label; "[none]" for an empty value). Caller frees
 * *out. 0 or -errno as above.
 */
int st_query_run(struct st_conn *c, const struct st_query *q, struct rep_profile **out,
		 struct st_query_stats *stats);

#endif /* XPROF_STORE_H */
