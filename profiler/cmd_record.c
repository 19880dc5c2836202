// SPDX-License-Identifier: MIT
/*
 * xprof record: parse the options, check everything that can be checked
 * before sampling starts (privileges, BTF, pids, the command, output paths),
 * start the command held on a pipe, run the session (record.c) into an .xprof
 * file, then hand other output formats to `xprof report`. A failure after
 * the start never throws away what was collected: the .xprof file stays.
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
#include <unistd.h>

#include "bpf/sample.h"
#include "lib/lib.h"
#include "profiler/profiler_int.h"
#include "capture/capture.h"

#define MAX_OUTPUTS	  16
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
	    "  -v, --verbose           print the sampler's own counters at the end\n",
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

/*
 * A second .xprof output: a copy of the first, through a temporary file
 * renamed when whole (a full disk leaves no partial copy). 0 or -errno.
 */
static int copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	struct xl_out out;
	int in, err;
	ssize_t n;

	in = xl_open_regular(from);
	if (in < 0)
		return in;
	err = xl_out_open(&out, to, XL_OUT_SYNC, 0644);
	if (err) {
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		err = xl_write_all(out.fd, buf, (size_t)n);
		if (err)
			break;
	}
	if (n < 0 && !err)
		err = -errno;
	close(in);
	if (err) {
		xl_out_abort(&out);
		return err;
	}
	return xl_out_commit(&out);
}

/* One line for a failed output: a full disk in the words of issue reports, else why. */
static void write_failed(const char *path, int err)
{
	if (err == -ENOSPC || err == -EDQUOT)
		fprintf(stderr, "xprof: %s: %s\n", xl_strerror(err), path);
	else
		fprintf(stderr, "xprof: cannot write '%s': %s\n", path, xl_strerror(err));
}

/* The summary's counts, read back from the file just written (which also proves it readable). */
static int count_file(const char *path, struct xp_rec_info *info)
{
	const char *why;

	return xp_recording_read(path, NULL, NULL, info, &why);
}

