/*
 * virtio-vsock's connection multiplexer: guest stream connections joined to host sockets,
 * with the protocol's credit-based flow control both ways. The guest is hostile: every
 * header field is checked, and a guest that breaks the protocol on a connection gets
 * that connection reset, never more.
 */
#include "vsock_mux.h"

#include <errno.h>
#include <string.h>

#define PENDING_REQUEST		0x01
#define PENDING_RESPONSE	0x02
#define PENDING_SHUTDOWN	0x04
#define PENDING_CREDIT_UPDATE	0x08
#define PENDING_CREDIT_REQUEST	0x10
#define PENDING_RST		0x20

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = le64(raw);
	h->dst_cid = le64(raw + 8);
	h->src_port = le32(raw + 16);
	h->dst_port = le32(raw + 20);
	h->len = le32(raw + 24);
	h->type = le16(raw + 28);
	h->op = le16(raw + 30);
	h->flags = le32(raw + 32);
	h->buf_alloc = le32(raw + 36);
	h->fwd_cnt = le32(raw + 40);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
	put64(raw, h->src_cid);
	put64(raw + 8, h->dst_cid);
	put32(raw + 16, h->src_port);
	put32(raw + 20, h->dst_port);
	put32(raw + 24, h->len);
	put16(raw + 28, h->type);
	put16(raw + 30, h->op);
	put32(raw + 32, h->flags);
	put32(raw + 36, h->buf_alloc);
	put32(raw + 40, h->fwd_cnt);
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char word[] = "CONNECT";
	size_t i = 0, n = MIN(len, (size_t)VSOCK_CONNECT_LINE_MAX);
	uint64_t v = 0;
	unsigned int digits = 0;

	/* Whatever has arrived must be a prefix of a valid line. */
	for (; i < n && i < sizeof(word) - 1; i++)
		if (line[i] != word[i])
			return -EINVAL;
	if (i < sizeof(word) - 1)
		return 0;
	if (i < n && line[i] != ' ' && line[i] != '\t')
		return -EINVAL;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < n && line[i] >= '0' && line[i] <= '9') {
		v = v * 10 + (uint64_t)(line[i++] - '0');
		if (v > UINT32_MAX || ++digits > 10)
			return -EINVAL;
	}
	while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == n)
		return len >= VSOCK_CONNECT_LINE_MAX ? -EINVAL : 0;
	if (line[i] != '\n' || digits == 0 || i + 1 != len)
		return -EINVAL;
	*port = (uint32_t)v;
	return 1;
}

/* ---- connection table ---- */

static uint32_t idx_of(const struct vsock_mux *m, const struct vsock_conn *c)
{
	return (uint32_t)(c - m->conns);
}

static unsigned int bucket(uint32_t local, uint32_t peer)
{
	return ((local * 2654435761u) ^ (peer * 40503u) ^ (peer >> 16)) & (VSOCK_HASH_BUCKETS - 1);
}

