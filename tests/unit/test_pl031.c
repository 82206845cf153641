/* The PL031 RTC seen through its registers: time, identification, read-only behaviour. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "devices/rtc_pl031.h"

static uint32_t rd(struct pl031 *r, uint64_t off)
{
	uint8_t d[4];
	pl031_bus_ops.read(r, off, d, 4);
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void wr(struct pl031 *r, uint64_t off, uint32_t v)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	pl031_bus_ops.write(r, off, d, 4);
}

Test(pl031, reads_the_host_time)
{
	struct pl031 r;
	pl031_init(&r);
	/*
	 * The device reads CLOCK_REALTIME; time() may read a coarser clock that lags it by a
	 * tick (seen under qemu-user), so the bounds come from the device's own clock.
	 */
	struct timespec a, b;
	clock_gettime(CLOCK_REALTIME, &a);
	uint32_t t = rd(&r, 0x000);
	clock_gettime(CLOCK_REALTIME, &b);
	cr_expect(t >= (uint32_t)a.tv_sec && t <= (uint32_t)b.tv_sec, "DR %u, host %ld to %ld", t,
		  (long)a.tv_sec, (long)b.tv_sec);
	cr_expect_eq(rd(&r, 0x00c), 1, "the counter always runs");
}

Test(pl031, identifies_as_a_pl031_primecell)
{
	struct pl031 r;
	uint32_t periph = 0, cell = 0;
	pl031_init(&r);
	for (int i = 0; i < 4; i++) {
		periph |= (rd(&r, 0xfe0 + 4 * i) & 0xff) << (8 * i);
		cell |= (rd(&r, 0xff0 + 4 * i) & 0xff) << (8 * i);
	}
	cr_expect_eq(periph & 0x000fffff, 0x00041031);
	cr_expect_eq(cell, 0xb105f00d);
}

Test(pl031, time_cannot_be_set)
{
	struct pl031 r;
	pl031_init(&r);
	wr(&r, 0x008, 12345);		/* LR */
	cr_expect_gt(rd(&r, 0x000), 12345 + 1000000);
	wr(&r, 0x004, 777);		/* MR is kept */
	cr_expect_eq(rd(&r, 0x004), 777);
	wr(&r, 0x010, 3);		/* IMSC: one bit */
	cr_expect_eq(rd(&r, 0x010), 1);
	cr_expect_eq(rd(&r, 0x014), 0, "no alarm ever fires");
	cr_expect_eq(rd(&r, 0x018), 0);
}

Test(pl031, odd_sizes_read_zero)
{
	struct pl031 r;
	uint8_t d[2] = { 0xff, 0xff };
	pl031_init(&r);
	pl031_bus_ops.read(&r, 0xfe0, d, 2);
	cr_expect_eq(d[0] | d[1], 0);
	pl031_bus_ops.write(&r, 0x004, d, 2);
	cr_expect_eq(rd(&r, 0x004), 0);
}
