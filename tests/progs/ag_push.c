// SPDX-License-Identifier: MIT
/*
 * ag_push: the agent's sink path without the capture, for the end-to-end
 * tests. It makes N synthetic windows (pprof from report/'s writer, window
 * i holding the stack "agwin;main;window_<i>" i+1 times, so a receiver can
 * tell which window each payload is), puts them in a spool bound for a
 * sink, runs the spool's sender thread and waits until the spool is empty.
 * With --pprof FILE every window is that file's bytes instead (a real
 * profile, e.g. from `xprof record -o x.pb.gz`).
 *
 *	ag_push --spool DIR (--url URL | --dir DIR | --clickhouse URL) [--host NAME]
 *	        [--windows N] [--first I] [--t0 SECS] [--gap-ms MS] [--spool-size BYTES]
 *	        [--wait-s S] [--service NAME] [--pprof FILE]
 *
 * Window i starts at T0 + 10*i (Unix seconds; --t0, default 1765062600)
 * and lasts 10 s. --host is the push, dir and clickhouse sinks' host
 * (default testhost).
 * --windows 0 only sends what an earlier run left in the spool. Every
 * failed send is logged on stderr ("ag_push: push: retry 1 in 0.7 s: …"),
 * and at the end one line of counters: "ag_push: put N sent N dropped N
 * rejected N retries N recovered N spooled N". Exit 0 if the spool emptied
 * within --wait-s, 1 if windows remain, 2 on a usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "report/report.h"

#define T0 1765062600ull

/* The bytes of path (at most 64 MiB), or NULL. */
static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*len = 0;
	if (fd < 0)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap ? 2 * cap : 65536) : NULL;

			if (!nb)
				goto fail;
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n < 0)
			goto fail;
		if (!n)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "ag_push: %s\n", line);
}

