/*
 * virtio-vsock's connections (virtio 1.2, 5.10): the packet header, and the multiplexer
 * that joins guest stream connections to host sockets with credit-based flow control.
 * It knows neither virtqueues nor sockets: the device hands it guest packets and asks it
 * for packets to deliver; the host side is reached through struct vsock_backend_ops.
 * Everything is allocated once, at init: no allocation per packet or per connection.
 */
#ifndef KILN_VIRTIO_VSOCK_MUX_H
#define KILN_VIRTIO_VSOCK_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "util.h"

#define VSOCK_HOST_CID		2
#define VSOCK_HDR_SIZE		44	/* struct virtio_vsock_hdr, little-endian, packed */
#define VSOCK_TYPE_STREAM	1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV	1	/* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND	2	/* the sender will send no more */

/* Limits. */
#define VSOCK_MAX_CONNS		1024			/* connections at once */
#define VSOCK_CONN_BUF		(128u * 1024)		/* buf_alloc kiln advertises, per connection */
#define VSOCK_MAX_PKT_DATA	(64u * 1024)		/* payload of one packet, either way */
#define VSOCK_CREDIT_THRESHOLD	(VSOCK_CONN_BUF / 4)	/* forwarded bytes that earn an update */
#define VSOCK_RST_RING		256			/* RSTs for packets of no connection */
#define VSOCK_LOCAL_PORT_FIRST	(1u << 30)		/* host ports of host-initiated connections */
#define VSOCK_REQUEST_TIMEOUT_MS 2000			/* for the guest to answer a REQUEST
							   (Firecracker's CONN_REQUEST_TIMEOUT_MS) */

/* A packet header, in host byte order. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);

/*
 * The first line of a host-initiated connection: "CONNECT <port>\n" (spaces around the
 * port tolerated, as Firecracker splits on whitespace). `line` holds the bytes read so far.
 * Returns 1 with *port set once a full valid line is there, 0 when more bytes are needed
 * (no newline yet, at most VSOCK_CONNECT_LINE_MAX bytes), -EINVAL when it cannot be one.
 */
#define VSOCK_CONNECT_LINE_MAX	32
int vsock_parse_connect(const char *line, size_t len, uint32_t *port) MUST_CHECK;

/*
 * The host side as the multiplexer sees it. A connection's socket is `fd`; the backend
 * reports readiness back with vsock_mux_ready() naming the connection index it was told
 * in watch(). Results are byte counts or -errno (-EAGAIN: would block).
 */
struct vsock_backend_ops {
	/* The guest asked for host port `port`: a connected socket (watching nothing) or -errno. */
	int (*connect)(void *be, uint32_t port);
	ssize_t (*recv)(void *be, int fd, const struct iovec *iov, int iovcnt);	/* 0: EOF */
	ssize_t (*send)(void *be, int fd, const struct iovec *iov, int iovcnt);
	/* A host-initiated connection was accepted by the guest: tell the client (OK <port>). */
	int (*established)(void *be, int fd, uint32_t local_port);
	/* The guest will send no more: end the host socket's write side. */
	void (*shutdown_send)(void *be, int fd);
	/* Report readability and/or writability of fd as connection `conn`. */
	void (*watch)(void *be, int fd, uint32_t conn, bool in, bool out);
	void (*close)(void *be, int fd);
};

/* Counters, for metrics and tests. */
struct vsock_mux_stats {
	uint64_t conns_opened;		/* both directions, established */
	uint64_t conns_refused;		/* guest REQUESTs refused by the host, or table full */
	uint64_t rst_sent;
	uint64_t rst_dropped;		/* RST ring full: the RST was not sent */
	uint64_t bad_packets;		/* dropped: wrong cid, type... */
	uint64_t credit_violations;	/* the guest sent beyond the credit it had */
	uint64_t requests_timed_out;	/* host-initiated REQUESTs the guest never answered */
	uint64_t tx_bytes;		/* guest to host */
	uint64_t rx_bytes;		/* host to guest */
};

enum vsock_conn_state {
	VSOCK_CONN_FREE = 0,
	VSOCK_CONN_CONNECTING,		/* host-initiated: REQUEST to send, or sent */
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_DYING,		/* RST queued: freed once it is delivered */
	VSOCK_CONN_LINGER,		/* the guest is done with it; its last data is still
					   going to the host socket, which closes after */
};

struct vsock_conn {
	uint8_t state;
	uint8_t pending;		/* VSOCK_PENDING_* control packets to deliver */
	uint8_t peer_shut;		/* VSOCK_SHUTDOWN_* the guest announced */
	uint8_t local_shut;		/* VSOCK_SHUTDOWN_* kiln announced to the guest */
	bool host_readable;		/* the socket may have data: read it when credit allows */
	bool host_eof;
	bool credit_requested;		/* a CREDIT_REQUEST went out since the last credit */
	bool in_rxq;
	bool watch_in, watch_out;
	bool shut_write_done;
	int fd;
	uint32_t local_port;		/* host side (dst of guest packets) */
	uint32_t peer_port;		/* guest side */
	/* The guest's receive credit. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, rx_cnt;
	/* Kiln's: bytes the guest sent, and those forwarded to the socket. */
	uint32_t tx_cnt, fwd_cnt, last_fwd_cnt_sent;
	/* Guest data the socket has not taken yet: a ring in buf, at most VSOCK_CONN_BUF. */
	uint8_t *buf;
	uint32_t buf_head, buf_len;
	uint64_t deadline_ms;		/* CONNECTING, REQUEST sent: when it is given up */
	uint16_t hnext;			/* hash chain: index + 1, 0 ends */
	uint16_t rxq_next;		/* rx list: index + 1, 0 ends */
};

#define VSOCK_HASH_BUCKETS	1024

struct vsock_mux {
	uint64_t guest_cid;
	const struct vsock_backend_ops *ops;
	void *be;
	struct vsock_conn *conns;	/* VSOCK_MAX_CONNS */
	uint8_t *pool;			/* VSOCK_MAX_CONNS * VSOCK_CONN_BUF, given at init */
	unsigned int nr_conns;
	unsigned int nr_awaiting;	/* REQUESTs sent that the guest has not answered */
	uint64_t now_ms;		/* a monotonic clock, set by the caller before each call */
	uint16_t free_hint;
	uint16_t buckets[VSOCK_HASH_BUCKETS];	/* index + 1 */
	uint16_t rxq_head, rxq_tail;		/* index + 1 */
	unsigned int rxq_len;
	uint32_t next_local_port;
	/* RSTs answering packets that belong to no connection (a bounded ring). */
	struct { uint32_t local_port, peer_port; } rst[VSOCK_RST_RING];
	unsigned int rst_head, rst_len;
	struct vsock_mux_stats stats;
};

/*
 * `conns` holds VSOCK_MAX_CONNS entries and `pool` VSOCK_MAX_CONNS * VSOCK_CONN_BUF bytes
 * (touched only as connections need to buffer); both stay the caller's.
 */
void vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, const struct vsock_backend_ops *ops,
		    void *be, struct vsock_conn *conns, uint8_t *pool);
