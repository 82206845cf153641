/* Error struct for library code: a -errno code plus a message naming what is wrong. */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#include "util.h"

struct error {
	int code;		/* negative errno, 0 when no error was set */
	char msg[320];
};

/* Record an error and return its code, so callers can `return error_set(...)`. */
int error_set(struct error *err, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Prefix the existing message with "<prefix>: " (e.g. the config key or path). */
void error_prefix(struct error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
