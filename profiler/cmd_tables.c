// SPDX-License-Identifier: MIT
/*
 * xprof tables FILE [--addr ADDR] [--debug-file F] [--summary]: build the
 * unwind table of an ELF file the way the profiler does and print it, one
 * line per entry (address range, CFA rule, return address, rbp), like
 * objtool's orc_dump, labelled with the function symbols that start in each
 * entry (.symtab of the debug file or the file, else .dynsym), then a summary: entries, distinct
 * rules, bytes, the ratio to .eh_frame + .eh_frame_hdr and the unrepresentable rows by kind.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "profiler/profiler_int.h"
#include "unwind/unwind.h"

static const char *const reg_names[] = {
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8",
    "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip",
};

static void reg_name(char *buf, size_t len, unsigned reg)
{
	if (reg < sizeof(reg_names) / sizeof(reg_names[0]))
		snprintf(buf, len, "%s", reg_names[reg]);
	else
		snprintf(buf, len, "r%u", reg);
}

static void loc_str(char *buf, size_t len, unsigned loc, int32_t off)
{
	char r[16];

	switch (loc) {
	case UNW_LOC_SAME:
		snprintf(buf, len, "same");
		break;
	case UNW_LOC_CFA_OFF:
		snprintf(buf, len, "cfa%+d", off);
		break;
	case UNW_LOC_REG:
		reg_name(r, sizeof(r), (unsigned)off);
		snprintf(buf, len, "%s", r);
		break;
	default:
		snprintf(buf, len, "undef");
		break;
	}
}

static void rule_str(char *buf, size_t len, const struct unw_rule *r)
{
	char reg[16], ra[24], bp[24];

	switch (r->type) {
	case UNW_RULE_NONE:
		snprintf(buf, len, "(none)");
		return;
	case UNW_RULE_PLT:
		snprintf(buf, len, "plt          cfa:rsp+8, +8 once (ip & 15) >= 11");
		return;
	case UNW_RULE_SIGNAL:
		snprintf(buf, len, "signal       registers from the ucontext at rsp");
		return;
	case UNW_RULE_OUTERMOST:
		snprintf(buf, len, "outermost    ra:undef (end of stack)");
		return;
	case UNW_RULE_FALLBACK:
		snprintf(buf, len, "fallback     (unrepresentable CFI: frame pointers)");
		return;
	}
	reg_name(reg, sizeof(reg), r->cfa_reg);
	loc_str(ra, sizeof(ra), r->ra_loc, r->ra_off);
	loc_str(bp, sizeof(bp), r->bp_loc, r->bp_off);
	int n = snprintf(buf, len, "cfa:%s%+-7d ra:%-7s rbp:%s", reg, r->cfa_off, ra, bp);
	/* the other callee-saved registers, where they are not simply unchanged */
	static const uint8_t saved[UNW_NSAVED] = UNW_SAVED_REGS;

	for (int i = 0; i < UNW_NSAVED && n > 0 && (size_t)n < len; i++) {
		if (r->reg_loc[i] == UNW_LOC_SAME)
			continue;
		reg_name(reg, sizeof(reg), saved[i]);
		loc_str(ra, sizeof(ra), r->reg_loc[i], r->reg_off[i]);
		n += snprintf(buf + n, len - (size_t)n, " %s:%s", reg, ra);
	}
	if (r->flags & UNW_RULE_F_SYNTH && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "  [synthesized]");
}

/* Function symbols of the file (.symtab, else .dynsym), to label the dump. */
struct syms {
	struct sym {
		uint64_t addr;
		char *name;
	} * v;
	size_t n;
};

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Best effort: a file without symbols is dumped without labels. */
static void syms_load(struct syms *ss, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	size_t cap = 0;

	memset(ss, 0, sizeof(*ss));
	if (fd < 0)
		return;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	for (int pass = 0; elf && pass < 2 && !ss->n; pass++) {
		Elf_Scn *scn = NULL;
		unsigned want = pass ? SHT_DYNSYM : SHT_SYMTAB;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != want || !sh.sh_entsize ||
			    !(d = elf_getdata(scn, NULL)))
				continue;
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym sym;
				const char *name;

				if (!gelf_getsym(d, (int)i, &sym) ||
				    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value ||
				    sym.st_shndx == SHN_UNDEF ||
				    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)) || !*name)
					continue;
				if (ss->n == cap) {
					size_t nc = cap ? 2 * cap : 256;
					struct sym *nv = realloc(ss->v, nc * sizeof(*nv));

					if (!nv)
						goto out;
					ss->v = nv;
					cap = nc;
				}
				ss->v[ss->n].addr = sym.st_value;
				ss->v[ss->n].name = strdup(name);
				if (ss->v[ss->n].name)
					ss->n++;
			}
		}
	}
