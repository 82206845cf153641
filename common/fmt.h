/* Bounded string formatting that reports truncation instead of hiding it. */
#ifndef KILN_FMT_H
#define KILN_FMT_H

#include <stddef.h>
#include "util.h"

/* snprintf into buf; returns 0, or -ENAMETOOLONG when the result did not fit. */
int fmt_buf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4) MUST_CHECK;

#endif
