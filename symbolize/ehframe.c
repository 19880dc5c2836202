// SPDX-License-Identifier: MIT
/*
 * Function bounds from .eh_frame, for code no symbol names. Stripped
 * programs and Debian's libraries keep only .dynsym, so most of their
 * functions have no name; but every function the compiler emitted has an
 * FDE whose [pc_begin, pc_begin + pc_range) is exactly its code, and the
 * linker sorts the FDE starts into .eh_frame_hdr's binary search table. An
 * unnamed address is then grouped under the function that holds it, one
 * stable frame per function instead of one per sampled address.
 *
 * Everything is read in place from the file's bytes (elf_rawfile) through
 * its program headers, as the runtime unwinder finds it: PT_GNU_EH_FRAME for
 * the table and PT_LOADs to turn an FDE's address into a file offset, so
 * section headers (which strip may leave and tools may edit) do not matter.
 * The file is untrusted: every read is bounds-checked, and an FDE counts only
 * if it covers the address and starts where the table says it does.
 */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

/* DWARF pointer encodings (DW_EH_PE_*), as .eh_frame_hdr and CIEs use them. */
#define PE_OMIT	   0xff
#define PE_ABSPTR  0x00
#define PE_ULEB128 0x01
#define PE_UDATA2  0x02
#define PE_UDATA4  0x03
#define PE_UDATA8  0x04
#define PE_SLEB128 0x09
#define PE_SDATA2  0x0a
#define PE_SDATA4  0x0b
#define PE_SDATA8  0x0c
#define PE_PCREL   0x10
#define PE_DATAREL 0x30

/* The only table encoding linkers write (bfd, gold, lld, mold): 4-byte
 * signed offsets from the start of .eh_frame_hdr. */
#define HDR_TABLE_ENC (PE_DATAREL | PE_SDATA4)

/* Bytes at an ELF virtual address: p[0 .. end - p) are at vaddr onwards. */
struct rd {
	const uint8_t *p, *end;
	uint64_t vaddr;
	bool bad;
};

static uint64_t rd_uint(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->vaddr += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r, bool is_signed)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (r->bad || r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		b = *r->p++;
		r->vaddr++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (is_signed && shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return v;
}

/*
 * A value in encoding enc. pcrel is relative to the field's own address,
 * datarel to data_base (.eh_frame_hdr's start; unused elsewhere on x86-64).
 * Indirect and aligned encodings are refused (bad): no linker emits them
 * where this reads.
 */
static uint64_t rd_enc(struct rd *r, uint8_t enc, uint64_t data_base)
{
	uint64_t field = r->vaddr, v;

	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		v = rd_uint(r, 8);
		break;
	case PE_ULEB128:
		v = rd_uleb(r, false);
		break;
	case PE_SLEB128:
		v = rd_uleb(r, true);
		break;
	case PE_UDATA2:
		v = rd_uint(r, 2);
		break;
	case PE_SDATA2:
		v = (uint64_t)(int64_t)(int16_t)rd_uint(r, 2);
		break;
	case PE_UDATA4:
		v = rd_uint(r, 4);
		break;
	case PE_SDATA4:
		v = (uint64_t)(int64_t)(int32_t)rd_uint(r, 4);
		break;
	default:
		r->bad = true;
		return 0;
	}
	switch (enc & 0xf0) {
	case 0:
		return v;
	case PE_PCREL:
		return v + field;
	case PE_DATAREL:
		return v + data_base;
	default:
		r->bad = true;
		return 0;
	}
}

/* A reader at vaddr, up to len bytes, within the file bytes of one PT_LOAD. */
static bool at(const struct sym_fdes *t, uint64_t vaddr, uint64_t len, struct rd *r)
{
	for (size_t i = 0; i < t->nloads; i++) {
		const struct sym_fde_load *l = &t->loads[i];

		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		uint64_t off = l->offset + (vaddr - l->vaddr);
		uint64_t avail = l->filesz - (vaddr - l->vaddr);

		if (len > avail)
			len = avail;
		r->p = t->img + off;
		r->end = r->p + len;
		r->vaddr = vaddr;
		r->bad = false;
		return true;
	}
	return false;
}

/*
 * The PLT sections (.plt, .plt.sec, .plt.got, .iplt): the linker gives each
 * one FDE for all its stubs, and naming that "file+0xSTART" would merge
 * calls to every imported function into one made-up function. Their
 * addresses stay "[file+0xADDR]". Only section headers say where they are;
 * without them the PLT is grouped like any FDE.
 */
static void plt_sections(struct sym_fdes *t, Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn)) &&
	       t->nplt < sizeof(t->plt_lo) / sizeof(t->plt_lo[0])) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".plt") || !strncmp(name, ".plt.", 5) || !strcmp(name, ".iplt")) {
			t->plt_lo[t->nplt] = sh.sh_addr;
			t->plt_hi[t->nplt++] = sh.sh_addr + sh.sh_size;
		}
	}
}

