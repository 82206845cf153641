/* virtio-blk: a raw image file as a block device, over any virtio transport. */
#include "blk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backends/backend.h"
#include "evloop.h"
#include "log.h"
#include "throttle.h"

/* A request handed to the backend, until it completes. */
struct blk_req {
	struct blk_req *next_free;
	struct virtq *q;
	uint32_t epoch;		/* q->epoch when started: a reset since then drops the result */
	uint16_t head;
	uint32_t type;
	uint8_t *status;	/* the chain's last writable byte */
	uint64_t bytes;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
};

struct virtio_blk {
	struct virtio_dev dev;		/* first: the transport sees only this */
	char id[VIRTIO_BLK_ID_BYTES];
	uint64_t capacity;		/* sectors */
	bool read_only;
	bool writeback;
	struct backend *be;
	struct blk_stats *stats;
	struct blk_req *free_list;
	bool stalled;			/* every request slot is busy: resume on completion */
	struct throttle throttle;	/* drives[i].rate_limiter */
	struct virtq_chain chain;
	struct blk_req reqs[VIRTIO_BLK_QUEUE_SIZE];
};

/* The request header every chain starts with (virtio 1.2, 5.2.6). */
struct blk_req_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

static struct virtio_blk *to_blk(struct virtio_dev *dev)
{
	return (struct virtio_blk *)dev;
}

/* Configuration space: capacity, size_max, seg_max, geometry, blk_size (little endian). */
#define BLK_CONFIG_SIZE 24

