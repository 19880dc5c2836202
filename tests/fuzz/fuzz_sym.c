// SPDX-License-Identifier: MIT
/*
 * Fuzz target for symbolize/: the first byte picks the parser, the rest is
 * its input.
 *   0: an ELF file (symbols, DWARF with lines and inlines, debuglink,
 *      MiniDebugInfo), opened from a memfd by path and from memory;
 *   1: a perf map; 2: a kallsyms file; 3: an xz stream; 4: a kallsyms
 *   cache file (its own key, so the fuzzer gets past the key check).
 * Nothing outside the input is read: no debug root, no debuginfod.
 *
 * Seeds in tests/fuzz/corpus/sym/ (mode byte + input): elf_dwarf is
 *   static inline int sq(int x) { return x * x; }  (always_inline)
 *   static int helper(int x) { return sq(x) + 1; }  (noinline)
 *   int entry(int x) { return helper(x) * sq(x + 1); }
 *   void _start(void) { entry(3); for (;;) ; }
 * built with gcc -O2 -g -nostdlib -static -Wl,--build-id
 * -Wl,-z,max-page-size=64 -Wl,-z,noseparate-code; elf_minidebuginfo is it
 * stripped with its function symbols xz'ed into .gnu_debugdata (objcopy
 * --only-keep-debug, objcopy -S --keep-symbols, xz, objcopy --add-section);
 * elf_stripped_fde is it built with -Wl,--eh-frame-hdr, stripped
 * (strip --strip-all -R .comment), three addresses inside its FDEs appended
 * (the .eh_frame_hdr table and FDEs that name unnamed functions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

static int memfd_with(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("fuzz_sym", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

static void lookups(struct sym_session *s, struct sym_file *f, const uint8_t *data, size_t size)
{
	const struct sym_frame *fr;
	uint64_t addrs[16] = {0, 1, 0x1000, 0x1130, 0x400000, UINT64_MAX};
	size_t n = 6;

	/* More addresses from the input's tail, so the fuzzer can aim. */
	for (size_t i = 0; n < 16 && i + 8 <= size && i < 80; i += 8) {
		uint64_t a;

		memcpy(&a, data + size - 8 - i, 8);
		addrs[n++] = a & 0xffffff;
	}
	for (size_t i = 0; i < n; i++) {
		int k = sym_file_lookup(s, f, addrs[i], &fr);

		for (int j = 0; j < k; j++)
			if (!fr[j].name || (fr[j].file && !fr[j].file[0] && fr[j].line > 1u << 31))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] & 7;
	char path[64];
	const struct sym_frame *fr;

	data++;
	size--;
	struct sym_opts o = {
	    .lines = true,
	    .no_debuginfod = true,
	    .debug_root = "/nonexistent-debug-root",
	    .perfmap_dir = "/nonexistent-perfmap-dir",
	};

	switch (mode) {
	case 0: {
		int fd = memfd_with(data, size, path, sizeof(path));

		if (fd < 0)
			return 0;
		struct sym_session *s = sym_session_new(&o);

		if (s) {
			struct sym_file *f = sym_file_get(s, path, NULL, 0);

			if (f)
				lookups(s, f, data, size);
			f = sym_file_from_image(s, "[fuzz]", data, size);
			if (f)
				lookups(s, f, data, size);
			sym_session_free(s);
		}
		close(fd);
		break;
	}
	case 1: {
		struct sym_perfmap m = {0};

		if (sym_perfmap_parse(&m, (const char *)data, size) == 0) {
			for (size_t i = 0; i < m.n; i++) {
				if (i && m.start[i] <= m.start[i - 1])
					abort(); /* must be sorted and unique */
				if (sym_perfmap_find(&m, m.start[i]) < 0)
					abort();
			}
			sym_perfmap_find(&m, 0);
			sym_perfmap_find(&m, UINT64_MAX);
		}
		sym_perfmap_release(&m);
		break;
	}
	case 2: {
		int fd = memfd_with(data, size, path, sizeof(path));

		if (fd < 0)
			return 0;
		o.kallsyms = path;
		struct sym_session *s = sym_session_new(&o);

		if (s) {
			sym_kernel_lookup(s, 0xffffffff81000000ULL, &fr);
			sym_kernel_lookup(s, 0, &fr);
			sym_kernel_lookup(s, UINT64_MAX, &fr);
			for (size_t i = 0; i < s->ksyms.n; i++)
				if (sym_kernel_lookup(s, s->ksyms.addr[i], &fr) != 1 ||
				    (fr->flags & SYM_F_UNKNOWN))
					abort();
			sym_session_free(s);
		}
		close(fd);
		break;
	}
	case 4: {
		struct sym_ksyms k;
		char boot_id[40] = "";
		uint64_t hash = 0;
		void *map;

		if (size >= 64) {
			memcpy(boot_id, data + 16, sizeof(boot_id));
			memcpy(&hash, data + 56, 8);
		}
		map = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED)
			return 0;
		memcpy(map, data, size);
		if (sym_ksyms_from_cache(&k, map, size, boot_id, hash)) {
			munmap(map, size ? size : 1);
			break;
		}
		for (size_t i = 0; i < k.n; i++) {
			if (sym_ksyms_find(&k, k.addr[i]) != (long)i ||
			    strlen(k.blob + k.name_off[i]) >= k.blob_len)
				abort();
			sym_ksyms_covers(&k, k.addr[i]);
		}
		sym_ksyms_release(&k);
		break;
	}
	default: {
		void *out;
		size_t len;

		if (sym_xz_decompress(data, size, &out, &len) == 0)
			free(out);
		break;
	}
	}
	return 0;
}