int sym_fdes_init(struct sym_fdes *t, struct Elf *elf)
{
	GElf_Ehdr eh;
	size_t nph = 0, size = 0;
	const uint8_t *img;
	GElf_Phdr hdr = {0};
	bool have_hdr = false;
	struct rd r;

	memset(t, 0, sizeof(*t));
	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getphdrnum(elf, &nph) != 0 || !nph ||
	    !(img = (const uint8_t *)elf_rawfile(elf, &size)))
		return -ENOENT;
	t->loads = calloc(nph, sizeof(*t->loads));
	if (!t->loads)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		/* Only bytes the file holds: a header may claim more than that. */
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		if (ph.p_type == PT_LOAD && ph.p_filesz)
			t->loads[t->nloads++] =
			    (struct sym_fde_load){ph.p_vaddr, ph.p_offset, ph.p_filesz};
		else if (ph.p_type == PT_GNU_EH_FRAME)
			hdr = ph, have_hdr = true;
	}
	t->img = img;
	plt_sections(t, elf);
	if (!have_hdr || !at(t, hdr.p_vaddr, hdr.p_filesz, &r))
		goto none;
	/* version, eh_frame_ptr_enc, fde_count_enc, table_enc */
	uint8_t version = (uint8_t)rd_uint(&r, 1), ptr_enc = (uint8_t)rd_uint(&r, 1);
	uint8_t count_enc = (uint8_t)rd_uint(&r, 1), table_enc = (uint8_t)rd_uint(&r, 1);

	if (r.bad || version != 1 || ptr_enc == PE_OMIT || count_enc == PE_OMIT ||
	    table_enc != HDR_TABLE_ENC)
		goto none;
	rd_enc(&r, ptr_enc, hdr.p_vaddr);
	uint64_t count = rd_enc(&r, count_enc, hdr.p_vaddr);

	if (r.bad || count > (uint64_t)(r.end - r.p) / 8)
		goto none;
	t->table = r.p;
	t->n = (size_t)count;
	t->hdr_vaddr = hdr.p_vaddr;
	return 0;
none:
	sym_fdes_release(t);
	return -ENOENT;
}

void sym_fdes_release(struct sym_fdes *t)
{
	free(t->loads);
	memset(t, 0, sizeof(*t));
}

static uint64_t table_at(const struct sym_fdes *t, size_t i, size_t k)
{
	const uint8_t *p = t->table + 8 * i + 4 * k;
	int32_t v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			      (uint32_t)p[3] << 24);

	return t->hdr_vaddr + (uint64_t)(int64_t)v;
}

/* The FDE pointer encoding of the CIE at cie: 0 with *enc, or -1. */
static int cie_fde_enc(const struct sym_fdes *t, uint64_t cie, uint8_t *enc)
{
	struct rd r;

	if (!at(t, cie, 8, &r))
		return -1;
	uint64_t len = rd_uint(&r, 4);

	/* 64-bit lengths never occur in .eh_frame on x86-64; refused rather than half-read. */
	if (r.bad || len == 0 || len >= 0xfffffff0u || !at(t, cie + 4, len, &r) ||
	    (uint64_t)(r.end - r.p) != len || rd_uint(&r, 4) != 0)
		return -1;
	uint8_t version = (uint8_t)rd_uint(&r, 1);
	const uint8_t *aug = r.p, *nul = r.bad ? NULL : memchr(r.p, 0, (size_t)(r.end - r.p));

	if (r.bad || !nul || (version != 1 && version != 3))
		return -1;
	r.vaddr += (uint64_t)(nul + 1 - r.p);
	r.p = nul + 1;
	*enc = PE_ABSPTR;
	if (aug[0] != 'z')
		return aug[0] ? -1 : 0; /* "eh" and other old forms: not here */
	rd_uleb(&r, false);		/* code alignment */
	rd_uleb(&r, true);		/* data alignment */
	if (version == 1)		/* return address column */
		rd_uint(&r, 1);
	else
		rd_uleb(&r, false);
	rd_uleb(&r, false); /* augmentation data length */
	for (const uint8_t *a = aug + 1; a < nul && !r.bad; a++) {
		switch (*a) {
		case 'R':
			*enc = (uint8_t)rd_uint(&r, 1);
			return r.bad ? -1 : 0;
		case 'P': {
			uint8_t penc = (uint8_t)rd_uint(&r, 1);

			rd_enc(&r, penc & 0x7f, 0); /* the personality routine, skipped */
			break;
		}
		case 'L':
			rd_uint(&r, 1);
			break;
		case 'S':
		case 'B':
			break;
		default:
			return -1; /* unknown: where 'R' would be is unknowable */
		}
	}
	return r.bad ? -1 : 0;
}

bool sym_fdes_find(const struct sym_fdes *t, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
	size_t lo = 0, hi = t->n;
	struct rd r;
	uint8_t enc;

	/* Rightmost table entry at or below vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (table_at(t, mid, 0) <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	uint64_t loc = table_at(t, lo - 1, 0), fde = table_at(t, lo - 1, 1);

	if (!at(t, fde, 8, &r))
		return false;
	uint64_t len = rd_uint(&r, 4);
	uint64_t cie_off = rd_uint(&r, 4);

	if (r.bad || len < 4 || len >= 0xfffffff0u || cie_off == 0 || cie_off > fde + 4 ||
	    cie_fde_enc(t, fde + 4 - cie_off, &enc) || !at(t, fde + 8, len - 4, &r))
		return false;
	uint64_t pc = rd_enc(&r, enc, 0);
	uint64_t range = rd_enc(&r, enc & 0x0f, 0);

	if (r.bad || pc != loc || vaddr - pc >= range)
		return false;
	for (size_t i = 0; i < t->nplt; i++)
		if (pc >= t->plt_lo[i] && pc < t->plt_hi[i])
			return false;
	*start = pc;
	*end = pc + range;
	return true;
}