static void blk_config_read(struct virtio_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = to_blk(dev);
	uint8_t cfg[BLK_CONFIG_SIZE] = { 0 };
	uint32_t seg_max = VIRTIO_BLK_SEG_MAX;

	memcpy(cfg, &b->capacity, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memcpy(data, cfg + off, len);
}

static void finish(struct virtq *q, uint16_t head, uint8_t *status, uint8_t s, uint32_t written)
{
	*status = s;
	virtq_push(q, head, written + 1);
}

static void put_req(struct virtio_blk *b, struct blk_req *r)
{
	r->next_free = b->free_list;
	b->free_list = r;
}

static void blk_complete(void *opaque, void *cookie, int64_t res)
{
	struct virtio_blk *b = opaque;
	struct blk_req *r = cookie;
	struct virtq *q = r->q;
	bool ok = res >= 0 && (uint64_t)res == r->bytes;

	if (!ok) {
		atomic_fetch_add(&b->stats->io_errors, 1);
		log_ratelimited(LOG_WARN, "%s: %s failed: %s", b->dev.label,
				r->type == VIRTIO_BLK_T_IN ? "read" :
				r->type == VIRTIO_BLK_T_OUT ? "write" : "flush",
				res < 0 ? strerror((int)-res) : "short transfer");
	} else if (r->type == VIRTIO_BLK_T_IN) {
		atomic_fetch_add(&b->stats->read_bytes, r->bytes);
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		atomic_fetch_add(&b->stats->write_bytes, r->bytes);
	}
	if (q->ready && q->epoch == r->epoch)
		finish(q, r->head, r->status, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
		       ok && r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->bytes : 0);
	put_req(b, r);
}

/* Check a read or write against the drive, then hand it to the engine. */
static void start_io(struct virtio_blk *b, struct virtq *q, const struct blk_req_hdr *h,
		     uint8_t *status)
{
	const struct virtq_chain *c = &b->chain;
	bool in = h->type == VIRTIO_BLK_T_IN;
	uint64_t len = in ? c->writable_len - 1 : c->readable_len - sizeof(*h);
	uint64_t sectors = len / VIRTIO_BLK_SECTOR;
	struct blk_req *r = b->free_list;

	if (len % VIRTIO_BLK_SECTOR || h->sector > b->capacity ||
	    sectors > b->capacity - h->sector || (!in && b->read_only) ||
	    len > UINT32_MAX) {
		atomic_fetch_add(&b->stats->invalid_reqs, 1);
		finish(q, c->head, status, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	int n = virtq_chain_iov(c, in, in ? 0 : sizeof(*h), len, r->iov, VIRTIO_BLK_SEG_MAX);
	if (n < 0) {
		atomic_fetch_add(&b->stats->invalid_reqs, 1);
		finish(q, c->head, status, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	if (len == 0) {
		finish(q, c->head, status, VIRTIO_BLK_S_OK, 0);
		return;
	}
	b->free_list = r->next_free;
	r->q = q;
	r->epoch = q->epoch;
	r->head = c->head;
	r->type = h->type;
	r->status = status;
	r->bytes = len;
	atomic_fetch_add(in ? &b->stats->read_count : &b->stats->write_count, 1);
	int ret = b->be->ops->submit(b->be, in ? BACKEND_READ : BACKEND_WRITE,
				     h->sector * VIRTIO_BLK_SECTOR, r->iov, n, r);
	if (ret < 0)
		blk_complete(b, r, ret);
}

static void start_flush(struct virtio_blk *b, struct virtq *q, uint8_t *status)
{
	struct blk_req *r = b->free_list;
	uint16_t head = b->chain.head;

	atomic_fetch_add(&b->stats->flush_count, 1);
	if (!b->writeback || b->read_only) {
		/* Unsafe: nothing promised survives a host crash, so nothing to sync. */
		finish(q, head, status, VIRTIO_BLK_S_OK, 0);
		return;
	}
	b->free_list = r->next_free;
	r->q = q;
	r->epoch = q->epoch;
	r->head = head;
	r->type = VIRTIO_BLK_T_FLUSH;
	r->status = status;
	r->bytes = 0;
	int ret = b->be->ops->submit(b->be, BACKEND_FLUSH, 0, NULL, 0, r);
	if (ret < 0)
		blk_complete(b, r, ret);
}

/* One chain: NULL when handled (even with an error status), else the protocol violation. */
static const char *handle_chain(struct virtio_blk *b, struct virtq *q)
{
	const struct virtq_chain *c = &b->chain;
	struct blk_req_hdr h;

	if (c->readable_len < sizeof(h))
		return "block request without a complete device-readable header";
	if (c->writable_len < 1)
		return "block request without a device-writable status byte";
	if (virtq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h))
		return "block request header unreadable";
	const struct iovec *last = &c->iov[c->nr - 1];
	uint8_t *status = (uint8_t *)last->iov_base + last->iov_len - 1;

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		start_io(b, q, &h, status);
		break;
	case VIRTIO_BLK_T_FLUSH:
		start_flush(b, q, status);
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = MIN((uint64_t)VIRTIO_BLK_ID_BYTES, c->writable_len - 1);
		n = virtq_chain_write(c, 0, b->id, n);
		atomic_fetch_add(&b->stats->get_id_count, 1);
		finish(q, c->head, status, VIRTIO_BLK_S_OK, (uint32_t)n);
		break;
	}
	default:
		atomic_fetch_add(&b->stats->invalid_reqs, 1);
		finish(q, c->head, status, VIRTIO_BLK_S_UNSUPP, 0);
		break;
	}
	return NULL;
}

/*
 * Whether the rate limiter holds back the chain just taken: a read or write costs its
 * data bytes, every request one op. A malformed chain costs nothing (it is refused).
 */
static bool must_wait(struct virtio_blk *b)
{
	const struct virtq_chain *c = &b->chain;
	struct blk_req_hdr h;
	uint64_t bytes = 0;

	if (!throttle_active(&b->throttle))
		return false;
	if (c->readable_len < sizeof(h) || c->writable_len < 1 ||
	    virtq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h))
		return false;
	if (h.type == VIRTIO_BLK_T_IN)
		bytes = c->writable_len - 1;
	else if (h.type == VIRTIO_BLK_T_OUT)
		bytes = c->readable_len - sizeof(h);
	return throttle_take(&b->throttle, bytes, 1, b->dev.label) < 0;
}

static void process_queue(struct virtio_blk *b)
{
	struct virtq *q = &b->dev.queues[0];

	for (;;) {
		if (!b->free_list) {
			b->stalled = true;
			break;
		}
		if (throttle_waiting(&b->throttle))
			break;		/* the limiter's timer resumes the queue */
		int ret = virtq_pop(q, &b->chain);
		if (ret == 0)
			break;
		if (ret > 0 && must_wait(b)) {
			virtq_unpop(q);	/* taken again when the timer fires */
			break;
		}
		const char *why = ret < 0 ? q->error : handle_chain(b, q);
		if (why) {
			virtio_dev_needs_reset(&b->dev, why);
			break;
		}
	}
	int ret = b->be->ops->commit(b->be);
	if (ret < 0)
		log_ratelimited(LOG_ERROR, "%s: submitting requests: %s", b->dev.label,
				strerror(-ret));
	if (virtq_should_signal(q))
		virtio_dev_signal_used(&b->dev);
}

static void blk_queue_notify(struct virtio_dev *dev, unsigned int qi)
{
	(void)qi;
	process_queue(to_blk(dev));
}

/* The async engine's completions, on the event loop. */
static void on_completion(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	struct virtq *q = &b->dev.queues[0];
	(void)events;

	pthread_mutex_lock(&b->dev.lock);
	b->be->ops->process(b->be);
	if (b->stalled && b->free_list && q->ready && virtio_dev_live(&b->dev)) {
		b->stalled = false;
		process_queue(b);
	} else if (q->ready && virtq_should_signal(q)) {
		virtio_dev_signal_used(&b->dev);
	}
	pthread_mutex_unlock(&b->dev.lock);
}

/* The rate limiter allows again: go on with the queue where it stopped. */
static void on_throttle_timer(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	(void)events;

	pthread_mutex_lock(&b->dev.lock);
	throttle_fired(&b->throttle, b->dev.label);
	if (b->dev.queues[0].ready && virtio_dev_live(&b->dev)) {
		b->stalled = false;
		process_queue(b);
	}
	pthread_mutex_unlock(&b->dev.lock);
}

static int blk_attach(struct virtio_dev *dev, struct evloop *loop)
{
	struct virtio_blk *b = to_blk(dev);
	int ret = 0;

	if (b->throttle.timer_fd >= 0)
		ret = evloop_add(loop, b->throttle.timer_fd, EPOLLIN, on_throttle_timer, b);
	if (ret < 0 || b->be->event_fd < 0)
		return ret;
	return evloop_add(loop, b->be->event_fd, EPOLLIN, on_completion, b);
}

static void blk_reset(struct virtio_dev *dev)
{
	/* Requests in flight finish in the background; their epoch is then stale. */
	to_blk(dev)->stalled = false;
}

static void blk_destroy(struct virtio_dev *dev)
{
	struct virtio_blk *b = to_blk(dev);
	backend_destroy(b->be);
	throttle_fini(&b->throttle);
	virtio_dev_fini(dev);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
	.attach = blk_attach,
	.destroy = blk_destroy,
};

int virtio_blk_create(const struct drive_config *d, unsigned int index, struct backend *be,
		      uint64_t size, const struct guest_mem *mem, struct blk_stats *stats,
		      struct virtio_dev **out, struct error *err)
{
	char label[48];
	uint64_t features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_F_INDIRECT_DESC);
	int ret;

	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		backend_destroy(be);
		return error_set(err, -ENOMEM, "out of memory for drives[%u]", index);
	}
	b->be = be;
	backend_bind(be, blk_complete, b);
	/* Its timer made now, so that PATCH /drives can give it a limiter later. */
	ret = throttle_init_updatable(&b->throttle, &d->rate_limiter, &stats->throttled,
				      &stats->throttle_wakeups);
	if (ret < 0) {
		throttle_fini(&b->throttle);
		free(b);
		backend_destroy(be);
		return error_set(err, ret, "drives[%u].rate_limiter: %s", index, strerror(-ret));
	}
	b->capacity = size / VIRTIO_BLK_SECTOR;
	b->read_only = d->is_read_only;
	b->writeback = d->cache_type == DRIVE_CACHE_WRITEBACK;
	b->stats = stats;
	/* The id the guest reads: NUL-padded, and unterminated when it takes all 20 bytes. */
	memcpy(b->id, d->drive_id, MIN(strlen(d->drive_id), sizeof(b->id)));
	for (unsigned int i = VIRTIO_BLK_QUEUE_SIZE; i-- > 0;)
		put_req(b, &b->reqs[i]);
	if (b->read_only)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	if (b->writeback)
		features |= 1ULL << VIRTIO_BLK_F_FLUSH;

	snprintf(label, sizeof(label), "virtio-blk %s", d->drive_id);
	ret = virtio_dev_init(&b->dev, &blk_ops, mem, features, label);
	if (ret < 0) {
		backend_destroy(b->be);
		throttle_fini(&b->throttle);
		free(b);
		return error_set(err, ret, "drives[%u]: %s", index, strerror(-ret));
	}
	log_debug("%s: %s, %llu sectors, %s%s, %s engine", label, d->path_on_host,
		  (unsigned long long)b->capacity, b->read_only ? "read-only" : "read-write",
		  b->writeback ? ", writeback" : "", b->be->ops->name);
	*out = &b->dev;
	return 0;
}

