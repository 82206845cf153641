/* The agent's parser of host frames: bytes from the host to one checked, typed request. */
#ifndef KILN_AGENT_REQUEST_H
#define KILN_AGENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "agentproto/msg.h"

/* One frame from the host, its payload decoded and checked for its type. */
struct agent_request {
	uint8_t type;
	uint32_t stream;
	union {
		struct ap_hello hello;		/* HELLO */
		struct ap_error error;		/* ERROR */
		uint32_t window;		/* WINDOW */
		uint32_t signo;			/* SIGNAL */
		enum ap_shutdown_action shutdown;	/* SHUTDOWN */
		char path[AP_MAX_PATH + 1];	/* PUT, GET */
		struct ap_entry entry;		/* ENTRY */
	} u;
	struct ap_exec *exec;			/* EXEC: decoded into the caller's storage */
	const uint8_t *data;			/* PING, STDIN, DATA: in the input buffer */
	size_t data_len;
};

/*
 * Parses the frame at the start of buf (n bytes from the host). An EXEC is decoded into
 * *exec_store (sized for the largest payload: nothing is allocated). Returns the bytes
 * the frame took (> 0), 0 when more bytes are needed, or a negative errno for a frame that
 * breaks the protocol, with *why naming what is wrong: a bad header (frame.h), HELLO or
 * ERROR on a stream other than 0, a request on stream 0, a payload that does not decode,
 * STDIN_EOF or END with a payload, a PING longer than AP_MAX_PING.
 */
long agent_parse_frame(const uint8_t *buf, size_t n, struct agent_request *rq,
		       struct ap_exec *exec_store, const char **why);

#endif
