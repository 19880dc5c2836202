// SPDX-License-Identifier: MIT
/*
 * xprof agent: the always-on profiler of a fleet's hosts. This file parses
 * the command line, opens the log, reads the token, installs the signals
 * and hands over to the agent's loop (agent/loop.c), which samples every
 * CPU and turns each wall-clock window into outputs through the spool.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "profiler/profiler_int.h"

#define FREQ_MAX     10000u
#define DRAIN_MS     5000u /* SIGTERM: what is spooled gets this long to go out */
#define TOKEN_MAX    4096
#define SPOOL_PARENT "/var/lib/xprof"

static volatile sig_atomic_t stop_flag, hup_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	hup_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: xprof agent [options]\n"
	    "\n"
	    "Sample every process on every CPU until SIGTERM or SIGINT, and turn each window\n"
	    "(aligned to the wall clock) into a labelled profile for the sinks below.\n"
	    "\n"
	    "  -F, --freq HZ           samples per second per CPU (default 19, 1..%u)\n"
	    "      --interval DUR      window length: 500ms, 2s, 5m, 1h (default 10s)\n"
	    "      --no-kernel         leave kernel stacks out\n"
	    "      --host NAME         the host label and file name part (default: uname -n)\n"
	    "      --output-dir DIR    one DIR/YYYYMMDDTHHMMSSZ-HOST.pb.gz per window\n"
	    "      --folded            and a .folded next to each\n"
	    "      --max-age DUR       remove window files older than this (default: keep)\n"
	    "      --max-size SIZE     keep the window files under this: 1600, 64K, 64M, 1G\n"
	    "      --push URL          send each window to Pyroscope (POST URL/ingest), one\n"
	    "                          request per service\n"
	    "      --push-app NAME     the application name of pushed profiles (default xprof)\n"
	    "      --org-id ID         X-Scope-OrgID header of pushes\n"
	    "      --token-file FILE   bearer token of pushes, read from FILE (not writable by\n"
	    "                          others)\n"
	    "      --spool-dir DIR     windows wait here for their sink (default\n"
	    "                          $STATE_DIRECTORY/spool, else %s/spool)\n"
	    "      --spool-size SIZE   at most this much spooled; the oldest go first\n"
	    "                          (default 64M)\n"
	    "      --memory-limit SIZE unwind tables and symbols of unused files kept up to\n"
	    "                          this (default 64M)\n"
	    "      --metrics IP:PORT   Prometheus metrics on http://IP:PORT/metrics (loopback)\n"
	    "      --log FILE          log lines to FILE (reopened on SIGHUP) instead of stderr\n"
	    "  -v, --verbose           say more at start-up\n"
	    "\n"
	    "One log line per window: samples, lost, processes, stacks, complete %%, the\n"
	    "agent's CPU ms and RSS, bytes sent, sink errors. SIGTERM ends the current window\n"
	    "and gives what is spooled %u s to go out; the rest goes at the next start.\n",
	    FREQ_MAX, SPOOL_PARENT, DRAIN_MS / 1000);
}

/* The log: stderr or --log FILE, written from the loop and the spool's sender thread. */
struct log {
	const char *path; /* NULL: stderr */
	FILE *f;
	pthread_mutex_t lock;
};

static FILE *log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "a");
	if (!f)
		close(fd);
	return f;
}

static void log_line(void *ctx, const char *line)
{
	struct log *l = ctx;

	pthread_mutex_lock(&l->lock);
	if (hup_flag && l->path) {
		/* logrotate moved the file: go on in a new one (keep the old if that fails). */
		FILE *f = log_open(l->path);

		hup_flag = 0;
		if (f) {
			fclose(l->f);
			l->f = f;
		}
	}
	fprintf(l->f, "%s\n", line);
	fflush(l->f);
	pthread_mutex_unlock(&l->lock);
}

static void log_fmt(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_fmt(struct log *l, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(l, line);
}

/*
 * The bearer token from path: a regular file, not a link, of this user or
 * root, that no one else may write (the token goes to the network). 0 or
 * the exit status after a one-line error.
 */
static int read_token(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "xprof agent: cannot read --token-file '%s': %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & 022)) {
		fprintf(stderr,
			"xprof agent: refusing --token-file '%s': it must be a regular file of "
			"this user or root that group and others cannot write (chmod 600)\n",
			path);
		close(fd);
		return 1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0 || (size_t)n == len - 1) {
		fprintf(stderr, "xprof agent: cannot read --token-file '%s': %s\n", path,
			n < 0 ? strerror(errno) : "longer than 4 KiB");
		return 1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	if (!n) {
		fprintf(stderr, "xprof agent: --token-file '%s' is empty\n", path);
		return 1;
	}
	return 0;
}

struct agent_args {
	struct ag_agent_opts o;
	const char *interval, *token_file, *log;
	char spool_dir[4096];
};

static int bad_value(const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "xprof agent: bad %s%s '%s'; give %s\n", opt[0] == '-' ? "" : "--", opt,
		arg, want);
	return 2;
}

