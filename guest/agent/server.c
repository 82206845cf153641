/* The agent's event loop: accepts connections, dispatches the host's requests, pumps processes and transfers. */
#include "guest/agent/server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentproto/tree.h"
#include "common/util.h"
#include "guest/agent/conn.h"
#include "guest/agent/exec.h"
#include "guest/agent/log.h"
#include "guest/agent/pump.h"
#include "guest/agent/request.h"

static struct conn *conns[AGENT_MAX_CONNS];
static struct ap_exec exec_store;	/* one EXEC is decoded at a time */
static unsigned int conn_serial;
static int shutdown_action = -1;

static void conn_close(size_t i)
{
	if (agent_verbose)
		agent_log("connection %u: closed", conns[i]->serial);
	conn_free(conns[i]);
	conns[i] = NULL;
}

static void on_hello(struct conn *c, const struct ap_hello *h)
{
	uint8_t buf[128];
	struct ap_builder b;
	struct ap_hello me = {
		.min_version = AP_VERSION, .max_version = AP_VERSION,
		.max_payload = AP_MAX_PAYLOAD, .window = AGENT_WINDOW,
	};

	if (c->hello) {
		conn_fail(c, EPROTO, "a second HELLO");
		return;
	}
	if (h->min_version > AP_VERSION || h->max_version < AP_VERSION) {
		conn_fail(c, EPROTONOSUPPORT, "no protocol version in common (the agent speaks 1)");
		return;
	}
	c->hello = true;
	c->peer_window = h->window;
	c->peer_payload = h->max_payload;
	snprintf(me.name, sizeof(me.name), "kiln-agent %s", KILN_VERSION);
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_hello_encode(&b, &me) == 0)
		conn_send(c, AP_HELLO, 0, buf, b.len);
}

static void on_exec(struct conn *c, const struct agent_request *rq)
{
	char err[AP_MAX_ERROR_TEXT];
	struct stream *s = conn_new_stream(c, rq->stream, SK_EXEC);
	if (!s)
		return;
	if (rq->exec->stdin_stream && !(s->stdin_buf = malloc(AGENT_WINDOW))) {
		conn_send_error(c, rq->stream, ENOMEM, "out of memory for standard input");
		stream_free(conn_find_stream(c, rq->stream));
		return;
	}
	int rc = exec_start(&s->proc, rq->exec, err, sizeof(err));
	if (rc < 0) {
		conn_send_error(c, rq->stream, rc, "%s", err);
		stream_free(conn_find_stream(c, rq->stream));
		return;
	}
	if (agent_verbose)
		agent_log("connection %u: stream %u: started pid %d", c->serial, s->id,
			  (int)s->proc.pgid);
}

static void on_stdin(struct conn *c, struct stream *s, const struct agent_request *rq)
{
	if (s->kind != SK_EXEC || !s->stdin_buf || s->stdin_eof) {
		conn_fail(c, EPROTO, "STDIN on a stream whose standard input is not open");
		return;
	}
	if (rq->type == AP_STDIN_EOF) {
		s->stdin_eof = true;
		return;
	}
	if (ap_credit_spend(&s->recv, (uint32_t)rq->data_len) < 0) {
		conn_fail(c, EPROTO, "STDIN beyond the credit granted");
		return;
	}
	if (s->proc.in_fd < 0) {	/* the process closed its stdin: the bytes go nowhere */
		s->unacked += (uint32_t)rq->data_len;
		conn_send_window(c, s, false);
		return;
	}
	/* Credit, buffered and unacknowledged bytes add up to AGENT_WINDOW: this fits. */
	memcpy(s->stdin_buf + s->stdin_len, rq->data, rq->data_len);
	s->stdin_len += rq->data_len;
}

