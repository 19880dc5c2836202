// SPDX-License-Identifier: MIT
/*
 * Benchmark of the unwind tables, run by bench/bench_tables.sh:
 *   tables_bench gen FILE RUNS       table generation from the ELF file (no cache)
 *   tables_bench warm FILE RUNS      loading the table from a filled cache
 *   tables_bench lookup FILE RUNS    ns per unw_table_lookup() at random covered addresses
 *   tables_bench libdw FILE RUNS     ns per dwarf_cfi_addrframe() at the same addresses
 * Each prints the median and the minimum of RUNS repetitions:
 * "<name> <median> <unit> (min <min>)".
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "unwind/unwind_int.h"

#define NADDR 1000000

/* Sorts v; v[0] is then the minimum, which a loaded machine disturbs least. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Random addresses inside the table's covered span (xorshift: reproducible). */
static uint64_t *addresses(const struct unw_table *t, size_t n)
{
	uint64_t lo, hi, x = 88172645463325252ull;
	struct unw_rule r;
	uint64_t *a = malloc(n * sizeof(*a));

	if (!a || unw_table_count(t) < 2)
		exit(1);
	unw_table_row(t, 0, &lo, &r);
	unw_table_row(t, unw_table_count(t) - 1, &hi, &r);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a[i] = lo + x % (hi - lo);
	}
	return a;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: tables_bench gen|warm|lookup|libdw FILE RUNS\n");
		return 2;
	}
	const char *mode = argv[1], *file = argv[2];
	double med;
	int runs = atoi(argv[3]);
	double *v = calloc((size_t)(runs > 0 ? runs : 1), sizeof(*v));
	struct unw_table *t = unw_table_from_elf(file, NULL, NULL);

	if (runs <= 0 || !v || !t) {
		fprintf(stderr, "tables_bench: cannot build the table of '%s'\n", file);
		return 1;
	}
	if (!strcmp(mode, "gen")) {
		for (int i = 0; i < runs; i++) {
			double t0 = bench_now_ns();
			struct unw_table *x = unw_table_from_elf(file, NULL, NULL);

			v[i] = (bench_now_ns() - t0) / 1e6;
			unw_table_free(x);
		}
		med = median(v, runs);
		printf("gen %.3f ms (min %.3f)\n", med, v[0]);
	} else if (!strcmp(mode, "warm")) {
		char dir[] = "/tmp/xprof-bench.XXXXXX", cmd[64];

		if (!mkdtemp(dir))
			return 1;
		struct unw_cache *c = unw_cache_new(dir);

		if (!c || !unw_cache_get(c, file, NULL, 0))
			return 1;
		unw_cache_free(c);
		for (int i = 0; i < runs; i++) {
			double t0 = bench_now_ns();
			struct unw_cache_stats st;

			c = unw_cache_new(dir);
			if (!unw_cache_get(c, file, NULL, 0))
				return 1;
			v[i] = (bench_now_ns() - t0) / 1e6;
			unw_cache_get_stats(c, &st);
			if (st.disk_hits != 1)
				return 1;
			unw_cache_free(c);
		}
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return 1;
		med = median(v, runs);
		printf("warm %.3f ms (min %.3f)\n", med, v[0]);
	} else if (!strcmp(mode, "lookup")) {
		uint64_t *a = addresses(t, NADDR);
		volatile unsigned sink = 0;

		for (int i = 0; i < runs; i++) {
			struct unw_rule r;
			double t0 = bench_now_ns();

			for (size_t k = 0; k < NADDR; k++) {
				unw_table_lookup(t, a[k], &r);
				sink += r.type;
			}
			v[i] = (bench_now_ns() - t0) / NADDR;
		}
		free(a);
		med = median(v, runs);
		printf("lookup %.1f ns (min %.1f)\n", med, v[0]);
	} else if (!strcmp(mode, "libdw")) {
		size_t n = NADDR / 10;
		uint64_t *a = addresses(t, n);
		int fd = open(file, O_RDONLY);
		Elf *elf;
		Dwarf_CFI *cfi;

		elf_version(EV_CURRENT);
		elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
		cfi = elf ? dwarf_getcfi_elf(elf) : NULL;
		if (!cfi)
			return 1;
		for (int i = 0; i < runs; i++) {
			double t0 = bench_now_ns();

			for (size_t k = 0; k < n; k++) {
				Dwarf_Frame *fr;

				if (dwarf_cfi_addrframe(cfi, a[k], &fr) == 0)
					free(fr);
			}
			v[i] = (bench_now_ns() - t0) / (double)n;
		}
		dwarf_cfi_end(cfi);
		elf_end(elf);
		close(fd);
		free(a);
		med = median(v, runs);
		printf("libdw %.1f ns (min %.1f)\n", med, v[0]);
	} else {
		fprintf(stderr, "tables_bench: unknown mode '%s'\n", mode);
		return 2;
	}
	unw_table_free(t);
	free(v);
	return 0;
}
