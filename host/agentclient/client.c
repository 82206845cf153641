/* The host's side of the agent protocol: connect (Unix socket or Firecracker-style vsock), then one request at a time. */
#include "host/agentclient/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentproto/tree.h"
#include "common/io.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int agent_client_send(struct agent_client *c, uint8_t type, uint32_t stream, const void *p,
		      size_t n)
{
	struct ap_header h = { .type = type, .stream = stream, .len = (uint32_t)n };
	if (n > AP_MAX_PAYLOAD)
		return -EMSGSIZE;
	int rc = ap_header_encode(c->out, &h);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(c->out + AP_HEADER_SIZE, p, n);
	return write_all(c->fd, c->out, AP_HEADER_SIZE + n);
}

/* A whole frame is buffered already (or a bad one, which recv then reports). */
static bool frame_buffered(struct agent_client *c)
{
	struct ap_frame f;
	return ap_frame_parse(c->in + c->in_off, c->in_len - c->in_off, AP_FROM_AGENT, &f,
			      NULL) != 0;
}

int agent_client_recv(struct agent_client *c, struct ap_frame *f, int timeout_ms,
		      struct error *err)
{
	for (;;) {
		const char *why = "malformed frame";
		long k = ap_frame_parse(c->in + c->in_off, c->in_len - c->in_off, AP_FROM_AGENT,
					f, &why);
		if (k > 0) {
			c->in_off += (size_t)k;	/* the payload stays until the next receive */
			return 1;
		}
		if (k < 0)
			return error_set(err, (int)k, "the agent sent a bad frame: %s", why);
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0)
			return error_set(err, -errno, "waiting for the agent: %s", strerror(errno));
		if (r == 0)
			return error_set(err, -ETIMEDOUT, "no answer from the agent in %d ms",
					 timeout_ms);
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n < 0 && errno == EINTR)
			return error_set(err, -EINTR, "interrupted");
		if (n < 0)
			return error_set(err, -errno, "reading from the agent: %s", strerror(errno));
		if (n == 0) {
			if (c->in_len == 0)
				return 0;
			return error_set(err, -EPIPE, "the agent closed the connection in the "
					 "middle of a frame");
		}
		c->in_len += (size_t)n;
	}
}

/* An ERROR from the agent as a return code and message. */
static int agent_error(const struct ap_frame *f, const char *what, struct error *err)
{
	struct ap_error e;
	if (ap_error_decode(f->payload, f->h.len, &e) < 0)
		return error_set(err, -EPROTO, "%s: the agent sent an ERROR that does not decode",
				 what);
	int code = e.code > 0 && e.code < 4096 ? -(int)e.code : -EIO;
	return error_set(err, code, "%s: %s%s", what, f->h.stream == 0 ? "agent: " : "", e.text);
}

/* Any frame other than the ones a request expects. */
static int unexpected(const struct ap_frame *f, const char *what, struct error *err)
{
	if (f->h.type == AP_ERROR)
		return agent_error(f, what, err);
	return error_set(err, -EPROTO, "%s: unexpected %s frame on stream %u from the agent",
			 what, ap_type_name(f->h.type), f->h.stream);
}

/* Receives, insisting on a frame (a closed connection is an error). */
static int recv_some(struct agent_client *c, struct ap_frame *f, int timeout_ms,
		     const char *what, struct error *err)
{
	int rc = agent_client_recv(c, f, timeout_ms, err);
	if (rc == 0)
		return error_set(err, -EPIPE, "%s: the agent closed the connection", what);
	if (rc < 0)
		error_prefix(err, "%s", what);
	return rc;
}

static int hello(struct agent_client *c, struct error *err)
{
	uint8_t buf[128];
	struct ap_builder b;
	struct ap_hello me = {
		.min_version = AP_VERSION, .max_version = AP_VERSION,
		.max_payload = AP_MAX_PAYLOAD, .window = AGENT_CLIENT_WINDOW,
	}, peer;
	struct ap_frame f;

	snprintf(me.name, sizeof(me.name), "kiln-agent-client %s", KILN_VERSION);
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_hello_encode(&b, &me) < 0 || agent_client_send(c, AP_HELLO, 0, buf, b.len) < 0)
		return error_set(err, -errno, "sending HELLO: %s", strerror(errno));
	int rc = recv_some(c, &f, 10000, "HELLO", err);
	if (rc < 0)
		return rc;
	if (f.h.type != AP_HELLO || f.h.stream != 0)
		return unexpected(&f, "HELLO", err);
	if (ap_hello_decode(f.payload, f.h.len, &peer) < 0 ||
	    peer.min_version != peer.max_version)
		return error_set(err, -EPROTO, "HELLO: the agent's answer does not decode");
	if (peer.min_version != AP_VERSION)
		return error_set(err, -EPROTONOSUPPORT, "HELLO: the agent chose protocol %u; "
				 "this client speaks %u", peer.min_version, AP_VERSION);
	c->peer_window = peer.window;
	c->peer_payload = peer.max_payload;
	memcpy(c->peer_name, peer.name, sizeof(c->peer_name));
	return 0;
}

