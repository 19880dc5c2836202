// SPDX-License-Identifier: MIT
/*
 * Differential profiles: AFTER drawn against BEFORE (see report.h for what
 * each format shows).
 *
 * Both profiles go into one tree keyed by display names, so a frame matches
 * across profiles by its folded path whatever ids the two profiles gave its
 * function: side 0 is AFTER, side 1 BEFORE, and each node has a self and a
 * total count per side. A node's path is a folded line and its self counts
 * that line's counts on both sides, which is all the folded diff needs. The
 * SVG lays the tree out by AFTER's totals and colours each node by the
 * change of its share; it reuses the flamegraph's script and style
 * (svg.c), so search, zoom and the URL fragment behave the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "report/report_int.h"

#define SVG_WIDTH	 1200
#define SVG_XPAD	 10
#define SVG_FRAME_H	 16
#define SVG_FONT	 12
#define SVG_FONT_W	 0.59
#define SVG_YPAD1	 (SVG_FONT * 6)
#define SVG_YPAD2	 (SVG_FONT * 2 + 10)
#define SVG_MINWIDTH	 0.1
#define DIFF_MIN_SCALE	 0.01 /* a change of 1 point of the total is the least that saturates */
#define DIFF_GONE_LISTED 5

enum { AFTER = 0, BEFORE = 1 };

struct dnode {
	struct rep_ctree_node c; /* key: name id in the tree's interner */
	uint64_t self[2], total[2], x;
};
_Static_assert(offsetof(struct dnode, c) == 0, "rep_ctree_child() needs the links first");

struct dtree {
	REP_VEC(struct dnode) nodes;
	struct rep_hidx idx;	   /* (parent, key) -> node id + 1 */
	struct rep_profile *names; /* interned display names: roots and frames */
	uint64_t all[2];	   /* root totals */
};

/* Add one profile's stacks on one side. */
static int add_side(struct dtree *t, const struct rep_profile *p, int side,
		    const struct rep_opts *o)
{
	struct rep_names names;
	uint32_t *fname = NULL, *frames = NULL;
	int err;

	err = rep_names_init(&names, p);
	if (err)
		return err;
	/* frame id -> name id in the shared interner, once per function rather than per sample */
	fname = malloc((names.nframes ? names.nframes : 1) * sizeof(*fname));
	if (!fname) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t f = 0; f < names.nframes && !err; f++) {
		uint32_t len;
		const char *nm = rep_names_get(&names, f, &len);

		err = rep_profile_intern(t->names, nm, len, &fname[f]);
	}
	frames = rep_frames_buf_new(p);
	if (!frames && !err)
		err = -ENOMEM;
	for (size_t i = 0; i < p->stacks.n && !err; i++) {
		const struct rep_stack_int *s = &p->stacks.v[i];
		size_t nf = rep_stack_nframes(p, s);
		char root[REP_ROOT_MAX];
		uint32_t rid, node = 0;

		if (!s->count)
			continue;
		err = rep_profile_intern(t->names, root, rep_root_name(p, s, o, root), &rid);
		if (!err)
			err = rep_ctree_child(t, 0, rid, &node);
		rep_stack_frames(p, s, frames);
		for (size_t j = 0; j < nf && !err; j++)
			err = rep_ctree_child(t, node, fname[frames[j]], &node);
		if (!err)
			t->nodes.v[node].self[side] += s->count;
	}
out:
	free(frames);
	free(fname);
	rep_names_release(&names);
	return err;
}

static void dtree_release(struct dtree *t)
{
	free(t->nodes.v);
	free(t->idx.slots);
	rep_profile_free(t->names);
}

static int dtree_build(struct dtree *t, const struct rep_profile *after,
		       const struct rep_profile *before, const struct rep_opts *o)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->names = rep_profile_new(0);
	if (!t->names)
		return -ENOMEM;
	err = rep_ctree_root(t);
	if (err)
		return err;
	err = add_side(t, after, AFTER, o);
	if (!err)
		err = add_side(t, before, BEFORE, o);
	if (err)
		return err;
	/* min_count drops folded lines on each side, as the other writers do; children have larger
	 * ids. */
	for (size_t i = 0; i < t->nodes.n; i++) {
		struct dnode *nd = &t->nodes.v[i];

		for (int s = 0; s < 2; s++) {
			if (o && nd->self[s] < o->min_count)
				nd->self[s] = 0;
			nd->total[s] = nd->self[s];
		}
	}
	for (size_t i = t->nodes.n; i-- > 1;)
		for (int s = 0; s < 2; s++)
			t->nodes.v[t->nodes.v[i].c.parent].total[s] += t->nodes.v[i].total[s];
	t->all[AFTER] = t->nodes.v[0].total[AFTER];
	t->all[BEFORE] = t->nodes.v[0].total[BEFORE];
	return 0;
}

