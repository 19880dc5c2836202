// SPDX-License-Identifier: MIT
/*
 * ELF function symbols into one sorted array {start, size, name_off} and one
 * string blob. Sources are .symtab and .dynsym of one or more ELF files (the
 * debug file's .symtab merged with the main file's .dynsym). Symbols at one
 * address are aliases and get one stable name (sym_alias_better); zero-size
 * symbols (hand-written assembly) reach to the next symbol but never past the
 * end of their section, which is what nm and addr2line users expect.
 *
 * Untyped symbols (STT_NOTYPE) in code are labels of hand-written assembly
 * that never said ".type": ld.so's _start and _dl_start_user, where every
 * dynamically linked process begins. perf counts them as functions, and so
 * do we, except where one sits inside a sized function (a label in its
 * body) or at its section's end (_etext): a FUNC always wins.
 */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

struct sym_symtab_raw {
	uint64_t start;
	uint64_t size;
	uint64_t sec_end; /* end of the symbol's section, caps zero-size symbols */
	uint32_t name_off;
	int bind;
	bool label; /* STT_NOTYPE */
};

static int bind_rank(int bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

bool sym_alias_better(const char *a, int bind_a, const char *b, int bind_b)
{
	int ra = bind_rank(bind_a), rb = bind_rank(bind_b);

	if (ra != rb)
		return ra < rb;
	bool ua = a[0] == '_', ub = b[0] == '_';

	if (ua != ub)
		return !ua;
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb;
	return strcmp(a, b) < 0;
}

bool sym_elf_has_section(Elf *elf, const char *name, int type)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (type >= 0 && sh.sh_type != (GElf_Word)type)
			continue;
		if (sh.sh_type == SHT_NOBITS && type != SHT_NOBITS)
			continue;
		const char *n = elf_strptr(elf, shstrndx, sh.sh_name);

		if (n && !strcmp(n, name))
			return true;
	}
	return false;
}

static int builder_push(struct sym_symtab_builder *b, const struct sym_symtab_raw *r)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct sym_symtab_raw *raw = realloc(b->raw, cap * sizeof(*raw));

		if (!raw)
			return -ENOMEM;
		b->raw = raw;
		b->cap = cap;
	}
	b->raw[b->n++] = *r;
	return 0;
}

int sym_symtab_add_elf(struct sym_symtab_builder *b, Elf *elf, bool want_dynsym)
{
	GElf_Word want = want_dynsym ? SHT_DYNSYM : SHT_SYMTAB;
	Elf_Scn *scn = NULL;
	size_t nsec = 0;

	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrnum(elf, &nsec) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != want || sh.sh_entsize == 0)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);

		if (!data || !data->d_buf)
			continue;
		size_t count = data->d_size / sh.sh_entsize;

		for (size_t i = 1; i < count; i++) {
			GElf_Sym sym;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			int type = GELF_ST_TYPE(sym.st_info);
			int bind = GELF_ST_BIND(sym.st_info);

			if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
				continue;
			if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
			    sym.st_shndx >= nsec || sym.st_value == 0)
				continue;
			Elf_Scn *ss = elf_getscn(elf, sym.st_shndx);
			GElf_Shdr ssh;

			if (!ss || !gelf_getshdr(ss, &ssh) || !(ssh.sh_flags & SHF_EXECINSTR))
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);

			if (!name || !name[0])
				continue;
			/* Versioned names in .symtab ("memcpy@GLIBC_2.2.5") are shown bare. */
			size_t len = strcspn(name, "@");

			if (len == 0)
				continue;
			int64_t off = sym_blob_add(&b->blob, name, len);

			if (off < 0)
				return (int)off;
			uint64_t sec_end = ssh.sh_addr + ssh.sh_size;

			if (sec_end < ssh.sh_addr)
				sec_end = UINT64_MAX;
			/* A label at (or past) its section's end marks an end. */
			if (type == STT_NOTYPE && sym.st_value >= sec_end)
				continue;
			struct sym_symtab_raw r = {
			    .start = sym.st_value,
			    .size = sym.st_size,
			    .sec_end = sec_end,
			    .name_off = (uint32_t)off,
			    .bind = bind,
			    .label = type == STT_NOTYPE,
			};
			int err = builder_push(b, &r);

			if (err)
				return err;
		}
	}
	return 0;
}