static int connect_unix(struct agent_client *c, const char *path, int timeout_ms,
			struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memset(c, 0, offsetof(struct agent_client, in));
	c->fd = -1;
	c->next_stream = 1;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "%s: empty or longer than a Unix socket path "
				 "can be", path);
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')	/* Linux's abstract namespace */
		sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				    (path[0] == '@' ? 0 : 1));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return error_set(err, -errno, "socket: %s", strerror(errno));
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* The agent may still be starting (a guest booting): retry until the deadline. */
	while (connect(c->fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;
		if ((e != ENOENT && e != ECONNREFUSED && e != EINTR) || now_ns() >= end) {
			close(c->fd);
			c->fd = -1;
			return error_set(err, -e, "connecting to %s: %s", path, strerror(e));
		}
		usleep(20000);
	}
	return 0;
}

int agent_client_connect_unix(struct agent_client *c, const char *path, int timeout_ms,
			      struct error *err)
{
	int rc = connect_unix(c, path, timeout_ms, err);
	if (rc == 0 && (rc = hello(c, err)) < 0)
		agent_client_close(c);
	return rc;
}

int agent_client_connect_vsock(struct agent_client *c, const char *uds, uint32_t port,
			       int timeout_ms, struct error *err)
{
	char line[80];
	size_t n = 0;
	int rc = connect_unix(c, uds, timeout_ms, err);
	if (rc < 0)
		return rc;
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if ((rc = write_all(c->fd, line, strlen(line))) < 0) {
		error_set(err, rc, "%s: sending CONNECT %u: %s", uds, port, strerror(-rc));
		goto fail;
	}
	/* One byte at a time: what follows the line is the agent's, not ours to take. */
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			rc = error_set(err, -ETIMEDOUT, "%s: no answer to CONNECT %u in %d ms", uds,
				       port, timeout_ms);
			goto fail;
		}
		ssize_t k = read(c->fd, line + n, 1);
		if (k <= 0) {
			rc = error_set(err, -ECONNREFUSED, "%s: CONNECT %u refused (nothing "
				       "listens on that port in the guest?)", uds, port);
			goto fail;
		}
		if (line[n] == '\n')
			break;
		if (++n == 64) {
			rc = error_set(err, -EPROTO, "%s: the answer to CONNECT is longer than 64 "
				       "bytes", uds);
			goto fail;
		}
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3) != 0) {
		rc = error_set(err, -ECONNREFUSED, "%s: CONNECT %u: the answer is not \"OK "
			       "<port>\"", uds, port);
		goto fail;
	}
	if ((rc = hello(c, err)) < 0)
		goto fail;
	return 0;
fail:
	agent_client_close(c);
	return rc;
}

