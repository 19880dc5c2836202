/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for a ClickHouse server's HTTP interface, for unit tests of
 * the store's writer and the agent's clickhouse sink without a server. It
 * serves one request per connection on a loopback port, in a thread of its
 * own, and keeps every request (its kind, its statement, its body). It
 * answers what the writer and the sink ask: the schema check (a store at
 * version `version`), `SELECT DISTINCT stack_hash` (the RowBinary in
 * `distinct`), inserts (empty 200); the request numbered fail_at gets
 * `fail_answer` (a whole HTTP response) instead.
 */
#ifndef XPROF_TESTS_FAKE_CH_H
#define XPROF_TESTS_FAKE_CH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_CH_REQS 64

struct fake_ch_req {
	char kind[16]; /* "stacks", "samples" (inserts), "schema", "distinct", "other" */
	char *sql;     /* the statement, decoded */
	uint8_t *body; /* an insert's data */
	size_t body_len;
};

struct fake_ch {
	int fd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	/* set by the test (under lock once started) */
	uint32_t version;	 /* schema version the store reports */
	unsigned fail_at;	 /* 1-based request number, 0: none */
	const char *fail_answer; /* the whole HTTP response for it */
	uint8_t distinct[1024];	 /* answer to SELECT DISTINCT stack_hash */
	size_t distinct_len;
	/* what came */
	unsigned nreq;
	struct fake_ch_req req[FAKE_CH_REQS];
};

/* One xprof_samples row as an insert's RowBinary carries it. */
struct fake_ch_row {
	uint64_t window_start, duration_ns;
	char host[64], service[64], container[64], comm[64];
	uint32_t pid;
	char build_id[64];
	uint64_t stack_hash;
	uint32_t count;
};

/* Decode a samples insert's body into rows (at most max). The number of rows, or -1 if it does not
 * decode. */
int fake_ch_rows(const struct fake_ch_req *r, struct fake_ch_row *rows, unsigned max);

/* Listen on a free loopback port and serve. 0 or -errno. */
int fake_ch_start(struct fake_ch *f);
/* Stop serving and free what the requests kept. */
void fake_ch_stop(struct fake_ch *f);
/* The kinds of requests from *seen on, as "schema,stacks,samples,"; *seen advances. */
const char *fake_ch_log(struct fake_ch *f, unsigned *seen, char *out, size_t len);

#endif /* XPROF_TESTS_FAKE_CH_H */
