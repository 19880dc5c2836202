// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for everything in unwind/ that reads untrusted bytes:
 *   1. the input as an ELF image (unw_table_from_image: libelf, then our
 *      .eh_frame/.debug_frame reader and CFA interpreter),
 *   2. the input as a raw .eh_frame and as a raw .debug_frame section,
 *   3. the input as a cached table blob (unw_table_from_blob's validation).
 * Every table that comes out is looked up at a few addresses and dumped row
 * by row, so a table that validates but is inconsistent shows up as an ASan
 * error. Bad CFI must cost only its FDE (UNW_UNREP_BAD_FDE), never a crash,
 * a hang or unbounded memory. Seed corpus: tests/fuzz/corpus/cfi/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct unw_table *tab, const uint8_t *data, size_t size)
{
	size_t n = unw_table_count(tab);
	uint64_t probe[8] = {0, 1, 0x1000, UINT64_MAX};
	struct unw_rule r;

	for (size_t i = 0; i < n && i < 4096; i++) {
		uint64_t a;

		unw_table_row(tab, i, &a, &r);
		if (i < 4)
			probe[4 + i] = a + (size ? data[i % size] : 0);
		(void)unw_table_lookup(tab, a, &r);
		(void)unw_table_lookup(tab, a - 1, &r);
	}
	for (int i = 0; i < 8; i++)
		(void)unw_table_lookup(tab, probe[i], &r);
}

static void raw_section(enum unw_cfi_kind kind, const uint8_t *data, size_t size)
{
	struct unw_gen_stats st = {0};
	struct unw_cfi cfi = {.stats = &st};

	if (unw_cfi_read(&cfi, kind, data, size, 0x401000, 0) == 0) {
		struct unw_table *tab = unw_table_from_cfi(&cfi, &st);

		if (tab)
			exercise(tab, data, size);
		unw_table_free(tab);
	}
	unw_cfi_release(&cfi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unw_gen_stats st;
	struct unw_table *tab;

	/* libelf wants an aligned, writable-looking buffer: give it a private copy */
	void *img = malloc(size ? size : 1);

	if (!img)
		return 0;
	memcpy(img, data, size);
	tab = unw_table_from_image(img, size, &st);
	if (tab)
		exercise(tab, data, size);
	unw_table_free(tab);

	raw_section(UNW_CFI_EH_FRAME, data, size);
	raw_section(UNW_CFI_DEBUG_FRAME, data, size);

	/* from_blob takes ownership of its buffer */
	memcpy(img, data, size);
	tab = unw_table_from_blob(img, size);
	if (tab)
		exercise(tab, data, size);
	unw_table_free(tab);
	return 0;
}