int cmd_record(int argc, char **argv)
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
	bool verbose = false, reported = false, write_err = false;
	struct xp_record_opts o = {
	    .frequency = 99,
	    .stack_size = XP_STACK_DEFAULT,
	    .ev_type = PERF_TYPE_SOFTWARE,
	    .ev_config = PERF_COUNT_SW_CPU_CLOCK,
	    .ev_name = "cpu-clock",
	    .stop = &stop_flag,
	};
	struct xp_record_result res = {0};
	struct child child = {.go_fd = -1, .err_fd = -1};
	const char *outputs[MAX_OUTPUTS];
	size_t nout = 0;
	pid_t pids[MAX_PIDS];
	char target[256], err[512], tmp[PATH_MAX] = "", written[1024] = "";
	const char *rec_path = NULL;
	char **cmd = NULL;
	int opt, rc = 1, e;
	struct sigaction sa = {0};
	struct xp_rec_info info;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:aF:d:o:e:g:hv", lopts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'p':
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				long v = strtol(tok, &end, 10);

				if (*end || v <= 0 || v > INT_MAX) {
					fprintf(stderr,
						"xprof: bad pid '%s'; give -p PID[,PID...]\n", tok);
					return 2;
				}
				if (o.npids == MAX_PIDS) {
					fprintf(stderr, "xprof: too many pids (at most %d)\n",
						MAX_PIDS);
					return 2;
				}
				pids[o.npids++] = v;
			}
			break;
		case 'a':
			o.all = true;
			break;
		case 'F': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !*optarg || v < 1 || v > FREQ_MAX) {
				fprintf(stderr, "xprof: bad frequency '%s'; give -F 1..%u (Hz)\n",
					optarg, FREQ_MAX);
				return 2;
			}
			o.frequency = v;
			break;
		}
		case 'd':
			o.duration = strtod(optarg, &end);
			if (*end || !*optarg || !(o.duration > 0) || o.duration > DURATION_MAX) {
				fprintf(
				    stderr,
				    "xprof: bad duration '%s'; give -d SECONDS, more than 0 and at "
				    "most %.0f (%d days)\n",
				    optarg, DURATION_MAX, (int)(DURATION_MAX / 86400));
				return 2;
			}
			break;
		case 'o':
			if (nout == MAX_OUTPUTS) {
				fprintf(stderr, "xprof: too many -o (at most %d)\n", MAX_OUTPUTS);
				return 2;
			}
			outputs[nout++] = optarg;
			break;
		case 'e': {
			size_t i;

			for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
				if (!strcmp(optarg, events[i].name))
					break;
			if (i == sizeof(events) / sizeof(events[0])) {
				fprintf(
				    stderr,
				    "xprof: unknown event '%s'; use cpu-clock, task-clock, cycles, "
				    "instructions, cache-misses or branch-misses\n",
				    optarg);
				return 2;
			}
			o.ev_name = events[i].name;
			o.ev_type = events[i].type;
			o.ev_config = events[i].config;
			break;
		}
		case 'g':
			if (strcmp(optarg, "kernel")) {
				fprintf(stderr,
					"xprof: unknown -g '%s'; -g kernel adds kernel stacks\n",
					optarg);
				return 2;
			}
			o.kstack = true;
			break;
		case 'K':
			o.kstack = true;
			break;
		case 'S':
		case 'M': {
			unsigned long v = strtoul(optarg, &end, 0);

			if (*end == 'K' || *end == 'k')
				v = v > ULONG_MAX >> 10 ? ULONG_MAX : v << 10, end++;
			else if (*end == 'M' || *end == 'm')
				v = v > ULONG_MAX >> 20 ? ULONG_MAX : v << 20, end++;
			if (*end || !*optarg || v < XP_STACK_MIN || v > XP_STACK_MAX) {
				fprintf(stderr,
					"xprof: bad %s '%s'; give %u..%u bytes (or 1K..%uM)\n",
					opt == 'S' ? "--stack-size" : "--stack-max", optarg,
					XP_STACK_MIN, XP_STACK_MAX, XP_STACK_MAX >> 20);
				return 2;
			}
			o.stack_size = (v + 7) & ~7ul;
			break;
		}
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		cmd = argv + optind;
	if ((o.npids > 0) + o.all + (cmd != NULL) != 1) {
		fprintf(stderr, "xprof: give exactly one target: -p PID, -a, or -- CMD; see "
				"'xprof record --help'\n");
		return 2;
	}
	o.pids = pids;
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
	if (nout == 0)
		outputs[nout++] = "xprof.folded";
	for (size_t i = 0; i < nout; i++) {
		if (!known_format(outputs[i])) {
			fprintf(stderr,
				"xprof: unknown output format '%s'; use .xprof, .folded, .svg or "
				".pb.gz\n",
				outputs[i]);
			return 2;
		}
		/* Nothing is created yet: a refused run leaves no file behind. */
		e = xl_out_check(outputs[i]);
		if (e) {
			fprintf(stderr, "xprof: cannot write '%s': %s; choose another -o path\n",
				outputs[i], xl_strerror(e));
			return 1;
		}
		if (!rec_path && has_ext(outputs[i], ".xprof"))
			rec_path = outputs[i];
	}

	{
		/* The kernel refuses (EINVAL) frequencies above this sysctl, which it may lower
		 * itself. */
		FILE *f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "re");
		unsigned long max = 0;

		if (f) {
			if (fscanf(f, "%lu", &max) != 1)
				max = 0;
			fclose(f);
		}
		if (max && o.frequency > max) {
			fprintf(stderr,
				"xprof: -F %u is above kernel.perf_event_max_sample_rate (%lu); "
				"lower -F or "
				"raise the sysctl\n",
				o.frequency, max);
			return 2;
		}
	}
	for (size_t i = 0; i < o.npids; i++) {
		char comm[64];
		const char *why;

		if (kill(pids[i], 0) && errno == ESRCH) {
			fprintf(stderr, "xprof: no process with pid %d; check the pid (ps -p %d)\n",
				(int)pids[i], (int)pids[i]);
			return 1;
		}
		why = pid_unprofilable(pids[i], comm, sizeof(comm));
		if (why) {
			fprintf(stderr, "xprof: pid %d (%s) %s\n", (int)pids[i], comm, why);
			return 1;
		}
	}
	e = cmd ? command_check(cmd[0]) : 0;
	if (e == -ENOENT) {
		fprintf(stderr, "xprof: command not found: '%s'; check the name or give its path\n",
			cmd[0]);
		return 127;
	}
	if (e) {
		/* 126, as a shell says for a command it found but cannot execute. */
		fprintf(stderr, "xprof: '%s' is %s; give a program to run\n", cmd[0],
			e == -EISDIR ? "a directory, not a program" : "not executable");
		return 126;
	}

	/* The target string, for the file's header. */
	if (o.all) {
		snprintf(target, sizeof(target), "-a");
	} else if (o.npids) {
		size_t at = snprintf(target, sizeof(target), "-p ");

		for (size_t i = 0; i < o.npids && at < sizeof(target); i++)
			at += snprintf(target + at, sizeof(target) - at, "%s%d", i ? "," : "",
				       (int)pids[i]);
	} else {
		size_t at = snprintf(target, sizeof(target), "--");

		for (char **a = cmd; *a && at < sizeof(target); a++)
			at += snprintf(target + at, sizeof(target) - at, " %s", *a);
	}
	o.target = target;

	if (!rec_path) {
		const char *td = getenv("TMPDIR");
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/xprof-XXXXXX.xprof", td && *td ? td : "/tmp");
		fd = mkstemps(tmp, 6);
		if (fd < 0) {
			fprintf(stderr,
				"xprof: cannot create a temporary file in '%s': %s; set TMPDIR\n",
				td && *td ? td : "/tmp", strerror(errno));
			return 1;
		}
		close(fd);
		rec_path = tmp;
	}
	o.path = rec_path;

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cmd) {
		e = start_child(&child, cmd);
		if (e) {
			fprintf(stderr, "xprof: cannot start '%s': %s\n", cmd[0], strerror(-e));
			goto out;
		}
		o.child = child.pid;
		o.armed = release_child;
		o.armed_ctx = &child;
	}

	e = xp_record_run(&o, &res, err, sizeof(err));
	if (child.exec_errno) {
		fprintf(stderr, "xprof: cannot run '%s': %s\n", cmd[0], strerror(child.exec_errno));
		rc = 127;
		goto out;
	}
	if (e) {
		fprintf(stderr, "xprof: %s\n", err);
		/*
		 * A write error (a full disk) after sampling started leaves a
		 * readable, marked prefix: the other outputs are still made from
		 * it, and the run fails.
		 */
		if (!res.write_err || count_file(rec_path, &info))
			goto out;
		write_err = true;
	}

	rc = write_err;
	for (size_t i = 0; i < nout; i++) {
		size_t at = strlen(written);

		if (has_ext(outputs[i], ".xprof") && outputs[i] != rec_path) {
			e = copy_file(rec_path, outputs[i]);
			if (e) {
				write_failed(outputs[i], e);
				rc = 1;
				continue;
			}
		}
		if (has_ext(outputs[i], ".xprof"))
			snprintf(written + at, sizeof(written) - at, "%s%s%s", at ? ", " : "",
				 outputs[i],
				 write_err && outputs[i] == rec_path ? " (truncated)" : "");
	}
	{
		/* Other formats: `xprof report -i REC -o OUT...`. */
		char *rargv[5 + 2 * MAX_OUTPUTS + 1];
		int rargc = 0;
		size_t nrep = 0;

		/*
		 * One summary line: report's, which also says how many stacks
		 * unwound completely; it names the .xprof files written too.
		 */
		rargv[rargc++] = "report";
		if (written[0]) {
			rargv[rargc++] = "--also-wrote";
			rargv[rargc++] = written;
		}
		rargv[rargc++] = "-i";
		rargv[rargc++] = (char *)rec_path;
		for (size_t i = 0; i < nout; i++) {
			if (has_ext(outputs[i], ".xprof"))
				continue;
			rargv[rargc++] = "-o";
			rargv[rargc++] = (char *)outputs[i];
			nrep++;
		}
		rargv[rargc] = NULL;
		if (nrep) {
			optind = 1;
			reported = true;
			if (cmd_report(rargc, rargv)) {
				rc = 1;
				if (tmp[0]) {
					fprintf(stderr, "xprof: the recording is kept in '%s'\n",
						tmp);
					tmp[0] = 0; /* keep it */
				}
			} else {
				for (size_t i = 0; i < nout; i++) {
					size_t at = strlen(written);

					if (!has_ext(outputs[i], ".xprof"))
						snprintf(written + at, sizeof(written) - at, "%s%s",
							 at ? ", " : "", outputs[i]);
				}
			}
		}
	}
	memset(&info, 0, sizeof(info));
	if (count_file(rec_path, &info))
		info.samples = res.samples;
	if (!reported) {
		fprintf(stderr, "xprof: %llu samples, %llu lost, %llu processes",
			(unsigned long long)info.samples, (unsigned long long)res.lost,
			(unsigned long long)info.processes);
		if (res.unmapped)
			fprintf(stderr, ", %llu samples without mappings",
				(unsigned long long)res.unmapped);
		fprintf(stderr, "; wrote %s\n", written[0] ? written : "nothing");
	}
	if (verbose)
		fprintf(
		    stderr,
		    "xprof: sampler: %llu samples, %.0f ns each on average, %llu without any stack "
		    "byte, %llu on a sigaltstack without a signal frame, %llu written out of "
		    "order\n",
		    (unsigned long long)res.bpf_samples,
		    res.bpf_samples ? (double)res.bpf_sample_ns / res.bpf_samples : 0.0,
		    (unsigned long long)res.read_fail, (unsigned long long)res.no_sigframe,
		    (unsigned long long)res.misordered);
	if (verbose)
		fprintf(stderr,
			"xprof: mappings: %llu processes read from /proc at their first sample, "
			"%llu samples without mappings (process gone, or amid exit or exec)\n",
			(unsigned long long)res.maps_late, (unsigned long long)res.unmapped);
	if (verbose)
		fprintf(stderr,
			"xprof: sampler stacks: %llu thread stacks looked up, %llu lookups failed "
			"(copied as far as mapped), %llu interrupted stacks left out (ring buffer "
			"full)\n",
			(unsigned long long)res.vma_find, (unsigned long long)res.vma_fail,
			(unsigned long long)res.drop_stack2);
	if (verbose)
		fprintf(stderr, "xprof: sampler ring: %.0f bytes reserved per sample\n",
			res.bpf_samples ? (double)res.rb_bytes / res.bpf_samples : 0.0);
	if (verbose && res.prog_run_cnt)
		fprintf(stderr,
			"xprof: sampler runs: %llu, %llu ns in total (kernel.bpf_stats_enabled)\n",
			(unsigned long long)res.prog_run_cnt, (unsigned long long)res.prog_run_ns);
	if (res.lost_sideband)
		fprintf(stderr,
			"xprof: warning: the kernel dropped %llu mmap/comm/task events; "
			"some samples may lack their mappings\n",
			(unsigned long long)res.lost_sideband);
	if (res.child_exited && rc == 0) {
		if (WIFEXITED(res.child_status))
			rc = WEXITSTATUS(res.child_status);
		else if (WIFSIGNALED(res.child_status))
			rc = 128 + WTERMSIG(res.child_status);
	}
out:
	if (child.go_fd >= 0)
		close(child.go_fd); /* a held child sees EOF and exits */
	if (child.err_fd >= 0)
		close(child.err_fd);
	if (child.pid > 0 && !res.child_exited) {
		int st;

		if (waitpid(child.pid, &st, WNOHANG) == 0) {
			kill(child.pid, SIGTERM);
			waitpid(child.pid, &st, 0);
		}
	}
	if (tmp[0])
		unlink(tmp);
	return rc;
}
