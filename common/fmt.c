/* Bounded string formatting that reports truncation instead of hiding it. */
#include "fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int fmt_buf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
