/* The API server: a Unix socket, bounded connections, one thread, one epoll loop. */
#ifndef KILN_API_SERVER_H
#define KILN_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "http.h"

#define API_MAX_CONNS 16	/* a new client past this closes the one idle longest */
#define API_READ_CHUNK 4096	/* input read and parsed at a time, per connection */
#define API_DEFAULT_SOCK "/run/firecracker.socket"

struct seccomp_filter;

struct api_conn {
	int fd;			/* -1: a free slot */
	struct http_conn http;
	char *body, *out;	/* its buffers, allocated once by api_server_init_fd */
	char in[API_READ_CHUNK];
	size_t in_off, in_len;	/* read but not yet parsed: in[in_off, in_len) */
	uint64_t last_active;	/* CLOCK_MONOTONIC ns of its last byte in or out */
};

struct api_server {
	int listen_fd;
	int epfd;
	int stop_efd;		/* written to end the loop (tests) */
	http_handler handler;
	void *opaque;
	size_t max_payload;	/* a request body's limit in bytes (--http-api-max-payload-size) */
	char *body_out;		/* HTTP_BODY_OUT_MAX bytes: the answer being made */
	struct api_conn conns[API_MAX_CONNS];
	const struct seccomp_filter *filter;	/* installed by the thread before its loop */
	pthread_t thread;
	bool started;
	unsigned long evicted;	/* connections closed to make room */
};

/*
 * Create the socket at `path` and listen (before any privilege is dropped that binding
 * needs). A path that exists is refused, as Firecracker does. Errors name --api-sock.
 * Request bodies over max_payload bytes (1 to HTTP_MAX_PAYLOAD_LIMIT) are refused.
 */
int api_server_init(struct api_server *s, const char *path, size_t max_payload,
		    http_handler h, void *opaque, struct error *err) MUST_CHECK;
/*
 * Serve an already listening socket (-1: none; tests hand a socketpair's end to
 * api_server_adopt), taking request bodies of up to max_payload bytes (-EINVAL outside 1
 * to HTTP_MAX_PAYLOAD_LIMIT). Everything the server will use is allocated here, before
 * its thread is filtered: the loop itself never allocates.
 */
int api_server_init_fd(struct api_server *s, int listen_fd, size_t max_payload, http_handler h,
		       void *opaque) MUST_CHECK;
/* Serve one connected stream socket as a client (tests); the idle-longest may make room. */
void api_server_adopt(struct api_server *s, int fd);
/* The thread: names itself kiln_api, installs `filter` (may be NULL), then serves. */
int api_server_start(struct api_server *s, const struct seccomp_filter *filter,
		     struct error *err) MUST_CHECK;
/* The loop itself, until api_server_stop: 0, or -errno when epoll fails. */
int api_server_run(struct api_server *s);
/* One round of the loop: wait up to timeout_ms, handle what is ready. 1: stopped. */
int api_server_poll(struct api_server *s, int timeout_ms);
void api_server_stop(struct api_server *s);
/* Stop and join the thread, close every socket, free everything. */
void api_server_destroy(struct api_server *s);

#endif
