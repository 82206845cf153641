/* Reads the virtio-rng device twice through the real MMIO transport and checks the bytes. */
#include "lib/guest.h"
#include "lib/virtio.h"

static struct vq vq;
static u8 a[64], b[64];

static long get(struct vdev *d, u8 *buf, u32 len)
{
	vq_set(d, 0, buf, len, D_WRITE, 0);
	vq_kick(d, 0);
	return vq_wait(d);
}

void guest_main(u8 *bp)
{
	struct vdev d = { 0 };
	int zero = 1, differ = 0;

	map_mmio_hole();
	d.base = virtio_find(bp, 4, 0);
	if (!d.base || virtio_start(&d, F_EVENT_IDX, &vq, VQ_N) < 0) {
		puts("rng: not found or refused\n");
		return;
	}
	long n1 = get(&d, a, sizeof(a)), n2 = get(&d, b, sizeof(b));
	for (unsigned int i = 0; i < sizeof(a); i++) {
		zero &= a[i] == 0;
		differ |= a[i] != b[i];
	}
	puts("rng: got ");
	put_dec((u64)n1);
	puts(" and ");
	put_dec((u64)n2);
	puts(zero ? " bytes, all zero" : " bytes, not all zero");
	puts(differ ? ", different\n" : ", identical\n");
}
