// SPDX-License-Identifier: MIT
/*
 * xprof tables FILE [--addr ADDR] [--debug-file F] [--summary]: build the
 * unwind table of an ELF file the way the profiler does and print it, one
 * line per entry (address range, CFA rule, return address, rbp), like
 * objtool's orc_dump, then a summary: entries, distinct rules, bytes, the
 * ratio to .eh_frame + .eh_frame_hdr and the unrepresentable rows by kind.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	snprintf(buf, len, "cfa:%s%+-7d ra:%-7s rbp:%s", reg, r->cfa_off, ra, bp);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xprof tables FILE [--addr ADDR] [--debug-file F] [--summary]\n"
		   "\n"
		   "Build the unwind table xprof uses for an ELF file from its DWARF CFI\n"
		   "(.eh_frame, .debug_frame) and print it with a summary.\n"
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
	char buf[128];
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
	tab = unw_table_from_elf(path, debug, &st);
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
		for (size_t i = 0; i < n; i++) {
			uint64_t a, next = 0;
			struct unw_rule r, dummy;

			unw_table_row(tab, i, &a, &r);
			if (i + 1 < n)
				unw_table_row(tab, i + 1, &next, &dummy);
			rule_str(buf, sizeof(buf), &r);
			if (i + 1 < n)
				printf("%#014" PRIx64 "-%#014" PRIx64 "  %s\n", a, next, buf);
			else
				printf("%#014" PRIx64 "-%-14s  %s\n", a, "", buf);
		}
	}
	printf("file: %s%s%s\n", path, debug ? ", debug file " : "", debug ? debug : "");
	printf("fdes: %" PRIu64 ", cfi rows: %" PRIu64 "\n", st.fdes, st.rows);
	printf("entries: %" PRIu64 ", distinct rules: %" PRIu64 ", bytes: %" PRIu64 "\n",
	       st.entries, st.rules, st.bytes);
	if (st.eh_frame_bytes)
		printf(".eh_frame+.eh_frame_hdr: %" PRIu64 " bytes, ratio %.2f\n",
		       st.eh_frame_bytes, (double)st.bytes / (double)st.eh_frame_bytes);
	printf("unrepresentable rows:");
	for (int k = 0; k < UNW_UNREP_NR; k++)
		printf(" %s %" PRIu64 "%s", unrep_names[k], st.unrep[k],
		       k + 1 < UNW_UNREP_NR ? "," : "\n");
	unw_table_free(tab);
	return 0;
}
