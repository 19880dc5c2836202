// SPDX-License-Identifier: MIT
/*
 * The agent: the capture (capture/) samples every CPU and hands its events,
 * in time order, first to the process label table (pidtab.c), then to a
 * session (pipeline/), which unwinds, symbolizes and aggregates them. The
 * stream is cut at wall-clock boundaries (multiples of the interval since
 * the epoch): the first event stamped at or after a boundary, or a poll
 * that began after it, ends the window there, so every sample lands in the
 * window its timestamp belongs to. Each window is encoded (pprof, folded)
 * and put into the spool, once for the dir sink and once per service for
 * the push sink; the spool's own thread sends. Nothing here waits on a
 * sink: a window costs one encode and one file write.
 *
 * Clocks: the capture stamps events with CLOCK_MONOTONIC. At every cut the
 * two clocks are read together and the next boundary converted with that
 * pair, so a wall clock that NTP steers does not pull the windows off their
 * boundaries over days; the session's clock is tied at the cut too, so the
 * window's pprof time_nanos is the boundary exactly.
 *
 * Not thread-safe: one thread runs ag_agent_run(); the spool's sender and
 * the metrics server have threads of their own.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "bpf/sample.h"
#include "capture/capture.h"
#include "lib/lib.h"
#include "pipeline/pipeline.h"

#define NS_PER_S    1000000000ull
#define NS_PER_MS   1000000ull
#define POLL_MAX_MS 200 /* a stop request waits at most this long for the loop to see it */

/*
 * A sink as the spool sees it, counting what its inner sink delivered and
 * refused: the window log line says bytes sent and sink errors, which the
 * spool's stats do not keep. Counters are read from the agent's thread.
 */
struct count_sink {
	struct ag_sink s;
	struct ag_sink *inner;
	_Atomic uint64_t bytes, errors;
};

static enum ag_send count_send(struct ag_sink *s, const struct ag_window *w, char *why,
			       size_t whylen)
{
	struct count_sink *c = s->ctx;
	enum ag_send r = c->inner->send(c->inner, w, why, whylen);

	if (r == AG_SEND_OK)
		atomic_fetch_add(&c->bytes, w->pprof_len + w->folded_len);
	else
		atomic_fetch_add(&c->errors, 1);
	return r;
}

static void count_free(struct ag_sink *s)
{
	struct count_sink *c = s->ctx;

	ag_sink_free(c->inner);
	free(c);
}

/* Wrap inner (taking it, freed on failure too). NULL with errno ENOMEM. */
static struct count_sink *count_sink_new(struct ag_sink *inner)
{
	struct count_sink *c = calloc(1, sizeof(*c));

	if (!c) {
		ag_sink_free(inner);
		errno = ENOMEM;
		return NULL;
	}
	c->inner = inner;
	c->s.name = inner->name;
	c->s.send = count_send;
	c->s.free = count_free;
	c->s.ctx = c;
	return c;
}

struct ag_agent {
	struct ag_agent_opts o;
	char host[256];
	struct ag_spool *spool;
	struct count_sink *sinks[3]; /* dir, push, clickhouse (those given); owned by the spool */
	unsigned nsinks;
	struct ag_metrics *metrics;
	struct xp_session *sess;
	struct ag_pidtab *pt;
	struct capture *cap;

	uint64_t gen;		     /* windows cut so far: the label set ids' generation */
	uint32_t host_set;	     /* the label set of a process without an entry */
	uint64_t host_set_gen;	     /* gen + 1 when host_set is this window's */
	uint64_t start_real;	     /* wall-clock start of the current window */
	uint64_t bnd_real, bnd_ns;   /* its end: wall clock and stream time */
	int err;		     /* the first error of a window cut, for run() */
	char why[256];		     /* what it was */
	uint64_t cpu_us, sent, errs; /* at the last cut: rusage, bytes sent, sink errors */
	uint64_t samples, lost, windows;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_us_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t rss_bytes(void)
{
	unsigned long long size, rss;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void say(struct ag_agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ag_agent *a, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!a->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	a->o.log(a->o.log_ctx, line);
}

/* The next boundary after the wall-clock moment real, in stream time from a fresh reading. */
static void next_boundary(struct ag_agent *a, uint64_t after_real)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);