static const char *node_name(const struct dtree *t, uint32_t n, uint32_t *len)
{
	if (n == 0) {
		*len = 3;
		return "all";
	}
	*len = rep_str_len(t->names, t->nodes.v[n].c.key);
	return rep_str(t->names, t->nodes.v[n].c.key);
}

static double share(uint64_t v, uint64_t all)
{
	return all ? (double)v / (double)all : 0.0;
}

/* The change of node n: its share of AFTER minus its share of BEFORE (a fraction). */
static double node_delta(const struct dtree *t, uint32_t n)
{
	const struct dnode *nd = &t->nodes.v[n];

	return share(nd->total[AFTER], t->all[AFTER]) - share(nd->total[BEFORE], t->all[BEFORE]);
}

/* Siblings in alphabetical order, as the flamegraph draws them. */
static int cmp_sibling(const void *pa, const void *pb, void *ctx)
{
	const struct dtree *t = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb, la, lb;
	const struct dnode *na = &t->nodes.v[a], *nb = &t->nodes.v[b];
	const char *sa, *sb;
	int c;

	if (na->c.parent != nb->c.parent)
		return na->c.parent < nb->c.parent ? -1 : 1;
	sa = node_name(t, a, &la);
	sb = node_name(t, b, &lb);
	c = memcmp(sa, sb, la < lb ? la : lb);
	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	return (a > b) - (a < b);
}

/* ---- SVG ------------------------------------------------------------------------ */

/*
 * Red for growth, blue for shrinkage, white for none; t in [0, 1] is the
 * change over the scale. The palest non-white step is still visible
 * (flamegraph.pl's --colors=diff starts at 210 too).
 */
static void diff_colour(double delta, double scale, int rgb[3])
{
	double t = scale > 0 ? fabs(delta) / scale : 0;
	int c;

	if (t > 1)
		t = 1;
	c = delta == 0 ? 255 : 225 - (int)lround(185 * t);
	if (delta > 0)
		rgb[0] = 255, rgb[1] = rgb[2] = c;
	else if (delta < 0)
		rgb[0] = rgb[1] = c, rgb[2] = 255;
	else
		rgb[0] = rgb[1] = rgb[2] = 255;
}

/* "+12.5%", "-3.0%", "new" (nothing before), for the hover title. */
static void relative(char *buf, size_t len, double a, double b)
{
	if (b == 0)
		snprintf(buf, len, a > 0 ? "new" : "0%%");
	else
		snprintf(buf, len, "%+.1f%%", 100.0 * (a - b) / b);
}

struct demit {
	FILE *out;
	const struct dtree *t;
	double scale_px; /* px per AFTER sample */
	double scale;	 /* change that saturates the colour */
	int height;
	bool inverted;
};

static double frame_y(const struct demit *e, uint32_t depth)
{
	if (e->inverted)
		return SVG_YPAD1 + (double)depth * SVG_FRAME_H;
	return e->height - SVG_YPAD2 - (double)(depth + 1) * SVG_FRAME_H;
}

