/*
 * A minimal polling virtio-mmio driver for the freestanding test guests: finds devices
 * through the kernel command line's virtio_mmio.device= entries (kiln writes them with
 * acpi=off) or else the ACPI DSDT's LNRO0005 devices, negotiates, sets up queues and
 * submits descriptor chains. Header-only: each guest includes what it uses.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_DEV_FEATURES 0x010
#define VM_DEV_FEATURES_SEL 0x014
#define VM_DRV_FEATURES 0x020
#define VM_DRV_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_INT_STATUS 0x060
#define VM_INT_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC 0x080
#define VM_QUEUE_AVAIL 0x090
#define VM_QUEUE_USED 0x0a0
#define VM_CONFIG 0x100

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define F_INDIRECT (1ULL << 28)
#define F_EVENT_IDX (1ULL << 29)
#define F_VERSION_1 (1ULL << 32)

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define VQ_N 8

struct vq_desc { u64 addr; u32 len; u16 flags; u16 next; };
struct vq_avail { u16 flags, idx, ring[VQ_N], used_event; };
struct vq_used_elem { u32 id, len; };
struct vq_used { u16 flags, idx; struct vq_used_elem ring[VQ_N]; u16 avail_event; };

struct vq {
	struct vq_desc desc[VQ_N];
	struct vq_avail avail __attribute__((aligned(4)));
	struct vq_used used __attribute__((aligned(4)));
} __attribute__((aligned(4096)));

/* One queue as the driver sees it: its rings, its number, and the driver's indices. */
struct vring {
	struct vq *vq;
	u16 idx;		/* queue number */
	u16 size;
	u16 avail_idx;
	u16 used_seen;
};

struct vdev {
	u64 base;
	u64 features;		/* negotiated */
	struct vq *q;		/* queue 0, for the one-queue helpers below */
	struct vring ring;
};

#define barrier() __asm__ volatile("" ::: "memory")

static inline u32 vr(struct vdev *d, u32 off) { return mmio_read32(d->base + off); }
static inline void vw(struct vdev *d, u32 off, u32 v) { mmio_write32(d->base + off, v); }

/* A virtio-mmio version 2 device of type `id` answers at `base`. */
static inline int virtio_is(u64 base, u32 id)
{
	return mmio_read32(base + VM_MAGIC) == 0x74726976 && mmio_read32(base + VM_VERSION) == 2 &&
	       mmio_read32(base + VM_DEVICE_ID) == id;
}

/* The nth (from 0) virtio-mmio device of type `id` named on the command line, or 0. */
static inline u64 virtio_find_cmdline(u8 *bp, u32 id, int nth)
{
	const char *s = (const char *)(u64)*(u32 *)(bp + BP_CMD_LINE_PTR);
	const char *key = "virtio_mmio.device=4K@0x";
	for (; *s; s++) {
		int k = 0;
		while (key[k] && s[k] == key[k])
			k++;
		if (key[k])
			continue;
		u64 base = 0;
		const char *p = s + k;
		for (;; p++) {
			int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
			if (v < 0)
				break;
			base = base << 4 | (u64)v;
		}
		if (virtio_is(base, id) && nth-- == 0)
			return base;
	}
	return 0;
}

static inline int bytes_eq(const u8 *a, const char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != (u8)b[i])
			return 0;
	return 1;
}

/* The DSDT, through boot_params.acpi_rsdp_addr, the RSDP, the XSDT and the FADT; or 0. */
static inline const u8 *acpi_dsdt(u8 *bp)
{
	const u8 *rsdp = (const u8 *)*(u64 *)(bp + BP_ACPI_RSDP_ADDR);
	if (!rsdp || !bytes_eq(rsdp, "RSD PTR ", 8) || rsdp[15] < 2)
		return 0;
	const u8 *xsdt = (const u8 *)*(u64 *)(rsdp + 24);
	u32 len = *(u32 *)(xsdt + 4);
	for (u32 off = 36; off + 8 <= len; off += 8) {
		const u8 *t = (const u8 *)*(u64 *)(xsdt + off);
		if (bytes_eq(t, "FACP", 4))
			return (const u8 *)*(u64 *)(t + 140);	/* X_DSDT */
	}
	return 0;
}

/*
 * The nth (from 0) device of type `id` among the DSDT's `_HID "LNRO0005"` devices: the
 * base of the Memory32Fixed descriptor (0x86 0x09 0x00) that follows each _HID string.
 */
static inline u64 virtio_find_acpi(const u8 *dsdt, u32 id, int nth)
{
	u32 len = *(u32 *)(dsdt + 4);
	for (u32 i = 36; i + 9 <= len; i++) {
		if (!bytes_eq(dsdt + i, "LNRO0005", 9))
			continue;
		for (u32 j = i + 9; j + 12 <= len; j++) {
			if (dsdt[j] == 0x86 && dsdt[j + 1] == 0x09 && dsdt[j + 2] == 0x00) {
				u64 base = *(u32 *)(dsdt + j + 4);
				if (virtio_is(base, id) && nth-- == 0)
					return base;
				break;
			}
		}
	}
	return 0;
}

