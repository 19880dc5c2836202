// SPDX-License-Identifier: MIT
/*
 * The spool: finished windows on disk until their sink takes them, and the
 * retry driver that hands them over (Fluent Bit's filesystem buffer and
 * scheduler in small).
 *
 * One file per window, DIR/<seq, 16 hex>-<sink>.win, written through lib/
 * (temporary name, fsync, rename), so a crash leaves whole windows or
 * none. File layout (little-endian, as the host writes it; the spool is
 * never moved between machines):
 *
 *   char     magic[8]   "XPSPOOL1"
 *   uint32_t sink_len, service_len
 *   uint64_t start, end        Unix seconds
 *   uint64_t pprof_len, folded_len
 *   uint32_t crc              zlib crc32 of everything after the header
 *   uint32_t zero
 *   sink, service, pprof, folded bytes
 *
 * Memory: an index of {seq, sink, bytes} per window, sorted by seq; the
 * payload is read back only to send it. Eviction order: the lowest seq (the
 * oldest window, of any sink) goes first when a put would pass the budget.
 *
 * Why a thread and not only a step function: a push waits on the network
 * for up to its timeout (30 s by default), and the main loop must keep
 * draining the ring buffer meanwhile. The pump is still a plain function
 * with a caller's clock, so tests drive it deterministically; the thread
 * only calls it in a loop and sleeps on a condition variable until the
 * next deadline or the next put. The spool's files are the bounded queue
 * between the two: put never waits for a send, because sends run with the
 * lock released.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "agent/agent.h"
#include "agent/agent_int.h"
#include "lib/lib.h"

#define SPOOL_MAGIC   "XPSPOOL1"
#define SPOOL_HDR     56
#define SINK_NAME_MAX 32
#define MAX_SINKS     8

struct entry {
	uint64_t seq;
	uint64_t bytes; /* the file's size */
	char sink[SINK_NAME_MAX];
};

struct sink_state {
	struct ag_sink *sink;
	unsigned attempts; /* RETRY answers in a row */
	uint64_t next_ms;  /* not before this (pump's clock) */
	bool busy;	   /* a send of this sink runs with the lock released */
};

struct ag_spool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char *dir;
	int dirfd;
	uint64_t budget;
	uint64_t next_seq;
	uint64_t rng;
	struct entry *e; /* sorted by seq */
	size_t n, cap;
	struct sink_state sinks[MAX_SINKS];
	size_t nsinks;
	struct ag_spool_stats st;
	pthread_t thread;
	bool running, stop, kicked;
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
};

bool ag_sink_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= SINK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

void ag_sink_free(struct ag_sink *s)
{
	if (s && s->free)
		s->free(s);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

uint64_t ag_backoff_ms(unsigned attempts, uint64_t *rng)
{
	uint64_t d = AG_RETRY_BASE_MS, x;

	for (unsigned i = 1; i < attempts && d < AG_RETRY_CAP_MS; i++)
		d *= 2;
	if (d > AG_RETRY_CAP_MS)
		d = AG_RETRY_CAP_MS;
	/* xorshift64*: the jitter needs spread across agents, not quality. */
	x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	x *= 0x2545f4914f6cdd1dull;
	return d / 2 + x % (d / 2 + 1);
}

static char *entry_name(const struct entry *e)
{
	char *s;

	if (asprintf(&s, "%016" PRIx64 "-%s.win", e->seq, e->sink) < 0)
		return NULL;
	return s;
}

/* Remove index i (and its file). Lock held. */
static void entry_remove(struct ag_spool *sp, size_t i)
{
	char *name = entry_name(&sp->e[i]);

	if (name) {
		unlinkat(sp->dirfd, name, 0);
		free(name);
	}
	sp->st.bytes -= sp->e[i].bytes;
	sp->st.windows--;
	memmove(&sp->e[i], &sp->e[i + 1], (sp->n - i - 1) * sizeof(*sp->e));
	sp->n--;
}

static int entry_append(struct ag_spool *sp, const struct entry *e)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct entry *ne = realloc(sp->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		sp->e = ne;
		sp->cap = cap;
	}
	sp->e[sp->n++] = *e;
	sp->st.bytes += e->bytes;
	sp->st.windows++;
	return 0;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parse "<16 hex>-<sink>.win". */
static bool parse_name(const char *name, struct entry *e)
{
	size_t n = strlen(name);
	char *end;

	if (n < 16 + 1 + 1 + 4 || name[16] != '-' || strcmp(name + n - 4, ".win"))
		return false;
	for (int i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	e->seq = strtoull(name, &end, 16);
	if (end != name + 16 || n - 21 >= SINK_NAME_MAX)
		return false;
	memcpy(e->sink, name + 17, n - 21);
	e->sink[n - 21] = '\0';
	return ag_sink_name_ok(e->sink);
}

/* Check a spool file's header against its name and size; 0 or -EBADMSG. */
static int check_header(int fd, const struct entry *e, uint64_t size)
{
	unsigned char h[SPOOL_HDR];
	uint64_t need;
	uint32_t sl, svl;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, SPOOL_MAGIC, 8))
		return -EBADMSG;
	sl = get_u32(h + 8);
	svl = get_u32(h + 12);
	if (sl != strlen(e->sink) || svl >= AG_LABEL_MAX)
		return -EBADMSG;
	need = SPOOL_HDR + (uint64_t)sl + svl;
	if (get_u64(h + 32) > size || get_u64(h + 40) > size)
		return -EBADMSG;
	need += get_u64(h + 32) + get_u64(h + 40);
	if (need != size)
		return -EBADMSG;
	return 0;
}