static void emit_frame(const struct demit *e, uint32_t n)
{
	const struct dtree *t = e->t;
	const struct dnode *nd = &t->nodes.v[n];
	uint32_t len;
	const char *name = node_name(t, n, &len);
	double x = SVG_XPAD + (double)nd->x * e->scale_px,
	       w = (double)nd->total[AFTER] * e->scale_px;
	double y = frame_y(e, nd->c.depth), d = node_delta(t, n);
	double a = share(nd->total[AFTER], t->all[AFTER]),
	       b = share(nd->total[BEFORE], t->all[BEFORE]);
	size_t fit = w > 6 ? (size_t)((w - 6) / (SVG_FONT * SVG_FONT_W)) : 0;
	char nb[32], na[32], rel[32];
	int rgb[3];

	diff_colour(n ? d : 0, e->scale, rgb);
	relative(rel, sizeof(rel), a, b);
	/* The script takes the name as the title up to " (...)": keep '(' out of the parentheses.
	 */
	fputs("<g><title>", e->out);
	rep_svg_put_xml(e->out, name, len, SIZE_MAX);
	fprintf(e->out, " (before %s, after %s samples; %.2f%% -> %.2f%%, %+.2f pts, %s)</title>",
		rep_svg_commas(nd->total[BEFORE], nb), rep_svg_commas(nd->total[AFTER], na),
		100 * b, 100 * a, 100 * d, rel);
	fprintf(e->out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
		"fg:x=\"%" PRIu64 "\" fg:w=\"%" PRIu64 "\" fg:before=\"%" PRIu64
		"\" fg:delta=\"%+.4f\"/>",
		x, y, w, SVG_FRAME_H - 1, rgb[0], rgb[1], rgb[2], nd->x, nd->total[AFTER],
		nd->total[BEFORE], 100 * d);
	if (fit >= 3) {
		size_t chars = rep_svg_utf8_chars(name, len);

		fprintf(e->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + SVG_FRAME_H - 5.5);
		if (chars <= fit) {
			rep_svg_put_xml(e->out, name, len, SIZE_MAX);
		} else {
			rep_svg_put_xml(e->out, name, len, fit - 2);
			fputs("..", e->out);
		}
		fputs("</text>", e->out);
	}
	fputs("</g>\n", e->out);
}

struct charbuf {
	char *v;
	size_t n, cap;
};

/* The folded path of node n (root segment first) into buf, NUL-terminated, length in buf->n. */
static int node_path(const struct dtree *t, uint32_t n, struct charbuf *buf)
{
	size_t need = 0;
	int err;

	for (uint32_t m = n; m; m = t->nodes.v[m].c.parent)
		need += rep_str_len(t->names, t->nodes.v[m].c.key) + 1;
	err = rep_vec_reserve(buf, need + 1);
	if (err)
		return err;
	buf->n = need ? need - 1 : 0;
	buf->v[buf->n] = '\0';
	for (uint32_t m = n, end = (uint32_t)buf->n; m; m = t->nodes.v[m].c.parent) {
		uint32_t l = rep_str_len(t->names, t->nodes.v[m].c.key);

		end -= l;
		memcpy(buf->v + end, rep_str(t->names, t->nodes.v[m].c.key), l);
		if (end)
			buf->v[--end] = ';';
	}
	return 0;
}

static int cmp_gone(const void *pa, const void *pb, void *ctx)
{
	const struct dtree *t = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	uint64_t ca = t->nodes.v[a].total[BEFORE], cb = t->nodes.v[b].total[BEFORE];

	if (ca != cb)
		return ca < cb ? 1 : -1;
	return (a > b) - (a < b);
}

