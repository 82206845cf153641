/*
 * Drives kiln's virtio-vsock with raw packets through the real MMIO transport, with the
 * host side played by tests/helpers/vsock_peer: an echo client that asks for guest port
 * 5000 through uds_path, and an echo server on <uds_path>_7000.
 *   1. host-initiated: REQUEST to 5000 answered, the client's data echoed back, the
 *      client's end (SHUTDOWN from kiln) answered with SHUTDOWN, then kiln's RST;
 *   2. guest-initiated: REQUEST to 7000, data out, SHUTDOWN(SEND), the echo back, RST;
 *   3. a REQUEST to 7001 (nobody listens), data on no connection, an unknown op, a
 *      seqpacket request and a length beyond the buffer are reset; a chain shorter than
 *      a header and a spoofed source CID are dropped without an answer.
 * Prints one line per step; kiln's log and the helpers' output tell the rest.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define HDR 44
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define RXBUF 2048
#define BUF_ALLOC 65536
#define SPINS 20000000		/* polls of a used ring before giving up */

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct vq rx_vq, tx_vq, ev_vq;
static struct vring rxq, txq, evq;
static u8 rxbufs[VQ_N][RXBUF] __attribute__((aligned(16)));
static u8 txbuf[HDR + 1024] __attribute__((aligned(16)));
static struct vdev d;
static u64 cid;
static u32 fwd_cnt;		/* bytes of the current connection consumed */

static void send(u32 src, u32 dst, u16 op, u32 flags, const u8 *data, u32 len)
{
	struct hdr *h = (struct hdr *)txbuf;
	*h = (struct hdr){ cid, 2, src, dst, len, 1, op, flags, BUF_ALLOC, fwd_cnt };
	memcpy(txbuf + HDR, data, len);
	tx_vq.desc[0] = (struct vq_desc){ (u64)txbuf, HDR + len, 0, 0 };
	vring_post(&d, &txq, 0);
	u32 used;
	if (vring_wait(&txq, &used, SPINS) < 0)
		puts("vsock: tx stuck\n");
}

/* The next packet from kiln into *h and data; 0, or -1 when none came. */
static int recv(struct hdr *h, u8 *data, u32 *len)
{
	u32 used;
	long head = vring_wait(&rxq, &used, SPINS);
	if (head < 0 || head >= VQ_N || used < HDR || used > RXBUF)
		return -1;
	memcpy(h, rxbufs[head], HDR);
	*len = used - HDR;
	if (h->len != *len)
		puts("vsock: header length differs from the used length\n");
	memcpy(data, rxbufs[head] + HDR, *len);
	vring_post(&d, &rxq, (u16)head);	/* the buffer goes back at once */
	return 0;
}

static u8 data[RXBUF];

/* Step 1: the host's echo client, through uds_path, asks for port 5000. */
static void host_initiated(void)
{
	struct hdr h;
	u32 len, echoed = 0;

	if (recv(&h, data, &len) < 0 || h.op != OP_REQUEST || h.dst_port != 5000) {
		puts("vsock: no REQUEST for port 5000\n");
		return;
	}
	u32 host = h.src_port;
	puts("vsock: request from host port ");
	put_dec(host);
	puts("\n");
	fwd_cnt = 0;
	send(5000, host, OP_RESPONSE, 0, 0, 0);
	for (;;) {
		if (recv(&h, data, &len) < 0) {
			puts("vsock: host connection stalled\n");
			return;
		}
		if (h.src_port != host || h.dst_port != 5000) {
			puts("vsock: packet for another connection\n");
			continue;
		}
		if (h.op == OP_RW) {
			fwd_cnt += len;
			/* Echo in pieces of at most 1024 bytes. */
			for (u32 off = 0; off < len; off += 1024) {
				u32 n = len - off < 1024 ? len - off : 1024;
				send(5000, host, OP_RW, 0, data + off, n);
			}
			echoed += len;
		} else if (h.op == OP_CREDIT_REQUEST) {
			send(5000, host, OP_CREDIT_UPDATE, 0, 0, 0);
		} else if (h.op == OP_SHUTDOWN) {
			send(5000, host, OP_SHUTDOWN, 3, 0, 0);
		} else if (h.op == OP_RST) {
			break;
		}
	}
	puts("vsock: host connection echoed ");
	put_dec(echoed);
	puts(" bytes, then reset\n");
}

