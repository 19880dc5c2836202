// SPDX-License-Identifier: MIT
/*
 * The fleet-store sink: each window's pprof, decoded with its label sets,
 * goes into ClickHouse through store/'s writer as one insert per table
 * (stacks the writer has not sent before, then the window's sample rows).
 *
 * The sink only sends; the spool owns retries. A window that fails is
 * dropped from the writer and answered RETRY, so the spool keeps its pprof
 * whole and hands it back after the backoff. Stacks the writer did insert
 * stay known (a stack sent twice is folded by the ReplacingMergeTree), and
 * the retry of a window that may have reached the store in part asks the
 * store what it has first (st_writer_resume): a Distributed insert commits
 * the shards that answered even when another shard was down, and sending
 * those rows again would count their samples twice.
 *
 * The schema is checked before the first window and again after every
 * failure (the store behind the URL may have been re-made); a schema of
 * another version refuses every window for good (DROP), a store not yet
 * made (no xprof_schema) is waited for (RETRY: `xprof store init` may
 * come after the agents).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "report/report.h"
#include "store/store.h"

struct chsink {
	struct ag_sink sink;
	struct st_conn *c;
	struct st_writer *w;
	char *host;
	uint64_t created;		   /* Unix seconds */
	bool checked;			   /* schema checked since the last failure */
	bool failed;			   /* the last window answered RETRY: */
	uint64_t failed_start, failed_end; /* ... this one */
};

/* RETRY or DROP for a store failure, with st_conn's one-line message. */
static enum ag_send failure(struct chsink *k, int err, char *why, size_t whylen)
{
	bool again = err == -ENOENT || st_conn_transient(k->c, err);

	snprintf(why, whylen, "%s", *st_conn_error(k->c) ? st_conn_error(k->c) : strerror(-err));
	k->checked = false;
	return again ? AG_SEND_RETRY : AG_SEND_DROP;
}

static enum ag_send ch_send(struct ag_sink *s, const struct ag_window *win, char *why,
			    size_t whylen)
{
	struct chsink *k = s->ctx;
	struct st_labels l = {.host = k->host, .service = win->service};
	struct rep_profile *p = NULL;
	enum ag_send ret;
	char rwhy[160];
	int err;

	if (!k->checked) {
		err = st_schema_check(k->c, NULL, 0);
		if (err)
			return failure(k, err, why, whylen);
		k->checked = true;
	}
	p = rep_profile_new(0);
	if (!p) {
		snprintf(why, whylen, "out of memory");
		return AG_SEND_RETRY;
	}
	rwhy[0] = '\0';
	err = rep_read_pprof(p, win->pprof, win->pprof_len, rwhy, sizeof(rwhy));
	if (err) {
		/* The spool's bytes are what the agent wrote: a profile that does not decode never
		 * will. */
		snprintf(why, whylen, "window's pprof: %s", *rwhy ? rwhy : strerror(-err));
		ret = err == -ENOMEM ? AG_SEND_RETRY : AG_SEND_DROP;
		goto out;
	}
	err = st_writer_begin(k->w, &l, win->start * 1000000000ull,
			      win->end > win->start ? (win->end - win->start) * 1000000000ull : 0);
	if (err) {
		ret = failure(k, err, why, whylen);
		goto out;
	}
	/*
	 * The window that failed last time, or one an earlier run spooled
	 * (it ended before this sink was made): part of it may be in the store.
	 */
	if ((k->failed && k->failed_start == win->start && k->failed_end == win->end) ||
	    win->end <= k->created)
		st_writer_resume(k->w);
	err = st_writer_add_profile(k->w, p, NULL, NULL);
	if (!err)
		err = st_writer_flush(k->w);
	if (err) {
		st_writer_drop(k->w);
		ret = failure(k, err, why, whylen);
		k->failed = ret == AG_SEND_RETRY;
		k->failed_start = win->start;
		k->failed_end = win->end;
		goto out;
	}
	k->failed = false;
	ret = AG_SEND_OK;
out:
	rep_profile_free(p);
	return ret;
}

static void ch_free(struct ag_sink *s)
{
	struct chsink *k = s->ctx;

	st_writer_free(k->w);
	st_conn_free(k->c);
	free(k->host);
	free(k);
}

struct ag_sink *ag_sink_clickhouse_new(const struct ag_ch_opts *o)
{
	struct st_writer_opts wo = {.known_max = o ? o->known_max : 0};
	struct chsink *k;
	int err = ENOMEM;

	if (!o || !o->url) {
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		goto fail;
	k->sink =
	    (struct ag_sink){.name = "clickhouse", .send = ch_send, .free = ch_free, .ctx = k};
	k->created = (uint64_t)time(NULL);
	k->host = strdup(o->host ? o->host : "");
	if (!k->host)
		goto fail;
	k->c = st_conn_new(o->url, o->timeout_s ? o->timeout_s : 30);
	if (!k->c) {
		err = errno;
		goto fail;
	}
	k->w = st_writer_new(k->c, &wo);
	if (!k->w)
		goto fail;
	return &k->sink;
fail:
	if (k)
		ch_free(&k->sink);
	errno = err;
	return NULL;
}