	a->bnd_real = ag_window_next(after_real, a->o.interval_ns);
	a->bnd_ns = ag_window_stream_time(mono, real, a->bnd_real);
}

/*
 * The session's labels hook: the label set of pid in this window's profile,
 * interned once per process and window (the entry caches the id).
 */
static uint32_t labels_hook(void *ctx, struct rep_profile *p, uint32_t pid)
{
	struct ag_agent *a = ctx;
	struct ag_pid_ent *e = pid ? ag_pidtab_get(a->pt, pid) : NULL;
	struct rep_label l[5];
	unsigned n = 0;
	uint32_t id = 0;

	if (!e) {
		if (a->host_set_gen != a->gen + 1) {
			l[0] = (struct rep_label){"host", a->host};
			if (rep_profile_labelset(p, l, 1, &a->host_set))
				return 0;
			a->host_set_gen = a->gen + 1;
		}
		return a->host_set;
	}
	if (e->gen == a->gen + 1)
		return e->labelset;
	l[n++] = (struct rep_label){"host", a->host};
	if (e->service)
		l[n++] = (struct rep_label){"service", e->service};
	if (e->container)
		l[n++] = (struct rep_label){"container", e->container};
	if (e->exe)
		l[n++] = (struct rep_label){"exe", e->exe};
	if (e->build_id[0])
		l[n++] = (struct rep_label){"build_id", e->build_id};
	if (rep_profile_labelset(p, l, n, &id))
		return 0; /* out of memory: the sample goes without labels */
	e->labelset = id;
	e->gen = a->gen + 1;
	return id;
}

/* p's pprof (and folded text) in malloc'ed buffers. 0 or -errno. */
static int encode(const struct rep_profile *p, bool folded, char **pb, size_t *pblen, char **fo,
		  size_t *folen)
{
	struct rep_opts ro = {0};
	FILE *f = open_memstream(pb, pblen);
	int err;

	if (!f)
		return -errno;
	err = rep_write_pprof(p, &ro, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err || !folded)
		return err;
	f = open_memstream(fo, folen);
	if (!f)
		return -errno;
	err = rep_write_folded(p, &ro, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	return err;
}

/* Put p into the spool for one sink. A full spool drops old windows (counted), never this one. */
static int spool_profile(struct ag_agent *a, const char *sink, const char *service,
			 const struct rep_profile *p, bool folded, uint64_t start, uint64_t end)
{
	char *pb = NULL, *fo = NULL;
	size_t pblen = 0, folen = 0;
	int err = encode(p, folded, &pb, &pblen, &fo, &folen);

	if (!err) {
		struct ag_window w = {.sink = sink,
				      .service = service,
				      .start = start,
				      .end = end,
				      .pprof = pb,
				      .pprof_len = pblen,
				      .folded = fo,
				      .folded_len = folded ? folen : 0};

		err = ag_spool_put(a->spool, &w);
		if (err)
			say(a, "xprof agent: %s: window not spooled: %s", sink, xl_strerror(err));
	}
	free(pb);
	free(fo);
	return err == -ENOMEM ? err : 0; /* a full disk or an oversized window: logged, go on */
}

/* The service label of a sample's label set ("" without one). */
static const char *key_service(const struct rep_profile *p, uint32_t set)
{
	struct rep_label l[REP_LABELS_MAX];
	unsigned n = 0;

	if (!set || rep_profile_labels(p, set, l, REP_LABELS_MAX, &n))
		return "";
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(l[i].key, "service"))
			return l[i].value;
	return "";
}

