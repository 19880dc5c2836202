// SPDX-License-Identifier: MIT
/*
 * Table generation from an ELF file or image: find the CFI sections with
 * libelf, read them with cfi.c, then resolve the FDEs into one sorted row
 * list (overlaps dropped, a terminator wherever an FDE is not followed
 * directly by the next) and hand it to unw_table_from_rows().
 *
 * Code no FDE covers may get rows from a row source (row_sources[]:
 * today the machine-code analyser of synth.c); they join the table with
 * their rules flagged as synthesized.
 *
 * Gaps: every FDE end that is not another FDE's start gets a UNW_RULE_NONE
 * terminator, including the alignment padding between functions. Absorbing
 * padding into the previous function would save 10-26 % of the entries
 * (cfi-survey.md §5) but would need an instruction decoder to tell padding
 * from code without CFI; the strict form answers exactly what libdw answers
 * for every address, which the oracle test checks byte by byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unwind/unwind_int.h"

static int fde_cmp(const void *a, const void *b)
{
	const struct unw_cfi_fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	/* stable among equals: the first in the section wins, as in a linear scan */
	return x->first_row < y->first_row ? -1 : x->first_row > y->first_row;
}

struct unw_table *unw_table_from_cfi(struct unw_cfi *cfi, struct unw_gen_stats *stats)
{
	struct unw_tab_build *b = unw_tab_build_new(cfi->nrows + cfi->nfdes + 1);
	struct unw_table *tab = NULL;
	const struct unw_rule none = {.type = UNW_RULE_NONE};
	uint64_t covered_end = 0;
	uint8_t covered_prio = 0;
	bool any = false;
	int err = -ENOMEM;

	if (!b)
		goto out;
	if (cfi->nfdes)
		qsort(cfi->fdes, cfi->nfdes, sizeof(*cfi->fdes), fde_cmp);
	err = 0;
	for (size_t i = 0; i < cfi->nfdes && !err; i++) {
		const struct unw_cfi_fde *f = &cfi->fdes[i];

		if (any && f->start < covered_end) {
			/*
			 * .debug_frame usually repeats what .eh_frame says: not an
			 * error. Two FDEs of one section that overlap are; the one
			 * that starts first is kept.
			 */
			if (f->prio == covered_prio)
				stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}
		if (any && f->start != covered_end) /* a gap: never inherit the previous rule */
			err = unw_tab_build_add(b, covered_end, &none);
		for (uint32_t j = 0; j < f->nrows && !err; j++, any = true)
			err = unw_tab_build_add(b, cfi->rows[f->first_row + j].start,
						&cfi->rows[f->first_row + j].rule);
		covered_end = f->end;
		covered_prio = f->prio;
	}
	if (!err && any)
		err = unw_tab_build_add(b, covered_end, &none);
	if (err)
		goto out;
	tab = unw_tab_build_finish(b);
	b = NULL;
	if (!tab) {
		err = -errno;
		goto out;
	}
	stats->entries = tab->stats.entries;
	stats->rules = tab->stats.rules;
	stats->bytes = tab->stats.bytes;
	tab->stats = *stats;
	err = 0;
out:
	unw_tab_build_free(b);
	if (err) {
		errno = -err;
		return NULL;
	}
	return tab;
}

/* The CFI sections of one ELF handle, read into cfi. Returns how many were found. */
static int elf_read_cfi(Elf *elf, struct unw_cfi *cfi, bool debug_file, int *nsec)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;

	*nsec = 0;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
		return -ENOEXEC;
	/* Relocatable objects hold unrelocated addresses: a table of them means nothing. */
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return 0; /* no usable section headers: the caller tries the program headers */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		enum unw_cfi_kind kind;
		Elf_Data *d;
		int err;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".eh_frame_hdr") && !debug_file && sh.sh_type == SHT_PROGBITS) {
			cfi->stats->eh_frame_bytes += sh.sh_size;
			continue;
		}
		if (!strcmp(name, ".eh_frame") && !debug_file)
			kind = UNW_CFI_EH_FRAME;
		else if (!strcmp(name, ".debug_frame"))
			kind = UNW_CFI_DEBUG_FRAME;
		else
			continue;
		/* NOBITS in separate debug files; LLVM types .eh_frame SHT_X86_64_UNWIND */
		if (sh.sh_type != SHT_PROGBITS && sh.sh_type != SHT_X86_64_UNWIND)
			continue;
		if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || !d->d_size)
			continue;
		if (kind == UNW_CFI_EH_FRAME)
			cfi->stats->eh_frame_bytes += d->d_size;
		(*nsec)++;
		err = unw_cfi_read(cfi, kind, d->d_buf, d->d_size, sh.sh_addr,
				   kind == UNW_CFI_EH_FRAME ? 0
				   : debug_file		    ? 2
							    : 1);
		if (err)
			return err;
	}
	return 0;
}

