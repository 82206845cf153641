/* The agent's log: one line per event on stderr (the guest's console as PID 1). */
#include "guest/agent/log.h"

#include <stdarg.h>
#include <stdio.h>

bool agent_verbose;

void agent_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kiln-agent: %s\n", line);
}
