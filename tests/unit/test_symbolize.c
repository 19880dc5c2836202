// SPDX-License-Identifier: MIT
/*
 * Unit tests for symbolize/: alias choice, symbol sizes and zero-size
 * symbols, IFUNCs, inline chains and lines on the purpose-built sym_target
 * (its symbol addresses read independently with libelf), C++ demangling on
 * sym_cxx, the vDSO from memory, unknown fallbacks, build-id mismatch,
 * unnamed functions of stripped files grouped by their FDEs (against libdw's
 * CFI at every byte of their code), the
 * per-address cache, kallsyms and perf-map parsing edge cases, and the
 * on-disk symbol index: the same frames with and without it, no DWARF
 * opened for CUs it holds, corrupt files rejected and rebuilt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/symbolize.h"
#include "symbolize/symbolize_int.h"

static char progs[PATH_MAX + 16];

/* $(O)/tests/test_symbolize -> $(O)/progs/NAME */
static const char *prog(const char *name)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/%s", progs, name);
	return buf;
}

/* The oracle: a symbol's value and size straight from .symtab. */
static bool elf_sym(const char *path, const char *name, uint64_t *value, uint64_t *size)
{
	int fd = open(path, O_RDONLY);
	bool found = false;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;

	while (elf && (scn = elf_nextscn(elf, scn)) && !found) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);

		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;

			if (gelf_getsym(d, (int)i, &s) &&
			    !strcmp(elf_strptr(elf, sh.sh_link, s.st_name), name)) {
				*value = s.st_value;
				*size = s.st_size;
				found = true;
				break;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* Start of the first function symbol (or untyped label in code) above addr. */
static uint64_t next_func(const char *path, uint64_t addr)
{
	int fd = open(path, O_RDONLY);
	uint64_t best = UINT64_MAX;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;

	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);

		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;

			GElf_Shdr ssh;
			Elf_Scn *ss;

			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
			    s.st_shndx >= SHN_LORESERVE || !(ss = elf_getscn(elf, s.st_shndx)) ||
			    !gelf_getshdr(ss, &ssh) || !(ssh.sh_flags & SHF_EXECINSTR))
				continue;
			if ((GELF_ST_TYPE(s.st_info) == STT_FUNC ||
			     GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC ||
			     GELF_ST_TYPE(s.st_info) == STT_NOTYPE) &&
			    s.st_value > addr && s.st_value < best)
				best = s.st_value;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return best;
}

static int setup(void **state)
{
	(void)state;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');

	*slash = '\0';
	snprintf(progs, sizeof(progs), "%s/../progs", self);
	return access(prog("sym_target"), R_OK) == 0 ? 0 : -1;
}

static void test_alias_rule(void **state)
{
	(void)state;
	static const struct {
		const char *a;
		int ba;
		const char *b;
		int bb;
		bool a_better;
	} cases[] = {
	    {"memcpy", STB_GLOBAL, "__memcpy", STB_GLOBAL, true},
	    {"__memcpy", STB_GLOBAL, "memcpy", STB_WEAK, true}, /* global first */
	    {"foo", STB_WEAK, "foo_impl", STB_LOCAL, true},
	    {"ab", STB_GLOBAL, "abc", STB_GLOBAL, true},	/* shorter */
	    {"abd", STB_GLOBAL, "abc", STB_GLOBAL, false},	/* lexicographic */
	    {"_x", STB_GLOBAL, "long_name", STB_GLOBAL, false}, /* no underscore first */
	    {"same", STB_LOCAL, "same", STB_LOCAL, false},	/* strict order */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sym_alias_better(cases[i].a, cases[i].ba, cases[i].b, cases[i].bb),
				 cases[i].a_better);
		if (strcmp(cases[i].a, cases[i].b))
			assert_int_equal(
			    sym_alias_better(cases[i].b, cases[i].bb, cases[i].a, cases[i].ba),
			    !cases[i].a_better);
	}
}

static const char *name_at(struct sym_session *s, struct sym_file *f, uint64_t addr, int *n,
			   uint32_t *flags)
{
	const struct sym_frame *fr;
	int k = sym_file_lookup(s, f, addr, &fr);

	assert_true(k >= 1);
	if (n)
		*n = k;
	if (flags)
		*flags = fr[k - 1].flags;
	return fr[k - 1].name;
}

static void test_symbols(void **state)
{
	(void)state;
	const char *t = prog("sym_target");
	struct sym_opts o = {.no_inline = true, .no_debuginfod = true};
	struct sym_session *s = sym_session_new(&o);
	struct sym_file *f = sym_file_get(s, t, NULL, 0);
	uint64_t a, sz, a2;
	uint32_t flags;
	char want[128];

	assert_non_null(f);
	assert_string_equal(sym_file_debug_source(f), t);
	/* Sizes: the last byte is the symbol, the byte after is not. */
	assert_true(elf_sym(t, "local_worker", &a, &sz));
	assert_string_equal(name_at(s, f, a, NULL, NULL), "local_worker");
	assert_string_equal(name_at(s, f, a + sz - 1, NULL, NULL), "local_worker");
	if (next_func(t, a) > a + sz) {
		snprintf(want, sizeof(want), "[sym_target+0x%" PRIx64 "]", a + sz);
		assert_string_equal(name_at(s, f, a + sz, NULL, &flags), want);
		assert_int_equal(flags, SYM_F_UNKNOWN);
	}
	/* Aliases: global alias_pub and real_impl (same length: lexicographic)
	 * and weak __alias_weak. */
	assert_true(elf_sym(t, "real_impl", &a, &sz));
	assert_string_equal(name_at(s, f, a, NULL, NULL), "alias_pub");
	assert_string_equal(name_at(s, f, a + sz - 1, NULL, NULL), "alias_pub");
	/* IFUNC (global) over its local resolver at the same address. */
	assert_true(elf_sym(t, "resolve_picked", &a, &sz));
	assert_string_equal(name_at(s, f, a + 1, NULL, NULL), "picked");
	/* Zero-size assembly: up to the next symbol. */
	assert_true(elf_sym(t, "asm_nosize", &a, &sz));
	assert_int_equal(sz, 0);
	a2 = next_func(t, a);
	assert_true(a2 > a && a2 - a < 64);
	assert_string_equal(name_at(s, f, a, NULL, NULL), "asm_nosize");
	assert_string_equal(name_at(s, f, a2 - 1, NULL, NULL), "asm_nosize");
	assert_string_not_equal(name_at(s, f, a2, NULL, NULL), "asm_nosize");
	/* Untyped labels (ld.so's _start, _dl_start_user): each a function up
	 * to the next symbol, global or local; a label inside a sized function
	 * is part of it. */
	uint64_t lu, ls, szs;

	assert_true(elf_sym(t, "asm_label_entry", &a, &sz));
	assert_true(elf_sym(t, "asm_label_user", &lu, &sz));
	assert_true(elf_sym(t, "asm_sized", &ls, &szs));
	assert_true(a < lu && lu < ls);
	assert_string_equal(name_at(s, f, a, NULL, &flags), "asm_label_entry");
	assert_int_equal(flags, 0);
	assert_string_equal(name_at(s, f, lu - 1, NULL, NULL), "asm_label_entry");
	assert_string_equal(name_at(s, f, lu, NULL, NULL), "asm_label_user");
	assert_string_equal(name_at(s, f, ls - 1, NULL, NULL), "asm_label_user");
	assert_true(elf_sym(t, "asm_sized_inner", &a2, &sz));
	assert_true(ls < a2 && a2 < ls + szs);
	assert_string_equal(name_at(s, f, a2, NULL, NULL), "asm_sized");
	assert_string_equal(name_at(s, f, ls + szs - 1, NULL, NULL), "asm_sized");
	/* The cold part keeps its own symbol. */
	assert_true(elf_sym(t, "hot_path.cold", &a, &sz));
	assert_string_equal(name_at(s, f, a + 1, NULL, NULL), "hot_path.cold");
	/* Before the first function: unknown. */
	assert_string_equal(name_at(s, f, 0x10, NULL, &flags), "[sym_target+0x10]");
	assert_int_equal(flags, SYM_F_UNKNOWN);
	/* The top address (its cache key would wrap) is cached like any other. */
	const struct sym_frame *t1, *t2;

	assert_int_equal(sym_file_lookup(s, f, UINT64_MAX, &t1), 1);
	assert_int_equal(sym_file_lookup(s, f, UINT64_MAX, &t2), 1);
	assert_ptr_equal(t1, t2);
	assert_string_equal(t1->name, "[sym_target+0xffffffffffffffff]");
	/* Same file again: same object. */
	assert_ptr_equal(sym_file_get(s, t, NULL, 0), f);
	sym_session_free(s);
}