static struct vsock_conn *lookup(struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	for (uint16_t i = m->buckets[bucket(local, peer)]; i; i = m->conns[i - 1].hnext) {
		struct vsock_conn *c = &m->conns[i - 1];
		if (c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static void hash_remove(struct vsock_mux *m, struct vsock_conn *c)
{
	uint16_t *p = &m->buckets[bucket(c->local_port, c->peer_port)];
	uint16_t me = (uint16_t)(idx_of(m, c) + 1);

	while (*p && *p != me)
		p = &m->conns[*p - 1].hnext;
	if (*p)
		*p = c->hnext;
	c->hnext = 0;
}

static struct vsock_conn *conn_new(struct vsock_mux *m, uint32_t local, uint32_t peer, int fd)
{
	if (m->nr_conns >= VSOCK_MAX_CONNS)
		return NULL;
	for (unsigned int n = 0; n < VSOCK_MAX_CONNS; n++) {
		unsigned int i = (m->free_hint + n) % VSOCK_MAX_CONNS;
		struct vsock_conn *c = &m->conns[i];
		if (c->state != VSOCK_CONN_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->local_port = local;
		c->peer_port = peer;
		c->buf = m->pool + (size_t)i * VSOCK_CONN_BUF;
		unsigned int b = bucket(local, peer);
		c->hnext = m->buckets[b];
		m->buckets[b] = (uint16_t)(i + 1);
		m->free_hint = (uint16_t)((i + 1) % VSOCK_MAX_CONNS);
		m->nr_conns++;
		return c;
	}
	return NULL;
}

static void slot_free(struct vsock_mux *m, struct vsock_conn *c)
{
	c->state = VSOCK_CONN_FREE;
	m->nr_conns--;
}

/* ---- the list of connections with something for the guest ---- */

static void rxq_push(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->in_rxq)
		return;
	uint16_t me = (uint16_t)(idx_of(m, c) + 1);
	c->in_rxq = true;
	c->rxq_next = 0;
	m->rxq_len++;
	if (m->rxq_tail)
		m->conns[m->rxq_tail - 1].rxq_next = me;
	else
		m->rxq_head = me;
	m->rxq_tail = me;
}

static struct vsock_conn *rxq_pop(struct vsock_mux *m)
{
	if (!m->rxq_head)
		return NULL;
	struct vsock_conn *c = &m->conns[m->rxq_head - 1];
	m->rxq_head = c->rxq_next;
	if (!m->rxq_head)
		m->rxq_tail = 0;
	m->rxq_len--;
	c->in_rxq = false;
	c->rxq_next = 0;
	return c;
}

static void rst_push(struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	if (m->rst_len == VSOCK_RST_RING) {
		m->stats.rst_dropped++;
		return;
	}
	unsigned int i = (m->rst_head + m->rst_len++) % VSOCK_RST_RING;
	m->rst[i].local_port = local;
	m->rst[i].peer_port = peer;
}

/* ---- credit ---- */

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool may_send_data(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && !(c->peer_shut & VSOCK_SHUTDOWN_RCV) &&
	       !(c->local_shut & VSOCK_SHUTDOWN_SEND) && !c->host_eof;
}

/* Data to read from the host, and a way to deliver it (credit, or a credit request). */
static bool data_ready(const struct vsock_conn *c)
{
	return may_send_data(c) && c->host_readable &&
	       (peer_credit(c) > 0 || !c->credit_requested);
}

static void schedule(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_FREE && (c->pending || data_ready(c)))
		rxq_push(m, c);
}

static void update_watch(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->fd < 0 ||
	    (c->state != VSOCK_CONN_ESTABLISHED && c->state != VSOCK_CONN_LINGER))
		return;
	bool in = may_send_data(c) && !c->host_readable;
	bool out = c->buf_len > 0;
	if (in != c->watch_in || out != c->watch_out) {
		c->watch_in = in;
		c->watch_out = out;
		m->ops->watch(m->be, c->fd, idx_of(m, c), in, out);
	}
}

/* The conn's REQUEST is out and unanswered: it counts towards nr_awaiting. */
static bool awaiting(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_CONNECTING && !(c->pending & PENDING_REQUEST);
}

static void release_host(struct vsock_mux *m, struct vsock_conn *c)
{
	if (awaiting(c))
		m->nr_awaiting--;
	if (c->fd >= 0)
		m->ops->close(m->be, c->fd);
	c->fd = -1;
	c->buf_len = c->buf_head = 0;
	c->watch_in = c->watch_out = false;
}

/* The connection ends without a word to the guest (it reset it, or the device resets). */
static void drop(struct vsock_mux *m, struct vsock_conn *c)
{
	release_host(m, c);
	if (c->state != VSOCK_CONN_DYING)
		hash_remove(m, c);
	c->state = VSOCK_CONN_DYING;
	c->pending = 0;
	if (!c->in_rxq)
		slot_free(m, c);	/* else when the rx list reaches it */
}

/* The connection ends abruptly: RST to the guest, the host socket closed. */
static void kill_conn(struct vsock_mux *m, struct vsock_conn *c)
{
	release_host(m, c);
	if (c->state != VSOCK_CONN_DYING)
		hash_remove(m, c);
	c->state = VSOCK_CONN_DYING;
	c->pending = PENDING_RST;
	rxq_push(m, c);
}

/*
 * The guest is done with the connection (it shut both ways, or reset it after shutting
 * its sending side) but the host has not taken all its data yet: the guest gets its
 * RST now if `rst` (a Linux guest gives up waiting for it after 8 s), the host socket
 * keeps its place until the data is out.
 */
static void linger(struct vsock_mux *m, struct vsock_conn *c, bool rst)
{
	hash_remove(m, c);
	c->state = VSOCK_CONN_LINGER;
	c->pending = rst ? PENDING_RST : 0;
	if (rst)
		rxq_push(m, c);
	update_watch(m, c);
}

/* A lingering connection's data is out, or cannot go: close the host socket. */
static void linger_done(struct vsock_mux *m, struct vsock_conn *c)
{
	release_host(m, c);
	c->state = VSOCK_CONN_DYING;	/* an RST still to deliver goes out first */
	if (!c->in_rxq)
		slot_free(m, c);
}

static void maybe_credit_update(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->fwd_cnt - c->last_fwd_cnt_sent >= VSOCK_CREDIT_THRESHOLD) {
		c->pending |= PENDING_CREDIT_UPDATE;
		rxq_push(m, c);
	}
}