static int load_dir(struct ag_spool *sp)
{
	int fd = dup(sp->dirfd);
	DIR *d;
	struct dirent *de;
	int err = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct entry e;
		struct stat st;
		int f;

		if (de->d_name[0] == '.') {
			/* A temporary file of a write a crash interrupted: ".<name>.win.XXXXXXXX".
			 */
			if (strstr(de->d_name, ".win."))
				unlinkat(sp->dirfd, de->d_name, 0);
			continue;
		}
		if (!parse_name(de->d_name, &e))
			continue;
		f = openat(sp->dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (f < 0)
			continue; /* a link (ELOOP) or gone: not ours to touch */
		if (fstat(f, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
			close(f);
			continue;
		}
		if (check_header(f, &e, (uint64_t)st.st_size)) {
			close(f);
			unlinkat(sp->dirfd, de->d_name, 0);
			sp->st.corrupt++;
			continue;
		}
		close(f);
		e.bytes = (uint64_t)st.st_size;
		err = entry_append(sp, &e);
		if (err)
			break;
		sp->st.recovered++;
		if (e.seq >= sp->next_seq)
			sp->next_seq = e.seq + 1;
	}
	closedir(d);
	if (sp->n)
		qsort(sp->e, sp->n, sizeof(*sp->e), cmp_seq);
	/* A smaller budget than last run's: the oldest go now, not at the next put. */
	while (!err && sp->st.bytes > sp->budget && sp->n) {
		entry_remove(sp, 0);
		sp->st.dropped++;
	}
	return err;
}

struct ag_spool *ag_spool_open(const char *dir, uint64_t budget, uint64_t seed)
{
	struct ag_spool *sp;
	pthread_condattr_t ca;
	int err;

	if (!dir || !*dir || budget == 0) {
		errno = EINVAL;
		return NULL;
	}
	err = xl_mkdirs(dir, 0700, NULL);
	if (!err)
		err = xl_dir_private(dir);
	if (err) {
		errno = -err;
		return NULL;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return NULL;
	sp->dirfd = -1;
	sp->budget = budget;
	sp->rng = seed ^ 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&sp->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sp->wake, &ca);
	pthread_condattr_destroy(&ca);
	sp->dir = strdup(dir);
	if (!sp->dir) {
		err = -ENOMEM;
		goto fail;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sp->dirfd < 0) {
		err = -errno;
		goto fail;
	}
	err = load_dir(sp);
	if (err)
		goto fail;
	return sp;
fail:
	ag_spool_close(sp);
	errno = -err;
	return NULL;
}

void ag_spool_close(struct ag_spool *sp)
{
	if (!sp)
		return;
	if (sp->running) {
		pthread_mutex_lock(&sp->lock);
		sp->stop = true;
		pthread_cond_broadcast(&sp->wake);
		pthread_mutex_unlock(&sp->lock);
		pthread_join(sp->thread, NULL);
	}
	for (size_t i = 0; i < sp->nsinks; i++)
		ag_sink_free(sp->sinks[i].sink);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	pthread_cond_destroy(&sp->wake);
	pthread_mutex_destroy(&sp->lock);
	free(sp->e);
	free(sp->dir);
	free(sp);
}

int ag_spool_add_sink(struct ag_spool *sp, struct ag_sink *s)
{
	int err = 0;

	if (!s || !ag_sink_name_ok(s->name) || !s->send)
		return -EINVAL;
	pthread_mutex_lock(&sp->lock);
	for (size_t i = 0; i < sp->nsinks; i++)
		if (!strcmp(sp->sinks[i].sink->name, s->name))
			err = -EEXIST;
	if (!err && sp->nsinks == MAX_SINKS)
		err = -ENOSPC;
	if (!err)
		sp->sinks[sp->nsinks++] = (struct sink_state){.sink = s};
	pthread_mutex_unlock(&sp->lock);
	return err;
}

int ag_spool_put(struct ag_spool *sp, const struct ag_window *w)
{
	unsigned char h[SPOOL_HDR] = {0};
	size_t sl, svl;
	uint64_t size;
	uint32_t crc;
	struct entry e = {0};
	struct xl_out o;
	char *name = NULL, *path = NULL;
	const char *service = w->service ? w->service : "";
	int err;

	if (!ag_sink_name_ok(w->sink) || (!w->pprof && w->pprof_len) ||
	    (!w->folded && w->folded_len))
		return -EINVAL;
	sl = strlen(w->sink);
	svl = strnlen(service, AG_LABEL_MAX);
	if (svl >= AG_LABEL_MAX)
		return -EINVAL;
	size = SPOOL_HDR + sl + svl + (uint64_t)w->pprof_len + w->folded_len;

	memcpy(h, SPOOL_MAGIC, 8);
	put_u32(h + 8, (uint32_t)sl);
	put_u32(h + 12, (uint32_t)svl);
	put_u64(h + 16, w->start);
	put_u64(h + 24, w->end);
	put_u64(h + 32, w->pprof_len);
	put_u64(h + 40, w->folded_len);
	crc = (uint32_t)crc32(0, (const Bytef *)w->sink, (uInt)sl);
	crc = (uint32_t)crc32(crc, (const Bytef *)service, (uInt)svl);
	if (w->pprof_len)
		crc = (uint32_t)crc32_z(crc, w->pprof, w->pprof_len);
	if (w->folded_len)
		crc = (uint32_t)crc32_z(crc, (const Bytef *)w->folded, w->folded_len);
	put_u32(h + 48, crc);

	pthread_mutex_lock(&sp->lock);
	if (size > sp->budget) {
		sp->st.dropped++;
		pthread_mutex_unlock(&sp->lock);
		return -EFBIG;
	}
	/* Make room first: the budget holds even while the new file is being written. */
	while (sp->n && sp->st.bytes + size > sp->budget) {
		entry_remove(sp, 0);
		sp->st.dropped++;
	}
	e.seq = sp->next_seq++;
	pthread_mutex_unlock(&sp->lock);

	snprintf(e.sink, sizeof(e.sink), "%s", w->sink);
	e.bytes = size;
	name = entry_name(&e);
	if (!name || asprintf(&path, "%s/%s", sp->dir, name) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = xl_out_open(&o, path, XL_OUT_SYNC, 0600);
	if (err)
		goto out;
	err = xl_write_all(o.fd, h, sizeof(h));
	if (!err)
		err = xl_write_all(o.fd, w->sink, sl);
	if (!err)
		err = xl_write_all(o.fd, service, svl);
	if (!err && w->pprof_len)
		err = xl_write_all(o.fd, w->pprof, w->pprof_len);
	if (!err && w->folded_len)
		err = xl_write_all(o.fd, w->folded, w->folded_len);
	if (err) {
		xl_out_abort(&o);
		goto out;
	}
	err = xl_out_commit(&o);
	if (err)
		goto out;

	pthread_mutex_lock(&sp->lock);
	/* Others may have put meanwhile: keep the index sorted by seq. */
	err = entry_append(sp, &e);
	if (!err) {
		size_t i = sp->n - 1;

		while (i > 0 && sp->e[i - 1].seq > e.seq) {
			struct entry t = sp->e[i - 1];

			sp->e[i - 1] = sp->e[i];
			sp->e[i] = t;
			i--;
		}
		sp->st.put++;
		while (sp->n > 1 && sp->st.bytes > sp->budget) {
			entry_remove(sp, 0);
			sp->st.dropped++;
		}
		sp->kicked = true;
		pthread_cond_broadcast(&sp->wake);
	} else {
		unlinkat(sp->dirfd, name, 0);
	}
	pthread_mutex_unlock(&sp->lock);
out:
	free(path);
	free(name);
	return err;
}

/* A window file read back whole; -EBADMSG if damaged. */
struct loaded {
	unsigned char *buf;
	char service[AG_LABEL_MAX];
	struct ag_window w;
};

static int load_entry(struct ag_spool *sp, const struct entry *e, struct loaded *l)
{
	char *name = entry_name(e);
	struct stat st;
	uint64_t plen, flen;
	uint32_t sl, svl;
	size_t got = 0;
	int fd, err = 0;

	memset(l, 0, sizeof(*l));
	if (!name)
		return -ENOMEM;
	fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(name);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EBADMSG;
		goto out;
	}
	err = check_header(fd, e, (uint64_t)st.st_size);
	if (err)
		goto out;
	l->buf = malloc((size_t)st.st_size);
	if (!l->buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, l->buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EBADMSG;
			goto out;
		}
		got += (size_t)n;
	}
	sl = get_u32(l->buf + 8);
	svl = get_u32(l->buf + 12);
	plen = get_u64(l->buf + 32);
	flen = get_u64(l->buf + 40);
	if ((uint32_t)crc32_z(0, l->buf + SPOOL_HDR, got - SPOOL_HDR) != get_u32(l->buf + 48)) {
		err = -EBADMSG;
		goto out;
	}
	memcpy(l->service, l->buf + SPOOL_HDR + sl, svl);
	l->service[svl] = '\0';
	l->w.sink = e->sink;
	l->w.service = l->service;
	l->w.start = get_u64(l->buf + 16);
	l->w.end = get_u64(l->buf + 24);
	l->w.pprof = l->buf + SPOOL_HDR + sl + svl;
	l->w.pprof_len = (size_t)plen;
	l->w.folded = flen ? (const char *)l->buf + SPOOL_HDR + sl + svl + plen : NULL;
	l->w.folded_len = (size_t)flen;
out:
	close(fd);
	if (err) {
		free(l->buf);
		l->buf = NULL;
	}
	return err;
}

