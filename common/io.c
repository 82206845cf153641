/* fd helpers: full reads and writes that retry on EINTR and short transfers. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

const char *file_kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symlink";
	default: return "a file of unknown type";
	}
}

static bool kind_allowed(mode_t mode, unsigned int kinds)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return kinds & FILE_KIND_REG;
	case S_IFDIR: return kinds & FILE_KIND_DIR;
	case S_IFIFO: return kinds & FILE_KIND_FIFO;
	case S_IFCHR: return kinds & FILE_KIND_CHR;
	default: return false;
	}
}

/* "a regular file", "a regular file or a FIFO", ...: the kinds a caller accepts. */
static void kinds_text(unsigned int kinds, char *buf, size_t size)
{
	static const struct { unsigned int kind; const char *name; } names[] = {
		{ FILE_KIND_REG, "a regular file" }, { FILE_KIND_DIR, "a directory" },
		{ FILE_KIND_FIFO, "a FIFO" }, { FILE_KIND_CHR, "a character device" },
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(kinds & names[i].kind))
			continue;
		kinds &= ~names[i].kind;
		int w = snprintf(buf + n, size - n, "%s%s", n ? (kinds ? ", " : " or ") : "",
				 names[i].name);
		if (w < 0 || (size_t)w >= size - n)
			return;
		n += (size_t)w;
	}
}

static int open_failed(const char *what, const char *path, int flags, unsigned int kinds, int e,
		       struct error *err)
{
	struct stat st;
	char want[96];

	if (e == ELOOP && (flags & O_NOFOLLOW) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return error_set(err, -ELOOP, "%s: %s: a symlink, which is refused here", what,
				 path);
	/* Only worded from a second look at the path: the open itself decided. */
	if (e == ENXIO && (flags & O_ACCMODE) != O_RDONLY && stat(path, &st) == 0 &&
	    S_ISFIFO(st.st_mode))
		return error_set(err, -ENXIO, "%s: %s: a FIFO with no reader; start its reader "
				 "first", what, path);
	/* Opened for writing, a directory fails in open(2): worded as if fstat had found it. */
	if (e == EISDIR) {
		kinds_text(kinds, want, sizeof(want));
		return error_set(err, -EISDIR, "%s: %s: a directory, not %s", what, path, want);
	}
	if (e == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return error_set(err, -EINVAL, "%s: %s: a socket, which cannot be opened", what,
				 path);
	return error_set(err, -e, "%s: %s: %s", what, path, strerror(e));
}

int open_outside_file(const char *what, const char *path, int flags, mode_t mode,
		      unsigned int kinds, struct stat *st, struct error *err)
{
	struct stat local;
	char want[96];
	int fd, fl;

	if (!st)
		st = &local;
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return open_failed(what, path, flags, kinds, errno, err);
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return error_set(err, -e, "%s: %s: %s", what, path, strerror(e));
	}
	if (!kind_allowed(st->st_mode, kinds)) {
		close(fd);
		kinds_text(kinds, want, sizeof(want));
		return error_set(err, S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL,
				 "%s: %s: %s, not %s", what, path, file_kind_name(st->st_mode),
				 want);
	}
	/* An O_PATH descriptor has no file status flags (and cannot do I/O). */
	fl = flags & O_PATH ? 0 : fcntl(fd, F_GETFL);
	if (fl < 0 || (!(flags & O_PATH) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
		int e = errno;
		close(fd);
		return error_set(err, -e, "%s: %s: %s", what, path, strerror(e));
	}
	return fd;
}

int open_regular_file(const char *what, const char *path, uint64_t *size, struct error *err)
{
	struct stat st;
	int fd = open_outside_file(what, path, O_RDONLY, 0, FILE_KIND_REG, &st, err);

	if (fd >= 0 && size)
		*size = (uint64_t)st.st_size;
	return fd;
}

void close_quietly(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
}
