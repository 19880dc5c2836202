// SPDX-License-Identifier: MIT
/*
 * xprof record: parse the options, check everything that can be checked
 * before sampling starts (privileges, BTF, pids, the command, output paths),
 * start the command held on a pipe, then run the capture (capture/) until the
 * stop policy below says so, its events going to the sinks: an .xprof writer
 * per .xprof output, and the report pipeline (pipeline/) in process for the
 * other formats, written from its profile at the end. A failure after the
 * start never throws away what was collected: the .xprof files stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/sample.h"
#include "lib/lib.h"
#include "profiler/profiler_int.h"
#include "capture/capture.h"
#include "recording/xprof_file.h"

#define MAX_PIDS	  1024
#define FREQ_MAX	  10000u
#define DURATION_MAX	  1e7 /* seconds (115 days) */
#define CAP_PERFMON_BIT	  38
#define CAP_BPF_BIT	  39
#define CAP_SYS_ADMIN_BIT 21

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
} events[] = {
    {"cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK},
    {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: xprof record [options] (-p PID[,PID...] | -a | [--] CMD [ARGS...])\n"
	    "\n"
	    "  -p, --pid PID[,PID...]  profile running processes (all their threads)\n"
	    "  -a, --all-cpus          profile every process\n"
	    "  -- CMD [ARGS...]        run CMD and profile it (and its children) until it exits\n"
	    "  -F, --freq HZ           samples per second per CPU (default 99, 1..%u)\n"
	    "  -d, --duration SECONDS  stop after this long (at most 10000000)\n"
	    "  -o, --output FILE       .xprof (raw), .folded, .svg or .pb.gz; may repeat\n"
	    "                          (default xprof.folded)\n"
	    "  -e, --event NAME        cpu-clock (default), task-clock, cycles, instructions, ...\n"
	    "  -g kernel, --kernel     also record kernel stacks\n"
	    "      --stack-max BYTES   copy each sample's user stack from sp to its end, at most\n"
	    "                          this many bytes (default %uM, %uK..%uM; K, M suffixes)\n"
	    "      --stack-size BYTES  the same bound, under its old name\n"
	    "  -v, --verbose           print the sampler's own counters at the end, and how\n"
	    "                          often the capture waited for the report pipeline\n",
	    FREQ_MAX, XP_STACK_DEFAULT >> 20, XP_STACK_MIN >> 10, XP_STACK_MAX >> 20);
}

static bool has_ext(const char *p, const char *ext)
{
	size_t n = strlen(p), e = strlen(ext);

	return n > e && !strcmp(p + n - e, ext);
}

static bool known_format(const char *p)
{
	return has_ext(p, ".xprof") || has_ext(p, ".folded") || has_ext(p, ".svg") ||
	       has_ext(p, ".pb.gz");
}

static bool have_privileges(void)
{
	char line[256];
	FILE *f;
	unsigned long long eff = 0;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	if (eff & (1ull << CAP_SYS_ADMIN_BIT))
		return true;
	return (eff & (1ull << CAP_BPF_BIT)) && (eff & (1ull << CAP_PERFMON_BIT));
}

/*
 * Can execvp run cmd? Mirrors its PATH search: 0, -ENOENT (no such file),
 * -EACCES (a file that is not executable: execvp's answer too) or -EISDIR.
 * A name found only as a non-executable file gives -EACCES, as in execvp.
 */
static int command_check(const char *cmd)
{
	const char *path, *p;
	char buf[PATH_MAX];
	struct stat st;
	int found = -ENOENT;

	if (strchr(cmd, '/')) {
		if (stat(cmd, &st))
			return -ENOENT;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return S_ISREG(st.st_mode) && !access(cmd, X_OK) ? 0 : -EACCES;
	}
	path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", cmd) <
			(int)sizeof(buf) &&
		    !stat(buf, &st) && S_ISREG(st.st_mode)) {
			if (!access(buf, X_OK))
				return 0;
			found = -EACCES;
		}
		if (!e)
			return found;
		p = e + 1;
	}
}