out:
	if (ss->n)
		qsort(ss->v, ss->n, sizeof(*ss->v), sym_cmp);
	elf_end(elf);
	close(fd);
}

static void syms_free(struct syms *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free(ss->v[i].name);
	free(ss->v);
}

/*
 * Bytes an ELF64 file's own headers say it has: the ends of the program and
 * section header tables, of every PT_LOAD's file image and of every section
 * with file contents. 0 when the file is not ELF64 or its headers cannot be
 * read (then the table generator says what is wrong).
 */
static uint64_t elf_extent(int fd)
{
	Elf64_Ehdr eh;
	uint64_t end;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	end = sizeof(eh);
	if (eh.e_phnum && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		uint64_t tab = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);

		end = tab > end ? tab : end;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;

			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) !=
			    (ssize_t)sizeof(ph))
				break; /* the table itself is cut: end already covers it */
			if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > end)
				end = ph.p_offset + ph.p_filesz;
		}
	}
	/* e_shnum 0 with a section table: the count is in section 0 (> 0xff00 sections); rare,
	 * and the table's first entry still bounds the file. */
	if (eh.e_shoff && eh.e_shentsize == sizeof(Elf64_Shdr)) {
		uint64_t n = eh.e_shnum ? eh.e_shnum : 1;
		uint64_t tab = eh.e_shoff + n * sizeof(Elf64_Shdr);

		end = tab > end ? tab : end;
		for (uint64_t i = 0; i < n; i++) {
			Elf64_Shdr sh;

			if (pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + i * sizeof(sh))) !=
			    (ssize_t)sizeof(sh))
				break;
			if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
			    sh.sh_offset + sh.sh_size > end)
				end = sh.sh_offset + sh.sh_size;
		}
	}
	return end;
}

/*
 * A file shorter than its ELF headers say (a copy or download cut short):
 * nothing read from it can be trusted to be whole, and the generator would
 * blame missing unwind information. Prints the error and returns true.
 */
static bool refuse_truncated(const char *path)
{
	struct stat st;
	uint64_t need;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false; /* the generator reports why it cannot be opened */
	need = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? elf_extent(fd) : 0;
	close(fd);
	if (!need || need <= (uint64_t)st.st_size)
		return false;
	fprintf(stderr,
		"xprof: '%s' is truncated: %lld bytes, but its ELF headers describe %" PRIu64
		"; copy the whole file again\n",
		path, (long long)st.st_size, need);
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xprof tables FILE [--addr ADDR] [--debug-file F] [--summary]\n"
		   "\n"
		   "Build the unwind table xprof uses for an ELF file from its DWARF CFI\n"
		   "(.eh_frame, .debug_frame) and, for a Go binary, the pcsp table of its\n"
		   ".gopclntab, and print it, labelled with function symbols, with a summary.\n"
		   "Functions with a symbol size but no CFI get rows from their machine code,\n"
		   "marked [synthesized].\n"
		   "\n"
		   "  --addr ADDR        print only the rule at the virtual address ADDR (hex)\n"
		   "  --debug-file F     also read .debug_frame from the separate debug file F\n"
		   "  --summary          print the summary only\n");
}

static const char *const unrep_names[UNW_UNREP_NR] = {
    [UNW_UNREP_CFA_EXPR] = "cfa-expression", [UNW_UNREP_REG_EXPR] = "register-expression",
    [UNW_UNREP_RA_LOC] = "ra-location",	     [UNW_UNREP_BP_LOC] = "rbp-location",
    [UNW_UNREP_BAD_FDE] = "bad-fde",
};

