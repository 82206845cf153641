/*
 * virtio-vsock's connection multiplexer without KVM or sockets: a fake host side records
 * what kiln did to each "socket", and the tests play the guest with packet headers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/vsock_mux.h"

#define CID 3
#define NFD 1100

/* One fake host socket. */
struct fake_sock {
	bool open;
	bool watch_in, watch_out;
	uint32_t conn;
	bool shut_wr;
	bool eof;		/* reads return 0 once `in` is empty */
	int recv_err;		/* a negative errno for the next read */
	int send_err;
	size_t send_room;	/* bytes the socket accepts before EAGAIN */
	uint8_t in[256 * 1024];	/* host to guest, not read yet */
	size_t in_len;
	uint8_t *out;		/* guest to host, as received */
	size_t out_len;
	char ok_line[32];
};

static struct fake_sock *socks;
static int next_fd;
static uint32_t listening_port = 1234;	/* the port a guest may connect to */
static int connects;

static struct vsock_mux mux;
static struct vsock_conn *conns;
static uint8_t *pool;
static size_t pool_size;

static int f_connect(void *be, uint32_t port)
{
	(void)be;
	connects++;
	if (port != listening_port || next_fd >= NFD)
		return -ECONNREFUSED;
	int fd = next_fd++;
	socks[fd].open = true;
	socks[fd].send_room = SIZE_MAX;
	return fd;
}

static ssize_t f_recv(void *be, int fd, const struct iovec *iov, int n)
{
	(void)be;
	struct fake_sock *s = &socks[fd];
	cr_assert(s->open, "read from closed fd %d", fd);
	if (s->recv_err)
		return s->recv_err;
	if (!s->in_len)
		return s->eof ? 0 : -EAGAIN;
	size_t done = 0;
	for (int i = 0; i < n && done < s->in_len; i++) {
		size_t k = MIN(iov[i].iov_len, s->in_len - done);
		memcpy(iov[i].iov_base, s->in + done, k);
		done += k;
	}
	memmove(s->in, s->in + done, s->in_len - done);
	s->in_len -= done;
	return (ssize_t)done;
}

static ssize_t f_send(void *be, int fd, const struct iovec *iov, int n)
{
	(void)be;
	struct fake_sock *s = &socks[fd];
	cr_assert(s->open, "write to closed fd %d", fd);
	cr_assert(!s->shut_wr, "write after shutdown on fd %d", fd);
	if (s->send_err)
		return s->send_err;
	if (!s->send_room)
		return -EAGAIN;
	size_t done = 0;
	for (int i = 0; i < n && s->send_room; i++) {
		size_t k = MIN(iov[i].iov_len, s->send_room);
		s->out = realloc(s->out, s->out_len + k);
		memcpy(s->out + s->out_len, iov[i].iov_base, k);
		s->out_len += k;
		s->send_room -= k;
		done += k;
		if (k < iov[i].iov_len)
			break;
	}
	return (ssize_t)done;
}

static int f_established(void *be, int fd, uint32_t port)
{
	(void)be;
	snprintf(socks[fd].ok_line, sizeof(socks[fd].ok_line), "OK %u\n", port);
	return 0;
}

static void f_shutdown(void *be, int fd)
{
	(void)be;
	socks[fd].shut_wr = true;
}

static void f_watch(void *be, int fd, uint32_t conn, bool in, bool out)
{
	(void)be;
	cr_assert(socks[fd].open);
	socks[fd].conn = conn;
	socks[fd].watch_in = in;
	socks[fd].watch_out = out;
}

static void f_close(void *be, int fd)
{
	(void)be;
	cr_assert(socks[fd].open, "fd %d closed twice", fd);
	socks[fd].open = false;
}

static const struct vsock_backend_ops fake_ops = {
	.connect = f_connect, .recv = f_recv, .send = f_send, .established = f_established,
	.shutdown_send = f_shutdown, .watch = f_watch, .close = f_close,
};

