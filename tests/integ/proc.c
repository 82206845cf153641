/* Integration-test helper: run a program with input, a timeout, and captured output. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

pid_t proc_spawn(const char *const *argv, int *in_fd, int *out_fd, int *err_fd)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	if ((in_fd && pipe2(pin, O_CLOEXEC) < 0) || (out_fd && pipe2(pout, O_CLOEXEC) < 0) ||
	    (err_fd && pipe2(perr, O_CLOEXEC) < 0))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(in_fd ? pin[0] : null, 0);
		dup2(out_fd ? pout[1] : null, 1);
		dup2(err_fd ? perr[1] : null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (in_fd) {
		close(pin[0]);
		*in_fd = pin[1];
	}
	if (out_fd) {
		close(pout[1]);
		*out_fd = pout[0];
	}
	if (err_fd) {
		close(perr[1]);
		*err_fd = perr[0];
	}
	return pid;
}

int proc_wait(pid_t pid, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return status_code(st);
		if (r < 0 || now_ms() >= end)
			return -1;
		usleep(2000);
	}
}

bool proc_read_until(int fd, char *buf, size_t size, const char *needle, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	size_t len = strlen(buf);
	while (!strstr(buf, needle)) {
		long left = end - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return true;
}

void proc_run(const char *const *argv, const char *in, int timeout_ms, struct proc_result *r)
{
	int in_fd, out_fd, err_fd;
	size_t out_len = 0, err_len = 0, in_off = 0, in_len = in ? strlen(in) : 0;
	long end = now_ms() + timeout_ms;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = proc_spawn(argv, &in_fd, &out_fd, &err_fd);
	if (pid < 0)
		return;
	if (in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	while (out_fd >= 0 || err_fd >= 0) {
		struct pollfd p[3] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 },
				       { in_fd, POLLOUT, 0 } };
		long left = end - now_ms();
		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 3, (int)left) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			ssize_t n = read(out_fd, r->out + out_len, sizeof(r->out) - 1 - out_len);
			if (n > 0) out_len += (size_t)n;
			else { close(out_fd); out_fd = -1; }
		}
		if (p[1].revents) {
			ssize_t n = read(err_fd, r->err + err_len, sizeof(r->err) - 1 - err_len);
			if (n > 0) err_len += (size_t)n;
			else { close(err_fd); err_fd = -1; }
		}
		if (in_fd >= 0 && p[2].revents) {
			ssize_t n = write(in_fd, in + in_off, in_len - in_off);
			if (n > 0)
				in_off += (size_t)n;
			if (n <= 0 || in_off == in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	int st;
	waitpid(pid, &st, 0);
	r->status = r->timed_out ? -1 : status_code(st);
}
