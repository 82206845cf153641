/* The transport-independent part of a virtio device: init, interrupts, protocol violations. */
#include "virtio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *mem, uint64_t features, const char *label)
{
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
	    ops->queue_max == 0 || ops->queue_max > VIRTQ_MAX_SIZE ||
	    (ops->queue_max & (ops->queue_max - 1)))
		return -EINVAL;
	dev->ops = ops;
	dev->mem = mem;
	/* What kiln's queues and transports support for every device, plus the device's own. */
	dev->device_features = features | (1ULL << VIRTIO_F_VERSION_1) |
			       (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_RING_RESET);
	dev->driver_features = 0;
	snprintf(dev->label, sizeof(dev->label), "%s", label);
	for (unsigned int i = 0; i < ops->num_queues; i++)
		virtq_init(&dev->queues[i], mem, ops->queue_max);
	int ret = pthread_mutex_init(&dev->lock, NULL);
	return ret ? -ret : 0;
}

void virtio_dev_fini(struct virtio_dev *dev)
{
	if (dev->ops)
		pthread_mutex_destroy(&dev->lock);
	dev->ops = NULL;
}

bool virtio_dev_live(const struct virtio_dev *dev)
{
	return dev->transport && dev->transport->live(dev);
}

void virtio_dev_signal_used(struct virtio_dev *dev)
{
	if (dev->transport)
		dev->transport->signal_used(dev);
}

void virtio_dev_needs_reset(struct virtio_dev *dev, const char *why)
{
	if (dev->transport)
		dev->transport->needs_reset(dev, why);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
	if (dev->transport)
		dev->transport->config_changed(dev);
}
