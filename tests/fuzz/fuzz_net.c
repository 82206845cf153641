/*
 * virtio-net's packet paths against a hostile guest: the input is guest memory (the rx
 * and tx queues' rings and buffers), the features the driver accepted, and a script of
 * the backend's behaviour (frames of any length arriving, the host side full or failing).
 * Invariants: only the guest's readable buffers go to the backend, never more than one
 * frame's worth; every used element fits its chain; a delivered frame's header says how
 * many buffers it took; the counters add up; a device that asked for a reset is left alone.
 */
/* coverage: vmm/devices/virtio/net.c */
#include <errno.h>
#include <string.h>

#include "backends/net.h"
#include "devices/virtio/net.h"
#include "devices/virtio/queue.h"
#include "fuzz.h"

#define BASE 0x10000ULL
#define MEM_SIZE 0x20000u	/* rx rings at +0, tx rings at +0x3000, buffers after 0x6000 */

static const uint8_t *script;
static size_t script_len, script_pos;
static uint8_t mem[MEM_SIZE] __attribute__((aligned(16)));
static uint64_t frames_given, bytes_sent;
static bool needs_reset;

static uint8_t next_byte(void)
{
	return script_len ? script[script_pos++ % script_len] : 0;
}

static bool in_guest(const void *p, size_t len)
{
	const uint8_t *b = p;
	return b >= mem && len <= MEM_SIZE && b + len <= mem + MEM_SIZE;
}

static ssize_t f_recv(struct net_backend *be, const struct iovec *iov, int n)
{
	(void)be;
	FUZZ_CHECK(n == 1 && iov[0].iov_len >= NET_BUF_MAX, "rx into %d iovs", n);
	uint8_t b = next_byte();
	if (b < 0x40 || frames_given >= 64)
		return -EAGAIN;
	if (b == 0xff)
		return -EIO;
	/* Mostly small frames, now and then one of any length up to the largest. */
	size_t len = b & 1 ? ((size_t)next_byte() << 8 | next_byte()) % (NET_BUF_MAX + 1)
			   : (size_t)next_byte() * 7;
	/* Zeros: a guest may alias its buffers with its own rings, which then read 0. */
	memset(iov[0].iov_base, 0, len);
	frames_given++;
	return (ssize_t)len;
}

static ssize_t f_send(struct net_backend *be, const struct iovec *iov, int n)
{
	(void)be;
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(in_guest(iov[i].iov_base, iov[i].iov_len), "tx iov %d outside RAM", i);
		total += iov[i].iov_len;
	}
	FUZZ_CHECK(total >= VIRTIO_NET_HDR_SIZE && total <= NET_BUF_MAX, "tx frame of %zu", total);
	uint8_t b = next_byte();
	if (b == 0xfe)
		return -EINVAL;
	if (b >= 0xf0)
		return -EAGAIN;
	bytes_sent += total;
	return (ssize_t)total;
}

static int f_set_offload(struct net_backend *be, unsigned int offloads)
{
	(void)be;
	(void)offloads;
	return 0;
}

static void f_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fake_ops = {
	.recv = f_recv, .send = f_send, .set_offload = f_set_offload, .destroy = f_destroy,
};

static bool t_live(const struct virtio_dev *dev)
{
	(void)dev;
	return !needs_reset;
}

static void t_signal(struct virtio_dev *dev)
{
	(void)dev;
}

static void t_needs_reset(struct virtio_dev *dev, const char *why)
{
	(void)dev;
	FUZZ_CHECK(why && *why, "a reset with no reason");
	needs_reset = true;
}

static void t_config_changed(struct virtio_dev *dev)
{
	(void)dev;
}

static const struct virtio_transport_ops transport = {
	.live = t_live, .signal_used = t_signal, .needs_reset = t_needs_reset,
	.config_changed = t_config_changed,
};

