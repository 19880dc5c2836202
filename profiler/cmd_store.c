// SPDX-License-Identifier: MIT
/*
 * xprof store: the fleet store's housekeeping.
 *
 *   init   create the tables (one node, or a cluster's local and Distributed tables)
 *   prune  drop the days of samples older than a duration
 *   load   a recording through the pipeline and into the store, cut in windows
 *          of its sample times: the agent's insert path, run from a file
 *
 * load reads the recording once to learn its time span, then once per
 * window with a fresh session that sees every mapping event but only the
 * window's samples: each window is a profile of its own, as the agent's
 * windows will be, and goes to the store as one insert per table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "profiler/profiler_int.h"
#include "store/store.h"

#define MAX_SHARDS 64

static void store_usage(FILE *f)
{
	fprintf(f,
		"usage: xprof store init  --clickhouse URL [--cluster NAME [--shard URL]...]\n"
		"       xprof store prune --clickhouse URL --older-than AGE [--shard URL]...\n"
		"       xprof store load  --clickhouse URL --host NAME [options] FILE\n"
		"\n"
		"The fleet store is a ClickHouse database spoken to over HTTP (URL like\n"
		"http://127.0.0.1:8123, ?database=NAME to use another than 'default').\n"
		"\n"
		"init creates the tables xprof_stacks and xprof_samples, or checks they are\n"
		"at this xprof's schema version. With --cluster NAME (a remote_servers entry\n"
		"of the servers), local tables go on every shard and Distributed tables over\n"
		"them, sharded by stack hash; without distributed DDL (ZooKeeper or Keeper)\n"
		"give every shard's HTTP URL with --shard.\n"
		"\n"
		"prune drops whole days of samples older than AGE (7d, 36h) on every shard.\n"
		"\n"
		"load runs a recording (.xprof or perf.data) through the report pipeline and\n"
		"inserts it as the agent would, one insert per table per window:\n"
		"  --host NAME          host label (required)\n"
		"  --service NAME       service label\n"
		"  --container NAME     container label\n"
		"  --build-id HEX       executable build-id for every row (default: each\n"
		"                       process's lowest executable mapping with a build-id)\n"
		"  --window DURATION    window length (default 10s)\n"
		"  --at TIME            wall-clock start of the first window: now, -1h, seconds\n"
		"                       since the epoch or YYYY-MM-DD[THH:MM[:SS]] UTC (default:\n"
		"                       the windows end now)\n"
		"  --no-cache, --cache-dir DIR, --no-debuginfod   as for xprof report\n"
		"\n"
		"  --timeout SECONDS    per request (default 60)\n");
}

struct shards {
	struct st_conn *c[MAX_SHARDS];
	unsigned n;
};

static void shards_free(struct shards *s)
{
	for (unsigned i = 0; i < s->n; i++)
		st_conn_free(s->c[i]);
	s->n = 0;
}

static struct st_conn *connect_or_say(const char *url, unsigned timeout)
{
	struct st_conn *c = st_conn_new(url, timeout);

	if (!c && errno == EINVAL)
		fprintf(stderr, "xprof: '%s' is not a ClickHouse HTTP URL: give http://HOST:PORT\n",
			url);
	else if (!c)
		fprintf(stderr, "xprof: %s\n", strerror(errno));
	return c;
}

/* ---- load -------------------------------------------------------------------- */

/* A process's executable as the recording shows it. */
struct exe {
	uint32_t pid;
	uint64_t start; /* of the mapping the build-id came from */
	char hex[2 * XP_BUILD_ID_MAX + 1];
};

struct span {
	uint64_t first, last;
	uint64_t n;
	struct exe *exes;
	size_t nexes, cap;
	const char *fixed; /* --build-id: for every row */
};

