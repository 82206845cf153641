/*
 * kiln-run: one command in a fresh jailed microVM, its output streamed back, its files
 * copied in and out, and nothing left behind.
 *
 * In order: take a run slot (its uid, gid, vsock cid and jail id), start the janitor that
 * tears down if kiln-run itself is killed, start the jailer (which builds the jail and
 * execs kiln), wait for the guest's agent, copy files in, run the command, copy files
 * out, power the guest off, tear down, report.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "host/agentclient/client.h"
#include "host/kilnrun/net.h"
#include "host/kilnrun/options.h"
#include "host/kilnrun/slot.h"
#include "host/kilnrun/teardown.h"
#include "host/kilnrun/vm.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"
#define AGENT_PORT 1024

static struct run_options opt;
static int verbose;

static volatile sig_atomic_t pending_signal;	/* forwarded to the command */
static volatile sig_atomic_t interrupted;	/* a signal asked kiln-run to stop */
static volatile sig_atomic_t hard_timeout;	/* --timeout ran out before the command ended */
static char alarm_cgroup[PATH_MAX];		/* what the SIGALRM handler kills */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t t_start;

static void say(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void say(const char *fmt, ...)
{
	if (!verbose)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kiln-run: [%6.3f s] %s\n", (double)(now_ms() - t_start) / 1000.0, buf);
}

/* An error on stderr; text that came from the guest's side is escaped (log_escape). */
static void report(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void report(const char *fmt, ...)
{
	char raw[1024], text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_escape(text, sizeof(text), raw, strlen(raw), NULL);
	fprintf(stderr, "kiln-run: %s\n", text);
}

static void on_signal(int sig)
{
	pending_signal = sig;
	interrupted = sig;
}

static void on_alarm(int sig)
{
	int e = errno;
	(void)sig;
	hard_timeout = 1;
	teardown_kill(alarm_cgroup, 0);
	errno = e;
}

/* The binary beside kiln-run's own, when --jailer or --kiln does not say. */
static int beside_self(const char *given, const char *name, char *out, struct error *err)
{
	char self[PATH_MAX];
	if (given) {
		if (!realpath(given, out))
			return error_set(err, -errno, "%s: %s", given, strerror(errno));
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return error_set(err, -errno, "/proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	if (snprintf(out, PATH_MAX, "%s/%s", self, name) >= PATH_MAX || access(out, X_OK) < 0)
		return error_set(err, -ENOENT, "%s/%s: not found (give --%s PATH)", self, name, name);
	return 0;
}

/* mkdir -p of a cgroup below the v2 root. */
static int mkdir_parents(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + strlen(CGROUP_ROOT) + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* Tears a slot's leftover down (a killed run's, or a kept one with include_kept). */
static int reap(struct run_slot *s, bool include_kept)
{
	struct run_state st;
	struct error err = { 0 };
	int rc = slot_state_read(s, &st, &err);
	if (rc < 0) {
		report("%s", err.msg);
		return rc;
	}
	if (rc == 0 || (st.kept && !include_kept))
		return 0;
	if (teardown_run(&st, &err) < 0) {
		report("slot %u (%s): %s", s->index, st.id, err.msg);
		return err.code;
	}
	slot_state_remove(s);
	fprintf(stderr, "kiln-run: removed %s (%s)\n", st.id,
		st.kept ? "kept with --keep" : "left by a run that was killed");
	return 0;
}

/* Every slot with a state file, whatever --slots the run that left it was given. */
static int gc(bool include_kept)
{
	int failed = 0;
	DIR *d = opendir(opt.state_dir);
	if (!d)
		return errno == ENOENT ? 0 : (report("%s: %s", opt.state_dir, strerror(errno)),
					       RUN_EXIT_FAILED);
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		unsigned long i = strtoul(de->d_name, &end, 10);
		if (end == de->d_name || strcmp(end, ".state") != 0 || i > 1u << 20)
			continue;
		struct run_slot s;
		struct error err = { 0 };
		int rc = slot_try_lock(opt.state_dir, (unsigned)i, &s, &err);
		if (rc < 0) {
			report("%s", err.msg);
			failed = 1;
			continue;
		}
		if (rc == 0)
			continue;
		if (reap(&s, include_kept) < 0)
			failed = 1;
		slot_unlock(&s);
	}
	closedir(d);
	return failed ? RUN_EXIT_FAILED : 0;
}

/*
 * The janitor: a child in its own session that waits for kiln-run to end. A 'd' first
 * means kiln-run finished (or kept the run on purpose); end of file without it means
 * kiln-run died, and the janitor tears the run down. It shares the slot's lock, so no
 * other run takes the slot before it is clean.
 */
static int janitor_start(const struct run_slot *s, const struct run_state *st, pid_t *pid)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (child == 0) {
		close(p[1]);
		setsid();
		static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTTOU };
		for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
			signal(ignored[i], SIG_IGN);
		/* Nothing of the caller's stays open here: a pipe it reads must end with kiln-run. */
		int null = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 3; fd++)
			dup2(null, fd);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0] && fd != s->lock_fd)
				close(fd);
		char c = 0;
		ssize_t n;
		while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n == 1 && c == 'd')
			_exit(0);
		struct run_state cur = *st;
		struct error err = { 0 };
		if (slot_state_read(s, &cur, &err) <= 0)
			cur = *st;
		if (teardown_run(&cur, &err) == 0)
			slot_state_remove(s);
		_exit(0);
	}
	close(p[0]);
	*pid = child;
	return p[1];
}

