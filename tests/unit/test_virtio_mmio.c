/* The virtio-mmio transport and virtio-blk driven without KVM: registers, state machine, I/O. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/mmio.h"

#define BASE 0x100000ULL
#define MEM_SIZE (1u << 20)
#define DESC_GPA BASE
#define AVAIL_GPA (BASE + 0x1000)
#define USED_GPA (BASE + 0x2000)
#define DATA_GPA (BASE + 0x10000)

static uint8_t *mem;
static struct guest_mem gm;
static struct blk_stats stats;
static struct virtio_dev *dev;
static struct virtio_mmio t;
static char image[] = "/tmp/kiln-virtio-mmio-XXXXXX";
static struct drive_config drive = { .drive_id = "testdisk", .path_on_host = image };

static void *at(uint64_t gpa) { return mem + (gpa - BASE); }

static uint32_t rd(uint64_t off)
{
	uint32_t v;
	virtio_mmio_bus_ops.read(&t, off, (uint8_t *)&v, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(&t, off, (const uint8_t *)&v, 4);
}

/* The drive as kiln makes it: its backend (the image opened, the configured engine), then the device. */
static int make_blk(const struct drive_config *d, struct virtio_dev **out, struct error *err)
{
	struct backend *be;
	uint64_t size = 0;
	int ret = virtio_drive_backend(d, 0, -1, &size, &be, err);
	return ret < 0 ? ret : virtio_blk_create(d, 0, be, size, &gm, &stats, out, err);
}

static void create(bool read_only)
{
	struct error err = { 0 };
	mem = calloc(1, MEM_SIZE);
	gm_init_buffer(&gm, BASE, mem, MEM_SIZE);
	int fd = mkstemp(image);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 8192 + 100), 0);
	cr_assert_eq(pwrite(fd, "sector zero", 11, 0), 11);
	close(fd);
	drive.is_read_only = read_only;
	cr_assert_eq(make_blk(&drive, &dev, &err), 0, "%s", err.msg);
	cr_assert_eq(virtio_mmio_init(&t, dev), 0);
}

static void setup(void) { create(false); }

static void teardown(void)
{
	virtio_mmio_destroy(&t);
	dev->ops->destroy(dev);
	unlink(image);
	strcpy(image, "/tmp/kiln-virtio-mmio-XXXXXX");
	free(mem);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

static void negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
}

static void start(void)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0xf);
}

/* A block request in descriptors 0-2 (header, data, status), offered and kicked. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtq_desc *d = at(DESC_GPA);
	uint16_t *avail = at(AVAIL_GPA);
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	memcpy(at(DATA_GPA), hdr, sizeof(hdr));
	*(uint8_t *)at(DATA_GPA + 0x1000) = 0xff;
	d[0] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ DATA_GPA + 0x200, len,
				    VIRTQ_DESC_F_NEXT | (type == 1 ? 0 : VIRTQ_DESC_F_WRITE), 2 };
	d[2] = (struct virtq_desc){ DATA_GPA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + avail[1] % 8] = 0;
	avail[1]++;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);	/* no ioeventfd: the transport signals the kick fd */
	uint64_t n;
	cr_assert_eq(read(t.kicks[0].fd, &n, 8), 8, "the kick reached the event loop's eventfd");
	virtio_mmio_kick(&t, 0);
	return *(uint8_t *)at(DATA_GPA + 0x1000);
}

Test(virtio_mmio, identification_and_features)
{
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION_REG), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0x101, "VERSION_1 and RING_RESET");
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), (1u << 28) | (1u << 29) | (1u << 2));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	/* Capacity is rounded down to whole sectors; seg_max follows it. */
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 16);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG + 4), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG + 12), VIRTIO_BLK_SEG_MAX);
	uint8_t b = 0xaa;
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_CONFIG, &b, 1);
	cr_assert_eq(b, 16);
	uint32_t past = 0xdeadbeef;
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_CONFIG + 22, (uint8_t *)&past, 4);
	cr_assert_eq(past, 0, "reads past the config space return zeros");
}

Test(virtio_mmio, read_only_drive_offers_ro)
{
	teardown();
	create(true);
	cr_assert(rd(VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_BLK_F_RO));
	start();
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_mmio, feature_negotiation)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << 50);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK, 0, "unoffered refused");
	negotiate(1ULL << VIRTIO_F_EVENT_IDX);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK, 0, "VERSION_1 required");
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	cr_assert_eq(dev->driver_features, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX);
	/* After FEATURES_OK the features are fixed: a write is a violation. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

Test(virtio_mmio, status_order_and_reset)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(VIRTIO_MMIO_STATUS, 0xff & ~VIRTIO_STATUS_NEEDS_RESET);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "only a reset clears it");
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
	start();
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);	/* clearing bits */
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	uint64_t n;
	cr_assert_eq(read(t.irq_fd, &n, 8), 8, "the config change was signalled");
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(dev->driver_features, 0);
}

