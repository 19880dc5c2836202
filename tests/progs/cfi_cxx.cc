// SPDX-License-Identifier: MIT
/*
 * Unwind-table test program in C++ with exceptions: "zPLR" CIEs, FDEs with
 * an LSDA pointer in their augmentation data, landing pads, and calls with
 * stack arguments inside try regions (DW_CFA_GNU_args_size when built
 * -fno-omit-frame-pointer -mno-accumulate-outgoing-args... or not: the
 * oracle checks whatever the compiler emitted).
 */
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

static volatile long sink;

__attribute__((noinline)) static long stack_args(long a, long b, long c, long d, long e, long f,
						 long g, long h)
{
	if (a + h == 12345)
		throw std::runtime_error("odd");
	return a + b + c + d + e + f + g + h;
}

__attribute__((noinline)) long thrower(int n)
{
	std::vector<std::string> v;

	for (int i = 0; i < n; i++)
		v.push_back(std::to_string(i));
	if (n % 3 == 0)
		throw std::runtime_error("n % 3 == 0: " + v.back());
	return (long)v.size();
}

__attribute__((noinline)) long catcher(int n)
{
	long r = 0;

	for (int i = 1; i <= n; i++) {
		try {
			r += thrower(i);
			r += stack_args(i, i, i, i, i, i, i, i);
		} catch (const std::exception &e) {
			r += (long)std::string(e.what()).size();
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 20;

	sink = catcher(n);
	std::printf("%ld\n", (long)sink);
	return 0;
}
