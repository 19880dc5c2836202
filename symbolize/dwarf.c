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
 * parents up to the first subprogram. Names are resolved on first use,
 * following DW_AT_abstract_origin / DW_AT_specification, preferring the
 * linkage name as addr2line does.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize_int.h"

#define MAX_DEPTH 128 /* DIE nesting; deeper input is malformed */

struct dnode {
	Dwarf_Off off;
	int32_t parent; /* node index, -1 for none */
	uint32_t call_file, call_line;
	bool inlined;
	bool name_done;
	const char *name;
};

struct ival {
	uint64_t lo, hi;
	uint32_t node;
	int32_t cparent; /* enclosing interval, -1 for none */
	uint32_t depth;
};

struct cu_info {
	Dwarf_Die die;
	bool indexed, failed;
	struct dnode *nodes;
	size_t nnodes, nodes_cap;
	struct ival *iv;
	size_t niv, iv_cap;
	Dwarf_Files *files;
	size_t nfiles;
	bool files_tried;
	const char *comp_dir;
};

struct cu_range {
	uint64_t lo, hi;
	uint32_t cu;
};

struct sym_dwarf {
	Dwarf *dw;
	struct sym_arena arena; /* joined comp_dir/file names */
	struct sym_cache paths; /* raw file name pointer -> absolute name */
	struct cu_info *cus;
	size_t ncus;
	struct cu_range *ranges;
	size_t nranges;
};

static int range_cmp(const void *pa, const void *pb)
{
	const struct cu_range *a = pa, *b = pb;

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

struct sym_dwarf *sym_dwarf_new(Elf *elf, bool lines)
{
	struct sym_dwarf *d = calloc(1, sizeof(*d));
	size_t cus_cap = 0, ranges_cap = 0;

	if (!d)
		goto nomem;
	hide_unused_sections(elf, lines);
	d->dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!d->dw) {
		free(d);
		errno = ENOENT;
		return NULL;
	}
	Dwarf_CU *cu = NULL;
	Dwarf_Half version;
	uint8_t unit_type;
	Dwarf_Die cudie, subdie;

	while (dwarf_get_units(d->dw, cu, &cu, &version, &unit_type, &cudie, &subdie) == 0) {
		if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton)
			continue;
		if (d->ncus == cus_cap) {
			size_t cap = cus_cap ? cus_cap * 2 : 64;
			struct cu_info *c = realloc(d->cus, cap * sizeof(*c));

			if (!c)
				goto nomem;
			d->cus = c;
			cus_cap = cap;
		}
		struct cu_info *ci = &d->cus[d->ncus];

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
			if (d->nranges == ranges_cap) {
				size_t cap = ranges_cap ? ranges_cap * 2 : 256;
				struct cu_range *r = realloc(d->ranges, cap * sizeof(*r));

				if (!r)
					goto nomem;
				d->ranges = r;
				ranges_cap = cap;
			}
			d->ranges[d->nranges++] = (struct cu_range){lo, hi, (uint32_t)d->ncus};
			any = true;
		}
		if (any)
			d->ncus++;
	}
	if (d->nranges)
		qsort(d->ranges, d->nranges, sizeof(*d->ranges), range_cmp);
	return d;
nomem:
	sym_dwarf_free(d);
	errno = ENOMEM;
	return NULL;
}

void sym_dwarf_free(struct sym_dwarf *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ncus; i++) {
		free(d->cus[i].nodes);
		free(d->cus[i].iv);
	}
	free(d->cus);
	free(d->ranges);
	sym_cache_release(&d->paths);
	sym_arena_release(&d->arena);
	if (d->dw)
		dwarf_end(d->dw);
	free(d);
}