/* Both directions are over once the guest's data reached the host: end with an RST. */
static void maybe_finish(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return;
	bool guest_done = (c->peer_shut & VSOCK_SHUTDOWN_SEND) &&
			  ((c->peer_shut & VSOCK_SHUTDOWN_RCV) || c->host_eof);
	if (c->buf_len) {
		if (guest_done)
			linger(m, c, true);
		return;
	}
	if (c->peer_shut & VSOCK_SHUTDOWN_SEND && !c->shut_write_done) {
		c->shut_write_done = true;
		m->ops->shutdown_send(m->be, c->fd);
	}
	if (guest_done)
		kill_conn(m, c);
}

/* ---- guest data to the host ---- */

static void ring_append(struct vsock_conn *c, const struct iovec *iov, int n, size_t skip)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		while (len) {
			uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_CONN_BUF;
			size_t chunk = MIN(len, (size_t)(VSOCK_CONN_BUF - tail));
			memcpy(c->buf + tail, p, chunk);
			c->buf_len += (uint32_t)chunk;
			p += chunk;
			len -= chunk;
		}
	}
}

static void flush_buf(struct vsock_mux *m, struct vsock_conn *c)
{
	bool lingering = c->state == VSOCK_CONN_LINGER;

	while (c->buf_len && (c->state == VSOCK_CONN_ESTABLISHED || lingering)) {
		struct iovec iov[2];
		uint32_t first = MIN(c->buf_len, VSOCK_CONN_BUF - c->buf_head);
		int n = 1;
		iov[0] = (struct iovec){ c->buf + c->buf_head, first };
		if (first < c->buf_len)
			iov[n++] = (struct iovec){ c->buf, c->buf_len - first };
		ssize_t r = m->ops->send(m->be, c->fd, iov, n);
		if (r == -EAGAIN || r == 0)
			break;
		if (r < 0 || (size_t)r > c->buf_len) {
			if (lingering)
				linger_done(m, c);
			else
				kill_conn(m, c);
			return;
		}
		c->buf_head = (c->buf_head + (uint32_t)r) % VSOCK_CONN_BUF;
		c->buf_len -= (uint32_t)r;
		c->fwd_cnt += (uint32_t)r;
	}
	if (lingering) {
		if (!c->buf_len)
			linger_done(m, c);
		return;
	}
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return;
	if (!c->buf_len)
		c->buf_head = 0;
	maybe_credit_update(m, c);
	update_watch(m, c);
	maybe_finish(m, c);
}

static void guest_rw(struct vsock_mux *m, struct vsock_conn *c, const struct iovec *data,
		     int ndata, uint32_t len)
{
	if (c->peer_shut & VSOCK_SHUTDOWN_SEND || len > VSOCK_CONN_BUF - c->buf_len) {
		/* Data after SHUTDOWN(SEND), or beyond the credit kiln gave. */
		m->stats.credit_violations++;
		kill_conn(m, c);
		return;
	}
	if (!len)
		return;
	c->tx_cnt += len;
	m->stats.tx_bytes += len;
	size_t sent = 0;
	if (!c->buf_len) {
		ssize_t r = m->ops->send(m->be, c->fd, data, ndata);
		if (r < 0 && r != -EAGAIN) {
			kill_conn(m, c);
			return;
		}
		sent = r > 0 ? MIN((size_t)r, (size_t)len) : 0;
		c->fwd_cnt += (uint32_t)sent;
	}
	if (sent < len)
		ring_append(c, data, ndata, sent);
	maybe_credit_update(m, c);
	update_watch(m, c);
}

