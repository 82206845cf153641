/* fd helpers: full reads and writes that retry on EINTR and short transfers. */
#ifndef KILN_IO_H
#define KILN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "error.h"
#include "util.h"

/* Write all of buf; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len) MUST_CHECK;
/* Read exactly len bytes at offset; returns 0, -errno, or -ENODATA at end of file. */
int pread_all(int fd, void *buf, size_t len, off_t off) MUST_CHECK;
/* The kinds of file open_outside_file may accept: a mask. */
enum file_kind {
	FILE_KIND_REG = 1u << 0,
	FILE_KIND_DIR = 1u << 1,
	FILE_KIND_FIFO = 1u << 2,
	FILE_KIND_CHR = 1u << 3,
};

/*
 * The one way to open a path that kiln or the jailer did not create (a config value, a
 * command-line argument). open(2) gets flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, so it
 * never waits (a FIFO with no writer, a terminal's carrier); fstat(2) on the descriptor
 * must then show one of `kinds`, else the file is refused; last, O_NONBLOCK is cleared.
 * Put O_NOFOLLOW in flags where a symbolic link is not allowed; O_CREAT (with mode) for
 * outputs. A FIFO opened for writing with no reader fails at once (-ENXIO).
 *
 * Returns the fd or -errno: -EISDIR for a directory and -EINVAL for any other file of a
 * kind not in `kinds`, -ELOOP for a refused link, -ENXIO as above. err (may be NULL)
 * then says "<what>: <path>: <reason>", the reason naming what was found, e.g.
 * "a FIFO, not a regular file". st, when not NULL, receives the fstat of the file.
 */
int open_outside_file(const char *what, const char *path, int flags, mode_t mode,
		      unsigned int kinds, struct stat *st, struct error *err) MUST_CHECK;
/*
 * open_outside_file for the common case: an existing regular file, read-only, links
 * followed. Gives its size.
 */
int open_regular_file(const char *what, const char *path, uint64_t *size, struct error *err)
	MUST_CHECK;
/* "a regular file", "a FIFO", "a directory", ...: what st_mode says the file is. */
const char *file_kind_name(mode_t mode);
/* Close fd if it is not negative, preserving errno. */
void close_quietly(int fd);

#endif
