// SPDX-License-Identifier: MIT
/*
 * Go's own function table, .gopclntab (go1.18 and later: header magic
 * 0xfffffff0 for go1.18-1.19, 0xfffffff1 for go1.20 on), read the way the
 * runtime and debug/gosym read it: function names, file:line, the inline
 * tree and the pcsp table (stack pointer offset per pc), which is how a Go
 * binary without DWARF or .symtab (`go build -ldflags='-s -w'`) can be
 * symbolized and unwound at all. The table is untrusted input: every offset
 * and length is checked before it is read, every loop is bounded by the
 * bytes it consumes, and a malformed table gives "no answer", never a crash.
 *
 * Layout (runtime/symtab.go, cmd/link/internal/ld/pcln.go):
 *
 *   pcHeader   magic u32, pad u8 u8, minLC u8, ptrSize u8, nfunc, nfiles,
 *              textStart, then the offsets (from the header) of funcnametab,
 *              cutab, filetab, pctab and pclntab: consecutive regions, so
 *              each ends where the next begins and the last at the end.
 *   pclntab    functab[nfunc + 1] of {entryoff u32, funcoff u32} sorted by
 *              entryoff (the last entry's entryoff is the end of the text),
 *              then the _func records at funcoff.
 *   _func      entryoff, nameoff, args, deferreturn, pcsp, pcfile, pcln,
 *              npcdata, cuOffset (u32 each), startLine (i32, go1.20 on),
 *              funcID u8, flag u8, pad u8, nfuncdata u8, then pcdata
 *              offsets u32[npcdata] and funcdata offsets u32[nfuncdata].
 *   pcvalue    pairs of varints (zigzag value delta, pc delta), from value
 *              -1 at the entry, ended by a value delta of 0 (not first).
 *
 * The inline tree (FUNCDATA_InlTree = 3) is an offset from moduledata's
 * gofunc, which only moduledata records: it is found as OpenTelemetry's
 * profiler finds it, by scanning the writable data for the moduledata whose
 * first words point at this pclntab and its funcnametab.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

#define GO_MAGIC_118 0xfffffff0u
#define GO_MAGIC_120 0xfffffff1u
#define GO_HDR_SIZE  72

#define GO_PCDATA_INLTREE   2 /* _PCDATA_InlTreeIndex */
#define GO_FUNCDATA_INLTREE 3 /* _FUNCDATA_InlTree */
#define GO_FLAG_TOPFRAME    0x1
#define GO_FLAG_SPWRITE	    0x2
#define GO_FLAG_ASM	    0x4

/* moduledata: pcHeader, funcnametab.ptr, ..., text at 176, gofunc at 304 (go1.20: 320). */
#define GO_MD_TEXT	 176
#define GO_MD_GOFUNC_118 304
#define GO_MD_GOFUNC_120 320

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int sym_gopcln_parse(struct sym_gopcln *g, const uint8_t *data, size_t len, uint64_t vaddr)
{
	uint64_t off[5], nft;
	uint32_t magic;

	memset(g, 0, sizeof(*g));
	if (!data || len < GO_HDR_SIZE)
		return -EINVAL;
	magic = rd32(data);
	if ((magic != GO_MAGIC_118 && magic != GO_MAGIC_120) || data[4] || data[5] ||
	    data[6] != 1 || data[7] != 8)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		off[i] = rd64(data + 32 + 8 * i);
	/* Consecutive regions: each offset at or after the previous one and the header. */
	if (off[0] < GO_HDR_SIZE)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (off[i] > len || (i && off[i] < off[i - 1]))
			return -EINVAL;
	/* functab: nfunc + 1 pairs of u32 */
	nft = (len - off[4]) / 8;
	if (rd64(data + 8) == 0 || nft < 2 || rd64(data + 8) > nft - 1)
		return -EINVAL;
	/* Filled in only now: a table that fails a check leaves g empty. */
	g->tab = data;
	g->len = len;
	g->vaddr = vaddr;
	g->v120 = magic == GO_MAGIC_120;
	g->nfunc = rd64(data + 8);
	g->text = rd64(data + 24);
	g->names = off[0];
	g->names_end = off[1];
	g->cutab = off[1];
	g->cutab_end = off[2];
	g->files = off[2];
	g->files_end = off[3];
	g->pctab = off[3];
	g->pctab_end = off[4];
	g->pcln = off[4];
	return 0;
}