int cmd_tables(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, 'a'},
	    {"debug-file", required_argument, NULL, 'd'},
	    {"summary", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *debug = NULL, *addr_arg = NULL, *path;
	bool summary_only = false;
	struct unw_gen_stats st;
	struct unw_table *tab;
	char buf[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "a:d:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr_arg = optarg;
			break;
		case 'd':
			debug = optarg;
			break;
		case 's':
			summary_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];

	uint64_t addr = 0;

	if (addr_arg) {
		char *end;

		errno = 0;
		addr = strtoull(addr_arg, &end, 16);
		if (errno || end == addr_arg || *end) {
			fprintf(
			    stderr,
			    "xprof: bad address '%s': give a hex virtual address like 0x3c050\n",
			    addr_arg);
			return 2;
		}
	}
	if (refuse_truncated(path) || (debug && refuse_truncated(debug)))
		return 1;
	tab = unw_table_from_elf(path, debug, &st);
	/* A Go binary: its pcsp rows over the CFI, as a report uses them (also with no CFI). */
	size_t cfi_entries = tab ? unw_table_count(tab) : 0;
	int cfi_err = tab ? 0 : errno;
	struct sym_opts so = {.no_debuginfod = true};
	struct sym_session *ss_go = cfi_err != ENOEXEC ? sym_session_new(&so) : NULL;
	struct sym_file *sf = ss_go ? sym_file_get(ss_go, path, NULL, 0) : NULL;
	struct unw_table *gt = sf ? xp_go_table(sf, tab) : NULL;
	bool go = gt != NULL;

	sym_session_free(ss_go);
	if (gt) {
		unw_table_free(tab);
		tab = gt;
	}
	errno = cfi_err;
	if (!tab) {
		int e = errno;

		if (e == ENOEXEC)
			fprintf(stderr,
				"xprof: '%s' is not an x86-64 ELF executable or shared object\n",
				path);
		else if (e == ENODATA)
			fprintf(
			    stderr,
			    "xprof: '%s' has no unwind information (.eh_frame or .debug_frame); "
			    "pass its debug file with --debug-file\n",
			    path);
		else
			fprintf(stderr, "xprof: cannot read '%s'%s%s: %s\n", path,
				debug ? " or '" : "", debug ? debug : "", strerror(e));
		return 1;
	}
	size_t n = unw_table_count(tab);

	if (addr_arg) {
		struct unw_rule r;
		int ret = unw_table_lookup(tab, addr, &r);

		rule_str(buf, sizeof(buf), &r);
		printf("%#" PRIx64 ": %s%s\n", addr, buf,
		       ret ? " (no unwind information here)" : "");
		unw_table_free(tab);
		return 0;
	}
	if (!summary_only) {
		struct syms ss;
		size_t k = 0;

		if (debug)
			syms_load(&ss, debug); /* its .symtab names local functions too */
		if (!debug || !ss.n)
			syms_load(&ss, path);
		for (size_t i = 0; i < n; i++) {
			uint64_t a, next = 0;
			struct unw_rule r, dummy;

			unw_table_row(tab, i, &a, &r);
			if (i + 1 < n)
				unw_table_row(tab, i + 1, &next, &dummy);
			/* label the functions that start in this entry, aliases on one line */
			for (uint64_t last = 0; k < ss.n && (i + 1 == n || ss.v[k].addr < next);
			     k++) {
				if (ss.v[k].addr < a)
					continue;
				if (ss.v[k].addr == last) {
					printf(", %s", ss.v[k].name);
				} else {
					if (last)
						printf(":\n");
					printf("%s", ss.v[k].name);
					if (ss.v[k].addr != a)
						printf(" (at %#" PRIx64 ")", ss.v[k].addr);
				}
				last = ss.v[k].addr;
				if (k + 1 == ss.n ||
				    ss.v[k + 1].addr >= (i + 1 == n ? UINT64_MAX : next))
					printf(":\n");
			}
			rule_str(buf, sizeof(buf), &r);
			if (i + 1 < n)
				printf("%#014" PRIx64 "-%#014" PRIx64 "  %s\n", a, next, buf);
			else
				printf("%#014" PRIx64 "-%-14s  %s\n", a, "", buf);
		}
		syms_free(&ss);
	}
	printf("file: %s%s%s\n", path, debug ? ", debug file " : "", debug ? debug : "");
	if (go)
		printf("go: .gopclntab pcsp rows over %zu CFI entries: %zu entries\n", cfi_entries,
		       unw_table_count(tab));
	printf("fdes: %" PRIu64 ", cfi rows: %" PRIu64 "\n", st.fdes, st.rows);
	printf("entries: %" PRIu64 ", distinct rules: %" PRIu64 ", bytes: %" PRIu64 "\n",
	       st.entries, st.rules, st.bytes);
	if (st.eh_frame_bytes)
		printf(".eh_frame+.eh_frame_hdr: %" PRIu64 " bytes, ratio %.2f\n",
		       st.eh_frame_bytes, (double)st.bytes / (double)st.eh_frame_bytes);
	if (st.synth_funcs)
		printf("functions without CFI analysed from machine code: %" PRIu64
		       ", refused %" PRIu64 "\n",
		       st.synth_funcs, st.synth_refused);
	printf("unrepresentable rows:");
	for (int k = 0; k < UNW_UNREP_NR; k++)
		printf(" %s %" PRIu64 "%s", unrep_names[k], st.unrep[k],
		       k + 1 < UNW_UNREP_NR ? "," : "\n");
	unw_table_free(tab);
	return 0;
}