/* The Threads: count of /proc/PID/status, 0 when unknown. */
static unsigned long proc_threads(pid_t pid)
{
	char path[64], line[256];
	unsigned long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %lu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Why pid cannot be profiled, as a message for "xprof: pid N ...", or NULL:
 * a zombie (it has exited and has no address space left) or a kernel thread
 * (no user space at all). Both would run to the end with 0 samples.
 * /proc/PID/stat: "pid (comm) state ppid pgrp session tty tpgid flags ...".
 */
static const char *pid_unprofilable(pid_t pid, char *comm, size_t len)
{
	char path[64], buf[1024];
	unsigned long flags = 0;
	const char *close_paren;
	char state = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL; /* gone or hidden: the recording will say so */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	close_paren = strrchr(buf, ')'); /* comm may itself hold ')' */
	if (!close_paren ||
	    sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return NULL;
	const char *open_paren = strchr(buf, '(');
	snprintf(comm, len, "%.*s", open_paren ? (int)(close_paren - open_paren - 1) : 0,
		 open_paren ? open_paren + 1 : "");
	if (flags & 0x00200000) /* PF_KTHREAD */
		return "is a kernel thread: it has no user space to profile";
	/* A leader that called pthread_exit() is 'Z' too, while its other threads run on. */
	if ((state == 'Z' || state == 'X') && proc_threads(pid) <= 1)
		return "has exited (a zombie its parent has not reaped): there is nothing left to "
		       "profile";
	return NULL;
}

struct child {
	pid_t pid;
	int go_fd;  /* write end: one byte releases the child */
	int err_fd; /* read end: the child's errno if execvp failed, EOF once it ran */
	int exec_errno;
};

static int start_child(struct child *c, char **argv)
{
	int go[2], er[2];

	if (pipe2(go, O_CLOEXEC) || pipe2(er, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		char b;
		int e;

		close(go[1]);
		close(er[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/*
		 * Named as perf names its own ("perf-exec"): the few samples between the
		 * release and the exec are the launcher's, and say so.
		 */
		prctl(PR_SET_NAME, "xprof-exec", 0, 0, 0);
		/* Held until sampling is armed: its first instruction is then sampled. */
		if (read(go[0], &b, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(er[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(er[1]);
	c->go_fd = go[1];
	c->err_fd = er[0];
	return 0;
}

static int release_child(void *ctx)
{
	struct child *c = ctx;
	char b = 1;
	int e;

	if (write(c->go_fd, &b, 1) != 1)
		return -errno;
	close(c->go_fd);
	c->go_fd = -1;
	if (read(c->err_fd, &e, sizeof(e)) == sizeof(e)) {
		c->exec_errno = e;
		return -e;
	}
	return 0;
}

/* One line for a failed output: a full disk in the words of issue reports, else why. */
static void write_failed(const char *path, int err)
{
	if (err == -ENOSPC || err == -EDQUOT)
		fprintf(stderr, "xprof: %s: %s\n", xl_strerror(err), path);
	else
		fprintf(stderr, "xprof: cannot write '%s': %s\n", path, xl_strerror(err));
}

/* What the command line asked for. */
struct rec_args {
	struct capture_opts o;
	double duration; /* -d seconds; 0: until stopped */
	bool verbose;
	const char *outputs[MAX_OUTPUTS];
	size_t nout;
	pid_t pids[MAX_PIDS];
	char **cmd; /* -- CMD ARGS, or NULL */
	char target[256];
};

/* -p PID[,PID...] into a->pids. 0, or the exit status after a one-line error. */
static int parse_pids(struct rec_args *a, char *arg)
{
	char *end;

	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		long v = strtol(tok, &end, 10);

		if (*end || v <= 0 || v > INT_MAX) {
			fprintf(stderr, "xprof: bad pid '%s'; give -p PID[,PID...]\n", tok);
			return 2;
		}
		if (a->o.npids == MAX_PIDS) {
			fprintf(stderr, "xprof: too many pids (at most %d)\n", MAX_PIDS);
			return 2;
		}
		a->pids[a->o.npids++] = v;
	}
	return 0;
}

/* -e NAME. 0, or the exit status after a one-line error. */
static int parse_event(struct rec_args *a, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (!strcmp(name, events[i].name))
			break;
	if (i == sizeof(events) / sizeof(events[0])) {
		fprintf(stderr,
			"xprof: unknown event '%s'; use cpu-clock, task-clock, cycles, "
			"instructions, cache-misses or branch-misses\n",
			name);
		return 2;
	}
	a->o.ev_name = events[i].name;
	a->o.ev_type = events[i].type;
	a->o.ev_config = events[i].config;
	return 0;
}

/* One option with a value. 0, or the exit status after a one-line error. */
static int parse_opt(struct rec_args *a, int opt, char *arg)
{
	char *end;

	switch (opt) {
	case 'p':
		return parse_pids(a, arg);
	case 'F': {
		unsigned long v = strtoul(arg, &end, 10);

		if (*end || !*arg || v < 1 || v > FREQ_MAX) {
			fprintf(stderr, "xprof: bad frequency '%s'; give -F 1..%u (Hz)\n", arg,
				FREQ_MAX);
			return 2;
		}
		a->o.frequency = v;
		return 0;
	}
	case 'd':
		a->duration = strtod(arg, &end);
		if (*end || !*arg || !(a->duration > 0) || a->duration > DURATION_MAX) {
			fprintf(stderr,
				"xprof: bad duration '%s'; give -d SECONDS, more than 0 and at "
				"most %.0f (%d days)\n",
				arg, DURATION_MAX, (int)(DURATION_MAX / 86400));
			return 2;
		}
		return 0;
	case 'o':
		if (a->nout == MAX_OUTPUTS) {
			fprintf(stderr, "xprof: too many -o (at most %d)\n", MAX_OUTPUTS);
			return 2;
		}
		a->outputs[a->nout++] = arg;
		return 0;
	case 'e':
		return parse_event(a, arg);
	case 'g':
		if (strcmp(arg, "kernel")) {
			fprintf(stderr, "xprof: unknown -g '%s'; -g kernel adds kernel stacks\n",
				arg);
			return 2;
		}
		a->o.kstack = true;
		return 0;
	case 'S':
	case 'M': {
		unsigned long v = strtoul(arg, &end, 0);

		if (*end == 'K' || *end == 'k')
			v = v > ULONG_MAX >> 10 ? ULONG_MAX : v << 10, end++;
		else if (*end == 'M' || *end == 'm')
			v = v > ULONG_MAX >> 20 ? ULONG_MAX : v << 20, end++;
		if (*end || !*arg || v < XP_STACK_MIN || v > XP_STACK_MAX) {
			fprintf(stderr, "xprof: bad %s '%s'; give %u..%u bytes (or 1K..%uM)\n",
				opt == 'S' ? "--stack-size" : "--stack-max", arg, XP_STACK_MIN,
				XP_STACK_MAX, XP_STACK_MAX >> 20);
			return 2;
		}
		a->o.stack_size = (v + 7) & ~7ul;
		return 0;
	}
	default:
		return 2;
	}
}

/*
 * The command line into a. -1 to go on, or the exit status (0 after --help,
 * 2 after a one-line error or the usage).
 */
static int parse_args(int argc, char **argv, struct rec_args *a)
{
	static const struct option lopts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"all-cpus", no_argument, NULL, 'a'},
	    {"freq", required_argument, NULL, 'F'},
	    {"duration", required_argument, NULL, 'd'},
	    {"output", required_argument, NULL, 'o'},
	    {"event", required_argument, NULL, 'e'},
	    {"call-graph", required_argument, NULL, 'g'},
	    {"kernel", no_argument, NULL, 'K'},
	    {"stack-size", required_argument, NULL, 'S'},
	    {"stack-max", required_argument, NULL, 'M'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+p:aF:d:o:e:g:hv", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			a->o.all = true;
			break;
		case 'K':
			a->o.kstack = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'p':
		case 'F':
		case 'd':
		case 'o':
		case 'e':
		case 'g':
		case 'S':
		case 'M':
			rc = parse_opt(a, opt, optarg);
			if (rc)
				return rc;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		a->cmd = argv + optind;
	if ((a->o.npids > 0) + a->o.all + (a->cmd != NULL) != 1) {
		fprintf(stderr, "xprof: give exactly one target: -p PID, -a, or -- CMD; see "
				"'xprof record --help'\n");
		return 2;
	}
	a->o.pids = a->pids;
	if (a->nout == 0)
		a->outputs[a->nout++] = "xprof.folded";
	return -1;
}

/* Outputs: a known format each, and writable. 0, or the exit status after a one-line error. */
static int check_outputs(const struct rec_args *a)
{
	for (size_t i = 0; i < a->nout; i++) {
		int e;

		if (!known_format(a->outputs[i])) {
			fprintf(stderr,
				"xprof: unknown output format '%s'; use .xprof, .folded, .svg or "
				".pb.gz\n",
				a->outputs[i]);
			return 2;
		}
		/* Nothing is created yet: a refused run leaves no file behind. */
		e = xl_out_check(a->outputs[i]);
		if (e) {
			fprintf(stderr, "xprof: cannot write '%s': %s; choose another -o path\n",
				a->outputs[i], xl_strerror(e));
			return 1;
		}
	}
	return 0;
}

/* -F against the kernel's limit, which refuses (EINVAL) more and may lower itself. */
static int check_frequency(const struct rec_args *a)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "re");
	unsigned long max = 0;

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (max && a->o.frequency > max) {
		fprintf(stderr,
			"xprof: -F %u is above kernel.perf_event_max_sample_rate (%lu); "
			"lower -F or "
			"raise the sysctl\n",
			a->o.frequency, max);
		return 2;
	}
	return 0;
}

/* The targets: every pid alive and profilable, the command runnable. 0 or the exit status. */
static int check_targets(const struct rec_args *a)
{
	int e;

	for (size_t i = 0; i < a->o.npids; i++) {
		char comm[64];
		const char *why;

		if (kill(a->pids[i], 0) && errno == ESRCH) {
			fprintf(stderr, "xprof: no process with pid %d; check the pid (ps -p %d)\n",
				(int)a->pids[i], (int)a->pids[i]);
			return 1;
		}
		why = pid_unprofilable(a->pids[i], comm, sizeof(comm));
		if (why) {
			fprintf(stderr, "xprof: pid %d (%s) %s\n", (int)a->pids[i], comm, why);
			return 1;
		}
	}
	e = a->cmd ? command_check(a->cmd[0]) : 0;
	if (e == -ENOENT) {
		fprintf(stderr, "xprof: command not found: '%s'; check the name or give its path\n",
			a->cmd[0]);
		return 127;
	}
	if (e) {
		/* 126, as a shell says for a command it found but cannot execute. */
		fprintf(stderr, "xprof: '%s' is %s; give a program to run\n", a->cmd[0],
			e == -EISDIR ? "a directory, not a program" : "not executable");
		return 126;
	}
	return 0;
}

/* Everything that can be checked before sampling starts. 0 or the exit status. */
static int check_args(const struct rec_args *a)
{
	int rc;

	if (!have_privileges()) {
		fprintf(stderr,
			"xprof: record needs root or CAP_BPF and CAP_PERFMON; run it with sudo\n");
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "xprof: the kernel has no BTF (/sys/kernel/btf/vmlinux); it needs "
				"CONFIG_DEBUG_INFO_BTF=y\n");
		return 1;
	}
	rc = check_outputs(a);
	if (!rc)
		rc = check_frequency(a);
	if (!rc)
		rc = check_targets(a);
	return rc;
}

/* The target as the file's header names it: "-a", "-p 1,2", "-- ./prog arg". */
static void target_string(struct rec_args *a)
{
	size_t at;

	if (a->o.all) {
		snprintf(a->target, sizeof(a->target), "-a");
	} else if (a->o.npids) {
		at = snprintf(a->target, sizeof(a->target), "-p ");
		for (size_t i = 0; i < a->o.npids && at < sizeof(a->target); i++)
			at += snprintf(a->target + at, sizeof(a->target) - at, "%s%d", i ? "," : "",
				       (int)a->pids[i]);
	} else {
		at = snprintf(a->target, sizeof(a->target), "--");
		for (char **p = a->cmd; *p && at < sizeof(a->target); p++)
			at += snprintf(a->target + at, sizeof(a->target) - at, " %s", *p);
	}
	a->o.target = a->target;
}

/*
 * The sinks of one recording, fed by the capture in time order: a writer per
 * .xprof output, and the report pipeline (a session) when other formats are
 * asked for, so they are made from the live stream: no file in between.
 */
struct rec_out {
	const char *path;
	struct xpf_writer *w; /* .xprof outputs, from begin() until closed */
	int err;	      /* its write error: the file keeps its prefix */
};

struct rec_sinks {
	struct rec_out xprof[MAX_OUTPUTS];
	size_t nxprof;
	struct xp_session *session; /* NULL: no report outputs */
	struct xp_queue *queue;	    /* feeds session on a thread of its own */
	int session_err;
	bool stopped; /* a write failed: the recording ends there, for every sink */
};

static int sinks_begin(void *ctx, const struct xp_rec_info *info, uint32_t ncpus)
{
	struct rec_sinks *k = ctx;

	/* Before any event: the profile's wall-clock start and length (pprof). */
	if (k->session && info->start_real_ns)
		xp_session_set_clock(k->session, info->start_time_ns, info->start_real_ns);

	for (size_t i = 0; i < k->nxprof; i++) {
		k->xprof[i].w = xpf_writer_open(k->xprof[i].path, info, ncpus);
		if (!k->xprof[i].w) {
			k->xprof[i].err = -errno;
			return k->xprof[i].err;
		}
	}
	return 0;
}

static int sinks_event(void *ctx, const struct xp_event *ev)
{
	struct rec_sinks *k = ctx;
	int err;

	if (k->stopped)
		return 0;
	for (size_t i = 0; i < k->nxprof; i++) {
		err = xpf_writer_event(k->xprof[i].w, ev);
		if (err) {
			k->xprof[i].err = err;
			k->stopped = true;
			return err;
		}
	}
	if (k->queue) {
		err = xp_queue_event(k->queue, ev);
		if (err) {
			k->session_err = err;
			k->stopped = true;
			return err;
		}
	}
	return 0;
}

/* Make the .xprof outputs readable so far: a killed record leaves this prefix. */
static int sinks_flush(struct rec_sinks *k)
{
	for (size_t i = 0; i < k->nxprof; i++) {
		int err = k->stopped ? 0 : xpf_writer_flush(k->xprof[i].w);

		if (err) {
			k->xprof[i].err = err;
			k->stopped = true;
			return err;
		}
	}
	return 0;
}

/* Nothing was recorded: remove the .xprof files begin() created. */
static void sinks_discard(struct rec_sinks *k)
{
	for (size_t i = 0; i < k->nxprof; i++) {
		if (!k->xprof[i].w)
			continue;
		xpf_writer_free(k->xprof[i].w);
		k->xprof[i].w = NULL;
		unlink(k->xprof[i].path);
	}
}

/* One line for the error that stopped the recording. */
static void sinks_failed(const struct rec_sinks *k, int err, const char *what)
{
	for (size_t i = 0; i < k->nxprof; i++)
		if (k->xprof[i].err) {
			write_failed(k->xprof[i].path, k->xprof[i].err);
			return;
		}
	if (k->session_err)
		fprintf(stderr, "xprof: cannot build the profile: %s\n", strerror(-k->session_err));
	else if (what[0])
		fprintf(stderr, "xprof: %s\n", what);
	else
		fprintf(stderr, "xprof: capture: %s\n", strerror(-err));
}

#define QUEUE_MAX (256u << 20) /* events waiting for the report pipeline, at most */
#define ROUND_MS  40	       /* how often the capture's rings are drained */
#define FLUSH_NS  200000000ull /* how often the .xprof outputs are flushed */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct rec_end {
	bool child_exited;
	int child_status; /* waitpid status when child_exited */
};

/*
 * The stop policy: poll until SIGINT/SIGTERM, the duration, the child's
 * exit, or (-p) the last target's end; flush the .xprof outputs every
 * 200 ms. Then stop the capture, which delivers the rest. 0 or -errno.
 */
static int record_loop(struct capture *c, struct rec_sinks *k, const struct rec_args *a,
		       pid_t child, struct rec_end *end)
{
	uint64_t t0 = now_ns(), t_end = 0, t_flush = t0, t_alive = 0;
	int err = 0, status;

	if (a->duration > 0)
		t_end = t0 + (uint64_t)(a->duration * 1e9);
	while (!stop_flag) {
		err = capture_poll(c, ROUND_MS);
		if (err)
			return err;
		t0 = now_ns();
		if (t0 - t_flush >= FLUSH_NS) {
			err = sinks_flush(k);
			if (err)
				return err;
			t_flush = t0;
		}
		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			end->child_exited = true;
			end->child_status = status;
			break;
		}
		if (t_end && t0 >= t_end)
			break;
		if (!a->o.all && !child && t0 - t_alive >= FLUSH_NS) {
			t_alive = t0;
			if (!capture_targets_alive(c))
				break;
		}
	}
	return capture_stop(c);
}

/* Append s to the "wrote ..." list. */
static void wrote(char *buf, size_t cap, const char *s, const char *note)
{
	size_t at = strlen(buf);

	snprintf(buf + at, cap - at, "%s%s%s", at ? ", " : "", s, note);
}

/* Close the .xprof outputs with the final counts, into the "wrote" list. false if one failed. */
static bool close_xprof(struct rec_sinks *k, const struct capture_stats *st, char *written,
			size_t cap)
{
	uint64_t t_end = now_ns(); /* one for all, so that the files are the same */
	bool ok = true;

	for (size_t i = 0; i < k->nxprof; i++) {
		struct rec_out *out = &k->xprof[i];
		int err;

		if (out->err) {
			/* The writer marked the file where it stopped; its prefix reads. */
			xpf_writer_free(out->w);
			out->w = NULL;
			wrote(written, cap, out->path, " (truncated)");
			ok = false;
			continue;
		}
		err = xpf_writer_close(out->w, t_end, st->samples, st->lost, st->lost_sideband);
		out->w = NULL;
		if (err) {
			write_failed(out->path, err);
			ok = false;
			continue;
		}
		wrote(written, cap, out->path, "");
	}
	return ok;
}

/*
 * The summary line and the report outputs, made in process from the
 * session. Without report outputs, the counts come from the first .xprof
 * written (read back, which also proves it readable). false if an output
 * could not be written.
 */
static bool finish_outputs(struct rec_sinks *k, const struct rec_args *a,
			   const struct capture_stats *st, const char *written)
{
	const char *outs[MAX_OUTPUTS], *done[MAX_OUTPUTS], *why;
	unsigned nouts = 0, ndone = 0;
	struct xp_rec_info info = {0};
	struct rep_opts ro = {0};
	struct rep_profile *prof;
	bool ok;
	int err;

	if (!k->queue) {
		for (size_t i = 0; i < k->nxprof; i++)
			if (!xp_recording_read(k->xprof[i].path, NULL, NULL, &info, &why))
				break;
		if (!info.samples)
			info.samples = st->samples;
		fprintf(stderr, "xprof: %llu samples, %llu lost, %llu processes",
			(unsigned long long)info.samples, (unsigned long long)st->lost,
			(unsigned long long)info.processes);
		if (st->unmapped)
			fprintf(stderr, ", %llu samples without mappings",
				(unsigned long long)st->unmapped);
		fprintf(stderr, "; wrote %s\n", written[0] ? written : "nothing");
		return true;
	}
	for (size_t i = 0; i < a->nout; i++)
		if (!has_ext(a->outputs[i], ".xprof"))
			outs[nouts++] = a->outputs[i];
	err = xp_queue_finish(k->queue);
	if (err) {
		fprintf(stderr, "xprof: cannot build the profile: %s\n", strerror(-err));
		return false;
	}
	prof = xp_session_profile(k->session);
	if (!prof) {
		fprintf(stderr, "xprof: out of memory\n");
		return false;
	}
	ok = report_write_all(prof, &ro, outs, nouts, done, &ndone);
	xp_session_warnings(k->session, stderr);
	report_summary(xp_session_stats(k->session), written[0] ? written : NULL, done, ndone);
	return ok;
}

static void print_counters(const struct rec_args *a, const struct capture_stats *st,
			   const struct rec_sinks *k)
{
	if (a->verbose && k->queue)
		fprintf(stderr, "xprof: report pipeline: the capture waited for it %llu times\n",
			(unsigned long long)xp_queue_stalls(k->queue));
	if (a->verbose)
		fprintf(
		    stderr,
		    "xprof: sampler: %llu samples, %.0f ns each on average, %llu without any stack "
		    "byte, %llu on a sigaltstack without a signal frame, %llu written out of "
		    "order\n",
		    (unsigned long long)st->bpf_samples,
		    st->bpf_samples ? (double)st->bpf_sample_ns / st->bpf_samples : 0.0,
		    (unsigned long long)st->read_fail, (unsigned long long)st->no_sigframe,
		    (unsigned long long)st->misordered);
	if (a->verbose)
		fprintf(stderr,
			"xprof: mappings: %llu processes read from /proc at their first sample, "
			"%llu samples without mappings (process gone, or amid exit or exec)\n",
			(unsigned long long)st->maps_late, (unsigned long long)st->unmapped);
	if (a->verbose)
		fprintf(stderr,
			"xprof: sampler stacks: %llu thread stacks looked up, %llu lookups failed "
			"(copied as far as mapped), %llu interrupted stacks left out (ring buffer "
			"full)\n",
			(unsigned long long)st->vma_find, (unsigned long long)st->vma_fail,
			(unsigned long long)st->drop_stack2);
	if (a->verbose)
		fprintf(stderr, "xprof: sampler ring: %.0f bytes reserved per sample\n",
			st->bpf_samples ? (double)st->rb_bytes / st->bpf_samples : 0.0);
	if (a->verbose && st->prog_run_cnt)
		fprintf(stderr,
			"xprof: sampler runs: %llu, %llu ns in total (kernel.bpf_stats_enabled)\n",
			(unsigned long long)st->prog_run_cnt, (unsigned long long)st->prog_run_ns);
	if (st->lost_sideband)
		fprintf(stderr,
			"xprof: warning: the kernel dropped %llu mmap/comm/task events; "
			"some samples may lack their mappings\n",
			(unsigned long long)st->lost_sideband);
}

/* The sinks for a's outputs: NULL session when every output is .xprof. 0 or exit status. */
static int sinks_init(struct rec_sinks *k, const struct rec_args *a)
{
	struct xp_session_opts so = {0};
	bool report = false;

	for (size_t i = 0; i < a->nout; i++) {
		if (has_ext(a->outputs[i], ".xprof"))
			k->xprof[k->nxprof++].path = a->outputs[i];
		else
			report = true;
	}
	if (!report)
		return 0;
	k->session = xp_session_new(&so);
	if (!k->session) {
		fprintf(stderr, "xprof: cannot start the report: %s\n", strerror(errno));
		return 1;
	}
	if (xp_session_cache_refused(k->session))
		fprintf(stderr, "xprof: %s; going on without the cache\n",
			xp_session_cache_refused(k->session));
	/*
	 * The pipeline may take seconds over one event (the first mmap of a file
	 * builds its tables); on its own thread it never keeps the capture from
	 * draining its rings.
	 */
	k->queue = xp_queue_new(xp_session_event, k->session, a->o.frequency, QUEUE_MAX);
	if (!k->queue) {
		fprintf(stderr, "xprof: cannot start the report: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* Record with a's settings into its outputs. The exit status. */
static int record(struct rec_args *a)
{
	struct rec_sinks k = {0};
	struct capture_sink sink = {.begin = sinks_begin, .event = sinks_event, .ctx = &k};
	struct child child = {.go_fd = -1, .err_fd = -1};
	struct rec_end end = {0};
	struct capture *c = NULL;
	struct sigaction sa = {0};
	char err[512], written[1024] = "";
	int rc = 1, e;

	rc = sinks_init(&k, a);
	if (rc)
		return rc;
	rc = 1;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (a->cmd) {
		e = start_child(&child, a->cmd);
		if (e) {
			fprintf(stderr, "xprof: cannot start '%s': %s\n", a->cmd[0], strerror(-e));
			goto out;
		}
		a->o.child = child.pid;
	}

	c = capture_new(&a->o, &sink, err, sizeof(err));
	if (!c) {
		sinks_failed(&k, -errno, err);
		sinks_discard(&k);
		goto out;
	}
	/* Sampling is armed and the child a target: its first instruction is sampled. */
	if (a->cmd && release_child(&child)) {
		fprintf(stderr, "xprof: cannot run '%s': %s\n", a->cmd[0],
			strerror(child.exec_errno ? child.exec_errno : errno));
		sinks_discard(&k);
		rc = 127;
		goto out;
	}
	e = record_loop(c, &k, a, child.pid, &end);
	if (e && !k.stopped) {
		sinks_failed(&k, e, "");
		goto out;
	}
	if (e)
		sinks_failed(&k, e, ""); /* a write error: the other outputs come from the prefix */
	rc = !close_xprof(&k, capture_stats(c), written, sizeof(written)) || e;
	if (!finish_outputs(&k, a, capture_stats(c), written))
		rc = 1;
	print_counters(a, capture_stats(c), &k);
	if (end.child_exited && rc == 0) {
		if (WIFEXITED(end.child_status))
			rc = WEXITSTATUS(end.child_status);
		else if (WIFSIGNALED(end.child_status))
			rc = 128 + WTERMSIG(end.child_status);
	}
out:
	capture_free(c);
	for (size_t i = 0; i < k.nxprof; i++)
		xpf_writer_free(k.xprof[i].w);
	xp_queue_free(k.queue); /* before the session it feeds */
	xp_session_free(k.session);
	if (child.go_fd >= 0)
		close(child.go_fd); /* a held child sees EOF and exits */
	if (child.err_fd >= 0)
		close(child.err_fd);
	if (child.pid > 0 && !end.child_exited) {
		int st;

		if (waitpid(child.pid, &st, WNOHANG) == 0) {
			kill(child.pid, SIGTERM);
			waitpid(child.pid, &st, 0);
		}
	}
	return rc;
}

int cmd_record(int argc, char **argv)
{
	struct rec_args a = {
	    .o =
		{
		    .frequency = 99,
		    .stack_size = XP_STACK_DEFAULT,
		    .ev_type = PERF_TYPE_SOFTWARE,
		    .ev_config = PERF_COUNT_SW_CPU_CLOCK,
		    .ev_name = "cpu-clock",
		},
	};
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = check_args(&a);
	if (rc)
		return rc;
	target_string(&a);
	return record(&a);
}
