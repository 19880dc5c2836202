// SPDX-License-Identifier: MIT
/*
 * sym_cxx: C++ names for symbolize/ tests: namespaces, a class template,
 * overloads, a lambda, an inline member chain, an anonymous namespace.
 * Built -O2 -g. Run with a count, it loops through them.
 */
#include <cstdio>
#include <cstdlib>
#include <vector>

volatile unsigned long sink;

namespace geo {
template <typename T> struct Vec {
	T x, y;
	inline __attribute__((always_inline)) T dot(const Vec &o) const
	{
		T r = x * o.x + y * o.y;
		sink += (unsigned long)r;
		return r;
	}
	inline __attribute__((always_inline)) T norm2() const
	{
		return dot(*this);
	}
};

__attribute__((noinline)) double length2(const Vec<double> &v)
{
	return v.norm2() + 1.0;
}

__attribute__((noinline)) long length2(const Vec<long> &v)
{
	return v.norm2() + 1;
}
} // namespace geo

namespace {
__attribute__((noinline)) unsigned long hidden(unsigned long x)
{
	std::vector<unsigned long> v(16, x);
	unsigned long s = 0;
	for (auto e : v)
		s += e * 3;
	return s;
}
} // namespace

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::atol(argv[1]) : 1;
	unsigned long acc = 0;
	auto lam = [&acc](unsigned long v) __attribute__((noinline)) { acc += hidden(v); };

	for (long i = 0; i < n; i++) {
		geo::Vec<double> d{ 1.0 * (double)i, 2.0 };
		geo::Vec<long> l{ i, 3 };
		acc += (unsigned long)geo::length2(d) + (unsigned long)geo::length2(l);
		lam((unsigned long)i);
	}
	std::printf("%lu\n", acc & 1);
	return 0;
}
