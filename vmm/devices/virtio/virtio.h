/* What a virtio device and its transport share: spec constants, the device ops table, queues. */
#ifndef KILN_VIRTIO_H
#define KILN_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "memory.h"
#include "queue.h"
#include "util.h"

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Transport-independent feature bits (virtio 1.2, 6). */
#define VIRTIO_F_INDIRECT_DESC		28
#define VIRTIO_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_RING_RESET		40

/* Interrupt status bits. */
#define VIRTIO_INT_USED			0x1
#define VIRTIO_INT_CONFIG		0x2

/* Device ids (virtio 1.2, 5). */
#define VIRTIO_ID_NET			1
#define VIRTIO_ID_BLOCK			2
#define VIRTIO_ID_RNG			4
#define VIRTIO_ID_VSOCK			19

#define VIRTIO_MAX_QUEUES		8

struct virtio_dev;
struct evloop;

/*
 * What a device type provides. The transport calls these with dev->lock held, from a
 * vCPU thread (config access, activate, reset) or the event loop (queue_notify).
 */
struct virtio_dev_ops {
	uint32_t device_id;
	unsigned int num_queues;	/* at most VIRTIO_MAX_QUEUES */
	uint16_t queue_max;		/* largest queue size the device accepts (a power of 2) */
	uint32_t config_size;		/* bytes of device configuration space */
	/* Read `len` bytes at `offset` (inside config_size) of the configuration space. */
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len);
	/* Optional: the driver wrote to the configuration space (ignored when NULL). */
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const uint8_t *data,
			     uint32_t len);
	/* Optional: the driver set DRIVER_OK; a negative return puts the device in NEEDS_RESET. */
	int (*activate)(struct virtio_dev *dev);
	/* The driver reset the device: forget requests in flight (queues are reset by the caller). */
	void (*reset)(struct virtio_dev *dev);
	/* The driver made buffers available on queue `q` (event loop, device running). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	/* Optional: register the device's own fds (backend completions) on the event loop. */
	int (*attach)(struct virtio_dev *dev, struct evloop *loop);
	/* Free the device (after the VM stopped). */
	void (*destroy)(struct virtio_dev *dev);
};

/*
 * The transport's side, as a device sees it: how to interrupt the driver and how to
 * report a protocol violation. Set by the transport that carries the device.
 */
struct virtio_transport_ops {
	/* True while the driver has the device running (DRIVER_OK, no NEEDS_RESET). */
	bool (*live)(const struct virtio_dev *dev);
	void (*signal_used)(struct virtio_dev *dev);
	void (*needs_reset)(struct virtio_dev *dev, const char *why);
	/* The configuration space changed: a new generation, a config-change interrupt. */
	void (*config_changed)(struct virtio_dev *dev);
};

/* A device instance: embedded at the start of each device type's own struct. */
struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct guest_mem *mem;
	char label[48];			/* "virtio-blk rootfs", for log lines */
	uint64_t device_features;	/* offered */
	uint64_t driver_features;	/* accepted at FEATURES_OK */
	struct virtq queues[VIRTIO_MAX_QUEUES];
	pthread_mutex_t lock;		/* guards everything here and the device's own state */

	const struct virtio_transport_ops *transport;
	void *transport_opaque;
};

/* Initialise the common part; `label` names the device in log lines. */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *mem, uint64_t features, const char *label) MUST_CHECK;
void virtio_dev_fini(struct virtio_dev *dev);
static inline bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return (dev->driver_features >> bit) & 1;
}
/* Whether queues may be processed now (lock held). */
bool virtio_dev_live(const struct virtio_dev *dev);
/* Interrupt the driver for used buffers (lock held). */
void virtio_dev_signal_used(struct virtio_dev *dev);
/* The device's configuration space changed (lock held): the driver is told to read it again. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* The driver broke the protocol: DEVICE_NEEDS_RESET and a config interrupt (lock held). */
void virtio_dev_needs_reset(struct virtio_dev *dev, const char *why);

#endif