static void on_put_frame(struct conn *c, struct stream **sp, const struct agent_request *rq)
{
	struct stream *s = *sp;
	const char *why = NULL;
	int rc;

	if (s->kind != SK_PUT) {
		conn_fail(c, EPROTO, "ENTRY, DATA or END on a stream that is not a PUT");
		return;
	}
	if (rq->type == AP_ENTRY) {
		rc = ap_tree_writer_entry(&s->w, &rq->u.entry, &why);
	} else if (rq->type == AP_DATA) {
		if (ap_credit_spend(&s->recv, (uint32_t)rq->data_len) < 0) {
			conn_fail(c, EPROTO, "DATA beyond the credit granted");
			return;
		}
		rc = ap_tree_writer_data(&s->w, rq->data, rq->data_len, &why);
		s->unacked += (uint32_t)rq->data_len;
		if (rc == 0)
			conn_send_window(c, s, false);
	} else {
		rc = ap_tree_writer_end(&s->w, &why);
		if (rc == 0) {
			conn_send(c, AP_DONE, s->id, NULL, 0);
			stream_free(sp);
			return;
		}
	}
	if (rc == -EBADMSG) {
		conn_fail(c, EPROTO, why);
	} else if (rc < 0) {
		conn_send_error(c, s->id, rc, "%s%s%s: %s", s->w.dest,
			   rq->type == AP_ENTRY && rq->u.entry.path[0] ? "/" : "",
			   rq->type == AP_ENTRY ? rq->u.entry.path : "", strerror(-rc));
		stream_free(sp);
	}
}

static void on_request(struct conn *c, const struct agent_request *rq)
{
	struct stream **sp;

	if (rq->type == AP_HELLO) {
		on_hello(c, &rq->u.hello);
		return;
	}
	if (!c->hello) {
		conn_fail(c, EPROTO, "the first frame is not HELLO");
		return;
	}
	switch (rq->type) {
	case AP_ERROR:
		if (rq->stream == 0) {	/* the host ends the connection */
			c->closing = true;
			c->close_deadline_ns = exec_now_ns();
		} else if ((sp = conn_find_stream(c, rq->stream))) {
			stream_free(sp);	/* the host cancels the request */
		}
		return;
	case AP_PING:
		conn_send(c, AP_PONG, rq->stream, rq->data, rq->data_len);
		return;
	case AP_EXEC:
		on_exec(c, rq);
		return;
	case AP_PUT: {
		struct stream *s = conn_new_stream(c, rq->stream, SK_PUT);
		if (s && ap_tree_writer_open(&s->w, rq->u.path) < 0) {
			conn_send_error(c, rq->stream, ENAMETOOLONG, "put: path too long");
			stream_free(conn_find_stream(c, rq->stream));
		}
		return;
	}
	case AP_GET: {
		struct stream *s = conn_new_stream(c, rq->stream, SK_GET);
		int rc = s ? ap_tree_reader_open(&s->r, rq->u.path) : 0;
		if (rc < 0) {
			conn_send_error(c, rq->stream, rc, "%s: %s", rq->u.path, strerror(-rc));
			stream_free(conn_find_stream(c, rq->stream));
		}
		return;
	}
	case AP_SHUTDOWN:
		conn_send(c, AP_DONE, rq->stream, NULL, 0);
		shutdown_action = (int)rq->u.shutdown;
		return;
	default:
		break;
	}
	/* Frames for an existing stream; one that has ended may still get a few: ignored. */
	sp = conn_find_stream(c, rq->stream);
	if (!sp)
		return;
	switch (rq->type) {
	case AP_WINDOW:
		if (ap_credit_grant(&(*sp)->send, rq->u.window) < 0)
			conn_fail(c, EPROTO, "WINDOW takes the credit above 16 MiB");
		return;
	case AP_STDIN:
	case AP_STDIN_EOF:
		on_stdin(c, *sp, rq);
		return;
	case AP_SIGNAL:
		if ((*sp)->kind != SK_EXEC)
			conn_fail(c, EPROTO, "SIGNAL on a stream that is not an EXEC");
		else
			exec_signal(&(*sp)->proc, (int)rq->u.signo);
		return;
	default:
		on_put_frame(c, sp, rq);
		return;
	}
}

/* Every whole frame buffered, while there is room for its answer. */
static void process_input(struct conn *c)
{
	while (!c->closing && c->in_len > 0 && conn_out_room(c) >= 2 * AP_MAX_FRAME) {
		struct agent_request rq;
		const char *why = "malformed frame";
		long k = agent_parse_frame(c->in, c->in_len, &rq, &exec_store, &why);
		if (k == 0)
			return;
		if (k < 0) {
			conn_fail(c, (int)-k, why);
			return;
		}
		on_request(c, &rq);
		if (c->closing)		/* conn_fail emptied the input */
			return;
		memmove(c->in, c->in + k, c->in_len - (size_t)k);
		c->in_len -= (size_t)k;
	}
}

