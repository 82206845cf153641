/*
 * Both ends of kiln's vsock tests: static, so that the same program runs in a Linux guest
 * (AF_VSOCK) and on the host (AF_UNIX, Firecracker's protocol on kiln's uds_path).
 *
 *   vsock_peer serve-vsock PORT COUNT        guest: echo server on vsock PORT, COUNT connections
 *   vsock_peer serve-unix PATH COUNT         host: echo server on a Unix socket
 *   vsock_peer echo-vsock CID PORT BYTES     guest: connect, send BYTES, check the echo
 *   vsock_peer echo-unix UDS PORT BYTES [N]  host: CONNECT PORT through UDS, same, N at once
 *                                            (UDS may appear up to 10 s later)
 *   vsock_peer refused-vsock CID PORT        guest: the connection must be refused
 *   vsock_peer refused-unix UDS PORT         host: the connection must be closed without OK
 *
 * The data is a pseudo-random stream; the echo is compared byte for byte while it comes
 * back (sending and receiving at once, so neither side's buffers can deadlock it).
 * Clients print "ok: BYTES bytes echoed in S s (R MiB/s each way)". Exit 0 on success.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define CHUNK 65536
#define TIMEOUT_MS 120000

static const char *prog = "vsock_peer";

static int die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	return 1;
}

/* Byte i of the stream for `seed`. */
static uint8_t stream_byte(uint64_t seed, uint64_t i)
{
	uint64_t z = seed + (i >> 3) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (uint8_t)(z >> (8 * (i & 7)));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send `bytes` of the stream and check that exactly they come back, then EOF. */
static int echo_client(int fd, uint64_t bytes, uint64_t seed)
{
	static uint8_t out[CHUNK], in[CHUNK];
	uint64_t sent = 0, got = 0;
	bool shut = false;
	double t0 = now();

	while (got < bytes || !shut) {
		struct pollfd p = { fd, POLLIN | (sent < bytes ? POLLOUT : 0), 0 };
		if (sent == bytes && !shut) {
			if (shutdown(fd, SHUT_WR) < 0)
				return die("shutdown");
			shut = true;
			continue;
		}
		int n = poll(&p, 1, TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: stalled: %llu of %llu bytes sent, %llu echoed\n", prog,
				(unsigned long long)sent, (unsigned long long)bytes,
				(unsigned long long)got);
			return 1;
		}
		if (p.revents & POLLOUT) {
			size_t len = (size_t)(bytes - sent < CHUNK ? bytes - sent : CHUNK);
			for (size_t i = 0; i < len; i++)
				out[i] = stream_byte(seed, sent + i);
			ssize_t w = send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN)
				return die("send");
			if (w > 0)
				sent += (uint64_t)w;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (r < 0 && errno != EAGAIN)
				return die("recv");
			if (r == 0 && got < bytes) {
				fprintf(stderr, "%s: EOF after %llu of %llu bytes\n", prog,
					(unsigned long long)got, (unsigned long long)bytes);
				return 1;
			}
			for (ssize_t i = 0; i < r; i++) {
				if (got + (uint64_t)i >= bytes || in[i] != stream_byte(seed, got + (uint64_t)i)) {
					fprintf(stderr, "%s: byte %llu of the echo is wrong\n", prog,
						(unsigned long long)(got + (uint64_t)i));
					return 1;
				}
			}
			if (r > 0)
				got += (uint64_t)r;
		}
	}
	/* After the whole echo, the server's close. */
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, TIMEOUT_MS) <= 0) {
			fprintf(stderr, "%s: no EOF after the echo\n", prog);
			return 1;
		}
		ssize_t r = recv(fd, in, sizeof(in), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		if (r < 0)
			return die("recv");
		fprintf(stderr, "%s: %zd bytes more than were sent\n", prog, r);
		return 1;
	}
	double secs = now() - t0;
	printf("ok: %llu bytes echoed in %.3f s (%.1f MiB/s each way)\n", (unsigned long long)bytes,
	       secs, (double)bytes / (1 << 20) / (secs > 0 ? secs : 1e-9));
	return 0;
}

/* Read everything and send it back, until EOF. */
static int echo_server(int fd)
{
	static uint8_t buf[CHUNK];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return die("read");
		}
		for (ssize_t off = 0; off < r;) {
			ssize_t w = send(fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
			if (w < 0 && errno != EINTR)
				return die("write");
			if (w > 0)
				off += w;
		}
	}
	close(fd);
	return 0;
}

