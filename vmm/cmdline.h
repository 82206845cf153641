/* Kernel command line builder: the user's boot_args plus what devices append. */
#ifndef KILN_CMDLINE_H
#define KILN_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* A command line may take at most one page, including its terminating NUL. */
#define CMDLINE_MAX 4096

struct cmdline {
	char buf[CMDLINE_MAX];
	size_t len;		/* without the NUL */
	size_t want;		/* length it would have had: > CMDLINE_MAX - 1 means too long */
};

void cmdline_init(struct cmdline *cl);
/* Append one space-separated item; an over-long line is remembered, not truncated silently. */
void cmdline_append(struct cmdline *cl, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* True when a parameter "name" or "name=..." is present. */
int cmdline_has(const struct cmdline *cl, const char *name);
/* 0, or -E2BIG when the line does not fit in `limit` bytes including its NUL. */
int cmdline_check(const struct cmdline *cl, size_t limit) MUST_CHECK;

#endif