static void setup(void)
{
	socks = calloc(NFD, sizeof(*socks));
	next_fd = 3;
	connects = 0;
	conns = calloc(VSOCK_MAX_CONNS, sizeof(*conns));
	pool_size = (size_t)VSOCK_MAX_CONNS * VSOCK_CONN_BUF;
	pool = mmap(NULL, pool_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert(socks && conns && pool != MAP_FAILED);
	vsock_mux_init(&mux, CID, &fake_ops, NULL, conns, pool);
}

static void teardown(void)
{
	vsock_mux_close_all(&mux);
	for (int i = 0; i < NFD; i++)
		free(socks[i].out);
	free(socks);
	free(conns);
	munmap(pool, pool_size);
}

TestSuite(vsock, .init = setup, .fini = teardown);

/* ---- the guest's side ---- */

static uint32_t guest_fwd_cnt = 0, guest_buf_alloc = 256 * 1024;

static struct vsock_hdr ghdr(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	return (struct vsock_hdr){
		.src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
		.dst_port = dst_port, .type = VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = guest_buf_alloc, .fwd_cnt = guest_fwd_cnt,
	};
}

static int send_op(uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = ghdr(gport, hport, op);
	h.flags = flags;
	return vsock_mux_guest_packet(&mux, &h, NULL, 0);
}

static int send_data(uint32_t gport, uint32_t hport, const void *data, uint32_t len)
{
	struct vsock_hdr h = ghdr(gport, hport, VSOCK_OP_RW);
	struct iovec iov = { (void *)data, len };
	h.len = len;
	return vsock_mux_guest_packet(&mux, &h, &iov, 1);
}

static uint8_t rxbuf[VSOCK_MAX_PKT_DATA];

/* The next packet for the guest, with room for `cap` bytes; false when none. */
static bool recv_pkt(struct vsock_hdr *h, size_t cap)
{
	struct iovec iov[2] = { { rxbuf, cap / 2 }, { rxbuf + cap / 2, cap - cap / 2 } };
	memset(h, 0, sizeof(*h));
	return vsock_mux_next_rx(&mux, h, iov, 2, cap) == 1;
}

static void expect_pkt(uint16_t op, uint32_t hport, uint32_t gport, struct vsock_hdr *out)
{
	struct vsock_hdr h;
	cr_assert(recv_pkt(&h, 4096), "no packet; expected op %u", op);
	cr_assert_eq(h.op, op, "op %u, expected %u", h.op, op);
	cr_assert_eq(h.src_cid, VSOCK_HOST_CID);
	cr_assert_eq(h.dst_cid, CID);
	cr_assert_eq(h.src_port, hport);
	cr_assert_eq(h.dst_port, gport);
	cr_assert_eq(h.type, VSOCK_TYPE_STREAM);
	if (out)
		*out = h;
}

static void expect_nothing(void)
{
	struct vsock_hdr h;
	cr_assert_not(recv_pkt(&h, 4096), "unexpected packet op %u", h.op);
}

/* A guest connection from guest port gport to host port 1234: returns its fd. */
static int open_guest_conn(uint32_t gport)
{
	int fd = next_fd;
	cr_assert_eq(send_op(gport, listening_port, VSOCK_OP_REQUEST, 0), 0);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_RESPONSE, listening_port, gport, &h);
	cr_assert_eq(h.buf_alloc, VSOCK_CONN_BUF);
	cr_assert_eq(h.fwd_cnt, 0);
	cr_assert(socks[fd].open);
	return fd;
}

/* ---- header and CONNECT line ---- */

Test(vsock, header_is_little_endian_and_44_bytes)
{
	struct vsock_hdr h = {
		.src_cid = 0x0102030405060708ULL, .dst_cid = 2, .src_port = 0x11223344,
		.dst_port = 0x55667788, .len = 0x99aabbcc, .type = 1, .op = 5, .flags = 3,
		.buf_alloc = 0xdeadbeef, .fwd_cnt = 0xcafef00d,
	};
	uint8_t raw[VSOCK_HDR_SIZE], want[VSOCK_HDR_SIZE] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 2, 0, 0, 0, 0, 0, 0, 0,
		0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, 0xcc, 0xbb, 0xaa, 0x99,
		1, 0, 5, 0, 3, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 0x0d, 0xf0, 0xfe, 0xca,
	};
	vsock_hdr_encode(&h, raw);
	cr_assert_arr_eq(raw, want, sizeof(raw));
	struct vsock_hdr back;
	vsock_hdr_decode(raw, &back);
	cr_assert(back.src_cid == h.src_cid && back.dst_cid == h.dst_cid &&
		  back.src_port == h.src_port && back.dst_port == h.dst_port &&
		  back.len == h.len && back.type == h.type && back.op == h.op &&
		  back.flags == h.flags && back.buf_alloc == h.buf_alloc &&
		  back.fwd_cnt == h.fwd_cnt);
}

