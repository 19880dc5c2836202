# SPDX-License-Identifier: MIT
# symbolize/: test programs (into $(O)/progs/) and the benchmark driver.
#   sym_lookup   prints frames for addresses (e2e tests, debugging)
#   sym_target   C target with inlines, static functions, aliases, asm
#   sym_cxx      C++ target (namespaces, templates, inlines)
#   sym_target.stripped  sym_target with no symbols but .dynsym (strip --strip-all)
#   sym_reexec   executes itself N times (samples of ld.so starting processes)
#   sym_strip    -O2 C program, stripped (sym_strip.full: before strip)
#   sym_bench    timing driver for bench/bench_sym.sh (make bench)

SYM_PROGS := $(O)/progs/sym_lookup $(O)/progs/sym_target $(O)/progs/sym_cxx $(O)/progs/sym_bench \
             $(O)/progs/sym_reexec $(O)/progs/sym_target.stripped \
             $(O)/progs/sym_strip $(O)/progs/sym_strip.full
EXTRA_TEST_BINS += $(SYM_PROGS)
# This file is included after the unit-bins rule has been read, when
# EXTRA_TEST_BINS was still empty: name the prerequisites here as well.
unit-bins: $(SYM_PROGS)

$(O)/progs/sym_lookup: $(O)/tests/progs/sym_lookup.o $(symbolize_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/progs/sym_bench: $(O)/bench/sym_bench.o $(symbolize_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

# Targets are built with their own flags: -O2 so that inlining happens, full
# DWARF, a build-id, and no sanitizer (their addresses are what is tested).
$(O)/progs/sym_target: tests/progs/sym_target.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wl,--build-id -o $@ $<

$(O)/progs/sym_target.stripped: $(O)/progs/sym_target
	$(call msg,STRIP,$@)
	$(Q)strip --strip-all -o $@ $<

# A release build: -O2, no debuginfo, then every symbol but .dynsym stripped.
$(O)/progs/sym_strip.full: tests/progs/sym_strip.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -fno-optimize-sibling-calls -Wall -Wextra -Werror -Wl,--build-id -o $@ $<

$(O)/progs/sym_strip: $(O)/progs/sym_strip.full
	$(call msg,STRIP,$@)
	$(Q)strip --strip-all -o $@ $<

$(O)/progs/sym_reexec: tests/progs/sym_reexec.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -o $@ $<

$(O)/progs/sym_cxx: tests/progs/sym_cxx.cc
	$(call msg,CXX,$@)
	@mkdir -p $(@D)
	$(Q)g++ -O2 -g -Wl,--build-id -o $@ $<

# bench/run.sh runs part "sym" through this target (make bench).
.PHONY: bench-sym
bench-sym: $(SYM_PROGS)
	$(Q)bench/bench_sym.sh $(O)

# The .gopclntab reader's unit test needs only symbolize/.
test_gopclntab_OBJS := $(symbolize_OBJS) $(lib_OBJS)