static int add_node(struct cu_info *ci, const struct dnode *n)
{
	if (ci->nnodes == ci->nodes_cap) {
		size_t cap = ci->nodes_cap ? ci->nodes_cap * 2 : 64;
		struct dnode *x = realloc(ci->nodes, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		ci->nodes = x;
		ci->nodes_cap = cap;
	}
	ci->nodes[ci->nnodes++] = *n;
	return 0;
}

static int add_ival(struct cu_info *ci, const struct ival *v)
{
	if (ci->niv == ci->iv_cap) {
		size_t cap = ci->iv_cap ? ci->iv_cap * 2 : 64;
		struct ival *x = realloc(ci->iv, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		ci->iv = x;
		ci->iv_cap = cap;
	}
	ci->iv[ci->niv++] = *v;
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
static int walk(struct cu_info *ci, Dwarf_Die *die, int32_t parent, uint32_t depth)
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
			int32_t me = (int32_t)ci->nnodes;
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
					err = add_node(ci, &n);
					if (err)
						return err;
					any = true;
				}
				struct ival v = {lo, hi, (uint32_t)me, -1, depth};

				err = add_ival(ci, &v);
				if (err)
					return err;
			}
			/* Abstract instances and declarations have no code. */
			if (any) {
				err = walk(ci, &child, me, depth + 1);
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
			err = walk(ci, &child, parent, depth + 1);
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

static int cu_index(struct cu_info *ci)
{
	int err = walk(ci, &ci->die, -1, 0);

	if (err)
		return err;
	if (ci->niv)
		qsort(ci->iv, ci->niv, sizeof(*ci->iv), ival_cmp);
	/* Containment parents with a stack of open intervals. */
	int32_t *stack = malloc((ci->niv ? ci->niv : 1) * sizeof(*stack));
	size_t sp = 0;

	if (!stack)
		return -ENOMEM;
	for (size_t i = 0; i < ci->niv; i++) {
		while (sp && ci->iv[stack[sp - 1]].hi <= ci->iv[i].lo)
			sp--;
		ci->iv[i].cparent = sp ? stack[sp - 1] : -1;
		stack[sp++] = (int32_t)i;
	}
	free(stack);
	ci->indexed = true;
	return 0;
}

static const char *node_name(struct sym_dwarf *d, struct dnode *n)
{
	if (!n->name_done) {
		Dwarf_Die die, *dp = dwarf_offdie(d->dw, n->off, &die);
		Dwarf_Attribute a;

		n->name_done = true;
		if (dp && (dwarf_attr_integrate(dp, DW_AT_linkage_name, &a) ||
			   dwarf_attr_integrate(dp, DW_AT_MIPS_linkage_name, &a) ||
			   dwarf_attr_integrate(dp, DW_AT_name, &a)))
			n->name = dwarf_formstring(&a);
	}
	return n->name;
}

static const char *cu_file(struct cu_info *ci, uint32_t idx)
{
	if (!ci->files_tried) {
		ci->files_tried = true;
		if (dwarf_getsrcfiles(&ci->die, &ci->files, &ci->nfiles) != 0)
			ci->files = NULL;
	}
	if (!ci->files || idx >= ci->nfiles)
		return NULL;
	return dwarf_filesrc(ci->files, idx, NULL, NULL);
}

/* A relative source name joined to the CU's directory, as addr2line prints it. */
static const char *abs_path(struct sym_dwarf *d, const struct cu_info *ci, const char *name)
{
	const void *val;

	if (!name || name[0] == '/' || !ci->comp_dir || !ci->comp_dir[0])
		return name;
	if (sym_cache_get(&d->paths, (uint64_t)(uintptr_t)name, &val))
		return val;
	const char *p = sym_arena_printf(&d->arena, "%s/%s", ci->comp_dir, name);

	if (!p || sym_cache_put(&d->paths, (uint64_t)(uintptr_t)name, p, 1))
		return name;
	return p;
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
		const struct cu_range *r = &d->ranges[lo - 1 - k];

		if (addr >= r->lo && addr < r->hi)
			return r->cu;
	}
	return -1;
}

int sym_dwarf_line(struct sym_dwarf *d, uint64_t vaddr, const char **file, uint32_t *line)
{
	long c = find_cu(d, vaddr);
	int ln;

	if (c < 0)
		return -ENOENT;
	struct cu_info *ci = &d->cus[c];
	Dwarf_Line *l = dwarf_getsrc_die(&ci->die, vaddr);

	if (!l || dwarf_lineno(l, &ln) != 0 || ln <= 0)
		return -ENOENT;
	*file = abs_path(d, ci, dwarf_linesrc(l, NULL, NULL));
	*line = (uint32_t)ln;
	return 0;
}

int sym_dwarf_lookup(struct sym_dwarf *d, uint64_t vaddr, bool lines, struct sym_dwarf_frame *out,
		     int max)
{
	long c = find_cu(d, vaddr);

	if (c < 0)
		return 0;
	struct cu_info *ci = &d->cus[c];

	if (!ci->indexed) {
		if (ci->failed)
			return 0;
		int err = cu_index(ci);

		if (err) {
			/* Remember the failure (libdwfl's habit) rather than retry. */
			ci->failed = true;
			free(ci->nodes);
			free(ci->iv);
			ci->nodes = NULL;
			ci->iv = NULL;
			ci->nnodes = ci->niv = 0;
			return err;
		}
	}
	size_t lo = 0, hi = ci->niv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ci->iv[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return 0;
	int32_t i = (int32_t)lo - 1;

	while (i >= 0 && !(vaddr >= ci->iv[i].lo && vaddr < ci->iv[i].hi))
		i = ci->iv[i].cparent;
	if (i < 0)
		return 0;
	int n = 0;
	int32_t node = (int32_t)ci->iv[i].node;

	for (; node >= 0 && n < max; n++) {
		struct dnode *dn = &ci->nodes[node];

		out[n] = (struct sym_dwarf_frame){
		    .name = node_name(d, dn),
		    .inlined = dn->inlined,
		};
		/* Until the lines pass below, .line holds the node index. */
		out[n].line = (uint32_t)node;
		if (!dn->inlined) {
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
			Dwarf_Line *l = dwarf_getsrc_die(&ci->die, vaddr);
			int ln;

			if (l) {
				out[k].file = abs_path(d, ci, dwarf_linesrc(l, NULL, NULL));
				if (dwarf_lineno(l, &ln) == 0 && ln > 0)
					out[k].line = (uint32_t)ln;
			}
		} else {
			const struct dnode *callee = &ci->nodes[prev_node];

			out[k].file = abs_path(d, ci, cu_file(ci, callee->call_file));
			out[k].line = callee->call_line;
		}
		prev_node = this_node;
	}
	return n;
}
