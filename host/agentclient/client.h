/* The host's side of the agent protocol: connect (Unix socket or Firecracker-style vsock), then one request at a time. */
#ifndef KILN_AGENTCLIENT_CLIENT_H
#define KILN_AGENTCLIENT_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto/msg.h"
#include "common/error.h"

/* The credit the client gives the agent per stream (it writes what it gets at once). */
#define AGENT_CLIENT_WINDOW (1024u * 1024u)

struct agent_client {
	int fd;
	uint32_t next_stream;
	uint32_t peer_window;		/* credit the agent gives per stream */
	uint32_t peer_payload;		/* largest payload the agent accepts */
	char peer_name[AP_MAX_NAME + 1];
	uint8_t in[AP_MAX_FRAME];
	size_t in_len, in_off;
	uint8_t out[AP_MAX_FRAME];
};

/*
 * Connects to the agent listening on a Unix socket at path ("@NAME": in Linux's abstract
 * namespace), retrying while it does not exist yet, until timeout_ms; then exchanges HELLO.
 * Returns 0 or -errno; err names the path and the failure.
 */
int agent_client_connect_unix(struct agent_client *c, const char *path, int timeout_ms,
			      struct error *err);
/*
 * Connects through a Firecracker-style vsock Unix socket: "CONNECT <port>\n", then
 * "OK <hostport>\n" (at most 64 bytes, anything else is refused), then HELLO.
 */
int agent_client_connect_vsock(struct agent_client *c, const char *uds, uint32_t port,
			       int timeout_ms, struct error *err);
void agent_client_close(struct agent_client *c);

/* PING with a payload of 8 bytes; *rtt_ns is the round trip. */
int agent_client_ping(struct agent_client *c, uint64_t *rtt_ns, struct error *err);

/* Where an exec's streams go. */
struct agent_exec_io {
	int in_fd;		/* read and sent as stdin until EOF; -1: the process gets /dev/null */
	int out_fd, err_fd;	/* where stdout and stderr chunks are written */
	/* Set by a signal handler: forwarded to the process group as SIGNAL, then cleared. */
	volatile sig_atomic_t *pending_signal;
};

/*
 * Runs a process and streams it to io until it ends. Returns 0 with *res filled; 1 when
 * the agent could not start it (err has the agent's message, err->code its -errno:
 * -ENOENT for a missing program, -EACCES for one that is not executable); or -errno when
 * the client, the connection or the protocol failed.
 */
int agent_client_exec(struct agent_client *c, const struct ap_exec_params *p,
		      const struct agent_exec_io *io, struct ap_exit *res, struct error *err);

/* Copies the local file or directory tree at local to the guest's absolute path remote. */
int agent_client_put(struct agent_client *c, const char *local, const char *remote,
		     uint64_t *bytes, struct error *err);
/*
 * Copies the guest's file or directory tree at remote (absolute) to local. The guest chose
 * the modes: set-user-ID, set-group-ID and sticky bits are dropped, and directories that
 * exist (local among them) keep theirs.
 */
int agent_client_get(struct agent_client *c, const char *remote, const char *local,
		     uint64_t *bytes, struct error *err);
/* Asks the agent to end (AP_SHUTDOWN_AGENT), power the guest off or reboot it. */
int agent_client_shutdown(struct agent_client *c, enum ap_shutdown_action action,
			  struct error *err);

/* Sends one raw frame (tests use it to send what a correct client never would). */
int agent_client_send(struct agent_client *c, uint8_t type, uint32_t stream, const void *p,
		      size_t n);
/*
 * Receives one frame from the agent, waiting up to timeout_ms (-1: forever). The payload
 * stays valid until the next receive. Returns 1, 0 at a clean end of the connection,
 * -ETIMEDOUT, or -errno (-EPROTO and friends for a frame that breaks the protocol).
 */
int agent_client_recv(struct agent_client *c, struct ap_frame *f, int timeout_ms,
		      struct error *err);

#endif
