// SPDX-License-Identifier: MIT
/*
 * The agent's command-line values (durations, sizes) and the wall-clock
 * window boundaries. Pure functions, so the unit tests pin them down.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define NS_PER_S     1000000000ull
#define DURATION_MAX (366ull * 86400 * NS_PER_S)
#define SIZE_MAX_B   (1ull << 40)

/* The leading digits of s into *v; the rest in *end. 0, -EINVAL (none), -ERANGE. */
static int parse_digits(const char *s, uint64_t *v, const char **end)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

int ag_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
	    {"ms", 1000000ull}, {"s", NS_PER_S}, {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S}};
	const char *end;
	uint64_t v;
	int err = parse_digits(s, &v, &end);

	if (err)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v == 0)
			return -ERANGE;
		if (v > DURATION_MAX / units[i].ns)
			return -ERANGE;
		*ns = v * units[i].ns;
		return 0;
	}
	return -EINVAL; /* a bare number is refused: "10" could mean seconds or milliseconds */
}

int ag_parse_size(const char *s, uint64_t *bytes)
{
	const char *end;
	unsigned shift = 0;
	uint64_t v;
	int err = parse_digits(s, &v, &end);

	if (err)
		return err;
	switch (*end) {
	case 0:
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v == 0 || v > SIZE_MAX_B >> shift)
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

uint64_t ag_window_next(uint64_t real_ns, uint64_t interval_ns)
{
	return (real_ns / interval_ns + 1) * interval_ns;
}

uint64_t ag_window_stream_time(uint64_t mono_now, uint64_t real_now, uint64_t real_ns)
{
	return (uint64_t)((int64_t)mono_now + ((int64_t)real_ns - (int64_t)real_now));
}