/* functab entry i (0 <= i <= nfunc): its entry offset from the text start. */
static uint32_t ft_entry(const struct sym_gopcln *g, uint64_t i)
{
	return rd32(g->tab + g->pcln + 8 * i);
}

/*
 * The _func record of function i, checked to lie inside the table with its
 * pcdata and funcdata arrays. 0 or -EINVAL.
 */
static int func_read(const struct sym_gopcln *g, uint64_t i, struct sym_gofunc *f)
{
	uint64_t fo = g->pcln + (uint64_t)rd32(g->tab + g->pcln + 8 * i + 4);
	size_t fixed = g->v120 ? 44 : 40;
	const uint8_t *p;

	memset(f, 0, sizeof(*f));
	if (fo >= g->len || g->len - fo < fixed)
		return -EINVAL;
	p = g->tab + fo;
	f->idx = i;
	f->entry = g->text + rd32(p);
	f->end = g->text + ft_entry(g, i + 1);
	if (rd32(p) != ft_entry(g, i) || f->end <= f->entry)
		return -EINVAL;
	f->nameoff = rd32(p + 4);
	f->pcsp = rd32(p + 16);
	f->pcfile = rd32(p + 20);
	f->pcln = rd32(p + 24);
	f->npcdata = rd32(p + 28);
	f->cu = rd32(p + 32);
	f->flag = p[fixed - 3];
	f->nfuncdata = p[fixed - 1];
	if (f->npcdata > 1024 || (g->len - fo - fixed) / 4 < (uint64_t)f->npcdata + f->nfuncdata)
		return -EINVAL;
	f->rec = p;
	f->fixed = (uint32_t)fixed;
	return 0;
}

static const char *str_at(const struct sym_gopcln *g, uint64_t start, uint64_t end, uint64_t off)
{
	const char *s;

	if (off >= end - start)
		return NULL;
	s = (const char *)g->tab + start + off;
	return memchr(s, '\0', end - start - off) ? s : NULL;
}

const char *sym_gopcln_name(const struct sym_gopcln *g, uint32_t nameoff)
{
	return str_at(g, g->names, g->names_end, nameoff);
}

