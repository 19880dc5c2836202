// SPDX-License-Identifier: MIT
/*
 * rep_gen: build a report profile from folded stacks on stdin and write it
 * in any format, so end-to-end tests can feed known stacks to Chromium and
 * `go tool pprof` without recording anything.
 *
 *	rep_gen [options] < stacks.folded
 *	  -o FILE          write FILE; format from its name (.folded .svg .pb.gz .top)
 *	  -f FORMAT        write FORMAT (folded, svg, pprof, top) to stdout
 *	  --pid --tid --min-count N --title T --inverted --top N --period NS
 *
 * Input lines are folded stacks, "root;frame;...;frame COUNT". The root is
 * "comm", "comm-PID" or "comm-PID/TID". A frame ending in _[k] is a kernel
 * function, _[j] a JIT one; a frame ending in _[i] is inlined into the frame
 * before it, so it joins that frame's location (one address, several lines),
 * exactly as the folded writer expands such locations; "[...]" frames are
 * unknown ones. Writing the folded format therefore gives the input back,
 * merged and sorted. User frames get a mapping /usr/bin/COMM and a made-up
 * address and line; kernel and JIT frames get no mapping.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#define MAX_FRAMES 4096

struct out {
	const char *path; /* NULL: stdout */
	int (*write)(const struct rep_profile *, const struct rep_opts *, FILE *);
};

static int (*format_writer(const char *name))(const struct rep_profile *, const struct rep_opts *,
					      FILE *)
{
	if (!strcmp(name, "folded"))
		return rep_write_folded;
	if (!strcmp(name, "svg"))
		return rep_write_svg;
	if (!strcmp(name, "pprof"))
		return rep_write_pprof;
	if (!strcmp(name, "top"))
		return rep_write_top;
	return NULL;
}

static int (*path_writer(const char *path))(const struct rep_profile *, const struct rep_opts *,
					    FILE *)
{
	size_t n = strlen(path);
	static const struct {
		const char *ext, *fmt;
	} exts[] = {{".folded", "folded"}, {".svg", "svg"}, {".pb.gz", "pprof"},
		    {".pb", "pprof"},	   {".top", "top"}, {".txt", "top"}};

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t e = strlen(exts[i].ext);

		if (n >= e && !strcmp(path + n - e, exts[i].ext))
			return format_writer(exts[i].fmt);
	}
	return NULL;
}

