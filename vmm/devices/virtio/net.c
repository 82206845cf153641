/*
 * virtio-net: frames between the guest's queues and a network backend (a TAP).
 *
 * All queue work happens on the event loop's thread: queue kicks, backend readiness, the
 * rate limiters' timers, and a wake-up eventfd through which a vCPU thread that activated
 * or reset the device hands the rest to the loop (the TAP's offloads are set there, since
 * a vCPU thread's seccomp filter has no business with the TAP).
 *
 * tx is zero-copy: a chain's buffers go to the backend as they lie in guest memory. rx
 * takes each frame into one frame-sized buffer made with the device, then copies it into
 * as many of the guest's buffers as it needs (one chain without mergeable buffers). A
 * frame waits there until the guest posts room for it; while it waits, no further frame
 * is read, so the backend (the TAP's own queue) holds the rest: nothing is read and lost.
 * The backend's fd is watched for reading only while a frame could be delivered, and for
 * writing only while a frame waits for the backend to take it, so the loop never spins.
 */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backends/net.h"
#include "evloop.h"
#include "io.h"
#include "log.h"
#include "throttle.h"

/*
 * Frames moved per queue in one go: the loop then serves the other devices before it
 * comes back (the TAP stays readable, the guest's kick stays pending), so a flood on one
 * interface never starves the rest of the VM.
 */
#define NET_BUDGET 256

struct used_elem {
	uint16_t head;
	uint32_t len;
};

struct virtio_net {
	struct virtio_dev dev;		/* first: the transport sees only this */
	struct net_backend *be;
	struct net_stats *stats;
	uint8_t mac[6];
	uint16_t mtu;
	struct throttle rx_tl, tx_tl;

	struct evloop *loop;
	uint32_t watching;		/* events the loop watches be->fd for */
	int wake_efd;			/* a vCPU activated or reset the device */
	bool activated;			/* DRIVER_OK seen: the loop sets offloads, starts rx */
	bool reset_pending;		/* the loop forgets the frame in hand */

	/* rx: the frame in hand (header included), and the chains it is being spread over. */
	uint8_t *rx_buf;
	size_t rx_len;			/* 0: none */
	bool rx_paid;			/* its rate-limiter cost is taken */
	bool rx_starved;		/* the guest has no buffer: wait for its kick */
	struct virtq_chain rx_first;	/* the frame's first chain (its header's home) */
	struct used_elem rx_used[VIRTQ_MAX_SIZE];

	/* tx */
	bool tx_blocked;		/* the backend is full: wait until its fd is writable */
	bool tx_paid;			/* the chain put back has its cost taken */
	bool tx_more;			/* the budget ran out with chains left: come back */
	struct virtq_chain chain;
};

static struct virtio_net *to_net(struct virtio_dev *dev)
{
	return (struct virtio_net *)dev;
}

static bool mergeable(const struct virtio_net *n)
{
	return virtio_has_feature(&n->dev, VIRTIO_NET_F_MRG_RXBUF);
}

/* ---- tx: the guest's frames to the backend */

