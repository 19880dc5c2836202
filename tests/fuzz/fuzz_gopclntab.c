// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the .gopclntab reader (symbolize/gopclntab.c), which
 * reads Go binaries a user profiles, so untrusted bytes:
 *   1. the input as a raw table (sym_gopcln_parse), with the input also as
 *      the gofunc region the inline trees are read from;
 *   2. the input as an ELF image (sym_gopcln_from_elf: the section or the
 *      scan of the segments, moduledata, the trampoline's code).
 * Every table that parses is used as the symbolizer and the unwinder use
 * it: function lookups across its text, frames with inline chains and
 * lines, every function's pcsp runs. A malformed table must cost its
 * answers, never a crash or a hang. Seeds in tests/fuzz/corpus/gopclntab/:
 * the synthetic go1.18 and go1.20 tables and ELF images of
 * tests/unit/test_gopclntab.c (XPROF_GOPCLN_SEEDS=DIR writes them).
 */
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_span(void *ctx, uint64_t lo, uint64_t hi, int32_t sp, uint32_t flags)
{
	uint64_t *n = ctx;

	/* spans come in address order and inside their function */
	if (hi <= lo)
		__builtin_trap();
	*n += (uint64_t)sp + flags;
	return 0;
}

static void exercise(const struct sym_gopcln *g)
{
	struct sym_goframe fr[16];
	struct sym_gofunc f;
	uint64_t n = 0;
	size_t len = 0;

	/* a bounded number of probes spread over the functions and around them */
	for (uint64_t i = 0; i < g->nfunc && i < 64; i++) {
		if (sym_gopcln_func(g, i, &f))
			continue;
		uint64_t probe[] = {f.entry, f.entry + (f.end - f.entry) / 2, f.end - 1, f.end};

		for (size_t p = 0; p < sizeof(probe) / sizeof(probe[0]); p++) {
			struct sym_gofunc h;

			if (sym_gopcln_find(g, probe[p], &h))
				continue;
			int k = sym_gopcln_frames(g, &h, probe[p], true, fr, 16);

			for (int j = 0; j < k; j++)
				len += (fr[j].name ? strlen(fr[j].name) : 0) +
				       (fr[j].file ? strlen(fr[j].file) : 0);
		}
	}
	sym_gopcln_frame_spans(g, count_span, &n);
	(void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_gopcln g;

	if (sym_gopcln_parse(&g, data, size, 0x401000) == 0) {
		g.gofunc = data;
		g.gofunc_len = size;
		exercise(&g);
	}

	/* libelf reads the image in place: a private copy it may not outlive */
	char *img = malloc(size ? size : 1);

	if (!img)
		return 0;
	memcpy(img, data, size);
	elf_version(EV_CURRENT);
	Elf *elf = elf_memory(img, size);

	if (elf && elf_kind(elf) == ELF_K_ELF && sym_gopcln_from_elf(&g, elf) == 0)
		exercise(&g);
	if (elf)
		elf_end(elf);
	free(img);
	return 0;
}
