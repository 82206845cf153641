/* Integration: cgroup v1 for real, beneath this test's own cgroups, removed afterwards. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer_util.h"

static struct jt t;

static void setup(void) { jt_init(&t); }
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_cgroup, .init = setup, .fini = teardown, .timeout = 60);

/* This process's cgroup for a v1 controller, from /proc/self/cgroup (without the "/"). */
static bool own_cgroup(const char *controller, char *out, size_t size)
{
	char buf[8192];
	if (jt_read("/proc/self/cgroup", buf, sizeof(buf)) < 0)
		return false;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		if (!p)
			continue;
		*p = '\0';
		char *tok, *save = NULL;
		for (tok = strtok_r(c + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, controller) == 0) {
				snprintf(out, size, "%s", p[1] == '/' ? p + 2 : p + 1);
				return true;
			}
	}
	return false;
}

Test(jailer_cgroup, v1_memory_and_pids_beneath_our_own_cgroup)
{
	char mem[1024], pids[1024], parent_mem[2048], parent_pids[2048], buf[16384];
	char dir_mem[4096], dir_pids[4096], path[4200], want[4200];
	int fd;
	struct stat st;

	if (stat("/sys/fs/cgroup/memory/cgroup.procs", &st) != 0 ||
	    stat("/sys/fs/cgroup/pids/cgroup.procs", &st) != 0)
		cr_skip_test("no cgroup v1 memory and pids hierarchies here");
	cr_assert(own_cgroup("memory", mem, sizeof(mem)) && own_cgroup("pids", pids, sizeof(pids)));
	/* Both hierarchies take the same --parent-cgroup, so use one that lies beneath our
	 * cgroup in both: ours must be the same path in both, or one of them the root. */
	if (strcmp(mem, pids) != 0 && pids[0] != '\0')
		cr_skip_test("memory and pids cgroups differ: %s vs %s", mem, pids);
	snprintf(parent_mem, sizeof(parent_mem), "%s%skiln-jt-%d", mem, mem[0] ? "/" : "",
		 (int)getpid());
	snprintf(parent_pids, sizeof(parent_pids), "%s", parent_mem);
	snprintf(dir_mem, sizeof(dir_mem), "/sys/fs/cgroup/memory/%s", parent_mem);
	snprintf(dir_pids, sizeof(dir_pids), "/sys/fs/cgroup/pids/%s", parent_pids);

	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--cgroup-version", "1",
			       "--parent-cgroup", parent_mem,
			       "--cgroup", "memory.limit_in_bytes=268435456",
			       "--cgroup", "pids.max=64", "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	bool ready = jt_wait_ready(fd, buf, sizeof(buf), 10000);
	pid_t pid = jt_read_pid(&t, 1000);
	char procs[256] = "", limit[64] = "", max[64] = "", cg[8192] = "";
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", dir_mem, t.id);
	jt_read(path, procs, sizeof(procs));
	snprintf(path, sizeof(path), "%s/%s/memory.limit_in_bytes", dir_mem, t.id);
	jt_read(path, limit, sizeof(limit));
	snprintf(path, sizeof(path), "%s/%s/pids.max", dir_pids, t.id);
	jt_read(path, max, sizeof(max));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	jt_read(path, cg, sizeof(cg));

	kill(jailer, SIGTERM);
	int status = jt_wait(jailer, 10000);
	snprintf(path, sizeof(path), "%s/%s", dir_mem, t.id);
	bool leaf_gone = stat(path, &st) != 0;
	snprintf(path, sizeof(path), "%s/%s", dir_pids, t.id);
	leaf_gone = leaf_gone && stat(path, &st) != 0;
	/* The parents are ours (the test's) to remove. */
	rmdir(dir_mem);
	rmdir(dir_pids);
	close(fd);

	cr_assert(ready, "probe not ready: %s", buf);
	snprintf(want, sizeof(want), "%d\n", (int)pid);
	cr_assert_str_eq(procs, want);
	cr_assert_str_eq(limit, "268435456\n");
	/* The VMM cannot read its limit in the jail: the jailer passes it on. */
	cr_assert_not_null(strstr(buf, "=--mem-limit-bytes\n"), "%s", buf);
	const char *lim = strstr(buf, "=--mem-limit-bytes\n");
	lim = lim ? strchr(strchr(lim, '\n') + 1, '=') : NULL;
	cr_assert(lim && strtoull(lim + 1, NULL, 10) <= 268435456ULL, "%s", buf);
	cr_assert_str_eq(max, "64\n");
	snprintf(want, sizeof(want), ":memory:/%s/%s\n", parent_mem, t.id);
	cr_assert_not_null(strstr(cg, want), "%s", cg);
	snprintf(want, sizeof(want), ":pids:/%s/%s\n", parent_pids, t.id);
	cr_assert_not_null(strstr(cg, want), "%s", cg);
	cr_assert_eq(status, 128 + SIGTERM);
	cr_assert(leaf_gone, "the jail cgroups were not removed");
	cr_assert(stat(dir_mem, &st) != 0 && stat(dir_pids, &st) != 0);
	cr_assert(jt_dir_empty(t.base));
}
