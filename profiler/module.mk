# SPDX-License-Identifier: MIT
#
# profiler/: the record side's test programs, the demo and the record bench.
#
# Test programs (tests/progs/rec_*.c) go to $(O)/progs/ for the end-to-end
# tests. They are plain targets, never sanitized. rec_check reads recordings
# through the library (xp_recording_read), so it links the library objects.

REC_PROGS := rec_spin rec_dl rec_alt rec_fork rec_work rec_jit rec_churn
REC_PROG_BINS := $(addprefix $(O)/progs/,$(REC_PROGS)) $(O)/progs/librec_dl.so \
                 $(O)/progs/rec_check
PROG_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -fno-optimize-sibling-calls \
               -fno-inline -pthread
EXTRA_TEST_BINS += $(REC_PROG_BINS)

$(O)/progs/rec_%: tests/progs/rec_%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROG_CFLAGS) -o $@ $< -ldl

$(O)/progs/librec_dl.so: tests/progs/rec_dl_lib.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(PROG_CFLAGS) -fPIC -shared -Wl,--build-id -o $@ $<

$(O)/progs/rec_check: $(O)/tests/progs/rec_check.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XP_LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/progs/rec_check.o: | $(BPF_SKEL)

# ---- make demo -------------------------------------------------------------
# A small multi-threaded C++ workload (demo/), recorded at 999 Hz into a raw
# recording, folded stacks and a flamegraph.
DEMO_BIN := $(O)/demo/xprof-demo
DEMO_LIB := $(O)/demo/libdemo_plugin.so
DEMO_CXXFLAGS := -O2 -g -fomit-frame-pointer -pthread -Wall -Wextra -Werror

$(DEMO_LIB): demo/plugin.cc
	$(call msg,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(DEMO_CXXFLAGS) -fPIC -shared -o $@ $<

$(DEMO_BIN): demo/demo.cc | $(DEMO_LIB)
	$(call msg,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(DEMO_CXXFLAGS) -o $@ $< -ldl

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(DEMO_BIN) $(DEMO_LIB)
	$(Q)$(XPROF) record -F 999 -o demo.xprof -o demo.folded -o demo.svg -- \
		$(DEMO_BIN) $(abspath $(DEMO_LIB))
	$(Q)$(XPROF) info demo.xprof
	@echo "demo: where the samples went (demo.folded; flamegraph in demo.svg):"
	$(Q)awk '{ n = $$NF; t += n; k = "other"; \
		if (/on_prof/) k = "on_prof (signal handler, sigaltstack)"; \
		else if (/plugin_work/) k = "plugin_work (dlopen'"'"'ed libdemo_plugin.so)"; \
		else if (/sort_work/) k = "sort_work (std::sort, inlined mix)"; \
		else if (/hash_work/) k = "hash_work (std::unordered_map)"; \
		else if (/main_work/) k = "main_work (main thread)"; s[k] += n } \
		END { for (k in s) printf "  %5.1f%%  %s\n", 100 * s[k] / t, k }' demo.folded | sort -rn

# ---- make bench --------------------------------------------------------------
# bench/run.sh finds bench/bench_record.sh and runs it through this target.
.PHONY: bench-record
bench-record: all $(O)/progs/rec_spin $(O)/progs/rec_work
	$(Q)bench/bench_record.sh $(XPROF) $(O)/progs
