/* SPDX-License-Identifier: MIT */
/*
 * agent/: `xprof agent` and its building blocks: labels from
 * /proc/PID/cgroup, the on-disk spool of finished windows with its retry driver, the sinks a window
 * goes to (Pyroscope push, an output directory), and the Prometheus metrics endpoint with the
 * per-window log line; and the agent itself (loop.c): the capture's events into a session, cut into
 * wall-clock windows, each labelled per process (pidtab.c) and handed to the spool.
 *
 * The unit that flows is the window: one finished profile (pprof bytes,
 * optionally folded text) with its metadata. A window goes into the spool
 * first; the spool's pump hands it to its sink and keeps it on disk until
 * the sink took it or refused it for good.
 *
 * Functions return 0 or -errno, pointers or NULL with errno set; nothing
 * here prints or exits.
 */
#ifndef XPROF_AGENT_H
#define XPROF_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- labels ------------------------------------------------------------ */

#define AG_LABEL_MAX 128 /* bytes of a label value with its NUL; longer values are refused */

/*
 * What a process's cgroup path says about it. Every field is a NUL-ended
 * string, "" when unknown. container is the runtime's id (hex, as the
 * runtime prints it, 12..64 digits); pod is a Kubernetes pod uid with
 * dashes; service is the innermost systemd *.service unit, else the
 * container ("docker-0123456789ab", the runtime and the short id), else the
 * innermost *.scope unit.
 */
struct ag_labels {
	char container[AG_LABEL_MAX];
	char runtime[16]; /* docker, containerd, crio, podman; "" outside a container */
	char pod[AG_LABEL_MAX];
	char service[AG_LABEL_MAX];
};

/*
 * Fill l from the text of a /proc/PID/cgroup file (len bytes, not
 * NUL-ended; cgroup v2's "0::/path" line wins over v1 lines, and of v1 the
 * name=systemd hierarchy, then the first line with a path). 0 (also when
 * nothing was recognised: l is then all ""), -EINVAL (no line of the form
 * "ID:CONTROLLERS:PATH").
 */
int ag_labels_parse_cgroup(const char *buf, size_t len, struct ag_labels *l);

/*
 * ag_labels_parse_cgroup() on /proc/PID/cgroup, read (at most 64 KiB)
 * without following a link. 0, -ENOENT / -ESRCH (no such process), or
 * open/read errors.
 */
int ag_labels_read(pid_t pid, struct ag_labels *l);

/* The host's name (uname's nodename) in buf. 0, -ENAMETOOLONG (buf too short). */
int ag_hostname(char *buf, size_t len);

/* ---- windows and sinks ------------------------------------------------- */

/*
 * One finished window as a sink sees it. Borrowed for the duration of a
 * send() call: a sink copies what it keeps. start and end are Unix seconds
 * (windows are aligned to the wall clock); folded may be NULL.
 */
struct ag_window {
	const char *sink;
	const char *service;
	uint64_t start, end;
	const void *pprof; /* gzipped profile.proto */
	size_t pprof_len;
	const char *folded;
	size_t folded_len;
};

/* What a send did: the spool keeps (RETRY) or forgets (OK, DROP) the window. */
enum ag_send {
	AG_SEND_OK = 0,
	AG_SEND_RETRY, /* worth trying again later: 5xx, timeout, refused connection, full disk */
	AG_SEND_DROP,  /* will never succeed: 4xx, a payload the receiver rejects */
};

/*
 * A destination of windows (Fluent Bit's output plugin: the sink only
 * sends; the spool owns retries). send() may block up to the sink's own
 * timeouts; it writes a one-line reason into why when it does not answer
 * AG_SEND_OK. free() releases the sink and may be NULL.
 */
struct ag_sink {
	const char *name; /* at most 31 bytes of [A-Za-z0-9_-]; names windows in the spool */
	enum ag_send (*send)(struct ag_sink *s, const struct ag_window *w, char *why,
			     size_t whylen);
	void (*free)(struct ag_sink *s);
	void *ctx;
};

void ag_sink_free(struct ag_sink *s); /* calls s->free; NULL does nothing */

