# SPDX-License-Identifier: MIT
#
# pipeline/: pipe_windows, the driver of tests/e2e/test_pipeline_windows.sh
# (a recording fed through one session in windows), and ns_busy, the target
# of tests/e2e/test_ns.sh (frame pointers, symbols, a GNU build-id: what a
# container's program usually is; never sanitized).

PIPE_WINDOWS := $(O)/progs/pipe_windows
EXTRA_TEST_BINS += $(PIPE_WINDOWS)
unit-bins: $(PIPE_WINDOWS)

$(O)/tests/progs/pipe_windows.o: | $(BPF_SKEL)
$(PIPE_WINDOWS): $(O)/tests/progs/pipe_windows.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

NS_BUSY := $(O)/progs/ns_busy
EXTRA_TEST_BINS += $(NS_BUSY)
unit-bins: $(NS_BUSY)

$(NS_BUSY): tests/progs/ns_busy.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls \
		-Wall -Wextra -Werror -Wl,--build-id -o $@ $<
