/* Unit: cgroup placement plans, and the v2 steps applied to a fake tree in a temp dir. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer/cgroup.h"

static struct jail_config cfg;
static struct cg_plan plan;
static struct cg_mounts mounts;
static struct proc_cgroup self;
static struct jail_err err;
static char tree[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static const char *get(const char *rel)
{
	static char buf[256];
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void mk(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
	/* Every fake cgroup has the files the jailer reads or writes. */
	char f[300];
	snprintf(f, sizeof(f), "%s/cgroup.subtree_control", rel);
	put(f, "");
	snprintf(f, sizeof(f), "%s/cgroup.procs", rel);
	put(f, "");
}

static void setup(void)
{
	char mi[512];
	snprintf(tree, sizeof(tree), "/tmp/kiln-cgtest-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.id, "vm1");
	strcpy(cfg.exec_name, "kiln");
	cfg.cgroup_version = 2;
	snprintf(mi, sizeof(mi),
		 "41 31 0:38 / %s rw - cgroup2 cgroup2 rw\n"
		 "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		 "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n", tree);
	cr_assert_eq(proc_parse_cgroup_mounts(mi, &mounts), 0);
	cr_assert_eq(proc_parse_cgroup("0::/system.slice/kiln@vm1.service\n", &self), 0);
	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	put("cgroup.subtree_control", "");
}

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s; (void)f; (void)w;
	return remove(p);
}

static void teardown(void)
{
	nftw(tree, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(jailer_cgroup, .init = setup, .fini = teardown);

static void add(const char *file, const char *value)
{
	struct jail_cgroup_setting *s = &cfg.cgroups[cfg.n_cgroups++];
	char arg[300];
	snprintf(arg, sizeof(arg), "%s=%s", file, value);
	cr_assert_eq(jail_parse_cgroup_setting(arg, cfg.cgroup_version, s, &err), 0, "%s", err.msg);
}

Test(jailer_cgroup, no_cgroup_flags_no_cgroup)
{
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0);
	cr_assert_eq(plan.n, 0u);
}

Test(jailer_cgroup, v1_one_target_per_hierarchy)
{
	cfg.cgroup_version = 1;
	add("memory.limit_in_bytes", "100");
	add("cpu.shares", "10");
	add("cpuacct.usage", "0");
	cfg.parent_cgroup = "process_api/abc/t";
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0, "%s", err.msg);
	cr_assert_eq(plan.n, 2u);
	cr_assert_str_eq(plan.t[0].dir, "/sys/fs/cgroup/memory/process_api/abc/t/vm1");
	cr_assert_str_eq(plan.t[0].member, "/process_api/abc/t/vm1");
	cr_assert_str_eq(plan.t[1].dir, "/sys/fs/cgroup/cpu,cpuacct/process_api/abc/t/vm1");
	cr_assert_str_eq(plan.t[1].controllers, "cpu,cpuacct");
	cr_assert_eq(plan.t[1].n_settings, 2u);

	/* Default parent: the exec file's name, like Firecracker. */
	cfg.parent_cgroup = NULL;
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0);
	cr_assert_str_eq(plan.t[0].rel, "kiln/vm1");

	/* A controller that is not mounted is an error before anything exists. */
	add("pids.max", "5");
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_CGROUP);
	cr_assert_not_null(strstr(err.msg, "pids is not mounted"));
}

Test(jailer_cgroup, v1_membership_check)
{
	struct proc_cgroup now;
	cfg.cgroup_version = 1;
	add("memory.limit_in_bytes", "100");
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0);
	cr_assert_eq(proc_parse_cgroup("4:memory:/kiln/vm1\n", &now), 0);
	cr_assert_eq(cg_verify_member(&plan, &now, false, &err), 0, "%s", err.msg);
	cr_assert_eq(proc_parse_cgroup("4:memory:/kiln\n", &now), 0);
	cr_assert_eq(cg_verify_member(&plan, &now, false, &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_VERIFY);
	cr_assert_eq(proc_parse_cgroup("4:memory:/\n", &now), 0);
	cr_assert_eq(cg_verify_member(&plan, &now, true, &err), 0);
}