void agent_client_close(struct agent_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The next stream id, never 0. */
static uint32_t new_stream(struct agent_client *c)
{
	uint32_t id = c->next_stream++;
	if (c->next_stream == 0)
		c->next_stream = 1;
	return id;
}

int agent_client_ping(struct agent_client *c, uint64_t *rtt_ns, struct error *err)
{
	uint32_t stream = new_stream(c);
	uint64_t t0 = now_ns();
	struct ap_frame f;
	int rc = agent_client_send(c, AP_PING, stream, &t0, sizeof(t0));
	if (rc < 0)
		return error_set(err, rc, "PING: %s", strerror(-rc));
	for (;;) {
		if ((rc = recv_some(c, &f, 10000, "PING", err)) < 0)
			return rc;
		if (f.h.stream != stream && f.h.stream != 0)
			continue;	/* an earlier request's last frames */
		if (f.h.type != AP_PONG)
			return unexpected(&f, "PING", err);
		if (f.h.len != sizeof(t0) || memcmp(f.payload, &t0, sizeof(t0)))
			return error_set(err, -EPROTO, "PING: the PONG does not echo the PING");
		*rtt_ns = now_ns() - t0;
		return 0;
	}
}

static int send_window(struct agent_client *c, uint32_t stream, uint32_t *unacked, bool force)
{
	uint8_t buf[4];
	struct ap_builder b;
	if (*unacked == 0 || (!force && *unacked < AGENT_CLIENT_WINDOW / 2))
		return 0;
	ap_builder_init(&b, buf, sizeof(buf));
	ap_window_encode(&b, *unacked);
	*unacked = 0;
	return agent_client_send(c, AP_WINDOW, stream, buf, b.len);
}

int agent_client_exec(struct agent_client *c, const struct ap_exec_params *p,
		      const struct agent_exec_io *io, struct ap_exit *res, struct error *err)
{
	static uint8_t buf[AP_MAX_PAYLOAD];
	struct ap_exec_params req = *p;
	struct ap_builder b;
	struct ap_credit in_credit, out_credit;
	uint32_t unacked = 0, stream = new_stream(c);
	bool in_open = io->in_fd >= 0;
	int rc;

	req.stdin_stream = in_open;
	ap_builder_init(&b, buf, sizeof(buf));
	if ((rc = ap_exec_encode(&b, &req)) < 0)
		return error_set(err, rc, "exec: %s", rc == -EMSGSIZE ? "the arguments and "
				 "environment do not fit in one 64 KiB frame" : "no command");
	if ((rc = agent_client_send(c, AP_EXEC, stream, buf, b.len)) < 0)
		return error_set(err, rc, "exec: sending EXEC: %s", strerror(-rc));
	ap_credit_init(&in_credit, c->peer_window);
	ap_credit_init(&out_credit, AGENT_CLIENT_WINDOW);
	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = -1 } };
		if (io->pending_signal && *io->pending_signal) {
			uint8_t sb[4];
			struct ap_builder s;
			ap_builder_init(&s, sb, sizeof(sb));
			ap_signal_encode(&s, (uint32_t)*io->pending_signal);
			*io->pending_signal = 0;
			if ((rc = agent_client_send(c, AP_SIGNAL, stream, sb, s.len)) < 0)
				return error_set(err, rc, "exec: sending SIGNAL: %s", strerror(-rc));
		}
		if (in_open && in_credit.avail > 0) {
			pfd[1].fd = io->in_fd;
			pfd[1].events = POLLIN;
		}
		if (!frame_buffered(c) && poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, -errno, "exec: poll: %s", strerror(errno));
		}
		if (pfd[1].revents) {
			size_t max = MIN((size_t)in_credit.avail, (size_t)c->peer_payload);
			ssize_t n = read(io->in_fd, buf, max);
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				return error_set(err, -errno, "exec: reading standard input: %s",
						 strerror(errno));
			if (n == 0) {
				in_open = false;
				rc = agent_client_send(c, AP_STDIN_EOF, stream, NULL, 0);
			} else if (n > 0) {
				ap_credit_spend(&in_credit, (uint32_t)n);
				rc = agent_client_send(c, AP_STDIN, stream, buf, (size_t)n);
			}
			if (rc < 0)
				return error_set(err, rc, "exec: sending STDIN: %s", strerror(-rc));
		}
		if (!(pfd[0].revents || frame_buffered(c)))
			continue;
		struct ap_frame f;
		rc = agent_client_recv(c, &f, 0, err);
		if (rc == -EINTR || rc == -ETIMEDOUT)
			continue;
		if (rc == 0)
			return error_set(err, -EPIPE, "exec: the agent closed the connection");
		if (rc < 0) {
			error_prefix(err, "exec");
			return rc;
		}
		if (f.h.stream != stream && f.h.stream != 0)
			continue;
		switch (f.h.type) {
		case AP_STDOUT:
		case AP_STDERR:
			if (ap_credit_spend(&out_credit, f.h.len) < 0)
				return error_set(err, -EPROTO, "exec: the agent sent output beyond "
						 "the credit granted");
			rc = write_all(f.h.type == AP_STDOUT ? io->out_fd : io->err_fd, f.payload,
				       f.h.len);
			if (rc < 0)
				return error_set(err, rc, "exec: writing the process's %s: %s",
						 f.h.type == AP_STDOUT ? "stdout" : "stderr",
						 strerror(-rc));
			unacked += f.h.len;
			if (unacked >= AGENT_CLIENT_WINDOW / 2) {
				ap_credit_grant(&out_credit, unacked);
				if ((rc = send_window(c, stream, &unacked, true)) < 0)
					return error_set(err, rc, "exec: sending WINDOW: %s",
							 strerror(-rc));
			}
			break;
		case AP_WINDOW: {
			uint32_t g;
			if (ap_window_decode(f.payload, f.h.len, &g) < 0 ||
			    ap_credit_grant(&in_credit, g) < 0)
				return error_set(err, -EPROTO, "exec: a bad WINDOW from the agent");
			break;
		}
		case AP_EXIT:
			if (ap_exit_decode(f.payload, f.h.len, res) < 0)
				return error_set(err, -EPROTO, "exec: an EXIT that does not decode");
			return 0;
		case AP_ERROR:
			if (f.h.stream == stream) {	/* the process could not be started */
				agent_error(&f, "exec", err);
				return 1;
			}
			return agent_error(&f, "exec", err);
		default:
			return unexpected(&f, "exec", err);
		}
	}
}

