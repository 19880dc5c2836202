// SPDX-License-Identifier: MIT
/*
 * sym_lookup: prints what symbolize/ makes of addresses, for the end-to-end
 * tests (compared with addr2line and nm) and by hand.
 *
 *   sym_lookup [-l] [-n] [-N] [-D] [-r DEBUG_ROOT] [-c CACHE_DIR] [-s] -e FILE [ADDR...]
 *   sym_lookup -k KALLSYMS ADDR...        kernel addresses
 *   sym_lookup -j PID [-m DIR] ADDR...    JIT addresses (perf-PID.map)
 *
 * -l lines, -n no inlines, -N no demangling, -D no debuginfod, -c the cache
 * root for the symbol index (sym_opts.cache_dir), -s print the debug source
 * first. Addresses (hex) come from the arguments or, if none,
 * from stdin one per line. Output per address: "ADDR" then one line per
 * frame, innermost first: "\tNAME\tFILE:LINE\tFLAGS" (FLAGS of i k j u).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/symbolize.h"

static void print(uint64_t addr, const struct sym_frame *fr, int n)
{
	printf("0x%" PRIx64 "\n", addr);
	for (int i = 0; i < n; i++) {
		char flags[8], *p = flags;

		if (fr[i].flags & SYM_F_INLINED)
			*p++ = 'i';
		if (fr[i].flags & SYM_F_KERNEL)
			*p++ = 'k';
		if (fr[i].flags & SYM_F_JIT)
			*p++ = 'j';
		if (fr[i].flags & SYM_F_UNKNOWN)
			*p++ = 'u';
		*p = '\0';
		printf("\t%s\t%s:%u\t%s\n", fr[i].name, fr[i].file ? fr[i].file : "??", fr[i].line,
		       flags);
	}
}

int main(int argc, char **argv)
{
	struct sym_opts opts = {0};
	const char *file = NULL;
	long pid = -1;
	bool kernel = false, source = false;
	int c;

	while ((c = getopt(argc, argv, "lnNDr:c:e:k:j:m:s")) != -1) {
		switch (c) {
		case 'l':
			opts.lines = true;
			break;
		case 'n':
			opts.no_inline = true;
			break;
		case 'N':
			opts.no_demangle = true;
			break;
		case 'D':
			opts.no_debuginfod = true;
			break;
		case 'r':
			opts.debug_root = optarg;
			break;
		case 'c':
			opts.cache_dir = optarg;
			break;
		case 'e':
			file = optarg;
			break;
		case 'k':
			opts.kallsyms = optarg;
			kernel = true;
			break;
		case 'j':
			pid = strtol(optarg, NULL, 10);
			break;
		case 'm':
			opts.perfmap_dir = optarg;
			break;
		case 's':
			source = true;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: sym_lookup [-lnNDs] [-r ROOT] [-c DIR] -e FILE | -k KALLSYMS | "
			    "-j PID [-m DIR] [ADDR...]\n");
			return 2;
		}
	}
	if (!file && !kernel && pid < 0) {
		fprintf(stderr, "sym_lookup: need -e FILE, -k KALLSYMS or -j PID\n");
		return 2;
	}
	struct sym_session *s = sym_session_new(&opts);

	if (!s) {
		fprintf(stderr, "sym_lookup: %s\n", strerror(errno));
		return 1;
	}
	struct sym_file *f = file ? sym_file_get(s, file, NULL, 0) : NULL;

	if (file && !f) {
		fprintf(stderr, "sym_lookup: %s\n", strerror(errno));
		return 1;
	}
	if (source && f)
		printf("source: %s\n", sym_file_debug_source(f));
	char line[256];
	int ai = optind;

	for (;;) {
		const char *arg;

		if (optind < argc) {
			if (ai >= argc)
				break;
			arg = argv[ai++];
		} else {
			if (!fgets(line, sizeof(line), stdin))
				break;
			arg = line;
		}
		char *end;
		uint64_t addr = strtoull(arg, &end, 16);

		if (end == arg)
			continue;
		const struct sym_frame *fr;
		int n;

		if (kernel)
			n = sym_kernel_lookup(s, addr, &fr);
		else if (pid >= 0)
			n = sym_jit_lookup(s, (uint32_t)pid, SYM_UID_UNKNOWN, addr, &fr);
		else
			n = sym_file_lookup(s, f, addr, &fr);
		if (n < 0) {
			fprintf(stderr, "sym_lookup: %s\n", strerror(-n));
			return 1;
		}
		print(addr, fr, n);
	}
	sym_session_free(s);
	return 0;
}
