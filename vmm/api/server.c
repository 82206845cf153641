/* The API server: a Unix socket, bounded connections, one thread, one epoll loop. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "seccomp_filters.h"

#define TAG_LISTEN UINT64_MAX
#define TAG_STOP (UINT64_MAX - 1)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int api_server_init_fd(struct api_server *s, int listen_fd, size_t max_payload, http_handler h,
		       void *opaque)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret = 0;

	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	s->handler = h;
	s->opaque = opaque;
	s->max_payload = max_payload;
	s->epfd = s->stop_efd = -1;
	for (unsigned int i = 0; i < API_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	if (max_payload == 0 || max_payload > HTTP_MAX_PAYLOAD_LIMIT)
		return -EINVAL;
	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		s->conns[i].body = malloc(max_payload + 1);
		s->conns[i].out = malloc(HTTP_OUT_MAX);
		if (!s->conns[i].body || !s->conns[i].out)
			return -ENOMEM;
	}
	s->body_out = malloc(HTTP_BODY_OUT_MAX);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->body_out)
		return -ENOMEM;
	if (s->epfd < 0 || s->stop_efd < 0)
		return -errno;
	if (listen_fd >= 0) {
		ev.data.u64 = TAG_LISTEN;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
			ret = -errno;
	}
	ev.data.u64 = TAG_STOP;
	if (ret == 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_efd, &ev) < 0)
		ret = -errno;
	return ret;
}

int api_server_init(struct api_server *s, const char *path, size_t max_payload,
		    http_handler h, void *opaque, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->epfd = s->stop_efd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, -ENAMETOOLONG, "--api-sock: %s: longer than the %zu bytes a "
				 "Unix socket path may have", path, sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set(err, -errno, "--api-sock: socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return error_set(err, ret, "--api-sock: %s: %s%s", path, strerror(-ret),
				 ret == -EADDRINUSE ? " (remove the file, or choose another path)"
						    : "");
	}
	if (listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		return error_set(err, ret, "--api-sock: %s: listen: %s", path, strerror(-ret));
	}
	ret = api_server_init_fd(s, fd, max_payload, h, opaque);
	if (ret < 0) {
		api_server_destroy(s);
		return error_set(err, ret, "--api-sock: %s: %s", path, strerror(-ret));
	}
	return 0;
}

static void conn_close(struct api_server *s, struct api_conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->in_off = c->in_len = 0;
}

/* Watch for input while there is no answer to write, for room to write while there is. */
static void conn_watch(struct api_server *s, struct api_conn *c)
{
	struct epoll_event ev = {
		.events = http_conn_pending(&c->http) ? EPOLLOUT : EPOLLIN,
		.data.u64 = (uint64_t)(c - s->conns),
	};
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void api_server_adopt(struct api_server *s, int fd)
{
	struct api_conn *c = NULL, *oldest = NULL;

	for (unsigned int i = 0; i < API_MAX_CONNS && !c; i++) {
		if (s->conns[i].fd < 0)
			c = &s->conns[i];
		else if (!oldest || s->conns[i].last_active < oldest->last_active)
			oldest = &s->conns[i];
	}
	if (!c) {
		/* Full: the client idle longest makes room, so no set of idle clients locks out others. */
		log_debug("API: %d connections open; closing the one idle longest", API_MAX_CONNS);
		s->evicted++;
		conn_close(s, oldest);
		c = oldest;
	}
	http_conn_init(&c->http, c->body, s->max_payload, c->out);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(c - s->conns) };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_ratelimited(LOG_WARN, "API: epoll_ctl: %m");
		close(fd);
		return;
	}
	c->fd = fd;
	c->in_off = c->in_len = 0;
	c->last_active = now_ns();
}

static void on_listen(struct api_server *s)
{
	/* A bounded batch per round, so that a flood of connects cannot starve the clients. */
	for (int i = 0; i < API_MAX_CONNS; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_ratelimited(LOG_WARN, "API: accept: %m");
			return;
		}
		api_server_adopt(s, fd);
	}
}

