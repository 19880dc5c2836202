// SPDX-License-Identifier: MIT
/*
 * The agent's Prometheus endpoint and its per-window log line.
 *
 * The server is deliberately tiny: one thread, poll() on the listening
 * socket and a stop pipe, one connection at a time, a request of at most
 * 4 KiB that must arrive within 2 s, HTTP/1.0 with the connection closed
 * after each answer. A slow or hostile client can delay a scrape by 2 s
 * and nothing more; it cannot grow memory or stall the agent's main loop,
 * which only ever takes the series lock to set a value.
 *
 * Series live in a fixed table (AG_METRICS_MAX) in the order first set, so
 * the output is stable between scrapes; memory is bounded by the table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

#define NAME_MAX_LEN   96
#define LABELS_MAX_LEN 256
#define HELP_MAX_LEN   160
#define REQ_MAX	       4096
#define REQ_TIMEOUT_MS 2000

struct series {
	char name[NAME_MAX_LEN];
	char labels[LABELS_MAX_LEN];
	double value;
};

struct desc {
	char name[NAME_MAX_LEN];
	char type[16];
	char help[HELP_MAX_LEN];
};

struct ag_metrics {
	pthread_mutex_t lock;
	struct series s[AG_METRICS_MAX];
	size_t n;
	struct desc d[AG_METRICS_MAX];
	size_t nd;
	int lfd, stop[2], port;
	pthread_t thread;
	bool running;
};

static bool name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;

	if (len == 0 || len >= NAME_MAX_LEN || (n[0] >= '0' && n[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ':'))
			return false;
	}
	return true;
}

/* key="value"[,key="value"…], values without newlines; escapes are the caller's. */
static bool labels_ok(const char *l)
{
	size_t len = l ? strlen(l) : 0;

	if (len >= LABELS_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (l[i] == '\n' || l[i] == '{' || l[i] == '}')
			return false;
	return true;
}

static int update(struct ag_metrics *m, const char *name, const char *labels, double v, bool add)
{
	size_t i;
	int err = 0;

	if (!labels)
		labels = "";
	if (!name_ok(name) || !labels_ok(labels))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++)
		if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels))
			break;
	if (i == m->n) {
		if (m->n == AG_METRICS_MAX) {
			err = -ENOSPC;
			goto out;
		}
		snprintf(m->s[i].name, sizeof(m->s[i].name), "%s", name);
		snprintf(m->s[i].labels, sizeof(m->s[i].labels), "%s", labels);
		m->s[i].value = 0;
		m->n++;
	}
	m->s[i].value = add ? m->s[i].value + v : v;
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

int ag_metrics_set(struct ag_metrics *m, const char *name, const char *labels, double value)
{
	return update(m, name, labels, value, false);
}

int ag_metrics_add(struct ag_metrics *m, const char *name, const char *labels, double value)
{
	return update(m, name, labels, value, true);
}

int ag_metrics_describe(struct ag_metrics *m, const char *name, const char *type, const char *help)
{
	int err = 0;

	if (!name_ok(name) || !type || (strcmp(type, "counter") && strcmp(type, "gauge")) ||
	    !help || strchr(help, '\n'))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nd; i++)
		if (!strcmp(m->d[i].name, name))
			goto out;
	if (m->nd == AG_METRICS_MAX) {
		err = -ENOSPC;
		goto out;
	}
	snprintf(m->d[m->nd].name, sizeof(m->d[m->nd].name), "%s", name);
	snprintf(m->d[m->nd].type, sizeof(m->d[m->nd].type), "%s", type);
	snprintf(m->d[m->nd].help, sizeof(m->d[m->nd].help), "%s", help);
	m->nd++;
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

int ag_metrics_render(struct ag_metrics *m, char *buf, size_t len)
{
	size_t off = 0;
	int err = 0;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n && !err; i++) {
		bool first = true;
		int w;

		/* A name's HELP and TYPE once, before its first series; series of a name are
		 * grouped. */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->s[j].name, m->s[i].name))
				first = false;
		if (!first)
			continue;
		for (size_t j = 0; j < m->nd; j++)
			if (!strcmp(m->d[j].name, m->s[i].name)) {
				w = snprintf(buf + off, len - off, "# HELP %s %s\n# TYPE %s %s\n",
					     m->d[j].name, m->d[j].help, m->d[j].name,
					     m->d[j].type);
				if (w < 0 || (size_t)w >= len - off)
					err = -ENOSPC;
				else
					off += (size_t)w;
			}
		for (size_t j = i; j < m->n && !err; j++) {
			if (strcmp(m->s[j].name, m->s[i].name))
				continue;
			w = snprintf(buf + off, len - off, "%s%s%s%s %.17g\n", m->s[j].name,
				     m->s[j].labels[0] ? "{" : "", m->s[j].labels,
				     m->s[j].labels[0] ? "}" : "", m->s[j].value);
			if (w < 0 || (size_t)w >= len - off)
				err = -ENOSPC;
			else
				off += (size_t)w;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (err) {
		buf[0] = '\0';
		return err;
	}
	return (int)off;
}

