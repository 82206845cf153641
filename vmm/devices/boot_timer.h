/* Boot timer: an MMIO register the guest writes to when it has booted; kiln logs the time. */
#ifndef KILN_BOOT_TIMER_H
#define KILN_BOOT_TIMER_H

#include <stdint.h>
#include "bus.h"

#define BOOT_TIMER_SIZE 0x1000
#define BOOT_TIMER_MAGIC 123	/* the byte a guest writes at offset 0 */

struct boot_timer {
	uint64_t start_wall_us;		/* CLOCK_MONOTONIC when the VMM (or jailer) started */
	uint64_t start_cpu_us;		/* CPU time already spent before this process */
};

extern const struct bus_dev_ops boot_timer_bus_ops;

#endif
