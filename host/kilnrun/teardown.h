/*
 * Removing everything a run made, whoever ends it: kiln-run at the end of a run, its janitor
 * when kiln-run itself was killed, a later kiln-run or kiln-run --gc for a run whose
 * kiln-run and janitor both died. Idempotent: each step skips what is already gone.
 */
#ifndef KILN_KILNRUN_TEARDOWN_H
#define KILN_KILNRUN_TEARDOWN_H

#include <stdbool.h>

#include "common/error.h"
#include "host/kilnrun/slot.h"

/*
 * Kills every process of the run's cgroup (cgroup.kill) and waits until it is empty, up to
 * timeout_ms. Returns 0 (also when the cgroup does not exist), -ETIMEDOUT or -errno.
 * Async-signal-safe when timeout_ms is 0 (it only writes cgroup.kill then).
 */
int teardown_kill(const char *cgroup, int timeout_ms);

/* True while the cgroup (or one below it) has a process. */
bool teardown_populated(const char *cgroup);

/* Reads the cgroup's CPU time (cpu.stat usage_usec) and peak memory (memory.peak, 0 when
 * the kernel has none). Returns 0 or -errno. */
int teardown_usage(const char *cgroup, unsigned long long *cpu_us,
		   unsigned long long *mem_peak);

/* The cgroup the run's jailer runs in: the jail cgroup's path with ".sup" added. */
int teardown_sup_cgroup(const char *cgroup, char *out, size_t size);

/*
 * Removes the run: kills its processes (the jail cgroup's and the jailer's), has the jailer remove the jail and its cgroup
 * (jailer --cleanup --missing-ok), deletes its network namespace and host link, then checks
 * that none of them is left. Returns 0, or -errno with err naming what remains.
 */
int teardown_run(const struct run_state *st, struct error *err);

#endif