/* Takes WINDOW frames for stream until credit is available (or, if !block, those queued). */
static int await_credit(struct agent_client *c, uint32_t stream, struct ap_credit *cr,
			bool block, const char *what, struct error *err)
{
	while (block ? cr->avail == 0 : frame_buffered(c) || (poll(&(struct pollfd){
			.fd = c->fd, .events = POLLIN }, 1, 0) == 1)) {
		struct ap_frame f;
		int rc = recv_some(c, &f, -1, what, err);
		if (rc < 0)
			return rc;
		if (f.h.stream != stream && f.h.stream != 0)
			continue;
		uint32_t g;
		if (f.h.type != AP_WINDOW)
			return unexpected(&f, what, err);
		if (ap_window_decode(f.payload, f.h.len, &g) < 0 || ap_credit_grant(cr, g) < 0)
			return error_set(err, -EPROTO, "%s: a bad WINDOW from the agent", what);
	}
	return 0;
}

int agent_client_put(struct agent_client *c, const char *local, const char *remote,
		     uint64_t *bytes, struct error *err)
{
	static struct ap_tree_reader r;
	static struct ap_entry e;
	static uint8_t buf[AP_MAX_PAYLOAD];
	struct ap_builder b;
	struct ap_credit cr;
	uint32_t stream = new_stream(c);
	int rc;

	*bytes = 0;
	if ((rc = ap_tree_reader_open(&r, local)) < 0)
		return error_set(err, rc, "put: %s: %s", local, strerror(-rc));
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_path_encode(&b, remote) < 0) {
		rc = error_set(err, -EINVAL, "put: %s: not an absolute guest path", remote);
		goto out;
	}
	if ((rc = agent_client_send(c, AP_PUT, stream, buf, b.len)) < 0) {
		error_set(err, rc, "put: sending PUT: %s", strerror(-rc));
		goto out;
	}
	ap_credit_init(&cr, c->peer_window);
	while ((rc = ap_tree_reader_next(&r, &e)) > 0) {
		ap_builder_init(&b, buf, sizeof(buf));
		if ((rc = ap_entry_encode(&b, &e)) < 0 ||
		    (rc = agent_client_send(c, AP_ENTRY, stream, buf, b.len)) < 0 ||
		    (rc = await_credit(c, stream, &cr, false, "put", err)) < 0)
			goto fail_entry;
		while (r.file_left > 0) {
			if ((rc = await_credit(c, stream, &cr, true, "put", err)) < 0)
				goto out;
			size_t max = MIN((size_t)cr.avail, (size_t)c->peer_payload);
			long n = ap_tree_reader_data(&r, buf, max);
			if (n < 0) {
				rc = (int)n;
				goto fail_entry;
			}
			ap_credit_spend(&cr, (uint32_t)n);
			*bytes += (uint64_t)n;
			if ((rc = agent_client_send(c, AP_DATA, stream, buf, (size_t)n)) < 0)
				goto fail_entry;
		}
	}
	if (rc < 0)
		goto fail_entry;
	if ((rc = agent_client_send(c, AP_END, stream, NULL, 0)) < 0)
		goto fail_entry;
	for (;;) {
		struct ap_frame f;
		if ((rc = recv_some(c, &f, -1, "put", err)) < 0)
			goto out;
		if (f.h.stream != stream && f.h.stream != 0)
			continue;
		if (f.h.type == AP_WINDOW)
			continue;
		rc = f.h.type == AP_DONE ? 0 : unexpected(&f, "put", err);
		goto out;
	}
