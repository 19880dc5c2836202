// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from /proc/kallsyms: "ADDR TYPE NAME [MODULE]" lines. Only
 * text symbols (t, T, w, W) are kept; kallsyms has no sizes, so each symbol
 * covers up to the next one. When every address reads as zero (not root, or
 * kptr_restrict) the table is marked hidden and lookups yield the unknown
 * kernel frame rather than a wrong name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

struct kraw {
	uint64_t addr;
	uint32_t name_off;
	uint32_t line; /* input order, keeps the sort stable */
};

static int kraw_cmp(const void *pa, const void *pb)
{
	const struct kraw *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

int sym_ksyms_load(struct sym_ksyms *k, const char *path)
{
	struct sym_blob blob = {0};
	struct kraw *raw = NULL;
	size_t n = 0, cap = 0, nzero = 0, nlines = 0;
	char *line = NULL;
	size_t linecap = 0;
	int err = 0;
	FILE *fp = fopen(path, "re");

	memset(k, 0, sizeof(*k));
	if (!fp)
		return -errno;
	while (getline(&line, &linecap, fp) > 0) {
		char *end;
		uint64_t addr = strtoull(line, &end, 16);

		if (end == line || (*end != ' ' && *end != '\t'))
			continue;
		char *p = end + strspn(end, " \t");
		char type = *p;

		if (!type || (p[1] != ' ' && p[1] != '\t'))
			continue;
		nlines++;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		p += 1 + strspn(p + 1, " \t");
		size_t nlen = strcspn(p, " \t\n");

		if (!nlen)
			continue;
		if (!addr) {
			nzero++;
			continue;
		}
		char *mod = p + nlen + strspn(p + nlen, " \t");
		size_t mlen = 0;
		char buf[512];

		if (*mod == '[') {
			mlen = strcspn(mod, "]\n");
			if (mod[mlen] == ']')
				mlen++;
		}
		int len = snprintf(buf, sizeof(buf), "%.*s%s%.*s", (int)nlen, p, mlen ? " " : "",
				   (int)mlen, mod);

		if (len < 0)
			continue;
		if ((size_t)len >= sizeof(buf))
			len = sizeof(buf) - 1;
		int64_t off = sym_blob_add(&blob, buf, (size_t)len);

		if (off < 0) {
			err = (int)off;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct kraw *r = realloc(raw, ncap * sizeof(*r));

			if (!r) {
				err = -ENOMEM;
				goto out;
			}
			raw = r;
			cap = ncap;
		}
		raw[n++] = (struct kraw){addr, (uint32_t)off, (uint32_t)nlines};
	}
	if (n)
		qsort(raw, n, sizeof(*raw), kraw_cmp);
	k->addr = malloc((n ? n : 1) * sizeof(*k->addr));
	k->name_off = malloc((n ? n : 1) * sizeof(*k->name_off));
	k->frames = calloc(n ? n : 1, sizeof(*k->frames));
	if (!k->addr || !k->name_off || !k->frames) {
		err = -ENOMEM;
		goto out;
	}
	/* Aliases at one address: the first listed wins (kallsyms lists the
	 * canonical name first). */
	for (size_t i = 0; i < n; i++) {
		if (k->n && k->addr[k->n - 1] == raw[i].addr)
			continue;
		k->addr[k->n] = raw[i].addr;
		k->name_off[k->n] = raw[i].name_off;
		k->n++;
	}
	k->blob = blob.buf;
	blob.buf = NULL;
	k->hidden = k->n == 0 && nzero > 0;
out:
	if (err)
		sym_ksyms_release(k);
	free(blob.buf);
	free(raw);
	free(line);
	fclose(fp);
	return err;
}

void sym_ksyms_release(struct sym_ksyms *k)
{
	free(k->addr);
	free(k->name_off);
	free(k->frames);
	free(k->blob);
	memset(k, 0, sizeof(*k));
}

long sym_ksyms_find(const struct sym_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->addr[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (long)lo - 1 : -1;
}