/* Step 2: a connection to the host's echo server on <uds_path>_7000. */
static void guest_initiated(void)
{
	static u8 out[1000];
	struct hdr h;
	u32 len, got = 0, bad = 0, shut = 0;

	for (u32 i = 0; i < sizeof(out); i++)
		out[i] = (u8)(i * 7 + 3);
	fwd_cnt = 0;
	send(1024, 7000, OP_REQUEST, 0, 0, 0);
	if (recv(&h, data, &len) < 0 || h.op != OP_RESPONSE || h.src_port != 7000) {
		puts("vsock: port 7000 did not answer with RESPONSE\n");
		return;
	}
	puts("vsock: connected to host port 7000\n");
	send(1024, 7000, OP_RW, 0, out, 600);
	send(1024, 7000, OP_RW, 0, out + 600, 400);
	send(1024, 7000, OP_SHUTDOWN, 2, 0, 0);	/* SEND: the server sees EOF */
	for (;;) {
		if (recv(&h, data, &len) < 0) {
			puts("vsock: guest connection stalled\n");
			return;
		}
		if (h.op == OP_RW) {
			for (u32 i = 0; i < len; i++)
				bad |= got + i >= sizeof(out) || data[i] != out[got + i];
			got += len;
			fwd_cnt += len;
		} else if (h.op == OP_SHUTDOWN) {
			shut = h.flags;
		} else if (h.op == OP_RST) {
			break;
		}
	}
	puts("vsock: echo from host port 7000: ");
	put_dec(got);
	puts(bad ? " bytes, WRONG" : " bytes, exact");
	puts(shut ? ", shutdown " : ", no shutdown ");
	put_dec(shut);
	puts(", then reset\n");
}

/* A raw packet: `hdr_len` bytes of the chain (the header may be cut short), any fields. */
static void send_raw(u64 src_cid, u16 type, u16 op, u32 src, u32 hdr_len_field, u32 chain_len)
{
	struct hdr *h = (struct hdr *)txbuf;
	*h = (struct hdr){ src_cid, 2, src, 7000, hdr_len_field, type, op, 0, BUF_ALLOC, 0 };
	tx_vq.desc[0] = (struct vq_desc){ (u64)txbuf, chain_len, 0, 0 };
	vring_post(&d, &txq, 0);
	u32 used;
	if (vring_wait(&txq, &used, SPINS) < 0)
		puts("vsock: tx stuck\n");
}

/* The next packet must be an RST to guest port `port` (nothing for what came before). */
static void expect_rst(u32 port, const char *what)
{
	struct hdr h;
	u32 len;
	int ok = recv(&h, data, &len) == 0 && h.op == OP_RST && h.dst_port == port;
	puts("vsock: ");
	puts(what);
	puts(ok ? ": reset\n" : ": NOT reset\n");
}

/*
 * Step 3: nothing listens on 7001; data on no connection; lies in headers. Packets kiln
 * drops without an answer are each followed by one it must reset, so that an answer to
 * the dropped one would show.
 */
static void refused_and_lies(void)
{
	send(1025, 7001, OP_REQUEST, 0, 0, 0);
	expect_rst(1025, "request to port 7001");
	send(1026, 7000, OP_RW, 0, (const u8 *)"stray", 5);
	expect_rst(1026, "data on no connection");
	send_raw(cid, 1, OP_REQUEST, 1027, 0, 20);		/* shorter than a header: dropped */
	send_raw(cid + 1, 1, OP_REQUEST, 1028, 0, HDR);		/* spoofed source: dropped */
	send_raw(cid, 2, OP_REQUEST, 1029, 0, HDR);		/* seqpacket: not offered */
	expect_rst(1029, "short, spoofed, then seqpacket request");
	send_raw(cid, 1, 42, 1030, 0, HDR);
	expect_rst(1030, "unknown op");
	send_raw(cid, 1, OP_RW, 1031, 60000, HDR + 5);		/* length beyond the buffer */
	expect_rst(1031, "length beyond the buffer");
}

void guest_main(u8 *bp)
{
	map_mmio_hole();
	d.base = virtio_find(bp, 19, 0);
	if (!d.base || virtio_negotiate(&d, 0) < 0) {
		puts("vsock: not found or refused\n");
		return;
	}
	vring_setup(&d, &rxq, &rx_vq, 0, VQ_N);
	vring_setup(&d, &txq, &tx_vq, 1, VQ_N);
	vring_setup(&d, &evq, &ev_vq, 2, VQ_N);
	vw(&d, VM_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	cid = vr(&d, VM_CONFIG) | (u64)vr(&d, VM_CONFIG + 4) << 32;
	puts("vsock: cid ");
	put_dec(cid);
	puts("\n");
	for (u16 i = 0; i < VQ_N; i++) {
		rx_vq.desc[i] = (struct vq_desc){ (u64)rxbufs[i], RXBUF, D_WRITE, 0 };
		vring_post(&d, &rxq, i);
	}
	host_initiated();
	guest_initiated();
	refused_and_lies();
	puts("vsock: done\n");
}