static bool keep_service(void *ctx, const struct rep_profile *src, const struct rep_sample_key *key)
{
	return !strcmp(key_service(src, key->labels), ctx);
}

struct walk_count {
	uint64_t stacks;
	const struct rep_profile *p;
	const char **services; /* distinct, strings of p */
	size_t n, cap;
	int err;
};

static int walk_count(void *ctx, const struct rep_sample_key *key,
		      const struct rep_walk_frame *frames, unsigned n, uint64_t count)
{
	struct walk_count *w = ctx;

	(void)frames;
	(void)n;
	(void)count;
	w->stacks++;
	const char *svc = key_service(w->p, key->labels);

	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->services[i], svc))
			return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		const char **s = realloc(w->services, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		w->services = s;
		w->cap = cap;
	}
	w->services[w->n++] = svc;
	return 0;
}

/* The push sink gets one window per service ("" goes as no service). 0 or -ENOMEM. */
static int spool_push(struct ag_agent *a, const struct rep_profile *p, struct walk_count *wc,
		      uint64_t start, uint64_t end)
{
	int err = 0;

	for (size_t i = 0; i < wc->n && !err; i++) {
		struct rep_profile *sp = rep_profile_new(NS_PER_S / a->o.frequency);
		uint64_t t, d;

		if (!sp)
			return -ENOMEM;
		rep_profile_get_time(p, &t, &d);
		rep_profile_set_time(sp, t, d);
		err = rep_profile_merge(sp, p, keep_service, (void *)wc->services[i]);
		if (!err)
			err = spool_profile(a, "push", wc->services[i][0] ? wc->services[i] : NULL,
					    sp, false, start, end);
		rep_profile_free(sp);
	}
	return err;
}

static void metrics_update(struct ag_agent *a, const struct ag_window_stats *ws)
{
	struct ag_spool_stats ss;
	struct xp_session_mem mem;
	struct ag_pidtab_stats ps;
	struct ag_metrics *m = a->metrics;

	if (!m)
		return;
	ag_spool_get_stats(a->spool, &ss);
	xp_session_memory(a->sess, &mem);
	ag_pidtab_get_stats(a->pt, &ps);
	ag_metrics_set(m, "xprof_agent_samples_total", NULL, (double)a->samples);
	ag_metrics_set(m, "xprof_agent_lost_samples_total", NULL, (double)a->lost);
	ag_metrics_set(m, "xprof_agent_windows_total", NULL, (double)a->windows);
	ag_metrics_set(m, "xprof_agent_window_processes", NULL, (double)ws->processes);
	ag_metrics_set(m, "xprof_agent_window_stacks", NULL, (double)ws->stacks);
	ag_metrics_set(m, "xprof_agent_processes_tracked", NULL, (double)ps.entries);
	ag_metrics_set(m, "xprof_agent_resident_memory_bytes", NULL, (double)ws->rss_bytes);
	ag_metrics_set(m, "xprof_agent_cpu_seconds_total", NULL, (double)cpu_us_now() / 1e6);
	ag_metrics_set(m, "xprof_agent_cache_bytes", NULL,
		       (double)(mem.table_bytes + mem.sym_bytes));
	ag_metrics_set(m, "xprof_agent_spool_bytes", NULL, (double)ss.bytes);
	ag_metrics_set(m, "xprof_agent_spool_windows", NULL, (double)ss.windows);
	ag_metrics_set(m, "xprof_agent_spool_dropped_total", NULL, (double)ss.dropped);
	ag_metrics_set(m, "xprof_agent_spool_retries_total", NULL, (double)ss.retries);
	ag_metrics_set(m, "xprof_agent_spool_sent_total", NULL, (double)ss.sent);
	ag_metrics_set(m, "xprof_agent_spool_rejected_total", NULL, (double)ss.rejected);
	for (unsigned i = 0; i < a->nsinks; i++) {
		char lab[64];

		snprintf(lab, sizeof(lab), "sink=\"%s\"", a->sinks[i]->s.name);
		ag_metrics_set(m, "xprof_agent_sent_bytes_total", lab,
			       (double)atomic_load(&a->sinks[i]->bytes));
		ag_metrics_set(m, "xprof_agent_sink_errors_total", lab,
			       (double)atomic_load(&a->sinks[i]->errors));
	}
}