static void janitor_dismiss(int fd, pid_t pid)
{
	if (fd < 0)
		return;
	(void)!write(fd, "d", 1);
	close(fd);
	waitpid(pid, NULL, 0);
}

/* The last lines of a file, indented, on stderr (kiln's log, the guest's console). */
static void show_tail(const char *what, const char *path, int lines)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[8192];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	int seen = 0;
	char *p = buf + n;
	while (p > buf && seen <= lines)
		if (*--p == '\n' && p + 1 < buf + n)
			seen++;
	if (*p == '\n')
		p++;
	fprintf(stderr, "kiln-run: %s (%s), its end:\n", what, path);
	for (char *save = NULL, *l = strtok_r(p, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char text[2048];
		size_t len = strlen(l);
		if (len && l[len - 1] == '\r')
			len--;
		log_escape(text, sizeof(text), l, len, NULL);
		fprintf(stderr, "  | %s\n", text);
	}
}

struct result {
	const char *state;		/* exited, signaled, timed_out, failed */
	int exit_status;		/* kiln-run's own */
	int code, signal;		/* the command's */
	char error[512];
	uint64_t boot_ms, run_ms, teardown_ms, total_ms;
	unsigned long long cpu_us, mem_peak;
	bool have_usage;
	uint64_t bytes_in, bytes_out;
};

static void write_json(const struct result *r, const char *id)
{
	json_t *j = json_pack("{s:s, s:i, s:s, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}}",
			      "state", r->state, "exit_status", r->exit_status, "id", id,
			      "times_ms", "boot", (json_int_t)r->boot_ms, "run", (json_int_t)r->run_ms,
			      "teardown", (json_int_t)r->teardown_ms, "total", (json_int_t)r->total_ms,
			      "files", "bytes_in", (json_int_t)r->bytes_in,
			      "bytes_out", (json_int_t)r->bytes_out);
	if (!j)
		return;
	if (strcmp(r->state, "exited") == 0)
		json_object_set_new(j, "exit_code", json_integer(r->code));
	if (strcmp(r->state, "signaled") == 0)
		json_object_set_new(j, "signal", json_integer(r->signal));
	if (r->error[0])
		json_object_set_new(j, "error", json_string(r->error));
	if (r->have_usage)
		json_object_set_new(j, "resources",
				    json_pack("{s:I, s:I, s:i, s:i}", "cpu_us", (json_int_t)r->cpu_us,
					      "memory_peak_bytes", (json_int_t)r->mem_peak,
					      "vcpus", (int)opt.vcpus, "mem_mib", (int)opt.mem_mib));
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return;
	FILE *f = strcmp(opt.json, "-") == 0 ? stdout : fopen(opt.json, "we");
	if (!f) {
		report("--json %s: %s", opt.json, strerror(errno));
	} else {
		fprintf(f, "%s\n", text);
		if (f != stdout)
			fclose(f);
		else
			fflush(f);
	}
	free(text);
}

