// SPDX-License-Identifier: MIT
/*
 * Fuzz target for report/: the input is a little program of profile calls
 * (functions with arbitrary bytes in their names, mappings, locations with
 * valid and invalid ids, samples) followed by writer options. Every writer
 * runs on the result and the output is checked for what its readers rely
 * on: folded lines "text COUNT" without control bytes, in C-locale order,
 * no line twice; SVG that is valid UTF-8 and complete; pprof that
 * gunzips; top rows one per line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report/report.h"
#include "report/report_int.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned byte(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(struct in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | byte(in);
	return v;
}

/* A string of up to 47 bytes; returns a NUL-terminated copy in buf. */
static const char *str(struct in *in, char buf[64])
{
	size_t len = byte(in) % 48;

	if (len > in->n)
		len = in->n;
	memcpy(buf, in->p, len);
	buf[len] = '\0';
	in->p += len;
	in->n -= len;
	return buf;
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_report: %s\n", what);
		abort();
	}
}

static size_t utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], len;

		if (c < 0x80) {
			i++;
			continue;
		}
		len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (c < 0xc2 || c > 0xf4 || i + len > n)
			return 0;
		for (unsigned k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

static void check_folded(const char *s, size_t n)
{
	const char *line = s, *prev = NULL;
	size_t prevlen = 0;

	check(n == 0 || s[n - 1] == '\n', "folded: last line unterminated");
	while (line < s + n) {
		const char *nl = memchr(line, '\n', (size_t)(s + n - line)), *sp;
		size_t len = (size_t)(nl - line);

		for (const char *c = line; c < nl; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f, "folded: control byte");
		sp = memrchr(line, ' ', len);
		check(sp && sp + 1 < nl, "folded: no count");
		for (const char *c = sp + 1; c < nl; c++)
			check(*c >= '0' && *c <= '9', "folded: count not a number");
		check(sp[1] != '0', "folded: zero or padded count");
		check(sp > line && sp[-1] != ' ' && sp[-1] != ';',
		      "folded: empty frame before count");
		check(*line != ';' && !memmem(line, len, ";;", 2), "folded: empty frame");
		if (prev) {
			int c = memcmp(prev, line, prevlen < len ? prevlen : len);

			check(c < 0 || (c == 0 && prevlen < len), "folded: lines not in C order");
		}
		prev = line;
		prevlen = len;
		line = nl + 1;
	}
}

static void check_pprof(const char *s, size_t n)
{
	z_stream z = {0};
	uint8_t buf[1 << 14];
	int r;

	check(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "pprof: inflateInit2");
	z.next_in = (uint8_t *)s;
	z.avail_in = (uInt)n;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = inflate(&z, Z_NO_FLUSH);
	} while (r == Z_OK);
	check(r == Z_STREAM_END, "pprof: not a complete gzip stream");
	inflateEnd(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct rep_profile *p = rep_profile_new(1000000);
	struct rep_opts o = {0};
	char b1[64], b2[64], title[64];

	if (!p)
		return 0;
	for (int ops = 0; in.n > 8 && ops < 400; ops++) {
		/* Ids are dense; the tables say how many are valid (tests may read report_int.h).
		 */
		uint32_t nfuncs = (uint32_t)p->funcs.n, nmaps = (uint32_t)p->maps.n,
			 nlocs = (uint32_t)p->locs.n, id;
		unsigned op = byte(&in) % 5;
		int err;

		if (op == 0) {
			unsigned kind = byte(&in) % (REP_KIND_NR + 1);
			const char *name = str(&in, b1),
				   *file = byte(&in) & 1 ? str(&in, b2) : NULL;

			err = rep_profile_function(p, name, file, (enum rep_kind)kind, &id);
			check(!err && id <= nfuncs, "function");
		} else if (op == 1) {
			struct rep_mapping m = {.start = u64(&in), .limit = u64(&in)};

			m.offset = byte(&in) * 4096u;
			m.file = str(&in, b1);
			m.build_id = byte(&in) & 1 ? str(&in, b2) : NULL;
			err = rep_profile_mapping(p, &m, &id);
			check(!err && id <= nmaps, "mapping");
		} else if (op == 2) {
			struct rep_line lines[4];
			unsigned nl = byte(&in) % 5, mi = byte(&in);
			uint32_t map = mi == 255 ? UINT32_MAX : mi % (nmaps + 1);
			bool valid = map == UINT32_MAX || map < nmaps;

			for (unsigned k = 0; k < nl && k < 4; k++) {
				lines[k].function = byte(&in) % (nfuncs + 1);
				lines[k].line = byte(&in);
				lines[k].inlined = byte(&in) & 1;
				valid &= lines[k].function < nfuncs;
			}
			nl = nl > 4 ? 4 : nl;
			err = rep_profile_location(p, map, u64(&in), lines, nl, &id);
			check(valid ? !err && id <= nlocs : err == -EINVAL, "location");
		} else if (op == 3) {
			struct rep_sample_key key = {byte(&in), byte(&in), str(&in, b1), 0};
			uint32_t locs[16];
			unsigned n = byte(&in) % 17;
			bool valid = true;

			for (unsigned k = 0; k < n; k++) {
				locs[k] = byte(&in) % (nlocs + 1);
				valid &= locs[k] < nlocs;
			}
			err = rep_profile_add(p, byte(&in) & 1 ? &key : NULL, locs, n, byte(&in));
			check(valid ? !err : err == -EINVAL, "add");
		} else {
			o.with_pid = byte(&in) & 1;
			o.with_tid = byte(&in) & 1;
			o.inverted = byte(&in) & 1;
			o.min_count = byte(&in) % 4;
			o.top = byte(&in) % 30;
			o.title = byte(&in) & 1 ? str(&in, title) : NULL;
		}
	}

	for (int w = 0; w < 4; w++) {
		static int (*const writers[])(const struct rep_profile *, const struct rep_opts *,
					      FILE *) = {rep_write_folded, rep_write_svg,
							 rep_write_pprof, rep_write_top};
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		check(f != NULL, "open_memstream");
		check(writers[w](p, &o, f) == 0, "writer failed");
		check(fclose(f) == 0, "fclose");
		switch (w) {
		case 0:
			check_folded(out, len);
			break;
		case 1:
			check(utf8_ok((const unsigned char *)out, len), "svg: invalid UTF-8");
			check(strlen(out) == len, "svg: NUL byte");
			check(len > 7 && !strcmp(out + len - 7, "</svg>\n"), "svg: incomplete");
			break;
		case 2:
			check_pprof(out, len);
			break;
		default:
			for (size_t i = 0; i < len; i++)
				check((unsigned char)out[i] >= 0x20 || out[i] == '\n',
				      "top: control byte");
		}
		free(out);
	}
	rep_profile_free(p);
	return 0;
}
