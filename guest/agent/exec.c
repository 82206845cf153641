/* One process the host asked for, run under its own supervisor so that nothing it starts survives it. */
#include "guest/agent/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the supervisor writes on the status pipe: one record of two ints, atomically. */
enum status_kind {
	ST_STARTED = 1,		/* value: the command's pid */
	ST_FAIL_EXEC,		/* value: errno */
	ST_FAIL_CHDIR,
	ST_FAIL_CRED,
	ST_FAIL_SETUP,
	ST_EXITED,		/* value: exit status */
	ST_SIGNALED,		/* value: signal number */
};

struct status_msg {
	int32_t kind;
	int32_t value;
};

uint64_t exec_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report(int fd, int kind, int value)
{
	struct status_msg m = { kind, value };
	ssize_t n;
	do
		n = write(fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
}

/* In the command's child: never returns. fail_fd is close-on-exec. */
static NORETURN void run_command(const struct ap_exec *req, int in_fd, int out_fd, int err_fd, int fail_fd)
{
	sigset_t none;
	struct sigaction dfl;
	char *envp[AP_MAX_ENV + 2];
	size_t n = 0;
	bool has_path = false;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
		report(fail_fd, ST_FAIL_SETUP, errno);
		_exit(127);
	}
	/* Every other descriptor closes at exec (fail_fd too: EOF says exec worked). */
	syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
	if (chdir(req->cwd ? req->cwd : "/") < 0) {
		report(fail_fd, ST_FAIL_CHDIR, errno);
		_exit(127);
	}
	if (req->has_uid || req->has_gid) {
		gid_t gid = req->has_gid ? req->gid : req->uid;
		if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
		    (req->has_uid && setresuid(req->uid, req->uid, req->uid) < 0)) {
			report(fail_fd, ST_FAIL_CRED, errno);
			_exit(127);
		}
	}
	/* After the credentials change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (size_t i = 0; i < req->envc; i++) {
		envp[n++] = req->env[i];
		if (!strncmp(req->env[i], "PATH=", 5))
			has_path = true;
	}
	if (!has_path)
		envp[n++] = (char *)DEFAULT_PATH;
	envp[n] = NULL;
	environ = envp;		/* execvp searches the PATH given */
	execvp(req->argv[0], req->argv);
	report(fail_fd, ST_FAIL_EXEC, errno);
	_exit(127);
}

/* Kills, with SIGKILL, every process whose parent is the caller (read from /proc). */
static void kill_children(void)
{
	pid_t self = getpid();
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[64], buf[512];
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* pid (comm) state ppid ...: comm may hold anything, so find the last ')'. */
		char *rp = strrchr(buf, ')');
		long ppid;
		char state;
		if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 || ppid != self)
			continue;
		kill((pid_t)pid, SIGKILL);
		kill((pid_t)-pid, SIGKILL);	/* its group, if it leads one: all below us */
	}
	closedir(d);
}

/* Kills the command's group and every descendant left, until the supervisor has no child. */
static void sweep(pid_t cmd)
{
	for (;;) {
		int st;
		kill(-cmd, SIGKILL);
		kill_children();
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == ECHILD)
			return;
	}
}

/* Closes every descriptor from 3 up except the n in keep (ascending). */
static void close_all_but(const int *keep, size_t n)
{
	unsigned int from = 3;
	for (size_t i = 0; i <= n; i++) {
		unsigned int to = i < n ? (unsigned int)keep[i] : ~0u;
		if (i < n && keep[i] < 3)
			continue;
		if (to > from)
			syscall(SYS_close_range, from, i < n ? to - 1 : to, 0u);
		from = to + 1;
	}
}

static void sort_fds(int *fds, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && fds[k - 1] > fds[k]; k--) {
			int t = fds[k];
			fds[k] = fds[k - 1];
			fds[k - 1] = t;
		}
}