bool virtio_net_process_tx(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);
	struct virtq *q = &dev->queues[NET_QUEUE_TX];
	struct virtq_chain *c = &n->chain;
	unsigned int budget = NET_BUDGET;
	int ret = 0;

	n->tx_more = false;
	while (!n->tx_blocked && !throttle_waiting(&n->tx_tl)) {
		if (!budget--) {
			n->tx_more = true;	/* chains may be left: run() wakes the loop */
			break;
		}
		if ((ret = virtq_pop(q, c)) <= 0)
			break;
		/* A frame is a header and at most NET_FRAME_MAX bytes, all device-readable. */
		if (c->nr != c->nr_readable || c->readable_len < VIRTIO_NET_HDR_SIZE ||
		    c->readable_len > NET_BUF_MAX) {
			atomic_fetch_add(&n->stats->tx_malformed, 1);
			log_ratelimited(LOG_WARN, "%s: tx chain of %llu readable and %llu writable "
					"bytes is no frame: dropped", dev->label,
					(unsigned long long)c->readable_len,
					(unsigned long long)c->writable_len);
			virtq_push(q, c->head, 0);
			continue;
		}
		uint64_t bytes = c->readable_len - VIRTIO_NET_HDR_SIZE;
		if (!n->tx_paid && throttle_active(&n->tx_tl) &&
		    throttle_take(&n->tx_tl, bytes, 1, dev->label) < 0) {
			virtq_unpop(q);
			break;
		}
		n->tx_paid = false;
		ssize_t r = n->be->ops->send(n->be, c->iov, (int)c->nr);
		if (r == -EAGAIN) {
			virtq_unpop(q);
			n->tx_blocked = true;
			n->tx_paid = throttle_active(&n->tx_tl);
			break;
		}
		if (r < 0) {
			/* The backend refused this frame (a bad offload header, the TAP down). */
			atomic_fetch_add(&n->stats->tx_fails, 1);
			atomic_fetch_add(&n->stats->tap_write_fails, 1);
			log_ratelimited(LOG_WARN, "%s: sending a frame of %llu bytes: %s", dev->label,
					(unsigned long long)bytes, strerror((int)-r));
		} else {
			atomic_fetch_add(&n->stats->tx_packets, 1);
			atomic_fetch_add(&n->stats->tx_bytes, bytes);
		}
		virtq_push(q, c->head, 0);
	}
	if (ret < 0)
		virtio_dev_needs_reset(dev, q->error);
	return virtq_should_signal(q);
}

/* ---- rx: the backend's frames to the guest */

static void rx_rewind(struct virtq *q, unsigned int popped)
{
	while (popped--)
		virtq_unpop(q);
}

/*
 * Spread the frame in hand over the guest's rx chains. 1: delivered (or dropped, being
 * larger than the guest's buffers can ever be); 0: the guest has too little room now,
 * nothing taken; -EPROTO: the driver broke the protocol (the device needs a reset).
 */
static int rx_deliver(struct virtio_net *n)
{
	struct virtq *q = &n->dev.queues[NET_QUEUE_RX];
	unsigned int used = 0;
	size_t off = 0;

	while (off < n->rx_len) {
		struct virtq_chain *c = used ? &n->chain : &n->rx_first;
		int ret = virtq_pop(q, c);
		if (ret < 0) {
			virtio_dev_needs_reset(&n->dev, q->error);
			return -EPROTO;
		}
		if (ret == 0) {
			rx_rewind(q, used);
			return 0;
		}
		if (c->nr_readable || c->writable_len < VIRTIO_NET_HDR_SIZE) {
			virtio_dev_needs_reset(&n->dev, "net rx buffer device-readable or shorter "
					       "than the frame header");
			return -EPROTO;
		}
		size_t len = virtq_chain_write(c, 0, n->rx_buf + off, n->rx_len - off);
		n->rx_used[used++] = (struct used_elem){ c->head, (uint32_t)len };
		off += len;
		if (off < n->rx_len && (!mergeable(n) || used == q->size)) {
			/* Larger than any buffer (or all of them): drop it, keep the buffers. */
			rx_rewind(q, used);
			atomic_fetch_add(&n->stats->rx_fails, 1);
			log_ratelimited(LOG_WARN, "%s: a frame of %zu bytes does not fit the guest's "
					"receive buffers: dropped", n->dev.label,
					n->rx_len - VIRTIO_NET_HDR_SIZE);
			return 1;
		}
	}
	uint8_t nb[2] = { (uint8_t)used, (uint8_t)(used >> 8) };
	(void)virtq_chain_write(&n->rx_first, VIRTIO_NET_HDR_NUM_BUFFERS, nb, sizeof(nb));
	for (unsigned int i = 0; i < used; i++)
		virtq_push(q, n->rx_used[i].head, n->rx_used[i].len);
	atomic_fetch_add(&n->stats->rx_packets, 1);
	atomic_fetch_add(&n->stats->rx_bytes, n->rx_len - VIRTIO_NET_HDR_SIZE);
	return 1;
}