static void reap_children(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < AGENT_MAX_CONNS; i++)
			for (size_t k = 0; conns[i] && k < AGENT_MAX_STREAMS; k++) {
				struct stream *s = conns[i]->streams[k];
				if (s && s->kind == SK_EXEC && s->proc.supervisor == pid)
					s->proc.supervisor = -1;	/* never signal a reused pid */
			}
	}
}

static void accept_conn(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	size_t slot = AGENT_MAX_CONNS;
	for (size_t i = 0; i < AGENT_MAX_CONNS && slot == AGENT_MAX_CONNS; i++)
		if (!conns[i])
			slot = i;
	struct conn *c = slot < AGENT_MAX_CONNS ? conn_new(fd, conn_serial + 1) : NULL;
	if (!c) {
		agent_log("refusing a connection: %s", slot == AGENT_MAX_CONNS ?
			  "already serving 8 connections" : "out of memory");
		close(fd);
		return;
	}
	conn_serial++;
	conns[slot] = c;
	if (agent_verbose)
		agent_log("connection %u: accepted", c->serial);
}

/* What each pollfd is for. */
enum watch_kind { W_LISTEN, W_SIGNAL, W_CONN, W_STDOUT, W_STDERR, W_STDIN, W_STATUS };
struct watch {
	enum watch_kind kind;
	size_t conn, stream;
};

#define MAX_POLL (4 + 1 + AGENT_MAX_CONNS * (1 + 4 * AGENT_MAX_STREAMS))

static size_t add(struct pollfd *pfd, struct watch *w, size_t n, int fd, short ev,
		  enum watch_kind kind, size_t ci, size_t si)
{
	pfd[n] = (struct pollfd){ .fd = fd, .events = ev };
	w[n] = (struct watch){ kind, ci, si };
	return n + 1;
}

static void on_conn_event(size_t ci, short rev)
{
	struct conn *c = conns[ci];
	if ((rev & POLLOUT) && c->out_len > c->out_off) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0)
			c->out_off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(ci);
			return;
		}
	}
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c->closing && c->in_len < AP_MAX_FRAME) {
		ssize_t n = read(c->fd, c->in + c->in_len, AP_MAX_FRAME - c->in_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(ci);	/* the host went away: its processes are killed */
			return;
		}
		if (n > 0)
			c->in_len += (size_t)n;
	} else if ((rev & (POLLHUP | POLLERR)) && c->closing) {
		conn_close(ci);
	}
}

/* True when the signal ends the agent. */
static bool on_signal(int sfd, bool pid1)
{
	struct signalfd_siginfo si;
	bool stop = false;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_children();
		else if (!pid1)
			stop = true;
	}
	return stop;
}

