/* Boot timer: an MMIO register the guest writes to when it has booted; kiln logs the time. */
#include "boot_timer.h"

#include <time.h>

#include "log.h"

static uint64_t now_us(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void boot_timer_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	const struct boot_timer *bt = opaque;
	(void)len;
	if (offset != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	uint64_t wall = now_us(CLOCK_MONOTONIC) - bt->start_wall_us;
	uint64_t cpu = now_us(CLOCK_PROCESS_CPUTIME_ID) + bt->start_cpu_us;
	/* Firecracker's wording, so existing boot-time tooling parses it. */
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)wall, (unsigned long long)wall / 1000,
		 (unsigned long long)cpu, (unsigned long long)cpu / 1000);
}

const struct bus_dev_ops boot_timer_bus_ops = {
	.write = boot_timer_write,
};