/* A varint of pcvalue; false when it runs off the table or past 32 bits. */
static bool varint(const struct sym_gopcln *g, uint64_t *pos, uint32_t *out)
{
	uint32_t v = 0;

	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (*pos >= g->pctab_end)
			return false;
		b = g->tab[(*pos)++];
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

int sym_gopcln_runs(const struct sym_gopcln *g, const struct sym_gofunc *f, uint32_t table,
		    sym_gopcln_run_fn fn, void *ctx)
{
	uint64_t pos = g->pctab + (uint64_t)table, pc = f->entry;
	int32_t val = -1;
	bool first = true;

	if (!table || table >= g->pctab_end - g->pctab)
		return -ENOENT;
	/* Each step consumes at least two bytes: the loop ends with the table. */
	for (;;) {
		uint32_t uv, pcd;

		if (!varint(g, &pos, &uv))
			return -EINVAL;
		if (uv == 0 && !first)
			return 0;
		first = false;
		/* zigzag delta, added modulo 2^32 as Go does (signed overflow is UB) */
		val = (int32_t)((uint32_t)val + (-(uv & 1) ^ (uv >> 1)));
		if (!varint(g, &pos, &pcd))
			return -EINVAL;
		if (pcd > f->end - pc)
			return -EINVAL;
		if (pcd) {
			int err = fn(ctx, pc, pc + pcd, val);

			if (err)
				return err;
		}
		pc += pcd;
	}
}

struct value_at {
	uint64_t pc;
	int32_t val;
	bool found;
};

static int value_at_cb(void *ctx, uint64_t lo, uint64_t hi, int32_t val)
{
	struct value_at *v = ctx;

	if (v->pc >= lo && v->pc < hi) {
		v->val = val;
		v->found = true;
		return 1; /* stop */
	}
	return 0;
}

/* The value of table at pc; -1 when the table does not say (as the runtime). */
static int32_t pcvalue(const struct sym_gopcln *g, const struct sym_gofunc *f, uint32_t table,
		       uint64_t pc)
{
	struct value_at v = {.pc = pc};

	sym_gopcln_runs(g, f, table, value_at_cb, &v);
	return v.found ? v.val : -1;
}

int sym_gopcln_find(const struct sym_gopcln *g, uint64_t pc, struct sym_gofunc *f)
{
	uint64_t lo = 0, hi = g->nfunc, off;

	if (!g->tab || pc < g->text || pc - g->text >= UINT32_MAX)
		return -ENOENT;
	off = pc - g->text;
	if (off < ft_entry(g, 0) || off >= ft_entry(g, g->nfunc))
		return -ENOENT;
	/* rightmost entry at or below off; a table that is not sorted just finds nothing */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ft_entry(g, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	if (func_read(g, lo, f) || pc < f->entry || pc >= f->end)
		return -ENOENT;
	return 0;
}

int sym_gopcln_func(const struct sym_gopcln *g, uint64_t i, struct sym_gofunc *f)
{
	if (!g->tab || i >= g->nfunc)
		return -ENOENT;
	return func_read(g, i, f);
}

static uint32_t pcdata_off(const struct sym_gofunc *f, uint32_t i)
{
	return i < f->npcdata ? rd32(f->rec + f->fixed + 4 * i) : 0;
}

static uint32_t funcdata_off(const struct sym_gofunc *f, uint32_t i)
{
	return i < f->nfuncdata ? rd32(f->rec + f->fixed + 4 * (f->npcdata + i)) : UINT32_MAX;
}

/* file name of per-CU file index fno, or NULL */
static const char *file_name(const struct sym_gopcln *g, const struct sym_gofunc *f, int32_t fno)
{
	uint64_t idx = (uint64_t)f->cu + (uint32_t)fno;

	if (fno < 0 || idx >= (g->cutab_end - g->cutab) / 4)
		return NULL;
	return str_at(g, g->files, g->files_end, rd32(g->tab + g->cutab + 4 * idx));
}

int sym_gopcln_frames(const struct sym_gopcln *g, const struct sym_gofunc *f, uint64_t pc,
		      bool lines, struct sym_goframe *out, int max)
{
	uint32_t inl_pcdata = pcdata_off(f, GO_PCDATA_INLTREE);
	uint32_t inl_off = funcdata_off(f, GO_FUNCDATA_INLTREE);
	size_t esize = g->v120 ? 16 : 20;
	int n = 0;

	if (max <= 0)
		return 0;
	/* Each inlined frame moves pc to its call site; max bounds a cycle. */
	while (n < max - 1 && g->gofunc && inl_pcdata && inl_off != UINT32_MAX) {
		int32_t ix = pcvalue(g, f, inl_pcdata, pc);
		const uint8_t *e;
		uint32_t nameoff;
		int32_t parent_pc;

		if (ix < 0 || inl_off >= g->gofunc_len ||
		    (uint64_t)ix >= (g->gofunc_len - inl_off) / esize)
			break;
		e = g->gofunc + inl_off + (uint64_t)ix * esize;
		nameoff = rd32(e + (g->v120 ? 4 : 12));
		parent_pc = (int32_t)rd32(e + (g->v120 ? 8 : 16));
		out[n] = (struct sym_goframe){.name = sym_gopcln_name(g, nameoff), .inlined = true};
		if (lines) {
			out[n].file = file_name(g, f, pcvalue(g, f, f->pcfile, pc));
			out[n].line = pcvalue(g, f, f->pcln, pc);
		}
		n++;
		if (parent_pc < 0 || (uint64_t)parent_pc >= f->end - f->entry)
			break;
		pc = f->entry + (uint64_t)parent_pc;
	}
	out[n] = (struct sym_goframe){.name = sym_gopcln_name(g, f->nameoff)};
	if (lines) {
		out[n].file = file_name(g, f, pcvalue(g, f, f->pcfile, pc));
		out[n].line = pcvalue(g, f, f->pcln, pc);
	}
	return n + 1;
}

/* ---- finding it in an ELF file ------------------------------------------ */

/* The file bytes at vaddr through its PT_LOAD; *avail = bytes to the segment's end. */
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
		if (ph.p_offset > rawlen || ph.p_filesz > rawlen - ph.p_offset)
			return NULL;
		*avail = (size_t)(ph.p_filesz - (vaddr - ph.p_vaddr));
		return raw + ph.p_offset + (vaddr - ph.p_vaddr);
	}
	return NULL;
}