/* The supervisor: never returns. */
static NORETURN void supervise(const struct ap_exec *req, int fds[3], int status_fd, pid_t agent)
{
	int fail[2];
	sigset_t set;
	struct status_msg m;

	int keep[4] = { fds[0], fds[1], fds[2], status_fd };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != agent)
		_exit(1);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* The agent's other descriptors (connections, other processes' pipes) stay with it. */
	sort_fds(keep, 4);
	close_all_but(keep, 4);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(fail, O_CLOEXEC) < 0) {
		report(status_fd, ST_FAIL_SETUP, errno);
		_exit(1);
	}
	pid_t cmd = fork();
	if (cmd < 0) {
		report(status_fd, ST_FAIL_SETUP, errno);
		_exit(1);
	}
	if (cmd == 0) {
		close(fail[0]);
		run_command(req, fds[0], fds[1], fds[2], fail[1]);
	}
	close(fail[1]);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	ssize_t n;
	do
		n = read(fail[0], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	close(fail[0]);
	if (n == (ssize_t)sizeof(m)) {
		sweep(cmd);
		report(status_fd, m.kind, m.value);
		_exit(0);
	}
	report(status_fd, ST_STARTED, cmd);

	int cmd_status = 0;
	bool cmd_done = false;
	while (!cmd_done) {
		siginfo_t si;
		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (si.si_signo == SIGTERM) {
			kill(-cmd, SIGKILL);
			kill(cmd, SIGKILL);
			continue;
		}
		for (;;) {
			int st;
			pid_t pid = waitpid(-1, &st, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == cmd) {
				cmd_status = st;
				cmd_done = true;
			}
		}
	}
	sweep(cmd);
	if (WIFSIGNALED(cmd_status))
		report(status_fd, ST_SIGNALED, WTERMSIG(cmd_status));
	else
		report(status_fd, ST_EXITED, WEXITSTATUS(cmd_status));
	_exit(0);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int exec_start(struct exec_proc *p, const struct ap_exec *req, char *err, size_t err_size)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, st[2] = { -1, -1 };
	int rc;

	memset(p, 0, sizeof(*p));
	p->in_fd = p->out_fd = p->err_fd = p->status_fd = -1;
	if ((req->stdin_stream ? pipe2(in, O_CLOEXEC) :
	     (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, err_size, "pipe for the process's standard streams: %s", strerror(-rc));
		goto fail;
	}
	pid_t agent = getpid();
	p->start_ns = exec_now_ns();
	pid_t sup = fork();
	if (sup < 0) {
		rc = -errno;
		snprintf(err, err_size, "fork: %s", strerror(-rc));
		goto fail;
	}
	if (sup == 0) {
		int fds[3] = { in[0], out[1], errp[1] };
		close(st[0]);
		if (in[1] >= 0)
			close(in[1]);
		close(out[0]);
		close(errp[0]);
		supervise(req, fds, st[1], agent);
	}
	p->supervisor = sup;
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	close(st[1]);
	in[0] = out[1] = errp[1] = st[1] = -1;
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = errp[0];
	p->status_fd = st[0];

	struct status_msg m;
	ssize_t n;
	do
		n = read(p->status_fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(m) || m.kind < ST_STARTED || m.kind > ST_FAIL_SETUP) {
		snprintf(err, err_size, "the process's supervisor ended before starting it");
		rc = -ECHILD;
		goto fail_started;
	}
	if (m.kind != ST_STARTED) {
		static const char *const stage[] = {
			[ST_FAIL_EXEC] = "execvp", [ST_FAIL_CHDIR] = "chdir",
			[ST_FAIL_CRED] = "setting uid and gid", [ST_FAIL_SETUP] = "setting up",
		};
		const char *what = m.kind == ST_FAIL_EXEC ? req->argv[0] :
				   m.kind == ST_FAIL_CHDIR ? (req->cwd ? req->cwd : "/") : "";
		snprintf(err, err_size, "%s%s%s: %s", stage[m.kind], *what ? " " : "", what,
			 strerror(m.value));
		rc = m.value > 0 ? -m.value : -EIO;
		goto fail_started;
	}
	p->pgid = m.value;
	if (req->timeout_ms)
		p->deadline_ns = p->start_ns + (req->timeout_ms > UINT64_MAX / 2000000u ?
				 UINT64_MAX / 2 : req->timeout_ms * 1000000u);
	if ((p->in_fd >= 0 && (rc = set_nonblock(p->in_fd)) < 0) ||
	    (rc = set_nonblock(p->out_fd)) < 0 || (rc = set_nonblock(p->err_fd)) < 0 ||
	    (rc = set_nonblock(p->status_fd)) < 0) {
		snprintf(err, err_size, "O_NONBLOCK on the process's pipes: %s", strerror(-rc));
		exec_kill(p);
		goto fail_started;
	}
	return 0;

fail_started:
	p->ended = true;	/* the supervisor exits by itself; the agent reaps it */
	exec_release(p);
	return rc;
fail:
	close_pair(in);
	close_pair(out);
	close_pair(errp);
	close_pair(st);
	return rc;
}

int exec_signal(struct exec_proc *p, int signo)
{
	if (p->ended || p->lost || p->pgid <= 0)
		return -ESRCH;
	return kill(-p->pgid, signo) < 0 ? -errno : 0;
}

void exec_kill(struct exec_proc *p)
{
	if (p->ended || p->lost || p->supervisor <= 0 || p->killing)
		return;
	p->killing = true;
	kill(p->supervisor, SIGTERM);
}

int exec_read_status(struct exec_proc *p)
{
	for (;;) {
		struct status_msg m;
		ssize_t n = p->status_fd < 0 ? 0 : read(p->status_fd, &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return p->ended || p->lost;
		if (n == (ssize_t)sizeof(m) && (m.kind == ST_EXITED || m.kind == ST_SIGNALED)) {
			p->ended = true;
			p->result.how = m.kind == ST_EXITED ? AP_EXITED : AP_SIGNALED;
			p->result.value = (uint32_t)m.value;
			p->result.flags = p->timed_out ? AP_EXIT_TIMED_OUT : 0;
			p->result.runtime_us = (exec_now_ns() - p->start_ns) / 1000u;
			continue;
		}
		/* EOF, an error or a short record: no more reports. */
		if (!p->ended)
			p->lost = true;
		if (p->status_fd >= 0)
			close(p->status_fd);
		p->status_fd = -1;
		return 1;
	}
}

void exec_release(struct exec_proc *p)
{
	exec_kill(p);
	int *fds[] = { &p->in_fd, &p->out_fd, &p->err_fd, &p->status_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
