/* virtio-vsock's host side: Firecracker's Unix-socket protocol (see vsock_uds.h). */
#include "vsock_uds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

/* epoll data: what an fd is (high 32 bits) and its index (low 32). */
enum { KIND_LISTENER = 1, KIND_HANDSHAKE = 2, KIND_CONN = 3 };
#define TAG(kind, i) ((uint64_t)(kind) << 32 | (uint32_t)(i))

struct handshake {
	int fd;				/* -1: free slot */
	uint8_t len;
	char line[VSOCK_CONNECT_LINE_MAX];
};

struct vsock_uds {
	int listen_fd;
	int epfd;
	char path[VSOCK_UDS_PATH_MAX + 1];
	struct handshake hs[VSOCK_UDS_HANDSHAKES];
	bool accept_paused;		/* every handshake slot taken: clients wait in the backlog */
	const struct vsock_uds_sink *sink;
	void *opaque;
};

static int epoll_set(struct vsock_uds *b, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	return -errno;
}

int vsock_uds_open(const char *key, const char *uds_path, struct vsock_uds **out,
		   struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(uds_path);

	if (len == 0)
		return error_set(err, -EINVAL, "%s: must not be empty", key);
	if (len > VSOCK_UDS_PATH_MAX)
		return error_set(err, -ENAMETOOLONG, "%s: %s is %zu bytes long; at most %d fit in "
				 "a socket address with its \"_<port>\" suffix", key, uds_path, len,
				 VSOCK_UDS_PATH_MAX);
	struct vsock_uds *b = calloc(1, sizeof(*b));
	if (!b)
		return error_set(err, -ENOMEM, "%s: out of memory", key);
	b->epfd = -1;
	for (unsigned int i = 0; i < VSOCK_UDS_HANDSHAKES; i++)
		b->hs[i].fd = -1;
	memcpy(b->path, uds_path, len + 1);
	memcpy(sa.sun_path, uds_path, len + 1);
	int ret;
	b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->listen_fd < 0) {
		ret = error_set(err, -errno, "%s: socket: %s", key, strerror(errno));
		goto fail;
	}
	if (bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EADDRINUSE)
			ret = error_set(err, -e, "%s: %s: a file already exists there (remove it "
					"first)", key, uds_path);
		else
			ret = error_set(err, -e, "%s: %s: %s", key, uds_path, strerror(e));
		goto fail;
	}
	if (listen(b->listen_fd, 128) < 0) {
		ret = error_set(err, -errno, "%s: %s: listen: %s", key, uds_path, strerror(errno));
		goto fail;
	}
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0 || epoll_set(b, b->listen_fd, EPOLLIN, TAG(KIND_LISTENER, 0)) < 0) {
		ret = error_set(err, -errno, "%s: epoll: %s", key, strerror(errno));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	vsock_uds_destroy(b);
	return ret;
}

void vsock_uds_set_sink(struct vsock_uds *b, const struct vsock_uds_sink *sink, void *opaque)
{
	b->sink = sink;
	b->opaque = opaque;
}

int vsock_uds_event_fd(const struct vsock_uds *b)
{
	return b->epfd;
}

/* A handshake slot is free again: accept the clients waiting in the backlog. */
static void handshake_slot_freed(struct vsock_uds *b)
{
	if (b->accept_paused && epoll_set(b, b->listen_fd, EPOLLIN, TAG(KIND_LISTENER, 0)) == 0)
		b->accept_paused = false;
}

static void handshake_close(struct vsock_uds *b, struct handshake *h)
{
	close_quietly(h->fd);
	h->fd = -1;
	h->len = 0;
	handshake_slot_freed(b);
}

static void on_accept(struct vsock_uds *b)
{
	/* A bounded batch: the rest stay in the backlog for the next round. */
	for (unsigned int n = 0; n < 32; n++) {
		unsigned int i = 0;
		while (i < VSOCK_UDS_HANDSHAKES && b->hs[i].fd >= 0)
			i++;
		if (i == VSOCK_UDS_HANDSHAKES) {
			/*
			 * Every slot waits for a CONNECT line: stop watching the listener, so
			 * that new clients wait in the backlog (and then in connect()) rather
			 * than being dropped, until a slot frees.
			 */
			if (epoll_set(b, b->listen_fd, 0, TAG(KIND_LISTENER, 0)) == 0)
				b->accept_paused = true;
			log_ratelimited(LOG_WARN, "vsock: %d clients on %s have not sent their "
					"CONNECT line; the others wait", VSOCK_UDS_HANDSHAKES, b->path);
			return;
		}
		int fd = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_ratelimited(LOG_WARN, "vsock: accept on %s: %m", b->path);
			return;
		}
		b->hs[i].fd = fd;
		b->hs[i].len = 0;
		if (epoll_set(b, fd, EPOLLIN, TAG(KIND_HANDSHAKE, i)) < 0)
			handshake_close(b, &b->hs[i]);
	}
}

