// SPDX-License-Identifier: MIT
/*
 * Unit tests for store/ without a server: --where, --from/--to and duration
 * parsing (table-driven), the query text (no user byte reaches it raw),
 * RowBinary decoding of the server's answers (every truncation refused),
 * the profile built from them (the folded lines a user reads), the stack
 * hash, and the writer's window kept whole across a failed flush (the
 * retry hook). The e2e test (tests/e2e/test_store.sh) runs real servers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_int.h"
#include "tests/unit/fake_ch.h"

static void test_where(void **state)
{
	static const struct {
		const char *arg;
		int err;
		unsigned n;
		enum st_label label0;
		bool negate0;
		const char *value0;
	} cases[] = {
	    {"host=web1", 0, 1, ST_L_HOST, false, "web1"},
	    {"service!=db*", 0, 1, ST_L_SERVICE, true, "db*"},
	    {"container=,comm=a=b", 0, 2, ST_L_CONTAINER, false, ""},
	    {"pid=12,build_id=ab", 0, 2, ST_L_PID, false, "12"},
	    {"host='x' OR 1=1", 0, 1, ST_L_HOST, false, "'x' OR 1=1"},
	    {"", -EINVAL, 0, 0, false, NULL},
	    {"host", -EINVAL, 0, 0, false, NULL},
	    {"=x", -EINVAL, 0, 0, false, NULL},
	    {"hostname=x", -EINVAL, 0, 0, false, NULL},
	    {"host=a,", -EINVAL, 1, 0, false, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct st_cond c[4];
		unsigned n = 0;
		const char *why = NULL;
		int err = st_where_parse(cases[i].arg, c, 4, &n, &why);

		assert_int_equal(err, cases[i].err);
		if (err) {
			assert_non_null(why);
			continue;
		}
		assert_int_equal(n, cases[i].n);
		assert_int_equal(c[0].label, cases[i].label0);
		assert_int_equal(c[0].negate, cases[i].negate0);
		assert_string_equal(c[0].value, cases[i].value0);
	}
	/* The bound holds. */
	struct st_cond one[1];
	unsigned n = 0;
	const char *why;
	assert_int_equal(st_where_parse("host=a,host=b", one, 1, &n, &why), -EINVAL);
}

