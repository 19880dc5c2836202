# SPDX-License-Identifier: MIT
#
# store/: the fleet store benchmark's loader (bench/store_bench.c), linked
# against store/, report/ and lib/ alone, and `make bench`'s store part.

STORE_BENCH := $(O)/bench/store_bench

$(STORE_BENCH): $(O)/bench/store_bench.o $(store_OBJS) $(report_OBJS) $(lib_OBJS)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ -lcurl -lz -lm -lpthread

EXTRA_TEST_BINS += $(STORE_BENCH)
unit-bins: $(STORE_BENCH)

# bench/run.sh runs bench/bench_store.sh through this target.
.PHONY: bench-store
bench-store: all $(STORE_BENCH)
	$(Q)bench/bench_store.sh $(XPROF) $(STORE_BENCH)