static void fail(struct result *r, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail(struct result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char raw[sizeof(r->error)];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_escape(r->error, sizeof(r->error), raw, strlen(raw), NULL);
	r->state = "failed";
	r->exit_status = RUN_EXIT_FAILED;
	fprintf(stderr, "kiln-run: %s\n", r->error);
}

/* Waits for the jailer, up to ms; true once it has been reaped (status in *status). */
static bool jailer_wait(pid_t pid, int ms, int *status)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(10000);
	}
}

/* Connects to the agent until it answers, kiln ends, or the deadline passes. */
static int agent_wait(struct agent_client *c, const char *uds, pid_t jailer, const char *cgroup,
		      uint64_t deadline, int *jailer_status, bool *jailer_gone, struct error *err)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return error_set(err, -ETIMEDOUT, "the guest's agent did not answer in time "
					 "(--boot-timeout)");
		if (interrupted)
			return error_set(err, -EINTR, "interrupted by signal %d", (int)interrupted);
		int left = (int)MIN(deadline - now, 1000u);
		struct error e = { 0 };
		if (agent_client_connect_vsock(c, uds, AGENT_PORT, left, &e) == 0)
			return 0;
		/* A jailer killed on its own leaves kiln running: the run goes on, and
		 * kiln-run removes the jail at its end. */
		if (!*jailer_gone && jailer_wait(jailer, 0, jailer_status))
			*jailer_gone = true;
		if (*jailer_gone && !teardown_populated(cgroup)) {
			return error_set(err, -ECHILD, "the microVM ended before its agent answered "
					 "(jailer/kiln exit status %d)",
					 WIFEXITED(*jailer_status) ? WEXITSTATUS(*jailer_status)
								    : 128 + WTERMSIG(*jailer_status));
		}
		usleep(20000);
	}
}

/* mkdir -p of a guest path's parent (a --put's destination may be anywhere). */
static int make_guest_parent(struct agent_client *c, const char *guest)
{
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", guest);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -ENOENT;
	*slash = '\0';
	const char *argv[] = { "mkdir", "-p", "--", parent, NULL };
	struct ap_exec_params p = { .argv = argv, .cwd = "/" };
	struct agent_exec_io io = { .in_fd = -1, .out_fd = 2, .err_fd = 2 };
	struct ap_exit res;
	struct error err = { 0 };
	int rc = agent_client_exec(c, &p, &io, &res, &err);
	if (rc != 0 || res.how != AP_EXITED || res.value != 0)
		return -ENOENT;
	return 0;
}

static int transfer_files(struct agent_client *c, bool in, struct result *r)
{
	const struct run_file *files = in ? opt.puts : opt.gets;
	unsigned n = in ? opt.n_puts : opt.n_gets, failed = 0;
	for (unsigned i = 0; i < n; i++) {
		struct error err = { 0 };
		uint64_t bytes = 0;
		int rc = in ? agent_client_put(c, files[i].local, files[i].guest, &bytes, &err)
			    : agent_client_get(c, files[i].guest, files[i].local, &bytes, &err);
		if (in && rc == -ENOENT && make_guest_parent(c, files[i].guest) == 0) {
			err = (struct error){ 0 };
			rc = agent_client_put(c, files[i].local, files[i].guest, &bytes, &err);
		}
		if (rc < 0) {
			report("%s %s: %s", in ? "--put" : "--get", in ? files[i].local : files[i].guest,
			       err.msg);
			failed++;
			continue;
		}
		say("%s %s -> %s: %llu bytes", in ? "put" : "got", in ? files[i].local : files[i].guest,
		    in ? files[i].guest : files[i].local, (unsigned long long)bytes);
		*(in ? &r->bytes_in : &r->bytes_out) += bytes;
	}
	return failed ? -EIO : 0;
}

