/* The sync block engine: raw image files read and written with preadv/pwritev on the main thread. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int backend_open_image(const char *what, const char *path, bool read_only, uint64_t *size,
		       struct error *err)
{
	struct stat st;
	int fd = open_outside_file(what, path, read_only ? O_RDONLY : O_RDWR, 0, FILE_KIND_REG,
				   &st, err);

	if (fd == -EACCES || fd == -EPERM || fd == -EROFS) {
		/* Readable but not writable: say so, rather than "Permission denied". */
		int ro = open_outside_file(what, path, O_RDONLY, 0, FILE_KIND_REG, NULL, NULL);
		if (ro >= 0) {
			close(ro);
			fd = -EROFS;
		}
	}
	/* root can open anything for writing: a file with no write bit is still read-only. */
	if (fd >= 0 && !read_only && !(st.st_mode & 0222)) {
		close(fd);
		fd = -EROFS;
	}
	if (fd == -EROFS)
		return error_set(err, fd, "%s: %s: the file is read-only; set is_read_only to "
				 "true to use it", what, path);
	if (fd < 0)
		return fd;
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Move every byte or fail: short transfers are retried, end of file is -EIO. */
static int64_t transfer(int fd, bool write, uint64_t offset, const struct iovec *iov,
			int iovcnt)
{
	struct iovec local[BACKEND_MAX_IOV];
	int64_t total = 0;

	if (iovcnt < 0 || (size_t)iovcnt > ARRAY_SIZE(local))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		local[i] = iov[i];
	struct iovec *v = local;
	while (iovcnt > 0) {
		ssize_t n = write ? pwritev(fd, v, iovcnt, (off_t)offset)
				  : preadv(fd, v, iovcnt, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* the file ended: truncated underneath us */
		total += n;
		offset += (uint64_t)n;
		while (iovcnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return total;
}

static int file_submit(struct backend *be, enum backend_op op, uint64_t offset,
		       const struct iovec *iov, int iovcnt, void *cookie)
{
	int64_t res;

	switch (op) {
	case BACKEND_READ:
		res = transfer(be->fd, false, offset, iov, iovcnt);
		break;
	case BACKEND_WRITE:
		res = transfer(be->fd, true, offset, iov, iovcnt);
		break;
	case BACKEND_FLUSH:
		res = fdatasync(be->fd) < 0 ? -errno : 0;
		break;
	default:
		return -EINVAL;
	}
	be->complete(be->opaque, cookie, res);
	return 0;
}

static int file_commit(struct backend *be)
{
	(void)be;
	return 0;
}

static void file_process(struct backend *be)
{
	(void)be;
}

static int file_wait(struct backend *be)
{
	(void)be;
	return -EINVAL;		/* every request finished inside submit() */
}

static void file_destroy(struct backend *be)
{
	close_quietly(be->fd);
	free(be);
}

static const struct backend_ops file_ops = {
	.name = "Sync",
	.submit = file_submit,
	.commit = file_commit,
	.process = file_process,
	.wait = file_wait,
	.destroy = file_destroy,
};

int backend_file_create(int fd, struct backend **out)
{
	struct backend *be = calloc(1, sizeof(*be));
	if (!be) {
		close_quietly(fd);
		return -ENOMEM;
	}
	*be = (struct backend){ .ops = &file_ops, .fd = fd, .event_fd = -1 };
	*out = be;
	return 0;
}