static uint64_t fnv(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

/* Parse "comm[-PID[/TID]]": the suffix counts only if it is all digits. */
static void parse_root(char *root, struct rep_sample_key *k)
{
	char *dash = strrchr(root, '-'), *end;

	k->comm = root;
	k->pid = k->tid = 0;
	if (!dash || !dash[1] || dash[1] < '0' || dash[1] > '9')
		return;
	unsigned long pid = strtoul(dash + 1, &end, 10), tid = pid;

	if (*end == '/') {
		if (end[1] < '0' || end[1] > '9')
			return;
		tid = strtoul(end + 1, &end, 10);
	}
	if (*end)
		return;
	*dash = '\0';
	k->pid = (uint32_t)pid;
	k->tid = (uint32_t)tid;
}

struct frame {
	char *name;
	size_t len;
	enum rep_kind kind;
	bool inlined;
};

static int add_line(struct rep_profile *p, char *line, unsigned lineno)
{
	static struct frame fr[MAX_FRAMES];
	static uint32_t locs[MAX_FRAMES];
	struct rep_sample_key key;
	char *sp = strrchr(line, ' '), *end, *tok, *save = NULL;
	unsigned nfr = 0, nlocs = 0;
	unsigned long long count;
	char mapfile[300];
	struct rep_mapping m;
	uint32_t map;
	int err;

	if (!sp || !sp[1])
		goto bad;
	errno = 0;
	count = strtoull(sp + 1, &end, 10);
	if (*end || errno)
		goto bad;
	*sp = '\0';
	tok = strtok_r(line, ";", &save);
	if (!tok)
		goto bad;
	parse_root(tok, &key);
	while ((tok = strtok_r(NULL, ";", &save))) {
		struct frame *f = &fr[nfr];
		size_t n = strlen(tok);

		if (nfr == MAX_FRAMES) {
			fprintf(stderr, "rep_gen: line %u: more than %d frames\n", lineno,
				MAX_FRAMES);
			return -EINVAL;
		}
		f->kind = REP_KIND_USER;
		f->inlined = false;
		if (ends_with(tok, n, "_[k]")) {
			f->kind = REP_KIND_KERNEL;
			n -= 4;
		} else if (ends_with(tok, n, "_[j]")) {
			f->kind = REP_KIND_JIT;
			n -= 4;
		} else if (ends_with(tok, n, "_[i]")) {
			f->inlined = true;
			n -= 4;
		} else if (tok[0] == '[') {
			f->kind = REP_KIND_UNKNOWN;
		}
		tok[n] = '\0';
		f->name = tok;
		f->len = n;
		nfr++;
	}

	snprintf(mapfile, sizeof(mapfile), "/usr/bin/%.200s", key.comm);
	m = (struct rep_mapping){0x400000, 0x800000, 0, mapfile, "0123456789abcdef"};
	err = rep_profile_mapping(p, &m, &map);
	if (err)
		return err;

	/* Group each frame with the _[i] frames after it into one location, innermost line first.
	 */
	for (unsigned i = 0; i < nfr;) {
		struct rep_line lines[MAX_FRAMES];
		unsigned j = i + 1, nl = 0;
		uint64_t h = 1469598103934665603ull;
		bool kernel = fr[i].kind == REP_KIND_KERNEL || fr[i].kind == REP_KIND_JIT;

		while (j < nfr && fr[j].inlined)
			j++;
		for (unsigned k = j; k-- > i;) {
			err = rep_profile_function(p, fr[k].name, kernel ? NULL : "demo.c",
						   fr[k].inlined ? fr[i].kind : fr[k].kind,
						   &lines[nl].function);
			if (err)
				return err;
			lines[nl].line = 10 + k;
			lines[nl].inlined = fr[k].inlined;
			h = fnv(fr[k].name, fr[k].len + 1, h);
			nl++;
		}
		if (nlocs == MAX_FRAMES)
			goto bad;
		err = rep_profile_location(p, kernel ? UINT32_MAX : map,
					   (kernel ? 0xffffffff81000000ull : 0x400000) +
					       (h & 0x3ffff0),
					   lines, nl, &locs[nlocs]);
		if (err)
			return err;
		nlocs++;
		i = j;
	}
	/* locs were built root first; the API wants the leaf first. */
	for (unsigned i = 0; i < nlocs / 2; i++) {
		uint32_t t = locs[i];

		locs[i] = locs[nlocs - 1 - i];
		locs[nlocs - 1 - i] = t;
	}
	return rep_profile_add(p, &key, locs, nlocs, count);
bad:
	fprintf(stderr, "rep_gen: line %u: expected 'root;frame;... COUNT'\n", lineno);
	return -EINVAL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rep_gen [-o FILE|-f folded|svg|pprof|top]... [--pid] [--tid] "
		"[--min-count N] [--title T] [--inverted] [--top N] [--period NS] < folded\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rep_opts o = {0};
	struct out outs[16];
	unsigned nouts = 0;
	uint64_t period = 10000000;
	struct rep_profile *p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int err = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--pid")) {
			o.with_pid = true;
		} else if (!strcmp(a, "--tid")) {
			o.with_tid = true;
		} else if (!strcmp(a, "--inverted")) {
			o.inverted = true;
		} else if (v && !strcmp(a, "--min-count")) {
			o.min_count = strtoull(v, NULL, 10);
			i++;
		} else if (v && !strcmp(a, "--title")) {
			o.title = v;
			i++;
		} else if (v && !strcmp(a, "--top")) {
			o.top = (unsigned)strtoul(v, NULL, 10);
			i++;
		} else if (v && !strcmp(a, "--period")) {
			period = strtoull(v, NULL, 10);
			i++;
		} else if (v && nouts < 16 && (!strcmp(a, "-o") || !strcmp(a, "-f"))) {
			outs[nouts].path = a[1] == 'o' ? v : NULL;
			outs[nouts].write = a[1] == 'o' ? path_writer(v) : format_writer(v);
			if (!outs[nouts].write) {
				fprintf(stderr, "rep_gen: unknown format of '%s'\n", v);
				return 2;
			}
			nouts++;
			i++;
		} else {
			usage();
		}
	}
	if (!nouts)
		usage();

	p = rep_profile_new(period);
	if (!p) {
		perror("rep_gen");
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		err = add_line(p, line, lineno);
		if (err)
			goto out;
	}
	for (unsigned i = 0; i < nouts && !err; i++) {
		FILE *f = outs[i].path ? fopen(outs[i].path, "w") : stdout;

		if (!f) {
			fprintf(stderr, "rep_gen: cannot open '%s': %s\n", outs[i].path,
				strerror(errno));
			err = -errno;
			break;
		}
		err = outs[i].write(p, &o, f);
		if (outs[i].path && fclose(f) && !err)
			err = -errno;
		if (err)
			fprintf(stderr, "rep_gen: cannot write '%s': %s\n",
				outs[i].path ? outs[i].path : "stdout", strerror(-err));
	}
out:
	free(line);
	rep_profile_free(p);
	return err ? 1 : 0;
}