/*
 * A file nobody holds is evicted by a trim below its size, and loaded again
 * when asked; a held one stays, its strings still readable.
 */
static void test_trim(void **state)
{
	(void)state;
	char t[PATH_MAX + 128];
	struct sym_opts o = {.no_inline = true, .no_debuginfod = true};
	struct sym_session *s = sym_session_new(&o);
	struct sym_session_stats st;
	const struct sym_frame *fr;
	uint64_t a, sz;

	snprintf(t, sizeof(t), "%s", prog("sym_target"));
	assert_true(elf_sym(t, "local_worker", &a, &sz));
	struct sym_file *f = sym_file_get(s, t, NULL, 0);
	struct sym_file *v = sym_file_get(s, prog("sym_lookup"), NULL, 0);

	assert_non_null(f);
	assert_non_null(v);
	assert_int_equal(sym_file_lookup(s, f, a, &fr), 1);
	sym_session_get_stats(s, &st);
	assert_int_equal(st.files, 2);
	assert_true(st.bytes > 1000);
	sym_file_put(s, v);
	sym_session_trim(s, 0);
	sym_session_get_stats(s, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.evicted, 1);
	assert_string_equal(fr->name, "local_worker"); /* f is held: its strings live */
	/* Held twice, put once: still held. */
	assert_ptr_equal(sym_file_get(s, t, NULL, 0), f);
	sym_file_put(s, f);
	sym_session_trim(s, 0);
	sym_session_get_stats(s, &st);
	assert_int_equal(st.files, 1);
	/* Within budget, an unheld file stays cached and is found again. */
	sym_file_put(s, f);
	sym_session_trim(s, SIZE_MAX);
	assert_ptr_equal(sym_file_get(s, t, NULL, 0), f);
	sym_file_put(s, f);
	sym_session_trim(s, 0);
	sym_session_get_stats(s, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.bytes, 0);
	/* Loaded again, it answers as before. */
	f = sym_file_get(s, t, NULL, 0);
	assert_non_null(f);
	assert_string_equal(name_at(s, f, a, NULL, NULL), "local_worker");
	sym_session_free(s);
}

static void test_inlines(void **state)
{
	(void)state;
	const char *t = prog("sym_target");
	struct sym_opts o = {.lines = true, .no_debuginfod = true};
	struct sym_session *s = sym_session_new(&o);
	struct sym_file *f = sym_file_get(s, t, NULL, 0);
	uint64_t a, sz;
	const struct sym_frame *fr = NULL, *again;
	int n = 0;
	uint64_t at = 0;

	assert_true(elf_sym(t, "chain_entry", &a, &sz));
	for (at = a; at < a + sz; at++) {
		n = sym_file_lookup(s, f, at, &fr);
		if (n == 4)
			break;
	}
	assert_int_equal(n, 4);
	static const char *chain[] = {"leaf_mix", "middle_mix", "outer_mix", "chain_entry"};

	for (int i = 0; i < 4; i++) {
		assert_string_equal(fr[i].name, chain[i]);
		assert_int_equal(fr[i].flags, i < 3 ? SYM_F_INLINED : 0);
		assert_non_null(fr[i].file);
		assert_non_null(strstr(fr[i].file, "sym_target.c"));
		assert_true(fr[i].line > 0);
	}
	/* Repeat lookups come from the cache: the same frames. */
	assert_int_equal(sym_file_lookup(s, f, at, &again), 4);
	assert_ptr_equal(again, fr);
	sym_session_free(s);

	/* no_inline: only the function, with its own (call-site) line. */
	o.no_inline = true;
	s = sym_session_new(&o);
	f = sym_file_get(s, t, NULL, 0);
	assert_int_equal(sym_file_lookup(s, f, at, &fr), 1);
	assert_string_equal(fr[0].name, "chain_entry");
	assert_int_equal(fr[0].flags, 0);
	sym_session_free(s);
}

static void test_demangle(void **state)
{
	(void)state;
	const char *c = prog("sym_cxx");
	uint64_t a, sz;
	const struct sym_frame *fr;

	assert_true(elf_sym(c, "_ZN3geo7length2ERKNS_3VecIdEE", &a, &sz));
	struct sym_opts o = {.no_inline = true, .no_debuginfod = true};
	struct sym_session *s = sym_session_new(&o);
	struct sym_file *f = sym_file_get(s, c, NULL, 0);

	assert_int_equal(sym_file_lookup(s, f, a, &fr), 1);
	assert_string_equal(fr[0].name, "geo::length2(geo::Vec<double> const&)");
	sym_session_free(s);
	o.no_demangle = true;
	s = sym_session_new(&o);
	f = sym_file_get(s, c, NULL, 0);
	assert_int_equal(sym_file_lookup(s, f, a, &fr), 1);
	assert_string_equal(fr[0].name, "_ZN3geo7length2ERKNS_3VecIdEE");
	sym_session_free(s);
}

static void test_demangle_table(void **state)
{
	(void)state;
	static const struct {
		const char *raw, *want; /* want NULL: not demangled */
	} cases[] = {
	    {"_ZN3foo3barEv", "foo::bar()"},
	    {"_ZN3foo3barEv.cold", "foo::bar() [clone .cold]"},
	    {"_ZNSt6vectorIiSaIiEE9push_backERKi",
	     "std::vector<int, std::allocator<int> >::push_back(int const&)"},
	    /* Rust legacy (hash dropped, as rustfilt and addr2line -C do) and v0. */
	    {"_ZN4core3fmt9Formatter3pad17h8c9e6fe3e8d5e0b4E", "core::fmt::Formatter::pad"},
	    {"_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example"},
	    {"main", NULL},
	    {"_Z", NULL},
	    {"_Zjunk", NULL},
	    {"_R", NULL},
	};
	struct sym_arena a = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *d = sym_demangle(&a, cases[i].raw);

		if (cases[i].want)
			assert_string_equal(d, cases[i].want);
		else
			assert_null(d);
	}
	sym_arena_release(&a);
}

