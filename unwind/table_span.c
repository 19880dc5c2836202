// SPDX-License-Identifier: MIT
/*
 * Tables from more than CFI: a base table (from .eh_frame/.debug_frame, or
 * none) overlaid with spans of code whose frames another source describes.
 * Go is the case that needs it: its code has no .eh_frame, its .debug_frame
 * (when not stripped) says nothing about rbp, where a stack ends (goexit,
 * mstart) or where the signal trampoline is, and a binary built with
 * -ldflags='-s -w' has no CFI at all; its pcsp table says it all, for every
 * function. Spans win inside themselves; the base answers elsewhere, so a
 * cgo binary keeps the CFI of its C code.
 *
 * One merge of two sorted lists into rows for unw_table_from_rows(), which
 * merges equal neighbours: O(rows + spans), no search.
 */
#include <errno.h>
#include <stdlib.h>

#include "unwind/unwind_int.h"

struct unw_table *unw_table_overlay(const struct unw_table *base, const struct unw_span *spans,
				    size_t n)
{
	size_t nb = unw_table_count(base), i = 0, k = 0, cap;
	struct unw_rule cur = {.type = UNW_RULE_NONE}, r;
	uint64_t *addr = NULL, a = 0, prev_end = 0;
	struct unw_rule *rule = NULL;
	struct unw_table *tab = NULL;
	int err = ENOMEM;

	/* every base row once, and at most two rows per span */
	if (n > (SIZE_MAX / sizeof(*rule) - nb) / 2 - 1) {
		errno = E2BIG;
		return NULL;
	}
	cap = nb + 2 * n + 1;
	addr = malloc(cap * sizeof(*addr));
	rule = malloc(cap * sizeof(*rule));
	if (!addr || !rule)
		goto out;
	if (nb)
		unw_table_row(base, 0, &a, &r);
	for (size_t j = 0; j < n; j++) {
		const struct unw_span *sp = &spans[j];

		if (sp->end <= sp->start)
			continue;
		if (sp->start < prev_end) {
			err = EINVAL;
			goto out;
		}
		prev_end = sp->end;
		/* base rows before the span, as they are */
		while (i < nb && a < sp->start) {
			addr[k] = a;
			rule[k++] = cur = r;
			if (++i < nb)
				unw_table_row(base, i, &a, &r);
		}
		addr[k] = sp->start;
		rule[k++] = sp->rule;
		/* base rows inside it are hidden, but the last one holds after it */
		while (i < nb && a < sp->end) {
			cur = r;
			if (++i < nb)
				unw_table_row(base, i, &a, &r);
		}
		addr[k] = sp->end;
		rule[k++] = cur; /* a span or base row at the same address comes later and wins */
	}
	while (i < nb) {
		addr[k] = a;
		rule[k++] = r;
		if (++i < nb)
			unw_table_row(base, i, &a, &r);
	}
	tab = unw_table_from_rows(addr, rule, k);
	err = tab ? 0 : errno;
out:
	free(addr);
	free(rule);
	errno = err;
	return tab;
}
