// SPDX-License-Identifier: MIT
/*
 * The HTTP side of the store: one libcurl easy handle per connection (kept
 * alive between requests), the RowBinary encoding and decoding, and the
 * one-line messages every failure leaves behind.
 *
 * Every statement is sent with wait_end_of_query=1: the server then answers
 * only once the statement is done, so an error in the middle of a result is
 * an HTTP error, not a 200 whose body ends in an exception text that a
 * RowBinary decoder would take for data.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "store/store_int.h"

/* An answer larger than this is refused, so a bad server cannot exhaust memory. */
#define ST_ANSWER_MAX ((size_t)1 << 30)

struct st_conn {
	CURL *curl;
	char *url;   /* as given */
	char *shown; /* without the password */
	unsigned timeout_s;
	uint64_t sent;
	long status; /* the last answer's HTTP status, 0: none (transport failure or ours) */
	int ch_code; /* its ClickHouse exception code ("Code: N"), 0: none */
	char err[512];
};

/* ---- buffers --------------------------------------------------------------- */

void st_buf_release(struct st_buf *b)
{
	free(b->v);
	*b = (struct st_buf){0};
}

static bool buf_reserve(struct st_buf *b, size_t more)
{
	size_t ncap;
	uint8_t *nv;

	if (b->err)
		return false;
	if (more <= b->cap - b->n)
		return true;
	ncap = b->cap ? b->cap : 4096;
	while (ncap - b->n < more) {
		if (ncap > SIZE_MAX / 2)
			goto nomem;
		ncap *= 2;
	}
	nv = realloc(b->v, ncap);
	if (!nv)
		goto nomem;
	b->v = nv;
	b->cap = ncap;
	return true;
nomem:
	b->err = -ENOMEM;
	return false;
}

void st_buf_put(struct st_buf *b, const void *data, size_t len)
{
	if (!len || !buf_reserve(b, len))
		return;
	memcpy(b->v + b->n, data, len);
	b->n += len;
}

void st_buf_printf(struct st_buf *b, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || !buf_reserve(b, (size_t)len + 1))
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->v + b->n, (size_t)len + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)len;
}

char *st_buf_detach_str(struct st_buf *b)
{
	char *s;

	if (!buf_reserve(b, 1)) {
		st_buf_release(b);
		return NULL;
	}
	b->v[b->n] = 0;
	s = (char *)b->v;
	*b = (struct st_buf){0};
	return s;
}

void st_put_u32(struct st_buf *b, uint32_t v)
{
	uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	st_buf_put(b, le, sizeof(le));
}

void st_put_u64(struct st_buf *b, uint64_t v)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	st_buf_put(b, le, sizeof(le));
}

void st_put_uleb(struct st_buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;

	do {
		out[n] = v & 0x7f;
		v >>= 7;
		out[n++] |= v ? 0x80 : 0;
	} while (v);
	st_buf_put(b, out, n);
}

void st_put_str(struct st_buf *b, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	st_put_uleb(b, len);
	st_buf_put(b, s, len);
}

void st_put_stack(struct st_buf *b, uint64_t hash, const char *comm, const struct st_frame *f,
		  unsigned n)
{
	st_put_u64(b, hash);
	st_put_str(b, comm);
	st_put_uleb(b, n);
	for (unsigned i = 0; i < n; i++)
		st_put_str(b, f[i].name);
	st_put_uleb(b, n);
	for (unsigned i = 0; i < n; i++)
		st_put_str(b, f[i].file);
	st_put_uleb(b, n);
	for (unsigned i = 0; i < n; i++)
		st_put_u32(b, f[i].line);
	st_put_uleb(b, n);
	for (unsigned i = 0; i < n; i++)
		st_put_u8(b, f[i].flags);
}

int st_get_u8(struct st_rd *r, uint8_t *v)
{
	if (r->p >= r->end)
		return -EBADMSG;
	*v = *r->p++;
	return 0;
}

int st_get_u32(struct st_rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return -EBADMSG;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	     (uint32_t)r->p[3] << 24;
	r->p += 4;
	return 0;
}

int st_get_u64(struct st_rd *r, uint64_t *v)
{
	if (r->end - r->p < 8)
		return -EBADMSG;
	*v = 0;
	for (int i = 7; i >= 0; i--)
		*v = *v << 8 | r->p[i];
	r->p += 8;
	return 0;
}

