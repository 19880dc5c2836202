// SPDX-License-Identifier: MIT
/*
 * ELF facts several folders need, read one way: the GNU build-id note of a
 * file or an image (and Go's own note, for binaries that have no other) (the recorder stamps
 * mappings with it, the pipeline checks files against it, the unwind cache names tables by it), and
 * where this process's own vDSO is (the recorder saves it, the pipeline and the perf.data reader
 * fall back to it).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lib.h"

/* Go's linker's note: "Go\0\0", type 4, "actionID/.../contentID". */
#define NT_GO_BUILD_ID 4

/* Which note a reader wants: name and type, and which bytes of its description. */
struct note_want {
	const char *name; /* with its NUL padding: 4 bytes */
	uint32_t type;
	bool tail; /* the last max bytes of a description of at least max; else all of 1..max */
};

/* v rounded up to a (a power of two); false if that overflows. */
static bool align_up(uint64_t v, uint64_t a, uint64_t *out)
{
	if (v > UINT64_MAX - (a - 1))
		return false;
	*out = (v + a - 1) & ~(a - 1);
	return true;
}

/*
 * The first wanted note in one note area (len bytes at p, entries aligned
 * to align as gelf_getnote() aligns them), copied into id; its length, 0
 * if none. Every size is checked against the bytes that remain.
 */
static size_t note_find(const uint8_t *p, uint64_t len, uint64_t align, const struct note_want *w,
			uint8_t *id, size_t max)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint32_t nh[3]; /* namesz, descsz, type */
		uint64_t name_off = off + 12, desc_off, next;

		memcpy(nh, p + off, sizeof(nh));
		if (nh[0] > len - name_off || !align_up(name_off + nh[0], align, &desc_off) ||
		    desc_off > len || nh[1] > len - desc_off)
			return 0;
		if (nh[2] == w->type && nh[0] == 4 && !memcmp(p + name_off, w->name, 4)) {
			const uint8_t *desc = p + desc_off;

			if (w->tail && nh[1] >= max) {
				memcpy(id, desc + nh[1] - max, max);
				return max;
			}
			/* As the kernel's build_id_parse(): a longer note is not a build-id it
			 * reports. */
			if (!w->tail && nh[1] > 0 && nh[1] <= max) {
				memcpy(id, desc, nh[1]);
				return nh[1];
			}
		}
		if (!align_up(desc_off + nh[1], align, &next) || next > len)
			return 0;
		off = next;
	}
	return 0;
}

/* A note area [off, off + size) of the image, if it lies inside it. */
static size_t area_find(const uint8_t *img, size_t len, uint64_t off, uint64_t size, uint64_t align,
			const struct note_want *w, uint8_t *id, size_t max)
{
	if (off > len || size > len - off)
		return 0;
	return note_find(img + off, size, align == 8 ? 8 : 4, w, id, max);
}

/*
 * The wanted note of an ELF64 little-endian image: in a PT_NOTE segment
 * (what the kernel reads), else in an SHT_NOTE section.
 */
static int elf_note(const void *image, size_t len, const struct note_want *w, uint8_t *id,
		    size_t max, size_t *idlen)
{
	const uint8_t *img = image;
	Elf64_Ehdr eh;

	*idlen = 0;
	if (len < sizeof(eh) || memcmp(img, ELFMAG, SELFMAG))
		return -EINVAL;
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -EINVAL;
	if (eh.e_phentsize >= sizeof(Elf64_Phdr) && eh.e_phoff <= len &&
	    (uint64_t)eh.e_phnum * eh.e_phentsize <= len - eh.e_phoff) {
		for (unsigned i = 0; i < eh.e_phnum && !*idlen; i++) {
			Elf64_Phdr ph;

			memcpy(&ph, img + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof(ph));
			if (ph.p_type == PT_NOTE)
				*idlen = area_find(img, len, ph.p_offset, ph.p_filesz, ph.p_align,
						   w, id, max);
		}
	}
	if (!*idlen && eh.e_shentsize >= sizeof(Elf64_Shdr) && eh.e_shoff <= len &&
	    (uint64_t)eh.e_shnum * eh.e_shentsize <= len - eh.e_shoff) {
		for (unsigned i = 0; i < eh.e_shnum && !*idlen; i++) {
			Elf64_Shdr sh;

			memcpy(&sh, img + eh.e_shoff + (size_t)i * eh.e_shentsize, sizeof(sh));
			if (sh.sh_type == SHT_NOTE)
				*idlen = area_find(img, len, sh.sh_offset, sh.sh_size,
						   sh.sh_addralign, w, id, max);
		}
	}
	return *idlen ? 0 : -ENOENT;
}

static const struct note_want gnu_note = {"GNU", NT_GNU_BUILD_ID, false};
static const struct note_want go_note = {"Go\0\0", NT_GO_BUILD_ID, true};

int xl_elf_build_id(const void *image, size_t len, uint8_t *id, size_t max, size_t *idlen)
{
	return elf_note(image, len, &gnu_note, id, max, idlen);
}

int xl_elf_go_build_id(const void *image, size_t len, uint8_t *id, size_t max, size_t *idlen)
{
	return elf_note(image, len, &go_note, id, max, idlen);
}

int xl_build_id_file(const char *path, uint8_t *id, size_t max, size_t *len)
{
	struct stat st;
	void *img;
	int fd, err;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -EINVAL;
	}
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return -EINVAL;
	err = xl_elf_build_id(img, st.st_size, id, max, len);
	munmap(img, st.st_size);
	return err;
}

int xl_vdso_self(const uint8_t **image, size_t *len)
{
	unsigned long at = getauxval(AT_SYSINFO_EHDR);
	char line[512];
	uint64_t lo, hi;
	int err = -ENOENT;
	FILE *f;

	if (!at)
		return -ENOENT;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]"))
			continue;
		/* The mapping the auxiliary vector names, whole: every 64-bit process has this one.
		 */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) == 2 && lo == at && hi > lo) {
			*image = (const uint8_t *)(uintptr_t)lo;
			*len = hi - lo;
			err = 0;
		}
		break;
	}
	fclose(f);
	return err;
}
