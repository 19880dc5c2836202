// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the machine-code analyser (unwind/synth.c), which
 * decodes code from untrusted files: the input is one function's bytes.
 * Every instruction's rule must be one the table can store (or none), and
 * a table built from them must validate; a refusal is a normal answer,
 * never a crash, a hang or unbounded memory. Seed corpus:
 * tests/fuzz/corpus/synth/ (prologues, epilogues, jump tables, realignment).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct unw_synth *sy;
	uint64_t *addr;
	struct unw_rule *rule;
	size_t n;

	if (!sy && !(sy = unw_synth_new()))
		abort();
	if (size > 4096)
		size = 4096;
	if (unw_synth_analyse(sy, data, size, 0x401000) != 0)
		return 0;
	n = unw_synth_count(sy);
	addr = malloc((n + 1) * sizeof(*addr));
	rule = malloc((n + 1) * sizeof(*rule));
	if (!addr || !rule)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct unw_row row;
		int32_t spo;
		uint8_t unch;

		unw_synth_insn(sy, i, &addr[i], &rule[i], &spo, &unch);
		if (!unw_rule_encode(&rule[i], &row))
			abort(); /* the analyser made a rule the table cannot hold */
	}
	addr[n] = 0x401000 + size;
	rule[n] = (struct unw_rule){.type = UNW_RULE_NONE};
	struct unw_table *t = unw_table_from_rows(addr, rule, n + 1);

	if (!t)
		abort();
	unw_table_free(t);
	free(addr);
	free(rule);
	return 0;
}