Test(vsock, connect_line)
{
	uint32_t port = 0;
	cr_assert_eq(vsock_parse_connect("CONNECT 52\n", 11, &port), 1);
	cr_assert_eq(port, 52);
	cr_assert_eq(vsock_parse_connect("CONNECT  4294967295 \n", 21, &port), 1);
	cr_assert_eq(port, 4294967295u);
	cr_assert_eq(vsock_parse_connect("CONNECT 7\r\n", 11, &port), 1);
	cr_assert_eq(port, 7);
	/* Prefixes of a valid line want more. */
	cr_assert_eq(vsock_parse_connect("", 0, &port), 0);
	cr_assert_eq(vsock_parse_connect("CONN", 4, &port), 0);
	cr_assert_eq(vsock_parse_connect("CONNECT", 7, &port), 0);
	cr_assert_eq(vsock_parse_connect("CONNECT 12", 10, &port), 0);
	/* Anything else is refused. */
	cr_assert_eq(vsock_parse_connect("connect 5\n", 10, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECTX", 8, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT\n", 8, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT x\n", 10, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT 4294967296\n", 19, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT 5 6\n", 12, &port), -EINVAL);
	cr_assert_eq(vsock_parse_connect("CONNECT 5\nabc", 13, &port), -EINVAL);
	char longline[40];
	memset(longline, ' ', sizeof(longline));
	memcpy(longline, "CONNECT 5", 9);
	cr_assert_eq(vsock_parse_connect(longline, sizeof(longline), &port), -EINVAL);
}

/* ---- connections the guest opens ---- */

Test(vsock, guest_connect_to_listened_port_gets_response)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(mux.stats.conns_opened, 1);
	/* No data yet: the socket is watched for input. */
	expect_nothing();
	cr_assert(socks[fd].watch_in);
}

Test(vsock, guest_connect_to_unlistened_port_is_reset)
{
	cr_assert_eq(send_op(40000, 999, VSOCK_OP_REQUEST, 0), 0);
	expect_pkt(VSOCK_OP_RST, 999, 40000, NULL);
	expect_nothing();
	cr_assert_eq(mux.stats.conns_refused, 1);
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, packets_of_no_connection_are_reset_but_rst_is_not_answered)
{
	char d[4] = "abcd";
	cr_assert_eq(send_data(40000, listening_port, d, 4), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_eq(send_op(40001, listening_port, VSOCK_OP_SHUTDOWN, 3), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40001, NULL);
	cr_assert_eq(send_op(40002, listening_port, VSOCK_OP_RST, 0), 0);
	expect_nothing();
	cr_assert_eq(connects, 0, "no host connection for a non-REQUEST");
}

Test(vsock, rst_ring_is_bounded)
{
	for (uint32_t i = 0; i < VSOCK_RST_RING + 10; i++)
		cr_assert_eq(send_op(50000 + i, 1, VSOCK_OP_CREDIT_UPDATE, 0), 0);
	cr_assert_eq(mux.stats.rst_dropped, 10);
	unsigned int n = 0;
	struct vsock_hdr h;
	while (recv_pkt(&h, 4096))
		n++;
	cr_assert_eq(n, VSOCK_RST_RING);
}

Test(vsock, misaddressed_packets_are_dropped)
{
	struct vsock_hdr h = ghdr(40000, listening_port, VSOCK_OP_REQUEST);
	h.src_cid = CID + 1;	/* spoofed source */
	cr_assert_eq(vsock_mux_guest_packet(&mux, &h, NULL, 0), -EINVAL);
	h = ghdr(40000, listening_port, VSOCK_OP_REQUEST);
	h.dst_cid = 7;
	cr_assert_eq(vsock_mux_guest_packet(&mux, &h, NULL, 0), -EINVAL);
	expect_nothing();
	cr_assert_eq(connects, 0);
	cr_assert_eq(mux.stats.bad_packets, 2);
}

Test(vsock, bad_type_or_op_resets)
{
	struct vsock_hdr h = ghdr(40000, listening_port, VSOCK_OP_REQUEST);
	h.type = 2;	/* SEQPACKET: not offered */
	cr_assert_eq(vsock_mux_guest_packet(&mux, &h, NULL, 0), -EINVAL);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	int fd = open_guest_conn(40001);
	h = ghdr(40001, listening_port, 99);
	cr_assert_eq(vsock_mux_guest_packet(&mux, &h, NULL, 0), -EINVAL);
	expect_pkt(VSOCK_OP_RST, listening_port, 40001, NULL);
	cr_assert_not(socks[fd].open, "the connection's socket is closed");
	cr_assert_eq(mux.nr_conns, 0);
}

/* ---- data and credit ---- */

Test(vsock, guest_data_reaches_the_host_and_fwd_cnt_counts_it)
{
	int fd = open_guest_conn(40000);
	static uint8_t d[40000];
	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7);
	cr_assert_eq(send_data(40000, listening_port, d, sizeof(d)), 0);
	cr_assert_eq(socks[fd].out_len, sizeof(d));
	cr_assert_arr_eq(socks[fd].out, d, sizeof(d));
	/* 40000 >= the threshold: kiln tells the guest its credit came back. */
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_CREDIT_UPDATE, listening_port, 40000, &h);
	cr_assert_eq(h.fwd_cnt, sizeof(d));
	cr_assert_eq(h.buf_alloc, VSOCK_CONN_BUF);
	cr_assert_eq(mux.stats.tx_bytes, sizeof(d));
}