static void test_times(void **state)
{
	const uint64_t now = 1765000000ull * 1000000000ull, s = 1000000000ull;
	static const struct {
		const char *arg;
		int err;
		uint64_t secs_before_now; /* when relative */
		uint64_t abs_secs;	  /* when absolute */
	} cases[] = {
	    {"now", 0, 0, 0},
	    {"-1h", 0, 3600, 0},
	    {"-30m", 0, 1800, 0},
	    {"-7d", 0, 7 * 86400, 0},
	    {"-45s", 0, 45, 0},
	    {"1700000000", 0, 0, 1700000000},
	    {"2026-12-06", 0, 0, 1796515200},
	    {"2026-12-06T10:00", 0, 0, 1796515200 + 36000},
	    {"2026-12-06 10:00:30Z", 0, 0, 1796515200 + 36030},
	    {"-1x", -EINVAL, 0, 0},
	    {"-h", -EINVAL, 0, 0},
	    {"2026-13-01", -EINVAL, 0, 0},
	    {"2026-12-06T25:00", -EINVAL, 0, 0},
	    {"yesterday", -EINVAL, 0, 0},
	    {"2026-12-06junk", -EINVAL, 0, 0},
	    {"-100000d", -EINVAL, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t t = 0;
		int err = st_time_parse(cases[i].arg, now, &t);

		assert_int_equal(err, cases[i].err);
		if (err)
			continue;
		if (cases[i].abs_secs)
			assert_true(t == cases[i].abs_secs * s);
		else
			assert_true(t == now - cases[i].secs_before_now * s);
	}
	uint64_t d;
	assert_int_equal(st_duration_parse("7d", &d), 0);
	assert_true(d == 7 * 86400 * s);
	assert_int_equal(st_duration_parse("7", &d), -EINVAL);
	assert_int_equal(st_duration_parse("d", &d), -EINVAL);
	assert_int_equal(st_duration_parse("1dd", &d), -EINVAL);
	assert_int_equal(st_duration_parse("99999999999999999w", &d), -EINVAL);
}

/* Every byte a user gives reaches the statement hex-encoded: no quote, backslash or NUL escapes. */
static void test_sql_injection(void **state)
{
	static const char *evil[] = {
	    "x' OR 1=1 --", "x\\' OR 1=1", "x'); DROP TABLE xprof_samples; --", "a*'b?", "\n'\t",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		struct st_cond c[2] = {{.label = ST_L_HOST}, {.label = ST_L_COMM, .negate = true}};
		struct st_query q = {
		    .from_ns = 1, .to_ns = 2, .conds = c, .nconds = 2, .group_by = -1};
		char *sql = NULL;
		size_t quotes = 0;

		snprintf(c[0].value, sizeof(c[0].value), "%s", evil[i]);
		snprintf(c[1].value, sizeof(c[1].value), "%s", evil[i]);
		assert_int_equal(st_query_sql(&q, &sql), 0);
		assert_null(strstr(sql, "DROP"));
		assert_null(strstr(sql, "OR 1=1"));
		assert_null(strchr(sql, '\\'));
		assert_null(strchr(sql, '\n'));
		for (const char *p = sql; *p; p++)
			quotes += *p == '\'';
		/* '' (no group) and a pair around each hex string. */
		assert_int_equal(quotes, 2 + 2 * 2);
		/* Every quoted part is '' or hex digits. */
		for (const char *p = strchr(sql, '\''); p; p = strchr(p + 1, '\'')) {
			const char *e = strchr(p + 1, '\'');

			assert_non_null(e);
			assert_int_equal(strspn(p + 1, "0123456789abcdef"), (size_t)(e - p - 1));
			p = e;
		}
		free(sql);
	}
}

static void test_sql_shape(void **state)
{
	struct st_cond c[2] = {{.label = ST_L_HOST, .value = "web?"},
			       {.label = ST_L_PID, .negate = true, .value = "12"}};
	struct st_query q = {.from_ns = 100,
			     .to_ns = 200,
			     .conds = c,
			     .nconds = 2,
			     .group_by = ST_L_SERVICE,
			     .max_stacks = 7};
	char *sql = NULL;

	(void)state;
	assert_int_equal(st_query_sql(&q, &sql), 0);
	/* Aggregated in the server, top stacks only, never raw rows. */
	assert_non_null(strstr(sql, "SELECT service AS g, stack_hash, sum(count) AS n "));
	assert_non_null(strstr(sql, "window_start >= 100 AND window_start < 200"));
	/* The glob "web?" as the regex "^web.$", hex-encoded. */
	assert_non_null(strstr(sql, "AND match(host, unhex('5e7765622e24'))"));
	assert_non_null(strstr(sql, "AND toString(pid) != unhex('3132')"));
	assert_non_null(strstr(sql, "GROUP BY g, stack_hash ORDER BY n DESC"));
	free(sql);
	q.group_by = -1;
	assert_int_equal(st_query_sql(&q, &sql), 0);
	assert_non_null(strstr(sql, "SELECT '' AS g, stack_hash, sum(count) AS n "));
	assert_non_null(strstr(sql, "GROUP BY stack_hash ORDER BY n DESC"));
	assert_non_null(strstr(sql, "LIMIT 7 FORMAT RowBinary"));
	free(sql);
	q.group_by = ST_L_NR;
	assert_int_equal(st_query_sql(&q, &sql), -EINVAL);
}

static void test_stack_hash(void **state)
{
	struct st_frame a[2] = {{.name = "ab", .file = "c"}, {.name = "main"}};
	struct st_frame b[2] = {{.name = "a", .file = "bc"}, {.name = "main"}};
	struct st_frame c[2] = {{.name = "ab", .file = "c"}, {.name = "main", .flags = 1}};

	(void)state;
	assert_true(st_stack_hash("p", a, 2) == st_stack_hash("p", a, 2));
	assert_true(st_stack_hash("p", a, 2) != st_stack_hash("p", b, 2));
	assert_true(st_stack_hash("p", a, 2) != st_stack_hash("p", c, 2));
	assert_true(st_stack_hash("p", a, 1) != st_stack_hash("p", a, 2));
	/* The comm is part of the stack. */
	assert_true(st_stack_hash("p", a, 2) != st_stack_hash("q", a, 2));
	assert_true(st_stack_hash(NULL, NULL, 0) != 0);
}

static void put_agg(struct st_buf *b, const char *g, uint64_t hash, uint64_t n)
{
	st_put_str(b, g);
	st_put_u64(b, hash);
	st_put_u64(b, n);
}

static char *folded(const struct rep_profile *p)
{
	struct rep_opts o = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(rep_write_folded(p, &o, f), 0);
	fclose(f);
	return text;
}

static void test_answers_to_profile(void **state)
{
	const struct st_frame s1[] = {
	    {.name = "main", .file = "m.c", .line = 3},
	    {.name = "work", .file = "w.c", .line = 9},
	    {.name = "inl", .file = "w.c", .line = 10, .flags = ST_FRAME_INLINED},
	};
	const struct st_frame s2[] = {{.name = "main"}, {.name = "do_syscall_64", .flags = 1}};
	struct st_buf st = {0}, ag = {0};
	struct st_stack_set set;
	struct st_agg_row *rows;
	size_t nrows;
	struct rep_profile *p;
	struct st_query_stats qs = {0};
	char *text;

	(void)state;
	st_put_stack(&st, 22, "prog", s2, 2);
	size_t first_end = st.n;
	st_put_stack(&st, 11, "prog", s1, 3);
	put_agg(&ag, "", 11, 5);
	put_agg(&ag, "", 22, 2);
	put_agg(&ag, "", 33, 1); /* no frames in the store */
	assert_int_equal(st.err, 0);
	assert_int_equal(st_stacks_decode(st.v, st.n, &set), 0);
	assert_int_equal(set.n, 2);
	assert_non_null(st_stacks_find(&set, 11));
	assert_null(st_stacks_find(&set, 12));
	assert_int_equal(st_agg_decode(ag.v, ag.n, &rows, &nrows), 0);
	assert_int_equal(nrows, 3);
	for (size_t i = 0; i < nrows; i++)
		rows[i].group = NULL;
	assert_int_equal(st_profile_build(rows, nrows, &set, &p, &qs), 0);
	assert_int_equal(qs.missing_stacks, 1);
	assert_true(qs.shown == 8 && rep_profile_total(p) == 8);
	text = folded(p);
	assert_string_equal(text, "[unknown];[stack not in store] 1\n"
				  "prog;main;do_syscall_64_[k] 2\n"
				  "prog;main;work;inl_[i] 5\n");
	free(text);
	rep_profile_free(p);

	/* Grouped: the value is the root, "[none]" when empty. */
	rows[0].group = "web";
	rows[0].group_len = 3;
	rows[1].group = "";
	rows[1].group_len = 0;
	rows[2].group = "web";
	rows[2].group_len = 3;
	qs = (struct st_query_stats){0};
	assert_int_equal(st_profile_build(rows, nrows, &set, &p, &qs), 0);
	text = folded(p);
	assert_string_equal(text, "[none];main;do_syscall_64_[k] 2\n"
				  "web;[stack not in store] 1\n"
				  "web;main;work;inl_[i] 5\n");
	free(text);
	rep_profile_free(p);
	free(rows);
	st_stacks_release(&set);

	/* Every cut of the answers is refused, never read past. */
	for (size_t cut = 0; cut < st.n; cut++) {
		int err = st_stacks_decode(st.v, cut, &set);

		assert_true(cut == 0 || cut == first_end ? err == 0 : err == -EBADMSG);
		st_stacks_release(&set);
	}
	for (size_t cut = 1; cut < ag.n; cut++) {
		int err = st_agg_decode(ag.v, cut, &rows, &nrows);

		if (!err)
			free(rows);
		/* Only a cut at a row boundary decodes. */
		assert_true(err == -EBADMSG || cut == ag.n / 3 || cut == 2 * ag.n / 3);
	}
	st_buf_release(&st);
	st_buf_release(&ag);
}

static void test_parallel_arrays_checked(void **state)
{
	struct st_buf b = {0};
	struct st_stack_set set;

	(void)state;
	/* Two names but one file: not a stack. */
	st_put_u64(&b, 1);
	st_put_str(&b, "prog");
	st_put_uleb(&b, 2);
	st_put_str(&b, "a");
	st_put_str(&b, "b");
	st_put_uleb(&b, 1);
	st_put_str(&b, "f");
	st_put_uleb(&b, 2);
	st_put_u32(&b, 0);
	st_put_u32(&b, 0);
	st_put_uleb(&b, 2);
	st_put_u8(&b, 0);
	st_put_u8(&b, 0);
	assert_int_equal(st_stacks_decode(b.v, b.n, &set), -EBADMSG);
	/* A length past the end. */
	b.n = 0;
	st_put_u64(&b, 1);
	st_put_str(&b, "prog");
	st_put_uleb(&b, 1ull << 40);
	assert_int_equal(st_stacks_decode(b.v, b.n, &set), -EBADMSG);
	st_buf_release(&b);
}

/* A failed flush keeps the window whole for the caller's retry; drop gives it up. */
static void test_writer_retry_hook(void **state)
{
	/* Port 1 on loopback: nothing listens, the connection is refused at once. */
	struct st_conn *c = st_conn_new("http://127.0.0.1:1", 2);
	struct st_writer *w;
	struct st_frame f[2] = {{.name = "main"}, {.name = "work"}};
	struct st_labels l = {.host = "h"};
	struct st_sample s = {.comm = "prog", .pid = 7, .count = 3};
	size_t pending;
	uint64_t h2;

	(void)state;
	assert_non_null(c);
	w = st_writer_new(c, NULL);
	assert_non_null(w);
	assert_int_equal(st_writer_stack(w, "prog", f, 2, &s.stack_hash), -EINVAL); /* no window */
	assert_int_equal(st_writer_set_labels(w, &l), -EINVAL);
	assert_int_equal(st_writer_begin(w, &l, 1000, 10), 0);
	assert_int_equal(st_writer_begin(w, &l, 2000, 10), -EBUSY);
	assert_int_equal(st_writer_stack(w, "prog", f, 2, &s.stack_hash), 0);
	assert_int_equal(st_writer_stack(w, "prog", f, 2, &h2),
			 0); /* the same stack: queued once */
	assert_true(h2 == s.stack_hash && h2 == st_stack_hash("prog", f, 2));
	assert_int_equal(st_writer_sample(w, &s), 0);
	/* A caller-kept hash of a queued stack queues nothing more; new labels change no stack. */
	pending = st_writer_pending(w);
	assert_int_equal(st_writer_stack_hashed(w, h2, "prog", f, 2), 0);
	assert_int_equal(st_writer_pending(w), pending);
	assert_int_equal(st_writer_set_labels(w, &(struct st_labels){.host = "other"}), 0);
	assert_int_equal(st_writer_sample(w, &s), 0);
	assert_true(st_writer_pending(w) > pending);
	pending = st_writer_pending(w);
	assert_true(pending > 0);
	assert_int_equal(st_writer_flush(w), -ECONNREFUSED);
	assert_non_null(strstr(st_conn_error(c), "cannot reach http://127.0.0.1:1"));
	assert_int_equal(st_writer_pending(w), pending);
	assert_int_equal(st_writer_flush(w), -ECONNREFUSED);
	assert_int_equal(st_writer_pending(w), pending);
	assert_int_equal(st_writer_stats(w)->flush_failures, 2);
	assert_int_equal(st_writer_stats(w)->windows, 0);
	st_writer_drop(w);
	assert_int_equal(st_writer_pending(w), 0);
	assert_int_equal(st_writer_begin(w, &l, 2000, 10), 0);
	st_writer_free(w);
	st_conn_free(c);
}

/*
 * A stand-in for the server's HTTP side, so the writer's protocol can be
 * checked without ClickHouse: one request per connection, each recorded as
 * the table it inserts into; the request numbered fail_at gets an HTTP 500
 * with a ClickHouse-like message.
 */
struct fake {
	int fd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	unsigned nreq, fail_at; /* fail_at: 1-based, 0 never */
	char table[64][16];	/* "stacks" or "samples" per request */
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		char buf[1 << 16];
		size_t n = 0, need = 0;
		char *hdr_end = NULL;
		int c = accept(f->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		/* Headers, then Content-Length bytes of body. */
		while (n < sizeof(buf) - 1) {
			ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);

			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = 0;
			if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
				const char *cl = strcasestr(buf, "Content-Length:");

				need = (size_t)(hdr_end + 4 - buf) +
				       (cl ? strtoul(cl + 15, NULL, 10) : 0);
			}
			if (hdr_end && n >= need)
				break;
		}
		pthread_mutex_lock(&f->lock);
		unsigned k = f->nreq++;
		bool fail = f->fail_at == k + 1;

		if (k < 64)
			snprintf(f->table[k], sizeof(f->table[k]), "%s",
				 strstr(buf, "INSERT%20INTO%20xprof_stacks")	? "stacks"
				 : strstr(buf, "INSERT%20INTO%20xprof_samples") ? "samples"
										: "other");
		pthread_mutex_unlock(&f->lock);
		const char *ok =
		    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		const char *ko =
		    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 40\r\n"
		    "Connection: close\r\n\r\nCode: 241, e.displayText() = DB::fake\n\n\n";
		ssize_t wr = write(c, fail ? ko : ok, strlen(fail ? ko : ok));

		(void)wr;
		close(c);
	}
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 16), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
}

