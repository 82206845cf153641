/*
 * virtio-vsock's guest packet path against a hostile guest: the input is guest memory
 * (the tx and rx queues' rings and buffers) and a script of host-side behaviour (which
 * ports listen, how much each socket takes or gives, hang-ups). Every tx chain goes
 * through vsock_tx_chain to the multiplexer, every packet for the guest through
 * vsock_rx_chain into an rx chain. Invariants: packets to the guest are well formed and
 * fit their buffer, no connection buffers more than its credit, a closed socket is never
 * used, and after a reset no socket is left open.
 */
/* coverage: vmm/devices/virtio/vsock.c vmm/devices/virtio/vsock_mux.c */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/vsock.h"
#include "devices/virtio/vsock_mux.h"
#include "fuzz.h"

#define BASE 0x10000ULL
#define MEM_SIZE 0x10000u	/* tx rings at +0, rx rings at +0x3000, buffers after 0x6000 */
#define CID 3
#define NFD 256

static const uint8_t *script;
static size_t script_len, script_pos;

static uint8_t next_byte(void)
{
	return script_len ? script[script_pos++ % script_len] : 0;
}

static struct { bool open; bool shut; uint64_t in_left; } socks[NFD];
static int nfd_next;
static uint64_t host_received;

static int f_connect(void *be, uint32_t port)
{
	(void)be;
	if (!(port & 1) || nfd_next >= NFD)
		return -ECONNREFUSED;
	int fd = nfd_next++;
	socks[fd].open = true;
	socks[fd].in_left = (uint64_t)next_byte() * 1000;
	return fd;
}

static ssize_t f_recv(void *be, int fd, const struct iovec *iov, int n)
{
	(void)be;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "read from closed fd %d", fd);
	uint8_t b = next_byte();
	if (b == 0xff)
		return -ECONNRESET;
	if (!socks[fd].in_left)
		return b & 1 ? 0 : -EAGAIN;
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(iov[i].iov_len <= VSOCK_MAX_PKT_DATA, "iov %zu", iov[i].iov_len);
		total += iov[i].iov_len;
	}
	size_t k = MIN(total, (size_t)MIN(socks[fd].in_left, (uint64_t)(b + 1) * 97));
	size_t done = 0;
	for (int i = 0; i < n && done < k; i++) {
		size_t c = MIN(iov[i].iov_len, k - done);
		memset(iov[i].iov_base, 0xab, c);
		done += c;
	}
	socks[fd].in_left -= done;
	return (ssize_t)done;
}

static ssize_t f_send(void *be, int fd, const struct iovec *iov, int n)
{
	(void)be;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "write to closed fd %d", fd);
	FUZZ_CHECK(!socks[fd].shut, "write after shutdown on fd %d", fd);
	uint8_t b = next_byte();
	if (b == 0xfe)
		return -EPIPE;
	if (b & 1)
		return -EAGAIN;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	size_t k = MIN(total, (size_t)b * 300);
	host_received += k;
	return (ssize_t)k;
}

static int f_established(void *be, int fd, uint32_t port)
{
	(void)be;
	(void)port;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "OK on closed fd %d", fd);
	return next_byte() == 0xfd ? -EIO : 0;
}

static void f_shutdown(void *be, int fd)
{
	(void)be;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "shutdown of closed fd %d", fd);
	socks[fd].shut = true;
}

static void f_watch(void *be, int fd, uint32_t conn, bool in, bool out)
{
	(void)be;
	(void)in;
	(void)out;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "watch of closed fd %d", fd);
	FUZZ_CHECK(conn < VSOCK_MAX_CONNS, "conn %u", conn);
}

static void f_close(void *be, int fd)
{
	(void)be;
	FUZZ_CHECK(fd >= 0 && fd < NFD && socks[fd].open, "fd %d closed twice", fd);
	socks[fd].open = false;
}

static const struct vsock_backend_ops fake_ops = {
	.connect = f_connect, .recv = f_recv, .send = f_send, .established = f_established,
	.shutdown_send = f_shutdown, .watch = f_watch, .close = f_close,
};

