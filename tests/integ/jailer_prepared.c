/* Integration: jail roots prepared by the operator, and --bind mounts into the jail. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer_util.h"

#define UID "12345"
#define GID "23456"

static struct jt t;
static struct jt_result r;
static char exec_dir[PATH_MAX + 32], jail_dir[PATH_MAX + 96], path[2 * PATH_MAX];

static void setup(void)
{
	jt_init(&t);
	snprintf(exec_dir, sizeof(exec_dir), "%s/jail_probe", t.base);
	snprintf(jail_dir, sizeof(jail_dir), "%s/jail_probe/%s", t.base, t.id);
}
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_prepared, .init = setup, .fini = teardown, .timeout = 60);

static const char *in_base(const char *name)
{
	static char p[2 * PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", t.base, name);
	return p;
}

static const char *in_root(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", t.root, name);
	return path;
}

static void write_file(const char *p, const char *text, mode_t mode)
{
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, mode);
	cr_assert(fd >= 0, "%s", p);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void make_dir(const char *p, mode_t mode)
{
	cr_assert_eq(mkdir(p, mode), 0, "%s", p);
	cr_assert_eq(chmod(p, mode), 0);
}

/* What an operator does: base/jail_probe/ID/root, a file hard-linked in, a directory. */
static void prepare(void)
{
	make_dir(exec_dir, 0755);
	make_dir(jail_dir, 0755);
	make_dir(t.root, 0755);
	write_file(in_base("vmlinux"), "kernel", 0644);
	cr_assert_eq(link(in_base("vmlinux"), in_root("vmlinux")), 0);
	make_dir(in_root("images"), 0755);
	write_file(in_root("images/disk"), "disk", 0644);
}

static void assert_operator_files_intact(void)
{
	struct stat st;
	char buf[16] = "";
	cr_assert_eq(stat(t.root, &st), 0, "the prepared root was removed");
	cr_assert_eq(st.st_uid, 0u);
	cr_assert_eq(st.st_mode & 07777, 0755, "root mode changed to %o", st.st_mode & 07777);
	cr_assert_eq(jt_read(in_root("vmlinux"), buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "kernel");
	cr_assert_eq(jt_read(in_root("images/disk"), buf, sizeof(buf)), 4);
	cr_assert_eq(stat(exec_dir, &st), 0);
	cr_assert_eq(stat(jail_dir, &st), 0);
}

/* Only the operator's entries are left: the jailer's are gone. */
static void assert_only_operator_entries(void)
{
	const char *gone[] = { "jail_probe", "jail_probe.pid", "dev", "run", "old_root" };
	struct stat st;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		cr_assert_neq(lstat(in_root(gone[i]), &st), 0, "%s left behind", gone[i]);
	snprintf(path, sizeof(path), "%s/jail.state", jail_dir);
	cr_assert_neq(lstat(path, &st), 0, "jail.state left behind");
}

static void run_probe(const char *extra1, const char *extra2, const char *extra3,
		      const char *extra4)
{
	const char *args[24] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
				 "--chroot-base-dir", t.base };
	size_t n = 10;
	for (const char *const *e = (const char *const[]){ extra1, extra2, extra3, extra4, NULL };
	     *e; e++)
		args[n++] = *e;
	args[n] = NULL;
	jt_run(&r, args);
}

static void expect(int code, const char *msg)
{
	cr_assert_eq(r.status, code, "status %d, want %d; stderr: %s", r.status, code, r.err);
	cr_assert_not_null(strstr(r.err, msg), "stderr lacks '%s': %s", msg, r.err);
	cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err), "one line: %s", r.err);
}

Test(jailer_prepared, operator_root_is_used_and_its_files_stay)
{
	prepare();
	run_probe(NULL, NULL, NULL, NULL);
	cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
	/* The VMM sees the operator's files next to what the jailer made. */
	cr_assert_not_null(strstr(r.out, "entry=/vmlinux 100644 0 0 "), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "entry=/images/disk 100644 0 0 "));
	cr_assert_not_null(strstr(r.out, "entry=/jail_probe 100755 " UID " " GID " "));
	cr_assert_not_null(strstr(r.out, "entry=/dev/kvm 20600 " UID " " GID " 10:232"));
	cr_assert_not_null(strstr(r.out, "entry=/run 40700 " UID " " GID " "));
	assert_operator_files_intact();
	assert_only_operator_entries();
	/* And it can be used again, as systemd's Restart= would. */
	run_probe(NULL, NULL, NULL, NULL);
	cr_assert_eq(r.status, 0, "second run: %s", r.err);
	assert_operator_files_intact();
}