/* Requests since *seen, as "stacks,samples,". */
static const char *fake_log(struct fake *f, unsigned *seen, char *out, size_t len)
{
	size_t k = 0;

	out[0] = 0;
	pthread_mutex_lock(&f->lock);
	for (; *seen < f->nreq && *seen < 64; (*seen)++)
		k += (size_t)snprintf(out + k, len - k, "%s,", f->table[*seen]);
	pthread_mutex_unlock(&f->lock);
	return out;
}

/* One window of the given stacks (names), one sample row each. */
static int window(struct st_writer *w, const char *const *stacks, unsigned n)
{
	struct st_labels l = {.host = "h"};
	int err = st_writer_begin(w, &l, 1000, 10);

	for (unsigned i = 0; i < n && !err; i++) {
		struct st_frame f[2] = {{.name = "main"}, {.name = stacks[i]}};
		struct st_sample s = {.comm = "prog", .count = 1};

		err = st_writer_stack(w, "prog", f, 2, &s.stack_hash);
		if (!err)
			err = st_writer_sample(w, &s);
	}
	return err ? err : st_writer_flush(w);
}

/*
 * Stacks go once, samples every window; a failed samples insert is retried
 * without its stacks; the known set forgets a generation when it fills.
 */
static void test_writer_protocol(void **state)
{
	static const char *const ab[] = {"a", "b"}, *const c[] = {"c"}, *const d[] = {"d"},
				 *const e[] = {"e"}, *const a[] = {"a"};
	struct st_writer_opts o = {.known_max = 2};
	struct fake f;
	struct st_conn *conn;
	struct st_writer *w;
	char url[64], log[512];
	unsigned seen = 0;

	(void)state;
	fake_start(&f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	conn = st_conn_new(url, 5);
	w = st_writer_new(conn, &o);
	assert_non_null(w);

	assert_int_equal(window(w, ab, 2), 0);
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "stacks,samples,");
	assert_int_equal(window(w, ab, 2), 0);
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "samples,");
	assert_int_equal(st_writer_stats(w)->stacks_sent, 2);
	assert_int_equal(st_writer_stats(w)->stacks_known, 2);
	assert_int_equal(st_writer_stats(w)->rows, 4);

	/*
	 * The samples insert of this window fails: the retry sends samples
	 * alone, after asking which of them the store has (none: this fake's
	 * empty answer; test_writer_resume has the rest).
	 */
	f.fail_at = f.nreq + 2;
	assert_int_equal(window(w, c, 1), -EPROTO);
	assert_non_null(strstr(st_conn_error(conn), "answered HTTP 500: Code: 241"));
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "stacks,samples,");
	assert_int_equal(st_writer_flush(w), 0);
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "other,samples,");
	assert_int_equal(st_writer_stats(w)->flush_failures, 1);

	/* known_max 2: {a, b} became the old generation when c came; d fills {c, d}; e forgets a,
	 * b. */
	assert_int_equal(window(w, d, 1), 0);
	assert_int_equal(window(w, e, 1), 0);
	assert_int_equal(st_writer_stats(w)->known_forgot, 2);
	seen = f.nreq;
	assert_int_equal(window(w, c, 1), 0); /* c is in the old generation: still known */
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "samples,");
	assert_int_equal(window(w, a, 1), 0); /* a was forgotten: sent again */
	assert_string_equal(fake_log(&f, &seen, log, sizeof(log)), "stacks,samples,");

	st_writer_free(w);
	st_conn_free(conn);
	fake_stop(&f);
}

