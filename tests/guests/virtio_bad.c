/*
 * Breaks the virtio protocol on purpose, one violation at a time, on the first
 * virtio-blk device: after each it expects DEVICE_NEEDS_RESET (with a config-change
 * interrupt once DRIVER_OK was set), resets the device and goes on. The virtio-rng
 * device, set up first, must keep working throughout, and so must the disk after reset.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

struct hdr { u32 type, ioprio; u64 sector; };

static struct vq vq, rng_vq;
static struct hdr hdr;
static u8 status, data[512], rnd[16];
static struct vq_desc table[4] __attribute__((aligned(16)));
static struct vdev blk, rng;

static void report(const char *name, int running)
{
	puts("bad: ");
	puts(name);
	if (virtio_wait_needs_reset(&blk) < 0) {
		puts(": no reset\n");
	} else {
		puts(": needs reset");
		if (running)
			puts((vr(&blk, VM_INT_STATUS) & 2) ? ", config interrupt" : ", NO interrupt");
		putc('\n');
	}
	vw(&blk, VM_STATUS, 0);
	if (vr(&blk, VM_STATUS) != 0)
		puts("bad: reset did not clear the status\n");
}

static void start(void)
{
	if (virtio_start(&blk, F_INDIRECT, &vq, VQ_N) < 0)
		puts("bad: setup failed\n");
}

/* A well-formed read of sector 0 in descriptors 0-2, with one field changed by the caller. */
static void good_read(void)
{
	hdr = (struct hdr){ 0, 0, 0 };
	vq_set(&blk, 0, &hdr, sizeof(hdr), D_NEXT, 1);
	vq_set(&blk, 1, data, sizeof(data), D_NEXT | D_WRITE, 2);
	vq_set(&blk, 2, &status, 1, D_WRITE, 0);
}

static void kick_case(const char *name, void (*spoil)(void))
{
	start();
	good_read();
	spoil();
	vq_kick(&blk, 0);
	report(name, 1);
}

static void outside_memory(void) { blk.q->desc[1].addr = 0x7f0000000000ULL; }
static void wraps(void) { blk.q->desc[1].addr = 0xffffffffffffff00ULL; }
static void loops(void) { blk.q->desc[2].flags = D_WRITE | D_NEXT; blk.q->desc[2].next = 1; }
static void next_out_of_range(void) { blk.q->desc[1].next = 200; }
static void readable_after_writable(void)
{
	blk.q->desc[2] = (struct vq_desc){ (u64)&status, 1, D_WRITE | D_NEXT, 3 };
	vq_set(&blk, 3, &hdr, sizeof(hdr), 0, 0);
}
static void no_status(void) { blk.q->desc[1].flags = 0; }
static void short_header(void) { blk.q->desc[0].len = 8; blk.q->desc[0].next = 2; }
static void indirect_loop(void)
{
	table[0] = (struct vq_desc){ (u64)&hdr, sizeof(hdr), D_NEXT, 1 };
	table[1] = (struct vq_desc){ (u64)data, 512, D_NEXT | D_WRITE, 0 };
	vq_set(&blk, 0, table, 2 * sizeof(struct vq_desc), D_INDIRECT, 0);
}
static void indirect_next(void) { indirect_loop(); blk.q->desc[0].flags = D_INDIRECT | D_NEXT; }
static void indirect_len(void) { indirect_loop(); blk.q->desc[0].len = 24; }
static void nested_indirect(void)
{
	table[0] = (struct vq_desc){ (u64)table, 32, D_INDIRECT, 0 };
	vq_set(&blk, 0, table, 2 * sizeof(struct vq_desc), D_INDIRECT, 0);
}

static long rng_read(void)
{
	vq_set(&rng, 0, rnd, sizeof(rnd), D_WRITE, 0);
	vq_kick(&rng, 0);
	return vq_wait(&rng);
}

void guest_main(u8 *bp)
{
	map_mmio_hole();
	blk.base = virtio_find(bp, 2, 0);
	rng.base = virtio_find(bp, 4, 0);
	if (!blk.base || !rng.base || virtio_start(&rng, 0, &rng_vq, VQ_N) < 0) {
		puts("bad: devices not found\n");
		return;
	}

	kick_case("buffer outside guest memory", outside_memory);
	kick_case("buffer wrapping around 2^64", wraps);
	kick_case("descriptor loop", loops);
	kick_case("next index out of range", next_out_of_range);
	kick_case("readable after writable", readable_after_writable);
	kick_case("no writable status byte", no_status);
	kick_case("short header", short_header);
	kick_case("indirect chain loop", indirect_loop);
	kick_case("indirect with next", indirect_next);
	kick_case("indirect table length", indirect_len);
	kick_case("nested indirect table", nested_indirect);

	/* Ring-level violations. */
	start();
	good_read();
	blk.q->avail.ring[0] = 100;
	*(volatile u16 *)&blk.q->avail.idx = 1;
	vw(&blk, VM_QUEUE_NOTIFY, 0);
	report("avail entry out of range", 1);

	start();
	good_read();
	*(volatile u16 *)&blk.q->avail.idx = 50;
	vw(&blk, VM_QUEUE_NOTIFY, 0);
	report("avail index jump", 1);

	/* Register-level violations. */
	start();
	vw(&blk, VM_QUEUE_NOTIFY, 7);
	report("notify of a missing queue", 1);

	virtio_negotiate(&blk, 0);
	vw(&blk, VM_QUEUE_SEL, 5);
	puts(vr(&blk, VM_QUEUE_NUM_MAX) == 0 ? "bad: queue 5 has size 0\n" : "bad: queue 5 exists\n");
	vw(&blk, VM_QUEUE_NUM, 8);
	report("queue select out of range", 0);

	virtio_negotiate(&blk, 0);
	vw(&blk, VM_QUEUE_SEL, 0);
	vw(&blk, VM_QUEUE_NUM, 6);
	vw(&blk, VM_QUEUE_READY, 1);
	report("queue size not a power of 2", 0);

	virtio_negotiate(&blk, 0);
	vw(&blk, VM_QUEUE_SEL, 0);
	vw(&blk, VM_QUEUE_NUM, 8);
	vw(&blk, VM_QUEUE_DESC, 0);
	vw(&blk, VM_QUEUE_DESC + 4, 0x7f00);
	vw(&blk, VM_QUEUE_READY, 1);
	report("ring outside guest memory", 0);

	vw(&blk, VM_STATUS, 0);
	vw(&blk, VM_STATUS, S_ACK);
	vw(&blk, VM_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
	report("DRIVER_OK before FEATURES_OK", 0);

	/* Features the device did not offer: FEATURES_OK does not stick. */
	vw(&blk, VM_STATUS, S_ACK);
	vw(&blk, VM_STATUS, S_ACK | S_DRIVER);
	vw(&blk, VM_DRV_FEATURES_SEL, 1);
	vw(&blk, VM_DRV_FEATURES, 1 | (1u << 28));
	vw(&blk, VM_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	puts((vr(&blk, VM_STATUS) & S_FEATURES_OK) ? "bad: unoffered features accepted\n"
						  : "bad: unoffered features refused\n");

	/* Still alive: the other device never stopped, and the disk works after a reset. */
	puts(rng_read() == sizeof(rnd) ? "bad: rng still works\n" : "bad: rng broken\n");
	start();
	good_read();
	status = 0xff;
	vq_kick(&blk, 0);
	long n = vq_wait(&blk);
	puts(n == 513 && status == 0 ? "bad: disk works after reset\n" : "bad: disk broken\n");
}