static void check_conns(const struct vsock_mux *m)
{
	unsigned int live = 0, awaiting = 0;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &m->conns[i];
		if (c->state == VSOCK_CONN_FREE)
			continue;
		live++;
		awaiting += c->state == VSOCK_CONN_CONNECTING && !(c->pending & 0x01);
		FUZZ_CHECK(c->buf_len <= VSOCK_CONN_BUF, "conn %u buffers %u", i, c->buf_len);
		FUZZ_CHECK(c->state != VSOCK_CONN_LINGER || (c->fd >= 0 && c->buf_len),
			   "conn %u lingers with fd %d and %u bytes", i, c->fd, c->buf_len);
		if (c->state == VSOCK_CONN_ESTABLISHED || c->state == VSOCK_CONN_LINGER)
			FUZZ_CHECK(c->tx_cnt - c->fwd_cnt == c->buf_len,
				   "conn %u: tx_cnt %u fwd_cnt %u buffered %u", i, c->tx_cnt,
				   c->fwd_cnt, c->buf_len);
		if (c->fd >= 0)
			FUZZ_CHECK(socks[c->fd].open, "conn %u holds closed fd %d", i, c->fd);
	}
	FUZZ_CHECK(live == m->nr_conns, "%u live, nr_conns %u", live, m->nr_conns);
	unsigned int listed = 0;
	for (uint16_t i = m->rxq_head; i && listed <= VSOCK_MAX_CONNS; i = m->conns[i - 1].rxq_next)
		listed++;
	FUZZ_CHECK(listed == m->rxq_len, "%u on the rx list, rxq_len %u", listed, m->rxq_len);
	FUZZ_CHECK(awaiting == m->nr_awaiting, "%u awaiting, nr_awaiting %u", awaiting,
		   m->nr_awaiting);
}

static void setup_queue(struct virtq *q, const struct guest_mem *gm, uint64_t at, uint8_t shift)
{
	virtq_init(q, gm, VIRTQ_MAX_SIZE);
	if (virtq_set_size(q, 1u << shift) < 0)
		FUZZ_CHECK(0, "size %u refused", 1u << shift);
	q->desc_gpa = at;
	q->avail_gpa = at + 0x1000;
	q->used_gpa = at + 0x2000;
}

