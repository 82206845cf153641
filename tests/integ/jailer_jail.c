/* Integration: a full jail seen from inside (the probe) and outside (/proc/PID). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "jailer_util.h"

#define UID "12345"
#define GID "23456"

static struct jt t;
static struct jt_result r;

static void setup(void) { jt_init(&t); }
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_jail, .init = setup, .fini = teardown, .timeout = 60);

Test(jailer_jail, probe_sees_a_bare_unprivileged_world)
{
	char v[256];
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--", "--alpha", "two words", NULL };
	jt_run(&r, args);
	cr_assert_eq(r.status, 0, "status %d, stderr: %s", r.status, r.err);

	/* Firecracker's leading arguments, then ours, verbatim. */
	cr_assert_str_eq(jt_value(r.out, "arg.0", v, sizeof(v)), "/jail_probe");
	cr_assert_str_eq(jt_value(r.out, "arg.1", v, sizeof(v)), "--id");
	cr_assert_str_eq(jt_value(r.out, "arg.2", v, sizeof(v)), t.id);
	cr_assert_str_eq(jt_value(r.out, "arg.3", v, sizeof(v)), "--start-time-us");
	cr_assert_str_eq(jt_value(r.out, "arg.5", v, sizeof(v)), "--start-time-cpu-us");
	cr_assert_str_eq(jt_value(r.out, "arg.7", v, sizeof(v)), "--parent-cpu-time-us");
	/* Where the test itself runs under a cgroup memory limit, the jailer passes it on. */
	int a = 9;
	char key[16];
	const char *arg9 = jt_value(r.out, "arg.9", v, sizeof(v));
	if (arg9 && strcmp(arg9, "--mem-limit-bytes") == 0)
		a += 2;
	snprintf(key, sizeof(key), "arg.%d", a);
	cr_assert_str_eq(jt_value(r.out, key, v, sizeof(v)), "--alpha");
	snprintf(key, sizeof(key), "arg.%d", a + 1);
	cr_assert_str_eq(jt_value(r.out, key, v, sizeof(v)), "two words");
	snprintf(key, sizeof(key), "arg.%d", a + 2);
	cr_assert_null(jt_value(r.out, key, v, sizeof(v)));

	cr_assert_str_eq(jt_value(r.out, "uid", v, sizeof(v)), UID "," UID "," UID);
	cr_assert_str_eq(jt_value(r.out, "gid", v, sizeof(v)), GID "," GID "," GID);
	cr_assert_str_eq(jt_value(r.out, "groups", v, sizeof(v)), "0");
	for (const char *const *k = (const char *const[]){ "caps.inh", "caps.prm", "caps.eff",
							    "caps.bnd", "caps.amb", NULL }; *k; k++)
		cr_assert_eq(strtoull(jt_value(r.out, *k, v, sizeof(v)), NULL, 16), 0, "%s", *k);
	cr_assert_str_eq(jt_value(r.out, "nnp", v, sizeof(v)), "1");
	cr_assert_str_eq(jt_value(r.out, "rlimit.nofile", v, sizeof(v)), "2048,2048");
	cr_assert_str_eq(jt_value(r.out, "env.count", v, sizeof(v)), "0");
	cr_assert_not_null(jt_value(r.out, "fd.2", v, sizeof(v)));
	cr_assert_null(jt_value(r.out, "fd.3", v, sizeof(v)), "fd 3 leaked into the jail");

	/* Exactly the expected entries, with their types, modes, owners and numbers. */
	struct { const char *line; } want[] = {
		{ "entry=/dev 40700 " UID " " GID " 0:0" },
		{ "entry=/dev/net 40700 " UID " " GID " 0:0" },
		{ "entry=/dev/kvm 20600 " UID " " GID " 10:232" },
		{ "entry=/dev/net/tun 20600 " UID " " GID " 10:200" },
		{ "entry=/dev/urandom 20600 " UID " " GID " 1:9" },
		{ "entry=/run 40700 " UID " " GID " 0:0" },
		{ "entry=/jail_probe 100755 " UID " " GID " 0:0" },
		{ "entry=/jail_probe.pid 100644 0 0 0:0" },
	};
	size_t entries = 0;
	for (const char *p = r.out; (p = strstr(p, "entry=")); p++)
		entries++;
	bool uffd = access("/dev/userfaultfd", F_OK) == 0;
	cr_assert_eq(entries, sizeof(want) / sizeof(want[0]) + uffd, "entries:\n%s", r.out);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(r.out, want[i].line), "missing %s", want[i].line);
	if (uffd) {
		struct stat st;
		char line[128];
		stat("/dev/userfaultfd", &st);
		snprintf(line, sizeof(line), "entry=/dev/userfaultfd 20600 " UID " " GID " 10:%u\n",
			 minor(st.st_rdev));
		cr_assert_not_null(strstr(r.out, line));
	}
	/* The supervising jailer removed the jail after the probe exited. */
	cr_assert(jt_dir_empty(t.base), "jail left behind in %s", t.base);
}