static void guest_shutdown(struct vsock_mux *m, struct vsock_conn *c, uint32_t flags)
{
	c->peer_shut |= (uint8_t)(flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND));
	if (c->peer_shut == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND) ||
	    c->peer_shut & VSOCK_SHUTDOWN_SEND) {
		maybe_finish(m, c);
		if (c->state != VSOCK_CONN_ESTABLISHED)
			return;
	}
	update_watch(m, c);
}

/* ---- packets from the guest ---- */

static void guest_request(struct vsock_mux *m, const struct vsock_hdr *h)
{
	if (m->nr_conns >= VSOCK_MAX_CONNS) {
		m->stats.conns_refused++;
		rst_push(m, h->dst_port, h->src_port);
		return;
	}
	int fd = m->ops->connect(m->be, h->dst_port);
	if (fd < 0) {
		m->stats.conns_refused++;
		rst_push(m, h->dst_port, h->src_port);
		return;
	}
	struct vsock_conn *c = conn_new(m, h->dst_port, h->src_port, fd);
	if (!c) {	/* cannot happen: the count was checked */
		m->ops->close(m->be, fd);
		rst_push(m, h->dst_port, h->src_port);
		return;
	}
	c->state = VSOCK_CONN_ESTABLISHED;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->host_readable = true;	/* read at once; EAGAIN arms the watch */
	c->pending = PENDING_RESPONSE;
	m->stats.conns_opened++;
	rxq_push(m, c);
}

int vsock_mux_guest_packet(struct vsock_mux *m, const struct vsock_hdr *h,
			   const struct iovec *data, int ndata)
{
	if (h->src_cid != m->guest_cid || h->dst_cid != VSOCK_HOST_CID) {
		m->stats.bad_packets++;
		return -EINVAL;
	}
	struct vsock_conn *c = lookup(m, h->dst_port, h->src_port);
	if (h->type != VSOCK_TYPE_STREAM || h->op == VSOCK_OP_INVALID ||
	    h->op > VSOCK_OP_CREDIT_REQUEST) {
		m->stats.bad_packets++;
		if (c)
			kill_conn(m, c);
		else if (h->op != VSOCK_OP_RST)
			rst_push(m, h->dst_port, h->src_port);
		return -EINVAL;
	}
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			guest_request(m, h);
		else if (h->op != VSOCK_OP_RST)
			rst_push(m, h->dst_port, h->src_port);
		return 0;
	}

	/* Every packet carries the guest's receive credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (peer_credit(c) > 0)
		c->credit_requested = false;

	if (h->op == VSOCK_OP_RST) {
		/* After its SHUTDOWN(SEND), the data the guest sent is still the host's. */
		if (c->state == VSOCK_CONN_ESTABLISHED && c->buf_len &&
		    (c->peer_shut & VSOCK_SHUTDOWN_SEND))
			linger(m, c, false);
		else
			drop(m, c);
		return 0;
	}
	if (c->state == VSOCK_CONN_CONNECTING) {
		if (h->op != VSOCK_OP_RESPONSE || c->pending & PENDING_REQUEST) {
			kill_conn(m, c);
			return 0;
		}
		m->nr_awaiting--;
		c->state = VSOCK_CONN_ESTABLISHED;
		if (m->ops->established(m->be, c->fd, c->local_port) < 0) {
			kill_conn(m, c);
			return 0;
		}
		m->stats.conns_opened++;
		c->host_readable = true;
		schedule(m, c);
		return 0;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		guest_rw(m, c, data, ndata, h->len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PENDING_CREDIT_UPDATE;
		break;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(m, c, h->flags);
		break;
	default:	/* REQUEST or RESPONSE on an established connection */
		kill_conn(m, c);
		break;
	}
	schedule(m, c);
	return 0;
}

/* ---- packets to the guest ---- */

static void fill(const struct vsock_mux *m, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		 uint16_t op)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = m->guest_cid,
		.src_port = local,
		.dst_port = peer,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = VSOCK_CONN_BUF,
	};
}

static void fill_conn(const struct vsock_mux *m, struct vsock_conn *c, struct vsock_hdr *h,
		      uint16_t op)
{
	fill(m, h, c->local_port, c->peer_port, op);
	h->fwd_cnt = c->fwd_cnt;
	c->last_fwd_cnt_sent = c->fwd_cnt;
	c->pending &= (uint8_t)~PENDING_CREDIT_UPDATE;
}

