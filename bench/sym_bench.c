// SPDX-License-Identifier: MIT
/*
 * sym_bench: times symbolize/ on address lists, for bench/bench_sym.sh.
 *
 *   sym_bench [-r REPEATS] [-w WARM_ROUNDS] [-n] [-c CACHE_DIR [-F]] FILE=ADDRFILE...
 *
 * Cold: a new session per repeat, every file opened and every address
 * symbolized once (inline chains and lines, as `addr2line -f -i -C`);
 * the median wall time is printed, in total (with the session's end, which
 * writes the index: "teardown_ms") and per file ("file PATH N MS", open and
 * lookups). Warm: the same
 * addresses looked up again WARM_ROUNDS times in a session that has seen them (the per-address
 * cache), as lookups per second. -n: no lines.
 *
 * -c: the sessions use CACHE_DIR for the symbol index (sym_opts.cache_dir): a
 * repeat answers from the index the previous one wrote. -F: the index is
 * removed before each repeat, so every repeat is a first use that builds and
 * writes it (timed, as a session pays for it when it ends).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "symbolize/symbolize.h"

struct input {
	const char *path;
	uint64_t *addr;
	size_t n;
};

static int load(struct input *in, char *arg)
{
	char *eq = strchr(arg, '=');
	char line[128];
	size_t cap = 0;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	in->path = arg;
	FILE *fp = fopen(eq + 1, "r");

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (in->n == cap) {
			cap = cap ? cap * 2 : 1024;
			uint64_t *a = realloc(in->addr, cap * sizeof(*a));

			if (!a) {
				fclose(fp);
				return -ENOMEM;
			}
			in->addr = a;
		}
		in->addr[in->n++] = strtoull(line, NULL, 16);
	}
	fclose(fp);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* One pass over every input; returns frames seen (so nothing is optimized away). */
static long pass(struct sym_session *s, struct sym_file **files, const struct input *in, size_t nin,
		 double *file_s)
{
	long frames = 0;

	for (size_t i = 0; i < nin; i++) {
		double t0 = bench_now_s();

		if (!files[i] && !(files[i] = sym_file_get(s, in[i].path, NULL, 0)))
			return -1;
		for (size_t j = 0; j < in[i].n; j++) {
			const struct sym_frame *fr;
			int n = sym_file_lookup(s, files[i], in[i].addr[j], &fr);

			if (n < 0)
				return -1;
			frames += n;
		}
		if (file_s)
			file_s[i] = bench_now_s() - t0;
	}
	return frames;
}

int main(int argc, char **argv)
{
	int repeats = 5, warm_rounds = 20, c;
	struct sym_opts opts = {.lines = true, .no_debuginfod = true};
	bool fresh = false;

	while ((c = getopt(argc, argv, "r:w:nc:F")) != -1) {
		switch (c) {
		case 'r':
			repeats = atoi(optarg);
			break;
		case 'w':
			warm_rounds = atoi(optarg);
			break;
		case 'n':
			opts.lines = false;
			break;
		case 'c':
			opts.cache_dir = optarg;
			break;
		case 'F':
			fresh = true;
			break;
		default:
			fprintf(stderr, "usage: sym_bench [-r N] [-w N] [-n] [-c DIR [-F]] "
					"FILE=ADDRFILE...\n");
			return 2;
		}
	}
	size_t nin = (size_t)(argc - optind), total = 0;
	struct input *in = calloc(nin ? nin : 1, sizeof(*in));
	struct sym_file **files = calloc(nin ? nin : 1, sizeof(*files));
	double *cold = calloc((size_t)(repeats > 0 ? repeats : 1), sizeof(*cold));
	double *teardown = calloc((size_t)(repeats > 0 ? repeats : 1), sizeof(*teardown));
	double *file_cold =
	    calloc((nin ? nin : 1) * (size_t)(repeats > 0 ? repeats : 1), sizeof(*file_cold));
	long frames = 0;

	if (!in || !files || !cold || !teardown || !file_cold || repeats < 1 || warm_rounds < 1)
		return 2;
	for (size_t i = 0; i < nin; i++) {
		int err = load(&in[i], argv[optind + (int)i]);

		if (err) {
			fprintf(stderr, "sym_bench: cannot read '%s': %s\n", argv[optind + (int)i],
				strerror(-err));
			return 1;
		}
		total += in[i].n;
	}
	for (int r = 0; r < repeats; r++) {
		if (fresh && opts.cache_dir)
			nftw(opts.cache_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		double t0 = bench_now_s();
		struct sym_session *s = sym_session_new(&opts);

		memset(files, 0, nin * sizeof(*files));
		frames = s ? pass(s, files, in, nin, file_cold + (size_t)r * nin) : -1;
		double t1 = bench_now_s();

		/* The end of a session is timed too: it writes the index. */
		sym_session_free(s);
		cold[r] = bench_now_s() - t0;
		teardown[r] = bench_now_s() - t1;
		if (frames < 0) {
			fprintf(stderr, "sym_bench: lookup failed\n");
			return 1;
		}
	}
	qsort(cold, (size_t)repeats, sizeof(*cold), bench_cmp_double);
	qsort(teardown, (size_t)repeats, sizeof(*teardown), bench_cmp_double);

	struct sym_session *s = sym_session_new(&opts);

	memset(files, 0, nin * sizeof(*files));
	pass(s, files, in, nin, NULL);
	double t0 = bench_now_s();

	for (int r = 0; r < warm_rounds; r++)
		pass(s, files, in, nin, NULL);
	double warm = bench_now_s() - t0;

	sym_session_free(s);
	printf(
	    "addresses %zu\nframes %ld\ncold_ms %.2f\nteardown_ms %.2f\nwarm_lookups_per_s %.0f\n",
	    total, frames, cold[repeats / 2] * 1e3, teardown[repeats / 2] * 1e3,
	    (double)total * warm_rounds / warm);
	for (size_t i = 0; i < nin; i++) {
		double *v = malloc((size_t)repeats * sizeof(*v));

		for (int r = 0; v && r < repeats; r++)
			v[r] = file_cold[(size_t)r * nin + i];
		if (v) {
			qsort(v, (size_t)repeats, sizeof(*v), bench_cmp_double);
			printf("file %s %zu %.2f\n", in[i].path, in[i].n, v[repeats / 2] * 1e3);
		}
		free(v);
		free(in[i].addr);
	}
	free(file_cold);
	free(in);
	free(files);
	free(cold);
	free(teardown);
	return 0;
}