int st_get_uleb(struct st_rd *r, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -EBADMSG;
		uint8_t byte = *r->p++;

		*v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return 0;
	}
	return -EBADMSG;
}

int st_get_str(struct st_rd *r, const char **s, size_t *len)
{
	uint64_t n;

	if (st_get_uleb(r, &n) || n > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	*s = (const char *)r->p;
	*len = (size_t)n;
	r->p += n;
	return 0;
}

/*
 * A value in a statement goes as unhex('...'): hex digits only, so no byte
 * of the value (a quote, a backslash, a NUL) can end the literal. This is
 * how --where values reach the server; see test_store.c's injection cases.
 */
void st_sql_str(struct st_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	st_buf_printf(b, "unhex('");
	if (!buf_reserve(b, 2 * len + 2))
		return;
	for (size_t i = 0; i < len; i++) {
		b->v[b->n++] = (uint8_t)hex[(unsigned char)s[i] >> 4];
		b->v[b->n++] = (uint8_t)hex[(unsigned char)s[i] & 15];
	}
	st_buf_printf(b, "')");
}

/* ---- the connection -------------------------------------------------------- */

int st_conn_fail(struct st_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *st_conn_error(const struct st_conn *c)
{
	return c->err;
}

const char *st_conn_url(const struct st_conn *c)
{
	return c->shown;
}

uint64_t st_conn_bytes_sent(const struct st_conn *c)
{
	return c->sent;
}

/* "http://user:pw@host/" -> "http://user@host/": messages never show a password. */
static char *url_shown(const char *url)
{
	const char *auth = strstr(url, "://") + 3, *at = strchr(auth, '@'),
		   *slash = strchr(auth, '/');
	const char *colon = strchr(auth, ':');
	char *out;

	if (!at || (slash && slash < at) || !colon || colon > at)
		return strdup(url);
	if (asprintf(&out, "%.*s%s", (int)(colon - url), url, at) < 0)
		return NULL;
	return out;
}

struct st_conn *st_conn_new(const char *url, unsigned timeout_s)
{
	static bool curl_ready;
	const char *host = NULL;
	struct st_conn *c;

	if (url && !strncmp(url, "http://", 7))
		host = url + 7;
	else if (url && !strncmp(url, "https://", 8))
		host = url + 8;
	if (!host || !*host || *host == '/') {
		errno = EINVAL;
		return NULL;
	}
	/* Not thread-safe, like curl_global_init itself: the first connection is made from main. */
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			errno = ENOMEM;
			return NULL;
		}
		curl_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->url = strdup(url);
	c->shown = url_shown(url);
	c->curl = curl_easy_init();
	if (!c->url || !c->shown || !c->curl)
		goto nomem;
	c->timeout_s = timeout_s ? timeout_s : 60;
	return c;
nomem:
	st_conn_free(c);
	errno = ENOMEM;
	return NULL;
}

void st_conn_free(struct st_conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->url);
	free(c->shown);
	free(c);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct st_buf *b = ctx;

	if (b->n + n > ST_ANSWER_MAX)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	st_buf_put(b, data, size * n);
	return b->err ? 0 : size * n;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* The server's message: its first line, "Code: 60, e.displayText() = DB::Exception: ..." */
static void server_message(struct st_conn *c, long status, const struct st_buf *body)
{
	size_t len = 0;

	while (len < body->n && len < 400 && body->v[len] != '\n')
		len++;
	while (len && (body->v[len - 1] == '\r' || body->v[len - 1] == ' '))
		len--;
	st_conn_fail(c, 0, "%s answered HTTP %ld: %.*s", c->shown, status, (int)len,
		     len ? (const char *)body->v : "(no message)");
	c->status = status;
	c->ch_code = 0;
	/* 18.16 and current servers both start the message with "Code: N". */
	if (len > 6 && !memcmp(body->v, "Code: ", 6)) {
		for (size_t i = 6; i < len && i < 12 && body->v[i] >= '0' && body->v[i] <= '9'; i++)
			c->ch_code = c->ch_code * 10 + (body->v[i] - '0');
	}
}

/*
 * ClickHouse exceptions that say the request itself is wrong, so sending it
 * again gives the same answer: it does not parse, names a column or
 * function the server lacks, or carries data that does not decode. An 18.16
 * server answers them with HTTP 500 like everything else, hence the codes.
 */
static const int ch_permanent[] = {
    6,	 /* CANNOT_PARSE_TEXT */
    16,	 /* NO_SUCH_COLUMN_IN_TABLE */
    26,	 /* CANNOT_PARSE_QUOTED_STRING */
    27,	 /* CANNOT_PARSE_INPUT_ASSERTION_FAILED */
    33,	 /* CANNOT_READ_ALL_DATA */
    43,	 /* ILLEGAL_TYPE_OF_ARGUMENT */
    44,	 /* ILLEGAL_COLUMN */
    46,	 /* UNKNOWN_FUNCTION */
    47,	 /* UNKNOWN_IDENTIFIER */
    53,	 /* TYPE_MISMATCH */
    62,	 /* SYNTAX_ERROR */
    73,	 /* UNKNOWN_FORMAT */
    115, /* UNKNOWN_SETTING */
    117, /* INCORRECT_DATA */
};

bool st_conn_transient(const struct st_conn *c, int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -EIO:
	case -ENOMEM:
		return true;
	case -EPROTO:
		break;
	default:
		return false; /* -EBADMSG, -EFBIG, -E2BIG, -EINVAL: the same again */
	}
	if (!c->status)
		return false; /* xprof's own refusal: a schema of another version or layout */
	if (c->status >= 400 && c->status < 500)
		return c->status == 408 || c->status == 429;
	for (size_t i = 0; i < sizeof(ch_permanent) / sizeof(ch_permanent[0]); i++)
		if (c->ch_code == ch_permanent[i])
			return false;
	return true; /* 5xx: a shard down, too many parts, memory, a server shutting down */
}