/* One option with a value. 0, or the exit status after a one-line error. */
static int parse_opt(struct agent_args *a, int opt, const char *name, char *arg)
{
	static const char dur[] = "a duration such as 500ms, 2s, 5m, 1h";
	static const char size[] = "a size such as 1600, 64K, 64M, 1G";
	uint64_t v;
	char *end;

	switch (opt) {
	case 'F':
		v = strtoul(arg, &end, 10);
		if (*end || !*arg || v < 1 || v > FREQ_MAX)
			return bad_value("-F", arg, "1..10000 (Hz)");
		a->o.frequency = (uint32_t)v;
		return 0;
	case 'i':
		a->interval = arg;
		return ag_parse_duration(arg, &a->o.interval_ns) ? bad_value(name, arg, dur) : 0;
	case 'A':
		if (ag_parse_duration(arg, &v) || v < 1000000000ull)
			return bad_value(name, arg, "a duration of 1s or more, e.g. 7d is 168h");
		a->o.max_age_s = v / 1000000000ull;
		return 0;
	case 'Z':
		return ag_parse_size(arg, &a->o.max_size) ? bad_value(name, arg, size) : 0;
	case 'S':
		return ag_parse_size(arg, &a->o.spool_size) ? bad_value(name, arg, size) : 0;
	case 'L':
		return ag_parse_size(arg, &a->o.memory_limit) ? bad_value(name, arg, size) : 0;
	case 'H':
		a->o.host = arg;
		return 0;
	case 'o':
		a->o.output_dir = arg;
		return 0;
	case 'p':
		a->o.push_url = arg;
		return 0;
	case 'a':
		a->o.push_app = arg;
		return 0;
	case 'g':
		a->o.org_id = arg;
		return 0;
	case 't':
		a->token_file = arg;
		return 0;
	case 'd':
		snprintf(a->spool_dir, sizeof(a->spool_dir), "%s", arg);
		return 0;
	case 'm':
		a->o.metrics = arg;
		return 0;
	case 'l':
		a->log = arg;
		return 0;
	default:
		return 2;
	}
}