/*
 * Options of the Pyroscope push sink. Every request is
 *   POST URL/ingest?name=APP{host=H,service=S}&from=START&until=END
 *        &format=pprof&spyName=xprof&sampleRate=HZ
 * with the gzipped pprof as the body (Content-Type:
 * application/octet-stream). Pointers are borrowed until ag_sink_push_new
 * returns (it copies them).
 */
struct ag_push_opts {
	const char *url;	 /* http(s)://host[:port][/prefix] */
	const char *app;	 /* the application name before the labels; "xprof" if NULL */
	const char *host;	 /* the host label; omitted if NULL or "" */
	const char *org_id;	 /* X-Scope-OrgID header, if not NULL */
	const char *token;	 /* Authorization: Bearer TOKEN, if not NULL */
	unsigned sample_rate;	 /* sampleRate=HZ; omitted if 0 */
	long connect_timeout_ms; /* default 5000 */
	long timeout_ms;	 /* whole request, default 30000 */
};

/*
 * The push sink, named "push". Responses: 2xx OK; 408, 429 and 5xx RETRY;
 * other 4xx DROP (the request is wrong and would stay wrong); connection
 * refused, timeouts, resolve and transfer errors RETRY. NULL with errno:
 * EINVAL (no URL, or not http:// or https://), ENOMEM.
 */
struct ag_sink *ag_sink_push_new(const struct ag_push_opts *o);

/*
 * Options of the output-directory sink. Each window becomes
 * DIR/YYYYMMDDTHHMMSSZ-HOST[-SERVICE].pb.gz (UTC start time, so `ls` sorts
 * by time) and, with folded text, the same name in .folded, each written
 * atomically. After each write the directory's window files are trimmed:
 * older than max_age seconds by their name's time, then the oldest until
 * their bytes fit max_size; the window just written is always kept.
 */
struct ag_dir_opts {
	const char *dir;   /* created mode 0700 if missing; must be the caller's, not a link */
	const char *host;  /* part of every name; "host" if NULL or "" */
	uint64_t max_age;  /* seconds, 0 for no limit */
	uint64_t max_size; /* bytes, 0 for no limit */
};

/*
 * The output-directory sink, named "dir". send(): a full disk and other
 * write errors RETRY. NULL with errno: EINVAL, ELOOP (a link), EPERM
 * (another owner), EACCES (group or other may write), ENOMEM, mkdir's.
 */
struct ag_sink *ag_sink_dir_new(const struct ag_dir_opts *o);

/* Window files removed by the dir sink's retention so far. */
uint64_t ag_sink_dir_removed(const struct ag_sink *s);

/* ---- spool ------------------------------------------------------------- */

#define AG_SPOOL_DEFAULT_SIZE (64ull << 20) /* --spool-size */
#define AG_RETRY_BASE_MS      1000ull	    /* first retry delay */
#define AG_RETRY_CAP_MS	      300000ull	    /* 5 minutes */

/*
 * The spool: windows waiting for their sink, one file per window in a
 * directory of the caller's (mode 0700, refused if a link, another user's,
 * or writable by group or other). Files are written atomically, so a
 * restart finds whole windows and sends them. Bound: the bytes of the
 * window files stay at or under budget; a new window that does not fit
 * drops the oldest ones first (counted in dropped). Windows go out oldest
 * first per sink; a sink that answers RETRY waits an exponential backoff
 * with jitter (AG_RETRY_BASE_MS doubling to AG_RETRY_CAP_MS, each delay
 * drawn in [d/2, d]) before its next try, and other sinks do not wait for
 * it. Windows of a sink not added (a changed configuration) wait until the
 * budget drops them.
 *
 * Threads: every function may be called from any thread; ag_spool_pump()
 * sends without holding the spool's lock, so ag_spool_put() never waits
 * on a sink. The sender thread of ag_spool_start() is the usual way to
 * run the pump; tests call ag_spool_pump() with their own clock.
 */
struct ag_spool;

struct ag_spool_stats {
	uint64_t windows, bytes; /* spooled now */
	uint64_t put, sent;	 /* windows accepted and delivered since open */
	uint64_t dropped;	 /* oldest windows removed to stay within the budget */
	uint64_t rejected;	 /* windows a sink refused for good (AG_SEND_DROP) */
	uint64_t retries;	 /* sends that answered AG_SEND_RETRY */
	uint64_t corrupt;	 /* damaged spool files removed at open */
	uint64_t recovered;	 /* windows found on disk at open */
};