bool virtio_net_process_rx(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);
	struct virtq *q = &dev->queues[NET_QUEUE_RX];

	unsigned int budget = NET_BUDGET;

	n->rx_starved = false;
	while (budget-- && !throttle_waiting(&n->rx_tl)) {
		if (!n->rx_len) {
			struct iovec iov = { n->rx_buf, NET_BUF_MAX };
			ssize_t r = n->be->ops->recv(n->be, &iov, 1);
			if (r == -EAGAIN)
				break;
			if (r < 0) {
				atomic_fetch_add(&n->stats->tap_read_fails, 1);
				log_ratelimited(LOG_WARN, "%s: receiving: %s", dev->label,
						strerror((int)-r));
				break;
			}
			if (r < VIRTIO_NET_HDR_SIZE) {
				atomic_fetch_add(&n->stats->rx_fails, 1);
				continue;
			}
			/*
			 * A driver that took no checksum offload gets flags 0 (virtio 1.2,
			 * 5.1.6.4.1): the TAP may still mark a frame DATA_VALID.
			 */
			if (!virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM))
				n->rx_buf[0] = 0;
			n->rx_len = (size_t)r;
			n->rx_paid = false;
		}
		if (!n->rx_paid) {
			if (throttle_active(&n->rx_tl) &&
			    throttle_take(&n->rx_tl, n->rx_len - VIRTIO_NET_HDR_SIZE, 1,
					  dev->label) < 0)
				break;
			n->rx_paid = true;
		}
		int ret = rx_deliver(n);
		if (ret < 0)
			return false;
		if (ret == 0) {
			n->rx_starved = true;
			break;
		}
		n->rx_len = 0;
	}
	return virtq_should_signal(q);
}

/* ---- The event loop's side */

static void wake_loop(struct virtio_net *n);

/* Watch the backend for what the device can use now, and nothing else. */
static void update_watch(struct virtio_net *n)
{
	uint32_t want = 0;

	if (virtio_dev_live(&n->dev)) {
		if (n->dev.queues[NET_QUEUE_RX].ready && !n->rx_starved &&
		    !throttle_waiting(&n->rx_tl))
			want |= EPOLLIN;
		if (n->tx_blocked)
			want |= EPOLLOUT;
	}
	if (!n->loop || want == n->watching)
		return;
	if (evloop_modify(n->loop, n->be->fd, want) < 0)
		log_ratelimited(LOG_WARN, "%s: epoll_ctl: %m", n->dev.label);
	else
		n->watching = want;
}

static unsigned int offloads(const struct virtio_net *n)
{
	const struct virtio_dev *d = &n->dev;
	unsigned int f = 0;

	/* What the guest takes in received frames, so what the TAP may give. */
	if (virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM)) {
		f |= NET_OFFLOAD_CSUM;
		if (virtio_has_feature(d, VIRTIO_NET_F_GUEST_TSO4))
			f |= NET_OFFLOAD_TSO4;
		if (virtio_has_feature(d, VIRTIO_NET_F_GUEST_TSO6))
			f |= NET_OFFLOAD_TSO6;
		if (virtio_has_feature(d, VIRTIO_NET_F_GUEST_ECN))
			f |= NET_OFFLOAD_TSO_ECN;
		if (virtio_has_feature(d, VIRTIO_NET_F_GUEST_UFO))
			f |= NET_OFFLOAD_UFO;
	}
	return f;
}