static ssize_t find_seq(struct ag_spool *sp, uint64_t seq)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->e[i].seq == seq)
			return (ssize_t)i;
	return -1;
}

static void say(struct ag_spool *sp, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct ag_spool *sp, char *why, size_t whylen, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (why && whylen)
		snprintf(why, whylen, "%s", line);
	/*
	 * Called with the lock held; the log may block (a full pipe to
	 * journald), and a put must not wait for it. Callers re-read all state
	 * after this returns.
	 */
	if (sp->log) {
		pthread_mutex_unlock(&sp->lock);
		sp->log(sp->log_ctx, line);
		pthread_mutex_lock(&sp->lock);
	}
}

int ag_spool_pump(struct ag_spool *sp, uint64_t now_ms, uint64_t *next_ms, char *why, size_t whylen)
{
	int done = 0;
	uint64_t next = UINT64_MAX;

	if (why && whylen)
		why[0] = '\0';
	pthread_mutex_lock(&sp->lock);
	for (size_t k = 0; k < sp->nsinks; k++) {
		struct sink_state *ss = &sp->sinks[k];

		while (!ss->busy && ss->next_ms <= now_ms && !sp->stop) {
			struct entry e;
			struct loaded l;
			char reason[256] = "";
			enum ag_send r;
			ssize_t i = -1;
			int err;

			for (size_t j = 0; j < sp->n; j++)
				if (!strcmp(sp->e[j].sink, ss->sink->name)) {
					i = (ssize_t)j;
					break;
				}
			if (i < 0)
				break;
			e = sp->e[i];
			ss->busy = true;
			pthread_mutex_unlock(&sp->lock);

			err = load_entry(sp, &e, &l);
			if (err)
				r = AG_SEND_DROP;
			else
				r = ss->sink->send(ss->sink, &l.w, reason, sizeof(reason));
			free(l.buf);

			pthread_mutex_lock(&sp->lock);
			ss->busy = false;
			i = find_seq(sp, e.seq);
			if (err) {
				if (i >= 0) {
					entry_remove(sp, (size_t)i);
					sp->st.corrupt++;
				}
				say(sp, why, whylen,
				    "%s: removed damaged spool file %016" PRIx64 ": %s", e.sink,
				    e.seq, xl_strerror(err));
				continue;
			}
			if (r == AG_SEND_OK || r == AG_SEND_DROP) {
				if (i >= 0)
					entry_remove(sp, (size_t)i);
				else if (r == AG_SEND_OK && sp->st.dropped)
					/* a put evicted it while it was on its way: not lost after
					 * all */
					sp->st.dropped--;
				ss->attempts = 0;
				ss->next_ms = 0;
				done++;
				if (r == AG_SEND_OK) {
					sp->st.sent++;
				} else {
					sp->st.rejected++;
					say(sp, why, whylen, "%s: dropped window %" PRIu64 ": %s",
					    e.sink, l.w.start, reason);
				}
				continue;
			}
			sp->st.retries++;
			ss->attempts++;
			{
				uint64_t d = ag_backoff_ms(ss->attempts, &sp->rng);

				ss->next_ms = now_ms + d;
				say(sp, why, whylen, "%s: retry %u in %.1f s: %s", e.sink,
				    ss->attempts, (double)d / 1000, reason);
			}
		}
		/*
		 * When this sink is next worth a call: after its backoff, if it has
		 * windows. A sink another pump is sending for is that pump's.
		 */
		for (size_t j = 0; j < sp->n && !ss->busy; j++)
			if (!strcmp(sp->e[j].sink, ss->sink->name)) {
				uint64_t t = ss->next_ms > now_ms ? ss->next_ms : now_ms;

				if (t < next)
					next = t;
				break;
			}
	}
	pthread_mutex_unlock(&sp->lock);
	if (next_ms)
		*next_ms = next;
	return done;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *sender(void *arg)
{
	struct ag_spool *sp = arg;

	for (;;) {
		uint64_t next, now;

		ag_spool_pump(sp, mono_ms(), &next, NULL, 0);
		pthread_mutex_lock(&sp->lock);
		now = mono_ms();
		while (!sp->stop && !sp->kicked && next > now) {
			struct timespec ts;
			uint64_t until = next == UINT64_MAX ? now + 3600000 : next;

			ts.tv_sec = (time_t)(until / 1000);
			ts.tv_nsec = (long)(until % 1000) * 1000000;
			pthread_cond_timedwait(&sp->wake, &sp->lock, &ts);
			now = mono_ms();
		}
		sp->kicked = false;
		if (sp->stop) {
			pthread_mutex_unlock(&sp->lock);
			return NULL;
		}
		pthread_mutex_unlock(&sp->lock);
	}
}

int ag_spool_start(struct ag_spool *sp, void (*log)(void *ctx, const char *line), void *ctx)
{
	int err;

	if (sp->running)
		return -EALREADY;
	sp->log = log;
	sp->log_ctx = ctx;
	err = pthread_create(&sp->thread, NULL, sender, sp);
	if (err)
		return -err;
	sp->running = true;
	return 0;
}

void ag_spool_get_stats(struct ag_spool *sp, struct ag_spool_stats *st)
{
	pthread_mutex_lock(&sp->lock);
	*st = sp->st;
	pthread_mutex_unlock(&sp->lock);
}