/* Requests handed to the engine and not yet completed (lock held). */
static unsigned int in_flight(const struct virtio_blk *b)
{
	unsigned int free_reqs = 0;
	for (const struct blk_req *r = b->free_list; r; r = r->next_free)
		free_reqs++;
	return VIRTIO_BLK_QUEUE_SIZE - free_reqs;
}

int virtio_blk_update(struct virtio_dev *dev, int fd, uint64_t size,
		      const struct rate_limiter_config *rl, bool bandwidth, bool ops,
		      struct error *err)
{
	struct virtio_blk *b = to_blk(dev);
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	if (fd >= 0) {
		/*
		 * Every request started on the old image finishes on it first: the async
		 * engine names the file by its descriptor, which the new image takes over.
		 * Their results reach the guest as usual.
		 */
		if ((ret = b->be->ops->commit(b->be)) < 0) {
			error_set(err, ret, "%s: submitting requests: %s", dev->label,
				  strerror(-ret));
			goto out;
		}
		while (in_flight(b) > 0) {
			if ((ret = b->be->ops->wait(b->be)) < 0) {
				error_set(err, ret, "%s: waiting for requests in flight: %s",
					  dev->label, strerror(-ret));
				goto out;
			}
		}
		backend_replace_fd(b->be, fd);
		fd = -1;
		b->capacity = size / VIRTIO_BLK_SECTOR;
		virtio_dev_config_changed(dev);
		log_info("%s: the image changed: %llu sectors", dev->label,
			 (unsigned long long)b->capacity);
	}
	/* Last: it fails only if its timer cannot be disarmed, which nothing else undoes. */
	if (rl && (ret = throttle_update(&b->throttle, rl, bandwidth, ops)) < 0) {
		error_set(err, ret, "%s: rate_limiter: %s", dev->label, strerror(-ret));
		goto out;
	}
	/* Requests held back by the old limiter, or waiting for a request slot, go on. */
	if (dev->queues[0].ready && virtio_dev_live(dev)) {
		b->stalled = false;
		process_queue(b);
	} else if (dev->queues[0].ready && virtq_should_signal(&dev->queues[0])) {
		virtio_dev_signal_used(dev);
	}
out:
	pthread_mutex_unlock(&dev->lock);
	close_quietly(fd);
	return ret;
}

uint64_t virtio_blk_capacity(const struct virtio_dev *dev)
{
	return ((const struct virtio_blk *)dev)->capacity;
}