Test(jailer_jail, vmm_exit_status_is_passed_through)
{
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--", "--exit", "42", NULL };
	jt_run(&r, args);
	cr_assert_eq(r.status, 42);
	cr_assert(jt_dir_empty(t.base));
}

Test(jailer_jail, inspected_from_outside)
{
	char buf[65536], path[128], v[64];
	int fd;
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000), "probe not ready: %s", buf);
	pid_t pid = jt_read_pid(&t, 2000);
	cr_assert_gt(pid, 0);
	cr_assert_str_eq(jt_value(buf, "pid", v, sizeof(v)), (snprintf(path, sizeof(path), "%d",
								       (int)pid), path));

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert_gt(jt_read(path, buf, sizeof(buf)), 0);
	cr_assert_not_null(strstr(buf, "\nUid:\t" UID "\t" UID "\t" UID "\t" UID "\n"), "%s", buf);
	cr_assert_not_null(strstr(buf, "\nGid:\t" GID "\t" GID "\t" GID "\t" GID "\n"));
	const char *groups = strstr(buf, "\nGroups:");
	cr_assert_not_null(groups);
	cr_assert_eq(strcspn(groups + 8, "0123456789\n"), strcspn(groups + 8, "\n"),
		     "supplementary groups remain");
	cr_assert_not_null(strstr(buf, "\nCapInh:\t0000000000000000\n"));
	cr_assert_not_null(strstr(buf, "\nCapPrm:\t0000000000000000\n"));
	cr_assert_not_null(strstr(buf, "\nCapEff:\t0000000000000000\n"));
	cr_assert_not_null(strstr(buf, "\nCapBnd:\t0000000000000000\n"));
	cr_assert_not_null(strstr(buf, "\nCapAmb:\t0000000000000000\n"));
	cr_assert_not_null(strstr(buf, "\nNoNewPrivs:\t1\n"));

	/* Its own mount namespace, with only the jail root in it. */
	cr_assert_neq(jt_ns_inode(pid, "mnt"), jt_ns_inode(getpid(), "mnt"));
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	cr_assert_gt(jt_read(path, buf, sizeof(buf)), 0);
	cr_assert_eq(strchr(buf, '\n') - buf + 1, (long)strlen(buf), "mounts:\n%s", buf);
	cr_assert_not_null(strstr(buf, "/root / "), "%s", buf);

	/* /proc/PID/root is the jail: the same inode as base/jail_probe/ID/root. */
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	cr_assert_eq(stat(path, &a), 0);
	cr_assert_eq(stat(t.root, &b), 0);
	cr_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	cr_assert_eq(b.st_mode & 07777, 0700);
	cr_assert_eq(b.st_uid, 12345u);

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	cr_assert_gt(jt_read(path, buf, sizeof(buf)), 0);
	cr_assert_not_null(strstr(buf, "Max open files            2048                 2048"),
			   "%s", buf);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	cr_assert_eq(jt_read(path, buf, sizeof(buf)), 0);

	/* SIGTERM to the jailer reaches the VMM; the jailer exits with 128+15 and cleans. */
	kill(jailer, SIGTERM);
	cr_assert_eq(jt_wait(jailer, 10000), 128 + SIGTERM);
	close(fd);
	cr_assert(jt_dir_empty(t.base), "jail left behind");
}

Test(jailer_jail, resource_limits)
{
	char v[64];
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--resource-limit", "fsize=1048576",
			       "--resource-limit", "no-file=100", NULL };
	jt_run(&r, args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(jt_value(r.out, "rlimit.nofile", v, sizeof(v)), "100,100");
	cr_assert_str_eq(jt_value(r.out, "rlimit.fsize", v, sizeof(v)), "1048576,1048576");
}

Test(jailer_jail, environment_and_fds_of_the_caller_do_not_leak)
{
	char v[64];
	/* An fd without CLOEXEC and an environment variable in the caller. */
	int fd = dup(2);
	setenv("KILN_SECRET", "x", 1);
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, NULL };
	jt_run(&r, args);
	close(fd);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(jt_value(r.out, "env.count", v, sizeof(v)), "0");
	cr_assert_null(jt_value(r.out, "fd.3", v, sizeof(v)));
}
