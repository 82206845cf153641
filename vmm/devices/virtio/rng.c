/* virtio-rng: the guest's hardware random number generator, filled from getrandom(). */
#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "evloop.h"
#include "log.h"
#include "throttle.h"

struct virtio_rng {
	struct virtio_dev dev;		/* first: the transport sees only this */
	struct rng_stats *stats;
	struct throttle throttle;	/* entropy.rate_limiter */
	struct virtq_chain chain;
};

static struct virtio_rng *to_rng(struct virtio_dev *dev)
{
	return (struct virtio_rng *)dev;
}

/* Fill up to `max` bytes of the chain's buffers; returns the count filled. */
static uint32_t fill(struct virtio_rng *r, uint32_t max)
{
	const struct virtq_chain *c = &r->chain;
	uint32_t done = 0;

	for (unsigned int i = c->nr_readable; i < c->nr && done < max; i++) {
		size_t want = MIN(c->iov[i].iov_len, (size_t)(max - done));
		size_t got = 0;
		while (got < want) {
			ssize_t n = getrandom((uint8_t *)c->iov[i].iov_base + got, want - got,
					      GRND_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				atomic_fetch_add(&r->stats->host_rng_fails, 1);
				log_ratelimited(LOG_WARN, "%s: getrandom: %m", r->dev.label);
				return done + (uint32_t)got;
			}
			got += (size_t)n;
		}
		done += (uint32_t)got;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *dev, unsigned int qi)
{
	struct virtio_rng *r = to_rng(dev);
	struct virtq *q = &dev->queues[qi];
	int ret = 0;

	/* While the rate limiter's timer runs, the queue waits for it. */
	while (!throttle_waiting(&r->throttle) && (ret = virtq_pop(q, &r->chain)) > 0) {
		if (r->chain.nr_readable) {
			virtio_dev_needs_reset(dev, "entropy request with a device-readable buffer");
			return;
		}
		/* A request costs the bytes it asks for (as much as is filled) and one op. */
		uint64_t want = MIN(r->chain.writable_len, (uint64_t)VIRTIO_RNG_MAX_REQUEST);
		if (throttle_take(&r->throttle, want, 1, dev->label) < 0) {
			virtq_unpop(q);
			break;
		}
		uint32_t n = fill(r, VIRTIO_RNG_MAX_REQUEST);
		atomic_fetch_add(&r->stats->entropy_bytes, n);
		atomic_fetch_add(&r->stats->entropy_count, 1);
		virtq_push(q, r->chain.head, n);
	}
	if (ret < 0)
		virtio_dev_needs_reset(dev, q->error);
	if (virtq_should_signal(q))
		virtio_dev_signal_used(dev);
}

static void rng_config_read(struct virtio_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static void rng_reset(struct virtio_dev *dev)
{
	/*
	 * Requests are served at once: nothing is ever in flight. A rate limiter's timer may
	 * still run; when it fires, the queue is looked at again if it is in use by then.
	 */
	(void)dev;
}

/* The rate limiter allows again: go on with the queue where it stopped. */
static void on_throttle_timer(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;
	(void)events;

	pthread_mutex_lock(&r->dev.lock);
	throttle_fired(&r->throttle, r->dev.label);
	if (r->dev.queues[0].ready && virtio_dev_live(&r->dev))
		rng_queue_notify(&r->dev, 0);
	pthread_mutex_unlock(&r->dev.lock);
}

static int rng_attach(struct virtio_dev *dev, struct evloop *loop)
{
	struct virtio_rng *r = to_rng(dev);
	if (r->throttle.timer_fd < 0)
		return 0;
	return evloop_add(loop, r->throttle.timer_fd, EPOLLIN, on_throttle_timer, r);
}

static void rng_destroy(struct virtio_dev *dev)
{
	throttle_fini(&to_rng(dev)->throttle);
	virtio_dev_fini(dev);
	free(to_rng(dev));
}

static const struct virtio_dev_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.config_read = rng_config_read,
	.reset = rng_reset,
	.queue_notify = rng_queue_notify,
	.attach = rng_attach,
	.destroy = rng_destroy,
};

int virtio_rng_create(const struct guest_mem *mem, const struct rate_limiter_config *rl,
		      struct rng_stats *stats, struct virtio_dev **out, struct error *err)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return error_set(err, -ENOMEM, "entropy: out of memory");
	r->stats = stats;
	int ret = throttle_init(&r->throttle, rl, &stats->throttled, &stats->throttle_wakeups);
	if (ret < 0) {
		throttle_fini(&r->throttle);
		free(r);
		return error_set(err, ret, "entropy.rate_limiter: %s", strerror(-ret));
	}
	ret = virtio_dev_init(&r->dev, &rng_ops, mem, 0, "virtio-rng");
	if (ret < 0) {
		throttle_fini(&r->throttle);
		free(r);
		return error_set(err, ret, "entropy: %s", strerror(-ret));
	}
	*out = &r->dev;
	return 0;
}