/*
 * Read the CONNECT line a byte at a time: whatever the client sends after the newline is
 * stream data for the guest and must stay in the socket.
 */
static void on_handshake(struct vsock_uds *b, unsigned int i)
{
	struct handshake *h = &b->hs[i];
	uint32_t port;

	if (i >= VSOCK_UDS_HANDSHAKES || h->fd < 0)
		return;
	for (;;) {
		ssize_t n = read(h->fd, &h->line[h->len], 1);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			handshake_close(b, h);
			return;
		}
		h->len++;
		int ret = vsock_parse_connect(h->line, h->len, &port);
		if (ret < 0) {
			log_ratelimited(LOG_WARN, "vsock: a client of %s sent no valid "
					"\"CONNECT <port>\" line", b->path);
			handshake_close(b, h);
			return;
		}
		if (ret == 1)
			break;
		if (h->len >= sizeof(h->line)) {
			handshake_close(b, h);
			return;
		}
	}
	int fd = h->fd;
	h->fd = -1;
	h->len = 0;
	handshake_slot_freed(b);
	/* The mux owns fd now: it closes it if the connection cannot be made. */
	if (b->sink->host_connect(b->opaque, fd, port) < 0)
		log_ratelimited(LOG_WARN, "vsock: no room for another connection (to guest "
				"port %u)", port);
}

void vsock_uds_process(struct vsock_uds *b)
{
	struct epoll_event ev[64];
	int n = epoll_wait(b->epfd, ev, ARRAY_SIZE(ev), 0);

	for (int i = 0; i < n; i++) {
		uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32);
		uint32_t idx = (uint32_t)ev[i].data.u64;
		uint32_t e = ev[i].events;
		switch (kind) {
		case KIND_LISTENER:
			on_accept(b);
			break;
		case KIND_HANDSHAKE:
			on_handshake(b, idx);
			break;
		case KIND_CONN:
			b->sink->ready(b->opaque, idx, e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP),
				       e & (EPOLLOUT | EPOLLERR));
			break;
		default:
			break;
		}
	}
}

void vsock_uds_destroy(struct vsock_uds *b)
{
	if (!b)
		return;
	for (unsigned int i = 0; i < VSOCK_UDS_HANDSHAKES; i++) {
		close_quietly(b->hs[i].fd);
		b->hs[i].fd = -1;
	}
	close_quietly(b->listen_fd);
	close_quietly(b->epfd);
	free(b);
}

/* ---- the multiplexer's view ---- */

static int uds_connect(void *be, uint32_t port)
{
	struct vsock_uds *b = be;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", b->path, port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A Unix stream connect completes at once, or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close_quietly(fd);
		return -e;
	}
	return fd;
}

static ssize_t uds_recv(void *be, int fd, const struct iovec *iov, int iovcnt)
{
	(void)be;
	ssize_t n = readv(fd, iov, iovcnt);
	return n < 0 ? -errno : n;
}

static ssize_t uds_send(void *be, int fd, const struct iovec *iov, int iovcnt)
{
	(void)be;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	/* MSG_NOSIGNAL: a client that went away is an EPIPE for its connection, not SIGPIPE. */
	ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

static int uds_established(void *be, int fd, uint32_t local_port)
{
	char line[24];
	int len = snprintf(line, sizeof(line), "OK %u\n", local_port);
	struct iovec iov = { line, (size_t)len };
	return uds_send(be, fd, &iov, 1) == len ? 0 : -EIO;
}

static void uds_shutdown_send(void *be, int fd)
{
	(void)be;
	shutdown(fd, SHUT_WR);
}

static void uds_watch(void *be, int fd, uint32_t conn, bool in, bool out)
{
	struct vsock_uds *b = be;
	/* Watching nothing means leaving the set: epoll reports a hang-up whatever is asked. */
	if (!in && !out) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_set(b, fd, (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0), TAG(KIND_CONN, conn)) < 0)
		log_ratelimited(LOG_WARN, "vsock: epoll_ctl: %m");
}

static void uds_close(void *be, int fd)
{
	(void)be;
	close_quietly(fd);
}

const struct vsock_backend_ops vsock_uds_ops = {
	.connect = uds_connect,
	.recv = uds_recv,
	.send = uds_send,
	.established = uds_established,
	.shutdown_send = uds_shutdown_send,
	.watch = uds_watch,
	.close = uds_close,
};
