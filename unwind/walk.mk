# SPDX-License-Identifier: MIT
#
# Rules of the offline unwinder's test programs and benchmark (issue 4).
# unwind/walk.c itself is an ordinary unwind/ object of the top Makefile.
#
# tests/progs/unw_* are programs with known call chains for the end-to-end
# tests (tests/e2e/test_unwind_*.sh); they are built into $(O)/progs/ with
# their own flags, never sanitized (the profiler unwinds them as they would
# be shipped): -O2 -fomit-frame-pointer, plus a frame-pointer control build.
# Variables are UNW_WALK_*: unwind/module.mk (the tables') is read too.

UNW_WALK_PD := $(O)/progs
UNW_WALK_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP
UNW_WALK_NOFP := -fomit-frame-pointer

UNW_WALK_PROGS := $(addprefix $(UNW_WALK_PD)/,unw_chain unw_chain_fp unw_signal unw_deep unw_threads \
	unw_dlopen libunw_dllib.so unw_plt libunw_pltlib.so unw_vdso unw_qsort unw_nocfi unw_synth unw_jit)

EXTRA_TEST_BINS += $(UNW_WALK_PROGS)
# unit-bins lists $(EXTRA_TEST_BINS) before this file is read: name them here too.
unit-bins: $(UNW_WALK_PROGS)

$(UNW_WALK_PD)/unw_chain_fp: tests/progs/unw_chain.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) -fno-omit-frame-pointer -o $@ $<

$(UNW_WALK_PD)/unw_threads: tests/progs/unw_threads.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -pthread -o $@ $<

$(UNW_WALK_PD)/unw_dlopen: tests/progs/unw_dlopen.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -o $@ $< -ldl

$(UNW_WALK_PD)/lib%.so: tests/progs/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -fPIC -shared -o $@ $<

# Lazy binding, so the stubs are the classic 16-byte "jmp *GOT; push; jmp PLT0".
$(UNW_WALK_PD)/unw_plt: tests/progs/unw_plt.c $(UNW_WALK_PD)/libunw_pltlib.so
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -o $@ $< -L$(UNW_WALK_PD) -lunw_pltlib \
		-Wl,-z,lazy -Wl,-rpath,'$$ORIGIN'

$(UNW_WALK_PD)/unw_nocfi: tests/progs/unw_nocfi.c tests/progs/unw_nocfi_asm.S
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -o $@ $^

# The middle function without CFI (-g0: -g would add .debug_frame) and
# without a frame pointer; only its symbol says where it is.
$(UNW_WALK_PD)/unw_synth: tests/progs/unw_synth.c tests/progs/unw_synth_mid.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) -g0 -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-fomit-frame-pointer -c -o $@.mid.o tests/progs/unw_synth_mid.c
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -o $@ tests/progs/unw_synth.c $@.mid.o

$(UNW_WALK_PD)/unw_%: tests/progs/unw_%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNW_WALK_CFLAGS) $(UNW_WALK_NOFP) -o $@ $<

# The walker's unit test needs only unwind/ (like test_unwind).
test_unwind_walk_OBJS := $(unwind_OBJS) $(lib_OBJS)

# ---- make bench: unwinding speed alone (bench/bench_unwind.sh) ---------------
UNW_WALK_BENCH := $(O)/bench/unwind_bench

$(O)/bench/unwind_bench.o: | $(BPF_SKEL)
$(UNW_WALK_BENCH): $(O)/bench/unwind_bench.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

# make bench runs bench-unwind through bench/run.sh, which tabulates every part
.PHONY: bench-unwind
bench-unwind: all $(UNW_WALK_BENCH) $(UNW_WALK_PD)/unw_deep
	$(Q)bench/bench_unwind.sh $(XPROF) $(UNW_WALK_BENCH) $(UNW_WALK_PD)