/* What a vCPU thread left for the loop (lock held, loop thread). */
static void catch_up(struct virtio_net *n)
{
	if (n->reset_pending) {
		n->reset_pending = false;
		n->rx_len = 0;
		n->rx_starved = false;
		n->tx_blocked = false;
		n->tx_paid = false;
	}
	if (n->activated) {
		n->activated = false;
		int ret = n->be->ops->set_offload(n->be, offloads(n));
		if (ret < 0)
			virtio_dev_needs_reset(&n->dev, "the TAP refused the offloads the driver "
					       "accepted");
	}
}

/* Everything the device can do now (lock held, loop thread). */
static void run(struct virtio_net *n)
{
	bool signal = false;

	catch_up(n);
	if (virtio_dev_live(&n->dev)) {
		if (n->dev.queues[NET_QUEUE_TX].ready)
			signal |= virtio_net_process_tx(&n->dev);
		if (n->dev.queues[NET_QUEUE_RX].ready && virtio_dev_live(&n->dev))
			signal |= virtio_net_process_rx(&n->dev);
	}
	if (signal)
		virtio_dev_signal_used(&n->dev);
	if (n->tx_more)
		wake_loop(n);
	update_watch(n);
}

static void net_queue_notify(struct virtio_dev *dev, unsigned int qi)
{
	(void)qi;
	run(to_net(dev));
}