Test(vsock, slow_host_reader_is_buffered_up_to_the_credit_then_reset)
{
	int fd = open_guest_conn(40000);
	static uint8_t d[VSOCK_MAX_PKT_DATA];
	memset(d, 0x5a, sizeof(d));
	socks[fd].send_room = 1000;
	cr_assert_eq(send_data(40000, listening_port, d, sizeof(d)), 0);
	cr_assert_eq(socks[fd].out_len, 1000);
	cr_assert(socks[fd].watch_out, "waits for the socket to be writable");
	cr_assert_eq(send_data(40000, listening_port, d, sizeof(d)), 0);
	cr_assert_eq(mux.conns[socks[fd].conn].buf_len, 2 * sizeof(d) - 1000);
	/* The guest had 128 KiB of credit and used it all but 1000 bytes: a third packet lies. */
	cr_assert_eq(send_data(40000, listening_port, d, 2000), 0);
	cr_assert_eq(mux.stats.credit_violations, 1);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
}

Test(vsock, buffered_data_is_flushed_in_order_when_writable)
{
	int fd = open_guest_conn(40000);
	static uint8_t a[30000], b[30000];
	for (size_t i = 0; i < sizeof(a); i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(i >> 3);
	}
	socks[fd].send_room = 0;
	cr_assert_eq(send_data(40000, listening_port, a, sizeof(a)), 0);
	cr_assert_eq(send_data(40000, listening_port, b, sizeof(b)), 0);
	cr_assert_eq(socks[fd].out_len, 0);
	expect_nothing();	/* nothing forwarded: no credit update */
	socks[fd].send_room = SIZE_MAX;
	vsock_mux_ready(&mux, socks[fd].conn, false, true);
	cr_assert_eq(socks[fd].out_len, sizeof(a) + sizeof(b));
	cr_assert_arr_eq(socks[fd].out, a, sizeof(a));
	cr_assert_arr_eq(socks[fd].out + sizeof(a), b, sizeof(b));
	cr_assert_not(socks[fd].watch_out);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_CREDIT_UPDATE, listening_port, 40000, &h);
	cr_assert_eq(h.fwd_cnt, sizeof(a) + sizeof(b));
}

