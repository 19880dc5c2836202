// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/: cgroup lines as the runtimes write them, the
 * spool's bound, order, backoff and restart, the push sink's answer
 * mapping against a one-shot HTTP server in a thread, the output
 * directory's names and retention, the clickhouse sink's rows and answers
 * against a fake server (tests/unit/fake_ch.c), and the metrics endpoint.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_int.h"
#include "report/report.h"
#include "tests/unit/fake_ch.h"

#define ID64 "4f1b0a8d9c2e3f40112233445566778899aabbccddeeff00112233445566eeff"

/* ---- labels ------------------------------------------------------------ */

static const struct {
	const char *what, *cgroup;
	const char *container, *runtime, *pod, *service;
} label_cases[] = {
    {"v2 systemd service", "0::/system.slice/nginx.service\n", "", "", "", "nginx.service"},
    {"v2 user session scope", "0::/user.slice/user-1000.slice/session-3.scope\n", "", "", "",
     "session-3.scope"},
    {"v2 service inside a user manager",
     "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", "", "", "",
     "foo.service"},
    {"v2 docker, systemd driver", "0::/system.slice/docker-" ID64 ".scope\n", ID64, "docker", "",
     "docker-4f1b0a8d9c2e"},
    {"v1 docker, cgroupfs driver",
     "12:pids:/docker/" ID64 "\n11:memory:/docker/" ID64 "\n1:name=systemd:/docker/" ID64 "\n",
     ID64, "docker", "", "docker-4f1b0a8d9c2e"},
    {"v2 kubepods systemd driver, containerd",
     "0::/kubepods.slice/kubepods-burstable.slice/"
     "kubepods-burstable-pod0f3e5a1c_2b4d_4e6f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" ID64
     ".scope\n",
     ID64, "containerd", "0f3e5a1c-2b4d-4e6f-8a9b-0c1d2e3f4a5b", "containerd-4f1b0a8d9c2e"},
    {"v2 kubepods besteffort, cri-o",
     "0::/kubepods.slice/kubepods-besteffort.slice/"
     "kubepods-besteffort-pod11112222_3333_4444_5555_666677778888.slice/crio-" ID64 ".scope\n",
     ID64, "crio", "11112222-3333-4444-5555-666677778888", "crio-4f1b0a8d9c2e"},
    {"v1 kubepods cgroupfs driver, guaranteed pod",
     "4:cpu,cpuacct:/kubepods/pod0f3e5a1c-2b4d-4e6f-8a9b-0c1d2e3f4a5b/" ID64 "\n", ID64, "",
     "0f3e5a1c-2b4d-4e6f-8a9b-0c1d2e3f4a5b", "4f1b0a8d9c2e"},
    {"v1 kubepods cgroupfs driver, burstable",
     "1:name=systemd:/kubepods/burstable/pod0f3e5a1c-2b4d-4e6f-8a9b-0c1d2e3f4a5b/" ID64 "\n", ID64,
     "", "0f3e5a1c-2b4d-4e6f-8a9b-0c1d2e3f4a5b", "4f1b0a8d9c2e"},
    {"podman, rootless",
     "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64
     ".scope/container\n",
     ID64, "podman", "", "user@1000.service"},
    {"podman, root", "0::/machine.slice/libpod-" ID64 ".scope/container\n", ID64, "podman", "",
     "podman-4f1b0a8d9c2e"},
    {"conmon is not the container", "0::/machine.slice/libpod-conmon-" ID64 ".scope\n", "", "", "",
     "libpod-conmon-" ID64 ".scope"},
    {"hybrid: empty unified tree, v1 systemd wins",
     "12:memory:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n0::/\n", "",
     "", "", "cron.service"},
    {"init", "0::/init.scope\n", "", "", "", "init.scope"},
    {"inside a container namespace: just /", "0::/\n", "", "", "", ""},
    {"no newline at the end", "0::/system.slice/sshd.service", "", "", "", "sshd.service"},
    {"uppercase hex is not a runtime's id",
     "0::/system.slice/"
     "docker-4F1B0A8D9C2E3F40112233445566778899AABBCCDDEEFF00112233445566EEFF.scope\n",
     "", "", "", "docker-4F1B0A8D9C2E3F40112233445566778899AABBCCDDEEFF00112233445566EEFF.scope"},
    {"v2 /docker/<id> (cgroupfs driver in a v2 tree)", "0::/docker/" ID64 "\n", ID64, "docker", "",
     "docker-4f1b0a8d9c2e"},
    {"a service name of 200 bytes is refused, not cut",
     "0::/system.slice/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "service\n",
     "", "", "", ""},
};

static void test_labels_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
		struct ag_labels l;
		const char *c = label_cases[i].cgroup;

		if (ag_labels_parse_cgroup(c, strlen(c), &l))
			fail_msg("%s: refused", label_cases[i].what);
		if (strcmp(l.container, label_cases[i].container) ||
		    strcmp(l.runtime, label_cases[i].runtime) ||
		    strcmp(l.pod, label_cases[i].pod) || strcmp(l.service, label_cases[i].service))
			fail_msg("%s: got container '%s' runtime '%s' pod '%s' service '%s'",
				 label_cases[i].what, l.container, l.runtime, l.pod, l.service);
	}
}

