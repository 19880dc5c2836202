// SPDX-License-Identifier: MIT
/*
 * The flamegraph SVG: one self-contained file (inline CSS and JavaScript, no
 * network) in the layout flamegraph.pl made familiar: x is the share of
 * samples, y the stack depth, siblings in alphabetical order, the root
 * "all" at the bottom (at the top for an icicle graph).
 *
 * Stacks are merged into a tree first, so a frame is drawn once however
 * many samples pass through it, and frames narrower than REP_SVG_MINWIDTH
 * pixels are left out (a note says how many), which keeps a 100k-sample
 * profile a few MiB. Each frame is a <g> with a <title> (hover: name,
 * samples, share), a <rect> carrying its sample offset and width in fg:x
 * and fg:w (the attributes inferno's script uses) and a <text>; the script
 * zooms, searches and keeps the view in the URL fragment
 * (#search=REGEX&zoom=comm;main;fn), so a view can be shared and the tests
 * can drive it in a headless browser. A graph taller than the window opens
 * scrolled to its bottom, where the root and the widest frames are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

#define SVG_WIDTH	 1200
#define SVG_XPAD	 10
#define SVG_FRAME_H	 16
#define SVG_FONT	 12
#define SVG_FONT_W	 0.59 /* average glyph width per font size unit (Verdana) */
#define SVG_YPAD1	 (SVG_FONT * 5)
#define SVG_YPAD2	 (SVG_FONT * 2 + 10)
#define REP_SVG_MINWIDTH 0.1

struct node {
	struct rep_ctree_node c; /* key: frame id, or root name id (depth 1) */
	uint64_t self, total, x; /* x: sample offset from the left edge */
};
_Static_assert(offsetof(struct node, c) == 0, "rep_ctree_child() needs the links first");

struct tree {
	REP_VEC(struct node) nodes;
	struct rep_hidx idx;	   /* (parent, key) -> node, slots hold id + 1 */
	struct rep_profile *roots; /* interned root names: comm[-PID[/TID]] */
	struct rep_names names;
	uint32_t *canon; /* frame id -> first frame id with the same display name */
	const struct rep_profile *p;
};

static const char *node_name(const struct tree *t, uint32_t n, uint32_t *len)
{
	const struct node *nd = &t->nodes.v[n];

	if (n == 0) {
		*len = 3;
		return "all";
	}
	if (nd->c.depth == 1) {
		*len = rep_str_len(t->roots, nd->c.key);
		return rep_str(t->roots, nd->c.key);
	}
	return rep_names_get(&t->names, nd->c.key, len);
}

static enum rep_frame_class node_class(const struct tree *t, uint32_t n)
{
	if (t->nodes.v[n].c.depth <= 1)
		return REP_CLASS_ROOT;
	return rep_frame_class(t->p, t->nodes.v[n].c.key);
}

/*
 * Functions that differ only in file (two static init()s) look the same in
 * folded output, where their lines merge; merge their boxes too, so a box
 * is a folded prefix and min_count means the same in both writers.
 */
static int canonical_frames(struct tree *t)
{
	struct rep_profile *seen = rep_profile_new(0);
	uint32_t *first = NULL;
	int err = 0;

	t->canon = malloc((t->names.nframes ? t->names.nframes : 1) * sizeof(*t->canon));
	/* one string per frame at most, plus "" */
	first = malloc((t->names.nframes + 1) * sizeof(*first));
	if (!seen || !t->canon || !first) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i <= t->names.nframes; i++)
		first[i] = REP_NONE;
	for (uint32_t f = 0; f < t->names.nframes && !err; f++) {
		uint32_t len, sid;
		const char *name = rep_names_get(&t->names, f, &len);

		err = rep_profile_intern(seen, name, len, &sid);
		if (!err && first[sid] == REP_NONE)
			first[sid] = f;
		if (!err)
			t->canon[f] = first[sid];
	}
out:
	free(first);
	rep_profile_free(seen);
	return err;
}