static int raw_cmp(const void *pa, const void *pb)
{
	const struct sym_symtab_raw *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return 0;
}

/*
 * Drops labels that are not functions of their own: one inside a sized
 * function that starts before it, and one at the address of a function
 * (the function names the group). b->raw is sorted by start.
 */
static void drop_inner_labels(struct sym_symtab_builder *b)
{
	uint64_t covered = 0; /* end of the sized functions seen so far */
	size_t n = 0;

	for (size_t i = 0; i < b->n;) {
		size_t j = i;
		bool func = false;

		for (; j < b->n && b->raw[j].start == b->raw[i].start; j++)
			func |= !b->raw[j].label;
		bool inside = b->raw[i].start < covered;

		for (size_t k = i; k < j; k++) {
			const struct sym_symtab_raw *r = &b->raw[k];

			if (r->label && (func || inside))
				continue;
			if (!r->label && r->start + r->size > covered)
				covered = r->start + r->size;
			b->raw[n++] = *r;
		}
		i = j;
	}
	b->n = n;
}

int sym_symtab_finish(struct sym_symtab_builder *b, struct sym_symtab *out)
{
	int err = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (b->n)
		qsort(b->raw, b->n, sizeof(*b->raw), raw_cmp);
	drop_inner_labels(b);
	struct sym_elf_sym *syms = calloc(b->n ? b->n : 1, sizeof(*syms));

	if (!syms)
		goto out;
	/* The final blob holds only the chosen names. */
	struct sym_blob blob = {0};
	size_t n = 0;

	for (size_t i = 0; i < b->n;) {
		size_t j = i, best = i;
		uint64_t size = 0, sec_end = b->raw[i].sec_end;

		for (; j < b->n && b->raw[j].start == b->raw[i].start; j++) {
			const struct sym_symtab_raw *r = &b->raw[j];

			if (r->size > size)
				size = r->size;
			if (j != best && sym_alias_better(b->blob.buf + r->name_off, r->bind,
							  b->blob.buf + b->raw[best].name_off,
							  b->raw[best].bind))
				best = j;
		}
		uint64_t start = b->raw[i].start;
		uint64_t next = j < b->n ? b->raw[j].start : UINT64_MAX;

		if (size == 0) {
			/* Reach the next symbol, within the section. */
			uint64_t end = next < sec_end ? next : sec_end;

			size = end > start ? end - start : 1;
		}
		if (size > UINT32_MAX)
			size = UINT32_MAX;
		const char *name = b->blob.buf + b->raw[best].name_off;
		int64_t off = sym_blob_add(&blob, name, strlen(name));

		if (off < 0) {
			free(blob.buf);
			free(syms);
			goto out;
		}
		syms[n++] = (struct sym_elf_sym){start, (uint32_t)size, (uint32_t)off};
		i = j;
	}
	out->syms = syms;
	out->n = n;
	out->blob = blob.buf;
	out->blob_len = blob.len;
	err = 0;
out:
	sym_symtab_builder_release(b);
	return err;
}

void sym_symtab_builder_release(struct sym_symtab_builder *b)
{
	free(b->raw);
	free(b->blob.buf);
	memset(b, 0, sizeof(*b));
}

void sym_symtab_release(struct sym_symtab *t)
{
	free(t->syms);
	free(t->blob);
	memset(t, 0, sizeof(*t));
}

long sym_symtab_find(const struct sym_symtab *t, uint64_t vaddr)
{
	size_t lo = 0, hi = t->n;

	/* Rightmost start <= vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A symbol nested in a bigger one (a local label typed FUNC) ends
	 * before its parent does: look back a few entries for a container. */
	for (size_t k = 0; k < 8 && lo > k; k++) {
		const struct sym_elf_sym *s = &t->syms[lo - 1 - k];

		if (vaddr - s->start < s->size)
			return (long)(lo - 1 - k);
	}
	return -1;
}
