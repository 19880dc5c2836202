// SPDX-License-Identifier: MIT
/*
 * Fuzz the offline unwinder: any registers, any stack bytes at any
 * addresses, any rules (also ones no generator would write) must give a
 * bounded walk that never reads outside the stack segments it was given
 * (each is its own heap copy of exactly its length, so ASan sees a stray
 * read), never loops and always returns a sane result.
 *
 * Input: a header (row count, segment count, module bias), table rows
 * (address step + a raw rule), the 17 registers, then per segment its start
 * address, its length and its bytes. A second module without a table
 * exercises the frame-pointer fallback and, as anonymous (JIT) memory,
 * stack scanning; the executable's code bytes (what scanning decodes) are
 * the input's first 4 KiB, read in place.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind.h"

#define MAX_ROWS   32
#define MAX_FRAMES 64

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

struct world {
	struct unw_module mods[2];
};

static const struct unw_module *find(void *ctx, uint64_t addr)
{
	struct world *w = ctx;

	for (int i = 0; i < 2; i++)
		if (addr >= w->mods[i].start && addr < w->mods[i].end)
			return &w->mods[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	uint64_t addr[MAX_ROWS];
	struct unw_rule rule[MAX_ROWS];
	struct unw_input ui = {0};
	struct unw_frame frames[MAX_FRAMES];
	struct unw_result res;
	struct unw_table *tab = NULL;
	uint8_t *copies[2] = {NULL, NULL};
	struct world w;
	unsigned nrows = take(&in, 1) % (MAX_ROWS + 1);
	unsigned nsegs = take(&in, 1) % 3;
	uint64_t a = 0x1000;

	/* The executable at a page-aligned bias; a no-CFI module above it. */
	uint64_t bias = (take(&in, 2) << 12) + 0x400000;

	for (unsigned i = 0; i < nrows; i++) {
		a += take(&in, 1);
		addr[i] = a;
		rule[i].type = (uint8_t)(take(&in, 1) % 7);
		rule[i].cfa_reg = (uint8_t)take(&in, 1);
		rule[i].ra_loc = (uint8_t)take(&in, 1);
		rule[i].bp_loc = (uint8_t)take(&in, 1);
		rule[i].cfa_off = (int32_t)take(&in, 2) - 0x8000;
		rule[i].ra_off = (int32_t)(int8_t)take(&in, 1);
		rule[i].bp_off = (int32_t)(int8_t)take(&in, 1);
	}
	if (nrows)
		tab = unw_table_from_rows(addr, rule, nrows);
	w.mods[0] = (struct unw_module){.start = bias + 0x1000,
					.end = bias + 0x2000,
					.bias = bias,
					.table = tab,
					.code = data,
					.code_len = size < 0x1000 ? size : 0x1000};
	w.mods[1] = (struct unw_module){.start = bias + 0x10000,
					.end = bias + 0x11000,
					.bias = bias + 0x10000,
					.flags = UNW_MOD_F_ANON};

	for (unsigned r = 0; r < XP_NREGS; r++) {
		unsigned kind = (unsigned)take(&in, 1) % 4;

		/* Mostly addresses that mean something here, sometimes anything. */
		if (kind == 0)
			ui.regs[r] = bias + 0x1000 + take(&in, 2) % 0x1000;
		else if (kind == 1)
			ui.regs[r] = bias + 0x10000 + take(&in, 2) % 0x1000;
		else if (kind == 2)
			ui.regs[r] = 0x7ff000000000ull + take(&in, 2);
		else
			ui.regs[r] = take(&in, 8);
	}
	ui.nsegs = nsegs;
	for (unsigned i = 0; i < nsegs; i++) {
		uint64_t start = take(&in, 1) & 1 ? ui.regs[7] : 0x7ff000000000ull + take(&in, 2);
		uint32_t len = (uint32_t)take(&in, 2) % 4096;

		if (len > in.n)
			len = (uint32_t)in.n;
		copies[i] = malloc(len ? len : 1);
		if (!copies[i])
			goto out;
		memcpy(copies[i], in.p, len);
		in.p += len;
		in.n -= len;
		ui.segs[i] = (struct unw_stack_seg){start, copies[i], len};
	}

	if (unw_walk(&ui, find, &w, frames, MAX_FRAMES, &res))
		abort();
	if (res.status >= UNW_STATUS_NR || res.nframes < 1 || res.nframes > MAX_FRAMES ||
	    frames[0].ip != ui.regs[16] || !(frames[0].flags & UNW_FRAME_F_TRAP))
		abort();
	if (!strcmp(unw_status_name(res.status), "unknown"))
		abort();
out:
	free(copies[0]);
	free(copies[1]);
	unw_table_free(tab);
	return 0;
}