static int build(struct tree *t, const struct rep_profile *p, const struct rep_opts *o)
{
	uint32_t *frames = NULL;
	int err;

	t->p = p;
	t->roots = rep_profile_new(0);
	if (!t->roots)
		return -ENOMEM;
	err = rep_names_init(&t->names, p);
	if (!err)
		err = canonical_frames(t);
	if (err)
		return err;
	err = rep_ctree_root(t);
	if (err)
		return err;
	frames = rep_frames_buf_new(p);
	if (!frames)
		return -ENOMEM;
	for (size_t i = 0; i < p->stacks.n && !err; i++) {
		const struct rep_stack_int *s = &p->stacks.v[i];
		size_t nf = rep_stack_nframes(p, s);
		char root[REP_ROOT_MAX];
		uint32_t rid, node;

		if (!s->count)
			continue;
		err = rep_profile_intern(t->roots, root, rep_root_name(p, s, o, root), &rid);
		if (!err)
			err = rep_ctree_child(t, 0, rid, &node);
		rep_stack_frames(p, s, frames);
		for (size_t j = 0; j < nf && !err; j++)
			err = rep_ctree_child(t, node, t->canon[frames[j]], &node);
		if (!err)
			t->nodes.v[node].self += s->count;
	}
	free(frames);
	if (err)
		return err;

	/*
	 * A node's path is a folded line and its self count that line's count:
	 * min_count drops self counts as the folded writer drops lines. Totals
	 * then add up children first; a child always has a larger id.
	 */
	for (size_t i = 0; i < t->nodes.n; i++) {
		struct node *nd = &t->nodes.v[i];

		if (o && nd->self < o->min_count)
			nd->self = 0;
		nd->total = nd->self;
	}
	for (size_t i = t->nodes.n; i-- > 1;)
		t->nodes.v[t->nodes.v[i].c.parent].total += t->nodes.v[i].total;
	return 0;
}

static void tree_release(struct tree *t)
{
	free(t->nodes.v);
	free(t->idx.slots);
	free(t->canon);
	rep_profile_free(t->roots);
	rep_names_release(&t->names);
}

/* Siblings in alphabetical order, as flamegraph.pl draws sorted folded lines. */
static int cmp_sibling(const void *pa, const void *pb, void *ctx)
{
	const struct tree *t = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb, la, lb;
	const struct node *na = &t->nodes.v[a], *nb = &t->nodes.v[b];
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

/* ---- output ------------------------------------------------------------------ */

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0. XML
 * rejects invalid UTF-8 and U+FFFE/U+FFFF; a browser would then show a
 * parse error instead of the graph.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/* Write at most max_chars characters of s as XML text; returns characters written. */
static size_t put_xml(FILE *out, const char *str, size_t n, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0;

	for (size_t i = 0; i < n && chars < max_chars; chars++) {
		size_t l = utf8_len(s + i, n - i);

		switch (l ? s[i] : 0) {
		case 0:
			putc('?', out);
			l = 1;
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fwrite(s + i, 1, l, out);
		}
		i += l;
	}
	return chars;
}

static size_t utf8_chars(const char *str, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; chars++) {
		size_t l = utf8_len((const unsigned char *)str + i, n - i);

		i += l ? l : 1;
	}
	return chars;
}

/* 1234567 -> "1,234,567", as flamegraph.pl prints sample counts. */
static const char *commas(uint64_t v, char buf[32])
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static uint32_t name_hash(const char *s, size_t n)
{
	return (uint32_t)rep_hash_bytes(2166136261u, s, n);
}

