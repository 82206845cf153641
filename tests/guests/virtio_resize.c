/*
 * virtio-blk whose image is replaced under a running driver (PATCH /drives/{id}): the
 * first block device set up, the guest prints its capacity and sector 0, then polls the
 * interrupt status until the config-change bit shows, and prints what it reads then:
 * the capacity, the config generation, sector 0 and the new last sector. It halts at the
 * end, so that only the VMM can end it.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define T_IN 0
#define VM_CONFIG_GENERATION 0x0fc
#define INT_CONFIG 2

struct hdr { u32 type, ioprio; u64 sector; };

static struct vq vq0;
static struct hdr hdr;
static u8 status;
static u8 buf[512] __attribute__((aligned(16)));

static long read_sector(struct vdev *d, u64 sector)
{
	hdr = (struct hdr){ T_IN, 0, sector };
	status = 0xff;
	memset(buf, 0, sizeof(buf));
	vq_set(d, 0, &hdr, sizeof(hdr), D_NEXT, 1);
	vq_set(d, 1, buf, sizeof(buf), D_NEXT | D_WRITE, 2);
	vq_set(d, 2, &status, 1, D_WRITE, 0);
	vq_kick(d, 0);
	return vq_wait(d);
}

/* The first bytes of buf up to a NUL or 16 bytes, printable ones only. */
static void show_text(void)
{
	for (int i = 0; i < 16 && buf[i]; i++)
		putc(buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?');
}

/* Capacity and generation read consistently (virtio 1.2, 4.2.2.2). */
static u64 capacity(struct vdev *d, u32 *gen)
{
	u32 before, after;
	u64 cap;
	do {
		before = vr(d, VM_CONFIG_GENERATION);
		cap = (u64)vr(d, VM_CONFIG) | (u64)vr(d, VM_CONFIG + 4) << 32;
		after = vr(d, VM_CONFIG_GENERATION);
	} while (before != after);
	*gen = after;
	return cap;
}

static void report(struct vdev *d, const char *what)
{
	u32 gen;
	u64 cap = capacity(d, &gen);
	puts("resize: ");
	puts(what);
	puts(" capacity ");
	put_dec(cap);
	puts(" generation ");
	put_dec(gen);
	putc('\n');
	long used = read_sector(d, 0);
	puts("resize: sector 0 status ");
	put_dec(status);
	puts(used < 0 ? " timeout " : " ");
	show_text();
	putc('\n');
	used = read_sector(d, cap - 1);
	puts("resize: last sector status ");
	put_dec(status);
	puts(used < 0 ? " timeout\n" : "\n");
}

void guest_main(u8 *bp)
{
	struct vdev d = { 0 };
	u64 want = F_INDIRECT | F_EVENT_IDX | (1ULL << 2);

	map_mmio_hole();
	d.base = virtio_find(bp, 2, 0);
	if (!d.base || virtio_start(&d, want, &vq0, VQ_N) < 0) {
		puts("resize: no block device\n");
		halt_forever();
	}
	report(&d, "start");
	puts("resize: ready\n");
	u32 st = 0;
	for (u32 i = 0; i < 1000000 && !(st & INT_CONFIG); i++) {
		st = vr(&d, VM_INT_STATUS);
		for (int j = 0; j < 1000; j++)
			__asm__ volatile("pause");
	}
	if (!(st & INT_CONFIG)) {
		puts("resize: no config-change interrupt\n");
		halt_forever();
	}
	vw(&d, VM_INT_ACK, st);
	report(&d, "config change:");
	puts("resize: done\n");
	halt_forever();
}