static void metrics_describe(struct ag_metrics *m)
{
	static const char *const d[][3] = {
	    {"xprof_agent_samples_total", "counter", "samples in finished windows"},
	    {"xprof_agent_lost_samples_total", "counter", "samples the ring buffer dropped"},
	    {"xprof_agent_windows_total", "counter", "windows finished"},
	    {"xprof_agent_window_processes", "gauge", "processes sampled in the last window"},
	    {"xprof_agent_window_stacks", "gauge", "unique stacks of the last window"},
	    {"xprof_agent_processes_tracked", "gauge", "processes in the label table"},
	    {"xprof_agent_resident_memory_bytes", "gauge", "the agent's RSS"},
	    {"xprof_agent_cpu_seconds_total", "counter", "the agent's user and system CPU"},
	    {"xprof_agent_cache_bytes", "gauge", "unwind tables and symbols held"},
	    {"xprof_agent_spool_bytes", "gauge", "bytes of windows waiting in the spool"},
	    {"xprof_agent_spool_windows", "gauge", "windows waiting in the spool"},
	    {"xprof_agent_spool_dropped_total", "counter", "windows dropped to fit the spool"},
	    {"xprof_agent_spool_retries_total", "counter", "sends that will be retried"},
	    {"xprof_agent_spool_sent_total", "counter", "windows delivered"},
	    {"xprof_agent_spool_rejected_total", "counter", "windows a sink refused for good"},
	    {"xprof_agent_sent_bytes_total", "counter", "payload bytes delivered, per sink"},
	    {"xprof_agent_sink_errors_total", "counter", "failed sends, per sink"},
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		ag_metrics_describe(m, d[i][0], d[i][1], d[i][2]);
}

/*
 * End the current window at end_ns (stream time), end_real (wall clock):
 * take its profile, spool it for each sink, log its line, and forget the
 * processes that exited before it. 0 or -errno (a.why says what).
 */
static int window_cut(struct ag_agent *a, uint64_t end_ns, uint64_t end_real)
{
	struct ag_window_stats ws = {.start = a->start_real / NS_PER_S};
	const struct xp_session_stats *st;
	struct walk_count wc = {0};
	struct rep_profile *p;
	uint64_t start = a->start_real / NS_PER_S, end = end_real / NS_PER_S;
	uint64_t cpu, sent = 0, errs = 0;
	char line[512];
	int err;

	p = xp_session_window_take(a->sess, end_ns);
	if (!p) {
		snprintf(a->why, sizeof(a->why), "cannot end the window: out of memory");
		return -ENOMEM;
	}
	/* The next window's start maps to this boundary exactly (pprof time_nanos). */
	xp_session_set_clock(a->sess, end_ns, end_real);
	st = xp_session_window_stats(a->sess);
	wc.p = p;
	err = rep_profile_walk(p, walk_count, &wc);
	for (unsigned i = 0; !err && i < a->nsinks; i++) {
		if (!strcmp(a->sinks[i]->s.name, "push"))
			err = spool_push(a, p, &wc, start, end);
		else
			/* The folded text is for the directory; the store reads the pprof. */
			err = spool_profile(a, a->sinks[i]->s.name, NULL, p,
					    a->o.folded && !strcmp(a->sinks[i]->s.name, "dir"),
					    start, end);
	}
	free(wc.services);
	rep_profile_free(p);
	if (err) {
		snprintf(a->why, sizeof(a->why), "cannot encode the window: %s", strerror(-err));
		return err;
	}

	/*
	 * Give the heap's free pages back: building a table from CFI sorts rows
	 * in buffers that dwarf the table (tens of MiB for a large C++ library),
	 * and once freed they sit in the heap, resident, behind whatever was
	 * allocated after them. Before the CPU and RSS of the log line, which then count it.
	 */
	malloc_trim(0);

	cpu = cpu_us_now();
	for (unsigned i = 0; i < a->nsinks; i++) {
		sent += atomic_load(&a->sinks[i]->bytes);
		errs += atomic_load(&a->sinks[i]->errors);
	}
	ws.samples = st->kept;
	ws.lost = st->lost;
	ws.processes = st->processes;
	ws.stacks = wc.stacks;
	ws.complete = st->status[UNW_OK_COMPLETE];
	ws.cpu_ms = (cpu - a->cpu_us) / 1000;
	ws.rss_bytes = rss_bytes();
	ws.bytes_sent = sent - a->sent;
	ws.sink_errors = errs - a->errs;
	a->cpu_us = cpu;
	a->sent = sent;
	a->errs = errs;
	a->samples += ws.samples;
	a->lost += ws.lost;
	a->windows++;
	ag_window_log_format(line, sizeof(line), &ws);
	say(a, "%s", line);
	metrics_update(a, &ws);

	ag_pidtab_expire(a->pt, end_ns, XP_EXIT_GRACE_NS);
	a->gen++;
	a->start_real = end_real;
	return 0;
}

static int cap_begin(void *ctx, const struct xp_rec_info *info, uint32_t ncpus)
{
	struct ag_agent *a = ctx;

	(void)ncpus;
	xp_session_set_clock(a->sess, info->start_time_ns, info->start_real_ns);
	a->start_real = info->start_real_ns;
	next_boundary(a, info->start_real_ns);
	return 0;
}

static int cap_event(void *ctx, const struct xp_event *ev)
{
	struct ag_agent *a = ctx;
	uint64_t t = xp_event_time(ev);
	int err;

	/* Events come in time order: the first one past the boundary ends the window. */
	while (t && t >= a->bnd_ns) {
		err = window_cut(a, a->bnd_ns, a->bnd_real);
		if (err)
			return a->err = err;
		next_boundary(a, a->bnd_real);
	}
	err = ag_pidtab_event(a->pt, ev);
	if (err) {
		snprintf(a->why, sizeof(a->why), "process labels: %s", strerror(-err));
		return a->err = err;
	}
	err = xp_session_event(a->sess, ev);
	if (err) {
		snprintf(a->why, sizeof(a->why), "cannot build the profile: %s", strerror(-err));
		return a->err = err;
	}
	return 0;
}

static void spool_log(void *ctx, const char *line)
{
	say(ctx, "xprof agent: %s", line);
}

/* Hand sink s (NULL: out of memory) to the spool, counted. 0 or -errno with err filled. */
static int add_sink(struct ag_agent *a, struct ag_sink *s, char *err, size_t errlen)
{
	struct count_sink *c = count_sink_new(s);
	int e;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e = ag_spool_add_sink(a->spool, &c->s);
	if (e) {
		ag_sink_free(&c->s);
		snprintf(err, errlen, "cannot add a sink: %s", strerror(-e));
		return e;
	}
	a->sinks[a->nsinks++] = c;
	return 0;
}

/* The spool and its sinks. 0 or -errno with err filled. */
static int open_spool(struct ag_agent *a, char *err, size_t errlen)
{
	struct ag_sink *s;
	int e;

	a->spool = ag_spool_open(a->o.spool_dir, a->o.spool_size, clock_ns(CLOCK_MONOTONIC));
	if (!a->spool) {
		e = -errno;
		snprintf(
		    err, errlen, "cannot open the spool '%s': %s%s", a->o.spool_dir, xl_strerror(e),
		    e == -ELOOP || e == -EPERM || e == -EACCES
			? " (it must be a directory of the agent's user, mode 0700, not a link)"
			: "; choose another --spool-dir");
		return e;
	}
	if (a->o.output_dir) {
		struct ag_dir_opts d = {.dir = a->o.output_dir,
					.host = a->host,
					.max_age = a->o.max_age_s,
					.max_size = a->o.max_size};

		s = ag_sink_dir_new(&d);
		if (!s) {
			e = -errno;
			snprintf(err, errlen, "cannot use --output-dir '%s': %s%s", a->o.output_dir,
				 xl_strerror(e),
				 e == -ELOOP || e == -EPERM || e == -EACCES
				     ? " (it must be the agent's own directory, not writable by "
				       "others, not a link)"
				     : "");
			return e;
		}
		e = add_sink(a, s, err, errlen);
		if (e)
			return e;
	}
	if (a->o.push_url) {
		struct ag_push_opts po = {.url = a->o.push_url,
					  .app = a->o.push_app,
					  .host = a->host,
					  .org_id = a->o.org_id,
					  .token = a->o.token,
					  .sample_rate = a->o.frequency};

		s = ag_sink_push_new(&po);
		if (!s) {
			e = -errno;
			snprintf(err, errlen, "cannot use --push '%s': %s", a->o.push_url,
				 e == -EINVAL ? "give http://HOST[:PORT] or https://..."
					      : strerror(-e));
			return e;
		}
		e = add_sink(a, s, err, errlen);
		if (e)
			return e;
	}
	if (a->o.clickhouse_url) {
		struct ag_ch_opts co = {.url = a->o.clickhouse_url, .host = a->host};

		s = ag_sink_clickhouse_new(&co);
		if (!s) {
			e = -errno;
			snprintf(
			    err, errlen, "cannot use --clickhouse '%s': %s", a->o.clickhouse_url,
			    e == -EINVAL ? "give http://HOST:8123[/?database=NAME] or https://..."
					 : strerror(-e));
			return e;
		}
		e = add_sink(a, s, err, errlen);
		if (e)
			return e;
	}
	e = ag_spool_start(a->spool, spool_log, a);
	if (e)
		snprintf(err, errlen, "cannot start the sender: %s", strerror(-e));
	return e;
}

/* The session that turns events into profiles. 0 or -errno with err filled. */
static int open_session(struct ag_agent *a, char *err, size_t errlen)
{
	struct xp_session_opts so = {0};

	/*
	 * No on-disk caches: their directory would grow with every file the host
	 * ever mapped, and the agent's memory_limit already keeps what is hot.
	 */
	so.no_cache = true;
	so.memory_limit = a->o.memory_limit;
	so.labels = labels_hook;
	so.labels_ctx = a;
	a->sess = xp_session_new(&so);
	if (!a->sess) {
		int e = -errno;

		snprintf(err, errlen, "cannot start the pipeline: %s", strerror(-e));
		return e;
	}
	a->pt = ag_pidtab_new(a->o.max_pids, ag_pid_read_proc, NULL);
	if (!a->pt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

struct ag_agent *ag_agent_new(const struct ag_agent_opts *o, char *err, size_t errlen)
{
	struct capture_opts co = {
	    .frequency = o->frequency,
	    .stack_size = XP_STACK_DEFAULT,
	    .ev_type = PERF_TYPE_SOFTWARE,
	    .ev_config = PERF_COUNT_SW_CPU_CLOCK,
	    .ev_name = "cpu-clock",
	    .all = true,
	    .kstack = o->kernel,
	    .target = "-a",
	};
	struct ag_agent *a;
	int e;

	/*
	 * Large blocks (table building's row and rule arrays: 60 MiB at once for
	 * libclickhouse.so) straight from mmap and back to the system when freed,
	 * and grown by mremap, not copied. glibc's default raises this threshold
	 * each time such a block is freed, after which the next ones come from
	 * the heap and stay resident until malloc_trim() at the window's end.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	a = calloc(1, sizeof(*a));
	err[0] = 0;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->o = *o;
	if (o->host)
		snprintf(a->host, sizeof(a->host), "%s", o->host);
	else if (ag_hostname(a->host, sizeof(a->host)))
		snprintf(a->host, sizeof(a->host), "localhost");
	a->o.host = a->host;
	e = open_spool(a, err, errlen);
	if (!e && o->metrics) {
		a->metrics = ag_metrics_new(o->metrics, false);
		if (!a->metrics) {
			e = -errno;
			snprintf(err, errlen, "cannot serve --metrics on '%s': %s", o->metrics,
				 e == -EPERM ? "not a loopback address (give e.g. 127.0.0.1:9741)"
				 : e == -EINVAL ? "give IP:PORT, e.g. 127.0.0.1:9741"
						: strerror(-e));
		} else {
			metrics_describe(a->metrics);
		}
	}
	if (!e)
		e = open_session(a, err, errlen);
	if (e)
		goto fail;
	a->cpu_us = cpu_us_now();
	/* A container's file held open from the moment it is mapped: short-lived processes. */
	co.mmap_seen = xp_session_pin;
	co.mmap_seen_ctx = a->sess;
	struct capture_sink sink = {.begin = cap_begin, .event = cap_event, .ctx = a};
	a->cap = capture_new(&co, &sink, err, errlen);
	if (!a->cap) {
		e = -errno;
		if (!err[0])
			snprintf(err, errlen, "%s", a->why[0] ? a->why : strerror(-e));
		goto fail;
	}
	return a;
fail:
	ag_agent_free(a);
	errno = -e;
	return NULL;
}

int ag_agent_run(struct ag_agent *a, const volatile sig_atomic_t *stop, unsigned drain_ms,
		 char *err, size_t errlen)
{
	struct ag_spool_stats ss;
	uint64_t t_end;
	int e = 0;

	err[0] = 0;
	while (!*stop && !e) {
		uint64_t mono = clock_ns(CLOCK_MONOTONIC);
		uint64_t wait = a->bnd_ns > mono ? (a->bnd_ns - mono) / NS_PER_MS + 1 : 0;

		e = capture_poll(a->cap, wait > POLL_MAX_MS ? POLL_MAX_MS : (int)wait);
		/*
		 * The poll delivered every event stamped before it began: if that was
		 * past the boundary and no later event ended the window, end it here.
		 */
		while (!e && mono >= a->bnd_ns) {
			e = window_cut(a, a->bnd_ns, a->bnd_real);
			next_boundary(a, a->bnd_real);
		}
	}
	if (!e) {
		e = capture_stop(a->cap);
		/* The last window ends now: what the stop delivered was stamped before. */
		if (!e)
			e = window_cut(a, clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_REALTIME));
	}
	if (e) {
		snprintf(err, errlen, "%s", a->why[0] ? a->why : strerror(-e));
		return e;
	}
	/* Give the sender a bounded time for what waits; the rest stays for the next start. */
	t_end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)drain_ms * NS_PER_MS;
	for (;;) {
		ag_spool_get_stats(a->spool, &ss);
		if (!ss.windows || clock_ns(CLOCK_MONOTONIC) >= t_end)
			break;
		usleep(20000);
	}
	return 0;
}

void ag_agent_free(struct ag_agent *a)
{
	if (!a)
		return;
	capture_free(a->cap);
	ag_metrics_free(a->metrics);
	ag_spool_close(a->spool);
	xp_session_free(a->sess);
	ag_pidtab_free(a->pt);
	free(a);
}

uint64_t ag_agent_spooled(struct ag_agent *a)
{
	struct ag_spool_stats ss;

	ag_spool_get_stats(a->spool, &ss);
	return ss.windows;
}