/* The note under the title: paths only in BEFORE, largest first. */
static int emit_gone(FILE *out, const struct dtree *t)
{
	uint32_t *gone = NULL;
	size_t ngone = 0;

	gone = malloc(t->nodes.n * sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	/* The top of each vanished subtree: gone itself, its parent still drawn. */
	for (size_t i = 1; i < t->nodes.n; i++) {
		const struct dnode *nd = &t->nodes.v[i];

		if (!nd->total[AFTER] && nd->total[BEFORE] && t->nodes.v[nd->c.parent].total[AFTER])
			gone[ngone++] = (uint32_t)i;
	}
	fprintf(out, "<text id=\"gone\" x=\"%d\" y=\"%d\">", SVG_WIDTH / 2, SVG_FONT * 2 + 32);
	if (ngone) {
		qsort_r(gone, ngone, sizeof(*gone), cmp_gone, (void *)t);
		fputs("only in BEFORE: ", out);
		for (size_t i = 0; i < ngone && i < DIFF_GONE_LISTED; i++) {
			uint32_t len;
			const char *nm = node_name(t, gone[i], &len);

			fputs(i ? ", " : "", out);
			rep_svg_put_xml(out, nm, len, 80);
			fprintf(out, " %.2f%%",
				100 * share(t->nodes.v[gone[i]].total[BEFORE], t->all[BEFORE]));
		}
		if (ngone > DIFF_GONE_LISTED)
			fprintf(out, " and %zu more", ngone - DIFF_GONE_LISTED);
	}
	fputs("</text>\n", out);
	free(gone);
	return 0;
}

int rep_write_diff_svg(const struct rep_profile *after, const struct rep_profile *before,
		       const struct rep_opts *o, FILE *out)
{
	static const struct rep_opts defaults;
	struct dtree t;
	struct demit e = {.out = out};
	uint32_t *order = NULL, maxdepth = 0;
	size_t norder = 0, omitted = 0;
	bool *drawn = NULL;
	const char *title;
	char n1[32], n2[32];
	double maxd = 0;
	int err;

	if (!o)
		o = &defaults;
	title = o->title ? o->title : "xprof diff";
	err = dtree_build(&t, after, before, o);
	if (err)
		goto out;
	order = malloc(t.nodes.n * sizeof(*order));
	drawn = calloc(t.nodes.n, sizeof(*drawn));
	if (!order || !drawn) {
		err = -ENOMEM;
		goto out;
	}
	/* Widths from AFTER: a path with no AFTER samples is not drawn (see emit_gone). */
	for (size_t i = 1; i < t.nodes.n; i++)
		if (t.nodes.v[i].total[AFTER])
			order[norder++] = (uint32_t)i;
	qsort_r(order, norder, sizeof(*order), cmp_sibling, &t);

	e.t = &t;
	e.inverted = o->inverted;
	e.scale_px = t.all[AFTER] ? (double)(SVG_WIDTH - 2 * SVG_XPAD) / (double)t.all[AFTER] : 0;
	drawn[0] = t.all[AFTER] > 0;
	for (size_t i = 0, next = 0; i < norder; i++) {
		struct dnode *nd = &t.nodes.v[order[i]];
		const struct dnode *par = &t.nodes.v[nd->c.parent];

		if (i == 0 || nd->c.parent != t.nodes.v[order[i - 1]].c.parent)
			next = par->x;
		nd->x = next;
		next += nd->total[AFTER];
		drawn[order[i]] =
		    drawn[nd->c.parent] && (double)nd->total[AFTER] * e.scale_px >= SVG_MINWIDTH;
		if (!drawn[order[i]]) {
			omitted++;
			continue;
		}
		if (nd->c.depth > maxdepth)
			maxdepth = nd->c.depth;
		if (fabs(node_delta(&t, order[i])) > maxd)
			maxd = fabs(node_delta(&t, order[i]));
	}
	e.scale = maxd > DIFF_MIN_SCALE ? maxd : DIFF_MIN_SCALE;
	e.height = SVG_YPAD1 + SVG_YPAD2 + (int)(maxdepth + 1) * SVG_FRAME_H;

	errno = 0;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		"\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" "
		"xmlns:fg=\"http://github.com/jonhoo/inferno\" fg:width=\"%d\" fg:pad=\"%d\" "
		"fg:fontw=\"%.2f\" fg:frameh=\"%d\" fg:base=\"%.1f\" fg:inverted=\"%d\" "
		"fg:total=\"%" PRIu64 "\" fg:before-total=\"%" PRIu64 "\" fg:scale=\"%.4f\">\n",
		SVG_WIDTH, e.height, SVG_WIDTH, e.height, SVG_WIDTH, SVG_XPAD,
		SVG_FONT * SVG_FONT_W, SVG_FRAME_H, frame_y(&e, 0), e.inverted, t.all[AFTER],
		t.all[BEFORE], 100 * e.scale);
	fputs("<title>", out);
	rep_svg_put_xml(out, title, strlen(title), SIZE_MAX);
	fputs("</title>\n", out);
	fputs(rep_svg_css, out);
	fputs("<style type=\"text/css\">#gone{fill:#246;text-anchor:middle}</style>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
		SVG_WIDTH, e.height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"%d\">", SVG_WIDTH / 2, SVG_FONT * 2);
	rep_svg_put_xml(out, title, strlen(title), SIZE_MAX);
	fprintf(out,
		"</text>\n<text id=\"note\" x=\"%d\" y=\"%d\">widths: AFTER, %s samples; "
		"colours: change of each frame's share since BEFORE, %s samples",
		SVG_WIDTH / 2, SVG_FONT * 2 + 16, rep_svg_commas(t.all[AFTER], n1),
		rep_svg_commas(t.all[BEFORE], n2));
	if (omitted)
		fprintf(out, "; %s frame%s narrower than %.1f px not drawn",
			rep_svg_commas(omitted, n1), omitted == 1 ? "" : "s", SVG_MINWIDTH);
	fputs("</text>\n", out);
	err = emit_gone(out, &t);
	if (err)
		goto out;
	/* Legend: the colour of -scale, -scale/2, 0, +scale/2, +scale. */
	for (int i = 0; i < 5; i++) {
		double d = e.scale * (i - 2) / 2.0;
		int rgb[3], x = SVG_XPAD + i * 115;

		diff_colour(d, e.scale, rgb);
		fprintf(out,
			"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"rgb(%d,%d,%d)\" "
			"stroke=\"#999\" stroke-width=\"0.5\"/><text x=\"%d\" y=\"%d\" "
			"style=\"font-size:11px\">%s%+.1f pts</text>\n",
			x, SVG_FONT * 5 - 4, rgb[0], rgb[1], rgb[2], x + 14, SVG_FONT * 5 + 5,
			i == 0	 ? "shrank "
			: i == 4 ? "grew "
				 : "",
			100 * d);
	}
	rep_svg_put_controls(out, e.height);
	if (drawn[0])
		emit_frame(&e, 0);
	for (size_t i = 0; i < norder; i++)
		if (drawn[order[i]])
			emit_frame(&e, order[i]);
	fputs("</g>\n", out);
	fputs(rep_svg_js, out);
	fputs("</svg>\n", out);
	err = rep_stream_error(out);
out:
	free(order);
	free(drawn);
	dtree_release(&t);
	return err;
}