/* The nth (from 0) virtio-mmio device of type `id`, or 0. */
static inline u64 virtio_find(u8 *bp, u32 id, int nth)
{
	const char *s = (const char *)(u64)*(u32 *)(bp + BP_CMD_LINE_PTR);
	const char *key = "virtio_mmio.device=";
	for (; *s; s++)
		if (bytes_eq((const u8 *)s, key, 19))
			return virtio_find_cmdline(bp, id, nth);
	const u8 *dsdt = acpi_dsdt(bp);
	return dsdt ? virtio_find_acpi(dsdt, id, nth) : 0;
}

static inline u64 virtio_offered(struct vdev *d)
{
	vw(d, VM_DEV_FEATURES_SEL, 1);
	u64 hi = vr(d, VM_DEV_FEATURES);
	vw(d, VM_DEV_FEATURES_SEL, 0);
	return hi << 32 | vr(d, VM_DEV_FEATURES);
}

/* Reset, ACKNOWLEDGE, DRIVER, features (want & offered, plus VERSION_1), FEATURES_OK. */
static inline int virtio_negotiate(struct vdev *d, u64 want)
{
	vw(d, VM_STATUS, 0);
	if (vr(d, VM_STATUS) != 0)
		return -1;
	vw(d, VM_STATUS, S_ACK);
	vw(d, VM_STATUS, S_ACK | S_DRIVER);
	d->features = (virtio_offered(d) & want) | F_VERSION_1;
	vw(d, VM_DRV_FEATURES_SEL, 0);
	vw(d, VM_DRV_FEATURES, (u32)d->features);
	vw(d, VM_DRV_FEATURES_SEL, 1);
	vw(d, VM_DRV_FEATURES, (u32)(d->features >> 32));
	vw(d, VM_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return (vr(d, VM_STATUS) & S_FEATURES_OK) ? 0 : -1;
}

/* Set up queue `idx` (the device selected, not yet DRIVER_OK) on rings `q` of `size`. */
static inline void vring_setup(struct vdev *d, struct vring *r, struct vq *q, u16 idx, u16 size)
{
	memset(q, 0, sizeof(*q));
	*r = (struct vring){ q, idx, size, 0, 0 };
	vw(d, VM_QUEUE_SEL, idx);
	vw(d, VM_QUEUE_NUM, size);
	vw(d, VM_QUEUE_DESC, (u32)(u64)q->desc);
	vw(d, VM_QUEUE_DESC + 4, (u32)((u64)q->desc >> 32));
	vw(d, VM_QUEUE_AVAIL, (u32)(u64)&q->avail);
	vw(d, VM_QUEUE_AVAIL + 4, (u32)((u64)&q->avail >> 32));
	vw(d, VM_QUEUE_USED, (u32)(u64)&q->used);
	vw(d, VM_QUEUE_USED + 4, (u32)((u64)&q->used >> 32));
	vw(d, VM_QUEUE_READY, 1);
}

/* Make chain `head` available on the queue and notify the device. */
static inline void vring_post(struct vdev *d, struct vring *r, u16 head)
{
	r->vq->avail.ring[r->avail_idx % r->size] = head;
	barrier();
	r->avail_idx++;
	*(volatile u16 *)&r->vq->avail.idx = r->avail_idx;
	barrier();
	vw(d, VM_QUEUE_NOTIFY, r->idx);
}

/* The next used entry's head and *len, or -1 after `spins` polls. */
static inline long vring_wait(struct vring *r, u32 *len, u32 spins)
{
	for (u32 i = 0; i < spins; i++) {
		if (*(volatile u16 *)&r->vq->used.idx != r->used_seen) {
			barrier();
			struct vq_used_elem e = r->vq->used.ring[r->used_seen % r->size];
			r->used_seen++;
			*len = e.len;
			return e.id;
		}
		__asm__ volatile("pause");
	}
	return -1;
}

static inline void virtio_queue(struct vdev *d, struct vq *q, u16 size)
{
	d->q = q;
	vring_setup(d, &d->ring, q, 0, size);
}

static inline int virtio_start(struct vdev *d, u64 want, struct vq *q, u16 size)
{
	if (virtio_negotiate(d, want) < 0)
		return -1;
	virtio_queue(d, q, size);
	vw(d, VM_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return (vr(d, VM_STATUS) & S_NEEDS_RESET) ? -1 : 0;
}

static inline void vq_set(struct vdev *d, int i, const void *addr, u32 len, u16 flags, u16 next)
{
	d->q->desc[i] = (struct vq_desc){ (u64)addr, len, flags, next };
}

/* Make chain `head` available and kick queue 0. */
static inline void vq_kick(struct vdev *d, u16 head)
{
	vring_post(d, &d->ring, head);
}

/* Wait for the next used entry of queue 0; returns its length, or -1 after a bounded wait. */
static inline long vq_wait(struct vdev *d)
{
	u32 len;
	return vring_wait(&d->ring, &len, 3000000) < 0 ? -1 : (long)len;
}

/* Poll the status register until NEEDS_RESET shows; 0 when it did. */
static inline int virtio_wait_needs_reset(struct vdev *d)
{
	for (u32 i = 0; i < 100000; i++)
		if (vr(d, VM_STATUS) & S_NEEDS_RESET)
			return 0;
	return -1;
}

#endif