bool vsock_mux_has_rx(const struct vsock_mux *m)
{
	return m->rst_len || m->rxq_head;
}

/*
 * Read host data into dst for an RW packet: 1 with *h filled, 0 for nothing this time,
 * -1 when dst has no room for data.
 */
static int rx_data(struct vsock_mux *m, struct vsock_conn *c, struct vsock_hdr *h,
		   const struct iovec *dst, int ndst, size_t cap)
{
	uint32_t credit = peer_credit(c);
	if (!credit) {
		c->credit_requested = true;
		fill_conn(m, c, h, VSOCK_OP_CREDIT_REQUEST);
		return 1;
	}
	size_t want = MIN(MIN(cap, (size_t)credit), (size_t)VSOCK_MAX_PKT_DATA);
	struct iovec iov[16];
	int n = 0;
	size_t have = 0;
	for (int i = 0; i < ndst && n < (int)ARRAY_SIZE(iov) && have < want; i++) {
		size_t len = MIN(dst[i].iov_len, want - have);
		if (!len)
			continue;
		iov[n++] = (struct iovec){ dst[i].iov_base, len };
		have += len;
	}
	if (!have)
		return -1;
	ssize_t r = m->ops->recv(m->be, c->fd, iov, n);
	if (r == -EAGAIN) {
		c->host_readable = false;
		update_watch(m, c);
		return 0;
	}
	if (r < 0 || (size_t)r > have) {
		kill_conn(m, c);
		return 0;
	}
	if (r == 0) {
		/* The host will send no more; the guest may still. */
		c->host_eof = true;
		c->host_readable = false;
		c->local_shut |= VSOCK_SHUTDOWN_SEND;
		fill_conn(m, c, h, VSOCK_OP_SHUTDOWN);
		h->flags = VSOCK_SHUTDOWN_SEND;
		update_watch(m, c);
		maybe_finish(m, c);
		return 1;
	}
	c->rx_cnt += (uint32_t)r;
	m->stats.rx_bytes += (uint64_t)r;
	fill_conn(m, c, h, VSOCK_OP_RW);
	h->len = (uint32_t)r;
	return 1;
}

