// SPDX-License-Identifier: MIT
/*
 * The folded-stacks reader: Brendan Gregg's format as xprof, stackcollapse-*
 * and flamegraph.pl write it,
 *
 *	root;frame;...;leaf COUNT
 *
 * into a profile the writers and the diff can use. The first segment is the
 * root (xprof's comm, comm-PID or comm-PID/TID), kept whole as the sample's
 * comm so the folded writer gives it back unchanged. Suffixes name the kind
 * of a frame: _[k] kernel, _[j] JIT, _[i] inlined into the frame before it
 * (so it joins that frame's location, as the writer expands locations);
 * "[...]" frames are unknown ones. Writing the result as folded gives the
 * input back, merged and sorted.
 *
 * The input is untrusted: every line is checked, a bad one is reported by
 * number and nothing is guessed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

/* Scratch space of one reader: the NUL-terminated copy of a name, lines, locations. */
struct fold_rd {
	struct rep_profile *p;
	REP_VEC(char) name;
	REP_VEC(char) comm;
	REP_VEC(struct rep_line) lines; /* of the location being built, root-most first */
	REP_VEC(uint32_t) locs;		/* root first; reversed before adding */
};

static int copy_name(struct fold_rd *r, const char *s, size_t len)
{
	int err = rep_vec_reserve(&r->name, len + 1);

	if (err)
		return err;
	memcpy(r->name.v, s, len);
	r->name.v[len] = '\0';
	return 0;
}

/* The location whose lines are in r->lines (outer function first): innermost first for the model.
 */
static int flush_location(struct fold_rd *r)
{
	uint32_t id;
	size_t n = r->lines.n;
	int err;

	if (!n)
		return 0;
	for (size_t i = 0; i < n / 2; i++) {
		struct rep_line t = r->lines.v[i];

		r->lines.v[i] = r->lines.v[n - 1 - i];
		r->lines.v[n - 1 - i] = t;
	}
	err = rep_profile_location(r->p, REP_NONE, 0, r->lines.v, (unsigned)n, &id);
	if (!err)
		err = rep_vec_reserve(&r->locs, r->locs.n + 1);
	if (err)
		return err;
	r->locs.v[r->locs.n++] = id;
	r->lines.n = 0;
	return 0;
}

static int add_frame(struct fold_rd *r, const char *s, size_t len)
{
	enum rep_kind kind = REP_KIND_USER;
	bool inlined = false;
	uint32_t fn;
	int err;

	if (ends_with(s, len, "_[k]")) {
		kind = REP_KIND_KERNEL;
		len -= 4;
	} else if (ends_with(s, len, "_[j]")) {
		kind = REP_KIND_JIT;
		len -= 4;
	} else if (ends_with(s, len, "_[i]")) {
		inlined = true;
		len -= 4;
	}
	if (kind == REP_KIND_USER && len >= 2 && s[0] == '[' && s[len - 1] == ']')
		kind = REP_KIND_UNKNOWN;
	/* A frame that is not inlined starts a new location (address). */
	if (!inlined) {
		err = flush_location(r);
		if (err)
			return err;
	}
	err = copy_name(r, s, len);
	if (!err)
		err = rep_profile_function(r->p, r->name.v, NULL, kind, &fn);
	if (!err)
		err = rep_vec_reserve(&r->lines, r->lines.n + 1);
	if (err)
		return err;
	r->lines.v[r->lines.n++] = (struct rep_line){.function = fn, .inlined = inlined};
	return 0;
}

static int read_line(struct fold_rd *r, const char *s, size_t len, size_t lineno, char *why,
		     size_t whylen)
{
	struct rep_sample_key key = {0};
	size_t end = len, cut, nframes = 0;
	uint64_t count = 0;
	int err;

	/* Names are C strings from here on: a NUL would cut one short (and this is no text file).
	 */
	if (memchr(s, '\0', len)) {
		rep_why(why, whylen, "line %zu: a NUL byte; a folded file is text", lineno);
		return -EINVAL;
	}
	while (end && is_space(s[end - 1]))
		end--;
	if (!end)
		return 0; /* a blank line */
	cut = end;
	while (cut && s[cut - 1] >= '0' && s[cut - 1] <= '9')
		cut--;
	if (cut == end || !cut || !is_space(s[cut - 1])) {
		rep_why(why, whylen,
			"line %zu: no sample count at the end; expected 'frame;frame;... COUNT'",
			lineno);
		return -EINVAL;
	}
	for (size_t i = cut; i < end; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (count > (UINT64_MAX - d) / 10) {
			rep_why(why, whylen, "line %zu: sample count too large", lineno);
			return -EINVAL;
		}
		count = count * 10 + d;
	}
	if (count > UINT64_MAX - rep_profile_total(r->p)) {
		rep_why(why, whylen, "line %zu: sample counts add up past 2^64", lineno);
		return -EINVAL;
	}
	end = cut;
	while (end && is_space(s[end - 1]))
		end--;
	if (!end) {
		rep_why(why, whylen, "line %zu: a count without a stack", lineno);
		return -EINVAL;
	}

	/* The root is the first segment; each later one is a frame. */
	r->locs.n = r->lines.n = 0;
	for (cut = 0; cut < end && s[cut] != ';';)
		cut++;
	err = rep_vec_reserve(&r->comm, cut + 1);
	if (err)
		return err;
	memcpy(r->comm.v, s, cut);
	r->comm.v[cut] = '\0';
	key.comm = r->comm.v;
	for (size_t i = cut + 1, start = cut + 1; cut < end && i <= end; i++) {
		if (i < end && s[i] != ';')
			continue;
		if (++nframes > REP_READ_MAX_FRAMES) {
			rep_why(why, whylen, "line %zu: more than %d frames", lineno,
				REP_READ_MAX_FRAMES);
			return -EINVAL;
		}
		err = add_frame(r, s + start, i - start);
		if (err)
			return err;
		start = i + 1;
	}
	err = flush_location(r);
	if (err)
		return err;
	/* Leaf first for the model. */
	for (size_t i = 0; i < r->locs.n / 2; i++) {
		uint32_t t = r->locs.v[i];

		r->locs.v[i] = r->locs.v[r->locs.n - 1 - i];
		r->locs.v[r->locs.n - 1 - i] = t;
	}
	return rep_profile_add(r->p, &key, r->locs.v, (unsigned)r->locs.n, count);
}

int rep_read_folded(struct rep_profile *p, const char *buf, size_t len, char *why, size_t whylen)
{
	struct fold_rd r = {.p = p};
	size_t lineno = 0;
	int err = 0;

	for (size_t off = 0; off < len && !err;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;

		lineno++;
		err = read_line(&r, buf + off, n, lineno, why, whylen);
		off += n + 1;
	}
	if (err == -ENOMEM)
		rep_why(why, whylen, "out of memory at line %zu", lineno);
	free(r.name.v);
	free(r.comm.v);
	free(r.lines.v);
	free(r.locs.v);
	return err;
}