Test(jailer_prepared, cleanup_removes_only_what_the_jailer_made)
{
	char buf[16384];
	int fd;
	prepare();
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000), "%s", buf);
	pid_t pid = jt_read_pid(&t, 1000);
	cr_assert_gt(pid, 0);
	/* A second jailer for the same id: the jail exists. */
	run_probe(NULL, NULL, NULL, NULL);
	expect(184, "already exists");
	kill(jailer, SIGKILL);	/* no supervisor left to clean up */
	jt_wait(jailer, 5000);
	kill(pid, SIGKILL);
	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	for (int i = 0; i < 500 && access(path, F_OK) == 0; i++)
		usleep(10000);
	close(fd);
	const char *c[] = { "--cleanup", "--id", t.id, "--chroot-base-dir", t.base, NULL };
	jt_run(&r, c);
	cr_assert_eq(r.status, 0, "cleanup: %s", r.err);
	assert_operator_files_intact();
	assert_only_operator_entries();
	/* Without a state file there is no jail: the prepared directory is left alone. */
	jt_run(&r, c);
	cr_assert_eq(r.status, 202, "%s", r.err);
	assert_operator_files_intact();
}

Test(jailer_prepared, unsafe_prepared_directories_are_refused)
{
	struct stat st;
	prepare();
	/* Writable by group: anyone in it could swap what the jail sees. */
	cr_assert_eq(chmod(t.root, 0775), 0);
	run_probe(NULL, NULL, NULL, NULL);
	expect(185, "writable by group or others");
	cr_assert_eq(chmod(t.root, 0755), 0);
	/* Not owned by root. */
	cr_assert_eq(chown(jail_dir, 1000, 1000), 0);
	run_probe(NULL, NULL, NULL, NULL);
	expect(185, "owned by uid 1000, not root");
	cr_assert_eq(chown(jail_dir, 0, 0), 0);
	/* A root the VMM's user cannot search. */
	cr_assert_eq(chmod(t.root, 0700), 0);
	run_probe(NULL, NULL, NULL, NULL);
	expect(185, "does not let uid " UID " gid " GID " search it");
	cr_assert_eq(chmod(t.root, 0755), 0);
	/* A symlink in the path. */
	cr_assert_eq(rename(t.root, in_base("real-root")), 0);
	cr_assert_eq(symlink(in_base("real-root"), t.root), 0);
	run_probe(NULL, NULL, NULL, NULL);
	expect(190, "it is a symlink");
	cr_assert_eq(unlink(t.root), 0);
	cr_assert_eq(rename(in_base("real-root"), t.root), 0);
	/* An entry the jailer creates, planted. */
	make_dir(in_root("dev"), 0755);
	run_probe(NULL, NULL, NULL, NULL);
	expect(184, "dev already exists");
	cr_assert_eq(rmdir(in_root("dev")), 0);
	/* None of these left anything of the jailer's. */
	assert_operator_files_intact();
	assert_only_operator_entries();
	cr_assert_eq(lstat(in_root("dev"), &st), -1);
	/* Repaired, it works. */
	run_probe(NULL, NULL, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
}

Test(jailer_prepared, binds_are_mounted_read_only_by_default_and_vanish)
{
	char buf[65536], v[256], spec[3][2 * PATH_MAX];
	int fd;
	write_file(in_base("kernel"), "kernel bytes", 0644);
	write_file(in_base("disk.img"), "disk bytes", 0644);
	make_dir(in_base("shared"), 0755);
	write_file(in_base("shared/file"), "shared", 0644);
	snprintf(spec[0], sizeof(spec[0]), "%s/kernel:/vmlinux", t.base);
	snprintf(spec[1], sizeof(spec[1]), "%s/disk.img:/images/rootfs.ext4:rw", t.base);
	snprintf(spec[2], sizeof(spec[2]), "%s/shared:/images/shared", t.base);
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", GID,
			       "--chroot-base-dir", t.base, "--bind", spec[0], "--bind", spec[1],
			       "--bind", spec[2], "--", "--wait", NULL };
	pid_t jailer = jt_spawn(args, &fd);
	cr_assert(jt_wait_ready(fd, buf, sizeof(buf), 10000), "probe not ready: %s", buf);
	cr_assert_not_null(strstr(buf, "entry=/vmlinux 100644 0 0 "), "%s", buf);
	cr_assert_not_null(strstr(buf, "entry=/images 40755 0 0 "), "%s", buf);
	cr_assert_not_null(strstr(buf, "entry=/images/rootfs.ext4 100644 0 0 "), "%s", buf);
	cr_assert_not_null(strstr(buf, "entry=/images/shared/file 100644 0 0 "), "%s", buf);
	pid_t pid = (pid_t)atoi(jt_value(buf, "pid", v, sizeof(v)));
	cr_assert_gt(pid, 0);

	/* From outside: the root and exactly the three binds, with their options. */
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	cr_assert_gt(jt_read(path, buf, sizeof(buf)), 0);
	int lines = 0;
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 4, "mounts:\n%s", buf);
	cr_assert_not_null(strstr(buf, " /vmlinux ro,nosuid,nodev,noexec"), "%s", buf);
	cr_assert_not_null(strstr(buf, " /images/rootfs.ext4 rw,nosuid,nodev,noexec"), "%s", buf);
	cr_assert_not_null(strstr(buf, " /images/shared ro,nosuid,nodev,noexec"), "%s", buf);
	/* Through the VMM's root the bound files are the host's. */
	snprintf(path, sizeof(path), "/proc/%d/root/images/shared/file", (int)pid);
	cr_assert_eq(jt_read(path, v, sizeof(v)), 6);
	cr_assert_str_eq(v, "shared");
	/* The host sees only empty placeholders, and none of the mounts. */
	cr_assert_eq(jt_read(in_root("vmlinux"), v, sizeof(v)), 0);
	cr_assert_eq(jt_read("/proc/self/mountinfo", buf, sizeof(buf)) > 0, true);
	cr_assert_null(strstr(buf, "/vmlinux "), "a bind leaked to the host: %s", buf);

	kill(jailer, SIGTERM);
	cr_assert_eq(jt_wait(jailer, 10000), 128 + SIGTERM);
	close(fd);
	/* Everything of the jail is gone; the sources are untouched. */
	struct stat st;
	cr_assert_neq(stat(exec_dir, &st), 0, "jail left behind");
	cr_assert_eq(jt_read(in_base("kernel"), v, sizeof(v)), 12);
	cr_assert_eq(jt_read(in_base("shared/file"), v, sizeof(v)), 6);
}