Test(vsock, host_data_is_bounded_by_the_guest_credit)
{
	int fd = open_guest_conn(40000);
	for (size_t i = 0; i < 10000; i++)
		socks[fd].in[i] = (uint8_t)(i * 13);
	socks[fd].in_len = 10000;
	guest_buf_alloc = 3000;
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_CREDIT_UPDATE, 0), 0);
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_RW, listening_port, 40000, &h);
	cr_assert_eq(h.len, 3000, "RW of %u bytes with 3000 of credit", h.len);
	for (size_t i = 0; i < 3000; i++)
		cr_assert_eq(rxbuf[i], (uint8_t)(i * 13));
	/* No credit left: one CREDIT_REQUEST, then silence until the guest updates. */
	expect_pkt(VSOCK_OP_CREDIT_REQUEST, listening_port, 40000, NULL);
	expect_nothing();
	cr_assert_not(socks[fd].watch_in, "no credit: the socket is not read");
	guest_fwd_cnt = 3000;	/* the guest application read it all */
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_CREDIT_UPDATE, 0), 0);
	expect_pkt(VSOCK_OP_RW, listening_port, 40000, &h);
	cr_assert_eq(h.len, 3000);
	cr_assert_eq(rxbuf[0], (uint8_t)(3000 * 13));
	guest_fwd_cnt = 0;
	guest_buf_alloc = 256 * 1024;
}

Test(vsock, lying_fwd_cnt_gives_no_credit)
{
	int fd = open_guest_conn(40000);
	socks[fd].in_len = 100;
	guest_fwd_cnt = 5000;	/* more than kiln ever sent */
	guest_buf_alloc = 1000;
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_CREDIT_UPDATE, 0), 0);
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	struct vsock_hdr h;
	cr_assert(recv_pkt(&h, 4096));
	cr_assert(h.op == VSOCK_OP_CREDIT_REQUEST || (h.op == VSOCK_OP_RW && h.len <= 1000),
		  "op %u len %u", h.op, h.len);
	guest_fwd_cnt = 0;
	guest_buf_alloc = 256 * 1024;
}

Test(vsock, packet_size_is_bounded_by_the_rx_buffer)
{
	int fd = open_guest_conn(40000);
	socks[fd].in_len = sizeof(socks[fd].in);
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	struct vsock_hdr h;
	cr_assert(recv_pkt(&h, 100));
	cr_assert_eq(h.op, VSOCK_OP_RW);
	cr_assert_eq(h.len, 100);
	cr_assert(recv_pkt(&h, sizeof(rxbuf)));
	cr_assert_eq(h.len, VSOCK_MAX_PKT_DATA);
}

Test(vsock, a_buffer_with_no_room_for_data_takes_control_packets_only)
{
	int fd = open_guest_conn(40000);
	open_guest_conn(40001);
	socks[fd].in_len = 1000;
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	cr_assert_eq(send_op(40001, listening_port, VSOCK_OP_CREDIT_REQUEST, 0), 0);
	struct vsock_hdr h;
	/* A header-only buffer: the credit update fits, the data does not (and no hang). */
	cr_assert(recv_pkt(&h, 0));
	cr_assert_eq(h.op, VSOCK_OP_CREDIT_UPDATE);
	cr_assert_eq(h.dst_port, 40001);
	cr_assert_not(recv_pkt(&h, 0));
	cr_assert_not(recv_pkt(&h, 0));
	/* The data waits for a buffer with room. */
	cr_assert(recv_pkt(&h, 4096));
	cr_assert_eq(h.op, VSOCK_OP_RW);
	cr_assert_eq(h.len, 1000);
}

Test(vsock, credit_request_is_answered)
{
	open_guest_conn(40000);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_CREDIT_REQUEST, 0), 0);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_CREDIT_UPDATE, listening_port, 40000, &h);
	cr_assert_eq(h.buf_alloc, VSOCK_CONN_BUF);
}

/* ---- ends ---- */

