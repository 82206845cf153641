/*
 * Rate-limited virtio-blk and virtio-rng driven without KVM: a request over the limit
 * waits on the ring, the limiter's timer fires on the event loop, and it is served then.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/devices.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng.h"
#include "evloop.h"

#define BASE 0x100000ULL
#define MEM_SIZE (1u << 20)
#define DESC_GPA BASE
#define AVAIL_GPA (BASE + 0x1000)
#define USED_GPA (BASE + 0x2000)
#define DATA_GPA (BASE + 0x10000)
#define QSIZE 16

static uint8_t *mem;
static struct guest_mem gm;
static struct blk_stats blk_stats;
static struct rng_stats rng_stats;
static struct virtio_dev *dev;
static struct virtio_mmio t;
static struct evloop loop;
static char image[] = "/tmp/kiln-virtio-throttle-XXXXXX";
static unsigned int nr_reqs;	/* requests offered so far: each has its own descriptors */

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

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void init_mem(void)
{
	mem = calloc(1, MEM_SIZE);
	cr_assert(mem);
	gm_init_buffer(&gm, BASE, mem, MEM_SIZE);
	memset(&blk_stats, 0, sizeof(blk_stats));
	memset(&rng_stats, 0, sizeof(rng_stats));
	nr_reqs = 0;
}

/* The device on its transport and an event loop, as main.c attaches it. */
static void attach(void)
{
	cr_assert_eq(virtio_mmio_init(&t, dev), 0);
	cr_assert_eq(evloop_init(&loop), 0);
	cr_assert_eq(virtio_mmio_attach(&t, &loop), 0);
}

static void make_blk(const struct rate_limiter_config *rl)
{
	struct drive_config d = { .drive_id = "limited", .path_on_host = image };
	struct error err = { 0 };
	init_mem();
	int fd = mkstemp(image);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	d.rate_limiter = *rl;
	struct backend *be;
	uint64_t size = 0;
	cr_assert_eq(virtio_drive_backend(&d, 0, -1, &size, &be, &err), 0, "%s", err.msg);
	cr_assert_eq(virtio_blk_create(&d, 0, be, size, &gm, &blk_stats, &dev, &err), 0, "%s",
		     err.msg);
	attach();
}

static void make_rng(const struct rate_limiter_config *rl)
{
	struct error err = { 0 };
	init_mem();
	cr_assert_eq(virtio_rng_create(&gm, rl, &rng_stats, &dev, &err), 0, "%s", err.msg);
	attach();
}

static void teardown(void)
{
	evloop_destroy(&loop);
	virtio_mmio_destroy(&t);
	dev->ops->destroy(dev);
	if (strcmp(image, "/tmp/kiln-virtio-throttle-XXXXXX") != 0) {
		unlink(image);
		strcpy(image, "/tmp/kiln-virtio-throttle-XXXXXX");
	}
	free(mem);
}

TestSuite(throttle, .fini = teardown);

static void start(void)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	wr(VIRTIO_MMIO_STATUS, 0);
	memset(at(DESC_GPA), 0, 0x3000);
	nr_reqs = 0;
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, s);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);	/* VIRTIO_F_VERSION_1 */
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0xf);
}

static uint16_t used_idx(void) { return ((uint16_t *)at(USED_GPA))[1]; }
static uint8_t *status_of(unsigned int r) { return at(DATA_GPA + 0x8000 + r); }

