// SPDX-License-Identifier: MIT
/*
 * xprof's demo workload (make demo): about 3 seconds of CPU work shaped like
 * the cases a profiler must get right, built -O2 -fomit-frame-pointer:
 *  - several threads with distinct hot paths (sorting, hashing, math);
 *  - C++ templates and small inlined functions;
 *  - a library loaded with dlopen() after the start (argv[1]);
 *  - a timer signal (SIGPROF) whose handler burns CPU on a sigaltstack.
 *   xprof-demo PLUGIN.so [SECONDS]
 */
#include <dlfcn.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

std::atomic<unsigned long> handler_spins;

template <typename T> inline T mix(T x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

__attribute__((noinline)) void sort_work(clk::time_point until)
{
	std::mt19937_64 rng(42);
	std::vector<unsigned long> v(1 << 16);

	while (clk::now() < until) {
		for (auto &x : v)
			x = mix(rng());
		std::sort(v.begin(), v.end());
	}
}

__attribute__((noinline)) void hash_work(clk::time_point until)
{
	std::unordered_map<std::string, unsigned long> m;
	unsigned long i = 0;

	while (clk::now() < until) {
		for (int k = 0; k < 10000; k++, i++)
			m[std::to_string(mix(i) % 50000)] += i;
		if (m.size() > 40000)
			m.clear();
	}
}

void on_prof(int)
{
	/* A handler that does real work: its samples sit on the altstack. */
	volatile unsigned long x = 0;

	for (int i = 0; i < 3000000; i++)
		x += mix((unsigned long)i);
	handler_spins += 1;
}

__attribute__((noinline)) double main_work(clk::time_point until)
{
	double acc = 0;

	while (clk::now() < until)
		for (int i = 1; i < 100000; i++)
			acc += 1.0 / ((double)i * i);
	return acc;
}

} // namespace

int main(int argc, char **argv)
{
	double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
	auto until = clk::now() + std::chrono::duration_cast<clk::duration>(
					  std::chrono::duration<double>(seconds));

	if (argc < 2) {
		std::fprintf(stderr, "usage: xprof-demo PLUGIN.so [SECONDS]\n");
		return 2;
	}

	static std::vector<char> alt(1 << 16);
	stack_t ss = {};
	ss.ss_sp = alt.data();
	ss.ss_size = alt.size();
	sigaltstack(&ss, nullptr);
	struct sigaction sa = {};
	sa.sa_handler = on_prof;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGPROF, &sa, nullptr);
	itimerval it = { { 0, 20000 }, { 0, 20000 } };
	sigset_t prof;
	sigemptyset(&prof);
	sigaddset(&prof, SIGPROF);
	/* Threads inherit the mask: only the main thread takes the timer signal. */
	pthread_sigmask(SIG_BLOCK, &prof, nullptr);

	std::thread t1(sort_work, until);
	std::thread t2(hash_work, until);

	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		std::fprintf(stderr, "xprof-demo: %s\n", dlerror());
		return 1;
	}
	auto plugin_work = reinterpret_cast<double (*)(double)>(dlsym(h, "plugin_work"));
	if (!plugin_work) {
		std::fprintf(stderr, "xprof-demo: no plugin_work in %s\n", argv[1]);
		return 1;
	}
	std::thread t3(plugin_work, seconds);

	pthread_sigmask(SIG_UNBLOCK, &prof, nullptr);
	setitimer(ITIMER_PROF, &it, nullptr);
	double r = main_work(until);
	t1.join();
	t2.join();
	t3.join();
	std::printf("demo: done (%.3f, %lu handler runs)\n", r, handler_spins.load());
	return 0;
}