Test(vsock, guest_shutdown_both_is_reset_at_once_and_the_data_still_goes_out)
{
	int fd = open_guest_conn(40000);
	socks[fd].send_room = 0;
	cr_assert_eq(send_data(40000, listening_port, "hello", 5), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, 3), 0);
	/* The guest need not wait for a slow host reader (Linux gives up after 8 s). */
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	expect_nothing();
	cr_assert(socks[fd].open, "the host has not had the data yet");
	cr_assert(socks[fd].watch_out);
	/* Packets for the old ports are for no connection now. */
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_CREDIT_UPDATE, 0), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	socks[fd].send_room = SIZE_MAX;
	vsock_mux_ready(&mux, socks[fd].conn, false, true);
	cr_assert_eq(socks[fd].out_len, 5);
	cr_assert_arr_eq(socks[fd].out, "hello", 5);
	cr_assert_not(socks[fd].open);
	expect_nothing();
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, guest_shutdown_both_with_nothing_buffered_closes_at_once)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(send_data(40000, listening_port, "hello", 5), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, 3), 0);
	cr_assert_eq(socks[fd].out_len, 5);
	cr_assert(socks[fd].shut_wr);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, guest_rst_after_its_shutdown_send_keeps_the_data)
{
	int fd = open_guest_conn(40000);
	socks[fd].send_room = 2;
	cr_assert_eq(send_data(40000, listening_port, "goodbye", 7), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_RST, 0), 0);
	expect_nothing();	/* no answer to an RST */
	cr_assert(socks[fd].open);
	socks[fd].send_room = SIZE_MAX;
	vsock_mux_ready(&mux, socks[fd].conn, false, true);
	cr_assert_eq(socks[fd].out_len, 7);
	cr_assert_arr_eq(socks[fd].out, "goodbye", 7);
	cr_assert_not(socks[fd].open);
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, guest_rst_without_shutdown_drops_the_data)
{
	int fd = open_guest_conn(40000);
	socks[fd].send_room = 0;
	cr_assert_eq(send_data(40000, listening_port, "abort", 5), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_RST, 0), 0);
	cr_assert_not(socks[fd].open, "an abort is an abort");
	cr_assert_eq(socks[fd].out_len, 0);
	expect_nothing();
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, lingering_data_to_a_host_that_went_away_is_dropped)
{
	int fd = open_guest_conn(40000);
	socks[fd].send_room = 0;
	cr_assert_eq(send_data(40000, listening_port, "lost", 4), 0);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, 3), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	socks[fd].send_err = -EPIPE;
	vsock_mux_ready(&mux, socks[fd].conn, true, false);	/* a hang-up */
	cr_assert_not(socks[fd].open);
	expect_nothing();
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, guest_shutdown_send_half_closes_the_host_socket)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND), 0);
	cr_assert(socks[fd].shut_wr);
	cr_assert(socks[fd].open, "the host may still send");
	memcpy(socks[fd].in, "reply", 5);
	socks[fd].in_len = 5;
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_RW, listening_port, 40000, &h);
	cr_assert_eq(h.len, 5);
	cr_assert_arr_eq(rxbuf, "reply", 5);
	/* The host closes too: SHUTDOWN, then RST ends the connection. */
	socks[fd].eof = true;
	expect_pkt(VSOCK_OP_SHUTDOWN, listening_port, 40000, &h);
	cr_assert_eq(h.flags, VSOCK_SHUTDOWN_SEND);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
}

Test(vsock, data_after_guest_shutdown_send_resets)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND), 0);
	cr_assert_eq(send_data(40000, listening_port, "x", 1), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
}

Test(vsock, host_eof_is_a_shutdown_and_the_guest_may_still_send)
{
	int fd = open_guest_conn(40000);
	socks[fd].eof = true;
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_SHUTDOWN, listening_port, 40000, &h);
	cr_assert_eq(h.flags, VSOCK_SHUTDOWN_SEND);
	expect_nothing();
	cr_assert_eq(send_data(40000, listening_port, "late", 4), 0);
	cr_assert_eq(socks[fd].out_len, 4);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_SHUTDOWN, 3), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
}

Test(vsock, guest_rst_closes_without_a_reply)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_RST, 0), 0);
	cr_assert_not(socks[fd].open);
	expect_nothing();
	cr_assert_eq(mux.nr_conns, 0);
	/* The same ports make a new connection. */
	open_guest_conn(40000);
}