/* The file bytes at vaddr, through the PT_LOAD that maps them; *avail = bytes up to its end. */
static const uint8_t *vaddr_bytes(Elf *elf, const uint8_t *raw, size_t rawlen, uint64_t vaddr,
				  size_t *avail)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || vaddr < ph.p_vaddr ||
		    vaddr - ph.p_vaddr >= ph.p_filesz)
			continue;
		/* untrusted headers: no sum may wrap */
		if (ph.p_offset > rawlen || ph.p_filesz > rawlen - ph.p_offset)
			return NULL;
		uint64_t off = ph.p_offset + (vaddr - ph.p_vaddr);
		uint64_t end = ph.p_offset + ph.p_filesz;

		*avail = (size_t)(end - off);
		return raw + off;
	}
	return NULL;
}

/*
 * No section headers (sstrip'ed files, images cut short): find .eh_frame
 * through PT_GNU_EH_FRAME, whose .eh_frame_hdr starts with a pointer to it.
 * Its length is unknown; the reader stops at the zero terminator or at the
 * end of the segment.
 */
static int eh_frame_from_phdrs(Elf *elf, struct unw_cfi *cfi, int *nsec)
{
	size_t n, rawlen;
	const uint8_t *raw = (const uint8_t *)elf_rawfile(elf, &rawlen);

	if (!raw || elf_getphdrnum(elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		size_t avail;
		const uint8_t *hdr;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		hdr = vaddr_bytes(elf, raw, rawlen, ph.p_vaddr, &avail);
		/* version 1, eh_frame_ptr encoded pcrel|sdata4 as every linker writes it */
		if (!hdr || avail < 8 || hdr[0] != 1 || hdr[1] != 0x1b)
			return 0;
		int32_t rel = (int32_t)((uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 |
					(uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24);
		uint64_t eh = ph.p_vaddr + 4 + (uint64_t)(int64_t)rel;
		const uint8_t *data = vaddr_bytes(elf, raw, rawlen, eh, &avail);

		if (!data)
			return 0;
		(*nsec)++;
		int err = unw_cfi_read(cfi, UNW_CFI_EH_FRAME, data, avail, eh, 0);

		cfi->stats->eh_frame_bytes += ph.p_filesz + cfi->used;
		return err;
	}
	return 0;
}

/*
 * Sources of rows for code without CFI, asked in this order after the CFI
 * is read; each describes only ranges no earlier FDE covers.
 */
static const unw_rows_source_fn row_sources[] = {
    unw_synth_source, /* machine code of sized function symbols */
};

static struct unw_table *table_from_elfs(Elf *elf, Elf *debug, struct unw_gen_stats *stats)
{
	struct unw_gen_stats local;
	struct unw_cfi cfi = {0};
	struct unw_table *tab = NULL;
	int nsec = 0, ndebug = 0, err;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	cfi.stats = stats;
	err = elf_read_cfi(elf, &cfi, false, &nsec);
	if (!err && !nsec)
		err = eh_frame_from_phdrs(elf, &cfi, &nsec);
	if (!err && debug) {
		err = elf_read_cfi(debug, &cfi, true, &ndebug);
		if (err == -ENOEXEC)
			err = 0; /* a useless debug file does not spoil the main one */
	}
	for (size_t i = 0; !err && i < sizeof(row_sources) / sizeof(row_sources[0]); i++)
		err = row_sources[i](elf, &cfi);
	if (!err && !cfi.nfdes && !nsec && !ndebug)
		err = -ENODATA;
	if (!err) {
		tab = unw_table_from_cfi(&cfi, stats);
		if (!tab)
			err = -errno;
	}
	unw_cfi_release(&cfi);
	if (err) {
		errno = -err;
		return NULL;
	}
	return tab;
}

static Elf *elf_open_fd(const char *path, int *fd)
{
	Elf *elf;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(*fd);
		*fd = -1;
		errno = ENOEXEC;
	}
	return elf;
}

struct unw_table *unw_table_from_elf(const char *path, const char *debug_path,
				     struct unw_gen_stats *stats)
{
	Elf *elf, *debug = NULL;
	int fd, dfd = -1, err = 0;
	struct unw_table *tab;

	elf_version(EV_CURRENT);
	elf = elf_open_fd(path, &fd);
	if (!elf)
		return NULL;
	if (debug_path) {
		debug = elf_open_fd(debug_path, &dfd);
		if (!debug)
			err = errno;
	}
	if (err) {
		tab = NULL;
	} else {
		tab = table_from_elfs(elf, debug, stats);
		err = tab ? 0 : errno;
	}
	elf_end(debug);
	elf_end(elf);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	errno = err;
	return tab;
}

struct unw_table *unw_table_from_image(const void *image, size_t len, struct unw_gen_stats *stats)
{
	Elf *elf;
	struct unw_table *tab;
	int err;

	if (!image || len < sizeof(Elf64_Ehdr)) {
		errno = ENOEXEC;
		return NULL;
	}
	elf_version(EV_CURRENT);
	/* libelf only reads the image (ELF_C_READ semantics); the cast is its API's. */
	elf = elf_memory((char *)image, len);
	if (!elf) {
		errno = ENOEXEC;
		return NULL;
	}
	tab = table_from_elfs(elf, NULL, stats);
	err = tab ? 0 : errno;
	elf_end(elf);
	errno = err;
	return tab;
}