static void test_unknown_files(void **state)
{
	(void)state;
	struct sym_session *s = sym_session_new(NULL);
	const struct sym_frame *fr;
	char path[PATH_MAX];

	struct sym_file *f = sym_file_get(s, "/nonexistent/libfoo.so", NULL, 0);

	assert_non_null(f);
	assert_int_equal(sym_file_lookup(s, f, 0x1a2b, &fr), 1);
	assert_string_equal(fr[0].name, "[libfoo.so+0x1a2b]");
	assert_int_equal(fr[0].flags, SYM_F_UNKNOWN);
	assert_string_equal(sym_file_debug_source(f), "");

	/* Not an ELF file. */
	snprintf(path, sizeof(path), "/tmp/sym_unit_%d.so", getpid());
	FILE *fp = fopen(path, "w");

	fputs("not an elf\n", fp);
	fclose(fp);
	f = sym_file_get(s, path, NULL, 0);
	assert_int_equal(sym_file_lookup(s, f, 0x40, &fr), 1);
	assert_int_equal(fr[0].flags, SYM_F_UNKNOWN);
	unlink(path);

	/* A build-id that does not match the file on disk: its symbols are not used. */
	static const uint8_t wrong[20] = {1, 2, 3};
	uint64_t a, sz;

	assert_true(elf_sym(prog("sym_target"), "main", &a, &sz));
	f = sym_file_get(s, prog("sym_target"), wrong, sizeof(wrong));
	assert_int_equal(sym_file_lookup(s, f, a, &fr), 1);
	assert_int_equal(fr[0].flags, SYM_F_UNKNOWN);
	assert_non_null(strstr(fr[0].name, "[sym_target+0x"));
	sym_session_free(s);
}

static void test_vdso(void **state)
{
	(void)state;
	const unsigned char *img = (const void *)getauxval(AT_SYSINFO_EHDR);

	if (!img)
		skip();
	const Elf64_Ehdr *eh = (const void *)img;
	size_t len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	struct sym_session *s = sym_session_new(NULL);
	struct sym_file *f = sym_file_from_image(s, "[vdso]", img, len);
	const struct sym_frame *fr;
	bool found = false;

	assert_non_null(f);
	/* Every exported vDSO function is named after itself or an alias. */
	Elf *elf = elf_memory((char *)img, len);
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);

		for (size_t i = 1; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;

			gelf_getsym(d, (int)i, &sym);
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);

			assert_int_equal(sym_file_lookup(s, f, sym.st_value + 1, &fr), 1);
			if (!strcmp(fr[0].name, name))
				found = true;
			assert_int_equal(fr[0].flags, 0);
		}
	}
	elf_end(elf);
	assert_true(found);
	/* An address no function covers (the ELF header): the pseudo-file's
	 * brackets are not doubled. */
	assert_int_equal(sym_file_lookup(s, f, 0x10, &fr), 1);
	assert_string_equal(fr[0].name, "[vdso+0x10]");
	assert_int_equal(fr[0].flags, SYM_F_UNKNOWN);
	sym_session_free(s);
}

/* [lo, hi) of the executable sections of path, via its section headers. */
static void code_range(Elf *elf, uint64_t *lo, uint64_t *hi)
{
	Elf_Scn *scn = NULL;

	*lo = UINT64_MAX, *hi = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) ||
		    sh.sh_type != SHT_PROGBITS)
			continue;
		if (sh.sh_addr < *lo)
			*lo = sh.sh_addr;
		if (sh.sh_addr + sh.sh_size > *hi)
			*hi = sh.sh_addr + sh.sh_size;
	}
}

struct fde_range {
	uint64_t lo, hi;
};

static int fde_cmp(const void *pa, const void *pb)
{
	const struct fde_range *a = pa, *b = pb;

	return (a->lo > b->lo) - (a->lo < b->lo);
}

/* The FDEs of path as binutils reads them (readelf --debug-dump=frames), sorted. */
static struct fde_range *readelf_fdes(const char *path, size_t *n)
{
	char cmd[PATH_MAX + 64], line[512];
	struct fde_range *v = NULL;
	size_t cap = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	*n = 0;
	while (fgets(line, sizeof(line), p)) {
		const char *pc = strstr(line, " FDE cie=");
		unsigned long long lo, hi;

		if (!pc || !(pc = strstr(pc, "pc=")) || sscanf(pc, "pc=%llx..%llx", &lo, &hi) != 2)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[(*n)++] = (struct fde_range){lo, hi};
	}
	pclose(p);
	assert_true(*n > 0);
	qsort(v, *n, sizeof(*v), fde_cmp);
	return v;
}

/* Drops the FDEs of PLT sections (.plt, .plt.sec, .plt.got): stubs, not functions. */
static size_t drop_plt_fdes(Elf *elf, struct fde_range *v, size_t n)
{
	size_t shstrndx, k = 0;

	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	for (size_t i = 0; i < n; i++) {
		Elf_Scn *scn = NULL;
		bool plt = false;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_addr <= v[i].lo &&
			    v[i].lo < sh.sh_addr + sh.sh_size &&
			    !strncmp(elf_strptr(elf, shstrndx, sh.sh_name), ".plt", 4))
				plt = true;
		}
		if (!plt)
			v[k++] = v[i];
	}
	return k;
}

/*
 * Every stride-th byte of a stripped file's code, against readelf's FDEs as
 * the oracle: an address no symbol names is "base+0xSTART" exactly when an
 * FDE covers it and START is that FDE's start, "[base+0xADDR]" (unknown)
 * exactly when none does (or a PLT's does). Returns how many addresses went
 * to FDE functions; *nfuncs the distinct FDEs among them.
 */