Test(vsock, host_socket_errors_reset)
{
	int fd = open_guest_conn(40000);
	socks[fd].send_err = -EPIPE;
	cr_assert_eq(send_data(40000, listening_port, "x", 1), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
	fd = open_guest_conn(40001);
	socks[fd].recv_err = -ECONNRESET;
	vsock_mux_ready(&mux, socks[fd].conn, true, false);
	expect_pkt(VSOCK_OP_RST, listening_port, 40001, NULL);
	cr_assert_not(socks[fd].open);
}

Test(vsock, request_on_an_open_connection_resets)
{
	int fd = open_guest_conn(40000);
	cr_assert_eq(send_op(40000, listening_port, VSOCK_OP_REQUEST, 0), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 40000, NULL);
	cr_assert_not(socks[fd].open);
}

/* ---- connections the host opens ---- */

Test(vsock, host_connect_request_response_ok)
{
	int fd = next_fd++;
	socks[fd].open = true;
	socks[fd].send_room = SIZE_MAX;
	int c = vsock_mux_host_connect(&mux, fd, 52);
	cr_assert_geq(c, 0);
	struct vsock_hdr h;
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 52, &h);
	cr_assert_eq(socks[fd].ok_line[0], 0, "no OK before the guest accepts");
	cr_assert_eq(send_op(52, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RESPONSE, 0), 0);
	cr_assert_str_eq(socks[fd].ok_line, "OK 1073741824\n");
	cr_assert_eq(mux.stats.conns_opened, 1);
	/* Streams both ways now. */
	cr_assert_eq(send_data(52, VSOCK_LOCAL_PORT_FIRST, "ping", 4), 0);
	cr_assert_eq(socks[fd].out_len, 4);
	memcpy(socks[fd].in, "pong", 4);
	socks[fd].in_len = 4;
	expect_pkt(VSOCK_OP_RW, VSOCK_LOCAL_PORT_FIRST, 52, &h);
	cr_assert_arr_eq(rxbuf, "pong", 4);
	/* A second client gets the next host port. */
	int fd2 = next_fd++;
	socks[fd2].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, fd2, 52), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST + 1, 52, NULL);
}

Test(vsock, host_connect_refused_by_the_guest_closes_the_client)
{
	int fd = next_fd++;
	socks[fd].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, fd, 53), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 53, NULL);
	cr_assert_eq(send_op(53, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RST, 0), 0);
	cr_assert_not(socks[fd].open);
	cr_assert_eq(socks[fd].ok_line[0], 0);
	expect_nothing();
	cr_assert_eq(mux.nr_conns, 0);
}

Test(vsock, host_connect_answered_with_data_resets)
{
	int fd = next_fd++;
	socks[fd].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, fd, 53), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 53, NULL);
	cr_assert_eq(send_data(53, VSOCK_LOCAL_PORT_FIRST, "x", 1), 0);
	expect_pkt(VSOCK_OP_RST, VSOCK_LOCAL_PORT_FIRST, 53, NULL);
	cr_assert_not(socks[fd].open);
}

/* ---- many ---- */

Test(vsock, the_table_is_bounded_and_slots_are_reused)
{
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		cr_assert_eq(send_op(10000 + i, listening_port, VSOCK_OP_REQUEST, 0), 0);
		expect_pkt(VSOCK_OP_RESPONSE, listening_port, 10000 + i, NULL);
	}
	cr_assert_eq(mux.nr_conns, VSOCK_MAX_CONNS);
	int calls = connects;
	cr_assert_eq(send_op(9999, listening_port, VSOCK_OP_REQUEST, 0), 0);
	expect_pkt(VSOCK_OP_RST, listening_port, 9999, NULL);
	cr_assert_eq(connects, calls, "no host connect when the table is full");
	int fd = next_fd;
	cr_assert_eq(send_op(10005, listening_port, VSOCK_OP_RST, 0), 0);
	cr_assert_eq(send_op(9999, listening_port, VSOCK_OP_REQUEST, 0), 0);
	expect_pkt(VSOCK_OP_RESPONSE, listening_port, 9999, NULL);
	cr_assert(socks[fd].open);
	/* Each connection is its own: data on one reaches its socket only. */
	cr_assert_eq(send_data(10500, listening_port, "z", 1), 0);
	cr_assert_eq(socks[3 + 500].out_len, 1);
	cr_assert_eq(socks[3 + 501].out_len, 0);
}