/*
 * Open (create) the spool directory dir with this byte budget and load the
 * windows a previous run left. seed seeds the jitter (any value; tests pass
 * a fixed one). NULL with errno: ELOOP, EPERM, EACCES (see above), EINVAL
 * (budget 0), ENOMEM, mkdir/opendir's errors.
 */
struct ag_spool *ag_spool_open(const char *dir, uint64_t budget, uint64_t seed);

/* Stop the sender thread if any, free the spool and its sinks. Files stay. NULL does nothing. */
void ag_spool_close(struct ag_spool *sp);

/* Hand s to the spool, which frees it at close. 0, -EEXIST (a sink of that name), -EINVAL, -ENOMEM.
 */
int ag_spool_add_sink(struct ag_spool *sp, struct ag_sink *s);

/*
 * Store w (for sink w->sink) on disk. Drops the oldest windows to make room.
 * 0, -EFBIG (w alone is larger than the budget; counted as dropped),
 * -EINVAL (no such sink name syntax), or write errors (-ENOSPC, …).
 */
int ag_spool_put(struct ag_spool *sp, const struct ag_window *w);

/*
 * One step of the retry driver at time now_ms (any monotonic clock in ms):
 * for each sink whose backoff has passed, send its oldest window; stop at
 * its first RETRY. Returns the number of windows delivered or refused, and
 * sets *next_ms to when it is next worth calling (UINT64_MAX: nothing
 * waits). why gets the last failure's reason (sink: reason), "" if none.
 */
int ag_spool_pump(struct ag_spool *sp, uint64_t now_ms, uint64_t *next_ms, char *why,
		  size_t whylen);

/*
 * Run the pump in a thread of the spool's own, woken by ag_spool_put() and
 * by backoff deadlines. log, if not NULL, is called (from that thread) with
 * one line per failed send, e.g. "push: retry in 2.1 s: http 503". 0,
 * -EALREADY, or pthread_create's error.
 */
int ag_spool_start(struct ag_spool *sp, void (*log)(void *ctx, const char *line), void *ctx);

void ag_spool_get_stats(struct ag_spool *sp, struct ag_spool_stats *st);

/* ---- metrics and the window log line ------------------------------------ */

/*
 * Prometheus text exposition (version 0.0.4) on a tiny HTTP/1.0 server of
 * its own thread: one connection at a time, a request of at most 4 KiB read
 * within 2 s, GET /metrics only (404 otherwise, 400 for a bad request). At
 * most AG_METRICS_MAX series; names [a-zA-Z_:][a-zA-Z0-9_:]*, labels given
 * as the text between the braces ('service="nginx"').
 */
#define AG_METRICS_MAX 256
struct ag_metrics;

/*
 * Listen on addr, "IP:PORT" (IPv4, or [IPv6]:PORT; PORT 0 picks a free
 * one). A non-loopback address is refused unless allow_remote. NULL with
 * errno: EINVAL (malformed), EPERM (not loopback), ENOMEM, socket errors.
 */
struct ag_metrics *ag_metrics_new(const char *addr, bool allow_remote);
void ag_metrics_free(struct ag_metrics *m); /* stops the server; NULL does nothing */
int ag_metrics_port(const struct ag_metrics *m);

/*
 * Set (or with _add, increase) a series; help and type ("counter" or
 * "gauge") are kept from the first call for that name. 0, -EINVAL (bad
 * name or labels), -ENOSPC (AG_METRICS_MAX series).
 */
int ag_metrics_set(struct ag_metrics *m, const char *name, const char *labels, double value);
int ag_metrics_add(struct ag_metrics *m, const char *name, const char *labels, double value);
int ag_metrics_describe(struct ag_metrics *m, const char *name, const char *type, const char *help);

/* The exposition text now, into buf (NUL-ended). The length written, or -ENOSPC if it does not fit.
 */
int ag_metrics_render(struct ag_metrics *m, char *buf, size_t len);

/* What one window did, for its log line. */
struct ag_window_stats {
	uint64_t start;		    /* Unix seconds */
	uint64_t samples, lost;	    /* lost: samples the ring buffer dropped */
	uint64_t processes, stacks; /* stacks: unique stacks */
	uint64_t complete;	    /* samples whose stack unwound to its end */
	uint64_t cpu_ms;	    /* the agent's own CPU time in the window */
	uint64_t rss_bytes;
	uint64_t bytes_sent;
	uint64_t sink_errors;
};

