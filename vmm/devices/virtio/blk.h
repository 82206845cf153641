/* virtio-blk: a raw image file as a block device, over any virtio transport. */
#ifndef KILN_VIRTIO_BLK_H
#define KILN_VIRTIO_BLK_H

#include <stdatomic.h>
#include "config.h"
#include "error.h"
#include "virtio.h"

#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_FLUSH	9

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VIRTIO_BLK_ID_BYTES	20
#define VIRTIO_BLK_SECTOR	512
#define VIRTIO_BLK_QUEUE_SIZE	256
#define VIRTIO_BLK_SEG_MAX	128	/* data buffers per request the driver may use */

struct backend;

/* Counters summed over every drive ("block" in the metrics). */
struct blk_stats {
	atomic_ulong read_count, write_count, flush_count, get_id_count;
	atomic_ulong read_bytes, write_bytes;
	atomic_ulong io_errors;		/* requests answered IOERR */
	atomic_ulong invalid_reqs;	/* UNSUPP, out of range, writes to read-only drives */
	atomic_ulong throttled;		/* a rate limiter held a request back */
	atomic_ulong throttle_wakeups;	/* a rate limiter's timer resumed a queue */
	atomic_ulong updates;		/* PATCH /drives applied */
	atomic_ulong update_fails;	/* PATCH /drives refused by the device or its file */
};

/*
 * Create a block device for drive `index` of the configuration on a ready backend `be`
 * serving an image of `size` bytes (virtio_drive_backend makes it); the device owns it
 * from here, even on error.
 */
int virtio_blk_create(const struct drive_config *d, unsigned int index, struct backend *be,
		      uint64_t size, const struct guest_mem *mem, struct blk_stats *stats,
		      struct virtio_dev **out, struct error *err) MUST_CHECK;
/*
 * PATCH /drives/{id} on a running device (event loop's thread). With `fd` >= 0 (an image
 * from backend_open_image of `size` bytes, owned by the device from here, even on
 * error), requests in flight finish on the old image, the new one replaces it, the
 * capacity becomes its size and the driver gets a config-change interrupt. With `rl`,
 * the rate limiter becomes `rl`, the buckets `bandwidth` and `ops` say are new starting
 * full. 0, or -errno with err naming the device.
 */
int virtio_blk_update(struct virtio_dev *dev, int fd, uint64_t size,
		      const struct rate_limiter_config *rl, bool bandwidth, bool ops,
		      struct error *err) MUST_CHECK;
/* Capacity in 512-byte sectors (for logs and tests). */
uint64_t virtio_blk_capacity(const struct virtio_dev *dev);

#endif
