/*
 * virtio-vsock: moves packets between the guest's queues and the connection multiplexer.
 * All work happens on the event loop's thread: queue kicks, host socket readiness (one
 * epoll fd for all of them) and the teardown a driver reset asks for. A vCPU that resets
 * the device only marks it and wakes the loop, since closing sockets is not a vCPU
 * thread's business (nor in its seccomp filter).
 */
#include "vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "backends/vsock_uds.h"
#include "evloop.h"
#include "io.h"
#include "log.h"
#include "vsock_mux.h"

#define RX_IOV_MAX	16

struct virtio_vsock {
	struct virtio_dev dev;		/* first: the transport sees only this */
	uint64_t guest_cid;
	struct vsock_uds *be;
	struct vsock_mux mux;
	struct vsock_conn *conns;
	uint8_t *pool;
	size_t pool_size;
	int reset_efd;			/* a vCPU reset the device: tear down on the loop */
	bool reset_pending;
	int timer_fd;			/* ticks while host requests await the guest's answer */
	bool timer_armed;
	struct vsock_stats *stats;
	struct virtq_chain chain;
};

static struct virtio_vsock *to_vsock(struct virtio_dev *dev)
{
	return (struct virtio_vsock *)dev;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Tick every 500 ms while a host request awaits the guest's answer, else not at all. */
static void update_timer(struct virtio_vsock *v)
{
	bool want = v->mux.nr_awaiting > 0;
	if (want == v->timer_armed)
		return;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	if (want)
		its.it_interval.tv_nsec = its.it_value.tv_nsec = 500 * 1000 * 1000;
	if (timerfd_settime(v->timer_fd, 0, &its, NULL) < 0)
		log_ratelimited(LOG_WARN, "%s: timerfd_settime: %m", v->dev.label);
	else
		v->timer_armed = want;
}

static void publish_stats(struct virtio_vsock *v)
{
	const struct vsock_mux_stats *s = &v->mux.stats;
	atomic_store(&v->stats->conns_added, s->conns_opened);
	atomic_store(&v->stats->conns_refused, s->conns_refused);
	atomic_store(&v->stats->rst_sent, s->rst_sent);
	atomic_store(&v->stats->rx_bytes, s->rx_bytes);
	atomic_store(&v->stats->tx_bytes, s->tx_bytes);
	atomic_store(&v->stats->bad_packets, s->bad_packets);
	atomic_store(&v->stats->credit_violations, s->credit_violations);
	atomic_store(&v->stats->requests_timed_out, s->requests_timed_out);
}

/* After any work: the timer follows the requests awaiting an answer, the metrics follow. */
static void done(struct virtio_vsock *v)
{
	update_timer(v);
	publish_stats(v);
}

/* Lock held, event loop thread. */
static void finish_reset(struct virtio_vsock *v)
{
	if (v->reset_pending) {
		v->reset_pending = false;
		vsock_mux_reset(&v->mux);
	}
}

/*
 * The writable part of an rx chain after the header, as at most RX_IOV_MAX buffers
 * (already mapped and checked by the queue walker). Returns the count; *cap the bytes.
 */
static int rx_payload_iov(const struct virtq_chain *c, struct iovec *iov, size_t *cap)
{
	size_t skip = VSOCK_HDR_SIZE, total = 0;
	int n = 0;

	for (unsigned int i = c->nr_readable; i < c->nr && n < RX_IOV_MAX; i++) {
		uint8_t *base = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		iov[n++] = (struct iovec){ base, len };
		total += len;
	}
	*cap = MIN(total, (size_t)VSOCK_MAX_PKT_DATA);
	return n;
}

int vsock_rx_chain(struct vsock_mux *m, const struct virtq_chain *c, uint32_t *len)
{
	struct iovec iov[RX_IOV_MAX];
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	size_t cap;

	if (c->nr_readable || c->writable_len < VSOCK_HDR_SIZE)
		return -EINVAL;
	int n = rx_payload_iov(c, iov, &cap);
	if (!vsock_mux_next_rx(m, &h, iov, n, cap))
		return 0;
	vsock_hdr_encode(&h, raw);
	(void)virtq_chain_write(c, 0, raw, sizeof(raw));
	*len = VSOCK_HDR_SIZE + h.len;
	return 1;
}

/* Deliver what the multiplexer has for the guest, as long as it posted buffers. */
static void pump_rx(struct virtio_vsock *v)
{
	struct virtq *q = &v->dev.queues[VSOCK_QUEUE_RX];
	uint32_t len;

	if (!virtio_dev_live(&v->dev))
		return;
	while (vsock_mux_has_rx(&v->mux)) {
		int ret = virtq_pop(q, &v->chain);
		if (ret < 0) {
			virtio_dev_needs_reset(&v->dev, q->error);
			return;
		}
		if (ret == 0)
			break;
		ret = vsock_rx_chain(&v->mux, &v->chain, &len);
		if (ret < 0) {
			virtio_dev_needs_reset(&v->dev, "vsock rx buffer device-readable or shorter "
					       "than a packet header");
			return;
		}
		if (ret == 0) {
			virtq_unpop(q);
			break;
		}
		virtq_push(q, v->chain.head, len);
	}
	if (virtq_should_signal(q))
		virtio_dev_signal_used(&v->dev);
}

void vsock_tx_chain(struct vsock_mux *m, const struct virtq_chain *c)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct iovec iov[VIRTQ_MAX_CHAIN];
	struct vsock_hdr h;
	int n = 0;