Test(virtio_mmio, queue_select_is_checked_on_use)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1000);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0, "reading is fine");
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0, "no interrupt before DRIVER_OK");
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 3);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* QueueNum takes only a power of 2 within QueueNumMax; anything else asks for a reset. */
Test(virtio_mmio, queue_num_is_validated_when_written)
{
	const uint32_t bad[] = { 0, 3, 1000, 65535, 65536, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		negotiate(1ULL << VIRTIO_F_VERSION_1);
		wr(VIRTIO_MMIO_QUEUE_SEL, 0);
		uint16_t before = dev->queues[0].size;
		wr(VIRTIO_MMIO_QUEUE_NUM, bad[i]);
		cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "%u accepted", bad[i]);
		cr_assert_eq(dev->queues[0].size, before, "%u reached the queue", bad[i]);
	}
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, rd(VIRTIO_MMIO_QUEUE_NUM_MAX) * 2);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "above QueueNumMax");
	start();
	cr_assert_eq(dev->queues[0].size, 8);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_mmio, requests_and_interrupts)
{
	start();
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(at(DATA_GPA + 0x200), "sector zero", 11) == 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	uint64_t n;
	cr_assert_eq(read(t.irq_fd, &n, 8), 8);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	uint32_t *used = at(USED_GPA);
	cr_assert_eq(used[0] >> 16, 1, "used idx");
	cr_assert_eq(used[2], 513, "data plus status");

	memset(at(DATA_GPA + 0x200), 'w', 1024);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 14, 1024), VIRTIO_BLK_S_OK);
	char back[1024];
	int fd = open(image, O_RDONLY);
	cr_assert_eq(pread(fd, back, sizeof(back), 14 * 512), (ssize_t)sizeof(back));
	close(fd);
	cr_assert_eq(back[0], 'w');
	cr_assert_eq(back[1023], 'w');
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 15, 1024), VIRTIO_BLK_S_IOERR, "past the end");
	cr_assert_eq(request(VIRTIO_BLK_T_IN, UINT64_MAX, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(VIRTIO_BLK_T_GET_ID, 0, 20), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(at(DATA_GPA + 0x200), "testdisk\0\0\0\0", 12) == 0);
	cr_assert_eq(request(42, 0, 512), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(atomic_load(&stats.io_errors), 0);
	cr_assert_eq(atomic_load(&stats.invalid_reqs), 3);
}

Test(virtio_mmio, truncated_image_gives_ioerr_for_that_request_only)
{
	start();
	cr_assert_eq(truncate(image, 1024), 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 8, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(atomic_load(&stats.io_errors), 1);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK, "the device goes on");
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

Test(virtio_mmio, violation_stops_the_queue_until_reset)
{
	start();
	struct virtq_desc *d = at(DESC_GPA);
	uint16_t *avail = at(AVAIL_GPA);
	d[0] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0 };	/* loops */
	avail[2] = 0;
	avail[1] = 1;
	virtio_mmio_kick(&t, 0);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	/* Kicks are ignored now; the notify of a missing queue changes nothing more. */
	avail[1] = 2;
	virtio_mmio_kick(&t, 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	memset(mem, 0, 0x3000);
	start();
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_mmio, queue_reset_with_ring_reset)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_RING_RESET);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);		/* while ready: a violation */
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_RING_RESET);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_QUEUE_RESET, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_RESET), 0, "done at once");
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(dev->queues[0].desc_gpa, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* A second image: `size` bytes, sector 0 starting with `text`. Its fd, opened as kiln does. */
static char image2[] = "/tmp/kiln-virtio-mmio-new-XXXXXX";

static int new_image(const char *text, off_t size, uint64_t *got)
{
	struct error err = { 0 };
	int fd = mkstemp(image2);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	cr_assert_eq(pwrite(fd, text, strlen(text), 0), (ssize_t)strlen(text));
	close(fd);
	fd = backend_open_image("drives[testdisk].path_on_host", image2, drive.is_read_only, got,
				&err);
	unlink(image2);
	cr_assert_geq(fd, 0, "%s", err.msg);
	return fd;
}

Test(virtio_mmio, a_new_image_under_a_running_driver)
{
	struct error err = { 0 };
	uint64_t size, n;
	start();
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 16, "8292 bytes: 16 sectors");
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 20, 512), VIRTIO_BLK_S_IOERR, "past the end");
	cr_assert_eq(read(t.irq_fd, &n, 8), 8);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);

	int fd = new_image("new sector", 32 * 512 + 7, &size);
	cr_assert_eq(virtio_blk_update(dev, fd, size, NULL, false, false, &err), 0, "%s", err.msg);
	/* The driver is told: a new generation, a config-change interrupt, the new size. */
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), 1);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	cr_assert_eq(read(t.irq_fd, &n, 8), 8, "the interrupt went out");
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 32);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG + 4), 0);
	cr_assert_eq(virtio_blk_capacity(dev), 32);
	/* Requests go to the new image, within its size. */
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(at(DATA_GPA + 0x200), "new sector", 10) == 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 20, 512), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 32, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