int vsock_mux_next_rx(struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *dst,
		      int ndst, size_t cap)
{
	/*
	 * A connection with data but no room for it in this buffer goes back on the list;
	 * meeting it again means every other one was looked at: nothing fits.
	 */
	struct vsock_conn *no_room = NULL;

	for (;;) {
		if (m->rst_len) {
			unsigned int i = m->rst_head;
			m->rst_head = (m->rst_head + 1) % VSOCK_RST_RING;
			m->rst_len--;
			fill(m, h, m->rst[i].local_port, m->rst[i].peer_port, VSOCK_OP_RST);
			m->stats.rst_sent++;
			return 1;
		}
		struct vsock_conn *c = rxq_pop(m);
		if (!c)
			return 0;
		if (c == no_room) {
			rxq_push(m, c);
			return 0;
		}
		if (c->state == VSOCK_CONN_LINGER) {
			if (c->pending & PENDING_RST) {
				c->pending = 0;
				fill(m, h, c->local_port, c->peer_port, VSOCK_OP_RST);
				m->stats.rst_sent++;
				return 1;
			}
			continue;
		}
		if (c->state == VSOCK_CONN_DYING) {
			bool rst = c->pending & PENDING_RST;
			if (rst) {
				fill(m, h, c->local_port, c->peer_port, VSOCK_OP_RST);
				m->stats.rst_sent++;
			}
			c->pending = 0;
			slot_free(m, c);
			if (rst)
				return 1;
			continue;
		}
		static const struct { uint8_t bit; uint16_t op; } ctl[] = {
			{ PENDING_REQUEST, VSOCK_OP_REQUEST },
			{ PENDING_RESPONSE, VSOCK_OP_RESPONSE },
			{ PENDING_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
			{ PENDING_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
		};
		int got = 0;
		for (size_t i = 0; i < ARRAY_SIZE(ctl) && !got; i++) {
			if (c->pending & ctl[i].bit) {
				c->pending &= (uint8_t)~ctl[i].bit;
				fill_conn(m, c, h, ctl[i].op);
				got = 1;
			}
		}
		if (got && h->op == VSOCK_OP_REQUEST) {
			c->deadline_ms = m->now_ms + VSOCK_REQUEST_TIMEOUT_MS;
			m->nr_awaiting++;
		}
		if (!got && data_ready(c))
			got = rx_data(m, c, h, dst, ndst, cap);
		if (got < 0) {
			got = 0;
			if (!no_room)
				no_room = c;
		}
		schedule(m, c);
		if (got)
			return 1;
	}
}

/* ---- the host side ---- */

int vsock_mux_host_connect(struct vsock_mux *m, int fd, uint32_t port)
{
	struct vsock_conn *c = NULL;

	if (m->nr_conns < VSOCK_MAX_CONNS) {
		/* A free host port: at most VSOCK_MAX_CONNS of them can be taken. */
		for (unsigned int n = 0; n <= VSOCK_MAX_CONNS; n++) {
			uint32_t p = m->next_local_port++;
			if (m->next_local_port == 0 || m->next_local_port == UINT32_MAX)
				m->next_local_port = VSOCK_LOCAL_PORT_FIRST;
			if (!lookup(m, p, port)) {
				c = conn_new(m, p, port, fd);
				break;
			}
		}
	}
	if (!c) {
		m->ops->close(m->be, fd);
		return -ENOSPC;
	}
	c->state = VSOCK_CONN_CONNECTING;
	c->pending = PENDING_REQUEST;
	m->ops->watch(m->be, fd, idx_of(m, c), false, false);
	rxq_push(m, c);
	return (int)idx_of(m, c);
}

void vsock_mux_ready(struct vsock_mux *m, uint32_t conn, bool in, bool out)
{
	if (conn >= VSOCK_MAX_CONNS)
		return;
	struct vsock_conn *c = &m->conns[conn];
	if (c->state == VSOCK_CONN_LINGER) {
		if (out || in)	/* in: a hang-up, which the write reports */
			flush_buf(m, c);
		return;
	}
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return;
	if (out)
		flush_buf(m, c);
	if (in && c->state == VSOCK_CONN_ESTABLISHED) {
		c->host_readable = true;
		update_watch(m, c);
		schedule(m, c);
	}
}

void vsock_mux_expire(struct vsock_mux *m)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS && m->nr_awaiting; i++) {
		struct vsock_conn *c = &m->conns[i];
		if (awaiting(c) && m->now_ms >= c->deadline_ms) {
			m->stats.requests_timed_out++;
			kill_conn(m, c);
		}
	}
}

void vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, const struct vsock_backend_ops *ops,
		    void *be, struct vsock_conn *conns, uint8_t *pool)
{
	memset(m, 0, sizeof(*m));
	m->guest_cid = guest_cid;
	m->ops = ops;
	m->be = be;
	m->conns = conns;
	m->pool = pool;
	m->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	memset(conns, 0, sizeof(*conns) * VSOCK_MAX_CONNS);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		conns[i].fd = -1;
}

/* A host client's request the guest has not seen yet: it survives a driver reset. */
static bool unseen_request(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_CONNECTING && (c->pending & PENDING_REQUEST);
}

static void reset(struct vsock_mux *m, bool keep_unseen)
{
	memset(m->buckets, 0, sizeof(m->buckets));
	m->nr_conns = 0;
	m->nr_awaiting = 0;
	m->free_hint = 0;
	m->rxq_head = m->rxq_tail = 0;
	m->rxq_len = 0;
	m->rst_head = m->rst_len = 0;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &m->conns[i];
		if (keep_unseen && unseen_request(c)) {
			/* Back in the table and the rx list, as when the client connected. */
			unsigned int b = bucket(c->local_port, c->peer_port);
			c->hnext = m->buckets[b];
			m->buckets[b] = (uint16_t)(i + 1);
			c->in_rxq = false;
			m->nr_conns++;
			rxq_push(m, c);
			continue;
		}
		if (c->state != VSOCK_CONN_FREE && c->fd >= 0)
			m->ops->close(m->be, c->fd);
		memset(c, 0, sizeof(*c));
		c->fd = -1;
	}
}

void vsock_mux_reset(struct vsock_mux *m)
{
	reset(m, true);
}

void vsock_mux_close_all(struct vsock_mux *m)
{
	reset(m, false);
}