fail_entry:
	if (err->code != rc)
		error_set(err, rc, "put: %s%s%s: %s", local, e.path[0] ? "/" : "", e.path,
			  strerror(-rc));
out:
	ap_tree_reader_close(&r);
	return rc;
}

int agent_client_get(struct agent_client *c, const char *remote, const char *local,
		     uint64_t *bytes, struct error *err)
{
	static struct ap_tree_writer w;
	static struct ap_entry e;
	uint8_t buf[AP_MAX_PATH + 8];
	struct ap_builder b;
	struct ap_credit cr;
	uint32_t unacked = 0, stream = new_stream(c);
	const char *why = NULL;
	int rc;

	*bytes = 0;
	if ((rc = ap_tree_writer_open(&w, local)) < 0)
		return error_set(err, rc, "get: %s: path too long", local);
	ap_tree_writer_untrusted(&w);
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_path_encode(&b, remote) < 0)
		return error_set(err, -EINVAL, "get: %s: not an absolute guest path", remote);
	if ((rc = agent_client_send(c, AP_GET, stream, buf, b.len)) < 0)
		return error_set(err, rc, "get: sending GET: %s", strerror(-rc));
	ap_credit_init(&cr, AGENT_CLIENT_WINDOW);
	for (;;) {
		struct ap_frame f;
		if ((rc = recv_some(c, &f, -1, "get", err)) < 0)
			break;
		if (f.h.stream != stream && f.h.stream != 0)
			continue;
		if (f.h.type == AP_ENTRY) {
			if (ap_entry_decode(f.payload, f.h.len, &e, &why) < 0) {
				rc = error_set(err, -EPROTO, "get: the agent sent a bad ENTRY: %s", why);
				break;
			}
			rc = ap_tree_writer_entry(&w, &e, &why);
		} else if (f.h.type == AP_DATA) {
			if (ap_credit_spend(&cr, f.h.len) < 0) {
				rc = error_set(err, -EPROTO, "get: the agent sent DATA beyond the "
					       "credit granted");
				break;
			}
			rc = ap_tree_writer_data(&w, f.payload, f.h.len, &why);
			*bytes += f.h.len;
			unacked += f.h.len;
			if (rc == 0 && unacked >= AGENT_CLIENT_WINDOW / 2) {
				ap_credit_grant(&cr, unacked);
				rc = send_window(c, stream, &unacked, true);
			}
		} else if (f.h.type == AP_END) {
			rc = ap_tree_writer_end(&w, &why);
			if (rc == 0)
				break;
		} else {
			rc = unexpected(&f, "get", err);
			break;
		}
		if (rc == -EBADMSG) {
			rc = error_set(err, -EPROTO, "get: the agent broke the protocol: %s", why);
			break;
		}
		if (rc < 0) {
			error_set(err, rc, "get: %s%s%s: %s", local, e.path[0] ? "/" : "", e.path,
				  strerror(-rc));
			/* Cancel: the agent stops sending; what is in flight is ignored later. */
			ap_builder_init(&b, buf, sizeof(buf));
			if (ap_error_encode(&b, (uint32_t)-rc, "cancelled by the host") == 0)
				(void)agent_client_send(c, AP_ERROR, stream, buf, b.len);
			break;
		}
	}
	ap_tree_writer_close(&w);
	return rc;
}

int agent_client_shutdown(struct agent_client *c, enum ap_shutdown_action action,
			  struct error *err)
{
	uint8_t buf[4];
	struct ap_builder b;
	struct ap_frame f;
	uint32_t stream = new_stream(c);
	int rc;

	ap_builder_init(&b, buf, sizeof(buf));
	ap_shutdown_encode(&b, action);
	if ((rc = agent_client_send(c, AP_SHUTDOWN, stream, buf, b.len)) < 0)
		return error_set(err, rc, "shutdown: %s", strerror(-rc));
	for (;;) {
		if ((rc = recv_some(c, &f, 10000, "shutdown", err)) < 0)
			return rc;
		if (f.h.stream != stream && f.h.stream != 0)
			continue;
		return f.h.type == AP_DONE ? 0 : unexpected(&f, "shutdown", err);
	}
}
