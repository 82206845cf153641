/* The main thread's event loop: epoll over the fds devices and the VMM care about. */
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int evloop_init(struct evloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	for (unsigned int i = 0; i < EVLOOP_MAX_HANDLERS; i++)
		loop->handlers[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	for (unsigned int i = 0; i < EVLOOP_MAX_HANDLERS; i++) {
		struct evloop_handler *h = &loop->handlers[i];
		if (h->fd >= 0)
			continue;
		struct epoll_event ev = { .events = events, .data.ptr = h };
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*h = (struct evloop_handler){ fd, cb, opaque };
		return 0;
	}
	return -ENOSPC;
}

static struct evloop_handler *find(struct evloop *loop, int fd)
{
	for (unsigned int i = 0; i < EVLOOP_MAX_HANDLERS; i++)
		if (loop->handlers[i].fd == fd)
			return &loop->handlers[i];
	return NULL;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
	struct evloop_handler *h = find(loop, fd);
	if (!h)
		return -ENOENT;
	struct epoll_event ev = { .events = events, .data.ptr = h };
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_remove(struct evloop *loop, int fd)
{
	struct evloop_handler *h = find(loop, fd);
	if (!h)
		return -ENOENT;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->fd = -1;
	return 0;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[16];

	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, events, ARRAY_SIZE(events), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct evloop_handler *h = events[i].data.ptr;
			if (h->fd >= 0)
				h->cb(h->opaque, events[i].events);
		}
	}
	return 0;
}

void evloop_destroy(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}
