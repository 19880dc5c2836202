// SPDX-License-Identifier: MIT
/*
 * Folded stacks, as Brendan Gregg's stackcollapse scripts write them and
 * flamegraph.pl, speedscope, inferno and friends read them:
 *
 *	comm;root_fn;...;leaf_fn COUNT
 *
 * One line per unique text (stacks that differ only in pid or tid merge
 * unless the root names them), lines in the order sort(1) gives in the C
 * locale, so two runs over the same samples give the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

struct fline {
	size_t off; /* into the arena */
	size_t len; /* text without the count */
	uint64_t count;
};

/* memcmp order is unsigned-byte order, which is what LC_ALL=C sort uses. */
static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static int cmp_text(const void *pa, const void *pb, void *arena)
{
	const struct fline *a = pa, *b = pb;
	const char *base = arena;

	return cmp_bytes(base + a->off, a->len, base + b->off, b->len);
}

/* Byte i of text + " " + count digits (digits: the count printed, most significant first). */
struct vline {
	const char *text;
	size_t len;
	char suffix[24];
	size_t slen;
};

static void vline_init(struct vline *v, const char *arena, const struct fline *l)
{
	v->text = arena + l->off;
	v->len = l->len;
	v->slen = (size_t)snprintf(v->suffix, sizeof(v->suffix), " %" PRIu64, l->count);
}

static int cmp_line(const void *pa, const void *pb, void *arena)
{
	struct vline a, b;
	size_t n, i;
	int c;

	vline_init(&a, arena, pa);
	vline_init(&b, arena, pb);
	n = a.len < b.len ? a.len : b.len;
	c = memcmp(a.text, b.text, n);
	if (c)
		return c;
	/* One text is a prefix of the other: go on over the rest of both lines. */
	for (i = n;; i++) {
		int ca = i < a.len	      ? (unsigned char)a.text[i]
			 : i - a.len < a.slen ? (unsigned char)a.suffix[i - a.len]
					      : -1;
		int cb = i < b.len	      ? (unsigned char)b.text[i]
			 : i - b.len < b.slen ? (unsigned char)b.suffix[i - b.len]
					      : -1;

		if (ca != cb || ca < 0)
			return (ca > cb) - (ca < cb);
	}
}

int rep_write_folded(const struct rep_profile *p, const struct rep_opts *o, FILE *out)
{
	static const struct rep_opts defaults;
	struct rep_names names;
	REP_VEC(char) arena = {0};
	struct fline *lines = NULL;
	uint32_t *frames = NULL;
	size_t nlines = 0, nfull = 0;
	int err;

	if (!o)
		o = &defaults;
	err = rep_names_init(&names, p);
	if (err)
		return err;
	lines = calloc(p->stacks.n ? p->stacks.n : 1, sizeof(*lines));
	if (!lines) {
		err = -ENOMEM;
		goto out;
	}
	frames = rep_frames_buf_new(p);
	if (!frames) {
		err = -ENOMEM;
		goto out;
	}

	/* 1. One text per stack: root, then each frame after a ';'. */
	for (size_t i = 0; i < p->stacks.n; i++) {
		const struct rep_stack_int *s = &p->stacks.v[i];
		size_t nf = rep_stack_nframes(p, s), need, start;
		char root[REP_ROOT_MAX];
		size_t rl;

		if (!s->count)
			continue;
		rep_stack_frames(p, s, frames);
		rl = rep_root_name(p, s, o, root);
		need = rl;
		for (size_t j = 0; j < nf; j++)
			need += 1 + names.len[frames[j]];
		err = rep_vec_reserve(&arena, arena.n + need);
		if (err)
			goto out;
		start = arena.n;
		memcpy(arena.v + arena.n, root, rl);
		arena.n += rl;
		for (size_t j = 0; j < nf; j++) {
			uint32_t len;
			const char *nm = rep_names_get(&names, frames[j], &len);

			arena.v[arena.n++] = ';';
			memcpy(arena.v + arena.n, nm, len);
			arena.n += len;
		}
		lines[nlines++] = (struct fline){start, need, s->count};
	}

	/* 2. Merge equal texts (different pids folded into one root, say). */
	qsort_r(lines, nlines, sizeof(*lines), cmp_text, arena.v);
	for (size_t i = 0; i < nlines; i++) {
		if (nfull && !cmp_text(&lines[nfull - 1], &lines[i], arena.v))
			lines[nfull - 1].count += lines[i].count;
		else
			lines[nfull++] = lines[i];
	}

	/*
	 * 3. sort(1) compares whole lines, count included: "a;b 10" sorts
	 * before "a;b;c 1" since ' ' < ';'. Compare text + " COUNT" without
	 * building those lines: the arena is the biggest allocation here.
	 */
	nlines = 0;
	for (size_t i = 0; i < nfull; i++)
		if (lines[i].count >= o->min_count)
			lines[nlines++] = lines[i];
	qsort_r(lines, nlines, sizeof(*lines), cmp_line, arena.v);

	errno = 0;
	for (size_t i = 0; i < nlines; i++) {
		fwrite(arena.v + lines[i].off, 1, lines[i].len, out);
		fprintf(out, " %" PRIu64 "\n", lines[i].count);
	}
	err = rep_stream_error(out);
out:
	free(frames);
	free(lines);
	free(arena.v);
	rep_names_release(&names);
	return err;
}