/* Colours by kind; within a kind the shade comes from the name, so a function keeps its colour. */
static void colour(enum rep_frame_class c, const char *name, size_t n, int rgb[3])
{
	uint32_t h = name_hash(name, n);
	double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0,
	       v3 = ((h >> 16) & 0xff) / 255.0;

	switch (c) {
	case REP_CLASS_KERNEL: /* steel blue: far from the warm user hues */
		rgb[0] = 90 + (int)(50 * v1), rgb[1] = 140 + (int)(45 * v1),
		rgb[2] = 210 + (int)(40 * v2);
		break;
	case REP_CLASS_JIT: /* green, as flamegraph.pl's java palette */
		rgb[0] = 60 + (int)(60 * v1), rgb[1] = 190 + (int)(55 * v2),
		rgb[2] = 60 + (int)(50 * v1);
		break;
	case REP_CLASS_INLINED: /* aqua, as flamegraph.pl's _[i] */
		rgb[0] = 70 + (int)(50 * v1), rgb[1] = 200 + (int)(45 * v2),
		rgb[2] = 200 + (int)(45 * v2);
		break;
	case REP_CLASS_UNKNOWN: /* grey */
		rgb[0] = rgb[1] = rgb[2] = 165 + (int)(40 * v1);
		break;
	case REP_CLASS_ROOT: /* pale violet: not code, the process */
		rgb[0] = 200 + (int)(20 * v1), rgb[1] = 195 + (int)(20 * v1), rgb[2] = 225;
		break;
	default: /* user code: flamegraph.pl's "hot" red-orange-yellow */
		rgb[0] = 205 + (int)(50 * v3), rgb[1] = (int)(230 * v1), rgb[2] = (int)(55 * v2);
		break;
	}
}

static const char *const class_names[REP_CLASS_NR] = {
    [REP_CLASS_USER] = "user",	     [REP_CLASS_KERNEL] = "kernel",   [REP_CLASS_JIT] = "JIT",
    [REP_CLASS_UNKNOWN] = "unknown", [REP_CLASS_INLINED] = "inlined", [REP_CLASS_ROOT] = "process",
};

static const char svg_css[] = "<style type=\"text/css\">\n"
			      "text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}\n"
			      "#frames>g{cursor:pointer}\n"
			      "#frames rect{rx:2px;ry:2px}\n"
			      "#frames>g:hover>rect{stroke:#000;stroke-width:0.5}\n"
			      "#frames text{pointer-events:none}\n"
			      ".hide{display:none}\n"
			      ".parent{opacity:0.5}\n"
			      "#title{font-size:17px;text-anchor:middle}\n"
			      "#note{fill:#666;text-anchor:middle}\n"
			      ".btn{cursor:pointer}\n"
			      ".btn:hover{text-decoration:underline}\n"
			      "#matched{text-anchor:end}\n"
			      "#search,#unzoom{fill:#048}\n"
			      "</style>\n";

/*
 * The script. Frames are read once from the DOM into arrays; every action
 * rewrites x/width/text of each frame, which is fast enough for the tens of
 * thousands of frames the writer's pruning allows. Matched share is the
 * union of matched frames' sample ranges, so a frame and its matched
 * callee are not counted twice.
 */