Test(virtio_mmio, a_new_image_before_the_driver_raises_no_interrupt)
{
	struct error err = { 0 };
	uint64_t size, n;
	int fd = new_image("x", 4096, &size);
	cr_assert_eq(virtio_blk_update(dev, fd, size, NULL, false, false, &err), 0, "%s", err.msg);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 8);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), 1);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(read(t.irq_fd, &n, 8), -1, "no interrupt before DRIVER_OK");
}

Test(virtio_mmio, a_new_rate_limiter_applies_at_once)
{
	struct error err = { 0 };
	/* One op per 100 s: the first request passes, the second waits for the limiter. */
	struct rate_limiter_config rl = { .ops = { .size = 1, .refill_time_ms = 100000 } };
	start();
	cr_assert_eq(virtio_blk_update(dev, -1, 0, &rl, false, true, &err), 0, "%s", err.msg);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), 0xff, "held back by the new limiter");
	cr_assert_eq(atomic_load(&stats.throttled), 1);
	/* Lifted (a bucket of a billion ops): the waiting request is served at once. */
	rl.ops.size = 1000000000;
	rl.ops.refill_time_ms = 1;
	cr_assert_eq(virtio_blk_update(dev, -1, 0, &rl, false, true, &err), 0, "%s", err.msg);
	cr_assert_eq(*(uint8_t *)at(DATA_GPA + 0x1000), VIRTIO_BLK_S_OK);
	uint32_t *used = at(USED_GPA);
	cr_assert_eq(used[0] >> 16, 2, "both requests used");
}

Test(virtio_mmio, async_requests_in_flight_finish_on_the_image_they_were_made_for)
{
	struct error err = { 0 };
	uint64_t size;
	/* The same drive on io_uring, where a request completes only when reaped. */
	virtio_mmio_destroy(&t);
	dev->ops->destroy(dev);
	drive.io_engine = DRIVE_ENGINE_ASYNC;
	int ret = make_blk(&drive, &dev, &err);
	drive.io_engine = DRIVE_ENGINE_SYNC;
	if (ret == -ENOSYS || ret == -EPERM) {
		cr_assert_eq(make_blk(&drive, &dev, &err), 0);
		cr_assert_eq(virtio_mmio_init(&t, dev), 0);
		cr_skip_test("io_uring is not available here: %s", err.msg);
	}
	cr_assert_eq(ret, 0, "%s", err.msg);
	cr_assert_eq(virtio_mmio_init(&t, dev), 0);
	start();
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), 0xff, "in flight until reaped");
	/* The swap waits for it: it completes, with the old image's data. */
	int fd = new_image("new sector", 8192, &size);
	cr_assert_eq(virtio_blk_update(dev, fd, size, NULL, false, false, &err), 0, "%s", err.msg);
	cr_assert_eq(*(uint8_t *)at(DATA_GPA + 0x1000), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(at(DATA_GPA + 0x200), "sector zero", 11) == 0);
	/* The next one goes to the new image; another swap waits for it in turn. */
	strcpy(image2, "/tmp/kiln-virtio-mmio-new-XXXXXX");
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 512), 0xff);
	fd = new_image("third", 4096, &size);
	cr_assert_eq(virtio_blk_update(dev, fd, size, NULL, false, false, &err), 0, "%s", err.msg);
	cr_assert_eq(*(uint8_t *)at(DATA_GPA + 0x1000), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(at(DATA_GPA + 0x200), "new sector", 10) == 0);
	cr_assert_eq(virtio_blk_capacity(dev), 8);
	uint32_t *used = at(USED_GPA);
	cr_assert_eq(used[0] >> 16, 2, "both requests used");
}
