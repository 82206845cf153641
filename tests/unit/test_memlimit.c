/* Memory admission: the limit read from fake cgroup and meminfo files, and the verdict. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memlimit.h"
#include "util.h"

static char root[64];
static struct mem_limit lim;
static struct error err;

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/kiln-test-memlimit-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(memlimit, .init = setup, .fini = teardown);

/* Write `text` to root/rel, making its directories. */
static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert_eq(system(cmd), 0);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static const char meminfo[] = "MemTotal:        8000000 kB\nMemFree:         100 kB\n";

static void expect_source(const char *rel)
{
	char want[512];
	snprintf(want, sizeof(want), "%s/%s", root, rel);
	cr_assert_str_eq(lim.source, want);
}

Test(memlimit, nothing_readable_is_no_limit)
{
	cr_assert_eq(mem_limit_read(root, &lim), -ENOENT);
	cr_assert_eq(lim.bytes, UINT64_MAX);
	cr_assert_eq(mem_admit(1 << 20, &lim, false, &err), 0, "no limit known: admitted");
}

Test(memlimit, meminfo_alone)
{
	put("proc/meminfo", meminfo);
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, 8000000ULL * 1024);
	cr_assert_str_eq(lim.source, "the host's MemTotal");
	cr_assert_not(lim.from_cgroup, "MemTotal is the host's, not a cgroup's");
}

Test(memlimit, cgroup_v2_lowest_ancestor_wins)
{
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "0::/system.slice/kiln@vm1.service\n");
	put("sys/fs/cgroup/system.slice/kiln@vm1.service/memory.max", "max\n");
	put("sys/fs/cgroup/system.slice/memory.max", "2147483648\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, GiB(2));
	expect_source("sys/fs/cgroup/system.slice/memory.max");

	put("sys/fs/cgroup/system.slice/kiln@vm1.service/memory.max", "1073741824\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, GiB(1));
	expect_source("sys/fs/cgroup/system.slice/kiln@vm1.service/memory.max");
	cr_assert(lim.from_cgroup);
}

Test(memlimit, cgroup_v2_unlimited_falls_back_to_memtotal)
{
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "0::/a\n");
	put("sys/fs/cgroup/a/memory.max", "max\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, 8000000ULL * 1024);
}

Test(memlimit, cgroup_limit_above_memtotal_is_no_limit)
{
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "0::/a\n");
	put("sys/fs/cgroup/a/memory.max", "1099511627776\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, 8000000ULL * 1024);
	cr_assert_not(lim.from_cgroup, "a cgroup limit above the host's memory is not the limit");
}

Test(memlimit, cgroup_v1_memory_controller)
{
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "12:pids:/x\n4:cpu,cpuacct:/y\n7:memory:/jail/vm1\n1:name=systemd:/z\n");
	put("sys/fs/cgroup/memory/jail/vm1/memory.limit_in_bytes", "9223372036854771712\n");
	put("sys/fs/cgroup/memory/jail/memory.limit_in_bytes", "536870912\n");
	put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	/* Files of other hierarchies are not memory limits. */
	put("sys/fs/cgroup/x/memory.max", "1\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, MiB(512));
	expect_source("sys/fs/cgroup/memory/jail/memory.limit_in_bytes");
	cr_assert(lim.from_cgroup);
}

Test(memlimit, malformed_values_are_ignored)
{
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "garbage\n0::/a\n");
	put("sys/fs/cgroup/a/memory.max", "-5\n");
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, 8000000ULL * 1024);
}

Test(memlimit, a_fifo_in_place_of_a_file_does_not_block, .timeout = 5)
{
	char path[512];
	put("proc/meminfo", meminfo);
	put("proc/self/cgroup", "0::/a\n");
	put("sys/fs/cgroup/a/x", "");
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/a/memory.max", root);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(mem_limit_read(root, &lim), 0);
	cr_assert_eq(lim.bytes, 8000000ULL * 1024);
}

Test(memlimit, admission_verdict)
{
	lim = (struct mem_limit){ .bytes = GiB(2) };
	snprintf(lim.source, sizeof(lim.source), "/sys/fs/cgroup/vm/memory.max");
	cr_assert_eq(mem_admit(2048, &lim, false, &err), 0, "exactly the limit fits");
	cr_assert_eq(mem_admit(2049, &lim, false, &err), -ENOMEM);
	cr_assert_str_eq(err.msg, "machine-config.mem_size_mib: 2049 MiB does not fit under the "
			 "2048 MiB kiln may use (/sys/fs/cgroup/vm/memory.max); "
			 "--allow-mem-overcommit starts it anyway");
	cr_assert_eq(mem_admit(1 << 20, &lim, true, &err), 0, "overcommit asked for");
	cr_assert_eq(mem_admit(UINT64_MAX >> 20, &lim, false, &err), -ENOMEM);
}

Test(memlimit, host_limit_is_found)
{
	cr_assert_eq(mem_limit_host(&lim), 0);
	cr_assert_gt(lim.bytes, 0);
	cr_assert_lt(lim.bytes, UINT64_MAX);
	cr_assert_neq(lim.source[0], '\0');
}
