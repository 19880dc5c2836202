# SPDX-License-Identifier: MIT
#
# Test programs of full-depth capture (tests/e2e/test_capture_*.sh), built into
# $(O)/progs/ with their own flags, never sanitized: cap_deep without frame
# pointers (-O2 -fomit-frame-pointer) and cap_deep_fp with them, and cap_exit.

CAP_PD := $(O)/progs
CAP_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP
CAP_PROGS := $(addprefix $(CAP_PD)/,cap_deep cap_deep_fp cap_exit)

EXTRA_TEST_BINS += $(CAP_PROGS)
unit-bins: $(CAP_PROGS)

$(CAP_PD)/cap_deep_fp: tests/progs/cap_deep.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CAP_CFLAGS) -fno-omit-frame-pointer -pthread -o $@ $<

$(CAP_PD)/cap_%: tests/progs/cap_%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CAP_CFLAGS) -fomit-frame-pointer -pthread -o $@ $<

# make bench runs bench-capture through bench/run.sh, which tabulates every part.
.PHONY: bench-capture
bench-capture: all $(CAP_PROGS)
	$(Q)bench/bench_capture.sh $(XPROF) $(CAP_PD)