	if (c->readable_len < VSOCK_HDR_SIZE ||
	    virtq_chain_read(c, 0, raw, sizeof(raw)) != sizeof(raw)) {
		m->stats.bad_packets++;
		return;
	}
	vsock_hdr_decode(raw, &h);
	if (h.op == VSOCK_OP_RW) {
		/* The length is the guest's word: it must fit the packet and the limits. */
		if (h.len > VSOCK_MAX_PKT_DATA || h.len > c->readable_len - VSOCK_HDR_SIZE ||
		    (n = virtq_chain_iov(c, false, VSOCK_HDR_SIZE, h.len, iov,
					 ARRAY_SIZE(iov))) < 0) {
			h.op = VSOCK_OP_INVALID;	/* resets the connection */
			h.len = 0;
			n = 0;
		}
	} else {
		h.len = 0;	/* only RW carries data */
	}
	(void)vsock_mux_guest_packet(m, &h, iov, n);
}

static void process_tx(struct virtio_vsock *v)
{
	struct virtq *q = &v->dev.queues[VSOCK_QUEUE_TX];
	int ret;

	while ((ret = virtq_pop(q, &v->chain)) > 0) {
		vsock_tx_chain(&v->mux, &v->chain);
		virtq_push(q, v->chain.head, 0);
	}
	if (ret < 0)
		virtio_dev_needs_reset(&v->dev, q->error);
	if (virtq_should_signal(q))
		virtio_dev_signal_used(&v->dev);
}

static void vsock_queue_notify(struct virtio_dev *dev, unsigned int qi)
{
	struct virtio_vsock *v = to_vsock(dev);

	finish_reset(v);
	v->mux.now_ms = now_ms();
	if (qi == VSOCK_QUEUE_TX)
		process_tx(v);
	/* The event queue's buffers stay with the device until an event needs one. */
	if (virtio_dev_live(dev))
		pump_rx(v);
	done(v);
}

/* Host sockets did something (event loop). */
static void on_backend(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	(void)events;

	pthread_mutex_lock(&v->dev.lock);
	finish_reset(v);
	v->mux.now_ms = now_ms();
	vsock_uds_process(v->be);
	pump_rx(v);
	done(v);
	pthread_mutex_unlock(&v->dev.lock);
}