Test(jailer_cgroup, v2_default_parent_top_down_levels)
{
	char want[128];
	add("memory.max", "1G");
	add("pids.max", "10");
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0, "%s", err.msg);
	cr_assert_eq(plan.n, 1u);
	snprintf(want, sizeof(want), "%s/kiln/vm1", tree);
	cr_assert_str_eq(plan.t[0].dir, want);
	cr_assert_str_eq(plan.t[0].member, "/kiln/vm1");
	cr_assert_str_eq(plan.enable, "memory,pids");
	cr_assert_eq(plan.n_levels, 2u);
	cr_assert_str_eq(plan.levels[0], tree);
	snprintf(want, sizeof(want), "%s/kiln", tree);
	cr_assert_str_eq(plan.levels[1], want);
	cr_assert_str_eq(plan.supervisor, "");
}

Test(jailer_cgroup, v2_explicit_parent)
{
	char want[128];
	add("cpu.max", "50000 100000");
	cfg.parent_cgroup = "a/b/c";
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, true, &plan, &err), 0, "%s", err.msg);
	cr_assert_eq(plan.n_levels, 4u);
	snprintf(want, sizeof(want), "%s/a/b", tree);
	cr_assert_str_eq(plan.levels[2], want);
	snprintf(want, sizeof(want), "%s/a/b/c/vm1", tree);
	cr_assert_str_eq(plan.t[0].dir, want);
	cr_assert_str_eq(plan.supervisor, "", "--parent-cgroup wins over delegation");
}

Test(jailer_cgroup, v2_delegated_goes_below_our_own_cgroup)
{
	char want[160];
	mk("system.slice");
	mk("system.slice/kiln@vm1.service");
	put("system.slice/kiln@vm1.service/cgroup.controllers", "memory pids\n");
	add("memory.max", "1G");
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, true, &plan, &err), 0, "%s", err.msg);
	snprintf(want, sizeof(want), "%s/system.slice/kiln@vm1.service/kiln/vm1", tree);
	cr_assert_str_eq(plan.t[0].dir, want);
	snprintf(want, sizeof(want), "%s/system.slice/kiln@vm1.service/supervisor", tree);
	cr_assert_str_eq(plan.supervisor, want);
	cr_assert_eq(plan.n_levels, 2u);
	snprintf(want, sizeof(want), "%s/system.slice/kiln@vm1.service", tree);
	cr_assert_str_eq(plan.levels[0], want);
}

Test(jailer_cgroup, v2_missing_controller_is_refused)
{
	put("cgroup.controllers", "cpu io\n");
	add("memory.max", "1G");
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_CGROUP);
	cr_assert_not_null(strstr(err.msg, "controller memory is not available"), "%s", err.msg);
}

Test(jailer_cgroup, v2_apply_on_a_fake_tree)
{
	add("memory.max", "1G");
	add("pids.max", "10");
	cfg.parent_cgroup = "kiln";
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0, "%s", err.msg);
	/* The fake kernel: levels exist with their files; the leaf is made by the jailer
	 * and gets its interface files from this test. */
	mk("kiln");
	put("cgroup.subtree_control", "memory pids\n");	/* already on at the top: skipped */
	cr_assert_eq(cg_v2_enable_controllers(&plan, &err), 0, "%s", err.msg);
	cr_assert_str_eq(get("cgroup.subtree_control"), "memory pids\n", "rewritten needlessly");
	/* Files are rewritten per write (no O_APPEND): the last controller written wins. */
	cr_assert_str_eq(get("kiln/cgroup.subtree_control"), "+pids");

	/* cg_create makes the leaf; it must not exist before. */
	mk("kiln/vm1");
	cr_assert_eq(cg_create(&cfg, &plan, &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_JAIL_EXISTS);
	cr_assert_eq(cg_remove_dir(plan.t[0].dir), -ENOTEMPTY);
}

Test(jailer_cgroup, v2_values_and_attach)
{
	add("memory.max", "1G");
	cfg.parent_cgroup = "kiln";
	cr_assert_eq(cg_plan_build(&cfg, &mounts, &self, false, &plan, &err), 0);
	mk("kiln");
	mk("kiln/vm1");
	put("kiln/vm1/memory.max", "max\n");
	cr_assert_eq(cg_write_file(plan.t[0].dir, "memory.max", "1G", &err), 0);
	cr_assert_str_eq(get("kiln/vm1/memory.max"), "1G");
	cr_assert_eq(cg_attach_self(&plan, &err), 0);
	cr_assert_str_eq(get("kiln/vm1/cgroup.procs"), "0");
	/* A file the kernel does not offer is an error naming it. */
	cr_assert_eq(cg_write_file(plan.t[0].dir, "memory.high", "1G", &err), -1);
	cr_assert_not_null(strstr(err.msg, "memory.high"));
}