int st_conn_request(struct st_conn *c, const char *sql, const struct st_buf *data,
		    const char *extra, struct st_buf *out)
{
	struct st_buf body = {0}, url = {0};
	struct curl_slist *hdr = NULL;
	char *q = NULL;
	long status = 0;
	CURLcode rc;
	int err = 0;

	c->err[0] = 0;
	c->status = 0;
	c->ch_code = 0;
	st_buf_printf(&url, "%s%swait_end_of_query=1%s", c->url, strchr(c->url, '?') ? "&" : "?",
		      extra ? extra : "");
	if (data) {
		q = curl_easy_escape(c->curl, sql, 0);
		if (!q) {
			err = -ENOMEM;
			goto out;
		}
		st_buf_printf(&url, "&query=%s", q);
	}
	char *u = st_buf_detach_str(&url);
	if (!u) {
		err = -ENOMEM;
		goto out;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, u);
	/* http(s) only, never a redirect elsewhere: the URL is the user's, the answers are not. */
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)c->timeout_s);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	if (data) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data->n ? (const char *)data->v : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)data->n);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, sql);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(sql));
	}
	/* No "Expect: 100-continue" round trip before large inserts: the server takes the body. */
	hdr = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	if (hdr) {
		struct curl_slist *more = curl_slist_append(hdr, "Expect:");

		hdr = more ? more : hdr; /* without it, only a round trip more */
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(c->curl);
	free(u);
	if (rc != CURLE_OK) {
		if (body.err)
			err =
			    st_conn_fail(c, -ENOMEM, "out of memory reading %s's answer", c->shown);
		else if (rc == CURLE_WRITE_ERROR)
			err = st_conn_fail(c, -EFBIG, "%s answered more than %zu MiB", c->shown,
					   ST_ANSWER_MAX >> 20);
		else
			err = st_conn_fail(c, curl_errno(rc), "cannot reach %s: %s", c->shown,
					   curl_easy_strerror(rc));
		goto out;
	}
	c->sent += data ? data->n + strlen(sql) : strlen(sql);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		server_message(c, status, &body);
		err = -EPROTO;
		goto out;
	}
	if (out) {
		st_buf_release(out);
		*out = body;
		body = (struct st_buf){0};
	}
out:
	curl_slist_free_all(hdr);
	curl_free(q);
	st_buf_release(&body);
	st_buf_release(&url);
	return err;
}

int st_conn_exec(struct st_conn *c, const char *sql)
{
	return st_conn_request(c, sql, NULL, NULL, NULL);
}