static const char svg_js[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "'use strict';\n"
    "var svg = document.documentElement, A = function (n) { return +svg.getAttribute('fg:' + n); "
    "};\n"
    "var W = A('width'), PAD = A('pad'), FW = A('fontw'), TOTAL = A('total'), FH = A('frameh');\n"
    "var BASE = A('base'), INV = A('inverted') === 1, NS = 'http://www.w3.org/2000/svg';\n"
    "var F = [], cur = {search: '', zoom: ''}, details, matched, unzoombtn, searchbtn;\n"
    "function init() {\n"
    "  details = document.getElementById('details');\n"
    "  matched = document.getElementById('matched');\n"
    "  unzoombtn = document.getElementById('unzoom');\n"
    "  searchbtn = document.getElementById('search');\n"
    "  var frames = document.getElementById('frames'), gs = frames.children;\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], r = g.children[1], title = g.children[0].textContent;\n"
    "    var y = +r.getAttribute('y');\n"
    "    F.push({g: g, r: r, t: g.children[2] || null, title: title,\n"
    "      name: title.replace(/ \\([^(]*\\)$/, ''), x: +r.getAttribute('fg:x'),\n"
    "      w: +r.getAttribute('fg:w'), d: Math.round(INV ? (y - BASE) / FH : (BASE - y) / FH),\n"
    "      y: y, fill: r.getAttribute('fill'), cx: +r.getAttribute('x'),\n"
    "      cw: +r.getAttribute('width'), hide: false, parent: false, match: false});\n"
    "    g.fgi = i;\n"
    "  }\n"
    "  var at = function (e) { var g = e.target.closest('g'); return g && g.fgi !== undefined ? "
    "F[g.fgi] : null; };\n"
    "  frames.addEventListener('click', function (e) { var f = at(e); if (f) { zoom(f); save(); } "
    "});\n"
    "  frames.addEventListener('mouseover', function (e) { var f = at(e); if (f) "
    "details.textContent = f.title; });\n"
    "  frames.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
    "  unzoombtn.addEventListener('click', function () { unzoom(); save(); });\n"
    "  searchbtn.addEventListener('click', function () {\n"
    "    if (cur.search) search(''); else ask();\n"
    "    save();\n"
    "  });\n"
    "  window.addEventListener('keydown', function (e) {\n"
    "    if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) {\n"
    "      e.preventDefault(); ask(); save();\n"
    "    } else if (e.key === 'Escape') { unzoom(); search(''); save(); }\n"
    "  });\n"
    "  window.addEventListener('hashchange', load);\n"
    "  load();\n"
    "  bottom();\n"
    "  window.addEventListener('load', bottom);\n"
    "  window.addEventListener('scroll', function () {\n"
    "    atbottom = window.scrollY + window.innerHeight >= +svg.getAttribute('height') - 1;\n"
    "  });\n"
    "  window.addEventListener('resize', function () { if (atbottom) bottom(); });\n"
    "}\n"
    "/*\n"
    " * A deep stack makes the graph taller than the window: open it scrolled\n"
    " * to the bottom, where the root and the widest frames are, rather than\n"
    " * at the title above a screen of slivers (an icicle has them on top).\n"
    " * While the view is at the bottom it stays there when the window\n"
    " * resizes, as it may just after opening.\n"
    " */\n"
    "var atbottom = false;\n"
    "function bottom() {\n"
    "  var h = +svg.getAttribute('height');\n"
    "  if (INV || h <= window.innerHeight) return;\n"
    "  window.scrollTo(0, h);\n"
    "  atbottom = true;\n"
    "}\n"
    "function ask() {\n"
    "  var s = prompt('Search (regular expression or text):', cur.search);\n"
    "  if (s !== null) search(s);\n"
    "}\n"
    "/* The view lives in the URL fragment: #search=REGEX&zoom=comm;main;fn */\n"
    "function load() {\n"
    "  var p = {};\n"
    "  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {\n"
    "    var i = kv.indexOf('=');\n"
    "    if (i > 0) try { p[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); } catch (e) {}\n"
    "  });\n"
    "  var z = p.zoom ? find(p.zoom) : null;\n"
    "  if (z) zoom(z); else if (cur.zoom) unzoom();\n"
    "  if ((p.search || '') !== cur.search) search(p.search || '');\n"
    "}\n"
    "function save() {\n"
    "  var h = [];\n"
    "  if (cur.zoom) h.push('zoom=' + encodeURIComponent(cur.zoom));\n"
    "  if (cur.search) h.push('search=' + encodeURIComponent(cur.search));\n"
    "  try {\n"
    "    history.replaceState(null, '', h.length ? '#' + h.join('&') : location.pathname + "
    "location.search);\n"
    "  } catch (e) {}\n"
    "}\n"
    "/* A frame's path: the names from the process frame (depth 1) down to it. */\n"
    "function path(f) {\n"
    "  var p = [f.name];\n"
    "  for (var k = f.d - 1; k >= 1; k--)\n"
    "    for (var j = 0; j < F.length; j++) {\n"
    "      var a = F[j];\n"
    "      if (a.d === k && a.x <= f.x && a.x + a.w >= f.x + f.w) { p.unshift(a.name); break; }\n"
    "    }\n"
    "  return p.join(';');\n"
    "}\n"
    "function find(p) {\n"
    "  var names = p.split(';'), lo = 0, hi = TOTAL, m = null;\n"
    "  for (var k = 0; k < names.length; k++) {\n"
    "    m = null;\n"
    "    for (var j = 0; j < F.length; j++) {\n"
    "      var a = F[j];\n"
    "      if (a.d === k + 1 && a.name === names[k] && a.x >= lo && a.x + a.w <= hi) { m = a; "
    "break; }\n"
    "    }\n"
    "    if (!m) return null;\n"
    "    lo = m.x; hi = m.x + m.w;\n"
    "  }\n"
    "  return m;\n"
    "}\n"
    "/* Place a frame and its label; touch the DOM only when something changes. */\n"
    "function fit(f, x, w) {\n"
    "  x = Math.round(x * 10) / 10; w = Math.round(w * 10) / 10;\n"
    "  if (f.cx === x && f.cw === w) return;\n"
    "  f.cx = x; f.cw = w;\n"
    "  f.r.setAttribute('x', x); f.r.setAttribute('width', w);\n"
    "  var n = Math.floor((w - 6) / FW);\n"
    "  var s = n < 3 ? '' : f.name.length <= n ? f.name : f.name.slice(0, n - 2) + '..';\n"
    "  if (s && !f.t) {\n"
    "    f.t = document.createElementNS(NS, 'text');\n"
    "    f.t.setAttribute('y', (f.y + FH - 5.5).toFixed(1));\n"
    "    f.g.appendChild(f.t);\n"
    "  }\n"
    "  if (f.t) { f.t.setAttribute('x', (x + 3).toFixed(1)); f.t.textContent = s; }\n"
    "}\n"
    "function show(f, hide, parent) {\n"
    "  if (f.hide !== hide) { f.hide = hide; f.g.classList.toggle('hide', hide); }\n"
    "  if (f.parent !== parent) { f.parent = parent; f.g.classList.toggle('parent', parent); }\n"
    "}\n"
    "function zoom(z) {\n"
    "  var s = (W - 2 * PAD) / z.w;\n"
    "  cur.zoom = z.d > 0 ? path(z) : '';\n"
    "  for (var i = 0; i < F.length; i++) {\n"
    "    var f = F[i];\n"
    "    if (f.d < z.d && f.x <= z.x && f.x + f.w >= z.x + z.w) {\n"
    "      show(f, false, true); fit(f, PAD, W - 2 * PAD);\n"
    "    } else if (f.d >= z.d && f.x >= z.x && f.x + f.w <= z.x + z.w) {\n"
    "      show(f, false, false); fit(f, PAD + (f.x - z.x) * s, f.w * s);\n"
    "    } else {\n"
    "      show(f, true, false);\n"
    "    }\n"
    "  }\n"
    "  unzoombtn.classList.toggle('hide', !cur.zoom);\n"
    "  svg.setAttribute('data-zoom', cur.zoom);\n"
    "}\n"
    "function unzoom() { if (F.length) zoom(F[0]); }\n"
    "/*\n"
    " * Highlight frames whose name matches (a regular expression, or the text\n"
    " * itself if it is not one) and show the share of samples under them: the\n"
    " * union of their ranges, so a match below a match is not counted twice.\n"
    " */\n"
    "function search(term) {\n"
    "  var re = null, hits = [];\n"
    "  cur.search = term;\n"
    "  if (term) {\n"
    "    try { re = new RegExp(term); } catch (e) { re = new "
    "RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&')); }\n"
    "  }\n"
    "  for (var i = 0; i < F.length; i++) {\n"
    "    var f = F[i], m = re !== null && re.test(f.name);\n"
    "    if (m !== f.match) {\n"
    "      f.match = m;\n"
    "      f.r.setAttribute('fill', m ? 'rgb(230,0,230)' : f.fill);\n"
    "      f.g.classList.toggle('match', m);\n"
    "    }\n"
    "    if (m) hits.push([f.x, f.x + f.w]);\n"
    "  }\n"
    "  hits.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
    "  var sum = 0, end = -1;\n"
    "  hits.forEach(function (h) {\n"
    "    if (h[0] >= end) { sum += h[1] - h[0]; end = h[1]; } else if (h[1] > end) { sum += h[1] - "
    "end; end = h[1]; }\n"
    "  });\n"
    "  var pct = TOTAL ? 100 * sum / TOTAL : 0;\n"
    "  matched.textContent = term ? 'Matched: ' + pct.toFixed(1) + '%' : '';\n"
    "  searchbtn.textContent = term ? 'Reset Search' : 'Search';\n"
    "  if (term) svg.setAttribute('data-matched', pct.toFixed(2)); else "
    "svg.removeAttribute('data-matched');\n"
    "}\n"
    "init();\n"
    "]]></script>\n";

struct emit {
	FILE *out;
	const struct tree *t;
	uint64_t total;
	double scale; /* px per sample */
	int height;
	bool inverted;
	uint32_t maxdepth;
};

static double frame_y(const struct emit *e, uint32_t depth)
{
	if (e->inverted)
		return SVG_YPAD1 + (double)depth * SVG_FRAME_H;
	return e->height - SVG_YPAD2 - (double)(depth + 1) * SVG_FRAME_H;
}

static void emit_frame(const struct emit *e, uint32_t n)
{
	const struct node *nd = &e->t->nodes.v[n];
	uint32_t len;
	const char *name = node_name(e->t, n, &len);
	double x = SVG_XPAD + (double)nd->x * e->scale, w = (double)nd->total * e->scale;
	double y = frame_y(e, nd->c.depth);
	size_t fit = w > 6 ? (size_t)((w - 6) / (SVG_FONT * SVG_FONT_W)) : 0, chars;
	char num[32];
	int rgb[3];

	colour(node_class(e->t, n), name, len, rgb);
	fputs("<g><title>", e->out);
	put_xml(e->out, name, len, SIZE_MAX);
	fprintf(e->out, " (%s samples, %.2f%%)</title>", commas(nd->total, num),
		e->total ? 100.0 * (double)nd->total / (double)e->total : 0.0);
	fprintf(e->out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
		"fg:x=\"%" PRIu64 "\" fg:w=\"%" PRIu64 "\"/>",
		x, y, w, SVG_FRAME_H - 1, rgb[0], rgb[1], rgb[2], nd->x, nd->total);
	/*
	 * Same rule as the script: the name if it fits, else a prefix and "..",
	 * nothing under 3 characters; most frames of a big profile are that
	 * narrow, and the script adds their <text> when a zoom widens them.
	 */
	chars = utf8_chars(name, len);
	if (fit >= 3) {
		fprintf(e->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + SVG_FRAME_H - 5.5);
		if (chars <= fit) {
			put_xml(e->out, name, len, SIZE_MAX);
		} else {
			put_xml(e->out, name, len, fit - 2);
			fputs("..", e->out);
		}
		fputs("</text>", e->out);
	}
	fputs("</g>\n", e->out);
}

int rep_write_svg(const struct rep_profile *p, const struct rep_opts *o, FILE *out)
{
	static const struct rep_opts defaults;
	struct tree t = {0};
	struct emit e = {.out = out};
	uint32_t *order = NULL;
	size_t norder = 0, omitted = 0;
	bool *drawn = NULL;
	const char *title;
	char num[32];
	int err;

	if (!o)
		o = &defaults;
	title = o->title ? o->title : "xprof";
	err = build(&t, p, o);
	if (err)
		goto out;
	order = malloc(t.nodes.n * sizeof(*order));
	drawn = calloc(t.nodes.n, sizeof(*drawn));
	if (!order || !drawn) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < t.nodes.n; i++)
		if (t.nodes.v[i].total)
			order[norder++] = (uint32_t)i;
	qsort_r(order, norder, sizeof(*order), cmp_sibling, &t);

	/*
	 * Offsets: siblings are contiguous in order and a parent's group comes
	 * before its children's (parents have smaller ids), so each group
	 * starts at its parent's x, known by then.
	 */
	e.t = &t;
	e.total = t.nodes.v[0].total;
	e.inverted = o->inverted;
	e.scale = e.total ? (double)(SVG_WIDTH - 2 * SVG_XPAD) / (double)e.total : 0;
	drawn[0] = e.total > 0;
	for (size_t i = 0, next = 0; i < norder; i++) {
		struct node *nd = &t.nodes.v[order[i]];
		const struct node *par = &t.nodes.v[nd->c.parent];

		if (i == 0 || nd->c.parent != t.nodes.v[order[i - 1]].c.parent)
			next = par->x;
		nd->x = next;
		next += nd->total;
		drawn[order[i]] =
		    drawn[nd->c.parent] && (double)nd->total * e.scale >= REP_SVG_MINWIDTH;
		if (!drawn[order[i]])
			omitted++;
		else if (nd->c.depth > e.maxdepth)
			e.maxdepth = nd->c.depth;
	}
	e.height = SVG_YPAD1 + SVG_YPAD2 + (int)(e.maxdepth + 1) * SVG_FRAME_H;

	errno = 0;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		"\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" "
		"xmlns:fg=\"http://github.com/jonhoo/inferno\" fg:width=\"%d\" fg:pad=\"%d\" "
		"fg:fontw=\"%.2f\" fg:frameh=\"%d\" fg:base=\"%.1f\" fg:inverted=\"%d\" "
		"fg:total=\"%" PRIu64 "\">\n",
		SVG_WIDTH, e.height, SVG_WIDTH, e.height, SVG_WIDTH, SVG_XPAD,
		SVG_FONT * SVG_FONT_W, SVG_FRAME_H, frame_y(&e, 0), e.inverted, e.total);
	/* The document's own title: what a browser tab shows. */
	fputs("<title>", out);
	put_xml(out, title, strlen(title), SIZE_MAX);
	fputs("</title>\n", out);
	fputs(svg_css, out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
		SVG_WIDTH, e.height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"%d\">", SVG_WIDTH / 2, SVG_FONT * 2);
	put_xml(out, title, strlen(title), SIZE_MAX);
	fprintf(out, "</text>\n<text id=\"note\" x=\"%d\" y=\"%d\">%s samples", SVG_WIDTH / 2,
		SVG_FONT * 2 + 16, commas(e.total, num));
	if (p->period_ns)
		fprintf(out, ", %.2f s of CPU", (double)e.total * (double)p->period_ns / 1e9);
	if (omitted)
		fprintf(out, "; %s frame%s narrower than %.1f px not drawn", commas(omitted, num),
			omitted == 1 ? "" : "s", REP_SVG_MINWIDTH);
	fputs("</text>\n", out);
	/* Legend: one swatch per kind, in the first colour of its palette. */
	for (int c = 0; c < REP_CLASS_NR; c++) {
		int rgb[3], x = SVG_XPAD + c * 80;

		colour((enum rep_frame_class)c, "", 0, rgb);
		fprintf(
		    out,
		    "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"rgb(%d,%d,%d)\"/>"
		    "<text x=\"%d\" y=\"%d\" style=\"font-size:11px\">%s</text>\n",
		    x, SVG_FONT * 4 - 4, rgb[0], rgb[1], rgb[2], x + 14, SVG_FONT * 4 + 5,
		    class_names[c]);
	}
	rep_svg_put_controls(out, e.height);
	if (drawn[0])
		emit_frame(&e, 0);
	for (size_t i = 0; i < norder; i++)
		if (drawn[order[i]])
			emit_frame(&e, order[i]);
	fputs("</g>\n", out);
	fputs(svg_js, out);
	fputs("</svg>\n", out);
	err = rep_stream_error(out);
