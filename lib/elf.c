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
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
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

/* The first wanted note in one note area, copied into id; its length, 0 if none. */
static size_t note_find(Elf_Data *d, const struct note_want *w, uint8_t *id, size_t max)
{
	GElf_Nhdr nh;
	size_t off = 0, noff, doff;

	while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
		const char *desc = (const char *)d->d_buf + doff;

		if (nh.n_type != w->type || nh.n_namesz != 4 ||
		    memcmp((const char *)d->d_buf + noff, w->name, 4))
			continue;
		if (w->tail && nh.n_descsz >= max) {
			memcpy(id, desc + nh.n_descsz - max, max);
			return max;
		}
		/* As the kernel's build_id_parse(): a longer note is not a build-id it reports. */
		if (!w->tail && nh.n_descsz > 0 && nh.n_descsz <= max) {
			memcpy(id, desc, nh.n_descsz);
			return nh.n_descsz;
		}
	}
	return 0;
}

/* The loaded notes first (what the kernel reads), then note sections. */
static int elf_note(struct Elf *e, const struct note_want *w, uint8_t *id, size_t max, size_t *len)
{
	size_t nph;

	*len = 0;
	if (elf_kind(e) != ELF_K_ELF)
		return -EINVAL;
	if (!elf_getphdrnum(e, &nph)) {
		for (size_t i = 0; i < nph && !*len; i++) {
			GElf_Phdr ph;
			Elf_Data *d;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			d = elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz,
						 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
			if (d)
				*len = note_find(d, w, id, max);
		}
	}
	for (Elf_Scn *s = NULL; !*len && (s = elf_nextscn(e, s));) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(s, NULL);
		if (d)
			*len = note_find(d, w, id, max);
	}
	return *len ? 0 : -ENOENT;
}

int xl_elf_build_id(struct Elf *e, uint8_t *id, size_t max, size_t *len)
{
	static const struct note_want gnu = {"GNU", NT_GNU_BUILD_ID, false};

	return elf_note(e, &gnu, id, max, len);
}

int xl_elf_go_build_id(struct Elf *e, uint8_t *id, size_t max, size_t *len)
{
	static const struct note_want go = {"Go\0\0", NT_GO_BUILD_ID, true};

	return elf_note(e, &go, id, max, len);
}

int xl_build_id_file(const char *path, uint8_t *id, size_t max, size_t *len)
{
	Elf *e;
	int fd, err;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = e ? xl_elf_build_id(e, id, max, len) : -EINVAL;
	elf_end(e);
	close(fd);
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
