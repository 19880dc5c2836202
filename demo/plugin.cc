// SPDX-License-Identifier: MIT
/*
 * The demo's plugin, loaded with dlopen() after the start: its CPU time must
 * show up under this library, found through a mapping that appeared
 * mid-recording.
 */
#include <chrono>
#include <cmath>
#include <vector>

namespace {

inline double integrate(double a, double b, int steps)
{
	double h = (b - a) / steps, sum = 0;

	for (int i = 0; i < steps; i++)
		sum += std::sin(a + i * h) * h;
	return sum;
}

} // namespace

extern "C" __attribute__((visibility("default"))) double plugin_work(double seconds)
{
	auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	double acc = 0;

	while (std::chrono::steady_clock::now() < until)
		acc += integrate(0, 3.14159, 20000);
	return acc;
}