static int make_window(unsigned i, char **buf, size_t *len)
{
	struct rep_profile *p = rep_profile_new(10000000);
	struct rep_mapping m = {.start = 0x400000, .limit = 0x500000, .file = "/usr/bin/agwin"};
	struct rep_sample_key key = {.pid = 100, .tid = 100, .comm = "agwin"};
	uint32_t map, fn, locs[2];
	struct rep_line l = {0};
	char name[32];
	FILE *f;
	int err;

	if (!p)
		return -ENOMEM;
	snprintf(name, sizeof(name), "window_%u", i);
	err = rep_profile_mapping(p, &m, &map);
	if (!err)
		err = rep_profile_function(p, name, "agwin.c", REP_KIND_USER, &fn);
	l.function = fn;
	l.line = 10;
	if (!err)
		err = rep_profile_location(p, map, 0x401000 + 16 * i, &l, 1, &locs[0]);
	if (!err)
		err = rep_profile_function(p, "main", "agwin.c", REP_KIND_USER, &fn);
	l.function = fn;
	l.line = 20;
	if (!err)
		err = rep_profile_location(p, map, 0x400800, &l, 1, &locs[1]);
	if (!err)
		err = rep_profile_add(p, &key, locs, 2, i + 1);
	if (err)
		goto out;
	f = open_memstream(buf, len);
	if (!f) {
		err = -errno;
		goto out;
	}
	err = rep_write_pprof(p, NULL, f);
	if (fclose(f) && !err)
		err = -EIO;
out:
	rep_profile_free(p);
	return err;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	const char *spool_dir = NULL, *url = NULL, *out_dir = NULL, *service = "agwin.service";
	const char *ch_url = NULL, *host = "testhost", *pprof_path = NULL;
	unsigned windows = 10, first = 0, gap_ms = 200, wait_s = 60;
	uint64_t size = AG_SPOOL_DEFAULT_SIZE, t_end, t0 = T0;
	char *fixed = NULL;
	size_t fixed_len = 0;
	struct ag_spool_stats st;
	struct ag_spool *sp;
	struct ag_sink *sink;
	const char *sink_name;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (!strcmp(a, "--spool"))
			spool_dir = v;
		else if (!strcmp(a, "--url"))
			url = v;
		else if (!strcmp(a, "--dir"))
			out_dir = v;
		else if (!strcmp(a, "--clickhouse"))
			ch_url = v;
		else if (!strcmp(a, "--host"))
			host = v;
		else if (!strcmp(a, "--pprof"))
			pprof_path = v;
		else if (!strcmp(a, "--t0"))
			t0 = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--windows"))
			windows = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--first"))
			first = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--gap-ms"))
			gap_ms = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--wait-s"))
			wait_s = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--spool-size"))
			size = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--service"))
			service = v;
		else
			goto usage;
		i++;
	}
	if (!spool_dir || !!url + !!out_dir + !!ch_url != 1)
		goto usage;
	if (pprof_path && !(fixed = read_all(pprof_path, &fixed_len))) {
		fprintf(stderr, "ag_push: cannot read '%s': %s\n", pprof_path, strerror(errno));
		return 2;
	}

	sp = ag_spool_open(spool_dir, size, (uint64_t)getpid());
	if (!sp) {
		fprintf(stderr, "ag_push: cannot open spool '%s': %s\n", spool_dir,
			strerror(errno));
		return 2;
	}
	if (url) {
		struct ag_push_opts o = {.url = url,
					 .app = "agwin.cpu",
					 .host = host,
					 .org_id = "tenant-1",
					 .token = "s3cret",
					 .sample_rate = 100,
					 .connect_timeout_ms = 1000,
					 .timeout_ms = 2000};

		sink = ag_sink_push_new(&o);
	} else if (ch_url) {
		struct ag_ch_opts o = {.url = ch_url, .host = host, .timeout_s = 5};

		sink = ag_sink_clickhouse_new(&o);
	} else {
		struct ag_dir_opts o = {.dir = out_dir, .host = host};

		sink = ag_sink_dir_new(&o);
	}
	if (!sink || ag_spool_add_sink(sp, sink)) {
		fprintf(stderr, "ag_push: cannot make the sink: %s\n", strerror(errno));
		ag_sink_free(sink);
		ag_spool_close(sp);
		return 2;
	}
	sink_name = sink->name;
	if (ag_spool_start(sp, log_line, NULL)) {
		ag_spool_close(sp);
		return 2;
	}
	for (unsigned i = first; i < first + windows; i++) {
		char *buf = NULL;
		size_t len = 0;
		struct ag_window w = {.sink = sink_name,
				      .service = service,
				      .start = t0 + 10ull * i,
				      .end = t0 + 10ull * i + 10};
		int err = fixed ? 0 : make_window(i, &buf, &len);

		if (!err) {
			w.pprof = fixed ? fixed : buf;
			w.pprof_len = fixed ? fixed_len : len;
			err = ag_spool_put(sp, &w);
		}
		free(buf);
		if (err)
			fprintf(stderr, "ag_push: window %u not spooled: %s\n", i, strerror(-err));
		else
			fprintf(stderr, "ag_push: spooled window %u\n", i);
		usleep(gap_ms * 1000u);
	}
	t_end = mono_ms() + wait_s * 1000ull;
	do {
		ag_spool_get_stats(sp, &st);
		if (!st.windows)
			break;
		usleep(50000);
	} while (mono_ms() < t_end);
	ag_spool_get_stats(sp, &st);
	fprintf(stderr,
		"ag_push: put %" PRIu64 " sent %" PRIu64 " dropped %" PRIu64 " rejected %" PRIu64
		" retries %" PRIu64 " recovered %" PRIu64 " spooled %" PRIu64 "\n",
		st.put, st.sent, st.dropped, st.rejected, st.retries, st.recovered, st.windows);
	rc = st.windows ? 1 : 0;
	ag_spool_close(sp);
	free(fixed);
	return rc;
usage:
	fprintf(stderr, "usage: ag_push --spool DIR (--url URL | --dir DIR | --clickhouse URL) "
			"[--host NAME] [--windows N] [--first I] [--t0 SECS] [--gap-ms MS] "
			"[--spool-size BYTES] [--wait-s S] [--service NAME] [--pprof FILE]\n");
	return 2;
}