/* ---- folded: "stack BEFORE AFTER" ----------------------------------------------- */

struct dline {
	size_t off, len; /* the whole line in the arena, counts included, no newline */
};

static int cmp_dline(const void *pa, const void *pb, void *arena)
{
	const struct dline *a = pa, *b = pb;
	const char *base = arena;
	int c = memcmp(base + a->off, base + b->off, a->len < b->len ? a->len : b->len);

	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

int rep_write_diff_folded(const struct rep_profile *after, const struct rep_profile *before,
			  const struct rep_opts *o, FILE *out)
{
	struct dtree t;
	REP_VEC(char) arena = {0};
	struct charbuf path = {0};
	REP_VEC(struct dline) lines = {0};
	int err;

	err = dtree_build(&t, after, before, o);
	/* Lines sorted as sort(1) sorts them in the C locale, so runs compare with diff(1). */
	for (size_t i = 1; i < t.nodes.n && !err; i++) {
		const struct dnode *nd = &t.nodes.v[i];
		char counts[48];
		int cl;

		if (!nd->self[AFTER] && !nd->self[BEFORE])
			continue;
		err = node_path(&t, (uint32_t)i, &path);
		if (err)
			break;
		cl = snprintf(counts, sizeof(counts), " %" PRIu64 " %" PRIu64, nd->self[BEFORE],
			      nd->self[AFTER]);
		err = rep_vec_reserve(&arena, arena.n + path.n + (size_t)cl);
		if (!err)
			err = rep_vec_reserve(&lines, lines.n + 1);
		if (err)
			break;
		lines.v[lines.n++] = (struct dline){arena.n, path.n + (size_t)cl};
		memcpy(arena.v + arena.n, path.v, path.n);
		memcpy(arena.v + arena.n + path.n, counts, (size_t)cl);
		arena.n += path.n + (size_t)cl;
	}
	if (!err) {
		if (lines.n)
			qsort_r(lines.v, lines.n, sizeof(*lines.v), cmp_dline, arena.v);
		errno = 0;
		for (size_t i = 0; i < lines.n; i++) {
			fwrite(arena.v + lines.v[i].off, 1, lines.v[i].len, out);
			putc('\n', out);
		}
		err = rep_stream_error(out);
	}
	free(arena.v);
	free(path.v);
	free(lines.v);
	dtree_release(&t);
	return err;
}

/* ---- top: functions by the change of their share ---------------------------------- */

struct drow {
	uint64_t self[2], total[2];
	double dtotal, dself;
	uint32_t name;
};

static int cmp_drow(const void *pa, const void *pb, void *ctx)
{
	const struct drow *a = pa, *b = pb;
	const struct dtree *t = ctx;

	if (fabs(a->dtotal) != fabs(b->dtotal))
		return fabs(a->dtotal) < fabs(b->dtotal) ? 1 : -1;
	if (fabs(a->dself) != fabs(b->dself))
		return fabs(a->dself) < fabs(b->dself) ? 1 : -1;
	return strcmp(rep_str(t->names, a->name), rep_str(t->names, b->name));
}

/* Is there a node named like n above it (recursion)? Then n's samples are counted there. */
static bool has_namesake_above(const struct dtree *t, uint32_t n)
{
	for (uint32_t m = t->nodes.v[n].c.parent; m && t->nodes.v[m].c.depth >= 2;
	     m = t->nodes.v[m].c.parent)
		if (t->nodes.v[m].c.key == t->nodes.v[n].c.key)
			return true;
	return false;
}

int rep_write_diff_top(const struct rep_profile *after, const struct rep_profile *before,
		       const struct rep_opts *o, FILE *out)
{
	struct dtree t;
	struct drow *rows = NULL;
	size_t nrows = 0;
	unsigned limit = o && o->top ? o->top : 20;
	int err;

	err = dtree_build(&t, after, before, o);
	if (err)
		goto out;
	/*
	 * One row per name: self sums every node of the name; total sums the
	 * topmost ones only, so recursion is counted once per stack, as the
	 * flamegraph's widths count it.
	 */
	rows = calloc(t.names->strs.n ? t.names->strs.n : 1, sizeof(*rows));
	if (!rows) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < t.nodes.n; i++) {
		const struct dnode *nd = &t.nodes.v[i];
		bool top;

		if (nd->c.depth < 2)
			continue; /* the process frames are not functions */
		top = !has_namesake_above(&t, (uint32_t)i);
		for (int sd = 0; sd < 2; sd++) {
			rows[nd->c.key].self[sd] += nd->self[sd];
			if (top)
				rows[nd->c.key].total[sd] += nd->total[sd];
		}
	}
	for (size_t i = 0; i < t.names->strs.n; i++) {
		struct drow r = rows[i];

		if (!r.total[AFTER] && !r.total[BEFORE])
			continue;
		r.name = (uint32_t)i;
		r.dtotal =
		    share(r.total[AFTER], t.all[AFTER]) - share(r.total[BEFORE], t.all[BEFORE]);
		r.dself = share(r.self[AFTER], t.all[AFTER]) - share(r.self[BEFORE], t.all[BEFORE]);
		rows[nrows++] = r;
	}
	qsort_r(rows, nrows, sizeof(*rows), cmp_drow, &t);
	errno = 0;
	fprintf(out,
		"Showing %zu of %zu functions by change of total share; before %" PRIu64
		" samples, after %" PRIu64 "\n",
		nrows < limit ? nrows : (size_t)limit, nrows, t.all[BEFORE], t.all[AFTER]);
	fputs("  ----- total share -----  ------ self share -----\n", out);
	fprintf(out, "%8s %8s %8s  %8s %8s %8s  %s\n", "before", "after", "change", "before",
		"after", "change", "function");
	for (size_t i = 0; i < nrows && i < limit; i++) {
		const struct drow *r = &rows[i];

		fprintf(out, "%7.2f%% %7.2f%% %+8.2f  %7.2f%% %7.2f%% %+8.2f  %s\n",
			100 * share(r->total[BEFORE], t.all[BEFORE]),
			100 * share(r->total[AFTER], t.all[AFTER]), 100 * r->dtotal,
			100 * share(r->self[BEFORE], t.all[BEFORE]),
			100 * share(r->self[AFTER], t.all[AFTER]), 100 * r->dself,
			rep_str(t.names, r->name));
	}
	err = rep_stream_error(out);
out:
	free(rows);
	dtree_release(&t);
	return err;
}