static int serve(int lfd, int count)
{
	int failed = 0;
	for (int i = 0; i < count; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			/*
			 * A connection reset before it was accepted (Linux's vsock reports its
			 * error here) counts as one that failed; the others being served go on.
			 */
			fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
			failed = 1;
			if (errno != ECONNRESET && errno != ECONNABORTED && errno != ETIMEDOUT)
				break;
			continue;
		}
		pid_t pid = fork();
		if (pid < 0)
			return die("fork");
		if (pid == 0) {
			close(lfd);
			_exit(echo_server(fd));
		}
		close(fd);
	}
	int st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	printf("%s: served %d connections%s\n", prog, count, failed ? ", some failed" : "");
	return failed;
}

static int vsock_socket(void)
{
	return socket(AF_VSOCK, SOCK_STREAM, 0);
}

static int connect_vsock(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = vsock_socket();
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/*
 * Connect to kiln's uds_path and ask for guest port `port`. Returns the fd with the OK
 * line read, -2 when kiln closed the connection without one (the guest refused), or -1
 * (errno says why).
 */
static int connect_unix(const char *uds, unsigned int port)
{
	struct sockaddr_un sa;
	char line[64];
	size_t len = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || unix_addr(uds, &sa) < 0)
		return -1;
	/* kiln may not have bound uds_path yet: wait for it up to 10 s. */
	for (int tries = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; tries++) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || tries == 100)
			return -1;
		usleep(100000);
	}
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write(fd, line, (size_t)n) != n)
		return -1;
	while (len < sizeof(line) - 1) {
		ssize_t r = read(fd, line + len, 1);
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			close(fd);
			return -2;
		}
		if (r < 0)
			return -1;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	unsigned int hostport;
	if (sscanf(line, "OK %u\n", &hostport) != 1) {
		fprintf(stderr, "%s: kiln answered \"%s\"\n", prog, line);
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

static unsigned long long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "%s: %s is not a number\n", prog, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(cmd, "serve-vsock") && argc == 4) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					  .svm_port = (unsigned int)num(argv[2]) };
		int fd = vsock_socket();
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
			return die("vsock listen");
		printf("%s: listening on vsock port %s\n", prog, argv[2]);
		return serve(fd, (int)num(argv[3]));
	}
	if (!strcmp(cmd, "serve-unix") && argc == 4) {
		struct sockaddr_un sa;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || unix_addr(argv[2], &sa) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
			return die(argv[2]);
		printf("%s: listening on %s\n", prog, argv[2]);
		return serve(fd, (int)num(argv[3]));
	}
	if (!strcmp(cmd, "echo-vsock") && argc == 5) {
		int fd = connect_vsock((unsigned int)num(argv[2]), (unsigned int)num(argv[3]));
		if (fd < 0)
			return die("vsock connect");
		return echo_client(fd, num(argv[4]), num(argv[3]));
	}
	if (!strcmp(cmd, "refused-vsock") && argc == 4) {
		int fd = connect_vsock((unsigned int)num(argv[2]), (unsigned int)num(argv[3]));
		if (fd >= 0) {
			fprintf(stderr, "%s: vsock port %s accepted a connection\n", prog, argv[3]);
			return 1;
		}
		printf("refused: %s\n", strerror(errno));
		return 0;
	}
	if (!strcmp(cmd, "echo-unix") && (argc == 5 || argc == 6)) {
		unsigned int port = (unsigned int)num(argv[3]);
		uint64_t bytes = num(argv[4]);
		int n = argc == 6 ? (int)num(argv[5]) : 1, failed = 0;
		double t0 = now();
		for (int i = 0; i < n; i++) {
			pid_t pid = n == 1 ? 0 : fork();
			if (pid < 0)
				return die("fork");
			if (pid == 0) {
				int fd = connect_unix(argv[2], port);
				if (fd < 0) {
					fprintf(stderr, "%s: CONNECT %u: %s\n", prog, port,
						fd == -2 ? "closed without OK" : strerror(errno));
					if (n == 1)
						return 1;
					_exit(1);
				}
				int ret = echo_client(fd, bytes, (uint64_t)i * 7919 + port);
				if (n == 1)
					return ret;
				_exit(ret);
			}
		}
		int st;
		while (wait(&st) > 0)
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				failed++;
		printf("%s: %d connections at once, %d failed, in %.3f s\n", prog, n, failed,
		       now() - t0);
		return failed != 0;
	}
	if (!strcmp(cmd, "refused-unix") && argc == 4) {
		int fd = connect_unix(argv[2], (unsigned int)num(argv[3]));
		if (fd == -1)
			return die(argv[2]);
		if (fd >= 0) {
			fprintf(stderr, "%s: guest port %s accepted a connection\n", prog, argv[3]);
			return 1;
		}
		printf("refused: closed without OK\n");
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/vsock_peer.c\n");
	return 2;
}
