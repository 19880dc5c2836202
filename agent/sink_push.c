// SPDX-License-Identifier: MIT
/*
 * The Pyroscope push sink: one POST /ingest per window, the gzipped pprof
 * as the body (Pyroscope reads a raw body as the profile when format=pprof
 * and the request is not multipart), metadata in the query:
 * name=APP{host=…,service=…}, from/until in Unix seconds, format=pprof,
 * spyName, sampleRate. The units come from the profile's own sample types.
 *
 * The answer decides what the spool does: a request the server refuses
 * (4xx but 408 and 429) would be refused again, so it is dropped; the rest
 * (5xx, 408, 429, no connection, a timeout) is worth a retry. Redirects are
 * not followed: a receiver that moved is a configuration error to see.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "agent/agent_int.h"

struct push {
	struct ag_sink sink;
	struct ag_push_opts o; /* strings owned below */
	char *url, *app, *host, *org_id, *token;
	CURL *curl; /* reused: keeps the connection open between windows */
	struct curl_slist *headers;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Append s percent-encoded (RFC 3986 unreserved kept) to the stream. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

/*
 * A label value as Pyroscope's name parser takes it: its separators
 * (",{}=") and anything unprintable become '_'.
 */
static void clean_value(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c <= ' ' || c >= 0x7f || strchr(",{}=\"", c)) ? '_' : (char)c;
	}
	dst[i] = '\0';
}

char *ag_push_url(const struct ag_push_opts *o, const struct ag_window *w)
{
	char *buf = NULL, name[3 * AG_LABEL_MAX + 64], v[AG_LABEL_MAX];
	size_t len = 0, ul = strlen(o->url);
	FILE *f = open_memstream(&buf, &len);
	int n;

	if (!f)
		return NULL;
	n = snprintf(name, sizeof(name), "%s{", o->app && *o->app ? o->app : "xprof");
	if (o->host && *o->host) {
		clean_value(v, sizeof(v), o->host);
		n += snprintf(name + n, sizeof(name) - (size_t)n, "host=%s", v);
	}
	if (w->service && *w->service) {
		clean_value(v, sizeof(v), w->service);
		n += snprintf(name + n, sizeof(name) - (size_t)n, "%sservice=%s",
			      name[n - 1] == '{' ? "" : ",", v);
	}
	snprintf(name + n, sizeof(name) - (size_t)n, "}");

	while (ul && o->url[ul - 1] == '/')
		ul--;
	fprintf(f, "%.*s/ingest?name=", (int)ul, o->url);
	put_escaped(f, name);
	fprintf(f, "&from=%" PRIu64 "&until=%" PRIu64 "&format=pprof&spyName=xprof", w->start,
		w->end);
	if (o->sample_rate)
		fprintf(f, "&sampleRate=%u", o->sample_rate);
	if (fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}

/* The first bytes of the answer, for the reason line. */
struct body {
	char text[160];
	size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;

	for (size_t i = 0; i < n && b->n + 1 < sizeof(b->text); i++) {
		char c = data[i];

		b->text[b->n++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
	}
	b->text[b->n] = '\0';
	return n;
}

static bool retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
	case CURLE_OUT_OF_MEMORY:
		return false;
	default:
		/* refused, timed out, reset, resolve failure, TLS trouble: may pass */
		return true;
	}
}

static enum ag_send push_send(struct ag_sink *s, const struct ag_window *w, char *why,
			      size_t whylen)
{
	struct push *p = s->ctx;
	struct body b = {.n = 0};
	char *url = ag_push_url(&p->o, w);
	long code = 0;
	CURLcode rc;

	if (!url) {
		snprintf(why, whylen, "out of memory");
		return AG_SEND_RETRY;
	}
	b.text[0] = '\0';
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, w->pprof ? w->pprof : "");
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->pprof_len);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(p->curl);
	free(url);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return retryable(rc) ? AG_SEND_RETRY : AG_SEND_DROP;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return AG_SEND_OK;
	snprintf(why, whylen, "http %ld%s%s", code, b.n ? ": " : "", b.text);
	if (code == 408 || code == 429 || code >= 500 || code < 200)
		return AG_SEND_RETRY;
	return AG_SEND_DROP;
}

static void push_free(struct ag_sink *s)
{
	struct push *p = s->ctx;

	if (p->curl)
		curl_easy_cleanup(p->curl);
	curl_slist_free_all(p->headers);
	free(p->url);
	free(p->app);
	free(p->host);
	free(p->org_id);
	free(p->token);
	free(p);
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static bool header_safe(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

static int add_header(struct push *p, const char *name, const char *v)
{
	char *h;
	struct curl_slist *l;

	if (asprintf(&h, "%s%s", name, v) < 0)
		return -ENOMEM;
	l = curl_slist_append(p->headers, h);
	free(h);
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

struct ag_sink *ag_sink_push_new(const struct ag_push_opts *o)
{
	struct push *p;
	bool oom = false;
	int err = 0;

	if (!o || !o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) ||
	    !header_safe(o->org_id) || !header_safe(o->token)) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->o = *o;
	p->o.url = p->url = dup_opt(o->url, &oom);
	p->o.app = p->app = dup_opt(o->app, &oom);
	p->o.host = p->host = dup_opt(o->host, &oom);
	p->o.org_id = p->org_id = dup_opt(o->org_id, &oom);
	p->o.token = p->token = dup_opt(o->token, &oom);
	if (!p->o.connect_timeout_ms)
		p->o.connect_timeout_ms = 5000;
	if (!p->o.timeout_ms)
		p->o.timeout_ms = 30000;
	p->sink = (struct ag_sink){.name = "push", .send = push_send, .free = push_free, .ctx = p};
	p->curl = curl_easy_init();
	if (oom || !p->curl) {
		err = -ENOMEM;
		goto fail;
	}
	err = add_header(p, "Content-Type: ", "application/octet-stream");
	if (!err && p->org_id)
		err = add_header(p, "X-Scope-OrgID: ", p->org_id);
	if (!err && p->token)
		err = add_header(p, "Authorization: Bearer ", p->token);
	if (!err)
		err = add_header(p, "Expect:", ""); /* no 100-continue round trip */
	if (err)
		goto fail;
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L); /* runs in the spool's thread */
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, p->o.connect_timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, p->o.timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "xprof-agent");
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
	return &p->sink;
fail:
	push_free(&p->sink);
	errno = -err;
	return NULL;
}