static size_t check_fde_names(const char *path, const char *base, uint64_t stride, size_t *nfuncs)
{
	struct sym_opts o = {.no_debuginfod = true, .debug_root = "/nonexistent"};
	struct sym_session *s = sym_session_new(&o);
	struct sym_file *f = sym_file_get(s, path, NULL, 0);
	int fd = open(path, O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t nfde, named = 0, unknown = 0, by_fde = 0, k = 0;
	struct fde_range *fde = readelf_fdes(path, &nfde);
	uint64_t lo, hi, last_start = UINT64_MAX;
	char want[256];

	assert_non_null(f);
	assert_non_null(elf);
	assert_string_equal(sym_file_debug_source(f), "");
	nfde = drop_plt_fdes(elf, fde, nfde);
	code_range(elf, &lo, &hi);
	assert_true(lo < hi);
	*nfuncs = 0;
	for (uint64_t a = lo; a < hi; a += stride) {
		const struct sym_frame *fr;
		int nfr = sym_file_lookup(s, f, a, &fr);

		assert_true(nfr >= 1);
		while (k < nfde && fde[k].hi <= a)
			k++;
		bool covered = k < nfde && fde[k].lo <= a && a < fde[k].hi;
		const char *name = fr[nfr - 1].name;

		if (!strncmp(name, base, strlen(base)) && name[strlen(base)] == '+') {
			if (!covered)
				fail_msg("0x%" PRIx64 ": %s, but readelf has no FDE there", a,
					 name);
			snprintf(want, sizeof(want), "%s+0x%" PRIx64, base, fde[k].lo);
			assert_string_equal(name, want);
			assert_int_equal(fr[nfr - 1].flags, 0);
			by_fde++;
			if (fde[k].lo != last_start)
				(*nfuncs)++;
			last_start = fde[k].lo;
		} else if (name[0] == '[') {
			if (covered)
				fail_msg("0x%" PRIx64 ": %s, but readelf has the FDE [0x%" PRIx64
					 ", 0x%" PRIx64 ")",
					 a, name, fde[k].lo, fde[k].hi);
			snprintf(want, sizeof(want), "[%s+0x%" PRIx64 "]", base, a);
			assert_string_equal(name, want);
			unknown++;
		} else {
			named++; /* .dynsym */
		}
	}
	print_message("%s: %zu addresses, %zu named by .dynsym, %zu in %zu FDE functions, %zu "
		      "unknown\n",
		      base, named + by_fde + unknown, named, by_fde, *nfuncs, unknown);
	free(fde);
	elf_end(elf);
	close(fd);
	sym_session_free(s);
	return by_fde;
}

static void test_fde_functions(void **state)
{
	(void)state;
	size_t nfuncs;
	uint64_t a, sz;
	char want[64];

	/* The stripped target: every one of its own functions with an FDE is
	 * one name, at its start (the unstripped file says where that is). */
	assert_true(
	    check_fde_names(prog("sym_target.stripped"), "sym_target.stripped", 1, &nfuncs) > 0);
	assert_true(nfuncs >= 8);
	struct sym_opts o = {.no_debuginfod = true, .debug_root = "/nonexistent"};
	struct sym_session *s = sym_session_new(&o);
	struct sym_file *f = sym_file_get(s, prog("sym_target.stripped"), NULL, 0);

	assert_true(elf_sym(prog("sym_target"), "local_worker", &a, &sz));
	snprintf(want, sizeof(want), "sym_target.stripped+0x%" PRIx64, a);
	assert_string_equal(name_at(s, f, a, NULL, NULL), want);
	assert_string_equal(name_at(s, f, a + sz / 2, NULL, NULL), want);
	assert_string_equal(name_at(s, f, a + sz - 1, NULL, NULL), want);
	/* main is not exported either: one name for all of it. */
	assert_true(elf_sym(prog("sym_target"), "main", &a, &sz));
	snprintf(want, sizeof(want), "sym_target.stripped+0x%" PRIx64, a);
	for (uint64_t i = 0; i < sz; i++)
		assert_string_equal(name_at(s, f, a + i, NULL, NULL), want);
	sym_session_free(s);

	/* libc without its debug file: .dynsym names the exported functions,
	 * the FDEs the rest. */
	if (!access("/lib/x86_64-linux-gnu/libc.so.6", R_OK))
		assert_true(check_fde_names("/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6", 7,
					    &nfuncs) > 1000);
}

/*
 * The vDSO's own unnamed functions (static helpers of clock_gettime and the
 * like) are one frame each too, "vdso+0xSTART": each FDE of the image (as
 * readelf reads a copy of it) names its first and last byte alike, after an
 * exported symbol or as that.
 */
static void test_vdso_fde(void **state)
{
	(void)state;
	const unsigned char *img = (const void *)getauxval(AT_SYSINFO_EHDR);
	char path[64], want[64];
	size_t nfde, unnamed = 0;

	if (!img)
		skip();
	const Elf64_Ehdr *eh = (const void *)img;
	size_t len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/sym_unit_vdso_%d.so", getpid());
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(img, 1, len, fp), len);
	fclose(fp);
	struct fde_range *fde = readelf_fdes(path, &nfde);
	struct sym_session *s = sym_session_new(NULL);
	struct sym_file *f = sym_file_from_image(s, "[vdso]", img, len);

	unlink(path);
	for (size_t i = 0; i < nfde; i++) {
		uint32_t flags;
		const char *first = name_at(s, f, fde[i].lo, NULL, &flags);
		const char *last = name_at(s, f, fde[i].hi - 1, NULL, NULL);

		assert_string_equal(first, last);
		assert_int_equal(flags, 0);
		assert_true(first[0] != '[');
		if (!strncmp(first, "vdso+", 5)) {
			snprintf(want, sizeof(want), "vdso+0x%" PRIx64, fde[i].lo);
			assert_string_equal(first, want);
			unnamed++;
		}
	}
	print_message("vdso: %zu FDEs, %zu of them unnamed functions\n", nfde, unnamed);
	free(fde);
	sym_session_free(s);
}

static char *write_tmp(const char *name, const char *text)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "/tmp/%s", name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void test_kallsyms(void **state)
{
	(void)state;
	char name[64];

	snprintf(name, sizeof(name), "sym_unit_kallsyms_%d", getpid());
	char *path = write_tmp(name, "ffffffff81000000 T _stext\n"
				     "ffffffff81000000 T _text\n"
				     "ffffffff81000100 t do_thing\n"
				     "ffffffff81000200 D some_data\n"
				     "ffffffff81000300 T schedule\n"
				     "garbage line\n"
				     "ffffffffc0000000 t mod_fn\t[e1000e]\n"
				     "ffffffffc0000080 W weak_fn [e1000e]\n");
	struct sym_opts o = {.kallsyms = path};
	struct sym_session *s = sym_session_new(&o);
	const struct sym_frame *fr;
	static const struct {
		uint64_t addr;
		const char *name;
		uint32_t flags;
	} cases[] = {
	    {0xffffffff80ffffff, "[kernel.kallsyms]", SYM_F_KERNEL | SYM_F_UNKNOWN},
	    {0xffffffff81000000, "_stext", SYM_F_KERNEL},
	    {0xffffffff810000ff, "_stext", SYM_F_KERNEL},
	    {0xffffffff81000100, "do_thing", SYM_F_KERNEL},
	    {0xffffffff81000250, "do_thing", SYM_F_KERNEL}, /* data symbols skipped */
	    {0xffffffff81000301, "schedule", SYM_F_KERNEL},
	    {0xffffffffc0000010, "mod_fn [e1000e]", SYM_F_KERNEL},
	    {0xffffffffc0000090, "weak_fn [e1000e]", SYM_F_KERNEL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sym_kernel_lookup(s, cases[i].addr, &fr), 1);
		assert_string_equal(fr->name, cases[i].name);
		assert_int_equal(fr->flags, cases[i].flags);
	}
	sym_session_free(s);

	/* kptr_restrict: all zeros, every lookup unknown. */
	path = write_tmp(name, "0000000000000000 T _stext\n0000000000000000 t do_thing\n");
	s = sym_session_new(&o);
	assert_int_equal(sym_kernel_lookup(s, 0xffffffff81000100, &fr), 1);
	assert_int_equal(fr->flags, SYM_F_KERNEL | SYM_F_UNKNOWN);
	assert_true(s->ksyms.hidden);
	sym_session_free(s);
	unlink(path);

	/* Missing file. */
	o.kallsyms = "/nonexistent/kallsyms";
	s = sym_session_new(&o);
	assert_int_equal(sym_kernel_lookup(s, 0xffffffff81000100, &fr), 1);
	assert_int_equal(fr->flags, SYM_F_KERNEL | SYM_F_UNKNOWN);
	sym_session_free(s);
}

static void test_perfmap(void **state)
{
	(void)state;
	char name[64];
	uint32_t pid = 4000000000u;

	snprintf(name, sizeof(name), "perf-%u.map", pid);
	char *path = write_tmp(name, "7f0000001000 100 LazyCompile:*foo bar.js:1\n"
				     "0x7f0000002000 0x10 stub\r\n"
				     "7f0000003000 40 old\n"
				     "7f0000003000 20 new\n"
				     "zzzz 10 bad\n"
				     "7f0000004000 0 empty\n"
				     "7f0000005000 10\n"
				     "7f0000006000 10 py::f:/x.py\n");
	struct sym_opts o = {.perfmap_dir = "/tmp"};
	struct sym_session *s = sym_session_new(&o);
	const struct sym_frame *fr;
	static const struct {
		uint64_t addr;
		const char *name;
		uint32_t flags;
	} cases[] = {
	    {0x7f0000001000, "LazyCompile:*foo bar.js:1", SYM_F_JIT},
	    {0x7f00000010ff, "LazyCompile:*foo bar.js:1", SYM_F_JIT},
	    {0x7f0000001100, "[unknown]", SYM_F_UNKNOWN},
	    {0x7f000000200f, "stub", SYM_F_JIT},
	    {0x7f0000003010, "new", SYM_F_JIT}, /* the later line wins */
	    {0x7f0000003030, "[unknown]", SYM_F_UNKNOWN},
	    {0x7f0000004000, "[unknown]", SYM_F_UNKNOWN},
	    {0x7f0000005000, "[unknown]", SYM_F_UNKNOWN},
	    {0x7f0000006000, "py::f:/x.py", SYM_F_JIT},
	    {0x1000, "[unknown]", SYM_F_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sym_jit_lookup(s, pid, SYM_UID_UNKNOWN, cases[i].addr, &fr), 1);
		assert_string_equal(fr->name, cases[i].name);
		assert_int_equal(fr->flags, cases[i].flags);
	}
	/* No map for this pid. */
	assert_int_equal(sym_jit_lookup(s, pid - 1, SYM_UID_UNKNOWN, 0x7f0000001000, &fr), 1);
	assert_string_equal(fr->name, "[unknown]");
	sym_session_free(s);
	unlink(path);
}