/*
 * The window's log line, e.g. "window 2026-12-06T23:10:00Z: 1234 samples, 0
 * lost, 56 processes, 789 stacks, 99.8% complete, cpu 12 ms, rss 23.4 MiB,
 * sent 45678 bytes, 0 sink errors". The length it needs (as snprintf).
 */
int ag_window_log_format(char *buf, size_t len, const struct ag_window_stats *st);

/* ---- the agent (opts.c, pidtab.c, loop.c) ------------------------------- */

/*
 * "500ms", "2s", "5m", "1h" (a whole number and its unit) into *ns.
 * 0, -EINVAL (no number, no or unknown unit), -ERANGE (0, or past 1 year).
 */
int ag_parse_duration(const char *s, uint64_t *ns);

/*
 * "1600", "64K", "64M", "1G" (bytes, or KiB, MiB, GiB; k m g too) into
 * *bytes. 0, -EINVAL, -ERANGE (0, or past 1 TiB).
 */
int ag_parse_size(const char *s, uint64_t *bytes);

/*
 * The first wall-clock window boundary strictly after real_ns (ns since the
 * epoch): the next multiple of interval_ns (> 0). Windows are aligned to the
 * epoch, so every host's windows of one interval start together.
 */
uint64_t ag_window_next(uint64_t real_ns, uint64_t interval_ns);

/*
 * The wall-clock moment real_ns on the stream's clock (CLOCK_MONOTONIC),
 * from a pair of readings of both clocks taken together: a conversion, so a
 * moment already past maps to when it was (a loop behind the stream still
 * cuts its window there), not to now.
 */
uint64_t ag_window_stream_time(uint64_t mono_now, uint64_t real_now, uint64_t real_ns);

/* What `xprof agent` runs with (profiler/cmd_agent.c fills it from the command line). */
struct ag_agent_opts {
	uint32_t frequency;	/* Hz per CPU */
	bool kernel;		/* kernel stacks too */
	uint64_t interval_ns;	/* window length */
	const char *host;	/* host label and name part; NULL: uname's nodename */
	const char *output_dir; /* dir sink, or NULL */
	bool folded;		/* the dir sink writes .folded too */
	uint64_t max_age_s, max_size;
	const char *push_url; /* push sink, or NULL */
	const char *push_app; /* NULL: "xprof" */
	const char *org_id, *token;
	const char *spool_dir; /* required */
	uint64_t spool_size;
	uint64_t memory_limit; /* the session's caches (xp_session_opts.memory_limit) */
	size_t max_pids;       /* processes the label table holds; 0: AG_PIDTAB_DEFAULT */
	const char *metrics;   /* IP:PORT, or NULL */
	/* Where the agent's lines go (startup, windows, retries); called from two threads. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	bool verbose;
};

struct ag_agent;

/*
 * Open the spool and its sinks, the metrics endpoint and the session, then
 * start sampling every CPU (capture_new). NULL with errno set and one line
 * for the user in err (no "xprof: " prefix).
 */
struct ag_agent *ag_agent_new(const struct ag_agent_opts *o, char *err, size_t errlen);

/*
 * Sample until *stop becomes non-zero: every wall-clock boundary ends a
 * window, which goes into the spool for each sink and gets its log line.
 * Then stop the capture, end the last window at that moment, and give the
 * spool's sender up to drain_ms to empty the spool. 0, or -errno of the
 * capture or the session (err says what, without a prefix).
 */
int ag_agent_run(struct ag_agent *a, const volatile sig_atomic_t *stop, unsigned drain_ms,
		 char *err, size_t errlen);

/*
 * Windows still in the spool (after ag_agent_run(): those the drain did not
 * send). While there are, the sender may be inside a send that lasts up to
 * its sink's timeout, and ag_agent_free() waits for it.
 */
uint64_t ag_agent_spooled(struct ag_agent *a);

/* Stop and free everything; spooled windows stay on disk. NULL does nothing. */
void ag_agent_free(struct ag_agent *a);

#endif /* XPROF_AGENT_H */
