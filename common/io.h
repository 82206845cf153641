/* fd helpers: full reads and writes that retry on EINTR and short transfers. */
#ifndef KILN_IO_H
#define KILN_IO_H

#include <stddef.h>
#include <sys/types.h>
#include "util.h"

/* Write all of buf; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len) MUST_CHECK;
/* Read exactly len bytes at offset; returns 0, -errno, or -ENODATA at end of file. */
int pread_all(int fd, void *buf, size_t len, off_t off) MUST_CHECK;
/* Close fd if it is not negative, preserving errno. */
void close_quietly(int fd);

#endif
