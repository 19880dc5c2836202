# SPDX-License-Identifier: MIT
#
# perf.data import and benchmarks: test programs for the perf comparison
# (tests/progs/perf_*.c), the perf_dump probe, and `make bench`.

# perf_dump links the library (it prints what xp_perfdata_read yields);
# the other perf_* programs are plain targets with known call chains.
PERF_PROGS := $(patsubst tests/progs/%.c,$(O)/progs/%,$(wildcard tests/progs/perf_*.c))
EXTRA_TEST_BINS += $(PERF_PROGS)
unit-bins: $(PERF_PROGS)

$(O)/progs/perf_dump: $(O)/tests/progs/perf_dump.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/progs/perf_dump.o: | $(BPF_SKEL)

# Targets are built like a user's program: -O2 -g, no sanitizer, no frame pointers.
$(O)/progs/perf_%: tests/progs/perf_%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -Wall -Wextra -Werror -o $@ $<

bench: deps all $(PERF_PROGS)
	+$(Q)bench/run.sh $(O)

# write_bench: the recorder's cost of writing a sample, stack sharing on and off.
WRITE_BENCH := $(O)/bench/write_bench
EXTRA_TEST_BINS += $(WRITE_BENCH)
bench: $(WRITE_BENCH)
$(O)/bench/write_bench.o: | $(BPF_SKEL)
$(WRITE_BENCH): $(O)/bench/write_bench.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

# soak_bench: the pipeline's memory over 600 windows of short-lived
# processes (bench/bench_soak.sh); bench/run.sh runs part "soak" through
# bench-soak.
SOAK_BENCH := $(O)/bench/soak_bench
EXTRA_TEST_BINS += $(SOAK_BENCH)
$(O)/bench/soak_bench.o: | $(BPF_SKEL)
$(SOAK_BENCH): $(O)/bench/soak_bench.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-soak
bench-soak: $(SOAK_BENCH) $(O)/progs/perf_work
	$(Q)bench/bench_soak.sh $(O)

# The agent's cost next to perf record -a over one workload (bench/bench_agent.sh):
# its idle, busy and short-lived processes come from tests/progs.
.PHONY: bench-agent
bench-agent: $(XPROF) $(O)/progs/unw_threads $(O)/progs/rec_spin $(O)/progs/perf_work
	$(Q)bench/bench_agent.sh $(O)