Test(vsock, reset_closes_everything_but_requests_the_guest_has_not_seen)
{
	int a = open_guest_conn(40000), b = open_guest_conn(40001);
	/* One host client the guest heard of, one it did not. */
	int seen = next_fd++, unseen = next_fd++;
	socks[seen].open = socks[unseen].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, seen, 9), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 9, NULL);
	cr_assert_geq(vsock_mux_host_connect(&mux, unseen, 10), 0);
	vsock_mux_reset(&mux);
	cr_assert_not(socks[a].open);
	cr_assert_not(socks[b].open);
	cr_assert_not(socks[seen].open);
	cr_assert(socks[unseen].open, "a request the guest never saw waits for the driver");
	cr_assert_eq(mux.nr_conns, 1);
	/* The new driver gets it, and can accept it. */
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST + 1, 10, NULL);
	expect_nothing();
	cr_assert_eq(send_op(10, VSOCK_LOCAL_PORT_FIRST + 1, VSOCK_OP_RESPONSE, 0), 0);
	cr_assert_str_eq(socks[unseen].ok_line, "OK 1073741825\n");
	vsock_mux_close_all(&mux);
	cr_assert_not(socks[unseen].open);
	cr_assert_eq(mux.nr_conns, 0);
}

/* ---- a guest that never answers ---- */

Test(vsock, host_request_unanswered_for_2_s_is_given_up)
{
	int fd = next_fd++, fd2 = next_fd++;
	socks[fd].open = socks[fd2].open = true;
	mux.now_ms = 1000;
	cr_assert_geq(vsock_mux_host_connect(&mux, fd, 52), 0);
	cr_assert_eq(mux.nr_awaiting, 0, "not awaiting before the guest was sent the request");
	vsock_mux_expire(&mux);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 52, NULL);
	cr_assert_eq(mux.nr_awaiting, 1);
	/* A second one, answered in time, is not touched. */
	mux.now_ms = 1500;
	cr_assert_geq(vsock_mux_host_connect(&mux, fd2, 53), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST + 1, 53, NULL);
	cr_assert_eq(mux.nr_awaiting, 2);
	cr_assert_eq(send_op(53, VSOCK_LOCAL_PORT_FIRST + 1, VSOCK_OP_RESPONSE, 0), 0);
	cr_assert_eq(mux.nr_awaiting, 1);
	mux.now_ms = 2999;
	vsock_mux_expire(&mux);
	expect_nothing();
	cr_assert(socks[fd].open);
	mux.now_ms = 1000 + VSOCK_REQUEST_TIMEOUT_MS;
	vsock_mux_expire(&mux);
	expect_pkt(VSOCK_OP_RST, VSOCK_LOCAL_PORT_FIRST, 52, NULL);
	cr_assert_not(socks[fd].open, "the client is closed without an OK");
	cr_assert_eq(socks[fd].ok_line[0], 0);
	cr_assert(socks[fd2].open);
	cr_assert_eq(mux.nr_awaiting, 0);
	cr_assert_eq(mux.stats.requests_timed_out, 1);
	/* A late answer is for no connection. */
	cr_assert_eq(send_op(52, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RESPONSE, 0), 0);
	expect_pkt(VSOCK_OP_RST, VSOCK_LOCAL_PORT_FIRST, 52, NULL);
}

Test(vsock, awaiting_count_follows_resets_and_refusals)
{
	int a = next_fd++, b = next_fd++;
	socks[a].open = socks[b].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, a, 60), 0);
	cr_assert_geq(vsock_mux_host_connect(&mux, b, 61), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST, 60, NULL);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST + 1, 61, NULL);
	cr_assert_eq(mux.nr_awaiting, 2);
	cr_assert_eq(send_op(60, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RST, 0), 0);
	cr_assert_eq(mux.nr_awaiting, 1);
	cr_assert_eq(send_data(61, VSOCK_LOCAL_PORT_FIRST + 1, "x", 1), 0);	/* not an answer */
	cr_assert_eq(mux.nr_awaiting, 0);
	expect_pkt(VSOCK_OP_RST, VSOCK_LOCAL_PORT_FIRST + 1, 61, NULL);
	int c = next_fd++;
	socks[c].open = true;
	cr_assert_geq(vsock_mux_host_connect(&mux, c, 62), 0);
	expect_pkt(VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT_FIRST + 2, 62, NULL);
	vsock_mux_reset(&mux);
	cr_assert_eq(mux.nr_awaiting, 0);
	cr_assert_not(socks[c].open, "a request the guest had seen goes with the reset");
}
