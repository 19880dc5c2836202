// SPDX-License-Identifier: MIT
/*
 * ELF facts several folders need, read one way: the GNU build-id note of a
 * file or an image (the recorder stamps mappings with it, the pipeline checks
 * files against it, the unwind cache names tables by it), and where this
 * process's own vDSO is (the recorder saves it, the pipeline and the
 * perf.data reader fall back to it).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "lib/lib.h"

/* The first NT_GNU_BUILD_ID of 1..max bytes in one note area; 0 if none. */
static size_t note_build_id(Elf_Data *d, uint8_t *id, size_t max)
{
	GElf_Nhdr nh;
	size_t off = 0, noff, doff;

	while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
		/* As the kernel's build_id_parse(): a longer note is not a build-id it reports. */
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((const char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz > 0 &&
		    nh.n_descsz <= max) {
			memcpy(id, (const char *)d->d_buf + doff, nh.n_descsz);
			return nh.n_descsz;
		}
	}
	return 0;
}

int xl_elf_build_id(struct Elf *e, uint8_t *id, size_t max, size_t *len)
{
	size_t nph;

	*len = 0;
	if (elf_kind(e) != ELF_K_ELF)
		return -EINVAL;
	/* The loaded notes first (what the kernel reads), then note sections. */
	if (!elf_getphdrnum(e, &nph)) {
		for (size_t i = 0; i < nph && !*len; i++) {
			GElf_Phdr ph;
			Elf_Data *d;

			if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			d = elf_getdata_rawchunk(e, ph.p_offset, ph.p_filesz,
						 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
			if (d)
				*len = note_build_id(d, id, max);
		}
	}
	for (Elf_Scn *s = NULL; !*len && (s = elf_nextscn(e, s));) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(s, NULL);
		if (d)
			*len = note_build_id(d, id, max);
	}
	return *len ? 0 : -ENOENT;
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