static void test_labels_short_id(void **state)
{
	/* 63 hex digits are no runtime's id: /docker/<63 hex> gives no container. */
	char buf[128];
	struct ag_labels l;

	(void)state;
	snprintf(buf, sizeof(buf), "0::/docker/%.63s\n", ID64);
	assert_int_equal(ag_labels_parse_cgroup(buf, strlen(buf), &l), 0);
	assert_string_equal(l.container, "");
	assert_string_equal(l.runtime, "");
}

static void test_labels_bad(void **state)
{
	struct ag_labels l;
	char big[300];

	(void)state;
	assert_int_equal(ag_labels_parse_cgroup("", 0, &l), -EINVAL);
	assert_int_equal(ag_labels_parse_cgroup("garbage\n", 8, &l), -EINVAL);
	assert_int_equal(ag_labels_parse_cgroup(":x\n", 3, &l), -EINVAL);
	/* Lines but no path worth reading: nothing, and no arithmetic on a NULL path (UBSan). */
	assert_int_equal(ag_labels_parse_cgroup("1:cpu:/\n", 8, &l), 0);
	assert_string_equal(l.service, "");
	/* The length is the caller's: a NUL or bytes past len are never read as text. */
	assert_int_equal(ag_labels_parse_cgroup("0::/system.slice/a.service", 4, &l), 0);
	assert_string_equal(l.service, "");
	/* A pod uid longer than a label: refused, not cut. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "0::/kubepods/pod", 16);
	assert_int_equal(ag_labels_parse_cgroup(big, sizeof(big), &l), 0);
	assert_string_equal(l.pod, "");
}

static void test_labels_self(void **state)
{
	struct ag_labels l;
	char host[256];

	(void)state;
	assert_int_equal(ag_labels_read(getpid(), &l), 0);
	assert_int_equal(ag_labels_read(-1, &l) < 0, 1);
	assert_int_equal(ag_hostname(host, sizeof(host)), 0);
	assert_true(host[0] != '\0');
	assert_int_equal(ag_hostname(host, 1), -ENAMETOOLONG);
}

/* ---- backoff ------------------------------------------------------------ */

static void test_backoff(void **state)
{
	uint64_t rng = 42, d = AG_RETRY_BASE_MS;

	(void)state;
	for (unsigned a = 1; a <= 20; a++) {
		for (int k = 0; k < 50; k++) {
			uint64_t b = ag_backoff_ms(a, &rng);

			if (b < d / 2 || b > d)
				fail_msg("attempt %u: %llu not in [%llu, %llu]", a,
					 (unsigned long long)b, (unsigned long long)d / 2,
					 (unsigned long long)d);
		}
		d = d * 2 > AG_RETRY_CAP_MS ? AG_RETRY_CAP_MS : d * 2;
	}
	assert_int_equal(d, AG_RETRY_CAP_MS);
}

/* ---- spool ------------------------------------------------------------- */

struct fake {
	struct ag_sink sink;
	enum ag_send answer;
	unsigned calls;
	uint64_t seen[64]; /* window starts, in send order */
	size_t nseen;
	char last_payload[64];
};

static enum ag_send fake_send(struct ag_sink *s, const struct ag_window *w, char *why,
			      size_t whylen)
{
	struct fake *f = s->ctx;

	f->calls++;
	if (f->answer == AG_SEND_OK && f->nseen < 64)
		f->seen[f->nseen++] = w->start;
	snprintf(f->last_payload, sizeof(f->last_payload), "%.*s", (int)w->pprof_len,
		 (const char *)w->pprof);
	snprintf(why, whylen, "fake says %d", (int)f->answer);
	return f->answer;
}

static void fake_free(struct ag_sink *s)
{
	(void)s; /* the test owns it */
}

static void fake_init(struct fake *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->sink = (struct ag_sink){.name = name, .send = fake_send, .free = fake_free, .ctx = f};
}

struct sfx {
	char dir[64];
};

static int spool_setup(void **state)
{
	struct sfx *x = calloc(1, sizeof(*x));

	snprintf(x->dir, sizeof(x->dir), "/tmp/test_agent.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	*state = x;
	return 0;
}

static int spool_teardown(void **state)
{
	struct sfx *x = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static int put(struct ag_spool *sp, const char *sink, uint64_t start, const char *payload)
{
	struct ag_window w = {.sink = sink,
			      .service = "svc",
			      .start = start,
			      .end = start + 10,
			      .pprof = payload,
			      .pprof_len = strlen(payload)};

	return ag_spool_put(sp, &w);
}

static void test_spool_order_and_backoff(void **state)
{
	struct sfx *x = *state;
	char dir[128], why[256];
	struct fake a, b;
	struct ag_spool_stats st;
	uint64_t next;
	struct ag_spool *sp;
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/spool", x->dir);
	sp = ag_spool_open(dir, 1 << 20, 1);
	assert_non_null(sp);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	fake_init(&a, "a");
	fake_init(&b, "b");
	assert_int_equal(ag_spool_add_sink(sp, &a.sink), 0);
	assert_int_equal(ag_spool_add_sink(sp, &b.sink), 0);
	assert_int_equal(ag_spool_add_sink(sp, &a.sink), -EEXIST);

	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(put(sp, "a", 100 + i, "payload-a"), 0);
	assert_int_equal(put(sp, "b", 200, "payload-b"), 0);
	assert_int_equal(put(sp, "nosuch", 300, "x"), 0); /* kept for a sink not added */
	assert_int_equal(put(sp, "bad/name", 300, "x"), -EINVAL);

	/* a is down: one try, then it waits; b is not held up by a. */
	a.answer = AG_SEND_RETRY;
	assert_int_equal(ag_spool_pump(sp, 1000, &next, why, sizeof(why)), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.nseen, 1);
	assert_int_equal(b.seen[0], 200);
	assert_true(next >= 1000 + AG_RETRY_BASE_MS / 2 && next <= 1000 + AG_RETRY_BASE_MS);
	assert_non_null(strstr(why, "a: retry 1 in "));
	assert_non_null(strstr(why, "fake says 1"));
	/* Before the backoff ends nothing is tried. */
	assert_int_equal(ag_spool_pump(sp, next - 1, NULL, NULL, 0), 0);
	assert_int_equal(a.calls, 1);
	/* The second delay is longer. */
	assert_int_equal(ag_spool_pump(sp, next, &next, NULL, 0), 0);
	assert_int_equal(a.calls, 2);
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.retries, 2);

	/* a comes back: its windows go oldest first, payload intact. */
	a.answer = AG_SEND_OK;
	assert_int_equal(ag_spool_pump(sp, next, &next, NULL, 0), 3);
	assert_int_equal(a.nseen, 3);
	assert_int_equal(a.seen[0], 100);
	assert_int_equal(a.seen[1], 101);
	assert_int_equal(a.seen[2], 102);
	assert_string_equal(a.last_payload, "payload-a");
	assert_int_equal(next, UINT64_MAX); /* only the orphan is left, and nobody sends it */
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.windows, 1);

	/* A refusal is final and counted. */
	assert_int_equal(put(sp, "b", 201, "payload-b"), 0);
	b.answer = AG_SEND_DROP;
	assert_int_equal(
	    ag_spool_pump(sp, next == UINT64_MAX ? 5000 : next, NULL, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "b: dropped window 201: fake says 2"));
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.windows, 1);
	ag_spool_close(sp);
}