out:
	free(order);
	free(drawn);
	tree_release(&t);
	return err;
}

/* The diff writer (diff.c) draws with the same style, script and text rules. */
const char *const rep_svg_css = svg_css;
const char *const rep_svg_js = svg_js;

size_t rep_svg_put_xml(FILE *out, const char *s, size_t n, size_t max_chars)
{
	return put_xml(out, s, n, max_chars);
}

size_t rep_svg_utf8_chars(const char *s, size_t n)
{
	return utf8_chars(s, n);
}

/*
 * The zoom and search buttons, the hover and match lines the script fills
 * in, and the opening of the frames group; the same place in both graphs so
 * the script finds them.
 */
void rep_svg_put_controls(FILE *out, int height)
{
	fprintf(out,
		"<text id=\"unzoom\" class=\"btn hide\" x=\"%d\" y=\"%d\">Reset Zoom</text>\n"
		"<text id=\"search\" class=\"btn\" x=\"%d\" y=\"%d\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\"></text>\n<g id=\"frames\">\n",
		SVG_XPAD, SVG_FONT * 2, SVG_WIDTH - SVG_XPAD - 90, SVG_FONT * 2, SVG_XPAD,
		height - SVG_YPAD2 / 2 + 4, SVG_WIDTH - SVG_XPAD, height - SVG_YPAD2 / 2 + 4);
}

const char *rep_svg_commas(uint64_t v, char buf[32])
{
	return commas(v, buf);
}