/* An HTTP error answer with a ClickHouse-like message (read to the close). */
#define CH_ERR(status, msg) "HTTP/1.1 " status "\r\nConnection: close\r\n\r\n" msg "\n"

/* The build-id callback of test_writer_labels: pid 7's executable. */
static const char *bid_of(void *ctx, uint32_t pid)
{
	(void)ctx;
	return pid == 7 ? "b7" : NULL;
}

/*
 * st_writer_add_profile's rows take each stack's label set over the
 * window's labels: an empty or absent host is the window's, an absent
 * service or container the window's, a build_id label wins over the
 * callback; other keys (exe) are no column.
 */
static void test_writer_labels(void **state)
{
	static const struct {
		struct rep_label l[3];
		unsigned n;
		uint32_t pid;
		const char *host, *service, *container, *build_id;
	} cases[] = {
	    {{{0}}, 0, 7, "h", "s", "c", "b7"},
	    {{{"host", ""}, {"service", "s2"}}, 2, 7, "h", "s2", "c", "b7"},
	    {{{"host", "h3"}, {"container", ""}, {"exe", "/bin/x"}}, 3, 8, "h3", "s", "", ""},
	    {{{"build_id", "bb"}, {"service", ""}}, 2, 7, "h", "", "c", "bb"},
	};
	const unsigned ncases = sizeof(cases) / sizeof(cases[0]);
	struct st_labels wl = {.host = "h", .service = "s", .container = "c"};
	struct fake_ch_row rows[8];
	struct rep_profile *p = rep_profile_new(1000000);
	struct fake_ch f;
	struct st_conn *c;
	struct st_writer *w;
	uint32_t fn, loc;
	char url[64];
	int n;

	(void)state;
	assert_non_null(p);
	assert_int_equal(rep_profile_function(p, "main", "m.c", REP_KIND_USER, &fn), 0);
	assert_int_equal(rep_profile_location(p, UINT32_MAX, 0x1000,
					      &(struct rep_line){.function = fn}, 1, &loc),
			 0);
	for (unsigned i = 0; i < ncases; i++) {
		struct rep_sample_key k = {
		    .pid = cases[i].pid, .tid = cases[i].pid, .comm = "prog"};

		assert_int_equal(rep_profile_labelset(p, cases[i].l, cases[i].n, &k.labels), 0);
		assert_int_equal(rep_profile_add(p, &k, &loc, 1, i + 1), 0);
	}
	assert_int_equal(fake_ch_start(&f), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	c = st_conn_new(url, 5);
	w = st_writer_new(c, NULL);
	assert_non_null(w);
	assert_int_equal(st_writer_begin(w, &wl, 1000, 10), 0);
	assert_int_equal(st_writer_add_profile(w, p, bid_of, NULL), 0);
	assert_int_equal(st_writer_flush(w), 0);
	n = fake_ch_rows(&f.req[f.nreq - 1], rows, 8);
	assert_int_equal(n, (int)ncases);
	for (int r = 0; r < n; r++) {
		unsigned i = rows[r].count - 1; /* case i has count i + 1 */

		assert_true(i < ncases);
		assert_string_equal(rows[r].host, cases[i].host);
		assert_string_equal(rows[r].service, cases[i].service);
		assert_string_equal(rows[r].container, cases[i].container);
		assert_string_equal(rows[r].build_id, cases[i].build_id);
		assert_int_equal(rows[r].pid, cases[i].pid);
	}
	st_writer_free(w);
	st_conn_free(c);
	fake_ch_stop(&f);
	rep_profile_free(p);
}

/* Three one-row stacks a, b, c (counts 1, 2, 3) of host h in the window [1000, +10). */
static void abc_window(struct st_writer *w, uint64_t hash[3])
{
	static const char *const names[] = {"a", "b", "c"};
	struct st_labels l = {.host = "h"};

	assert_int_equal(st_writer_begin(w, &l, 1000, 10), 0);
	for (unsigned i = 0; i < 3; i++) {
		struct st_frame f[2] = {{.name = "main"}, {.name = names[i]}};
		struct st_sample s = {.comm = "prog", .pid = 7, .count = i + 1};

		assert_int_equal(st_writer_stack(w, "prog", f, 2, &s.stack_hash), 0);
		assert_int_equal(st_writer_sample(w, &s), 0);
		hash[i] = s.stack_hash;
	}
}

/*
 * A samples insert that failed after reaching the server may have
 * committed part of the window (a Distributed insert commits the shards
 * that answered): the retry asks which of the window's stacks the store
 * has and sends only the other rows, so no sample counts twice.
 */
static void test_writer_resume(void **state)
{
	struct fake_ch f;
	struct fake_ch_row rows[8];
	struct st_conn *c;
	struct st_writer *w;
	uint64_t hash[3];
	char url[64], log[256];
	unsigned seen = 0;

	(void)state;
	assert_int_equal(fake_ch_start(&f), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	c = st_conn_new(url, 5);
	w = st_writer_new(c, NULL);
	assert_non_null(w);

	f.fail_at = 2;
	f.fail_answer = CH_ERR("500 Internal Server Error",
			       "Code: 279, e.displayText() = DB::NetException: All connection "
			       "tries failed");
	abc_window(w, hash);
	assert_int_equal(st_writer_flush(w), -EPROTO);
	assert_true(st_conn_transient(c, -EPROTO));
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)), "stacks,samples,");

	/* The shard of b answered: the store has b's rows of this window. */
	for (int i = 0; i < 8; i++)
		f.distinct[i] = (uint8_t)(hash[1] >> (8 * i));
	f.distinct_len = 8;
	assert_int_equal(st_writer_flush(w), 0);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)), "distinct,samples,");
	assert_non_null(strstr(f.req[2].sql, "FROM xprof_samples WHERE window_start = 1000 AND "
					     "duration_ns = 10 AND service IN (unhex('')) AND "
					     "host IN (unhex('68'))"));
	assert_int_equal(fake_ch_rows(&f.req[3], rows, 8), 2);
	assert_true(rows[0].stack_hash == hash[0] && rows[0].count == 1);
	assert_true(rows[1].stack_hash == hash[2] && rows[1].count == 3);
	assert_int_equal(st_writer_stats(w)->rows, 2);
	assert_int_equal(st_writer_stats(w)->rows_found, 1);

	/* A window the caller says may be there, and is, whole: nothing more is sent. */
	abc_window(w, hash);
	st_writer_resume(w);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			f.distinct[8 * k + i] = (uint8_t)(hash[k] >> (8 * i));
	f.distinct_len = 24;
	assert_int_equal(st_writer_flush(w), 0);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)), "distinct,");
	assert_int_equal(st_writer_stats(w)->rows_found, 4);

	/* Without a failure or resume, no question is asked. */
	abc_window(w, hash);
	assert_int_equal(st_writer_flush(w), 0);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)), "samples,");

	st_writer_free(w);
	st_conn_free(c);
	fake_ch_stop(&f);
}

