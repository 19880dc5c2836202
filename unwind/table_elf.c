// SPDX-License-Identifier: MIT
/*
 * Table generation from an ELF file or image: find the CFI sections with
 * libelf, read them with cfi.c, then resolve the FDEs into one sorted row
 * list (overlaps dropped, a terminator wherever an FDE is not followed
 * directly by the next) and hand it to unw_table_from_rows().
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
	uint64_t *addr = NULL;
	struct unw_rule *rule = NULL;
	struct unw_table *tab = NULL;
	size_t n = 0, cap = cfi->nrows + cfi->nfdes + 1;
	const struct unw_rule none = {.type = UNW_RULE_NONE};
	uint64_t covered_end = 0;
	uint8_t covered_prio = 0;
	int err = -ENOMEM;

	addr = malloc(cap * sizeof(*addr));
	rule = malloc(cap * sizeof(*rule));
	if (!addr || !rule)
		goto out;
	if (cfi->nfdes)
		qsort(cfi->fdes, cfi->nfdes, sizeof(*cfi->fdes), fde_cmp);
	for (size_t i = 0; i < cfi->nfdes; i++) {
		const struct unw_cfi_fde *f = &cfi->fdes[i];

		if (n && f->start < covered_end) {
			/*
			 * .debug_frame usually repeats what .eh_frame says: not an
			 * error. Two FDEs of one section that overlap are; the one
			 * that starts first is kept.
			 */
			if (f->prio == covered_prio)
				stats->unrep[UNW_UNREP_BAD_FDE]++;
			continue;
		}
		if (n && f->start != covered_end) {
			addr[n] = covered_end; /* a gap: never inherit the previous rule */
			rule[n++] = none;
		}
		for (uint32_t j = 0; j < f->nrows; j++) {
			addr[n] = cfi->rows[f->first_row + j].start;
			rule[n++] = cfi->rows[f->first_row + j].rule;
		}
		covered_end = f->end;
		covered_prio = f->prio;
	}
	if (n) {
		addr[n] = covered_end;
		rule[n++] = none;
	}
	tab = unw_table_from_rows(addr, rule, n);
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
	free(addr);
	free(rule);
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
		return -ENOEXEC;
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
		if (sh.sh_type != SHT_PROGBITS) /* NOBITS in separate debug files */
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
	if (!err && debug) {
		err = elf_read_cfi(debug, &cfi, true, &ndebug);
		if (err == -ENOEXEC)
			err = 0; /* a useless debug file does not spoil the main one */
	}
	if (!err && !nsec && !ndebug)
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
