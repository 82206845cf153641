/*
 * Both ends of kiln's network tests and benchmark: TCP over a guest's virtio-net and the
 * host's TAP. Static, so that the same program runs in a Linux guest and on the host.
 *
 *   net_peer recv PORT                listen on PORT, accept one connection, copy what
 *                                     arrives to stdout until EOF
 *   net_peer serve PORT [BYTES]       listen on PORT, accept one connection, send it stdin
 *                                     (or BYTES of a pattern made in memory), then EOF
 *   net_peer send ADDR PORT [BYTES]   connect to ADDR:PORT, send stdin (or BYTES of the
 *                                     pattern), then EOF; waits for the peer's close
 *   net_peer fetch ADDR PORT          connect to ADDR:PORT, copy what arrives to stdout
 *   net_peer offloads IFACE           IFACE's offloads, as `ethtool -k` names them
 *
 * Connecting retries for up to 60 s while the address refuses or is not reachable yet
 * (the other side's listener or its interface is still coming up); accept waits up to
 * 120 s; a connection silent for 60 s fails. Each transfer ends with one line on stderr:
 *   net_peer: received|sent BYTES bytes in SECONDS s (RATE MiB/s)
 * where SECONDS runs from the first byte moved to the last one and the peer's EOF (or,
 * for the sender, its close). Exit status 0 on success, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#define CHUNK (256 * 1024)
#define CONNECT_MS 60000
#define ACCEPT_MS 120000
#define IDLE_MS 60000

static const char *prog = "net_peer";

static int die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	return 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static uint16_t port_arg(const char *s)
{
	unsigned long long p = num(s);
	if (p == 0 || p > 65535) {
		fprintf(stderr, "%s: %s is not a TCP port\n", prog, s);
		exit(2);
	}
	return (uint16_t)p;
}

static void report(const char *verb, uint64_t bytes, double t0, double t1)
{
	double secs = t0 > 0 ? t1 - t0 : 0;
	fprintf(stderr, "%s: %s %llu bytes in %.3f s (%.2f MiB/s)\n", prog, verb,
		(unsigned long long)bytes, secs,
		secs > 0 ? (double)bytes / (1 << 20) / secs : 0.0);
}

/* Wait until fd is ready for `events`, at most ms; 0 when it is, -1 on timeout or error. */
static int wait_fd(int fd, short events, int ms, const char *what)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("poll");
		if (n == 0) {
			fprintf(stderr, "%s: %s: nothing for %d s\n", prog, what, ms / 1000);
			return -1;
		}
		return 0;
	}
}

static int listen_accept(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return die("socket"), -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		return die("listen"), -1;
	if (wait_fd(fd, POLLIN, ACCEPT_MS, "accept") < 0)
		return -1;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return die("accept"), -1;
	close(fd);
	return c;
}

static int connect_retry(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "%s: %s is not an IPv4 address\n", prog, addr);
		exit(2);
	}
	double deadline = now() + CONNECT_MS / 1000.0;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return die("socket"), -1;
		/* A SYN the peer never answers must not hold this attempt for minutes. */
		struct timeval tv = { 5, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		int e = errno;
		close(fd);
		bool again = e == ECONNREFUSED || e == ENETUNREACH || e == EHOSTUNREACH ||
			     e == ETIMEDOUT || e == EINPROGRESS || e == EAGAIN || e == EINTR;
		if (!again || now() >= deadline) {
			errno = e;
			fprintf(stderr, "%s: connect %s:%u: %s\n", prog, addr, port, strerror(e));
			return -1;
		}
		usleep(50000);
	}
}

/* Everything fd sends, to stdout, until EOF. */
static int receive(int fd)
{
	static uint8_t buf[CHUNK];
	uint64_t got = 0;
	double t0 = 0;
	for (;;) {
		if (wait_fd(fd, POLLIN, IDLE_MS, "receiving") < 0) {
			fprintf(stderr, "%s: stalled after %llu bytes\n", prog, (unsigned long long)got);
			return 1;
		}
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return die("read");
		if (r == 0)
			break;
		if (t0 == 0)
			t0 = now();
		got += (uint64_t)r;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(1, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return die("write to stdout");
			off += w;
		}
	}
	report("received", got, t0, now());
	close(fd);
	return 0;
}

/*
 * stdin (pattern == false) or `bytes` of a fixed pattern to fd, then EOF; then wait for
 * the peer's close, so that the time includes the last byte's arrival.
 */
static int transmit(int fd, bool pattern, uint64_t bytes)
{
	static uint8_t buf[CHUNK];
	uint64_t sent = 0;
	double t0 = now();
	if (pattern)
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
	for (;;) {
		size_t len;
		if (pattern) {
			if (sent == bytes)
				break;
			len = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
		} else {
			ssize_t r = read(0, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return die("read stdin");
			if (r == 0)
				break;
			len = (size_t)r;
		}
		for (size_t off = 0; off < len;) {
			if (wait_fd(fd, POLLOUT, IDLE_MS, "sending") < 0) {
				fprintf(stderr, "%s: stalled after %llu bytes\n", prog,
					(unsigned long long)(sent + off));
				return 1;
			}
			ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (w < 0)
				return die("send");
			off += (size_t)w;
		}
		sent += len;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return die("shutdown");
	for (;;) {
		if (wait_fd(fd, POLLIN, IDLE_MS, "waiting for the peer's close") < 0)
			return 1;
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		if (r < 0)
			return die("read");
	}
	report("sent", sent, t0, now());
	close(fd);
	return 0;
}

/* The legacy ethtool queries: one on/off value each, like `ethtool -k`. */
static int offloads(const char *ifname)
{
	static const struct {
		uint32_t cmd;
		const char *name;
	} q[] = {
		{ ETHTOOL_GRXCSUM, "rx-checksumming" },
		{ ETHTOOL_GTXCSUM, "tx-checksumming" },
		{ ETHTOOL_GSG, "scatter-gather" },
		{ ETHTOOL_GTSO, "tcp-segmentation-offload" },
		{ ETHTOOL_GGSO, "generic-segmentation-offload" },
		{ ETHTOOL_GGRO, "generic-receive-offload" },
	};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), failed = 0;
	if (fd < 0)
		return die("socket");
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		struct ethtool_value v = { .cmd = q[i].cmd };
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (char *)&v;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			fprintf(stderr, "%s: %s: %s: %s\n", prog, ifname, q[i].name, strerror(errno));
			failed = 1;
			continue;
		}
		printf("%s: %s\n", q[i].name, v.data ? "on" : "off");
	}
	close(fd);
	return failed;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(cmd, "recv") && argc == 3) {
		int fd = listen_accept(port_arg(argv[2]));
		return fd < 0 ? 1 : receive(fd);
	}
	if (!strcmp(cmd, "serve") && (argc == 3 || argc == 4)) {
		int fd = listen_accept(port_arg(argv[2]));
		return fd < 0 ? 1 : transmit(fd, argc == 4, argc == 4 ? num(argv[3]) : 0);
	}
	if (!strcmp(cmd, "send") && (argc == 4 || argc == 5)) {
		int fd = connect_retry(argv[2], port_arg(argv[3]));
		return fd < 0 ? 1 : transmit(fd, argc == 5, argc == 5 ? num(argv[4]) : 0);
	}
	if (!strcmp(cmd, "fetch") && argc == 4) {
		int fd = connect_retry(argv[2], port_arg(argv[3]));
		return fd < 0 ? 1 : receive(fd);
	}
	if (!strcmp(cmd, "offloads") && argc == 3)
		return offloads(argv[2]);
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/net_peer.c\n");
	return 2;
}
