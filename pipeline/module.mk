# SPDX-License-Identifier: MIT
#
# pipeline/: pipe_windows, the driver of tests/e2e/test_pipeline_windows.sh
# (a recording fed through one session in windows).

PIPE_WINDOWS := $(O)/progs/pipe_windows
EXTRA_TEST_BINS += $(PIPE_WINDOWS)
unit-bins: $(PIPE_WINDOWS)

$(O)/tests/progs/pipe_windows.o: | $(BPF_SKEL)
$(PIPE_WINDOWS): $(O)/tests/progs/pipe_windows.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)