Test(jailer_prepared, binds_into_a_prepared_root)
{
	char spec[2 * PATH_MAX];
	prepare();
	write_file(in_base("initrd"), "initrd", 0644);
	snprintf(spec, sizeof(spec), "%s/initrd:/images/initrd", t.base);
	run_probe("--bind", spec, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "entry=/images/initrd 100644 0 0 "), "%s", r.out);
	assert_operator_files_intact();
	assert_only_operator_entries();
	struct stat st;
	cr_assert_neq(lstat(in_root("images/initrd"), &st), 0, "bind placeholder left behind");
	/* A target that exists in the prepared root is refused, not covered. */
	snprintf(spec, sizeof(spec), "%s/initrd:/images/disk", t.base);
	run_probe("--bind", spec, NULL, NULL);
	expect(184, "already exists");
	assert_operator_files_intact();
	assert_only_operator_entries();
}

Test(jailer_prepared, bad_binds_each_have_their_code_and_leave_nothing)
{
	char file[PATH_MAX + 16], spec[2 * PATH_MAX], spec2[2 * PATH_MAX];
	snprintf(file, sizeof(file), "%s/file", t.base);
	write_file(file, "x", 0644);
	/* src: NULL for the file, else a host path; then the rest of the argument. */
	const struct { const char *src, *rest; int code; const char *msg; } cases[] = {
		{ "/nonexistent/kiln-vmlinux", ":/vmlinux", 186, "invalid --bind source" },
		{ "/dev/null", ":/null", 186, "a character device, not a regular file or a directory" },
		{ NULL, ":vmlinux", 187, "must be an absolute path" },
		{ NULL, ":/a/../vmlinux", 187, "'..' component" },
		{ NULL, ":/", 187, "jail root itself" },
		{ NULL, ":/a b", 187, "is not one of" },
		{ NULL, "", 187, "expected HOST_PATH:JAIL_PATH" },
		{ NULL, ":/dev/kvm2", 189, "/dev and /run belong to the jailer" },
		{ NULL, ":/run", 189, "/dev and /run belong to the jailer" },
		{ NULL, ":/jail_probe", 189, "the jailer creates /jail_probe itself" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(spec, sizeof(spec), "%s%s", cases[i].src ? cases[i].src : file,
			 cases[i].rest);
		run_probe("--bind", spec, NULL, NULL);
		expect(cases[i].code, cases[i].msg);
		cr_assert(jt_dir_empty(t.base) == false);	/* only "file" */
		struct stat st;
		cr_assert_neq(stat(exec_dir, &st), 0, "case %zu left a jail", i);
	}
	snprintf(spec, sizeof(spec), "%s:/x", file);
	run_probe("--bind", spec, "--bind", spec);
	expect(188, "--bind target /x given twice");
	snprintf(spec2, sizeof(spec2), "%s:/x/y", file);
	run_probe("--bind", spec, "--bind", spec2);
	expect(188, "overlap");
	struct stat st;
	cr_assert_neq(stat(exec_dir, &st), 0);
}

Test(jailer_prepared, uid_or_gid_zero_needs_allow_root)
{
	const char *a[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "0", "--gid", GID,
			    "--chroot-base-dir", t.base, NULL };
	jt_run(&r, a);
	expect(174, "refusing --uid 0");
	const char *b[] = { "--id", t.id, "--exec-file", t.probe, "--uid", UID, "--gid", "0",
			    "--chroot-base-dir", t.base, NULL };
	jt_run(&r, b);
	expect(175, "refusing --gid 0");
	cr_assert(jt_dir_empty(t.base));
	const char *c[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "0", "--gid", "0",
			    "--chroot-base-dir", t.base, "--allow-root", NULL };
	jt_run(&r, c);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "--allow-root: the VMM will run with uid 0"), "%s", r.err);
	char v[64];
	cr_assert_str_eq(jt_value(r.out, "uid", v, sizeof(v)), "0,0,0");
	cr_assert_eq(strtoull(jt_value(r.out, "caps.eff", v, sizeof(v)), NULL, 16), 0);
	cr_assert(jt_dir_empty(t.base));
}