/* -1 to go on, or the exit status (0 after --help, 2 after a one-line error). */
static int parse_args(int argc, char **argv, struct agent_args *a)
{
	static const struct option lopts[] = {
	    {"freq", required_argument, NULL, 'F'},
	    {"interval", required_argument, NULL, 'i'},
	    {"no-kernel", no_argument, NULL, 'K'},
	    {"host", required_argument, NULL, 'H'},
	    {"output-dir", required_argument, NULL, 'o'},
	    {"folded", no_argument, NULL, 'f'},
	    {"max-age", required_argument, NULL, 'A'},
	    {"max-size", required_argument, NULL, 'Z'},
	    {"push", required_argument, NULL, 'p'},
	    {"push-app", required_argument, NULL, 'a'},
	    {"org-id", required_argument, NULL, 'g'},
	    {"token-file", required_argument, NULL, 't'},
	    {"spool-dir", required_argument, NULL, 'd'},
	    {"spool-size", required_argument, NULL, 'S'},
	    {"memory-limit", required_argument, NULL, 'L'},
	    {"metrics", required_argument, NULL, 'm'},
	    {"log", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt, idx, rc;

	while ((opt = getopt_long(argc, argv, "F:vh", lopts, &idx)) != -1) {
		switch (opt) {
		case 'K':
			a->o.kernel = false;
			break;
		case 'f':
			a->o.folded = true;
			break;
		case 'v':
			a->o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case '?':
			usage(stderr);
			return 2;
		default:
			rc = parse_opt(a, opt, opt == 'F' ? "-F" : lopts[idx].name, optarg);
			if (rc)
				return rc;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xprof agent: unexpected argument '%s'; see 'xprof agent --help'\n",
			argv[optind]);
		return 2;
	}
	if (!a->o.output_dir && !a->o.push_url) {
		fprintf(stderr,
			"xprof agent: no output: give --output-dir DIR and/or --push URL\n");
		return 2;
	}
	if (a->o.folded && !a->o.output_dir) {
		fprintf(stderr, "xprof agent: --folded writes next to --output-dir: give it too\n");
		return 2;
	}
	return -1;
}

/* --spool-dir's default: the first of systemd's $STATE_DIRECTORY, else /var/lib/xprof. */
static void default_spool(struct agent_args *a)
{
	const char *sd = getenv("STATE_DIRECTORY");

	if (a->spool_dir[0])
		return;
	if (sd && *sd) {
		snprintf(a->spool_dir, sizeof(a->spool_dir), "%.*s/spool", (int)strcspn(sd, ":"),
			 sd);
		return;
	}
	/* The spool refuses a missing parent; ours is made here, owner-only. */
	if (mkdir(SPOOL_PARENT, 0700) && errno != EEXIST)
		fprintf(stderr, "xprof agent: cannot create '%s': %s\n", SPOOL_PARENT,
			strerror(errno));
	snprintf(a->spool_dir, sizeof(a->spool_dir), "%s/spool", SPOOL_PARENT);
}

/* "dir (DIR), push (URL)" for the start-up line. */
static void sinks_desc(const struct agent_args *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s%s", a->o.output_dir ? "dir (" : "",
		 a->o.output_dir ? a->o.output_dir : "", a->o.output_dir ? ")" : "",
		 a->o.output_dir && a->o.push_url ? ", " : "", a->o.push_url ? "push (" : "",
		 a->o.push_url ? a->o.push_url : "", a->o.push_url ? ")" : "");
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args a = {
	    .o = {.frequency = 19,
		  .kernel = true,
		  .interval_ns = 10000000000ull,
		  .spool_size = AG_SPOOL_DEFAULT_SIZE,
		  .memory_limit = 64ull << 20},
	    .interval = "10s",
	};
	struct log lg = {.f = stderr, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct sigaction sa = {0};
	char token[TOKEN_MAX], err[512], sinks[1024];
	struct ag_agent *ag;
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.token_file) {
		rc = read_token(a.token_file, token, sizeof(token));
		if (rc)
			return rc;
		a.o.token = token;
	}
	if (a.log) {
		lg.path = a.log;
		lg.f = log_open(a.log);
		if (!lg.f) {
			fprintf(stderr, "xprof agent: cannot open --log '%s': %s\n", a.log,
				strerror(errno));
			return 1;
		}
	}
	default_spool(&a);
	a.o.spool_dir = a.spool_dir;
	a.o.log = log_line;
	a.o.log_ctx = &lg;

	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ag = ag_agent_new(&a.o, err, sizeof(err));
	if (!ag && errno == EPERM && geteuid() != 0) {
		fprintf(stderr, "xprof agent: %s\n", err);
		snprintf(err, sizeof(err),
			 "it needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (see "
			 "dist/xprof-agent.service)");
	}
	if (!ag) {
		fprintf(stderr, "xprof agent: %s\n", err);
		if (lg.f != stderr)
			log_fmt(&lg, "xprof agent: %s", err);
		rc = 1;
		goto out;
	}
	sinks_desc(&a, sinks, sizeof(sinks));
	log_fmt(&lg, "xprof agent: sampling every CPU at %u Hz, windows of %s, sinks: %s",
		a.o.frequency, a.interval, sinks);
	if (a.o.verbose)
		log_fmt(&lg,
			"xprof agent: spool %s (%llu bytes), memory limit %llu bytes, kernel "
			"stacks %s",
			a.spool_dir, (unsigned long long)a.o.spool_size,
			(unsigned long long)a.o.memory_limit, a.o.kernel ? "on" : "off");
	rc = ag_agent_run(ag, &stop_flag, DRAIN_MS, err, sizeof(err)) ? 1 : 0;
	if (rc)
		log_fmt(&lg, "xprof agent: %s", err);
	if (ag_agent_spooled(ag)) {
		/*
		 * The sender may be inside a send that lasts up to its sink's timeout:
		 * do not wait for it. The windows are on disk for the next start.
		 */
		log_fmt(&lg, "xprof agent: %llu windows stay spooled for the next start",
			(unsigned long long)ag_agent_spooled(ag));
		fflush(NULL);
		_exit(rc);
	}
	log_fmt(&lg, "xprof agent: stopped");
	ag_agent_free(ag);
out:
	if (lg.f != stderr)
		fclose(lg.f);
	return rc;
}
