/* One connection from the host: its input and output buffers, its streams, and the frames it queues. */
#ifndef KILN_AGENT_CONN_H
#define KILN_AGENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto/tree.h"
#include "common/util.h"
#include "guest/agent/exec.h"

/* Limits that bound the agent's memory whatever the host sends (PROTOCOL.md, "Limits"). */
#define AGENT_MAX_STREAMS 16			/* live streams per connection */
#define AGENT_WINDOW (64u * 1024u)		/* credit given to the host per stream */
#define AGENT_OUT_CAP (8u * AP_MAX_FRAME)	/* queued output per connection */
/* A connection being closed after an error gets this long to take its ERROR frame. */
#define AGENT_CLOSE_GRACE_MS 2000
/* A connection that has not said HELLO after this long is closed (it holds a place). */
#define AGENT_HELLO_MS 10000

enum stream_kind { SK_EXEC, SK_PUT, SK_GET };

struct stream {
	uint32_t id;
	enum stream_kind kind;
	struct ap_credit send;		/* what the host lets us send */
	struct ap_credit recv;		/* what the host may still send us */
	uint32_t unacked;		/* bytes consumed and not yet granted back */
	/* SK_EXEC */
	struct exec_proc proc;
	uint8_t *stdin_buf;		/* AGENT_WINDOW bytes when stdin is streamed */
	size_t stdin_len;
	bool stdin_eof;
	/* SK_PUT */
	struct ap_tree_writer w;
	/* SK_GET */
	struct ap_tree_reader r;
};

struct conn {
	int fd;
	unsigned int serial;		/* for log lines */
	bool hello;
	bool closing;			/* no more input: flush, then close */
	uint64_t close_deadline_ns;
	uint64_t hello_deadline_ns;
	uint32_t peer_window;
	uint32_t peer_payload;
	uint8_t in[AP_MAX_FRAME];
	size_t in_len;
	uint8_t *out;			/* AGENT_OUT_CAP bytes */
	size_t out_off, out_len;
	struct stream *streams[AGENT_MAX_STREAMS];
};

/* A connection on fd (closed by conn_free), with its fixed-size buffers; NULL: no memory. */
struct conn *conn_new(int fd, unsigned int serial);
/* Frees every stream (killing their processes), closes the socket, frees c. */
void conn_free(struct conn *c);

/* The room left in the output queue. */
size_t conn_out_room(struct conn *c);
/* Where the next `need` bytes go (the caller checked conn_out_room): compacts if needed. */
uint8_t *conn_out_reserve(struct conn *c, size_t need);
/* Queues one frame; every caller's gate leaves room (a full queue closes the connection). */
void conn_send(struct conn *c, uint8_t type, uint32_t stream, const void *p, size_t n);
/* Queues an ERROR with the errno value of code (either sign) and a message. */
void conn_send_error(struct conn *c, uint32_t stream, int code, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
/* Grants the host the bytes consumed on s: once a quarter window has built up, or now. */
void conn_send_window(struct conn *c, struct stream *s, bool force);
/* A protocol error: one ERROR frame on stream 0, then the connection closes, nothing else. */
void conn_fail(struct conn *c, int code, const char *why);

/* The slot of stream id, or NULL. */
struct stream **conn_find_stream(struct conn *c, uint32_t id);
/* A new stream for a request, or NULL after answering why not (id in use, too many). */
struct stream *conn_new_stream(struct conn *c, uint32_t id, enum stream_kind kind);
/* Ends a stream: its process killed (with all it started), its files closed. */
void stream_free(struct stream **sp);

#endif
