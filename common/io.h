/* fd helpers: full reads and writes that retry on EINTR and short transfers. */
#ifndef KILN_IO_H
#define KILN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"
#include "util.h"

/* Write all of buf; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len) MUST_CHECK;
/* Read exactly len bytes at offset; returns 0, -errno, or -ENODATA at end of file. */
int pread_all(int fd, void *buf, size_t len, off_t off) MUST_CHECK;
/*
 * Open an existing regular file read-only (close-on-exec) and give its size. On error
 * err says "<what>: <path>: <reason>". Returns the fd or -errno.
 */
int open_regular_file(const char *what, const char *path, uint64_t *size, struct error *err)
	MUST_CHECK;
/* Close fd if it is not negative, preserving errno. */
void close_quietly(int fd);

#endif
