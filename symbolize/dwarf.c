// SPDX-License-Identifier: MIT
/*
 * DWARF inline chains through libdw, indexed so that a cold address costs a
 * few binary searches rather than a walk of its compilation unit.
 *
 * At open: one table of CU address ranges (from each CU DIE; .debug_aranges
 * is optional and often missing). On the first address in a CU: one walk of
 * its DIE tree that records every subprogram and inlined_subroutine with code
 * (a node, with its parent node and call site) and each of its address ranges
 * (an interval). Intervals are sorted by (lo, -hi, depth) and each gets its
 * containment parent, so the innermost scope of an address is the rightmost
 * interval starting at or below it, or the first of its containment
 * ancestors that still holds the address. The chain is then the node's
 * parents up to the first subprogram. Names follow DW_AT_abstract_origin /
 * DW_AT_specification, preferring the linkage name as addr2line does.
 *
 * An indexed CU is frozen into struct sym_cu_data (every name, call site and
 * line row resolved, strings in one blob per CU: measured on libc, resolving
 * all names up front costs little next to the walk), the form symcache.c
 * stores on disk. With an index file, sym_dwarf_new() reads only it, and
 * libdw (dwarf_begin_elf, the costly part) is opened on the first CU the
 * index lacks; new CUs are written back when the sym_dwarf is freed.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "symbolize/symbolize_int.h"

#define MAX_DEPTH 128 /* DIE nesting; deeper input is malformed */

/* A scope while its CU is walked: resolved into a struct sym_node afterwards. */
struct dnode {
	Dwarf_Off off;
	int32_t parent; /* node index, -1 for none */
	uint32_t call_file, call_line;
	bool inlined;
};

struct ival {
	uint64_t lo, hi;
	uint32_t node;
	int32_t cparent; /* enclosing interval, -1 for none */
	uint32_t depth;
};

/* The walk of one CU: temporary, freed once the CU is frozen. */
struct cu_build {
	struct dnode *nodes;
	size_t nnodes, nodes_cap;
	struct ival *iv;
	size_t niv, iv_cap;
};

struct cu_info {
	Dwarf_Die die; /* valid once d->dw is open */
	const char *comp_dir;
	bool indexed, failed;
	bool built;		 /* data is ours (from libdw), not the index's */
	struct sym_cu_data data; /* when indexed */
};

struct sym_dwarf {
	Elf *elf;
	bool lines;
	Dwarf *dw;
	bool dw_tried;
	struct cu_info *cus;
	size_t ncus;
	struct sym_cu_range *ranges;
	size_t nranges;

	struct sym_index ix; /* ix.buf NULL: none */
	char *index_path;    /* NULL: no on-disk index */
	uint64_t src_id;
	bool dirty; /* CUs were built that the index on disk lacks */
	struct sym_index_stats st;
};

static int range_cmp(const void *pa, const void *pb)
{
	const struct sym_cu_range *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/*
 * libdw decompresses every debug section it knows when it opens a file, and
 * in Debian's debug files they are all compressed: location lists alone are
 * a third of libc's. Sections no lookup reads are hidden from it (as
 * SHT_NOBITS, which libdw skips) in our private copy of the headers.
 */
static void hide_unused_sections(Elf *elf, bool lines)
{
	static const char *const unused[] = {
	    ".debug_loc",	   ".debug_loclists",	  ".debug_aranges",  ".debug_macro",
	    ".debug_macinfo",	   ".debug_pubnames",	  ".debug_pubtypes", ".debug_names",
	    ".debug_gnu_pubnames", ".debug_gnu_pubtypes", ".debug_frame",
	};
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		bool hide = false;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]) && !hide; i++)
			hide = !strcmp(name, unused[i]);
		if (!lines && (!strcmp(name, ".debug_line") || !strcmp(name, ".debug_line_str")))
			hide = true;
		if (hide) {
			sh.sh_type = SHT_NOBITS;
			gelf_update_shdr(scn, &sh);
		}
	}
}

