/* The agent protocol's frames: header layout, limits, and bounds-checked encoding and decoding. */
#ifndef KILN_AGENTPROTO_FRAME_H
#define KILN_AGENTPROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every frame is a 12-byte header then `len` payload bytes (PROTOCOL.md):
 *   0  'k' 'a'    magic
 *   2  u8         version (AP_VERSION)
 *   3  u8         type (enum ap_type)
 *   4  u32 le     stream id
 *   8  u32 le     payload length, at most AP_MAX_PAYLOAD
 */
#define AP_MAGIC0 'k'
#define AP_MAGIC1 'a'
#define AP_VERSION 1
#define AP_HEADER_SIZE 12u
#define AP_MAX_PAYLOAD 65536u
#define AP_MAX_FRAME (AP_HEADER_SIZE + AP_MAX_PAYLOAD)
/* Credit may never exceed this (a WINDOW that would is a protocol error). */
#define AP_WINDOW_MAX (16u * 1024u * 1024u)
/* The vsock port the agent listens on unless told otherwise. */
#define AP_DEFAULT_PORT 1024u

enum ap_type {
	AP_HELLO = 0x01,	/* both: version handshake, stream 0 */
	AP_ERROR = 0x02,	/* both: on stream 0 the connection ends; else the request failed */
	AP_PING = 0x03,		/* host: echo request */
	AP_PONG = 0x04,		/* agent: echo reply */
	AP_DONE = 0x05,		/* agent: a put or shutdown succeeded */
	AP_WINDOW = 0x06,	/* both: more credit for data on a stream */
	AP_EXEC = 0x10,		/* host: start a process */
	AP_STDIN = 0x11,	/* host: bytes for the process's standard input */
	AP_STDIN_EOF = 0x12,	/* host: close the process's standard input */
	AP_STDOUT = 0x13,	/* agent: bytes the process wrote to standard output */
	AP_STDERR = 0x14,	/* agent: bytes the process wrote to standard error */
	AP_EXIT = 0x15,		/* agent: the process ended; the stream is over */
	AP_SIGNAL = 0x16,	/* host: send a signal to the process group */
	AP_PUT = 0x20,		/* host: start writing a file tree at a path */
	AP_GET = 0x21,		/* host: read the file tree at a path */
	AP_ENTRY = 0x22,	/* both: a file, directory or symlink of a tree */
	AP_DATA = 0x23,		/* both: contents of the last file entry */
	AP_END = 0x24,		/* both: the tree is complete */
	AP_SHUTDOWN = 0x30,	/* host: end the agent, power off or reboot */
};

/* Which side may send a frame type. */
enum ap_sender { AP_FROM_HOST = 1, AP_FROM_AGENT = 2 };

struct ap_header {
	uint8_t type;
	uint32_t stream;
	uint32_t len;
};

/* A frame in place: the header and a pointer into the buffer it was parsed from. */
struct ap_frame {
	struct ap_header h;
	const uint8_t *payload;
};

/* The name of a frame type ("EXEC"), or NULL for an unknown type. */
const char *ap_type_name(uint8_t type);
/* True when `from` may send frames of `type`. */
bool ap_type_allowed(uint8_t type, enum ap_sender from);

/*
 * Writes the header for h into out. Returns 0, or -EMSGSIZE when h->len is above
 * AP_MAX_PAYLOAD, -EINVAL for an unknown type.
 */
int ap_header_encode(uint8_t out[AP_HEADER_SIZE], const struct ap_header *h);

/*
 * Parses the frame at the start of buf (n bytes, any of which may be hostile), as sent by
 * `from`. The header is checked as soon as its 12 bytes are there, before any payload.
 * Returns the frame's full size (header + payload) when a whole valid frame is in buf,
 * 0 when more bytes are needed, or:
 *   -EPROTO      bad magic, or a frame type `from` may not send
 *   -EPROTONOSUPPORT  a version other than AP_VERSION
 *   -EBADMSG     unknown type
 *   -EMSGSIZE    a length above AP_MAX_PAYLOAD
 * `why` (may be NULL) then names what is wrong, for the peer's ERROR frame.
 */
long ap_frame_parse(const uint8_t *buf, size_t n, enum ap_sender from, struct ap_frame *f,
		    const char **why);

/*
 * A growing payload in a caller's fixed buffer. Every put is checked; the first that
 * does not fit sets err to -EMSGSIZE and later puts do nothing.
 */
struct ap_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void ap_builder_init(struct ap_builder *b, uint8_t *buf, size_t cap);
void ap_put_u8(struct ap_builder *b, uint8_t v);
void ap_put_u16(struct ap_builder *b, uint16_t v);
void ap_put_u32(struct ap_builder *b, uint32_t v);
void ap_put_u64(struct ap_builder *b, uint64_t v);
void ap_put_bytes(struct ap_builder *b, const void *p, size_t n);

/* Reading a payload: every get is checked against what is left; -EBADMSG when short. */
struct ap_cursor {
	const uint8_t *p;
	size_t left;
};

void ap_cursor_init(struct ap_cursor *c, const void *p, size_t n);
int ap_get_u8(struct ap_cursor *c, uint8_t *v);
int ap_get_u16(struct ap_cursor *c, uint16_t *v);
int ap_get_u32(struct ap_cursor *c, uint32_t *v);
int ap_get_u64(struct ap_cursor *c, uint64_t *v);
/* n bytes in place (*p points into the payload). */
int ap_get_bytes(struct ap_cursor *c, size_t n, const uint8_t **p);

/*
 * Credit for data on one direction of one stream. The sender spends, the receiver grants.
 * ap_credit_grant returns -EOVERFLOW when the credit would pass AP_WINDOW_MAX;
 * ap_credit_spend returns -ENOSPC when n is more than the credit left.
 */
struct ap_credit {
	uint32_t avail;
};

/* Starts with the credit the receiver announced in its HELLO. */
void ap_credit_init(struct ap_credit *c, uint32_t initial);
int ap_credit_grant(struct ap_credit *c, uint32_t n);
int ap_credit_spend(struct ap_credit *c, uint32_t n);

#endif
