// SPDX-License-Identifier: MIT
/*
 * Unit tests for symbolize/: alias choice, symbol sizes and zero-size
 * symbols, IFUNCs, inline chains and lines on the purpose-built sym_target
 * (its symbol addresses read independently with libelf), C++ demangling on
 * sym_cxx, the vDSO from memory, unknown fallbacks, build-id mismatch, the
 * per-address cache, kallsyms and perf-map parsing edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
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

/* Start of the first function symbol above addr. */
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

			if (gelf_getsym(d, (int)i, &s) &&
			    (GELF_ST_TYPE(s.st_info) == STT_FUNC ||
			     GELF_ST_TYPE(s.st_info) == STT_GNU_IFUNC) &&
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
		assert_int_equal(sym_jit_lookup(s, pid, cases[i].addr, &fr), 1);
		assert_string_equal(fr->name, cases[i].name);
		assert_int_equal(fr->flags, cases[i].flags);
	}
	/* No map for this pid. */
	assert_int_equal(sym_jit_lookup(s, pid - 1, 0x7f0000001000, &fr), 1);
	assert_string_equal(fr->name, "[unknown]");
	sym_session_free(s);
	unlink(path);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alias_rule),	   cmocka_unit_test(test_symbols),
	    cmocka_unit_test(test_inlines),	   cmocka_unit_test(test_demangle),
	    cmocka_unit_test(test_demangle_table), cmocka_unit_test(test_unknown_files),
	    cmocka_unit_test(test_vdso),	   cmocka_unit_test(test_kallsyms),
	    cmocka_unit_test(test_perfmap),	   cmocka_unit_test(test_perfmap_parse_empty),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
