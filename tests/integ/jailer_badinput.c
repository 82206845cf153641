/* Integration: every bad input gives its own exit code and message, and leaves nothing. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "jailer_util.h"

static struct jt t;
static struct jt_result r;

static void setup(void) { jt_init(&t); }
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_badinput, .init = setup, .fini = teardown, .timeout = 60);

/* Builds a valid command line, replaces one option's value (or adds options), runs it. */
static void run_with(const char *opt, const char *val, const char *extra1, const char *extra2)
{
	const char *args[32];
	size_t n = 0;
	const char *names[] = { "--id", "--exec-file", "--uid", "--gid", "--chroot-base-dir" };
	const char *vals[] = { t.id, t.probe, "1000", "1000", t.base };

	for (size_t i = 0; i < 5; i++) {
		args[n++] = names[i];
		args[n++] = opt && strcmp(opt, names[i]) == 0 ? val : vals[i];
	}
	if (opt && !strstr("--id --exec-file --uid --gid --chroot-base-dir", opt)) {
		args[n++] = opt;
		if (val)
			args[n++] = val;
	}
	if (extra1)
		args[n++] = extra1;
	if (extra2)
		args[n++] = extra2;
	args[n] = NULL;
	jt_run(&r, args);
}

static void expect(int code, const char *msg)
{
	cr_assert_eq(r.status, code, "status %d, want %d; stderr: %s", r.status, code, r.err);
	cr_assert_not_null(strstr(r.err, msg), "stderr lacks '%s': %s", msg, r.err);
	cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err), "one line: %s", r.err);
	cr_assert(jt_dir_empty(t.base), "something was left in %s", t.base);
}

Test(jailer_badinput, ids)
{
	char longid[70];
	memset(longid, 'a', 65);
	longid[65] = '\0';
	run_with("--id", "", NULL, NULL);
	expect(172, "invalid --id: it is empty");
	run_with("--id", longid, NULL, NULL);
	expect(172, "65 characters");
	run_with("--id", "a/b", NULL, NULL);
	expect(172, "invalid --id 'a/b'");
	run_with("--id", "..", NULL, NULL);
	expect(172, "invalid --id '..'");
	run_with("--id", "vm_1", NULL, NULL);
	expect(172, "character 3");
	run_with("--id", "a\n2026-01-01T00:00:00 [x:jailer:ERROR] fake\x1b[2J", NULL, NULL);
	expect(172, "invalid --id 'a\\x0a2026-01-01T00:00:00 [x:jailer:ERROR] fake\\x1b[2J'");
}

Test(jailer_badinput, exec_file)
{
	char path[PATH_MAX + 16];
	run_with("--exec-file", "/nonexistent/kiln", NULL, NULL);
	expect(173, "invalid --exec-file /nonexistent/kiln: No such file");
	run_with("--exec-file", "/tmp", NULL, NULL);
	expect(173, "not a regular file");
	snprintf(path, sizeof(path), "%s/link", t.base);
	cr_assert_eq(symlink(t.probe, path), 0);
	run_with("--exec-file", path, NULL, NULL);
	unlink(path);
	expect(173, "a symlink, which is refused here");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A FIFO where a file is expected is refused at once: the jailer (root) never waits. A
 * wait would last until the run's 30 s timeout and end with another status; 5 s leaves
 * room for a loaded, emulated host (an ASan jailer took 1.15 s in a busy lab).
 */
Test(jailer_badinput, fifo_is_refused_at_once)
{
	char fifo[PATH_MAX + 16], bind[2 * PATH_MAX + 16];
	const struct { const char *opt, *val; int code; const char *msg; } cases[] = {
		{ "--exec-file", fifo, 173, "a FIFO, not a regular file" },
		{ "--netns", fifo, 177, "a FIFO, not a regular file" },
		{ "--bind", bind, 186, "a FIFO, not a regular file or a directory" },
	};
	snprintf(fifo, sizeof(fifo), "%s/fifo", t.base);
	snprintf(bind, sizeof(bind), "%s:/fifo", fifo);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(mkfifo(fifo, 0600), 0);
		double t0 = now_s();
		run_with(cases[i].opt, cases[i].val, NULL, NULL);
		double took = now_s() - t0;
		unlink(fifo);
		cr_assert_lt(took, 5.0, "%s: the jailer took %.2f s", cases[i].opt, took);
		expect(cases[i].code, cases[i].msg);
	}
}