/* Offer a block request with `len` data bytes in its own descriptors; returns its number. */
static unsigned int offer_blk(uint32_t type, uint32_t len)
{
	unsigned int r = nr_reqs++;
	struct virtq_desc *d = (struct virtq_desc *)at(DESC_GPA) + 3 * r;
	uint16_t *avail = at(AVAIL_GPA);
	uint32_t hdr[4] = { type, 0, 0, 0 };
	uint16_t head = (uint16_t)(3 * r);
	uint16_t dir = type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;

	cr_assert(3 * r + 2 < QSIZE);
	memcpy(at(DATA_GPA + 0x100 * r), hdr, sizeof(hdr));
	*status_of(r) = 0xff;
	d[0] = (struct virtq_desc){ DATA_GPA + 0x100 * r, 16, VIRTQ_DESC_F_NEXT, head + 1 };
	d[1] = (struct virtq_desc){ DATA_GPA + 0x10000, len, VIRTQ_DESC_F_NEXT | dir, head + 2 };
	d[2] = (struct virtq_desc){ DATA_GPA + 0x8000 + r, 1, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + avail[1] % QSIZE] = head;
	avail[1]++;
	return r;
}

/* Offer an entropy request for `len` bytes. */
static unsigned int offer_rng(uint32_t len)
{
	unsigned int r = nr_reqs++;
	struct virtq_desc *d = (struct virtq_desc *)at(DESC_GPA) + r;
	uint16_t *avail = at(AVAIL_GPA);

	cr_assert(r < QSIZE);
	d[0] = (struct virtq_desc){ DATA_GPA + 0x1000 * r, len, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + avail[1] % QSIZE] = (uint16_t)r;
	avail[1]++;
	return r;
}

/* One round of the event loop: dispatch what is ready within timeout_ms; returns the count. */
static int dispatch(int timeout_ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(loop.epfd, ev, 8, timeout_ms);
	for (int i = 0; i < n; i++) {
		struct evloop_handler *h = ev[i].data.ptr;
		h->cb(h->opaque, ev[i].events);
	}
	return n;
}

/* Run the loop until the used ring reaches `idx`; returns the milliseconds it took. */
static uint64_t run_until_used(uint16_t idx)
{
	uint64_t t0 = now_ms();
	while (used_idx() != idx) {
		cr_assert_lt(now_ms() - t0, 5000, "used idx %u, waiting for %u", used_idx(), idx);
		dispatch(100);
	}
	return now_ms() - t0;
}

Test(throttle, blk_without_limiter_has_no_timer)
{
	const struct rate_limiter_config none = { 0 };
	make_blk(&none);
	start();
	for (int i = 0; i < 5; i++)
		offer_blk(VIRTIO_BLK_T_IN, 512);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 5);
	cr_expect_eq(atomic_load(&blk_stats.throttled), 0);
	cr_expect_eq(dispatch(0), 0, "nothing else on the loop");
}

Test(throttle, blk_ops_bucket_holds_a_request_until_the_timer)
{
	/* 2 requests at once, then one per 100 ms. */
	const struct rate_limiter_config rl = { .ops = { 2, 0, 200 } };
	make_blk(&rl);
	start();
	offer_blk(VIRTIO_BLK_T_IN, 512);
	offer_blk(VIRTIO_BLK_T_GET_ID, 20);
	virtio_mmio_kick(&t, 0);
	cr_assert_eq(used_idx(), 2);
	cr_expect_eq(*status_of(0), VIRTIO_BLK_S_OK);
	cr_expect_eq(*status_of(1), VIRTIO_BLK_S_OK);

	unsigned int r = offer_blk(VIRTIO_BLK_T_OUT, 1024);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 2, "held back");
	cr_expect_eq(*status_of(r), 0xff);
	cr_expect_eq(atomic_load(&blk_stats.throttled), 1);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 2, "another kick changes nothing");
	cr_expect_eq(atomic_load(&blk_stats.throttled), 1, "the timer is armed once");

	uint64_t ms = run_until_used(3);
	cr_expect_eq(*status_of(r), VIRTIO_BLK_S_OK);
	cr_expect(ms >= 50 && ms < 1000, "served after %llu ms", (unsigned long long)ms);
	cr_expect_eq(atomic_load(&blk_stats.throttle_wakeups), 1);
	cr_expect_eq(atomic_load(&blk_stats.write_count), 1);
}