static int take_slot(struct run_slot *s, struct error *err)
{
	/* A second pass: a slot that another kiln-run's sweep held for a moment is free. */
	for (unsigned i = 0; i < 2 * opt.slots; i++) {
		if (i == opt.slots)
			usleep(50000);
		int rc = slot_try_lock(opt.state_dir, i % opt.slots, s, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		/* A killed run's leftover is removed now; a kept run keeps its slot. */
		struct run_state st;
		struct error e = { 0 };
		rc = slot_state_read(s, &st, &e);
		if (rc == 1 && st.kept) {
			slot_unlock(s);
			continue;
		}
		if (rc < 0 || reap(s, false) < 0) {
			slot_unlock(s);
			continue;
		}
		return 0;
	}
	return error_set(err, -EBUSY, "all %u run slots of %s are in use (--slots)", opt.slots,
			 opt.state_dir);
}

static int run(void)
{
	struct result r = { .state = "failed", .exit_status = RUN_EXIT_FAILED };
	struct error err = { 0 };
	char jailer[PATH_MAX], kiln[PATH_MAX];
	struct run_image img;
	struct statfs sfs;

	if (geteuid() != 0) {
		report("kiln-run must run as root: it starts the jailer, which builds each run's "
		       "jail, cgroup and namespaces");
		return RUN_EXIT_FAILED;
	}
	if (statfs(CGROUP_ROOT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		report("%s is not a cgroup v2 hierarchy: kiln-run limits and removes each run "
		       "through its v2 cgroup", CGROUP_ROOT);
		return RUN_EXIT_FAILED;
	}
	if (beside_self(opt.jailer, "jailer", jailer, &err) < 0 ||
	    beside_self(opt.kiln, "kiln", kiln, &err) < 0) {
		report("%s", err.msg);
		return RUN_EXIT_FAILED;
	}
	if (opt.gc)
		return gc(true);
	if (vm_image_load(opt.image, &img, &err) < 0) {
		report("%s (tools/guest/run-image.sh builds one)", err.msg);
		return RUN_EXIT_FAILED;
	}
	if (opt.script && access(opt.script, R_OK) < 0) {
		report("%s: %s", opt.script, strerror(errno));
		return RUN_EXIT_FAILED;
	}
	/* <base>/<kiln's name> is made here, once, and never removed: jailers that start
	 * together each find it there (a jailer removes the one it made when its jail goes). */
	char exec_dir[PATH_MAX];
	snprintf(exec_dir, sizeof(exec_dir), "%s/%s", opt.chroot_base, strrchr(kiln, '/') + 1);
	const char *dirs[] = { opt.chroot_base, exec_dir };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int made = mkdir(dirs[i], 0755) == 0;
		if ((!made && errno != EEXIST) || (made && chmod(dirs[i], 0755) < 0)) {
			report("--chroot-base-dir: %s: %s", dirs[i], strerror(errno));
			return RUN_EXIT_FAILED;
		}
	}

	/* What killed runs left is removed first (a kept run stays until --gc). */
	gc(false);
	struct run_slot slot;
	if (take_slot(&slot, &err) < 0) {
		report("%s", err.msg);
		return RUN_EXIT_FAILED;
	}
	struct run_state st = { .owner = getpid() };
	snprintf(st.id, sizeof(st.id), "kiln-run-%u", slot.index);
	snprintf(st.chroot_base, sizeof(st.chroot_base), "%s", opt.chroot_base);
	snprintf(st.jailer, sizeof(st.jailer), "%s", jailer);
	if (snprintf(st.cgroup, sizeof(st.cgroup), "%s/%s/%s", CGROUP_ROOT, opt.parent_cgroup,
		     st.id) >= (int)sizeof(st.cgroup)) {
		report("--parent-cgroup %s: too long", opt.parent_cgroup);
		return RUN_EXIT_FAILED;
	}
	struct run_net net;
	if (opt.net) {
		if (net_plan(slot.index, opt.net_base[0], opt.net_base[1], opt.dns, &net) < 0) {
			report("--net-base %u.%u has no addresses for slot %u", opt.net_base[0],
			       opt.net_base[1], slot.index);
			return RUN_EXIT_FAILED;
		}
		snprintf(st.netns, sizeof(st.netns), "%s", net.netns);
		snprintf(st.tap_host, sizeof(st.tap_host), "%s", net.host_link);
	}
	snprintf(alarm_cgroup, sizeof(alarm_cgroup), "%s", st.cgroup);
	char parent_dir[PATH_MAX], sup[PATH_MAX + 8];
	snprintf(parent_dir, sizeof(parent_dir), "%s/%s", CGROUP_ROOT, opt.parent_cgroup);
	teardown_sup_cgroup(st.cgroup, sup, sizeof(sup));
	if (slot_state_write(&slot, &st, &err) < 0) {
		report("%s", err.msg);
		return RUN_EXIT_FAILED;
	}
	pid_t janitor_pid = -1;
	int janitor = janitor_start(&slot, &st, &janitor_pid);
	if (janitor < 0) {
		report("cannot start the janitor: %s", strerror(-janitor));
		slot_state_remove(&slot);
		return RUN_EXIT_FAILED;
	}
	/* The parent cgroup (shared by every run, never removed) and the jailer's own. */
	if (mkdir_parents(parent_dir) < 0 || (mkdir(sup, 0755) < 0 && errno != EEXIST)) {
		report("%s: %s", parent_dir, strerror(errno));
		janitor_dismiss(janitor, janitor_pid);
		slot_state_remove(&slot);
		return RUN_EXIT_FAILED;
	}
	char kill_file[sizeof(sup) + 16];
	snprintf(kill_file, sizeof(kill_file), "%s/cgroup.kill", sup);
	if (access(kill_file, W_OK) < 0) {
		report("%s: %s (kiln-run needs cgroup.kill: Linux 5.14 or later)", kill_file,
		       strerror(errno));
		janitor_dismiss(janitor, janitor_pid);
		rmdir(sup);
		slot_state_remove(&slot);
		return RUN_EXIT_FAILED;
	}
	say("slot %u: jail %s, uid and gid %u, vsock cid %u", slot.index, st.id,
	    opt.uid_base + slot.index, 3 + slot.index);

	/* The VM's console and kiln's log: files of the slot, shown when something fails. */
	char console_path[PATH_MAX], log_path[PATH_MAX], uds[PATH_MAX + 64];
	slot_path(&slot, "console", console_path, sizeof(console_path));
	slot_path(&slot, "log", log_path, sizeof(log_path));
	int console_fd = open(console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			      0600);
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND | O_NOFOLLOW,
			  0600);
	const char *exec_name = strrchr(kiln, '/') + 1;
	snprintf(uds, sizeof(uds), "%s/%s/%s/root/v.sock", opt.chroot_base, exec_name, st.id);

	struct vm_spec spec = {
		.jailer = jailer, .kiln = kiln, .id = st.id, .chroot_base = opt.chroot_base,
		.parent_cgroup = opt.parent_cgroup, .sup_cgroup = sup, .uid = opt.uid_base + slot.index,
		.gid = opt.uid_base + slot.index, .cid = 3 + slot.index, .vcpus = opt.vcpus,
		.mem_mib = opt.mem_mib, .pids_max = opt.pids_max ? opt.pids_max : 32 + 2 * opt.vcpus,
		.image = &img, .console_fd = console_fd, .log_fd = log_fd,
	};
	pid_t jailer_pid = -1;
	int jailer_status = 0;
	bool jailer_gone = false, connected = false;
	struct agent_client *c = calloc(1, sizeof(*c));
	uint64_t deadline = opt.timeout_s ? t_start + opt.timeout_s * 1000ull : UINT64_MAX;
	uint64_t t_ready = 0, t_exec = 0, t_exec_end = 0;

	if (console_fd < 0 || log_fd < 0 || !c) {
		fail(&r, "%s: %s", console_fd < 0 ? console_path : log_path, strerror(errno));
		goto teardown;
	}
	if (strlen(uds) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fail(&r, "--chroot-base-dir %s: too long for the jail's vsock socket %s (a Unix "
		     "socket's path has at most %zu bytes)", opt.chroot_base, uds,
		     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		goto teardown;
	}
	char netns_path[64];
	if (opt.net) {
		if (net_setup(&net, spec.uid, spec.gid, &err) < 0) {
			fail(&r, "--net: %s", err.msg);
			goto teardown;
		}
		snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", net.netns);
		spec.netns = netns_path;
		spec.tap = net.tap;
		spec.guest_mac = net.mac;
		spec.extra_cmdline = net.cmdline;
		say("network: guest %s via %s; the host's end %s on %s", net.guest, net.gateway,
		    net.host, net.host_link);
	}
	if (vm_start(&spec, &jailer_pid, &err) < 0) {
		fail(&r, "%s", err.msg);
		goto teardown;
	}
	/* The hard end of --timeout: the agent ends the command at the deadline; a guest that
	 * does not is killed 10 s later. */
	if (opt.timeout_s)
		alarm((unsigned)((deadline > now_ms() ? deadline - now_ms() : 0) / 1000 + 10));
	say("jailer started (pid %d); waiting for the guest's agent", (int)jailer_pid);

	if (agent_wait(c, uds, jailer_pid, st.cgroup, MIN(deadline, now_ms() + opt.boot_timeout_s * 1000ull),
		       &jailer_status, &jailer_gone, &err) < 0) {
		if (err.code == -ETIMEDOUT && deadline <= now_ms()) {
			r.state = "timed_out";
			r.exit_status = RUN_EXIT_TIMEOUT;
			snprintf(r.error, sizeof(r.error), "--timeout %u s ran out while the guest booted",
				 opt.timeout_s);
			report("%s", r.error);
		} else {
			fail(&r, "%s", err.msg);
		}
		if (interrupted)
			r.exit_status = 128 + (int)interrupted;
		show_tail("kiln's log", log_path, 10);
		show_tail("the guest's console", console_path, 15);
		goto teardown;
	}
	connected = true;
	t_ready = now_ms();
	r.boot_ms = t_ready - t_start;
	char peer[4 * sizeof(c->peer_name)];
	log_escape(peer, sizeof(peer), c->peer_name, strlen(c->peer_name), NULL);
	say("agent %s answered after %llu ms", peer, (unsigned long long)r.boot_ms);

	/* Files in: the script first, then every --put. */
	if (opt.script) {
		uint64_t bytes;
		if (agent_client_put(c, opt.script, opt.script_guest, &bytes, &err) < 0) {
			fail(&r, "%s: %s", opt.script, err.msg);
			connected = !hard_timeout;
			goto teardown;
		}
		r.bytes_in += bytes;
	}
	if (transfer_files(c, true, &r) < 0) {
		fail(&r, "a --put failed (above): the command was not run");
		connected = !hard_timeout;
		goto teardown;
	}
	if (hard_timeout || interrupted) {
		r.state = hard_timeout ? "timed_out" : "failed";
		r.exit_status = hard_timeout ? RUN_EXIT_TIMEOUT : 128 + (int)interrupted;
		report("%s before the command started", hard_timeout ? "--timeout ran out"
			   : "interrupted by a signal");
		connected = !hard_timeout;
		goto teardown;
	}

	/* The command. */
	struct ap_exec_params p = {
		.argv = opt.argv, .env = opt.env, .cwd = opt.workdir,
		.stdin_stream = !opt.no_stdin,
	};
	if (opt.timeout_s) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			r.state = "timed_out";
			r.exit_status = RUN_EXIT_TIMEOUT;
			report("--timeout %u s ran out before the command started", opt.timeout_s);
			goto teardown;
		}
		p.timeout_ms = deadline - now;
	}
	struct agent_exec_io io = {
		.in_fd = opt.no_stdin ? -1 : 0, .out_fd = 1, .err_fd = 2,
		.pending_signal = &pending_signal,
	};
	struct ap_exit res;
	t_exec = now_ms();
	say("running %s", opt.argv[0]);
	int rc = agent_client_exec(c, &p, &io, &res, &err);
	t_exec_end = now_ms();
	/* From here on the guest is only asked for files: --timeout no longer applies. */
	alarm(0);
	r.run_ms = t_exec_end - t_exec;
	if (teardown_usage(st.cgroup, &r.cpu_us, &r.mem_peak) == 0)
		r.have_usage = true;
	if (rc == 0) {
		if (res.flags & AP_EXIT_TIMED_OUT) {
			r.state = "timed_out";
			r.exit_status = RUN_EXIT_TIMEOUT;
			report("--timeout %u s ran out: the command was killed", opt.timeout_s);
		} else if (res.how == AP_EXITED) {
			r.state = "exited";
			r.code = (int)res.value;
			r.exit_status = r.code;
		} else {
			r.state = "signaled";
			r.signal = (int)res.value;
			r.exit_status = 128 + r.signal;
		}
		say("the command ended after %llu ms: %s %d", (unsigned long long)r.run_ms, r.state,
		    res.how == AP_EXITED ? r.code : r.signal);
	} else if (rc == 1) {
		/* 126 and 127 are the program's; a bad --workdir, say, is kiln-run's 125. */
		bool exec_stage = strstr(err.msg, "execvp") != NULL;
		fail(&r, "%s", err.msg);
		r.exit_status = !exec_stage ? RUN_EXIT_FAILED
			      : err.code == -ENOENT ? RUN_EXIT_NOTFOUND
			      : err.code == -EACCES || err.code == -ENOEXEC ? RUN_EXIT_NOEXEC
			      : RUN_EXIT_FAILED;
	} else if (hard_timeout) {
		r.state = "timed_out";
		r.exit_status = RUN_EXIT_TIMEOUT;
		report("--timeout %u s ran out and the guest did not end the command: the VM was "
		       "killed", opt.timeout_s);
		connected = false;
	} else if (strstr(err.msg, "writing the process's")) {
		/* Our own stdout or stderr went away (a reader that stopped, as `| head`
		 * does): a shell would see SIGPIPE. The command is cancelled with the
		 * connection; a new one serves --get and the shutdown. */
		fail(&r, "%s", err.msg);
		r.exit_status = 128 + SIGPIPE;
		agent_client_close(c);
		struct error e = { 0 };
		connected = agent_client_connect_vsock(c, uds, AGENT_PORT, 3000, &e) == 0;
	} else {
		fail(&r, "the connection to the guest's agent failed: %s", err.msg);
		connected = false;
		show_tail("kiln's log", log_path, 10);
		show_tail("the guest's console", console_path, 15);
	}

	/* Files out, whatever the command did, while the guest is up. */
	if (opt.n_gets) {
		if (!connected)
			report("the guest is gone: --get cannot copy anything out");
		else if (transfer_files(c, false, &r) < 0 && r.exit_status == 0)
			fail(&r, "a --get failed (above)");
	}

