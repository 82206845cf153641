/*
 * The virtio-mmio transport (virtio 1.2, 4.2, register layout version 2): registers on
 * the MMIO bus, queue kicks through ioeventfds, interrupts through an irqfd.
 */
#include "mmio.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evloop.h"
#include "io.h"
#include "log.h"
#include "vm.h"

static struct virtio_mmio *transport_of(const struct virtio_dev *dev)
{
	return dev->transport_opaque;
}

static bool running(const struct virtio_mmio *t)
{
	return (t->status & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_NEEDS_RESET);
}

static bool mmio_live(const struct virtio_dev *dev)
{
	return running(transport_of(dev));
}

static void raise_irq(struct virtio_mmio *t, unsigned int why)
{
	uint64_t one = 1;
	atomic_fetch_or(&t->interrupt_status, why);
	if (write(t->irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_ERROR, "%s: interrupt eventfd: %m", t->dev->label);
}

static void mmio_signal_used(struct virtio_dev *dev)
{
	raise_irq(transport_of(dev), VIRTIO_INT_USED);
}

/* A protocol violation: stop the device until the driver resets it, and say so once. */
static void mmio_needs_reset(struct virtio_dev *dev, const char *why)
{
	struct virtio_mmio *t = transport_of(dev);

	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (t->needs_reset_count)
		atomic_fetch_add(t->needs_reset_count, 1);
	log_ratelimited(LOG_WARN, "%s at 0x%llx: %s; device needs reset", dev->label,
			(unsigned long long)t->base, why);
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_INT_CONFIG);
}

/*
 * The device changed its configuration space: a new ConfigGeneration (a driver reading
 * across the change reads again) and, once the driver is up, a config-change interrupt.
 */
static void mmio_config_changed(struct virtio_dev *dev)
{
	struct virtio_mmio *t = transport_of(dev);

	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_INT_CONFIG);
}

static const struct virtio_transport_ops mmio_transport_ops = {
	.live = mmio_live,
	.signal_used = mmio_signal_used,
	.needs_reset = mmio_needs_reset,
	.config_changed = mmio_config_changed,
};

static void reset_device(struct virtio_mmio *t)
{
	struct virtio_dev *dev = t->dev;

	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned int i = 0; i < dev->ops->num_queues; i++)
		virtq_reset(&dev->queues[i]);
	dev->driver_features = 0;
	t->driver_features = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->status = 0;
	atomic_store(&t->interrupt_status, 0);
}

/* The selected queue, or NULL when QueueSel names no queue of this device. */
static struct virtq *selected(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev->ops->num_queues ? &t->dev->queues[t->queue_sel] : NULL;
}

/* A queue register write: only to an existing queue that is not live yet. */
static struct virtq *queue_for_write(struct virtio_mmio *t)
{
	struct virtq *q = selected(t);
	if (!q)
		mmio_needs_reset(t->dev, "queue register written with QueueSel out of range");
	else if (q->ready)
		mmio_needs_reset(t->dev, "queue register written while the queue is ready");
	else
		return q;
	return NULL;
}

static bool features_acceptable(struct virtio_mmio *t)
{
	uint64_t want = t->driver_features;
	return !(want & ~t->dev->device_features) && (want >> VIRTIO_F_VERSION_1) & 1;
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	struct virtio_dev *dev = t->dev;
	uint32_t old = t->status;

	if (v == 0) {
		reset_device(t);
		return;
	}
	v &= 0xff;
	v |= old & VIRTIO_STATUS_NEEDS_RESET;	/* only a reset clears it */
	if (old & ~v) {
		mmio_needs_reset(dev, "driver cleared a device status bit without a reset");
		return;
	}
	uint32_t set = v & ~old;
	if (((set & VIRTIO_STATUS_DRIVER) && !(v & VIRTIO_STATUS_ACKNOWLEDGE)) ||
	    ((set & VIRTIO_STATUS_FEATURES_OK) && !(v & VIRTIO_STATUS_DRIVER)) ||
	    ((set & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))) {
		mmio_needs_reset(dev, "device status bits set out of order");
		return;
	}
	if (set & VIRTIO_STATUS_FEATURES_OK) {
		/* Refused features leave FEATURES_OK clear: the driver reads it back. */
		if (!features_acceptable(t))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		else
			dev->driver_features = t->driver_features;
	}
	t->status = v;
	if ((set & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_NEEDS_RESET) &&
	    dev->ops->activate && dev->ops->activate(dev) < 0)
		mmio_needs_reset(dev, "device activation failed");
}

