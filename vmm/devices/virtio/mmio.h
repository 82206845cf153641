/*
 * The virtio-mmio transport (virtio 1.2, 4.2, register layout version 2): registers on
 * the MMIO bus, queue kicks through ioeventfds, interrupts through an irqfd.
 */
#ifndef KILN_VIRTIO_MMIO_H
#define KILN_VIRTIO_MMIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "bus.h"
#include "error.h"
#include "virtio.h"

#define VIRTIO_MMIO_SIZE		0x1000
#define VIRTIO_MMIO_MAGIC		0x74726976	/* "virt" */
#define VIRTIO_MMIO_VERSION		2
#define VIRTIO_MMIO_VENDOR		0x4e4c494b	/* "KILN" */

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000
#define VIRTIO_MMIO_VERSION_REG		0x004
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VIRTIO_MMIO_SHM_SEL		0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW	0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc
#define VIRTIO_MMIO_QUEUE_RESET		0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100

struct vm;
struct evloop;
struct virtio_mmio;

/* The event loop's handle on one queue's kick eventfd. */
struct virtio_mmio_kick {
	struct virtio_mmio *t;
	unsigned int queue;
	int fd;			/* eventfd: KVM signals it on a QueueNotify write */
	bool ioeventfd;		/* registered with KVM_IOEVENTFD */
};

struct virtio_mmio {
	struct virtio_dev *dev;
	uint64_t base;			/* guest physical address of the window */
	unsigned int irq;		/* GSI */
	int vm_fd;			/* -1 until placed in a VM */
	int irq_fd;			/* eventfd: KVM_IRQFD injects the interrupt */
	struct virtio_mmio_kick kicks[VIRTIO_MAX_QUEUES];

	/* Register state, guarded by dev->lock. */
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;	/* as written so far; accepted at FEATURES_OK */
	uint32_t queue_sel;
	uint32_t config_generation;
	atomic_uint interrupt_status;

	atomic_ulong *needs_reset_count;	/* optional metrics counter shared by devices */
};

extern const struct bus_dev_ops virtio_mmio_bus_ops;

/* Carry `dev` over MMIO: eventfds for its interrupt and its queues. 0 or -errno. */
int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev) MUST_CHECK;
/*
 * Place the device in the VM: an MMIO window and an IRQ, KVM_IRQFD, one KVM_IOEVENTFD
 * per queue on QueueNotify (matching the queue index), the bus range, and the
 * announcement through which Linux finds it (vm_announce_device: a `virtio_mmio.device=`
 * command-line entry on x86-64, a device-tree node on arm64).
 */
int virtio_mmio_place(struct virtio_mmio *t, struct vm *vm, struct error *err) MUST_CHECK;
/* Watch the queues' kick eventfds (and the device's own fds) on the main loop. */
int virtio_mmio_attach(struct virtio_mmio *t, struct evloop *loop) MUST_CHECK;
/* Process queue `q` as a kick does (the event loop calls this; so can tests). */
void virtio_mmio_kick(struct virtio_mmio *t, unsigned int q);
/* Close the transport's fds (the device is destroyed by its owner). */
void virtio_mmio_destroy(struct virtio_mmio *t);

#endif