static void test_spool_bound_and_restart(void **state)
{
	struct sfx *x = *state;
	char dir[128], big[600], path[256];
	struct ag_spool_stats st;
	struct ag_spool *sp;
	struct fake a;
	int fd;

	snprintf(dir, sizeof(dir), "%s/spool", x->dir);
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* Each window file is 56 + 1 + 3 + 599 = 659 bytes: a 2000-byte budget holds 3. */
	sp = ag_spool_open(dir, 2000, 1);
	assert_non_null(sp);
	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(put(sp, "a", 100 + i, big), 0);
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.windows, 3);
	assert_int_equal(st.dropped, 2);
	assert_true(st.bytes <= 2000);
	/* One window larger than the whole budget: refused and counted, the rest kept. */
	{
		char *huge = malloc(3000);

		memset(huge, 'h', 2999);
		huge[2999] = '\0';
		assert_int_equal(put(sp, "a", 999, huge), -EFBIG);
		free(huge);
	}
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.windows, 3);
	assert_int_equal(st.dropped, 3);
	ag_spool_close(sp);

	/* Debris a crash leaves: a temporary file, and a damaged window. */
	snprintf(path, sizeof(path), "%s/.00000000000000ff-a.win.1234abcd", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/00000000000000fe-a.win", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "XPSPOOL1 short", 14), 14);
	close(fd);

	/* Restart: the three newest come back and go out oldest first. */
	sp = ag_spool_open(dir, 2000, 2);
	assert_non_null(sp);
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.recovered, 3);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/.00000000000000ff-a.win.1234abcd", dir);
	assert_int_equal(access(path, F_OK), -1);
	fake_init(&a, "a");
	assert_int_equal(ag_spool_add_sink(sp, &a.sink), 0);
	assert_int_equal(ag_spool_pump(sp, 0, NULL, NULL, 0), 3);
	assert_int_equal(a.nseen, 3);
	assert_int_equal(a.seen[0], 102);
	assert_int_equal(a.seen[2], 104);
	/* A new window after a restart sorts after the recovered ones. */
	assert_int_equal(put(sp, "a", 105, "z"), 0);
	assert_int_equal(ag_spool_pump(sp, 0, NULL, NULL, 0), 1);
	assert_int_equal(a.seen[3], 105);
	ag_spool_close(sp);

	/* A smaller budget at the next start drops the oldest at once. */
	sp = ag_spool_open(dir, 2000, 3);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(put(sp, "a", 200 + i, big), 0);
	ag_spool_close(sp);
	sp = ag_spool_open(dir, 1000, 3);
	assert_non_null(sp);
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.windows, 1);
	assert_int_equal(st.dropped, 2);
	ag_spool_close(sp);
}

static void test_spool_damaged_payload(void **state)
{
	struct sfx *x = *state;
	char dir[128], path[256], why[256];
	struct ag_spool_stats st;
	struct ag_spool *sp;
	struct fake a;
	int fd;

	snprintf(dir, sizeof(dir), "%s/spool", x->dir);
	sp = ag_spool_open(dir, 1 << 20, 1);
	assert_int_equal(put(sp, "a", 100, "payload"), 0);
	ag_spool_close(sp);
	/* Flip a payload byte: the header still fits, the checksum does not. */
	snprintf(path, sizeof(path), "%s/0000000000000000-a.win", dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "P", 1, 56 + 1 + 3), 1);
	close(fd);
	sp = ag_spool_open(dir, 1 << 20, 1);
	fake_init(&a, "a");
	assert_int_equal(ag_spool_add_sink(sp, &a.sink), 0);
	ag_spool_pump(sp, 0, NULL, why, sizeof(why));
	assert_int_equal(a.calls, 0);
	assert_non_null(strstr(why, "damaged"));
	ag_spool_get_stats(sp, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.windows, 0);
	ag_spool_close(sp);
}

