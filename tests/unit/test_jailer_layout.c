/* Unit: the jail state file, prepared jail roots, and the mount verification. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer/chroot.h"
#include "jailer/cleanup.h"
#include "jailer/privs.h"

static struct jail_err err;
static struct jail_layout lay, back;
static char cgroups[CG_MAX_TARGETS][PATH_MAX];

Test(jailer_layout, state_round_trip)
{
	static struct cg_plan plan;
	static char text[65536];
	char dir[64], cmd[128];
	struct jail_paths p;
	size_t n;

	snprintf(dir, sizeof(dir), "/tmp/kiln-statetest-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(p.jail_dir, sizeof(p.jail_dir), "%s", dir);
	lay.made_root = true;
	lay.n_entries = 2;
	strcpy(lay.entries[0], "kiln");
	strcpy(lay.entries[1], "images/vmlinux");
	plan.n = 1;
	strcpy(plan.t[0].dir, "/sys/fs/cgroup/kiln/vm1");
	cr_assert_eq(jail_state_write(&p, &lay, &plan, &err), 0, "%s", err.msg);
	/* A second run finds the jail. */
	cr_assert_eq(jail_state_write(&p, &lay, &plan, &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_JAIL_EXISTS);
	snprintf(cmd, sizeof(cmd), "%s/jail.state", dir);
	cr_assert_gt(read_small_file(AT_FDCWD, cmd, text, sizeof(text)), 0);
	cr_assert_str_eq(text, "kiln-jail 2\nmade root\nentry kiln\nentry images/vmlinux\n"
			       "cgroup /sys/fs/cgroup/kiln/vm1\n");
	cr_assert_eq(jail_state_parse(text, &back, cgroups, &n), 0);
	cr_assert(back.made_root && !back.made_jail_dir && !back.made_exec_dir);
	cr_assert_eq(back.n_entries, 2u);
	cr_assert_str_eq(back.entries[1], "images/vmlinux");
	cr_assert_eq(n, 1u);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);

	/* Version 1: everything was the jailer's. Forged entries are refused. */
	char v1[] = "kiln-jail 1\ncgroup /x/y\n";
	cr_assert_eq(jail_state_parse(v1, &back, cgroups, &n), 0);
	cr_assert(back.made_root && back.made_jail_dir && back.made_exec_dir);
	const char *forged[] = { "kiln-jail 2\nentry ../../etc\n", "kiln-jail 2\nentry /etc\n",
				 "kiln-jail 2\nentry a//b\n", "entry x\n", "kiln-jail 2\nrm -rf\n" };
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", forged[i]);
		cr_assert_eq(jail_state_parse(buf, &back, cgroups, &n), -EINVAL, "%s", forged[i]);
	}
}

Test(jailer_layout, mounts_are_the_root_and_exactly_the_binds)
{
	struct jail_bind binds[2] = { { .target = "/vmlinux" }, { .target = "/a b", .rw = true } };
	struct jail_expect want = { .binds = binds, .n_binds = 2 };
	const char *root = "100 90 0:41 /tmp/j/root / rw,relatime master:1 - ext4 /dev/vda rw\n";
	const char *k = "101 100 0:41 /k /vmlinux ro,nosuid,nodev,noexec,relatime master:1 - ext4 /dev/vda rw\n";
	const char *d = "102 100 0:41 /d /a\\040b rw,nosuid,nodev,noexec,relatime - ext4 /dev/vda rw\n";
	char text[1024];

	snprintf(text, sizeof(text), "%s%s%s", root, k, d);
	cr_assert_eq(jail_check_mounts(text, &want, &err), 0, "%s", err.msg);
	snprintf(text, sizeof(text), "%s%s", root, k);
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
	cr_assert_not_null(strstr(err.msg, "--bind /a b is not mounted"), "%s", err.msg);
	snprintf(text, sizeof(text), "%s%s%s%s", root, k, d, k);
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
	cr_assert_not_null(strstr(err.msg, "more than once"), "%s", err.msg);
	snprintf(text, sizeof(text), "%s%s%s%s", root, k, d,
		 "103 100 0:5 / /proc rw,nosuid - proc proc rw\n");
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
	cr_assert_not_null(strstr(err.msg, "mount /proc is visible"), "%s", err.msg);
	/* A read-only bind that is writable, or one without noexec. */
	binds[1].rw = false;
	snprintf(text, sizeof(text), "%s%s%s", root, k, d);
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
	binds[1].rw = true;
	snprintf(text, sizeof(text), "%s%s%s", root,
		 "101 100 0:41 /k /vmlinux ro,nosuid,nodev,relatime - ext4 /dev/vda rw\n", d);
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
	/* No bind at all: the root alone, once. */
	want.n_binds = 0;
	cr_assert_eq(jail_check_mounts(root, &want, &err), 0, "%s", err.msg);
	snprintf(text, sizeof(text), "%s%s", root, root);
	cr_assert_eq(jail_check_mounts(text, &want, &err), -1);
}

Test(jailer_layout, relpath)
{
	cr_assert_eq(jail_check_relpath("a/b.c"), 0);
	cr_assert_eq(jail_check_relpath("kiln.pid"), 0);
	const char *bad[] = { "", "/a", "a/", "a//b", ".", "..", "a/../b", "./a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(jail_check_relpath(bad[i]), -EINVAL, "%s", bad[i]);
}
