/* Kernel command line builder: the user's boot_args plus what devices append. */
#include "cmdline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cmdline_init(struct cmdline *cl)
{
	cl->buf[0] = '\0';
	cl->len = 0;
	cl->want = 0;
}

void cmdline_append(struct cmdline *cl, const char *fmt, ...)
{
	char item[CMDLINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;

	size_t add = (size_t)n + (cl->want ? 1 : 0);
	cl->want += add;
	if (cl->want != cl->len + add || cl->want >= CMDLINE_MAX)
		return;	/* already too long: keep counting, stop writing */
	snprintf(cl->buf + cl->len, sizeof(cl->buf) - cl->len, "%s%s", cl->len ? " " : "", item);
	cl->len = cl->want;
}

int cmdline_has(const struct cmdline *cl, const char *name)
{
	size_t nl = strlen(name);
	const char *p = cl->buf;

	if (nl == 0)
		return 0;	/* strstr would match "" at the same place forever */
	while ((p = strstr(p, name)) != NULL) {
		bool start = p == cl->buf || p[-1] == ' ';
		bool end = p[nl] == '\0' || p[nl] == ' ' || p[nl] == '=';
		if (start && end)
			return 1;
		p += nl;
	}
	return 0;
}

int cmdline_check(const struct cmdline *cl, size_t limit)
{
	return cl->want + 1 > limit || cl->want >= CMDLINE_MAX ? -E2BIG : 0;
}
