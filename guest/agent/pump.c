/* Moving bytes for a connection's streams: process output and input, exits, and GET transfers. */
#include "guest/agent/pump.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "guest/agent/log.h"

/* Reads one chunk of a process's output into the queue as a STDOUT or STDERR frame. */
void pump_output(struct conn *c, struct stream *s, int *fd, uint8_t type)
{
	size_t max = MIN((size_t)s->send.avail, (size_t)c->peer_payload);
	if (*fd < 0 || max == 0 || conn_out_room(c) < 3 * AP_MAX_FRAME)
		return;
	uint8_t *dst = conn_out_reserve(c, AP_HEADER_SIZE + max);
	ssize_t n = read(*fd, dst + AP_HEADER_SIZE, max);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	struct ap_header h = { .type = type, .stream = s->id, .len = (uint32_t)n };
	if (ap_header_encode(dst, &h) == 0 &&
	    ap_credit_spend(&s->send, (uint32_t)n) == 0)
		c->out_len += AP_HEADER_SIZE + (size_t)n;
}

void pump_stdin(struct conn *c, struct stream *s)
{
	if (s->proc.in_fd < 0)
		return;
	while (s->stdin_len > 0) {
		ssize_t n = write(s->proc.in_fd, s->stdin_buf, s->stdin_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {	/* EPIPE: the process no longer reads; drop what is left */
			s->unacked += (uint32_t)s->stdin_len;
			s->stdin_len = 0;
			close(s->proc.in_fd);
			s->proc.in_fd = -1;
			break;
		}
		memmove(s->stdin_buf, s->stdin_buf + n, s->stdin_len - (size_t)n);
		s->stdin_len -= (size_t)n;
		s->unacked += (uint32_t)n;
	}
	conn_send_window(c, s, s->stdin_len == 0);
	if (s->stdin_eof && s->stdin_len == 0 && s->proc.in_fd >= 0) {
		close(s->proc.in_fd);
		s->proc.in_fd = -1;
	}
}

/* The time limit, and an EXIT once the process has ended and its output is drained. */
void finish_exec(struct conn *c, struct stream **sp)
{
	struct stream *s = *sp;
	uint8_t buf[32];
	struct ap_builder b;

	if (s->proc.deadline_ns && !s->proc.ended && exec_now_ns() >= s->proc.deadline_ns &&
	    !s->proc.timed_out) {
		s->proc.timed_out = true;
		exec_kill(&s->proc);
	}
	if (!(s->proc.ended || s->proc.lost) || s->proc.out_fd >= 0 || s->proc.err_fd >= 0 ||
	    conn_out_room(c) < AP_MAX_FRAME)
		return;
	if (s->proc.lost) {
		conn_send_error(c, s->id, ECHILD, "the process's supervisor died without a report");
	} else {
		s->proc.result.flags = s->proc.timed_out ? AP_EXIT_TIMED_OUT : 0;
		ap_builder_init(&b, buf, sizeof(buf));
		if (ap_exit_encode(&b, &s->proc.result) == 0)
			conn_send(c, AP_EXIT, s->id, buf, b.len);
	}
	if (agent_verbose)
		agent_log("connection %u: stream %u: ended", c->serial, s->id);
	stream_free(sp);
}

/*
 * A GET makes as much progress as credit and room allow; a WINDOW from the host or room
 * made by writing to it wakes the loop for more.
 */
void pump_get(struct conn *c, struct stream **sp)
{
	struct stream *s = *sp;
	while (conn_out_room(c) >= 3 * AP_MAX_FRAME) {
		if (s->r.file_left > 0) {
			size_t max = MIN((size_t)s->send.avail, (size_t)c->peer_payload);
			if (max == 0)
				return;
			uint8_t *dst = conn_out_reserve(c, AP_HEADER_SIZE + max);
			long n = ap_tree_reader_data(&s->r, dst + AP_HEADER_SIZE, max);
			if (n < 0) {
				conn_send_error(c, s->id, (int)n, "reading a file: %s", strerror((int)-n));
				stream_free(sp);
				return;
			}
			struct ap_header h = { .type = AP_DATA, .stream = s->id, .len = (uint32_t)n };
			if (ap_header_encode(dst, &h) == 0 &&
			    ap_credit_spend(&s->send, (uint32_t)n) == 0)
				c->out_len += AP_HEADER_SIZE + (size_t)n;
			continue;
		}
		struct ap_entry e;
		uint8_t buf[2 * AP_MAX_PATH + 64];
		struct ap_builder b;
		int rc = ap_tree_reader_next(&s->r, &e);
		if (rc == 0) {
			conn_send(c, AP_END, s->id, NULL, 0);
			stream_free(sp);
			return;
		}
		ap_builder_init(&b, buf, sizeof(buf));
		if (rc < 0 || (rc = ap_entry_encode(&b, &e)) < 0) {
			conn_send_error(c, s->id, rc, "%s", rc == -ELOOP ?
				   "directories nested deeper than 64" : strerror(-rc));
			stream_free(sp);
			return;
		}
		conn_send(c, AP_ENTRY, s->id, buf, b.len);
	}
}