static void test_spool_refuses(void **state)
{
	struct sfx *x = *state;
	char dir[128], link[128];

	snprintf(dir, sizeof(dir), "%s/real", x->dir);
	snprintf(link, sizeof(link), "%s/link", x->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(dir, link), 0);
	assert_null(ag_spool_open(link, 1 << 20, 1));
	assert_int_equal(errno, ELOOP);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_null(ag_spool_open(dir, 1 << 20, 1));
	assert_int_equal(errno, EACCES);
	assert_null(ag_spool_open(dir, 0, 1));
	assert_int_equal(errno, EINVAL);
}

/*
 * A put that evicts the window a sink is sending (the budget is full and it
 * is the oldest): if the send then succeeds, the window was not lost, so
 * it counts as sent and not as dropped.
 */
struct evict_fake {
	struct fake f;
	struct ag_spool *sp;
};

static enum ag_send evict_send(struct ag_sink *s, const struct ag_window *w, char *why,
			       size_t whylen)
{
	struct evict_fake *e = (struct evict_fake *)s->ctx;
	static char big[900];

	memset(big, 'q', sizeof(big) - 1);
	if (e->f.calls == 0)
		assert_int_equal(put(e->sp, "b", 500, big), 0);
	s->ctx = &e->f;
	return fake_send(s, w, why, whylen);
}

static void test_spool_evicted_in_flight(void **state)
{
	struct sfx *x = *state;
	char dir[128], mid[700];
	struct ag_spool_stats st;
	struct evict_fake e;

	snprintf(dir, sizeof(dir), "%s/spool", x->dir);
	memset(mid, 'm', sizeof(mid) - 1);
	mid[sizeof(mid) - 1] = '\0';
	e.sp = ag_spool_open(dir, 1700, 1);
	assert_non_null(e.sp);
	fake_init(&e.f, "a");
	e.f.sink.send = evict_send;
	e.f.sink.ctx = &e;
	assert_int_equal(ag_spool_add_sink(e.sp, &e.f.sink), 0);
	assert_int_equal(put(e.sp, "a", 100, mid), 0);
	assert_int_equal(ag_spool_pump(e.sp, 0, NULL, NULL, 0), 1);
	ag_spool_get_stats(e.sp, &st);
	assert_int_equal(e.f.nseen, 1);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.windows, 1); /* b's window, waiting for a sink */
	ag_spool_close(e.sp);
}

/* The sender thread delivers without anyone calling the pump. */
static void test_spool_thread(void **state)
{
	struct sfx *x = *state;
	char dir[128];
	struct ag_spool_stats st;
	struct ag_spool *sp;
	struct fake a;

	snprintf(dir, sizeof(dir), "%s/spool", x->dir);
	sp = ag_spool_open(dir, 1 << 20, 1);
	fake_init(&a, "a");
	assert_int_equal(ag_spool_add_sink(sp, &a.sink), 0);
	assert_int_equal(ag_spool_start(sp, NULL, NULL), 0);
	assert_int_equal(ag_spool_start(sp, NULL, NULL), -EALREADY);
	assert_int_equal(put(sp, "a", 1, "x"), 0);
	for (int i = 0; i < 200; i++) {
		ag_spool_get_stats(sp, &st);
		if (st.sent == 1)
			break;
		usleep(10000);
	}
	assert_int_equal(st.sent, 1);
	ag_spool_close(sp);
}

/* ---- push sink --------------------------------------------------------- */

struct http1 {
	int lfd, port;
	const char *answer; /* whole response, or NULL: hold the request unanswered */
	char request[8192];
	pthread_t t;
};

static void *http1_serve(void *arg)
{
	struct http1 *h = arg;
	int fd = accept(h->lfd, NULL, NULL);
	size_t got = 0;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = recv(fd, h->request + got, sizeof(h->request) - 1 - got, 0);
		char *end;

		if (n <= 0)
			break;
		got += (size_t)n;
		h->request[got] = '\0';
		end = strstr(h->request, "\r\n\r\n");
		if (end) {
			const char *cl = strstr(h->request, "Content-Length: ");
			size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;

			if (got >= (size_t)(end + 4 - h->request) + want)
				break;
		}
	}
	if (h->answer)
		assert_int_equal(send(fd, h->answer, strlen(h->answer), MSG_NOSIGNAL),
				 (ssize_t)strlen(h->answer));
	else
		usleep(800000);
	close(fd);
	return NULL;
}

static void http1_start(struct http1 *h, const char *answer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(a);

	memset(h->request, 0, sizeof(h->request));
	h->answer = answer;
	h->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(h->lfd >= 0);
	assert_int_equal(bind(h->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(h->lfd, 1), 0);
	assert_int_equal(getsockname(h->lfd, (struct sockaddr *)&a, &sl), 0);
	h->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&h->t, NULL, http1_serve, h), 0);
}

static void http1_stop(struct http1 *h)
{
	pthread_join(h->t, NULL);
	close(h->lfd);
}