static long ms_left(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return REQ_TIMEOUT_MS -
	       ((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void reply(int fd, const char *status, const char *body, size_t blen)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, blen);
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	size_t off = 0;

	/* Writes are bounded by the same 2 s: a client that stops reading loses its answer. */
	while (off < (size_t)n + blen) {
		const char *src = off < (size_t)n ? head + off : body + (off - (size_t)n);
		size_t left = off < (size_t)n ? (size_t)n - off : (size_t)n + blen - off;
		ssize_t w;

		if (poll(&p, 1, REQ_TIMEOUT_MS) <= 0)
			return;
		w = send(fd, src, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void serve_one(struct ag_metrics *m, int fd)
{
	char req[REQ_MAX + 1];
	size_t got = 0;
	struct timespec t0;
	char *body = NULL;
	size_t cap = 64 * 1024;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = ms_left(&t0);
		ssize_t r;

		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
		if (got == REQ_MAX) {
			reply(fd, "431 Request Header Fields Too Large", "", 0);
			return;
		}
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return; /* too slow: close without an answer */
		r = recv(fd, req + got, REQ_MAX - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	if (strncmp(req, "GET ", 4)) {
		reply(fd, "400 Bad Request", "", 0);
		return;
	}
	if (strncmp(req + 4, "/metrics ", 9) && strncmp(req + 4, "/metrics?", 9)) {
		reply(fd, "404 Not Found", "not found\n", 10);
		return;
	}
	/* The table is bounded, so its text is: grow to the size render asks for, at most a few
	 * times. */
	for (int tries = 0; tries < 4; tries++) {
		char *nb = realloc(body, cap);

		if (!nb)
			break;
		body = nb;
		n = ag_metrics_render(m, body, cap);
		if (n >= 0) {
			reply(fd, "200 OK", body, (size_t)n);
			free(body);
			return;
		}
		cap *= 4;
	}
	free(body);
	reply(fd, "500 Internal Server Error", "", 0);
}

static void *server(void *arg)
{
	struct ag_metrics *m = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = m->lfd, .events = POLLIN},
				      {.fd = m->stop[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
}

/* "IP:PORT" or "[IP6]:PORT" into a sockaddr; 0 or -EINVAL. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl, bool *loop)
{
	char host[64];
	const char *colon, *h = addr;
	size_t hl;
	char *end;
	unsigned long port;

	if (!addr)
		return -EINVAL;
	colon = strrchr(addr, ':');
	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (hl < 2 || addr[hl - 1] != ']')
			return -EINVAL;
		h = addr + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*loop = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		*sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*loop = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		*sl = sizeof(*s4);
	}
	return 0;
}

struct ag_metrics *ag_metrics_new(const char *addr, bool allow_remote)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool loop = false;
	struct ag_metrics *m;
	int err, one = 1;

	err = parse_addr(addr, &ss, &sl, &loop);
	if (!err && !loop && !allow_remote)
		err = -EPERM;
	if (err) {
		errno = -err;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->stop[0] = m->stop[1] = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->lfd < 0)
		goto fail_errno;
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&ss, sl) || listen(m->lfd, 8) ||
	    pipe2(m->stop, O_CLOEXEC))
		goto fail_errno;
	if (getsockname(m->lfd, (struct sockaddr *)&ss, &sl))
		goto fail_errno;
	m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	err = pthread_create(&m->thread, NULL, server, m);
	if (err) {
		errno = err;
		goto fail;
	}
	m->running = true;
	return m;
fail_errno:
	err = errno;
fail:
	ag_metrics_free(m);
	errno = err ? err : errno;
	return NULL;
}

void ag_metrics_free(struct ag_metrics *m)
{
	if (!m)
		return;
	if (m->running) {
		if (write(m->stop[1], "x", 1) < 0) {
			/* the pipe is ours and empty: a write cannot fail short of a bug */
		}
		pthread_join(m->thread, NULL);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->stop[0] >= 0)
		close(m->stop[0]);
	if (m->stop[1] >= 0)
		close(m->stop[1]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int ag_metrics_port(const struct ag_metrics *m)
{
	return m->port;
}

int ag_window_log_format(char *buf, size_t len, const struct ag_window_stats *st)
{
	char when[32];
	time_t t = (time_t)st->start;
	struct tm tm;
	double pct = st->samples ? 100.0 * (double)st->complete / (double)st->samples : 100.0;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return snprintf(buf, len,
			"window %s: %llu samples, %llu lost, %llu processes, %llu stacks, %.1f%% "
			"complete, cpu %llu ms, rss %.1f MiB, sent %llu bytes, %llu sink errors",
			when, (unsigned long long)st->samples, (unsigned long long)st->lost,
			(unsigned long long)st->processes, (unsigned long long)st->stacks, pct,
			(unsigned long long)st->cpu_ms, (double)st->rss_bytes / (1 << 20),
			(unsigned long long)st->bytes_sent, (unsigned long long)st->sink_errors);
}