/* ---- perf maps that must not be trusted ------------------------------------ */

struct pm_dir {
	char dir[64];
	char path[128]; /* dir/perf-PM_PID.map */
};

#define PM_PID	 4000000001u
#define PM_MAP	 "7f0000001000 100 jit_fn\n"
#define PM_ADDR	 0x7f0000001010ull
#define PM_OTHER 4242 /* a uid that is neither root nor the process's */

static void pm_setup(struct pm_dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/test_perfmap_XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/perf-%u.map", d->dir, PM_PID);
}

static void pm_write(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static void pm_cleanup(struct pm_dir *d)
{
	char other[160];

	snprintf(other, sizeof(other), "%s/real.map", d->dir);
	unlink(other);
	unlink(d->path);
	rmdir(d->dir);
}

/*
 * Look PM_ADDR up for a process of uid, with a 5 s alarm so that a reader
 * that blocks (a FIFO) fails the test instead of hanging it. Returns the
 * frame's name; *refused gets the session's first refusal (or "").
 */
static const char *pm_lookup(const struct pm_dir *d, uint32_t uid, uint64_t max, char *refused,
			     size_t cap)
{
	static char name[64];
	struct sym_opts o = {.perfmap_dir = d->dir, .perfmap_max = max};
	struct sym_session *s = sym_session_new(&o);
	const struct sym_frame *fr;
	const char *why;

	assert_non_null(s);
	alarm(5);
	assert_int_equal(sym_jit_lookup(s, PM_PID, uid, PM_ADDR, &fr), 1);
	alarm(0);
	snprintf(name, sizeof(name), "%s", fr->name);
	why = sym_session_refused(s, 0);
	snprintf(refused, cap, "%s", why ? why : "");
	assert_null(sym_session_refused(s, 1));
	sym_session_free(s);
	return name;
}

static void test_perfmap_trust(void **state)
{
	(void)state;
	struct pm_dir d;
	char why[512], real[160];

	pm_setup(&d);
	/* Our own regular file: read, whoever the process was. */
	pm_write(d.path, PM_MAP, 0644);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "jit_fn");
	assert_string_equal(why, "");
	assert_string_equal(pm_lookup(&d, PM_OTHER, 0, why, sizeof(why)), "jit_fn");

	/* Writable by every user: anyone could have rewritten it. */
	assert_int_equal(chmod(d.path, 0666), 0);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "writable by every user"));
	assert_non_null(strstr(why, d.path));
	assert_int_equal(chmod(d.path, 0644), 0);

	/* Larger than the limit (sym_opts, then the environment). */
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 16, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "above the limit of 16"));
	assert_non_null(strstr(why, "XPROF_PERF_MAP_MAX"));
	setenv("XPROF_PERF_MAP_MAX", "16", 1);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	setenv("XPROF_PERF_MAP_MAX", "4096", 1);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "jit_fn");
	unsetenv("XPROF_PERF_MAP_MAX");

	/* A symlink, even to a good map (and /dev/zero would never end). */
	snprintf(real, sizeof(real), "%s/real.map", d.dir);
	assert_int_equal(rename(d.path, real), 0);
	assert_int_equal(symlink(real, d.path), 0);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "symbolic link"));
	unlink(d.path);
	assert_int_equal(symlink("/dev/zero", d.path), 0);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "symbolic link"));
	unlink(d.path);

	/* A FIFO: refused at once, not waited on (the alarm fails a hang). */
	assert_int_equal(mkfifo(d.path, 0644), 0);
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "not a regular file"));
	unlink(d.path);
	pm_cleanup(&d);
}

/*
 * Another user's map names no frame of a process that ran as root (or as a
 * third user); the process's own user's map is read. Needs root to chown.
 */
static void test_perfmap_owner(void **state)
{
	(void)state;
	struct pm_dir d;
	char why[512];

	if (geteuid() != 0)
		skip();
	pm_setup(&d);
	pm_write(d.path, PM_MAP, 0644);
	assert_int_equal(chown(d.path, PM_OTHER, PM_OTHER), 0);
	assert_string_equal(pm_lookup(&d, 0, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "owned by uid 4242, not by root or uid 0"));
	assert_string_equal(pm_lookup(&d, 1000, 0, why, sizeof(why)), "[unknown]");
	/* not recorded: perf's rule, root or the reader */
	assert_string_equal(pm_lookup(&d, SYM_UID_UNKNOWN, 0, why, sizeof(why)), "[unknown]");
	assert_non_null(strstr(why, "does not say who ran the process"));
	/* the process's own user wrote it */
	assert_string_equal(pm_lookup(&d, PM_OTHER, 0, why, sizeof(why)), "jit_fn");
	assert_string_equal(why, "");
	/* root's map is trusted for any process */
	assert_int_equal(chown(d.path, 0, 0), 0);
	assert_string_equal(pm_lookup(&d, PM_OTHER, 0, why, sizeof(why)), "jit_fn");
	pm_cleanup(&d);
}

static void test_perfmap_parse_empty(void **state)
{
	(void)state;
	struct sym_perfmap m = {0};

	assert_int_equal(sym_perfmap_parse(&m, "", 0), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(sym_perfmap_find(&m, 0), -1);
	sym_perfmap_release(&m);
	assert_int_equal(sym_perfmap_parse(&m, "ffffffffffffff00 1000 wraps\n", 28), 0);
	assert_int_equal(m.n, 0);
	sym_perfmap_release(&m);
}

/* ---- the on-disk symbol index ---------------------------------------------- */

struct addrs {
	char *path;
	uint64_t *a;
	size_t n;
};

/* n addresses spread over path's .text (inside and between functions). */
static void text_addrs(struct addrs *out, const char *path, size_t n)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	uint64_t lo = 0, size = 0;

	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) &&
		    !strcmp(elf_strptr(elf, shstrndx, sh.sh_name), ".text")) {
			lo = sh.sh_addr;
			size = sh.sh_size;
		}
	}
	elf_end(elf);
	close(fd);
	assert_true(size > 0);
	out->path = strdup(path); /* prog() reuses its buffer */
	assert_non_null(out->path);
	out->a = malloc(n * sizeof(*out->a));
	assert_non_null(out->a);
	out->n = n;
	/* a fixed LCG: the same addresses every run */
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		out->a[i] = lo + (n <= size ? (x >> 11) % size : i % size);
	}
}

