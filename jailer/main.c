/* jailer: builds one microVM's jail and execs the VMM in it with every privilege dropped. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "chroot.h"
#include "cleanup.h"
#include "config.h"
#include "devices.h"
#include "fmt.h"
#include "log.h"
#include "memlimit.h"
#include "netns.h"
#include "privs.h"
#include "profile.h"
#include "process.h"
#include "procfs.h"
#include "rlimits.h"

/* Everything validated and acquired before the jail is built. */
struct jail_run {
	struct jail_config cfg;
	struct jail_paths paths;
	struct jail_layout layout;	/* what this run made: teardown removes exactly that */
	struct cg_plan plan;
	int exec_fd;		/* the validated exec file, copied from this fd */
	int netns_fd;		/* -1 without --netns */
	int bind_fds[JAIL_MAX_BINDS];	/* --bind sources, O_PATH, checked */
	int userfaultfd_minor;	/* -1 when the host has none */
	uint64_t start_us, start_cpu_us;
	uint64_t fork_cpu_us;	/* the jailer's CPU time when it forked the builder */
};

static struct jail_run run;	/* large (paths, plan): keep it off the stack */

static uint64_t now_us(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static NORETURN void die(const struct jail_err *err)
{
	log_error("%s", err->msg);
	exit(err->code);
}

/* The host-facing checks: files, directories and namespaces named on the command line. */
static int validate_host(struct jail_run *r, struct jail_err *err)
{
	struct jail_config *cfg = &r->cfg;
	char base[PATH_MAX], text[65536];
	struct stat st;

	if (!realpath(cfg->chroot_base, base))
		return jail_fail_errno(err, JAIL_EXIT_BAD_CHROOT_BASE, errno,
				       "invalid --chroot-base-dir %s", cfg->chroot_base);
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		return jail_fail(err, JAIL_EXIT_BAD_CHROOT_BASE,
				 "invalid --chroot-base-dir %s: not a directory", cfg->chroot_base);
	if (cfg->cleanup)
		return jail_paths_build(base, "x", cfg->id, &r->paths, err);

	/* O_NOFOLLOW: a symlink is refused, not resolved; the copy reads this very fd. A
	 * FIFO is refused at once, never waited on. */
	r->exec_fd = jail_open_outside("invalid --exec-file", cfg->exec_file, O_RDONLY | O_NOFOLLOW,
				       FILE_KIND_REG, JAIL_EXIT_BAD_EXEC_FILE, err);
	if (r->exec_fd < 0)
		return -1;
	if (jail_paths_build(base, cfg->exec_name, cfg->id, &r->paths, err) < 0)
		return -1;

	/* --bind sources: opened once (symlinks in the host path are the operator's
	 * business), and the mount later uses this very fd. */
	for (size_t i = 0; i < cfg->n_binds; i++) {
		const struct jail_bind *b = &cfg->binds[i];
		struct statvfs vfs;
		int fd = jail_open_outside("invalid --bind source", b->source, O_PATH,
					   FILE_KIND_REG | FILE_KIND_DIR, JAIL_EXIT_BIND_SOURCE, err);
		if (fd < 0)
			return -1;
		r->bind_fds[i] = fd;
		if (b->rw && fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
			return jail_fail(err, JAIL_EXIT_BIND_SOURCE,
					 "invalid --bind %s:%s:rw: the source is on a read-only mount",
					 b->source, b->target);
	}

	r->netns_fd = -1;
	if (cfg->netns && (r->netns_fd = jail_netns_open(cfg->netns, err)) < 0)
		return -1;

	r->userfaultfd_minor = -1;
	if (read_small_file(AT_FDCWD, "/proc/misc", text, sizeof(text)) >= 0)
		r->userfaultfd_minor = proc_misc_minor(text, "userfaultfd");

	if (cfg->n_cgroups) {
		static struct cg_mounts mounts;
		static struct proc_cgroup self;
		ssize_t n = read_small_file(AT_FDCWD, "/proc/self/mountinfo", text, sizeof(text));
		if (n < 0 || proc_parse_cgroup_mounts(text, &mounts) < 0)
			return jail_fail(err, JAIL_EXIT_CGROUP, "cannot read the cgroup mounts");
		n = read_small_file(AT_FDCWD, "/proc/self/cgroup", text, sizeof(text));
		if (n < 0 || proc_parse_cgroup(text, &self) < 0)
			return jail_fail(err, JAIL_EXIT_CGROUP, "cannot read /proc/self/cgroup");
		bool delegated = false;
		const struct cg_mount *v2 = cg_mount_v2(&mounts);
		const char *own = proc_cgroup_path(&self, NULL);
		if (cfg->cgroup_version == 2 && !cfg->parent_cgroup && v2 && own) {
			char dir[PATH_MAX];
			if (fmt_buf(dir, sizeof(dir), "%s%s", v2->point, own) == 0)
				delegated = cg_is_delegated(dir);
		}
		if (cg_plan_build(cfg, &mounts, &self, delegated, &r->plan, err) < 0)
			return -1;
	}
	return 0;
}

/* Remove what this run created (the supervisor's job, and the failure path's). */
static void teardown(const struct jail_run *r)
{
	static char dirs[CG_MAX_TARGETS][PATH_MAX];
	struct jail_err err;

	for (size_t i = 0; i < r->plan.n; i++)
		snprintf(dirs[i], PATH_MAX, "%s", r->plan.t[i].dir);
	if (jail_teardown(&r->paths, &r->layout, dirs, r->plan.n, &err) < 0)
		log_error("cleanup: %s", err.msg);
}

/*
 * Runs in the forked builder: enter the jail, drop everything, verify, exec.
 * Never returns; errors go back through ready_fd (see process.h).
 */
static NORETURN void build_and_exec(struct jail_run *r, int ready_fd)
{
	const struct jail_config *cfg = &r->cfg;
	struct jail_err err;
	struct jail_expect want = { .uid = cfg->uid, .gid = cfg->gid, .binds = cfg->binds,
				    .n_binds = cfg->n_binds };
	struct stat st;
	int root_fd, proc_fd, devnull = -1;
	char pidfile[NAME_MAX + 8];

#define CHECK(expr) do { if ((expr) < 0) jail_report_and_exit(ready_fd, &err); } while (0)

	jail_step("builder-forked");
	/* B1. Copy the VMM into the jail: its own inode, owned by the VMM's user. */
	root_fd = open(r->paths.root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st) < 0)
		CHECK(jail_fail_errno(&err, JAIL_EXIT_JAIL_DIR, errno, "open %s", r->paths.root));
	want.root_dev = st.st_dev;
	want.root_ino = st.st_ino;
	CHECK(jail_copy_exec(r->exec_fd, root_fd, cfg->exec_name, cfg->uid, cfg->gid, &err));
	close(root_fd);
	close(r->exec_fd);

	jail_step("copy-exec-file");
	/* B2. Join the network namespace. */
	if (r->netns_fd >= 0)
		CHECK(jail_netns_join(r->netns_fd, &err));

	jail_step("join-netns");
	/* B3. Resource limits (no-file defaults to 2048). */
	CHECK(jail_set_rlimits(cfg, &err));

	jail_step("rlimits");
	/* B4. Join the jail cgroup(s) made by the parent; then, if asked, a cgroup namespace
	 * rooted there so the VMM sees "/" as its cgroup. */
	CHECK(cg_attach_self(&r->plan, &err));
	/* The VMM will have no /sys to read its memory limit from: read it here, where the
	 * cgroup path is still the host's, and pass it on (see B11). */
	struct mem_limit lim;
	char mem_limit[24] = "";
	if (mem_limit_read("/", &lim) == 0 && lim.from_cgroup) {
		snprintf(mem_limit, sizeof(mem_limit), "%" PRIu64, lim.bytes);
		log_debug("memory limit for the VMM: %" PRIu64 " bytes (%s)", lim.bytes,
			  lim.source);
	}
	if ((cfg->new_ns & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
		CHECK(jail_fail_errno(&err, JAIL_EXIT_MOUNT, errno, "unshare(cgroup namespace)"));

	jail_step("join-cgroups");
	/* B5. Things only reachable from the host: /dev/null for --daemonize, and /proc
	 * for the final verification (close-on-exec; the VMM never sees it). */
	if (cfg->daemonize && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		CHECK(jail_fail_errno(&err, JAIL_EXIT_PROCESS, errno, "open /dev/null"));
	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		CHECK(jail_fail_errno(&err, JAIL_EXIT_VERIFY, errno, "open /proc"));

	jail_step("open-proc");
	/* B6. New mount (and IPC/UTS) namespace; the root bind-mounted on itself, the
	 * --bind mounts on it, pivot_root into the jail. */
	CHECK(jail_pivot(r->paths.root, cfg->new_ns & (CLONE_NEWIPC | CLONE_NEWUTS), cfg->binds,
			 r->bind_fds, cfg->n_binds, &err));
	for (size_t i = 0; i < cfg->n_binds; i++)
		close(r->bind_fds[i]);
	if ((cfg->new_ns & CLONE_NEWUTS) && sethostname(cfg->id, strlen(cfg->id)) < 0)
		CHECK(jail_fail_errno(&err, JAIL_EXIT_MOUNT, errno, "sethostname"));

	jail_step("mount-ns-binds-pivot-root");
	/* B7. /dev nodes and /run, owned by the VMM's user ("/" too, unless the operator
	 * prepared it). */
	CHECK(jail_make_devices(cfg->uid, cfg->gid, r->layout.made_root, r->userfaultfd_minor,
				&err));

	jail_step("dev-nodes");
	/* B8. Detach (--daemonize), then a new pid namespace (--new-pid-ns), then the pid
	 * file: it always holds the VMM's pid as the host sees it. */
	if (cfg->daemonize)
		CHECK(jail_daemonize(devnull, &err));
	CHECK(fmt_buf(pidfile, sizeof(pidfile), "/%s.pid", cfg->exec_name));
	if (cfg->new_pid_ns) {
		pid_t child = jail_fork_new_pidns(&err);
		CHECK(child);
		if (child > 0) {
			if (jail_write_pidfile(pidfile, child, &err) < 0) {
				kill(child, SIGKILL);
				jail_report_and_exit(ready_fd, &err);
			}
			_exit(0);
		}
	} else {
		CHECK(jail_write_pidfile(pidfile, getpid(), &err));
	}

	jail_step("daemonize-pidfile");
	/* B9. Drop every privilege. */
	CHECK(jail_drop_privileges(cfg->uid, cfg->gid, &err));

	jail_step("drop-privileges");
	/* B10. Prove it: ids, capabilities, NoNewPrivs, root, mounts, fds, cgroups. */
	CHECK(jail_verify(proc_fd, &want, &err));
	if (r->plan.n) {
		static char text[16384];
		static struct proc_cgroup now;
		if (read_small_file(proc_fd, "self/cgroup", text, sizeof(text)) < 0 ||
		    proc_parse_cgroup(text, &now) < 0)
			CHECK(jail_fail(&err, JAIL_EXIT_VERIFY, "cannot read /proc/self/cgroup"));
		CHECK(cg_verify_member(&r->plan, &now, cfg->new_ns & CLONE_NEWCGROUP, &err));
	}
	close(proc_fd);

	jail_step("verify");
	/* B11. Exec the VMM with Firecracker's leading arguments, then the user's. */
	char exe[NAME_MAX + 2], t0[24], t1[24], t2[24];
	char **argv = calloc((size_t)cfg->vmm_argc + 12, sizeof(*argv));
	if (!argv)
		CHECK(jail_fail(&err, JAIL_EXIT_EXEC, "out of memory"));
	snprintf(exe, sizeof(exe), "/%s", cfg->exec_name);
	snprintf(t0, sizeof(t0), "%" PRIu64, r->start_us);
	snprintf(t1, sizeof(t1), "%" PRIu64, r->start_cpu_us);
	/* CPU time since fork counts from zero in the builder. */
	snprintf(t2, sizeof(t2), "%" PRIu64, r->fork_cpu_us + now_us(CLOCK_PROCESS_CPUTIME_ID));
	size_t a = 0;
	argv[a++] = exe;
	argv[a++] = "--id";
	argv[a++] = (char *)cfg->id;
	argv[a++] = "--start-time-us";
	argv[a++] = t0;
	argv[a++] = "--start-time-cpu-us";
	argv[a++] = t1;
	argv[a++] = "--parent-cpu-time-us";
	argv[a++] = t2;
	if (mem_limit[0]) {
		argv[a++] = "--mem-limit-bytes";
		argv[a++] = mem_limit;
	}
	for (int i = 0; i < cfg->vmm_argc; i++)
		argv[a++] = cfg->vmm_argv[i];
	argv[a] = NULL;
	char *envp[] = { NULL };
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	jail_step("exec-args");
	execve(exe, argv, envp);
	CHECK(jail_fail_errno(&err, JAIL_EXIT_EXEC, errno, "cannot exec %s", exe));
	_exit(JAIL_EXIT_EXEC);
#undef CHECK
}

int main(int argc, char **argv)
{
	struct jail_err err = { 0 };
	struct jail_config *cfg = &run.cfg;
	struct log_config lc = { .id = "jailer", .level = LOG_INFO, .show_level = true, .fd = 2 };
	int ready[2];
	sigset_t sigs;

	run.start_us = now_us(CLOCK_MONOTONIC);
	run.start_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
	run.exec_fd = run.netns_fd = -1;
	for (size_t i = 0; i < JAIL_MAX_BINDS; i++)
		run.bind_fds[i] = -1;
	log_configure(&lc);
	log_set_thread_name("jailer");

	/* 1. Sanitize: no inherited fds above 2, no environment, default signals. */
	if (jail_sanitize(&err) < 0)
		die(&err);

	jail_step("sanitize");
	/* 2. Parse and check the command line (syntax only). */
	if (jail_parse_args(argc, argv, cfg, &err) < 0)
		die(&err);
	if (cfg->help) {
		jail_print_usage(STDOUT_FILENO);
		return 0;
	}
	if (cfg->version) {
		printf("jailer v%s\n", KILN_VERSION);
		return 0;
	}
	lc.id = cfg->id;
	log_configure(&lc);
	if (!cfg->cleanup && (cfg->uid == 0 || cfg->gid == 0))
		log_warn("--allow-root: the VMM will run with uid %u gid %u; a VMM with uid 0 can "
			 "still signal the host's root processes and write root-owned files it "
			 "reaches. Do not use this in production.", (unsigned)cfg->uid,
			 (unsigned)cfg->gid);

	jail_step("parse-args");
	/* 3. Everything below needs root. */
	if (geteuid() != 0) {
		jail_fail(&err, JAIL_EXIT_NOT_ROOT, "the jailer must run as root (euid is %u)",
			  (unsigned)geteuid());
		die(&err);
	}

	/* 4. Validate against the host: chroot base, exec file, netns, cgroup plan. */
	if (validate_host(&run, &err) < 0)
		die(&err);
	if (cfg->cleanup) {
		if (jail_cleanup_by_id(cfg, run.paths.base, &err) < 0) {
			/* --missing-ok: cleaning up what is not there is done (a unit's
			 * ExecStartPre= on a clean start), said at Info, not as an error. */
			if (cfg->missing_ok && err.code == JAIL_EXIT_NO_JAIL) {
				log_info("%s: nothing to clean up", err.msg);
				return 0;
			}
			die(&err);
		}
		return 0;
	}

	jail_step("validate");
	/* 5. Build the jail on the host: directories (the operator may have prepared them:
	 *    checked), the state file recording what this run makes, the root, cgroups
	 *    with their values. From the state file on, a failure removes what this run
	 *    made, and only that. */
	if (jail_make_dirs(&run.paths, cfg, &run.layout, &err) < 0)
		die(&err);
	if (jail_state_write(&run.paths, &run.layout, &run.plan, &err) < 0) {
		jail_undo_dirs(&run.paths, &run.layout);
		die(&err);
	}
	if (jail_make_root(&run.paths, cfg->uid, cfg->gid, &run.layout, &err) < 0 ||
	    cg_enter_supervisor(&run.plan, &err) < 0 || cg_create(cfg, &run.plan, &err) < 0) {
		if (err.code == JAIL_EXIT_JAIL_EXISTS)
			run.plan.n = 0;	/* someone else's cgroup: not ours to remove */
		teardown(&run);
		die(&err);
	}

	jail_step("dirs-root-cgroups");
	/* 6. Fork the builder, which enters the jail, acquires what the VMM needs, drops
	 *    privileges, verifies and execs (build_and_exec). The jailer stays outside,
	 *    as root, to report its errors and to clean up. */
	jail_supervised_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if (pipe2(ready, O_CLOEXEC) < 0) {
		jail_fail_errno(&err, JAIL_EXIT_PROCESS, errno, "pipe");
		teardown(&run);
		die(&err);
	}
	run.fork_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
	pid_t builder = fork();
	if (builder < 0) {
		jail_fail_errno(&err, JAIL_EXIT_PROCESS, errno, "fork");
		teardown(&run);
		die(&err);
	}
	if (builder == 0) {
		close(ready[0]);
		build_and_exec(&run, ready[1]);
	}
	close(ready[1]);
	close(run.exec_fd);
	for (size_t i = 0; i < cfg->n_binds; i++)
		close(run.bind_fds[i]);
	if (run.netns_fd >= 0)
		close(run.netns_fd);

	/* 7. Wait until the VMM was exec'd, or the builder reports why not. */
	if (jail_wait_ready(ready[0], &err) < 0) {
		waitpid(builder, NULL, 0);
		teardown(&run);
		die(&err);
	}
	close(ready[0]);

	/* 8. --daemonize / --new-pid-ns: the VMM lives on without us (clean up later with
	 *    --cleanup). Otherwise supervise it, then remove the jail and its cgroups. */
	if (cfg->daemonize || cfg->new_pid_ns) {
		waitpid(builder, NULL, 0);
		return 0;
	}
	int status = jail_supervise(builder);
	teardown(&run);
	return status;
}