/* ---- by path ------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

bool rep_diff_format_ok(const char *path)
{
	return ends_with(path, ".svg") || ends_with(path, ".folded") || ends_with(path, ".pb.gz") ||
	       ends_with(path, ".txt");
}

int rep_write_diff(const struct rep_profile *after, const struct rep_profile *before,
		   const struct rep_opts *o, const char *path)
{
	struct xl_out xo;
	FILE *f;
	int err;

	if (!rep_diff_format_ok(path))
		return -EINVAL;
	/* As rep_output_write: a temporary file renamed when whole, another user's link refused. */
	err = xl_out_open(&xo, path, 0, 0644);
	if (err)
		return err;
	f = xl_out_stdio(&xo);
	if (!f) {
		err = -errno;
		xl_out_abort(&xo);
		return err;
	}
	if (ends_with(path, ".svg"))
		err = rep_write_diff_svg(after, before, o, f);
	else if (ends_with(path, ".folded"))
		err = rep_write_diff_folded(after, before, o, f);
	else if (ends_with(path, ".pb.gz"))
		err = rep_write_diff_pprof(after, before, f);
	else
		err = rep_write_diff_top(after, before, o, f);
	if (err) {
		xl_out_abort(&xo);
		return err;
	}
	return xl_out_commit(&xo);
}
