# SPDX-License-Identifier: MIT
#
# report/: the driver the end-to-end tests and the benchmark use to build
# profiles from folded text (tests/progs/rep_gen.c), and the benchmark's
# synthetic-profile writer (bench/report_bench.c). Both link only report/'s
# and lib/'s objects, which need nothing but libc, zlib and libm.

REP_GEN := $(O)/progs/rep_gen
REP_BENCH := $(O)/bench/report_bench

$(REP_GEN): $(O)/tests/progs/rep_gen.o $(report_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ -lz -lm

$(REP_BENCH): $(O)/bench/report_bench.o $(report_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ -lz -lm

# The top Makefile reads unit-bins' prerequisites before including this
# file, so EXTRA_TEST_BINS alone would come too late: name the target too.
# rec_phases (profiler/module.mk's rec_% rule builds it) is the target whose
# hot function changes between runs, for the diff's end-to-end test.
EXTRA_TEST_BINS += $(REP_GEN) $(O)/progs/rec_phases
unit-bins: $(REP_GEN) $(O)/progs/rec_phases

.PHONY: bench-report
bench-report: $(REP_BENCH) $(REP_GEN)
	$(Q)O=$(O) bench/bench_report.sh
# make bench runs bench-report through bench/run.sh, which tabulates every part

.PHONY: bench-diff
bench-diff: $(XPROF) $(REP_GEN)
	$(Q)O=$(O) bench/bench_diff.sh
