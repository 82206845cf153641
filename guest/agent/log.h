/* The agent's log: one line per event on stderr (the guest's console as PID 1). */
#ifndef KILN_AGENT_LOG_H
#define KILN_AGENT_LOG_H

#include <stdbool.h>

#include "common/util.h"

/* Connections and processes are logged too, not only failures (--verbose). */
extern bool agent_verbose;

/* "kiln-agent: <message>\n", the message cut at 500 bytes; never text a peer chose. */
void agent_log(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