/* Requests the guest has not answered in time are given up (RST and the client closed). */
static void on_timer(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	uint64_t n;
	(void)events;

	if (read(v->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: timerfd: %m", v->dev.label);
	pthread_mutex_lock(&v->dev.lock);
	finish_reset(v);
	v->mux.now_ms = now_ms();
	vsock_mux_expire(&v->mux);
	pump_rx(v);
	done(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static void on_reset(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	uint64_t n;
	(void)events;

	if (read(v->reset_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: reset eventfd: %m", v->dev.label);
	pthread_mutex_lock(&v->dev.lock);
	finish_reset(v);
	done(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static int vsock_attach(struct virtio_dev *dev, struct evloop *loop)
{
	struct virtio_vsock *v = to_vsock(dev);
	int ret = evloop_add(loop, vsock_uds_event_fd(v->be), EPOLLIN, on_backend, v);
	if (ret == 0)
		ret = evloop_add(loop, v->timer_fd, EPOLLIN, on_timer, v);
	return ret < 0 ? ret : evloop_add(loop, v->reset_efd, EPOLLIN, on_reset, v);
}

static int sink_host_connect(void *opaque, int fd, uint32_t port)
{
	return vsock_mux_host_connect(&((struct virtio_vsock *)opaque)->mux, fd, port);
}

static void sink_ready(void *opaque, uint32_t conn, bool in, bool out)
{
	vsock_mux_ready(&((struct virtio_vsock *)opaque)->mux, conn, in, out);
}

static const struct vsock_uds_sink sink = {
	.host_connect = sink_host_connect,
	.ready = sink_ready,
};

static void vsock_config_read(struct virtio_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *v = to_vsock(dev);
	uint8_t cfg[8];

	for (unsigned int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(v->guest_cid >> (8 * i));
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, MIN((size_t)len, sizeof(cfg) - off));
}

/* vCPU thread, lock held: the sockets are closed by the loop (on_reset). */
static void vsock_reset(struct virtio_dev *dev)
{
	struct virtio_vsock *v = to_vsock(dev);
	uint64_t one = 1;

	v->reset_pending = true;
	if (write(v->reset_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: reset eventfd: %m", dev->label);
}

static void vsock_destroy(struct virtio_dev *dev)
{
	struct virtio_vsock *v = to_vsock(dev);

	if (v->mux.conns)
		vsock_mux_close_all(&v->mux);
	vsock_uds_destroy(v->be);
	close_quietly(v->reset_efd);
	close_quietly(v->timer_fd);
	if (v->pool)
		munmap(v->pool, v->pool_size);
	free(v->conns);
	if (v->dev.ops)
		virtio_dev_fini(dev);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = VIRTIO_VSOCK_QUEUE_SIZE,
	.config_size = 8,
	.config_read = vsock_config_read,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.attach = vsock_attach,
	.destroy = vsock_destroy,
};

int virtio_vsock_create(const struct guest_mem *mem, uint64_t guest_cid, struct vsock_uds *be,
			struct vsock_stats *stats, struct virtio_dev **out, struct error *err)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	if (!v) {
		vsock_uds_destroy(be);
		return error_set(err, -ENOMEM, "vsock: out of memory");
	}
	v->be = be;
	v->guest_cid = guest_cid;
	v->stats = stats;
	v->reset_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	/* Connection buffers: address space only, until a slow host reader makes them fill. */
	v->pool_size = (size_t)VSOCK_MAX_CONNS * VSOCK_CONN_BUF;
	v->pool = mmap(NULL, v->pool_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->pool == MAP_FAILED)
		v->pool = NULL;
	int ret = v->reset_efd < 0 || v->timer_fd < 0 || !v->conns || !v->pool ? -ENOMEM : 0;
	if (ret == 0)
		ret = virtio_dev_init(&v->dev, &vsock_ops, mem, 0, "virtio-vsock");
	if (ret < 0) {
		vsock_destroy(&v->dev);
		return error_set(err, ret, "vsock: %s", strerror(-ret));
	}
	vsock_mux_init(&v->mux, guest_cid, &vsock_uds_ops, be, v->conns, v->pool);
	vsock_uds_set_sink(be, &sink, v);
	*out = &v->dev;
	return 0;
}