Test(jailer_badinput, ids_not_numbers)
{
	run_with("--uid", "root", NULL, NULL);
	expect(174, "invalid --uid 'root': not a number");
	run_with("--gid", "-1", NULL, NULL);
	expect(175, "invalid --gid '-1': not a number");
	run_with("--uid", "4294967295", NULL, NULL);
	expect(174, "out of range");
}

Test(jailer_badinput, chroot_base)
{
	char file[PATH_MAX + 16];
	run_with("--chroot-base-dir", "/nonexistent-kiln-base", NULL, NULL);
	cr_assert_eq(r.status, 176, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "invalid --chroot-base-dir /nonexistent-kiln-base"));
	snprintf(file, sizeof(file), "%s/file", t.base);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	run_with("--chroot-base-dir", file, NULL, NULL);
	unlink(file);
	expect(176, "not a directory");
}

Test(jailer_badinput, cgroups)
{
	run_with("--cgroup", "nosuch.max=1", NULL, NULL);
	expect(178, "unknown cgroup v2 controller 'nosuch'");
	run_with("--cgroup", "memory.nosuch=1", NULL, NULL);
	expect(179, "unknown cgroup v2 file 'memory.nosuch'");
	run_with("--cgroup", "../memory.max=1", NULL, NULL);
	expect(179, "must be a file name, not a path");
	run_with("--cgroup", "memory.max", NULL, NULL);
	expect(179, "expected FILE=VALUE");
	run_with("--cgroup-version", "3", NULL, NULL);
	expect(180, "invalid --cgroup-version '3'");
	run_with("--parent-cgroup", "a/../b", NULL, NULL);
	expect(181, "'..' component");
	run_with("--parent-cgroup", "/abs", NULL, NULL);
	expect(181, "relative path");
	run_with("--cgroup-version", "1", "--cgroup", "memory.max=1");
	expect(179, "unknown cgroup v1 file 'memory.max'");
}

Test(jailer_badinput, netns_that_is_not_one)
{
	run_with("--netns", "/proc/self/ns/uts", NULL, NULL);
	expect(177, "not a network namespace");
	run_with("--netns", "/etc/hostname", NULL, NULL);
	expect(177, "not a network namespace");
	run_with("--netns", "/nonexistent/netns", NULL, NULL);
	expect(177, "invalid --netns /nonexistent/netns");
}

Test(jailer_badinput, resource_limits_and_namespaces)
{
	run_with("--resource-limit", "cpu=1", NULL, NULL);
	expect(182, "unknown resource limit 'cpu'");
	run_with("--resource-limit", "no-file=lots", NULL, NULL);
	expect(182, "is not a number");
	run_with("--new-ns", "ipc,user", NULL, NULL);
	expect(183, "unknown namespace 'user'");
}

Test(jailer_badinput, usage)
{
	run_with("--frobnicate", NULL, NULL, NULL);
	expect(170, "unknown option '--frobnicate'");
	run_with("--daemonize", NULL, "--daemonize", NULL);
	expect(170, "--daemonize given twice");
	const char *args[] = { "--id", "x", "--exec-file", t.probe, "--gid", "1", NULL };
	jt_run(&r, args);
	expect(170, "missing required option --uid");
}

Test(jailer_badinput, not_root)
{
	int err[2];
	char buf[1024] = "";
	cr_assert_eq(pipe(err), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(99);
		execl(t.jailer, t.jailer, "--id", "x", "--exec-file", t.probe, "--uid", "1",
		      "--gid", "1", "--chroot-base-dir", t.base, (char *)NULL);
		_exit(98);
	}
	close(err[1]);
	ssize_t n = read(err[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	cr_assert_eq(jt_wait(pid, 10000), 171, "%s", buf);
	cr_assert_not_null(strstr(buf, "must run as root"));
	cr_assert(jt_dir_empty(t.base));
}

Test(jailer_badinput, cgroup_v2_controller_missing_leaves_nothing)
{
	char avail[512] = "";
	if (jt_read("/sys/fs/cgroup/unified/cgroup.controllers", avail, sizeof(avail)) < 0 ||
	    strstr(avail, "pids"))
		cr_skip_test("this host has a v2 pids controller (tested in the lab)");
	run_with("--cgroup", "pids.max=10", NULL, NULL);
	expect(193, "cgroup v2 controller pids is not available");
}