static struct exe *exe_of(struct span *s, uint32_t pid, bool add)
{
	for (size_t i = 0; i < s->nexes; i++)
		if (s->exes[i].pid == pid)
			return &s->exes[i];
	if (!add)
		return NULL;
	if (s->nexes == s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 64;
		struct exe *n = realloc(s->exes, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->exes = n;
		s->cap = ncap;
	}
	s->exes[s->nexes] = (struct exe){.pid = pid, .start = UINT64_MAX};
	return &s->exes[s->nexes++];
}

/*
 * The executable is taken to be the process's lowest executable file
 * mapping with a build-id since its last exec: the kernel maps a program
 * (PIE or not) below its libraries and the vDSO. A forked child without
 * mappings of its own has its parent's.
 */
static int note_exe(struct span *s, const struct xp_event *ev)
{
	struct exe *e;

	if (ev->type == XP_EV_COMM && ev->comm.exec) {
		e = exe_of(s, ev->comm.pid, false);
		if (e)
			*e = (struct exe){.pid = e->pid, .start = UINT64_MAX};
	} else if (ev->type == XP_EV_FORK && ev->task.pid != ev->task.ppid) {
		struct exe *parent = exe_of(s, ev->task.ppid, false);

		if (parent && parent->hex[0] && !exe_of(s, ev->task.pid, false)) {
			struct exe copy = *parent;

			e = exe_of(s, ev->task.pid, true);
			if (!e)
				return -ENOMEM;
			copy.pid = e->pid;
			*e = copy;
		}
	} else if (ev->type == XP_EV_MMAP && (ev->mmap.prot & PROT_EXEC) && ev->mmap.build_id_len &&
		   ev->mmap.path[0] == '/') {
		e = exe_of(s, ev->mmap.pid, true);
		if (!e)
			return -ENOMEM;
		if (ev->mmap.start < e->start) {
			e->start = ev->mmap.start;
			for (uint32_t i = 0; i < ev->mmap.build_id_len && i < XP_BUILD_ID_MAX; i++)
				snprintf(e->hex + 2 * i, 3, "%02x", ev->mmap.build_id[i]);
		}
	}
	return 0;
}

static const char *build_id_of(void *ctx, uint32_t pid)
{
	struct span *s = ctx;
	struct exe *e = s->fixed ? NULL : exe_of(s, pid, false);

	return s->fixed ? s->fixed : e ? e->hex : NULL;
}

static int on_span(void *ctx, const struct xp_event *ev)
{
	struct span *s = ctx;

	if (ev->type != XP_EV_SAMPLE)
		return note_exe(s, ev);
	if (!s->n || ev->sample.time_ns < s->first)
		s->first = ev->sample.time_ns;
	if (!s->n || ev->sample.time_ns > s->last)
		s->last = ev->sample.time_ns;
	s->n++;
	return 0;
}

struct win_filter {
	struct xp_session *s;
	uint64_t lo, hi; /* recording times of the window's samples: [lo, hi) */
};

static int on_window_event(void *ctx, const struct xp_event *ev)
{
	struct win_filter *f = ctx;

	if (ev->type == XP_EV_SAMPLE && (ev->sample.time_ns < f->lo || ev->sample.time_ns >= f->hi))
		return 0;
	return xp_session_event(f->s, ev);
}

static int store_load(struct st_conn *c, const char *file, const struct st_labels *l,
		      const char *build_id, uint64_t window, const char *at,
		      const struct xp_session_opts *so)
{
	struct st_writer *w = NULL;
	struct xp_rec_info info;
	struct span sp = {.fixed = build_id};
	uint64_t start, nwin, loaded = 0;
	const char *why = NULL;
	struct timespec ts;
	int err, ret = 1;

	err = xp_recording_read(file, on_span, &sp, &info, &why);
	if (err) {
		if (err == -EINVAL && why)
			fprintf(stderr, "xprof: '%s': %s\n", file, why);
		else
			fprintf(stderr, "xprof: cannot read '%s': %s\n", file, strerror(-err));
		goto out;
	}
	if (!sp.n) {
		fprintf(stderr, "xprof: '%s' has no samples: nothing to load\n", file);
		goto out;
	}
	nwin = (sp.last - sp.first) / window + 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (at) {
		if (st_time_parse(at, now, &start)) {
			fprintf(stderr,
				"xprof: --at '%s': give now, -1h, seconds since the epoch or "
				"YYYY-MM-DDTHH:MM:SS\n",
				at);
			ret = 2;
			goto out;
		}
	} else {
		start = now - nwin * window;
	}
	err = st_schema_check(c, NULL, 0);
	if (err) {
		fprintf(stderr, "xprof: %s\n", st_conn_error(c));
		goto out;
	}
	w = st_writer_new(c, NULL);
	if (!w) {
		fprintf(stderr, "xprof: out of memory\n");
		goto out;
	}
	for (uint64_t k = 0; k < nwin; k++) {
		struct win_filter f = {.lo = sp.first + k * window,
				       .hi = sp.first + (k + 1) * window};
		struct rep_profile *p;

		f.s = xp_session_new(so);
		if (!f.s) {
			fprintf(stderr, "xprof: cannot start the pipeline: %s\n", strerror(errno));
			goto out;
		}
		err = xp_recording_read(file, on_window_event, &f, &info, &why);
		p = err ? NULL : xp_session_profile(f.s);
		if (err || !p) {
			fprintf(stderr, "xprof: cannot read '%s': %s\n", file,
				err ? strerror(-err) : "out of memory");
			xp_session_free(f.s);
			goto out;
		}
		err = st_writer_begin(w, l, start + k * window, window);
		if (!err)
			err = st_writer_add_profile(w, p, build_id_of, &sp);
		if (!err)
			err = st_writer_flush(w);
		loaded += rep_profile_total(p);
		xp_session_free(f.s);
		if (err) {
			fprintf(stderr, "xprof: window %llu of %llu: %s\n",
				(unsigned long long)k + 1, (unsigned long long)nwin,
				st_conn_error(c));
			goto out;
		}
	}
	const struct st_writer_stats *st = st_writer_stats(w);
	fprintf(stderr,
		"xprof: loaded %llu samples of '%s' into %s as host '%s': %llu windows, %llu "
		"rows, %llu stacks sent, %llu already there, %llu bytes\n",
		(unsigned long long)loaded, file, st_conn_url(c), l->host,
		(unsigned long long)st->windows, (unsigned long long)st->rows,
		(unsigned long long)st->stacks_sent, (unsigned long long)st->stacks_known,
		(unsigned long long)st_conn_bytes_sent(c));
	ret = 0;
out:
	st_writer_free(w);
	free(sp.exes);
	return ret;
}

int cmd_store(int argc, char **argv)
{
	enum {
		O_CH = 256,
		O_CLUSTER,
		O_SHARD,
		O_OLDER,
		O_HOST,
		O_SERVICE,
		O_CONTAINER,
		O_BUILD_ID,
		O_WINDOW,
		O_AT,
		O_NOCACHE,
		O_CACHE,
		O_NODI,
		O_TIMEOUT,
	};
	static const struct option lopts[] = {
	    {"clickhouse", required_argument, NULL, O_CH},
	    {"cluster", required_argument, NULL, O_CLUSTER},
	    {"shard", required_argument, NULL, O_SHARD},
	    {"older-than", required_argument, NULL, O_OLDER},
	    {"host", required_argument, NULL, O_HOST},
	    {"service", required_argument, NULL, O_SERVICE},
	    {"container", required_argument, NULL, O_CONTAINER},
	    {"build-id", required_argument, NULL, O_BUILD_ID},
	    {"window", required_argument, NULL, O_WINDOW},
	    {"at", required_argument, NULL, O_AT},
	    {"no-cache", no_argument, NULL, O_NOCACHE},
	    {"cache-dir", required_argument, NULL, O_CACHE},
	    {"no-debuginfod", no_argument, NULL, O_NODI},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *url = NULL, *cluster = NULL, *older = NULL, *build_id = NULL, *at = NULL;
	const char *shard_urls[MAX_SHARDS];
	unsigned nshard_urls = 0, timeout = 0;
	struct st_labels l = {0};
	struct xp_session_opts so = {0};
	uint64_t window = 10000000000ull, age = 0;
	struct shards sh = {0};
	struct st_conn *c = NULL;
	const char *verb;
	char *end;
	int opt, err, ret = 1;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		store_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	if (strcmp(verb, "init") && strcmp(verb, "prune") && strcmp(verb, "load")) {
		fprintf(stderr, "xprof: unknown store command '%s': use init, prune or load\n",
			verb);
		return 2;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case O_CH:
			url = optarg;
			break;
		case O_CLUSTER:
			cluster = optarg;
			break;
		case O_SHARD:
			if (nshard_urls == MAX_SHARDS) {
				fprintf(stderr, "xprof: at most %d --shard URLs\n", MAX_SHARDS);
				return 2;
			}
			shard_urls[nshard_urls++] = optarg;
			break;
		case O_OLDER:
			older = optarg;
			if (st_duration_parse(optarg, &age) || !age) {
				fprintf(stderr,
					"xprof: --older-than '%s': give a duration like 7d, 36h or "
					"90m\n",
					optarg);
				return 2;
			}
			break;
		case O_HOST:
			l.host = optarg;
			break;
		case O_SERVICE:
			l.service = optarg;
			break;
		case O_CONTAINER:
			l.container = optarg;
			break;
		case O_BUILD_ID:
			build_id = optarg;
			break;
		case O_WINDOW:
			if (st_duration_parse(optarg, &window) || !window) {
				fprintf(stderr,
					"xprof: --window '%s': give a duration like 10s or 1m\n",
					optarg);
				return 2;
			}
			break;
		case O_AT:
			at = optarg;
			break;
		case O_NOCACHE:
			so.no_cache = true;
			break;
		case O_CACHE:
			so.cache_dir = optarg;
			break;
		case O_NODI:
			so.sym.no_debuginfod = true;
			break;
		case O_TIMEOUT:
			timeout = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !timeout) {
				fprintf(stderr,
					"xprof: --timeout takes a positive number of seconds\n");
				return 2;
			}
			break;
		case 'h':
			store_usage(stdout);
			return 0;
		default:
			store_usage(stderr);
			return 2;
		}
	}
	/* optind counts in argv + 1. */
	int nrest = argc - 1 - optind;
	if (!url) {
		fprintf(stderr, "xprof: no store given: use --clickhouse http://HOST:8123\n");
		return 2;
	}
	if (!strcmp(verb, "load") ? nrest != 1 : nrest != 0) {
		fprintf(stderr, "xprof: %s; see 'xprof store --help'\n",
			!strcmp(verb, "load") ? "store load takes one recording"
					      : "unexpected argument");
		return 2;
	}
	if (!strcmp(verb, "prune") && !older) {
		fprintf(stderr, "xprof: store prune needs --older-than AGE (like 7d)\n");
		return 2;
	}
	if (!strcmp(verb, "load") && (!l.host || !*l.host)) {
		fprintf(stderr, "xprof: store load needs --host NAME: the label its rows carry\n");
		return 2;
	}
	if (nshard_urls && strcmp(verb, "prune") && !cluster) {
		fprintf(stderr, "xprof: --shard needs --cluster NAME\n");
		return 2;
	}
	c = connect_or_say(url, timeout);
	if (!c)
		return 1;
	for (unsigned i = 0; i < nshard_urls; i++) {
		sh.c[sh.n] = connect_or_say(shard_urls[i], timeout);
		if (!sh.c[sh.n])
			goto out;
		sh.n++;
	}
	struct st_schema_opts o = {.cluster = cluster, .shards = sh.c, .nshards = sh.n};

	if (!strcmp(verb, "init")) {
		err = st_schema_init(c, &o);
		if (err) {
			fprintf(stderr, "xprof: %s\n", st_conn_error(c));
			goto out;
		}
		fprintf(stderr, "xprof: store at %s is ready (schema version %d%s%s)\n",
			st_conn_url(c), ST_SCHEMA_VERSION, cluster ? ", cluster " : "",
			cluster ? cluster : "");
		ret = 0;
	} else if (!strcmp(verb, "prune")) {
		struct timespec ts;
		unsigned dropped;

		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		err = st_prune(c, &o, age < now ? now - age : 0, &dropped);
		if (err) {
			fprintf(stderr, "xprof: %s\n", st_conn_error(c));
			goto out;
		}
		fprintf(stderr, "xprof: dropped %u day partitions older than %s\n", dropped, older);
		ret = 0;
	} else {
		ret = store_load(c, argv[1 + optind], &l, build_id, window, at, &so);
	}
out:
	shards_free(&sh);
	st_conn_free(c);
	return ret;
}
