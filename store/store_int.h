/* SPDX-License-Identifier: MIT */
/*
 * store/ internals: a growable byte buffer, ClickHouse's RowBinary encoding
 * (little-endian integers, LEB128 lengths, strings as length + bytes, arrays
 * as count + elements) both ways, and the raw requests. Tests and the fuzz
 * target include this; other folders may not.
 */
#ifndef XPROF_STORE_INT_H
#define XPROF_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ST_T_SCHEMA  "xprof_schema"
#define ST_T_STACKS  "xprof_stacks"
#define ST_T_SAMPLES "xprof_samples"
#define ST_LOCAL     "_local"

/* A growable buffer; err latches the first allocation failure so writes need no checks. */
struct st_buf {
	uint8_t *v;
	size_t n, cap;
	int err; /* 0 or -ENOMEM */
};

void st_buf_release(struct st_buf *b);
void st_buf_put(struct st_buf *b, const void *data, size_t len);
void st_buf_printf(struct st_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminate (not counted in n) and hand the string over; NULL if allocation failed. */
char *st_buf_detach_str(struct st_buf *b);

static inline void st_put_u8(struct st_buf *b, uint8_t v)
{
	st_buf_put(b, &v, 1);
}

void st_put_u32(struct st_buf *b, uint32_t v);
void st_put_u64(struct st_buf *b, uint64_t v);
void st_put_uleb(struct st_buf *b, uint64_t v);
void st_put_str(struct st_buf *b, const char *s); /* NULL: "" */

/*
 * One xprof_stacks row in RowBinary: hash, comm, then the frames' names,
 * files, lines and flags as four arrays (what the writer inserts and the
 * query reads back).
 */
void st_put_stack(struct st_buf *b, uint64_t hash, const char *comm, const struct st_frame *f,
		  unsigned n);

/* A RowBinary reader: every get returns 0 or -EBADMSG when the input ends early. */
struct st_rd {
	const uint8_t *p, *end;
};

int st_get_u8(struct st_rd *r, uint8_t *v);
int st_get_u32(struct st_rd *r, uint32_t *v);
int st_get_u64(struct st_rd *r, uint64_t *v);
int st_get_uleb(struct st_rd *r, uint64_t *v);
/* A string borrowed from the input: *s is not NUL-terminated. */
int st_get_str(struct st_rd *r, const char **s, size_t *len);

/* Append s as a ClickHouse string expression that no byte of s can break out of. */
void st_sql_str(struct st_buf *b, const char *s, size_t len);

/*
 * One request: sql in the body (select), or sql in the URL and data in the
 * body (insert, data != NULL). A 200 answer's body goes to out (NULL: dropped).
 * extra: more URL parameters ("&a=b"), or NULL.
 */
int st_conn_request(struct st_conn *c, const char *sql, const struct st_buf *data,
		    const char *extra, struct st_buf *out);

/* Set c's message (printf) and return err. */
int st_conn_fail(struct st_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the query's answers, decoded (fuzzed: tests/fuzz/fuzz_store.c) -------- */

/* One row of the aggregation: group value ("" without --group-by), stack hash, samples. */
struct st_agg_row {
	const char
	    *group; /* borrowed from the answer, not NUL-terminated; NULL: root is the comm */
	size_t group_len;
	uint64_t hash, count;
};

/* Decode an aggregation answer into rows (caller frees *rows). 0, -EBADMSG or -ENOMEM. */
int st_agg_decode(const uint8_t *data, size_t len, struct st_agg_row **rows, size_t *nrows);

/* One decoded stack: frames root first. */
struct st_stack_row {
	uint64_t hash;
	const char *comm;
	uint32_t nframes;
	struct st_frame *frames; /* strings are NUL-terminated copies owned by the set */
};

struct st_stack_set {
	struct st_stack_row *v; /* sorted by hash after st_stacks_decode() */
	size_t n;
	char *strs; /* every frame string, NUL-terminated */
	struct st_frame *frames;
};

/* Decode a stacks answer (hash, comm, names, files, lines, flags). 0, -EBADMSG, -ENOMEM. */
int st_stacks_decode(const uint8_t *data, size_t len, struct st_stack_set *set);
void st_stacks_release(struct st_stack_set *set);
const struct st_stack_row *st_stacks_find(const struct st_stack_set *set, uint64_t hash);

/* Build a profile from decoded rows and stacks (what st_query_run does after fetching). */
int st_profile_build(const struct st_agg_row *rows, size_t nrows, const struct st_stack_set *set,
		     struct rep_profile **out, struct st_query_stats *stats);

#endif /* XPROF_STORE_INT_H */