/* Frames of every address: one line per frame, for comparing sessions. */
static char *frames_text(const struct sym_opts *o, const struct addrs *in, size_t nin,
			 struct sym_index_stats *st)
{
	struct sym_session *s = sym_session_new(o);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(s);
	assert_non_null(fp);
	for (size_t i = 0; i < nin; i++) {
		struct sym_file *f = sym_file_get(s, in[i].path, NULL, 0);

		assert_non_null(f);
		for (size_t j = 0; j < in[i].n; j++) {
			const struct sym_frame *fr;
			int n = sym_file_lookup(s, f, in[i].a[j], &fr);

			assert_true(n >= 1);
			fprintf(fp, "%zu:%" PRIx64 "\n", i, in[i].a[j]);
			for (int k = 0; k < n; k++)
				fprintf(fp, "\t%s\t%s:%u\t%x\n", fr[k].name,
					fr[k].file ? fr[k].file : "(null)", fr[k].line,
					fr[k].flags);
		}
	}
	if (st)
		sym_session_index_stats(s, st);
	sym_session_free(s);
	fclose(fp);
	return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *make_cache_dir(void)
{
	char *dir = strdup("/tmp/sym_unit_cache_XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rm_cache_dir(char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Reports the first differing line, which a bare assert would not. */
static void assert_same_text(const char *want, const char *got)
{
	if (strcmp(want, got)) {
		size_t i = 0, line = 1;

		while (want[i] && want[i] == got[i])
			line += want[i++] == '\n';
		print_error("frames differ at line %zu:\n  want: %.120s\n  got:  %.120s\n", line,
			    want + i, got + i);
		fail();
	}
}

/*
 * A long-running session writes each symbol index back at sym_session_trim()
 * (its window boundaries), not only when the file is closed: a second
 * session started meanwhile answers from it without opening libdw.
 */
static void test_index_written_at_trim(void **state)
{
	(void)state;
	struct addrs in;
	char *dir = make_cache_dir();
	struct sym_opts o = {.no_debuginfod = true, .cache_dir = dir};
	struct sym_index_stats st;
	struct sym_session *s = sym_session_new(&o), *s2;
	const struct sym_frame *fr;

	text_addrs(&in, prog("sym_target"), 200);
	struct sym_file *f = sym_file_get(s, in.path, NULL, 0);

	assert_non_null(f);
	for (size_t i = 0; i < in.n; i++)
		assert_true(sym_file_lookup(s, f, in.a[i], &fr) >= 1);
	sym_session_index_stats(s, &st);
	assert_true(st.cus_built > 0);
	assert_int_equal(st.index_written, 0); /* nothing on disk yet */
	sym_session_trim(s, SIZE_MAX);	       /* a window ends; f stays held */
	sym_session_index_stats(s, &st);
	assert_int_equal(st.index_written, 1);

	s2 = sym_session_new(&o);
	struct sym_file *f2 = sym_file_get(s2, in.path, NULL, 0);

	assert_non_null(f2);
	for (size_t i = 0; i < in.n; i++)
		assert_true(sym_file_lookup(s2, f2, in.a[i], &fr) >= 1);
	sym_session_index_stats(s2, &st);
	assert_int_equal(st.index_loaded, 1);
	assert_int_equal(st.dwarf_opened, 0);
	/* Nothing new since: the next trim writes nothing. */
	sym_session_trim(s, SIZE_MAX);
	sym_session_index_stats(s, &st);
	assert_int_equal(st.index_written, 1);
	sym_session_free(s2);
	sym_session_free(s);
	free(in.a);
	free(in.path);
	rm_cache_dir(dir);
}

/* Resident KiB of the mapping that starts at addr (/proc/self/smaps), -1 if none. */
static long vma_rss_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	long kb = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo;

		if (sscanf(line, "%lx-", &lo) == 1 && strchr(line, ' ') > strchr(line, '-')) {
			in = lo == (uintptr_t)addr;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* The type of elf's section called name, SHT_NULL if none. */
static unsigned section_type(Elf *elf, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    !strcmp(n, name))
			return sh.sh_type;
	}
	return SHT_NULL;
}

/* A copy of src in dir, pad zero bytes longer (valid ELF: nothing reads past the tables). */
static char *padded_copy(const char *src, const char *dir, size_t pad)
{
	char *dst = NULL, buf[65536];
	FILE *in = fopen(src, "rb"), *out;
	size_t n;

	assert_non_null(in);
	assert_true(asprintf(&dst, "%s/%s", dir, strrchr(src, '/') + 1) > 0);
	out = fopen(dst, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	memset(buf, 0, sizeof(buf));
	for (; pad; pad -= n) {
		n = pad < sizeof(buf) ? pad : sizeof(buf);
		assert_int_equal(fwrite(buf, 1, n, out), n);
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	return dst;
}

/*
 * sym_session_pageout() takes the pages the symbolizer read out of its
 * resident memory (an agent calls it every window), and nothing changes:
 * later lookups answer as a session that never did, and the section headers
 * dwarf.c hid stay hidden (DONTNEED on the whole private mapping would undo
 * that edit). The file is sym_cxx (DWARF inside) padded so that its section
 * headers do not sit in the file's last, partial page, which no madvise drops.
 */
static void test_pageout(void **state)
{
	(void)state;
	struct addrs in;
	struct sym_opts o = {.lines = true, .no_debuginfod = true, .debug_root = "/nonexistent"};
	char *dir = make_cache_dir(), *path = padded_copy(prog("sym_cxx"), dir, 1 << 16);
	struct sym_session *s = sym_session_new(&o);
	char *buf = NULL, *want;
	size_t len = 0, half;
	FILE *fp = open_memstream(&buf, &len);

	text_addrs(&in, path, 2000);
	want = frames_text(&o, &in, 1, NULL);
	assert_non_null(s);
	assert_non_null(fp);
	struct sym_file *f = sym_file_get(s, in.path, NULL, 0);

	assert_non_null(f);
	assert_non_null(f->elf);
	half = in.n / 2;
	for (size_t j = 0; j < in.n; j++) {
		const struct sym_frame *fr;
		int n;

		if (j == half || j == half + half / 2) {
			size_t rawlen;
			char *raw = elf_rawfile(f->elf, &rawlen);
			long before = vma_rss_kb(raw), after;

			assert_ptr_equal(f->dwarf_elf, f->elf);
			assert_non_null(f->dwarf); /* DWARF opened: unused sections hidden */
			assert_int_equal(section_type(f->elf, ".debug_aranges"), SHT_NOBITS);
			if (j == half)
				sym_file_pageout(f); /* the file alone, then the session's */
			else
				sym_session_pageout(s);
			after = vma_rss_kb(raw);
			print_message("pageout: %ld -> %ld KiB resident\n", before, after);
			assert_true(before >= (j == half ? 32 : 16));
			/* the ELF header's page and the section headers' two stay */
			assert_true(after <= 12);
			assert_int_equal(section_type(f->elf, ".debug_aranges"), SHT_NOBITS);
		}
		n = sym_file_lookup(s, f, in.a[j], &fr);
		assert_true(n >= 1);
		fprintf(fp, "%d:%" PRIx64 "\n", 0, in.a[j]);
		for (int k = 0; k < n; k++)
			fprintf(fp, "\t%s\t%s:%u\t%x\n", fr[k].name,
				fr[k].file ? fr[k].file : "(null)", fr[k].line, fr[k].flags);
	}
	fclose(fp);
	assert_same_text(want, buf);
	sym_file_pageout(NULL);
	sym_file_put(s, f);
	sym_session_free(s);
	free(buf);
	free(want);
	free(in.a);
	free(in.path);
	free(path);
	rm_cache_dir(dir);
}

static void test_index_identical(void **state)
{
	(void)state;
	struct addrs in[3];
	size_t nin = 0;
	char *dir = make_cache_dir();
	struct sym_opts o = {.lines = true, .no_debuginfod = true};
	struct sym_index_stats st1, st2, st0;

	text_addrs(&in[nin++], prog("sym_target"), 3000);
	text_addrs(&in[nin++], prog("sym_cxx"), 3000);
	/* libc with libc6-dbg: names, inline chains and lines of a big library */
	if (!access("/lib/x86_64-linux-gnu/libc.so.6", R_OK) &&
	    !access("/usr/lib/debug/.build-id", R_OK))
		text_addrs(&in[nin++], "/lib/x86_64-linux-gnu/libc.so.6", 6000);

	char *none = frames_text(&o, in, nin, &st0);

	assert_int_equal(st0.index_loaded + st0.index_written, 0);
	o.cache_dir = dir;
	char *first = frames_text(&o, in, nin, &st1);

	assert_int_equal(st1.index_loaded, 0);
	assert_true(st1.cus_built > 0);
	char *second = frames_text(&o, in, nin, &st2);

	print_message("index: first %u built %u opened; second %u loaded %u rejected %u/%u from "
		      "index %u built %u opened\n",
		      st1.cus_built, st1.dwarf_opened, st2.index_loaded, st2.index_rejected,
		      st2.cus_rejected, st2.cus_from_index, st2.cus_built, st2.dwarf_opened);
	/* The second session answers every CU from the index: libdw is never opened. */
	assert_int_equal(st2.index_loaded, nin);
	assert_int_equal(st2.index_rejected + st2.cus_rejected, 0);
	assert_int_equal(st2.dwarf_opened, 0);
	assert_int_equal(st2.cus_built, 0);
	assert_int_equal(st2.cus_from_index, st1.cus_built);
	/* The symbol tables too. */
	assert_int_equal(st1.symtab_written, nin);
	assert_int_equal(st2.symtab_loaded, nin);
	assert_int_equal(st2.symtab_rejected + st2.symtab_written, 0);
	assert_same_text(none, first);
	assert_same_text(none, second);

	/* An index made without lines lacks rows: a session with lines rebuilds
	 * those CUs from DWARF and answers as before. */
	rm_cache_dir(dir);
	dir = make_cache_dir();
	o.cache_dir = dir;
	o.lines = false;
	char *nolines_none = frames_text(&(struct sym_opts){.no_debuginfod = true}, in, 2, NULL);
	char *nolines = frames_text(&o, in, 2, NULL);
	char *nolines2 = frames_text(&o, in, 2, &st2);

	assert_same_text(nolines_none, nolines);
	assert_same_text(nolines_none, nolines2);
	assert_int_equal(st2.dwarf_opened, 0);
	o.lines = true;
	char *again = frames_text(&o, in, 2, &st2);

	assert_true(st2.cus_built > 0);
	assert_int_equal(st2.dwarf_opened, 2);
	assert_true(!strncmp(none, again, strlen(again)));

	for (size_t i = 0; i < nin; i++) {
		free(in[i].a);
		free(in[i].path);
	}
	free(none);
	free(first);
	free(second);
	free(nolines_none);
	free(nolines);
	free(nolines2);
	free(again);
	rm_cache_dir(dir);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	rewind(fp);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

static void spill(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

static void test_index_corrupt(void **state)
{
	(void)state;
	struct addrs in;
	char *dir = make_cache_dir();
	struct sym_opts o = {.lines = true, .no_debuginfod = true};
	struct sym_index_stats st;
	char path[PATH_MAX], id[128] = "";
	FILE *p;

	text_addrs(&in, prog("sym_target"), 2000);
	char *want = frames_text(&o, &in, 1, NULL);

	o.cache_dir = dir;
	free(frames_text(&o, &in, 1, NULL));
	snprintf(path, sizeof(path), "readelf -n %s | awk '/Build ID/{print $3}'", in.path);
	p = popen(path, "r");
	assert_non_null(p);
	assert_non_null(fgets(id, sizeof(id), p));
	pclose(p);
	id[strcspn(id, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/sym-v%d/%s", dir, SYM_INDEX_VERSION, id);

	size_t len;
	uint8_t *good = slurp(path, &len);
	uint8_t *bad = malloc(len);
	uint32_t nranges, ncus;
	uint64_t rec_off = 0;
	uint32_t rec_len = 0;

	assert_non_null(bad);
	/* header: magic[8] version hdr_size file_size src_id ncus nranges pad crc */
	memcpy(&ncus, good + 32, 4);
	memcpy(&nranges, good + 36, 4);
	for (uint32_t i = 0; i < ncus && !rec_off; i++) {
		memcpy(&rec_off, good + 48 + (size_t)nranges * 24 + (size_t)i * 16, 8);
		memcpy(&rec_len, good + 48 + (size_t)nranges * 24 + (size_t)i * 16 + 8, 4);
	}
	assert_true(rec_off > 0 && rec_len > 24);
	static const struct {
		const char *what;
		int trunc;  /* bytes kept: -1 all, else len * trunc / 8 */
		long flip;  /* byte to flip: >= 0 absolute, -1 none, -2 record start, -3 record
			       middle */
		bool whole; /* the whole file is rejected (not only one record) */
	} cases[] = {
	    {"empty", 0, -1, true},	      {"half", 4, -1, true},
	    {"magic", -1, 0, true},	      {"version", -1, 8, true},
	    {"size", -1, 16, true},	      {"range table", -1, 50, true},
	    {"record header", -1, -2, false}, {"record middle", -1, -3, false},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].trunc < 0 ? len : len * (size_t)cases[c].trunc / 8;
		long at = cases[c].flip == -2	? (long)rec_off
			  : cases[c].flip == -3 ? (long)(rec_off + rec_len / 2)
						: cases[c].flip;

		memcpy(bad, good, len);
		if (at >= 0)
			bad[at] ^= 0x41;
		spill(path, bad, n);
		char *got = frames_text(&o, &in, 1, &st);

		print_message("corrupt index (%s): rejected %u, records rejected %u\n",
			      cases[c].what, st.index_rejected, st.cus_rejected);
		assert_same_text(want, got);
		free(got);
		if (cases[c].whole)
			assert_int_equal(st.index_rejected, 1);
		else
			assert_int_equal(st.cus_rejected, 1);
		assert_int_equal(st.dwarf_opened, 1);
		/* Rebuilt: the next session reads it and opens no DWARF. */
		got = frames_text(&o, &in, 1, &st);
		assert_same_text(want, got);
		free(got);
		assert_int_equal(st.index_loaded, 1);
		assert_int_equal(st.index_rejected + st.cus_rejected + st.dwarf_opened, 0);
	}
	/* The symbol table file: truncated, or a byte flipped in its header,
	 * symbols or names, is rejected, rebuilt and rewritten. */
	char sympath[PATH_MAX + 16];

	snprintf(sympath, sizeof(sympath), "%s.symtab", path);
	free(good);
	good = slurp(sympath, &len);
	free(bad);
	bad = malloc(len);
	assert_non_null(bad);
	static const struct {
		const char *what;
		size_t keep_num, keep_den; /* bytes kept: len * num / den */
		double flip;		   /* < 0: none, else at len * flip */
	} scases[] = {
	    {"empty", 0, 1, -1}, {"half", 1, 2, -1},	 {"one short", 0, 0, -1},
	    {"magic", 1, 1, 0},	 {"symbols", 1, 1, 0.3}, {"last name", 1, 1, 0.9999},
	};

	for (size_t c = 0; c < sizeof(scases) / sizeof(scases[0]); c++) {
		size_t n =
		    scases[c].keep_den ? len * scases[c].keep_num / scases[c].keep_den : len - 1;

		memcpy(bad, good, len);
		if (scases[c].flip >= 0)
			bad[(size_t)((double)len * scases[c].flip)] ^= 0x41;
		spill(sympath, bad, n);
		char *got = frames_text(&o, &in, 1, &st);

		print_message("corrupt symtab (%s): rejected %u\n", scases[c].what,
			      st.symtab_rejected);
		assert_same_text(want, got);
		free(got);
		assert_int_equal(st.symtab_rejected, 1);
		assert_int_equal(st.symtab_written, 1);
		got = frames_text(&o, &in, 1, &st);
		assert_same_text(want, got);
		free(got);
		assert_int_equal(st.symtab_loaded, 1);
		assert_int_equal(st.symtab_rejected, 0);
	}
	/* A newer version's file beside ours is never read: another directory. */
	snprintf(path, sizeof(path), "%s/sym-v%d", dir, SYM_INDEX_VERSION + 1);
	assert_int_equal(access(path, F_OK), -1);
	free(good);
	free(bad);
	free(want);
	free(in.a);
	free(in.path);
	rm_cache_dir(dir);
}

/* The loader on its own: every prefix of a real index, and every single byte flipped. */
static void test_index_loader(void **state)
{
	(void)state;
	static const struct sym_iv iv[] = {{0x10, 0x40, 0, -1}, {0x20, 0x30, 1, 0}};
	static const struct sym_row rows[] = {{0x10, 0, 7}, {0x28, 0, 9}, {0x40, SYM_END_SEQ, 0}};
	static const struct sym_node nodes[] = {{4, SYM_NO_STR, 0, -1, 0},
						{6, 0, 8, 0, SYM_NODE_INLINED}};
	static const char strs[] = "a.c\0f\0g";
	const struct sym_cu_data cu = {iv, rows, nodes, strs, 2, 3, 2, sizeof(strs), true};
	const struct sym_cu_data *cus[] = {&cu, NULL};
	const struct sym_cu_range ranges[] = {{0x10, 0x40, 0, 0}, {0x50, 0x60, 1, 0}};
	struct sym_index ix;
	struct sym_cu_data got;
	void *buf;
	size_t len;

	assert_int_equal(sym_index_serialize(42, ranges, 2, cus, 2, &buf, &len), 0);
	assert_int_equal(sym_index_from_buf(&ix, buf, len, 42), 0);
	assert_int_equal(sym_index_cu(&ix, 0, &got), 0);
	assert_int_equal(sym_index_cu(&ix, 1, &got), -ENOENT);
	assert_int_equal(sym_index_cu(&ix, 0, &got), 0);
	/* Lookups, including the edges: first and last row, a gap, the terminator. */
	assert_int_equal(sym_cu_find_iv(&got, 0x0f), -1);
	assert_int_equal(sym_cu_find_iv(&got, 0x10), 0);
	assert_int_equal(sym_cu_find_iv(&got, 0x2f), 1);
	assert_int_equal(sym_cu_find_iv(&got, 0x30), 0);
	assert_int_equal(sym_cu_find_iv(&got, 0x40), -1);
	assert_null(sym_cu_find_row(&got, 0x0f));
	assert_int_equal(sym_cu_find_row(&got, 0x27)->line, 7);
	assert_int_equal(sym_cu_find_row(&got, 0x28)->line, 9);
	assert_null(sym_cu_find_row(&got, 0x40));
	assert_string_equal(sym_cu_str(&got, got.nodes[1].name), "g");
	assert_null(sym_cu_str(&got, got.nodes[0].call_file));
	sym_index_release(&ix);
	assert_int_equal(sym_index_from_buf(&ix, buf, len, 43), -EINVAL); /* another source */
	for (size_t n = 0; n < len; n++) {
		int err = sym_index_from_buf(&ix, buf, n, 42);

		assert_int_equal(err, -EINVAL);
	}
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		b[i] ^= 0x10;
		if (sym_index_from_buf(&ix, buf, len, 42) == 0) {
			/* only the record's CRC can catch it; padding may not matter */
			int err = sym_index_cu(&ix, 0, &got);

			assert_true(err == 0 || err == -EINVAL);
			if (err == 0)
				assert_int_equal(memcmp(got.iv, iv, sizeof(iv)), 0);
			sym_index_release(&ix);
		}
		b[i] ^= 0x10;
	}
	free(buf);
}

/*
 * The index's line rows against libdw itself: for every address, the
 * innermost frame has dwarf_getsrc_die's line (0 when it has none), the
 * answer the rows replaced. Compressing rows must not change one.
 */
static void test_index_lines_oracle(void **state)
{
	(void)state;
	const char *names[] = {"sym_target", "sym_cxx"};

	for (size_t p = 0; p < 2; p++) {
		struct addrs in;
		char *dir = make_cache_dir();
		struct sym_opts o = {.lines = true, .no_debuginfod = true, .cache_dir = dir};
		size_t checked = 0;

		text_addrs(&in, prog(names[p]), 4000);
		int fd = open(in.path, O_RDONLY);
		Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);

		assert_non_null(dw);
		/* twice: built from DWARF, then read from the index */
		for (int round = 0; round < 2; round++) {
			struct sym_session *s = sym_session_new(&o);
			struct sym_file *f = sym_file_get(s, in.path, NULL, 0);

			for (size_t i = 0; i < in.n; i++) {
				Dwarf_Die cu;
				Dwarf_Line *l = NULL;
				int ln = 0;
				const struct sym_frame *fr;

				if (dwarf_addrdie(dw, in.a[i], &cu))
					l = dwarf_getsrc_die(&cu, in.a[i]);
				if (l && (dwarf_lineno(l, &ln) || ln < 0))
					ln = 0;
				assert_true(sym_file_lookup(s, f, in.a[i], &fr) >= 1);
				if (fr[0].line != (uint32_t)ln)
					print_error("%s 0x%" PRIx64 ": line %u, libdw %d\n",
						    names[p], in.a[i], fr[0].line, ln);
				assert_int_equal(fr[0].line, ln);
				if (ln) {
					const char *want =
					    strrchr(dwarf_linesrc(l, NULL, NULL), '/');

					assert_non_null(fr[0].file);
					assert_non_null(want);
					assert_string_equal(strrchr(fr[0].file, '/'), want);
					checked++;
				}
			}
			sym_session_free(s);
		}
		assert_true(checked > in.n);
		dwarf_end(dw);
		close(fd);
		free(in.a);
		free(in.path);
		rm_cache_dir(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alias_rule),
	    cmocka_unit_test(test_symbols),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_inlines),
	    cmocka_unit_test(test_demangle),
	    cmocka_unit_test(test_demangle_table),
	    cmocka_unit_test(test_unknown_files),
	    cmocka_unit_test(test_vdso),
	    cmocka_unit_test(test_fde_functions),
	    cmocka_unit_test(test_vdso_fde),
	    cmocka_unit_test(test_kallsyms),
	    cmocka_unit_test(test_perfmap),
	    cmocka_unit_test(test_perfmap_parse_empty),
	    cmocka_unit_test(test_perfmap_trust),
	    cmocka_unit_test(test_perfmap_owner),
	    cmocka_unit_test(test_index_loader),
	    cmocka_unit_test(test_index_identical),
	    cmocka_unit_test(test_index_written_at_trim),
	    cmocka_unit_test(test_pageout),
	    cmocka_unit_test(test_index_corrupt),
	    cmocka_unit_test(test_index_lines_oracle),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