static void test_push_answers(void **state)
{
	static const struct {
		const char *answer;
		enum ag_send want;
		const char *why;
	} cases[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", AG_SEND_OK, ""},
	    {"HTTP/1.1 204 No Content\r\n\r\n", AG_SEND_OK, ""},
	    {"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad profile", AG_SEND_DROP,
	     "http 400: bad profile"},
	    {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", AG_SEND_DROP, "http 401"},
	    {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", AG_SEND_DROP, "http 404"},
	    {"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n", AG_SEND_RETRY,
	     "http 408"},
	    {"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n", AG_SEND_RETRY,
	     "http 429"},
	    {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", AG_SEND_RETRY,
	     "http 500"},
	    {"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", AG_SEND_RETRY,
	     "http 503: busy"},
	    {"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
	     AG_SEND_DROP, "http 302"},
	    {NULL, AG_SEND_RETRY, "Timeout was reached"},
	};
	struct ag_window w = {.sink = "push",
			      .service = "api.service",
			      .start = 1765062600,
			      .end = 1765062610,
			      .pprof = "\x1f\x8b-body",
			      .pprof_len = 7};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http1 h;
		char url[64], why[256] = "";
		struct ag_sink *s;
		enum ag_send r;

		http1_start(&h, cases[i].answer);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/", h.port);
		{
			struct ag_push_opts o = {.url = url,
						 .app = "shop.cpu",
						 .host = "web-1",
						 .org_id = "team-a",
						 .token = "tok",
						 .timeout_ms = 300};

			s = ag_sink_push_new(&o);
		}
		assert_non_null(s);
		r = s->send(s, &w, why, sizeof(why));
		http1_stop(&h);
		if (r != cases[i].want || !strstr(why, cases[i].why))
			fail_msg("case %zu: got %d '%s', want %d '%s'", i, (int)r, why,
				 (int)cases[i].want, cases[i].why);
		if (i == 0) {
			assert_non_null(strstr(h.request,
					       "POST /ingest?name=shop.cpu%7Bhost%3Dweb-1%"
					       "2Cservice%3Dapi.service%7D&from=1765062600"
					       "&until=1765062610&format=pprof&spyName=xprof "
					       "HTTP/1.1\r\n"));
			assert_non_null(strstr(h.request, "\r\nX-Scope-OrgID: team-a\r\n"));
			assert_non_null(strstr(h.request, "\r\nAuthorization: Bearer tok\r\n"));
			assert_non_null(
			    strstr(h.request, "\r\nContent-Type: application/octet-stream\r\n"));
			assert_non_null(strstr(h.request, "\r\n\r\n\x1f\x8b-body"));
		}
		ag_sink_free(s);
	}
}

static void test_push_refused_and_opts(void **state)
{
	int port;
	char url[64], why[256];
	struct ag_sink *s;
	struct ag_window w = {.sink = "push", .start = 1, .end = 2, .pprof = "x", .pprof_len = 1};
	struct ag_push_opts o = {0};

	(void)state;
	{
		/* A port nobody listens on: bound, noted, closed. */
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t sl = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
		port = ntohs(a.sin_port);
		close(fd);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	o.url = url;
	s = ag_sink_push_new(&o);
	assert_non_null(s);
	assert_string_equal(s->name, "push");
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_RETRY);
	assert_non_null(strstr(why, "connect"));
	ag_sink_free(s);

	o.url = "ftp://x/";
	assert_null(ag_sink_push_new(&o));
	assert_int_equal(errno, EINVAL);
	o.url = "http://x/";
	o.token = "a\r\nInjected: 1";
	assert_null(ag_sink_push_new(&o));
	assert_int_equal(errno, EINVAL);
}

static void test_push_url(void **state)
{
	struct ag_push_opts o = {.url = "https://p.example/base//", .sample_rate = 19};
	struct ag_window w = {.service = "odd,name{x}=y", .start = 10, .end = 20};
	char *u = ag_push_url(&o, &w);

	(void)state;
	assert_string_equal(u,
			    "https://p.example/base/ingest?name=xprof%7Bservice%3Dodd_name_x__y%7D"
			    "&from=10&until=20&format=pprof&spyName=xprof&sampleRate=19");
	free(u);
	w.service = NULL;
	u = ag_push_url(&o, &w);
	assert_non_null(strstr(u, "name=xprof%7B%7D&"));
	free(u);
}

/* ---- output directory -------------------------------------------------- */

static int count_files(const char *dir, const char *suffix)
{
	char cmd[256], buf[32];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c -- '%s$'", dir, suffix);
	p = popen(cmd, "r");
	if (p && fgets(buf, sizeof(buf), p))
		n = atoi(buf);
	if (p)
		pclose(p);
	return n;
}

static void test_dir_sink(void **state)
{
	struct sfx *x = *state;
	char dir[128], path[256], why[256], other[256];
	struct ag_dir_opts o = {.host = "web/1", .max_size = 2500};
	struct ag_sink *s;
	struct stat st;
	static char body[1000];
	struct ag_window w = {.sink = "dir",
			      .service = "api.service",
			      .pprof = body,
			      .pprof_len = sizeof(body),
			      .folded = "a;b 1\n",
			      .folded_len = 6};
	int fd;

	memset(body, 'z', sizeof(body));
	snprintf(dir, sizeof(dir), "%s/out", x->dir);
	o.dir = dir;
	s = ag_sink_dir_new(&o);
	assert_non_null(s);
	/* A user's own file in the directory is never touched by retention. */
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	fd = open(other, O_WRONLY | O_CREAT, 0600);
	close(fd);
	/* 2026-12-06 23:10:00 UTC and the two windows after it. */
	for (uint64_t i = 0; i < 3; i++) {
		w.start = 1796598600 + 10 * i;
		w.end = w.start + 10;
		assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	}
	snprintf(path, sizeof(path), "%s/20261206T231020Z-web_1-api.service.pb.gz", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1000);
	snprintf(path, sizeof(path), "%s/20261206T231020Z-web_1-api.service.folded", dir);
	assert_int_equal(stat(path, &st), 0);
	/* 3 windows of 1006 bytes, max 2500: the oldest window went, both of its files. */
	snprintf(path, sizeof(path), "%s/20261206T231000Z-web_1-api.service.pb.gz", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_files(dir, ".pb.gz"), 2);
	assert_int_equal(count_files(dir, ".folded"), 2);
	assert_int_equal(ag_sink_dir_removed(s), 2);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(count_files(dir, "\\.[0-9a-f]\\{8\\}"), 0); /* no temporary left */
	ag_sink_free(s);

	/*
	 * max_age a day: a window from 2020 is old, but the one just written
	 * stays; the next write removes it and keeps the fresh 2026 ones.
	 */
	o.max_size = 0;
	o.max_age = 86400;
	s = ag_sink_dir_new(&o);
	w.start = 1577836800; /* 2020-01-01 */
	w.folded = NULL;
	w.folded_len = 0;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	snprintf(path, sizeof(path), "%s/20200101T000000Z-web_1-api.service.pb.gz", dir);
	assert_int_equal(access(path, F_OK), 0);
	w.start += 86400;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/20200102T000000Z-web_1-api.service.pb.gz", dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(count_files(dir, ".pb.gz"), 3);
	assert_int_equal(count_files(dir, ".folded"), 2);
	assert_int_equal(ag_sink_dir_removed(s), 1);
	ag_sink_free(s);

	/* A directory that vanished: a retry, with the path in the reason. */
	s = ag_sink_dir_new(&o);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_RETRY);
	assert_non_null(strstr(why, "cannot write '"));
	ag_sink_free(s);

	/* Not a link, not another's. */
	snprintf(path, sizeof(path), "%s/lnk", x->dir);
	assert_int_equal(symlink("/tmp", path), 0);
	o.dir = path;
	assert_null(ag_sink_dir_new(&o));
	assert_int_equal(errno, ELOOP);
}

