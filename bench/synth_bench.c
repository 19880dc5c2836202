// SPDX-License-Identifier: MIT
/*
 * Cost of the machine-code analyser (unwind/synth.c), run by
 * bench/bench_synth.sh:
 *   synth_bench FILE RUNS
 * analyses every function-entry FDE range of FILE's .eh_frame (as
 * test_unwind_synth compares them) and, as the reference in the same run,
 * interprets the whole .eh_frame with the CFI reader; the two are
 * interleaved RUNS times. Times are the thread's CPU time (the machine is
 * shared: wall time is mostly waiting for a CPU). Prints the medians:
 * "<functions> <us per function> <FDEs> <us per FDE>".
 */
#include <fcntl.h>
#include <inttypes.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "unwind/unwind_int.h"

#define MAX_RUNS 101

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct fn {
	const uint8_t *code;
	uint64_t start, len;
};

int main(int argc, char **argv)
{
	static double t_syn[MAX_RUNS], t_cfi[MAX_RUNS];
	int runs = argc > 2 ? atoi(argv[2]) : 7, fd;
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx, nfn = 0;
	const uint8_t *eh = NULL;
	size_t eh_len = 0;
	uint64_t eh_addr = 0, nfdes = 0;
	struct fn *fns = NULL;
	struct unw_synth *sy = unw_synth_new();

	if (argc < 2 || runs < 1 || runs > MAX_RUNS || !sy) {
		fprintf(stderr, "usage: synth_bench FILE [RUNS <= %d]\n", MAX_RUNS);
		return 2;
	}
	elf_version(EV_CURRENT);
	fd = open(argv[1], O_RDONLY);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	if (!elf || elf_getshdrstrndx(elf, &shstrndx)) {
		fprintf(stderr, "synth_bench: cannot read '%s'\n", argv[1]);
		return 1;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (gelf_getshdr(scn, &sh) && (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    !strcmp(name, ".eh_frame") && (d = elf_getdata(scn, NULL))) {
			eh = d->d_buf;
			eh_len = d->d_size;
			eh_addr = sh.sh_addr;
		}
	}
	struct unw_gen_stats st = {0};
	struct unw_cfi cfi = {.stats = &st};

	if (!eh || unw_cfi_read(&cfi, UNW_CFI_EH_FRAME, eh, eh_len, eh_addr, 0)) {
		fprintf(stderr, "synth_bench: no .eh_frame in '%s'\n", argv[1]);
		return 1;
	}
	nfdes = cfi.nfdes;
	fns = calloc(cfi.nfdes ? cfi.nfdes : 1, sizeof(*fns));
	if (!fns)
		return 1;
	/* the function entries test_unwind_synth compares: CFA = rsp + 8, 16-byte aligned */
	for (size_t i = 0; i < cfi.nfdes; i++) {
		const struct unw_cfi_fde *f = &cfi.fdes[i];
		const struct unw_rule *r0 = f->nrows ? &cfi.rows[f->first_row].rule : NULL;

		if (!r0 || r0->type != UNW_RULE_CFA || r0->cfa_reg != 7 || r0->cfa_off != 8 ||
		    f->start % 16)
			continue;
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;

			if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) ||
			    sh.sh_type != SHT_PROGBITS || f->start < sh.sh_addr ||
			    f->end > sh.sh_addr + sh.sh_size || !(d = elf_getdata(scn, NULL)))
				continue;
			fns[nfn++] =
			    (struct fn){(const uint8_t *)d->d_buf + (f->start - sh.sh_addr),
					f->start, f->end - f->start};
			break;
		}
	}
	unw_cfi_release(&cfi);
	for (int r = 0; r < runs; r++) {
		double t0 = cpu_ns();
		struct unw_gen_stats st2 = {0};
		struct unw_cfi c2 = {.stats = &st2};

		if (unw_cfi_read(&c2, UNW_CFI_EH_FRAME, eh, eh_len, eh_addr, 0))
			return 1;
		unw_cfi_release(&c2);
		t_cfi[r] = (cpu_ns() - t0) / 1e3 / (double)(nfdes ? nfdes : 1);
		t0 = cpu_ns();
		for (size_t i = 0; i < nfn; i++)
			if (unw_synth_analyse(sy, fns[i].code, fns[i].len, fns[i].start) < 0)
				return 1;
		t_syn[r] = (cpu_ns() - t0) / 1e3 / (double)(nfn ? nfn : 1);
	}
	printf("%zu %.2f %" PRIu64 " %.3f\n", nfn, median(t_syn, runs), nfdes, median(t_cfi, runs));
	free(fns);
	unw_synth_free(sy);
	elf_end(elf);
	close(fd);
	return 0;
}