/* A text start inside an executable segment: what tells a real header from stray bytes. */
static bool text_ok(Elf *elf, uint64_t text)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    text >= ph.p_vaddr && text - ph.p_vaddr < ph.p_memsz)
			return true;
	}
	return false;
}

/*
 * The pclntab by section name (.gopclntab; .data.rel.ro.gopclntab in a
 * PIE), else by scanning the data segments for a header whose text start
 * lies in an executable one (sections stripped).
 */
static int find_table(struct sym_gopcln *g, Elf *elf, const uint8_t *raw, size_t rawlen)
{
	size_t shstrndx, n;
	Elf_Scn *scn = NULL;

	if (!elf_getshdrstrndx(elf, &shstrndx)) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
			    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
				continue;
			if (strcmp(name, ".gopclntab") && strcmp(name, ".data.rel.ro.gopclntab"))
				continue;
			if (sh.sh_offset > rawlen || sh.sh_size > rawlen - sh.sh_offset)
				return -EINVAL;
			return sym_gopcln_parse(g, raw + sh.sh_offset, sh.sh_size, sh.sh_addr);
		}
	}
	if (elf_getphdrnum(elf, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		/* read-only data, or RELRO data in a PIE (.data.rel.ro.gopclntab) */
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    (ph.p_flags & PF_X) || ph.p_offset > rawlen ||
		    ph.p_filesz > rawlen - ph.p_offset)
			continue;
		/* the linker aligns the header to 32; 8 is enough and cheap */
		for (uint64_t o = (8 - (ph.p_vaddr & 7)) & 7; o + GO_HDR_SIZE <= ph.p_filesz;
		     o += 8) {
			const uint8_t *p = raw + ph.p_offset + o;
			uint32_t m = rd32(p);

			if ((m != GO_MAGIC_118 && m != GO_MAGIC_120) || p[4] || p[5] || p[6] != 1 ||
			    p[7] != 8)
				continue;
			if (!sym_gopcln_parse(g, p, ph.p_filesz - o, ph.p_vaddr + o) &&
			    text_ok(elf, g->text))
				return 0;
		}
	}
	memset(g, 0, sizeof(*g));
	return -ENOENT;
}

/* moduledata (for gofunc): its first word is the pclntab, the next funcnametab's address. */
static void find_gofunc(struct sym_gopcln *g, Elf *elf, const uint8_t *raw, size_t rawlen)
{
	size_t n, md_gofunc = g->v120 ? GO_MD_GOFUNC_120 : GO_MD_GOFUNC_118;

	if (elf_getphdrnum(elf, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_W) || ph.p_offset > rawlen ||
		    ph.p_filesz > rawlen - ph.p_offset)
			continue;
		for (uint64_t o = (8 - (ph.p_vaddr & 7)) & 7; o + md_gofunc + 8 <= ph.p_filesz;
		     o += 8) {
			const uint8_t *p = raw + ph.p_offset + o;
			size_t avail;
			const uint8_t *gf;

			if (rd64(p) != g->vaddr || rd64(p + 8) != g->vaddr + g->names ||
			    rd64(p + GO_MD_TEXT) != g->text)
				continue;
			gf = vaddr_bytes(elf, raw, rawlen, rd64(p + md_gofunc), &avail);
			if (gf) {
				g->gofunc = gf;
				g->gofunc_len = avail;
			}
			return;
		}
	}
}

