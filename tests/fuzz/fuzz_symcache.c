// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the symbol index loader (symbolize/symcache.c): the input
 * is an index file. It is loaded from memory and, through a memfd, from a
 * path; its source id is taken from its own header so that the fuzzer gets
 * past that check. Every CU record that passes sym_index_cu() is then used
 * as a lookup would use it (intervals, containment parents, node chains,
 * rows, strings), and the accepted records are written out and read back,
 * which must succeed.
 *
 * The same input is also read as a cached symbol table (<id>.symtab), whose
 * symbols are then searched and named. Both formats keep the source id at
 * the same offset.
 *
 * Seeds in tests/fuzz/corpus/symcache/: the files that sym_bench -c wrote
 * for build/progs/sym_target (index with lines: sym_target, without:
 * sym_target_nolines, symbol table: sym_target.symtab) and sym_cxx.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/symbolize_int.h"

static void use_cu(const struct sym_cu_data *cu, uint64_t extra)
{
	uint64_t probe[8] = {0, extra, UINT64_MAX};
	size_t np = 3;

	if (cu->niv) {
		probe[np++] = cu->iv[0].lo;
		probe[np++] = cu->iv[cu->niv - 1].hi - 1;
		probe[np++] = cu->iv[cu->niv / 2].lo + 1;
	}
	if (cu->nrows) {
		probe[np++] = cu->rows[cu->nrows / 2].addr;
		probe[np++] = cu->rows[cu->nrows - 1].addr;
	}
	for (size_t p = 0; p < np; p++) {
		long i = sym_cu_find_iv(cu, probe[p]);
		size_t len = 0;

		if (i >= 0) {
			int32_t node = (int32_t)cu->iv[i].node;

			/* as sym_dwarf_lookup: at most 64 frames, whatever the parents */
			for (int n = 0; node >= 0 && n < 64; n++) {
				const struct sym_node *dn = &cu->nodes[node];
				const char *s = sym_cu_str(cu, dn->name);
				const char *f = sym_cu_str(cu, dn->call_file);

				len += (s ? strlen(s) : 0) + (f ? strlen(f) : 0);
				if (!(dn->flags & SYM_NODE_INLINED))
					break;
				node = dn->parent;
			}
		}
		const struct sym_row *r = sym_cu_find_row(cu, probe[p]);

		if (r) {
			const char *f = sym_cu_str(cu, r->file);

			len += f ? strlen(f) : 0;
		}
		if (len > ((size_t)1 << 40))
			abort();
	}
}

static void check(const struct sym_index *ix, uint64_t src_id, uint64_t extra)
{
	const struct sym_cu_data **cus = calloc(ix->ncus ? ix->ncus : 1, sizeof(*cus));
	struct sym_cu_data *data = calloc(ix->ncus ? ix->ncus : 1, sizeof(*data));
	void *buf = NULL;
	size_t len = 0;

	if (!cus || !data)
		goto out;
	for (size_t i = 0; i < ix->ncus; i++) {
		if (sym_index_cu(ix, i, &data[i]) == 0) {
			use_cu(&data[i], extra);
			cus[i] = &data[i];
		}
	}
	/* What was accepted survives a round trip. */
	if (sym_index_serialize(src_id, ix->ranges, ix->nranges, cus, ix->ncus, &buf, &len) == 0) {
		struct sym_index again;

		if (sym_index_from_buf(&again, buf, len, src_id) != 0)
			abort();
		for (size_t i = 0; i < again.ncus; i++) {
			struct sym_cu_data d;

			if (cus[i] && sym_index_cu(&again, i, &d) != 0)
				abort();
		}
		sym_index_release(&again);
	}
out:
	free(buf);
	free(cus);
	free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_index ix;
	uint64_t src_id = 0, extra = 0;

	/* header: magic[8] version hdr_size file_size src_id ... */
	if (size >= 32)
		memcpy(&src_id, data + 24, 8);
	if (size >= 8)
		memcpy(&extra, data + size - 8, 8);
	if (sym_index_from_buf(&ix, data, size, src_id) == 0) {
		check(&ix, src_id, extra);
		sym_index_release(&ix);
	}
	int fd = memfd_create("fuzz_symcache", MFD_CLOEXEC);
	char path[64];

	if (fd < 0)
		return 0;
	if (!size || write(fd, data, size) == (ssize_t)size) {
		struct sym_symtab t;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (sym_index_load(&ix, path, src_id) == 0)
			sym_index_release(&ix);
		if (sym_symtab_load(&t, path, src_id) == 0) {
			uint64_t probe[] = {0, extra, UINT64_MAX, t.n ? t.syms[t.n / 2].start : 1};
			size_t len = 0;

			for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
				long k = sym_symtab_find(&t, probe[i]);

				if (k >= 0)
					len += strlen(t.blob + t.syms[k].name_off);
			}
			if (len > ((size_t)1 << 40))
				abort();
			sym_symtab_release(&t);
		}
	}
	close(fd);
	return 0;
}
