/* Unit: parsers for /proc/self/status, /proc/self/cgroup, mountinfo and /proc/misc. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "jailer/privs.h"
#include "jailer/procfs.h"

static const char status_dropped[] =
	"Name:\tkiln\nUmask:\t0077\nUid:\t1000\t1000\t1000\t1000\nGid:\t2000\t2000\t2000\t2000\n"
	"FDSize:\t64\nGroups:\t \nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
	"CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n"
	"NoNewPrivs:\t1\nSeccomp:\t0\n";

Test(jailer_procfs, status_of_a_dropped_process_passes)
{
	struct proc_status st;
	struct jail_expect want = { .uid = 1000, .gid = 2000 };
	struct jail_err err;
	cr_assert_eq(proc_parse_status(status_dropped, &st), 0);
	cr_assert_eq(st.ngroups, 0u);
	cr_assert_eq(jail_check_status(&st, &want, &err), 0, "%s", err.msg);
}

Test(jailer_procfs, each_leftover_privilege_is_caught)
{
	static const struct { const char *from, *to, *msg; } cases[] = {
		{ "Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000\t1000\t0\t1000", "saved uid is 0" },
		{ "Gid:\t2000\t2000\t2000\t2000", "Gid:\t2000\t0\t2000\t2000", "effective gid is 0" },
		{ "Groups:\t ", "Groups:\t0 27 ", "2 supplementary groups" },
		{ "CapInh:\t0000000000000000", "CapInh:\t0000000000000400", "CapInh" },
		{ "CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff", "CapBnd" },
		{ "CapAmb:\t0000000000000000", "CapAmb:\t0000000000000001", "CapAmb" },
		{ "NoNewPrivs:\t1", "NoNewPrivs:\t0", "NoNewPrivs is 0" },
	};
	struct jail_expect want = { .uid = 1000, .gid = 2000 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024], *p;
		struct proc_status st;
		struct jail_err err;
		strcpy(text, status_dropped);
		p = strstr(text, cases[i].from);
		cr_assert_not_null(p);
		memmove(p + strlen(cases[i].to), p + strlen(cases[i].from),
			strlen(p + strlen(cases[i].from)) + 1);
		memcpy(p, cases[i].to, strlen(cases[i].to));
		cr_assert_eq(proc_parse_status(text, &st), 0);
		cr_expect_eq(jail_check_status(&st, &want, &err), -1, "%s", cases[i].to);
		cr_expect_not_null(strstr(err.msg, cases[i].msg), "%s", err.msg);
	}
	struct proc_status st;
	cr_assert_eq(proc_parse_status("Uid:\t1\t1\t1\t1\n", &st), -EINVAL);
}

Test(jailer_procfs, cgroup_hybrid_and_v2)
{
	struct proc_cgroup cg;
	cr_assert_eq(proc_parse_cgroup("9:name=systemd:/\n8:pids:/a\n2:cpu,cpuacct:/b/c\n"
				       "4:memory:/process_api/x\n0::/user.slice/s.scope\n", &cg), 0);
	cr_assert_eq(cg.n, 5u);
	cr_assert_str_eq(proc_cgroup_path(&cg, "memory"), "/process_api/x");
	cr_assert_str_eq(proc_cgroup_path(&cg, "cpuacct"), "/b/c");
	cr_assert_str_eq(proc_cgroup_path(&cg, "cpu"), "/b/c");
	cr_assert_str_eq(proc_cgroup_path(&cg, NULL), "/user.slice/s.scope");
	cr_assert_null(proc_cgroup_path(&cg, "cpuset"));
	cr_assert_eq(proc_parse_cgroup("garbage\n", &cg), -EINVAL);
	cr_assert_eq(proc_parse_cgroup("x:memory:/a\n", &cg), -EINVAL);
}

Test(jailer_procfs, cgroup_mounts_from_mountinfo)
{
	static const char mi[] =
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
		"42 31 0:32 /sub /mnt/my\\040mem rw - cgroup cgroup rw,memory\n";
	struct cg_mounts m;
	cr_assert_eq(proc_parse_cgroup_mounts(mi, &m), 0);
	cr_assert_eq(m.n, 3u);
	cr_assert_str_eq(cg_mount_v1(&m, "cpuacct")->point, "/sys/fs/cgroup/cpu,cpuacct");
	cr_assert_str_eq(cg_mount_v1(&m, "cpuacct")->controllers, "cpu,cpuacct");
	cr_assert_str_eq(cg_mount_v1(&m, "memory")->point, "/sys/fs/cgroup/memory");
	cr_assert_null(cg_mount_v1(&m, "pids"));
	cr_assert_str_eq(cg_mount_v2(&m)->point, "/sys/fs/cgroup/unified");

	cr_assert_eq(proc_parse_cgroup_mounts("50 1 0:9 /x /mnt/a\\040b rw - cgroup2 none rw\n", &m), 0);
	cr_assert_str_eq(cg_mount_v2(&m)->point, "/mnt/a b");
	cr_assert_str_eq(cg_mount_v2(&m)->root, "/x");
}

Test(jailer_procfs, misc_minor)
{
	cr_assert_eq(proc_misc_minor("183 hw_random\n257 userfaultfd\n232 kvm\n", "userfaultfd"), 257);
	cr_assert_eq(proc_misc_minor("232 kvm\n", "userfaultfd"), -ENOENT);
}