/* ---- clickhouse sink ------------------------------------------------------ */

#define CH_ERR(status, msg) "HTTP/1.1 " status "\r\nConnection: close\r\n\r\n" msg "\n"

/*
 * A window's pprof as the agent makes it: prog (pid 7) in main;work 3
 * times and main;idle twice, without labels; and (with label sets) nginx
 * (pid 9) in main;serve 4 times labelled host, service, container,
 * build_id and exe.
 */
static void *ch_window(size_t *len)
{
	struct rep_profile *p = rep_profile_new(10000000);
	struct rep_mapping m = {.start = 0x400000, .limit = 0x500000, .file = "/usr/bin/prog"};
	static const char *const leaf[] = {"work", "idle", "serve"};
	static const unsigned count[] = {3, 2, 4};
	uint32_t map, fn, locs[2];
	char *buf = NULL;
	FILE *f;

	assert_non_null(p);
	assert_int_equal(rep_profile_mapping(p, &m, &map), 0);
	assert_int_equal(rep_profile_function(p, "main", "prog.c", REP_KIND_USER, &fn), 0);
	assert_int_equal(
	    rep_profile_location(p, map, 0x400800, &(struct rep_line){.function = fn}, 1, &locs[1]),
	    0);
	for (unsigned i = 0; i < 3; i++) {
		struct rep_sample_key key = {.pid = 7, .tid = 7, .comm = "prog"};

		assert_int_equal(rep_profile_function(p, leaf[i], "prog.c", REP_KIND_USER, &fn), 0);
		assert_int_equal(rep_profile_location(p, map, 0x401000 + 16 * i,
						      &(struct rep_line){.function = fn}, 1,
						      &locs[0]),
				 0);
		if (i == 2) {
			static const struct rep_label l[] = {{"host", "hB"},
							     {"service", "nginx.service"},
							     {"container", "abc123"},
							     {"exe", "/usr/sbin/nginx"},
							     {"build_id", "ff00"}};

			key = (struct rep_sample_key){.pid = 9, .tid = 9, .comm = "nginx"};
			assert_int_equal(rep_profile_labelset(p, l, 5, &key.labels), 0);
		}
		assert_int_equal(rep_profile_add(p, &key, locs, 2, count[i]), 0);
	}
	f = open_memstream(&buf, len);
	assert_non_null(f);
	assert_int_equal(rep_write_pprof(p, NULL, f), 0);
	assert_int_equal(fclose(f), 0);
	rep_profile_free(p);
	return buf;
}

static const struct fake_ch_row *row_of(const struct fake_ch_row *rows, int n, const char *comm,
					uint32_t count)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].comm, comm) && rows[i].count == count)
			return &rows[i];
	fail_msg("no row of %s with count %u", comm, count);
	return NULL;
}

/* The last request of the given kind. */
static const struct fake_ch_req *last_req(struct fake_ch *f, const char *kind)
{
	for (unsigned i = f->nreq; i-- > 0;)
		if (i < FAKE_CH_REQS && !strcmp(f->req[i].kind, kind))
			return &f->req[i];
	fail_msg("no %s request", kind);
	return NULL;
}