uint64_t sym_dwarf_src_id(Elf *elf)
{
	/* FNV-1a over the names and sizes of the .debug_* sections: a debug
	 * file found later (libc6-dbg installed) for the same build-id has
	 * other sections than the stripped file an index was built from. */
	uint64_t h = XL_FNV_SEED;
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return h;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strncmp(name, ".debug_", 7))
			continue;
		h = xl_fnv1a(name, strlen(name), h);
		/* The size's bytes low to high, as stored on x86-64. */
		h = xl_fnv1a(&sh.sh_size, sizeof(sh.sh_size), h);
	}
	return h;
}

/*
 * Opens libdw and lists the CUs with code. With an index loaded, its CU
 * table must be the same list (it was made from this DWARF); if not, the
 * index is not used any further and is rewritten from DWARF.
 */
static int dwarf_open(struct sym_dwarf *d)
{
	struct cu_info *cus = NULL;
	struct sym_cu_range *ranges = NULL;
	size_t ncus = 0, cus_cap = 0, nranges = 0, ranges_cap = 0;

	d->dw_tried = true;
	hide_unused_sections(d->elf, d->lines);
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	d->st.dwarf_opened++;
	if (!d->dw)
		return -ENOENT;
	Dwarf_CU *cu = NULL;
	Dwarf_Half version;
	uint8_t unit_type;
	Dwarf_Die cudie, subdie;

	while (dwarf_get_units(d->dw, cu, &cu, &version, &unit_type, &cudie, &subdie) == 0) {
		if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton)
			continue;
		if (ncus == cus_cap) {
			size_t cap = cus_cap ? cus_cap * 2 : 64;
			struct cu_info *c = realloc(cus, cap * sizeof(*c));

			if (!c)
				goto nomem;
			cus = c;
			cus_cap = cap;
		}
		struct cu_info *ci = &cus[ncus];

		memset(ci, 0, sizeof(*ci));
		ci->die = cudie;
		Dwarf_Attribute cd;

		if (dwarf_attr(&cudie, DW_AT_comp_dir, &cd))
			ci->comp_dir = dwarf_formstring(&cd);
		if (unit_type == DW_UT_skeleton && dwarf_tag(&subdie) == DW_TAG_compile_unit)
			ci->die = subdie;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		bool any = false;

		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			if (nranges == ranges_cap) {
				size_t cap = ranges_cap ? ranges_cap * 2 : 256;
				struct sym_cu_range *r = realloc(ranges, cap * sizeof(*r));

				if (!r)
					goto nomem;
				ranges = r;
				ranges_cap = cap;
			}
			ranges[nranges++] = (struct sym_cu_range){lo, hi, (uint32_t)ncus, 0};
			any = true;
		}
		if (any)
			ncus++;
	}
	if (nranges)
		qsort(ranges, nranges, sizeof(*ranges), range_cmp);
	if (d->cus && ncus == d->ncus && nranges == d->nranges &&
	    (!nranges || !memcmp(ranges, d->ranges, nranges * sizeof(*ranges)))) {
		/* The index's CUs are these: keep what was answered from it. */
		for (size_t i = 0; i < ncus; i++) {
			d->cus[i].die = cus[i].die;
			d->cus[i].comp_dir = cus[i].comp_dir;
		}
		free(cus);
		free(ranges);
		return 0;
	}
	if (d->cus) {
		/* Only index CUs so far (libdw opens once, before any CU is
		 * built); frames handed out point into ix.buf, kept until free. */
		free(d->cus);
		free(d->ranges);
		d->dirty = true;
		d->st.index_rejected++;
	}
	d->cus = cus;
	d->ncus = ncus;
	d->ranges = ranges;
	d->nranges = nranges;
	/* Records of the old index no longer match CU numbers. */
	d->ix.ncus = 0;
	if (!d->cus && !(d->cus = calloc(1, sizeof(*d->cus))))
		return -ENOMEM;
	return 0;
