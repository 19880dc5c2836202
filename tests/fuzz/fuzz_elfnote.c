// SPDX-License-Identifier: MIT
/*
 * Fuzz lib's ELF note reader (the build-id of every mapped file, read from
 * files anyone may have written): any bytes as an image must give 0 with a
 * length in 1..20, -ENOENT or -EINVAL, never a read past the image (ASan:
 * the input is copied to a buffer of exactly its size) or a crash. The
 * MMAP2 decoder gets the same bytes as a record.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(size ? size : 1), id[20];
	struct xl_mmap2 m;
	size_t len;
	int err;

	if (!img)
		return 0;
	memcpy(img, data, size);
	err = xl_elf_build_id(img, size, id, sizeof(id), &len);
	if (err ? (err != -ENOENT && err != -EINVAL) || len : !len || len > sizeof(id))
		abort();
	err = xl_elf_go_build_id(img, size, id, sizeof(id), &len);
	if (err ? (err != -ENOENT && err != -EINVAL) || len : len != sizeof(id))
		abort();
	if (!xl_perf_mmap2(img, size, size > 80 ? 16 : 0, true, &m) &&
	    (strlen(m.path) >= size || m.build_id_len > sizeof(m.build_id)))
		abort();
	free(img);
	return 0;
}
