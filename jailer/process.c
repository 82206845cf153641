/* Process plumbing: sanitising, the readiness pipe, daemonizing, pid namespace, supervising. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io.h"

int jail_sanitize(struct jail_err *err)
{
	sigset_t none;

	/* Nothing the caller left open may reach the VMM. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) < 0)
		return jail_fail_errno(err, JAIL_EXIT_UNEXPECTED, errno, "close_range");
	if (clearenv() != 0)
		return jail_fail(err, JAIL_EXIT_UNEXPECTED, "cannot clear the environment");
	umask(077);
	/* Ignored or blocked signals survive exec; start from the defaults. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

void jail_report_and_exit(int ready_fd, const struct jail_err *err)
{
	char msg[sizeof(err->msg) + 1];
	size_t n = strlen(err->msg);

	msg[0] = (char)err->code;
	memcpy(msg + 1, err->msg, n);
	/* One write below PIPE_BUF: the reader gets all of it or nothing. */
	if (write(ready_fd, msg, n + 1) < 0)
		_exit(err->code);
	_exit(err->code);
}

int jail_wait_ready(int ready_fd, struct jail_err *err)
{
	char msg[sizeof(err->msg) + 1];
	ssize_t n;

	do
		n = read(ready_fd, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	err->code = (unsigned char)msg[0];
	msg[n] = '\0';
	snprintf(err->msg, sizeof(err->msg), "%s", msg + 1);
	return -1;
}

int jail_daemonize(int devnull_fd, struct jail_err *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "fork");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "setsid");
	/* The session leader exits so the daemon can never acquire a terminal. */
	pid = fork();
	if (pid < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "fork");
	if (pid > 0)
		_exit(0);
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(devnull_fd, fd) < 0)
			return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "dup2 /dev/null");
	close(devnull_fd);
	return 0;
}

pid_t jail_fork_new_pidns(struct jail_err *err)
{
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);

	if (pid < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "clone(CLONE_NEWPID)");
	return pid;
}

int jail_write_pidfile(const char *path, pid_t pid, struct jail_err *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, errno, "cannot create pid file %s",
				       path);
	r = write_all(fd, buf, (size_t)n);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_PROCESS, r, "cannot write pid file %s", path);
	return 0;
}

void jail_supervised_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

int jail_supervise(pid_t child)
{
	sigset_t set;
	int status;

	jail_supervised_signals(&set);
	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			return JAIL_EXIT_UNEXPECTED;
		int sig = sigwaitinfo(&set, NULL);
		if (sig > 0 && sig != SIGCHLD)
			kill(child, sig);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