nomem:
	free(cus);
	free(ranges);
	return -ENOMEM;
}

struct sym_dwarf *sym_dwarf_new(Elf *elf, bool lines, const char *index_path)
{
	struct sym_dwarf *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		goto nomem;
	d->elf = elf;
	d->lines = lines;
	if (index_path) {
		d->index_path = strdup(index_path);
		if (!d->index_path)
			goto nomem;
		d->src_id = sym_dwarf_src_id(elf);
		err = sym_index_load(&d->ix, index_path, d->src_id);
		if (err == -ENOMEM)
			goto nomem;
		if (err == -EINVAL)
			d->st.index_rejected++;
	}
	if (d->ix.buf) {
		d->st.index_loaded++;
		d->ncus = d->ix.ncus;
		d->nranges = d->ix.nranges;
		d->cus = calloc(d->ncus ? d->ncus : 1, sizeof(*d->cus));
		d->ranges = malloc((d->nranges ? d->nranges : 1) * sizeof(*d->ranges));
		if (!d->cus || !d->ranges)
			goto nomem;
		if (d->nranges)
			memcpy(d->ranges, d->ix.ranges, d->nranges * sizeof(*d->ranges));
		return d;
	}
	/* No index: a new one is written when d is freed. */
	d->dirty = index_path != NULL;
	err = dwarf_open(d);
	if (err == -ENOMEM)
		goto nomem;
	if (err) {
		sym_dwarf_free(d);
		errno = ENOENT;
		return NULL;
	}
	return d;
nomem:
	sym_dwarf_free(d);
	errno = ENOMEM;
	return NULL;
}

/* The index gets every CU indexed this session, and those of the old one kept. */
static void index_save(struct sym_dwarf *d)
{
	const struct sym_cu_data **cus = calloc(d->ncus ? d->ncus : 1, sizeof(*cus));
	struct sym_cu_data *old = calloc(d->ncus ? d->ncus : 1, sizeof(*old));
	size_t n = 0;

	if (!cus || !old)
		goto out;
	for (size_t i = 0; i < d->ncus; i++) {
		if (d->cus[i].indexed)
			cus[i] = &d->cus[i].data;
		else if (sym_index_cu(&d->ix, i, &old[i]) == 0)
			cus[i] = &old[i];
		n += cus[i] != NULL;
	}
	if (n &&
	    sym_index_write(d->index_path, d->src_id, d->ranges, d->nranges, cus, d->ncus) == 0)
		d->st.index_written++;
out:
	free(cus);
	free(old);
}

void sym_dwarf_flush(struct sym_dwarf *d)
{
	if (d && d->dirty && d->index_path && d->cus) {
		index_save(d);
		d->dirty = false;
	}
}

size_t sym_dwarf_bytes(const struct sym_dwarf *d)
{
	size_t n;

	if (!d)
		return 0;
	n = sizeof(*d) + d->ncus * sizeof(*d->cus) + d->nranges * sizeof(*d->ranges) + d->ix.len;
	for (size_t i = 0; i < d->ncus; i++) {
		const struct sym_cu_data *c = &d->cus[i].data;

		if (d->cus[i].built)
			n += c->niv * sizeof(*c->iv) + c->nrows * sizeof(*c->rows) +
			     c->nnodes * sizeof(*c->nodes) + c->strs_len;
	}
	return n;
}

void sym_dwarf_free(struct sym_dwarf *d)
{
	if (!d)
		return;
	sym_dwarf_flush(d);
	for (size_t i = 0; i < d->ncus; i++) {
		if (d->cus[i].built) {
			free((void *)d->cus[i].data.iv);
			free((void *)d->cus[i].data.rows);
			free((void *)d->cus[i].data.nodes);
			free((void *)d->cus[i].data.strs);
		}
	}
	free(d->cus);
	free(d->ranges);
	free(d->index_path);
	sym_index_release(&d->ix);
	if (d->dw)
		dwarf_end(d->dw);
	free(d);
}

