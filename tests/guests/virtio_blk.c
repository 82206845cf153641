/*
 * Drives virtio-blk through the real MMIO transport: the first block device is
 * read-write, the second read-only. Prints what it sees; the test checks the output and
 * the image files.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8

struct hdr { u32 type, ioprio; u64 sector; };

static struct vq vq0, vq1;
static struct hdr hdr;
static u8 status;
static u8 buf[1024] __attribute__((aligned(16)));
static u8 buf2[512];
static struct vq_desc indirect[4] __attribute__((aligned(16)));

/* A request: header, optional data (device-writable for reads), status. */
static long request(struct vdev *d, u32 type, u64 sector, void *data, u32 len)
{
	hdr = (struct hdr){ type, 0, sector };
	status = 0xff;
	vq_set(d, 0, &hdr, sizeof(hdr), D_NEXT, 1);
	if (len) {
		vq_set(d, 1, data, len, D_NEXT | (type == T_OUT ? 0 : D_WRITE), 2);
		vq_set(d, 2, &status, 1, D_WRITE, 0);
	} else {
		vq_set(d, 1, &status, 1, D_WRITE, 0);
	}
	vq_kick(d, 0);
	return vq_wait(d);
}

static void show(const char *what, long used)
{
	puts(what);
	puts(": status ");
	put_dec(status);
	puts(" used ");
	if (used < 0)
		puts("timeout");
	else
		put_dec((u64)used);
	putc('\n');
}

static int same(const u8 *a, const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != (u8)s[i])
			return 0;
	return 1;
}

static int filled(const u8 *p, const char *s, int n)
{
	int len = 0;
	while (s[len])
		len++;
	for (int i = 0; i < n; i++)
		if (p[i] != (u8)s[i % len])
			return 0;
	return 1;
}

static void fill(u8 *p, const char *s, int n)
{
	int len = 0;
	while (s[len])
		len++;
	for (int i = 0; i < n; i++)
		p[i] = (u8)s[i % len];
}

void guest_main(u8 *bp)
{
	struct vdev d0 = { 0 }, d1 = { 0 };
	u64 want = F_INDIRECT | F_EVENT_IDX | (1ULL << 2) | (1ULL << 5) | (1ULL << 9);

	map_mmio_hole();
	d0.base = virtio_find(bp, 2, 0);
	d1.base = virtio_find(bp, 2, 1);
	if (!d0.base || virtio_start(&d0, want, &vq0, VQ_N) < 0) {
		puts("blk0: not found or refused\n");
		return;
	}
	u64 cap = (u64)vr(&d0, VM_CONFIG) | (u64)vr(&d0, VM_CONFIG + 4) << 32;
	puts("blk0: features ");
	put_hex(d0.features, 16);
	puts(" capacity ");
	put_dec(cap);
	puts(" seg_max ");
	put_dec(vr(&d0, VM_CONFIG + 12));
	putc('\n');

	memset(buf, 0, sizeof(buf));
	show("blk0 get-id", request(&d0, T_GET_ID, 0, buf, 20));
	puts("blk0 id: ");
	puts((const char *)buf);
	putc('\n');

	show("blk0 read 0", request(&d0, T_IN, 0, buf, 512));
	puts(same(buf, "kiln sector zero", 16) ? "blk0 sector 0 ok\n" : "blk0 sector 0 wrong\n");

	fill(buf, "guest wrote this. ", 1024);
	show("blk0 write 1-2", request(&d0, T_OUT, 1, buf, 1024));
	show("blk0 flush", request(&d0, T_FLUSH, 0, 0, 0));
	memset(buf, 0, sizeof(buf));
	show("blk0 read 1-2", request(&d0, T_IN, 1, buf, 1024));
	puts(filled(buf, "guest wrote this. ", 1024) ? "blk0 readback ok\n" : "blk0 readback wrong\n");

	show("blk0 read past end", request(&d0, T_IN, cap, buf, 512));
	show("blk0 read across end", request(&d0, T_IN, cap - 1, buf, 1024));
	show("blk0 write past end", request(&d0, T_OUT, cap, buf, 512));
	show("blk0 odd length", request(&d0, T_IN, 0, buf, 100));
	show("blk0 unsupported", request(&d0, 99, 0, buf, 512));

	/* Sector 0 again through an indirect table, its data split in two buffers. */
	if (d0.features & F_INDIRECT) {
		memset(buf, 0, sizeof(buf));
		hdr = (struct hdr){ T_IN, 0, 0 };
		status = 0xff;
		indirect[0] = (struct vq_desc){ (u64)&hdr, sizeof(hdr), D_NEXT, 1 };
		indirect[1] = (struct vq_desc){ (u64)buf, 256, D_NEXT | D_WRITE, 2 };
		indirect[2] = (struct vq_desc){ (u64)buf2, 256, D_NEXT | D_WRITE, 3 };
		indirect[3] = (struct vq_desc){ (u64)&status, 1, D_WRITE, 0 };
		vq_set(&d0, 0, indirect, sizeof(indirect), D_INDIRECT, 0);
		vq_kick(&d0, 0);
		show("blk0 indirect read", vq_wait(&d0));
		puts(same(buf, "kiln sector zero", 16) ? "blk0 indirect ok\n" : "blk0 indirect wrong\n");
	}

	if (!d1.base || virtio_start(&d1, want, &vq1, 4) < 0) {
		puts("blk1: not found or refused\n");
		return;
	}
	puts("blk1: features ");
	put_hex(d1.features, 16);
	putc('\n');
	show("blk1 read 0", request(&d1, T_IN, 0, buf, 512));
	puts(same(buf, "read-only disk", 14) ? "blk1 sector 0 ok\n" : "blk1 sector 0 wrong\n");
	show("blk1 write 0", request(&d1, T_OUT, 0, buf, 512));
	show("blk1 flush", request(&d1, T_FLUSH, 0, 0, 0));
	puts("blk: done\n");
}
