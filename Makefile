# SPDX-License-Identifier: MIT
#
# xprof: one non-recursive Makefile. Every output goes under $(O) (build/, or
# build-asan/ with SANITIZE=1); nothing is written into the source folders.
# Each source folder may add rules of its own in <folder>/module.mk (fuzz
# targets, bench pieces); this file only knows the shape of the tree.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

ifeq ($(SANITIZE),1)
O ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
O ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wvla -Wformat=2
CFLAGS   ?= -O2 -g
XP_CFLAGS := -std=gnu11 $(WARN) $(SANFLAGS) -D_GNU_SOURCE -I. -I$(O) -MMD -MP
XP_LDFLAGS := $(SANFLAGS)
LDLIBS   := -lbpf -ldw -lelf -lZydis -llzma -lz -liberty -lcurl -lpthread -lm

# Debian packages needed to build, test and benchmark (make deps).
DEB_PKGS := gcc g++ make clang llvm bpftool libbpf-dev libelf-dev libdw-dev libdebuginfod-dev \
            libcmocka-dev zlib1g-dev liblzma-dev libiberty-dev pkg-config elfutils binutils debuginfod \
            linux-perf libc6-dbg libclang-rt-14-dev golang-go chromium python3 procps \
            coreutils valgrind hyperfine bc xz-utils file clang-format \
            libcurl4-openssl-dev libzydis-dev clickhouse-server clickhouse-client \
            strace curl iproute2 util-linux time

MODULES  := lib unwind symbolize report recording capture pipeline store agent profiler

# Sources per module; profiler/main.c is the program, not part of the library.
define module_objs
$(patsubst %.c,$(O)/%.o,$(filter-out profiler/main.c,$(wildcard $(1)/*.c)))
endef
$(foreach m,$(MODULES),$(eval $(m)_OBJS := $(call module_objs,$(m))))
LIB_OBJS := $(foreach m,$(MODULES),$($(m)_OBJS))

BPF_SKEL := $(O)/bpf/xprof.skel.h
XPROF    := $(O)/xprof

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
TESTLIB_SRCS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
TESTLIB_OBJS := $(patsubst %.c,$(O)/%.o,$(TESTLIB_SRCS))
E2E_TESTS  := $(sort $(wildcard tests/e2e/test_*.sh))

.PHONY: all deps check unit unit-bins e2e asan hdr-check style clean bench demo fuzz fuzz-bins
all: $(XPROF)

# ---- dependencies --------------------------------------------------------
# A no-op when every package is installed; otherwise one apt-get run.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: run 'sudo make deps' to install:" $$missing >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| { echo "deps: apt-get install failed for:" $$missing >&2; exit 1; }; \
	fi

# ---- BPF -----------------------------------------------------------------
# vmlinux.h comes from the running kernel's BTF; CO-RE relocations keep the
# object portable across kernels that also have BTF.
$(O)/bpf/vmlinux.h:
	$(call msg,BTF,$@)
	@mkdir -p $(@D)
	$(Q)test -r /sys/kernel/btf/vmlinux || { echo "xprof: no /sys/kernel/btf/vmlinux: the kernel needs CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(O)/bpf -I.

$(O)/bpf/%.bpf.o: bpf/%.bpf.c $(O)/bpf/vmlinux.h
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@.tmp
	$(Q)llvm-strip -g $@.tmp
	$(Q)mv $@.tmp $@

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# ---- C -------------------------------------------------------------------
# Capture and profiler objects include the skeleton; make sure it exists before they compile.
$(capture_OBJS) $(profiler_OBJS) $(O)/profiler/main.o: | $(BPF_SKEL)

$(O)/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XP_CFLAGS) -c $< -o $@

$(XPROF): $(O)/profiler/main.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

# One cmocka binary per module, linked against that module's objects and the
# modules it may use (lib/ stands alone and everyone may use it; report
# uses only lib/, for its diff writer and file reader; unwind reads only
# bpf/sample.h; profiler wires everything).
test_lib_OBJS       := $(lib_OBJS)
test_unwind_OBJS    := $(unwind_OBJS) $(lib_OBJS)
test_symbolize_OBJS := $(symbolize_OBJS) $(lib_OBJS)
test_report_OBJS    := $(report_OBJS) $(lib_OBJS)
test_report_diff_OBJS := $(report_OBJS) $(lib_OBJS)
test_store_OBJS     := $(store_OBJS) $(report_OBJS) $(lib_OBJS)
test_profiler_OBJS  := $(LIB_OBJS)

$(O)/tests/test_%: $(O)/tests/unit/test_%.o $(TESTLIB_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $< $(TESTLIB_OBJS) \
		$(if $(test_$*_OBJS),$(test_$*_OBJS),$(LIB_OBJS)) $(LDLIBS) -lcmocka

$(O)/tests/unit/%.o: | $(BPF_SKEL)

# ---- tests ---------------------------------------------------------------
# check: unit tests (plain and sanitized), end-to-end tests under real BPF,
# a short fuzz run. The last line is "check: N passed, N failed".
check: deps
	$(Q)$(MAKE) --no-print-directory all unit-bins
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 unit-bins
	$(Q)$(MAKE) --no-print-directory fuzz-bins
	$(Q)tests/run-all.sh $(O) build-asan

# EXTRA_TEST_BINS is filled by the module.mk files, included at the end:
# name it in a second expansion so their additions count.
.SECONDEXPANSION:
unit-bins: $(XPROF) $(UNIT_BINS) $$(EXTRA_TEST_BINS)

unit: deps all unit-bins
	$(Q)tests/run-all.sh --unit-only $(O)

asan: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 unit-bins
	$(Q)tests/run-all.sh --unit-only build-asan

e2e: deps all
	$(Q)tests/run-all.sh --e2e-only $(O)

# ---- fuzzing ---------------------------------------------------------------
# tests/fuzz/fuzz_<name>.c is a libFuzzer target linked with every library
# object, all built by clang with ASan/UBSan into build-fuzz/. Its seed corpus
# is tests/fuzz/corpus/<name>/. make check runs each briefly; make fuzz longer.
FO := build-fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FO)/%,$(FUZZ_SRCS))
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_LIB_OBJS := $(patsubst $(O)/%,$(FO)/%,$(LIB_OBJS))
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(filter-out -Wmissing-prototypes,$(WARN)) -D_GNU_SOURCE \
               -DXP_FUZZING -I. -I$(O) -MMD -MP $(FUZZ_FLAGS)

$(FO)/%.o: %.c | $(BPF_SKEL)
	$(call msg,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FO)/fuzz_%: $(FO)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: deps fuzz-bins
	$(Q)for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; mkdir -p $(FO)/corpus/$$n; \
		$$f -max_total_time=$${FUZZ_SECONDS:-300} -rss_limit_mb=2048 $(FO)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

# Every public and internal header compiles on its own.
HDRS := $(shell git ls-files '*.h' 2>/dev/null | grep -v '^bpf/.*\.bpf\.h$$')
hdr-check: | $(BPF_SKEL)
	$(Q)for h in $(HDRS); do \
		case $$h in bpf/*) pre='#include <linux/types.h>';; *) pre='';; esac; \
		printf '%s\n#include "%s"\n' "$$pre" "$$h" | \
		$(CC) $(filter-out -MMD -MP,$(XP_CFLAGS)) -fsyntax-only -x c - || { echo "hdr-check: $$h does not compile alone"; exit 1; }; \
	done; echo "hdr-check: $(words $(HDRS)) headers ok"

style:
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/')

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard */module.mk)
-include unwind/walk.mk
-include $(shell find $(O) $(FO) -name '*.d' 2>/dev/null)