/*
 * The driver reset the device: close every connection and forget everything queued, but
 * for host clients whose request the guest has not been sent yet (a client may connect
 * before the guest's driver is up: its request waits for the driver).
 */
void vsock_mux_reset(struct vsock_mux *m);
/* Close every connection, host clients waiting included (the device goes away). */
void vsock_mux_close_all(struct vsock_mux *m);

/*
 * A packet the guest sent: its header, and `data` holding h->len bytes (the device has
 * checked that the chain has them, and that h->len <= VSOCK_MAX_PKT_DATA). Returns 0, or
 * -EINVAL for a packet dropped as malformed (counted).
 */
int vsock_mux_guest_packet(struct vsock_mux *m, const struct vsock_hdr *h,
			   const struct iovec *data, int ndata);

/* Whether vsock_mux_next_rx may have a packet to deliver. */
bool vsock_mux_has_rx(const struct vsock_mux *m);
/*
 * The next packet for the guest: the header in *h and its payload (RW: at most `cap`
 * bytes, read from the host socket straight into `dst`). Returns 1 for a packet, 0 when
 * there was nothing to deliver after all.
 */
int vsock_mux_next_rx(struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *dst,
		      int ndst, size_t cap);

/*
 * A host client asked for guest port `port` on socket fd (its CONNECT line was read).
 * The multiplexer owns fd from now on (it closes it on failure too). Returns the
 * connection index, or -errno (-ENOSPC: table full).
 */
int vsock_mux_host_connect(struct vsock_mux *m, int fd, uint32_t port);
/* The backend saw connection `conn`'s socket readable (or hung up) and/or writable. */
void vsock_mux_ready(struct vsock_mux *m, uint32_t conn, bool in, bool out);
/*
 * Give up host-initiated requests the guest has not answered within
 * VSOCK_REQUEST_TIMEOUT_MS of m->now_ms (RST to the guest, the client closed without an
 * OK), as Firecracker does. Call it while nr_awaiting is not 0, about every 500 ms.
 */
void vsock_mux_expire(struct vsock_mux *m);

#endif
