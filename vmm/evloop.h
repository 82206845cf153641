/* The main thread's event loop: epoll over the fds devices and the VMM care about. */
#ifndef KILN_EVLOOP_H
#define KILN_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

#define EVLOOP_MAX_HANDLERS 160	/* 16 rate-limited drives with io_uring take 48 (kick,
				   completions, limiter timer), 8 interfaces 48 (2 kicks,
				   TAP, wake-up, 2 limiter timers) */

typedef void (*evloop_cb)(void *opaque, uint32_t events);

struct evloop_handler {
	int fd;
	evloop_cb cb;
	void *opaque;
};

struct evloop {
	int epfd;
	bool stop;
	struct evloop_handler handlers[EVLOOP_MAX_HANDLERS];
};

int evloop_init(struct evloop *loop) MUST_CHECK;
/* Watch fd for `events` (EPOLLIN...); returns 0 or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque)
	MUST_CHECK;
/* Change what fd is watched for (0: nothing, for now). Safe from any thread. */
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
int evloop_remove(struct evloop *loop, int fd);
/* Dispatch events until a handler sets loop->stop; returns 0 or -errno. */
int evloop_run(struct evloop *loop);
void evloop_destroy(struct evloop *loop);

#endif