/*
 * The window's pprof becomes rows: the window's start and duration, the
 * label set's host, service, container and build_id (the sink's host and
 * the window's service for a stack without them), comm and pid from the
 * key; stacks once; a failed insert is RETRY and its retry asks the store
 * what it has; a window that does not decode, a syntax error and a schema
 * of another version are DROP.
 */
static void test_sink_clickhouse(void **state)
{
	struct fake_ch f;
	struct fake_ch_row rows[8];
	struct ag_ch_opts o = {.host = "hA", .timeout_s = 5};
	struct ag_window w = {
	    .sink = "clickhouse", .service = "svc", .start = 4000000000ull, .end = 4000000010ull};
	const struct fake_ch_row *r;
	struct ag_sink *s;
	char url[64], log[256], why[256];
	unsigned seen = 0;
	size_t len;
	void *pb = ch_window(&len);
	int n;

	(void)state;
	assert_int_equal(fake_ch_start(&f), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_null(ag_sink_clickhouse_new(&(struct ag_ch_opts){.url = "ftp://x"}));
	assert_int_equal(errno, EINVAL);
	assert_null(ag_sink_clickhouse_new(&(struct ag_ch_opts){0}));
	assert_int_equal(errno, EINVAL);
	o.url = url;
	s = ag_sink_clickhouse_new(&o);
	assert_non_null(s);
	assert_string_equal(s->name, "clickhouse");
	w.pprof = pb;
	w.pprof_len = len;

	why[0] = 0;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)),
			    "schema,schema,stacks,samples,");
	n = fake_ch_rows(last_req(&f, "samples"), rows, 8);
	assert_int_equal(n, 3);
	r = row_of(rows, n, "nginx", 4);
	assert_string_equal(r->host, "hB");
	assert_string_equal(r->service, "nginx.service");
	assert_string_equal(r->container, "abc123");
	assert_string_equal(r->build_id, "ff00");
	assert_int_equal(r->pid, 9);
	r = row_of(rows, n, "prog", 3);
	assert_true(r->window_start == 4000000000000000000ull && r->duration_ns == 10000000000ull);
	assert_string_equal(r->host, "hA");
	assert_string_equal(r->service, "svc");
	assert_string_equal(r->container, "");
	assert_string_equal(r->build_id, "");
	assert_int_equal(r->pid, 7);
	r = row_of(rows, n, "prog", 2);
	assert_string_equal(r->host, "hA");

	/* The next window: its stacks are known, the schema was checked. */
	w.start += 10;
	w.end += 10;
	w.service = NULL;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)), "samples,");
	n = fake_ch_rows(last_req(&f, "samples"), rows, 8);
	assert_string_equal(row_of(rows, n, "prog", 3)->service, "");

	/* A shard down: RETRY; the retry checks the schema again and asks what the store has. */
	w.start += 10;
	w.end += 10;
	f.fail_at = f.nreq + 1;
	f.fail_answer = CH_ERR("500 Internal Server Error",
			       "Code: 279, e.displayText() = DB::NetException: All connection "
			       "tries failed");
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_RETRY);
	assert_non_null(strstr(why, "answered HTTP 500: Code: 279"));
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_OK);
	assert_string_equal(fake_ch_log(&f, &seen, log, sizeof(log)),
			    "samples,schema,schema,distinct,samples,");

	/* A request the server calls wrong stays wrong: DROP. */
	w.start += 10;
	w.end += 10;
	f.fail_at = f.nreq + 1;
	f.fail_answer = CH_ERR("500 Internal Server Error",
			       "Code: 62, e.displayText() = DB::Exception: Syntax error");
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_DROP);
	assert_non_null(strstr(why, "Code: 62"));

	/* A window that does not decode never will. */
	w.pprof = "not a profile";
	w.pprof_len = 13;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_DROP);
	assert_non_null(strstr(why, "window's pprof"));
	ag_sink_free(s);

	/* A store of another schema version refuses every window; a dead one is waited for. */
	f.version = 2;
	s = ag_sink_clickhouse_new(&o);
	assert_non_null(s);
	w.pprof = pb;
	w.pprof_len = len;
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_DROP);
	assert_non_null(strstr(why, "schema version 2, newer than this xprof"));
	ag_sink_free(s);
	fake_ch_stop(&f);
	o.url = "http://127.0.0.1:1";
	s = ag_sink_clickhouse_new(&o);
	assert_non_null(s);
	assert_int_equal(s->send(s, &w, why, sizeof(why)), AG_SEND_RETRY);
	assert_non_null(strstr(why, "cannot reach http://127.0.0.1:1"));
	ag_sink_free(s);
	free(pb);
}

static void test_time_name(void **state)
{
	char b[17];

	(void)state;
	ag_time_name(b, 0);
	assert_string_equal(b, "19700101T000000Z");
	ag_time_name(b, 1796598659);
	assert_string_equal(b, "20261206T231059Z");
}

/* ---- metrics ------------------------------------------------------------ */