int agent_serve(const struct agent_options *opt)
{
	static struct pollfd pfd[MAX_POLL];
	static struct watch w[MAX_POLL];
	sigset_t set;
	int rc = 0;
	uint64_t shutdown_deadline = 0;

	agent_verbose = opt->verbose;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	reap_children();

	for (;;) {
		size_t n = 0;
		int timeout = -1;
		uint64_t now = exec_now_ns();
		bool any_out = false, any_conn = false;

		for (size_t ci = 0; ci < AGENT_MAX_CONNS; ci++) {
			struct conn *c = conns[ci];
			if (!c)
				continue;
			any_conn = true;
			process_input(c);
			if (!c->hello && !c->closing && now >= c->hello_deadline_ns)
				conn_fail(c, ETIMEDOUT, "no HELLO within 10 s");
			for (size_t si = 0; si < AGENT_MAX_STREAMS && !c->closing; si++) {
				struct stream **sp = &c->streams[si];
				if (*sp && (*sp)->kind == SK_GET)
					pump_get(c, sp);
				if (*sp && (*sp)->kind == SK_EXEC) {
					pump_stdin(c, *sp);
					finish_exec(c, sp);
				}
			}
			if (c->closing && (c->out_len == c->out_off || now >= c->close_deadline_ns)) {
				conn_close(ci);
				continue;
			}
			if (c->out_len > c->out_off)
				any_out = true;
		}
		/*
		 * Let the DONE go out, briefly: until the peers have read it and closed, since
		 * a frame written to a vsock socket still sits in the guest's queue, and a guest
		 * powered off at once would never send it.
		 */
		if (shutdown_action >= 0) {
			if (!shutdown_deadline)
				shutdown_deadline = now + AGENT_CLOSE_GRACE_MS * 1000000ull;
			if ((!any_out && !any_conn) || now >= shutdown_deadline)
				break;
			timeout = 10;
		}
		for (size_t i = 0; i < opt->n_listen && shutdown_action < 0; i++)
			n = add(pfd, w, n, opt->listen_fds[i], POLLIN, W_LISTEN, 0, 0);
		n = add(pfd, w, n, sfd, POLLIN, W_SIGNAL, 0, 0);
		for (size_t ci = 0; ci < AGENT_MAX_CONNS; ci++) {
			struct conn *c = conns[ci];
			if (!c)
				continue;
			short ev = 0;
			size_t room = conn_out_room(c);
			if (!c->closing && c->in_len < AP_MAX_FRAME && room >= 2 * AP_MAX_FRAME)
				ev |= POLLIN;
			if (c->out_len > c->out_off)
				ev |= POLLOUT;
			n = add(pfd, w, n, c->fd, ev, W_CONN, ci, 0);
			if (c->closing || !c->hello) {
				uint64_t end = c->closing ? c->close_deadline_ns : c->hello_deadline_ns;
				uint64_t left = end > now ? end - now : 0;
				int ms = (int)(left / 1000000u) + 1;
				timeout = timeout < 0 ? ms : MIN(timeout, ms);
				if (c->closing)
					continue;
			}
			for (size_t si = 0; si < AGENT_MAX_STREAMS; si++) {
				struct stream *s = c->streams[si];
				if (!s || s->kind != SK_EXEC)
					continue;
				bool out_ok = s->send.avail > 0 && room >= 3 * AP_MAX_FRAME;
				if (s->proc.out_fd >= 0 && out_ok)
					n = add(pfd, w, n, s->proc.out_fd, POLLIN, W_STDOUT, ci, si);
				if (s->proc.err_fd >= 0 && out_ok)
					n = add(pfd, w, n, s->proc.err_fd, POLLIN, W_STDERR, ci, si);
				if (s->proc.in_fd >= 0 && s->stdin_len > 0)
					n = add(pfd, w, n, s->proc.in_fd, POLLOUT, W_STDIN, ci, si);
				if (s->proc.status_fd >= 0)
					n = add(pfd, w, n, s->proc.status_fd, POLLIN, W_STATUS, ci, si);
				if (s->proc.deadline_ns && !s->proc.timed_out) {
					uint64_t left = s->proc.deadline_ns > now ? s->proc.deadline_ns - now : 0;
					int ms = (int)MIN(left / 1000000u + 1, (uint64_t)INT32_MAX);
					timeout = timeout < 0 ? ms : MIN(timeout, ms);
				}
			}
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			short rev = pfd[i].revents;
			struct conn *c = conns[w[i].conn];
			struct stream *s;
			if (!rev)
				continue;
			switch (w[i].kind) {
			case W_LISTEN:
				accept_conn(pfd[i].fd);
				continue;
			case W_SIGNAL:
				if (on_signal(sfd, opt->pid1))
					shutdown_action = AP_SHUTDOWN_AGENT;
				continue;
			case W_CONN:
				if (c && c->fd == pfd[i].fd)
					on_conn_event(w[i].conn, rev);
				continue;
			default:
				break;
			}
			/* A stream's fd: the stream may have gone with its connection. */
			if (!c || c->closing || !(s = c->streams[w[i].stream]))
				continue;
			if (w[i].kind == W_STDOUT && s->proc.out_fd == pfd[i].fd)
				pump_output(c, s, &s->proc.out_fd, AP_STDOUT);
			else if (w[i].kind == W_STDERR && s->proc.err_fd == pfd[i].fd)
				pump_output(c, s, &s->proc.err_fd, AP_STDERR);
			else if (w[i].kind == W_STDIN && s->proc.in_fd == pfd[i].fd)
				pump_stdin(c, s);
			else if (w[i].kind == W_STATUS && s->proc.status_fd == pfd[i].fd)
				exec_read_status(&s->proc);
		}
	}
	for (size_t ci = 0; ci < AGENT_MAX_CONNS; ci++)
		if (conns[ci])
			conn_close(ci);
	/*
	 * The supervisors are sweeping their process trees: wait for them (5 s at most), since
	 * their own children would outlive them if the agent ended first.
	 */
	uint64_t end = exec_now_ns() + 5000000000ull;
	while (waitpid(-1, NULL, WNOHANG) >= 0 && exec_now_ns() < end)
		usleep(5000);
	close(sfd);
	return rc < 0 ? rc : shutdown_action;
}
