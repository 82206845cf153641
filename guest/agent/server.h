/* The agent's event loop: connections from the host, their streams, and the processes they run. */
#ifndef KILN_AGENT_SERVER_H
#define KILN_AGENT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "agentproto/msg.h"

/* Limits that bound the agent's memory whatever the host sends (PROTOCOL.md, "Limits"). */
#define AGENT_MAX_CONNS 8
#define AGENT_MAX_STREAMS 16			/* live streams per connection */
#define AGENT_WINDOW (64u * 1024u)		/* credit given to the host per stream */
#define AGENT_OUT_CAP (8u * AP_MAX_FRAME)	/* queued output per connection */
/* A connection being closed after an error gets this long to take its ERROR frame. */
#define AGENT_CLOSE_GRACE_MS 2000

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