Test(throttle, blk_bandwidth_counts_data_bytes_and_lets_an_over_size_request_through)
{
	/* 4 KiB per 100 ms. */
	const struct rate_limiter_config rl = { .bandwidth = { 4096, 0, 100 } };
	make_blk(&rl);
	start();
	offer_blk(VIRTIO_BLK_T_IN, 4096);
	offer_blk(VIRTIO_BLK_T_FLUSH, 0);	/* no data: free */
	virtio_mmio_kick(&t, 0);
	cr_assert_eq(used_idx(), 2);
	offer_blk(VIRTIO_BLK_T_IN, 2048);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 2, "the bucket is empty");
	uint64_t ms = run_until_used(3);
	cr_expect(ms >= 25 && ms < 1000, "2 KiB earned in %llu ms", (unsigned long long)ms);

	/* Four times the bucket: served at once, then the debt is repaid first. */
	start();
	offer_blk(VIRTIO_BLK_T_IN, 16384);
	virtio_mmio_kick(&t, 0);
	cr_assert_eq(used_idx(), 1, "an over-size request does not wait for ever");
	cr_expect_eq(*status_of(0), VIRTIO_BLK_S_OK);
	offer_blk(VIRTIO_BLK_T_IN, 512);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 1);
	ms = run_until_used(2);
	cr_expect(ms >= 200 && ms < 2000, "served after %llu ms", (unsigned long long)ms);
}

Test(throttle, blk_reset_while_waiting_drops_nothing)
{
	const struct rate_limiter_config rl = { .ops = { 1, 0, 100 } };
	make_blk(&rl);
	start();
	offer_blk(VIRTIO_BLK_T_IN, 512);
	offer_blk(VIRTIO_BLK_T_IN, 512);
	virtio_mmio_kick(&t, 0);
	cr_assert_eq(used_idx(), 1);
	/* The driver resets and starts again while the timer runs. */
	start();
	unsigned int r = offer_blk(VIRTIO_BLK_T_IN, 512);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 0, "still waiting for the timer");
	run_until_used(1);
	cr_expect_eq(*status_of(r), VIRTIO_BLK_S_OK);
	cr_expect_eq(rd(VIRTIO_MMIO_STATUS), 0xf);
}

Test(throttle, rng_bandwidth_holds_a_request_until_the_timer)
{
	/* 64 bytes per 100 ms, and one 128-byte burst at the start. */
	const struct rate_limiter_config rl = { .bandwidth = { 64, 128, 100 } };
	make_rng(&rl);
	start();
	offer_rng(128);
	offer_rng(64);
	virtio_mmio_kick(&t, 0);
	cr_assert_eq(used_idx(), 2, "the burst, then the bucket");
	cr_expect_eq(atomic_load(&rng_stats.entropy_bytes), 192);
	offer_rng(32);
	offer_rng(32);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 2);
	cr_expect_eq(atomic_load(&rng_stats.throttled), 1);
	uint64_t ms = run_until_used(4);
	cr_expect(ms >= 50 && ms < 2000, "64 bytes earned in %llu ms", (unsigned long long)ms);
	uint32_t *used = at(USED_GPA);
	cr_expect_eq(used[2 * 3 + 2], 32, "the last request filled");
	cr_expect_eq(atomic_load(&rng_stats.entropy_bytes), 256);
	cr_expect_geq(atomic_load(&rng_stats.throttle_wakeups), 1);
}

Test(throttle, rng_ops_bucket)
{
	const struct rate_limiter_config rl = { .ops = { 1, 0, 50 } };
	make_rng(&rl);
	start();
	for (int i = 0; i < 4; i++)
		offer_rng(16);
	virtio_mmio_kick(&t, 0);
	cr_expect_eq(used_idx(), 1);
	uint64_t ms = run_until_used(4);
	cr_expect(ms >= 100 && ms < 3000, "three more at 50 ms each: %llu ms",
		  (unsigned long long)ms);
	cr_expect_eq(atomic_load(&rng_stats.throttled), 3);
}
