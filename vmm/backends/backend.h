/* Block backends: the ops table joining a block device to its engine (sync file or io_uring). */
#ifndef KILN_BACKEND_H
#define KILN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "error.h"
#include "io.h"
#include "util.h"

/* The most iovecs one request may carry. */
#define BACKEND_MAX_IOV 256

enum backend_op {
	BACKEND_READ,
	BACKEND_WRITE,
	BACKEND_FLUSH,		/* fdatasync */
};

struct backend;

/*
 * A finished request: `result` is the byte count moved (0 for a flush) or -errno.
 * Called from submit() itself (sync engine) or from process() (async engine).
 */
typedef void (*backend_complete_fn)(void *opaque, void *cookie, int64_t result);

struct backend_ops {
	const char *name;
	/*
	 * Start a request. `iov` must stay valid until the request completes. Returns 0
	 * (the request will complete, perhaps already has) or -errno (it was not started).
	 */
	int (*submit)(struct backend *be, enum backend_op op, uint64_t offset,
		      const struct iovec *iov, int iovcnt, void *cookie);
	/* Hand requests started since the last call to the kernel (one syscall per batch). */
	int (*commit)(struct backend *be);
	/* Reap finished requests (event loop, when event_fd is readable). */
	void (*process)(struct backend *be);
	/*
	 * Block until at least one request started finishes, and complete it (as process()
	 * does). Only for engines whose requests finish later (event_fd >= 0): draining
	 * before the image is replaced. 0 or -errno.
	 */
	int (*wait)(struct backend *be);
	void (*destroy)(struct backend *be);
};

struct backend {
	const struct backend_ops *ops;
	int fd;				/* the image file, owned by the backend */
	int event_fd;			/* readable when requests finished; -1 for sync engines */
	backend_complete_fn complete;
	void *opaque;
};

/*
 * Open a raw image for a block device (through open_outside_file: never blocks).
 * Refuses what is not a regular file, and a file that cannot be written unless
 * `read_only` (-EROFS). Returns the fd (O_CLOEXEC) and its size in bytes, or -errno
 * with err saying "<what>: <path>: <reason>".
 */
int backend_open_image(const char *what, const char *path, bool read_only, uint64_t *size,
		       struct error *err) MUST_CHECK;

/* The sync engine: preadv/pwritev/fdatasync on the main thread. Takes ownership of fd. */
int backend_file_create(int fd, struct backend **out) MUST_CHECK;
/*
 * The async engine: io_uring with `depth` entries; completions signal event_fd, an
 * eventfd the event loop watches. Takes ownership of fd (also on failure).
 */
int backend_uring_create(int fd, unsigned int depth, struct backend **out) MUST_CHECK;

/* Where finished requests go: set by the device that takes the backend, before its first. */
static inline void backend_bind(struct backend *be, backend_complete_fn complete, void *opaque)
{
	be->complete = complete;
	be->opaque = opaque;
}

/*
 * Serve the image `fd` from now on, closing the one served so far: only with no request
 * in flight (the async engine names the file by its descriptor until the kernel has
 * started the request, so a request still pending would reach the new file).
 */
static inline void backend_replace_fd(struct backend *be, int fd)
{
	int old = be->fd;
	be->fd = fd;
	close_quietly(old);
}

static inline void backend_destroy(struct backend *be)
{
	if (be)
		be->ops->destroy(be);
}

#endif