static void on_backend(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->dev.lock);
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		n->tx_blocked = false;
	run(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t v;
	(void)events;

	if (read(n->wake_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: wake eventfd: %m", n->dev.label);
	pthread_mutex_lock(&n->dev.lock);
	run(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static void on_rx_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	(void)events;

	pthread_mutex_lock(&n->dev.lock);
	throttle_fired(&n->rx_tl, n->dev.label);
	run(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static void on_tx_timer(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;
	(void)events;

	pthread_mutex_lock(&n->dev.lock);
	throttle_fired(&n->tx_tl, n->dev.label);
	run(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static int net_attach(struct virtio_dev *dev, struct evloop *loop)
{
	struct virtio_net *n = to_net(dev);
	int ret;

	n->loop = loop;
	n->watching = 0;
	if ((ret = evloop_add(loop, n->be->fd, 0, on_backend, n)) < 0 ||
	    (ret = evloop_add(loop, n->wake_efd, EPOLLIN, on_wake, n)) < 0 ||
	    (ret = evloop_add(loop, n->rx_tl.timer_fd, EPOLLIN, on_rx_timer, n)) < 0)
		return ret;
	return evloop_add(loop, n->tx_tl.timer_fd, EPOLLIN, on_tx_timer, n);
}

/* ---- The vCPU's side: configuration space, activation, reset */

static void wake_loop(struct virtio_net *n)
{
	uint64_t one = 1;
	if (write(n->wake_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: wake eventfd: %m", n->dev.label);
}

static void net_config_read(struct virtio_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = to_net(dev);
	uint8_t cfg[12] = { 0 };

	/* mac[6], status (LINK_UP), max_virtqueue_pairs (1), mtu: little-endian. */
	memcpy(cfg, n->mac, 6);
	cfg[6] = 1;
	cfg[8] = 1;
	cfg[10] = (uint8_t)n->mtu;
	cfg[11] = (uint8_t)(n->mtu >> 8);
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((size_t)len, sizeof(cfg) - off));
}

static int net_activate(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);

	n->activated = true;
	wake_loop(n);
	return 0;
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);

	n->reset_pending = true;
	n->activated = false;
	wake_loop(n);
}

static void net_destroy(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);

	net_backend_destroy(n->be);
	throttle_fini(&n->rx_tl);
	throttle_fini(&n->tx_tl);
	close_quietly(n->wake_efd);
	free(n->rx_buf);
	if (n->dev.ops)
		virtio_dev_fini(dev);
	free(n);
}

static const struct virtio_dev_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max = VIRTIO_NET_QUEUE_SIZE,
	.config_size = 12,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
	.attach = net_attach,
	.destroy = net_destroy,
};

int virtio_net_update(struct virtio_dev *dev, const struct net_config *nc,
		      const struct net_update *u, struct error *err)
{
	struct virtio_net *n = to_net(dev);
	bool rx = u->has_rx_bandwidth || u->has_rx_ops, tx = u->has_tx_bandwidth || u->has_tx_ops;
	struct rate_limiter check;
	int ret = 0;

	/* Both are checked first, so that neither changes when the other cannot. */
	if (rx && (ret = rate_limiter_init(&check, &nc->rx_rate_limiter, 0)) < 0)
		return error_set(err, ret, "network-interfaces[%s].rx_rate_limiter: %s",
				 nc->iface_id, strerror(-ret));
	if (tx && (ret = rate_limiter_init(&check, &nc->tx_rate_limiter, 0)) < 0)
		return error_set(err, ret, "network-interfaces[%s].tx_rate_limiter: %s",
				 nc->iface_id, strerror(-ret));
	pthread_mutex_lock(&dev->lock);
	if (rx)
		ret = throttle_update(&n->rx_tl, &nc->rx_rate_limiter, u->has_rx_bandwidth,
				      u->has_rx_ops);
	if (ret == 0 && tx)
		ret = throttle_update(&n->tx_tl, &nc->tx_rate_limiter, u->has_tx_bandwidth,
				      u->has_tx_ops);
	/* A frame or chain held back by the old limiter goes at once. */
	wake_loop(n);
	pthread_mutex_unlock(&dev->lock);
	if (ret < 0)
		return error_set(err, ret, "network-interfaces[%s]: rate limiter: %s",
				 nc->iface_id, strerror(-ret));
	return 0;
}

int virtio_net_create(const struct net_config *nc, unsigned int index, struct net_backend *be,
		      const struct guest_mem *mem, struct net_stats *stats,
		      struct virtio_dev **out, struct error *err)
{
	uint64_t features = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
			    (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
			    (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |
			    (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_UFO) |
			    (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_F_INDIRECT_DESC);
	char label[48];
	int ret;

	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		net_backend_destroy(be);
		return error_set(err, -ENOMEM, "network-interfaces[%u]: out of memory", index);
	}
	n->be = be;
	n->stats = stats;
	n->rx_tl.timer_fd = n->tx_tl.timer_fd = -1;
	n->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->rx_buf = malloc(NET_BUF_MAX);
	if (n->wake_efd < 0 || !n->rx_buf) {
		net_destroy(&n->dev);
		return error_set(err, -ENOMEM, "network-interfaces[%u]: out of memory", index);
	}
	if ((ret = throttle_init_updatable(&n->rx_tl, &nc->rx_rate_limiter, &stats->rx_throttled,
					   &stats->rx_throttle_wakeups)) < 0) {
		net_destroy(&n->dev);
		return error_set(err, ret, "network-interfaces[%u].rx_rate_limiter: %s", index,
				 strerror(-ret));
	}
	if ((ret = throttle_init_updatable(&n->tx_tl, &nc->tx_rate_limiter, &stats->tx_throttled,
					   &stats->tx_throttle_wakeups)) < 0) {
		net_destroy(&n->dev);
		return error_set(err, ret, "network-interfaces[%u].tx_rate_limiter: %s", index,
				 strerror(-ret));
	}
	if (nc->has_mac) {
		memcpy(n->mac, nc->guest_mac, 6);
		features |= 1ULL << VIRTIO_NET_F_MAC;
	}
	if (nc->mtu) {
		n->mtu = (uint16_t)nc->mtu;
		features |= 1ULL << VIRTIO_NET_F_MTU;
	}
	snprintf(label, sizeof(label), "virtio-net %s", nc->iface_id);
	if ((ret = virtio_dev_init(&n->dev, &net_ops, mem, features, label)) < 0) {
		net_destroy(&n->dev);
		return error_set(err, ret, "network-interfaces[%u]: %s", index, strerror(-ret));
	}
	*out = &n->dev;
	return 0;
}