static void http_get(int port, const char *req, size_t reqlen, char *resp, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	send(fd, req, reqlen, MSG_NOSIGNAL);
	while (got + 1 < cap && (n = recv(fd, resp + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	close(fd);
}

static void test_metrics(void **state)
{
	struct ag_metrics *m = ag_metrics_new("127.0.0.1:0", false);
	char buf[4096], resp[8192], *big;

	(void)state;
	assert_non_null(m);
	assert_true(ag_metrics_port(m) > 0);
	assert_int_equal(
	    ag_metrics_describe(m, "xprof_agent_windows_total", "counter", "Windows finished."), 0);
	assert_int_equal(ag_metrics_add(m, "xprof_agent_windows_total", NULL, 1), 0);
	assert_int_equal(ag_metrics_add(m, "xprof_agent_windows_total", NULL, 2), 0);
	assert_int_equal(ag_metrics_set(m, "xprof_agent_spool_bytes", "sink=\"push\"", 1234), 0);
	assert_int_equal(ag_metrics_set(m, "xprof_agent_spool_bytes", "sink=\"dir\"", 0), 0);
	assert_int_equal(ag_metrics_set(m, "xprof_agent_rss_bytes", NULL, 2.5e7), 0);
	assert_int_equal(ag_metrics_set(m, "9bad", NULL, 1), -EINVAL);
	assert_int_equal(ag_metrics_set(m, "bad-name", NULL, 1), -EINVAL);
	assert_int_equal(ag_metrics_set(m, "ok", "a=\"1\"}\nevil 1", 1), -EINVAL);
	assert_int_equal(ag_metrics_describe(m, "ok", "histogram", "x"), -EINVAL);
	assert_true(ag_metrics_render(m, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "# HELP xprof_agent_windows_total Windows finished.\n"
				 "# TYPE xprof_agent_windows_total counter\n"
				 "xprof_agent_windows_total 3\n"
				 "xprof_agent_spool_bytes{sink=\"push\"} 1234\n"
				 "xprof_agent_spool_bytes{sink=\"dir\"} 0\n"
				 "xprof_agent_rss_bytes 25000000\n");
	assert_int_equal(ag_metrics_render(m, buf, 10), -ENOSPC);

	http_get(ag_metrics_port(m), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, resp,
		 sizeof(resp));
	assert_true(!strncmp(resp, "HTTP/1.0 200 OK\r\n", 17));
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "\r\n\r\n# HELP xprof_agent_windows_total"));
	http_get(ag_metrics_port(m), "GET / HTTP/1.0\r\n\r\n", 18, resp, sizeof(resp));
	assert_true(!strncmp(resp, "HTTP/1.0 404 ", 13));
	http_get(ag_metrics_port(m), "POST /metrics HTTP/1.0\r\n\r\n", 26, resp, sizeof(resp));
	assert_true(!strncmp(resp, "HTTP/1.0 400 ", 13));
	/* A request past 4 KiB without its end: refused, the server lives on. */
	big = malloc(6000);
	memset(big, 'a', 6000);
	memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
	http_get(ag_metrics_port(m), big, 6000, resp, sizeof(resp));
	free(big);
	assert_true(!strncmp(resp, "HTTP/1.0 431 ", 13));
	http_get(ag_metrics_port(m), "GET /metrics HTTP/1.0\n\n", 23, resp, sizeof(resp));
	assert_true(!strncmp(resp, "HTTP/1.0 200 OK\r\n", 17));
	ag_metrics_free(m);

	assert_null(ag_metrics_new("0.0.0.0:0", false));
	assert_int_equal(errno, EPERM);
	assert_null(ag_metrics_new("localhost", false));
	assert_int_equal(errno, EINVAL);
	assert_null(ag_metrics_new("127.0.0.1:99999", false));
	assert_int_equal(errno, EINVAL);
	m = ag_metrics_new("[::1]:0", false);
	if (m) /* a machine without IPv6 loopback cannot bind it; the parse is what is tested */
		ag_metrics_free(m);
	else
		assert_true(errno != EINVAL && errno != EPERM);
}

static void test_window_log(void **state)
{
	struct ag_window_stats st = {.start = 1796598600,
				     .samples = 1000,
				     .lost = 2,
				     .processes = 56,
				     .stacks = 789,
				     .complete = 998,
				     .cpu_ms = 12,
				     .rss_bytes = 24536678,
				     .bytes_sent = 45678,
				     .sink_errors = 1};
	char buf[512];

	(void)state;
	assert_true(ag_window_log_format(buf, sizeof(buf), &st) < (int)sizeof(buf));
	assert_string_equal(buf, "window 2026-12-06T23:10:00Z: 1000 samples, 2 lost, 56 processes, "
				 "789 stacks, 99.8% complete, cpu 12 ms, rss 23.4 MiB, sent 45678 "
				 "bytes, 1 sink errors");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_labels_table),
	    cmocka_unit_test(test_labels_short_id),
	    cmocka_unit_test(test_labels_bad),
	    cmocka_unit_test(test_labels_self),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test_setup_teardown(test_spool_order_and_backoff, spool_setup,
					    spool_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_bound_and_restart, spool_setup,
					    spool_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_damaged_payload, spool_setup,
					    spool_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_refuses, spool_setup, spool_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_evicted_in_flight, spool_setup,
					    spool_teardown),
	    cmocka_unit_test_setup_teardown(test_spool_thread, spool_setup, spool_teardown),
	    cmocka_unit_test(test_push_answers),
	    cmocka_unit_test(test_push_refused_and_opts),
	    cmocka_unit_test(test_push_url),
	    cmocka_unit_test(test_sink_clickhouse),
	    cmocka_unit_test_setup_teardown(test_dir_sink, spool_setup, spool_teardown),
	    cmocka_unit_test(test_time_name),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_window_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
