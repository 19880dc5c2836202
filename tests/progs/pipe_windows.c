// SPDX-License-Identifier: MIT
/*
 * pipe_windows: feed a recording through one pipeline session in windows of
 * SECONDS (stream time, from the first event) and print each window's
 * folded stacks after a "# window N: S samples, P processes" line, then
 * "# held: ..." with what the session still holds. The e2e test sums the
 * windows and compares them with `xprof report` of the whole recording.
 *   pipe_windows FILE SECONDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"

struct run {
	struct xp_session *s;
	uint64_t window_ns, next_ns;
	unsigned n;
	int err;
};

static int window_out(struct run *r, uint64_t end_ns)
{
	struct rep_opts o = {0};
	struct rep_profile *p = xp_session_window_take(r->s, end_ns);
	const struct xp_session_stats *st = xp_session_window_stats(r->s);
	int err;

	if (!p)
		return -errno;
	printf("# window %u: %llu samples, %llu processes\n", ++r->n, (unsigned long long)st->kept,
	       (unsigned long long)st->processes);
	err = rep_write_folded(p, &o, stdout);
	rep_profile_free(p);
	return err;
}

static int on_event(void *ctx, const struct xp_event *ev)
{
	struct run *r = ctx;
	uint64_t t = xp_event_time(ev);

	if (t && !r->next_ns)
		r->next_ns = t + r->window_ns;
	while (t && t >= r->next_ns) {
		int err = window_out(r, r->next_ns);

		if (err)
			return err;
		r->next_ns += r->window_ns;
	}
	return xp_session_event(r->s, ev);
}

int main(int argc, char **argv)
{
	struct xp_session_opts o = {.sym.no_debuginfod = true};
	struct run r = {0};
	struct xp_session_mem m;
	const char *why = NULL;
	int err;

	if (argc != 3 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: pipe_windows FILE SECONDS\n");
		return 2;
	}
	r.window_ns = (uint64_t)(atof(argv[2]) * 1e9);
	r.s = xp_session_new(&o);
	if (!r.s) {
		fprintf(stderr, "pipe_windows: %s\n", strerror(errno));
		return 1;
	}
	err = xp_recording_read(argv[1], on_event, &r, NULL, &why);
	if (!err)
		err = window_out(&r, 0);
	if (err) {
		fprintf(stderr, "pipe_windows: '%s': %s\n", argv[1],
			err == -EINVAL && why ? why : strerror(-err));
		xp_session_free(r.s);
		return 1;
	}
	xp_session_memory(r.s, &m);
	printf("# held: %llu processes, %llu modules, %llu threads\n",
	       (unsigned long long)m.processes, (unsigned long long)m.modules,
	       (unsigned long long)m.threads);
	xp_session_free(r.s);
	return 0;
}