/* Which failures are worth sending again: what the agent's sink answers RETRY or DROP on. */
static void test_conn_transient(void **state)
{
	static const struct {
		const char *answer;
		bool transient;
	} cases[] = {
	    {CH_ERR("500 Internal Server Error",
		    "Code: 279, e.displayText() = DB::NetException: All connection tries failed"),
	     true},
	    {CH_ERR("500 Internal Server Error",
		    "Code: 210, e.displayText() = DB::NetException: Connection refused"),
	     true},
	    {CH_ERR("503 Service Unavailable", ""), true},
	    {CH_ERR("429 Too Many Requests", "slow down"), true},
	    {CH_ERR("500 Internal Server Error",
		    "Code: 62, e.displayText() = DB::Exception: Syntax error"),
	     false},
	    {CH_ERR("500 Internal Server Error",
		    "Code: 27. DB::Exception: Cannot parse input: expected ( (version 23)"),
	     false},
	    {CH_ERR("400 Bad Request", "Code: 62. DB::Exception: Syntax error"), false},
	    {CH_ERR("404 Not Found", "Code: 60. DB::Exception: Table default.x doesn't exist"),
	     false},
	};
	struct fake_ch f;
	struct st_conn *c;
	char url[64];

	(void)state;
	assert_int_equal(fake_ch_start(&f), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	c = st_conn_new(url, 5);
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pthread_mutex_lock(&f.lock);
		f.fail_at = f.nreq + 1;
		f.fail_answer = cases[i].answer;
		pthread_mutex_unlock(&f.lock);
		assert_int_equal(st_conn_exec(c, "SELECT 1"), -EPROTO);
		if (st_conn_transient(c, -EPROTO) != cases[i].transient)
			fail_msg("case %zu (%s): transient should be %d", i, cases[i].answer,
				 cases[i].transient);
	}
	/* xprof's own refusal after a 200: a schema of another version. */
	f.version = 2;
	assert_int_equal(st_schema_check(c, NULL, 0), -EPROTO);
	assert_non_null(strstr(st_conn_error(c), "schema version 2, newer than this xprof"));
	assert_false(st_conn_transient(c, -EPROTO));
	f.version = 1;
	assert_int_equal(st_schema_check(c, NULL, 0), 0);
	assert_false(st_conn_transient(c, -EBADMSG));
	assert_false(st_conn_transient(c, -E2BIG));
	st_conn_free(c);
	fake_ch_stop(&f);

	c = st_conn_new("http://127.0.0.1:1", 2);
	assert_int_equal(st_conn_exec(c, "SELECT 1"), -ECONNREFUSED);
	assert_true(st_conn_transient(c, -ECONNREFUSED));
	st_conn_free(c);
}

static void test_urls(void **state)
{
	struct st_conn *c;

	(void)state;
	assert_null(st_conn_new("file:///etc/passwd", 0));
	assert_int_equal(errno, EINVAL);
	assert_null(st_conn_new("127.0.0.1:8123", 0));
	assert_null(st_conn_new("http://", 0));
	c = st_conn_new("http://user:secret@127.0.0.1:8123/?database=x", 0);
	assert_non_null(c);
	assert_string_equal(st_conn_url(c), "http://user@127.0.0.1:8123/?database=x");
	st_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_where),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_sql_injection),
	    cmocka_unit_test(test_sql_shape),
	    cmocka_unit_test(test_stack_hash),
	    cmocka_unit_test(test_answers_to_profile),
	    cmocka_unit_test(test_parallel_arrays_checked),
	    cmocka_unit_test(test_writer_retry_hook),
	    cmocka_unit_test(test_writer_protocol),
	    cmocka_unit_test(test_writer_labels),
	    cmocka_unit_test(test_writer_resume),
	    cmocka_unit_test(test_conn_transient),
	    cmocka_unit_test(test_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