void sym_dwarf_add_stats(const struct sym_dwarf *d, struct sym_index_stats *st)
{
	st->index_loaded += d->st.index_loaded;
	st->index_rejected += d->st.index_rejected;
	st->cus_from_index += d->st.cus_from_index;
	st->cus_rejected += d->st.cus_rejected;
	st->cus_built += d->st.cus_built;
	st->dwarf_opened += d->st.dwarf_opened;
	st->index_written += d->st.index_written;
}

static int add_node(struct cu_build *b, const struct dnode *n)
{
	if (b->nnodes == b->nodes_cap) {
		size_t cap = b->nodes_cap ? b->nodes_cap * 2 : 64;
		struct dnode *x = realloc(b->nodes, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		b->nodes = x;
		b->nodes_cap = cap;
	}
	b->nodes[b->nnodes++] = *n;
	return 0;
}

static int add_ival(struct cu_build *b, const struct ival *v)
{
	if (b->niv == b->iv_cap) {
		size_t cap = b->iv_cap ? b->iv_cap * 2 : 64;
		struct ival *x = realloc(b->iv, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		b->iv = x;
		b->iv_cap = cap;
	}
	b->iv[b->niv++] = *v;
	return 0;
}

static uint32_t attr_udata(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0)
		return 0;
	return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

/* Records the function scopes under die; parent is the enclosing node. */
static int walk(struct cu_build *b, Dwarf_Die *die, int32_t parent, uint32_t depth)
{
	Dwarf_Die child;

	if (depth > MAX_DEPTH || dwarf_child(die, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);
		int err;

		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_entry_point: {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			int32_t me = (int32_t)b->nnodes;
			bool any = false;

			while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
				if (hi <= lo)
					continue;
				if (!any) {
					struct dnode n = {
					    .off = dwarf_dieoffset(&child),
					    .parent = parent,
					    .inlined = tag == DW_TAG_inlined_subroutine,
					};

					if (n.inlined) {
						n.call_file = attr_udata(&child, DW_AT_call_file);
						n.call_line = attr_udata(&child, DW_AT_call_line);
					}
					err = add_node(b, &n);
					if (err)
						return err;
					any = true;
				}
				struct ival v = {lo, hi, (uint32_t)me, -1, depth};

				err = add_ival(b, &v);
				if (err)
					return err;
			}
			/* Abstract instances and declarations have no code. */
			if (any) {
				err = walk(b, &child, me, depth + 1);
				if (err)
					return err;
			}
			break;
		}
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			/* Member functions of local classes (lambdas) are defined
			 * inside their class, inside the enclosing function; at
			 * namespace level classes hold only declarations (GCC and
			 * clang put definitions beside them), so skip those. */
			if (parent < 0)
				break;
			/* fallthrough */
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
		case DW_TAG_namespace:
		case DW_TAG_module:
			err = walk(b, &child, parent, depth + 1);
			if (err)
				return err;
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int ival_cmp(const void *pa, const void *pb)
{
	const struct ival *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi > b->hi ? -1 : 1;
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

static const char *node_name(struct sym_dwarf *d, const struct dnode *n)
{
	Dwarf_Die die, *dp = dwarf_offdie(d->dw, n->off, &die);
	Dwarf_Attribute a;

	if (dp && (dwarf_attr_integrate(dp, DW_AT_linkage_name, &a) ||
		   dwarf_attr_integrate(dp, DW_AT_MIPS_linkage_name, &a) ||
		   dwarf_attr_integrate(dp, DW_AT_name, &a)))
		return dwarf_formstring(&a);
	return NULL;
}

/*
 * The CU's strings while it is frozen: libdw hands out the same pointer for
 * the same string (a .debug_str entry, a file table name), so that pointer
 * is the key that shares one copy in the blob.
 */
struct strtab {
	struct sym_blob blob;
	struct sym_cache names, files; /* raw pointer -> offset + 1 (in n) */
	const char *comp_dir;
};

/* Offset of raw (a name) or of its absolute form (a file), or SYM_NO_STR; -ENOMEM. */
static int64_t strtab_add(struct strtab *t, const char *raw, bool file)
{
	struct sym_cache *c = file ? &t->files : &t->names;
	const void *val;
	int64_t off;
	int n;

	if (!raw)
		return SYM_NO_STR;
	n = sym_cache_get(c, (uint64_t)(uintptr_t)raw, &val);
	if (n)
		return (int64_t)(uintptr_t)val;
	/* A relative source name joined to the CU's directory, as addr2line prints it. */
	if (file && raw[0] != '/' && t->comp_dir && t->comp_dir[0]) {
		size_t dl = strlen(t->comp_dir), nl = strlen(raw);
		char *p = malloc(dl + nl + 2);

		if (!p)
			return -ENOMEM;
		memcpy(p, t->comp_dir, dl);
		p[dl] = '/';
		memcpy(p + dl + 1, raw, nl + 1);
		off = sym_blob_add(&t->blob, p, dl + nl + 1);
		free(p);
	} else {
		off = sym_blob_add(&t->blob, raw, strlen(raw));
	}
	if (off < 0)
		return off;
	if (off >= SYM_END_SEQ)
		return -EOVERFLOW;
	if (sym_cache_put(c, (uint64_t)(uintptr_t)raw, (const void *)(uintptr_t)off, 1))
		return -ENOMEM;
	return off;
}

/*
 * The line rows of the CU, compressed without changing an answer: among
 * rows at one address only the last counts (dwarf_getsrc_die takes the
 * last row at or below the address), and a row repeating the previous
 * answer adds nothing.
 */
static int build_rows(struct cu_info *ci, struct strtab *t, struct sym_row **rowsp,
		      uint32_t *nrowsp)
{
	Dwarf_Lines *lines;
	size_t nlines;
	struct sym_row *rows;
	size_t n = 0;

	*rowsp = NULL;
	*nrowsp = 0;
	if (dwarf_getsrclines(&ci->die, &lines, &nlines) != 0 || !nlines)
		return 0;
	if (nlines > UINT32_MAX)
		return -EOVERFLOW;
	rows = malloc(nlines * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < nlines; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		Dwarf_Addr addr;
		bool end = false;
		int ln = 0;
		struct sym_row r;

		if (!l || dwarf_lineaddr(l, &addr) != 0) {
			free(rows);
			return -EINVAL;
		}
		dwarf_lineendsequence(l, &end);
		r.addr = addr;
		if (end) {
			r.file = SYM_END_SEQ;
			r.line = 0;
		} else {
			int64_t off = strtab_add(t, dwarf_linesrc(l, NULL, NULL), true);

			if (off < 0) {
				free(rows);
				return (int)off;
			}
			if (dwarf_lineno(l, &ln) != 0)
				ln = 0;
			r.file = (uint32_t)off;
			r.line = ln;
		}
		if (n && rows[n - 1].addr == r.addr)
			n--;
		if (n && rows[n - 1].file == r.file && rows[n - 1].line == r.line)
			continue;
		/* libdw sorts its rows; anything else would make answers differ */
		if (n && r.addr < rows[n - 1].addr) {
			free(rows);
			return -EINVAL;
		}
		rows[n++] = r;
	}
	*rowsp = rows;
	*nrowsp = (uint32_t)n;
	return 0;
}

static const char *cu_file(Dwarf_Files *files, size_t nfiles, uint32_t idx)
{
	if (!files || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

/* Walks the CU and freezes it into ci->data (names, call sites, rows, strings). */
static int cu_build(struct sym_dwarf *d, struct cu_info *ci)
{
	struct cu_build b = {0};
	struct strtab t = {.comp_dir = ci->comp_dir};
	struct sym_iv *iv = NULL;
	struct sym_node *nodes = NULL;
	struct sym_row *rows = NULL;
	uint32_t nrows = 0;
	int32_t *stack = NULL;
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	int err = walk(&b, &ci->die, -1, 0);

	if (err)
		goto out;
	err = -EOVERFLOW;
	if (b.niv > INT32_MAX || b.nnodes > INT32_MAX)
		goto out;
	err = -ENOMEM;
	if (b.niv)
		qsort(b.iv, b.niv, sizeof(*b.iv), ival_cmp);
	stack = malloc((b.niv ? b.niv : 1) * sizeof(*stack));
	iv = malloc((b.niv ? b.niv : 1) * sizeof(*iv));
	nodes = malloc((b.nnodes ? b.nnodes : 1) * sizeof(*nodes));
	if (!stack || !iv || !nodes)
		goto out;
	/* Containment parents with a stack of open intervals. */
	size_t sp = 0;

	for (size_t i = 0; i < b.niv; i++) {
		while (sp && b.iv[stack[sp - 1]].hi <= b.iv[i].lo)
			sp--;
		iv[i] =
		    (struct sym_iv){b.iv[i].lo, b.iv[i].hi, b.iv[i].node, sp ? stack[sp - 1] : -1};
		stack[sp++] = (int32_t)i;
	}
	if (d->lines && dwarf_getsrcfiles(&ci->die, &files, &nfiles) != 0)
		files = NULL;
	for (size_t i = 0; i < b.nnodes; i++) {
		const struct dnode *dn = &b.nodes[i];
		int64_t name = strtab_add(&t, node_name(d, dn), false);
		int64_t cf = SYM_NO_STR;

		if (name >= 0 && dn->inlined && d->lines)
			cf = strtab_add(&t, cu_file(files, nfiles, dn->call_file), true);
		if (name < 0 || cf < 0) {
			err = name < 0 ? (int)name : (int)cf;
			goto out;
		}
		nodes[i] = (struct sym_node){
		    .name = (uint32_t)name,
		    .call_file = (uint32_t)cf,
		    .call_line = dn->call_line,
		    .parent = dn->parent,
		    .flags = dn->inlined ? SYM_NODE_INLINED : 0,
		};
	}
	if (d->lines) {
		err = build_rows(ci, &t, &rows, &nrows);
		if (err)
			goto out;
	}
	err = -EOVERFLOW;
	if (t.blob.len >= SYM_END_SEQ)
		goto out;
	ci->data = (struct sym_cu_data){
	    .iv = iv,
	    .rows = rows,
	    .nodes = nodes,
	    .strs = t.blob.buf,
	    .niv = (uint32_t)b.niv,
	    .nrows = nrows,
	    .nnodes = (uint32_t)b.nnodes,
	    .strs_len = (uint32_t)t.blob.len,
	    .lines = d->lines,
	};
	ci->built = ci->indexed = true;
	iv = NULL;
	nodes = NULL;
	rows = NULL;
	t.blob.buf = NULL;
	err = 0;
out:
	free(b.nodes);
	free(b.iv);
	free(stack);
	free(iv);
	free(nodes);
	free(rows);
	free(t.blob.buf);
	sym_cache_release(&t.names);
	sym_cache_release(&t.files);
	return err;
}

static long find_cu(const struct sym_dwarf *d, uint64_t addr)
{
	size_t lo = 0, hi = d->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < 4 && lo > k; k++) {
		const struct sym_cu_range *r = &d->ranges[lo - 1 - k];

		if (addr >= r->lo && addr < r->hi)
			return r->cu;
	}
	return -1;
}

/* The indexed CU holding vaddr: from the index if it has it, else from DWARF. */
static int cu_get(struct sym_dwarf *d, uint64_t vaddr, struct cu_info **out)
{
	long c = find_cu(d, vaddr);

	if (c < 0)
		return -ENOENT;
	struct cu_info *ci = &d->cus[c];

	if (ci->indexed) {
		*out = ci;
		return 0;
	}
	if (ci->failed)
		return -ENOENT;
	if (d->ix.buf) {
		struct sym_cu_data cd;
		int err = sym_index_cu(&d->ix, (size_t)c, &cd);

		if (!err && (cd.lines || !d->lines)) {
			ci->data = cd;
			ci->indexed = true;
			d->st.cus_from_index++;
			*out = ci;
			return 0;
		}
		if (err == -EINVAL)
			d->st.cus_rejected++;
	}
	if (!d->dw) {
		int err = d->dw_tried ? -ENOENT : dwarf_open(d);

		if (err) {
			/* Without libdw this CU cannot be answered; remember it. */
			if (err != -ENOMEM && c < (long)d->ncus)
				d->cus[c].failed = true;
			return err;
		}
		/* A mismatching index was dropped: CU numbers may have changed. */
		c = find_cu(d, vaddr);
		if (c < 0)
			return -ENOENT;
		ci = &d->cus[c];
		if (ci->indexed) {
			*out = ci;
			return 0;
		}
		if (ci->failed)
			return -ENOENT;
	}
	int err = cu_build(d, ci);

	if (err) {
		/* Remember the failure (libdwfl's habit) rather than retry. */
		ci->failed = true;
		return err;
	}
	d->st.cus_built++;
	d->dirty = true;
	*out = ci;
	return 0;
}

int sym_dwarf_line(struct sym_dwarf *d, uint64_t vaddr, const char **file, uint32_t *line)
{
	struct cu_info *ci;
	int err = cu_get(d, vaddr, &ci);

	if (err)
		return err;
	const struct sym_row *r = sym_cu_find_row(&ci->data, vaddr);

	if (!r || r->line <= 0)
		return -ENOENT;
	*file = sym_cu_str(&ci->data, r->file);
	*line = (uint32_t)r->line;
	return 0;
}

int sym_dwarf_lookup(struct sym_dwarf *d, uint64_t vaddr, bool lines, struct sym_dwarf_frame *out,
		     int max)
{
	struct cu_info *ci;
	int err = cu_get(d, vaddr, &ci);

	if (err)
		return err == -ENOENT ? 0 : err;
	const struct sym_cu_data *cu = &ci->data;
	long i = sym_cu_find_iv(cu, vaddr);

	if (i < 0)
		return 0;
	int n = 0;
	int32_t node = (int32_t)cu->iv[i].node;

	for (; node >= 0 && n < max; n++) {
		const struct sym_node *dn = &cu->nodes[node];

		out[n] = (struct sym_dwarf_frame){
		    .name = sym_cu_str(cu, dn->name),
		    .inlined = dn->flags & SYM_NODE_INLINED,
		};
		/* Until the lines pass below, .line holds the node index. */
		out[n].line = (uint32_t)node;
		if (!out[n].inlined) {
			n++;
			break;
		}
		node = dn->parent;
	}
	/* Lines: the address's own line for the innermost frame, and for each
	 * outer frame the call site of the inlined frame just inside it. */
	uint32_t prev_node = 0;

	for (int k = 0; k < n; k++) {
		uint32_t this_node = out[k].line;

		out[k].line = 0;
		out[k].file = NULL;
		if (!lines) {
			prev_node = this_node;
			continue;
		}
		if (k == 0) {
			const struct sym_row *r = sym_cu_find_row(cu, vaddr);

			if (r) {
				out[k].file = sym_cu_str(cu, r->file);
				if (r->line > 0)
					out[k].line = (uint32_t)r->line;
			}
		} else {
			const struct sym_node *callee = &cu->nodes[prev_node];

			out[k].file = sym_cu_str(cu, callee->call_file);
			out[k].line = callee->call_line;
		}
		prev_node = this_node;
	}
	return n;
}
