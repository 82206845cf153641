/* The agent's event loop: connections from the host, their streams, and the processes they run. */
#ifndef KILN_AGENT_SERVER_H
#define KILN_AGENT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "agentproto/msg.h"

/* Connections served at once (the other limits are in conn.h). */
#define AGENT_MAX_CONNS 8

struct agent_options {
	const int *listen_fds;	/* listening sockets, non-blocking */
	size_t n_listen;
	bool pid1;		/* reap every orphan; SIGTERM and SIGINT do not end the agent */
	bool verbose;		/* log each connection and request on stderr */
};

/*
 * Serves until a SHUTDOWN request (or, unless pid1, SIGTERM, SIGINT or SIGHUP). Every
 * process still running is killed, with everything it started, before it returns.
 * Returns the action asked for (enum ap_shutdown_action; a signal counts as
 * AP_SHUTDOWN_AGENT), or -errno when the loop itself fails.
 */
int agent_serve(const struct agent_options *opt);

#endif