teardown:
	alarm(0);
	if (hard_timeout && r.exit_status == RUN_EXIT_FAILED) {
		r.state = "timed_out";
		r.exit_status = RUN_EXIT_TIMEOUT;
	}
	if (opt.keep && connected) {
		agent_client_close(c);
		st.kept = true;
		if (slot_state_write(&slot, &st, &err) == 0) {
			janitor_dismiss(janitor, janitor_pid);
			fprintf(stderr, "kiln-run: kept %s running: kiln-agent-client --uds %s exec -- sh; "
				"its console: %s; remove it with kiln-run --gc\n", st.id, uds,
				console_path);
			r.total_ms = now_ms() - t_start;
			if (opt.json)
				write_json(&r, st.id);
			return r.exit_status;
		}
		report("%s: the run is removed instead", err.msg);
	}
	uint64_t t_down = now_ms();
	if (connected) {
		struct error e = { 0 };
		if (agent_client_shutdown(c, AP_SHUTDOWN_POWEROFF, &e) < 0)
			say("shutdown: %s", e.msg);
		agent_client_close(c);
	}
	if (jailer_pid > 0 && !jailer_gone) {
		/* A guest that powers off ends kiln, and the jailer removes the jail. */
		if (!connected || !jailer_wait(jailer_pid, 5000, &jailer_status)) {
			teardown_kill(st.cgroup, 10000);
			jailer_wait(jailer_pid, 10000, &jailer_status);
		}
	}
	if (teardown_run(&st, &err) < 0) {
		report("teardown of %s: %s (the next kiln-run, or kiln-run --gc, tries again)", st.id,
		       err.msg);
		if (r.exit_status == 0)
			r.exit_status = RUN_EXIT_FAILED;
		janitor_dismiss(janitor, janitor_pid);
	} else {
		slot_state_remove(&slot);
		janitor_dismiss(janitor, janitor_pid);
	}
	free(c);
	r.teardown_ms = now_ms() - t_down;
	r.total_ms = now_ms() - t_start;
	say("removed %s in %llu ms; %llu ms in all", st.id, (unsigned long long)r.teardown_ms,
	    (unsigned long long)r.total_ms);
	if (opt.json)
		write_json(&r, st.id);
	slot_unlock(&slot);
	return r.exit_status;
}

int main(int argc, char **argv)
{
	struct error err = { 0 };
	t_start = now_ms();
	if (run_options_parse(&opt, argc, argv, getenv("KILN_RUN_IMAGE"), &err) < 0) {
		fprintf(stderr, "kiln-run: %s\n", err.msg);
		fprintf(stderr, "Try 'kiln-run --help'.\n");
		return RUN_EXIT_USAGE;
	}
	if (opt.help) {
		run_options_usage(stdout);
		return 0;
	}
	if (opt.version) {
		printf("kiln-run %s\n", KILN_VERSION);
		return 0;
	}
	verbose = opt.verbose;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	struct sigaction al = { .sa_handler = on_alarm };
	sigemptyset(&al.sa_mask);
	sigaction(SIGALRM, &al, NULL);
	return run();
}