static void setup_queue(struct virtq *q, uint64_t at, uint8_t shift)
{
	if (virtq_set_size(q, 1u << shift) < 0)
		FUZZ_CHECK(0, "size %u refused", 1u << shift);
	q->desc_gpa = at;
	q->avail_gpa = at + 0x1000;
	q->used_gpa = at + 0x2000;
}

/* Every used element the device wrote since `from`: a length no larger than a frame. */
static void check_used(const struct virtq *q, uint16_t from)
{
	for (uint16_t i = from; i != q->used_idx; i++) {
		const volatile uint32_t *e = (const volatile uint32_t *)(q->used + 4 + 8u *
									  (i & (q->size - 1)));
		FUZZ_CHECK(e[0] < q->size, "used id %u of a queue of %u", e[0], q->size);
		FUZZ_CHECK(e[1] <= NET_BUF_MAX, "used len %u", e[1]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static struct net_stats stats;
	struct net_backend be = { .ops = &fake_ops, .fd = -1 };
	struct net_config nc = { .iface_id = "eth0", .mtu = 1500 };
	struct virtio_dev *dev;
	struct error err = { 0 };

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

	memset(&stats, 0, sizeof(stats));
	frames_given = bytes_sent = 0;
	needs_reset = false;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data, MIN(size, sizeof(mem)));
	gm_init_buffer(&gm, BASE, mem, sizeof(mem));
	if (features & 0x10) {
		nc.rx_rate_limiter.bandwidth = (struct token_bucket_config){ 4096, 0, 1 };
		nc.tx_rate_limiter.ops = (struct token_bucket_config){ 2, 0, 1000 };
	}
	FUZZ_CHECK(virtio_net_create(&nc, 0, &be, &gm, &stats, &dev, &err) == 0, "%s", err.msg);
	dev->transport = &transport;
	dev->driver_features = (1ULL << VIRTIO_F_VERSION_1) |
			       (features & 1 ? 1ULL << VIRTIO_F_EVENT_IDX : 0) |
			       (features & 2 ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) |
			       (features & 4 ? 1ULL << VIRTIO_NET_F_MRG_RXBUF : 0);
	struct virtq *rx = &dev->queues[NET_QUEUE_RX], *tx = &dev->queues[NET_QUEUE_TX];
	setup_queue(rx, BASE, shifts % 9);
	setup_queue(tx, BASE + 0x3000, (shifts >> 4) % 9);
	if (virtq_enable(rx, features & 1, features & 2) < 0 ||
	    virtq_enable(tx, features & 1, features & 2) < 0)
		goto out;
	for (int round = 0; round < 8 && !needs_reset; round++) {
		uint16_t rx_from = rx->used_idx, tx_from = tx->used_idx;
		(void)virtio_net_process_tx(dev);
		check_used(tx, tx_from);
		if (!needs_reset)
			(void)virtio_net_process_rx(dev);
		check_used(rx, rx_from);
		/* The guest may post more buffers: the tail of memory becomes new avail idx. */
		uint8_t b = next_byte();
		if (b & 0x80) {
			volatile uint16_t *idx = (volatile uint16_t *)(mem + 0x1002);
			*idx = (uint16_t)(*idx + (b & 0x7));
		}
	}
	FUZZ_CHECK(stats.rx_packets + stats.rx_fails <= frames_given, "%lu delivered + %lu "
		   "dropped of %llu frames", (unsigned long)stats.rx_packets,
		   (unsigned long)stats.rx_fails, (unsigned long long)frames_given);
	FUZZ_CHECK(stats.tx_bytes + stats.tx_packets * VIRTIO_NET_HDR_SIZE == bytes_sent,
		   "counted %lu bytes in %lu frames, the backend took %llu",
		   (unsigned long)stats.tx_bytes, (unsigned long)stats.tx_packets,
		   (unsigned long long)bytes_sent);
out:
	dev->ops->destroy(dev);
	return 0;
}
