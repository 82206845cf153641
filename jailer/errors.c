/* Filling struct jail_err: the one way jailer library code reports failure. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jail_fail(struct jail_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int jail_fail_errno(struct jail_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(abs(errnum)));
	return -1;
}

int jail_open_outside(const char *what, const char *path, int flags, unsigned int kinds,
		      int code, struct jail_err *err)
{
	struct error e = { 0 };
	int fd = open_outside_file(what, path, flags, 0, kinds, NULL, &e);

	if (fd >= 0)
		return fd;
	/* open_outside_file says "<what>: <path>: ..."; the jailer's style is "<what> <path>". */
	size_t n = strlen(what);
	const char *msg = e.msg;
	if (strncmp(msg, what, n) == 0 && msg[n] == ':')
		return jail_fail(err, code, "%s %s", what, msg + n + 2);
	return jail_fail(err, code, "%s", msg);
}
