// SPDX-License-Identifier: MIT
/*
 * What the folded, SVG and top writers share: expanding a stack of
 * locations into frames (root first, a location's inlined lines after the
 * function they are inlined into) and the sanitized display name of each
 * frame, computed once per function rather than once per sample.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

size_t rep_stack_nframes(const struct rep_profile *p, const struct rep_stack_int *s)
{
	size_t n = 0;

	for (uint32_t i = 0; i < s->nlocs; i++)
		n += p->locs.v[p->stack_locs.v[s->loc0 + i]].nlines;
	return n;
}

uint32_t *rep_frames_buf_new(const struct rep_profile *p)
{
	size_t max = 1; /* malloc(0) may return NULL, which would read as -ENOMEM */
	uint32_t *buf;

	for (size_t i = 0; i < p->stacks.n; i++) {
		size_t n = rep_stack_nframes(p, &p->stacks.v[i]);

		if (n > max)
			max = n;
	}
	buf = malloc(max * sizeof(*buf));
	if (!buf)
		errno = ENOMEM;
	return buf;
}

void rep_stack_frames(const struct rep_profile *p, const struct rep_stack_int *s, uint32_t *out)
{
	size_t k = 0;

	/* locs are leaf first and lines innermost first: walk both backwards. */
	for (uint32_t i = s->nlocs; i-- > 0;) {
		const struct rep_loc_int *l = &p->locs.v[p->stack_locs.v[s->loc0 + i]];

		for (uint32_t j = l->nlines; j-- > 0;) {
			const struct rep_line_int *ln = &p->lines.v[l->line0 + j];

			out[k++] = rep_frame(ln->function, ln->inlined);
		}
	}
}

/*
 * Folded stacks use ';' between frames and ' ' before the count, one line
 * per stack: a name must not hold ';' (stackcollapse-perf turns it into
 * ':') nor a line break or other control byte ('?'). Inner spaces stay, as
 * perf's C++ names need them ("operator new", "(anonymous namespace)"); a
 * trailing space would double the separator before the count, so it
 * becomes '_'. Returns bytes written to out (at most len).
 */
static size_t sanitize(char *out, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ';')
			c = ':';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		out[i] = (char)c;
	}
	for (size_t i = len; i-- > 0 && out[i] == ' ';)
		out[i] = '_';
	return len;
}

static const char *frame_suffix(const struct rep_profile *p, uint32_t frame)
{
	switch (rep_frame_class(p, frame)) {
	case REP_CLASS_KERNEL:
		return "_[k]";
	case REP_CLASS_JIT:
		return "_[j]";
	case REP_CLASS_INLINED:
		return "_[i]";
	default:
		return "";
	}
}

enum rep_frame_class rep_frame_class(const struct rep_profile *p, uint32_t frame)
{
	/*
	 * Inlined wins over the kind: a kernel or JIT frame inlined into another
	 * one is marked _[i] right after its _[k]/_[j] caller, which keeps the
	 * location's lines together, as pprof keeps them in one location.
	 */
	if (frame & 1)
		return REP_CLASS_INLINED;
	switch (p->funcs.v[frame >> 1].kind) {
	case REP_KIND_KERNEL:
		return REP_CLASS_KERNEL;
	case REP_KIND_JIT:
		return REP_CLASS_JIT;
	case REP_KIND_UNKNOWN:
		return REP_CLASS_UNKNOWN;
	default:
		return REP_CLASS_USER;
	}
}

int rep_names_init(struct rep_names *n, const struct rep_profile *p)
{
	size_t bytes = 0, off = 0;

	memset(n, 0, sizeof(*n));
	n->nframes = p->funcs.n * 2;
	for (size_t f = 0; f < p->funcs.n; f++)
		bytes += 2 * (rep_str_len(p, p->funcs.v[f].name) + 5);
	if (bytes > UINT32_MAX)
		return -ENOMEM;
	n->blob = malloc(bytes ? bytes : 1);
	n->off = calloc(n->nframes ? n->nframes : 1, sizeof(*n->off));
	n->len = calloc(n->nframes ? n->nframes : 1, sizeof(*n->len));
	if (!n->blob || !n->off || !n->len) {
		rep_names_release(n);
		return -ENOMEM;
	}
	for (uint32_t fr = 0; fr < n->nframes; fr++) {
		uint32_t name = p->funcs.v[fr >> 1].name;
		const char *suffix = frame_suffix(p, fr);
		size_t sl = strlen(suffix);

		n->off[fr] = (uint32_t)off;
		off += sanitize(n->blob + off, rep_str(p, name), rep_str_len(p, name));
		memcpy(n->blob + off, suffix, sl);
		off += sl;
		n->len[fr] = (uint32_t)(off - n->off[fr]);
		n->blob[off++] = '\0';
	}
	return 0;
}

void rep_names_release(struct rep_names *n)
{
	free(n->blob);
	free(n->off);
	free(n->len);
	memset(n, 0, sizeof(*n));
}

size_t rep_root_name(const struct rep_profile *p, const struct rep_stack_int *s,
		     const struct rep_opts *o, char buf[REP_ROOT_MAX])
{
	size_t len = rep_str_len(p, s->comm);

	if (len > 255)
		len = 255;
	sanitize(buf, rep_str(p, s->comm), len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == ' ')
			buf[i] = '_';
	if (o && o->with_tid)
		len += (size_t)snprintf(buf + len, REP_ROOT_MAX - len, "-%" PRIu32 "/%" PRIu32,
					s->pid, s->tid);
	else if (o && o->with_pid)
		len += (size_t)snprintf(buf + len, REP_ROOT_MAX - len, "-%" PRIu32, s->pid);
	else
		buf[len] = '\0';
	return len;
}

/* Writers clear errno first, so a value here comes from the failed write. */
int rep_stream_error(FILE *out)
{
	if (fflush(out) != EOF && !ferror(out))
		return 0;
	return errno > 0 ? -errno : -EIO;
}
