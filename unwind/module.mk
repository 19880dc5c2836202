# SPDX-License-Identifier: MIT
#
# unwind/: test programs with known CFI for the oracle and SFrame tests
# (tests/unit/test_unwind_oracle.c), and the table benchmark.
#
# The programs are built with the host compiler and their own flags (not
# XP_CFLAGS: they must keep -fomit-frame-pointer, VLAs and so on), into
# $(O)/progs/, which is where the tests look ($XPROF_BUILD/progs).

UNW_PROG_DIR := $(O)/progs
UNW_TAB_PROGS := $(UNW_PROG_DIR)/cfi_omitfp $(UNW_PROG_DIR)/cfi_cxx $(UNW_PROG_DIR)/cfi_odd \
             $(UNW_PROG_DIR)/cfi_dbg $(UNW_PROG_DIR)/cfi_dbg.debug $(UNW_PROG_DIR)/cfi_dbg.stripped \
             $(UNW_PROG_DIR)/cfi_nobid $(UNW_PROG_DIR)/cfi_dbgz
EXTRA_TEST_BINS += $(UNW_TAB_PROGS)

# -Wa,--gsframe: the SFrame comparison reads .sframe from these two.
$(UNW_PROG_DIR)/cfi_omitfp: tests/progs/cfi_omitfp.c
	$(call msg,PROG,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -Wa,--gsframe -o $@ $<

$(UNW_PROG_DIR)/cfi_cxx: tests/progs/cfi_cxx.cc
	$(call msg,PROG,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) -O2 -g -Wa,--gsframe -o $@ $<

$(UNW_PROG_DIR)/cfi_odd: tests/progs/cfi_odd.S
	$(call msg,PROG,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $< 2>/dev/null

# .debug_frame instead of .eh_frame for the program's own code; then the same
# split into a stripped file and its separate debug file.
$(UNW_PROG_DIR)/cfi_dbg: tests/progs/cfi_omitfp.c
	$(call msg,PROG,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -fno-asynchronous-unwind-tables -o $@ $<

$(UNW_PROG_DIR)/cfi_dbg.debug: $(UNW_PROG_DIR)/cfi_dbg
	$(Q)objcopy --only-keep-debug $< $@

$(UNW_PROG_DIR)/cfi_dbg.stripped: $(UNW_PROG_DIR)/cfi_dbg
	$(Q)objcopy --strip-debug $< $@

# SHF_COMPRESSED .debug_frame
$(UNW_PROG_DIR)/cfi_dbgz: $(UNW_PROG_DIR)/cfi_dbg
	$(Q)objcopy --compress-debug-sections=zlib $< $@

# No build-id note: the cache keys it by path, size and mtime.
$(UNW_PROG_DIR)/cfi_nobid: $(UNW_PROG_DIR)/cfi_odd
	$(Q)objcopy --remove-section .note.gnu.build-id $< $@

# The unwind tests link only unwind/'s objects (libdw/libelf come with LDLIBS).
test_unwind_oracle_OBJS := $(unwind_OBJS) $(lib_OBJS)
test_unwind_cache_OBJS := $(unwind_OBJS) $(lib_OBJS)
test_unwind_synth_OBJS := $(unwind_OBJS) $(lib_OBJS)

# ---- bench ------------------------------------------------------------------
.PHONY: bench-tables
# make bench runs bench-tables through bench/run.sh, which tabulates every part
bench-tables: $(XPROF) $(O)/bench/tables_bench
	$(Q)bench/bench_tables.sh $(O)

$(O)/bench/tables_bench: $(O)/bench/tables_bench.o $(unwind_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

# make bench runs bench-synth through bench/run.sh: the analyser's agreement and cost
.PHONY: bench-synth
bench-synth: $(O)/bench/synth_bench $(O)/tests/test_unwind_synth
	$(Q)bench/bench_synth.sh $(O)

$(O)/bench/synth_bench: $(O)/bench/synth_bench.o $(unwind_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)
