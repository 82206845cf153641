/* Integration: --daemonize, --new-pid-ns, --netns, --new-ns, --cleanup and --missing-ok. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer_util.h"

static struct jt t;
static struct jt_result r;

static void setup(void) { jt_init(&t); }
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_modes, .init = setup, .fini = teardown, .timeout = 60);

static void cleanup_ok(void)
{
	const char *args[] = { "--cleanup", "--id", t.id, "--chroot-base-dir", t.base, NULL };
	jt_run(&r, args);
	cr_assert_eq(r.status, 0, "cleanup: %s", r.err);
	cr_assert(jt_dir_empty(t.base));
}

static void kill_and_wait(pid_t pid)
{
	char path[64];
	kill(pid, SIGKILL);
	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	for (int i = 0; i < 500 && access(path, F_OK) == 0; i++)
		usleep(10000);
}

Test(jailer_modes, daemonize)
{
	char out[2 * PATH_MAX], buf[16384], path[64], v[64];
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--daemonize", "--",
			       "--out", "/report", "--wait", NULL };
	jt_run(&r, args);
	/* The jailer returns once the VMM is exec'd: the pid file is already there. */
	cr_assert_eq(r.status, 0, "%s", r.err);
	pid_t pid = jt_read_pid(&t, 10);
	cr_assert_gt(pid, 0);
	snprintf(out, sizeof(out), "%s/report", t.root);
	for (int i = 0; i < 500 && !(jt_read(out, buf, sizeof(buf)) > 0 && strstr(buf, "\nready\n")); i++)
		usleep(10000);
	cr_assert_not_null(strstr(buf, "\nready\n"));
	cr_assert_str_eq(jt_value(buf, "uid", v, sizeof(v)), "1000,1000,1000");
	/* Detached: its own session (not the leader: double fork), stdio on /dev/null. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cr_assert_gt(jt_read(path, buf, sizeof(buf)), 0);
	int ppid, pgrp, sid;
	cr_assert_eq(sscanf(strrchr(buf, ')') + 2, "%*c %d %d %d", &ppid, &pgrp, &sid), 3);
	cr_assert_neq(sid, getsid(0));
	cr_assert_neq(sid, pid);
	for (int fd = 0; fd <= 2; fd++) {
		char link[64], target[64] = "";
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		cr_assert_gt(readlink(link, target, sizeof(target) - 1), 0);
		cr_assert_str_eq(target, "/dev/null");
	}
	/* --cleanup refuses while it runs (--missing-ok hides no such refusal), works once
	 * it was killed; then there is nothing left, which --missing-ok calls done. */
	const char *c[] = { "--cleanup", "--id", t.id, "--chroot-base-dir", t.base, NULL };
	const char *cm[] = { "--cleanup", "--id", t.id, "--chroot-base-dir", t.base,
			     "--missing-ok", NULL };
	jt_run(&r, c);
	cr_assert_eq(r.status, 201, "%s", r.err);
	jt_run(&r, cm);
	cr_assert_eq(r.status, 201, "%s", r.err);
	kill_and_wait(pid);
	cleanup_ok();
	jt_run(&r, c);
	cr_assert_eq(r.status, 202, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "ERROR] no jail with id"), "%s", r.err);
	jt_run(&r, cm);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "ERROR"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "nothing to clean up"), "%s", r.err);
}

Test(jailer_modes, new_pid_ns)
{
	char buf[16384], v[64];
	int fd;
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--new-pid-ns", "--",
			       "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000));
	cr_assert_eq(jt_wait(jailer, 10000), 0);
	cr_assert_str_eq(jt_value(buf, "pid", v, sizeof(v)), "1");
	pid_t pid = jt_read_pid(&t, 1000);
	cr_assert_gt(pid, 1);
	cr_assert_neq(jt_ns_inode(pid, "pid"), jt_ns_inode(getpid(), "pid"));
	cr_assert_eq(jt_ns_inode(pid, "net"), jt_ns_inode(getpid(), "net"));
	close(fd);
	kill_and_wait(pid);
	cleanup_ok();
}

Test(jailer_modes, netns)
{
	char name[64], cmd[160], nspath[128], buf[16384];
	int fd;
	struct stat st;
	snprintf(name, sizeof(name), "kiln-jt-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s", name);
	if (system(cmd) != 0)
		cr_skip_test("ip netns add failed");
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", name);
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--netns", nspath, "--",
			       "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	bool ready = jt_wait_ready(fd, buf, sizeof(buf), 10000);
	pid_t pid = jt_read_pid(&t, 1000);
	unsigned long ino = pid > 0 ? jt_ns_inode(pid, "net") : 0;
	int sr = stat(nspath, &st);
	kill(jailer, SIGTERM);
	int status = jt_wait(jailer, 10000);
	snprintf(cmd, sizeof(cmd), "ip netns delete %s", name);
	cr_assert_eq(system(cmd), 0);
	close(fd);
	cr_assert(ready);
	cr_assert_eq(sr, 0);
	cr_assert_eq(ino, (unsigned long)st.st_ino, "VMM is not in the netns");
	cr_assert_eq(status, 128 + SIGTERM);
	cr_assert(jt_dir_empty(t.base));
}

Test(jailer_modes, new_ipc_uts_cgroup_namespaces)
{
	char buf[16384], v[64];
	int fd;
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--new-ns", "ipc,uts,cgroup",
			       "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000));
	pid_t pid = jt_read_pid(&t, 1000);
	cr_assert_str_eq(jt_value(buf, "hostname", v, sizeof(v)), t.id);
	for (const char *const *ns = (const char *const[]){ "ipc", "uts", "cgroup", NULL }; *ns; ns++)
		cr_assert_neq(jt_ns_inode(pid, *ns), jt_ns_inode(getpid(), *ns), "%s", *ns);
	cr_assert_eq(jt_ns_inode(pid, "net"), jt_ns_inode(getpid(), "net"));
	kill(jailer, SIGTERM);
	cr_assert_eq(jt_wait(jailer, 10000), 128 + SIGTERM);
	close(fd);
	cr_assert(jt_dir_empty(t.base));
}

Test(jailer_modes, cleanup_after_everything_was_killed)
{
	char buf[16384];
	int fd;
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000));
	pid_t pid = jt_read_pid(&t, 1000);
	kill(jailer, SIGKILL);	/* no supervisor left to clean up */
	jt_wait(jailer, 5000);
	kill_and_wait(pid);
	close(fd);
	cr_assert_not(jt_dir_empty(t.base));
	cleanup_ok();
	const char *again[] = { "--cleanup", "--id", t.id, "--chroot-base-dir", t.base, NULL };
	jt_run(&r, again);
	cr_assert_eq(r.status, 202, "%s", r.err);
}
