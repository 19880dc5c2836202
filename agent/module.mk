# SPDX-License-Identifier: MIT
#
# agent/: its unit test links agent/, report/ and lib/ only (libcurl, zlib,
# pthreads); ag_push (tests/progs/ag_push.c) is the driver the agent's
# end-to-end tests push synthetic windows through the spool with.

AG_PUSH := $(O)/progs/ag_push
AG_LIBS := -lcurl -lz -lm -lpthread

# The agent's loop (loop.c) needs the capture and the pipeline: not these.
AG_CORE_OBJS := $(filter-out $(O)/agent/loop.o,$(agent_OBJS))
test_agent_OBJS := $(AG_CORE_OBJS) $(report_OBJS) $(lib_OBJS)

$(AG_PUSH): $(O)/tests/progs/ag_push.o $(AG_CORE_OBJS) $(report_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(AG_LIBS)

EXTRA_TEST_BINS += $(AG_PUSH)
unit-bins: $(AG_PUSH)

# ag_short (tests/progs/ag_short.c): the ~5 ms process test_agent.sh forks
# ~100 times a second. A plain program, never sanitized.
AG_SHORT := $(O)/progs/ag_short

$(AG_SHORT): tests/progs/ag_short.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -fno-inline -o $@ $<

EXTRA_TEST_BINS += $(AG_SHORT)
unit-bins: $(AG_SHORT)