/* Write what the answer has left; returns false when the connection was closed. */
static bool conn_flush(struct api_server *s, struct api_conn *c)
{
	struct http_conn *h = &c->http;
	while (http_conn_pending(h)) {
		ssize_t n = send(c->fd, h->out + h->out_off, h->out_len - h->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			conn_close(s, c);
			return false;
		}
		h->out_off += (size_t)n;
		c->last_active = now_ns();
	}
	http_conn_sent(h);
	if (h->closing) {
		conn_close(s, c);
		return false;
	}
	return true;
}

/* Parse what was read, one request at a time, writing each answer before the next. */
static bool conn_process(struct api_server *s, struct api_conn *c)
{
	while (c->in_off < c->in_len && !http_conn_pending(&c->http)) {
		c->in_off += http_conn_feed(&c->http, c->in + c->in_off, c->in_len - c->in_off,
					    s->handler, s->opaque, s->body_out);
		if (http_conn_pending(&c->http) && !conn_flush(s, c))
			return false;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	return true;
}

static void on_conn(struct api_server *s, struct api_conn *c, uint32_t events)
{
	if (http_conn_pending(&c->http)) {
		if (!conn_flush(s, c) || !conn_process(s, c))
			return;
		conn_watch(s, c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	/* Everything read before was parsed: read the next chunk (one per round: fairness). */
	ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(s, c);
		return;
	}
	if (n < 0)
		return;
	c->in_off = 0;
	c->in_len = (size_t)n;
	c->last_active = now_ns();
	if (conn_process(s, c))
		conn_watch(s, c);
}

int api_server_poll(struct api_server *s, int timeout_ms)
{
	struct epoll_event events[16];
	int n = epoll_wait(s->epfd, events, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint64_t tag = events[i].data.u64;
		if (tag == TAG_STOP)
			return 1;
		if (tag == TAG_LISTEN)
			on_listen(s);
		else if (tag < API_MAX_CONNS && s->conns[tag].fd >= 0)
			on_conn(s, &s->conns[tag], events[i].events);
	}
	return 0;
}

int api_server_run(struct api_server *s)
{
	int ret;
	while ((ret = api_server_poll(s, -1)) == 0)
		;
	return ret < 0 ? ret : 0;
}

static void *api_thread(void *arg)
{
	struct api_server *s = arg;

	sigset_t set;

	prctl(PR_SET_NAME, "kiln_api", 0, 0, 0);
	log_set_thread_name("kiln_api");
	/*
	 * Process signals (SIGTERM...) are the main thread's: it reads them from its signalfd
	 * once the VM runs, and takes their default action before. Faults stay deliverable.
	 */
	sigfillset(&set);
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT, SIGXFSZ,
				      SIGPIPE };
	for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
		sigdelset(&set, faults[i]);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	if (s->filter) {
		int ret = seccomp_install(s->filter);
		if (ret < 0) {
			log_error("API: installing its seccomp filter: %s; the API is not served",
				  strerror(-ret));
			return NULL;
		}
	}
	int ret = api_server_run(s);
	if (ret < 0)
		log_error("API: epoll: %s", strerror(-ret));
	return NULL;
}

int api_server_start(struct api_server *s, const struct seccomp_filter *filter,
		     struct error *err)
{
	pthread_attr_t attr;
	int ret;

	s->filter = filter;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&s->thread, &attr, api_thread, s);
	pthread_attr_destroy(&attr);
	if (ret)
		return error_set(err, -ret, "API thread: %s", strerror(ret));
	s->started = true;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;
	if (s->stop_efd >= 0 && write(s->stop_efd, &one, sizeof(one)) < 0)
		log_error("API: stop eventfd: %m");
}

void api_server_destroy(struct api_server *s)
{
	if (s->started) {
		api_server_stop(s);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		if (s->conns[i].fd >= 0)
			conn_close(s, &s->conns[i]);
		free(s->conns[i].body);
		free(s->conns[i].out);
		s->conns[i].body = s->conns[i].out = NULL;
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	free(s->body_out);
	s->body_out = NULL;
	s->listen_fd = s->epfd = s->stop_efd = -1;
}
