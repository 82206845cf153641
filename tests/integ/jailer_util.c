/* Helpers for the jailer integration tests: run the real $JAILER, read what it built. */
#include "jailer_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void jt_init(struct jt *t)
{
	static int seq;
	char self[PATH_MAX / 2];
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->jailer = getenv("JAILER");
	if (!t->jailer || access(t->jailer, X_OK) != 0)
		cr_skip_test("JAILER is not set to an executable");
	if (geteuid() != 0)
		cr_skip_test("the jailer tests need root");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';	/* build/tests/integ */
	snprintf(t->probe, sizeof(t->probe), "%s/../helpers/jail_probe", self);
	if (access(t->probe, X_OK) != 0)
		cr_skip_test("%s is not built", t->probe);
	snprintf(t->base, sizeof(t->base), "/tmp/kiln-jt-XXXXXX");
	cr_assert_not_null(mkdtemp(t->base));
	snprintf(t->id, sizeof(t->id), "jt-%d-%d", (int)getpid(), ++seq);
	snprintf(t->root, sizeof(t->root), "%s/jail_probe/%s/root", t->base, t->id);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static pid_t spawned[64];
static size_t n_spawned;

void jt_fini(struct jt *t)
{
	/* A failed assertion can leave a jailer or a probe running; they hold the test
	 * runner's pipes, so kill them before anything else. */
	for (size_t i = 0; i < n_spawned; i++)
		kill(spawned[i], SIGKILL);
	if (t->root[0]) {
		pid_t vmm = jt_read_pid(t, 10);
		if (vmm > 0)
			kill(vmm, SIGKILL);
	}
	if (t->base[0])
		nftw(t->base, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void exec_jailer(const char *const *args)
{
	const char *argv[64];
	size_t n = 0;

	argv[n++] = getenv("JAILER");
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static size_t drain(int fd, char *buf, size_t len, size_t size)
{
	ssize_t n;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len;
}

void jt_run(struct jt_result *r, const char *const *args)
{
	int out[2], err[2];
	pid_t pid;

	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		close(out[1]);
		close(err[1]);
		exec_jailer(args);
	}
	close(out[1]);
	close(err[1]);
	/* stderr is small; read stdout fully first, then stderr. */
	drain(out[0], r->out, 0, sizeof(r->out));
	drain(err[0], r->err, 0, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	r->status = jt_wait(pid, 30000);
}

pid_t jt_spawn(const char *const *args, int *out_fd)
{
	int out[2];
	pid_t pid;

	cr_assert_eq(pipe(out), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		exec_jailer(args);
	}
	close(out[1]);
	*out_fd = out[0];
	if (n_spawned < 64)
		spawned[n_spawned++] = pid;
	return pid;
}

bool jt_wait_ready(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t len = 0;
	buf[0] = '\0';
	while (timeout_ms > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) > 0) {
			ssize_t n = read(fd, buf + len, size - 1 - len);
			if (n <= 0)
				return false;
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, "\nready\n"))
				return true;
		} else {
			timeout_ms -= 50;
		}
	}
	return false;
}

int jt_wait(pid_t pid, int timeout_ms)
{
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (timeout_ms <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
		timeout_ms -= 10;
	}
}

const char *jt_value(const char *text, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "\n");
			snprintf(buf, size, "%.*s", (int)n, p + klen + 1);
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

ssize_t jt_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = drain(fd, buf, 0, size);
	close(fd);
	return (ssize_t)n;
}

pid_t jt_read_pid(const struct jt *t, int timeout_ms)
{
	char path[PATH_MAX + 128], buf[32];
	snprintf(path, sizeof(path), "%s/jail_probe.pid", t->root);
	for (; timeout_ms > 0; timeout_ms -= 10) {
		if (jt_read(path, buf, sizeof(buf)) > 0 && strchr(buf, '\n'))
			return (pid_t)atoi(buf);
		usleep(10000);
	}
	return -1;
}

bool jt_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

unsigned long jt_ns_inode(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}
