/* One connection from the host: its input and output buffers, its streams, and the frames it queues. */
#include "guest/agent/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/agent/log.h"

struct conn *conn_new(int fd, unsigned int serial)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c && !(c->out = malloc(AGENT_OUT_CAP))) {
		free(c);
		c = NULL;
	}
	if (!c)
		return NULL;
	c->fd = fd;
	c->serial = serial;
	c->peer_payload = 4096;
	c->peer_window = AP_MIN_WINDOW;
	c->hello_deadline_ns = exec_now_ns() + AGENT_HELLO_MS * 1000000ull;
	return c;
}

void conn_free(struct conn *c)
{
	for (size_t k = 0; k < AGENT_MAX_STREAMS; k++)
		if (c->streams[k])
			stream_free(&c->streams[k]);
	close(c->fd);
	free(c->out);
	free(c);
}

/* The room left in the output queue. */
size_t conn_out_room(struct conn *c)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return AGENT_OUT_CAP - (c->out_len - c->out_off);
}

/* Where the next `need` bytes go (the caller checked conn_out_room): compacts when needed. */
uint8_t *conn_out_reserve(struct conn *c, size_t need)
{
	if (AGENT_OUT_CAP - c->out_len < need && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	return c->out + c->out_len;
}

/* Queues one frame. Room is checked by every caller's gate; running out is a bug. */
void conn_send(struct conn *c, uint8_t type, uint32_t stream, const void *p, size_t n)
{
	struct ap_header h = { .type = type, .stream = stream, .len = (uint32_t)n };
	if (n > AP_MAX_PAYLOAD || conn_out_room(c) < AP_HEADER_SIZE + n ||
	    ap_header_encode(conn_out_reserve(c, AP_HEADER_SIZE + n), &h) < 0) {
		agent_log("connection %u: output queue full; closing it", c->serial);
		c->closing = true;
		c->close_deadline_ns = exec_now_ns();
		return;
	}
	if (n)
		memcpy(c->out + c->out_len + AP_HEADER_SIZE, p, n);
	c->out_len += AP_HEADER_SIZE + n;
}

void conn_send_error(struct conn *c, uint32_t stream, int code, const char *fmt, ...)
{
	char text[AP_MAX_ERROR_TEXT + 1];
	uint8_t buf[AP_MAX_ERROR_TEXT + 8];
	struct ap_builder b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_error_encode(&b, (uint32_t)(code < 0 ? -code : code), text) == 0)
		conn_send(c, AP_ERROR, stream, buf, b.len);
}

void conn_send_window(struct conn *c, struct stream *s, bool force)
{
	uint8_t buf[4];
	struct ap_builder b;
	if (s->unacked == 0 || (!force && s->unacked < AGENT_WINDOW / 4))
		return;
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_window_encode(&b, s->unacked) == 0 && ap_credit_grant(&s->recv, s->unacked) == 0) {
		conn_send(c, AP_WINDOW, s->id, buf, b.len);
		s->unacked = 0;
	}
}

struct stream **conn_find_stream(struct conn *c, uint32_t id)
{
	for (size_t i = 0; i < AGENT_MAX_STREAMS; i++)
		if (c->streams[i] && c->streams[i]->id == id)
			return &c->streams[i];
	return NULL;
}

void stream_free(struct stream **sp)
{
	struct stream *s = *sp;
	switch (s->kind) {
	case SK_EXEC:
		exec_release(&s->proc);
		free(s->stdin_buf);
		break;
	case SK_PUT:
		ap_tree_writer_close(&s->w);
		break;
	case SK_GET:
		ap_tree_reader_close(&s->r);
		break;
	}
	free(s);
	*sp = NULL;
}

/* A protocol error: one ERROR frame on stream 0, then the connection ends, nothing else. */
void conn_fail(struct conn *c, int code, const char *why)
{
	agent_log("connection %u: protocol error: %s; closing it", c->serial, why);
	for (size_t k = 0; k < AGENT_MAX_STREAMS; k++)
		if (c->streams[k])
			stream_free(&c->streams[k]);
	c->in_len = 0;
	conn_send_error(c, 0, code, "protocol error: %s", why);
	c->closing = true;
	c->close_deadline_ns = exec_now_ns() + AGENT_CLOSE_GRACE_MS * 1000000ull;
}

/* A new stream for a request, or NULL after answering why not. */
struct stream *conn_new_stream(struct conn *c, uint32_t id, enum stream_kind kind)
{
	if (conn_find_stream(c, id)) {
		conn_fail(c, EPROTO, "a request on a stream id that is still in use");
		return NULL;
	}
	struct stream **slot = NULL;
	for (size_t i = 0; i < AGENT_MAX_STREAMS && !slot; i++)
		if (!c->streams[i])
			slot = &c->streams[i];
	if (!slot) {
		conn_send_error(c, id, EAGAIN, "too many streams on this connection (at most %d)",
			   AGENT_MAX_STREAMS);
		return NULL;
	}
	struct stream *s = calloc(1, sizeof(*s));
	if (!s) {
		conn_send_error(c, id, ENOMEM, "out of memory for a new stream");
		return NULL;
	}
	s->id = id;
	s->kind = kind;
	ap_credit_init(&s->send, c->peer_window);
	ap_credit_init(&s->recv, AGENT_WINDOW);
	*slot = s;
	return s;
}