static void write_queue_ready(struct virtio_mmio *t, uint32_t v)
{
	struct virtq *q = selected(t);
	if (!q) {
		mmio_needs_reset(t->dev, "QueueReady written with QueueSel out of range");
		return;
	}
	if (v == 0) {
		q->ready = false;
		return;
	}
	if (q->ready)
		return;
	if (!(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		mmio_needs_reset(t->dev, "queue enabled before FEATURES_OK");
		return;
	}
	if (virtq_enable(q, virtio_has_feature(t->dev, VIRTIO_F_EVENT_IDX),
			 virtio_has_feature(t->dev, VIRTIO_F_INDIRECT_DESC)) < 0)
		mmio_needs_reset(t->dev, q->error);
}

static void set_half(uint64_t *v, bool high, uint32_t half)
{
	*v = high ? (*v & 0xffffffffULL) | ((uint64_t)half << 32)
		  : (*v & ~0xffffffffULL) | half;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtio_dev *dev = t->dev;
	struct virtq *q = selected(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG: return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->device_features_sel < 2
			? (uint32_t)(dev->device_features >> (32 * t->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? q->max : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&t->interrupt_status);
	case VIRTIO_MMIO_STATUS: return t->status;
	case VIRTIO_MMIO_QUEUE_RESET: return 0;		/* a queue reset completes at once */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff;	/* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
	default: return 0;	/* write-only or reserved */
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtio_dev *dev = t->dev;
	struct virtq *q;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if ((t->status & VIRTIO_STATUS_FEATURES_OK) || !(t->status & VIRTIO_STATUS_DRIVER))
			mmio_needs_reset(dev, "driver features written outside negotiation");
		else if (t->driver_features_sel < 2)
			set_half(&t->driver_features, t->driver_features_sel == 1, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		/* Any value may be selected (QueueNumMax then reads 0); it is checked on use. */
		t->queue_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Only a valid size is ever taken: the rings are indexed with it. */
		if ((q = queue_for_write(t)) && virtq_set_size(q, v) < 0)
			mmio_needs_reset(dev, "QueueNum is not a power of 2 within QueueNumMax");
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		write_queue_ready(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Only reached when the value matched no ioeventfd (or none is registered). */
		if (v >= dev->ops->num_queues) {
			mmio_needs_reset(dev, "QueueNotify names no queue");
		} else {
			uint64_t one = 1;
			if (write(t->kicks[v].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				log_ratelimited(LOG_ERROR, "%s: kick eventfd: %m", dev->label);
		}
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and(&t->interrupt_status, ~v);
		return;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((q = queue_for_write(t)))
			set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if ((q = queue_for_write(t)))
			set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if ((q = queue_for_write(t)))
			set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_RESET:
		if (v != 1)
			return;
		if (!virtio_has_feature(dev, VIRTIO_F_RING_RESET))
			mmio_needs_reset(dev, "QueueReset without VIRTIO_F_RING_RESET");
		else if (!(q = selected(t)))
			mmio_needs_reset(dev, "QueueReset with QueueSel out of range");
		else
			virtq_reset(q);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		return;
	default:
		log_ratelimited(LOG_DEBUG, "%s: write to read-only or reserved register 0x%llx",
				dev->label, (unsigned long long)off);
		return;
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	struct virtio_dev *dev = t->dev;

	memset(data, 0, len);
	pthread_mutex_lock(&dev->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;
		if (c + len <= dev->ops->config_size)
			dev->ops->config_read(dev, (uint32_t)c, data, len);
	} else if (len == 4 && IS_ALIGNED(off, 4)) {
		uint32_t v = read_reg(t, off);
		memcpy(data, &v, 4);
	} else {
		log_ratelimited(LOG_DEBUG, "%s: %u-byte read of register 0x%llx ignored",
				dev->label, len, (unsigned long long)off);
	}
	pthread_mutex_unlock(&dev->lock);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	struct virtio_dev *dev = t->dev;

	pthread_mutex_lock(&dev->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;
		if (c + len <= dev->ops->config_size && dev->ops->config_write)
			dev->ops->config_write(dev, (uint32_t)c, data, len);
	} else if (len == 4 && IS_ALIGNED(off, 4)) {
		uint32_t v;
		memcpy(&v, data, 4);
		write_reg(t, off, v);
	} else {
		log_ratelimited(LOG_DEBUG, "%s: %u-byte write of register 0x%llx ignored",
				dev->label, len, (unsigned long long)off);
	}
	pthread_mutex_unlock(&dev->lock);
}

const struct bus_dev_ops virtio_mmio_bus_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev)
{
	memset(t, 0, sizeof(*t));
	t->dev = dev;
	t->vm_fd = -1;
	t->irq_fd = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->kicks[i] = (struct virtio_mmio_kick){ .t = t, .queue = i, .fd = -1 };
	atomic_init(&t->interrupt_status, 0);
	dev->transport = &mmio_transport_ops;
	dev->transport_opaque = t;

	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0)
		return -errno;
	for (unsigned int i = 0; i < dev->ops->num_queues; i++) {
		t->kicks[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->kicks[i].fd < 0)
			return -errno;
	}
	return 0;
}

int virtio_mmio_place(struct virtio_mmio *t, struct vm *vm, struct error *err)
{
	struct virtio_dev *dev = t->dev;
	int ret;

	if ((ret = vm_alloc_mmio(vm, VIRTIO_MMIO_SIZE, &t->base)) < 0 ||
	    (ret = vm_alloc_irq(vm, &t->irq)) < 0)
		return error_set(err, ret, "%s: no MMIO window or interrupt line left",
				 dev->label);
	t->vm_fd = vm->vm_fd;

	struct kvm_irqfd irqfd = { .fd = (uint32_t)t->irq_fd, .gsi = t->irq };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return error_set(err, -errno, "%s: KVM_IRQFD: %s", dev->label, strerror(errno));
	for (unsigned int i = 0; i < dev->ops->num_queues; i++) {
		struct kvm_ioeventfd io = {
			.datamatch = i,
			.addr = t->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = t->kicks[i].fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return error_set(err, -errno, "%s: KVM_IOEVENTFD: %s", dev->label,
					 strerror(errno));
		t->kicks[i].ioeventfd = true;
	}
	ret = bus_register(&vm->mmio, t->base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, t,
			   dev->label);
	if (ret < 0)
		return error_set(err, ret, "%s: registering MMIO range: %s", dev->label,
				 strerror(-ret));
	/* The architecture tells the guest where it is (command line or device tree). */
	const struct vm_device_desc desc = { .compatible = "virtio,mmio", .base = t->base,
					     .size = VIRTIO_MMIO_SIZE, .irq = t->irq,
					     .edge = true };
	if ((ret = vm_announce_device(vm, &desc, err)) < 0)
		return ret;
	log_debug("%s at MMIO 0x%llx, IRQ %u", dev->label, (unsigned long long)t->base, t->irq);
	return 0;
}

void virtio_mmio_kick(struct virtio_mmio *t, unsigned int q)
{
	struct virtio_dev *dev = t->dev;

	pthread_mutex_lock(&dev->lock);
	if (running(t) && q < dev->ops->num_queues && dev->queues[q].ready)
		dev->ops->queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_mmio_kick *k = opaque;
	uint64_t n;
	(void)events;
	if (read(k->fd, &n, sizeof(n)) < 0)
		return;		/* EAGAIN: another wakeup already drained it */
	virtio_mmio_kick(k->t, k->queue);
}

int virtio_mmio_attach(struct virtio_mmio *t, struct evloop *loop)
{
	struct virtio_dev *dev = t->dev;
	int ret;

	for (unsigned int i = 0; i < dev->ops->num_queues; i++)
		if ((ret = evloop_add(loop, t->kicks[i].fd, EPOLLIN, on_kick, &t->kicks[i])) < 0)
			return ret;
	return dev->ops->attach ? dev->ops->attach(dev, loop) : 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		close_quietly(t->kicks[i].fd);
		t->kicks[i].fd = -1;
	}
	close_quietly(t->irq_fd);
	t->irq_fd = -1;
}