static void drain_rx(struct vsock_mux *m, struct virtq *rx)
{
	static struct virtq_chain chain;
	uint32_t len;

	for (int n = 0; n < 2 * VIRTQ_MAX_SIZE && vsock_mux_has_rx(m); n++) {
		int ret = virtq_pop(rx, &chain);
		if (ret <= 0)
			return;
		ret = vsock_rx_chain(m, &chain, &len);
		if (ret < 0) {
			FUZZ_CHECK(chain.nr_readable || chain.writable_len < VSOCK_HDR_SIZE,
				   "usable chain refused");
			return;
		}
		if (ret == 0) {
			virtq_unpop(rx);
			return;
		}
		FUZZ_CHECK(len >= VSOCK_HDR_SIZE && len <= chain.writable_len, "len %u of %llu", len,
			   (unsigned long long)chain.writable_len);
		uint8_t raw[VSOCK_HDR_SIZE];
		/* The header went to the chain's first writable bytes. */
		size_t got = 0;
		for (unsigned int i = chain.nr_readable; i < chain.nr && got < sizeof(raw); i++) {
			size_t k = MIN(chain.iov[i].iov_len, sizeof(raw) - got);
			memcpy(raw + got, chain.iov[i].iov_base, k);
			got += k;
		}
		struct vsock_hdr h;
		vsock_hdr_decode(raw, &h);
		FUZZ_CHECK(h.src_cid == VSOCK_HOST_CID && h.dst_cid == CID, "cids %llu %llu",
			   (unsigned long long)h.src_cid, (unsigned long long)h.dst_cid);
		FUZZ_CHECK(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST, "op %u", h.op);
		FUZZ_CHECK(h.type == VSOCK_TYPE_STREAM, "type %u", h.type);
		FUZZ_CHECK(h.len == len - VSOCK_HDR_SIZE, "hdr len %u, used %u", h.len, len);
		FUZZ_CHECK(h.op == VSOCK_OP_RW || h.len == 0, "op %u carries %u bytes", h.op, h.len);
		FUZZ_CHECK(h.len <= VSOCK_MAX_PKT_DATA, "len %u", h.len);
		virtq_push(rx, chain.head, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[MEM_SIZE] __attribute__((aligned(16)));
	static struct vsock_conn conns[VSOCK_MAX_CONNS];
	static uint8_t *pool;
	static struct virtq_chain chain;
	static struct vsock_mux mux;
	struct guest_mem gm;
	struct virtq tx, rx;

	if (!pool) {
		pool = mmap(NULL, (size_t)VSOCK_MAX_CONNS * VSOCK_CONN_BUF, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		FUZZ_CHECK(pool != MAP_FAILED, "mmap");
	}
	if (size < 4)
		return 0;
	uint8_t shifts = data[0], features = data[1];
	size_t script_size = data[2] | (size_t)data[3] << 8;
	data += 4;
	size -= 4;
	script_size = MIN(script_size, size);
	script = data;
	script_len = script_size;
	script_pos = 0;
	data += script_size;
	size -= script_size;

	memset(socks, 0, sizeof(socks));
	nfd_next = 3;
	host_received = 0;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data, MIN(size, sizeof(mem)));
	gm_init_buffer(&gm, BASE, mem, sizeof(mem));
	setup_queue(&tx, &gm, BASE, shifts % 9);
	setup_queue(&rx, &gm, BASE + 0x3000, (shifts >> 4) % 9);
	if (virtq_enable(&tx, features & 1, features & 2) < 0 ||
	    virtq_enable(&rx, features & 1, features & 2) < 0)
		return 0;
	vsock_mux_init(&mux, CID, &fake_ops, NULL, conns, pool);

	/* Host clients asking for guest ports, before the guest sends anything. */
	for (unsigned int i = 0, n = next_byte() % 4; i < n && nfd_next < NFD; i++) {
		int fd = nfd_next++;
		socks[fd].open = true;
		socks[fd].in_left = (uint64_t)next_byte() * 500;
		(void)vsock_mux_host_connect(&mux, fd, next_byte());
	}
	drain_rx(&mux, &rx);
	for (int n = 0; n < 2 * VIRTQ_MAX_SIZE; n++) {
		int ret = virtq_pop(&tx, &chain);
		if (ret <= 0)
			break;
		vsock_tx_chain(&mux, &chain);
		virtq_push(&tx, chain.head, 0);
		/* Host sockets become ready, as the script says. */
		uint8_t b = next_byte();
		if (b & 0x80)
			vsock_mux_ready(&mux, next_byte() % 8, b & 1, b & 2);
		/* Time passes: up to 2.5 s a packet, and requests time out. */
		mux.now_ms += (uint64_t)next_byte() * 10;
		if (b & 0x40)
			vsock_mux_expire(&mux);
		check_conns(&mux);
		drain_rx(&mux, &rx);
		check_conns(&mux);
	}
	for (uint32_t i = 0; i < 8; i++)
		vsock_mux_ready(&mux, i, true, true);
	check_conns(&mux);
	drain_rx(&mux, &rx);
	check_conns(&mux);
	FUZZ_CHECK(mux.stats.tx_bytes >= host_received, "host got %llu of %llu bytes",
		   (unsigned long long)host_received, (unsigned long long)mux.stats.tx_bytes);
	vsock_mux_reset(&mux);
	check_conns(&mux);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		FUZZ_CHECK(mux.conns[i].state == VSOCK_CONN_FREE ||
			   (mux.conns[i].state == VSOCK_CONN_CONNECTING && mux.conns[i].pending),
			   "conn %u in state %u survived a reset", i, mux.conns[i].state);
	vsock_mux_close_all(&mux);
	for (int fd = 0; fd < NFD; fd++)
		FUZZ_CHECK(!socks[fd].open, "fd %d left open after reset", fd);
	return 0;
}
