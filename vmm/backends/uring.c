/* The async block engine: io_uring (liburing), completions reaped on the event loop via an eventfd. */
#include "backend.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

struct uring_backend {
	struct backend be;	/* first: the generic part */
	struct io_uring ring;
	bool ring_ready;
	unsigned int pending;	/* prepared but not yet submitted */
};

static struct uring_backend *to_uring(struct backend *be)
{
	return (struct uring_backend *)be;
}

static int uring_commit(struct backend *be)
{
	struct uring_backend *u = to_uring(be);
	while (u->pending) {
		int n = io_uring_submit(&u->ring);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -EAGAIN;
		u->pending -= MIN((unsigned int)n, u->pending);
	}
	return 0;
}

static int uring_submit(struct backend *be, enum backend_op op, uint64_t offset,
			const struct iovec *iov, int iovcnt, void *cookie)
{
	struct uring_backend *u = to_uring(be);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* The submission ring is full: hand it to the kernel and try once more. */
		int ret = uring_commit(be);
		if (ret < 0)
			return ret;
		if (!(sqe = io_uring_get_sqe(&u->ring)))
			return -EAGAIN;
	}
	switch (op) {
	case BACKEND_READ:
		io_uring_prep_readv(sqe, be->fd, iov, (unsigned int)iovcnt, offset);
		break;
	case BACKEND_WRITE:
		io_uring_prep_writev(sqe, be->fd, iov, (unsigned int)iovcnt, offset);
		break;
	case BACKEND_FLUSH:
		io_uring_prep_fsync(sqe, be->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_nop(sqe);
		break;
	}
	io_uring_sqe_set_data(sqe, cookie);
	u->pending++;
	return 0;
}

static void uring_process(struct backend *be)
{
	struct uring_backend *u = to_uring(be);
	struct io_uring_cqe *cqe;
	uint64_t n;

	if (read(be->event_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_ERROR, "io_uring eventfd: %m");
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		void *cookie = io_uring_cqe_get_data(cqe);
		int64_t res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		be->complete(be->opaque, cookie, res);
	}
}

static int uring_wait(struct backend *be)
{
	struct uring_backend *u = to_uring(be);
	struct io_uring_cqe *cqe;
	int ret = uring_commit(be);

	while (ret == 0 && (ret = io_uring_wait_cqe(&u->ring, &cqe)) == -EINTR)
		;
	if (ret < 0)
		return ret;
	uring_process(be);
	return 0;
}

static void uring_destroy(struct backend *be)
{
	struct uring_backend *u = to_uring(be);
	if (u->ring_ready)
		io_uring_queue_exit(&u->ring);
	close_quietly(be->event_fd);
	close_quietly(be->fd);
	free(u);
}

static const struct backend_ops uring_ops = {
	.name = "Async",
	.submit = uring_submit,
	.commit = uring_commit,
	.process = uring_process,
	.wait = uring_wait,
	.destroy = uring_destroy,
};

int backend_uring_create(int fd, unsigned int depth, struct backend **out)
{
	struct uring_backend *u = calloc(1, sizeof(*u));
	int ret;

	if (!u) {
		close_quietly(fd);
		return -ENOMEM;
	}
	u->be = (struct backend){ .ops = &uring_ops, .fd = fd };
	u->be.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->be.event_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = io_uring_queue_init(depth, &u->ring, 0);
	if (ret < 0)
		goto fail;
	u->ring_ready = true;
	ret = io_uring_register_eventfd(&u->ring, u->be.event_fd);
	if (ret < 0)
		goto fail;
	*out = &u->be;
	return 0;
fail:
	uring_destroy(&u->be);
	return ret;
}
