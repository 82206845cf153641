/*
 * The jailer's step profile, compiled in only by `make JAILER_PROFILE=1` (tools/bench/
 * jailer.sh builds such a jailer beside the real one): at the end of each step, the line
 * "jailer-step NAME MICROSECONDS" (CLOCK_MONOTONIC) on stderr. In every other build a step
 * mark is nothing at all.
 */
#ifndef KILN_JAILER_PROFILE_H
#define KILN_JAILER_PROFILE_H

#ifdef JAILER_PROFILE
#include <stdio.h>
#include <time.h>

static inline void jail_step(const char *name)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	dprintf(2, "jailer-step %s %llu\n", name,
		(unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}
#else
static inline void jail_step(const char *name)
{
	(void)name;
}
#endif

#endif