/* mov $15, %rax; syscall: rt_sigreturn, as glibc's __restore_rt and Go's trampoline */
static const uint8_t sigreturn_code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};

int sym_gopcln_from_elf(struct sym_gopcln *g, Elf *elf)
{
	size_t rawlen;
	const uint8_t *raw = elf ? (const uint8_t *)elf_rawfile(elf, &rawlen) : NULL;
	int err;

	memset(g, 0, sizeof(*g));
	if (!raw)
		return -ENOENT;
	err = find_table(g, elf, raw, rawlen);
	if (err)
		return err;
	find_gofunc(g, elf, raw, rawlen);
	/* The signal trampoline, by name and checked by its code. */
	for (uint64_t i = 0; i < g->nfunc; i++) {
		struct sym_gofunc f;
		const char *name;
		const uint8_t *code;
		size_t avail;

		if (func_read(g, i, &f) || !(name = sym_gopcln_name(g, f.nameoff)))
			continue;
		if (strcmp(name, "runtime.sigreturn") &&
		    strcmp(name, "runtime.sigreturn__sigaction"))
			continue;
		code = vaddr_bytes(elf, raw, rawlen, f.entry, &avail);
		if (code && avail >= sizeof(sigreturn_code) &&
		    !memcmp(code, sigreturn_code, sizeof(sigreturn_code)))
			g->sigreturn = f.entry;
		break;
	}
	return 0;
}

struct span_ctx {
	sym_gopcln_span_fn fn;
	void *ctx;
	uint32_t flags;
};

static int span_run(void *ctx, uint64_t lo, uint64_t hi, int32_t val)
{
	const struct span_ctx *sc = ctx;

	return sc->fn(sc->ctx, lo, hi, val, sc->flags);
}

int sym_gopcln_frame_spans(const struct sym_gopcln *g, sym_gopcln_span_fn fn, void *ctx)
{
	for (uint64_t i = 0; i < g->nfunc; i++) {
		struct sym_gofunc f;
		const char *name;
		uint32_t flags = 0;
		int err;

		if (func_read(g, i, &f))
			continue;
		name = sym_gopcln_name(g, f.nameoff);
		if (f.flag & GO_FLAG_ASM)
			flags |= SYM_GO_ASM;
		/*
		 * TOPFRAME ends the runtime's tracebacks at goexit, mstart and
		 * rt0_go, and at sigtramp, which is not the end of a stack:
		 * the interrupted code lies behind its signal frame.
		 */
		if ((f.flag & GO_FLAG_TOPFRAME) &&
		    !(name && !strncmp(name, "runtime.sigtramp", 16)))
			flags |= SYM_GO_TOPFRAME;
		/*
		 * mcall and morestack switch to the g0 stack and call a function
		 * that never returns to them: on g0 they are the outermost frame
		 * (the runtime's traceback ends there too); the goroutine they
		 * came from is on another stack, which the sample did not copy.
		 */
		if (name && (!strcmp(name, "runtime.mcall") || !strcmp(name, "runtime.morestack")))
			flags |= SYM_GO_TOPFRAME;
		if (f.flag & GO_FLAG_SPWRITE)
			flags |= SYM_GO_SPWRITE;
		if (f.entry == g->sigreturn)
			flags |= SYM_GO_SIGRETURN;
		if (flags & (SYM_GO_TOPFRAME | SYM_GO_SPWRITE | SYM_GO_SIGRETURN)) {
			err = fn(ctx, f.entry, f.end, 0, flags);
		} else {
			struct span_ctx sc = {fn, ctx, flags};

			/* a malformed table only loses this function's rows */
			err = sym_gopcln_runs(g, &f, f.pcsp, span_run, &sc);
			if (err == -EINVAL || err == -ENOENT)
				err = 0;
		}
		if (err)
			return err;
	}
	return 0;
}
