/* Memory admission: the memory limit kiln runs under, and whether a guest fits in it. */
#ifndef KILN_MEMLIMIT_H
#define KILN_MEMLIMIT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

struct mem_limit {
	uint64_t bytes;		/* the lowest limit found; UINT64_MAX when none was */
	char source[PATH_MAX];	/* where it comes from, for messages */
	bool from_cgroup;	/* the lowest is a cgroup's limit, not the host's memory */
};

/*
 * Read the memory limit from the files under `root` ("/" on a host; a test's directory):
 * the memory.max of kiln's cgroup v2 and each of its ancestors
 * (<root>/sys/fs/cgroup/<path>/memory.max, path from <root>/proc/self/cgroup), the
 * memory.limit_in_bytes of its cgroup v1 memory controller and ancestors
 * (<root>/sys/fs/cgroup/memory/<path>/), and MemTotal in <root>/proc/meminfo. The lowest
 * wins; "max" and v1's "unlimited" (2^63 - 4096 and up) are no limit. Files that are
 * missing are skipped. Returns 0 when some limit was found, -ENOENT when none was.
 */
int mem_limit_read(const char *root, struct mem_limit *lim) MUST_CHECK;
/* mem_limit_read("/"), else (no /proc or /sys, as inside a jail) the RAM sysinfo(2) reports. */
int mem_limit_host(struct mem_limit *lim) MUST_CHECK;

/*
 * Admit a guest of mem_mib MiB under `lim`: 0 when it fits or `overcommit` is set,
 * else -ENOMEM with one error naming machine-config.mem_size_mib, the limit and its
 * source, and --allow-mem-overcommit.
 */
int mem_admit(uint64_t mem_mib, const struct mem_limit *lim, bool overcommit,
	      struct error *err) MUST_CHECK;

#endif
