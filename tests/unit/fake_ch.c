// SPDX-License-Identifier: MIT
/*
 * The fake ClickHouse HTTP server of fake_ch.h. Deliberately small: one
 * request per connection (Connection: close, so curl reconnects), headers
 * and a Content-Length body, the statement from the URL's query= (inserts)
 * or the body (selects).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/fake_ch.h"

/* Percent-decode the query= parameter of the request line into a new string. */
static char *url_query(const char *req)
{
	const char *q = strstr(req, "&query="), *end;
	char *out, *o;

	if (!q)
		q = strstr(req, "?query=");
	if (!q || q > strstr(req, "\r\n"))
		return NULL;
	q += 7;
	end = q + strcspn(q, "& \r\n");
	out = o = malloc((size_t)(end - q) + 1);
	if (!out)
		return NULL;
	for (; q < end; q++) {
		if (*q == '%' && end - q > 2) {
			char hex[3] = {q[1], q[2], 0};

			*o++ = (char)strtol(hex, NULL, 16);
			q += 2;
		} else {
			*o++ = *q == '+' ? ' ' : *q;
		}
	}
	*o = 0;
	return out;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void answer(int c, const void *body, size_t len)
{
	char hdr[128];
	int n =
	    snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len);

	if (write(c, hdr, (size_t)n) != n || (len && write(c, body, len) != (ssize_t)len))
		return;
}

static void serve(struct fake_ch *f, int c)
{
	size_t n = 0, cap = 1 << 16, need = 0, hlen = 0;
	char *buf = malloc(cap + 1), *hdr_end = NULL;

	if (!buf)
		return;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(c, buf + n, cap - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "Content-Length:");

			hlen = (size_t)(hdr_end + 4 - buf);
			need = hlen + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (hdr_end && n >= need)
			break;
	}
	if (!hdr_end) {
		free(buf);
		return;
	}
	struct fake_ch_req rq;
	char *insert = url_query(buf);

	memset(&rq, 0, sizeof(rq));
	if (insert) {
		rq.sql = insert;
		rq.body_len = n - hlen;
		rq.body = malloc(rq.body_len ? rq.body_len : 1);
		if (rq.body)
			memcpy(rq.body, buf + hlen, rq.body_len);
	} else {
		rq.sql = strndup(buf + hlen, n - hlen);
	}
	const char *sql = rq.sql ? rq.sql : "";

	snprintf(rq.kind, sizeof(rq.kind), "%s",
		 strstr(sql, "INSERT INTO xprof_stacks")			    ? "stacks"
		 : strstr(sql, "INSERT INTO xprof_samples")			    ? "samples"
		 : strstr(sql, "system.tables") || strstr(sql, "FROM xprof_schema") ? "schema"
		 : strstr(sql, "SELECT DISTINCT stack_hash")			    ? "distinct"
										    : "other");
	pthread_mutex_lock(&f->lock);
	unsigned k = f->nreq++;
	bool fail = f->fail_at == k + 1;

	if (k < FAKE_CH_REQS)
		f->req[k] = rq;
	else {
		free(rq.sql);
		free(rq.body);
	}
	if (fail) {
		ssize_t wr = write(c, f->fail_answer, strlen(f->fail_answer));

		(void)wr; /* a test that reads no answer fails on its own */
	} else if (strstr(sql, "system.tables")) {
		uint8_t one[8] = {1};

		answer(c, one, sizeof(one));
	} else if (strstr(sql, "FROM xprof_schema")) {
		uint8_t v[5] = {0}; /* version, then the cluster: "" */

		put_u32(v, f->version);
		answer(c, v, sizeof(v));
	} else if (strstr(sql, "SELECT DISTINCT stack_hash")) {
		answer(c, f->distinct, f->distinct_len);
	} else {
		answer(c, NULL, 0);
	}
	pthread_mutex_unlock(&f->lock);
	free(buf);
}

static void *fake_main(void *arg)
{
	struct fake_ch *f = arg;

	for (;;) {
		int c = accept(f->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		serve(f, c);
		close(c);
	}
}

int fake_ch_start(struct fake_ch *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int err;

	memset(f, 0, sizeof(*f));
	f->version = 1;
	pthread_mutex_init(&f->lock, NULL);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return -errno;
	if (bind(f->fd, (struct sockaddr *)&a, sizeof(a)) || listen(f->fd, 16) ||
	    getsockname(f->fd, (struct sockaddr *)&a, &len)) {
		err = -errno;
		close(f->fd);
		return err;
	}
	f->port = ntohs(a.sin_port);
	err = pthread_create(&f->thread, NULL, fake_main, f);
	if (err) {
		close(f->fd);
		return -err;
	}
	return 0;
}

void fake_ch_stop(struct fake_ch *f)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	for (unsigned i = 0; i < f->nreq && i < FAKE_CH_REQS; i++) {
		free(f->req[i].sql);
		free(f->req[i].body);
	}
}

const char *fake_ch_log(struct fake_ch *f, unsigned *seen, char *out, size_t len)
{
	size_t k = 0;

	out[0] = 0;
	pthread_mutex_lock(&f->lock);
	for (; *seen < f->nreq && *seen < FAKE_CH_REQS && k < len; (*seen)++)
		k += (size_t)snprintf(out + k, len - k, "%s,", f->req[*seen].kind);
	pthread_mutex_unlock(&f->lock);
	return out;
}

/* RowBinary: little-endian integers, LEB128-prefixed strings. */
struct rd {
	const uint8_t *p, *end;
};

static int rd_int(struct rd *r, unsigned bytes, uint64_t *v)
{
	if ((size_t)(r->end - r->p) < bytes)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < bytes; i++)
		*v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	return 0;
}

static int rd_str(struct rd *r, char *out, size_t cap)
{
	uint64_t n = 0;

	for (unsigned shift = 0;; shift += 7) {
		if (r->p >= r->end || shift > 28)
			return -1;
		uint8_t b = *r->p++;

		n |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	if (n > (uint64_t)(r->end - r->p) || n >= cap)
		return -1;
	memcpy(out, r->p, n);
	out[n] = 0;
	r->p += n;
	return 0;
}

int fake_ch_rows(const struct fake_ch_req *q, struct fake_ch_row *rows, unsigned max)
{
	struct rd r = {q->body, q->body + q->body_len};
	unsigned n = 0;

	while (r.p < r.end) {
		struct fake_ch_row x;
		uint64_t pid, count;

		if (n == max || rd_int(&r, 8, &x.window_start) || rd_int(&r, 8, &x.duration_ns) ||
		    rd_str(&r, x.host, sizeof(x.host)) ||
		    rd_str(&r, x.service, sizeof(x.service)) ||
		    rd_str(&r, x.container, sizeof(x.container)) ||
		    rd_str(&r, x.comm, sizeof(x.comm)) || rd_int(&r, 4, &pid) ||
		    rd_str(&r, x.build_id, sizeof(x.build_id)) || rd_int(&r, 8, &x.stack_hash) ||
		    rd_int(&r, 4, &count))
			return -1;
		x.pid = (uint32_t)pid;
		x.count = (uint32_t)count;
		rows[n++] = x;
	}
	return (int)n;
}
